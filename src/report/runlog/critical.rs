//! The critical path of a run: its attempts (and the plan, when it can
//! still be read) → the chain of attempts that set its length, each step
//! saying why it waited (a retry, a dependency, the wave before, a slot).
//! Never reads a file.

use std::collections::HashMap;

use super::{Attempt, PathStep};
use crate::plan::Plan;

/// An end this close after a start (seconds) still came first: event
/// times have milliseconds, and the run writes an attempt's end before
/// the start it makes room for.
const HANDOFF: f64 = 0.002;

/// Walks back from the attempt that ended last: each step's predecessor
/// is its own earlier attempt (a retry), else the attempt that ended last
/// before it started (a dependency, the wave before, or a freed slot).
pub(super) fn critical_path(
    attempts: &[Attempt],
    plan: Option<&Plan>,
    index: &HashMap<String, usize>,
) -> Vec<PathStep> {
    // Attempts by end time, to find "the last to end before" by bisection.
    let mut by_end: Vec<usize> = (0..attempts.len()).collect();
    by_end.sort_by(|&a, &b| attempts[a].end_secs.total_cmp(&attempts[b].end_secs));
    let Some(&last) = by_end.last() else {
        return Vec::new();
    };
    // Each attempt's own previous attempt (same task, started before it).
    let mut prev: Vec<Option<usize>> = vec![None; attempts.len()];
    let mut last_of: HashMap<&str, usize> = HashMap::new();
    let mut by_start: Vec<usize> = (0..attempts.len()).collect();
    by_start.sort_by(|&a, &b| attempts[a].start_secs.total_cmp(&attempts[b].start_secs));
    for &i in &by_start {
        prev[i] = last_of.insert(attempts[i].task.as_str(), i);
    }
    let mut seen = vec![false; attempts.len()];
    let mut steps = Vec::new();
    let mut current = last;
    loop {
        seen[current] = true;
        let a = &attempts[current];
        // Its own earlier attempt first: a retry waits for nothing else.
        let own =
            prev[current].filter(|&i| !seen[i] && attempts[i].end_secs <= a.start_secs + HANDOFF);
        let cut = by_end.partition_point(|&i| attempts[i].end_secs <= a.start_secs + HANDOFF);
        let other = by_end[..cut]
            .iter()
            .rev()
            .copied()
            .find(|&i| !seen[i] && attempts[i].task != a.task);
        let (before, after) = match (own, other) {
            (Some(i), _) => (Some(i), "retry"),
            (None, Some(i)) => (Some(i), relation(plan, index, &attempts[i].task, &a.task)),
            (None, None) => (None, "start"),
        };
        steps.push(PathStep {
            task: a.task.clone(),
            attempt: a.attempt,
            start_secs: a.start_secs,
            end_secs: a.end_secs,
            outcome: a.outcome.clone(),
            after: after.into(),
        });
        match before {
            Some(i) => current = i,
            None => break,
        }
    }
    steps.reverse();
    steps
}

/// Why `later` waited for `earlier`, as far as the plan tells.
fn relation(
    plan: Option<&Plan>,
    index: &HashMap<String, usize>,
    earlier: &str,
    later: &str,
) -> &'static str {
    let (Some(plan), Some(&e), Some(&l)) = (plan, index.get(earlier), index.get(later)) else {
        return "slot";
    };
    let depends = plan.effective_after(l).iter().any(|target| match *target {
        crate::plan::Target::Task(t) => t == e || plan.doc.task_within(e, t),
        crate::plan::Target::Section(s) => {
            plan.doc.tasks[e].section() == s
                || plan.doc.section_within(plan.doc.tasks[e].section(), s)
        }
    });
    if depends {
        "dependency"
    } else if plan.tasks[e].wave() < plan.tasks[l].wave() {
        "wave"
    } else {
        "slot"
    }
}
