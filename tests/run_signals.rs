//! `run-batch run` while things happen to it: Ctrl-C (SIGINT), SIGTERM, a
//! second Ctrl-C, SIGKILL of run-batch itself (the guard ends its agents and
//! the rerun carries on), a second run on the same file (the lock), and hand
//! edits to the task file during a run.
//!
//! run-batch runs in the background here ([`Background`]) so a test can wait
//! until the agents are under way before acting; no test relies on a fixed
//! delay.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::agents::*;
use common::{Test, run_batch_in};

fn log_has(dir: &Path, line_start: &str) -> bool {
    std::fs::read_to_string(dir.join(FAKE_LOG))
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with(line_start))
}

/// Waits until the fake agents of `ids` have started and `children` child
/// pids are written.
fn wait_for_agents(dir: &Path, ids: &[&str], children: usize) {
    wait_until(PATIENCE, &format!("agents {ids:?} are running"), || {
        ids.iter().all(|id| log_has(dir, &format!("start {id} ")))
            && read_pids(&dir.join(FAKE_PIDS)).len() >= children
    });
}

// ---- Ctrl-C and SIGTERM ----------------------------------------------------------

const INTERRUPTED_PLAN: &str = "
    # Plan

    ## One
    - [ ] quick <!-- id: quick -->

    ## Two
    - [ ] hanging child hang <!-- id: hanging -->
    - [ ] obstinate child stubborn <!-- id: stubborn -->
    - [ ] waiting <!-- id: waiting -->
    ";

fn interrupt_with(sig: i32, name: &str) {
    let t = Test::new().fake_agent().file("t.md", INTERRUPTED_PLAN);
    let dir = t.path().to_owned();
    let run = Background::start(
        &dir,
        &[
            "t.md",
            "--agent",
            "fake-agent",
            "-j",
            "2",
            "--grace",
            "500ms",
        ],
    );
    wait_for_agents(&dir, &["hanging", "stubborn"], 2);
    run.signal(sig);
    let end = run.wait(PATIENCE);
    end.assert_code(130);
    assert!(
        end.stderr.contains(&format!(
            "stopping: {name} received: no new tasks; sent {name} to 2 running agents, SIGKILL after 500ms"
        )),
        "{}",
        end.stderr
    );
    assert!(end.stderr.contains("stopped  hanging"), "{}", end.stderr);
    assert!(end.stderr.contains("stopped  stubborn"), "{}", end.stderr);
    // Only what succeeded is ticked.
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        common::unindent(INTERRUPTED_PLAN).replace("- [ ] quick", "- [x] quick")
    );
    // Nothing new started, nothing is left running (children included).
    let log = FakeLog::read(&dir);
    assert_eq!(log.count("waiting"), 0);
    let events = events(&dir, "t.md");
    assert_all_gone(
        &read_pids(&dir.join(FAKE_PIDS)),
        &agent_pids(&events),
        Duration::from_secs(1),
    );
    let fin = named(&events, "run_finished");
    assert_eq!(fin[0]["outcome"], "interrupted");
    // The run is recorded as interrupted.
    let status = status_json(&dir, "t.md");
    assert_eq!(status["last_run"]["outcome"], "interrupted");
    assert_eq!(status["done"], 1);
    assert_eq!(status["remaining"], 3);
    let failed: Vec<(&str, &str)> = status["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        [("hanging", "interrupted"), ("stubborn", "interrupted")]
    );
    drop(t);
}

