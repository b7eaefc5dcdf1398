//! Fault injection: the promise (a box is ticked only for work proven done, a
//! person editing the plan never loses a byte, the exit status tells the
//! truth, nothing is left running) checked for real against the binary while
//! an editor saves the file during runs of hundreds of tasks, while
//! run-batch is killed with SIGKILL at random moments, and while a save
//! leaves the file empty for a while.
//!
//! Every test is driven by a seeded random number generator: it prints its
//! seed, and `FAULTS_SEED=N` replays the same choices (the timing of the
//! processes still varies). The checks are in `common/checks.rs`, the editor
//! in `common/editors.rs`. `RUN_BATCH_SOAK=1` turns on a long soak that
//! prints the figures (see `benches/soak.sh`).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::Test;
use common::agents::*;
use common::checks::*;
use common::editors::*;

/// `-j` of every run here.
const JOBS: usize = 8;
/// How long a process may take to go once its run ended or was killed.
const LEAVE: Duration = Duration::from_secs(2);
/// A bound on one run of a few hundred short tasks on a loaded machine
/// (they take a few seconds).
const RUN_PATIENCE: Duration = Duration::from_secs(60);
/// The file the plan's last task waits for, so that the person's last save
/// lands while the run still goes on (see [`plan`]).
const EDITOR_DONE: &str = "editor-done";

// ---- plans ------------------------------------------------------------------------

/// A plan for the fake agent: `tasks` tasks with an `id` hint each, in three
/// sections (three waves), each sleeping a random time in `sleep_ms`,
/// failing with chance `fail`, and with the fake agent's `words` added;
/// then, with `wrap_up`, a last wave whose one task waits until the file
/// [`EDITOR_DONE`] exists.
fn plan(
    rng: &mut Rng,
    tasks: usize,
    sleep_ms: (u64, u64),
    fail: f64,
    words: &str,
    wrap_up: bool,
) -> String {
    let mut out = String::from("# Plan\n\nWritten before the run; notes are added below.\n");
    for part in 0..3 {
        out.push_str(&format!("\n## Part {}\n\n", part + 1));
        for i in part * tasks / 3..(part + 1) * tasks / 3 {
            let n = i + 1;
            let ms = rng.between(sleep_ms.0, sleep_ms.1);
            let fail = if rng.chance(fail) { " fail" } else { "" };
            out.push_str(&format!(
                "- [ ] task {n} sleep={}.{:03}{fail}{words} <!-- id: t{n:03} -->\n",
                ms / 1000,
                ms % 1000
            ));
        }
    }
    if wrap_up {
        out.push_str(&format!(
            "\n## Wrap up\n\n- [ ] wrap up wait={EDITOR_DONE} <!-- id: wrap-up; agent: hold-agent -->\n"
        ));
    }
    out
}

/// A test folder with the fake agents and `t.md` holding `text`.
fn folder(text: &str) -> Test {
    Test::new().hold_agent().file("t.md", text)
}

// ---- a run with an editor -----------------------------------------------------------

/// What the person does during the run.
#[derive(Clone, Debug)]
enum Person {
    /// Nothing (a control: the checks must find nothing either).
    Away,
    /// Saves again and again at the pace of [`pause`], in one of `styles`,
    /// reloading first with chance `reload`.
    Saves { styles: Vec<Save>, reload: f64 },
    /// `times` times, after a pause: reloads, truncates the file, leaves it
    /// empty for `empty`, writes it back with a new note.
    LeavesItEmpty { times: usize, empty: Duration },
}

/// One run of `t.md` in `dir` with a person editing it, and what the checks
/// found.
struct EditedRun {
    findings: Findings,
    saves: usize,
    stale_saves: usize,
    lost: usize,
    /// The size of the person's last save and of the file after the run.
    bytes: (usize, usize),
    exit: Option<i32>,
    stderr: String,
}

