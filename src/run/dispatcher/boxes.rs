//! What the run owes the task file's boxes: a tick for each task that
//! succeeded in this run, a cleared box for each its agent ticked in an
//! attempt that did not succeed; and the truth at the end (successes whose
//! box the file does not show).

use super::*;

impl Dispatcher {
    /// Boxes that do not say what the run owes them: (plan index, ticked?).
    pub fn box_wants(&self) -> Vec<(usize, bool)> {
        let mut wants = Vec::new();
        for &k in &self.boxes {
            let task = &self.tasks[k];
            let Some(t) = task.place else { continue };
            let checked = self.plan.doc.tasks[t].checked;
            if task.succeeded_here && !checked && task.running.is_none() {
                wants.push((t, true));
            } else if task.owe_clear && checked {
                wants.push((t, false));
            }
        }
        wants
    }

    /// The tick writer set these boxes (plan indices) in the file and in the
    /// plan's document.
    pub fn boxes_written(&mut self) {
        let mut cleared = false;
        let (tasks, doc) = (&mut self.tasks, &self.plan.doc);
        self.boxes.retain(|&k| {
            let task = &mut tasks[k];
            let Some(t) = task.place else { return false };
            let checked = doc.tasks[t].checked;
            if task.owe_clear && !checked {
                task.owe_clear = false;
                cleared = true;
            }
            (task.succeeded_here && !checked) || (task.owe_clear && checked)
        });
        // The schedule did not count an owed box; it may count it now.
        if cleared {
            self.rebuild_schedule();
        }
    }

    /// Tasks of the plan that succeeded in this run but whose box the file
    /// does not show ticked (for the truth of the summary). A task whose
    /// line the person deleted is no longer the plan's.
    pub fn unticked_successes(&self) -> Vec<String> {
        (self.tasks.iter())
            .filter(|t| t.succeeded_here)
            .filter(|t| t.place.is_some_and(|p| !self.plan.doc.tasks[p].checked))
            .map(|t| t.id.clone())
            .collect()
    }
}