#[test]
fn ctrl_c_stops_every_agent_and_its_children_and_exits_130() {
    interrupt_with(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    interrupt_with(libc::SIGTERM, "SIGTERM");
}

#[test]
fn a_second_ctrl_c_kills_at_once() {
    let t = Test::new().fake_agent().file(
        "t.md",
        "# Plan\n- [ ] a child stubborn <!-- id: a -->\n- [ ] b child stubborn <!-- id: b -->\n",
    );
    let dir = t.path().to_owned();
    // With a grace period this long, only the second Ctrl-C can end the run in time.
    let run = Background::start(&dir, &["t.md", "--agent", "fake-agent", "--grace", "10m"]);
    wait_for_agents(&dir, &["a", "b"], 2);
    run.signal(libc::SIGINT);
    wait_until(PATIENCE, "run-batch is cancelling", || {
        !named(&events(&dir, "t.md"), "cancelling").is_empty()
    });
    let second = Instant::now();
    run.signal(libc::SIGINT);
    let end = run.wait(PATIENCE);
    end.assert_code(130);
    assert!(second.elapsed() < PATIENCE);
    assert!(
        end.stderr
            .contains("stopping: second SIGINT: killing every agent now"),
        "{}",
        end.stderr
    );
    assert_all_gone(
        &read_pids(&dir.join(FAKE_PIDS)),
        &agent_pids(&events(&dir, "t.md")),
        Duration::from_secs(1),
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        "# Plan\n- [ ] a child stubborn <!-- id: a -->\n- [ ] b child stubborn <!-- id: b -->\n"
    );
    drop(t);
}

// ---- run-batch killed ------------------------------------------------------------

#[test]
fn when_run_batch_is_killed_the_guard_ends_its_agents_and_a_rerun_finishes_the_work() {
    let plan = "
        # Plan

        ## One
        - [ ] quick <!-- id: quick -->

        ## Two
        - [ ] a hangif=first-run <!-- id: a -->
        - [ ] b stubbornif=first-run <!-- id: b -->
        - [ ] c <!-- id: c -->
        ";
    let t = Test::new()
        .hold_agent()
        .file("t.md", plan)
        .file("first-run", "");
    let dir = t.path().to_owned();
    let args = [
        "t.md",
        "--agent",
        "hold-agent",
        "-j",
        "2",
        "--grace",
        "500ms",
    ];
    let run = Background::start(&dir, &args);
    let pid = run.pid();
    wait_for_agents(&dir, &["a", "b"], 2);
    wait_until(PATIENCE, "`quick` is ticked", || {
        std::fs::read_to_string(dir.join("t.md"))
            .unwrap()
            .contains("- [x] quick")
    });
    let first_events = events(&dir, "t.md");
    let agents = agent_pids(&first_events);
    assert_eq!(agents.len(), 3, "quick, a and b started: {first_events:#?}");
    let children = read_pids(&dir.join(FAKE_PIDS));
    let killed = Instant::now();
    let end = run.kill();
    assert_eq!(end.status.code(), None, "killed by SIGKILL");
    // Every agent and child dies, the stubborn one after the 500ms grace.
    assert_all_gone(&children, &agents, Duration::from_secs(10));
    eprintln!("agents gone {:?} after SIGKILL", killed.elapsed());

    // Until a rerun, status already sees the crash.
    let status = status_json(&dir, "t.md");
    assert_eq!(status["last_run"]["outcome"], "crashed");
    assert_eq!(status["done"], 1);

    // The same command again: carries on, reports the crash, ticks the rest.
    std::fs::remove_file(dir.join("first-run")).unwrap();
    let first_run_id = run_dirs(&dir, "t.md")[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = t
        .args(args)
        .stderr_contains(&format!(
            "note: the previous run {first_run_id} (pid {pid}) ended without finishing; it crashed or was killed"
        ))
        .stderr_contains("run-batch: 3 of 4 tasks to run from t.md")
        .file_is(
            "t.md",
            &common::unindent(plan).replace("- [ ]", "- [x]"),
        )
        .success();
    let log = FakeLog::read(out.path());
    // `quick` was ticked before the kill: it never ran again.
    assert_eq!(log.count("quick"), 1);
    assert_eq!(log.count("a"), 2);
    assert_eq!(log.count("b"), 2);
    assert_eq!(log.count("c"), 1);
    let text = out.read("t.md");
    assert_eq!(text.matches("- [x]").count(), 4);
    let journal: serde_json::Value =
        serde_json::from_str(&out.read(".run-batch/t.md/journal.json")).unwrap();
    assert_eq!(journal["runs"][0]["outcome"], "crashed");
    assert_eq!(journal["runs"][1]["outcome"], "succeeded");
    let status = status_json(out.path(), "t.md");
    assert_eq!(status["last_run"]["outcome"], "succeeded");
    assert_eq!(status["remaining"], 0);
}

// ---- the lock ---------------------------------------------------------------------

#[test]
fn a_second_run_on_the_same_file_is_refused_naming_the_first_ones_pid() {
    let t = Test::new()
        .hold_agent()
        .file("t.md", "# Plan\n- [ ] a wait=go <!-- id: a -->\n");
    let dir = t.path().to_owned();
    let first = Background::start(&dir, &["t.md", "--agent", "hold-agent"]);
    wait_until(PATIENCE, "the first run's agent is waiting", || {
        dir.join("go.waiting").exists()
    });
    let out = t
        .args(["t.md", "--agent", "hold-agent"])
        .stderr_contains(&format!(
            "`t.md` is already being run by run-batch (pid {})",
            first.pid()
        ))
        .unchanged("t.md")
        .status(2);
    assert_eq!(
        run_dirs(&dir, "t.md").len(),
        1,
        "the second run recorded nothing"
    );
    std::fs::write(dir.join("go"), "").unwrap();
    first.wait(PATIENCE).assert_code(0);
    assert_eq!(FakeLog::read(&dir).count("a"), 1);
    assert_eq!(out.read("t.md"), "# Plan\n- [x] a wait=go <!-- id: a -->\n");
}

#[test]
fn a_second_run_through_a_symlink_is_refused_too() {
    let t = Test::new()
        .hold_agent()
        .file("t.md", "# Plan\n- [ ] a wait=go <!-- id: a -->\n")
        .symlink("link.md", "t.md");
    let dir = t.path().to_owned();
    let first = Background::start(&dir, &["t.md", "--agent", "hold-agent"]);
    wait_until(PATIENCE, "the first run's agent is waiting", || {
        dir.join("go.waiting").exists()
    });
    // The second run ends while the first still holds the lock (its agent
    // waits for `go`): had it not been refused, it would wait for `go` too,
    // and be killed after the test's patience.
    let (second, hung) =
        Background::start(&dir, &["link.md", "--agent", "hold-agent"]).wait_or_kill(PATIENCE);
    assert!(
        !hung,
        "the second run was not refused: still running after {PATIENCE:?}; killed\n{}",
        second.stderr
    );
    std::fs::write(dir.join("go"), "").unwrap();
    first.wait(PATIENCE).assert_code(0);
    assert_eq!(
        second.status.code(),
        Some(2),
        "the second run was not refused:\n{}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains("is already being run by run-batch (pid "),
        "{}",
        second.stderr
    );
    assert_eq!(FakeLog::read(&dir).count("a"), 1);
    drop(t);
}

// ---- hand edits during a run --------------------------------------------------------

#[test]
fn hand_edits_during_a_run_are_honoured_and_kept() {
    let before = "
        # Plan

        Intro text.

        ## One
        <!-- parallel: false -->
        - [ ] a wait=go <!-- id: a -->
        - [ ] b <!-- id: b -->

        ## Two
        - [ ] c <!-- id: c -->
        ";
    let t = Test::new().hold_agent().file("t.md", before);
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "hold-agent", "-j", "4"]);
    wait_until(PATIENCE, "`a` is running", || {
        dir.join("go.waiting").exists()
    });
    // While `a` runs: tick `b` by hand, add a task to wave two, edit prose.
    let edited = common::unindent(before)
        .replace(
            "Intro text.",
            "Intro text, edited by hand.\nAnd a new line  with  spaces.",
        )
        .replace("- [ ] b", "- [x] b")
        .replace(
            "- [ ] c <!-- id: c -->\n",
            "- [ ] c <!-- id: c -->\n- [ ] d, added during the run <!-- id: d -->\n",
        );
    save(&dir.join("t.md"), &edited);
    std::fs::write(dir.join("go"), "").unwrap();
    let end = run.wait(PATIENCE);
    end.assert_code(0);
    let log = FakeLog::read(&dir);
    assert_eq!(log.count("b"), 0, "`b` was ticked by hand: {}", end.stderr);
    assert_eq!(log.count("a"), 1);
    assert_eq!(log.count("c"), 1);
    assert_eq!(log.count("d"), 1, "the added task ran: {}", end.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        edited
            .replace("- [ ] a", "- [x] a")
            .replace("- [ ] c", "- [x] c")
            .replace("- [ ] d", "- [x] d")
    );
    drop(t);
}

const THREE_WAVES: &str = "
    # Plan

    ## One
    - [ ] a <!-- id: a -->

    ## Two
    - [ ] b wait=go <!-- id: b -->

    ## Three
    - [ ] c <!-- id: c -->
    ";

#[test]
fn a_box_cleared_by_a_save_of_an_older_copy_is_ticked_again() {
    // An editor that loaded the file before `a` was ticked saves its old
    // buffer: `a` succeeded in this run, so its box is ticked again, with a
    // note, and `a` does not run twice.
    let t = Test::new().hold_agent().file("t.md", THREE_WAVES);
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "hold-agent"]);
    wait_until(PATIENCE, "`b` is running", || {
        dir.join("go.waiting").exists()
    });
    let text = std::fs::read_to_string(dir.join("t.md")).unwrap();
    assert!(text.contains("- [x] a"), "{text}");
    save(&dir.join("t.md"), &text.replace("- [x] a", "- [ ] a"));
    wait_until(PATIENCE, "`a` is ticked again", || {
        std::fs::read_to_string(dir.join("t.md"))
            .unwrap()
            .contains("- [x] a")
    });
    std::fs::write(dir.join("go"), "").unwrap();
    let end = run.wait(PATIENCE);
    end.assert_code(0);
    assert!(
        end.stderr.contains(
            "note: a: its box was cleared by a save of an older copy of the file; ticking it again"
        ),
        "{}",
        end.stderr
    );
    assert_eq!(FakeLog::read(&dir).count("a"), 1);
    assert!(
        !std::fs::read_to_string(dir.join("t.md"))
            .unwrap()
            .contains("[ ]")
    );
    drop(t);
}

