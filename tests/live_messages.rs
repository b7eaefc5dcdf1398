//! Messages to a running Claude agent, with the fake `claude` (the real one
//! is in real_coop.rs): a message posted while it works is sent on its
//! stdin at once, and sent again in the resume prompt when the attempt is
//! continued (Claude keeps no mid-turn message in its session).

mod common;

use common::Test;
use common::agents::*;

#[test]
fn a_message_sent_live_is_sent_again_when_the_session_is_resumed() {
    let t = Test::new()
        .symlink("bin/claude", STREAM_AGENT)
        .file("t.md", "- [ ] work hang-once <!-- id: work -->\n");
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "claude"]);
    wait_until(PATIENCE, "the agent's session", || {
        !named(&events(&dir, "t.md"), "task_session").is_empty()
    });
    let post = std::process::Command::new(common::BIN)
        .args(["handoff", "post", "--to", "work", "--kind", "contract"])
        .args(["--file", "t.md", "GET /search now takes q, not query"])
        .current_dir(&dir)
        .output()
        .expect("run handoff post");
    assert!(post.status.success(), "{post:?}");
    wait_until(PATIENCE, "the live delivery", || {
        !named(&events(&dir, "t.md"), "handoff_delivered").is_empty()
    });
    run.signal(libc::SIGINT);
    run.wait(PATIENCE).assert_code(130);
    // The first attempt got the message on stdin, not in its prompt.
    let first = std::fs::read_to_string(dir.join("calls/1/stdin")).unwrap();
    assert!(!first.contains("GET /search"), "{first}");

    Background::start(&dir, &["t.md", "--agent", "claude"])
        .wait(PATIENCE)
        .assert_code(0);
    let argv = std::fs::read_to_string(dir.join("calls/2/argv")).unwrap();
    assert!(argv.lines().any(|a| a == "--resume=S1"), "{argv}");
    let resumed = std::fs::read_to_string(dir.join("calls/2/stdin")).unwrap();
    assert!(
        resumed.contains("from `person` (contract): GET /search now takes q, not query"),
        "{resumed}"
    );
}
