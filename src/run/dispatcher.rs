//! The dispatcher: the one place that decides what a run does next.
//!
//! Takes one input at a time (an attempt ended, a signal, the clock, a new
//! plan after a person edited the file, a budget reached) and hands back typed
//! actions (start an attempt, stop one, kill one, emit an event) for the
//! engine to carry out. Owns every task's state in this run, keyed by an
//! identity that survives edits of the file (`carry`), and which boxes the run
//! owes the file. Does no I/O and reads no clock: `now` comes in with each
//! input, so its behaviour is tested by feeding inputs and reading actions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::plan::Plan;
use crate::record::events::{BoxTaken, Event};
use crate::run::carry::{self, Known};
use crate::run::scheduler::{Prepared, Schedule, State};

/// A task's identity within a run (stable across edits of the file).
pub type Key = usize;
/// One attempt of one task.
pub type AttemptId = u64;

/// Why the run stops starting work; a stronger reason replaces a weaker one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cancel {
    /// `--max-cost` reached: start nothing new, let running tasks finish.
    Budget,
    FailFast,
    Signal,
    SecondSignal,
}

impl Cancel {
    /// For `run_finished.stopped`.
    pub fn name(self) -> &'static str {
        match self {
            Cancel::Budget => "max_cost",
            Cancel::FailFast => "fail_fast",
            Cancel::Signal | Cancel::SecondSignal => "interrupted",
        }
    }
}

/// Why the dispatcher asked an attempt to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Timeout,
    Cancelled,
    /// Its task left the file.
    Removed,
}

/// How an attempt ended, as the engine judged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    Succeeded,
    /// A failure that uses one of the task's retries.
    Failed,
    /// The agent said it could not finish: no retry.
    Blocked,
    /// Stopped by the run (signal, --fail-fast, its task removed): not the
    /// task's fault; it waits to start again.
    Interrupted,
    /// The agent would not continue its session: start afresh now, without
    /// using a retry.
    Refused,
}

/// Settings the dispatcher decides with.
#[derive(Clone, Debug)]
pub struct Limits {
    pub jobs: usize,
    pub keep_going: bool,
    pub fail_fast: bool,
    /// Retries for tasks without a `retries` hint.
    pub retries: u32,
    /// Timeout for tasks without a `timeout` hint.
    pub timeout: Option<Duration>,
}

/// What the engine must do.
#[derive(Debug)]
pub enum Action {
    /// Start attempt `number` of task `task` (an index into the plan).
    Start {
        attempt: AttemptId,
        key: Key,
        task: usize,
        number: u32,
    },
    /// Begin terminating an attempt's process group.
    Stop {
        attempt: AttemptId,
        why: Stop,
        signal: i32,
    },
    /// Kill it now (a second Ctrl-C).
    Kill {
        attempt: AttemptId,
    },
    Emit(Box<Event>),
}

/// One task as the run knows it.
#[derive(Clone, Debug)]
pub struct Task {
    pub id: String,
    pub text: String,
    /// Its index in the current plan; None while it is not in the file.
    pub place: Option<usize>,
    pub state: State,
    /// Attempts started in this run, and how many of them were free.
    pub attempts: u32,
    pub free_attempts: u32,
    pub retry_at: Option<Instant>,
    pub running: Option<AttemptId>,
    /// It succeeded in this run: its box must be ticked.
    pub succeeded_here: bool,
    /// Its attempt failed while its box was ticked (by the agent): the box
    /// must be cleared.
    pub owe_clear: bool,
    /// When its last attempt ended: an edit of its box saved before then
    /// was made while the box was the run's.
    pub ended_at: Option<Instant>,
}

/// An attempt that is running (or stopping).
#[derive(Clone, Debug)]
pub struct Live {
    pub key: Key,
    pub number: u32,
    pub started: Instant,
    pub deadline: Option<Instant>,
    pub stopping: Option<Stop>,
}

pub struct Dispatcher {
    plan: Plan,
    prep: Prepared,
    schedule: Schedule,
    /// Plan task index → key.
    keys: Vec<Option<Key>>,
    tasks: Vec<Task>,
    live: BTreeMap<AttemptId, Live>,
    next_attempt: AttemptId,
    retries_due: BTreeSet<(Instant, Key)>,
    cancel: Option<Cancel>,
    limits: Limits,
    failed_any: bool,
    /// Keys whose box may not say what the run owes it.
    boxes: BTreeSet<Key>,
}