#[test]
fn tick_undo_during_a_run_runs_the_task_again() {
    let t = Test::new().hold_agent().file("t.md", THREE_WAVES);
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "hold-agent"]);
    wait_until(PATIENCE, "`b` is running", || {
        dir.join("go.waiting").exists()
    });
    let undo = run_batch_in(&dir, &["tick", "t.md", "a", "--undo"]);
    assert_eq!(undo.status.code(), Some(0), "{undo:?}");
    std::fs::write(dir.join("go"), "").unwrap();
    run.wait(PATIENCE).assert_code(0);
    assert_eq!(FakeLog::read(&dir).count("a"), 2);
    assert!(
        !std::fs::read_to_string(dir.join("t.md"))
            .unwrap()
            .contains("[ ]")
    );
    drop(t);
}

#[test]
fn a_hand_edit_that_does_not_plan_is_reported_and_the_run_goes_on() {
    let t = Test::new().hold_agent().file(
        "t.md",
        "# Plan\n- [ ] a wait=go <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
    );
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "hold-agent", "-j", "1"]);
    wait_until(PATIENCE, "`a` is running", || {
        dir.join("go.waiting").exists()
    });
    let broken = "# Plan\n- [ ] a wait=go <!-- id: a -->\n- [ ] b <!-- id: b -->\n- [ ] c <!-- after: nowhere -->\n";
    save(&dir.join("t.md"), broken);
    std::fs::write(dir.join("go"), "").unwrap();
    let end = run.wait(PATIENCE);
    end.assert_code(0);
    assert!(
        end.stderr
            .contains("warning: the task file changed but does not plan (line 4: ")
            && end.stderr.contains("keeping the previous plan"),
        "{}",
        end.stderr
    );
    // The edit is kept; the ticks land on top of it.
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        broken
            .replace("- [ ] a", "- [x] a")
            .replace("- [ ] b", "- [x] b")
    );
    assert_eq!(FakeLog::read(&dir).count("c"), 0);
    drop(t);
}

