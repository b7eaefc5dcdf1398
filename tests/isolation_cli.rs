//! `--isolate worktree` with real git: each task in a worktree of its own,
//! its work merged onto the user's branch before its box is ticked.

mod common;

use common::checks::git_ok as git;

use std::path::Path;

use common::{Test, run_batch_in};

/// A repository with `files` committed on `main`.
fn repo(t: Test, files: &[(&str, &str)]) -> Test {
    let mut t = t;
    for (path, text) in files {
        t = t.file(path, text);
    }
    let dir = t.path().to_owned();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "start"]);
    t
}

/// Waits until the run's events hold one named `name`.
fn wait_for_event(dir: &Path, name: &str) {
    common::agents::wait_until(common::agents::PATIENCE, name, || {
        !common::agents::named(&common::agents::events(dir, "t.md"), name).is_empty()
    });
}

const TWO_TASKS: &str = "# Plan\n- [ ] write a <!-- id: a; agent: shell -->\n  ```sh\n  echo from-a > a.txt\n  ```\n- [ ] write b <!-- id: b; agent: shell -->\n  ```sh\n  echo from-b > b.txt\n  ```\n";

#[test]
fn tasks_run_in_worktrees_and_their_work_lands_on_the_branch_before_the_tick() {
    let t = repo(Test::new(), &[("tasks.md", TWO_TASKS), ("README", "hi\n")]);
    let out = t
        .args(["tasks.md", "--isolate", "worktree", "-j", "2"])
        .stderr_contains("merged   a (1 file, ")
        .stderr_contains("merged   b (1 file, ")
        .success();
    let dir = out.path();
    assert_eq!(out.read("a.txt"), "from-a\n");
    assert_eq!(out.read("b.txt"), "from-b\n");
    assert_eq!(out.read("tasks.md"), TWO_TASKS.replace("- [ ]", "- [x]"));
    // Each task's work came in by a merge commit with its trailers.
    let log = git(dir, &["log", "--format=%s%n%b", "main"]);
    assert!(log.contains("Merge task a: write a"), "{log}");
    assert!(log.contains("Task-Id: b"), "{log}");
    // Nothing is left: no run-batch branch, no worktree but the main one.
    assert_eq!(git(dir, &["branch", "--list", "run-batch/*"]), "");
    assert_eq!(
        git(dir, &["worktree", "list"]).lines().count(),
        1,
        "only the main one"
    );
    // The user's tree has only the ticks uncommitted.
    let status = git(dir, &["status", "--porcelain"]);
    assert_eq!(status, " M tasks.md\n", "{status}");
}

#[test]
fn an_agents_edit_of_its_copy_of_the_plan_is_discarded() {
    let plan = "- [ ] a <!-- id: a; agent: shell -->\n  ```sh\n  echo done > out.txt\n  echo 'Added by the agent.' >> \"$RUN_BATCH_TASKFILE\"\n  sed -i 's/- \\[ \\]/- [x]/' \"$RUN_BATCH_TASKFILE\"\n  ```\n";
    let t = repo(Test::new(), &[("t.md", plan)]);
    let out = t.args(["t.md", "--isolate", "worktree"]).success();
    assert_eq!(out.read("out.txt"), "done\n");
    assert_eq!(out.read("t.md"), plan.replacen("- [ ]", "- [x]", 1));
    let committed = git(out.path(), &["show", "main:t.md"]);
    assert_eq!(committed, plan, "the plan in git is as it was");
}

#[test]
fn a_merge_conflict_fails_the_attempt_and_the_retry_starts_on_the_new_tip() {
    // `a` and `b` both write `same.txt` from the same base: whichever lands
    // second conflicts, is retried on the new tip, and then lands.
    let plan = "- [ ] a <!-- id: a; agent: shell; retries: 1 -->\n  ```sh\n  echo a > same.txt\n  sleep 0.3\n  ```\n- [ ] b <!-- id: b; agent: shell; retries: 1 -->\n  ```sh\n  echo b > same.txt\n  sleep 0.3\n  ```\n";
    let t = repo(Test::new(), &[("t.md", plan), ("same.txt", "base\n")]);
    let out = t
        .args(["t.md", "--isolate", "worktree", "-j", "2"])
        .stderr_contains(
            "its changes conflict with work that landed since it started, in `same.txt`",
        )
        .success();
    assert_eq!(out.read("t.md"), plan.replace("- [ ]", "- [x]"));
    let same = out.read("same.txt");
    assert!(same == "a\n" || same == "b\n", "{same}");
    // The conflicting branch is kept for a look.
    let kept = git(out.path(), &["branch", "--list", "run-batch/*"]);
    assert!(kept.contains("-conflict-1"), "{kept}");
}

