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
use std::time::{Duration, Instant, SystemTime};

use crate::plan::Plan;
use crate::record::events::{BoxTaken, Event};
use crate::run::carry::{self, Known};
use crate::run::providers::{Pace, Provider};
use crate::run::scheduler::{Pools, Prepared, Schedule, State};

/// A task's identity within a run (stable across edits of the file).
pub type Key = usize;
/// One attempt of one task.
pub type AttemptId = u64;

/// Why the dispatcher asked an attempt to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Timeout,
    /// No output, event or progress line for the idle timeout.
    Idle,
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
    /// The API failed (5xx, overloaded, network) after the CLI's own retries:
    /// retried with backoff, without using the task's retries (a few times).
    Transient,
    /// The provider's burst limiter refused it (a 429 with no reset time):
    /// its provider slows down; the task waits, without using a retry.
    Throttled,
    /// A usage window is exhausted: its provider waits for `reset` (when the
    /// CLI said), then the task continues, without using a retry.
    Limited {
        reset: Option<SystemTime>,
        window: Option<String>,
    },
    /// Auth or billing (an invalid key, credit too low): its provider starts
    /// nothing more in this run.
    Auth,
    /// Its worktree could not be made or set up: the task fails without
    /// using a retry (another attempt would meet the same).
    Setup,
}

impl Class {
    /// For `task_finished.class`, the summary and `status`.
    pub fn name(&self) -> &'static str {
        match self {
            Class::Succeeded => "succeeded",
            Class::Failed => "task_failed",
            Class::Blocked => "blocked",
            Class::Interrupted => "interrupted",
            Class::Refused => "resume_refused",
            Class::Transient => "transient",
            Class::Throttled => "throttled",
            Class::Limited { .. } => "limit_exhausted",
            Class::Auth => "auth",
            Class::Setup => "setup_failed",
        }
    }
}

/// Transient failures retried by default before they count as the task's
/// failure.
pub const TRANSIENT_RETRIES: u32 = 5;

/// Each task's provider (an index into `names`), for its gate.
#[derive(Clone, Debug, Default)]
pub struct Providers {
    /// Providers by name, with how their starts are paced.
    pub names: Vec<(String, Pace)>,
    /// The provider of each plan task.
    pub of: Vec<Option<usize>>,
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
    /// `--max-wait`: the most the run waits for usage limits in all.
    pub max_wait: Option<Duration>,
    /// Seeds the jitter of backoffs (fixed in tests).
    pub seed: u64,
    /// Transient API failures retried (without using the task's retries)
    /// before one counts as the task's failure.
    pub transient_retries: u32,
    /// Waited past a usage limit's reset time before a task probes.
    pub reset_margin: Duration,
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
    /// Transient failures so far.
    pub transients: u32,
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
    providers: Vec<Provider>,
    /// The provider of each plan task.
    pool_of: Vec<Option<usize>>,
    /// A moment on both clocks, to tell wall times from `now`.
    epoch: (Instant, SystemTime),
    /// The latest time an input brought.
    now: Instant,
    /// Waiting for usage limits: since when (while any provider waits), and
    /// in all before that.
    waiting_since: Option<Instant>,
    waited: Duration,
    rng: u64,
}

