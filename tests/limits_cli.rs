//! Unattended runs with fake agents (fixtures/agents/stream-agent): the
//! structured limit signals of the agents' streams, the agent's own ends
//! that no text may turn into the provider's, escalation of later attempts
//! and live spend. What the real CLIs print is tested in real_agents.rs.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Test;
use common::agents::*;
use serde_json::Value;

/// A fake `claude` on PATH, its calls recorded in the test folder.
fn claude(t: Test) -> Test {
    t.symlink("bin/claude", STREAM_AGENT)
        .path_prefix("bin")
        .env("FAKE_DIR", "{dir}")
}

/// The events of the (first) run of `t.md`.
fn events_of_run(dir: &Path) -> Vec<Value> {
    let dirs = run_dirs(dir, "t.md");
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    events_in(&dirs[0].join("events.jsonl"))
}

/// The arguments of each call of the fake agent, in order.
fn call_args(dir: &Path) -> Vec<Vec<String>> {
    let mut n = 1;
    let mut out = Vec::new();
    while let Ok(argv) = std::fs::read_to_string(dir.join(format!("calls/{n}/argv"))) {
        out.push(argv.lines().map(str::to_owned).collect());
        n += 1;
    }
    out
}

fn only<'a>(events: &'a [Value], name: &str) -> &'a Value {
    let found = named(events, name);
    assert_eq!(found.len(), 1, "one `{name}` in {events:#?}");
    found[0]
}

const QUICK_LIMITS: &str = "[limits]\nmargin = \"1s\"\n";

#[test]
fn claudes_rate_limit_event_gives_the_window_and_reset_when_its_text_says_neither() {
    let out = claude(Test::new())
        .file("run-batch.toml", QUICK_LIMITS)
        .file(
            "t.md",
            "- [ ] a ratelimited-once session=R1 <!-- id: a -->\n",
        )
        .env("FAKE_RESET", "2")
        .args(["t.md", "--retries", "0"])
        .stderr_contains("claude: waiting for the usage limit until ")
        .stderr_contains("(five_hour)")
        .file_is(
            "t.md",
            "- [x] a ratelimited-once session=R1 <!-- id: a -->\n",
        )
        .timeout(Duration::from_secs(60))
        .success();
    let events = events_of_run(out.path());
    let finished = named(&events, "task_finished");
    assert_eq!(finished[0]["class"], "limit_exhausted");
    assert_eq!(finished[1]["class"], "succeeded");
    let wait = only(&events, "limit_wait");
    assert_eq!(wait["window"], "five_hour");
    assert_eq!(wait["reset_known"], true);
    // The reset (2 s) and the margin (1 s) were waited for.
    let over = only(&events, "limit_wait_over");
    assert!(over["waited_secs"].as_f64().unwrap() >= 2.0, "{over}");
    let calls = call_args(out.path());
    assert_eq!(calls.len(), 2);
    assert!(calls[1].iter().any(|a| a == "--resume=R1"), "{calls:?}");
}

#[test]
fn a_429_in_the_output_of_an_agent_that_ran_out_of_turns_is_the_tasks_failure() {
    // The text "HTTP 429 Too Many Requests" is in the log, but Claude said
    // the end was its own (max_turns): no free retry, no throttling.
    let out = claude(Test::new())
        .file("t.md", "- [ ] a maxturns429 <!-- id: a -->\n")
        .args(["t.md", "--retries", "0"])
        .unchanged("t.md")
        .failure();
    let events = events_of_run(out.path());
    assert_eq!(only(&events, "task_finished")["class"], "task_failed");
    assert!(named(&events, "provider_throttled").is_empty());
    assert_eq!(call_args(out.path()).len(), 1);
}

/// $1 per million input tokens: each `spend=` message costs $0.10.
const DOLLAR_PER_MTOK: &str = "[agents.claude]\nprice = { input = 1.0, output = 1.0 }\n";

