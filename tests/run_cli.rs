//! `run-batch run` (and `run-batch FILE`), driven through the real binary with
//! the fake agent (`fixtures/agents/fake-agent`): the words of a task's text
//! say what its agent does, and the agent logs when it started and ended, so
//! the tests check limits, order, failures, timeouts, records and the agent
//! contract from what a user would see: exit status, the task file, stderr,
//! events, logs and processes.
//!
//! Signals, a killed run-batch, the lock and hand edits during a run are in
//! `run_signals.rs`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::agents::*;
use common::{Test, run_batch_in};

/// The test folder's path, resolved, as the agents see it.
fn real(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|e| panic!("canonicalize {}: {e}", path.display()))
        .display()
        .to_string()
}

/// The only run folder of `t.md`.
fn only_run(dir: &Path) -> std::path::PathBuf {
    let runs = run_dirs(dir, "t.md");
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    runs[0].clone()
}

/// The `task_finished` events of a task, in order.
fn finished<'a>(events: &'a [serde_json::Value], task: &str) -> Vec<&'a serde_json::Value> {
    named(events, "task_finished")
        .into_iter()
        .filter(|e| e["task"] == task)
        .collect()
}

// ---- limits, order and waves -------------------------------------------------

#[test]
fn j_1_runs_one_agent_at_a_time() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            - [ ] a sleep=0.2 <!-- id: a -->
            - [ ] b sleep=0.2 <!-- id: b -->
            - [ ] c sleep=0.2 <!-- id: c -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent", "-j", "1"])
        .stderr_contains("run-batch: 3 of 3 tasks to run from t.md (-j 1)")
        .file_is(
            "t.md",
            "
            # Plan
            - [x] a sleep=0.2 <!-- id: a -->
            - [x] b sleep=0.2 <!-- id: b -->
            - [x] c sleep=0.2 <!-- id: c -->
            ",
        )
        .success();
    let log = FakeLog::read(out.path());
    assert_eq!(log.runs.len(), 3);
    assert_eq!(log.overlapping(), Vec::<(String, String)>::new());
}

#[test]
fn an_openspec_change_runs_group_by_group_in_order() {
    let path = "openspec/changes/add-search/tasks.md";
    let tasks = "# Tasks\n\n## 1. Search endpoint\n- [x] 1.1 Add the route\n- [ ] 1.2 Query the index sleep=0.2\n- [ ] 1.3 Tests sleep=0.1\n\n## 2. Indexing\n- [ ] 2.1 Index on write sleep=0.1\n  - [ ] 2.1.1 Add the schema\n  - [ ] 2.1.2 Write the indexer\n- [ ] 2.2 Rebuild the index\n\n## 3. Documentation\n- [ ] 3.1 Describe the endpoint\n";
    let out = Test::new()
        .fake_agent()
        .file(path, tasks)
        .args([path, "--agent", "fake-agent", "-j", "4"])
        .file_is(path, &tasks.replace("- [ ]", "- [x]"))
        .success();
    let log = FakeLog::read(out.path());
    // A task already ticked does not run; the others run once each, one
    // after another, group by group (the parent 2.1 is ticked by its subtasks).
    assert_eq!(log.order(), ["1.2", "1.3", "2.1.1", "2.1.2", "2.2", "3.1"]);
    assert_eq!(log.overlapping(), Vec::<(String, String)>::new());
}

#[test]
fn j_caps_the_agents_running_at_once() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            - [ ] a sleep=0.3
            - [ ] b sleep=0.3
            - [ ] c sleep=0.3
            - [ ] d sleep=0.3
            - [ ] e sleep=0.3
            ",
        )
        .args(["t.md", "--agent", "fake-agent", "-j", "2"])
        .success();
    let log = FakeLog::read(out.path());
    assert_eq!(log.runs.len(), 5);
    assert!(
        log.max_concurrency() <= 2,
        "more than 2 agents at once: {log:#?}"
    );
    assert!(!out.read("t.md").contains("[ ]"));
}

/// Proves tasks really run together: each agent waits until all three have
/// started, so the run only succeeds if `-j 3` starts them at once.
#[test]
fn tasks_of_a_wave_run_at_the_same_time_up_to_the_limit() {
    Test::new()
        .executable(
            "bin/barrier-agent",
            r#"
            : > "arrived.$RUN_BATCH_TASK_ID"
            i=0
            while [ "$(ls arrived.* | wc -l)" -lt 3 ]; do
              i=$((i + 1))
              [ "$i" -gt 1500 ] && { echo "only $(ls arrived.*) arrived"; exit 1; }
              sleep 0.02
            done
            "#,
        )
        .path_prefix("bin")
        .file(
            "t.md",
            "# P\n- [ ] a <!-- id: a -->\n- [ ] b <!-- id: b -->\n- [ ] c <!-- id: c -->\n",
        )
        .args(["t.md", "--agent", "barrier-agent", "-j", "3"])
        .file_is(
            "t.md",
            "# P\n- [x] a <!-- id: a -->\n- [x] b <!-- id: b -->\n- [x] c <!-- id: c -->\n",
        )
        .timeout(Duration::from_secs(60))
        .success();
}

#[test]
fn parallel_n_caps_a_section_and_other_sections_are_not_held_to_it() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            <!-- parallel: 2 -->
            - [ ] a sleep=0.3 <!-- id: a -->
            - [ ] b sleep=0.3 <!-- id: b -->
            - [ ] c sleep=0.3 <!-- id: c -->
            - [ ] d sleep=0.3 <!-- id: d -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent", "-j", "8"])
        .success();
    let log = FakeLog::read(out.path());
    assert_eq!(log.runs.len(), 4);
    assert!(log.max_concurrency() <= 2, "parallel: 2 exceeded: {log:#?}");
}

#[test]
fn parallel_false_runs_a_section_one_task_at_a_time_in_document_order() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            <!-- parallel: false -->
            - [ ] zeta sleep=0.2 <!-- id: zeta -->
            - [ ] alpha sleep=0.1 <!-- id: alpha -->
            - [ ] mid sleep=0.2 <!-- id: mid -->
            - [ ] beta <!-- id: beta -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent", "-j", "8"])
        .success();
    let log = FakeLog::read(out.path());
    assert_eq!(log.order(), ["zeta", "alpha", "mid", "beta"]);
    assert_eq!(log.overlapping(), Vec::<(String, String)>::new());
}

#[test]
fn after_makes_a_task_wait_for_its_dependency_to_end() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            - [ ] late <!-- id: late; after: first -->
            - [ ] first sleep=0.4 <!-- id: first -->
            - [ ] other sleep=0.1 <!-- id: other -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent", "-j", "4"])
        .success();
    let log = FakeLog::read(out.path());
    let first = log.only("first");
    let late = log.only("late");
    assert!(
        late.start > first.end.unwrap(),
        "`late` started before `first` ended: {log:#?}"
    );
}

#[test]
fn waves_run_in_order() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan

            ## One
            - [ ] a1 sleep=0.3 <!-- id: a1 -->
            - [ ] a2 sleep=0.1 <!-- id: a2 -->
            - [ ] a3 <!-- id: a3 -->

            ## Two
            - [ ] b1 <!-- id: b1 -->
            - [ ] b2 sleep=0.2 <!-- id: b2 -->

            ## Three
            - [ ] c1 <!-- id: c1 -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent", "-j", "8"])
        .success();
    let log = FakeLog::read(out.path());
    assert_eq!(log.runs.len(), 6);
    let wave = |id: &str| id.as_bytes()[0];
    for later in &log.runs {
        for earlier in log.runs.iter().filter(|r| wave(&r.id) < wave(&later.id)) {
            assert!(
                later.start > earlier.end.unwrap(),
                "`{}` started before `{}` (an earlier wave) ended: {log:#?}",
                later.id,
                earlier.id
            );
        }
    }
}

#[test]
fn tasks_already_ticked_do_not_run() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [x] done <!-- id: done -->\n- [X] also <!-- id: also -->\n- [ ] todo <!-- id: todo -->\n",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .stderr_contains("run-batch: 1 of 3 tasks to run from t.md")
        .file_is(
            "t.md",
            "# Plan\n- [x] done <!-- id: done -->\n- [X] also <!-- id: also -->\n- [x] todo <!-- id: todo -->\n",
        )
        .success();
    assert_eq!(FakeLog::read(out.path()).order(), ["todo"]);
}

// ---- failures and exit statuses --------------------------------------------------

const FAILING_PLAN: &str = "
    # Plan

    ## One
    - [ ] f touch=f-done fail <!-- id: f -->
    - [ ] slow wait=f-done sleep=0.3 <!-- id: slow -->
    - [ ] dependent <!-- id: dependent; after: f -->

    ## Two
    - [ ] later <!-- id: later -->
    - [ ] later-dependent <!-- id: later-dependent; after: f -->
    ";