impl Dispatcher {
    pub fn new(plan: Plan, limits: Limits) -> Dispatcher {
        let prep = Prepared::new(&plan);
        let mut d = Dispatcher {
            schedule: Schedule::new(&plan, &prep, |_| State::Waiting, |_| false, false),
            keys: Vec::new(),
            tasks: Vec::new(),
            live: BTreeMap::new(),
            next_attempt: 0,
            retries_due: BTreeSet::new(),
            cancel: None,
            failed_any: false,
            boxes: BTreeSet::new(),
            prep,
            plan,
            limits,
        };
        for (i, t) in d.plan.doc.tasks.iter().enumerate() {
            d.keys.push(Some(d.tasks.len()));
            d.tasks.push(Task {
                id: t.id.clone(),
                text: t.text.clone(),
                place: Some(i),
                state: State::Waiting,
                attempts: 0,
                free_attempts: 0,
                retry_at: None,
                running: None,
                succeeded_here: false,
                owe_clear: false,
                ended_at: None,
            });
        }
        d.rebuild_schedule();
        d
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The plan, for the tick writer to record what it wrote.
    pub fn plan_mut(&mut self) -> &mut Plan {
        &mut self.plan
    }

    pub fn task(&self, key: Key) -> &Task {
        &self.tasks[key]
    }

    pub fn key_of(&self, task: usize) -> Option<Key> {
        self.keys.get(task).copied().flatten()
    }

    pub fn live(&self, attempt: AttemptId) -> Option<&Live> {
        self.live.get(&attempt)
    }

    pub fn live_attempts(&self) -> impl Iterator<Item = (AttemptId, &Live)> {
        self.live.iter().map(|(&a, l)| (a, l))
    }

    pub fn cancel(&self) -> Option<Cancel> {
        self.cancel
    }

    pub fn failed_any(&self) -> bool {
        self.failed_any
    }

    /// Whether `t` (a plan index) counts as done in this run.
    pub fn is_done(&self, t: usize) -> bool {
        self.schedule.is_done(t)
    }

    pub fn schedule_state(&self, t: usize) -> State {
        self.schedule.state(t)
    }

    /// The run is over: nothing runs, and nothing may start or retry.
    pub fn finished(&self) -> bool {
        self.live.is_empty() && (self.cancel.is_some() || self.schedule.finished())
    }

    /// The earliest time something is due: a timeout or a retry.
    pub fn next_due(&self) -> Option<Instant> {
        let deadlines = (self.live.values())
            .filter(|l| l.stopping.is_none())
            .filter_map(|l| l.deadline);
        let retry = self.retries_due.first().map(|&(at, _)| at);
        deadlines.chain(retry).min()
    }

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

    /// Starts what may start now.
    pub fn start_ready(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.report_blocked(&mut out);
        if self.cancel.is_some() {
            return out;
        }
        // Attempts of tasks that left the file still hold their slots.
        let orphans = self.live.len() - self.schedule.running();
        let jobs = self.limits.jobs.saturating_sub(orphans);
        while let Some(t) = self.schedule.next(jobs) {
            let Some(k) = self.key_of(t) else { continue };
            let attempt = self.next_attempt;
            self.next_attempt += 1;
            let timeout = self.plan.tasks[t].settings.timeout.or(self.limits.timeout);
            let task = &mut self.tasks[k];
            task.attempts += 1;
            task.state = State::Running;
            task.running = Some(attempt);
            task.retry_at = None;
            self.live.insert(
                attempt,
                Live {
                    key: k,
                    number: task.attempts,
                    started: now,
                    deadline: timeout.map(|d| now + d),
                    stopping: None,
                },
            );
            out.push(Action::Start {
                attempt,
                key: k,
                task: t,
                number: task.attempts,
            });
        }
        out
    }

    /// Timeouts and retries that are due.
    pub fn on_time(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        for (&attempt, live) in self.live.iter_mut() {
            if live.stopping.is_none() && live.deadline.is_some_and(|d| now >= d) {
                live.stopping = Some(Stop::Timeout);
                out.push(Action::Stop {
                    attempt,
                    why: Stop::Timeout,
                    signal: libc::SIGTERM,
                });
            }
        }
        while let Some(&(at, k)) = self.retries_due.first() {
            if at > now {
                break;
            }
            self.retries_due.pop_first();
            if self.tasks[k].retry_at != Some(at) {
                continue;
            }
            self.tasks[k].retry_at = None;
            self.tasks[k].state = State::Waiting;
            if let Some(t) = self.tasks[k].place {
                self.schedule.again(t);
            }
        }
        out
    }

    /// An attempt ended, as the engine judged it (`reason` says why it did
    /// not succeed).
    pub fn on_end(
        &mut self,
        attempt: AttemptId,
        class: Class,
        reason: Option<&str>,
        now: Instant,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(live) = self.live.remove(&attempt) else {
            return out;
        };
        let k = live.key;
        self.tasks[k].running = None;
        self.tasks[k].ended_at = Some(now);
        let place = self.tasks[k].place;
        let Some(t) = place else {
            // The task left the file while it ran: its state is kept, in
            // case it comes back.
            self.tasks[k].state = State::Waiting;
            return out;
        };
        let checked = self.plan.doc.tasks[t].checked;
        match class {
            Class::Succeeded => {
                self.tasks[k].state = State::Succeeded;
                self.tasks[k].succeeded_here = true;
                self.tasks[k].owe_clear = false;
                self.schedule.succeeded(t);
                self.boxes.insert(k);
            }
            Class::Interrupted => {
                if checked {
                    // Ticked by its agent, which did not finish.
                    self.tasks[k].owe_clear = true;
                    self.boxes.insert(k);
                }
                self.tasks[k].state = State::Waiting;
                self.schedule.again(t);
            }
            Class::Refused if self.cancel.is_none() => {
                self.tasks[k].free_attempts += 1;
                self.tasks[k].state = State::Waiting;
                self.schedule.again(t);
            }
            Class::Refused | Class::Failed | Class::Blocked => {
                if checked {
                    // The agent ticked its own box; the box is the run's.
                    self.tasks[k].owe_clear = true;
                    self.boxes.insert(k);
                }
                let task = &self.tasks[k];
                let retries = self.plan.tasks[t]
                    .settings
                    .retries
                    .unwrap_or(self.limits.retries);
                let used = task.attempts - task.free_attempts;
                if class == Class::Failed && self.cancel.is_none() && used <= retries {
                    let delay = backoff(used);
                    let at = now + delay;
                    let task = &mut self.tasks[k];
                    task.state = State::Retrying;
                    task.retry_at = Some(at);
                    self.retries_due.insert((at, k));
                    self.schedule.retrying(t);
                    out.push(Action::Emit(Box::new(Event::TaskRetrying {
                        task: task.id.clone(),
                        next_attempt: task.attempts + 1,
                        delay_secs: delay.as_secs_f64(),
                    })));
                } else {
                    self.tasks[k].state = State::Failed;
                    self.failed_any = true;
                    self.schedule.failed(t);
                    if self.limits.fail_fast {
                        let id = self.tasks[k].id.clone();
                        self.cancel_with(
                            Cancel::FailFast,
                            format!("--fail-fast: `{id}` failed; stopping the other agents"),
                            libc::SIGTERM,
                            &mut out,
                        );
                    }
                }
            }
        }
        let _ = reason;
        self.report_blocked(&mut out);
        out
    }

    /// Ctrl-C, SIGTERM or SIGHUP: the first stops new starts and passes the
    /// signal on (`then`: what follows, for the message); the second kills
    /// every agent.
    pub fn on_signal(&mut self, sig: i32, name: &str, then: &str) -> Vec<Action> {
        let mut out = Vec::new();
        if self.cancel >= Some(Cancel::Signal) {
            self.cancel = Some(Cancel::SecondSignal);
            out.push(Action::Emit(Box::new(Event::Cancelling {
                reason: format!("second {name}: killing every agent now"),
            })));
            for &attempt in self.live.keys() {
                out.push(Action::Kill { attempt });
            }
            return out;
        }
        let running = self.live.len();
        self.cancel_with(
            Cancel::Signal,
            format!(
                "{name} received: no new tasks; sent {name} to {running} running agent{}, {then} (press Ctrl-C again to kill now)",
                crate::report::plural(running)
            ),
            sig,
            &mut out,
        );
        out
    }

    /// `--max-cost` reached as an attempt ends (`again`: its task may run
    /// again). Nothing is stopped if no work is left to start.
    pub fn on_budget(&mut self, again: bool, message: String) -> Vec<Action> {
        let mut out = Vec::new();
        if self.cancel.is_some() {
            return out;
        }
        let waiting = (self.prep.runnable.iter()).any(|&t| {
            matches!(self.schedule.state(t), State::Waiting | State::Retrying)
                && !self.schedule.is_done(t)
        });
        if !(waiting || again) {
            return out;
        }
        self.cancel = Some(Cancel::Budget);
        out.push(Action::Emit(Box::new(Event::Cancelling {
            reason: message,
        })));
        out
    }

    fn cancel_with(&mut self, cancel: Cancel, reason: String, sig: i32, out: &mut Vec<Action>) {
        if self.cancel >= Some(cancel) {
            return;
        }
        self.cancel = Some(cancel);
        out.push(Action::Emit(Box::new(Event::Cancelling { reason })));
        for (&attempt, live) in self.live.iter_mut() {
            if live.stopping.is_none() || cancel >= Cancel::Signal {
                live.stopping = Some(Stop::Cancelled);
                out.push(Action::Stop {
                    attempt,
                    why: Stop::Cancelled,
                    signal: sig,
                });
            }
        }
    }

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
                        id: new.id.clone(),
                        text: new.text.clone(),
                        place: None,
                        state: State::Waiting,
                        attempts: 0,
                        free_attempts: 0,
                        retry_at: None,
                        running: None,
                        succeeded_here: false,
                        owe_clear: false,
                        ended_at: None,
                    });
                    self.tasks.len() - 1
                }
            };
            self.keys[i] = Some(k);
            let task = &mut self.tasks[k];
            task.place = Some(i);
            task.id.clone_from(&new.id);
            task.text.clone_from(&new.text);
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
                if undo.contains(&new.id) {
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
                    task: new.id.clone(),
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
        self.rebuild_schedule();
        out.push(Action::Emit(Box::new(Event::PlanReloaded {
            tasks: self.prep.runnable.len(),
        })));
        out
    }

    fn rebuild_schedule(&mut self) {
        let keys = &self.keys;
        let tasks = &self.tasks;
        let key = |t: usize| keys[t].map(|k| &tasks[k]);
        self.schedule = Schedule::new(
            &self.plan,
            &self.prep,
            |t| key(t).map_or(State::Waiting, |k| k.state),
            |t| key(t).is_some_and(|k| k.owe_clear),
            self.limits.keep_going,
        );
        // Blocked tasks may wait for a task that is no longer failed (it
        // was ticked by hand, or left): they are looked at afresh.
        let _ = self.schedule.take_blocked();
        for k in 0..self.tasks.len() {
            if let Some(t) = self.tasks[k].place
                && self.tasks[k].state == State::Blocked
                && self.schedule.state(t) != State::Blocked
            {
                self.tasks[k].state = self.schedule.state(t);
            }
        }
    }

    fn report_blocked(&mut self, out: &mut Vec<Action>) {
        for (t, by) in self.schedule.take_blocked() {
            let Some(k) = self.key_of(t) else { continue };
            self.tasks[k].state = State::Blocked;
            out.push(Action::Emit(Box::new(Event::TaskBlocked {
                task: self.plan.doc.tasks[t].id.clone(),
                by: self.plan.doc.tasks[by].id.clone(),
            })));
        }
    }

    /// Tasks that run in the current plan, and how many are done, failed or
    /// blocked (by the schedule).
    pub fn counts(&self) -> (usize, usize, usize) {
        let runnable = self.prep.runnable.len();
        let done = (self.prep.runnable.iter())
            .filter(|&&t| self.schedule.is_done(t))
            .count();
        let failed = (self.prep.runnable.iter())
            .filter(|&&t| matches!(self.schedule.state(t), State::Failed | State::Blocked))
            .filter(|&&t| !self.schedule.is_done(t))
            .count();
        (runnable, done, failed)
    }

    /// The runnable tasks of the current plan.
    pub fn runnable(&self) -> impl Iterator<Item = usize> + '_ {
        self.prep.runnable.iter().copied()
    }

    pub fn prepared(&self) -> &Prepared {
        &self.prep
    }
}

/// The wait before retry `n` (1 for the first): doubling from 1 s, at most
/// 60 s.
pub fn backoff(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests;
