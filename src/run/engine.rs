//! The engine: the loop that carries out a run.
//!
//! Takes the plan, the agents and the keeper of the task file; hears inputs
//! (agent exits, stream results, signals, the clock, the file changing) and
//! passes each to the dispatcher, then does what it says: starts attempts
//! (`executor`), stops them (`process`), writes boxes (`record::keeper`),
//! records events and the journal, and tells the reporter. Hands on the exit
//! status. Decides nothing the dispatcher decides.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::plan::Plan;
use crate::record::events::{self, Event, EventLog, TaskOutcome};
use crate::record::journal::{Journal, RunRecord};
use crate::record::keeper::{Keeper, Poll, Written};
use crate::record::lease::Stamp;
use crate::record::state::{Lock, StateDir};
use crate::report::live::{Mode, Reporter};
use crate::report::plan_text::humanize;
use crate::run::agent::AgentSpec;
use crate::run::budget::Budget;
use crate::run::dispatcher::{Action, AttemptId, Class, Dispatcher, Key, Limits, Stop};
use crate::run::executor::{self, Attempt, Launch};
use crate::run::process::{self, Exit, Group, Guard, Termination};
use crate::run::prompt::Prompter;
use crate::run::resume::{self, Previous, Resume};
use crate::run::verdict::{self, Verdict};
use crate::run::{
    EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Input, RunOptions, first_line, journal_resume,
    plan_bytes, resolve_agents, stream,
};

/// One attempt's processes and what they said.
struct Slot {
    key: Key,
    task_id: String,
    number: u32,
    agent: AgentSpec,
    /// The session this attempt continues.
    resumed: Option<Resume>,
    info: Attempt,
    /// The group now running: the agent's, then the gate's.
    group: Group,
    started: Instant,
    exited: Option<Exit>,
    stream: Option<Box<stream::StreamSummary>>,
    /// How the agent exited, once its gate runs in this slot.
    agent_exit: Option<Exit>,
    termination: Option<Termination>,
    /// Why the dispatcher stopped it.
    stop: Option<Stop>,
    /// The timeout in force when it started.
    timeout: Option<Duration>,
    progress_seen: u64,
}

/// What the run remembers of a task's attempts, for the next one.
#[derive(Default)]
struct History {
    last_error: Option<String>,
    /// The session the next attempt continues.
    resume: Option<Resume>,
    /// For a fresh start after a refused resume: the attempt before.
    previous: Option<Previous>,
}

pub(super) struct Engine {
    d: Dispatcher,
    /// Each plan task's agent (None for tasks done before the run).
    agents: Vec<Option<AgentSpec>>,
    history: HashMap<Key, History>,
    keeper: Keeper,
    budget: Budget,
    prompter: Prompter,
    options: RunOptions,
    state: StateDir,
    _lock: Lock,
    run_id: String,
    run_dir: PathBuf,
    events: EventLog,
    journal: Journal,
    reporter: Reporter,
    tx: mpsc::Sender<Input>,
    rx: mpsc::Receiver<Input>,
    guard: Option<Guard>,
    slots: HashMap<AttemptId, Slot>,
    lingering: Vec<Termination>,
    /// Earlier runs that never finished: their id and pid.
    crashed: Vec<(String, i32)>,
    workdir: PathBuf,
    started_at: Instant,
    to_run_at_start: usize,
    /// Coalescing of box writes.
    first_owed: Option<Instant>,
    /// When boxes were last written.
    last_write: Option<Instant>,
    /// When to try a write the file refused again.
    write_again_at: Option<Instant>,
    /// The last write error shown, to show each once.
    write_error: Option<String>,
    /// Whether the file could not be read at the last look.
    file_gone: bool,
    /// The last reload error shown (per version of the file).
    reload_error: Option<Stamp>,
    /// `run-batch tick --undo` requests read so far.
    undo: HashSet<String>,
    undo_read: u64,
}

/// How often running attempts' progress files are looked at.
const PROGRESS_POLL: Duration = Duration::from_millis(250);
/// How often the task file is looked at while a save is in progress.
const SETTLE_POLL: Duration = Duration::from_millis(50);
/// How long the end of a run waits for a busy file to take its ticks.
const FINAL_WRITE_PATIENCE: Duration = Duration::from_secs(10);