#[test]
fn isolation_outside_git_is_an_error_before_anything_runs() {
    Test::new()
        .file("t.md", TWO_TASKS)
        .args(["t.md", "--isolate", "worktree"])
        .stderr_contains("is not in a git repository; running tasks in worktrees (`--isolate worktree` or an `isolate: worktree` hint) needs one")
        .unchanged("t.md")
        .status(2);
}

#[test]
fn uncommitted_work_in_the_users_checkout_holds_the_landing_and_is_never_lost() {
    // `a` changes `notes.txt`, which the user is editing (uncommitted):
    // the landing waits, naming the file; the user commits; it lands.
    let plan =
        "- [ ] a <!-- id: a; agent: shell -->\n  ```sh\n  echo from-the-agent > notes.txt\n  ```\n";
    let t = repo(Test::new(), &[("t.md", plan), ("notes.txt", "v1\n")]);
    let dir = t.path().to_owned();
    std::fs::write(dir.join("notes.txt"), "my own edit\n").unwrap();
    let run = common::agents::Background::start(&dir, &["t.md", "--isolate", "worktree"]);
    wait_for_event(&dir, "landing_waits");
    let waits =
        common::agents::named(&common::agents::events(&dir, "t.md"), "landing_waits")[0].clone();
    assert_eq!(waits["files"], serde_json::json!(["notes.txt"]));
    assert!(
        waits["reason"]
            .as_str()
            .unwrap()
            .contains("your uncommitted changes to `notes.txt` would be overwritten"),
        "{waits}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "my own edit\n"
    );
    git(&dir, &["commit", "-q", "-am", "my edit"]);
    let end = run.wait(common::agents::PATIENCE);
    // The user's commit and the agent's change now conflict: the task's
    // work is not forced in; with no retry the task fails, the user's
    // commit stays.
    let log = git(&dir, &["log", "--format=%s", "main"]);
    assert!(log.contains("my edit"), "{log}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "my own edit\n"
    );
    end.assert_code(1);
    drop(t);
}

