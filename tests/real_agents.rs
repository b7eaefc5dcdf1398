//! run-batch driving the real `claude` (2.1.330) and `codex` (0.169.0) CLIs,
//! fully offline, against the Rust mock APIs in `support/mock_api.rs`: the
//! agent presets, ticking, token and cost accounting, `--max-cost`, timeouts,
//! interruption and resuming an interrupted session, and API errors as the
//! reason a task failed.
//!
//! Each test runs `run-batch run <sandbox>/work/task.md --agent claude|codex`
//! with an empty environment plus the sandbox's (temporary HOME, config dirs,
//! the mock's URL) and `PATH` starting with a folder holding the CLI, so
//! run-batch finds the real binary there and passes that environment on.
//!
//! A missing CLI skips its test with a loud note on stderr, unless `CI` is
//! set, in which case it fails (see `support/real_cli.rs`).

#[path = "support/mock_api.rs"]
mod mock_api;
#[path = "support/real_cli.rs"]
mod real_cli;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use mock_api::{MockServer, Request, Step, ToolCall, Usage, strings_of};
use real_cli::{Cli, Run, Running, Sandbox, f64_at, json_lines, read, require, u64_at};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_run-batch");

/// A safety net for one whole run-batch process (its group is killed after
/// it); runs against the mock take seconds.
const BATCH_TIMEOUT: Duration = Duration::from_secs(180);

/// How long to wait for something a running agent is expected to do.
const WAIT: Duration = Duration::from_secs(60);

/// Codex in a container: its Linux sandbox may not work, so no sandbox.
const CODEX_CONFIG: &str = r#"[agents.codex]
model = "mock-model"
permission-mode = "danger-full-access"
price = { input = 2.0, output = 8.0, cache-read = 0.5 }
"#;

/// One sandbox, one mock API and one real CLI, for one or more runs of
/// run-batch on `work/task.md`.
struct Fixture {
    cli: Cli,
    /// The real CLI binary.
    bin: PathBuf,
    mock: MockServer,
    sb: Sandbox,
    /// Folders put first on `PATH`, before the one holding the real CLI.
    path_prefix: Vec<PathBuf>,
    /// Sandbox variables left out of run-batch's environment.
    env_remove: Vec<&'static str>,
    /// Variables added to it.
    env_add: Vec<(String, OsString)>,
}

impl Fixture {
    /// None (after a loud SKIPPED note) when the CLI is not installed.
    fn new(cli: Cli, script: Vec<Step>) -> Option<Fixture> {
        let bin = require(cli)?;
        let mock = match cli {
            Cli::Claude => MockServer::anthropic(script),
            Cli::Codex => MockServer::openai(script),
        };
        let sb = Sandbox::new();
        // The CLI under its own name, whatever the found binary is called
        // ($RUN_BATCH_*_BIN may name any file).
        let bin_dir = sb.root().join("bin");
        std::fs::create_dir_all(&bin_dir).expect("create bin dir");
        std::os::unix::fs::symlink(&bin, bin_dir.join(cli.command())).expect("link the CLI");
        Some(Fixture {
            cli,
            bin,
            mock,
            sb,
            path_prefix: Vec::new(),
            env_remove: Vec::new(),
            env_add: Vec::new(),
        })
    }

    /// Claude logged in to a subscription rather than using an API key: the
    /// only way Claude Code reads the `anthropic-ratelimit-unified-*`
    /// headers of a usage limit (with a key, every 429 is "Request
    /// rejected").
    fn claude_subscription(mut self) -> Fixture {
        self.env_remove.push("ANTHROPIC_API_KEY");
        (self.env_add).push(("CLAUDE_CODE_OAUTH_TOKEN".into(), "mock-oauth".into()));
        self
    }

    fn taskfile(&self) -> PathBuf {
        self.sb.work.join("task.md")
    }

    fn write_taskfile(&self, text: &str) {
        std::fs::write(self.taskfile(), text).expect("write task.md");
    }

    fn read_taskfile(&self) -> String {
        std::fs::read_to_string(self.taskfile()).expect("read task.md")
    }

    fn write_config(&self, toml: &str) {
        std::fs::write(self.sb.work.join("run-batch.toml"), toml).expect("write run-batch.toml");
    }

    fn state_dir(&self) -> PathBuf {
        self.sb.work.join(".run-batch/task.md")
    }

    /// The ids of the runs recorded so far.
    fn run_ids(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.state_dir().join("runs"))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The folder of the one run started since `before`, if there is one yet.
    fn new_run_dir(&self, before: &BTreeSet<String>) -> Option<PathBuf> {
        let new: Vec<String> = self.run_ids().difference(before).cloned().collect();
        assert!(new.len() <= 1, "several new runs: {new:?}");
        new.first().map(|id| self.state_dir().join("runs").join(id))
    }

    /// The environment run-batch gets (and passes on to the agents).
    fn env(&self) -> Vec<(String, OsString)> {
        let mut env = match self.cli {
            Cli::Claude => self.sb.claude_env(&self.mock),
            Cli::Codex => self.sb.codex_env(&self.mock),
        };
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = self.path_prefix.clone();
        dirs.push(self.sb.root().join("bin"));
        dirs.extend(std::env::split_paths(&inherited));
        let path = std::env::join_paths(dirs).expect("join PATH");
        env.retain(|(k, _)| k != "PATH" && !self.env_remove.contains(&k.as_str()));
        env.push(("PATH".into(), path));
        env.extend(self.env_add.iter().cloned());
        env.push(("NO_COLOR".into(), "1".into()));
        env
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg(self.taskfile())
            .args(["--agent", self.cli.command()])
            .args(args)
            .env_clear()
            .envs(self.env())
            .current_dir(&self.sb.work);
        cmd
    }

    /// `run-batch run work/task.md --agent CLI ARGS…`, to the end.
    fn run(&self, args: &[&str]) -> Batch {
        let before = self.run_ids();
        let run = real_cli::run(self.command(args), BATCH_TIMEOUT);
        self.batch(run, &before)
    }

    /// The same, started in the background.
    fn start(&self, args: &[&str]) -> Started {
        let before = self.run_ids();
        Started {
            running: real_cli::spawn(self.command(args)),
            before,
        }
    }

    fn batch(&self, run: Run, before: &BTreeSet<String>) -> Batch {
        let dir = self.new_run_dir(before);
        let events = dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.join("events.jsonl")).ok())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect();
        let context = format!(
            "{run}{}mock requests:\n{}",
            describe_run_dir(dir.as_deref()),
            self.mock.describe_requests()
        );
        Batch {
            run,
            events,
            context,
        }
    }

    /// Waits for `what` until [`WAIT`] has passed; then kills the run and
    /// fails with everything it did.
    fn wait_for(
        &self,
        started: Started,
        what: &str,
        mut done: impl FnMut(&Fixture) -> bool,
    ) -> Started {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            if Instant::now() > deadline || started.running.has_exited() {
                let exited = started.running.has_exited();
                let batch = started.finish(self, Duration::ZERO);
                panic!(
                    "gave up waiting for {what} ({})\n{batch}",
                    if exited {
                        "run-batch exited"
                    } else {
                        "timed out"
                    }
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        started
    }

    /// `run-batch status work/task.md --json`.
    fn status(&self) -> Value {
        let mut cmd = Command::new(BIN);
        cmd.arg("status")
            .arg(self.taskfile())
            .arg("--json")
            .env_clear()
            .envs(self.env())
            .current_dir(&self.sb.work);
        let run = real_cli::run(cmd, Duration::from_secs(60));
        assert_eq!(run.code(), Some(0), "status --json failed\n{run}");
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("status --json is not JSON: {e}\n{run}"))
    }
}

/// A run-batch process running in the background.
struct Started {
    running: Running,
    before: BTreeSet<String>,
}

