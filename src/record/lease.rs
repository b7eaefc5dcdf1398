//! Safe access to a task file that people edit while run-batch runs: reads
//! that never see a save in progress, and one-byte writes that never race one.
//!
//! Takes a path; hands on the file's bytes (`read_settled`) or writes single
//! bytes at verified offsets (`Writer`). Never renames, truncates or extends
//! the file, and never decides what to write. The design, and why it is
//! safe, is in docs/ticks.md.
//!
//! The tool is a Linux file lease (`fcntl(F_SETLEASE)`): the kernel grants a
//! write lease only while no other process has the file open, and while we
//! hold it any other `open` or `truncate` of the file waits until we let go.
//! A read lease is granted only while nobody has the file open for writing.
//! So a save in place (open, truncate, write in chunks, close) is either
//! wholly before our access or wholly after it. A save by rename cannot be
//! blocked, but it never touches the inode we hold: our byte lands in the old
//! file and the caller, seeing the path now names another inode, writes the
//! tick again on the new content. Where leases are not available (not our
//! file and not root, some network file systems), access falls back to
//! waiting until the file has been still for `UNLEASED_SETTLE`.

use std::fs::File;
use std::io::{Read, Seek};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A file modified less than this long ago may be in the middle of a save
/// made of several writes with the file closed in between; wait.
pub const SETTLE: Duration = Duration::from_millis(150);
/// Without a lease nothing stops a writer; wait longer for stillness.
pub const UNLEASED_SETTLE: Duration = Duration::from_millis(600);

/// What a file looked like: enough to tell that anyone changed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
        }
    }

    /// The stamp of whatever `path` names now (following symlinks).
    pub fn at(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
    }

    /// How long ago the file's contents last changed. Every write moves the
    /// mtime; the ctime also moves on a chmod or a `touch`, which say
    /// nothing of a save in progress. A time in the future (another clock,
    /// `touch -d`) tells nothing either: it counts as long ago.
    fn age(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        match now - self.mtime_ns {
            ns if ns < 0 => Duration::MAX,
            ns => Duration::from_nanos(ns.min(u64::MAX as i128) as u64),
        }
    }
}

/// Why the file cannot be used right now; try again a little later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Busy {
    /// Another process has the file open (for writing, for a read).
    OpenElsewhere,
    /// Changed moments ago: a save may still be going on.
    JustChanged,
}

/// The outcome of trying to use the file now.
pub enum Access<T> {
    Ready(T),
    Busy(Busy),
}

/// The file's bytes, read while nobody was writing them.
pub struct Settled {
    pub bytes: Vec<u8>,
    pub stamp: Stamp,
}

/// The real file behind `path`: a rename must replace the target, not a link,
/// and our writes go to what the link names.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path)
}

/// Reads the whole file once no save is in progress.
/// `ours`: the stamp our own last write left; a file that still shows it
/// was changed by nobody else, however recently.
pub fn read_settled(path: &Path, ours: Option<Stamp>) -> std::io::Result<Access<Settled>> {
    let mut held = match open(path, false)? {
        Access::Ready(f) => Held::new(f, path)?,
        Access::Busy(b) => return Ok(Access::Busy(b)),
    };
    if let Some(busy) = held.lease(libc::F_RDLCK, ours)? {
        return Ok(Access::Busy(busy));
    }
    let bytes = held.read_all()?;
    let stamp = held.stamp()?;
    held.unlease();
    Ok(Access::Ready(Settled { bytes, stamp }))
}

/// The file held for writing single bytes: under a write lease, nobody else
/// can open or truncate it until this is dropped.
pub struct Writer {
    held: Held,
}