#[test]
fn work_verified_by_a_run_that_was_killed_is_merged_and_ticked_by_the_next() {
    let plan =
        "- [ ] a <!-- id: a; agent: shell -->\n  ```sh\n  echo from-the-agent > out.txt\n  ```\n";
    let t = repo(Test::new(), &[("t.md", plan), ("out.txt", "old\n")]);
    let dir = t.path().to_owned();
    // A local change holds the landing; the run is killed while it waits.
    std::fs::write(dir.join("out.txt"), "local\n").unwrap();
    let run = common::agents::Background::start(&dir, &["t.md", "--isolate", "worktree"]);
    wait_for_event(&dir, "landing_waits");
    run.kill();
    git(&dir, &["checkout", "--", "out.txt"]);
    let out = run_batch_in(&dir, &["t.md", "--isolate", "worktree"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("note: `a`: its work was verified in the run that crashed; merged it"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("start    a"),
        "the agent did not run again:\n{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).unwrap(),
        "from-the-agent\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        plan.replacen("- [ ]", "- [x]", 1)
    );
    drop(t);
}

#[test]
fn work_verified_under_old_ids_by_a_killed_run_lands_under_short_ids() {
    // Ids were the whole heading path (`plan/docs/write-out`) when the run
    // was killed; the next run, with short ids, still finds the work it
    // verified in its worktree, merges it and ticks the box.
    let plan = "# Plan\n## Docs\n- [ ] write out <!-- agent: shell -->\n  ```sh\n  echo from-the-agent > out.txt\n  ```\n";
    let t = repo(Test::new(), &[("t.md", plan), ("out.txt", "old\n")]);
    let dir = t.path().to_owned();
    std::fs::write(dir.join("out.txt"), "local\n").unwrap();
    let run = common::agents::Background::start(&dir, &["t.md", "--isolate", "worktree"]);
    wait_for_event(&dir, "landing_waits");
    run.kill();
    git(&dir, &["checkout", "--", "out.txt"]);
    // What the earlier version left: its events and journal under the old
    // id, its worktree in a folder named after it.
    let state = common::agents::state_dir(&dir, "t.md");
    for run in common::agents::run_dirs(&dir, "t.md") {
        let events = run.join("events.jsonl");
        let text = std::fs::read_to_string(&events).unwrap();
        assert!(text.contains("\"task\":\"write-out\""), "{text}");
        let text = text.replace("\"task\":\"write-out\"", "\"task\":\"plan/docs/write-out\"");
        std::fs::write(&events, text).unwrap();
    }
    let journal = state.join("journal.json");
    let mut j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&journal).unwrap()).unwrap();
    j.as_object_mut().unwrap().remove("id_scheme");
    std::fs::write(&journal, serde_json::to_vec(&j).unwrap()).unwrap();
    let worktrees = state.join("worktrees");
    git(
        &dir,
        &[
            "worktree",
            "move",
            worktrees.join("write-out").to_str().unwrap(),
            worktrees.join("plan__docs__write-out").to_str().unwrap(),
        ],
    );

    let out = run_batch_in(&dir, &["t.md", "--isolate", "worktree"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "note: `write-out`: its work was verified in the run that crashed; merged it"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("start    "),
        "the agent did not run again:\n{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).unwrap(),
        "from-the-agent\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        plan.replacen("- [ ]", "- [x]", 1)
    );
    // The worktree went with its work, under either name.
    let left: Vec<_> = std::fs::read_dir(&worktrees)
        .map_or(Vec::new(), |d| d.flatten().map(|e| e.file_name()).collect());
    assert!(left.is_empty(), "{left:?}");
    drop(t);
}

// ---- --commit ---------------------------------------------------------------------------

const WAVES: &str = "# One\n- [ ] a <!-- id: a; agent: shell -->\n  ```sh\n  echo a > a.txt\n  ```\n# Two\n- [ ] b <!-- id: b; agent: shell -->\n  ```sh\n  echo b > b.txt\n  ```\n";

/// Runs `WAVES` with `--commit WHEN` after a hand edit the person has not
/// committed; returns the test output.
fn commit_run(when: &str, isolate: bool) -> common::Output {
    let t = repo(Test::new(), &[("t.md", WAVES)]);
    let dir = t.path().to_owned();
    std::fs::write(
        dir.join("t.md"),
        format!("{WAVES}\nA note I have not committed.\n"),
    )
    .unwrap();
    let mut args = vec!["t.md", "--commit", when];
    if isolate {
        args.extend(["--isolate", "worktree"]);
    }
    t.args(args).success()
}

/// The commits on `main` since the first, newest first: (subject, body).
fn commits(dir: &Path) -> Vec<String> {
    git(
        dir,
        &[
            "log",
            "--format=%s%n%b%x00",
            "main",
            "--not",
            "main~0^{/start}",
        ],
    )
    .split('\0')
    .map(str::trim)
    .filter(|c| !c.is_empty())
    .map(str::to_owned)
    .collect()
}

#[test]
fn commit_tick_commits_only_the_tick_bytes() {
    let out = commit_run("tick", false);
    let dir = out.path();
    let committed = git(dir, &["show", "main:t.md"]);
    assert_eq!(
        committed,
        WAVES.replace("- [ ]", "- [x]"),
        "ticks, not the note"
    );
    let log = commits(dir);
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[0].starts_with("Tick b\n"), "{log:?}");
    assert!(
        log[0].contains("Task-Id: b") && log[0].contains("Run-Id: "),
        "{log:?}"
    );
    // The note stays the person's, uncommitted; the agents' files too.
    assert_eq!(
        git(dir, &["diff", "--", "t.md"])
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .collect::<Vec<_>>(),
        ["+", "+A note I have not committed."]
    );
    let status = git(dir, &["status", "--porcelain"]);
    assert!(
        status.contains("?? a.txt") && status.contains(" M t.md"),
        "{status}"
    );
}

