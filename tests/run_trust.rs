//! The run's promise, item by item: a box is ticked only for work proven
//! done, the run owns a running task's box, a task keeps its identity when
//! its line is edited, an agent can say it is blocked, and the exit status
//! and summary tell the truth when a tick cannot be written.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Test;
use common::agents::*;

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

// ---- the run owns a running task's box ---------------------------------------------

#[test]
fn an_agent_that_ticks_its_own_box_and_fails_leaves_it_unticked() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # One
            - [ ] a tickself fail
            # Two
            - [ ] b
            ",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .file_is(
            "t.md",
            "
            # One
            - [ ] a tickself fail
            # Two
            - [ ] b
            ",
        )
        .stderr_contains("cleared  a-tickself-fail (ticked by an agent that did not succeed)")
        .stderr_contains("0 of 2 tasks done")
        .failure();
    let log = FakeLog::read(out.path());
    assert_eq!(log.count("b"), 0, "the next wave started");
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["done"], 0, "{status:#}");
}

#[test]
fn an_agent_that_ticks_its_own_box_does_not_start_the_next_wave_early() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "
            # One
            - [ ] a tickself sleep=1
            # Two
            - [ ] b
            ",
        )
        .args(["t.md", "--agent", "fake-agent"])
        .success();
    let log = FakeLog::read(out.path());
    let (a, b) = (log.only("a-tickself-sleep-1"), log.only("b"));
    assert!(!a.overlaps(b), "`b` started while `a` ran: {a:?} {b:?}");
    assert!(
        out.stderr.contains(
            "note: a-tickself-sleep-1: its box was ticked while its agent runs; the box stays run-batch's until the attempt ends"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn a_box_another_agent_ticks_is_honoured_and_reported() {
    // `-j 1`: `a` runs first and ticks `b`, which then never runs.
    let out = Test::new()
        .fake_agent()
        .file("t.md", "- [ ] a tick-other=b\n- [ ] b\n- [ ] c\n")
        .args(["t.md", "--agent", "fake-agent", "-j", "1"])
        .file_is("t.md", "- [x] a tick-other=b\n- [x] b\n- [x] c\n")
        .stderr_contains("edited   b: ticked in the file (while a-tick-other-b ran); honoured")
        .success();
    let log = FakeLog::read(out.path());
    assert_eq!(log.count("b"), 0);
    let events = events(out.path(), "t.md");
    let edit = named(&events, "box_edited");
    assert_eq!(edit.len(), 1, "{events:#?}");
    assert_eq!(edit[0]["task"], "b");
    assert_eq!(edit[0]["ticked"], true);
    assert_eq!(edit[0]["taken"], "honoured");
    assert_eq!(edit[0]["running"], serde_json::json!(["a-tick-other-b"]));
}

// ---- one task, one identity ------------------------------------------------------------

#[test]
fn rewording_a_running_task_keeps_its_attempt() {
    let t = Test::new()
        .hold_agent()
        .file("t.md", "- [ ] first wait=go\n- [ ] second\n");
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "hold-agent", "-j", "1"]);
    wait_until(PATIENCE, "`first` is running", || {
        dir.join("go.waiting").exists()
    });
    save(
        &dir.join("t.md"),
        "- [ ] the first task, said better\n- [ ] second\n",
    );
    // The run reads the edit before the agent ends.
    wait_until(PATIENCE, "the run reloaded the edited file", || {
        !named(&events(&dir, "t.md"), "plan_reloaded").is_empty()
    });
    std::fs::write(dir.join("go"), "").unwrap();
    run.wait(PATIENCE).assert_code(0);
    assert_eq!(
        read(&dir, "t.md"),
        "- [x] the first task, said better\n- [x] second\n"
    );
    let log = FakeLog::read(&dir);
    assert_eq!(log.count("first-wait-go"), 1);
    assert_eq!(log.count("the-first-task-said-better"), 0, "started twice");
    assert_eq!(log.max_concurrency(), 1);
    drop(t);
}

