//! Judge gates with fake judges: after a task's agent succeeded and its
//! gate passed, its judge (the `judge` hint, or `[judge] agent`) reads the
//! task, the attempt's changes and the gate's output, and must answer
//! `RUN-BATCH: PASS` or `RUN-BATCH: FAIL <reason>`; anything else fails
//! closed. What it spends counts in its task's cost and is shown apart.

mod common;

use common::Test;
use common::agents::*;
use common::checks::git_init;

/// A fake judge: keeps its prompt (`judge-prompt-<task>-<n>.md`) and says
/// what its first argument asks.
const JUDGE: &str = r#"#!/bin/sh
n=$(ls judge-prompt-"$RUN_BATCH_TASK_ID"-* 2>/dev/null | wc -l)
cat > "judge-prompt-$RUN_BATCH_TASK_ID-$((n + 1)).md"
case "$1" in
  pass) echo "The greeting is there."; echo "RUN-BATCH: PASS" ;;
  fail-once)
    if [ "$n" = 0 ]; then
      echo "Close, but:"; echo "RUN-BATCH: FAIL the greeting is not in French"
    else
      echo "RUN-BATCH: PASS"
    fi ;;
  silent) echo "It looks fine to me." ;;
  error) echo "the judge crashed" >&2; exit 2 ;;
  limited) echo "Claude AI usage limit reached|4102444800" >&2; exit 1 ;;
  limited-once)
    if [ "$n" = 0 ]; then
      echo "Claude AI usage limit reached|$(( $(date +%s) + 1 ))" >&2; exit 1
    else
      echo "RUN-BATCH: PASS"
    fi ;;
esac
"#;

/// A fake agent that keeps each attempt's prompt and writes a greeting.
const AGENT: &str = r#"#!/bin/sh
cat > "prompt-$RUN_BATCH_TASK_ID-$RUN_BATCH_ATTEMPT.md"
echo bonjour > "hello-$RUN_BATCH_TASK_ID.txt"
"#;

fn with_fakes(t: Test) -> Test {
    t.executable("bin/judge", JUDGE)
        .executable("bin/agent", AGENT)
        .path_prefix("bin")
}

#[test]
fn a_judge_reads_the_task_the_changes_and_the_gate_output_and_passes_it() {
    let t = with_fakes(Test::new())
        .file("tracked.txt", "before\n")
        .file(
            "t.md",
            "
            # Plan
            - [ ] Greet in French <!-- id: greet; agent: shell; judge: judge pass; gate: echo gate-says-ok -->
              The file `hello.txt` holds the greeting.
              ```sh
              echo bonjour > hello.txt
              echo after >> tracked.txt
              ```
            ",
        );
    git_init(t.path());
    let out = t
        .arg("t.md")
        .stderr_contains("judged   greet: `judge pass` passed it")
        .success();
    assert!(out.read("t.md").contains("- [x] Greet in French"));
    let prompt = out.read("judge-prompt-greet-1.md");
    for expected in [
        "Greet in French",
        "The file `hello.txt` holds the greeting.",
        "+after",
        "new file (untracked): hello.txt",
        "+bonjour",
        "gate-says-ok",
    ] {
        assert!(prompt.contains(expected), "{expected:?} in:\n{prompt}");
    }
    let events = events(out.path(), "t.md");
    assert_eq!(named(&events, "judge_started")[0]["judge"], "judge pass");
    let finished = named(&events, "judge_finished");
    assert_eq!(finished[0]["passed"], true);
    // The judge comes after the gate, and before the tick.
    let order: Vec<&str> = (events.iter())
        .filter_map(|e| e["event"].as_str())
        .filter(|e| ["judge_started", "judge_finished", "ticked"].contains(e))
        .collect();
    assert_eq!(order, ["judge_started", "judge_finished", "ticked"]);
}