#[test]
fn commit_wave_and_end_commit_less_often() {
    let out = commit_run("wave", false);
    assert_eq!(commits(out.path()).len(), 2);
    let out = commit_run("end", false);
    let log = commits(out.path());
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].starts_with("Tick 2 tasks\n"), "{log:?}");
    assert!(log[0].contains("Task-Id: a\nTask-Id: b"), "{log:?}");
}

#[test]
fn commit_with_worktrees_commits_ticks_beside_the_merges() {
    let out = commit_run("end", true);
    let dir = out.path();
    let subjects = git(dir, &["log", "--format=%s", "main"]);
    assert!(subjects.starts_with("Tick 2 tasks\n"), "{subjects}");
    assert!(subjects.contains("Merge task a: a"), "{subjects}");
    assert_eq!(
        git(dir, &["show", "main:t.md"]),
        WAVES.replace("- [ ]", "- [x]")
    );
    assert_eq!(git(dir, &["show", "main:b.txt"]), "b\n");
}

#[test]
fn run_defaults_in_the_config_isolate_and_commit() {
    let t = repo(
        Test::new(),
        &[
            ("t.md", WAVES),
            (
                "run-batch.toml",
                "[run]\nisolate = \"worktree\"\ncommit = \"end\"\n",
            ),
        ],
    );
    let out = t
        .args(["t.md"])
        .stderr_contains("merged   a (1 file, ")
        .success();
    let subjects = git(out.path(), &["log", "--format=%s", "main"]);
    assert!(subjects.starts_with("Tick 2 tasks\n"), "{subjects}");
    // A flag wins over the config.
    let t = repo(
        Test::new(),
        &[
            ("t.md", WAVES),
            ("run-batch.toml", "[run]\nisolate = \"worktree\"\n"),
        ],
    );
    t.args(["t.md", "--isolate", "none"])
        .stderr_lacks("merged ")
        .success();
}

#[test]
fn a_run_killed_while_agents_work_in_worktrees_is_finished_by_the_next() {
    let plan = "- [ ] a <!-- id: a; agent: shell -->\n  ```sh\n  echo partial > a.txt\n  sleep 30\n  ```\n- [ ] b <!-- id: b; agent: shell -->\n  ```sh\n  echo b > b.txt\n  sleep 30\n  ```\n";
    let t = repo(Test::new(), &[("t.md", plan)]);
    let dir = t.path().to_owned();
    let run = common::agents::Background::start(
        &dir,
        &["t.md", "--isolate", "worktree", "-j", "2", "--grace", "1s"],
    );
    // Kill only once both agents have written their partial work: an agent
    // killed before its first line would leave nothing to wait for.
    let worktrees = dir.join(".run-batch/t.md/worktrees");
    let started = || common::agents::agent_pids(&common::agents::events(&dir, "t.md"));
    common::agents::wait_until(common::agents::PATIENCE, "both agents wrote", || {
        worktrees.join("a/a.txt").exists()
            && worktrees.join("b/b.txt").exists()
            && started().len() == 2
    });
    let groups = started();
    run.kill();
    // The guard ends the agents (well before their `sleep 30` would); their
    // worktrees stay, with their work.
    common::agents::assert_all_gone(&[], &groups, std::time::Duration::from_secs(15));
    assert_eq!(
        std::fs::read_to_string(worktrees.join("a/a.txt")).unwrap(),
        "partial\n"
    );
    // The next run: quick agents this time, in the same worktrees.
    let quick = plan.replace("sleep 30", "true");
    std::fs::write(dir.join("t.md"), &quick).unwrap();
    git(&dir, &["commit", "-q", "-am", "quicker"]);
    let out = run_batch_in(&dir, &["t.md", "--isolate", "worktree", "-j", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("continuing in"),
        "the worktrees were reused:\n{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("t.md")).unwrap(),
        quick.replace("- [ ]", "- [x]")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("a.txt")).unwrap(),
        "partial\n"
    );
    let merges = git(&dir, &["log", "--format=%s", "--merges", "main"]);
    assert_eq!(
        merges.lines().count(),
        2,
        "each task merged once:\n{merges}"
    );
    assert_eq!(git(&dir, &["branch", "--list", "run-batch/*"]), "");
    drop(t);
}