/// Runs `run-batch t.md --agent fake-agent -j 8 --keep-going` in `dir`
/// while `person` edits the file, then checks the promise.
fn run_with(dir: &Path, person: &Person, rng: &mut Rng) -> EditedRun {
    let file = dir.join("t.md");
    let before = std::fs::read(&file).unwrap();
    let _ = std::fs::remove_file(dir.join(FAKE_LOG));
    let _ = std::fs::remove_file(dir.join(EDITOR_DONE));
    let runs_before = runs_of(&file);
    let token = token(rng.next_u64());
    let jobs = JOBS.to_string();
    let run = Background::start_with_env(
        dir,
        &["t.md", "--agent", "fake-agent", "-j", &jobs, "--keep-going"],
        &[("FAULTS_TOKEN", &token)],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let editor = {
        let (dir, person, stop, rng) = (dir.to_owned(), person.clone(), stop.clone(), rng.fork());
        std::thread::spawn(move || edit(&dir, &person, &stop, rng))
    };
    let (end, hung) = run.wait_or_kill(RUN_PATIENCE);
    stop.store(true, Ordering::SeqCst);
    let editor = editor.join().expect("the editor thread");
    let left = left_behind(&token, LEAVE);

    let after = std::fs::read(&file).unwrap();
    let runs: Vec<PathBuf> = (runs_of(&file).into_iter())
        .filter(|r| !runs_before.contains(r))
        .collect();
    let attempts = Attempts::of(&runs);
    let log = FakeLog::read(dir);
    let (unearned, unticked) = unearned_and_missing_ticks(&before, &after, &attempts);
    let mut findings = Findings {
        lost_edits: lost_edits(&after, &editor.markers),
        foreign_bytes: foreign_bytes(&editor.last_save, &after),
        unearned_ticks: unearned,
        unticked_successes: unticked,
        twice_at_once: twice_at_once(&log),
        over_jobs: over_jobs(&log, JOBS),
        cut_short: cut_short(&log),
        started_twice: started_twice(&log),
        left_behind: left,
        ..Findings::default()
    };
    let truth = true_exit_status(&after, &attempts);
    if end.status.code() != Some(truth) {
        findings.false_exit.push(format!(
            "run-batch exited with {:?}; the file and the records call for {truth}",
            end.status.code()
        ));
    }
    let summary = |l: &str| l.trim_start().starts_with("0 of 0 tasks");
    if end.stderr.lines().any(summary) || end.stdout.lines().any(summary) {
        findings
            .other
            .push("the run ended early: `0 of 0 tasks`".into());
    }
    if hung {
        findings.other.push(format!(
            "the run did not finish within {RUN_PATIENCE:?}; killed"
        ));
    } else if attempts.finished.is_none() {
        findings.other.push("no `run_finished` event".into());
    }
    // Nothing depends on anything and `--keep-going` is on: a box left
    // unticked must be a task whose agent failed.
    let never_done: Vec<String> = (boxes(&after).into_iter())
        .filter(|(id, ticked)| !ticked && !attempts.failed.contains(id))
        .map(|(id, _)| id)
        .collect();
    if !never_done.is_empty() {
        findings.other.push(format!(
            "{} boxes are not ticked though their task did not fail: {}",
            never_done.len(),
            abbreviate(&never_done)
        ));
    }
    EditedRun {
        saves: editor.saves(),
        stale_saves: editor.stale_saves,
        lost: findings.lost_edits.len(),
        bytes: (editor.last_save.len(), after.len()),
        findings,
        exit: end.status.code(),
        stderr: end.stderr,
    }
}

/// The first ids of a list, and how many more.
fn abbreviate(ids: &[String]) -> String {
    let mut out = ids[..ids.len().min(8)].join(", ");
    if ids.len() > 8 {
        out.push_str(&format!(" and {} more", ids.len() - 8));
    }
    out
}

/// The time between two saves: mostly a burst (5-40 ms: saving again at
/// once, a tool writing in steps), one time in four a quiet moment (200-600
/// ms) in which the file settles. A person who never stops saving would keep
/// run-batch waiting for the end of a save for ever, which it may.
fn pause(rng: &mut Rng) -> Duration {
    if rng.chance(0.25) {
        rng.millis(200, 600)
    } else {
        rng.millis(5, 40)
    }
}

/// The person's side of [`run_with`], on its own thread: edits until the
/// run's last task waits for `editor-done` (then saves once more and lets it
/// finish) or the run ends by itself.
fn edit(dir: &Path, person: &Person, stop: &AtomicBool, mut rng: Rng) -> Editor {
    let file = dir.join("t.md");
    let wrap_up_waits = || dir.join(format!("{EDITOR_DONE}.waiting")).exists();
    let let_it_finish = || std::fs::write(dir.join(EDITOR_DONE), "").unwrap();
    let styles = match person {
        Person::Saves { styles, .. } => styles.clone(),
        _ => vec![Save::InPlace],
    };
    let reload = match person {
        Person::Saves { reload, .. } => *reload,
        _ => 1.0,
    };
    let mut editor = Editor::open(&file, rng.fork(), &styles, reload);
    // A bound in case the run never reaches its last task.
    let give_up = Instant::now() + RUN_PATIENCE;
    match person {
        Person::Away => {}
        Person::Saves { .. } => loop {
            if stop.load(Ordering::SeqCst) {
                return editor;
            }
            if wrap_up_waits() || Instant::now() > give_up {
                editor.save();
                break;
            }
            std::thread::sleep(pause(&mut rng));
            editor.save();
        },
        Person::LeavesItEmpty { times, empty } => {
            for _ in 0..*times {
                std::thread::sleep(rng.millis(100, 400));
                if stop.load(Ordering::SeqCst) {
                    return editor;
                }
                editor.save_after_leaving_it_empty(*empty);
            }
        }
    }
    while !wrap_up_waits() && !stop.load(Ordering::SeqCst) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(10));
    }
    let_it_finish();
    editor
}