#[test]
fn status_during_a_run_lists_the_tasks_that_already_failed() {
    let t = Test::new().hold_agent().file(
        "t.md",
        "# Plan\n- [ ] f fail <!-- id: f -->\n- [ ] a wait=go <!-- id: a -->\n",
    );
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "hold-agent", "-j", "2"]);
    wait_until(PATIENCE, "`f` failed and `a` is running", || {
        dir.join("go.waiting").exists() && !named(&events(&dir, "t.md"), "task_finished").is_empty()
    });
    let status = status_json(&dir, "t.md");
    std::fs::write(dir.join("go"), "").unwrap();
    run.wait(PATIENCE).assert_code(1);
    assert_eq!(status["last_run"]["outcome"], "running");
    assert_eq!(status["failed"][0]["id"], "f", "{status:#}");
    assert_eq!(status["failed"][0]["reason"], "exit status 1");
    drop(t);
}

#[test]
fn ctrl_c_while_waiting_for_an_agents_leftovers_ends_them_at_once() {
    // The agent exits at once and leaves a child that ignores SIGTERM (ready
    // before the agent exits): run-batch waits the (long) grace period for it
    // unless Ctrl-C cuts it short.
    let t = Test::new()
        .fake_agent()
        .executable(
            "bin/leave-child",
            r#"
            ( trap '' TERM; : > child-ready; exec sleep 100000 ) &
            echo $! >> "$FAKE_PIDS"
            while [ ! -e child-ready ]; do sleep 0.01; done
            "#,
        )
        .file("t.md", "# Plan\n- [ ] a <!-- id: a -->\n");
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "leave-child", "--grace", "10m"]);
    wait_until(PATIENCE, "`a` is ticked", || {
        std::fs::read_to_string(dir.join("t.md"))
            .unwrap()
            .contains("- [x] a")
    });
    run.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(200));
    run.signal(libc::SIGINT);
    let end = run.wait(PATIENCE);
    assert_ne!(end.status.code(), None, "run-batch ended by itself");
    assert_all_gone(
        &read_pids(&dir.join(FAKE_PIDS)),
        &agent_pids(&events(&dir, "t.md")),
        Duration::from_secs(1),
    );
    drop(t);
}