impl Started {
    fn signal(&self, signal: i32) {
        self.running.signal(signal);
    }

    /// Waits for the run to end (killing it at `timeout` after it started).
    fn finish(self, fx: &Fixture, timeout: Duration) -> Batch {
        let run = self.running.wait(timeout);
        fx.batch(run, &self.before)
    }
}

/// What one run-batch run did: its exit, output, events and logs.
struct Batch {
    run: Run,
    events: Vec<Value>,
    /// The run, its events, attempt logs and the mock's requests, for
    /// assertion messages.
    context: String,
}

impl std::fmt::Display for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.context)
    }
}

impl Batch {
    fn code(&self) -> Option<i32> {
        self.run.code()
    }

    fn events_of(&self, name: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == name).collect()
    }

    /// The only event named `name`; panics with the run otherwise.
    fn one(&self, name: &str) -> &Value {
        let found = self.events_of(name);
        assert_eq!(found.len(), 1, "expected one `{name}` event\n{self}");
        found[0]
    }

    /// The event named `name` for `task`'s `attempt`.
    fn attempt_event(&self, name: &str, task: &str, attempt: u64) -> &Value {
        self.events
            .iter()
            .find(|e| e["event"] == name && e["task"] == task && e["attempt"] == attempt)
            .unwrap_or_else(|| panic!("no `{name}` event for {task} attempt {attempt}\n{self}"))
    }

    /// The text of an attempt log (named by its `task_started` event).
    fn log(&self, task: &str, attempt: u32) -> String {
        let started = self.attempt_event("task_started", task, u64::from(attempt));
        let path = PathBuf::from(
            started["log"]
                .as_str()
                .unwrap_or_else(|| panic!("no log in {started}\n{self}")),
        );
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{self}", path.display()))
    }

    /// The JSON objects of an attempt log (the agent's stdout events).
    fn log_events(&self, task: &str, attempt: u32) -> Vec<Value> {
        json_lines(&self.log(task, attempt))
    }

    /// The agent's event of type `ty` in an attempt log (the last one).
    fn log_event(&self, task: &str, attempt: u32, ty: &str) -> Value {
        self.log_events(task, attempt)
            .into_iter()
            .rfind(|e| e["type"] == ty)
            .unwrap_or_else(|| panic!("no `{ty}` line in the log of {task}.{attempt}\n{self}"))
    }

    /// Claude's `system/init` line in an attempt log.
    fn log_init(&self, task: &str, attempt: u32) -> Value {
        self.log_events(task, attempt)
            .into_iter()
            .find(|e| e["type"] == "system" && e["subtype"] == "init")
            .unwrap_or_else(|| panic!("no init line in the log of {task}.{attempt}\n{self}"))
    }

    fn stderr_lines_starting(&self, prefix: &str) -> Vec<&str> {
        self.run
            .stderr
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }
}

/// events.jsonl and every attempt log of a run folder (the end of long logs).
fn describe_run_dir(dir: Option<&Path>) -> String {
    let rule = "-".repeat(72);
    let Some(dir) = dir else {
        return "run folder: (none)\n".into();
    };
    let mut out = format!("run folder: {}\n", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for name in names {
        let Ok(text) = std::fs::read_to_string(dir.join(&name)) else {
            continue;
        };
        const KEEP: usize = 12_000;
        let shown = if text.len() > KEEP {
            let mut cut = text.len() - KEEP;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            format!("[… {cut} bytes cut …]\n{}", &text[cut..])
        } else {
            text
        };
        out.push_str(&format!("{name}:\n{rule}\n{shown}\n{rule}\n"));
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9_f64.max(b.abs() * 1e-9)
}

/// The entry of `status --json`'s `by_task` for `id`.
fn by_task<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["by_task"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["id"] == id))
        .unwrap_or_else(|| panic!("no `by_task` entry for {id} in status --json:\n{status:#}"))
}

/// The text of each user message of a request (Anthropic `messages` with
/// role user, OpenAI `input` messages with role user), tool results excluded.
fn user_texts(req: &Request) -> Vec<String> {
    req.items()
        .iter()
        .filter(|item| item["role"] == "user")
        .map(|item| match &item["content"] {
            Value::Array(blocks) => blocks
                .iter()
                .filter(|b| b["type"] != "tool_result")
                .map(strings_of)
                .collect::<Vec<_>>()
                .join(""),
            other => strings_of(other),
        })
        .filter(|t| !t.trim().is_empty())
        .collect()
}

/// The longest piece of literal text in `templates/resume.md` (no template
/// tags), which every rendered resume prompt contains.
fn resume_template_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/resume.md");
    let template = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (the resume prompt's template)",
            path.display()
        )
    });
    let mut literal = String::new();
    let mut rest = template.as_str();
    while let Some(open) = rest.find('{') {
        let tag_end = match rest[open..].chars().nth(1) {
            Some('{') => "}}",
            Some('%') => "%}",
            Some('#') => "#}",
            _ => {
                literal.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
                continue;
            }
        };
        literal.push_str(&rest[..open]);
        literal.push('\n');
        rest = rest[open..]
            .find(tag_end)
            .map_or("", |end| &rest[open + end + 2..]);
    }
    literal.push_str(rest);
    literal
        .lines()
        .map(str::trim)
        .max_by_key(|l| l.len())
        .filter(|l| l.len() >= 10)
        .unwrap_or_else(|| panic!("no literal text in {}", path.display()))
        .to_string()
}

/// The live (not zombie) processes of process group `pgid`, as
/// `pid (comm) state`, from /proc.
fn live_group_members(pgid: i64) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.filter_map(Result::ok) {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …; comm may hold spaces and parens.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(state), Some(pgrp)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        if pgrp.parse::<i64>().ok() == Some(pgid) && *state != "Z" && *state != "X" {
            found.push(stat[..=close].to_string() + " " + state);
        }
    }
    found
}

/// Whether an attempt log shows the agent's session id (Claude's init line,
/// Codex's `thread.started`).
fn session_began(log: &str) -> bool {
    json_lines(log)
        .iter()
        .any(|e| (e["type"] == "system" && e["subtype"] == "init") || e["type"] == "thread.started")
}

/// Starts `run-batch … -j 1` in the background, waits for the mock's
/// `requests`th model request and for the session id in the attempt log,
/// then stops the run with SIGINT (Ctrl-C), which must make it exit 130.
fn interrupt_after_session(fx: &Fixture, requests: usize) -> Batch {
    let started = fx.start(&["-j", "1"]);
    let started = fx.wait_for(started, &format!("model request {requests}"), |fx| {
        fx.mock.model_requests().len() >= requests
    });
    let started = fx.wait_for(started, "the session id in the attempt log", |fx| {
        session_began(&started_log(fx))
    });
    started.signal(libc::SIGINT);
    let first = started.finish(fx, BATCH_TIMEOUT);
    assert_eq!(first.code(), Some(130), "{first}");
    first
}

/// Checks the model request that continued a session (`resumed`): it
/// carries the earlier transcript (blocks of each of `tool_types`, the text
/// `earlier` and the task's prompt as sent in `first`), and its last user
/// message is the resume prompt. Returns the original prompt and that last
/// user message.
fn assert_resumed_request(
    first: &Request,
    resumed: &Request,
    tool_types: [&str; 2],
    earlier: &str,
    b: &Batch,
) -> (String, String) {
    let original = user_texts(first)
        .into_iter()
        .find(|t| t.contains("Write part1.txt and part2.txt"))
        .unwrap_or_else(|| panic!("no prompt in the first request\n{b}"));
    let types = resumed.block_types();
    for t in tool_types {
        assert!(
            types.contains(&t.to_string()),
            "{t} missing from {types:?}\n{b}"
        );
    }
    let text = resumed.all_text();
    assert!(
        text.contains(&original),
        "the original prompt is not in the resumed request\n{b}"
    );
    assert!(
        text.contains(earlier),
        "{earlier:?} is not in the resumed request\n{b}"
    );
    let resume_text = resume_template_text();
    let newest = user_texts(resumed).pop().expect("a user message");
    assert!(
        newest.contains(&resume_text),
        "the last user message is not the resume prompt (expected it to contain {resume_text:?}): {newest:?}\n{b}"
    );
    (original, newest)
}

