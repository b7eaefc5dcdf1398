use super::*;
use crate::plan::PlanOptions;
use crate::taskfile::{Document, ReadOptions, Source};

fn plan(text: &str) -> Plan {
    let doc = Document::parse(
        Source::new("t.md".into(), text.into(), 0),
        ReadOptions::default(),
    );
    Plan::build(doc, PlanOptions::default()).unwrap()
}

fn schedule(p: &Plan, keep_going: bool) -> Schedule {
    Schedule::new(
        p,
        &Prepared::new(p),
        |_| State::Waiting,
        |_| false,
        keep_going,
        &Pools::NONE,
    )
}

/// Everything that may start now, by id.
fn start_all(p: &Plan, s: &mut Schedule, jobs: usize) -> Vec<String> {
    std::iter::from_fn(|| s.next(jobs))
        .map(|t| p.doc.id(t).into_owned())
        .collect()
}

#[test]
fn tasks_whose_files_overlap_take_turns_and_others_go_ahead() {
    let p = plan(
        "# A\n- [ ] a <!-- id: a; files: src/** -->\n- [ ] b <!-- id: b; files: src/x.rs -->\n\
         - [ ] c <!-- id: c; files: docs/y.md -->\n- [ ] d edits `src/x.rs` <!-- id: d -->\n",
    );
    let mut s = schedule(&p, false);
    assert_eq!(start_all(&p, &mut s, 8), ["a", "c"]);
    s.succeeded(0);
    assert_eq!(start_all(&p, &mut s, 8), ["b"]);
    s.retrying(1);
    assert_eq!(start_all(&p, &mut s, 8), ["d"]);
    s.again(1);
    assert!(start_all(&p, &mut s, 8).is_empty(), "d holds src/x.rs");
    s.succeeded(3);
    assert_eq!(start_all(&p, &mut s, 8), ["b"]);
    s.succeeded(1);
    s.succeeded(2);
    assert!(s.finished());
}

#[test]
fn waves_run_in_order() {
    let p = plan("# A\n- [ ] a1\n- [ ] a2\n# B\n- [ ] b1\n");
    let mut s = schedule(&p, false);
    assert_eq!(start_all(&p, &mut s, 8), ["a1", "a2"]);
    s.succeeded(0);
    assert!(start_all(&p, &mut s, 8).is_empty());
    s.succeeded(1);
    assert_eq!(start_all(&p, &mut s, 8), ["b1"]);
    s.succeeded(2);
    assert!(s.finished());
}

#[test]
fn jobs_and_group_limits() {
    let p = plan("# A\n<!-- parallel: 2 -->\n- [ ] a\n- [ ] b\n- [ ] c\n");
    let mut s = schedule(&p, false);
    assert_eq!(start_all(&p, &mut s, 8).len(), 2);
    // The third waits for a place in the group, then takes it.
    s.succeeded(0);
    assert_eq!(start_all(&p, &mut s, 8), ["c"]);
    let mut one = schedule(&p, false);
    assert_eq!(start_all(&p, &mut one, 1).len(), 1);
}

#[test]
fn sequential_groups_go_in_document_order() {
    let p = plan("# A\n<!-- parallel: false -->\n- [ ] a\n- [ ] b\n");
    let mut s = schedule(&p, false);
    assert_eq!(start_all(&p, &mut s, 8), ["a-2"]);
    s.succeeded(0);
    assert_eq!(start_all(&p, &mut s, 8), ["b"]);
}

#[test]
fn failures_block_dependents_and_later_waves() {
    let text = "# A\n- [ ] a <!-- id: a -->\n- [ ] b <!-- after: a -->\n- [ ] c\n# B\n- [ ] d\n";
    let p = plan(text);
    let mut s = schedule(&p, false);
    assert_eq!(start_all(&p, &mut s, 8), ["a", "c"]);
    s.succeeded(2);
    s.failed(0);
    assert_eq!(s.take_blocked(), [(1, 0)]);
    assert!(start_all(&p, &mut s, 8).is_empty());
    assert!(s.finished());
    let mut keep = schedule(&p, true);
    start_all(&p, &mut keep, 8);
    keep.succeeded(2);
    keep.failed(0);
    assert_eq!(keep.take_blocked(), [(1, 0)]);
    assert_eq!(start_all(&p, &mut keep, 8), ["d"]);
}

#[test]
fn ticked_tasks_do_not_start_and_count_as_done() {
    let p = plan("- [x] done <!-- id: d -->\n- [ ] todo <!-- after: d -->\n");
    let mut s = schedule(&p, false);
    assert_eq!(start_all(&p, &mut s, 8), ["todo"]);
}

#[test]
fn a_retry_holds_the_wave_but_not_a_slot() {
    let p = plan("# A\n- [ ] a\n- [ ] b\n# B\n- [ ] c\n");
    let mut s = schedule(&p, false);
    assert_eq!(start_all(&p, &mut s, 1), ["a/a"]);
    s.retrying(0);
    assert!(!s.finished());
    assert_eq!(start_all(&p, &mut s, 1), ["a/b"]);
    s.succeeded(1);
    assert!(start_all(&p, &mut s, 1).is_empty());
    s.again(0);
    assert_eq!(start_all(&p, &mut s, 1), ["a/a"]);
    s.succeeded(0);
    assert_eq!(start_all(&p, &mut s, 1), ["c"]);
}