#[test]
fn a_crashed_runs_records_are_read_from_any_folder() {
    let t = Test::new().fake_agent().file(
        "plans/t.md",
        "# Plan\n\n## One\n- [ ] f fail <!-- id: f -->\n\n## Two\n- [ ] h hang <!-- id: h -->\n",
    );
    let dir = t.path().to_owned();
    let run = Background::start(
        &dir,
        &[
            "plans/t.md",
            "--agent",
            "fake-agent",
            "--keep-going",
            "--grace",
            "500ms",
        ],
    );
    wait_for_agents(&dir, &["h"], 0);
    run.kill();
    let out = t
        .current_dir("plans")
        .args(["status", "t.md", "--json"])
        .success();
    let json = out.json();
    assert_eq!(json["last_run"]["outcome"], "crashed");
    assert_eq!(json["failed"][0]["id"], "f", "{json:#}");
}

/// Task `a` waits (busy, for speed) until `b`'s process is gone (reaped by
/// run-batch), then ticks `c` by hand at once: the save lands while run-batch
/// is writing `b`'s tick (a long file makes that take a while).
const EDIT_DURING_TICK_AGENT: &str = r#"#!/usr/bin/env bash
    if [ "$RUN_BATCH_TASK_ID" = b ]; then echo $$ > b.pid; exec fake-agent; fi
    if [ "$RUN_BATCH_TASK_ID" = a ]; then
      start=$SECONDS
      while [ ! -s b.pid ] && ((SECONDS - start < 20)); do :; done
      read -r pid < b.pid
      while [ -e "/proc/$pid" ] && ((SECONDS - start < 20)); do :; done
      sed 's/^- \[ \] c/- [x] c/' t.md > t.md.new && mv t.md.new t.md
    fi
    exec fake-agent
    "#;

#[test]
fn a_hand_edit_saved_while_a_tick_is_written_is_honoured() {
    let prose: String = (1..=20_000)
        .map(|n| format!("Line {n} of the notes, kept as they are.\n"))
        .collect();
    let plan = format!(
        "# Plan\n\n{prose}\n## One\n- [ ] a <!-- id: a -->\n- [ ] b <!-- id: b -->\n\n## Two\n- [ ] c <!-- id: c -->\n"
    );
    let out = Test::new()
        .fake_agent()
        .executable("bin/edit-agent", EDIT_DURING_TICK_AGENT)
        .file("t.md", &plan)
        .args(["t.md", "--agent", "edit-agent", "-j", "2"])
        .file_is("t.md", &plan.replace("- [ ]", "- [x]"))
        .success();
    let log = FakeLog::read(out.path());
    assert_eq!(
        log.count("c"),
        0,
        "`c` was ticked by hand during the run:\n{}",
        out.stderr
    );
}

// ---- run-batch killed while it starts agents ------------------------------------

/// A small xorshift generator: random kill moments without a dependency; the
/// seed is printed so a failing run can be repeated.
struct Xorshift(u64);