/// One run of `tasks` tasks (some failing) with `person` editing, checked.
fn edited_run(test: &str, tasks: usize, person: Person) {
    let seed = seed(test);
    let mut rng = seed.rng();
    let t = folder(&plan(&mut rng, tasks, (0, 50), 0.03, "", true));
    let run = run_with(t.path(), &person, &mut rng);
    eprintln!(
        "{test}: {} saves ({} stale), {} edits lost, last save {} bytes, file {} bytes, exit {:?}; found: {}",
        run.saves,
        run.stale_saves,
        run.lost,
        run.bytes.0,
        run.bytes.1,
        run.exit,
        run.findings.counts()
    );
    run.findings.assert_none(test, &run.stderr);
    drop(t);
}

// ---- editors saving during a run ------------------------------------------------------

#[test]
fn a_run_with_nobody_editing_keeps_every_promise() {
    // The control: if this fails, the checks are wrong, not run-batch.
    edited_run(
        "a_run_with_nobody_editing_keeps_every_promise",
        300,
        Person::Away,
    );
}

#[test]
fn saves_in_place_in_chunks_during_a_run_lose_no_edit() {
    edited_run(
        "saves_in_place_in_chunks_during_a_run_lose_no_edit",
        300,
        Person::Saves {
            styles: vec![Save::InPlace],
            reload: 1.0,
        },
    );
}

#[test]
fn saves_in_steps_write_close_append_during_a_run_lose_no_edit() {
    edited_run(
        "saves_in_steps_write_close_append_during_a_run_lose_no_edit",
        300,
        Person::Saves {
            styles: vec![Save::WriteCloseWrite],
            reload: 1.0,
        },
    );
}

#[test]
fn saves_by_rename_during_a_run_lose_no_edit() {
    edited_run(
        "saves_by_rename_during_a_run_lose_no_edit",
        300,
        Person::Saves {
            styles: vec![Save::Rename],
            reload: 1.0,
        },
    );
}