impl Engine {
    pub(super) fn new(
        plan: Plan,
        keeper: Keeper,
        agents: Vec<Option<AgentSpec>>,
        prompter: Prompter,
        options: RunOptions,
        state: StateDir,
        lock: Lock,
    ) -> Result<Engine, Error> {
        let run_id = new_run_id();
        // Absolute, so logs and scripts are found from any working directory
        // and the journal's paths hold from any folder.
        let run_dir =
            std::path::absolute(state.runs().join(&run_id)).map_err(|source| Error::Write {
                path: state.runs(),
                source,
            })?;
        std::fs::create_dir_all(&run_dir).map_err(|source| Error::Write {
            path: run_dir.clone(),
            source,
        })?;
        let events =
            EventLog::create(run_dir.join("events.jsonl")).map_err(|source| Error::Write {
                path: run_dir.join("events.jsonl"),
                source,
            })?;
        let (tx, rx) = mpsc::channel();
        let signal_tx = tx.clone();
        let mut signals =
            signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP])
                .map_err(|e| Error::Setup(format!("cannot install signal handlers: {e}")))?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if signal_tx.send(Input::Signal(sig)).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn the signal thread");
        let guard = Guard::start(options.grace)
            .map_err(|e| Error::Setup(format!("cannot start the process guard: {e}")))?;
        let workdir = options
            .workdir
            .clone()
            .unwrap_or_else(|| super::workspace::default_workdir(&options.file));
        let (mut journal, set_aside) = Journal::open(&state.journal())?;
        // A run that never finished (killed, crashed) is folded first: the
        // sessions it named are resumed now.
        let crashed = journal.recover(process::pid_alive);
        let mut history = HashMap::new();
        if !options.fresh {
            for t in 0..plan.doc.tasks.len() {
                if let Some(resume) = journal_resume(&journal, &plan, &agents, t) {
                    history.insert(
                        t,
                        History {
                            resume: Some(resume),
                            ..History::default()
                        },
                    );
                }
            }
        }
        let limits = Limits {
            jobs: options.jobs,
            keep_going: options.keep_going,
            fail_fast: options.fail_fast,
            retries: options.retries,
            timeout: options.timeout,
        };
        let budget = Budget::new(&options.config.prices, options.max_cost);
        let reporter = Reporter::new(Mode::pick(options.json));
        if let Some(warning) = set_aside {
            reporter.note(&warning);
        }
        let undo_read = std::fs::metadata(state.undo_requests()).map_or(0, |m| m.len());
        Ok(Engine {
            // Keys start as plan indices.
            d: Dispatcher::new(plan, limits),
            agents,
            history,
            keeper,
            budget,
            prompter,
            state,
            _lock: lock,
            run_id,
            run_dir,
            events,
            journal,
            reporter,
            tx,
            rx,
            guard: Some(guard),
            slots: HashMap::new(),
            lingering: Vec::new(),
            crashed,
            workdir,
            started_at: Instant::now(),
            to_run_at_start: 0,
            first_owed: None,
            last_write: None,
            write_again_at: None,
            write_error: None,
            file_gone: false,
            reload_error: None,
            undo: HashSet::new(),
            undo_read,
            options,
        })
    }

    fn emit(&mut self, event: Event) {
        let line = events::line(&self.run_id, &event);
        self.events.write(&line);
        self.reporter.event(&event, &line);
    }

    pub(super) fn run(mut self) -> Result<i32, Error> {
        for (previous_run, pid) in std::mem::take(&mut self.crashed) {
            self.emit(Event::PreviousRunCrashed { previous_run, pid });
        }
        self.journal.runs.push(RunRecord {
            id: self.run_id.clone(),
            pid: std::process::id() as i32,
            started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            finished: None,
            outcome: "running".into(),
            events: self.events.path.clone(),
            folded: false,
        });
        self.journal.save(&self.state.journal())?;
        if self.options.max_cost.is_some() {
            self.note_silent_agents();
        }
        let (tasks, done, _) = self.d.counts();
        self.to_run_at_start = tasks - done;
        self.emit(Event::RunStarted {
            file: self.options.file.display().to_string(),
            pid: std::process::id(),
            tasks,
            to_run: tasks - done,
            jobs: self.options.jobs,
        });
        loop {
            // A save in progress may add, tick or reword tasks: nothing new
            // starts, and the run does not end, until it is read.
            let settling = self.watch_file();
            let now = Instant::now();
            let actions = self.d.on_time(now);
            self.perform(actions);
            // Boxes first: a person sees a task ticked before the next starts.
            self.write_boxes(false);
            if !settling {
                let actions = self.d.start_ready(now);
                self.perform(actions);
                if self.d.finished() {
                    break;
                }
            }
            let wait = if settling {
                SETTLE_POLL
            } else {
                self.next_wakeup()
            };
            match self.rx.recv_timeout(wait) {
                Ok(input) => {
                    self.handle(input);
                    // Take everything already waiting before deciding again:
                    // bursts of exits become one tick write.
                    while let Ok(input) = self.rx.try_recv() {
                        self.handle(input);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            self.on_timers();
        }
        self.write_boxes_at_end();
        self.finish_lingering();
        if let Some(g) = self.guard.take() {
            g.dismiss();
        }
        Ok(self.finish())
    }

    fn note_silent_agents(&mut self) {
        let mut silent: Vec<&str> = (self.agents.iter().flatten())
            .filter(|a| a.output.is_none())
            .map(|a| a.name.as_str())
            .collect();
        silent.sort_unstable();
        silent.dedup();
        if !silent.is_empty() {
            let names: Vec<String> = silent.iter().map(|a| format!("`{a}`")).collect();
            self.reporter.note(&format!(
                "note: --max-cost counts only what agents report; {} report{} no cost",
                names.join(", "),
                if silent.len() == 1 { "s" } else { "" }
            ));
        }
    }

    fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Start {
                    attempt,
                    key,
                    task,
                    number,
                } => self.start(attempt, key, task, number),
                Action::Stop {
                    attempt,
                    why,
                    signal,
                } => {
                    let grace = self.options.grace;
                    if let Some(s) = self.slots.get_mut(&attempt) {
                        s.stop = Some(s.stop.map_or(why, |old| stronger(old, why)));
                        if s.termination.is_none() {
                            s.termination =
                                Some(Termination::begin(s.group, &s.task_id, signal, grace));
                        } else if signal != libc::SIGTERM {
                            s.group.signal(signal);
                        }
                    }
                }
                Action::Kill { attempt } => {
                    if let Some(s) = self.slots.get_mut(&attempt) {
                        s.stop.get_or_insert(Stop::Cancelled);
                        s.group.signal(libc::SIGKILL);
                    }
                    for k in &self.lingering {
                        k.group.signal(libc::SIGKILL);
                    }
                }
                Action::Emit(event) => self.emit(*event),
            }
        }
    }

    fn start(&mut self, attempt: AttemptId, key: Key, t: usize, number: u32) {
        // Stopped before it started (an earlier start failed with
        // --fail-fast): it never starts, so the running count stays true.
        if self.d.live(attempt).is_none_or(|l| l.stopping.is_some()) {
            let actions = self
                .d
                .on_end(attempt, Class::Interrupted, None, Instant::now());
            self.perform(actions);
            return;
        }
        let spec = self.agents[t].clone().unwrap_or_else(|| {
            super::parse_agent(&super::default_agent(&self.options), &self.options)
                .expect("checked before the run")
        });
        let task = &self.d.plan().doc.tasks[t];
        let task_id = task.id.clone();
        let history = self.history.entry(key).or_default();
        let resumed = (history.resume.as_ref())
            .filter(|r| {
                !self.options.fresh && spec.can_resume() && resume::same_cli(&r.agent, &spec.name)
            })
            .cloned();
        let launch = Launch {
            resume: resumed.as_ref(),
            previous: history.previous.as_ref(),
            plan: self.d.plan(),
            task: t,
            attempt: number,
            spec: &spec,
            prompter: &self.prompter,
            last_error: history.last_error.as_deref(),
            run_dir: &self.run_dir,
            run_id: &self.run_id,
            state_dir: &self.state.dir,
            taskfile: &self.options.file,
            workdir: &self.workdir,
        };
        let timeout = self.d.plan().tasks[t]
            .settings
            .timeout
            .or(self.options.timeout);
        match executor::spawn(&launch, attempt, &self.tx) {
            Ok(info) => {
                // The agent told the guard its group itself (process::own_group).
                let group = Group(info.pid as i32);
                history.previous = None;
                self.emit(Event::TaskStarted {
                    task: task_id.clone(),
                    attempt: number,
                    agent: spec.name.clone(),
                    pid: info.pid,
                    log: info.log.clone(),
                    resume: resumed.as_ref().map(|r| r.session_id.clone()),
                });
                self.slots.insert(
                    attempt,
                    Slot {
                        key,
                        task_id,
                        number,
                        agent: spec,
                        resumed,
                        info,
                        group,
                        // The clock the dispatcher's deadline runs on.
                        started: self
                            .d
                            .live(attempt)
                            .map_or_else(Instant::now, |l| l.started),
                        exited: None,
                        stream: None,
                        agent_exit: None,
                        termination: None,
                        stop: None,
                        timeout,
                        progress_seen: 0,
                    },
                );
            }
            Err(e) => {
                let log = executor::attempt_file(&self.run_dir, &task_id, number, "log");
                let reason = format!("could not start the agent: {e}");
                // Say it in the log too, where a person looks first.
                let _ = std::fs::write(&log, format!("run-batch: {reason}\n"));
                self.emit(Event::TaskFinished {
                    task: task_id.clone(),
                    attempt: number,
                    outcome: TaskOutcome::Failed,
                    exit: None,
                    reason: Some(reason.clone()),
                    duration_secs: 0.0,
                    log: log.clone(),
                    agent: spec.name.clone(),
                    session_id: None,
                    spend: None,
                    resumable: false,
                    session_total: None,
                });
                self.ended(attempt, key, &task_id, Class::Failed, Some(reason), &log);
            }
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Exited { slot, exit } => {
                if let Some(s) = self.slots.get_mut(&slot) {
                    s.exited = Some(exit);
                }
                self.maybe_complete(slot);
            }
            Input::StreamDone { slot, summary } => {
                if let Some(s) = self.slots.get_mut(&slot) {
                    s.stream = Some(summary);
                }
                self.maybe_complete(slot);
            }
            Input::Activity { slot, activity } => {
                if let Some(s) = self.slots.get(&slot) {
                    let task = s.task_id.clone();
                    self.emit(Event::TaskActivity { task, activity });
                }
            }
            Input::Session { slot, session_id } => {
                if let Some(s) = self.slots.get(&slot) {
                    let event = Event::TaskSession {
                        task: s.task_id.clone(),
                        attempt: s.number,
                        agent: s.agent.name.clone(),
                        session_id,
                    };
                    self.emit(event);
                }
            }
            Input::Signal(sig) => {
                let name = process::signal_name(sig);
                let grace = self.options.grace;
                let term = if sig != libc::SIGTERM && process::TERM_AFTER < grace {
                    format!("SIGTERM after {}, ", humanize(process::TERM_AFTER))
                } else {
                    String::new()
                };
                let then = format!("{term}SIGKILL after {}", humanize(grace));
                let actions = self.d.on_signal(sig, &name, &then);
                self.perform(actions);
            }
        }
    }

    /// An attempt is complete when its process has exited and (for
    /// stream-json agents) its output has been read to the end; one stopped
    /// because its task left the file, when its whole group is gone.
    fn maybe_complete(&mut self, attempt: AttemptId) {
        let Some(slot) = self.slots.get(&attempt) else {
            return;
        };
        let Some(exit) = slot.exited else { return };
        let streaming = slot.agent.output.is_some() && slot.agent_exit.is_none();
        if streaming && slot.stream.is_none() {
            // The agent is gone but something it started still holds its
            // output open; end the group so the stream closes.
            if slot.termination.is_none() && slot.group.alive() {
                let grace = self.options.grace;
                let s = self.slots.get_mut(&attempt).unwrap();
                s.termination = Some(Termination::begin(
                    s.group,
                    &s.task_id,
                    libc::SIGTERM,
                    grace,
                ));
            }
            return;
        }
        if slot.stop == Some(Stop::Removed) && slot.group.alive() {
            // Its slot is free only when nothing of it runs any more.
            return;
        }
        let mut slot = self.slots.remove(&attempt).unwrap();
        // Whatever the agent left running in its group ends with it.
        if slot.group.alive() {
            self.lingering
                .push(slot.termination.take().unwrap_or_else(|| {
                    Termination::begin(slot.group, &slot.task_id, libc::SIGTERM, self.options.grace)
                }));
        } else if let Some(g) = self.guard.as_mut() {
            g.forget(slot.group);
        }
        let place = self.d.task(slot.key).place;
        let verdict = if slot.agent_exit.is_some() {
            let gate = self.gate_of(place);
            if exit.success() {
                Verdict::Ok
            } else {
                Verdict::Failed(format!("gate {gate} failed ({exit})"))
            }
        } else {
            verdict::judge(
                exit,
                slot.stream.as_deref(),
                &slot.info.log,
                self.options.require_done,
            )
        };
        if verdict == Verdict::Ok
            && slot.agent_exit.is_none()
            && slot.stop.is_none()
            && let Some(t) = place
            && let Some(gate) = self.d.plan().tasks[t].settings.gate.clone()
        {
            match executor::spawn_gate(&gate, &self.workdir, &slot.info.log, attempt, &self.tx) {
                Ok(pid) => {
                    slot.agent_exit = Some(exit);
                    slot.exited = None;
                    slot.group = Group(pid as i32);
                    slot.termination = None;
                    self.slots.insert(attempt, slot);
                    return;
                }
                Err(e) => {
                    let verdict =
                        Verdict::Failed(format!("could not run the gate {}: {e}", gate.label()));
                    return self.conclude(attempt, slot, verdict);
                }
            }
        }
        self.conclude(attempt, slot, verdict);
    }

    fn gate_of(&self, place: Option<usize>) -> String {
        place
            .and_then(|t| self.d.plan().tasks[t].settings.gate.as_ref())
            .map_or_else(String::new, crate::taskfile::Gate::label)
    }

    /// Records the end of an attempt and tells the dispatcher.
    fn conclude(&mut self, attempt: AttemptId, slot: Slot, verdict: Verdict) {
        let duration = slot.started.elapsed();
        let killed = slot.termination.as_ref().is_some_and(|k| k.killed)
            || slot.exited == Some(Exit::Signal(libc::SIGKILL));
        let (class, outcome, reason) = match (slot.stop, &verdict) {
            (Some(Stop::Cancelled), _) => (
                Class::Interrupted,
                TaskOutcome::Interrupted,
                Some("interrupted".to_owned()),
            ),
            (Some(Stop::Removed), _) => (
                Class::Interrupted,
                TaskOutcome::Interrupted,
                Some("the task was removed from the file while it ran".to_owned()),
            ),
            (Some(Stop::Timeout), _) => {
                let mut r = format!(
                    "timed out after {}",
                    humanize(slot.timeout.unwrap_or_default())
                );
                if killed {
                    r.push_str(&format!(
                        " and was killed after a {} grace period",
                        humanize(self.options.grace)
                    ));
                }
                (Class::Failed, TaskOutcome::TimedOut, Some(r))
            }
            (None, Verdict::Ok) => (Class::Succeeded, TaskOutcome::Succeeded, None),
            (None, Verdict::Failed(e)) => (Class::Failed, TaskOutcome::Failed, Some(e.clone())),
            (None, Verdict::Blocked(r)) => (Class::Blocked, TaskOutcome::Blocked, Some(r.clone())),
        };
        let stream = slot.stream.as_deref();
        let mut spend = None;
        if let Some(s) = stream {
            let (sp, warnings) = self.budget.spend_of(&slot.agent, s);
            for w in warnings {
                self.reporter.note(&w);
            }
            spend = Some(sp);
        }
        let session_id = stream.and_then(|s| s.session_id.clone());
        let ran_on = slot.agent_exit.is_none() && class == Class::Failed && slot.stop.is_none();
        // Continued next time: stopped from outside, or the agent died
        // without its final event, after its session began.
        let resumable = slot.agent.can_resume()
            && session_id.is_some()
            && (matches!(outcome, TaskOutcome::Interrupted | TaskOutcome::TimedOut)
                || (ran_on && stream.is_some_and(|s| s.result.is_none())));
        let refused =
            slot.resumed.is_some() && ran_on && stream.is_some_and(|s| !s.session_started);
        let session_total = stream.filter(|_| !refused).and_then(|s| {
            let before = (slot.resumed.as_ref())
                .filter(|r| Some(&r.session_id) == s.session_id.as_ref())
                .map(|r| r.baseline);
            (s.session_usage.is_some() || s.session_cost_usd.is_some() || before.is_some()).then(
                || stream::Baseline {
                    usage: (s.session_usage)
                        .or(before.map(|b| b.usage))
                        .unwrap_or_default(),
                    cost_usd: s.session_cost_usd.or(before.and_then(|b| b.cost_usd)),
                },
            )
        });
        self.emit(Event::TaskFinished {
            task: slot.task_id.clone(),
            attempt: slot.number,
            outcome: outcome.clone(),
            exit: slot.agent_exit.or(slot.exited),
            reason: reason.clone(),
            duration_secs: duration.as_secs_f64(),
            log: slot.info.log.clone(),
            agent: slot.agent.name.clone(),
            session_id: session_id.clone(),
            spend,
            resumable,
            session_total,
        });
        if let Some(spend) = &spend {
            self.budget.add(&slot.task_id, spend);
        }
        let history = self.history.entry(slot.key).or_default();
        history.resume = match (resumable, session_id) {
            (true, Some(session_id)) => Some(Resume {
                session_id,
                agent: slot.agent.name.clone(),
                baseline: session_total.unwrap_or_default(),
                reason: reason.clone().unwrap_or_default(),
                progress: resume::read_progress(&slot.info.progress),
                log: Some(slot.info.log.clone()),
            }),
            _ => None,
        };
        let mut class = class;
        if refused && self.d.cancel().is_none() {
            // The CLI would not continue the session: start afresh at once,
            // telling the new attempt what the interrupted one had done.
            let earlier = slot.resumed.as_ref().expect("refused a resume");
            let why = first_line(reason.as_deref().unwrap_or("refused")).to_owned();
            history.previous = Some(match &earlier.log {
                Some(log) => resume::previous(&earlier.reason, log),
                None => Previous {
                    reason: earlier.reason.clone(),
                    ..Previous::default()
                },
            });
            self.emit(Event::TaskResumeRefused {
                task: slot.task_id.clone(),
                session_id: earlier.session_id.clone(),
                reason: why,
            });
            class = Class::Refused;
        }
        self.ended(
            attempt,
            slot.key,
            &slot.task_id,
            class,
            reason,
            &slot.info.log,
        );
    }

    /// Tells the dispatcher how an attempt ended, and the budget what it
    /// means.
    fn ended(
        &mut self,
        attempt: AttemptId,
        key: Key,
        task_id: &str,
        class: Class,
        reason: Option<String>,
        log: &Path,
    ) {
        let failed = matches!(class, Class::Failed | Class::Blocked);
        self.history
            .entry(key)
            .or_default()
            .last_error
            .clone_from(&reason);
        // Spent before it ends: a reached budget leaves no retry.
        if let Some((max, spent)) = self.budget.reached() {
            let again = class != Class::Succeeded;
            let message = format!(
                "--max-cost ${max:.2} reached (spent ${spent:.4}): starting nothing new{}",
                match self.slots.len() {
                    0 => String::new(),
                    1 => "; the running task may finish".to_owned(),
                    n => format!("; the {n} running tasks may finish"),
                }
            );
            let actions = self.d.on_budget(again, message);
            self.perform(actions);
        }
        let actions = self
            .d
            .on_end(attempt, class, reason.as_deref(), Instant::now());
        self.perform(actions);
        if failed
            && self
                .d
                .task(key)
                .place
                .is_some_and(|t| self.d.schedule_state(t) == crate::run::scheduler::State::Failed)
        {
            self.reporter.failure_tail(task_id, log);
        }
    }

    /// Looks at the task file: a person's edit is planned and carried over;
    /// our own writes are not read again. True while a save is in progress.
    fn watch_file(&mut self) -> bool {
        match self.keeper.poll() {
            Poll::Same => self.file_gone = false,
            Poll::Settling => {
                self.file_gone = false;
                return true;
            }
            Poll::Changed(bytes, stamp) => {
                self.file_gone = false;
                self.reload(bytes, stamp);
            }
            Poll::Gone(e) => {
                if !std::mem::replace(&mut self.file_gone, true) {
                    self.emit(Event::PlanReloadFailed {
                        reason: format!("cannot read the task file: {e}"),
                    });
                }
            }
        }
        false
    }

    fn reload(&mut self, bytes: Vec<u8>, stamp: Stamp) {
        let planned = plan_bytes(
            &self.options.file,
            bytes.clone(),
            self.options.read,
            self.options.plan,
        )
        .and_then(|plan| Ok((resolve_agents(&plan, &self.options)?, plan)));
        let (agents, plan) = match planned {
            Ok(p) => p,
            Err(e) => {
                self.keeper.reject(stamp);
                if self.reload_error != Some(stamp) {
                    self.reload_error = Some(stamp);
                    let reason = match &e {
                        Error::Invalid { diagnostics, .. } => diagnostics
                            .first()
                            .map(|d| format!("line {}: {}", d.at.span.line, d.error))
                            .unwrap_or_else(|| e.to_string()),
                        _ => e.to_string(),
                    };
                    self.emit(Event::PlanReloadFailed { reason });
                }
                return;
            }
        };
        self.read_undo_requests();
        // When the edit was saved, on the run's clock.
        let age = SystemTime::now()
            .duration_since(
                std::time::UNIX_EPOCH + Duration::from_nanos(stamp.mtime_ns.max(0) as u64),
            )
            .unwrap_or_default();
        let edited_at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        let actions = self.d.on_reload(plan, &self.undo, edited_at);
        self.keeper.adopt(bytes, stamp);
        self.agents = agents;
        self.perform(actions);
    }

    /// Ids the person asked to run again (`run-batch tick --undo` during the
    /// run), appended to a file in the state folder.
    fn read_undo_requests(&mut self) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(self.state.undo_requests()) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.undo_read)).is_err() {
            return;
        }
        let mut text = String::new();
        if f.read_to_string(&mut text).is_err() {
            return;
        }
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        for id in text[..complete].lines() {
            self.undo.insert(id.to_owned());
        }
        self.undo_read += complete as u64;
    }

    /// Writes the boxes the run owes the file when due: at once for a small
    /// file, batched for large files under a stream of fast tasks (so a
    /// 10,000-task run does not write a 1 MB file 10,000 times).
    fn write_boxes(&mut self, force: bool) {
        let wants = self.d.box_wants();
        if wants.is_empty() {
            self.first_owed = None;
            return;
        }
        let now = Instant::now();
        let first = *self.first_owed.get_or_insert(now);
        if self.write_again_at.is_some_and(|at| now < at) && !force {
            return;
        }
        let size = self.d.plan().doc.source.text.len() as u64;
        let max_delay = Duration::from_millis(250 + (size * 4000 / (1 << 20)).min(4750));
        let batch = (self.to_run_at_start / 8).max(1);
        let due = force
            || wants.len() >= batch
            || now - first >= max_delay
            || (self.slots.is_empty() && self.last_write.is_none_or(|w| now - w >= max_delay));
        if !due {
            return;
        }
        match self.keeper.write(&mut self.d.plan_mut().doc, &wants) {
            Written::Done { changed, parents } => {
                self.last_write = Some(now);
                // Boxes the person's version of the file does not have yet
                // are tried again in a while, not on every turn.
                self.write_again_at =
                    (!self.d.box_wants().is_empty()).then(|| now + Duration::from_secs(1));
                self.write_error = None;
                self.first_owed = None;
                self.d.boxes_written();
                let doc = &self.d.plan().doc;
                let id = |t: &usize| doc.tasks[*t].id.clone();
                let (ticked, cleared): (Vec<usize>, Vec<usize>) =
                    changed.iter().partition(|&&t| doc.tasks[t].checked);
                let event = Event::Ticked {
                    tasks: ticked.iter().map(id).collect(),
                    parents: parents.iter().map(id).collect(),
                    cleared: cleared.iter().map(id).collect(),
                };
                self.emit(event);
            }
            Written::Changed(bytes, stamp) => {
                self.reload(bytes, stamp);
                self.write_again_at = Some(now + SETTLE_POLL);
            }
            Written::Later => self.write_again_at = Some(now + SETTLE_POLL),
            Written::Failed(e) => {
                let reason = e.to_string();
                self.write_again_at = Some(now + Duration::from_secs(1));
                if self.write_error.as_ref() != Some(&reason) {
                    let doc = &self.d.plan().doc;
                    let tasks = wants
                        .iter()
                        .map(|&(t, _)| doc.tasks[t].id.clone())
                        .collect();
                    self.write_error = Some(reason.clone());
                    self.emit(Event::TickFailed { tasks, reason });
                }
            }
        }
    }

    /// The last writes: wait (a while) for a busy file to take them.
    fn write_boxes_at_end(&mut self) {
        let deadline = Instant::now() + FINAL_WRITE_PATIENCE;
        loop {
            self.watch_file();
            self.write_boxes(true);
            if self.d.box_wants().is_empty()
                || self.write_error.is_some()
                || Instant::now() >= deadline
            {
                return;
            }
            std::thread::sleep(SETTLE_POLL);
        }
    }

    fn next_wakeup(&self) -> Duration {
        let now = Instant::now();
        let mut next = now + Duration::from_secs(1);
        if !self.slots.is_empty() {
            next = next.min(now + PROGRESS_POLL);
        }
        for s in self.slots.values() {
            if let Some(k) = &s.termination {
                next = next.min(k.next_poll());
            }
        }
        for k in &self.lingering {
            next = next.min(k.next_poll());
        }
        if let Some(at) = self.d.next_due() {
            next = next.min(at);
        }
        if let Some(f) = self.first_owed {
            next = next.min(f + Duration::from_millis(250));
        }
        if let Some(at) = self.write_again_at {
            next = next.min(at);
        }
        next.saturating_duration_since(now)
            .max(Duration::from_millis(5))
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        let mut waiting = Vec::new();
        for s in self.slots.values_mut() {
            if let Some(k) = s.termination.as_mut()
                && k.poll(now)
            {
                waiting.push(k.clone());
            }
        }
        // Attempts of removed tasks end when their group is gone.
        let removed: Vec<AttemptId> = (self.slots.iter())
            .filter(|(_, s)| s.stop == Some(Stop::Removed) && s.exited.is_some())
            .map(|(&a, _)| a)
            .collect();
        for a in removed {
            self.maybe_complete(a);
        }
        let guard = &mut self.guard;
        self.lingering.retain_mut(|k| {
            if k.poll(now) {
                waiting.push(k.clone());
            }
            let alive = k.group.alive();
            if !alive && let Some(g) = guard.as_mut() {
                g.forget(k.group);
            }
            alive
        });
        // Processes that outlived the first signal: say whose they are and
        // when SIGKILL comes, rather than wait in silence.
        for line in crate::report::live::waiting_lines(&waiting, now) {
            self.reporter.note(&line);
        }
        self.poll_progress();
    }

    /// New lines in each running task's progress file.
    fn poll_progress(&mut self) {
        let mut updates = Vec::new();
        for s in self.slots.values_mut() {
            let path = &s.info.progress;
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            if meta.len() <= s.progress_seen {
                continue;
            }
            let lines = crate::report::live::tail_lines(path, 1);
            s.progress_seen = meta.len();
            if let Some(line) = lines.last().filter(|l| !l.trim().is_empty()) {
                updates.push((s.task_id.clone(), line.trim().to_owned()));
            }
        }
        for (task, line) in updates {
            self.emit(Event::TaskProgress { task, line });
        }
    }

    /// Waits for what finished agents left running, still listening for
    /// Ctrl-C, which ends them at once.
    fn finish_lingering(&mut self) {
        while !self.lingering.is_empty() {
            if let Ok(Input::Signal(sig)) = self.rx.recv_timeout(Duration::from_millis(20)) {
                let actions = self
                    .d
                    .on_signal(sig, &process::signal_name(sig), "SIGKILL now");
                self.perform(actions);
                for k in &self.lingering {
                    k.group.signal(libc::SIGKILL);
                }
            }
            self.on_timers();
        }
    }

    fn finish(mut self) -> i32 {
        // What the file says, not what the run hoped: a success whose box
        // could not be ticked is not done.
        let plan = self.d.plan();
        let runnable: Vec<usize> = self.d.runnable().collect();
        let done = (runnable.iter())
            .filter(|&&t| plan.is_done(t) || plan.tasks[t].skipped)
            .count();
        let failed = (runnable.iter())
            .filter(|&&t| {
                matches!(
                    self.d.schedule_state(t),
                    crate::run::scheduler::State::Failed | crate::run::scheduler::State::Blocked
                ) && !plan.is_done(t)
            })
            .count();
        let unticked = self.d.unticked_successes();
        let remaining = runnable.len() - done;
        let cancel = self.d.cancel();
        let interrupted = cancel.is_some_and(|c| c >= super::dispatcher::Cancel::Signal);
        for id in &unticked {
            let reason = self
                .write_error
                .clone()
                .unwrap_or_else(|| "the task file could not be written".to_owned());
            self.reporter.note(&format!(
                "error: `{id}` succeeded but its box could not be ticked: {reason}"
            ));
        }
        let outcome = if interrupted {
            "interrupted"
        } else if self.d.failed_any() || remaining > 0 || !unticked.is_empty() {
            "failed"
        } else {
            "succeeded"
        };
        self.emit(Event::RunFinished {
            outcome: outcome.into(),
            done,
            failed,
            remaining,
            duration_secs: self.started_at.elapsed().as_secs_f64(),
            spend: self.budget.run,
            stopped: cancel.map(|c| c.name()),
        });
        self.reporter.finish();
        if let Some(r) = self.journal.runs.last_mut() {
            r.finished = Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
            r.outcome = outcome.into();
        }
        self.journal.fold_events(&self.run_id, &self.events.path);
        if let Some(r) = self.journal.runs.last_mut() {
            r.folded = true;
        }
        if let Err(e) = self.journal.save(&self.state.journal()) {
            self.reporter.note(&format!("warning: {e}"));
        }
        let keep = (self.options.config.keep_runs).unwrap_or(crate::record::state::KEEP_RUNS);
        if let Err(e) = self.state.prune_runs(keep, &self.journal.needed_runs()) {
            self.reporter.note(&format!(
                "warning: could not remove old run folders in `{}`: {e}",
                self.state.runs().display()
            ));
        }
        if !self.options.json {
            let plan = self.d.plan();
            let attempts: HashMap<&str, u32> = (0..plan.doc.tasks.len())
                .filter_map(|t| {
                    let k = self.d.key_of(t)?;
                    Some((plan.doc.tasks[t].id.as_str(), self.d.task(k).attempts))
                })
                .collect();
            let summary = crate::report::summary::render(
                plan,
                &self.journal,
                &crate::report::summary::RunTotals {
                    attempts: &attempts,
                    spent: &self.budget.by_task,
                    run_spend: &self.budget.run,
                    run_id: &self.run_id,
                    run_dir: &self.run_dir,
                    done,
                    remaining,
                },
            );
            crate::report::live::to_stderr(&summary);
        }
        if interrupted {
            EXIT_INTERRUPTED
        } else if outcome == "failed" {
            EXIT_FAILED
        } else {
            EXIT_OK
        }
    }
}

/// Of two reasons to stop an attempt, the one that says most.
fn stronger(old: Stop, new: Stop) -> Stop {
    match (old, new) {
        (Stop::Removed, _) | (_, Stop::Removed) => Stop::Removed,
        (Stop::Cancelled, _) | (_, Stop::Cancelled) => Stop::Cancelled,
        _ => Stop::Timeout,
    }
}

/// `20261121T193000Z-1234`: sortable, unique per process.
fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{compact}-{}", std::process::id())
}