// ----------------------------------------------------- success and tokens

#[test]
fn claude_task_writes_a_file_and_is_ticked() {
    let Some(fx) = Fixture::new(
        Cli::Claude,
        vec![
            Step::tool(ToolCall::claude_write(
                "{{cwd}}/hello.txt",
                "hello from mock\n",
            ))
            .with_text("Writing.")
            .usage(Usage::new(1000, 100).with_cache(200, 300)),
            Step::text("Created hello.txt.").usage(Usage::new(2000, 50).with_cache(400, 0)),
        ],
    ) else {
        return;
    };
    let taskfile =
        "# Demo\n\n- [x] Plan the demo\n- [ ] Create hello.txt\n\nNotes stay as they are.\n";
    fx.write_taskfile(taskfile);
    let b = fx.run(&["-j", "1"]);

    assert_eq!(b.code(), Some(0), "{b}");
    assert_eq!(
        fx.sb.work_file("hello.txt").as_deref(),
        Some("hello from mock\n"),
        "{b}"
    );
    assert_eq!(
        fx.read_taskfile(),
        taskfile.replace("- [ ] Create", "- [x] Create"),
        "{b}"
    );
    assert_eq!(fx.mock.model_requests().len(), 2, "{b}");

    // Claude's own account of the attempt, in the attempt log.
    let task = "create-hello-txt";
    let result = b.log_event(task, 1, "result");
    assert_eq!(result["is_error"], false, "{b}");
    let claude_cost = f64_at(&result, "/total_cost_usd");
    assert!(claude_cost > 0.0, "{b}");
    let session = result["session_id"].as_str().expect("session_id");

    // The task_finished event carries the session, cost and tokens.
    let finished = b.attempt_event("task_finished", task, 1);
    assert_eq!(finished["outcome"], "succeeded", "{b}");
    assert_eq!(finished["session_id"], session, "{b}");
    assert!(close(f64_at(finished, "/cost_usd"), claude_cost), "{b}");
    // Claude's input_tokens is uncached input, summed over both requests.
    assert_eq!(u64_at(finished, "/input_tokens"), 3000, "{b}");
    assert_eq!(u64_at(finished, "/output_tokens"), 150, "{b}");
    assert_eq!(u64_at(finished, "/cache_read_tokens"), 600, "{b}");
    assert_eq!(u64_at(finished, "/cache_write_tokens"), 300, "{b}");
    let run_finished = b.one("run_finished");
    assert!(close(f64_at(run_finished, "/cost_usd"), claude_cost), "{b}");
    assert_eq!(u64_at(run_finished, "/input_tokens"), 3000, "{b}");
    assert_eq!(u64_at(run_finished, "/output_tokens"), 150, "{b}");

    let status = fx.status();
    let ctx = format!("status --json:\n{status:#}\n{b}");
    assert_eq!(status["done"], 2, "{ctx}");
    assert_eq!(status["remaining"], 0, "{ctx}");
    assert!(close(f64_at(&status, "/cost_usd"), claude_cost), "{ctx}");
    assert_eq!(u64_at(&status, "/input_tokens"), 3000, "{ctx}");
    assert_eq!(u64_at(&status, "/output_tokens"), 150, "{ctx}");
    assert_eq!(u64_at(&status, "/cache_read_tokens"), 600, "{ctx}");
    assert_eq!(u64_at(&status, "/cache_write_tokens"), 300, "{ctx}");
    let task = by_task(&status, task);
    assert_eq!(task["done"], true, "{ctx}");
    assert_eq!(task["attempts"], 1, "{ctx}");
    assert_eq!(task["session_id"], session, "{ctx}");
    assert!(close(f64_at(task, "/cost_usd"), claude_cost), "{ctx}");
    assert_eq!(u64_at(task, "/input_tokens"), 3000, "{ctx}");
    assert_eq!(u64_at(task, "/cache_write_tokens"), 300, "{ctx}");
}

#[test]
fn codex_task_writes_a_file_and_is_ticked_with_priced_tokens() {
    let Some(fx) = Fixture::new(
        Cli::Codex,
        vec![
            Step::tool(ToolCall::codex_exec(
                "printf 'hello from codex\\n' > hello.txt",
            ))
            .usage(Usage::new(1000, 100).with_cache(200, 0)),
            Step::text("Created hello.txt.").usage(Usage::new(2000, 50).with_cache(400, 0)),
        ],
    ) else {
        return;
    };
    fx.write_config(CODEX_CONFIG);
    fx.write_taskfile("- [ ] Create hello.txt\n");
    let b = fx.run(&["-j", "1"]);

    assert_eq!(b.code(), Some(0), "{b}");
    assert_eq!(
        fx.sb.work_file("hello.txt").as_deref(),
        Some("hello from codex\n"),
        "{b}"
    );
    assert_eq!(fx.read_taskfile(), "- [x] Create hello.txt\n", "{b}");
    let thread = b.log_event("create-hello-txt", 1, "thread.started")["thread_id"]
        .as_str()
        .expect("thread_id")
        .to_string();

    // The mock reported 3000 input tokens of which 600 cached (OpenAI
    // counts cached tokens inside input_tokens); run-batch counts input as
    // uncached, like Claude.
    let (input, output, cached) = (2400_u64, 150_u64, 600_u64);
    let expected_cost = (input as f64 * 2.0 + output as f64 * 8.0 + cached as f64 * 0.5) / 1e6;

    let finished = b.attempt_event("task_finished", "create-hello-txt", 1);
    assert_eq!(finished["outcome"], "succeeded", "{b}");
    assert_eq!(finished["session_id"], thread.as_str(), "{b}");
    assert_eq!(u64_at(finished, "/input_tokens"), input, "{b}");
    assert_eq!(u64_at(finished, "/output_tokens"), output, "{b}");
    assert_eq!(u64_at(finished, "/cache_read_tokens"), cached, "{b}");
    assert_eq!(u64_at(finished, "/cache_write_tokens"), 0, "{b}");
    assert!(
        close(f64_at(finished, "/cost_usd"), expected_cost),
        "expected cost {expected_cost}\n{b}"
    );

    let status = fx.status();
    let ctx = format!("status --json:\n{status:#}\n{b}");
    assert_eq!(status["remaining"], 0, "{ctx}");
    assert_eq!(u64_at(&status, "/input_tokens"), input, "{ctx}");
    assert_eq!(u64_at(&status, "/output_tokens"), output, "{ctx}");
    assert_eq!(u64_at(&status, "/cache_read_tokens"), cached, "{ctx}");
    assert!(
        close(f64_at(&status, "/cost_usd"), expected_cost),
        "expected cost {expected_cost}\n{ctx}"
    );
    let task = by_task(&status, "create-hello-txt");
    assert_eq!(task["session_id"], thread.as_str(), "{ctx}");
    assert!(close(f64_at(task, "/cost_usd"), expected_cost), "{ctx}");
}

// ------------------------------------------------------------ resuming