impl Writer {
    /// Opens `path` (already resolved) for writing once no save is in
    /// progress and nobody else has it open. With `readers_allowed`, a file
    /// that others only read (a pager, `tail -f`) is written too: a read
    /// lease first proves that nobody is writing it, and the byte follows
    /// within microseconds, unleased (the window docs/ticks.md describes).
    pub fn open(
        path: &Path,
        readers_allowed: bool,
        ours: Option<Stamp>,
    ) -> std::io::Result<Access<Writer>> {
        if readers_allowed {
            let mut reader = match open(path, false)? {
                Access::Ready(f) => Held::new(f, path)?,
                Access::Busy(b) => return Ok(Access::Busy(b)),
            };
            if let Some(busy) = reader.lease(libc::F_RDLCK, ours)? {
                return Ok(Access::Busy(busy));
            }
            drop(reader);
            return Ok(match open(path, true)? {
                Access::Ready(f) => Access::Ready(Writer {
                    held: Held::new(f, path)?,
                }),
                Access::Busy(b) => Access::Busy(b),
            });
        }
        let mut held = match open(path, true)? {
            Access::Ready(f) => Held::new(f, path)?,
            Access::Busy(b) => return Ok(Access::Busy(b)),
        };
        if let Some(busy) = held.lease(libc::F_WRLCK, ours)? {
            return Ok(Access::Busy(busy));
        }
        Ok(Access::Ready(Writer { held }))
    }

    pub fn read_all(&mut self) -> std::io::Result<Vec<u8>> {
        self.held.read_all()
    }

    /// Writes `byte` at `offset` if the byte there is one of `expect`; never
    /// past the end of the file, so the file cannot grow.
    pub fn set_byte(&mut self, offset: u64, expect: &[u8], byte: u8) -> std::io::Result<bool> {
        let mut now = [0u8; 1];
        if self.held.file.read_at(&mut now, offset)? != 1 || !expect.contains(&now[0]) {
            return Ok(false);
        }
        if now[0] != byte {
            self.held.file.write_all_at(&[byte], offset)?;
        }
        Ok(true)
    }

    /// Flushes to disk, lets go of the lease and returns the file's stamp,
    /// or None when the path no longer names the file we wrote (it was
    /// replaced by a rename meanwhile: our bytes went to the old file).
    pub fn finish(mut self) -> std::io::Result<Option<Stamp>> {
        let stamp = self.held.stamp()?;
        // Others may open the file again; the flush to disk needs no lease.
        self.held.unlease();
        self.held.file.sync_data()?;
        let now = Stamp::at(&self.held.path);
        Ok(now.filter(|n| n.dev == stamp.dev && n.ino == stamp.ino))
    }
}

/// Opens the file for reading (and writing). O_NONBLOCK: an open that would
/// break someone else's lease fails at once instead of waiting, and a FIFO
/// does not block.
fn open(path: &Path, write: bool) -> std::io::Result<Access<File>> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            Ok(Access::Busy(Busy::OpenElsewhere))
        }
        other => other.map(Access::Ready),
    }
}

/// An open task file, perhaps under a lease.
struct Held {
    file: File,
    path: PathBuf,
    leased: bool,
}

impl Held {
    fn new(file: File, path: &Path) -> std::io::Result<Held> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        Ok(Held {
            file,
            path: path.to_owned(),
            leased: false,
        })
    }

    /// Takes a lease of `kind`, or says why not now. Falls back to an
    /// unleased access when the file system or our rights allow no lease.
    fn lease(&mut self, kind: libc::c_int, ours: Option<Stamp>) -> std::io::Result<Option<Busy>> {
        let r = set_lease(self.file.as_raw_fd(), kind);
        let stamp = self.stamp()?;
        let still = |settle: Duration| Some(stamp) == ours || stamp.age() >= settle;
        if r.is_ok() {
            self.leased = true;
            if !still(SETTLE) {
                self.unlease();
                return Ok(Some(Busy::JustChanged));
            }
            return Ok(None);
        }
        match r.err().and_then(|e| e.raw_os_error()) {
            Some(libc::EAGAIN) | Some(libc::EBUSY) => Ok(Some(Busy::OpenElsewhere)),
            // No lease here (EINVAL: the file system; EACCES: not our file
            // and no CAP_LEASE; ENOLCK): rely on stillness alone.
            _ if !still(UNLEASED_SETTLE) => Ok(Some(Busy::JustChanged)),
            _ => Ok(None),
        }
    }

    fn unlease(&mut self) {
        if std::mem::take(&mut self.leased) {
            let _ = set_lease(self.file.as_raw_fd(), libc::F_UNLCK);
        }
    }

    fn stamp(&self) -> std::io::Result<Stamp> {
        Ok(Stamp::of(&self.file.metadata()?))
    }

    fn read_all(&mut self) -> std::io::Result<Vec<u8>> {
        let len = self.file.metadata()?.len();
        let mut bytes = Vec::with_capacity(len as usize + 1);
        self.file.rewind()?;
        (&self.file).read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

#[cfg(target_os = "linux")]
fn set_lease(fd: std::os::fd::RawFd, kind: libc::c_int) -> std::io::Result<()> {
    /// `F_SETSIG` (Linux, not in the libc crate).
    const F_SETSIG: libc::c_int = 10;
    // A lease break is announced by a signal, SIGIO by default, which would
    // end the process. SIGURG is ignored unless handled, and we hold a lease
    // only for microseconds: the opener just waits that long.
    // SAFETY: fcntl on a descriptor we own; no memory is passed.
    unsafe { libc::fcntl(fd, F_SETSIG, libc::SIGURG) };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETLEASE, kind) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// No leases on this system: every access relies on stillness alone.
#[cfg(not(target_os = "linux"))]
fn set_lease(_fd: std::os::fd::RawFd, _kind: libc::c_int) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(libc::EINVAL))
}