#[test]
fn changes_outside_a_tasks_files_are_reported() {
    let plan = "- [ ] a <!-- id: a; agent: shell; files: a.txt -->\n  ```sh\n  echo 1 > a.txt\n  echo 2 > other.txt\n  ```\n- [ ] b claims nothing <!-- id: b; agent: shell -->\n  ```sh\n  echo 3 > b.txt\n  ```\n";
    let t = repo(Test::new(), &[("t.md", plan)]);
    let out = t
        .args(["t.md", "--isolate", "worktree"])
        .stderr_contains("changed outside its files: other.txt")
        .success();
    let events = common::agents::events(out.path(), "t.md");
    let landed = common::agents::named(&events, "task_landed");
    let of = |id: &str| {
        (landed.iter())
            .find(|e| e["task"] == id)
            .unwrap_or_else(|| panic!("{id} landed: {landed:?}"))
    };
    assert_eq!(of("a")["undeclared"], serde_json::json!(["other.txt"]));
    assert!(of("b").get("undeclared").is_none(), "b claimed nothing");
    let status = common::agents::status_json(out.path(), "t.md");
    let by_task = status["by_task"].as_array().unwrap();
    let a = by_task.iter().find(|t| t["id"] == "a").unwrap();
    assert_eq!(a["undeclared_changes"], serde_json::json!(["other.txt"]));
}

#[test]
fn an_isolate_hint_puts_only_its_tasks_in_worktrees() {
    let plan = "- [ ] a <!-- id: a; agent: shell; isolate: worktree -->\n  ```sh\n  echo a > a.txt\n  ```\n- [ ] b <!-- id: b; agent: shell -->\n  ```sh\n  echo b > b.txt\n  ```\n";
    let t = repo(Test::new(), &[("t.md", plan)]);
    let out = t
        .args(["t.md"])
        .stderr_contains("merged   a (1 file, ")
        .success();
    let events = common::agents::events(out.path(), "t.md");
    let ready: Vec<_> = common::agents::named(&events, "worktree_ready")
        .iter()
        .map(|e| e["task"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ready, ["a"]);
    assert_eq!(out.read("a.txt"), "a\n");
    assert_eq!(out.read("b.txt"), "b\n");
    // `a` came by a merge commit; `b` wrote straight into the checkout.
    let log = git(out.path(), &["log", "--format=%s", "main"]);
    assert!(log.contains("Merge task a: a"), "{log}");
    let status = git(out.path(), &["status", "--porcelain"]);
    assert!(status.contains("?? b.txt"), "{status}");
    assert!(!status.contains("a.txt"), "{status}");
}

#[test]
fn an_isolate_hint_outside_git_is_an_error_before_anything_runs() {
    let out = Test::new()
        .file(
            "t.md",
            "- [ ] a <!-- isolate: worktree; agent: shell -->\n  ```sh\n  touch ran\n  ```\n",
        )
        .args(["t.md"])
        .stderr_contains("not in a git repository")
        .status(2);
    assert!(!out.path().join("ran").exists(), "nothing ran");
}

#[test]
fn clean_removes_a_kept_worktree_and_its_work_stays_on_the_branch() {
    let plan = "- [ ] a <!-- id: a; agent: shell; retries: 0 -->\n  ```sh\n  echo half > half.txt\n  exit 1\n  ```\n";
    let t = repo(Test::new(), &[("t.md", plan)]);
    let out = t.args(["t.md", "--isolate", "worktree"]).status(1);
    let dir = out.path().to_owned();
    let worktrees = git(&dir, &["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches("worktree ").count(),
        2,
        "kept: {worktrees}"
    );
    let out = out
        .then()
        .args(["clean", "t.md"])
        .stdout_contains("its work stays on branch `run-batch/")
        .success();
    let worktrees = git(out.path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 1, "{worktrees}");
    let branch = git(
        out.path(),
        &[
            "branch",
            "--list",
            "run-batch/*",
            "--format=%(refname:short)",
        ],
    );
    let branch = branch.trim();
    assert_eq!(
        git(out.path(), &["show", &format!("{branch}:half.txt")]),
        "half\n"
    );
}