#[test]
fn claude_interrupted_task_resumes_its_session() {
    let Some(fx) = Fixture::new(
        Cli::Claude,
        vec![
            Step::tool(ToolCall::claude_write("{{cwd}}/part1.txt", "one\n"))
                .with_text("Writing part 1.")
                .usage(Usage::new(1000, 100)),
            Step::stall(),
        ],
    ) else {
        return;
    };
    fx.write_taskfile("- [ ] Write part1.txt and part2.txt\n");
    let task = "write-part1-txt-and-part2-txt";

    // First run: the Write runs, then the model stalls; Ctrl-C.
    let first = interrupt_after_session(&fx, 2);
    assert_eq!(
        fx.read_taskfile(),
        "- [ ] Write part1.txt and part2.txt\n",
        "{first}"
    );
    assert_eq!(
        fx.sb.work_file("part1.txt").as_deref(),
        Some("one\n"),
        "{first}"
    );
    let session = first.log_init(task, 1)["session_id"]
        .as_str()
        .expect("session_id")
        .to_string();
    let interrupted = first.attempt_event("task_finished", task, 1);
    assert_eq!(interrupted["outcome"], "interrupted", "{first}");
    assert_eq!(interrupted["session_id"], session.as_str(), "{first}");

    // Second run, same command: the session continues.
    fx.mock
        .push_steps([Step::text("Wrote part2.txt too.").usage(Usage::new(500, 20))]);
    let second = fx.run(&["-j", "1"]);
    assert_eq!(second.code(), Some(0), "{second}");
    assert_eq!(
        fx.read_taskfile(),
        "- [x] Write part1.txt and part2.txt\n",
        "{second}"
    );
    let resumed = second.attempt_event("task_started", task, 1);
    assert_eq!(resumed["resume"], session.as_str(), "{second}");
    let finished = second.attempt_event("task_finished", task, 1);
    assert_eq!(finished["outcome"], "succeeded", "{second}");
    assert_eq!(finished["session_id"], session.as_str(), "{second}");

    // The resumed request carries the earlier transcript, then the resume
    // prompt.
    let requests = fx.mock.model_requests();
    assert_eq!(requests.len(), 3, "{second}");
    let (original, newest) = assert_resumed_request(
        &requests[0],
        &requests[2],
        ["tool_use", "tool_result"],
        "Writing part 1.",
        &second,
    );
    assert!(
        !newest.contains(&original),
        "the resume prompt repeats the whole prompt\n{second}"
    );

    // Claude's total_cost_usd is cumulative over the session, so the resumed
    // attempt costs only its own share (Claude's
    // model_usage_since_last_result), and the task's total adds the two
    // attempts without counting the first one twice. (Claude's restored
    // session total may leave out a request the interruption cut short, so
    // it is not compared with the sum.)
    // A Claude stopped by SIGINT still prints a result; one stopped by
    // SIGTERM may not.
    let before = first
        .log_events(task, 1)
        .into_iter()
        .rfind(|e| e["type"] == "result");
    let after = second.log_event(task, 1, "result");
    let first_cost = match &before {
        Some(result) => {
            let cost = f64_at(result, "/total_cost_usd");
            assert!(close(f64_at(interrupted, "/cost_usd"), cost), "{first}");
            cost
        }
        None => interrupted["cost_usd"].as_f64().unwrap_or(0.0),
    };
    let session_cost = f64_at(&after, "/total_cost_usd");
    let own_cost: f64 = after["model_usage_since_last_result"]
        .as_object()
        .unwrap_or_else(|| panic!("no model_usage_since_last_result\n{second}"))
        .values()
        .map(|m| f64_at(m, "/costUSD"))
        .sum();
    assert!(own_cost > 0.0 && own_cost < session_cost, "{second}");
    assert!(
        close(f64_at(finished, "/cost_usd"), own_cost),
        "the resumed attempt's cost is its own share {own_cost}\n{second}"
    );
    let status = fx.status();
    let ctx = format!("status --json:\n{status:#}\n{second}");
    let task_status = by_task(&status, task);
    assert!(
        close(f64_at(task_status, "/cost_usd"), first_cost + own_cost),
        "expected {first_cost} + {own_cost}\n{ctx}"
    );
    assert!(
        close(f64_at(&status, "/cost_usd"), first_cost + own_cost),
        "{ctx}"
    );
    let tokens =
        |pointer: &str| before.as_ref().map_or(0, |r| u64_at(r, pointer)) + u64_at(&after, pointer);
    let (input, output) = (
        tokens("/usage/input_tokens"),
        tokens("/usage/output_tokens"),
    );
    assert_eq!(u64_at(task_status, "/input_tokens"), input, "{ctx}");
    assert_eq!(u64_at(task_status, "/output_tokens"), output, "{ctx}");
}