#[test]
fn stale_buffer_saves_keep_the_edit_and_the_reverted_ticks_are_ticked_again() {
    edited_run(
        "stale_buffer_saves_keep_the_edit_and_the_reverted_ticks_are_ticked_again",
        300,
        Person::Saves {
            styles: EVERY_STYLE.to_vec(),
            reload: 0.5,
        },
    );
}

#[test]
fn a_file_left_empty_during_a_save_neither_ends_nor_restarts_the_run() {
    let test = "a_file_left_empty_during_a_save_neither_ends_nor_restarts_the_run";
    let seed = seed(test);
    let mut rng = seed.rng();
    let t = folder(&plan(&mut rng, 60, (100, 400), 0.0, "", true));
    let person = Person::LeavesItEmpty {
        times: 3,
        empty: Duration::from_millis(300),
    };
    let run = run_with(t.path(), &person, &mut rng);
    run.findings.assert_none(test, &run.stderr);
    assert_eq!(run.exit, Some(0), "no task fails in this plan");
    drop(t);
}

// ---- kill -9 ------------------------------------------------------------------------

/// What a series of SIGKILLs of run-batch and a final rerun left.
#[derive(Debug, Default)]
struct KillCycles {
    /// The seed of the series (`FAULTS_SEED` replays its choices).
    seed: u64,
    cycles: usize,
    /// Agents started over the killed runs.
    started: usize,
    /// Per cycle: the processes still there `LEAVE` after the kill.
    left: Vec<Vec<String>>,
    /// Per cycle: the damage that kill did to the file or its folder (bytes
    /// other than checkbox state changed, files that `git status` shows).
    damage: Vec<Vec<String>>,
    /// Boxes ticked without a succeeded attempt in any run so far.
    unearned: Vec<String>,
    /// What the final rerun got wrong.
    rerun: Findings,
}

impl KillCycles {
    fn orphans(&self) -> usize {
        self.left.iter().map(Vec::len).sum()
    }

    fn escapes(&self) -> usize {
        self.left.iter().filter(|l| !l.is_empty()).count()
    }

    fn damaged(&self) -> usize {
        self.damage.iter().filter(|d| !d.is_empty()).count()
    }
}

/// How many agents the fake agent's log says started.
fn agents_started(dir: &Path) -> usize {
    (std::fs::read_to_string(dir.join(FAKE_LOG)).unwrap_or_default())
        .lines()
        .filter(|l| l.starts_with("start "))
        .count()
}

/// What `git status` shows in `repo` besides the task file `t.md`
/// (modified, which its ticks make it).
fn extra_files(repo: &Path) -> Vec<String> {
    (git_status(repo).lines())
        .filter(|l| *l != " M t.md")
        .map(str::to_owned)
        .collect()
}

