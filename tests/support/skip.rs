//! A test that needs something from outside the repository (a real agent
//! CLI, the task-file corpus beside it) and does not find it: it says so
//! loudly and is skipped, or fails when `CI` is set, where nothing may be
//! missing.

#![allow(dead_code)] // each test binary uses a different part of it

use std::io::Write;

/// Reports `missing` in a SKIPPED note on stderr (written past the test
/// harness's output capture, so it shows). When `CI` is set, fails the test
/// instead.
pub fn skip_or_fail(missing: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "FAILED: {missing}; CI is set, so this is a failure, not a skip"
    );
    let rule = "=".repeat(72);
    let _ = writeln!(std::io::stderr(), "\n{rule}\nSKIPPED: {missing}\n{rule}");
}