/// The text of the first attempt log of the newest run (for waits).
fn started_log(fx: &Fixture) -> String {
    let Some(id) = fx.run_ids().into_iter().next_back() else {
        return String::new();
    };
    let dir = fx.state_dir().join("runs").join(id);
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".1.log"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

#[test]
fn codex_timed_out_task_is_resumed_by_its_retry() {
    let Some(fx) = Fixture::new(
        Cli::Codex,
        vec![
            Step::tool(ToolCall::codex_exec("printf 'one\\n' > part1.txt"))
                .usage(Usage::new(1000, 100)),
            Step::stall(),
            Step::text("Wrote part2.txt too.").usage(Usage::new(3000, 30)),
        ],
    ) else {
        return;
    };
    fx.write_config(CODEX_CONFIG);
    fx.write_taskfile("- [ ] Write part1.txt and part2.txt\n");
    let task = "write-part1-txt-and-part2-txt";
    let b = fx.run(&[
        "-j",
        "1",
        // Long enough for a slow start to reach the stall before the kill.
        "--timeout",
        "8s",
        "--grace",
        "1s",
        "--retries",
        "1",
        // Codex's own stream idle timeout must not end the stall first.
        "--agent-arg=-c",
        "--agent-arg=model_providers.mock.stream_idle_timeout_ms=600000",
    ]);

    assert_eq!(b.code(), Some(0), "{b}");
    assert_eq!(
        fx.read_taskfile(),
        "- [x] Write part1.txt and part2.txt\n",
        "{b}"
    );
    assert_eq!(
        fx.sb.work_file("part1.txt").as_deref(),
        Some("one\n"),
        "{b}"
    );
    let thread = b.log_event(task, 1, "thread.started")["thread_id"]
        .as_str()
        .expect("thread_id")
        .to_string();
    let first = b.attempt_event("task_finished", task, 1);
    assert_eq!(first["outcome"], "timed_out", "{b}");
    let retry = b.attempt_event("task_started", task, 2);
    assert_eq!(retry["resume"], thread.as_str(), "{b}");
    let second = b.attempt_event("task_finished", task, 2);
    assert_eq!(second["outcome"], "succeeded", "{b}");
    assert_eq!(second["session_id"], thread.as_str(), "{b}");
    // Codex continued the same thread.
    assert_eq!(
        b.log_event(task, 2, "thread.started")["thread_id"],
        thread.as_str(),
        "{b}"
    );

    let requests = fx.mock.model_requests();
    assert_eq!(requests.len(), 3, "{b}");
    assert_resumed_request(
        &requests[0],
        &requests[2],
        ["function_call", "function_call_output"],
        "printf 'one",
        &b,
    );

    // Codex reports the thread's running total over both attempts; the
    // task's tokens are what the mock's completed answers reported, counted
    // once: 1000 + 3000 in, 100 + 30 out.
    let status = fx.status();
    let ctx = format!("status --json:\n{status:#}\n{b}");
    let task_status = by_task(&status, task);
    assert_eq!(u64_at(task_status, "/input_tokens"), 4000, "{ctx}");
    assert_eq!(u64_at(task_status, "/output_tokens"), 130, "{ctx}");
    let expected_cost = (4000.0 * 2.0 + 130.0 * 8.0) / 1e6;
    assert!(
        close(f64_at(task_status, "/cost_usd"), expected_cost),
        "expected {expected_cost}\n{ctx}"
    );
    assert_eq!(task_status["attempts"], 2, "{ctx}");
}

#[test]
fn fresh_disables_resume() {
    let Some(fx) = Fixture::new(Cli::Claude, vec![Step::stall()]) else {
        return;
    };
    fx.write_taskfile("- [ ] Say hello\n");
    let first = interrupt_after_session(&fx, 1);
    assert_eq!(fx.read_taskfile(), "- [ ] Say hello\n", "{first}");
    let session = first.log_init("say-hello", 1)["session_id"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| panic!("no session id in the init line\n{first}"));

    fx.mock.push_steps([Step::text("Hello.")]);
    let second = fx.run(&["-j", "1", "--fresh"]);
    assert_eq!(second.code(), Some(0), "{second}");
    assert_eq!(fx.read_taskfile(), "- [x] Say hello\n", "{second}");
    let started = second.attempt_event("task_started", "say-hello", 1);
    assert!(
        started.get("resume").is_none_or(Value::is_null),
        "--fresh, yet task_started has resume\n{second}"
    );
    let finished = second.attempt_event("task_finished", "say-hello", 1);
    assert_ne!(finished["session_id"], session.as_str(), "{second}");
    let last = fx.mock.model_requests().pop().expect("a request");
    assert_eq!(
        user_texts(&last).len(),
        1,
        "a fresh session sends only the new prompt\n{second}"
    );
}

/// Interrupts a task after its first tool call, deletes the CLI's stored
/// sessions, and runs again: the resume is refused, so the task starts
/// afresh with a prompt that summarises the interrupted attempt.
fn refused_resume_starts_fresh(cli: Cli) {
    let marker = "marker 5150";
    let first_step = match cli {
        Cli::Claude => Step::tool(ToolCall::claude_write("{{cwd}}/part1.txt", "one\n"))
            .with_text(format!("Writing part 1 ({marker}).")),
        Cli::Codex => Step::tool(ToolCall::codex_exec(format!(
            "printf 'one ({marker})\\n' > part1.txt"
        ))),
    };
    let Some(fx) = Fixture::new(cli, vec![first_step, Step::stall()]) else {
        return;
    };
    if cli == Cli::Codex {
        fx.write_config(CODEX_CONFIG);
    }
    fx.write_taskfile("- [ ] Write part1.txt and part2.txt\n");
    let task = "write-part1-txt-and-part2-txt";
    let first = interrupt_after_session(&fx, 2);
    let session = first.attempt_event("task_finished", task, 1)["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no session id\n{first}"))
        .to_string();

    // The CLI's stored sessions are gone: it cannot resume.
    let store = match cli {
        Cli::Claude => fx.sb.claude_config.join("projects"),
        Cli::Codex => fx.sb.codex_home.join("sessions"),
    };
    std::fs::remove_dir_all(&store)
        .unwrap_or_else(|e| panic!("cannot remove {}: {e}\n{first}", store.display()));
    fx.mock.push_steps([Step::text("Wrote both parts.")]);
    let second = fx.run(&["-j", "1"]);
    assert_eq!(second.code(), Some(0), "{second}");
    assert_eq!(
        fx.read_taskfile(),
        "- [x] Write part1.txt and part2.txt\n",
        "{second}"
    );
    let starts = second.events_of("task_started");
    assert_eq!(
        starts.first().map(|e| &e["resume"]),
        Some(&Value::from(session.as_str())),
        "the first try resumes\n{second}"
    );
    let last_start = starts.last().expect("a task_started");
    assert!(
        last_start.get("resume").is_none_or(Value::is_null),
        "after the refusal the task starts fresh\n{second}"
    );
    let finished = second
        .events_of("task_finished")
        .into_iter()
        .next_back()
        .unwrap_or_else(|| panic!("no task_finished\n{second}"));
    assert_eq!(finished["outcome"], "succeeded", "{second}");
    assert_ne!(finished["session_id"], session.as_str(), "{second}");

    // A new conversation whose prompt tells what the interrupted attempt did.
    let last = fx.mock.model_requests().pop().expect("a request");
    let types = last.block_types();
    for t in ["tool_use", "function_call"] {
        assert!(!types.contains(&t.to_string()), "{types:?}\n{second}");
    }
    let users = user_texts(&last);
    let prompt = users
        .iter()
        .find(|t| t.contains("Write part1.txt and part2.txt"))
        .unwrap_or_else(|| panic!("no task prompt in {users:#?}\n{second}"));
    assert!(
        prompt.contains(marker),
        "the fresh prompt does not summarise the previous attempt: {prompt:?}\n{second}"
    );
}

#[test]
fn claude_refused_resume_starts_fresh_with_a_summary() {
    refused_resume_starts_fresh(Cli::Claude);
}

#[test]
fn codex_refused_resume_starts_fresh_with_a_summary() {
    refused_resume_starts_fresh(Cli::Codex);
}

// ------------------------------------------------------------ failures

