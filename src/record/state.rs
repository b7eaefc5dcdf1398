//! The state folder beside a task file: `.run-batch/<file name>/` holding the
//! lock, the journal and one folder per run (events and logs).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::Error;

pub struct StateDir {
    pub dir: PathBuf,
}

impl StateDir {
    /// The state folder beside the real file: a symlink to a task file shares
    /// its state (and its lock) with the file itself.
    pub fn for_taskfile(taskfile: &Path) -> StateDir {
        let real = std::fs::canonicalize(taskfile).unwrap_or_else(|_| taskfile.to_path_buf());
        let folder = real
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = real
            .file_name()
            .map_or_else(|| "tasks".into(), |n| n.to_string_lossy().into_owned());
        StateDir {
            dir: folder.join(".run-batch").join(name),
        }
    }

    /// Creates the folder (and a `.gitignore` so state never lands in git).
    pub fn create(&self) -> Result<(), Error> {
        let io = |source| Error::Write {
            path: self.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let ignore = self.dir.parent().unwrap().join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "# run-batch state: logs, events, journal\n*\n").map_err(io)?;
        }
        Ok(())
    }

    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal.json")
    }

    pub fn runs(&self) -> PathBuf {
        self.dir.join("runs")
    }

    /// Ids `run-batch tick --undo` asked a running run to run again, one a
    /// line (appended; the run reads what is new).
    pub fn undo_requests(&self) -> PathBuf {
        self.dir.join("undo-requests")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }

    /// Takes the one-run-per-file lock. The kernel drops an flock when its
    /// holder dies, so a lock left by a crashed run is simply taken over.
    pub fn lock(&self, taskfile: &Path) -> Result<Lock, Error> {
        let path = self.lock_path();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
        // SAFETY: flock on an open descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let holder = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok());
            return Err(Error::Locked {
                path: taskfile.to_owned(),
                pid: holder,
            });
        }
        file.set_len(0).ok();
        let _ = writeln!(file, "{}", std::process::id());
        Ok(Lock { _file: file })
    }
}

impl StateDir {
    /// Whether a run holds the lock right now.
    pub fn run_in_progress(&self) -> bool {
        let Ok(file) = std::fs::File::open(self.lock_path()) else {
            return false;
        };
        // SAFETY: flock on a descriptor we own; released when it closes.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
    }

    /// Tells a running run that the person wants these tasks run again
    /// (`run-batch tick --undo` during a run): without this, a run ticks a
    /// box it owes again when a save of an older copy clears it.
    pub fn request_again(&self, ids: &[String]) -> std::io::Result<()> {
        let mut text = String::new();
        for id in ids {
            text.push_str(id);
            text.push('\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.undo_requests())?;
        // One write: a reader never sees half a line (it reads whole lines).
        f.write_all(text.as_bytes())
    }
}

/// Run folders kept by default: enough to look back a few days of runs,
/// few enough that a busy plan's state folder stays small.
pub const KEEP_RUNS: usize = 20;

/// What `prune_runs` removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub runs: usize,
    pub bytes: u64,
}

impl StateDir {
    /// Removes run folders (events and logs) but the newest `keep` and those
    /// in `protect` (a resumable session's log lives there). Run ids sort by
    /// time.
    pub fn prune_runs(
        &self,
        keep: usize,
        protect: &std::collections::HashSet<PathBuf>,
    ) -> std::io::Result<Pruned> {
        let mut runs: Vec<PathBuf> = match std::fs::read_dir(self.runs()) {
            Ok(dir) => dir
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Pruned::default()),
            Err(e) => return Err(e),
        };
        runs.sort();
        let old = runs.len().saturating_sub(keep);
        let mut pruned = Pruned::default();
        for run in &runs[..old] {
            if protect.contains(run) {
                continue;
            }
            pruned.bytes += size_of_tree(run);
            std::fs::remove_dir_all(run)?;
            pruned.runs += 1;
        }
        Ok(pruned)
    }
}

/// Bytes used by the files under `path`.
fn size_of_tree(path: &Path) -> u64 {
    let Ok(dir) = std::fs::read_dir(path) else {
        return std::fs::metadata(path).map_or(0, |m| m.len());
    };
    dir.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_of_tree(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// Held for the whole run; released when dropped or when the process dies.
pub struct Lock {
    _file: File,
}

/// The longest file stem for a task's files: with `.<attempt>.prompt.md`
/// after it, well under the 255 bytes a file name may have.
const MAX_STEM: usize = 120;

/// A task id as one file name, unique per id: `plan/build/link` →
/// `plan__build__link`. An id that this cannot spell both readably and
/// reversibly (other characters, `__` or `_` beside a `/`, too long) keeps
/// a readable prefix and gets `~` and a stable hash of the whole id:
/// `a__b` → `a__b~…`, so it never shares its files with `a/b`, and two long
/// ids that differ only at the end get two names.
pub fn file_stem_for(id: &str) -> String {
    let plain = id.len() <= MAX_STEM
        && !id.is_empty()
        && (id.bytes())
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
        && !id.contains("__")
        && !id.contains("_/")
        && !id.contains("/_");
    // Decoding is `replace("__", "/")`: every `_` of such an id stands
    // alone, and each `/` becomes a pair.
    let readable = id.replace('/', "__");
    if plain {
        return readable;
    }
    let suffix = format!("~{:016x}", fnv1a(id.as_bytes()));
    let mut prefix: String = (readable.chars())
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut cut = prefix.len().min(MAX_STEM - suffix.len());
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    prefix.truncate(cut);
    prefix + &suffix
}

/// 64-bit FNV-1a: stable across runs, builds and platforms (std's hasher
/// is not promised to be), and plenty for the ids of one run.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_stay_readable() {
        assert_eq!(file_stem_for("plan/build/link"), "plan__build__link");
        assert_eq!(file_stem_for("T001"), "T001");
        assert_eq!(file_stem_for("1.2"), "1.2");
        assert_eq!(file_stem_for("snake_case/x"), "snake_case__x");
    }

    #[test]
    fn ids_that_would_share_a_name_do_not() {
        let ids = [
            "a/b", "a__b", "a_/b", "a/_b", "a//b", "a b", "a_b", "a?b", "é", "e", "",
        ];
        let stems: std::collections::HashSet<String> =
            ids.iter().map(|id| file_stem_for(id)).collect();
        assert_eq!(stems.len(), ids.len(), "{stems:?}");
        assert!(file_stem_for("a__b").starts_with("a__b~"));
    }

    #[test]
    fn long_ids_keep_a_prefix_and_differ_by_their_hash() {
        let long = "section-with-a-long-name/".repeat(8);
        let (a, b) = (format!("{long}first"), format!("{long}second"));
        let (sa, sb) = (file_stem_for(&a), file_stem_for(&b));
        assert_ne!(sa, sb);
        assert!(sa.len() <= MAX_STEM && sb.len() <= MAX_STEM);
        assert!(sa.starts_with("section-with-a-long-name__section"));
        let cjk = "第一阶段".repeat(20);
        let s = file_stem_for(&cjk);
        assert!(s.len() <= MAX_STEM && s.starts_with("第一阶段"), "{s}");
        // Stable: the same id gives the same name in every run.
        assert_eq!(file_stem_for("a__b"), file_stem_for("a__b"));
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
