//! Small helpers both benchmarks use: statistics over timings, PATH lookup
//! and numeric settings from the environment.

#![allow(dead_code)] // each benchmark uses a different part

use std::path::PathBuf;
use std::time::Duration;

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
pub fn exit_code(status: libc::c_int) -> libc::c_int {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

pub fn timeval_ns(t: libc::timeval) -> u64 {
    t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000
}