#[test]
fn a_failure_exits_1_and_blocks_dependents_and_later_waves_while_running_tasks_finish() {
    let out = Test::new()
        .hold_agent()
        .file("t.md", FAILING_PLAN)
        .args(["t.md", "--agent", "hold-agent", "-j", "4"])
        .stderr_contains("FAILED   f (exit status 1; ")
        .stderr_contains("blocked  dependent (waits for failed `f`)")
        .stderr_contains("done     slow")
        .stderr_contains("── f: end of its log")
        .stderr_contains("fake-agent: task f attempt 1")
        .stderr_contains("1 of 5 tasks done, 4 remaining")
        .file_is(
            "t.md",
            "
            # Plan

            ## One
            - [ ] f touch=f-done fail <!-- id: f -->
            - [x] slow wait=f-done sleep=0.3 <!-- id: slow -->
            - [ ] dependent <!-- id: dependent; after: f -->

            ## Two
            - [ ] later <!-- id: later -->
            - [ ] later-dependent <!-- id: later-dependent; after: f -->
            ",
        )
        .failure();
    let log = FakeLog::read(out.path());
    assert_eq!(log.count("dependent"), 0);
    assert_eq!(log.count("later"), 0);
    assert_eq!(log.count("later-dependent"), 0);
    // `slow` was running when `f` failed, and was let finish.
    assert!(log.only("slow").end.is_some());
    let events = events(out.path(), "t.md");
    let fin = named(&events, "run_finished");
    assert_eq!(fin[0]["outcome"], "failed");
    assert_eq!(fin[0]["done"], 1);
}

#[test]
fn keep_going_runs_later_independent_work_after_a_failure() {
    let out = Test::new()
        .hold_agent()
        .file("t.md", FAILING_PLAN)
        .args(["t.md", "--agent", "hold-agent", "-j", "4", "--keep-going"])
        .stderr_contains("blocked  dependent (waits for failed `f`)")
        .stderr_contains("blocked  later-dependent (waits for failed `f`)")
        .file_is(
            "t.md",
            "
            # Plan

            ## One
            - [ ] f touch=f-done fail <!-- id: f -->
            - [x] slow wait=f-done sleep=0.3 <!-- id: slow -->
            - [ ] dependent <!-- id: dependent; after: f -->

            ## Two
            - [x] later <!-- id: later -->
            - [ ] later-dependent <!-- id: later-dependent; after: f -->
            ",
        )
        .failure();
    let log = FakeLog::read(out.path());
    assert_eq!(log.count("later"), 1);
    assert_eq!(log.count("dependent"), 0);
    assert_eq!(log.count("later-dependent"), 0);
    // Wave two still waited for wave one's other work.
    assert!(log.only("later").start > log.only("slow").end.unwrap());
}

#[test]
fn fail_fast_stops_running_agents_and_starts_nothing_new() {
    let out = Test::new()
        .hold_agent()
        .file(
            "t.md",
            "
            # Plan

            ## One
            - [ ] f wait=h-started fail <!-- id: f -->
            - [ ] h child touch=h-started hang <!-- id: h -->
            - [ ] queued <!-- id: queued -->

            ## Two
            - [ ] later <!-- id: later -->
            ",
        )
        .args([
            "t.md",
            "--agent",
            "hold-agent",
            "-j",
            "2",
            "--fail-fast",
            "--grace",
            "500ms",
        ])
        .stderr_contains("stopping: --fail-fast: `f` failed; stopping the other agents")
        .stderr_contains("stopped  h")
        .unchanged("t.md")
        .failure();
    let log = FakeLog::read(out.path());
    assert_eq!(log.count("queued"), 0);
    assert_eq!(log.count("later"), 0);
    assert_eq!(log.only("h").end, None, "the hanging agent was stopped");
    let events = events(out.path(), "t.md");
    assert_eq!(finished(&events, "h")[0]["outcome"], "interrupted");
    assert_all_gone(
        &read_pids(&out.path().join(FAKE_PIDS)),
        &agent_pids(&events),
        Duration::from_secs(2),
    );
}

#[test]
fn fail_fast_also_stops_when_an_agent_cannot_be_started() {
    // An agent that passes the check before the run (it is an executable file;
    // a relative interpreter is found from the agent's folder, so it is not
    // checked) but cannot be started (that interpreter does not exist).
    Test::new()
        .fake_agent()
        .executable("bin/broken-agent", "#!nonexistent/interpreter\n")
        .file(
            "t.md",
            "# Plan\n- [ ] bad <!-- id: bad; agent: broken-agent -->\n- [ ] h hang <!-- id: h -->\n",
        )
        .args(["t.md", "--agent", "fake-agent", "--fail-fast", "--grace", "500ms"])
        .stderr_contains("FAILED   bad (could not start the agent")
        .unchanged("t.md")
        .timeout(Duration::from_secs(15))
        .failure();
}

#[test]
fn a_plan_error_exits_2_before_anything_starts_or_is_written() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [ ] a <!-- id: a -->\n- [ ] b <!-- after: nowhere -->\n",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .stderr_contains("depends on unknown id `nowhere`")
        .stderr_contains("t.md:3:")
        .stderr_contains("nothing was run")
        .unchanged("t.md")
        .status(2);
    assert!(!out.path().join(FAKE_LOG).exists(), "an agent ran");
    assert!(!out.path().join(".run-batch").exists(), "state was written");
}

#[test]
fn a_missing_agent_program_exits_2_before_anything_starts() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            - [ ] a <!-- id: a -->
            - [ ] b <!-- id: b; agent: no-such-agent-program --flag -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .stderr_contains(
            "agent `no-such-agent-program --flag`: program `no-such-agent-program` is not on PATH",
        )
        .unchanged("t.md")
        .status(2);
    assert!(!out.path().join(FAKE_LOG).exists(), "an agent ran");
    assert!(!out.path().join(".run-batch").exists(), "state was written");

    Test::new()
        .file("t.md", "# Plan\n- [ ] a\n")
        .args(["t.md", "--agent", "./not-here.sh"])
        .stderr_contains("`./not-here.sh` is not an executable file")
        .unchanged("t.md")
        .status(2);
}

#[test]
fn the_claude_preset_needs_claude_on_path() {
    Test::new()
        .file("t.md", "# Plan\n- [ ] a\n")
        .env("PATH", "/nonexistent")
        .args(["t.md"])
        .stderr_contains("agent `claude` needs the Claude Code CLI")
        .unchanged("t.md")
        .status(2);
    Test::new()
        .file("t.md", "# Plan\n- [ ] a <!-- agent: gemini -->\n- [ ] b\n")
        .env("PATH", "/nonexistent")
        .args(["t.md", "--agent", "codex -m o3"])
        .stderr_contains("agent `codex -m o3` needs the Codex CLI, and `codex` is not on PATH; install it with `npm install -g @openai/codex`")
        .stderr_contains("agent `gemini` needs the Gemini CLI")
        .unchanged("t.md")
        .status(2);
}

// ---- retries and gates -----------------------------------------------------------

#[test]
fn retries_flag_gives_failed_tasks_more_attempts_and_the_hint_wins() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            - [ ] flaky fail-once <!-- id: flaky -->
            - [ ] broken fail <!-- id: broken -->
            - [ ] once fail <!-- id: once; retries: 0 -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent", "--retries", "1"])
        // One second and up to a quarter more (jitter).
        .stderr_contains("retry    flaky in 1.")
        .stderr_contains("start    flaky (attempt 2)")
        .stderr_contains("retry    broken in 1.")
        .stderr_lacks("retry    once")
        .file_is(
            "t.md",
            "
            # Plan
            - [x] flaky fail-once <!-- id: flaky -->
            - [ ] broken fail <!-- id: broken -->
            - [ ] once fail <!-- id: once; retries: 0 -->
            ",
        )
        .timeout(Duration::from_secs(60))
        .failure();
    let log = FakeLog::read(out.path());
    assert_eq!(log.count("flaky"), 2);
    assert_eq!(log.count("broken"), 2);
    assert_eq!(log.count("once"), 1);
    let run = only_run(out.path());
    // One log per attempt, each with that attempt's output.
    assert!(
        out.read(run.join("flaky.1.log"))
            .contains("fake-agent: task flaky attempt 1")
    );
    assert!(
        out.read(run.join("flaky.2.log"))
            .contains("fake-agent: task flaky attempt 2")
    );
    let events = events(out.path(), "t.md");
    let retrying = named(&events, "task_retrying");
    assert_eq!(retrying.len(), 2, "{retrying:?}");
    let flaky = finished(&events, "flaky");
    assert_eq!(flaky[0]["outcome"], "failed");
    assert_eq!(flaky[1]["outcome"], "succeeded");
}