#[test]
fn max_cost_counts_the_live_spend_of_running_agents() {
    // `a` shows $0.30 of tokens at once, then works on for 3 s; `b` ends
    // after 1 s. Counted only when `a` ended, `c` would start after `b`:
    // counted live, the cap is reached while `a` runs.
    let out = claude(Test::new())
        .file("run-batch.toml", DOLLAR_PER_MTOK)
        .file(
            "t.md",
            "- [ ] a spend=3 sleep=3 cost=0.3 <!-- id: a -->\n\
             - [ ] b sleep=1 cost=0.01 <!-- id: b -->\n\
             - [ ] c <!-- id: c -->\n",
        )
        .args(["t.md", "-j", "2", "--max-cost", "0.25"])
        .stderr_contains("stopping: --max-cost $0.25 reached (spent ~$0.30")
        .file_is(
            "t.md",
            "- [x] a spend=3 sleep=3 cost=0.3 <!-- id: a -->\n\
             - [x] b sleep=1 cost=0.01 <!-- id: b -->\n\
             - [ ] c <!-- id: c -->\n",
        )
        .timeout(Duration::from_secs(60))
        .failure();
    assert_eq!(call_args(out.path()).len(), 2, "`c` never started");
    let events = events_of_run(out.path());
    let fin = only(&events, "run_finished");
    assert_eq!(fin["stopped"], "max_cost");
    // The reported costs replace the live estimates once the agents end.
    assert!(
        (fin["cost_usd"].as_f64().unwrap() - 0.31).abs() < 1e-9,
        "{fin}"
    );
    assert!(fin.get("estimated").is_none(), "{fin}");
}

#[test]
fn max_cost_hard_stops_running_agents_with_an_estimate_and_the_next_run_continues_them() {
    let t = claude(Test::new())
        .file("run-batch.toml", DOLLAR_PER_MTOK)
        .file(
            "t.md",
            "- [ ] a spend=3 hang-once session=H1 <!-- id: a -->\n\
             - [ ] b sleep=2 session=H2 <!-- id: b -->\n",
        )
        .args(["t.md", "-j", "2", "--max-cost-hard", "0.25"])
        .stderr_contains("stopping: --max-cost-hard $0.25 reached (spent ~$0.30")
        .unchanged("t.md")
        .timeout(Duration::from_secs(60))
        .failure();
    let events = events_of_run(t.path());
    let fin = only(&events, "run_finished");
    assert_eq!(fin["stopped"], "max_cost_hard");
    assert_eq!(fin["estimated"], true, "{fin}");
    assert!(
        (fin["cost_usd"].as_f64().unwrap() - 0.3).abs() < 1e-9,
        "{fin}"
    );
    for e in named(&events, "task_finished") {
        assert_eq!(e["outcome"], "interrupted", "{e}");
        assert_eq!(e["reason"], "--max-cost-hard reached", "{e}");
    }
    let a = named(&events, "task_finished")
        .into_iter()
        .find(|e| e["task"] == "a")
        .unwrap();
    assert_eq!(a["estimated"], true, "{a}");
    assert_eq!(a["resumable"], true, "{a}");
    assert_eq!(a["input_tokens"], 300_000, "{a}");
    let status = status_json(t.path(), "t.md");
    assert_eq!(status["remaining"], 2, "{status:#}");
    assert_eq!(status["estimated"], true, "{status:#}");
    assert!((status["cost_usd"].as_f64().unwrap() - 0.3).abs() < 1e-9);
    // The table marks the estimate and says what it means.
    assert!(t.stderr.contains("spent ~$0.3000"), "{}", t.stderr);
    assert!(t.stderr.contains("~ an estimate"), "{}", t.stderr);

    // The next run, without the cap, continues `a`'s session (`b` may have
    // been stopped before its own began).
    let again = (t.then())
        .path_prefix("bin")
        .env("FAKE_DIR", "{dir}")
        .args(["t.md", "-j", "2"])
        .timeout(Duration::from_secs(60))
        .success();
    // (`b` may have been stopped before it could record its call.)
    let calls = call_args(again.path());
    let resumed = (calls.iter())
        .flat_map(|c| c.iter())
        .filter(|a| *a == "--resume=H1")
        .count();
    assert_eq!(resumed, 1, "{calls:?}");
}

