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
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::plan::Plan;
use crate::record::events::{self, Event, EventLog, TaskOutcome};
use crate::record::journal::{Journal, RunRecord};
use crate::record::keeper::{Keeper, Poll, Written};
use crate::record::lease::Stamp;
use crate::record::state::{Lock, StateDir, file_stem_for};
use crate::report::live::{Mode, Reporter};
use crate::report::plan_text::humanize;
use crate::run::agents::{AgentSpec, stream};
use crate::run::budget::Budget;
use crate::run::dispatcher::{Action, AttemptId, Class, Dispatcher, Key, Limits, Stop};
use crate::run::executor::{self, Attempt, Launch};
use crate::run::process::{self, Exit, Group, Guard, Termination};
use crate::run::prompt::Prompter;
use crate::run::resume::{self, Previous, Resume};
use crate::run::verdict::{self, Verdict};
use crate::run::{
    EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Input, RunOptions, first_line, journal_resume,
    plan_bytes, resolve_agents,
};

mod attempts;
mod checkpoints;
mod deliver;
mod finish;
mod isolation;
mod judging;
mod spend;
mod taskfile;

use attempts::{History, Slot, stronger};

pub(super) struct Engine {
    d: Dispatcher,
    /// Each plan task's agent (None for tasks done before the run).
    agents: Vec<Option<Arc<AgentSpec>>>,
    history: HashMap<Key, History>,
    keeper: Keeper,
    budget: Budget,
    prompter: Prompter,
    options: RunOptions,
    state: StateDir,
    _lock: Lock,
    run_id: String,
    run_dir: PathBuf,
    /// Logs and prompts of silent successes, reused (`spares`).
    spares: crate::run::spares::Spares,
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
    /// The task file and state folder as absolute paths, for agents.
    taskfile_abs: PathBuf,
    /// The task file with symlinks resolved (its place in a worktree).
    taskfile_real: PathBuf,
    /// `--isolate worktree`: the repository, each task's worktree, attempts
    /// waiting for theirs, and work waiting to land.
    repo: Option<crate::run::worktree::Repo>,
    worktrees: HashMap<Key, crate::run::worktree::Worktree>,
    pending: HashMap<AttemptId, isolation::Pending>,
    landings: isolation::Landings,
    state_abs: PathBuf,
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
    /// How provider failures read (built in, and `[limits]` in the config).
    limit_patterns: crate::run::limits::Patterns,
    /// `--commit`: ticks written but not committed yet, the wave they were
    /// last committed at, and whether a missing repository was told.
    uncommitted: Vec<crate::record::tick::Tick>,
    committed_wave: usize,
    commit_warned: bool,
    /// Handoff messages seen so far (for prompts), and the folder's state
    /// when last looked at.
    messages: Vec<crate::record::handoff::Message>,
    handoffs_seen: Option<std::time::SystemTime>,
    /// `run-batch tick --undo` requests read so far.
    undo: HashSet<String>,
    undo_read: u64,
    /// What judges spent in this run (also in their tasks' spend).
    judge_spend: crate::record::events::Spend,
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
        agents: Vec<Option<Arc<AgentSpec>>>,
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
        // Then its keys follow today's ids (a journal from before short ids).
        let renamed = journal.migrate_ids(&plan.doc);
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
            max_wait: options.max_wait,
            transient_retries: (options.config.transient_retries)
                .unwrap_or(crate::run::dispatcher::TRANSIENT_RETRIES),
            reset_margin: (options.config.reset_margin)
                .unwrap_or(crate::run::providers::RESET_MARGIN),
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
        };
        let providers = super::providers_of(&agents);
        let budget = Budget::new(&options.config.prices, options.max_cost);
        let reporter = Reporter::new(Mode::pick(options.json));
        if let Some(warning) = set_aside {
            reporter.note(&warning);
        }
        let undo_read = std::fs::metadata(state.undo_requests()).map_or(0, |m| m.len());
        let state_abs = std::path::absolute(&state.dir).unwrap_or_else(|_| state.dir.clone());
        // Inside a worktree the working folder is found by its place in
        // the repository: a real path.
        // `isolate:` hints choose per task; the flag is the default.
        let isolating = options.isolate
            || (0..plan.tasks.len()).any(|t| plan.settings(t).isolate == Some(true));
        let workdir = if isolating {
            std::fs::canonicalize(&workdir).unwrap_or(workdir)
        } else {
            workdir
        };
        let repo = if isolating {
            let repo = crate::run::worktree::Repo::open(&options.file, &state.dir)
                .map_err(Error::Setup)?;
            let inside = std::fs::canonicalize(&workdir).is_ok_and(|w| w.starts_with(&repo.root));
            if !inside {
                return Err(Error::Setup(format!(
                    "--workdir `{}` is outside the repository `{}`, so it has no place in a task's worktree; drop `--isolate worktree` or pick a folder inside",
                    workdir.display(),
                    repo.root.display()
                )));
            }
            // An interrupted agent's worktree is named after its task's id:
            // it follows the journal to the new name.
            for (old, new) in &renamed {
                repo.rename_worktree(&file_stem_for(old), &file_stem_for(new));
            }
            Some(repo)
        } else {
            None
        };
        Ok(Engine {
            // Keys start as plan indices.
            d: Dispatcher::new(plan, limits, providers, Instant::now()),
            agents,
            history,
            keeper,
            budget,
            prompter,
            state,
            _lock: lock,
            run_id,
            spares: crate::run::spares::Spares::new(),
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
            taskfile_abs: std::path::absolute(&options.file)
                .unwrap_or_else(|_| options.file.clone()),
            taskfile_real: std::fs::canonicalize(&options.file)
                .unwrap_or_else(|_| options.file.clone()),
            repo,
            worktrees: HashMap::new(),
            pending: HashMap::new(),
            landings: isolation::Landings::default(),
            state_abs,
            started_at: Instant::now(),
            to_run_at_start: 0,
            first_owed: None,
            last_write: None,
            write_again_at: None,
            write_error: None,
            file_gone: false,
            reload_error: None,
            undo: HashSet::new(),
            messages: Vec::new(),
            handoffs_seen: None,
            uncommitted: Vec::new(),
            committed_wave: 0,
            commit_warned: false,
            limit_patterns: crate::run::limits::Patterns::new(
                &options.config.limit_patterns,
                crate::run::agents::limit_wording(),
            ),
            undo_read,
            judge_spend: Default::default(),
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
        if self.options.max_cost.is_some() || self.options.max_cost_hard.is_some() {
            self.note_silent_agents();
        }
        self.recover_landings();
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
            if self.options.commit == crate::run::CommitWhen::Wave
                && self.d.open_wave() != self.committed_wave
                && self.first_owed.is_none()
            {
                self.committed_wave = self.d.open_wave();
                self.commit_progress();
            }
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
        self.commit_progress();
        self.finish_lingering();
        if let Some(g) = self.guard.take() {
            g.dismiss();
        }
        Ok(self.finish())
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
                        if let Some(w) = &s.watch {
                            w.cancel();
                        }
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

    fn handle(&mut self, input: Input) {
        match input {
            Input::Exited { slot, exit } => {
                if let Some(s) = self.slots.get_mut(&slot) {
                    s.exited = Some(exit);
                    if s.agent_exit.is_none()
                        && let Some(w) = &s.watch
                    {
                        w.finish();
                    }
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
            Input::Usage { slot, usage, model } => self.live_usage(slot, usage, model),
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
            Input::Checkpoint { slot, report } => self.checkpoint_report(slot, *report),
            Input::Judged { slot, judged } => self.judged(slot, *judged),
            Input::Prepared { slot, result } => self.prepared(slot, *result),
            Input::Landed { slot, result } => self.landed(slot, *result),
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
        if let Some(at) = self.landings.retry_at {
            next = next.min(at);
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
        self.poll_handoffs();
        self.retry_landings(now);
        if self.options.idle_timeout.is_some() {
            self.stop_idle(now);
        }
    }

    /// New messages in `handoffs/live/`: told as events, kept for prompts.
    pub(super) fn poll_handoffs(&mut self) {
        let dir = crate::record::handoff::live_dir(&self.state.dir);
        let Ok(changed) = std::fs::metadata(&dir).and_then(|m| m.modified()) else {
            return;
        };
        if self.handoffs_seen == Some(changed) {
            return;
        }
        self.handoffs_seen = Some(changed);
        let last = self
            .messages
            .last()
            .map(|m| m.id.clone())
            .unwrap_or_default();
        let new: Vec<_> = crate::record::handoff::all(&self.state.dir)
            .into_iter()
            .filter(|m| m.id > last)
            .collect();
        let any = !new.is_empty();
        for m in new {
            self.emit(Event::Handoff {
                id: m.id.clone(),
                from: m.from.clone(),
                to: m.to.clone(),
                kind: m.kind.name(),
                text: m.text.chars().take(2000).collect(),
            });
            self.messages.push(m);
        }
        if any {
            self.deliver_live();
        }
    }

    /// Messages for task `t` (a plan index): to it, to a section it is in,
    /// or to all; not its own.
    pub(super) fn messages_for(&self, t: usize) -> Vec<crate::record::handoff::Message> {
        let doc = &self.d.plan().doc;
        let task = &doc.tasks[t];
        let mut sections = Vec::new();
        let mut s = Some(task.section());
        while let Some(i) = s {
            sections.push(doc.sections[i].id.as_str());
            s = doc.sections[i].parent;
        }
        (self.messages.iter())
            .filter(|m| crate::record::handoff::addressed_to(m, &doc.id(t), &sections))
            .cloned()
            .collect()
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
}

/// `20261121T193000Z-1234`: sortable, unique per process.
fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{compact}-{}", std::process::id())
}
