//! Checkpoints, run for real: a ```` ```checkpoint ```` block's command runs
//! with `sh -c` in the task's working folder while the agent keeps working,
//! when a line of its output holds the marker (`when=`) or every so often
//! (`every=`). A failure stops the attempt at once; `then=tell` sends the
//! output to the agent instead. The tasks use the `shell` agent, so each
//! test's task file is also its script.

mod common;

use common::Test;
use common::agents::*;

#[test]
fn a_marker_in_the_output_runs_the_checkpoint_while_the_agent_works() {
    let out = Test::new()
        .file(
            "t.md",
            "
            # Plan
            - [ ] scaffold <!-- id: scaffold; agent: shell -->
              ```sh
              touch Cargo.toml
              echo SCAFFOLD-READY
              # Still working when the checkpoint runs: it sees the agent alive.
              for i in $(seq 50); do test -f checked.txt && break; sleep 0.1; done
              cp checked.txt seen-by-agent.txt
              ```
              ```checkpoint when=SCAFFOLD-READY
              test -f Cargo.toml && echo checked >> checked.txt
              ```
            ",
        )
        .arg("t.md")
        .success();
    assert_eq!(out.read("checked.txt"), "checked\n", "ran once");
    assert_eq!(out.read("seen-by-agent.txt"), "checked\n");
    assert!(out.read("t.md").contains("- [x] scaffold"));
    let events = events(out.path(), "t.md");
    let started = named(&events, "checkpoint_started");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["trigger"], "when=SCAFFOLD-READY");
    assert_eq!(started[0]["line"], 10);
    let passed = named(&events, "checkpoint_passed");
    assert_eq!(passed.len(), 1);
    assert_eq!(
        passed[0]["command"],
        "test -f Cargo.toml && echo checked >> checked.txt"
    );
}

#[test]
fn a_marker_in_the_progress_file_or_a_stream_event_counts_too() {
    // A fake stream-json agent: a marker counts in a text event and a
    // progress line, never in a tool call's input or the final result.
    let agent = r#"#!/usr/bin/env bash
cat > /dev/null
echo '{"type":"system","subtype":"init","session_id":"s1"}'
echo '{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"echo NEVER"}}]}}'
echo '{"type":"assistant","message":{"content":[{"type":"text","text":"done with it\nSTAGE-ONE"}]}}'
echo "halfway STAGE-TWO" >> "$RUN_BATCH_PROGRESS_FILE"
for i in $(seq 50); do test -f two.txt && break; sleep 0.1; done
echo '{"type":"result","subtype":"success","is_error":false,"result":"ok NEVER","session_id":"s1"}'
"#;
    let out = Test::new()
        .executable("bin/fake-claude", agent)
        .path_prefix("bin")
        .file(
            "run-batch.toml",
            "[agents.fake]\ncommand = \"fake-claude\"\noutput = \"stream-json\"\n",
        )
        .file(
            "t.md",
            "
            - [ ] work <!-- id: work; agent: fake -->
              ```checkpoint when=STAGE-ONE
              echo one >> one.txt
              ```
              ```checkpoint when=STAGE-TWO
              echo two >> two.txt
              ```
              ```checkpoint when=NEVER
              touch never.txt
              ```
            ",
        )
        .arg("t.md")
        .success();
    assert_eq!(out.read("one.txt"), "one\n", "the text");
    assert_eq!(out.read("two.txt"), "two\n", "the progress line");
    assert!(
        !out.path().join("never.txt").exists(),
        "not a tool call's input nor the final result"
    );
}

#[test]
fn an_interval_checkpoint_runs_every_so_often() {
    let out = Test::new()
        .file(
            "t.md",
            "
            - [ ] slow <!-- id: slow; agent: shell -->
              ```sh
              for i in $(seq 40); do
                test \"$(wc -l < ticks.txt 2>/dev/null || echo 0)\" -ge 3 && break
                sleep 0.1
              done
              ```
              ```checkpoint every=200ms
              echo tick >> ticks.txt
              ```
            ",
        )
        .arg("t.md")
        .success();
    let ticks = out.read("ticks.txt").lines().count();
    assert!(ticks >= 3, "{ticks} ticks");
    let events = events(out.path(), "t.md");
    assert_eq!(
        named(&events, "checkpoint_started")[0]["trigger"],
        "every=200ms"
    );
    assert!(named(&events, "checkpoint_passed").len() >= 3);
}

