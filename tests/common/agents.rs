//! Helpers for tests of `run-batch run`: the fake agent on `PATH`, its log of
//! start and end times (which tasks overlapped), the run's records, processes
//! (zombie-aware: this sandbox's PID 1 reaps orphans late, so a killed process
//! can linger as a zombie and `kill -0` still succeeds on it), and run-batch
//! started in the background so a test can act while it runs.
//!
//! ```ignore
//! let t = Test::new().fake_agent().file("t.md", "# P\n- [ ] a sleep=0.2\n");
//! let out = t.args(["t.md", "--agent", "fake-agent"]).success();
//! let log = FakeLog::read(out.path());
//! assert_eq!(log.max_concurrency(), 1);
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Test, run_batch};

/// The fake agent (see its header for the words a task's text may use).
pub const FAKE_AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/agents/fake-agent");
/// The fake Claude Code / Codex CLI (its header says what it does).
pub const STREAM_AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/agents/stream-agent");

/// Replaces a file the way editors save: a new file renamed over the old one.
pub fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("md.editor-tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// How long a test waits for a run-batch in the background or an agent:
/// long enough for anything on a loaded machine; the behaviour under test
/// takes well under a second or two.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Where the fake agent logs (`start ID NS` / `end ID NS`), in the test folder.
pub const FAKE_LOG: &str = "fake.log";
/// Where the fake agent's `child` word writes the child's pid.
pub const FAKE_PIDS: &str = "fake.pids";

/// A wrapper around the fake agent (install it with [`RunTest::hold_agent`])
/// for tests that act while a task runs. Extra words in a task's text:
///
/// - `wait=NAME`: create `NAME.waiting`, then wait (at most a minute) until
///   a file `NAME` exists, then go on as the fake agent;
/// - `hangif=NAME`: when file `NAME` exists, also `child hang`;
/// - `stubbornif=NAME`: when file `NAME` exists, also `child stubborn`.
///
/// Files are relative to the agent's working directory.
pub const HOLD_AGENT: &str = r#"#!/usr/bin/env bash
set -u
extra=""
for word in ${RUN_BATCH_TASK_TEXT:-}; do
  case "$word" in
    wait=*)
      f="${word#wait=}"
      : > "$f.waiting"
      i=0
      while [ ! -e "$f" ] && [ "$i" -lt 3000 ]; do sleep 0.02; i=$((i + 1)); done
      ;;
    hangif=*) [ -e "${word#hangif=}" ] && extra="$extra child hang" ;;
    stubbornif=*) [ -e "${word#stubbornif=}" ] && extra="$extra child stubborn" ;;
  esac
done
RUN_BATCH_TASK_TEXT="${RUN_BATCH_TASK_TEXT:-}$extra" exec fake-agent
"#;

/// Set-up for run tests, on top of [`Test`].
pub trait RunTest {
    /// `bin/fake-agent` (a link to the fixture) first on `PATH`, with
    /// `FAKE_LOG` and `FAKE_PIDS` in the test folder.
    fn fake_agent(self) -> Test;
    /// [`RunTest::fake_agent`] plus `bin/hold-agent` ([`HOLD_AGENT`]).
    fn hold_agent(self) -> Test;
}

impl RunTest for Test {
    fn fake_agent(self) -> Test {
        self.symlink("bin/fake-agent", FAKE_AGENT)
            .path_prefix("bin")
            .env("FAKE_LOG", &format!("{{dir}}/{FAKE_LOG}"))
            .env("FAKE_PIDS", &format!("{{dir}}/{FAKE_PIDS}"))
    }

    fn hold_agent(self) -> Test {
        self.fake_agent().executable("bin/hold-agent", HOLD_AGENT)
    }
}

// ---- the fake agent's log ---------------------------------------------------

/// One run of the fake agent: when it logged its start and (unless it was
/// killed first) its end, in nanoseconds since the epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    pub id: String,
    pub start: u128,
    pub end: Option<u128>,
}

