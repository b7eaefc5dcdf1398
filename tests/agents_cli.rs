//! The runner's side of the agent presets, with FAKE agents: `run-batch.toml`
//! (found, overridden, refused), the command lines the `claude` and `codex`
//! presets build, the verdict from an agent's final event, spend (cost and
//! tokens) in events, `status --json` and the end-of-run table, `--max-cost`,
//! worker resume (and a refused resume), and custom agents from the config.
//!
//! The fake is `fixtures/agents/stream-agent`, linked into the test folder's
//! `bin/` as `claude`, `codex` or a custom name; it prints that CLI's JSON
//! events and records every call (argv, stdin, environment) under `calls/N/`.
//! The words of a task's text say what it does (see the script's header).
//! The real CLIs are exercised in tests/real_agents.rs.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Test;
use common::agents::*;
use serde_json::Value;

// ---- set-up and records -------------------------------------------------------

/// `bin/` first on PATH and calls recorded in the test folder (for a test
/// folder whose `bin/` already has its fakes: a second run).
fn fakes(t: Test) -> Test {
    t.path_prefix("bin").env("FAKE_DIR", "{dir}")
}

/// A fake `claude` on PATH.
fn claude(t: Test) -> Test {
    fakes(t.symlink("bin/claude", STREAM_AGENT))
}

/// A fake `codex` on PATH.
fn codex(t: Test) -> Test {
    fakes(t.symlink("bin/codex", STREAM_AGENT))
}

/// One call of the fake agent.
#[derive(Debug)]
struct Call {
    argv: Vec<String>,
    stdin: String,
    env: HashMap<String, String>,
    task: String,
}

impl Call {
    fn resumes(&self) -> bool {
        self.argv
            .iter()
            .any(|a| a.starts_with("--resume") || a == "resume")
    }

    /// Panics, showing the whole argv, unless `args` stand together in it.
    fn assert_args(&self, args: &[&str]) {
        assert!(
            argv_of(self).windows(args.len()).any(|w| w == args),
            "{args:?} not in {:?}",
            self.argv
        );
    }

    /// Panics, showing the whole argv, if the call resumes a session.
    fn assert_fresh(&self) {
        assert!(!self.resumes(), "a fresh start, yet {:?}", self.argv);
    }

    /// Panics, showing the whole prompt, unless it holds each of `needles`.
    fn assert_prompt_has(&self, needles: &[&str]) {
        for needle in needles {
            assert!(
                self.stdin.contains(needle),
                "{needle:?} not in the prompt:\n{}",
                self.stdin
            );
        }
    }

    /// Panics, showing the whole prompt, if it holds `needle`.
    fn assert_prompt_lacks(&self, needle: &str) {
        assert!(
            !self.stdin.contains(needle),
            "{needle:?} in the prompt:\n{}",
            self.stdin
        );
    }
}

/// Every call of the fake agents in the folder `dir`, in order of start.
fn calls(dir: &Path) -> Vec<Call> {
    let root = dir.join("calls");
    let mut numbers: Vec<u32> = match std::fs::read_dir(&root) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    numbers.sort_unstable();
    numbers
        .into_iter()
        .map(|n| {
            let read = |f: &str| std::fs::read_to_string(root.join(n.to_string()).join(f));
            Call {
                argv: read("argv")
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_owned)
                    .collect(),
                stdin: read("stdin").unwrap_or_default(),
                env: env_lines(&read("env").unwrap_or_default()),
                task: read("task").unwrap_or_default().trim().to_owned(),
            }
        })
        .collect()
}

/// Every call of the fake agents in `dir`, which must number `n`.
fn expect_calls(dir: &Path, n: usize) -> Vec<Call> {
    let calls = calls(dir);
    assert_eq!(calls.len(), n, "{calls:#?}");
    calls
}

fn argv_of(call: &Call) -> Vec<&str> {
    call.argv.iter().map(String::as_str).collect()
}

/// The events of each run of `t.md`, in the order the runs started.
fn runs(dir: &Path) -> Vec<Vec<Value>> {
    let mut runs: Vec<Vec<Value>> = run_dirs(dir, "t.md")
        .iter()
        .map(|d| events_in(&d.join("events.jsonl")))
        .collect();
    // Run ids sort by second, then pid: order by the first event's time.
    runs.sort_by_key(|events| {
        events
            .first()
            .and_then(|e| e["ts"].as_str())
            .unwrap_or_default()
            .to_owned()
    });
    runs
}

/// The only event named `name` among `events`.
fn only<'a>(events: &'a [Value], name: &str) -> &'a Value {
    let found = named(events, name);
    assert_eq!(found.len(), 1, "one `{name}` event in {events:#?}");
    found[0]
}

/// The first line of the log of a task's attempt in the newest run (the
/// command line): from the log, or from `task_started` when a success that
/// printed nothing left no log.
fn log_head(dir: &Path, task: &str, attempt: u32) -> String {
    let run: PathBuf = run_dirs(dir, "t.md").pop().expect("a run folder");
    if let Ok(log) = std::fs::read_to_string(run.join(format!("{task}.{attempt}.log"))) {
        return log.lines().next().unwrap_or_default().to_owned();
    }
    let events = events_in(&run.join("events.jsonl"));
    let started = (named(&events, "task_started").into_iter())
        .find(|e| e["task"] == task && e["attempt"] == attempt)
        .expect("the attempt started");
    format!("run-batch: {}", started["command"].as_str().unwrap())
}

fn assert_close(actual: &Value, expected: f64) {
    let a = actual
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number near {expected}, got {actual}"));
    assert!((a - expected).abs() < 1e-9, "expected {expected}, got {a}");
}

// ---- the config file ---------------------------------------------------------------

#[test]
fn a_bad_permission_mode_in_the_config_stops_everything_and_points_at_it() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .file(
            "run-batch.toml",
            "[agents.claude]\nmodel = \"opus\"\npermission-mode = \"yolo\"\n",
        )
        .args(["t.md"])
        .stderr_contains(
            "run-batch.toml:3:19: bad `permission-mode` `yolo` for `claude`: expected one of \
             `default`, `acceptEdits`, `plan`, `bypassPermissions`, `dontAsk`, `auto`",
        )
        .unchanged("t.md")
        .status(2);
    assert!(calls(out.path()).is_empty(), "no agent started");
    assert!(
        run_dirs(out.path(), "t.md").is_empty(),
        "no run was recorded"
    );
}