#[test]
fn retries_hint_alone_retries_and_the_retry_prompt_says_why() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [ ] flaky fail-once <!-- id: flaky; retries: 1 -->\n",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .file_is(
            "t.md",
            "# Plan\n- [x] flaky fail-once <!-- id: flaky; retries: 1 -->\n",
        )
        .timeout(Duration::from_secs(60))
        .success();
    assert_eq!(FakeLog::read(out.path()).count("flaky"), 2);
    let run = only_run(out.path());
    let second = out.read(run.join("flaky.2.prompt.md"));
    assert!(
        second.contains("This is attempt 2; an earlier attempt did not succeed (exit status"),
        "{second}"
    );
    assert!(
        !out.read(run.join("flaky.1.prompt.md"))
            .contains("This is attempt")
    );
}

#[test]
fn a_passing_gate_ticks_and_a_failing_gate_leaves_the_box_unticked() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            - [ ] builds touch=built <!-- id: builds; gate: test -e built -->
            - [ ] claims <!-- id: claims; gate: test -e missing -->
            - [ ] fails fail <!-- id: fails; gate: touch gate-ran -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .stderr_contains("FAILED   claims (gate `test -e missing` failed (exit status 1)")
        .file_is(
            "t.md",
            "
            # Plan
            - [x] builds touch=built <!-- id: builds; gate: test -e built -->
            - [ ] claims <!-- id: claims; gate: test -e missing -->
            - [ ] fails fail <!-- id: fails; gate: touch gate-ran -->
            ",
        )
        .failure();
    // A failed agent's gate does not run.
    assert!(!out.path().join("gate-ran").exists());
    let run = only_run(out.path());
    assert!(
        out.read(run.join("claims.1.log"))
            .contains("── run-batch: gate `test -e missing` ──")
    );
    let events = events(out.path(), "t.md");
    let claims = finished(&events, "claims");
    assert_eq!(claims[0]["outcome"], "failed");
    assert_eq!(
        claims[0]["reason"],
        "gate `test -e missing` failed (exit status 1)"
    );
}

// ---- timeouts ---------------------------------------------------------------------

// The timeouts below leave the agent time to start its child (or set its
// trap) first, even on a loaded machine: a bash agent that forks a few
// processes can take longer than 300ms there, and then the timeout ended it
// before its child existed (or before it ignored SIGTERM).

#[test]
fn a_timeout_terminates_the_agents_whole_process_group() {
    let out = Test::new()
        .fake_agent()
        .file("t.md", "# Plan\n- [ ] h child hang <!-- id: h -->\n")
        .args([
            "t.md",
            "--agent",
            "fake-agent",
            "--timeout",
            "2s",
            "--grace",
            "300ms",
        ])
        .stderr_contains("TIMEOUT  h (timed out after 2s) log: ")
        .unchanged("t.md")
        .failure();
    let events = events(out.path(), "t.md");
    let h = finished(&events, "h");
    assert_eq!(h[0]["outcome"], "timed_out");
    assert_eq!(h[0]["exit"]["Signal"], libc::SIGTERM);
    let children = read_pids(&out.path().join(FAKE_PIDS));
    assert_eq!(children.len(), 1, "the agent started its child");
    // The child ignores SIGTERM; it is gone all the same (SIGKILL after the grace).
    assert_all_gone(&children, &agent_pids(&events), Duration::from_secs(1));
}

#[test]
fn a_stubborn_agent_is_killed_after_the_grace_period() {
    let out = Test::new()
        .fake_agent()
        .file("t.md", "# Plan\n- [ ] s child stubborn <!-- id: s -->\n")
        .args([
            "t.md",
            "--agent",
            "fake-agent",
            "--timeout",
            "2s",
            "--grace",
            "300ms",
        ])
        .stderr_contains(
            "TIMEOUT  s (timed out after 2s and was killed after a 300ms grace period) log: ",
        )
        .unchanged("t.md")
        .failure();
    let events = events(out.path(), "t.md");
    let s = finished(&events, "s");
    assert_eq!(s[0]["outcome"], "timed_out");
    assert_eq!(s[0]["exit"]["Signal"], libc::SIGKILL);
    assert!(s[0]["duration_secs"].as_f64().unwrap() >= 2.3, "{s:?}");
    assert_all_gone(
        &read_pids(&out.path().join(FAKE_PIDS)),
        &agent_pids(&events),
        Duration::from_secs(1),
    );
    let status =
        Background::start(out.path(), &["status", "t.md", "--json"]).wait(Duration::from_secs(30));
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["failed"][0]["status"], "timed_out");
    assert_eq!(
        json["failed"][0]["reason"],
        "timed out after 2s and was killed after a 300ms grace period"
    );
}

#[test]
fn the_timeout_hint_wins_over_the_flag() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            - [ ] patient sleep=0.8 <!-- id: patient; timeout: 1m -->
            - [ ] short hang <!-- id: short; timeout: 200ms -->
            - [ ] flagged hang <!-- id: flagged -->
            ",
        )
        .args([
            "t.md",
            "--agent",
            "fake-agent",
            "--timeout",
            "400ms",
            "--grace",
            "1s",
        ])
        .stderr_contains("TIMEOUT  short (timed out after 200ms)")
        .stderr_contains("TIMEOUT  flagged (timed out after 400ms)")
        .stderr_contains("done     patient")
        .file_is(
            "t.md",
            "
            # Plan
            - [x] patient sleep=0.8 <!-- id: patient; timeout: 1m -->
            - [ ] short hang <!-- id: short; timeout: 200ms -->
            - [ ] flagged hang <!-- id: flagged -->
            ",
        )
        .failure();
    assert_all_gone(
        &[],
        &agent_pids(&events(out.path(), "t.md")),
        Duration::from_secs(1),
    );
}

#[test]
fn a_timed_out_attempt_is_retried() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [ ] h hang <!-- id: h; timeout: 200ms; retries: 1 -->\n",
        )
        .args(["t.md", "--agent", "fake-agent", "--grace", "1s"])
        .stderr_contains("retry    h in 1.")
        .stderr_contains("s (attempt 2)")
        .unchanged("t.md")
        .timeout(Duration::from_secs(60))
        .failure();
    // Two attempts started (on a busy machine the agent may be stopped
    // before it records its own start, so the run's events are counted).
    let events = events(out.path(), "t.md");
    assert_eq!(named(&events, "task_started").len(), 2);
}

// ---- the agent contract -------------------------------------------------------------

/// Records what it was given under `$DUMP_DIR/<task id>/`: stdin, working
/// directory, `RUN_BATCH_*` variables, arguments (one a line).
const DUMP_AGENT: &str = r#"
    d="$DUMP_DIR/$RUN_BATCH_TASK_ID"
    mkdir -p "$d"
    cat > "$d/stdin"
    cat "$RUN_BATCH_PROMPT_FILE" > "$d/prompt-file"
    pwd -P > "$d/pwd"
    env | grep '^RUN_BATCH_' | sort > "$d/env"
    for a in "$@"; do printf '%s\n' "$a"; done > "$d/args"
    "#;

#[test]
fn the_agent_gets_the_prompt_on_stdin_and_the_run_batch_variables() {
    let out = Test::new()
        .executable("bin/dump-agent", DUMP_AGENT)
        .path_prefix("bin")
        .env("DUMP_DIR", "{dir}/dumps")
        .file(
            "t.md",
            "
            # Ship
            - [ ] Build the API <!-- id: api -->
              Keep it small.
            ",
        )
        .args(["t.md", "--agent", "dump-agent"])
        .success();
    let dir = out.path();
    let run = only_run(dir);
    let run_id = run.file_name().unwrap().to_string_lossy().into_owned();
    let env = env_lines(&out.read("dumps/api/env"));
    let var = |k: &str| {
        env.get(k)
            .unwrap_or_else(|| panic!("{k} is not set: {env:?}"))
            .clone()
    };
    assert_eq!(var("RUN_BATCH_TASK_ID"), "api");
    assert_eq!(var("RUN_BATCH_TASK_TEXT"), "Build the API");
    assert_eq!(var("RUN_BATCH_ATTEMPT"), "1");
    assert_eq!(var("RUN_BATCH_RUN_ID"), run_id);
    for k in [
        "RUN_BATCH_TASKFILE",
        "RUN_BATCH_PROMPT_FILE",
        "RUN_BATCH_PROGRESS_FILE",
        "RUN_BATCH_STATE_DIR",
    ] {
        assert!(
            Path::new(&var(k)).is_absolute(),
            "{k} is not absolute: {}",
            var(k)
        );
    }
    assert_eq!(
        real(Path::new(&var("RUN_BATCH_TASKFILE"))),
        real(&dir.join("t.md"))
    );
    assert_eq!(
        real(Path::new(&var("RUN_BATCH_STATE_DIR"))),
        real(&dir.join(".run-batch/t.md"))
    );
    // The prompt file is the attempt's, in the run's folder (removed after a
    // success that printed nothing).
    let prompt = Path::new(&var("RUN_BATCH_PROMPT_FILE")).to_owned();
    assert_eq!(prompt.file_name().unwrap(), "api.1.prompt.md");
    assert_eq!(real(prompt.parent().unwrap()), real(&run));
    // The progress file is the attempt's, in the run's folder (it need not exist yet).
    let progress = Path::new(&var("RUN_BATCH_PROGRESS_FILE")).to_owned();
    assert_eq!(progress.file_name().unwrap(), "api.1.progress");
    assert_eq!(real(progress.parent().unwrap()), real(&run));
    // stdin is the prompt, whole.
    let stdin = out.read("dumps/api/stdin");
    assert_eq!(stdin, out.read("dumps/api/prompt-file"));
    assert!(!run.join("api.1.prompt.md").exists() && !run.join("api.1.log").exists());
    assert!(stdin.contains("Build the API\n\nKeep it small."), "{stdin}");
    assert!(stdin.contains("`t.md`"), "{stdin}");
    assert_eq!(out.read("dumps/api/pwd").trim(), real(dir));
    assert_eq!(out.read("dumps/api/args"), "");
}