impl Dispatcher {
    pub fn new(plan: Plan, limits: Limits, providers: Providers, now: Instant) -> Dispatcher {
        let prep = Prepared::new(&plan);
        let mut d = Dispatcher {
            schedule: Schedule::new(
                &plan,
                &prep,
                |_| State::Waiting,
                |_| false,
                false,
                &Pools::NONE,
            ),
            providers: Vec::new(),
            pool_of: Vec::new(),
            epoch: (now, SystemTime::now()),
            now,
            waiting_since: None,
            waited: Duration::ZERO,
            rng: limits.seed,
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
        for i in 0..d.plan.doc.tasks.len() {
            d.keys.push(Some(d.tasks.len()));
            d.tasks.push(Task {
                id: d.plan.doc.id(i).into_owned(),
                text: d.plan.doc.text(i).to_owned(),
                place: Some(i),
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
        }
        d.set_providers(providers);
        d.rebuild_schedule();
        d.refresh_pools(now);
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

    /// The first wave with work left.
    pub fn open_wave(&self) -> usize {
        self.schedule.open_wave()
    }

    pub fn schedule_state(&self, t: usize) -> State {
        self.schedule.state(t)
    }

    /// The run is over: nothing runs, and nothing may start or retry.
    pub fn finished(&self) -> bool {
        let stopped = |pool: usize| self.providers[pool].is_stopped();
        self.live.is_empty() && (self.cancel.is_some() || self.schedule.finished_but(stopped))
    }

    /// The earliest time something is due: a timeout or a retry.
    pub fn next_due(&self) -> Option<Instant> {
        let deadlines = (self.live.values())
            .filter(|l| l.stopping.is_none())
            .filter_map(|l| l.deadline);
        let retry = self.retries_due.first().map(|&(at, _)| at);
        let gates = self.providers.iter().filter_map(Provider::next_due);
        deadlines.chain(retry).chain(gates).min()
    }

    /// Task `t` (a plan index) is done by work that ran before this run
    /// (landed by a run that crashed before ticking it): its box is owed.
    pub fn mark_succeeded(&mut self, t: usize) {
        let Some(k) = self.key_of(t) else { return };
        let task = &mut self.tasks[k];
        task.state = State::Succeeded;
        task.succeeded_here = true;
        self.schedule.succeeded(t);
        self.boxes.insert(k);
    }

    /// Starts what may start now.
    pub fn start_ready(&mut self, now: Instant) -> Vec<Action> {
        self.now = now;
        let mut out = Vec::new();
        self.report_blocked(&mut out);
        if self.cancel.is_some() {
            return out;
        }
        self.refresh_pools(now);
        // Attempts of tasks that left the file still hold their slots.
        let orphans = self.live.len() - self.schedule.running();
        let jobs = self.limits.jobs.saturating_sub(orphans);
        while let Some(t) = self.schedule.next(jobs) {
            if let Some(p) = self.pool_of.get(t).copied().flatten() {
                self.providers[p].started(now);
                let limit = self.providers[p].limit(self.schedule.pool_running(p), now);
                self.schedule.set_pool_limit(p, limit);
            }
            let Some(k) = self.key_of(t) else { continue };
            let attempt = self.next_attempt;
            self.next_attempt += 1;
            let number = self.tasks[k].attempts + 1;
            let (_, timeout) = self.plan.settings(t).for_attempt(number);
            let timeout = timeout.or(self.limits.timeout);
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

    /// Timeouts, retries and gates that are due.
    pub fn on_time(&mut self, now: Instant) -> Vec<Action> {
        self.now = now;
        let mut out = Vec::new();
        for p in &mut self.providers {
            p.tick(now);
        }
        self.refresh_pools(now);
        self.account_waiting(now);
        if let Some(max) = self.limits.max_wait
            && self.limit_waited(now) >= max
            && self.cancel.is_none()
        {
            self.cancel = Some(Cancel::MaxWait);
            out.push(Action::Emit(Box::new(Event::Cancelling {
                reason: format!(
                    "--max-wait {} reached waiting for usage limits: starting nothing new; run again later to carry on",
                    crate::report::plan_text::humanize(max)
                ),
            })));
        }
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
        self.now = now;
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
        let pool = self.pool_of.get(t).copied().flatten();
        // Ticked by its own agent, in an attempt that did not succeed: the
        // box is the run's, and is cleared.
        if class != Class::Succeeded && self.plan.doc.tasks[t].checked {
            self.tasks[k].owe_clear = true;
            self.boxes.insert(k);
        }
        let free = match &class {
            Class::Succeeded => {
                self.tasks[k].state = State::Succeeded;
                self.tasks[k].succeeded_here = true;
                self.tasks[k].owe_clear = false;
                self.schedule.succeeded(t);
                self.boxes.insert(k);
                if let Some(p) = pool
                    && let Some(e) = self.providers[p].succeeded(now)
                {
                    out.push(Action::Emit(Box::new(e)));
                }
                false
            }
            Class::Interrupted => {
                self.again(k, t);
                false
            }
            Class::Refused => self.cancel.is_none(),
            Class::Throttled => {
                if let Some(p) = pool {
                    // Not counting this attempt, which still runs for the
                    // schedule until `again` below.
                    let running = self.schedule.pool_running(p).saturating_sub(1);
                    let jitter = self.jitter();
                    let e = self.providers[p].throttled(running, now, jitter);
                    out.push(Action::Emit(Box::new(e)));
                }
                true
            }
            Class::Limited { reset, window } => {
                if let Some(p) = pool {
                    let wall = self.wall(now);
                    let e = self.providers[p].limited(*reset, window.clone(), now, wall);
                    out.extend(e.map(|e| Action::Emit(Box::new(e))));
                    self.account_waiting(now);
                }
                true
            }
            Class::Auth => {
                if let Some(p) = pool {
                    let e = self.providers[p].stopped(reason.unwrap_or("auth or billing failed"));
                    out.extend(e.map(|e| Action::Emit(Box::new(e))));
                }
                true
            }
            Class::Transient => {
                self.tasks[k].transients += 1;
                true
            }
            Class::Failed | Class::Blocked | Class::Setup => false,
        };
        if matches!(
            class,
            Class::Throttled | Class::Limited { .. } | Class::Auth | Class::Refused
        ) && free
        {
            // Not the task's fault: it waits for its provider (or starts
            // afresh at once), and uses no retry.
            self.tasks[k].free_attempts += 1;
            self.again(k, t);
        } else if class == Class::Transient && free {
            self.tasks[k].free_attempts += 1;
            let n = self.tasks[k].transients;
            self.retry(k, t, n, now, &mut out);
        } else if !matches!(class, Class::Succeeded | Class::Interrupted) {
            let task = &self.tasks[k];
            let retries = (self.plan.settings(t).retries).unwrap_or(self.limits.retries);
            let used = task.attempts - task.free_attempts;
            if class == Class::Failed && self.cancel.is_none() && used <= retries {
                self.retry(k, t, used, now, &mut out);
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
        self.refresh_pools(now);
        self.report_blocked(&mut out);
        out
    }

    /// The task waits to start again.
    fn again(&mut self, k: Key, t: usize) {
        self.tasks[k].state = State::Waiting;
        self.schedule.again(t);
    }

    /// Retry `n` of the task, after a backoff.
    fn retry(&mut self, k: Key, t: usize, n: u32, now: Instant, out: &mut Vec<Action>) {
        let delay = backoff(n).mul_f64(1.0 + 0.25 * self.jitter());
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
    }

    /// The engine saw no sign of life from an attempt for its idle timeout:
    /// it is stopped like a timeout.
    pub fn on_idle(&mut self, attempt: AttemptId) -> Vec<Action> {
        match self.live.get_mut(&attempt) {
            Some(live) if live.stopping.is_none() => {
                live.stopping = Some(Stop::Idle);
                vec![Action::Stop {
                    attempt,
                    why: Stop::Idle,
                    signal: libc::SIGTERM,
                }]
            }
            _ => Vec::new(),
        }
    }

    fn rebuild_schedule(&mut self) {
        let keys = &self.keys;
        let tasks = &self.tasks;
        let key = |t: usize| keys[t].map(|k| &tasks[k]);
        let open = vec![usize::MAX; self.providers.len()];
        let pool_of = &self.pool_of;
        let of = |t: usize| pool_of.get(t).copied().flatten();
        self.schedule = Schedule::new(
            &self.plan,
            &self.prep,
            |t| key(t).map_or(State::Waiting, |k| k.state),
            |t| key(t).is_some_and(|k| k.owe_clear),
            self.limits.keep_going,
            &Pools {
                limits: &open,
                of: &of,
            },
        );
        self.refresh_pools(self.now);
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
                task: self.plan.doc.id(t).into_owned(),
                by: self.plan.doc.id(by).into_owned(),
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
/// 60 s; a jitter of up to a quarter more is added.
pub fn backoff(n: u32) -> Duration {
    Duration::from_secs(1u64 << n.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

mod boxes;
mod cancel;
mod gates;
mod reload;

pub use cancel::Cancel;
#[cfg(test)]
mod tests;