/// `cycles` times: start `run-batch repo/t.md -j 8` on `tasks` short tasks,
/// SIGKILL it at a random moment, and look at what is left. Then rerun to
/// the end. The task file is in a git repository of its own.
fn kill_cycles(rng: &mut Rng, tasks: usize, cycles: usize) -> KillCycles {
    // Every run's events are read at the end; run-batch keeps the newest 20.
    assert!(cycles < 20, "at most 19 kills in a series");
    // An agent that run-batch's death left unguarded lingers (`linger`), so
    // that it is still there to be found after `LEAVE`.
    let original = plan(rng, tasks, (0, 100), 0.0, " linger=5", false);
    let t = Test::new().fake_agent().file("repo/t.md", &original);
    let dir = t.path().to_owned();
    let file = dir.join("repo/t.md");
    git_init(&dir.join("repo"));
    let jobs = JOBS.to_string();
    let args = [
        "repo/t.md",
        "--agent",
        "fake-agent",
        "-j",
        &jobs,
        "--grace",
        "1s",
    ];
    let repo = dir.join("repo");
    let mut out = KillCycles::default();
    let mut previous = original.clone().into_bytes();
    let mut reported = BTreeSet::new();
    for _ in 0..cycles {
        let token = token(rng.next_u64());
        let before = agents_started(&dir);
        let run = Background::start_with_env(&dir, &args, &[("FAULTS_TOKEN", &token)]);
        // Half the kills at any moment of the first half second, half while
        // agents are being started (within 300 ms of the first one).
        if rng.chance(0.5) {
            std::thread::sleep(rng.millis(0, 500));
        } else {
            let give_up = Instant::now() + Duration::from_secs(5);
            while agents_started(&dir) == before && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(rng.millis(0, 300));
        }
        run.kill();
        out.cycles += 1;
        out.left.push(left_behind(&token, LEAVE));
        // Damage done by this kill: bytes changed since the last one, files
        // that appeared beside the task file.
        let now = std::fs::read(&file).unwrap();
        let mut damage = foreign_bytes(&previous, &now);
        for extra in extra_files(&repo) {
            if reported.insert(extra.clone()) {
                damage.push(format!("`{extra}` left beside the task file"));
            }
        }
        out.damage.push(damage);
        let attempts = Attempts::of(&runs_of(&file));
        let (unearned, _) = unearned_and_missing_ticks(original.as_bytes(), &now, &attempts);
        out.unearned.extend(unearned);
        previous = now;
    }
    out.unearned.sort();
    out.unearned.dedup();
    out.started = agents_started(&dir);
    let token = token(rng.next_u64());
    let end =
        Background::start_with_env(&dir, &args, &[("FAULTS_TOKEN", &token)]).wait(RUN_PATIENCE);
    let after = std::fs::read(&file).unwrap();
    let attempts = Attempts::of(&runs_of(&file));
    let (unearned, unticked) = unearned_and_missing_ticks(original.as_bytes(), &after, &attempts);
    let mut foreign = foreign_bytes(original.as_bytes(), &after);
    foreign.extend(
        (extra_files(&repo).into_iter()).map(|f| format!("`{f}` left beside the task file")),
    );
    out.rerun = Findings {
        foreign_bytes: foreign,
        unearned_ticks: unearned,
        unticked_successes: unticked,
        left_behind: left_behind(&token, LEAVE),
        ..Findings::default()
    };
    if end.status.code() != Some(0) {
        out.rerun.false_exit.push(format!(
            "the rerun exited with {:?}, not 0",
            end.status.code()
        ));
    }
    let not_ticked: Vec<String> = (boxes(&after).into_iter())
        .filter(|(_, t)| !t)
        .map(|(id, _)| id)
        .collect();
    if !not_ticked.is_empty() {
        out.rerun.other.push(format!(
            "the rerun left {} boxes unticked: {}",
            not_ticked.len(),
            abbreviate(&not_ticked)
        ));
    }
    if !end.status.success() {
        out.rerun
            .other
            .push(format!("rerun stderr:\n{}", end.stderr));
    }
    drop(t);
    out
}

/// The series of kills both kill tests look at, made once by whichever test
/// asks first (it takes a while).
fn kill_series() -> &'static KillCycles {
    static SERIES: OnceLock<KillCycles> = OnceLock::new();
    SERIES.get_or_init(|| {
        let seed = seed("kill_9_at_random_moments");
        let mut k = kill_cycles(&mut seed.rng(), 300, 15);
        k.seed = seed.seed;
        eprintln!(
            "{} kills (seed {}), {} agents started; {} kills left {} processes",
            k.cycles,
            k.seed,
            k.started,
            k.escapes(),
            k.orphans()
        );
        k
    })
}

#[test]
fn kill_9_at_random_moments_leaves_no_process_behind() {
    let k = kill_series();
    let left: Vec<String> = (k.left.iter().enumerate())
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| format!("after kill {}: {}", i + 1, l.join("; ")))
        .collect();
    assert!(
        left.is_empty(),
        "{} of {} kills left {} processes behind (seed {}):\n{}",
        k.escapes(),
        k.cycles,
        k.orphans(),
        k.seed,
        left.join("\n")
    );
}