impl Interval {
    /// Whether two runs were under way at the same time (an unfinished run
    /// lasts for ever).
    pub fn overlaps(&self, other: &Interval) -> bool {
        let a_end = self.end.unwrap_or(u128::MAX);
        let b_end = other.end.unwrap_or(u128::MAX);
        self.start < b_end && other.start < a_end
    }
}

/// `$FAKE_LOG` parsed: every agent run, in order of start.
#[derive(Clone, Debug, Default)]
pub struct FakeLog {
    pub runs: Vec<Interval>,
}

impl FakeLog {
    /// Reads `fake.log` in the test folder (no file: no runs).
    pub fn read(dir: &Path) -> FakeLog {
        FakeLog::parse(&std::fs::read_to_string(dir.join(FAKE_LOG)).unwrap_or_default())
    }

    pub fn parse(text: &str) -> FakeLog {
        let mut runs: Vec<Interval> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [what, id, ns] = words[..] else {
                panic!("bad fake-agent log line {line:?}")
            };
            let ns: u128 = ns
                .parse()
                .unwrap_or_else(|_| panic!("bad time in {line:?}"));
            match what {
                "start" => runs.push(Interval {
                    id: id.to_owned(),
                    start: ns,
                    end: None,
                }),
                "end" => {
                    let run = runs
                        .iter_mut()
                        .find(|r| r.id == id && r.end.is_none())
                        .unwrap_or_else(|| panic!("`end {id}` without a start"));
                    run.end = Some(ns);
                }
                _ => panic!("bad fake-agent log line {line:?}"),
            }
        }
        runs.sort_by_key(|r| r.start);
        FakeLog { runs }
    }

    /// How many times the task started.
    pub fn count(&self, id: &str) -> usize {
        self.runs.iter().filter(|r| r.id == id).count()
    }

    /// The task's only run (panics unless it ran exactly once).
    pub fn only(&self, id: &str) -> &Interval {
        let runs: Vec<&Interval> = self.runs.iter().filter(|r| r.id == id).collect();
        assert_eq!(runs.len(), 1, "`{id}` should have run once: {self:#?}");
        runs[0]
    }

    /// Task ids in order of start.
    pub fn order(&self) -> Vec<&str> {
        self.runs.iter().map(|r| r.id.as_str()).collect()
    }

    /// The most runs under way at one moment.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency_of(|_| true)
    }

    /// The most runs of the selected tasks under way at one moment.
    pub fn max_concurrency_of(&self, select: impl Fn(&str) -> bool) -> usize {
        let mut points: Vec<(u128, i32)> = Vec::new();
        for r in self.runs.iter().filter(|r| select(&r.id)) {
            points.push((r.start, 1));
            points.push((r.end.unwrap_or(u128::MAX), -1));
        }
        // Ends sort before starts at the same instant: touching is not overlapping.
        points.sort();
        let (mut now, mut most) = (0i32, 0i32);
        for (_, d) in points {
            now += d;
            most = most.max(now);
        }
        most as usize
    }

    /// Pairs of runs that overlapped, as ids.
    pub fn overlapping(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, a) in self.runs.iter().enumerate() {
            for b in &self.runs[i + 1..] {
                if a.overlaps(b) {
                    out.push((a.id.clone(), b.id.clone()));
                }
            }
        }
        out
    }
}

// ---- records ------------------------------------------------------------------

/// `.run-batch/<file name>/` for a task file in the test folder.
pub fn state_dir(dir: &Path, taskfile: &str) -> PathBuf {
    let file = dir.join(taskfile);
    let folder = file.parent().unwrap().to_owned();
    folder.join(".run-batch").join(file.file_name().unwrap())
}

/// The run folders (`runs/<id>/`) of a task file, oldest first.
pub fn run_dirs(dir: &Path, taskfile: &str) -> Vec<PathBuf> {
    let runs = state_dir(dir, taskfile).join("runs");
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&runs) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Every event of every run of a task file, oldest run first.
pub fn events(dir: &Path, taskfile: &str) -> Vec<serde_json::Value> {
    run_dirs(dir, taskfile)
        .iter()
        .flat_map(|d| events_in(&d.join("events.jsonl")))
        .collect()
}