#[test]
fn a_bad_config_is_refused_even_for_tasks_that_do_not_use_it() {
    // Every agent's settings are checked, used or not: a typo in
    // `[agents.codex]` stops a claude-only run too.
    let out = claude(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .file(
            "run-batch.toml",
            "[agents.codex]\npermission-mode = \"workspace_write\"\n",
        )
        .args(["t.md"])
        .stderr_contains("run-batch.toml:2:19: bad `permission-mode` `workspace_write` for `codex`")
        .stderr_contains("(did you mean `workspace-write`?)")
        .unchanged("t.md")
        .status(2);
    assert!(calls(out.path()).is_empty());
}

#[test]
fn config_option_wins_over_the_file_found_next_to_the_task_file() {
    // The found file is broken: it is not even read.
    let out = claude(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .file(
            "run-batch.toml",
            "[agents.claude]\npermission-mode = \"yolo\"\n",
        )
        .file("other.toml", "[agents.claude]\nmodel = \"from-other\"\n")
        .args(["t.md", "--config", "other.toml"])
        .file_is("t.md", "- [x] a <!-- id: a -->\n")
        .success();
    let calls = expect_calls(out.path(), 1);
    calls[0].assert_args(&["--model", "from-other"]);
}

#[test]
fn a_missing_config_option_file_is_an_error() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .args(["t.md", "--config", "nope.toml"])
        .stderr_contains("nope.toml: cannot read: No such file or directory")
        .unchanged("t.md")
        .status(2);
    assert!(calls(out.path()).is_empty());
}

#[test]
fn the_config_in_a_parent_folder_is_found_even_from_inside_the_task_folder() {
    // Run from the task file's folder, so the search must walk up past
    // the current directory.
    let out = claude(Test::new())
        .file("project/plans/t.md", "- [ ] a <!-- id: a -->\n")
        .file("run-batch.toml", "[agents.claude]\nmodel = \"from-top\"\n")
        .current_dir("project/plans")
        .args(["t.md"])
        .file_is("project/plans/t.md", "- [x] a <!-- id: a -->\n")
        .success();
    let calls = expect_calls(out.path(), 1);
    calls[0].assert_args(&["--model", "from-top"]);
}

#[test]
fn the_nearest_config_wins() {
    let out = claude(Test::new())
        .file("project/plans/t.md", "- [ ] a <!-- id: a -->\n")
        .file("run-batch.toml", "[agents.claude]\nmodel = \"from-top\"\n")
        .file(
            "project/run-batch.toml",
            "[agents.claude]\nmodel = \"from-project\"\n",
        )
        .args(["project/plans/t.md"])
        .success();
    let calls = calls(out.path());
    calls[0].assert_args(&["--model", "from-project"]);
}

// ---- command lines -------------------------------------------------------------------

#[test]
fn claude_gets_headless_stream_json_and_accept_edits_by_default() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] Say hello <!-- id: hello -->\n")
        .env("CLAUDECODE", "1")
        .env("CLAUDE_CODE_ENTRYPOINT", "cli")
        .args(["t.md"])
        .file_is("t.md", "- [x] Say hello <!-- id: hello -->\n")
        .success();
    let calls = expect_calls(out.path(), 1);
    let call = &calls[0];
    assert_eq!(
        argv_of(call),
        [
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--input-format",
            "stream-json",
            "--permission-mode",
            "acceptEdits"
        ]
    );
    // The prompt arrives on stdin, as the first stream-json user message.
    call.assert_prompt_has(&["Say hello", "Do not edit checkboxes"]);
    // A nested Claude Code refuses to start with these set.
    assert_eq!(call.env.get("CLAUDECODE"), None);
    assert_eq!(call.env.get("CLAUDE_CODE_ENTRYPOINT"), None);
    assert_eq!(call.env["RUN_BATCH_TASK_ID"], "hello");
    // The log starts with the command line.
    assert_eq!(
        log_head(out.path(), "hello", 1),
        "run-batch: claude -p --output-format stream-json --verbose --input-format stream-json --permission-mode acceptEdits"
    );
}

#[test]
fn claude_settings_from_config_budget_and_agent_args_in_their_places() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .file(
            "run-batch.toml",
            r#"
            [agents.claude]
            model = "opus"
            permission-mode = "bypassPermissions"
            allowed-tools = ["Read", "Bash(git *)"]
            args = ["--max-turns", "9"]
            env = { MY_VAR = "hello world" }
            "#,
        )
        .env_remove("IS_SANDBOX")
        .args([
            "t.md",
            "--agent",
            "claude --debug",
            "--max-cost-per-task",
            "0.5",
            "--agent-arg",
            "--foo",
            "--agent-arg",
            "bar",
        ])
        .success();
    let calls = calls(out.path());
    let call = &calls[0];
    assert_eq!(
        argv_of(call),
        [
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--input-format",
            "stream-json",
            "--model",
            "opus",
            "--permission-mode",
            "bypassPermissions",
            "--allowedTools",
            "Read",
            "Bash(git *)",
            "--max-budget-usd",
            "0.5",
            "--max-turns",
            "9",
            "--debug",
            "--foo",
            "bar"
        ]
    );
    assert_eq!(call.env["MY_VAR"], "hello world");
    // Claude refuses bypassPermissions as root unless told it is sandboxed.
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert_eq!(
        call.env.get("IS_SANDBOX").map(String::as_str),
        root.then_some("1")
    );
    assert_eq!(
        log_head(out.path(), "a", 1),
        "run-batch: claude -p --output-format stream-json --verbose --input-format stream-json --model opus \
         --permission-mode bypassPermissions --allowedTools Read 'Bash(git *)' \
         --max-budget-usd 0.5 --max-turns 9 --debug --foo bar"
    );
}

#[test]
fn codex_gets_exec_json_a_workspace_sandbox_and_the_prompt_on_stdin() {
    let out = codex(Test::new())
        .file("t.md", "- [ ] Say hello <!-- id: hello -->\n")
        .env("CLAUDECODE", "1")
        .args(["t.md", "--agent", "codex", "--max-cost-per-task", "0.5"])
        .file_is("t.md", "- [x] Say hello <!-- id: hello -->\n")
        .success();
    let calls = expect_calls(out.path(), 1);
    let call = &calls[0];
    // Codex has no budget flag: --max-cost-per-task is not passed.
    assert_eq!(
        argv_of(call),
        [
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--sandbox",
            "workspace-write",
            "-"
        ]
    );
    call.assert_prompt_has(&["Say hello"]);
    // Only Claude's environment is cleaned.
    assert_eq!(call.env.get("CLAUDECODE").map(String::as_str), Some("1"));
}

#[test]
fn codex_settings_from_config_and_agent_args_come_before_the_prompt_dash() {
    let out = codex(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .file(
            "run-batch.toml",
            r#"
            [agents.codex]
            model = "gpt-5-codex"
            permission-mode = "read-only"
            args = ["-c", "model_reasoning_effort=high"]
            env = { CODEX_VAR = "1" }
            "#,
        )
        .args(["t.md", "--agent", "codex", "--agent-arg", "--foo"])
        .success();
    let calls = calls(out.path());
    assert_eq!(
        argv_of(&calls[0]),
        [
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-m",
            "gpt-5-codex",
            "--sandbox",
            "read-only",
            "-c",
            "model_reasoning_effort=high",
            "--foo",
            "-"
        ]
    );
    assert_eq!(calls[0].env["CODEX_VAR"], "1");
}

// ---- the verdict: the final event ------------------------------------------------------

#[test]
fn claude_exiting_0_without_a_result_event_fails() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a noresult <!-- id: a -->\n")
        .args(["t.md"])
        .stderr_contains("FAILED   a (the agent ended without a final result event (exit status 0)")
        .unchanged("t.md")
        .failure();
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["failed"][0]["id"], "a");
    assert_eq!(
        status["failed"][0]["reason"],
        "the agent ended without a final result event (exit status 0)"
    );
}

#[test]
fn claude_error_result_fails_with_its_message_even_on_exit_0() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a error exit=0 <!-- id: a -->\n")
        .args(["t.md"])
        .stderr_contains("FAILED   a (the agent reported an error: quota exceeded for this key;")
        .unchanged("t.md")
        .failure();
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["failed"][0]["status"], "failed");
    assert_eq!(
        status["failed"][0]["reason"],
        "the agent reported an error: quota exceeded for this key"
    );
    // An error result still says what it cost.
    let finished = only(&runs(out.path())[0], "task_finished").clone();
    assert_close(&finished["cost_usd"], 0.25);
}

#[test]
fn claude_success_result_with_a_failing_exit_status_fails() {
    claude(Test::new())
        .file("t.md", "- [ ] a exit=3 <!-- id: a -->\n")
        .args(["t.md"])
        .stderr_contains("the agent reported success but ended with exit status 3")
        .unchanged("t.md")
        .failure();
}

