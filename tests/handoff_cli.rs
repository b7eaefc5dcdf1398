//! Handoffs: agents of a run (and people) leave each other messages with
//! `run-batch handoff post`, read them with `read`, and find them in their
//! prompts.

mod common;

use common::Test;
use common::agents::*;

/// An agent that posts or reads, by task: `a` posts a contract for `b`,
/// waits for `b` to start, and ends; `b` waits for the message, reads its
/// messages (kept in `read-b.txt`), keeps its prompt, and ends.
const TALKER: &str = r#"#!/usr/bin/env bash
cat > "prompt-$RUN_BATCH_TASK_ID.txt"
case "$RUN_BATCH_TASK_ID" in
  a) run-batch handoff post --to b --kind contract "GET /search now takes q, not query" ;;
  b) for i in $(seq 100); do
       run-batch handoff read >> "read-b.txt"
       grep -q "GET /search" "read-b.txt" && break
       sleep 0.1
     done ;;
esac
"#;

fn talkers(t: Test) -> Test {
    t.executable("bin/talker", TALKER)
        .symlink("bin/run-batch", common::BIN)
        .path_prefix("bin")
}

#[test]
fn a_running_agent_reads_a_message_another_posted() {
    let out = talkers(Test::new())
        .file("t.md", "- [ ] a <!-- id: a -->\n- [ ] b <!-- id: b -->\n")
        .args(["t.md", "--agent", "talker", "-j", "2"])
        .stderr_contains("message  a → b (contract): GET /search now takes q, not query")
        .success();
    let read = out.read("read-b.txt");
    assert!(
        read.contains("[contract] from a to b at ")
            && read.contains("  GET /search now takes q, not query"),
        "{read}"
    );
    let events = events(out.path(), "t.md");
    let handoff = &named(&events, "handoff")[0];
    assert_eq!(handoff["from"], "a");
    assert_eq!(handoff["to"], "b");
    assert_eq!(handoff["kind"], "contract");
}

#[test]
fn a_message_posted_before_a_task_starts_is_in_its_prompt() {
    // `-j 1`: `a` posts, ends; `b` starts with the message in its prompt.
    let out = talkers(Test::new())
        .file(
            "t.md",
            "# Plan\n## Backend\n- [ ] a <!-- id: a -->\n## Frontend\n- [ ] b <!-- id: b -->\n",
        )
        .args(["t.md", "--agent", "talker", "-j", "1"])
        .success();
    let prompt = out.read("prompt-b.txt");
    assert!(prompt.contains("# Messages for you"), "{prompt}");
    assert!(
        prompt.contains("From `a` (contract, ")
            && prompt.contains("GET /search now takes q, not query"),
        "{prompt}"
    );
    assert!(
        prompt.contains("run-batch handoff post"),
        "the prompt says how: {prompt}"
    );
    assert!(!out.read("prompt-a.txt").contains("# Messages for you"));
}

#[test]
fn people_post_from_another_terminal_and_read_once() {
    let t = Test::new().file("t.md", "# Plan\n## Backend\n- [ ] api <!-- id: api -->\n");
    let dir = t.path().to_owned();
    let posted = run_batch_in_with_stdin(
        &dir,
        &[
            "handoff", "post", "--file", "t.md", "--to", "backend", "--kind", "blocker", "-",
        ],
        "the staging database is down\n",
    );
    assert!(posted.contains("posted blocker for backend"), "{posted}");
    let read = common::run_batch_in(&dir, &["handoff", "read", "--file", "t.md"]);
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(text.contains("[blocker] from person to backend"), "{text}");
    assert!(text.contains("  the staging database is down"), "{text}");
    let again = common::run_batch_in(&dir, &["handoff", "read", "--file", "t.md"]);
    assert_eq!(String::from_utf8_lossy(&again.stdout), "", "read once");
    let all = common::run_batch_in(&dir, &["handoff", "read", "--file", "t.md", "--all"]);
    // An id as earlier versions named it still addresses its section.
    let old = run_batch_in_with_stdin(
        &dir,
        &[
            "handoff",
            "post",
            "--file",
            "t.md",
            "--to",
            "plan/backend",
            "-",
        ],
        "back up\n",
    );
    assert!(old.contains("for backend"), "{old}");
    assert!(String::from_utf8_lossy(&all.stdout).contains("staging database"));
    drop(t);
}

#[test]
fn a_bad_address_lists_the_ids() {
    Test::new()
        .file("t.md", "# Plan\n## Backend\n- [ ] api <!-- id: api -->\n")
        .args(["handoff", "post", "--file", "t.md", "--to", "frontend", "hello"])
        .stderr(
            "error: no task or section `frontend` in `t.md`\n  = help: address a task (`api`), a section (`plan`, `backend`), or `all`\n",
        )
        .status(2);
}

#[test]
fn a_message_too_long_is_refused() {
    Test::new()
        .file("t.md", "- [ ] api <!-- id: api -->\n")
        .args(["handoff", "post", "--file", "t.md", "-"])
        .stdin("x".repeat(20_000))
        .stderr_contains("error: the message is longer than 16384 bytes")
        .status(2);
}

fn run_batch_in_with_stdin(dir: &std::path::Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(common::BIN)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
