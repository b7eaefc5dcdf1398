//! The dispatcher hears that a person edited the task file: every task's
//! state is carried over to the new plan (by `carry`), boxes changed by
//! someone else are judged (a hand edit, the run's own box, a stale copy),
//! and running tasks whose line is gone are stopped.

use super::*;

impl Dispatcher {
    /// The file was edited (saved at `edited_at`) and planned again: carry
    /// every task's state over to the new plan. Running tasks whose line is
    /// gone are stopped; succeeded tasks whose box was cleared are ticked
    /// again unless the person asked for the task again (`undo`, by id); a
    /// box changed while its task's agent ran is the run's to set.
    pub fn on_reload(
        &mut self,
        plan: Plan,
        undo: &std::collections::HashSet<String>,
        edited_at: Instant,
        providers: Providers,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let known: Vec<Known> = (self.tasks.iter())
            .map(|t| Known {
                id: &t.id,
                text: &t.text,
                place: t.place,
            })
            .collect();
        let carried = carry::carry(&known, &plan.doc);
        // Whose agent was at work when the edit was saved: running now, or
        // ended since.
        let was_running =
            |t: &Task| t.running.is_some() || t.ended_at.is_some_and(|e| e >= edited_at);
        let running_then: Vec<String> = (self.tasks.iter())
            .filter(|t| t.place.is_some() && was_running(t))
            .map(|t| t.id.clone())
            .collect();
        let old_checked: Vec<Option<bool>> = (self.tasks.iter())
            .map(|t| t.place.map(|p| self.plan.doc.tasks[p].checked))
            .collect();
        for task in &mut self.tasks {
            task.place = None;
        }
        self.keys = vec![None; plan.doc.tasks.len()];
        for (i, new) in plan.doc.tasks.iter().enumerate() {
            let k = match carried[i] {
                Some(k) => k,
                None => {
                    self.tasks.push(Task {
                        id: plan.doc.id(i).into_owned(),
                        text: plan.doc.text(i).to_owned(),
                        place: None,
                        state: State::Waiting,
                        attempts: 0,
                        free_attempts: 0,
                        retry_at: None,
                        running: None,
                        succeeded_here: false,
                        owe_clear: false,
                        ended_at: None,
                        transients: 0,
                    });
                    self.tasks.len() - 1
                }
            };
            self.keys[i] = Some(k);
            let task = &mut self.tasks[k];
            task.place = Some(i);
            task.id.clear();
            plan.doc.push_id(i, &mut task.id);
            plan.doc.text(i).clone_into(&mut task.text);
            let owned = was_running(task);
            let mut taken = if owned {
                BoxTaken::Owned
            } else {
                BoxTaken::Honoured
            };
            // Ticked by its own agent, whose attempt has ended without
            // success since: the box is cleared.
            if owned
                && new.checked
                && task.running.is_none()
                && !task.succeeded_here
                && old_checked.get(k).copied().flatten() == Some(false)
            {
                task.owe_clear = true;
            }
            if task.succeeded_here && !new.checked && task.running.is_none() {
                if undo.contains(&*plan.doc.id(i)) {
                    // Asked for again (`run-batch tick --undo`): run it again.
                    task.succeeded_here = false;
                    task.state = State::Waiting;
                } else {
                    // A stale buffer saved over the tick: tick it again.
                    taken = BoxTaken::TickedAgain;
                    self.boxes.insert(k);
                }
            }
            let was = old_checked.get(k).copied().flatten();
            if was.is_some_and(|w| w != new.checked) {
                out.push(Action::Emit(Box::new(Event::BoxEdited {
                    task: plan.doc.id(i).into_owned(),
                    ticked: new.checked,
                    taken,
                    running: running_then.clone(),
                })));
            }
            if task.owe_clear {
                self.boxes.insert(k);
            }
        }
        // Lines that left the file while their agent ran: stop the agent.
        for (&attempt, live) in self.live.iter_mut() {
            if self.tasks[live.key].place.is_none() && live.stopping != Some(Stop::Removed) {
                live.stopping = Some(Stop::Removed);
                out.push(Action::Stop {
                    attempt,
                    why: Stop::Removed,
                    signal: libc::SIGTERM,
                });
            }
        }
        self.prep = Prepared::new(&plan);
        self.plan = plan;
        self.set_providers(providers);
        self.rebuild_schedule();
        out.push(Action::Emit(Box::new(Event::PlanReloaded {
            tasks: self.prep.runnable.len(),
        })));
        out
    }
}
