//! Finding and running the real `claude` and `codex` CLIs offline against a
//! [`MockServer`], each run isolated in its own temporary HOME, config dir
//! and working directory.
//!
//! It takes in a CLI binary and a mock, and hands back the run's exit status,
//! output and parsed JSON events. It never touches the user's real HOME,
//! `~/.claude` or `~/.codex`, and never lets a CLI reach the network: the only
//! base URL it configures is the mock's.
//!
//! Needs `#[path = "support/mock_api.rs"] mod mock_api;` in the test crate.

#![allow(dead_code)] // each test binary uses a different part of it

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::mock_api::MockServer;

#[path = "skip.rs"]
mod skip;

/// The command that installs the pinned CLIs into `node_modules/` at the
/// repository root (what `.ci/run` should run before `cargo test`).
pub const INSTALL: &str = "npm install --no-save --no-audit --no-fund \
                           @anthropic-ai/claude-code@2.1.330 @openai/codex@0.169.0";

/// How long one CLI run may take before it is killed. Runs against the mock
/// take about a second; this only guards against hangs.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Cli {
    Claude,
    Codex,
}

impl Cli {
    pub fn command(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
        }
    }

    pub fn env_var(self) -> &'static str {
        match self {
            Cli::Claude => "RUN_BATCH_CLAUDE_BIN",
            Cli::Codex => "RUN_BATCH_CODEX_BIN",
        }
    }
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The CLI binary: `$RUN_BATCH_{CLAUDE,CODEX}_BIN`, else `claude`/`codex` on
/// PATH, else `node_modules/.bin/` in the repository. Panics if the variable
/// names something that is not an executable file: that is a broken setup,
/// not a missing CLI.
pub fn find(cli: Cli) -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(cli.env_var()).filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(
            is_executable(&bin),
            "{}={} is not an executable file",
            cli.env_var(),
            bin.display()
        );
        return Some(bin);
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(cli.command()))
            .find(|p| is_executable(p))
    });
    on_path.or_else(|| {
        let local = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("node_modules/.bin")
            .join(cli.command());
        is_executable(&local).then_some(local)
    })
}

/// The CLI binary, or `None` after a loud SKIPPED note on stderr (written
/// past the test harness's output capture, so it shows). When `CI` is set a
/// missing CLI fails the test instead.
pub fn require(cli: Cli) -> Option<PathBuf> {
    if let Some(bin) = find(cli) {
        return Some(bin);
    }
    let missing = format!(
        "real {name} CLI not installed (install the pinned CLIs with \
         `cd {repo} && {INSTALL}`, or put `{name}` on PATH, or set {var} to the binary)",
        name = cli.command(),
        repo = env!("CARGO_MANIFEST_DIR"),
        var = cli.env_var(),
    );
    skip::skip_or_fail(&missing);
    None
}

/// A temporary HOME, Claude config dir, CODEX_HOME and working directory.
pub struct Sandbox {
    pub claude_config: PathBuf,
    pub codex_home: PathBuf,
    pub home: PathBuf,
    pub work: PathBuf,
    _dir: TempDir,
}

impl Default for Sandbox {
    fn default() -> Sandbox {
        Sandbox::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("run-batch-real-cli.")
            .tempdir()
            .expect("create sandbox tempdir");
        // Canonical, so paths compare equal to what the CLIs report.
        let root = dir.path().canonicalize().expect("canonical sandbox path");
        let sandbox = Sandbox {
            claude_config: root.join("home/.claude"),
            codex_home: root.join("home/.codex"),
            home: root.join("home"),
            work: root.join("work"),
            _dir: dir,
        };
        for d in [&sandbox.claude_config, &sandbox.codex_home, &sandbox.work] {
            std::fs::create_dir_all(d).expect("create sandbox dir");
        }
        sandbox
    }

    /// The text of the file `name` in the work dir, if it can be read.
    pub fn work_file(&self, name: &str) -> Option<String> {
        read(&self.work.join(name))
    }

    /// The sandbox's top folder, which holds HOME and the work dir.
    pub fn root(&self) -> &Path {
        self.home.parent().expect("HOME is inside the sandbox")
    }

    fn base_env(&self) -> Vec<(String, OsString)> {
        vec![
            // The parent's PATH: `node_modules/.bin/codex` is a node script.
            ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
            ("HOME".into(), self.home.clone().into()),
            ("LANG".into(), "C.UTF-8".into()),
        ]
    }

    /// The environment for `claude -p` against `mock` (no inherited variables).
    pub fn claude_env(&self, mock: &MockServer) -> Vec<(String, OsString)> {
        let mut env = self.base_env();
        env.extend(
            [
                // Without it, --dangerously-skip-permissions refuses to run as root.
                ("IS_SANDBOX", "1".into()),
                ("CLAUDE_CONFIG_DIR", self.claude_config.clone().into()),
                ("ANTHROPIC_BASE_URL", mock.url().into()),
                ("ANTHROPIC_API_KEY", "test".into()),
                // No HEAD /api/hello probe, no telemetry DNS lookups.
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
                ("DISABLE_TELEMETRY", "1".into()),
                ("DISABLE_AUTOUPDATER", "1".into()),
                ("DISABLE_ERROR_REPORTING", "1".into()),
                // Otherwise any API error is retried 10 times over ~3 minutes.
                ("CLAUDE_CODE_MAX_RETRIES", "0".into()),
                // Else every run leaves /tmp/claude-<uid>/fswatch-probe-*
                // behind, and sockets go to /tmp/cc-socks.
                ("CLAUDE_CODE_TMPDIR", self.home.join("tmp").into()),
            ]
            .map(|(k, v): (&str, OsString)| (k.to_string(), v)),
        );
        env
    }