#[test]
fn codex_turn_failed_fails_with_its_message() {
    let out = codex(Test::new())
        .file("t.md", "- [ ] a error exit=0 <!-- id: a -->\n")
        .args(["t.md", "--agent", "codex"])
        .stderr_contains(
            "the agent reported an error: Selected model is at capacity. Please try a different model.",
        )
        .unchanged("t.md")
        .failure();
    let status = status_json(out.path(), "t.md");
    assert_eq!(
        status["failed"][0]["reason"],
        "the agent reported an error: Selected model is at capacity. Please try a different model."
    );
}

#[test]
fn codex_turn_completed_and_exit_0_ticks() {
    let out = codex(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .args(["t.md", "--agent", "codex"])
        .file_is("t.md", "- [x] a <!-- id: a -->\n")
        .success();
    let finished = only(&runs(out.path())[0], "task_finished").clone();
    assert_eq!(finished["outcome"], "succeeded");
    assert_eq!(finished["session_id"], "S1");
}

#[test]
fn codex_without_turn_completed_fails_naming_its_last_error() {
    // The session started, then nothing final: the stream's last error is
    // the reason.
    codex(Test::new())
        .file("t.md", "- [ ] a noresult <!-- id: a -->\n")
        .args(["t.md", "--agent", "codex"])
        .stderr_contains("the agent ended without a final result event (exit status 0)")
        .unchanged("t.md")
        .failure();
}

// ---- cost and tokens ---------------------------------------------------------------------

#[test]
fn claude_cost_and_tokens_reach_events_status_and_the_table_and_add_up_across_runs() {
    let t = claude(Test::new()).file(
        "t.md",
        "
        # Plan
        - [ ] a <!-- id: a -->
        - [ ] b cost=0.5 in=200 out=20 cread=5 cwrite=7 <!-- id: b -->
        ",
    );
    let dir = t.path().to_owned();
    let out = t
        .args(["t.md", "-j", "1"])
        .stderr_contains("spent $0.7500 · 300 tokens in / 40 out (+ 10 cache read, 14 cache write)")
        .success();
    // The table has a cost column (stderr is not a terminal here).
    let row = |stderr: &str, task: &str| {
        stderr
            .lines()
            .find(|l| l.starts_with(&format!("{task} ")) && l.contains("succeeded"))
            .unwrap_or_else(|| panic!("no row for {task}:\n{stderr}"))
            .to_owned()
    };
    let a_row = row(&out.stderr, "a");
    assert!(
        a_row.contains("$0.2500") && a_row.contains("100/20"),
        "{a_row}"
    );
    assert!(row(&out.stderr, "b").contains("$0.5000"), "{}", out.stderr);

    let events = &runs(&dir)[0];
    let a = named(events, "task_finished")
        .into_iter()
        .find(|e| e["task"] == "a")
        .unwrap()
        .clone();
    assert_close(&a["cost_usd"], 0.25);
    assert_eq!(a["input_tokens"], 100);
    assert_eq!(a["output_tokens"], 20);
    assert_eq!(a["cache_read_tokens"], 5);
    assert_eq!(a["cache_write_tokens"], 7);
    let fin = only(events, "run_finished");
    assert_close(&fin["cost_usd"], 0.75);
    assert_eq!(fin["input_tokens"], 300);

    let status = status_json(&dir, "t.md");
    assert_close(&status["cost_usd"], 0.75);
    assert_eq!(status["input_tokens"], 300);
    assert_eq!(status["output_tokens"], 40);
    assert_eq!(status["cache_read_tokens"], 10);
    assert_eq!(status["cache_write_tokens"], 14);
    let by_task = status["by_task"].as_array().unwrap();
    assert_eq!(by_task.len(), 2);
    let sum: f64 = by_task
        .iter()
        .map(|t| t["cost_usd"].as_f64().unwrap())
        .sum();
    assert!((sum - 0.75).abs() < 1e-9, "{status:#}");

    // Untick `a` and run again: `a` runs once more and the totals grow.
    let out = out.then().args(["tick", "t.md", "a", "--undo"]).success();
    let out = fakes(out.then()).args(["t.md", "-j", "1"]).success();
    assert_eq!(calls(&dir).len(), 3);
    assert!(
        out.stderr
            .contains("spent $0.2500 · 100 tokens in / 20 out"),
        "the table shows this run's spend:\n{}",
        out.stderr
    );
    let status = status_json(&dir, "t.md");
    assert_close(&status["cost_usd"], 1.0);
    assert_eq!(status["input_tokens"], 400);
    assert_eq!(status["cache_write_tokens"], 21);
    let a = status["by_task"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "a")
        .unwrap()
        .clone();
    assert_close(&a["cost_usd"], 0.5);
    assert_eq!(a["attempts"], 2);
    assert_eq!(a["input_tokens"], 200);
    assert_eq!(a["session_id"], "S1");
}

#[test]
fn codex_cost_is_its_tokens_at_the_configured_price() {
    // Codex counts cached input within input: 1000 in, 400 of them cached.
    let out = codex(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .file(
            "run-batch.toml",
            "[agents.codex]\nprice = { input = 2, output = 10, cache-read = 0.5 }\n",
        )
        .args(["t.md", "--agent", "codex"])
        .stderr_lacks("warning")
        .success();
    let finished = only(&runs(out.path())[0], "task_finished").clone();
    assert_eq!(finished["input_tokens"], 600);
    assert_eq!(finished["cache_read_tokens"], 400);
    assert_eq!(finished["output_tokens"], 50);
    assert_eq!(finished["cache_write_tokens"], 0);
    // (600 × 2 + 400 × 0.5 + 50 × 10) / 1e6
    assert_close(&finished["cost_usd"], 0.0019);
    assert_close(&status_json(out.path(), "t.md")["cost_usd"], 0.0019);
}

#[test]
fn codex_cost_uses_the_built_in_price_of_its_configured_model() {
    let out = codex(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .file("run-batch.toml", "[agents.codex]\nmodel = \"gpt-5\"\n")
        .args(["t.md", "--agent", "codex"])
        .stderr_lacks("warning")
        .success();
    let finished = only(&runs(out.path())[0], "task_finished").clone();
    // gpt-5: $1.25 in, $0.125 cached, $10 out per million.
    assert_close(
        &finished["cost_usd"],
        (600.0 * 1.25 + 400.0 * 0.125 + 50.0 * 10.0) / 1e6,
    );
}

#[test]
fn codex_without_model_or_price_counts_tokens_and_warns_once_that_cost_is_unknown() {
    let out = codex(Test::new())
        .file(
            "t.md",
            "
            - [ ] a <!-- id: a -->
            - [ ] b <!-- id: b -->
            ",
        )
        .args(["t.md", "--agent", "codex", "-j", "1"])
        .stderr_contains(
            "warning: agent `codex` reported tokens but not its model, so its cost is unknown; \
             set `model` or `price` under [agents.codex] in run-batch.toml",
        )
        .success();
    assert_eq!(
        out.stderr.matches("so its cost is unknown").count(),
        1,
        "warned once:\n{}",
        out.stderr
    );
    let events = &runs(out.path())[0];
    for finished in named(events, "task_finished") {
        assert!(finished.get("cost_usd").is_none(), "{finished}");
        assert_eq!(finished["input_tokens"], 600);
        assert_eq!(finished["cache_read_tokens"], 400);
    }
    let fin = only(events, "run_finished");
    assert!(fin.get("cost_usd").is_none(), "{fin}");
    assert_eq!(fin["input_tokens"], 1200);
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["cost_usd"], 0.0);
    assert_eq!(status["input_tokens"], 1200);
    assert_eq!(status["output_tokens"], 100);
}

// ---- --max-cost --------------------------------------------------------------------------

#[test]
fn max_cost_starts_nothing_new_once_the_spend_reaches_it() {
    // Each task costs $0.25: after `a` the run has spent $0.25 (< $0.30), so
    // `b` starts; after `b`, $0.50 >= $0.30, so `c` never starts.
    let out = claude(Test::new())
        .file(
            "t.md",
            "
            - [ ] a <!-- id: a -->
            - [ ] b <!-- id: b -->
            - [ ] c <!-- id: c -->
            ",
        )
        .args(["t.md", "-j", "1", "--max-cost", "0.3"])
        .stderr_contains("stopping: --max-cost $0.30 reached (spent $0.5000): starting nothing new")
        .file_is(
            "t.md",
            "
            - [x] a <!-- id: a -->
            - [x] b <!-- id: b -->
            - [ ] c <!-- id: c -->
            ",
        )
        .failure();
    let tasks: Vec<String> = calls(out.path()).into_iter().map(|c| c.task).collect();
    assert_eq!(tasks, ["a", "b"]);
    let events = &runs(out.path())[0];
    assert_eq!(named(events, "task_started").len(), 2);
    let fin = only(events, "run_finished");
    assert_eq!(fin["stopped"], "max_cost");
    assert_eq!(fin["outcome"], "failed");
    assert_eq!(fin["done"], 2);
    assert_eq!(fin["remaining"], 1);
    assert_close(&fin["cost_usd"], 0.5);
}

#[test]
fn max_cost_reached_exactly_stops_too() {
    let out = claude(Test::new())
        .file(
            "t.md",
            "
            - [ ] a <!-- id: a -->
            - [ ] b <!-- id: b -->
            - [ ] c <!-- id: c -->
            ",
        )
        .args(["t.md", "-j", "1", "--max-cost", "0.5"])
        .stderr_contains("stopping: --max-cost $0.50 reached")
        .failure();
    assert_eq!(calls(out.path()).len(), 2);
}

#[test]
fn max_cost_not_reached_runs_everything() {
    let out = claude(Test::new())
        .file(
            "t.md",
            "
            - [ ] a <!-- id: a -->
            - [ ] b <!-- id: b -->
            ",
        )
        .args(["t.md", "-j", "1", "--max-cost", "0.6"])
        .stderr_lacks("stopping")
        .success();
    let fin = only(&runs(out.path())[0], "run_finished").clone();
    assert!(fin.get("stopped").is_none(), "{fin}");
}

#[test]
fn max_cost_lets_the_running_tasks_finish() {
    // -j 2: `a` (costly) and `b` (slow) start together; `a` ends over the
    // limit while `b` runs. `b` finishes and is ticked; `c` never starts.
    let out = claude(Test::new())
        .file(
            "t.md",
            "
            - [ ] a cost=0.5 <!-- id: a -->
            - [ ] b cost=0.1 sleep=1 <!-- id: b -->
            - [ ] c <!-- id: c -->
            ",
        )
        .args(["t.md", "-j", "2", "--max-cost", "0.3"])
        .stderr_contains(
            "stopping: --max-cost $0.30 reached (spent $0.5000): starting nothing new; \
             the running task may finish",
        )
        .file_is(
            "t.md",
            "
            - [x] a cost=0.5 <!-- id: a -->
            - [x] b cost=0.1 sleep=1 <!-- id: b -->
            - [ ] c <!-- id: c -->
            ",
        )
        .failure();
    let mut tasks: Vec<String> = calls(out.path()).into_iter().map(|c| c.task).collect();
    tasks.sort();
    assert_eq!(tasks, ["a", "b"]);
    let fin = only(&runs(out.path())[0], "run_finished").clone();
    assert_eq!(fin["stopped"], "max_cost");
    assert_close(&fin["cost_usd"], 0.6);
}

#[test]
fn max_cost_does_not_retry_a_failure_once_reached() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a error cost=0.5 <!-- id: a -->\n")
        .args(["t.md", "--retries", "2", "--max-cost", "0.3"])
        .stderr_contains("stopping: --max-cost $0.30 reached")
        .stderr_lacks("retry")
        .failure();
    assert_eq!(calls(out.path()).len(), 1);
}

#[test]
fn max_cost_notes_the_agents_that_report_no_cost() {
    fakes(Test::new().symlink("bin/mine", STREAM_AGENT))
        .file("run-batch.toml", "[agents.mine]\ncommand = \"mine\"\n")
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .args(["t.md", "--agent", "mine", "--max-cost", "1"])
        .stderr_contains("note: --max-cost counts only what agents report; `mine` reports no cost")
        .success();
}

#[test]
fn max_cost_counts_only_this_runs_spending() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a cost=0.5 <!-- id: a -->\n")
        .args(["t.md"])
        .success();
    let dir = out.path().to_owned();
    std::fs::write(
        dir.join("t.md"),
        "- [x] a cost=0.5 <!-- id: a -->\n- [ ] b cost=0.1 <!-- id: b -->\n- [ ] c cost=0.1 <!-- id: c -->\n",
    )
    .unwrap();
    // $0.50 was spent before; this run spends $0.10 after `b`, so `c` starts.
    let out = fakes(out.then())
        .args(["t.md", "-j", "1", "--max-cost", "$0.3"])
        .stderr_lacks("stopping")
        .success();
    let tasks: Vec<String> = calls(out.path()).into_iter().map(|c| c.task).collect();
    assert_eq!(tasks, ["a", "b", "c"]);
}