/// The events of one `events.jsonl` (a missing file has none).
pub fn events_in(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("event line is not JSON ({e}): {l}"))
        })
        .collect()
}

/// `run-batch status TASKFILE --json` in `dir`, which must succeed.
pub fn status_json(dir: &Path, taskfile: &str) -> serde_json::Value {
    let status = Background::start(dir, &["status", taskfile, "--json"]).wait(PATIENCE);
    status.assert_code(0);
    serde_json::from_str(&status.stdout).expect("status --json prints JSON")
}

/// The events named `name`.
pub fn named<'a>(events: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

/// The process (and group) ids of every agent started, from `task_started`.
pub fn agent_pids(events: &[serde_json::Value]) -> Vec<i32> {
    named(events, "task_started")
        .iter()
        .map(|e| e["pid"].as_i64().expect("task_started has a pid") as i32)
        .collect()
}

/// Pids in a file of one pid per line (`fake.pids`); no file: none.
pub fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

// ---- processes -------------------------------------------------------------------

/// A process's state letter and process group, from `/proc/PID/stat`.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Whether a process is gone: no such process, or a zombie (dead, only not
/// reaped yet).
pub fn is_gone(pid: i32) -> bool {
    !matches!(stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// Every pid in /proc.
fn proc_pids() -> impl Iterator<Item = i32> {
    (std::fs::read_dir("/proc").expect("read /proc").flatten())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
}

/// Live (not zombie) processes whose process group is `pgid`.
pub fn live_in_group(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for pid in proc_pids() {
        if let Some((state, pgrp)) = stat(pid)
            && pgrp == pgid
            && state != 'Z'
            && state != 'X'
        {
            out.push(pid);
        }
    }
    out
}

/// Live processes among `pids` and in the process groups `groups`.
pub fn still_alive(pids: &[i32], groups: &[i32]) -> Vec<i32> {
    let mut out: Vec<i32> = pids.iter().copied().filter(|&p| !is_gone(p)).collect();
    for &g in groups {
        out.extend(live_in_group(g));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Waits until every process of `pids` and of the groups `groups` is gone;
/// panics naming the survivors (with their command lines) after `timeout`.
pub fn assert_all_gone(pids: &[i32], groups: &[i32], timeout: Duration) {
    let start = Instant::now();
    loop {
        let alive = still_alive(pids, groups);
        if alive.is_empty() {
            return;
        }
        if start.elapsed() > timeout {
            let described: Vec<String> = alive
                .iter()
                .map(|p| {
                    let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                    format!("{p} ({})", cmd.trim())
                })
                .collect();
            // Do not leave them behind for the next test.
            for &p in &alive {
                // SAFETY: kill(2) on a pid; no memory effects.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            panic!(
                "processes still alive {timeout:?} later: {}",
                described.join(", ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `done()` holds; panics with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting until {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- run-batch in the background -------------------------------------------------

/// run-batch started in a test folder without waiting for it, with the same
/// environment the builder gives (no `RUN_BATCH*` from outside, `NO_COLOR`,
/// the folder's `bin` first on `PATH`, `FAKE_LOG` and `FAKE_PIDS`). If it
/// is dropped while running, or outlives `wait`'s timeout, it is killed with
/// SIGKILL and so are its agents (rather than leaving them to the guard's
/// grace period, which a test may have set long).
pub struct Background {
    child: Option<Child>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    args: Vec<String>,
    dir: PathBuf,
}

/// How a background run ended.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// How long `wait` waited.
    pub waited: Duration,
}

impl Background {
    pub fn start(dir: &Path, args: &[&str]) -> Background {
        Background::start_with_env(dir, args, &[])
    }

    /// [`Background::start`] with more environment variables (a token that
    /// marks every process the run starts, for instance).
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Background {
        let mut command = run_batch(args, dir, &[dir.join("bin")]);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("FAKE_LOG", dir.join(FAKE_LOG))
            .env("FAKE_PIDS", dir.join(FAKE_PIDS))
            .envs(env.iter().copied());
        let mut child = command.spawn().expect("start run-batch");
        fn read(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                buf
            })
        }
        Background {
            stdout: Some(read(child.stdout.take().unwrap())),
            stderr: Some(read(child.stderr.take().unwrap())),
            child: Some(child),
            args: args.iter().map(|a| a.to_string()).collect(),
            dir: dir.to_owned(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("still running").id() as i32
    }

    /// Sends a signal to run-batch (not to its agents).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own unreaped child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Kills run-batch with SIGKILL and reaps it; its agents are left to the guard.
    pub fn kill(self) -> Finished {
        self.signal(libc::SIGKILL);
        self.wait(Duration::from_secs(10))
    }

    /// Waits for run-batch to exit; after `timeout` kills it and panics.
    pub fn wait(self, timeout: Duration) -> Finished {
        let args = self.args.join(" ");
        let (end, timed_out) = self.wait_or_kill(timeout);
        if timed_out {
            panic!(
                "`run-batch {args}` did not finish within {timeout:?}; killed\n---- stdout ----\n{}\n---- stderr ----\n{}",
                end.stdout, end.stderr
            );
        }
        end
    }

    /// Waits for run-batch to exit; after `timeout` kills it and its agents
    /// and says so (true), for tests that report a hang with the rest of
    /// what they found.
    pub fn wait_or_kill(mut self, timeout: Duration) -> (Finished, bool) {
        let start = Instant::now();
        let mut child = self.child.take().expect("not waited for yet");
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for run-batch") {
                break status;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                kill_agents(&self.dir);
                timed_out = true;
                break child.wait().expect("wait for run-batch");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let waited = start.elapsed();
        let (stdout, stderr) = self.output();
        let end = Finished {
            status,
            stdout,
            stderr,
            waited,
        };
        (end, timed_out)
    }

    fn output(&mut self) -> (String, String) {
        let text = |h: Option<JoinHandle<Vec<u8>>>| {
            h.map(|h| String::from_utf8_lossy(&h.join().unwrap()).into_owned())
                .unwrap_or_default()
        };
        (text(self.stdout.take()), text(self.stderr.take()))
    }
}

/// Runs run-batch to its end in `dir` (environment as for [`Background`])
/// with stdout and stderr pipes whose read ends are closed before it writes
/// anything, as `| head` that has had enough or a pager that was quit: every
/// write it makes fails with EPIPE. Returns its exit status.
pub fn run_with_output_closed(dir: &Path, args: &[&str]) -> ExitStatus {
    let mut command = run_batch(args, dir, &[dir.join("bin")]);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("FAKE_LOG", dir.join(FAKE_LOG))
        .env("FAKE_PIDS", dir.join(FAKE_PIDS));
    let mut child = command.spawn().expect("start run-batch");
    drop(child.stdout.take());
    drop(child.stderr.take());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for run-batch") {
            return status;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            kill_agents(dir);
            panic!(
                "`run-batch {}` did not finish within {PATIENCE:?}; killed",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
            kill_agents(&self.dir);
        }
    }
}

/// SIGKILL to every process started for the test folder `dir` (they all
/// inherit its `FAKE_LOG` from run-batch: agents, their children, the guard):
/// clean-up after a test gave up. Found by environment, so a recycled pid is
/// never hit.
pub fn kill_agents(dir: &Path) {
    let mark = format!("FAKE_LOG={}", dir.join(FAKE_LOG).display()).into_bytes();
    let me = std::process::id() as i32;
    for pid in proc_pids() {
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if pid != me && environ.split(|&b| b == 0).any(|var| var == mark.as_slice()) {
            // SAFETY: kill(2) on one process; no memory effects.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl Finished {
    /// Panics (showing the output) unless run-batch exited with `code`.
    pub fn assert_code(&self, code: i32) -> &Finished {
        assert_eq!(
            self.status.code(),
            Some(code),
            "exit status\n---- stdout ----\n{}\n---- stderr ----\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The `KEY=value` lines of a file (as `env` prints them), as a map.
pub fn env_lines(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