#[test]
fn the_fake_agent_reads_the_whole_prompt_from_stdin() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [ ] a <!-- id: a -->\n  Some notes for the agent.\n",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .success();
    let run = only_run(out.path());
    let prompt = out.read(run.join("a.1.prompt.md"));
    assert!(prompt.is_ascii());
    // `$(cat)` drops trailing newlines.
    let expected = prompt.trim_end_matches('\n').len();
    assert!(
        out.read(run.join("a.1.log"))
            .contains(&format!("fake-agent: prompt has {expected} bytes")),
        "{}",
        out.read(run.join("a.1.log"))
    );
}

#[test]
fn agents_run_in_the_task_files_folder() {
    let out = Test::new()
        .executable("bin/dump-agent", DUMP_AGENT)
        .path_prefix("bin")
        .env("DUMP_DIR", "{dir}/dumps")
        .file("plans/t.md", "# Plan\n- [ ] a <!-- id: a -->\n")
        .args(["plans/t.md", "--agent", "dump-agent"])
        .file_is("plans/t.md", "# Plan\n- [x] a <!-- id: a -->\n")
        .success();
    assert_eq!(
        out.read("dumps/a/pwd").trim(),
        real(&out.path().join("plans"))
    );
    // The records live beside the task file, not in the current folder.
    assert!(
        out.path()
            .join("plans/.run-batch/t.md/journal.json")
            .exists()
    );
    assert!(!out.path().join(".run-batch").exists());
    let env = env_lines(&out.read("dumps/a/env"));
    assert_eq!(
        real(Path::new(&env["RUN_BATCH_TASKFILE"])),
        real(&out.path().join("plans/t.md"))
    );
}

#[test]
fn workdir_sets_the_agents_folder() {
    let out = Test::new()
        .executable("bin/dump-agent", DUMP_AGENT)
        .path_prefix("bin")
        .env("DUMP_DIR", "{dir}/dumps")
        .dir("work")
        .file("plans/t.md", "# Plan\n- [ ] a <!-- id: a -->\n")
        .args(["plans/t.md", "--agent", "dump-agent", "--workdir", "work"])
        .file_is("plans/t.md", "# Plan\n- [x] a <!-- id: a -->\n")
        .success();
    assert_eq!(
        out.read("dumps/a/pwd").trim(),
        real(&out.path().join("work"))
    );
    assert!(
        out.path()
            .join("plans/.run-batch/t.md/journal.json")
            .exists()
    );
}

#[test]
fn a_relative_agent_path_works_when_the_task_file_is_elsewhere() {
    let out = Test::new()
        .executable("tools/dump-agent", DUMP_AGENT)
        .env("DUMP_DIR", "{dir}/dumps")
        .file("plans/t.md", "# Plan\n- [ ] a <!-- id: a -->\n")
        .args(["plans/t.md", "--agent", "./tools/dump-agent"])
        .file_is("plans/t.md", "# Plan\n- [x] a <!-- id: a -->\n")
        .success();
    assert_eq!(
        out.read("dumps/a/pwd").trim(),
        real(&out.path().join("plans"))
    );
}

#[test]
fn a_relative_gate_path_runs_in_the_agents_folder() {
    Test::new()
        .fake_agent()
        .executable("plans/check.sh", "exit 0\n")
        .file(
            "plans/t.md",
            "# Plan\n- [ ] a <!-- id: a; gate: ./check.sh -->\n",
        )
        .args(["plans/t.md", "--agent", "fake-agent"])
        .file_is(
            "plans/t.md",
            "# Plan\n- [x] a <!-- id: a; gate: ./check.sh -->\n",
        )
        .success();
}

#[test]
fn task_text_and_agent_arguments_never_go_through_a_shell() {
    let evil = "$(touch pwned); rm -rf keep `touch pwned2` > clobbered";
    let out = Test::new()
        .fake_agent()
        .executable("bin/dump-agent", DUMP_AGENT)
        .env("DUMP_DIR", "{dir}/dumps")
        .file("keep/precious", "still here\n")
        .file(
            "t.md",
            &format!(
                "# Plan\n- [ ] {evil} <!-- id: fake -->\n- [ ] {evil} <!-- id: dump; agent: dump-agent '$(touch pwned3)' \"two words\" $HOME -->\n- [ ] {evil} <!-- id: sh; agent: shell -->\n  ```sh\n  echo ok > sh-ran\n  ```\n"
            ),
        )
        .args(["t.md", "--agent", "fake-agent"])
        .success();
    let dir = out.path();
    for f in ["pwned", "pwned2", "pwned3", "clobbered"] {
        assert!(
            !dir.join(f).exists(),
            "`{f}` was created: something ran the text"
        );
    }
    assert_eq!(out.read("keep/precious"), "still here\n");
    assert!(dir.join("sh-ran").exists());
    assert_eq!(
        env_lines(&out.read("dumps/dump/env"))["RUN_BATCH_TASK_TEXT"],
        evil
    );
    assert_eq!(
        out.read("dumps/dump/args"),
        "$(touch pwned3)\ntwo words\n$HOME\n"
    );
    assert!(out.read("dumps/dump/stdin").contains(evil));
}

// ---- records ----------------------------------------------------------------------

#[test]
fn every_state_change_is_an_event_in_events_jsonl() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [ ] a print=3 <!-- id: a -->\n- [ ] f fail <!-- id: f -->\n- [ ] d <!-- id: d; after: f -->\n",
        )
        .args(["t.md", "--agent", "fake-agent", "-j", "1"])
        .failure();
    let run = only_run(out.path());
    let run_id = run.file_name().unwrap().to_string_lossy().into_owned();
    let events = events_in(&run.join("events.jsonl"));
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "run_started",
            "task_started",
            "task_finished",
            "ticked",
            "task_started",
            "task_finished",
            "task_blocked",
            "run_finished"
        ],
        "{events:#?}"
    );
    let mut last_ts = String::new();
    for e in &events {
        assert_eq!(e["run"], run_id.as_str());
        let ts = e["ts"].as_str().expect("ts");
        // RFC 3339, milliseconds, UTC: 2026-11-21T19:30:00.123Z
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(
            ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.',
            "{ts}"
        );
        assert!(
            ts >= last_ts.as_str(),
            "events out of order: {ts} after {last_ts}"
        );
        last_ts = ts.to_owned();
    }
    assert_eq!(events[0]["file"], "t.md");
    assert_eq!(events[0]["tasks"], 3);
    assert_eq!(events[0]["to_run"], 3);
    assert_eq!(events[0]["jobs"], 1);
    assert_eq!(events[1]["task"], "a");
    assert_eq!(events[1]["attempt"], 1);
    assert_eq!(events[1]["agent"], "fake-agent");
    assert!(events[1]["pid"].as_i64().unwrap() > 0);
    assert_eq!(events[2]["outcome"], "succeeded");
    assert_eq!(events[2]["exit"]["Code"], 0);
    assert_eq!(events[3]["tasks"], serde_json::json!(["a"]));
    assert_eq!(events[5]["task"], "f");
    assert_eq!(events[5]["outcome"], "failed");
    assert_eq!(events[5]["exit"]["Code"], 1);
    assert_eq!(events[5]["reason"], "exit status 1");
    assert_eq!(events[6]["task"], "d");
    assert_eq!(events[6]["by"], "f");
    assert_eq!(events[7]["outcome"], "failed");
    assert_eq!(events[7]["done"], 1);
    assert_eq!(events[7]["remaining"], 2);
    // Each attempt's log holds the agent's output; the event names it.
    let log = out.read(events[2]["log"].as_str().unwrap());
    assert!(log.contains("fake-agent: task a attempt 1\n"), "{log}");
    assert!(
        log.contains("line 1 of task a\nline 2 of task a\nline 3 of task a\n"),
        "{log}"
    );
    assert_eq!(
        real(&out.path().join(events[2]["log"].as_str().unwrap())),
        real(&run.join("a.1.log"))
    );
    // State never lands in git.
    let ignore = out.read(".run-batch/.gitignore");
    assert!(ignore.lines().any(|l| l.trim() == "*"), "{ignore}");
    let journal: serde_json::Value =
        serde_json::from_str(&out.read(".run-batch/t.md/journal.json")).unwrap();
    assert_eq!(journal["runs"][0]["id"], run_id.as_str());
    assert_eq!(journal["runs"][0]["outcome"], "failed");
    assert_eq!(journal["tasks"]["f"]["status"], "failed");
    assert_eq!(journal["tasks"]["a"]["status"], "succeeded");
}

