//! Claims on files while tasks run: takes each task's file claims from the
//! plan, hands the scheduler whether a task's claims overlap a running
//! task's, and counts what running tasks hold. Never decides what starts
//! next (the scheduler does) and never looks at the disk.
//!
//! A claim's key is the folder or file before its first wildcard
//! (`plan::files::key`); two keys overlap when one is the other or a folder
//! holding it. Each check and each change costs the depth of the key, not
//! the number of tasks.

use std::collections::HashMap;

use crate::plan::{Plan, files};

pub struct Claims {
    /// Per task: the ids of its keys.
    of: Vec<Vec<u32>>,
    /// Per key: the keys of the table that are folders holding it.
    above: Vec<Vec<u32>>,
    /// Per key: running tasks holding exactly this key.
    exact: Vec<u32>,
    /// Per key: running tasks holding this key or one inside it.
    within: Vec<u32>,
}

impl Claims {
    /// The plan's claims, or None when no task claims a file (nothing to
    /// check then).
    pub fn new(plan: &Plan) -> Option<Claims> {
        if (0..plan.tasks.len()).all(|t| plan.files(t).is_empty()) {
            return None;
        }
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let mut keys: Vec<&str> = Vec::new();
        let of: Vec<Vec<u32>> = (0..plan.tasks.len())
            .map(|t| {
                let mut mine: Vec<u32> = (plan.files(t).all())
                    .map(|p| {
                        let k = files::key(p);
                        *ids.entry(k).or_insert_with(|| {
                            keys.push(k);
                            (keys.len() - 1) as u32
                        })
                    })
                    .collect();
                mine.sort_unstable();
                mine.dedup();
                mine
            })
            .collect();
        let above = (keys.iter())
            .map(|k| {
                files::ancestors(k)
                    .filter_map(|a| ids.get(a).copied())
                    .collect()
            })
            .collect();
        Some(Claims {
            of,
            above,
            exact: vec![0; keys.len()],
            within: vec![0; keys.len()],
        })
    }

    /// Whether `t` claims a file a running task claims.
    pub fn clashes(&self, t: usize) -> bool {
        self.of[t].iter().any(|&k| {
            let k = k as usize;
            self.within[k] > 0 || self.above[k].iter().any(|&a| self.exact[a as usize] > 0)
        })
    }

    /// `t` starts: it holds its claims.
    pub fn take(&mut self, t: usize) {
        self.count(t, |n| *n += 1);
    }

    /// `t` stopped running; whether it held any claim (then tasks set aside
    /// for a clash may start).
    pub fn give_back(&mut self, t: usize) -> bool {
        self.count(t, |n| *n -= 1);
        !self.of[t].is_empty()
    }

    fn count(&mut self, t: usize, f: impl Fn(&mut u32)) {
        for &k in &self.of[t] {
            let k = k as usize;
            f(&mut self.exact[k]);
            f(&mut self.within[k]);
            for &a in &self.above[k] {
                f(&mut self.within[a as usize]);
            }
        }
    }
}