/// Runs one task against an error step; checks it failed with `needle` in
/// its reason on stderr and in `status --json`, classed as `class`. Transient
/// API errors are retried without using retries; `[limits]
/// transient-retries = 0` makes the first one the task's failure, quickly.
fn fails_with_api_message(cli: Cli, error: Step, needle: &str, class: &str) {
    let Some(fx) = Fixture::new(cli, vec![error]) else {
        return;
    };
    let limits = "[limits]\ntransient-retries = 0\n";
    match cli {
        Cli::Codex => fx.write_config(&format!("{CODEX_CONFIG}{limits}")),
        Cli::Claude => fx.write_config(limits),
    }
    fx.write_taskfile("- [ ] Say hello\n");
    let b = fx.run(&["-j", "1"]);

    assert_eq!(b.code(), Some(1), "{b}");
    assert_eq!(fx.read_taskfile(), "- [ ] Say hello\n", "{b}");
    let failed = b.stderr_lines_starting("FAILED");
    assert_eq!(failed.len(), 1, "{b}");
    assert!(failed[0].contains("say-hello"), "{b}");
    assert!(
        failed[0].contains(needle),
        "the FAILED line lacks {needle:?}\n{b}"
    );
    let finished = b.attempt_event("task_finished", "say-hello", 1);
    assert_eq!(finished["outcome"], "failed", "{b}");
    assert_eq!(finished["class"], class, "{b}");
    assert!(
        finished["reason"]
            .as_str()
            .is_some_and(|r| r.contains(needle)),
        "{b}"
    );
    let status = fx.status();
    // An auth failure is the provider's, not the task's: the task waits.
    let list = if class == "auth" { "waiting" } else { "failed" };
    let reason = status
        .pointer(&format!("/{list}/0/reason"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {list}[0].reason in status --json:\n{status:#}\n{b}"));
    assert!(
        reason.contains(needle),
        "status --json reason {reason:?} lacks {needle:?}\n{b}"
    );
    assert_eq!(status["remaining"], 1, "{status:#}\n{b}");
    if class == "auth" {
        let stopped = b.stderr_lines_starting(match cli {
            Cli::Claude => "claude: stopped (",
            Cli::Codex => "codex: stopped (",
        });
        assert_eq!(stopped.len(), 1, "the provider is stopped, once\n{b}");
    }
}

#[test]
fn claude_api_500_fails_the_task_with_the_api_message() {
    // A 500 is transient: with no transient retries left, the task fails.
    fails_with_api_message(
        Cli::Claude,
        Step::error(500).message("mock: boom"),
        "500 mock: boom",
        "task_failed",
    );
}

#[test]
fn claude_api_401_fails_the_task_with_the_api_message() {
    // Claude replaces a 401's message with its own advice; it stops the
    // provider for the run.
    fails_with_api_message(
        Cli::Claude,
        Step::error(401).message("mock: invalid x-api-key"),
        "Invalid API key",
        "auth",
    );
}

#[test]
fn codex_api_500_fails_the_task_with_the_api_message() {
    // Codex reports a 500 with its own words, not the API's message.
    fails_with_api_message(
        Cli::Codex,
        Step::error(500).message("mock: boom"),
        "experiencing high demand",
        "task_failed",
    );
}

#[test]
fn codex_api_401_fails_the_task_with_the_api_message() {
    fails_with_api_message(
        Cli::Codex,
        Step::error(401).message("mock: bad key"),
        "401 Unauthorized: mock: bad key",
        "auth",
    );
}

#[test]
fn stalled_stream_ends_in_the_timeout_kill() {
    // Claude has no idle timeout of its own: only run-batch's ends this.
    let Some(fx) = Fixture::new(Cli::Claude, vec![Step::stall()]) else {
        return;
    };
    fx.write_taskfile("- [ ] Say hello\n");
    let b = fx.run(&["-j", "1", "--timeout", "3s", "--grace", "1s"]);

    assert_eq!(b.code(), Some(1), "{b}");
    assert_eq!(fx.read_taskfile(), "- [ ] Say hello\n", "{b}");
    // The stall is never answered and nothing retries it. (On a very busy
    // machine Claude may not even have reached the mock in time.)
    assert!(fx.mock.model_requests().len() <= 1, "{b}");
    let finished = b.attempt_event("task_finished", "say-hello", 1);
    assert_eq!(finished["outcome"], "timed_out", "{b}");
    assert!(
        finished["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("timed out after 3s")),
        "{b}"
    );
    let pgid = b.attempt_event("task_started", "say-hello", 1)["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no pid in task_started\n{b}"));
    let left = live_group_members(pgid);
    assert!(
        left.is_empty(),
        "the agent's process group {pgid} outlived the run: {left:?}\n{b}"
    );
}

#[test]
fn claude_bypass_permissions_runs_as_root_without_is_sandbox() {
    let Some(mut fx) = Fixture::new(
        Cli::Claude,
        vec![Step::tool(ToolCall::claude_bash(
            "printf 'from bash\\n' > bash.txt",
        ))],
    ) else {
        return;
    };
    // Claude refuses bypassPermissions as root unless IS_SANDBOX=1;
    // run-batch sets it itself then.
    fx.env_remove.push("IS_SANDBOX");
    fx.write_config("[agents.claude]\npermission-mode = \"bypassPermissions\"\n");
    fx.write_taskfile("- [ ] Run a command\n");
    let b = fx.run(&["-j", "1"]);

    assert_eq!(b.code(), Some(0), "{b}");
    assert_eq!(
        fx.sb.work_file("bash.txt").as_deref(),
        Some("from bash\n"),
        "{b}"
    );
    assert_eq!(fx.read_taskfile(), "- [x] Run a command\n", "{b}");
    assert_eq!(
        b.log_init("run-a-command", 1)["permissionMode"],
        "bypassPermissions",
        "{b}"
    );
}

// ---------------------------------------------------------------- cost

#[test]
fn max_cost_stops_new_starts() {
    let Some(fx) = Fixture::new(
        Cli::Claude,
        vec![Step::text("Done.").usage(Usage::new(100_000, 1_000))],
    ) else {
        return;
    };
    fx.write_taskfile("- [ ] First task\n- [ ] Second task\n- [ ] Third task\n");
    let b = fx.run(&["-j", "1", "--max-cost", "0.01"]);

    // The first task alone costs more than 0.01 at any Claude list price.
    let cost = f64_at(&b.log_event("first-task", 1, "result"), "/total_cost_usd");
    assert!(cost > 0.01, "{b}");
    assert_eq!(b.code(), Some(1), "{b}");
    assert_eq!(
        fx.read_taskfile(),
        "- [x] First task\n- [ ] Second task\n- [ ] Third task\n",
        "{b}"
    );
    let started: Vec<&Value> = b.events_of("task_started");
    assert_eq!(started.len(), 1, "{b}");
    assert_eq!(started[0]["task"], "first-task", "{b}");
    assert_eq!(fx.mock.model_requests().len(), 1, "{b}");
    assert!(
        b.run
            .stderr
            .lines()
            .any(|l| l.starts_with("stopping:") && l.contains("--max-cost")),
        "no `stopping: … --max-cost` line on stderr\n{b}"
    );
    assert_eq!(b.one("run_finished")["stopped"], "max_cost", "{b}");
    let status = fx.status();
    assert_eq!(status["remaining"], 2, "{status:#}\n{b}");
    assert!(close(f64_at(&status, "/cost_usd"), cost), "{status:#}\n{b}");
}

#[test]
fn max_cost_lets_running_tasks_finish() {
    // Slow answers, so both tasks of -j 2 are running when the first one's
    // cost is known.
    let Some(fx) = Fixture::new(
        Cli::Claude,
        vec![
            Step::text("Done.")
                .usage(Usage::new(100_000, 1_000))
                .delay(Duration::from_secs(2)),
        ],
    ) else {
        return;
    };
    fx.write_taskfile("- [ ] First task\n- [ ] Second task\n- [ ] Third task\n");
    let b = fx.run(&["-j", "2", "--max-cost", "0.01"]);

    assert_eq!(b.code(), Some(1), "{b}");
    assert_eq!(
        fx.read_taskfile(),
        "- [x] First task\n- [x] Second task\n- [ ] Third task\n",
        "{b}"
    );
    let started: Vec<&Value> = b.events_of("task_started");
    assert_eq!(started.len(), 2, "{b}");
    assert!(started.iter().all(|e| e["task"] != "third-task"), "{b}");
    for task in ["first-task", "second-task"] {
        assert_eq!(
            b.attempt_event("task_finished", task, 1)["outcome"],
            "succeeded",
            "{b}"
        );
    }
    assert_eq!(b.one("run_finished")["stopped"], "max_cost", "{b}");
    let status = fx.status();
    assert_eq!(status["remaining"], 1, "{status:#}\n{b}");
}

// ------------------------------------------------------- command lines

/// A `NAME` script first on PATH that writes its arguments, one per line, to
/// `argv.txt` next to it, then runs the real CLI with them.
fn record_argv(fx: &mut Fixture) -> PathBuf {
    let dir = fx.sb.root().join("wrap");
    std::fs::create_dir_all(&dir).expect("create wrap dir");
    let argv = dir.join("argv.txt");
    let script = dir.join(fx.cli.command());
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexec '{}' \"$@\"\n",
            argv.display(),
            fx.bin.display()
        ),
    )
    .expect("write wrapper");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    fx.path_prefix.insert(0, dir);
    argv
}

fn argv_lines(path: &Path, b: &Batch) -> Vec<String> {
    read(path)
        .unwrap_or_else(|| panic!("the wrapper never ran\n{b}"))
        .lines()
        .map(String::from)
        .collect()
}

/// Whether `flag VALUE` (or `flag=VALUE`) is in `argv` with a value that
/// `ok` accepts.
fn has_flag(argv: &[String], flag: &str, ok: impl Fn(&str) -> bool) -> bool {
    argv.iter().enumerate().any(|(i, a)| {
        (a == flag && argv.get(i + 1).is_some_and(|v| ok(v)))
            || a.strip_prefix(flag)
                .and_then(|r| r.strip_prefix('='))
                .is_some_and(&ok)
    })
}

#[test]
fn max_cost_per_task_reaches_claude() {
    let Some(mut fx) = Fixture::new(Cli::Claude, vec![Step::text("Hello.")]) else {
        return;
    };
    let argv_file = record_argv(&mut fx);
    // Named with --config; a run-batch.toml next to the task file is ignored.
    let config = fx.sb.root().join("elsewhere.toml");
    std::fs::write(&config, "[agents.claude]\nmodel = \"claude-haiku-4-5\"\n")
        .expect("write config");
    fx.write_config("[agents.claude]\nmodel = \"claude-opus-4-1\"\n");
    let config_arg = format!("--config={}", config.display());
    fx.write_taskfile("- [ ] Say hello\n");
    let marker = "Marker 7f3a: passed with --agent-arg.";
    let b = fx.run(&[
        "-j",
        "1",
        &config_arg,
        "--max-cost-per-task",
        "0.5",
        "--agent-arg=--append-system-prompt",
        &format!("--agent-arg={marker}"),
    ]);

    assert_eq!(b.code(), Some(0), "{b}");
    assert_eq!(fx.read_taskfile(), "- [x] Say hello\n", "{b}");
    let argv = argv_lines(&argv_file, &b);
    let ctx = format!("claude's argv: {argv:#?}\n{b}");
    assert_eq!(argv.first().map(String::as_str), Some("-p"), "{ctx}");
    assert!(
        has_flag(&argv, "--max-budget-usd", |v| v.parse::<f64>() == Ok(0.5)),
        "{ctx}"
    );
    assert!(
        has_flag(&argv, "--model", |v| v == "claude-haiku-4-5"),
        "{ctx}"
    );
    assert!(
        has_flag(&argv, "--permission-mode", |v| v == "acceptEdits"),
        "the default permission mode\n{ctx}"
    );
    assert!(
        has_flag(&argv, "--output-format", |v| v == "stream-json"),
        "{ctx}"
    );
    let at = argv
        .iter()
        .position(|a| a == "--append-system-prompt")
        .unwrap_or_else(|| panic!("--agent-arg did not reach claude\n{ctx}"));
    assert_eq!(argv.get(at + 1).map(String::as_str), Some(marker), "{ctx}");

    // And Claude acted on them.
    let request = fx.mock.model_requests().pop().expect("a request");
    assert_eq!(request.json()["model"], "claude-haiku-4-5", "{ctx}");
    assert!(
        strings_of(&request.json()["system"]).contains(marker),
        "the appended system prompt is not in the request\n{ctx}"
    );
}

#[test]
fn codex_preset_command_line() {
    let Some(mut fx) = Fixture::new(Cli::Codex, vec![Step::text("Hello.")]) else {
        return;
    };
    let argv_file = record_argv(&mut fx);
    // Found in an ancestor of the task file's folder.
    std::fs::write(fx.sb.root().join("run-batch.toml"), CODEX_CONFIG).expect("write config");
    fx.write_taskfile("- [ ] Say hello\n");
    let b = fx.run(&[
        "-j",
        "1",
        "--agent-arg=-c",
        "--agent-arg=model_reasoning_summary=\"none\"",
    ]);

    assert_eq!(b.code(), Some(0), "{b}");
    assert_eq!(fx.read_taskfile(), "- [x] Say hello\n", "{b}");
    let argv = argv_lines(&argv_file, &b);
    let ctx = format!("codex's argv: {argv:#?}\n{b}");
    assert_eq!(
        argv.get(..3),
        Some(&["exec", "--json", "--skip-git-repo-check"].map(String::from)[..]),
        "{ctx}"
    );
    assert!(has_flag(&argv, "-m", |v| v == "mock-model"), "{ctx}");
    assert!(
        has_flag(&argv, "--sandbox", |v| v == "danger-full-access"),
        "{ctx}"
    );
    assert!(
        has_flag(&argv, "-c", |v| v == "model_reasoning_summary=\"none\""),
        "{ctx}"
    );
    assert_eq!(
        argv.last().map(String::as_str),
        Some("-"),
        "prompt on stdin\n{ctx}"
    );
    let request = fx.mock.model_requests().pop().expect("a request");
    assert_eq!(request.json()["model"], "mock-model", "{ctx}");
    assert!(
        user_texts(&request).iter().any(|t| t.contains("Say hello")),
        "the prompt reached codex\n{ctx}"
    );
}

#[test]
fn claude_works_in_a_worktree_and_its_file_lands() {
    let Some(fx) = Fixture::new(
        Cli::Claude,
        vec![
            Step::tool(ToolCall::claude_write(
                "{{cwd}}/hello.txt",
                "hello from a worktree\n",
            ))
            .with_text("Writing."),
            Step::text("Created hello.txt."),
        ],
    ) else {
        return;
    };
    let taskfile = "- [ ] Create hello.txt\n";
    fx.write_taskfile(taskfile);
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&fx.sb.work)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "task.md"]);
    git(&["commit", "-q", "-m", "start"]);
    let b = fx.run(&["-j", "1", "--isolate", "worktree"]);

    assert_eq!(b.code(), Some(0), "{b}");
    // Claude wrote in its worktree (the mock answered with its cwd), and
    // the file came onto main with the merge.
    assert_eq!(fx.mock.model_requests().len(), 2, "{b}");
    assert_eq!(
        fx.sb.work_file("hello.txt").as_deref(),
        Some("hello from a worktree\n"),
        "{b}"
    );
    assert_eq!(fx.read_taskfile(), "- [x] Create hello.txt\n", "{b}");
    let log = git(&["log", "--format=%s", "main"]);
    assert!(
        log.contains("Merge task create-hello-txt: Create hello.txt"),
        "{log}\n{b}"
    );
    let landed = b.one("task_landed");
    assert_eq!(landed["task"], "create-hello-txt", "{b}");
    assert_eq!(landed["files"], serde_json::json!(["hello.txt"]), "{b}");
}

