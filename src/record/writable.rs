//! Whether `run` and `tick` can write a task file, checked before anything
//! is read or started: a regular file with write permission and, for a run,
//! a state folder (`.run-batch/` beside the file) it can keep its records
//! in. Takes a path, hands on a refusal with what to do. Never writes.
//!
//! A FIFO would block the read for ever, `/dev/zero` would be read until
//! memory runs out, and `/dev/null` would make a `.run-batch/` in `/dev`:
//! anything but a regular file is refused. Root can write anything whatever
//! its mode bits, so a file is read-only when its mode bits say so (the
//! owner's intent), and the folder is tried for real.

use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, NotWritable};

/// Refuses a task file `run` or `tick` could not write; with `records`, also
/// one whose run could not keep its records. A path that does not exist
/// passes: reading it reports that.
pub fn check(path: &Path, records: bool) -> Result<(), Error> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let refuse = |problem| {
        Err(Error::NotWritable {
            path: path.to_owned(),
            problem,
        })
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(Error::IsDirectory {
            path: path.to_owned(),
        });
    }
    if !kind.is_file() {
        return refuse(NotWritable::NotAFile(if kind.is_fifo() {
            "a named pipe (FIFO)"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        }));
    }
    if meta.permissions().readonly() {
        return refuse(NotWritable::ReadOnly { reason: None });
    }
    if let Err(e) = can_write(path) {
        return refuse(NotWritable::ReadOnly {
            reason: Some(e.to_string()),
        });
    }
    if !records {
        return Ok(());
    }
    // Ticks are written in place; only the records need a folder to write:
    // the state folder if it is there, else the folder it goes in.
    let state = crate::record::state::StateDir::for_taskfile(path).dir;
    let folder = match state.ancestors().find(|d| d.is_dir()) {
        Some(existing) => existing.to_path_buf(),
        None => folder_of(path),
    };
    if let Err(source) = can_write(&folder) {
        return refuse(NotWritable::Folder { folder, source });
    }
    Ok(())
}

/// access(2) with W_OK: permissions for this user (root passes), ACLs, and a
/// read-only file system. A folder is writable when files can be made in it.
fn can_write(path: &Path) -> std::io::Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("the path holds a NUL byte"))?;
    // SAFETY: access(2) reads a NUL-terminated path that outlives the call.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The folder of the real file behind `path` (where the state folder goes).
fn folder_of(path: &Path) -> PathBuf {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    real.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