#[test]
fn removing_a_running_task_stops_it_and_frees_its_slot_only_when_it_is_gone() {
    // `a` ignores SIGTERM: its slot stays taken until the grace period ends
    // and SIGKILL takes it; only then may `b` start (`-j 1`).
    let t = Test::new().hold_agent().file(
        "t.md",
        "- [ ] a stubborn <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
    );
    let dir = t.path().to_owned();
    let run = Background::start(
        &dir,
        &["t.md", "--agent", "hold-agent", "-j", "1", "--grace", "1s"],
    );
    wait_until(PATIENCE, "`a` is running", || {
        FakeLog::read(&dir).count("a") == 1
    });
    save(&dir.join("t.md"), "- [ ] b <!-- id: b -->\n");
    let end = run.wait(PATIENCE);
    end.assert_code(0);
    assert_eq!(read(&dir, "t.md"), "- [x] b <!-- id: b -->\n");
    let events = events(&dir, "t.md");
    let order: Vec<String> = (events.iter())
        .filter(|e| matches!(e["event"].as_str(), Some("task_started" | "task_finished")))
        .map(|e| {
            format!(
                "{} {}",
                e["event"].as_str().unwrap(),
                e["task"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            "task_started a",
            "task_finished a",
            "task_started b",
            "task_finished b"
        ]
    );
    let finished = named(&events, "task_finished");
    assert_eq!(finished[0]["outcome"], "interrupted");
    assert_eq!(
        finished[0]["reason"],
        "the task was removed from the file while it ran"
    );
    let a_pid = named(&events, "task_started")[0]["pid"].as_i64().unwrap() as i32;
    assert!(is_gone(a_pid));
    drop(t);
}

// ---- an agent can say it could not finish ----------------------------------------------

#[test]
fn an_agent_that_says_it_is_blocked_is_not_ticked_and_not_retried() {
    let out = Test::new()
        .fake_agent()
        .file(
            "t.md",
            "- [ ] a say-blocked <!-- id: a -->\n- [ ] b <!-- id: b; after: a -->\n",
        )
        .args(["t.md", "--agent", "fake-agent", "--retries", "2"])
        .unchanged("t.md")
        .stderr_contains("BLOCKED  a (the database is down) log: ")
        .failure();
    assert_eq!(FakeLog::read(out.path()).count("a"), 1);
    let events = events(out.path(), "t.md");
    let finished = named(&events, "task_finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["outcome"], "blocked");
    assert_eq!(finished[0]["reason"], "the database is down");
    assert_eq!(named(&events, "task_blocked")[0]["task"], "b");
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["failed"][0]["id"], "a", "{status:#}");
    assert_eq!(status["failed"][0]["reason"], "the database is down");
}

#[test]
fn a_stream_agent_that_says_it_is_blocked_is_not_ticked() {
    let out = Test::new()
        .executable(
            "bin/claude",
            &std::fs::read_to_string(STREAM_AGENT).unwrap(),
        )
        .path_prefix("bin")
        .file("t.md", "- [ ] a blocked <!-- id: a -->\n")
        .args(["t.md", "--agent", "claude", "--retries", "1"])
        .unchanged("t.md")
        .stderr_contains("BLOCKED  a (the API key is missing)")
        .failure();
    let events = events(out.path(), "t.md");
    assert_eq!(named(&events, "task_finished").len(), 1);
}

#[test]
fn require_done_counts_only_agents_that_say_done() {
    Test::new()
        .fake_agent()
        .file(
            "t.md",
            "- [ ] quiet <!-- id: q -->\n- [ ] sure say-done <!-- id: s -->\n",
        )
        .args([
            "t.md",
            "--agent",
            "fake-agent",
            "--require-done",
            "--keep-going",
        ])
        .file_is(
            "t.md",
            "- [ ] quiet <!-- id: q -->\n- [x] sure say-done <!-- id: s -->\n",
        )
        .stderr_contains(
            "FAILED   q (the agent did not end with `RUN-BATCH: DONE` (required by `require-done`)",
        )
        .failure();
}

// ---- the exit status and the summary are true --------------------------------------------

#[test]
fn a_tick_that_cannot_be_written_fails_the_run_and_is_not_counted() {
    let t = Test::new()
        .hold_agent()
        .file("t.md", "- [ ] a wait=go <!-- id: a -->\n");
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "hold-agent"]);
    wait_until(PATIENCE, "`a` is running", || {
        dir.join("go.waiting").exists()
    });
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("t.md"), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::write(dir.join("go"), "").unwrap();
    let end = run.wait(PATIENCE);
    end.assert_code(1);
    assert!(
        end.stderr.contains(
            "error: `a` succeeded but its box could not be ticked: the file is read-only"
        ) && end.stderr.contains("0 of 1 tasks done"),
        "{}",
        end.stderr
    );
    assert_eq!(read(&dir, "t.md"), "- [ ] a wait=go <!-- id: a -->\n");
    assert_eq!(status_json(&dir, "t.md")["done"], 0);
    drop(t);
}

#[test]
fn a_task_file_deleted_during_the_run_fails_the_run() {
    let t = Test::new()
        .hold_agent()
        .file("t.md", "- [ ] a wait=go <!-- id: a -->\n");
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "hold-agent"]);
    wait_until(PATIENCE, "`a` is running", || {
        dir.join("go.waiting").exists()
    });
    std::fs::remove_file(dir.join("t.md")).unwrap();
    std::fs::write(dir.join("go"), "").unwrap();
    let end = run.wait(PATIENCE);
    end.assert_code(1);
    assert!(
        end.stderr
            .contains("error: `a` succeeded but its box could not be ticked"),
        "{}",
        end.stderr
    );
    drop(t);
}

// ---- saves in progress --------------------------------------------------------------------

#[test]
fn a_save_in_progress_holds_new_starts_and_loses_nothing() {
    // An editor truncates the file and keeps it open, empty, for a while
    // (a slow disk, `cat >`), then writes it back with an edit. The run does
    // not end with nothing to do, starts nothing meanwhile, and keeps the
    // edit.
    let plan = "- [ ] a wait=go\n- [ ] b\n- [ ] c\n";
    let t = Test::new().hold_agent().file("t.md", plan);
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "hold-agent", "-j", "1"]);
    wait_until(PATIENCE, "`a` is running", || {
        dir.join("go.waiting").exists()
    });
    let path = dir.join("t.md");
    let mut f = std::fs::File::create(&path).unwrap();
    std::fs::write(dir.join("go"), "").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        FakeLog::read(&dir).count("b"),
        0,
        "`b` started while the file was being saved"
    );
    use std::io::Write;
    f.write_all(b"- [ ] a wait=go\nA note saved by the editor.\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    f.write_all(b"- [ ] b\n- [ ] c\n").unwrap();
    drop(f);
    let end = run.wait(PATIENCE);
    end.assert_code(0);
    assert_eq!(
        read(&dir, "t.md"),
        "- [x] a wait=go\nA note saved by the editor.\n- [x] b\n- [x] c\n"
    );
    assert!(!end.stderr.contains("0 of 0"), "{}", end.stderr);
    let log = FakeLog::read(&dir);
    assert_eq!(
        (log.count("a-wait-go"), log.count("b"), log.count("c")),
        (1, 1, 1)
    );
    drop(t);
}