#[test]
fn a_fail_fails_the_attempt_and_its_reason_is_in_the_retry_prompt() {
    let out = with_fakes(Test::new())
        .file(
            "t.md",
            "- [ ] greet <!-- id: greet; agent: agent; judge: judge fail-once; retries: 1 -->\n",
        )
        .arg("t.md")
        .stderr_contains(
            "JUDGED   greet: `judge fail-once`: judge `judge fail-once` failed the work: the greeting is not in French",
        )
        .success();
    assert!(out.read("t.md").contains("- [x] greet"));
    let events = events(out.path(), "t.md");
    let finished = named(&events, "task_finished");
    assert_eq!(
        finished[0]["reason"],
        "judge `judge fail-once` failed the work: the greeting is not in French"
    );
    assert_eq!(finished[0]["outcome"], "failed");
    assert_eq!(finished[1]["outcome"], "succeeded");
    let retry = out.read("prompt-greet-2.md");
    assert!(
        retry.contains("judge `judge fail-once` failed the work: the greeting is not in French"),
        "{retry}"
    );
}

#[test]
fn silence_errors_and_usage_limits_fail_closed() {
    let out = with_fakes(Test::new())
        .file(
            "t.md",
            "
            - [ ] quiet <!-- id: quiet; agent: agent; judge: judge silent -->
            - [ ] broken <!-- id: broken; agent: agent; judge: judge error -->
            - [ ] limited <!-- id: limited; agent: agent; judge: judge limited -->
            ",
        )
        // A judge refused by its provider waits like an agent; with no
        // transient retries left, that is the task's failure at once.
        .file("run-batch.toml", "[limits]\ntransient-retries = 0\n")
        .args(["t.md", "--keep-going"])
        .failure();
    assert!(out.read("t.md").contains("- [ ] quiet"));
    assert!(out.read("t.md").contains("- [ ] broken"));
    assert!(out.read("t.md").contains("- [ ] limited"));
    let events = events(out.path(), "t.md");
    let reason = |task: &str| {
        named(&events, "task_finished")
            .into_iter()
            .find(|e| e["task"] == task)
            .map(|e| e["reason"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        reason("quiet"),
        "judge `judge silent` gave no verdict (a line `RUN-BATCH: PASS` or `RUN-BATCH: FAIL <reason>`), so the work does not pass"
    );
    assert_eq!(
        reason("broken"),
        "judge `judge error` failed (exit status 2), so the work is not judged (a judge fails closed)"
    );
    assert_eq!(
        reason("limited"),
        "judge `judge limited` hit a usage limit, so the work is not judged yet (a judge fails closed); the task waits like any agent"
    );
    let judged = named(&events, "judge_finished");
    assert_eq!(judged.len(), 3);
    assert!(judged.iter().all(|e| e["passed"] == false));
}

#[test]
fn the_judges_spend_counts_in_the_task_and_shows_apart() {
    let judge = r#"#!/usr/bin/env bash
cat > /dev/null
echo '{"type":"system","subtype":"init","session_id":"j1","model":"claude-sonnet-4-5"}'
echo '{"type":"assistant","message":{"content":[{"type":"text","text":"Fine."}]}}'
echo '{"type":"result","subtype":"success","is_error":false,"result":"It does.\nRUN-BATCH: PASS","session_id":"j1","total_cost_usd":0.05,"usage":{"input_tokens":1000,"output_tokens":200}}'
"#;
    let out = Test::new()
        .executable("bin/json-judge", judge)
        .symlink("bin/stream-agent", STREAM_AGENT)
        .path_prefix("bin")
        .file(
            "run-batch.toml",
            "
            [agents.worker]
            command = \"stream-agent\"
            output = \"stream-json\"

            [agents.judger]
            command = \"json-judge\"
            output = \"stream-json\"

            [judge]
            agent = \"judger\"
            ",
        )
        .file("t.md", "- [ ] work cost=0.25 <!-- id: work -->\n")
        .args(["t.md", "--agent", "worker"])
        .stderr_contains("judged   work: `judger` passed it ($0.0500, 1.0k tokens in / 200 out)")
        .stderr_contains("of which judges $0.0500 · 1.0k tokens in / 200 out")
        .success();
    let events = events(out.path(), "t.md");
    let task = named(&events, "task_finished")[0];
    assert_eq!(task["cost_usd"], 0.25, "the attempt's own");
    let judge = named(&events, "judge_finished")[0];
    assert_eq!(judge["cost_usd"], 0.05);
    assert_eq!(judge["input_tokens"], 1000);
    let run = named(&events, "run_finished")[0];
    let total = run["cost_usd"].as_f64().unwrap();
    assert!((total - 0.30).abs() < 1e-9, "{total}");
    // `status` counts it in the task's cost too.
    let status = status_json(out.path(), "t.md");
    let total = status["cost_usd"].as_f64().unwrap();
    assert!((total - 0.30).abs() < 1e-9, "{status:#}");
}

#[test]
fn a_judge_that_cannot_run_is_refused_before_any_agent_starts() {
    let out = with_fakes(Test::new())
        .file(
            "t.md",
            "- [ ] greet <!-- id: greet; agent: agent; judge: no-such-judge -->\n",
        )
        .arg("t.md")
        .stderr_contains("judge: agent `no-such-judge`: program `no-such-judge` is not on PATH")
        .status(2);
    assert!(!out.path().join("prompt-greet-1.md").exists());
}

#[test]
fn a_users_judge_template_is_used_and_a_missing_one_is_refused() {
    let out = with_fakes(Test::new())
        .file(
            "run-batch.toml",
            "[judge]\nagent = \"judge pass\"\ntemplate = \"my-judge.md\"\n",
        )
        .file(
            "my-judge.md",
            "Judge {{ task.id }}: {{ task.text }}. Changes: {{ changes }}\n",
        )
        .file("t.md", "- [ ] greet <!-- id: greet; agent: agent -->\n")
        .arg("t.md")
        .success();
    assert_eq!(
        out.read("judge-prompt-greet-1.md"),
        "Judge greet: greet. Changes: \n"
    );
    Test::new()
        .file(
            "run-batch.toml",
            "[judge]\nagent = \"sh\"\ntemplate = \"gone.md\"\n",
        )
        .file(
            "t.md",
            "- [ ] greet <!-- id: greet; agent: shell -->\n  ```sh\n  true\n  ```\n",
        )
        .arg("t.md")
        .stderr_contains("cannot read the judge template")
        .status(2);
}

#[test]
fn with_isolation_the_judge_reads_the_worktrees_changes_before_they_land() {
    let t = Test::new()
        .executable(
            "bin/outside-judge",
            "cat > \"$JUDGE_OUT\"; pwd -P >> \"$JUDGE_OUT\"; echo 'RUN-BATCH: PASS'\n",
        )
        .path_prefix("bin")
        .env("JUDGE_OUT", "{dir}/../judge-prompt.md")
        .file("tracked.txt", "before\n")
        .file(
            "t.md",
            "
            - [ ] greet <!-- id: greet; agent: shell; judge: outside-judge -->
              ```sh
              echo bonjour > hello.txt
              echo after >> tracked.txt
              ```
            ",
        );
    git_init(t.path());
    let out = t.args(["t.md", "--isolate", "worktree"]).success();
    assert!(out.read("t.md").contains("- [x] greet"));
    assert_eq!(
        out.read("hello.txt"),
        "bonjour\n",
        "landed after the verdict"
    );
    let prompt = std::fs::read_to_string(out.path().join("../judge-prompt.md")).unwrap();
    for expected in ["+after", "new file (untracked): hello.txt", "+bonjour"] {
        assert!(prompt.contains(expected), "{expected:?} in:\n{prompt}");
    }
    let ran_in = prompt.lines().last().unwrap();
    let main = std::fs::canonicalize(out.path()).unwrap();
    assert_ne!(ran_in, main.display().to_string(), "in the task's worktree");
    let events = events(out.path(), "t.md");
    let order: Vec<&str> = (events.iter())
        .filter_map(|e| e["event"].as_str())
        .filter(|e| ["judge_finished", "task_landed"].contains(e))
        .collect();
    assert_eq!(order, ["judge_finished", "task_landed"]);
}

#[test]
fn a_judge_stopped_by_its_provider_waits_and_uses_no_retry() {
    // The judge's provider (the `judge` command) is not the task's (`agent`):
    // its refusal is a transient failure, retried after a backoff without
    // using the task's retries; the second judge passes.
    let out = with_fakes(Test::new())
        .file(
            "t.md",
            "- [ ] limited once <!-- id: lim; agent: agent; judge: judge limited-once -->\n",
        )
        .args(["t.md", "--retries", "0"])
        .success();
    assert!(out.read("t.md").contains("- [x] limited once"));
    let events = events(out.path(), "t.md");
    let finished = named(&events, "task_finished");
    let classes: Vec<&str> = finished
        .iter()
        .map(|e| e["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["transient", "succeeded"]);
    let judged = named(&events, "judge_finished");
    assert_eq!(judged.len(), 2);
}