#[test]
fn max_cost_must_be_an_amount_above_zero() {
    claude(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .args(["t.md", "--max-cost", "0"])
        .stderr_contains("the amount must be more than 0")
        .unchanged("t.md")
        .status(2);
    claude(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .args(["t.md", "--max-cost-per-task", "five"])
        .stderr_contains("`five` is not an amount of US dollars")
        .unchanged("t.md")
        .status(2);
}

#[test]
fn max_cost_reached_by_the_last_task_stops_nothing() {
    // Both tasks run and are ticked; the limit is reached only when nothing
    // is left to start, so nothing was stopped.
    let out = claude(Test::new())
        .file(
            "t.md",
            "
            - [ ] a <!-- id: a -->
            - [ ] b <!-- id: b -->
            ",
        )
        .args(["t.md", "-j", "1", "--max-cost", "0.5"])
        .stderr_lacks("stopping")
        .success();
    let fin = only(&runs(out.path())[0], "run_finished").clone();
    assert_eq!(fin["outcome"], "succeeded");
    assert!(fin.get("stopped").is_none(), "{fin}");
}

// ---- resume ------------------------------------------------------------------------------

#[test]
fn a_timed_out_claude_session_is_resumed_by_the_retry() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] Write the notes hang-once <!-- id: a -->\n")
        .args([
            "t.md",
            "--timeout",
            "3s",
            "--grace",
            "1s",
            "--retries",
            "1",
            "--max-cost-per-task",
            "2",
        ])
        .stderr_contains("TIMEOUT  a (timed out after 3s)")
        .stderr_contains("start    a (attempt 2) resuming session S1")
        .file_is("t.md", "- [x] Write the notes hang-once <!-- id: a -->\n")
        .success();
    let calls = expect_calls(out.path(), 2);
    calls[0].assert_fresh();
    calls[1].assert_args(&["--resume=S1"]);
    calls[1].assert_prompt_has(&[
        "You were stopped before you finished (timed out after 3s)",
        "Write the notes",
        "Your last progress notes were:\n- step one of a done",
    ]);
    let events = &runs(out.path())[0];
    let started = named(events, "task_started");
    assert!(started[0].get("resume").is_none(), "{}", started[0]);
    assert_eq!(started[1]["resume"], "S1");
    let finished = named(events, "task_finished");
    assert_eq!(finished[0]["outcome"], "timed_out");
    assert_eq!(finished[0]["session_id"], "S1");
    assert_eq!(finished[0]["resumable"], true);
    assert!(
        log_head(out.path(), "a", 2)
            .ends_with(" --permission-mode acceptEdits --max-budget-usd 2 '--resume=S1'"),
        "{}",
        log_head(out.path(), "a", 2)
    );
}