/// The time stamp of an event, for waits measured between two of them.
fn event_time(e: &Value) -> std::time::SystemTime {
    let ts = e["ts"].as_str().unwrap_or_else(|| panic!("no ts in {e}"));
    humantime::parse_rfc3339(ts).unwrap_or_else(|err| panic!("ts {ts:?}: {err}"))
}

/// The mock limits the first request (resetting `reset_in` later); run-batch
/// classes the attempt as a usage limit, waits for the reset (plus a one
/// second margin), resumes the agent's session, and ticks the task with no
/// retry used (`--retries 0`). Returns the run and when the limit was told.
fn usage_limit_waits_and_resumes(fx: &Fixture, reset_in: Duration, window: Option<&str>) -> Batch {
    let limits = "[limits]\nmargin = \"1s\"\n";
    match fx.cli {
        Cli::Codex => fx.write_config(&format!("{CODEX_CONFIG}{limits}")),
        Cli::Claude => fx.write_config(limits),
    }
    fx.write_taskfile("- [ ] Say hello\n");
    let b = fx.run(&["-j", "1", "--retries", "0"]);

    assert_eq!(b.code(), Some(0), "{b}");
    assert_eq!(fx.read_taskfile(), "- [x] Say hello\n", "{b}");
    let limited = b.attempt_event("task_finished", "say-hello", 1);
    assert_eq!(limited["class"], "limit_exhausted", "{b}");
    let wait = b.one("limit_wait");
    assert_eq!(wait["provider"], fx.cli.command(), "{b}");
    assert_eq!(wait["reset_known"], true, "{b}");
    assert_eq!(wait["window"].as_str(), window, "{b}");
    let over = b.one("limit_wait_over");
    assert_eq!(over["provider"], fx.cli.command(), "{b}");
    let done = b.attempt_event("task_finished", "say-hello", 2);
    assert_eq!(done["class"], "succeeded", "{b}");
    // The second attempt continued the session the limit interrupted.
    let session = limited["session_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"));
    assert_eq!(done["session_id"], session, "{b}");
    let turns: Vec<Request> = (fx.mock.requests().into_iter())
        .filter(Request::is_model_turn)
        .collect();
    assert_eq!(turns.len(), 2, "one limited request, one answered\n{b}");
    assert!(
        turns[1].all_text().contains("Say hello") && turns[1].items().len() > 1,
        "the second request carries the resumed conversation\n{b}"
    );
    // Started again no sooner than the reset the mock gave, less the
    // second Codex's minute-cut time may lose.
    let started = b.attempt_event("task_started", "say-hello", 2);
    let waited = event_time(started)
        .duration_since(event_time(b.attempt_event("task_started", "say-hello", 1)))
        .unwrap_or_default();
    let least = match fx.cli {
        Cli::Claude => reset_in,
        Cli::Codex => Duration::from_secs(1),
    };
    assert!(waited >= least, "restarted after {waited:?}\n{b}");
    b
}

