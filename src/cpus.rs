//! How many threads the parts of reading and writing a plan that run in
//! parallel may use. Takes nothing; hands on a count, asked of the system
//! once per process. Never starts a thread.

use std::sync::OnceLock;

/// The most threads one part uses: past four the parts gain little and
/// hold more memory.
pub const MAX: usize = 4;

/// The CPUs this process may run on (its affinity and cgroup quota), at
/// most [`MAX`], at least 1. Asked once: each ask reads the cgroup's
/// files, and a document is read at every save of a plan during a run.
pub fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX)
    })
}