#[test]
fn a_timed_out_codex_thread_is_resumed_by_the_retry() {
    let out = codex(Test::new())
        .file("t.md", "- [ ] a hang-once session=T1 <!-- id: a -->\n")
        .args([
            "t.md",
            "--agent",
            "codex",
            "--agent-arg",
            "--foo",
            "--timeout",
            "3s",
            "--grace",
            "1s",
            "--retries",
            "1",
        ])
        .file_is("t.md", "- [x] a hang-once session=T1 <!-- id: a -->\n")
        .success();
    let calls = expect_calls(out.path(), 2);
    assert_eq!(
        argv_of(&calls[1]),
        [
            "exec",
            "--json",
            "--skip-git-repo-check",
            "--sandbox",
            "workspace-write",
            "--foo",
            "resume",
            "T1",
            "-"
        ]
    );
    calls[1].assert_prompt_has(&["You were stopped before you finished"]);
}

/// Starts `run-batch t.md` in the background, waits until the agent has
/// named its session, and stops the run with SIGTERM.
fn interrupt_after_session(dir: &Path) {
    let run = Background::start(dir, &["t.md", "--grace", "1s"]);
    wait_until(PATIENCE, "the agent named its session", || {
        !named(&events(dir, "t.md"), "task_session").is_empty()
    });
    // The fake writes its progress note after naming its session: on a
    // loaded machine the signal could otherwise come first.
    wait_until(PATIENCE, "the agent's progress note", || {
        (run_dirs(dir, "t.md").iter()).any(|d| {
            std::fs::read_to_string(d.join("a.1.progress")).is_ok_and(|p| p.contains("step one"))
        })
    });
    run.signal(libc::SIGTERM);
    run.wait(PATIENCE).assert_code(130);
}

#[test]
fn an_interrupted_session_is_resumed_by_the_next_run() {
    let t = claude(Test::new()).file("t.md", "- [ ] Write the notes hang-once <!-- id: a -->\n");
    let dir = t.path().to_owned();
    interrupt_after_session(&dir);
    let first = &runs(&dir)[0];
    let finished = only(first, "task_finished");
    assert_eq!(finished["outcome"], "interrupted");
    assert_eq!(finished["resumable"], true);

    // The dry run says so.
    let dry = Background::start(&dir, &["t.md", "--dry-run"]).wait(PATIENCE);
    dry.assert_code(0);
    assert!(
        dry.stdout
            .contains("1. wave 1 · a · agent claude · resumes session S1\n"),
        "{}",
        dry.stdout
    );
    let dry = Background::start(&dir, &["t.md", "--dry-run", "--fresh"]).wait(PATIENCE);
    assert!(!dry.stdout.contains("resumes"), "{}", dry.stdout);

    let out = t
        .args(["t.md"])
        .stderr_contains("start    a resuming session S1")
        .file_is("t.md", "- [x] Write the notes hang-once <!-- id: a -->\n")
        .success();
    let calls = expect_calls(out.path(), 2);
    calls[1].assert_args(&["--resume=S1"]);
    calls[1].assert_prompt_has(&[
        "You were stopped before you finished (the run was interrupted)",
        "Write the notes",
        "Your last progress notes were:\n- step one of a done",
    ]);
    let second = &runs(&dir)[1];
    assert_eq!(only(second, "task_started")["resume"], "S1");
}

/// Rewrites what a run left as a version from before short ids would have
/// left it after a crash: journal keys and the events' task ids under the
/// old ids, no `id_scheme`, the run still `running` under a dead pid and
/// not folded into the journal.
fn as_crashed_before_short_ids(dir: &Path, renames: &[(&str, &str)]) {
    let path = state_dir(dir, "t.md").join("journal.json");
    let mut journal: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let object = journal.as_object_mut().unwrap();
    assert_eq!(object.remove("id_scheme"), Some(Value::from(2)));
    object["tasks"] = serde_json::json!({});
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let run = &mut journal["runs"][0];
    run["outcome"] = "running".into();
    run["folded"] = false.into();
    run["finished"] = Value::Null;
    run["pid"] = dead.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&journal).unwrap()).unwrap();
    for run in run_dirs(dir, "t.md") {
        let events = run.join("events.jsonl");
        let mut text = std::fs::read_to_string(&events).unwrap();
        for (new, old) in renames {
            let from = format!("\"task\":\"{new}\"");
            assert!(text.contains(&from), "{from} in {text}");
            text = text.replace(&from, &format!("\"task\":\"{old}\""));
        }
        std::fs::write(&events, text).unwrap();
    }
}

