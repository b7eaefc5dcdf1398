//! A small builder for tests that drive the `run-batch` binary, in the style
//! of just's `tests/test.rs`: set up a temporary folder with files, fake
//! agents and environment, say what stdout, stderr, the exit status and the
//! files must be, then run. Every mismatch is printed (with the whole stdout
//! and stderr) before the test fails.
//!
//! ```ignore
//! Test::new()
//!     .file("task.md", "# P\n- [ ] a\n")
//!     .args(["tick", "task.md", "p/a"])
//!     .stdout("ticked p/a\n")
//!     .file_is("task.md", "# P\n- [x] a\n")
//!     .success();
//! ```
//!
//! Strings that start with a newline are unindented (see [`unindent`]), so
//! task files, expected output and expected fragments can be written as
//! indented blocks; any other string is used byte for byte.

#![allow(dead_code)] // each test binary uses a different part of it

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_run-batch");

/// The binary the tests run: [`BIN`], or the one `RUN_BATCH_TEST_BINARY`
/// names (so the fault-injection soak can measure another build).
pub fn binary() -> OsString {
    std::env::var_os("RUN_BATCH_TEST_BINARY").unwrap_or_else(|| BIN.into())
}

/// How long a run may take before it is killed and the test fails.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One run of the binary in a fresh temporary folder.
#[must_use = "a Test does nothing until `.success()`, `.failure()` or `.status(n)`"]
pub struct Test {
    args: Vec<OsString>,
    current_dir: PathBuf,
    env: Vec<(OsString, Option<OsString>)>,
    expect_files: Vec<(PathBuf, Vec<u8>)>,
    expect_stderr: Option<String>,
    expect_stdout: Option<String>,
    files: Vec<(PathBuf, Vec<u8>)>,
    path_prefix: Vec<PathBuf>,
    stderr_contains: Vec<String>,
    stderr_lacks: Vec<String>,
    stdin: Vec<u8>,
    stdout_contains: Vec<String>,
    stdout_lacks: Vec<String>,
    tempdir: TempDir,
    timeout: Duration,
    uid: Option<u32>,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    pub fn new() -> Test {
        let tempdir = tempfile::Builder::new()
            .prefix("run-batch-test.")
            .tempdir()
            .expect("create a temporary folder");
        Test::in_tempdir(tempdir)
    }

    fn in_tempdir(tempdir: TempDir) -> Test {
        Test {
            args: Vec::new(),
            current_dir: PathBuf::new(),
            env: Vec::new(),
            expect_files: Vec::new(),
            expect_stderr: None,
            expect_stdout: None,
            files: Vec::new(),
            path_prefix: Vec::new(),
            stderr_contains: Vec::new(),
            stderr_lacks: Vec::new(),
            stdin: Vec::new(),
            stdout_contains: Vec::new(),
            stdout_lacks: Vec::new(),
            tempdir,
            timeout: DEFAULT_TIMEOUT,
            uid: None,
        }
    }

    /// The temporary folder (the run's working directory unless
    /// `current_dir` says otherwise).
    pub fn path(&self) -> &Path {
        self.tempdir.path()
    }

    // ---- inputs -----------------------------------------------------------

    /// Writes a text file (unindented when it starts with a newline), making
    /// its folders. Written at once, so later set-up can rely on it.
    pub fn file(self, path: impl AsRef<Path>, text: &str) -> Test {
        self.bytes(path, unindent(text))
    }

