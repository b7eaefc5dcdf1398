//! The `claude` preset judged by its stream-json `result` event, not only by
//! its exit status. A fake `claude` on PATH replays samples of real Claude
//! Code output (fixtures/claude/), so these run without the real CLI; the
//! real binary is exercised against a mock API in tests/real_clis.rs.

mod common;

use common::Test;
use common::agents::{events, named};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/claude");

/// A fake `claude` that checks the flags run-batch must pass, records its
/// prompt (the first stream-json user message on stdin) and environment,
/// then prints `$SAMPLE` and exits with `$CODE`.
fn fake_claude(sample: &str, code: i32) -> Test {
    Test::new()
        .executable(
            "bin/claude",
            &format!(
                r#"#!/bin/bash
                [ "$1" = -p ] || {{ echo "expected -p first, got: $*" >&2; exit 9; }}
                case " $* " in *" --output-format stream-json "*) ;; *) echo "no stream-json: $*" >&2; exit 9 ;; esac
                case " $* " in *" --verbose "*) ;; *) echo "no --verbose" >&2; exit 9 ;; esac
                case " $* " in *" --input-format stream-json "*) ;; *) echo "no stream-json input: $*" >&2; exit 9 ;; esac
                # The prompt is the first user message; stdin stays open for more.
                IFS= read -r first
                printf '%s\n' "$first" | perl -MJSON::PP -ne 'print JSON::PP->new->decode($_)->{{message}}{{content}}' > stdin.txt
                echo "CLAUDECODE=${{CLAUDECODE-unset}}" > env.txt
                cat "{FIXTURES}/{sample}"
                exit {code}
                "#
            ),
        )
        .path_prefix("bin")
        .env("CLAUDECODE", "1")
        .file("task.md", "- [ ] Say hello\n")
        .args(["task.md", "--agent", "claude"])
}

#[test]
fn a_successful_result_ticks_the_task_and_the_prompt_arrives_on_stdin() {
    let out = fake_claude("stream_success.jsonl", 0)
        .file_is("task.md", "- [x] Say hello\n")
        .success();
    let stdin = out.read("stdin.txt");
    assert!(stdin.contains("Say hello"), "prompt on stdin:\n{stdin}");
    assert!(
        stdin.contains("Do not edit checkboxes"),
        "prompt explains ticking:\n{stdin}"
    );
    // A nested Claude Code refuses to start while CLAUDECODE is set.
    assert_eq!(out.read("env.txt"), "CLAUDECODE=unset\n");
}

#[test]
fn an_error_result_fails_even_with_exit_status_zero() {
    // A 401 comes back as `is_error: true`; the message is the reason.
    let out = fake_claude("stream_api_error_401.jsonl", 0)
        .file_is("task.md", "- [ ] Say hello\n")
        .stderr_contains("FAILED")
        .failure();
    assert!(
        out.stderr.contains("the agent reported an error"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("401"),
        "the API's message is shown:\n{}",
        out.stderr
    );
}

#[test]
fn a_stream_without_a_result_event_fails() {
    // What a SIGINT'd Claude leaves: events, exit 0, no `result`.
    let out = Test::new()
        .executable(
            "bin/claude",
            &format!(
                "#!/bin/bash\nIFS= read -r _\nhead -n 3 {FIXTURES}/stream_success.jsonl\nexit 0\n"
            ),
        )
        .path_prefix("bin")
        .file("task.md", "- [ ] Say hello\n")
        .args(["task.md"])
        .file_is("task.md", "- [ ] Say hello\n")
        .failure();
    assert!(
        out.stderr.contains("without a final result event"),
        "{}",
        out.stderr
    );
}

#[test]
fn max_turns_is_a_failure_with_its_reason() {
    let out = fake_claude("stream_max_turns.jsonl", 1).failure();
    assert!(
        out.stderr.contains("maximum number of turns"),
        "{}",
        out.stderr
    );
}

#[test]
fn status_json_records_the_session_and_cost() {
    let out = fake_claude("stream_success.jsonl", 0).success();
    let events = events(out.path(), "task.md");
    let finished = *named(&events, "task_finished")
        .first()
        .expect("a task_finished event");
    assert_eq!(
        finished["session_id"],
        "6f1c2a3e-8d4b-4f7a-9c2e-1b5d7e9a0c13"
    );
    assert!(finished["cost_usd"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_missing_claude_is_an_error_before_anything_starts() {
    Test::new()
        .env("PATH", "/usr/bin:/bin")
        .file("task.md", "- [ ] Say hello\n")
        .args(["task.md"])
        .stderr_contains("`claude` is not on PATH")
        .stderr_contains("npm install -g @anthropic-ai/claude-code")
        .unchanged("task.md")
        .status(2);
}