impl Drop for Held {
    fn drop(&mut self) {
        self.unlease();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settled_file(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("t.md");
        std::fs::write(&p, text).unwrap();
        // Old enough to count as still.
        let old = SystemTime::now() - Duration::from_secs(5);
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        p
    }

    #[test]
    fn a_file_open_elsewhere_for_writing_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let p = settled_file(dir.path(), "- [ ] a\n");
        let other = File::options().append(true).open(&p).unwrap();
        assert!(matches!(
            read_settled(&p, None).unwrap(),
            Access::Busy(Busy::OpenElsewhere)
        ));
        assert!(matches!(
            Writer::open(&p, false, None).unwrap(),
            Access::Busy(Busy::OpenElsewhere)
        ));
        drop(other);
        assert!(matches!(read_settled(&p, None).unwrap(), Access::Ready(_)));
    }

    #[test]
    fn a_file_changed_just_now_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.md");
        std::fs::write(&p, "- [ ] a\n").unwrap();
        assert!(matches!(
            Writer::open(&p, false, None).unwrap(),
            Access::Busy(Busy::JustChanged)
        ));
    }

    #[test]
    fn a_byte_is_written_only_where_expected_and_never_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = settled_file(dir.path(), "- [ ] a\n");
        let Access::Ready(mut w) = Writer::open(&p, false, None).unwrap() else {
            panic!("busy")
        };
        assert!(w.set_byte(3, b" ", b'x').unwrap());
        assert!(!w.set_byte(0, b" ", b'x').unwrap());
        assert!(!w.set_byte(100, b" ", b'x').unwrap());
        assert!(w.finish().unwrap().is_some());
        assert_eq!(std::fs::read(&p).unwrap(), b"- [x] a\n");
    }

    #[test]
    fn a_rename_over_the_file_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let p = settled_file(dir.path(), "- [ ] a\n");
        let Access::Ready(mut w) = Writer::open(&p, false, None).unwrap() else {
            panic!("busy")
        };
        let other = dir.path().join("new.md");
        std::fs::write(&other, "- [ ] a\nmore\n").unwrap();
        std::fs::rename(&other, &p).unwrap();
        assert!(w.set_byte(3, b" ", b'x').unwrap());
        assert_eq!(w.finish().unwrap(), None);
        assert_eq!(std::fs::read(&p).unwrap(), b"- [ ] a\nmore\n");
    }

    #[test]
    fn an_opener_waits_while_the_lease_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let p = settled_file(dir.path(), "- [ ] a\n");
        let Access::Ready(w) = Writer::open(&p, false, None).unwrap() else {
            panic!("busy")
        };
        let p2 = p.clone();
        let opener = std::thread::spawn(move || {
            // A different open file description: breaks the lease and waits.
            let start = std::time::Instant::now();
            let _f = File::options().write(true).open(&p2).unwrap();
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(200));
        w.finish().unwrap();
        let waited = opener.join().unwrap();
        assert!(waited >= Duration::from_millis(150), "waited {waited:?}");
    }
}
