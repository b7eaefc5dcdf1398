//! Agents that are judged and talked to, with the real `claude` CLI against
//! the mock Anthropic API (`support/mock_api.rs`), fully offline: a judge
//! gate run by the `claude` preset, and messages delivered to a running
//! Claude agent on its stdin.
//!
//! A missing CLI skips its test with a loud note on stderr, unless `CI` is
//! set, in which case it fails (see `support/real_cli.rs`).

#[path = "support/mock_api.rs"]
mod mock_api;
#[path = "support/real_cli.rs"]
mod real_cli;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use mock_api::{MockServer, Step, ToolCall, Usage};
use real_cli::{Cli, Run, Sandbox, f64_at, require, u64_at};

const BIN: &str = env!("CARGO_BIN_EXE_run-batch");
const TIMEOUT: Duration = Duration::from_secs(180);

/// A sandbox with the real `claude` first on PATH and a mock API.
struct Fixture {
    mock: MockServer,
    sb: Sandbox,
}

impl Fixture {
    fn new(script: Vec<Step>) -> Option<Fixture> {
        let bin = require(Cli::Claude)?;
        let mock = MockServer::anthropic(script);
        let sb = Sandbox::new();
        let bin_dir = sb.root().join("bin");
        std::fs::create_dir_all(&bin_dir).expect("create bin dir");
        std::os::unix::fs::symlink(&bin, bin_dir.join("claude")).expect("link the CLI");
        // A git work tree, so a judge is shown the attempt's changes.
        git(&sb.work, &["init", "-q"]);
        Some(Fixture { mock, sb })
    }