    /// Writes a file byte for byte (BOM, CRLF, invalid UTF-8, …).
    pub fn bytes(mut self, path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> Test {
        let full = self.tempdir.path().join(path.as_ref());
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).expect("create folders");
        }
        std::fs::write(&full, bytes.as_ref()).expect("write test file");
        self.files
            .push((path.as_ref().to_owned(), bytes.as_ref().to_vec()));
        self
    }

    /// Writes an executable script (for fake agents and gates), with a
    /// `#!/bin/sh` line unless it has its own.
    pub fn executable(self, path: impl AsRef<Path>, script: &str) -> Test {
        let script = unindent(script);
        let script = if script.starts_with("#!") {
            script
        } else {
            format!("#!/bin/sh\n{script}")
        };
        let path = path.as_ref().to_owned();
        let test = self.bytes(&path, script);
        test.chmod(&path, 0o755)
    }

    /// Sets a file's permission bits.
    pub fn chmod(self, path: impl AsRef<Path>, mode: u32) -> Test {
        use std::os::unix::fs::PermissionsExt;
        let full = self.tempdir.path().join(path);
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode))
            .expect("set permissions");
        self
    }

    /// Makes a folder (and its parents).
    pub fn dir(self, path: impl AsRef<Path>) -> Test {
        std::fs::create_dir_all(self.tempdir.path().join(path)).expect("create folder");
        self
    }

    /// Makes `link` a symbolic link to `target` (taken as written, so a
    /// relative target is relative to the link's folder).
    pub fn symlink(self, link: impl AsRef<Path>, target: impl AsRef<Path>) -> Test {
        let full = self.tempdir.path().join(link);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir).expect("create folders");
        }
        std::os::unix::fs::symlink(target, full).expect("create symlink");
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Test {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the run. `{dir}` in the value is
    /// replaced by the temporary folder's path.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: &str) -> Test {
        let value = value.replace("{dir}", &self.tempdir.path().to_string_lossy());
        self.env.push((key.as_ref().to_owned(), Some(value.into())));
        self
    }

    /// Removes an environment variable for the run.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Test {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Puts a folder of the temporary folder first on `PATH` (where fake
    /// agents live). Later calls come before earlier ones.
    pub fn path_prefix(mut self, dir: impl AsRef<Path>) -> Test {
        self.path_prefix
            .insert(0, self.tempdir.path().join(dir.as_ref()));
        self
    }

    /// Runs in this folder of the temporary folder instead of its top.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Test {
        self.current_dir = dir.as_ref().to_owned();
        self
    }

    pub fn stdin(mut self, input: impl AsRef<[u8]>) -> Test {
        self.stdin = input.as_ref().to_vec();
        self
    }

    /// Runs run-batch as this user and group id (needs root): for what
    /// permission bits do to a user whom they bind.
    pub fn uid(mut self, uid: u32) -> Test {
        self.uid = Some(uid);
        self
    }

    /// Kills the run (and fails the test) if it takes longer than this.
    pub fn timeout(mut self, timeout: Duration) -> Test {
        self.timeout = timeout;
        self
    }

    // ---- expectations -----------------------------------------------------

    /// stdout must be exactly this (unindented when it starts with a newline).
    pub fn stdout(mut self, expected: &str) -> Test {
        self.expect_stdout = Some(unindent(expected));
        self
    }

    pub fn stdout_contains(mut self, needle: &str) -> Test {
        self.stdout_contains.push(unindent(needle));
        self
    }

    pub fn stdout_lacks(mut self, needle: &str) -> Test {
        self.stdout_lacks.push(unindent(needle));
        self
    }

    /// stderr must be exactly this (unindented when it starts with a newline).
    pub fn stderr(mut self, expected: &str) -> Test {
        self.expect_stderr = Some(unindent(expected));
        self
    }

    pub fn stderr_contains(mut self, needle: &str) -> Test {
        self.stderr_contains.push(unindent(needle));
        self
    }

    pub fn stderr_lacks(mut self, needle: &str) -> Test {
        self.stderr_lacks.push(unindent(needle));
        self
    }

    /// After the run, the file must hold exactly this text (unindented when
    /// it starts with a newline).
    pub fn file_is(self, path: impl AsRef<Path>, expected: &str) -> Test {
        self.file_bytes_are(path, unindent(expected))
    }

    /// After the run, the file must hold exactly these bytes.
    pub fn file_bytes_are(mut self, path: impl AsRef<Path>, expected: impl AsRef<[u8]>) -> Test {
        self.expect_files
            .push((path.as_ref().to_owned(), expected.as_ref().to_vec()));
        self
    }

    /// After the run, the file must hold what the test last wrote to it.
    pub fn unchanged(self, path: impl AsRef<Path>) -> Test {
        let path = path.as_ref();
        let written = self
            .files
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("`{}` was not written by the test", path.display()))
            .1
            .clone();
        self.file_bytes_are(path, written)
    }

    // ---- running ----------------------------------------------------------

    /// Runs and expects exit status 0.
    pub fn success(self) -> Output {
        self.status(0)
    }

    /// Runs and expects exit status 1 (something the program ran failed).
    pub fn failure(self) -> Output {
        self.status(1)
    }

    /// Runs and expects exit status `code`.
    pub fn status(self, code: i32) -> Output {
        let output = self.run();
        let mut problems = Vec::new();
        if output.status.code() != Some(code) {
            problems.push(format!(
                "exit status: expected {code}, got {}",
                describe_status(output.status)
            ));
        }
        if let Some(expected) = &self.expect_stdout
            && *expected != output.stdout
        {
            problems.push(mismatch("stdout", expected, &output.stdout));
        }
        if let Some(expected) = &self.expect_stderr
            && *expected != output.stderr
        {
            problems.push(mismatch("stderr", expected, &output.stderr));
        }
        for needle in &self.stdout_contains {
            if !output.stdout.contains(needle.as_str()) {
                problems.push(format!("stdout does not contain {needle:?}"));
            }
        }
        for needle in &self.stdout_lacks {
            if output.stdout.contains(needle.as_str()) {
                problems.push(format!("stdout contains {needle:?}, which it must not"));
            }
        }
        for needle in &self.stderr_contains {
            if !output.stderr.contains(needle.as_str()) {
                problems.push(format!("stderr does not contain {needle:?}"));
            }
        }
        for needle in &self.stderr_lacks {
            if output.stderr.contains(needle.as_str()) {
                problems.push(format!("stderr contains {needle:?}, which it must not"));
            }
        }
        for (path, expected) in &self.expect_files {
            match std::fs::read(self.tempdir.path().join(path)) {
                Ok(actual) if actual == *expected => {}
                Ok(actual) => problems.push(mismatch(
                    &format!("file `{}`", path.display()),
                    &show_bytes(expected),
                    &show_bytes(&actual),
                )),
                Err(e) => problems.push(format!("file `{}`: cannot read: {e}", path.display())),
            }
        }
        if !problems.is_empty() {
            panic!(
                "\n{} problem{} running `run-batch {}`:\n\n{}\n\n---- stdout ----\n{}\n---- stderr ----\n{}\n----------------\n",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                self.args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                problems.join("\n\n"),
                output.stdout,
                output.stderr,
            );
        }
        Output {
            status: output.status,
            stderr: output.stderr,
            stdout: output.stdout,
            tempdir: self.tempdir,
        }
    }

    fn run(&self) -> RawOutput {
        let mut command = run_batch(
            &self.args,
            &self.tempdir.path().join(&self.current_dir),
            &self.path_prefix,
        );
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.env {
            match value {
                Some(v) => command.env(key, v),
                None => command.env_remove(key),
            };
        }
        // Its own process group, so a timeout can kill it with whatever it
        // left in that group.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        if let Some(uid) = self.uid {
            std::os::unix::process::CommandExt::uid(&mut command, uid);
            std::os::unix::process::CommandExt::gid(&mut command, uid);
        }
        let mut child = command.spawn().expect("start run-batch");
        let mut stdin = child.stdin.take().unwrap();
        let input = self.stdin.clone();
        let writer = std::thread::spawn(move || {
            // The program may exit without reading its input.
            let _ = stdin.write_all(&input);
        });
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for run-batch") {
                break status;
            }
            if start.elapsed() > self.timeout {
                // SAFETY: kill(2) on the process group of a child we started.
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
                let _ = child.kill();
                let _ = child.wait();
                let stdout = String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned();
                let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
                panic!(
                    "run-batch did not finish within {:?}; killed\n---- stdout ----\n{stdout}\n---- stderr ----\n{stderr}",
                    self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let _ = writer.join();
        let stdout = out_reader.join().unwrap();
        let stderr = err_reader.join().unwrap();
        RawOutput {
            status,
            stdout: String::from_utf8(stdout)
                .unwrap_or_else(|e| panic!("stdout is not UTF-8: {e}")),
            stderr: String::from_utf8(stderr)
                .unwrap_or_else(|e| panic!("stderr is not UTF-8: {e}")),
        }
    }
}