#[test]
fn kill_9_at_random_moments_leaves_the_file_intact_and_every_tick_earned() {
    let k = kill_series();
    let damage: Vec<String> = (k.damage.iter().enumerate())
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, d)| format!("after kill {}: {}", i + 1, d.join("; ")))
        .collect();
    assert!(damage.is_empty(), "seed {}:\n{}", k.seed, damage.join("\n"));
    assert!(
        k.unearned.is_empty(),
        "boxes ticked without a succeeded attempt (seed {}): {:?}",
        k.seed,
        k.unearned
    );
    k.rerun
        .assert_none(&format!("the rerun after the kills (seed {})", k.seed), "");
}

// ---- the harness itself ---------------------------------------------------------------

#[test]
fn the_checks_see_a_cut_file_a_lost_edit_and_a_changed_byte() {
    let save = b"# P\n- [ ] a <!-- id: a -->\n  note from the editor, edit 1\n\nnote from the editor, edit 12\n";
    let ticked = b"# P\n- [x] a <!-- id: a -->\n  note from the editor, edit 1\n\nnote from the editor, edit 12\n";
    let markers = vec![
        "note from the editor, edit 1".to_owned(),
        "note from the editor, edit 12".to_owned(),
    ];
    assert!(foreign_bytes(save, ticked).is_empty());
    assert!(lost_edits(ticked, &markers).is_empty());
    let cut = &ticked[..60];
    assert_eq!(foreign_bytes(save, cut).len(), 1);
    assert_eq!(lost_edits(cut, &markers), ["note from the editor, edit 12"]);
    let mut changed = ticked.to_vec();
    changed[7] = b'y';
    assert_eq!(
        foreign_bytes(save, &changed).len(),
        1,
        "`[y]` is not a tick"
    );
    let mut changed = ticked.to_vec();
    changed[30] = b'x';
    assert_eq!(foreign_bytes(save, &changed).len(), 1, "outside a box");
}

#[test]
fn the_checks_see_an_unearned_tick_and_an_unticked_success() {
    let before = b"- [ ] a <!-- id: a -->\n- [ ] b <!-- id: b -->\n- [x] c <!-- id: c -->\n";
    let after = b"- [ ] a <!-- id: a -->\n- [x] b <!-- id: b -->\n- [x] c <!-- id: c -->\n";
    let attempts = Attempts {
        succeeded: ["a".to_owned()].into(),
        ..Attempts::default()
    };
    let (unearned, unticked) = unearned_and_missing_ticks(before, after, &attempts);
    assert_eq!(unearned, ["b"]);
    assert_eq!(unticked, ["a"]);
    assert_eq!(true_exit_status(after, &attempts), 1);
    assert_eq!(true_exit_status(b"- [x] a <!-- id: a -->\n", &attempts), 0);
    // A line cut inside its id comment is not a task called `t17`.
    assert_eq!(
        boxes(b"- [x] task 170 <!-- id: t17\n- [x] w <!-- id: w; agent: x -->\n"),
        [("w".to_owned(), true)].into()
    );
}

#[test]
fn the_checks_blame_no_killed_agent_for_overlaps_but_report_it() {
    let log = FakeLog::parse(
        "start a 10\nstart b 11\nend b 20\nstart a 30\nend a 40\nstart c 41\nstart c 42\nend c 50\nend c 51\n",
    );
    // `a`'s first agent never ended (killed): when it died is unknown.
    assert_eq!(twice_at_once(&log), ["two agents of `c` ran at once"]);
    assert_eq!(
        cut_short(&log),
        ["an agent of `a` was killed before its end"]
    );
    assert!(over_jobs(&log, 2).is_empty());
    assert_eq!(over_jobs(&log, 1), ["2 agents ran at once with -j 1"]);
}

