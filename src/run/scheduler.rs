//! Deciding what may start: waves in order, dependencies done, within `-j`
//! and every group's limit. Pure functions over the plan and the run's task
//! states: no processes, no clocks but the one passed in, no I/O.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::plan::{Plan, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Running,
    /// Failed, with another attempt due at this time.
    RetryAt(Instant),
    Succeeded,
    Failed,
    /// Waits for a task that failed; will not start in this run.
    Blocked,
}

/// Per-plan facts the scheduler needs on every decision, computed once per
/// (re)plan: which leaves run, and what each one waits for.
pub struct Prepared {
    pub runnable: BTreeSet<usize>,
    /// For each task, the targets it waits for, as indices into `targets`.
    pub deps: Vec<Vec<usize>>,
    /// Every distinct dependency target, as the runnable leaves it holds.
    pub targets: Vec<Vec<usize>>,
    /// For each group, its limit.
    pub limits: Vec<usize>,
}

impl Prepared {
    pub fn new(plan: &Plan) -> Prepared {
        let doc = &plan.doc;
        let runnable: BTreeSet<usize> = plan.runnable().collect();
        // The runnable leaves of every section, gathered in one pass.
        let mut section_leaves = vec![Vec::new(); doc.sections.len()];
        for &l in &runnable {
            let mut s = Some(doc.tasks[l].section);
            while let Some(i) = s {
                section_leaves[i].push(l);
                s = doc.sections[i].parent;
            }
        }
        let mut index: std::collections::HashMap<Target, usize> = std::collections::HashMap::new();
        let mut targets: Vec<Vec<usize>> = Vec::new();
        let mut deps = vec![Vec::new(); doc.tasks.len()];
        for &t in &runnable {
            let mut mine = Vec::new();
            for target in plan.effective_after(t) {
                let k = *index.entry(target).or_insert_with(|| {
                    targets.push(match target {
                        Target::Task(p) => leaves_of(plan, p, &runnable),
                        Target::Section(s) => section_leaves[s].clone(),
                    });
                    targets.len() - 1
                });
                // A task never waits for itself (a section's `after` can name
                // a section that holds it only through a cycle, which the
                // planner rejects).
                if targets[k] != [t] {
                    mine.push(k);
                }
            }
            mine.sort_unstable();
            mine.dedup();
            deps[t] = mine;
        }
        Prepared {
            runnable,
            deps,
            targets,
            limits: plan.groups.iter().map(|g| g.limit).collect(),
        }
    }

    /// Ids of the leaves `t` waits for (for `--dry-run` and messages).
    pub fn dep_leaves(&self, t: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self.deps[t]
            .iter()
            .flat_map(|&k| self.targets[k].iter().copied())
            .filter(|&l| l != t)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The runnable leaves at or under task `t`.
fn leaves_of(plan: &Plan, t: usize, runnable: &BTreeSet<usize>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![t];
    while let Some(i) = stack.pop() {
        if runnable.contains(&i) {
            out.push(i);
        }
        stack.extend(plan.doc.tasks[i].children.iter().rev());
    }
    out.sort_unstable();
    out
}

pub struct Limits {
    pub jobs: usize,
    pub keep_going: bool,
}

/// What the scheduler concluded in one look at the plan.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Tasks to start now, in document order.
    pub start: Vec<usize>,
    /// Tasks that can never start in this run, with the failed task they wait for.
    pub blocked: Vec<(usize, usize)>,
    /// Nothing is running or could start later: the run is over.
    pub finished: bool,
}

/// Whether a task counts as done: ticked in the file (or inside a ticked
/// parent), skipped as optional, or succeeded in this run.
pub fn is_done(plan: &Plan, status: &[Status], t: usize) -> bool {
    status[t] == Status::Succeeded || plan.is_done(t) || plan.tasks[t].skipped
}

pub fn decide(
    plan: &Plan,
    prep: &Prepared,
    status: &[Status],
    limits: &Limits,
    now: Instant,
) -> Decision {
    let mut d = Decision::default();
    let bad = |t: usize| matches!(status[t], Status::Failed | Status::Blocked);
    // The first wave with work left holds back every later one. With
    // --keep-going, failed and blocked tasks do not hold anything back.
    let open_wave = prep
        .runnable
        .iter()
        .filter(|&&t| !(is_done(plan, status, t) || limits.keep_going && bad(t)))
        .map(|&t| plan.tasks[t].wave)
        .min();
    let mut running = 0;
    let mut in_group = vec![0usize; prep.limits.len()];
    for &t in &prep.runnable {
        if status[t] == Status::Running {
            running += 1;
            for &g in &plan.tasks[t].groups {
                in_group[g] += 1;
            }
        }
    }
    let mut waiting_later = false;
    // What each dependency target is, worked out at most once per decision.
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Done,
        Pending,
        /// Holds a failed or blocked task.
        Bad(usize),
    }
    let mut state: Vec<Option<State>> = vec![None; prep.targets.len()];
    let mut target_state = |k: usize| -> State {
        *state[k].get_or_insert_with(|| {
            let mut st = State::Done;
            for &l in &prep.targets[k] {
                if bad(l) {
                    return State::Bad(l);
                }
                if !is_done(plan, status, l) {
                    st = State::Pending;
                }
            }
            st
        })
    };
    for &t in &prep.runnable {
        // With every slot taken nothing more can start; anything blocked is
        // found on a later look.
        if running >= limits.jobs {
            break;
        }
        let ready_state = match status[t] {
            Status::Waiting => true,
            Status::RetryAt(at) => {
                waiting_later = true;
                at <= now
            }
            _ => false,
        };
        if !ready_state || is_done(plan, status, t) {
            continue;
        }
        if open_wave.is_some_and(|w| plan.tasks[t].wave > w) {
            continue;
        }
        let mut pending = false;
        let mut failed_dep = None;
        for &k in &prep.deps[t] {
            match target_state(k) {
                State::Done => {}
                State::Pending => pending = true,
                State::Bad(l) => {
                    failed_dep = Some(l);
                    break;
                }
            }
        }
        if let Some(l) = failed_dep {
            d.blocked.push((t, l));
            continue;
        }
        if pending {
            continue;
        }
        if plan.tasks[t]
            .groups
            .iter()
            .any(|&g| in_group[g] >= prep.limits[g])
        {
            continue;
        }
        running += 1;
        for &g in &plan.tasks[t].groups {
            in_group[g] += 1;
        }
        d.start.push(t);
    }
    d.finished = running == 0 && d.start.is_empty() && !waiting_later;
    d
}

