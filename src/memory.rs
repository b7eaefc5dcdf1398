//! How a process that plans a large file uses memory: the allocator's
//! settings, and a hint for loops that read it at random. Takes the file's
//! size (and addresses to ask for); hands on fewer page faults, less memory
//! kept and fewer waits on memory. Never touches the memory it sets up or
//! is asked for.
//!
//! For a large file glibc's heap is grown once by a reserve (address space
//! only: pages are backed when first touched) and kept, so large blocks
//! freed and taken again are not handed back to the kernel and zeroed by it
//! anew. Beyond the reserve the heap grows as usual. Small files and other
//! systems are left alone.
//!
//! The reserve is not advised for transparent huge pages: they saved page
//! faults, but on a virtual machine a fresh 2 MiB page is often one the
//! host has taken back, and the kernel's time to zero it grew with the
//! plan (a million tasks: 0.70 µs of kernel time per task with the advice,
//! 0.44 without; 100,000: 0.64 and 0.42).
//!
//! Threads that parse and write keep glibc's arena each. Sharing one
//! (`M_ARENA_MAX` 1, as this module once set) kept the peak 1 to 5 MB lower
//! at a million tasks, but the parse's threads then waited on its lock at
//! each allocation: 250 ns of CPU per task more, a sixth of the parse.

/// Files below this plan in few page faults either way.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const LARGE: u64 = 4 << 20;

/// Whether this process plans a large file (`prepare_for`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
static LARGE_PLAN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets the heap up for planning a file of `file_len` bytes: a reserve of
/// 16 times that (address space: a plan touches about twice its file),
/// at most 1 GiB.
/// Once per process, before its threads start; later calls do nothing.
pub fn prepare_for(file_len: u64) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        if file_len >= LARGE {
            let reserve = (file_len.saturating_mul(16)).min(1 << 30) as usize;
            ONCE.call_once(|| reserve_heap(reserve));
            LARGE_PLAN.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = file_len;
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn reserve_heap(reserve: usize) {
    let block: usize = 32 << 20;
    // SAFETY: mallopt sets options and each malloc is freed.
    unsafe {
        // Every block from the heap, not a fresh mapping: a freed mapping
        // goes back to the kernel, and the next large block is zeroed by it
        // anew (a sixth of a 1,000,000-task plan's time went to zeroing
        // pages); a freed heap kept, not trimmed.
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(
            libc::M_TRIM_THRESHOLD,
            (reserve * 2).min(i32::MAX as usize) as libc::c_int,
        );
        // Freed at once, the blocks leave the heap's top that much higher.
        // (black_box: a malloc freed unused may be left out altogether.)
        let blocks: Vec<*mut libc::c_void> = (0..reserve.div_ceil(block))
            .map(|_| std::hint::black_box(libc::malloc(block - 4096)))
            .collect();
        for &b in &blocks {
            libc::free(b);
        }
    }
}

/// Hands the pages of freed blocks back to the kernel, after a phase of a
/// large plan that freed much (its scan's lists, the naming's tables): the
/// heap keeps them otherwise (see `reserve_heap`), and the next phase's
/// peak would sit on top of them. At a million tasks the peak falls from
/// 384 to 360 MB, for a few ms. Small files are left alone, as above.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if LARGE_PLAN.load(std::sync::atomic::Ordering::Relaxed) {
        // SAFETY: malloc_trim only returns free memory the heap holds.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// How many items ahead of the one it is at a loop asks for what it will
/// read at random ([`prefetch`]): enough to overlap a few waits on memory,
/// near enough that the lines are still in cache when it gets there.
pub const AHEAD: usize = 8;

/// `list`'s items with their indices, `fetch` called for the item
/// [`AHEAD`] places on as each is met: for a loop that reads memory at
/// random for each item, `fetch` [`prefetch`]es what it will read.
pub fn fetching_ahead<'a, T>(
    list: &'a [T],
    fetch: impl Fn(&'a T) + 'a,
) -> impl Iterator<Item = (usize, &'a T)> + 'a {
    list.iter().enumerate().inspect(move |&(k, _)| {
        if let Some(ahead) = list.get(k + AHEAD) {
            fetch(ahead);
        }
    })
}

/// Asks the CPU to bring the cache line at `p` in without waiting for it:
/// a loop that reads memory at random a few steps ahead overlaps those
/// waits instead of paying them one by one. A hint only: nothing is read
/// and no address faults, whatever it is.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing into the program and never faults.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