#[test]
fn claude_usage_limit_waits_for_its_reset_and_resumes() {
    let script = vec![
        Step::usage_limit(Duration::from_secs(4), "five_hour"),
        Step::text("Hello."),
    ];
    let Some(fx) = Fixture::new(Cli::Claude, script) else {
        return;
    };
    let fx = fx.claude_subscription();
    let b = usage_limit_waits_and_resumes(&fx, Duration::from_secs(4), Some("five_hour"));
    // The structured event Claude printed, as the mock's headers said.
    let event = b.log_event("say-hello", 1, "rate_limit_event");
    assert_eq!(event["rate_limit_info"]["status"], "rejected", "{b}");
    assert!(
        b.run.stderr.contains("waiting for the usage limit"),
        "the view says what it waits for\n{b}"
    );
}

#[test]
fn codex_usage_limit_waits_for_its_reset_and_resumes() {
    let script = vec![
        Step::usage_limit(Duration::from_secs(4), "five_hour"),
        Step::text("Hello."),
    ];
    let Some(fx) = Fixture::new(Cli::Codex, script) else {
        return;
    };
    // Codex names no window; its message gives the time to the minute.
    let b = usage_limit_waits_and_resumes(&fx, Duration::from_secs(4), None);
    let failed = b.log_event("say-hello", 1, "turn.failed");
    assert!(
        strings_of(&failed).contains("hit your usage limit"),
        "{failed}\n{b}"
    );
}

/// Two tasks at once are both throttled (a 429 with no reset): the
/// provider's concurrency halves to one, so their second attempts run one
/// after the other, and neither uses a retry.
fn throttle_halves_concurrency(cli: Cli) {
    let script = vec![Step::error(429), Step::error(429), Step::text("Hello.")];
    let Some(fx) = Fixture::new(cli, script) else {
        return;
    };
    if cli == Cli::Codex {
        fx.write_config(CODEX_CONFIG);
    }
    fx.write_taskfile("- [ ] Say hello\n- [ ] Say goodbye\n");
    let b = fx.run(&["-j", "2", "--retries", "0"]);

    assert_eq!(b.code(), Some(0), "{b}");
    assert_eq!(
        fx.read_taskfile(),
        "- [x] Say hello\n- [x] Say goodbye\n",
        "{b}"
    );
    for task in ["say-hello", "say-goodbye"] {
        let first = b.attempt_event("task_finished", task, 1);
        assert_eq!(first["class"], "throttled", "{b}");
    }
    let throttled = b.events_of("provider_throttled");
    assert!(!throttled.is_empty(), "{b}");
    assert_eq!(throttled.last().unwrap()["concurrency"], 1, "{b}");
    // One at a time after the throttle: each second attempt ends before
    // the other starts.
    let order: Vec<(String, String)> = (b.events.iter())
        .filter(|e| e["attempt"] == 2)
        .filter(|e| e["event"] == "task_started" || e["event"] == "task_finished")
        .map(|e| {
            (
                e["event"].as_str().unwrap().into(),
                e["task"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(order.len(), 4, "{order:?}\n{b}");
    assert_eq!(order[0].1, order[1].1, "{order:?}\n{b}");
    assert_eq!(order[1].0, "task_finished", "{order:?}\n{b}");
}

#[test]
fn claude_throttle_halves_concurrency() {
    throttle_halves_concurrency(Cli::Claude);
}

#[test]
fn codex_throttle_halves_concurrency() {
    throttle_halves_concurrency(Cli::Codex);
}

#[test]
fn max_cost_hard_stops_claude_at_its_first_costly_message_with_an_estimate() {
    // The first answer reports a million input tokens and calls a tool; the
    // next answer would take 30 s. Claude shows the first message's usage
    // at once: the live spend crosses the hard cap, and run-batch stops
    // Claude there, pricing the tokens it saw (Claude never reported a
    // cost).
    let script = vec![
        Step::tool(ToolCall::claude_bash("true"))
            .with_text("Checking.")
            .usage(Usage::new(1_000_000, 10)),
        Step::text("Done.").delay(Duration::from_secs(30)),
    ];
    let Some(fx) = Fixture::new(Cli::Claude, script) else {
        return;
    };
    fx.write_taskfile("- [ ] Say hello\n");
    let b = fx.run(&["-j", "1", "--max-cost-hard", "0.50"]);

    assert_eq!(b.code(), Some(1), "{b}");
    assert_eq!(fx.read_taskfile(), "- [ ] Say hello\n", "{b}");
    let finished = b.attempt_event("task_finished", "say-hello", 1);
    assert_eq!(finished["outcome"], "interrupted", "{b}");
    assert_eq!(finished["reason"], "--max-cost-hard reached", "{b}");
    assert_eq!(finished["estimated"], true, "{b}");
    assert_eq!(finished["input_tokens"], 1_000_000, "{b}");
    // A million input tokens of any Claude 5 model: $2 (Sonnet) or $4 (Opus).
    let cost = finished["cost_usd"]
        .as_f64()
        .unwrap_or_else(|| panic!("{b}"));
    // (plus its one output token).
    let near = |want: f64| (cost - want).abs() < 0.001;
    assert!(near(2.0) || near(4.0), "{cost}\n{b}");
    assert!(
        b.run.elapsed < Duration::from_secs(25),
        "stopped at the cap\n{b}"
    );
    let fin = b.one("run_finished");
    assert_eq!(fin["stopped"], "max_cost_hard", "{b}");
    assert_eq!(fin["estimated"], true, "{b}");
}

#[test]
fn claude_api_retries_show_as_activity_and_a_500_after_them_is_transient() {
    // Claude retries the first 500 itself (one retry allowed here), says so
    // in an `api_retry` event, then gives up on the second: the attempt is
    // transient (no retry used), and the next one succeeds.
    let script = vec![Step::error(500), Step::error(500), Step::text("Hello.")];
    let Some(mut fx) = Fixture::new(Cli::Claude, script) else {
        return;
    };
    fx.env_remove.push("CLAUDE_CODE_MAX_RETRIES");
    (fx.env_add).push(("CLAUDE_CODE_MAX_RETRIES".into(), "1".into()));
    fx.write_taskfile("- [ ] Say hello\n");
    let b = fx.run(&["-j", "1", "--retries", "0"]);

    assert_eq!(b.code(), Some(0), "{b}");
    assert_eq!(fx.read_taskfile(), "- [x] Say hello\n", "{b}");
    assert!(
        (b.log_events("say-hello", 1).iter()).any(|e| e["subtype"] == "api_retry"),
        "Claude retried once\n{b}"
    );
    assert!(
        b.events_of("task_activity").iter().any(|e| e["activity"]
            .as_str()
            .is_some_and(|a| a.starts_with("API retry: ") && a.contains("HTTP 500"))),
        "the retry shows as activity\n{b}"
    );
    assert_eq!(
        b.attempt_event("task_finished", "say-hello", 1)["class"],
        "transient",
        "{b}"
    );
    assert_eq!(
        b.attempt_event("task_finished", "say-hello", 2)["class"],
        "succeeded",
        "{b}"
    );
}
