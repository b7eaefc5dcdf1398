//! Small helpers both benchmarks use: statistics over timings, PATH lookup
//! and numeric settings from the environment.

#![allow(dead_code)] // each benchmark uses a different part

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Reads the benchmark's arguments: runs `spawn_helper` and returns None when
/// started as its own helper (`--spawn-helper PROGRAM ARGS…`), else whether
/// `--bench` asked for the full run (without it: the smoke run).
pub fn full_run(spawn_helper: fn(&[OsString])) -> Option<bool> {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "--spawn-helper") {
        spawn_helper(&args[2..]);
        return None;
    }
    Some(args.iter().any(|a| a == "--bench"))
}

/// The peak resident memory (`VmHWM`, in KiB) a `/proc/PID/status` file
/// gives, if it can be read.
pub fn vm_hwm_kib(status_path: impl AsRef<std::path::Path>) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    (status.lines())
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn min(times: &[Duration]) -> Duration {
    times.iter().copied().min().unwrap_or_default()
}

pub fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    match t.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => t[n / 2],
        n => (t[n / 2 - 1] + t[n / 2]) / 2,
    }
}

/// A program on PATH, or None (the benchmark then says what it skipped).
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// A wait status as a shell would report it: the exit code, or 128 + signal.
fn exit_code(status: libc::c_int) -> libc::c_int {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

pub fn timeval_ns(t: libc::timeval) -> u64 {
    t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000
}

/// User plus system CPU time of a `wait4` rusage, in nanoseconds.
pub fn cpu_ns(usage: &libc::rusage) -> u64 {
    timeval_ns(usage.ru_utime) + timeval_ns(usage.ru_stime)
}

/// Reaps our own child `pid` with `wait4`: its exit code as a shell would
/// report it, and the rusage of it and its children.
pub fn reap(pid: libc::pid_t) -> (libc::c_int, libc::rusage) {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in. The
    // caller reaps the child here (std's `Child` does not wait on drop).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    (exit_code(status), usage)
}