#[test]
fn big_output_goes_to_the_log() {
    let out = Test::new()
        .fake_agent()
        .file("t.md", "# Plan\n- [ ] a bytes=300000 <!-- id: a -->\n")
        .args(["t.md", "--agent", "fake-agent"])
        .success();
    let run = only_run(out.path());
    let log = out.read_bytes(run.join("a.1.log"));
    assert_eq!(log.iter().filter(|&&b| b == b'x').count(), 300_000);
}

#[test]
fn progress_lines_are_reported() {
    Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [ ] a progress=compiling <!-- id: a -->\n",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .stderr_contains("progress a: compiling")
        .success();
}

#[test]
fn status_shows_done_remaining_the_last_run_and_failed_tasks() {
    let plan = "# Plan\n- [ ] a <!-- id: a -->\n- [ ] f fail <!-- id: f -->\n";
    let out = Test::new()
        .file("t.md", plan)
        .args(["status", "t.md"])
        .stdout("t.md: 0 of 2 tasks done, 2 remaining\nlast run: none yet\n")
        .success();
    let out = out
        .then()
        .fake_agent()
        .args(["t.md", "--agent", "fake-agent"])
        .failure();
    let run = only_run(out.path());
    let run_id = run.file_name().unwrap().to_string_lossy().into_owned();
    // Absolute, so the path works from any folder.
    let log = std::fs::canonicalize(out.path())
        .unwrap()
        .join(format!(".run-batch/t.md/runs/{run_id}/f.1.log"))
        .display()
        .to_string();
    let out = out
        .then()
        .args(["status", "t.md"])
        .stdout_contains("t.md: 1 of 2 tasks done, 1 remaining\n")
        .stdout_contains(&format!("last run: {run_id} failed (started "))
        .stdout_contains(&format!(
            "  failed f after 1 attempt: exit status 1\n    log: {log}\n"
        ))
        .success();
    let out = out.then().args(["status", "t.md", "--json"]).success();
    let json = out.json();
    assert_eq!(json["file"], "t.md");
    assert_eq!(json["tasks"], 2);
    assert_eq!(json["done"], 1);
    assert_eq!(json["remaining"], 1);
    assert_eq!(json["last_run"]["id"], run_id.as_str());
    assert_eq!(json["last_run"]["outcome"], "failed");
    assert!(json["last_run"]["finished"].is_string());
    assert_eq!(
        json["failed"],
        serde_json::json!([{
            "id": "f",
            "status": "failed",
            "class": "task_failed",
            "attempts": 1,
            "reason": "exit status 1",
            "log": log,
        }])
    );
    assert!(out.path().join(&log).exists());
}

#[test]
fn the_end_of_a_run_shows_a_table_and_where_the_logs_are() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [ ] a <!-- id: a -->\n- [ ] f fail <!-- id: f -->\n",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .failure();
    let run = only_run(out.path());
    let run_id = run.file_name().unwrap().to_string_lossy().into_owned();
    let table: Vec<&str> = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("task "))
        .collect();
    assert!(table.len() >= 3, "{}", out.stderr);
    assert!(
        table[1].starts_with("a ") && table[1].contains("succeeded"),
        "{table:?}"
    );
    assert!(
        table[2].starts_with("f ") && table[2].contains("failed"),
        "{table:?}"
    );
    let runs = std::fs::canonicalize(out.path())
        .unwrap()
        .join(".run-batch/t.md/runs");
    assert!(
        out.stderr.ends_with(&format!(
            "\n1 of 2 tasks done, 1 remaining · logs: {}/{run_id}\n",
            runs.display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn json_prints_the_events_on_stdout_and_nothing_on_stderr() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [ ] a print=2 <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
        )
        .args(["t.md", "--agent", "fake-agent", "--json"])
        .stderr("")
        .success();
    let run = only_run(out.path());
    assert_eq!(out.stdout, out.read(run.join("events.jsonl")));
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(events.first().unwrap()["event"], "run_started");
    assert_eq!(events.last().unwrap()["event"], "run_finished");
    assert_eq!(events.last().unwrap()["outcome"], "succeeded");
    assert_eq!(named(&events, "task_finished").len(), 2);
    // Agent output stays in the logs.
    assert!(!out.stdout.contains("line 1 of task a"));
}

#[test]
fn a_dry_run_line_names_eight_of_the_tasks_it_waits_for_and_counts_the_rest() {
    // The second phase waits for all twelve of the first (`after: one`): its line names
    // the first eight and says how many more, not a line of every id.
    let mut plan = String::from("# Ship\n\n## One\n");
    for i in 1..=12 {
        plan.push_str(&format!("- [ ] Step {i} <!-- id: s{i:02} -->\n"));
    }
    plan.push_str("\n## Two\n- [ ] Wrap up <!-- id: wrap; after: one -->\n");
    Test::new()
        .fake_agent()
        .file("t.md", &plan)
        .args(["t.md", "--agent", "fake-agent", "--dry-run"])
        .stdout_contains(
            "  13. wave 2 · wrap · agent fake-agent · after s01, s02, s03, s04, s05, s06, s07, s08 and 4 more\n",
        )
        .success();
}

#[test]
fn dry_run_prints_the_order_and_the_first_prompt_and_runs_nothing() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Ship

            ## Build
            - [ ] Build the API <!-- id: api -->
              Keep it small.
            - [x] Already done <!-- id: old -->
            - [ ] Lint <!-- id: lint; agent: shell -->
              ```sh
              true
              ```

            ## Docs
            - [ ] Write the docs <!-- id: docs; after: api -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent", "--dry-run", "-j", "3"])
        .stdout_contains(&common::unindent(
            "
            would run 3 tasks from t.md (-j 3):
               1. wave 1 · api · agent fake-agent
               2. wave 1 · lint · agent shell
               3. wave 2 · docs · agent fake-agent · after api

            command for `api`: fake-agent

            prompt for `api`:
            ",
        ))
        .stdout_contains("\n# Your task\n\nBuild the API\n\nKeep it small.\n")
        .stdout_lacks("Write the docs")
        .unchanged("t.md")
        .success();
    assert!(!out.path().join(FAKE_LOG).exists(), "an agent ran");
    assert!(!out.path().join(".run-batch").exists(), "state was written");
    assert_eq!(out.entries(""), ["bin", "t.md"]);
}

// ---- the shell agent and the bundled example --------------------------------------

#[test]
fn the_shell_agent_runs_sh_blocks_in_order_in_strict_mode() {
    let out = Test::new()
        .file(
            "t.md",
            "
            # Plan
            - [ ] Write two lines <!-- id: two -->
              ```sh
              echo one >> out.txt
              ```
              Prose with `echo nope >> out.txt` is not run.
              ```python
              print(\"not run\")
              ```
              ```bash
              echo two >> out.txt
              ```
            - [ ] Stop at the first failing command <!-- id: errexit -->
              ```sh
              echo before > before.txt
              false
              echo after > after.txt
              ```
            - [ ] Unset variables are errors <!-- id: nounset -->
              ```sh
              echo \"$NOT_SET_ANYWHERE\"
              touch nounset-went-on
              ```
            - [ ] A failing pipe fails <!-- id: pipefail -->
              ```sh
              false | true
              touch pipefail-went-on
              ```
            ",
        )
        .args(["t.md", "--agent", "shell", "-j", "1"])
        .stderr_contains("FAILED   errexit (exit status 1;")
        .failure();
    assert_eq!(out.read("out.txt"), "one\ntwo\n");
    assert!(out.path().join("before.txt").exists());
    for f in ["after.txt", "nounset-went-on", "pipefail-went-on"] {
        assert!(
            !out.path().join(f).exists(),
            "`{f}` exists: the script went on"
        );
    }
    let text = out.read("t.md");
    assert!(text.contains("- [x] Write two lines"));
    for id in ["errexit", "nounset", "pipefail"] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("id: {id} ")))
            .unwrap();
        assert!(line.starts_with("- [ ]"), "{line}");
    }
}