#[cfg(test)]
mod tests {
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

    fn ids(p: &Plan, ts: &[usize]) -> Vec<String> {
        ts.iter().map(|&t| p.doc.tasks[t].id.clone()).collect()
    }

    const JOBS: Limits = Limits {
        jobs: 8,
        keep_going: false,
    };

    #[test]
    fn waves_run_in_order() {
        let p = plan("# A\n- [ ] a1\n- [ ] a2\n# B\n- [ ] b1\n");
        let prep = Prepared::new(&p);
        let mut s = vec![Status::Waiting; 3];
        let d = decide(&p, &prep, &s, &JOBS, Instant::now());
        assert_eq!(ids(&p, &d.start), ["a/a1", "a/a2"]);
        s[0] = Status::Succeeded;
        s[1] = Status::Running;
        assert!(
            decide(&p, &prep, &s, &JOBS, Instant::now())
                .start
                .is_empty()
        );
        s[1] = Status::Succeeded;
        assert_eq!(
            ids(&p, &decide(&p, &prep, &s, &JOBS, Instant::now()).start),
            ["b/b1"]
        );
    }

    #[test]
    fn jobs_and_group_limits() {
        let p = plan("# A\n<!-- parallel: 2 -->\n- [ ] a\n- [ ] b\n- [ ] c\n");
        let prep = Prepared::new(&p);
        let s = vec![Status::Waiting; 3];
        assert_eq!(decide(&p, &prep, &s, &JOBS, Instant::now()).start.len(), 2);
        let one = Limits {
            jobs: 1,
            keep_going: false,
        };
        assert_eq!(decide(&p, &prep, &s, &one, Instant::now()).start.len(), 1);
    }

    #[test]
    fn sequential_groups_go_in_document_order() {
        let p = plan("# A\n<!-- parallel: false -->\n- [ ] a\n- [ ] b\n");
        let prep = Prepared::new(&p);
        let mut s = vec![Status::Waiting; 2];
        assert_eq!(
            ids(&p, &decide(&p, &prep, &s, &JOBS, Instant::now()).start),
            ["a/a"]
        );
        s[0] = Status::Succeeded;
        assert_eq!(
            ids(&p, &decide(&p, &prep, &s, &JOBS, Instant::now()).start),
            ["a/b"]
        );
    }

    #[test]
    fn failures_block_dependents_and_later_waves() {
        let p =
            plan("# A\n- [ ] a <!-- id: a -->\n- [ ] b <!-- after: a -->\n- [ ] c\n# B\n- [ ] d\n");
        let prep = Prepared::new(&p);
        let mut s = vec![Status::Waiting; 4];
        s[0] = Status::Failed;
        s[2] = Status::Succeeded;
        let d = decide(&p, &prep, &s, &JOBS, Instant::now());
        assert!(d.start.is_empty());
        assert_eq!(d.blocked, [(1, 0)]);
        s[1] = Status::Blocked;
        assert!(decide(&p, &prep, &s, &JOBS, Instant::now()).finished);
        let keep = Limits {
            jobs: 8,
            keep_going: true,
        };
        assert_eq!(
            ids(&p, &decide(&p, &prep, &s, &keep, Instant::now()).start),
            ["b/d"]
        );
    }

    #[test]
    fn ticked_tasks_do_not_start() {
        let p = plan("- [x] done\n- [ ] todo\n");
        let prep = Prepared::new(&p);
        let s = vec![Status::Waiting; 2];
        assert_eq!(
            ids(&p, &decide(&p, &prep, &s, &JOBS, Instant::now()).start),
            ["todo"]
        );
    }
}