#[test]
fn the_editor_adds_one_marker_per_save_and_writes_what_it_says() {
    let t = Test::new().file(
        "t.md",
        "# P\n\n- [ ] a <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
    );
    let file = t.path().join("t.md");
    let mut editor = Editor::open(&file, Rng::new(7), &EVERY_STYLE, 1.0);
    for _ in 0..30 {
        editor.save();
    }
    let text = std::fs::read(&file).unwrap();
    assert_eq!(text, editor.last_save);
    assert_eq!(editor.saves(), 30);
    assert!(lost_edits(&text, &editor.markers).is_empty());
    assert_eq!(boxes(&text).len(), 2, "{}", String::from_utf8_lossy(&text));
    drop(t);
}

// ---- the soak ------------------------------------------------------------------------

/// `RUN_BATCH_SOAK=1`: thousands of edits over several runs and 50+ kill
/// cycles, then a table of figures (see `benches/soak.sh`). Sizes:
/// `SOAK_RUNS` (default 30), `SOAK_TASKS` (500), `SOAK_KILLS` (60).
#[test]
fn soak() {
    if std::env::var_os("RUN_BATCH_SOAK").is_none() {
        eprintln!("soak: skipped (set RUN_BATCH_SOAK=1, or run benches/soak.sh)");
        return;
    }
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (runs, tasks, kills) = (
        number("SOAK_RUNS", 30),
        number("SOAK_TASKS", 500),
        number("SOAK_KILLS", 60),
    );
    let seed = seed("soak");
    let mut rng = seed.rng();
    eprintln!("soak: binary {}", common::binary().to_string_lossy());

    let mut f = Figures::default();
    for i in 0..runs {
        // Every style, alternating between a person whose editor reloads
        // before each save and one who often saves a stale buffer.
        let person = Person::Saves {
            styles: EVERY_STYLE.to_vec(),
            reload: if i % 2 == 0 { 1.0 } else { 0.5 },
        };
        let t = folder(&plan(&mut rng, tasks, (0, 50), 0.03, "", true));
        let run = run_with(t.path(), &person, &mut rng);
        f.add_run(&run);
        eprintln!(
            "soak: run {}: {} saves ({} stale), exit {:?}; found: {}",
            i + 1,
            run.saves,
            run.stale_saves,
            run.exit,
            run.findings.counts()
        );
        for p in (run.findings.problems().iter())
            .filter(|p| !p.starts_with("edit lost") && !p.starts_with("started again"))
            .take(3)
        {
            eprintln!("    {p}");
        }
    }
    for _ in 0..2 {
        let t = folder(&plan(&mut rng, 60, (100, 400), 0.0, "", true));
        let person = Person::LeavesItEmpty {
            times: 3,
            empty: Duration::from_millis(300),
        };
        let run = run_with(t.path(), &person, &mut rng);
        f.add_run(&run);
        f.empty_runs += 1;
        if !run.findings.problems().is_empty() {
            f.empty_runs_wrong += 1;
        }
        eprintln!("soak: file left empty: found: {}", run.findings.counts());
    }
    // Kills in series of 15 (each series ends with a rerun).
    let mut left = kills;
    while left > 0 {
        let n = left.min(15);
        left -= n;
        let k = kill_cycles(&mut rng, 300, n);
        eprintln!(
            "soak: {} kills: {} escapes, {} orphans, {} damaged, {} unearned; rerun: {:?}",
            k.cycles,
            k.escapes(),
            k.orphans(),
            k.damaged(),
            k.unearned.len(),
            k.rerun.problems()
        );
        f.add_kills(&k);
    }
    f.print();
}