#[test]
fn a_task_without_a_sh_block_is_a_plan_time_error_for_the_shell_agent() {
    let out = Test::new()
        .file(
            "t.md",
            "
            # Plan
            - [ ] Has a block <!-- id: ok -->
              ```sh
              touch ran.txt
              ```
            - [ ] Has none <!-- id: none -->
              Just words.
            ",
        )
        .args(["t.md", "--agent", "shell"])
        .stderr_contains("task `none` (line 6) has no ```sh block for the `shell` agent to run")
        .unchanged("t.md")
        .status(2);
    assert!(!out.path().join("ran.txt").exists());
    assert!(!out.path().join(".run-batch").exists());
}

/// The bundled example as the repository ships it: the README's first
/// command ticks the working copy, and the tests must not depend on whether
/// someone ran it before `cargo test`.
fn pristine_example() -> String {
    include_str!("../examples/runbook.md").replace("- [x]", "- [ ]")
}

#[test]
fn the_bundled_example_runs_to_completion_with_the_shell_agent() {
    let example = &pristine_example();
    let out = Test::new()
        .file("runbook.md", example)
        .args(["runbook.md", "--agent", "shell"])
        .stderr_contains("run-batch: 4 of 4 tasks to run from runbook.md")
        .file_is("runbook.md", &example.replace("- [ ]", "- [x]"))
        .success();
    let report = out.read(".run-batch/example/report.txt");
    assert!(report.contains("checkboxes: 4"), "{report}");
    assert!(report.starts_with("machine: "), "{report}");
    // Run it again and nothing runs: everything is done.
    out.then()
        .args(["runbook.md", "--agent", "shell"])
        .stderr_contains("run-batch: 0 of 4 tasks to run from runbook.md")
        .stderr_lacks("start ")
        .success();
}

#[test]
fn the_bundled_example_runs_from_the_repository_root_as_the_readme_says() {
    let example = &pristine_example();
    Test::new()
        .file("examples/runbook.md", example)
        .args(["examples/runbook.md"])
        .file_is("examples/runbook.md", &example.replace("- [ ]", "- [x]"))
        .success();
}

#[test]
fn the_shell_agent_works_with_a_workdir() {
    let out = Test::new()
        .dir("work")
        .file(
            "t.md",
            "# Plan\n- [ ] a <!-- id: a -->\n  ```sh\n  pwd -P > where.txt\n  ```\n",
        )
        .args(["t.md", "--agent", "shell", "--workdir", "work"])
        .file_is(
            "t.md",
            "# Plan\n- [x] a <!-- id: a -->\n  ```sh\n  pwd -P > where.txt\n  ```\n",
        )
        .success();
    assert_eq!(
        out.read("work/where.txt").trim(),
        real(&out.path().join("work"))
    );
}

// ---- nested tasks and templates ------------------------------------------------------

#[test]
fn a_parent_is_ticked_when_its_subtasks_are_done_and_never_runs_itself() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # Plan
            - [ ] parent <!-- id: p -->
              - [ ] one sleep=0.1 <!-- id: c1 -->
              - [ ] two <!-- id: c2 -->
            - [ ] other <!-- id: other -->
            ",
        )
        .args(["t.md", "--agent", "fake-agent", "-j", "1"])
        .file_is(
            "t.md",
            "
            # Plan
            - [x] parent <!-- id: p -->
              - [x] one sleep=0.1 <!-- id: c1 -->
              - [x] two <!-- id: c2 -->
            - [x] other <!-- id: other -->
            ",
        )
        .success();
    let log = FakeLog::read(out.path());
    assert_eq!(log.count("p"), 0);
    assert_eq!(log.count("c1"), 1);
    assert_eq!(log.count("c2"), 1);
    let events = events(out.path(), "t.md");
    let parents: Vec<&serde_json::Value> = named(&events, "ticked")
        .into_iter()
        .filter(|e| e["parents"] == serde_json::json!(["p"]))
        .collect();
    assert_eq!(parents.len(), 1, "{events:#?}");
}

#[test]
fn dry_run_names_each_tasks_own_dependencies() {
    Test::new()
        .fake_agent()
        .file(
            "t.md",
            "# Plan\n- [ ] x <!-- id: x -->\n- [ ] y <!-- id: y -->\n- [ ] z <!-- id: z; after: y -->\n",
        )
        .args(["t.md", "--agent", "fake-agent", "--dry-run"])
        .stdout_contains("wave 1 · z · agent fake-agent · after y\n")
        .success();
}

#[test]
fn a_template_shapes_the_prompt_and_a_broken_one_stops_the_run_before_it_starts() {
    let out = Test::new()
        .fake_agent()
        .file(
            "tpl.md",
            "Task {{ task.id }}: {{ task.text }} (attempt {{ attempt }}) in {{ file }}",
        )
        .file("t.md", "# Plan\n- [ ] do it <!-- id: a -->\n")
        .args(["t.md", "--agent", "fake-agent", "--template", "tpl.md"])
        .success();
    let run = only_run(out.path());
    assert_eq!(
        out.read(run.join("a.1.prompt.md")),
        "Task a: do it (attempt 1) in t.md\n"
    );

    let out = Test::new()
        .fake_agent()
        .file("tpl.md", "{{ task.nonexistent_field }")
        .file("t.md", "# Plan\n- [ ] do it <!-- id: a -->\n")
        .args(["t.md", "--agent", "fake-agent", "--template", "tpl.md"])
        .stderr_contains("prompt template")
        .unchanged("t.md")
        .status(2);
    assert!(!out.path().join(FAKE_LOG).exists());

    // A template that compiles but cannot render for one task fails that
    // task (no agent starts), and the run still ends.
    let out = Test::new()
        .fake_agent()
        .file(
            "tpl.md",
            "{% if task.id == 'b' %}{{ nope }}{% endif %}do {{ task.text }}",
        )
        .file(
            "t.md",
            "# Plan\n- [ ] one <!-- id: a -->\n- [ ] two <!-- id: b -->\n",
        )
        .args([
            "t.md",
            "--agent",
            "fake-agent",
            "--template",
            "tpl.md",
            "-j",
            "1",
        ])
        .stderr_contains("could not start the agent: prompt template:")
        .status(1);
    assert_eq!(
        out.read("t.md"),
        "# Plan\n- [x] one <!-- id: a -->\n- [ ] two <!-- id: b -->\n"
    );
}

// ---- where records are read from ---------------------------------------------------------

#[test]
fn status_log_paths_are_valid_from_the_task_files_folder() {
    let out = Test::new()
        .fake_agent()
        .file("plans/t.md", "# Plan\n- [ ] f fail <!-- id: f -->\n")
        .args(["plans/t.md", "--agent", "fake-agent"])
        .failure();
    let out = out
        .then()
        .current_dir("plans")
        .args(["status", "t.md", "--json"])
        .success();
    let log = out.json()["failed"][0]["log"].as_str().unwrap().to_owned();
    let log = Path::new(&log);
    let from_plans = if log.is_absolute() {
        log.to_owned()
    } else {
        out.path().join("plans").join(log)
    };
    assert!(
        from_plans.exists(),
        "`status` in plans/ names a log that is not there: {}",
        log.display()
    );
}

#[test]
fn a_missing_workdir_is_an_error_before_anything_starts() {
    let out = Test::new()
        .fake_agent()
        .file("t.md", "# Plan\n- [ ] a <!-- id: a -->\n")
        .args([
            "t.md",
            "--agent",
            "fake-agent",
            "--workdir",
            "no-such-folder",
        ])
        .stderr_contains("no-such-folder")
        .stderr_lacks("could not start the agent")
        .unchanged("t.md")
        .status(2);
    assert!(!out.path().join(".run-batch").exists());
}

// ---- output nobody reads ----------------------------------------------------------

/// `run-batch t.md | head`, `--json | head` or a pager quit early: the run
/// goes on, ticks, records itself as finished and exits as it would have.
fn run_with_closed_pipes(extra: &[&str], plan: &str, code: i32, ticked: &str) {
    let t = Test::new().fake_agent().file("t.md", plan);
    let dir = t.path().to_owned();
    let mut args = vec!["t.md", "--agent", "fake-agent", "-j", "1"];
    args.extend(extra);
    let status = run_with_output_closed(&dir, &args);
    assert_eq!(status.code(), Some(code), "{args:?}: {status:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        common::unindent(ticked)
    );
    let status = status_json(&dir, "t.md");
    let outcome = if code == 0 { "succeeded" } else { "failed" };
    assert_eq!(status["last_run"]["outcome"], outcome, "{status:#}");
    drop(t);
}