/// Runs `run-batch ARGS` in `dir` to the end (for a second command beside a
/// run in the background).
pub fn run_batch_in(dir: &Path, args: &[&str]) -> std::process::Output {
    run_batch(args, dir, &[]).output().expect("run run-batch")
}

/// `run-batch ARGS` in `dir`, with `NO_COLOR=1`, `path_prefix` (if any)
/// before `PATH`, and nothing from the developer's own run-batch settings.
fn run_batch(args: &[impl AsRef<OsStr>], dir: &Path, path_prefix: &[PathBuf]) -> Command {
    let mut command = Command::new(binary());
    command.args(args).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RUN_BATCH") {
            command.env_remove(&key);
        }
    }
    command.env("NO_COLOR", "1");
    if !path_prefix.is_empty() {
        let mut dirs = path_prefix.to_vec();
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        command.env("PATH", std::env::join_paths(dirs).expect("join PATH"));
    }
    command
}

struct RawOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// What a run left behind, for checks the builder does not cover.
pub struct Output {
    pub status: ExitStatus,
    pub stderr: String,
    pub stdout: String,
    tempdir: TempDir,
}

impl Output {
    /// The temporary folder the run used (kept until `Output` is dropped).
    pub fn path(&self) -> &Path {
        self.tempdir.path()
    }