#[test]
fn a_running_task_ticked_in_the_file_is_not_done() {
    let p = plan("- [x] a <!-- id: a -->\n- [ ] b <!-- after: a -->\n");
    let prep = Prepared::new(&p);
    let s = Schedule::new(
        &p,
        &prep,
        |t| {
            if t == 0 {
                State::Running
            } else {
                State::Waiting
            }
        },
        |_| false,
        false,
        &Pools::NONE,
    );
    assert!(!s.is_done(0));
    let mut s = s;
    assert_eq!(s.next(8), None);
    // An owed untick: the tick in the file does not count either.
    let mut owed = Schedule::new(
        &p,
        &prep,
        |_| State::Failed,
        |t| t == 0,
        false,
        &Pools::NONE,
    );
    assert!(!owed.is_done(0));
    assert_eq!(owed.next(8), None);
}

#[test]
fn a_closed_pool_holds_its_tasks_and_no_others() {
    let p = plan("- [ ] a\n- [ ] b\n- [ ] c\n");
    let of = |t: usize| (t != 1).then_some(0);
    let pools = Pools {
        limits: &[0],
        of: &of,
    };
    let mut s = Schedule::new(
        &p,
        &Prepared::new(&p),
        |_| State::Waiting,
        |_| false,
        false,
        &pools,
    );
    assert_eq!(start_all(&p, &mut s, 8), ["b"]);
    s.succeeded(1);
    assert!(!s.finished(), "held tasks are not finished");
    assert!(s.pool_held(0));
    s.set_pool_limit(0, 1);
    assert_eq!(start_all(&p, &mut s, 8), ["a"]);
    assert_eq!(s.pool_running(0), 1);
    s.set_pool_limit(0, 8);
    assert_eq!(start_all(&p, &mut s, 8), ["c"]);
}

#[test]
fn many_waves_open_without_recursion() {
    let text: String = (0..20_000)
        .map(|i| format!("# W{i}\n- [ ] t{i}\n"))
        .collect();
    let p = plan(&text);
    let mut s = Schedule::new(
        &p,
        &Prepared::new(&p),
        |_| State::Waiting,
        |t| t == 0,
        true,
        &Pools::NONE,
    );
    // The first task fails: with --keep-going every later wave opens
    // (each task is independent), in one call.
    assert_eq!(s.next(1), Some(0));
    s.failed(0);
    let mut started = 0;
    while let Some(t) = s.next(1) {
        s.succeeded(t);
        started += 1;
    }
    assert_eq!(started, 19_999);
    assert!(s.finished());
}

const TRACKS: &str = "<!-- pipeline: tracks -->\n\
    # Wave 1\n## Module A\n- [ ] a1\n## Module B\n- [ ] b1\n\
    # Wave 2\n- [ ] outside\n## 2. module a\n- [ ] a2\n## Module B\n- [ ] b2\n";

fn index(p: &Plan, id: &str) -> usize {
    p.doc.task_by_id(id).unwrap()
}

#[test]
fn a_track_runs_ahead_of_the_other_tracks() {
    let p = plan(TRACKS);
    let mut s = schedule(&p, false);
    assert_eq!(start_all(&p, &mut s, 8), ["a1", "b1"]);
    s.succeeded(index(&p, "a1"));
    // Module A's wave-2 task starts while module B is still in wave 1; the
    // task outside any track waits for the whole wave.
    assert_eq!(start_all(&p, &mut s, 8), ["a2"]);
    s.succeeded(index(&p, "b1"));
    assert_eq!(start_all(&p, &mut s, 8), ["outside", "b2"]);
}

#[test]
fn without_the_hint_waves_are_barriers() {
    let p = plan(&TRACKS.replace("<!-- pipeline: tracks -->\n", ""));
    let mut s = schedule(&p, false);
    start_all(&p, &mut s, 8);
    s.succeeded(index(&p, "a1"));
    assert!(start_all(&p, &mut s, 8).is_empty());
}

#[test]
fn a_failure_stays_in_its_track() {
    let p = plan(TRACKS);
    for keep_going in [false, true] {
        let mut s = schedule(&p, keep_going);
        start_all(&p, &mut s, 8);
        s.failed(index(&p, "a1"));
        assert_eq!(
            s.take_blocked(),
            [(index(&p, "a2"), 0)],
            "keep going: {keep_going}"
        );
        s.succeeded(index(&p, "b1"));
        let started = start_all(&p, &mut s, 8);
        if keep_going {
            assert_eq!(started, ["outside", "b2"]);
        } else {
            // The failed wave never completes: only the other track goes on.
            assert_eq!(started, ["b2"]);
        }
    }
}

#[test]
fn under_order_graph_headings_order_nothing() {
    let p = plan(
        "<!-- order: graph -->\n# Build\n- [ ] lib <!-- id: lib -->\n\
         - [ ] app <!-- after: qa-plan -->\n# QA\n- [ ] plan <!-- id: qa-plan -->\n- [ ] free\n",
    );
    let mut s = schedule(&p, false);
    assert_eq!(start_all(&p, &mut s, 8), ["lib", "qa-plan", "free"]);
    s.succeeded(index(&p, "qa-plan"));
    assert_eq!(start_all(&p, &mut s, 8), ["app"]);
}

#[test]
fn a_long_track_blocks_without_recursion() {
    let text: String = std::iter::once("<!-- pipeline: tracks -->\n".to_owned())
        .chain((0..20_000).map(|i| format!("# W{i}\n## A\n- [ ] a{i}\n## B\n- [ ] b{i}\n")))
        .collect();
    let p = plan(&text);
    let mut s = schedule(&p, false);
    assert_eq!(s.next(8), Some(0));
    s.failed(0);
    // Track A is blocked to its end at once; track B runs all the way.
    assert_eq!(s.take_blocked().len(), 19_999);
    let mut started = 0;
    while let Some(t) = s.next(8) {
        s.succeeded(t);
        started += 1;
    }
    assert_eq!(started, 20_000);
    assert!(s.finished());
}