const QUIET_PLAN: &str = "
    # Plan
    - [ ] a print=100 <!-- id: a -->
    - [ ] b progress=half <!-- id: b -->
    - [ ] c <!-- id: c -->
    ";

#[test]
fn a_closed_stdout_and_stderr_stop_the_output_not_the_run() {
    let done = QUIET_PLAN.replace("- [ ]", "- [x]");
    run_with_closed_pipes(&[], QUIET_PLAN, 0, &done);
    run_with_closed_pipes(&["--json"], QUIET_PLAN, 0, &done);
}

#[test]
fn a_run_with_closed_output_still_exits_1_when_a_task_fails() {
    let plan = "
        # Plan
        - [ ] a <!-- id: a -->
        - [ ] f fail <!-- id: f -->
        ";
    let after = "
        # Plan
        - [x] a <!-- id: a -->
        - [ ] f fail <!-- id: f -->
        ";
    run_with_closed_pipes(&[], plan, 1, after);
}

// ---- task files run-batch cannot write ---------------------------------------------

const REFUSED_PLAN: &str = "# Plan\n- [ ] a <!-- id: a -->\n";

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo(3) reads a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// `run` and `tick` on `file` are refused with exit status 2 and `error`
/// (then `help`) before any agent starts or anything is written beside it.
fn refused(t: Test, file: &str, error: &str, help: &str) {
    let expected = format!("error: {error}\n  = help: {help}\n");
    let out = t
        .args([file, "--agent", "fake-agent"])
        .timeout(Duration::from_secs(10))
        .stderr(&expected)
        .stdout("")
        .status(2);
    assert_eq!(FakeLog::read(out.path()).runs, [], "no agent ran");
    assert!(!out.path().join(".run-batch").exists(), "no state folder");
    out.then()
        .args(["tick", file, "a"])
        .timeout(Duration::from_secs(10))
        .stderr(&expected)
        .stdout("")
        .status(2);
}

const NOT_A_FILE_HELP: &str =
    "save the plan as a regular file and use that; `run-batch plan` can read a pipe";

#[test]
fn a_fifo_as_the_task_file_is_refused_without_being_opened() {
    let t = Test::new().fake_agent();
    mkfifo(&t.path().join("t.md"));
    // Opening a FIFO with no writer blocks: a refusal that comes back at all
    // never opened it.
    refused(
        t,
        "t.md",
        "`t.md` is a named pipe (FIFO), not a regular file: run-batch needs a file it can write to tick boxes",
        NOT_A_FILE_HELP,
    );
}

#[test]
fn a_device_as_the_task_file_is_refused() {
    for device in ["/dev/null", "/dev/zero"] {
        refused(
            Test::new().fake_agent(),
            device,
            &format!(
                "`{device}` is a character device, not a regular file: run-batch needs a file it can write to tick boxes"
            ),
            NOT_A_FILE_HELP,
        );
    }
    assert!(!Path::new("/dev/.run-batch").exists());
}

#[test]
fn a_folder_as_the_task_file_is_refused() {
    let t = Test::new().fake_agent().dir("plans");
    let expected = "error: `plans` is a directory, not a task file\n";
    let out = t
        .args(["plans", "--agent", "fake-agent"])
        .stderr(expected)
        .status(2);
    assert!(!out.path().join(".run-batch").exists());
    out.then()
        .args(["tick", "plans", "a"])
        .stderr(expected)
        .status(2);
}

#[test]
fn a_read_only_task_file_is_refused_before_any_agent_starts() {
    let t = Test::new()
        .fake_agent()
        .file("t.md", REFUSED_PLAN)
        .chmod("t.md", 0o444);
    refused(
        t,
        "t.md",
        "`t.md` is read-only: run-batch needs to write it to tick boxes",
        "make it writable (`chmod u+w t.md`); `run-batch plan` shows the plan without writing it",
    );
}

#[test]
fn a_task_file_in_a_read_only_folder_is_refused_before_any_agent_starts() {
    use std::os::unix::fs::chown;
    let t = Test::new().fake_agent().file("ro/t.md", REFUSED_PLAN);
    let folder = t.path().canonicalize().unwrap().join("ro");
    // Root writes anywhere: the test runs run-batch as a user the mode bits
    // bind, owning the file (so the file itself is writable) and the folder.
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    const NOBODY: u32 = 65534;
    let as_user = |t: Test| if root { t.uid(NOBODY) } else { t };
    let t = if root {
        chown(&folder, Some(NOBODY), Some(NOBODY)).unwrap();
        chown(folder.join("t.md"), Some(NOBODY), Some(NOBODY)).unwrap();
        t.chmod(".", 0o755)
    } else {
        t
    };
    let expected = format!(
        "error: cannot create files in `{}` (Permission denied (os error 13)): a run keeps its records (events, logs, the journal) in `.run-batch/` beside `ro/t.md`\n  = help: make the folder writable, or copy the task file to a folder you can write\n",
        folder.display()
    );
    let out = as_user(t.chmod("ro", 0o555))
        .args(["ro/t.md", "--agent", "fake-agent"])
        .stderr(&expected)
        .unchanged("ro/t.md")
        .status(2);
    assert_eq!(out.entries("ro"), ["t.md"], "nothing made in the folder");
    assert_eq!(FakeLog::read(out.path()).runs, [], "no agent ran");
    // A tick is written in place: a read-only folder does not stop it, and
    // nothing is made there.
    let out = as_user(out.then()).args(["tick", "ro/t.md", "a"]).success();
    assert_eq!(out.read("ro/t.md"), REFUSED_PLAN.replacen("[ ]", "[x]", 1));
    assert_eq!(out.entries("ro"), ["t.md"]);
    // Let the temporary folder be removed.
    let ro = out.path().join("ro");
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[test]
fn plan_reads_a_fifo_or_a_pipe() {
    let t = Test::new().file("t.md", REFUSED_PLAN);
    let fifo = t.path().join("fifo.md");
    mkfifo(&fifo);
    let writer = std::thread::spawn(move || std::fs::write(fifo, REFUSED_PLAN).unwrap());
    let out = t
        .args(["plan", "fifo.md"])
        .timeout(Duration::from_secs(10))
        .stdout_contains("[ ] a  a  :2")
        .success();
    writer.join().unwrap();
    out.then()
        .args(["plan", "/dev/stdin"])
        .stdin(REFUSED_PLAN)
        .stdout_contains("[ ] a  a  :2")
        .success();
}

#[test]
fn plan_reads_no_more_than_64_mib() {
    Test::new()
        .args(["plan", "/dev/zero"])
        .timeout(Duration::from_secs(20))
        .stderr(
            "error: `/dev/zero` is larger than 64 MiB, the most run-batch reads from a task file\n  = help: check that this is the task file you meant\n",
        )
        .status(2);
}

// ---- one task, one set of files -----------------------------------------------------

#[test]
fn tasks_whose_ids_would_share_file_names_each_run_their_own_script() {
    let long = "a heading long enough that four of them pass the file name limit";
    let cjk = "第一阶段：构建所有的后端服务和数据库迁移以及相关的配置文件";
    let task = |text: &str, id: &str, word: &str| {
        format!("- [ ] {text}{id}\n\n  ```sh\n  echo {word}\n  echo {word} > {word}.txt\n  ```\n\n")
    };
    let plan = format!(
        "# {long} one\n## {long} two\n### {long} three\n#### {long} four\n\n{}{}# {cjk}\n## {cjk}\n\n{}{}# A\n\n{}# Other\n\n{}",
        task("first", "", "first"),
        task("second", "", "second"),
        task("第一个任务", "", "cjk1"),
        task("第二个任务", "", "cjk2"),
        task("b", "", "slash"),
        task("x", " <!-- id: a__b -->", "underscores"),
    );
    let out = Test::new()
        .file("t.md", &plan)
        .args(["t.md", "--agent", "shell", "-j", "8"])
        .file_is("t.md", &plan.replace("- [ ]", "- [x]"))
        .success();
    let words = ["first", "second", "cjk1", "cjk2", "slash", "underscores"];
    for word in words {
        assert_eq!(out.read(format!("{word}.txt")), format!("{word}\n"));
    }
    // Each task's log holds its own script's output, and only that.
    let events = events(out.path(), "t.md");
    let logs: Vec<String> = named(&events, "task_finished")
        .iter()
        .map(|e| e["log"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(logs.len(), 6);
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        let echoed: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| text.lines().any(|l| l == *w))
            .collect();
        assert_eq!(echoed.len(), 1, "{log}:\n{text}");
        let script = std::fs::read_to_string(log.replace(".1.log", ".1.sh")).unwrap();
        assert!(
            script.contains(&format!("echo {}\n", echoed[0])),
            "{script}"
        );
    }
}

// ---- bad input caught before anything starts ------------------------------------------

#[test]
fn an_agent_script_whose_interpreter_is_missing_is_an_error_naming_both() {
    for (first_line, what) in [
        (
            "#!/usr/bin/nonexistent",
            "`/usr/bin/nonexistent` does not exist",
        ),
        (
            "#!/usr/bin/env nosuchprog --flag",
            "`nosuchprog` is not on PATH",
        ),
    ] {
        let t = Test::new()
            .fake_agent()
            .executable("my-agent", &format!("{first_line}\necho hello\n"))
            .file("t.md", REFUSED_PLAN);
        let script = t.path().join("my-agent");
        t.args(["t.md", "--agent", "./my-agent"])
            .stderr(&format!(
                "error: agent `./my-agent`: the script `{}` starts with `{first_line}`, and {what}; install it or fix the script's first line\n",
                script.display()
            ))
            .unchanged("t.md")
            .status(2);
    }
}

#[test]
fn a_task_text_too_big_for_the_environment_reaches_the_agent_by_its_prompt_only() {
    // Linux caps one environment string at 128 KiB: set, the variable made
    // every spawn fail with E2BIG.
    let text = format!("{} END-OF-TEXT", "word ".repeat(30_000));
    let plan = format!("# Plan\n- [ ] {text} <!-- id: big -->\n");
    let out = Test::new()
        .executable(
            "bin/show-agent",
            r#"
            echo "text: ${RUN_BATCH_TASK_TEXT-unset}" > seen
            grep -c END-OF-TEXT >> seen
            "#,
        )
        .path_prefix("bin")
        // Never inherited from a run-batch that runs this one.
        .env("RUN_BATCH_TASK_TEXT", "from outside")
        .file("t.md", &plan)
        .args(["t.md", "--agent", "show-agent"])
        .file_is("t.md", &plan.replace("- [ ]", "- [x]"))
        .success();
    assert_eq!(out.read("seen"), "text: unset\n1\n");
}

#[test]
fn an_unreadable_journal_is_kept_aside_with_a_warning() {
    let t = Test::new()
        .fake_agent()
        .file("t.md", REFUSED_PLAN)
        .file(".run-batch/t.md/journal.json", "{ not json");
    let journal = t.path().join(".run-batch/t.md/journal.json");
    let out = t
        .args(["status", "t.md"])
        .stderr_contains(&format!(
            "warning: `{}` cannot be read (key must be a string at line 1 column 3); showing no records of earlier runs (the next run keeps it aside and starts a new journal)\n",
            journal.display()
        ))
        .success();
    let out = out
        .then()
        .path_prefix("bin")
        .args(["t.md", "--agent", "fake-agent"])
        .stderr_contains(&format!(
            "warning: `{}` cannot be read (key must be a string at line 1 column 3); kept it as `journal.json.corrupt-",
            journal.display()
        ))
        .stderr_contains("` and started a new journal\n")
        .file_is("t.md", "# Plan\n- [x] a <!-- id: a -->\n")
        .success();
    let entries = out.entries(".run-batch/t.md");
    let aside: Vec<&String> = entries
        .iter()
        .filter(|e| e.starts_with("journal.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{entries:?}");
    assert_eq!(
        out.read(format!(".run-batch/t.md/{}", aside[0])),
        "{ not json"
    );
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["last_run"]["outcome"], "succeeded");
}

#[test]
fn a_journal_that_is_not_a_file_is_kept_aside_too() {
    let out = Test::new()
        .fake_agent()
        .file("t.md", REFUSED_PLAN)
        .dir(".run-batch/t.md/journal.json")
        .args(["t.md", "--agent", "fake-agent"])
        .stderr_contains(
            "cannot be read (Is a directory (os error 21)); kept it as `journal.json.corrupt-",
        )
        .success();
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["last_run"]["outcome"], "succeeded");
}

