//! Per-plan facts the scheduler starts from: which leaves run, and what
//! each waits for, with every dependency target counted once. Computed once
//! per plan; never changes during a run.

use std::collections::{BTreeSet, HashMap};

use crate::plan::{Plan, Target};

/// Per-plan facts: which leaves run, and what each one waits for.
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
            let mut s = Some(doc.tasks[l].section());
            while let Some(i) = s {
                section_leaves[i].push(l);
                s = doc.sections[i].parent;
            }
        }
        let mut index: HashMap<Target, usize> = HashMap::new();
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

    /// The leaves `t` waits for (for `--dry-run` and messages).
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
        let at = stack.len();
        stack.extend(plan.doc.children(i));
        stack[at..].reverse();
    }
    out.sort_unstable();
    out
}