#[test]
fn max_cost_hard_below_max_cost_is_refused() {
    claude(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .args(["t.md", "--max-cost", "2", "--max-cost-hard", "1"])
        .stderr_contains("--max-cost-hard $1.00 is below --max-cost $2.00")
        .unchanged("t.md")
        .status(2);
}

#[test]
fn a_later_attempt_escalates_to_another_agent_and_a_longer_timeout() {
    // The first attempt (the task's own agent, a 1 s timeout) times out;
    // the second runs `claude --model big` with 20 s, and its command line
    // says so.
    let out = claude(Test::new())
        .file(
            "t.md",
            "- [ ] a sleep=2 <!-- id: a -->\n  <!-- timeout: 1s; escalate: 2 agent=\"claude --model big\" timeout=20s -->\n",
        )
        .args(["t.md", "--retries", "1"])
        .stderr_contains("start    a (attempt 2, escalated: agent claude --model big, timeout 20s)")
        .timeout(Duration::from_secs(60))
        .success();
    let events = events_of_run(out.path());
    let started = named(&events, "task_started");
    assert_eq!(started.len(), 2);
    assert!(started[0].get("escalation").is_none(), "{}", started[0]);
    assert!(
        !started[0]["command"]
            .as_str()
            .unwrap()
            .contains("--model big"),
        "{}",
        started[0]
    );
    assert_eq!(
        started[1]["escalation"],
        "agent claude --model big, timeout 20s"
    );
    assert!(
        started[1]["command"]
            .as_str()
            .unwrap()
            .contains("--model big"),
        "{}",
        started[1]
    );
    let finished = named(&events, "task_finished");
    assert_eq!(finished[0]["outcome"], "timed_out");
    assert_eq!(finished[1]["outcome"], "succeeded");
    let calls = call_args(out.path());
    assert!(
        calls[1].windows(2).any(|w| w == ["--model", "big"]),
        "{calls:?}"
    );
}

#[test]
fn an_escalation_to_an_agent_that_cannot_run_is_refused_before_anything_starts() {
    let out = claude(Test::new())
        .file(
            "t.md",
            "- [ ] a <!-- id: a -->\n  <!-- escalate: 2 agent=no-such-agent-here -->\n",
        )
        .args(["t.md"])
        .stderr_contains("no-such-agent-here")
        .unchanged("t.md")
        .status(2);
    assert!(call_args(out.path()).is_empty(), "nothing started");
}

#[test]
fn a_bad_escalation_is_an_error_at_its_place() {
    claude(Test::new())
        .file("t.md", "- [ ] a <!-- escalate: 1 timeout=5m -->\n")
        .args(["t.md"])
        .stderr_contains("t.md:1:24")
        .stderr_contains("escalate")
        .unchanged("t.md")
        .status(2);
}

/// A fake `gemini` on PATH (Gemini CLI's stream-json), its calls recorded.
fn gemini(t: Test) -> Test {
    t.symlink("bin/gemini", STREAM_AGENT)
        .path_prefix("bin")
        .env("FAKE_DIR", "{dir}")
}

#[test]
fn geminis_terminal_quota_waits_for_the_reset_its_message_gives_and_resumes() {
    // The class says "usage limit"; the reset is only in its words.
    let out = gemini(Test::new())
        .file("run-batch.toml", QUICK_LIMITS)
        .file("t.md", "- [ ] a limited-once session=G1 <!-- id: a -->\n")
        .env("FAKE_RESET", "2")
        .args(["t.md", "--agent", "gemini", "--retries", "0"])
        .stderr_contains("gemini: waiting for the usage limit until ")
        .file_is("t.md", "- [x] a limited-once session=G1 <!-- id: a -->\n")
        .timeout(Duration::from_secs(60))
        .success();
    let events = events_of_run(out.path());
    assert_eq!(
        named(&events, "task_finished")[0]["class"],
        "limit_exhausted"
    );
    assert_eq!(only(&events, "limit_wait")["reset_known"], true);
    let over = only(&events, "limit_wait_over");
    assert!(over["waited_secs"].as_f64().unwrap() >= 2.0, "{over}");
    let calls = call_args(out.path());
    assert!(
        calls[1].windows(2).any(|w| w == ["--resume", "G1"]),
        "{calls:?}"
    );
}

#[test]
fn geminis_retryable_quota_throttles_and_its_auth_error_stops_the_provider() {
    let out = gemini(Test::new())
        .file("t.md", "- [ ] a throttled-once <!-- id: a -->\n")
        .args(["t.md", "--agent", "gemini", "--retries", "0"])
        .stderr_contains("gemini: throttled; at most 1 at once")
        .file_is("t.md", "- [x] a throttled-once <!-- id: a -->\n")
        .timeout(Duration::from_secs(60))
        .success();
    let events = events_of_run(out.path());
    assert_eq!(named(&events, "task_finished")[0]["class"], "throttled");

    // "Failed to sign in." says nothing the table knows: the class does.
    let out = gemini(Test::new())
        .file(
            "t.md",
            "- [ ] a authfail <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
        )
        .args(["t.md", "--agent", "gemini", "-j", "1", "--retries", "3"])
        .stderr_contains("gemini: stopped (")
        .unchanged("t.md")
        .failure();
    let events = events_of_run(out.path());
    assert_eq!(only(&events, "task_finished")["class"], "auth");
    assert_eq!(
        call_args(out.path()).len(),
        1,
        "no retry, and `b` never started"
    );
}

#[test]
fn an_attempt_that_timed_out_before_reporting_its_spend_is_priced_from_its_tokens() {
    let out = claude(Test::new())
        .file("run-batch.toml", DOLLAR_PER_MTOK)
        .file("t.md", "- [ ] a spend=2 sleep=30 <!-- id: a -->\n")
        .args(["t.md", "--timeout", "1s", "--grace", "1s"])
        .unchanged("t.md")
        .timeout(Duration::from_secs(60))
        .failure();
    let events = events_of_run(out.path());
    let finished = only(&events, "task_finished");
    assert_eq!(finished["outcome"], "timed_out");
    assert_eq!(finished["estimated"], true, "{finished}");
    assert_eq!(finished["input_tokens"], 200_000, "{finished}");
    assert!((finished["cost_usd"].as_f64().unwrap() - 0.2).abs() < 1e-9);
    assert_eq!(only(&events, "run_finished")["estimated"], true);
}

#[test]
fn the_configs_escalation_applies_to_tasks_without_their_own() {
    let out = claude(Test::new())
        .file(
            "run-batch.toml",
            "[run]\nescalate = [\"2 agent='claude --model big'\"]\n",
        )
        .file(
            "t.md",
            "- [ ] a error-once <!-- id: a -->\n- [ ] b error-once <!-- id: b -->\n  <!-- escalate: 2 agent=\"claude --model own\" -->\n",
        )
        .args(["t.md", "-j", "1", "--retries", "1"])
        .timeout(Duration::from_secs(60))
        .success();
    let events = events_of_run(out.path());
    let second = |task: &str| {
        named(&events, "task_started")
            .into_iter()
            .find(|e| e["task"] == task && e["attempt"] == 2)
            .unwrap()["escalation"]
            .clone()
    };
    assert_eq!(second("a"), "agent claude --model big");
    assert_eq!(second("b"), "agent claude --model own", "the hint wins");
}

#[test]
fn a_bad_escalation_in_the_config_says_where() {
    claude(Test::new())
        .file("run-batch.toml", "[run]\nescalate = [\"2 model=opus\"]\n")
        .file("t.md", "- [ ] a <!-- id: a -->\n")
        .args(["t.md"])
        .stderr_contains("run-batch.toml:2:")
        .stderr_contains("`escalate` steps are")
        .unchanged("t.md")
        .status(2);
}