#[test]
fn no_arguments_print_the_usage_on_stderr_and_exit_2() {
    Test::new()
        .stdout("")
        .stderr_contains("Usage: run-batch")
        .stderr_contains("Commands:\n  run ")
        .status(2);
}

// ---- the state folder ----------------------------------------------------------------

#[test]
fn old_run_folders_are_removed_beyond_the_configured_number() {
    let t = Test::new()
        .fake_agent()
        .file("run-batch.toml", "[runs]\nkeep = 2\n")
        .file("t.md", "- [ ] a\n");
    let dir = t.path().to_owned();
    for _ in 0..4 {
        std::fs::write(dir.join("t.md"), "- [ ] a\n").unwrap();
        let out = run_batch_in(&dir, &["t.md", "--agent", "bin/fake-agent"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    assert_eq!(run_dirs(&dir, "t.md").len(), 2);
    drop(t);
}

#[test]
fn clean_removes_old_runs_and_all_removes_the_state() {
    let t = Test::new().fake_agent().file("t.md", "- [ ] a\n");
    let dir = t.path().to_owned();
    for _ in 0..3 {
        std::fs::write(dir.join("t.md"), "- [ ] a\n").unwrap();
        run_batch_in(&dir, &["t.md", "--agent", "bin/fake-agent"]);
    }
    assert_eq!(run_dirs(&dir, "t.md").len(), 3);
    let out = run_batch_in(&dir, &["clean", "t.md"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("removed 2 run folders (") && stdout.ends_with("runs\n"),
        "{stdout}"
    );
    assert_eq!(run_dirs(&dir, "t.md").len(), 1);
    let out = run_batch_in(&dir, &["clean", "t.md", "--all"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("removed 1 run folder ("),
        "{out:?}"
    );
    assert!(!state_dir(&dir, "t.md").join("journal.json").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        "- [x] a\n"
    );
    drop(t);
}

// ---- retries that learn, stalls ---------------------------------------------------------

#[test]
fn a_retry_is_told_what_went_wrong_including_the_gates_output() {
    let out = Test::new()
        .executable("bin/dump-agent", DUMP_AGENT)
        .path_prefix("bin")
        .env("DUMP_DIR", "{dir}/dumps")
        .file(
            "t.md",
            "- [ ] a <!-- id: a; retries: 1 -->\n  ```gate\n  echo \"the gate says: file x.txt is missing\"\n  exit 1\n  ```\n",
        )
        .args(["t.md", "--agent", "dump-agent"])
        .failure();
    // The dump agent keeps the last prompt it got: the retry's.
    let prompt = out.read("dumps/a/stdin");
    assert!(prompt.contains("This is attempt 2"), "{prompt}");
    assert!(prompt.contains("(gate "), "{prompt}");
    assert!(
        prompt.contains("the gate says: file x.txt is missing"),
        "the retry is shown the gate's output:\n{prompt}"
    );
}

#[test]
fn a_task_that_fails_then_succeeds_is_flaky() {
    let out = Test::new()
        .fake_agent()
        .file("t.md", "- [ ] f fail-once <!-- id: f -->\n")
        .args(["t.md", "--agent", "fake-agent", "--retries", "1"])
        .stderr_contains("f     flaky")
        .success();
    let finished = named(&events(out.path(), "t.md"), "task_finished")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(finished[0]["class"], "task_failed");
    assert_eq!(finished[1]["flaky"], true);
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["by_task"][0]["flaky"], true);
}

#[test]
fn a_silent_agent_is_stopped_as_stalled_and_retried() {
    let out = Test::new()
        .fake_agent()
        .file("t.md", "- [ ] h hang <!-- id: h; retries: 1 -->\n")
        .args([
            "t.md",
            "--agent",
            "fake-agent",
            "--idle-timeout",
            "1s",
            "--grace",
            "1s",
        ])
        .stderr_contains(
            "TIMEOUT  h (stalled: no output, event or progress line for 1s (idle timeout))",
        )
        .unchanged("t.md")
        .timeout(Duration::from_secs(60))
        .failure();
    let finished = named(&events(out.path(), "t.md"), "task_finished").len();
    assert_eq!(finished, 2, "stalled, retried, stalled again");
}

#[test]
fn an_agent_that_keeps_reporting_progress_is_not_stalled() {
    Test::new()
        .fake_agent()
        .file("t.md", "- [ ] p progress=one progress=two <!-- id: p -->\n")
        .args(["t.md", "--agent", "fake-agent", "--idle-timeout", "2s"])
        .file_is("t.md", "- [x] p progress=one progress=two <!-- id: p -->\n")
        .success();
}