    /// Another run in the same folder, with the files as this run left them
    /// (a second `plan`, a tick after a hand edit, a rerun).
    pub fn then(self) -> Test {
        Test::in_tempdir(self.tempdir)
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", self.stdout))
    }

    /// A file of the temporary folder as text.
    pub fn read(&self, path: impl AsRef<Path>) -> String {
        let path = self.tempdir.path().join(path);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()))
    }

    /// A file of the temporary folder as bytes.
    pub fn read_bytes(&self, path: impl AsRef<Path>) -> Vec<u8> {
        let path = self.tempdir.path().join(path);
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()))
    }

    /// Names of the entries of a folder of the temporary folder, sorted.
    pub fn entries(&self, dir: impl AsRef<Path>) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.tempdir.path().join(dir))
            .expect("read folder")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The task with this id in `plan --format json` output.
    pub fn task(&self, id: &str) -> serde_json::Value {
        let json = self.json();
        json["tasks"]
            .as_array()
            .expect("`tasks` is an array")
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no task `{id}` in the plan:\n{}", self.stdout))
            .clone()
    }

    /// A field of every task in `plan --format json` output, in order.
    pub fn task_field(&self, field: &str) -> Vec<serde_json::Value> {
        self.json()["tasks"]
            .as_array()
            .expect("`tasks` is an array")
            .iter()
            .map(|t| t[field].clone())
            .collect()
    }
}

/// Text written as an indented block: a string that starts with a newline
/// loses that newline, the indentation its non-blank lines share, and the
/// spaces before the closing quote. Any other string is returned as it is.
pub fn unindent(text: &str) -> String {
    let Some(block) = text.strip_prefix('\n') else {
        return text.to_owned();
    };
    let lines: Vec<&str> = block.split('\n').collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    // Blank lines (and the closing quote's indentation) become empty.
    let out: Vec<&str> = lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() {
                ""
            } else {
                &l[indent..]
            }
        })
        .collect();
    out.join("\n")
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code.to_string(),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => format!("{status:?}"),
    }
}

fn show_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => format!("{}", bytes.escape_ascii()),
    }
}

fn mismatch(what: &str, expected: &str, actual: &str) -> String {
    let mut out = format!("{what} differs:\n--- expected\n{expected}\n--- actual\n{actual}");
    let first = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a);
    match first {
        Some(i) => out.push_str(&format!(
            "\n--- first differing line {}:\n  expected {:?}\n  actual   {:?}",
            i + 1,
            expected.lines().nth(i).unwrap(),
            actual.lines().nth(i).unwrap()
        )),
        None => out.push_str(&format!(
            "\n--- (escaped)\n  expected {expected:?}\n  actual   {actual:?}"
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unindent;

    #[test]
    fn unindent_blocks_only() {
        assert_eq!(unindent("  raw\n"), "  raw\n");
        assert_eq!(unindent("\n    a\n      b\n\n    c\n    "), "a\n  b\n\nc\n");
        assert_eq!(unindent("\n    a\n    b"), "a\nb");
    }
}
pub mod agents;
pub mod checks;
pub mod editors;