#[test]
fn a_failed_checkpoint_stops_the_attempt_and_the_retry_is_told_why() {
    let out = Test::new()
        .file(
            "t.md",
            "
            - [ ] build <!-- id: build; agent: shell; retries: 1 -->
              ```sh
              if [ \"$RUN_BATCH_ATTEMPT\" = 2 ]; then
                cp \"$RUN_BATCH_PROMPT_FILE\" retry-prompt.md
                exit 1
              fi
              echo BUILT
              for i in $(seq 300); do sleep 0.1; done
              touch finished.txt
              ```
              ```checkpoint when=BUILT
              echo 'error: missing semicolon at src/lib.rs:3'
              exit 3
              ```
            ",
        )
        .arg("t.md")
        .stderr_contains("CHECK    build: checkpoint `echo 'error: missing semicolon at src/lib.rs:3' …` (when=BUILT) failed (exit status 3); stopping the attempt")
        .failure();
    assert!(
        !out.path().join("finished.txt").exists(),
        "the agent was stopped before it finished its work"
    );
    assert!(out.read("t.md").contains("- [ ] build"));
    let events = events(out.path(), "t.md");
    let first = named(&events, "task_finished")[0];
    let reason = "checkpoint `echo 'error: missing semicolon at src/lib.rs:3' …` (when=BUILT, line 11) failed (exit status 3): error: missing semicolon at src/lib.rs:3";
    assert_eq!(first["reason"], reason);
    assert_eq!(first["outcome"], "failed");
    let failed = named(&events, "checkpoint_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["exit"]["Code"], 3);
    assert_eq!(
        failed[0]["tail"],
        "error: missing semicolon at src/lib.rs:3"
    );
    let prompt = out.read("retry-prompt.md");
    assert!(prompt.contains(reason), "{prompt}");
    assert!(
        prompt.contains("── run-batch: checkpoint ") && prompt.contains("error: missing semicolon"),
        "the output's tail is in the retry prompt: {prompt}"
    );
}

#[test]
fn then_tell_sends_the_output_to_the_agent_and_it_goes_on() {
    let out = Test::new()
        .symlink("bin/run-batch", common::BIN)
        .path_prefix("bin")
        .file(
            "t.md",
            "
            - [ ] lint <!-- id: lint; agent: shell -->
              ```sh
              echo READY
              for i in $(seq 100); do
                run-batch handoff read >> got.txt
                grep -q 'unused import' got.txt && break
                sleep 0.1
              done
              touch went-on.txt
              ```
              ```checkpoint when=READY then=tell
              echo 'warning: unused import `std::fs`'
              exit 1
              ```
            ",
        )
        .arg("t.md")
        .success();
    let got = out.read("got.txt");
    assert!(
        got.contains("from checkpoint to lint")
            && got.contains(
                "checkpoint `echo 'warning: unused import `std::fs`' …` (when=READY, line 11)"
            )
            && got.contains("failed (exit status 1)")
            && got.contains("warning: unused import `std::fs`"),
        "{got}"
    );
    assert!(out.path().join("went-on.txt").exists());
    assert!(out.read("t.md").contains("- [x] lint"));
    let events = events(out.path(), "t.md");
    let failed = named(&events, "checkpoint_failed");
    assert_eq!(failed[0]["told"], true);
    assert_eq!(named(&events, "task_finished")[0]["outcome"], "succeeded");
}

#[test]
fn checkpoints_are_inherited_from_the_section_and_the_file_and_the_nearest_wins() {
    let out = Test::new()
        .file(
            "t.md",
            "
            ```checkpoint when=MARK
            echo \"file $PWD\" >> which.txt
            ```

            # Plan
            ## One
            - [ ] a <!-- id: a; agent: shell -->
              ```sh
              echo MARK; sleep 0.3
              ```
            ## Two
            ```checkpoint when=MARK
            echo section >> which.txt
            ```

            - [ ] b <!-- id: b; agent: shell -->
              ```sh
              echo MARK; sleep 0.3
              ```
            - [ ] c <!-- id: c; agent: shell -->
              ```sh
              echo MARK; sleep 0.3
              ```
              ```checkpoint when=MARK
              echo own >> which.txt
              ```
            ",
        )
        .args(["t.md", "-j", "1"])
        .success();
    let dir = std::fs::canonicalize(out.path()).unwrap();
    let which = out.read("which.txt");
    let lines: Vec<&str> = which.lines().collect();
    assert_eq!(
        lines,
        [format!("file {}", dir.display()).as_str(), "section", "own"],
        "one each, run in the task's working folder"
    );
}

#[test]
fn a_bad_checkpoint_is_an_error_with_its_place_before_any_agent_starts() {
    let out = Test::new()
        .file(
            "t.md",
            "
            - [ ] a <!-- agent: shell -->
              ```sh
              touch ran.txt
              ```
              ```checkpoint wen=READY
              true
              ```
            - [ ] b <!-- agent: shell -->
              ```checkpoint every=soon then=tell
              true
              ```
            ",
        )
        .arg("t.md")
        .stderr_contains("t.md:5:17")
        .stderr_contains("unknown checkpoint setting `wen` (did you mean `when`?)")
        .stderr_contains("t.md:9:17")
        .stderr_contains("bad `every` value `soon`")
        .stderr_contains("write a duration like `30s`, `5m` or `1h30m`")
        .status(2);
    assert!(!out.path().join("ran.txt").exists(), "no agent started");
}