impl Xorshift {
    fn seeded() -> Xorshift {
        let seed = std::env::var("KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("KILL_SEED={seed}");
        Xorshift(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Live processes whose environment holds `mark` (`KEY=value`), but not us.
fn marked_processes(mark: &str) -> Vec<(i32, String)> {
    let mark = mark.as_bytes();
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me || is_gone(pid) {
            continue;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if environ.split(|&b| b == 0).any(|var| var == mark) {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            out.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    out
}

#[test]
fn sigkill_while_agents_are_being_started_leaves_no_agent_behind() {
    const TRIALS: usize = 30;
    let tasks: String = (1..=40).map(|n| format!("- [ ] task {n}\n")).collect();
    let t = Test::new().file("t.md", &format!("# Plan\n{tasks}"));
    let dir = t.path().to_owned();
    // Every process of the run (run-batch, its guard, its agents) inherits it.
    let mark = format!("FAKE_LOG={}", dir.join(FAKE_LOG).display());
    let mut rng = Xorshift::seeded();
    let mut orphaned = Vec::new();
    for trial in 0..TRIALS {
        let run = Background::start(
            &dir,
            &["t.md", "--agent", "sleep 30", "-j", "8", "--grace", "1s"],
        );
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        run.kill();
        // The guard sends SIGTERM, which ends `sleep` at once; give it time
        // to notice and act on a loaded machine.
        let start = Instant::now();
        let left = loop {
            let left = marked_processes(&mark);
            if left.is_empty() || start.elapsed() > Duration::from_secs(5) {
                break left;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if !left.is_empty() {
            orphaned.push((trial, left));
            kill_agents(&dir);
        }
        let _ = std::fs::remove_dir_all(dir.join(".run-batch"));
    }
    eprintln!(
        "{TRIALS} kills while starting agents, {} left processes behind",
        orphaned.len()
    );
    assert!(orphaned.is_empty(), "left behind: {orphaned:#?}");
}

// ---- Ctrl-C and shell background jobs ---------------------------------------------

#[test]
fn ctrl_c_ends_a_shell_agents_background_jobs_after_a_short_pause_not_the_grace() {
    // A non-interactive shell starts `sleep &` with SIGINT ignored: only the
    // SIGTERM that follows the forwarded Ctrl-C ends it. With a 10-minute
    // grace period, the run ends within the test's patience only if it came.
    let plan = "
        # Plan
        - [ ] a <!-- id: a -->

          ```sh
          sleep 100000 &
          echo $! >> \"$FAKE_PIDS\"
          wait
          ```
        ";
    let t = Test::new().file("t.md", plan);
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "shell", "--grace", "10m"]);
    // Running `sleep` itself: its SIGINT is ignored by then (the shell
    // ignores it in the forked child before the exec).
    wait_until(PATIENCE, "the background job is running", || {
        read_pids(&dir.join(FAKE_PIDS)).first().is_some_and(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n")
        })
    });
    run.signal(libc::SIGINT);
    let end = run.wait(PATIENCE);
    end.assert_code(130);
    for expected in [
        "stopping: SIGINT received: no new tasks; sent SIGINT to 1 running agent, SIGTERM after 2s, SIGKILL after 10m (press Ctrl-C again to kill now)\n",
        "waiting for the processes of `a`: still running 2s after SIGINT, sent SIGTERM; SIGKILL in 9m5",
        "stopped  a",
    ] {
        assert!(
            end.stderr.contains(expected),
            "{expected:?} in:\n{}",
            end.stderr
        );
    }
    assert_all_gone(
        &read_pids(&dir.join(FAKE_PIDS)),
        &agent_pids(&events(&dir, "t.md")),
        Duration::from_secs(1),
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        common::unindent(plan)
    );
    drop(t);
}

#[test]
fn a_run_waiting_for_an_agents_leftovers_says_whose_they_are() {
    // The agent exits at once, leaving a child that ignores SIGTERM: the run
    // waits out the grace period for it, and says so.
    let t = Test::new()
        .fake_agent()
        .executable(
            "bin/leave-child",
            r#"
            ( trap '' TERM; : > child-ready; exec sleep 100000 ) &
            echo $! >> "$FAKE_PIDS"
            while [ ! -e child-ready ]; do sleep 0.01; done
            "#,
        )
        .file("t.md", "# Plan\n- [ ] a <!-- id: a -->\n");
    let out = t
        .args(["t.md", "--agent", "leave-child", "--grace", "4s"])
        .stderr_contains(
            "waiting for the processes of `a`: still running 2s after SIGTERM; SIGKILL in 2s\n",
        )
        .file_is("t.md", "# Plan\n- [x] a <!-- id: a -->\n")
        .success();
    assert_all_gone(
        &read_pids(&out.path().join(FAKE_PIDS)),
        &agent_pids(&events(out.path(), "t.md")),
        Duration::from_secs(1),
    );
}
