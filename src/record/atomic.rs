//! Replace a file's contents atomically: a temporary file in the same folder,
//! fsync, rename, fsync the folder. Permissions and ownership are kept, and a
//! symlink is followed so the link itself survives.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The real file behind `path`, so a rename replaces the target, not the link.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path)
}

/// Writes `bytes` to `path` atomically. `check` runs just before the rename
/// and can refuse (return false) if the file changed since it was read.
pub fn replace(
    path: &Path,
    bytes: &[u8],
    check: impl FnOnce() -> std::io::Result<bool>,
) -> std::io::Result<bool> {
    let real = resolve(path)?;
    let dir = real.parent().unwrap_or(Path::new("."));
    let meta = std::fs::metadata(&real)?;
    // A rename would replace even a read-only file; honour the owner's intent.
    if meta.permissions().readonly() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the file is read-only (make it writable to let run-batch tick it)",
        ));
    }
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".run-batch.tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().set_permissions(meta.permissions())?;
    // Keep the owner when we can (root editing someone's file); a plain user
    // cannot chown and does not need to.
    let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
    tmp.as_file().sync_all()?;
    if !check()? {
        return Ok(false);
    }
    tmp.persist(&real).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(true)
}