/// The soak's totals.
#[derive(Debug, Default)]
struct Figures {
    runs: usize,
    saves: usize,
    stale_saves: usize,
    lost: usize,
    runs_losing: usize,
    foreign: usize,
    false_exits: usize,
    unearned: usize,
    unticked: usize,
    started_twice: usize,
    twice_at_once: usize,
    over_jobs: usize,
    cut_short: usize,
    left: usize,
    ended_early: usize,
    empty_runs: usize,
    empty_runs_wrong: usize,
    kill_cycles: usize,
    orphans: usize,
    escapes: usize,
    damaged: usize,
    kill_unearned: usize,
    reruns: usize,
    reruns_wrong: usize,
}

impl Figures {
    fn add_run(&mut self, run: &EditedRun) {
        let f = &run.findings;
        self.runs += 1;
        self.saves += run.saves;
        self.stale_saves += run.stale_saves;
        self.lost += run.lost;
        self.runs_losing += usize::from(run.lost > 0);
        self.foreign += usize::from(!f.foreign_bytes.is_empty());
        self.false_exits += usize::from(!f.false_exit.is_empty());
        self.unearned += f.unearned_ticks.len();
        self.unticked += f.unticked_successes.len();
        self.started_twice += f.started_twice.len();
        self.twice_at_once += f.twice_at_once.len();
        self.over_jobs += usize::from(!f.over_jobs.is_empty());
        self.cut_short += f.cut_short.len();
        self.left += f.left_behind.len();
        self.ended_early += f.other.iter().filter(|o| o.contains("0 of 0")).count();
    }

    fn add_kills(&mut self, k: &KillCycles) {
        self.kill_cycles += k.cycles;
        self.orphans += k.orphans();
        self.escapes += k.escapes();
        self.damaged += k.damaged();
        self.kill_unearned += k.unearned.len();
        self.reruns += 1;
        self.reruns_wrong += usize::from(!k.rerun.problems().is_empty());
    }

    fn print(&self) {
        let rows = [
            (
                "edits made / lost (runs that lost any)",
                format!(
                    "{} / {} ({} of {})",
                    self.saves, self.lost, self.runs_losing, self.runs
                ),
            ),
            (
                "stale-buffer saves among them",
                self.stale_saves.to_string(),
            ),
            (
                "runs whose file differs from the last save beyond checkbox bytes",
                format!("{} of {}", self.foreign, self.runs),
            ),
            (
                "runs / false exit statuses",
                format!("{} / {}", self.runs, self.false_exits),
            ),
            (
                "boxes ticked without a success (edited runs / kill series)",
                format!("{} / {}", self.unearned, self.kill_unearned),
            ),
            ("successes left unticked", self.unticked.to_string()),
            (
                "tasks started twice in a run",
                self.started_twice.to_string(),
            ),
            (
                "two agents of one task at once (pairs)",
                self.twice_at_once.to_string(),
            ),
            (
                "runs with more than -j agents at once",
                format!("{} of {}", self.over_jobs, self.runs),
            ),
            (
                "agents killed by run-batch (nobody asked for it)",
                self.cut_short.to_string(),
            ),
            (
                "runs ended early (`0 of 0 tasks`)",
                self.ended_early.to_string(),
            ),
            (
                "runs with the file left empty 300 ms that broke a promise",
                format!("{} of {}", self.empty_runs_wrong, self.empty_runs),
            ),
            ("processes left after an edited run", self.left.to_string()),
            (
                "kill cycles / orphans / escapes",
                format!("{} / {} / {}", self.kill_cycles, self.orphans, self.escapes),
            ),
            (
                "kills that left the file changed beyond checkbox bytes or files in git status",
                self.damaged.to_string(),
            ),
            (
                "reruns after the kills that broke a promise",
                format!("{} of {}", self.reruns_wrong, self.reruns),
            ),
        ];
        println!("\n| figure | value |\n|---|---|");
        for (name, value) in rows {
            println!("| {name} | {value} |");
        }
        println!(
            "\norphans: processes left {LEAVE:?} after a kill; escapes: kills after which any was left.\n"
        );
    }
}