#[test]
fn a_run_that_crashed_under_old_ids_carries_on_under_short_ids() {
    // Ids were the whole heading path (`plan/docs/…`); a plan started then
    // and resumed now runs no task twice and resumes the agent's session.
    let plan = "# Plan\n## Docs\n- [ ] Write the notes hang-once\n- [ ] Write the index\n## Code\n- [ ] Write the index\n";
    let t = claude(Test::new()).file("t.md", plan);
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--grace", "1s"]);
    wait_until(
        PATIENCE,
        "the notes' agent named its session and the index was ticked",
        || {
            (named(&events(&dir, "t.md"), "task_session").iter())
                .any(|e| e["task"] == "write-the-notes-hang-once")
                && std::fs::read_to_string(dir.join("t.md"))
                    .unwrap()
                    .contains("- [x] Write the index")
        },
    );
    run.signal(libc::SIGTERM);
    run.wait(PATIENCE).assert_code(130);
    as_crashed_before_short_ids(
        &dir,
        &[
            (
                "write-the-notes-hang-once",
                "plan/docs/write-the-notes-hang-once",
            ),
            ("docs/write-the-index", "plan/docs/write-the-index"),
        ],
    );

    let out = t
        .args(["t.md"])
        .stderr_contains("start    write-the-notes-hang-once resuming session S1")
        .file_is("t.md", &plan.replace("[ ]", "[x]"))
        .success();
    let calls = expect_calls(out.path(), 4);
    let tasks: Vec<&str> = calls.iter().map(|c| c.task.as_str()).collect();
    let count = |id: &str| tasks.iter().filter(|&&t| t == id).count();
    assert_eq!(count("docs/write-the-index"), 1, "{tasks:?}");
    assert_eq!(count("code/write-the-index"), 1, "{tasks:?}");
    assert_eq!(count("write-the-notes-hang-once"), 2, "{tasks:?}");
    let resumed = calls
        .iter()
        .rfind(|c| c.task == "write-the-notes-hang-once")
        .unwrap();
    resumed.assert_args(&["--resume=S1"]);
    // The journal now says which ids it follows, under today's ids.
    let journal: Value = serde_json::from_slice(
        &std::fs::read(state_dir(&dir, "t.md").join("journal.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(journal["id_scheme"], 2);
    assert_eq!(journal["tasks"]["write-the-notes-hang-once"]["attempts"], 2);
    assert!(
        journal["tasks"]
            .get("plan/docs/write-the-notes-hang-once")
            .is_none()
    );
}

#[test]
fn fresh_starts_an_interrupted_task_over() {
    let t = claude(Test::new()).file("t.md", "- [ ] Write the notes hang-once <!-- id: a -->\n");
    let dir = t.path().to_owned();
    interrupt_after_session(&dir);

    let out = t.args(["t.md", "--fresh"]).success();
    let calls = expect_calls(out.path(), 2);
    calls[1].assert_fresh();
    calls[1].assert_prompt_lacks("You were stopped");
    calls[1].assert_prompt_has(&["# Your task"]);
    let second = &runs(&dir)[1];
    assert!(only(second, "task_started").get("resume").is_none());
}

#[test]
fn a_refused_resume_starts_afresh_with_a_summary_without_using_a_retry() {
    // Run 1 times out after the session began: the journal keeps it.
    let out = claude(Test::new())
        .file(
            "t.md",
            "- [ ] Write the notes hang-once refuse-resume <!-- id: a -->\n",
        )
        .args(["t.md", "--timeout", "3s", "--grace", "1s"])
        .failure();
    // Run 2, with no retries: the resume is refused, and the fresh start
    // that follows is not a retry.
    let out = fakes(out.then())
        .args(["t.md", "--retries", "0"])
        .file_is(
            "t.md",
            "- [x] Write the notes hang-once refuse-resume <!-- id: a -->\n",
        )
        .success();
    let dir = out.path();
    let calls = expect_calls(dir, 3);
    calls[1].assert_args(&["--resume=S1"]);
    calls[2].assert_fresh();
    calls[2].assert_prompt_has(&[
        "could not\nbe continued",
        "The previous attempt stopped (it ran out of time)",
        // The end of the interrupted attempt's log (its stderr and its events).
        "fake: halfway through a",
        "Its last progress notes:\n- step one of a done",
        "The end of its log:",
    ]);

    let second = &runs(dir)[1];
    let refused = only(second, "task_resume_refused");
    assert_eq!(refused["task"], "a");
    assert_eq!(refused["session_id"], "S1");
    assert_eq!(
        refused["reason"],
        "the agent reported an error: No conversation found with session ID: S1"
    );
    assert!(named(second, "task_retrying").is_empty());
    // The refused attempt's task_finished comes first, then the refusal.
    let order: Vec<&str> = second
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .filter(|e| e.starts_with("task_") && !matches!(*e, "task_activity" | "task_session"))
        .collect();
    assert_eq!(
        order,
        [
            "task_started",
            "task_finished",
            "task_resume_refused",
            "task_started",
            "task_finished"
        ]
    );
    let started = named(second, "task_started");
    assert_eq!(started.len(), 2);
    assert_eq!(started[0]["resume"], "S1");
    assert!(started[1].get("resume").is_none(), "{}", started[1]);
    let finished = named(second, "task_finished");
    assert_eq!(finished[0]["outcome"], "failed");
    assert_eq!(finished[1]["outcome"], "succeeded");
}

#[test]
fn a_refused_resume_in_the_same_run_also_starts_afresh() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a hang-once refuse-resume <!-- id: a -->\n")
        .args(["t.md", "--timeout", "3s", "--grace", "1s", "--retries", "1"])
        .success();
    let calls = expect_calls(out.path(), 3);
    calls[1].assert_args(&["--resume=S1"]);
    calls[2].assert_fresh();
    calls[2].assert_prompt_has(&["The previous attempt stopped (timed out after 3s)"]);
    let events = &runs(out.path())[0];
    only(events, "task_resume_refused");
}

#[test]
fn a_failed_fresh_start_after_a_refused_resume_uses_the_retries() {
    // Run 2 with --retries 0: the refused resume is free, the fresh start's
    // failure is not retried.
    let out = claude(Test::new())
        .file("t.md", "- [ ] a hang-once refuse-resume <!-- id: a -->\n")
        .args(["t.md", "--timeout", "3s", "--grace", "1s"])
        .failure();
    let dir = out.path().to_owned();
    // From now on every fresh start fails.
    std::fs::write(
        dir.join("t.md"),
        "- [ ] a hang-once refuse-resume error <!-- id: a -->\n",
    )
    .unwrap();
    let out = fakes(out.then())
        .args(["t.md", "--retries", "0"])
        .stderr_contains("quota exceeded for this key")
        .failure();
    // The id is unchanged, so the journal's session still applies.
    let calls = expect_calls(out.path(), 3);
    assert!(calls[1].resumes());
    calls[2].assert_fresh();
}

#[test]
fn a_session_named_before_run_batch_was_killed_is_resumed_by_the_next_run() {
    // docs/agents.md: "run-batch itself crashed or was killed. The session id
    // is written to `events.jsonl` (`task_session`) as soon as the agent
    // names it, so the next run finds it."
    let t = claude(Test::new()).file("t.md", "- [ ] Write the notes hang-once <!-- id: a -->\n");
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--grace", "1s"]);
    wait_until(PATIENCE, "the agent named its session", || {
        !named(&events(&dir, "t.md"), "task_session").is_empty()
    });
    run.kill();

    let dry = Background::start(&dir, &["t.md", "--dry-run"]).wait(PATIENCE);
    dry.assert_code(0);
    let out = t
        .args(["t.md"])
        .stderr_contains("ended without finishing; it crashed or was killed")
        .file_is("t.md", "- [x] Write the notes hang-once <!-- id: a -->\n")
        .success();
    let calls = expect_calls(out.path(), 2);
    // The next run resumes.
    calls[1].assert_args(&["--resume=S1"]);
    calls[1].assert_prompt_has(&["You were stopped before you finished"]);
    assert!(
        dry.stdout.contains("resumes session S1"),
        "the dry run says so:\n{}",
        dry.stdout
    );
}

#[test]
fn a_session_is_continued_by_the_same_cli_whatever_its_words() {
    // Run 1 times out in a codex thread; run 2 uses `codex -m o3`: the same
    // CLI, so it continues the thread.
    let out = codex(Test::new())
        .file("t.md", "- [ ] a hang-once <!-- id: a -->\n")
        .args([
            "t.md",
            "--agent",
            "codex",
            "--timeout",
            "3s",
            "--grace",
            "1s",
        ])
        .failure();
    let out = fakes(out.then())
        .args(["t.md", "--agent", "codex -m o3"])
        .success();
    let calls = expect_calls(out.path(), 2);
    assert!(
        argv_of(&calls[1]).ends_with(&["-m", "o3", "resume", "S1", "-"]),
        "{:?}",
        calls[1].argv
    );
}

#[test]
fn a_session_is_not_continued_by_another_cli() {
    // Run 1 times out in a claude session; run 2 gives the task to codex.
    let out = claude(Test::new())
        .symlink("bin/codex", STREAM_AGENT)
        .file("t.md", "- [ ] a hang-once <!-- id: a -->\n")
        .args(["t.md", "--timeout", "3s", "--grace", "1s"])
        .failure();
    let out = fakes(out.then())
        .args(["t.md", "--agent", "codex"])
        .success();
    let calls = expect_calls(out.path(), 2);
    calls[1].assert_fresh();
    calls[1].assert_prompt_lacks("You were stopped");
}

#[test]
fn a_refused_codex_resume_starts_afresh() {
    let out = codex(Test::new())
        .file("t.md", "- [ ] a hang-once refuse-resume <!-- id: a -->\n")
        .args([
            "t.md",
            "--agent",
            "codex",
            "--timeout",
            "3s",
            "--grace",
            "1s",
            "--retries",
            "1",
        ])
        .success();
    let calls = expect_calls(out.path(), 3);
    assert!(argv_of(&calls[1]).ends_with(&["resume", "S1", "-"]));
    calls[2].assert_fresh();
    let events = &runs(out.path())[0];
    assert_eq!(
        only(events, "task_resume_refused")["reason"],
        "the agent ended without a final result event (exit status 1): thread S1 not found"
    );
}

#[test]
fn an_error_result_is_not_resumed_on_retry() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a error-once <!-- id: a -->\n")
        .args(["t.md", "--retries", "1"])
        .success();
    let calls = expect_calls(out.path(), 2);
    calls[1].assert_fresh();
    calls[1].assert_prompt_has(&["This is attempt 2; an earlier attempt did not succeed \
         (the agent reported an error: quota exceeded for this key)"]);
    let events = &runs(out.path())[0];
    let finished = named(events, "task_finished");
    assert!(finished[0].get("resumable").is_none(), "{}", finished[0]);
    assert!(named(events, "task_started")[1].get("resume").is_none());
}

#[test]
fn a_failed_gate_is_not_resumed_on_retry() {
    // The agent succeeds both times; the gate passes only once a second
    // call exists. The retry starts afresh.
    let out = claude(Test::new())
        .file("t.md", "- [ ] a <!-- id: a; gate: test -e calls/2 -->\n")
        .args(["t.md", "--retries", "1"])
        .stderr_contains("gate `test -e calls/2` failed (exit status 1)")
        .file_is("t.md", "- [x] a <!-- id: a; gate: test -e calls/2 -->\n")
        .success();
    let calls = expect_calls(out.path(), 2);
    calls[1].assert_fresh();
    let finished = named(&runs(out.path())[0], "task_finished")[0].clone();
    assert_eq!(finished["session_id"], "S1");
    assert!(finished.get("resumable").is_none(), "{finished}");
}

#[test]
fn a_child_left_holding_the_output_does_not_change_the_verdict() {
    // The agent prints its result and exits, leaving a child with its
    // stdout: the child is ended, the stream closes, the task is done.
    let out = claude(Test::new())
        .file("t.md", "- [ ] a linger <!-- id: a -->\n")
        .args(["t.md", "--grace", "1s"])
        .file_is("t.md", "- [x] a linger <!-- id: a -->\n")
        .success();
    let events = &runs(out.path())[0];
    assert_eq!(only(events, "task_finished")["outcome"], "succeeded");
    assert_all_gone(&[], &agent_pids(events), Duration::from_secs(5));
}

#[test]
fn an_agent_that_died_without_its_result_is_resumed_on_retry() {
    // A crash after the session began: the retry continues it.
    let out = claude(Test::new())
        .file("t.md", "- [ ] a crash-once <!-- id: a -->\n")
        .args(["t.md", "--retries", "1"])
        .success();
    let calls = expect_calls(out.path(), 2);
    calls[1].assert_args(&["--resume=S1"]);
}

// ---- custom agents ------------------------------------------------------------------------

#[test]
fn a_custom_stream_json_agent_is_judged_by_its_result_event() {
    let t = || {
        fakes(Test::new().symlink("bin/mine", STREAM_AGENT)).file(
            "run-batch.toml",
            "[agents.mine]\ncommand = \"mine --fast\"\noutput = \"stream-json\"\nargs = [\"--from-config\"]\n",
        )
    };
    // An error result fails the task although the agent exits 0.
    let out = t()
        .file("t.md", "- [ ] a error exit=0 <!-- id: a -->\n")
        .args(["t.md", "--agent", "mine", "--agent-arg", "--x"])
        .stderr_contains("the agent reported an error: quota exceeded for this key")
        .unchanged("t.md")
        .failure();
    let calls_made = calls(out.path());
    assert_eq!(argv_of(&calls_made[0]), ["--fast", "--from-config", "--x"]);
    assert_eq!(
        log_head(out.path(), "a", 1),
        "run-batch: mine --fast --from-config --x"
    );
    // A success result ticks, and its cost is counted.
    let out = t()
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .args(["t.md", "--agent", "mine"])
        .file_is("t.md", "- [x] a <!-- id: a -->\n")
        .success();
    let finished = only(&runs(out.path())[0], "task_finished").clone();
    assert_close(&finished["cost_usd"], 0.25);
    assert_eq!(finished["session_id"], "S1");
    // No result at all fails.
    t().file("t.md", "- [ ] a noresult <!-- id: a -->\n")
        .args(["t.md", "--agent", "mine"])
        .stderr_contains("without a final result event")
        .failure();
}

#[test]
fn a_custom_stream_json_agent_is_not_resumed() {
    let out = fakes(Test::new().symlink("bin/mine", STREAM_AGENT))
        .file(
            "run-batch.toml",
            "[agents.mine]\ncommand = \"mine\"\noutput = \"stream-json\"\n",
        )
        .file("t.md", "- [ ] a hang-once <!-- id: a -->\n")
        .args([
            "t.md",
            "--agent",
            "mine",
            "--timeout",
            "3s",
            "--grace",
            "1s",
            "--retries",
            "1",
        ])
        .success();
    let calls = expect_calls(out.path(), 2);
    calls[1].assert_fresh();
    let finished = named(&runs(out.path())[0], "task_finished")[0].clone();
    assert!(finished.get("resumable").is_none(), "{finished}");
}

#[test]
fn a_custom_stream_json_agent_without_a_cost_is_priced_by_its_model() {
    let t = || {
        fakes(Test::new().symlink("bin/mine", STREAM_AGENT)).file(
            "run-batch.toml",
            "[agents.mine]\ncommand = \"mine\"\noutput = \"stream-json\"\n",
        )
    };
    // The model its init event names has a built-in price.
    let out = t()
        .file(
            "t.md",
            "- [ ] a cost=none model=claude-sonnet-4-5-20250929 <!-- id: a -->\n",
        )
        .args(["t.md", "--agent", "mine"])
        .stderr_lacks("warning")
        .success();
    let finished = only(&runs(out.path())[0], "task_finished").clone();
    // claude-sonnet-4: $3 in, $15 out, $0.30 cache read, $3.75 cache write.
    assert_close(
        &finished["cost_usd"],
        (100.0 * 3.0 + 20.0 * 15.0 + 5.0 * 0.3 + 7.0 * 3.75) / 1e6,
    );
    // A model without a price: one warning, no cost, tokens counted.
    let out = t()
        .file("t.md", "- [ ] a cost=none <!-- id: a -->\n")
        .args(["t.md", "--agent", "mine"])
        .stderr_contains(
            "warning: no price for model `fake-model` (agent `mine`), so its cost is not counted",
        )
        .success();
    let finished = only(&runs(out.path())[0], "task_finished").clone();
    assert!(finished.get("cost_usd").is_none(), "{finished}");
    assert_eq!(finished["input_tokens"], 100);
}

#[test]
fn custom_agent_words_args_env_and_agent_args_in_order() {
    let out = fakes(Test::new().symlink("bin/mine", STREAM_AGENT))
        .file(
            "run-batch.toml",
            "[agents.mine]\ncommand = \"mine --fast\"\nargs = [\"--from-config\"]\nenv = { MINE_VAR = \"x y\" }\n",
        )
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .env("CLAUDECODE", "1")
        .args(["t.md", "--agent", "mine --word", "--agent-arg", "--x"])
        .success();
    let calls = calls(out.path());
    assert_eq!(
        argv_of(&calls[0]),
        ["--fast", "--word", "--from-config", "--x"]
    );
    assert_eq!(calls[0].env["MINE_VAR"], "x y");
    // Only the claude preset's environment is cleaned.
    assert_eq!(
        calls[0].env.get("CLAUDECODE").map(String::as_str),
        Some("1")
    );
}

#[test]
fn the_shell_agent_gets_no_agent_args() {
    let out = Test::new()
        .file("t.md", "- [ ] a <!-- id: a -->\n\n  ```sh\n  true\n  ```\n")
        .args(["t.md", "--agent", "shell", "--agent-arg", "--foo"])
        .success();
    let head = log_head(out.path(), "a", 1);
    assert!(
        head.starts_with("run-batch: bash --noprofile --norc -euo pipefail /"),
        "{head}"
    );
    assert!(!head.contains("--foo"), "{head}");
}

#[test]
fn a_custom_text_agent_is_judged_by_its_exit_status() {
    let t = || {
        fakes(Test::new().symlink("bin/mine", STREAM_AGENT))
            .file("run-batch.toml", "[agents.mine]\ncommand = \"mine\"\n")
    };
    // Its output is not read as events: an error result with exit 0 ticks.
    let out = t()
        .file("t.md", "- [ ] a error exit=0 <!-- id: a -->\n")
        .args(["t.md", "--agent", "mine"])
        .file_is("t.md", "- [x] a error exit=0 <!-- id: a -->\n")
        .success();
    let finished = only(&runs(out.path())[0], "task_finished").clone();
    assert!(finished.get("cost_usd").is_none(), "{finished}");
    assert!(finished.get("session_id").is_none(), "{finished}");
    // …and a success result with exit 1 fails.
    t().file("t.md", "- [ ] a exit=1 <!-- id: a -->\n")
        .args(["t.md", "--agent", "mine"])
        .stderr_contains("FAILED   a (exit status 1;")
        .unchanged("t.md")
        .failure();
}

#[test]
fn a_relative_command_in_a_parent_config_is_found_from_the_config_folder() {
    // docs/config.md's own example is `command = "./tools/my-agent --fast"`;
    // with the task file in a subfolder that path is not found.
    let out = fakes(Test::new().symlink("tools/mine", STREAM_AGENT))
        .file(
            "run-batch.toml",
            "[agents.mine]\ncommand = \"./tools/mine\"\noutput = \"stream-json\"\n",
        )
        .file("plans/t.md", "- [ ] a <!-- id: a; agent: mine -->\n")
        .args(["plans/t.md"])
        .file_is("plans/t.md", "- [x] a <!-- id: a; agent: mine -->\n")
        .success();
    assert_eq!(calls(out.path()).len(), 1);
}

// ---- unattended runs: limits, throttling, auth, stalls, retries that learn ----------

/// Margin past a reset: a second, so tests wait seconds, not minutes.
const QUICK_LIMITS: &str = "[limits]\nmargin = \"1s\"\n";

#[test]
fn a_usage_limit_waits_for_the_reset_and_continues_the_session_without_a_retry() {
    let out = claude(Test::new())
        .file("run-batch.toml", QUICK_LIMITS)
        .file("t.md", "- [ ] a limited-once session=L1 <!-- id: a -->\n")
        .env("FAKE_RESET", "1")
        .args(["t.md"])
        .stderr_contains("claude: waiting for the usage limit until ")
        .stderr_contains("claude: the usage limit is over (waited ")
        .file_is("t.md", "- [x] a limited-once session=L1 <!-- id: a -->\n")
        .timeout(Duration::from_secs(60))
        .success();
    let events = &runs(out.path())[0];
    let finished = named(events, "task_finished");
    assert_eq!(finished[0]["class"], "limit_exhausted");
    assert_eq!(finished[0]["resumable"], true);
    assert_eq!(finished[1]["class"], "succeeded");
    let wait = only(events, "limit_wait");
    assert_eq!(wait["provider"], "claude");
    assert_eq!(wait["reset_known"], true);
    let over = only(events, "limit_wait_over");
    // At least the margin past the reset (given to the second).
    assert!(over["waited_secs"].as_f64().unwrap() >= 1.0, "{over}");
    // The second attempt continued the session, and no --retries were needed.
    let calls = calls(out.path());
    assert_eq!(calls.len(), 2);
    calls[1].assert_args(&["--resume=L1"]);
}

#[test]
fn max_wait_stops_a_run_that_waits_too_long_with_exit_75() {
    let out = claude(Test::new())
        .file(
            "t.md",
            "- [ ] a limited <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
        )
        .env("FAKE_RESET", "3600")
        .args(["t.md", "-j", "1", "--max-wait", "1s"])
        .stderr_contains("stopping: --max-wait 1s reached waiting for usage limits")
        .unchanged("t.md")
        .status(75);
    let fin = only(&runs(out.path())[0], "run_finished").clone();
    assert_eq!(fin["stopped"], "max_wait");
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["waiting"][0]["id"], "a", "{status:#}");
    assert_eq!(status["waiting"][0]["class"], "limit_exhausted");
}