    /// Writes `$CODEX_HOME/config.toml` pointing at `mock` and returns the
    /// environment for `codex exec` (no inherited variables).
    pub fn codex_env(&self, mock: &MockServer) -> Vec<(String, OsString)> {
        let config = format!(
            r#"model = "mock-model"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.mock]
name = "Mock Responses API"
base_url = "{url}/v1"
env_key = "MOCK_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 10000
"#,
            url = mock.url()
        );
        std::fs::write(self.codex_home.join("config.toml"), config).expect("write codex config");
        let mut env = self.base_env();
        env.push(("CODEX_HOME".into(), self.codex_home.clone().into()));
        env.push(("MOCK_API_KEY".into(), "test".into()));
        env
    }

    /// `claude -p PROMPT --output-format stream-json --verbose
    /// --dangerously-skip-permissions EXTRA…` in the work dir.
    pub fn claude(&self, bin: &Path, mock: &MockServer, prompt: &str, extra: &[&str]) -> Run {
        let mut cmd = Command::new(bin);
        cmd.args(["-p", prompt, "--output-format", "stream-json", "--verbose"])
            .arg("--dangerously-skip-permissions")
            .args(extra)
            .env_clear()
            .envs(self.claude_env(mock))
            .current_dir(&self.work);
        run(cmd, RUN_TIMEOUT)
    }

    /// `codex exec --json --skip-git-repo-check ARGS…` in the work dir; put
    /// the prompt in `args` (after `resume ID` when resuming).
    pub fn codex(&self, bin: &Path, mock: &MockServer, args: &[&str]) -> Run {
        let mut cmd = Command::new(bin);
        cmd.args(["exec", "--json", "--skip-git-repo-check"])
            .args(args)
            .env_clear()
            .envs(self.codex_env(mock))
            .current_dir(&self.work);
        run(cmd, RUN_TIMEOUT)
    }
}

/// What one CLI run did.
pub struct Run {
    pub command: String,
    pub elapsed: Duration,
    pub status: ExitStatus,
    pub stderr: String,
    pub stdout: String,
    pub timed_out: bool,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Every stdout line that parses as a JSON object.
    pub fn events(&self) -> Vec<Value> {
        json_lines(&self.stdout)
    }

    /// Events whose `type` is `ty`.
    pub fn events_of(&self, ty: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["type"] == ty)
            .collect()
    }

    /// The last event whose `type` is `ty`; panics with the whole run if none.
    pub fn last(&self, ty: &str) -> Value {
        self.events_of(ty)
            .pop()
            .unwrap_or_else(|| panic!("no `{ty}` event\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = "-".repeat(72);
        writeln!(f, "command: {}", self.command)?;
        writeln!(
            f,
            "status: {} after {:.2?}{}",
            self.status,
            self.elapsed,
            if self.timed_out {
                " (TIMED OUT, killed)"
            } else {
                ""
            }
        )?;
        writeln!(f, "stdout:\n{rule}\n{}{rule}", self.stdout)?;
        writeln!(f, "stderr:\n{rule}\n{}{rule}", self.stderr)
    }
}

/// Run `cmd` with stdin closed (an open stdin makes claude wait 3 s and codex
/// wait for EOF) in its own process group, killing the group after `timeout`
/// (`node_modules/.bin/codex` is a node wrapper around the native binary).
pub fn run(cmd: Command, timeout: Duration) -> Run {
    spawn(cmd).wait(timeout)
}

/// Start `cmd` as [`run`] does, for tests that act while it runs (signals).
pub fn spawn(mut cmd: Command) -> Running {
    let command = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
    let pump = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = pump(Box::new(child.stdout.take().expect("stdout")));
    let stderr = pump(Box::new(child.stderr.take().expect("stderr")));
    Running {
        child,
        command,
        start,
        stderr,
        stdout,
    }
}

/// A process started by [`spawn`], its output being read.
pub struct Running {
    child: std::process::Child,
    command: String,
    start: Instant,
    stderr: thread::JoinHandle<String>,
    stdout: thread::JoinHandle<String>,
}

impl Running {
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits i32")
    }

    /// Sends `signal` to the process (not its group), as long as it has not
    /// been waited for.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of a child we have not reaped yet.
        unsafe {
            libc::kill(self.pid(), signal);
        }
    }

    /// Whether it has exited (without reaping it).
    pub fn has_exited(&self) -> bool {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid(2) with WNOWAIT only peeks at our own child's state.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                self.child.id(),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: si_pid is set (non-zero) only when the child has exited.
        rc == 0 && unsafe { info.si_pid() } != 0
    }

    /// Waits for it to exit, killing its process group once `timeout` has
    /// passed since it started.
    pub fn wait(mut self, timeout: Duration) -> Run {
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for CLI") {
                break status;
            }
            if self.start.elapsed() > timeout {
                timed_out = true;
                let pgid = self.pid();
                // SAFETY: kill(2) with a negative pid signals the process group
                // we created for this child; it touches no memory.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                break self.child.wait().expect("wait for killed CLI");
            }
            thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.start.elapsed();
        Run {
            command: self.command,
            elapsed,
            status,
            stderr: self.stderr.join().expect("stderr reader"),
            stdout: self.stdout.join().expect("stdout reader"),
            timed_out,
        }
    }
}

/// The integer at JSON `pointer` in `v`; panics, showing `v`, if none.
pub fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no integer at {pointer} in {v}"))
}

/// The number at JSON `pointer` in `v`; panics, showing `v`, if none.
pub fn f64_at(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {v}"))
}

/// The file's text, or `None` if it cannot be read.
pub fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Every line of `text` that parses as a JSON object.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(Value::is_object)
        .collect()
}