    fn env(&self) -> Vec<(String, OsString)> {
        let mut env = self.sb.claude_env(&self.mock);
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.sb.root().join("bin")];
        dirs.extend(std::env::split_paths(&inherited));
        env.retain(|(k, _)| k != "PATH");
        env.push(("PATH".into(), std::env::join_paths(dirs).expect("PATH")));
        env.push(("NO_COLOR".into(), "1".into()));
        env
    }

    fn taskfile(&self) -> PathBuf {
        self.sb.work.join("task.md")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg(self.taskfile())
            .args(["--agent", "claude"])
            .args(args)
            .env_clear()
            .envs(self.env())
            .current_dir(&self.sb.work);
        cmd
    }

    /// The events of the one run so far.
    fn events(&self) -> Vec<Value> {
        let runs = self.sb.work.join(".run-batch/task.md/runs");
        let Some(dir) = std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
        else {
            return Vec::new();
        };
        std::fs::read_to_string(dir.path().join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn context(&self, run: &Run) -> String {
        format!(
            "{run}\nevents:\n{}\nmock requests:\n{}",
            (self.events().iter())
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            self.mock.describe_requests()
        )
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

#[test]
fn claude_judges_claudes_work_and_its_cost_counts_apart() {
    let Some(fx) = Fixture::new(vec![
        // The agent: writes the file, then says so.
        Step::tool(ToolCall::claude_write("{{cwd}}/hello.txt", "bonjour\n"))
            .with_text("Writing.")
            .usage(Usage::new(1000, 100)),
        Step::text("Created hello.txt.").usage(Usage::new(2000, 50)),
        // The judge: one answer.
        Step::text("The file holds a French greeting.\nRUN-BATCH: PASS")
            .usage(Usage::new(3000, 40)),
    ]) else {
        return;
    };
    std::fs::write(
        fx.taskfile(),
        "- [ ] Greet in French in hello.txt <!-- id: greet; judge: claude -->\n",
    )
    .unwrap();
    let run = real_cli::run(fx.command(&[]), TIMEOUT);
    let ctx = fx.context(&run);
    assert_eq!(run.code(), Some(0), "{ctx}");
    let text = std::fs::read_to_string(fx.taskfile()).unwrap();
    assert!(text.contains("- [x] Greet"), "{ctx}");
    let requests = fx.mock.model_requests();
    assert_eq!(requests.len(), 3, "{ctx}");
    let judge_request = requests[2].all_text();
    for expected in [
        "You are the judge of one task",
        "Greet in French in hello.txt",
        "new file (untracked): hello.txt",
        "+bonjour",
    ] {
        assert!(judge_request.contains(expected), "{expected:?}\n{ctx}");
    }
    let events = fx.events();
    let judged = named(&events, "judge_finished");
    assert_eq!(judged.len(), 1, "{ctx}");
    assert_eq!(judged[0]["passed"], true, "{ctx}");
    assert_eq!(judged[0]["judge"], "claude", "{ctx}");
    assert_eq!(u64_at(judged[0], "/input_tokens"), 3000, "{ctx}");
    let judge_cost = f64_at(judged[0], "/cost_usd");
    let task = named(&events, "task_finished")[0];
    assert_eq!(
        u64_at(task, "/input_tokens"),
        3000,
        "the agent's own: {ctx}"
    );
    let agent_cost = f64_at(task, "/cost_usd");
    assert!(judge_cost > 0.0 && agent_cost > 0.0, "{ctx}");
    let run_cost = f64_at(named(&events, "run_finished")[0], "/cost_usd");
    assert!((run_cost - (agent_cost + judge_cost)).abs() < 1e-9, "{ctx}");
    assert!(run.stderr.contains("of which judges $"), "{ctx}");
}

#[test]
fn a_claude_judges_fail_fails_the_task_with_its_reason() {
    let Some(fx) = Fixture::new(vec![
        Step::text("Done, I think.").usage(Usage::new(100, 10)),
        Step::text("Nothing was written.\nRUN-BATCH: FAIL hello.txt does not exist")
            .usage(Usage::new(100, 10)),
    ]) else {
        return;
    };
    std::fs::write(
        fx.taskfile(),
        "- [ ] Greet in French in hello.txt <!-- id: greet; judge: claude -->\n",
    )
    .unwrap();
    let run = real_cli::run(fx.command(&[]), TIMEOUT);
    let ctx = fx.context(&run);
    assert_eq!(run.code(), Some(1), "{ctx}");
    let events = fx.events();
    let task = named(&events, "task_finished")[0];
    assert_eq!(
        task["reason"], "judge `claude` failed the work: hello.txt does not exist",
        "{ctx}"
    );
    let text = std::fs::read_to_string(fx.taskfile()).unwrap();
    assert!(text.contains("- [ ] Greet"), "{ctx}");
}

#[test]
fn a_message_posted_mid_run_reaches_claudes_next_request_and_the_run_ends_cleanly() {
    let Some(fx) = Fixture::new(vec![
        // The agent runs a command that takes a while: the message is
        // posted meanwhile.
        Step::tool(ToolCall::claude_bash("sleep 3"))
            .with_text("Checking the API first.")
            .usage(Usage::new(100, 10)),
        Step::text("Done, with `q`.").usage(Usage::new(100, 10)),
        // Spare answers, should the message make a turn of its own.
        Step::text("Noted.").usage(Usage::new(100, 10)),
        Step::text("Noted.").usage(Usage::new(100, 10)),
    ]) else {
        return;
    };
    std::fs::write(
        fx.taskfile(),
        "- [ ] Build the search page <!-- id: ui -->\n",
    )
    .unwrap();
    let running = real_cli::spawn(fx.command(&[]));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while fx.mock.model_requests().is_empty() {
        assert!(
            std::time::Instant::now() < deadline && !running.has_exited(),
            "the agent never asked the API"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let post = Command::new(BIN)
        .args([
            "handoff", "post", "--to", "ui", "--kind", "contract", "--file",
        ])
        .arg(fx.taskfile())
        .arg("GET /search now takes q, not query")
        .env_clear()
        .envs(fx.env())
        .current_dir(&fx.sb.work)
        .output()
        .expect("run handoff post");
    assert!(post.status.success(), "{post:?}");
    let run = running.wait(TIMEOUT);
    let ctx = fx.context(&run);
    assert_eq!(run.code(), Some(0), "the run ends cleanly\n{ctx}");
    let text = std::fs::read_to_string(fx.taskfile()).unwrap();
    assert!(text.contains("- [x] Build the search page"), "{ctx}");
    let requests = fx.mock.model_requests();
    assert!(
        !requests[0].all_text().contains("GET /search now takes q"),
        "{ctx}"
    );
    assert!(
        requests[1]
            .all_text()
            .contains("GET /search now takes q, not query"),
        "the request after the message carries it\n{ctx}"
    );
    // Taken in mid-turn: no turn of its own.
    assert_eq!(requests.len(), 2, "{ctx}");
    let events = fx.events();
    let delivered = named(&events, "handoff_delivered");
    assert_eq!(delivered.len(), 1, "{ctx}");
    assert_eq!(delivered[0]["task"], "ui", "{ctx}");
}

#[test]
fn a_checkpoints_output_reaches_a_running_claude_with_then_tell() {
    let Some(fx) = Fixture::new(vec![
        // The marker is in the agent's text; its command takes a while.
        Step::tool(ToolCall::claude_bash("sleep 3"))
            .with_text("The scaffold is in place: SCAFFOLD-READY")
            .usage(Usage::new(100, 10)),
        Step::text("Removed the unused import.").usage(Usage::new(100, 10)),
        Step::text("Noted.").usage(Usage::new(100, 10)),
    ]) else {
        return;
    };
    std::fs::write(
        fx.taskfile(),
        "- [ ] Scaffold the service <!-- id: scaffold -->\n  ```checkpoint when=SCAFFOLD-READY then=tell\n  echo 'lint: unused import in src/main.rs'; exit 1\n  ```\n",
    )
    .unwrap();
    let run = real_cli::run(fx.command(&[]), TIMEOUT);
    let ctx = fx.context(&run);
    assert_eq!(run.code(), Some(0), "{ctx}");
    let requests = fx.mock.model_requests();
    assert!(
        requests[1]
            .all_text()
            .contains("lint: unused import in src/main.rs"),
        "the checkpoint's output is in the request after it ran\n{ctx}"
    );
    let events = fx.events();
    assert_eq!(
        named(&events, "checkpoint_failed")[0]["told"],
        true,
        "{ctx}"
    );
    assert_eq!(named(&events, "handoff_delivered").len(), 1, "{ctx}");
    let text = std::fs::read_to_string(fx.taskfile()).unwrap();
    assert!(text.contains("- [x] Scaffold"), "{ctx}");
}