#[test]
fn an_auth_failure_stops_the_provider_and_nothing_more_of_it_starts() {
    let out = claude(Test::new())
        .file(
            "t.md",
            "- [ ] a authfail <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
        )
        .args(["t.md", "-j", "1", "--retries", "3"])
        .stderr_contains("claude: stopped (the agent reported an error: Invalid API key")
        .unchanged("t.md")
        .failure();
    assert_eq!(
        calls(out.path()).len(),
        1,
        "no retry, and `b` never started"
    );
    let runs = runs(out.path());
    let finished = named(&runs[0], "task_finished");
    assert_eq!(finished[0]["class"], "auth");
}

#[test]
fn a_throttled_attempt_slows_its_provider_and_uses_no_retry() {
    let out = claude(Test::new())
        .file(
            "t.md",
            "- [ ] a throttled-once <!-- id: a -->\n- [ ] b sleep=1 <!-- id: b -->\n",
        )
        .args(["t.md", "-j", "2"])
        .stderr_contains("claude: throttled; at most 1 at once, next start in ")
        .file_is(
            "t.md",
            "- [x] a throttled-once <!-- id: a -->\n- [x] b sleep=1 <!-- id: b -->\n",
        )
        .timeout(Duration::from_secs(60))
        .success();
    let events = &runs(out.path())[0];
    let throttled = only(events, "provider_throttled");
    assert_eq!(throttled["concurrency"], 1);
    assert_eq!(named(events, "task_finished")[0]["class"], "throttled");
}

#[test]
fn a_transient_api_error_is_retried_without_using_retries() {
    let out = claude(Test::new())
        .file("t.md", "- [ ] a transient-once <!-- id: a -->\n")
        .args(["t.md"])
        .file_is("t.md", "- [x] a transient-once <!-- id: a -->\n")
        .success();
    let runs = runs(out.path());
    let finished = named(&runs[0], "task_finished");
    assert_eq!(finished[0]["class"], "transient");
    assert_eq!(finished[1]["class"], "succeeded");
}

#[test]
fn agents_of_one_provider_start_in_a_ramp() {
    let out = claude(Test::new())
        .file(
            "t.md",
            "- [ ] a sleep=2\n- [ ] b sleep=2\n- [ ] c sleep=2\n",
        )
        .args(["t.md", "-j", "3"])
        .timeout(Duration::from_secs(60))
        .success();
    let started: Vec<std::time::SystemTime> = named(&runs(out.path())[0], "task_started")
        .iter()
        .map(|e| humantime::parse_rfc3339(e["ts"].as_str().unwrap()).unwrap())
        .collect();
    let gap = |i: usize| started[i].duration_since(started[0]).unwrap();
    assert!(
        gap(1) < Duration::from_millis(500),
        "two at once: {started:?}"
    );
    assert!(
        gap(2) >= Duration::from_millis(900),
        "then one a second: {started:?}"
    );
}
