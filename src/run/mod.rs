//! Running a plan: the loop that hears events (agent exits, output, signals,
//! timers), asks the scheduler what may start, starts it, and records what
//! happened. The scheduler decides (`scheduler`), this module does, and the
//! reporter and the task file are told (`report::live`, `record::tick`).

pub mod agent;
pub mod executor;
pub mod price;
pub mod process;
pub mod prompt;
pub mod resume;
pub mod scheduler;
pub mod stream;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::error::Error;
use crate::plan::{Plan, PlanOptions};
use crate::record::events::{self, Event, EventLog, Spend, TaskOutcome};
use crate::record::journal::{Journal, RunRecord};
use crate::record::state::{Lock, StateDir};
use crate::record::tick::{self, Tick};
use crate::report::live::{Mode, Reporter};
use crate::report::plural;
use crate::taskfile::{Document, ReadOptions};

use agent::AgentSpec;
use executor::{Attempt, Launch};
use price::PriceTable;
use process::{Exit, Group, Guard, Termination};
use prompt::Prompter;
use resume::{Previous, Resume};
use scheduler::{Limits, Prepared, Status};

/// Everything `run-batch run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub file: PathBuf,
    pub read: ReadOptions,
    pub plan: PlanOptions,
    /// `--agent`: for tasks whose file gives no `agent` hint.
    pub agent: Option<String>,
    pub jobs: usize,
    pub keep_going: bool,
    pub fail_fast: bool,
    pub timeout: Option<Duration>,
    pub grace: Duration,
    pub retries: u32,
    pub dry_run: bool,
    pub json: bool,
    pub workdir: Option<PathBuf>,
    pub template: Option<PathBuf>,
    /// `run-batch.toml` (or an empty config).
    pub config: Config,
    /// `--agent-arg`s, appended to every agent's command line.
    pub agent_args: Vec<String>,
    /// `--max-cost`: start nothing new once the run has spent this much.
    pub max_cost: Option<f64>,
    /// `--max-cost-per-task`: passed to CLIs that can cap a run's spend.
    pub max_cost_per_task: Option<f64>,
    /// `--fresh`: never continue an interrupted session.
    pub fresh: bool,
}

/// How the run ended, as an exit status.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INTERRUPTED: i32 = 130;

/// What the loop hears.
pub enum Input {
    Exited {
        slot: u64,
        exit: Exit,
    },
    StreamDone {
        slot: u64,
        summary: Box<stream::StreamSummary>,
    },
    /// The agent named its session.
    Session {
        slot: u64,
        session_id: String,
    },
    Activity {
        slot: u64,
        activity: String,
    },
    Signal(i32),
}

/// Why the run stops starting work; a stronger reason replaces a weaker one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Cancel {
    /// `--max-cost` reached: start nothing new, let running tasks finish.
    Budget,
    FailFast,
    Signal,
    SecondSignal,
}

/// Runs `plan`, the plan of `options.file` (re-read from there as it changes).
pub fn run(plan: Plan, options: RunOptions) -> Result<i32, Error> {
    let prompter = Prompter::new(options.template.as_deref()).map_err(Error::Setup)?;
    let agents = resolve_agents(&plan, &options)?;
    if options.dry_run {
        return dry_run(&plan, &agents, &prompter, &options);
    }
    if let Some(w) = &options.workdir
        && !w.is_dir()
    {
        return Err(Error::Setup(format!(
            "--workdir `{}` is not a folder",
            w.display()
        )));
    }
    let state = StateDir::for_taskfile(&options.file);
    state.create()?;
    let lock = state.lock(&options.file)?;
    Runner::new(plan, agents, prompter, options, state, lock)?.run()
}

/// The folder a task file is in (`.` for a bare file name).
fn taskfile_folder(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn plan_file(path: &Path, options: &RunOptions) -> Result<Plan, Error> {
    let doc = Document::read(path, options.read)?;
    Plan::build(doc, options.plan)
}

fn default_agent(options: &RunOptions) -> String {
    (options.agent.clone()).unwrap_or_else(|| agent::DEFAULT_AGENT.to_owned())
}

fn parse_agent(name: &str, options: &RunOptions) -> Result<AgentSpec, Error> {
    AgentSpec::parse(
        name,
        &options.config,
        &options.agent_args,
        options.max_cost_per_task,
    )
    .map_err(|message| Error::Agent { message })
}

/// Every task's agent, checked before anything starts: known presets,
/// commands that split, programs on PATH, and `sh` blocks for the shell agent.
fn resolve_agents(plan: &Plan, options: &RunOptions) -> Result<Vec<Option<AgentSpec>>, Error> {
    let mut specs: HashMap<String, AgentSpec> = HashMap::new();
    let mut out = vec![None; plan.doc.tasks.len()];
    let mut problems = Vec::new();
    let folder = taskfile_folder(&options.file);
    for t in plan.runnable() {
        if plan.is_done(t) {
            continue;
        }
        // A path in the file is relative to the file; one on the command
        // line, to where the command was typed.
        let (name, base) = match &plan.tasks[t].settings.agent {
            Some(hint) => (hint.clone(), folder.clone()),
            None => (default_agent(options), PathBuf::from(".")),
        };
        let key = format!("{}\0{name}", base.display());
        if !specs.contains_key(&key) {
            let mut spec = parse_agent(&name, options)?;
            if let Err(e) = spec.resolve(&base) {
                problems.push(e);
            }
            specs.insert(key.clone(), spec);
        }
        let spec = specs[&key].clone();
        if spec.preset == agent::Preset::Shell
            && agent::shell_script(&plan.doc.tasks[t].body).is_none()
        {
            let task = &plan.doc.tasks[t];
            problems.push(format!(
                "task `{}` (line {}) has no ```sh block for the `shell` agent to run",
                task.id, task.checkbox.line
            ));
        }
        out[t] = Some(spec);
    }
    problems.dedup();
    if !problems.is_empty() {
        return Err(Error::Agent {
            message: problems.join("\n"),
        });
    }
    Ok(out)
}

fn dry_run(
    plan: &Plan,
    agents: &[Option<AgentSpec>],
    prompter: &Prompter,
    options: &RunOptions,
) -> Result<i32, Error> {
    let prep = Prepared::new(plan);
    let mut status = vec![Status::Waiting; plan.doc.tasks.len()];
    let unlimited = Limits {
        jobs: usize::MAX,
        keep_going: false,
    };
    let mut order = Vec::new();
    loop {
        let d = scheduler::decide(plan, &prep, &status, &unlimited, Instant::now());
        if d.start.is_empty() {
            break;
        }
        for &t in &d.start {
            status[t] = Status::Succeeded;
            order.push(t);
        }
    }
    let journal = if options.fresh {
        Journal::default()
    } else {
        let mut j = Journal::load(&StateDir::for_taskfile(&options.file).journal());
        // Read only: folding a crashed run is saved by the next real run.
        j.recover(process::pid_alive);
        j
    };
    let mut out = String::new();
    out.push_str(&format!(
        "would run {} task{} from {} (-j {}):\n",
        order.len(),
        plural(order.len()),
        options.file.display(),
        options.jobs
    ));
    let resumes_of = |t: usize| journal_resume(&journal, plan, agents, t);
    for (i, &t) in order.iter().enumerate() {
        let agent = agents[t].as_ref().map_or("?", |a| a.name.as_str());
        let after: Vec<&str> = (prep.dep_leaves(t).into_iter())
            .map(|d| plan.doc.tasks[d].id.as_str())
            .collect();
        let resumes = resumes_of(t);
        out.push_str(&format!(
            "{:>4}. wave {} · {} · agent {}{}{}\n",
            i + 1,
            plan.tasks[t].wave + 1,
            plan.doc.tasks[t].id,
            agent,
            if after.is_empty() {
                String::new()
            } else {
                format!(" · after {}", after.join(", "))
            },
            resumes.map_or_else(String::new, |r| format!(
                " · resumes session {}",
                r.session_id
            ))
        ));
    }
    if let Some(&first) = order.first() {
        let resumed = resumes_of(first);
        let prompt = match &resumed {
            Some(r) => prompter.render_resume(plan, first, r),
            None => prompter.render(plan, first, 1, None, None),
        }
        .map_err(Error::Setup)?;
        if let Some(spec) = &agents[first] {
            let argv = spec
                .argv(&agent::Invocation {
                    resume: resumed.as_ref().map(|r| r.session_id.as_str()),
                    prompt: Some(&prompt),
                    script: Some(Path::new("<its sh blocks>")),
                })
                .map_err(|message| Error::Agent { message })?;
            let shown: Vec<&str> = (argv.iter())
                .map(|a| if *a == prompt { "<prompt>" } else { a })
                .collect();
            out.push_str(&format!(
                "\ncommand for `{}`: {}\n",
                plan.doc.tasks[first].id,
                shell_words::join(shown)
            ));
        }
        out.push_str(&format!(
            "\nprompt for `{}`:\n{}\n",
            plan.doc.tasks[first].id,
            "─".repeat(60)
        ));
        out.push_str(&prompt);
        out.push_str(&"─".repeat(60));
        out.push('\n');
    }
    crate::cli::print_stdout(&out);
    Ok(EXIT_OK)
}

/// The session the journal says task `t`'s next attempt continues.
fn journal_resume(
    journal: &Journal,
    plan: &Plan,
    agents: &[Option<AgentSpec>],
    t: usize,
) -> Option<Resume> {
    let spec = agents[t].as_ref().filter(|a| a.can_resume())?;
    resume::from_journal(journal.tasks.get(&plan.doc.tasks[t].id)?, &spec.name)
}

/// One running attempt.
struct Slot {
    task_id: String,
    task_text: String,
    attempt: u32,
    agent: AgentSpec,
    /// The session this attempt continues.
    resumed: Option<Resume>,
    attempt_info: Attempt,
    group: Group,
    started: Instant,
    deadline: Option<Instant>,
    exited: Option<Exit>,
    stream: Option<Box<stream::StreamSummary>>,
    /// How the agent exited, once its gate runs in this slot.
    agent_exit: Option<Exit>,
    termination: Option<Termination>,
    timed_out: bool,
    cancelled: bool,
    progress_seen: u64,
}

impl Slot {
    /// Whether the slot now runs the task's gate (the agent has exited).
    fn in_gate(&self) -> bool {
        self.agent_exit.is_some()
    }
}

/// What the run knows of one task beyond its status, carried over by id
/// when the plan is reloaded.
#[derive(Default)]
struct TaskRun {
    attempts: u32,
    last_error: Option<String>,
    /// The session the next attempt continues.
    resume: Option<Resume>,
    /// For a fresh start after a refused resume: the attempt before.
    previous: Option<Previous>,
    /// Attempts that do not count against retries (refused resumes).
    free_attempts: u32,
}

struct Runner {
    plan: Plan,
    prep: Prepared,
    agents: Vec<Option<AgentSpec>>,
    /// Apart from `tasks`: the scheduler reads it as a slice.
    status: Vec<Status>,
    tasks: Vec<TaskRun>,
    /// What each task spent in this run, and the run in all.
    spent: HashMap<String, Spend>,
    run_spend: Spend,
    prices: PriceTable,
    /// Models already warned about having no price.
    unpriced: std::collections::HashSet<String>,
    /// Earlier runs that never finished: their id and pid.
    crashed: Vec<(String, i32)>,
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
    slots: HashMap<u64, Slot>,
    next_slot: u64,
    lingering: Vec<Termination>,
    cancel: Option<Cancel>,
    pending_ticks: Vec<Tick>,
    first_pending: Option<Instant>,
    last_flush: Instant,
    file_stamp: Option<FileStamp>,
    /// Task ids to their index in `plan`, rebuilt with the plan.
    index: HashMap<String, usize>,
    /// Something happened since the last decision (an exit, a signal, a
    /// reload, a retry coming due): only then is it worth deciding again.
    dirty: bool,
    /// The last decision's verdict on whether the run is over.
    finished: bool,
    /// The file as our last tick left it: re-read quietly (see `flush_ticks`).
    own_write: Option<FileStamp>,
    to_run_at_start: usize,
    started_at: Instant,
    failed_any: bool,
    workdir: PathBuf,
}

/// What we last knew of the task file on disk, to re-read it only when it
/// changed (our own ticks included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        len: m.len(),
        modified: m.modified().ok(),
        inode: m.ino(),
    })
}

const RETRY_DELAY: Duration = Duration::from_secs(1);
const PROGRESS_POLL: Duration = Duration::from_millis(250);

impl Runner {
    fn new(
        plan: Plan,
        agents: Vec<Option<AgentSpec>>,
        prompter: Prompter,
        options: RunOptions,
        state: StateDir,
        lock: Lock,
    ) -> Result<Runner, Error> {
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
        let n = plan.doc.tasks.len();
        let prep = Prepared::new(&plan);
        let workdir = options
            .workdir
            .clone()
            .unwrap_or_else(|| taskfile_folder(&options.file));
        let (mut journal, set_aside) = Journal::open(&state.journal())?;
        // A run that never finished (killed, crashed) is folded first: the
        // sessions it named are resumed now.
        let crashed = journal.recover(process::pid_alive);
        let file_stamp = stamp(&options.file);
        let reporter = Reporter::new(Mode::pick(options.json));
        if let Some(warning) = set_aside {
            reporter.note(&warning);
        }
        let tasks = (0..n)
            .map(|t| TaskRun {
                resume: (!options.fresh)
                    .then(|| journal_resume(&journal, &plan, &agents, t))
                    .flatten(),
                ..TaskRun::default()
            })
            .collect();
        let prices = PriceTable::new(&options.config.prices);
        Ok(Runner {
            prep,
            agents,
            status: vec![Status::Waiting; n],
            tasks,
            spent: HashMap::new(),
            run_spend: Spend::default(),
            prices,
            unpriced: Default::default(),
            crashed,
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
            next_slot: 0,
            lingering: Vec::new(),
            cancel: None,
            pending_ticks: Vec::new(),
            first_pending: None,
            last_flush: Instant::now(),
            file_stamp,
            own_write: None,
            index: id_index(&plan),
            dirty: true,
            finished: false,
            to_run_at_start: 0,
            started_at: Instant::now(),
            failed_any: false,
            workdir,
            plan,
            options,
        })
    }

    fn emit(&mut self, event: Event) {
        let line = events::line(&self.run_id, &event);
        self.events.write(&line);
        self.reporter.event(&event, &line);
    }

    fn run(mut self) -> Result<i32, Error> {
        // A run that never finished (killed, crashed) is folded and reported.
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
            let mut silent: Vec<&str> = (self.agents.iter().flatten())
                .filter(|a| a.output.is_none())
                .map(|a| a.name.as_str())
                .collect();
            silent.sort_unstable();
            silent.dedup();
            if !silent.is_empty() {
                self.reporter.note(&format!(
                    "note: --max-cost counts only what agents report; {} report{} no cost",
                    silent
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if silent.len() == 1 { "s" } else { "" }
                ));
            }
        }
        let to_run = self
            .prep
            .runnable
            .iter()
            .filter(|&&t| !scheduler::is_done(&self.plan, &self.status, t))
            .count();
        self.to_run_at_start = to_run;
        self.emit(Event::RunStarted {
            file: self.options.file.display().to_string(),
            pid: std::process::id(),
            tasks: self.prep.runnable.len(),
            to_run,
            jobs: self.options.jobs,
        });
        loop {
            let finished = self.schedule();
            if finished && self.slots.is_empty() {
                break;
            }
            let wait = self.next_wakeup();
            match self.rx.recv_timeout(wait) {
                Ok(input) => {
                    self.handle(input);
                    // Take everything that is already waiting before deciding
                    // again: bursts of exits become one tick write.
                    while let Ok(input) = self.rx.try_recv() {
                        self.handle(input);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            self.on_timers();
        }
        self.flush_ticks(true);
        self.finish_lingering();
        if let Some(g) = self.guard.take() {
            g.dismiss();
        }
        Ok(self.finish())
    }

    /// Starts what may start; true when nothing is left to run or wait for.
    fn schedule(&mut self) -> bool {
        self.reload_if_changed();
        if self.cancel.is_some() {
            return true;
        }
        let now = Instant::now();
        if self
            .status
            .iter()
            .any(|s| matches!(s, Status::RetryAt(at) if *at <= now))
        {
            self.dirty = true;
        }
        if !std::mem::take(&mut self.dirty) {
            return self.finished;
        }
        let limits = Limits {
            jobs: self.options.jobs,
            keep_going: self.options.keep_going,
        };
        let d = scheduler::decide(
            &self.plan,
            &self.prep,
            &self.status,
            &limits,
            Instant::now(),
        );
        // Newly blocked tasks may block others: look again next turn.
        self.dirty |= !d.blocked.is_empty();
        for (t, by) in d.blocked {
            self.status[t] = Status::Blocked;
            let task = self.plan.doc.tasks[t].id.clone();
            let by = self.plan.doc.tasks[by].id.clone();
            self.emit(Event::TaskBlocked { task, by });
        }
        self.finished = d.finished;
        for t in d.start {
            // A failure to start can cancel the run (`--fail-fast`).
            if self.cancel.is_some() {
                break;
            }
            self.start(t);
        }
        d.finished
    }

    fn start(&mut self, t: usize) {
        self.tasks[t].attempts += 1;
        let attempt = self.tasks[t].attempts;
        let spec = self.agents[t].clone().unwrap_or_else(|| {
            parse_agent(&default_agent(&self.options), &self.options)
                .expect("checked before the run")
        });
        let task = &self.plan.doc.tasks[t];
        let (task_id, task_text) = (task.id.clone(), task.text.clone());
        let run = &self.tasks[t];
        let resumed = (run.resume.as_ref())
            .filter(|r| {
                !self.options.fresh && spec.can_resume() && resume::same_cli(&r.agent, &spec.name)
            })
            .cloned();
        let launch = Launch {
            resume: resumed.as_ref(),
            previous: run.previous.as_ref(),
            plan: &self.plan,
            task: t,
            attempt,
            spec: &spec,
            prompter: &self.prompter,
            last_error: run.last_error.as_deref(),
            run_dir: &self.run_dir,
            run_id: &self.run_id,
            state_dir: &self.state.dir,
            taskfile: &self.options.file,
            workdir: &self.workdir,
        };
        let slot_id = self.next_slot;
        self.next_slot += 1;
        match executor::spawn(&launch, slot_id, &self.tx) {
            Ok(info) => {
                // The agent told the guard its group itself (process::own_group).
                let group = Group(info.pid as i32);
                self.status[t] = Status::Running;
                let now = Instant::now();
                let timeout = self.plan.tasks[t].settings.timeout.or(self.options.timeout);
                self.tasks[t].previous = None;
                self.emit(Event::TaskStarted {
                    task: task_id.clone(),
                    attempt,
                    agent: spec.name.clone(),
                    pid: info.pid,
                    log: info.log.clone(),
                    resume: resumed.as_ref().map(|r| r.session_id.clone()),
                });
                self.slots.insert(
                    slot_id,
                    Slot {
                        task_id,
                        task_text,
                        attempt,
                        agent: spec,
                        resumed,
                        attempt_info: info,
                        group,
                        started: now,
                        deadline: timeout.map(|d| now + d),
                        exited: None,
                        stream: None,
                        agent_exit: None,
                        termination: None,
                        timed_out: false,
                        cancelled: false,
                        progress_seen: 0,
                    },
                );
            }
            Err(e) => {
                let log = executor::attempt_file(&self.run_dir, &task_id, attempt, "log");
                let reason = format!("could not start the agent: {e}");
                // Say it in the log too, where a person looks first.
                let _ = std::fs::write(&log, format!("run-batch: {reason}\n"));
                self.emit(Event::TaskFinished {
                    task: task_id.clone(),
                    attempt,
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
                self.attempt_failed(t, &task_id, attempt, Some(reason), &log);
            }
        }
    }

    fn handle(&mut self, input: Input) {
        self.dirty = true;
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
                        attempt: s.attempt,
                        agent: s.agent.name.clone(),
                        session_id,
                    };
                    self.emit(event);
                }
            }
            Input::Signal(sig) => self.on_signal(sig),
        }
    }

    fn on_signal(&mut self, sig: i32) {
        let reason = if self.cancel >= Some(Cancel::Signal) {
            Cancel::SecondSignal
        } else {
            Cancel::Signal
        };
        self.cancel = self.cancel.max(Some(reason));
        let name = process::signal_name(sig);
        match reason {
            Cancel::SecondSignal => {
                self.emit(Event::Cancelling {
                    reason: format!("second {name}: killing every agent now"),
                });
                for s in self.slots.values_mut() {
                    s.group.signal(libc::SIGKILL);
                    s.cancelled = true;
                }
                for k in &self.lingering {
                    k.group.signal(libc::SIGKILL);
                }
            }
            _ => {
                let grace = self.options.grace;
                let humanize = crate::report::plan_text::humanize;
                let term = if sig != libc::SIGTERM && process::TERM_AFTER < grace {
                    format!("SIGTERM after {}, ", humanize(process::TERM_AFTER))
                } else {
                    String::new()
                };
                self.emit(Event::Cancelling {
                    reason: format!(
                        "{name} received: no new tasks; sent {name} to {} running agent{}, {term}SIGKILL after {} (press Ctrl-C again to kill now)",
                        self.slots.len(),
                        plural(self.slots.len()),
                        humanize(grace)
                    ),
                });
                for s in self.slots.values_mut() {
                    s.cancelled = true;
                    if s.termination.is_none() {
                        s.termination = Some(Termination::begin(s.group, &s.task_id, sig, grace));
                    }
                }
                for k in &self.lingering {
                    k.group.signal(sig);
                }
            }
        }
    }

    fn cancel_fail_fast(&mut self, task: &str) {
        if self.cancel >= Some(Cancel::FailFast) {
            return;
        }
        self.cancel = Some(Cancel::FailFast);
        self.emit(Event::Cancelling {
            reason: format!("--fail-fast: `{task}` failed; stopping the other agents"),
        });
        let grace = self.options.grace;
        for s in self.slots.values_mut() {
            s.cancelled = true;
            if s.termination.is_none() {
                s.termination = Some(Termination::begin(
                    s.group,
                    &s.task_id,
                    libc::SIGTERM,
                    grace,
                ));
            }
        }
    }

    /// What an attempt cost: as the agent reported it, else its tokens at
    /// the price of its model (from the config file or the built-in table).
    fn cost_of(&mut self, spec: &AgentSpec, s: &stream::StreamSummary) -> Option<f64> {
        if let Some(cost) = s.cost_usd {
            return Some(cost);
        }
        if s.usage.is_zero() {
            return None;
        }
        if let Some(price) = spec.settings.price {
            return Some(price.cost(&s.usage));
        }
        if !s.models.is_empty() && s.format != stream::Format::Claude {
            let mut total = 0.0;
            for (model, usage) in &s.models {
                total += self.price_of(spec, model)?.cost(usage);
            }
            return Some(total);
        }
        let Some(model) = spec.model().or_else(|| s.model.clone()) else {
            if self.unpriced.insert(format!("\0{}", spec.name)) {
                self.reporter.note(&format!(
                    "warning: agent `{}` reported tokens but not its model, so its cost is unknown; set `model` or `price` under [agents.{}] in run-batch.toml (see docs/config.md)",
                    spec.name,
                    spec.name.split_whitespace().next().unwrap_or("")
                ));
            }
            return None;
        };
        Some(self.price_of(spec, &model)?.cost(&s.usage))
    }

    fn price_of(&mut self, spec: &AgentSpec, model: &str) -> Option<price::Price> {
        let found = self.prices.lookup(model);
        if found.is_none() && self.unpriced.insert(model.to_owned()) {
            self.reporter.note(&format!(
                "warning: no price for model `{model}` (agent `{}`), so its cost is not counted; add [prices.\"{model}\"] to run-batch.toml (see docs/config.md)",
                spec.name
            ));
        }
        found
    }

    /// `--max-cost`: once reached, nothing new starts. `again`: the task
    /// that just ended may run again (a retry or a resume).
    fn check_budget(&mut self, again: bool) {
        let (Some(max), Some(spent)) = (self.options.max_cost, self.run_spend.cost_usd) else {
            return;
        };
        if spent < max || self.cancel.is_some() {
            return;
        }
        let waiting = (self.prep.runnable.iter()).any(|&t| {
            matches!(self.status[t], Status::Waiting | Status::RetryAt(_))
                && !scheduler::is_done(&self.plan, &self.status, t)
        });
        if !waiting && !again {
            // Reached by the last of the work: nothing is stopped.
            return;
        }
        self.cancel = Some(Cancel::Budget);
        let running = self.slots.len();
        self.emit(Event::Cancelling {
            reason: format!(
                "--max-cost ${max:.2} reached (spent ${spent:.4}): starting nothing new{}",
                match running {
                    0 => String::new(),
                    1 => "; the running task may finish".to_owned(),
                    n => format!("; the {n} running tasks may finish"),
                }
            ),
        });
    }

    /// An attempt is complete when its process has exited and (for
    /// stream-json agents) its output has been read to the end.
    fn maybe_complete(&mut self, slot_id: u64) {
        let Some(slot) = self.slots.get(&slot_id) else {
            return;
        };
        let Some(exit) = slot.exited else { return };
        if slot.agent.output.is_some() && !slot.in_gate() && slot.stream.is_none() {
            // The agent is gone but something it started still holds its
            // output open; end the group so the stream closes.
            if slot.termination.is_none() && slot.group.alive() {
                let grace = self.options.grace;
                let s = self.slots.get_mut(&slot_id).unwrap();
                s.termination = Some(Termination::begin(
                    s.group,
                    &s.task_id,
                    libc::SIGTERM,
                    grace,
                ));
            }
            return;
        }
        let mut slot = self.slots.remove(&slot_id).unwrap();
        // Whatever the agent left running in its group ends with it.
        if slot.group.alive() {
            self.lingering
                .push(slot.termination.take().unwrap_or_else(|| {
                    Termination::begin(slot.group, &slot.task_id, libc::SIGTERM, self.options.grace)
                }));
        } else if let Some(g) = self.guard.as_mut() {
            g.forget(slot.group);
        }
        let Some(t) = self.task_index(&slot.task_id, &slot.task_text) else {
            // The task left the file while it ran: record the attempt, tick nothing.
            self.emit(Event::TaskFinished {
                task: slot.task_id.clone(),
                attempt: slot.attempt,
                outcome: TaskOutcome::Interrupted,
                exit: Some(exit),
                reason: Some("the task was removed from the file while it ran".into()),
                duration_secs: slot.started.elapsed().as_secs_f64(),
                log: slot.attempt_info.log.clone(),
                agent: slot.agent.name.clone(),
                session_id: None,
                spend: None,
                resumable: false,
                session_total: None,
            });
            return;
        };
        let mut verdict = self.verdict(t, &slot, exit);
        if verdict.is_ok()
            && !slot.in_gate()
            && !slot.cancelled
            && !slot.timed_out
            && let Some(gate) = self.plan.tasks[t].settings.gate.clone()
        {
            match executor::spawn_gate(
                &gate,
                &self.workdir,
                &slot.attempt_info.log,
                slot_id,
                &self.tx,
            ) {
                Ok(pid) => {
                    slot.agent_exit = Some(exit);
                    slot.exited = None;
                    slot.group = Group(pid as i32);
                    slot.termination = None;
                    self.slots.insert(slot_id, slot);
                    return;
                }
                Err(e) => {
                    verdict = Err(format!(
                        "could not run the gate `{}`: {e}",
                        shell_words::join(&gate)
                    ));
                }
            }
        }
        self.conclude(t, slot, verdict);
    }

    fn verdict(&self, t: usize, slot: &Slot, exit: Exit) -> Result<(), String> {
        if slot.in_gate() {
            let gate = (self.plan.tasks[t].settings.gate.as_ref())
                .map_or_else(String::new, shell_words::join);
            return if exit.success() {
                Ok(())
            } else {
                Err(format!("gate `{gate}` failed ({exit})"))
            };
        }
        if let Some(stream) = &slot.stream {
            return match (&stream.result, exit.success()) {
                (Some(r), true) if !r.is_error => Ok(()),
                (Some(r), false) if !r.is_error => {
                    Err(format!("the agent reported success but ended with {exit}"))
                }
                (Some(r), _) => Err(if r.message.is_empty() {
                    format!("the agent reported an error ({}; {exit})", r.subtype)
                } else {
                    format!("the agent reported an error: {}", first_line(&r.message))
                }),
                (None, _) => Err(match &stream.last_error {
                    Some(e) => format!(
                        "the agent ended without a final result event ({exit}): {}",
                        first_line(e)
                    ),
                    None => format!("the agent ended without a final result event ({exit})"),
                }),
            };
        }
        if exit.success() {
            Ok(())
        } else {
            Err(exit.to_string())
        }
    }

    /// Records the end of an attempt: tick, retry or fail.
    fn conclude(&mut self, t: usize, slot: Slot, verdict: Result<(), String>) {
        let duration = slot.started.elapsed();
        let (outcome, reason) = if slot.cancelled {
            (TaskOutcome::Interrupted, Some("interrupted".to_owned()))
        } else if slot.timed_out {
            let killed = slot.termination.as_ref().is_some_and(|k| k.killed)
                || slot.exited == Some(Exit::Signal(libc::SIGKILL));
            // The deadline was set at the start from the timeout then in force.
            let timeout = slot.deadline.map(|d| d - slot.started);
            let mut r = format!(
                "timed out after {}",
                crate::report::plan_text::humanize(timeout.unwrap_or_default())
            );
            if killed {
                r.push_str(&format!(
                    " and was killed after a {} grace period",
                    crate::report::plan_text::humanize(self.options.grace)
                ));
            }
            (TaskOutcome::TimedOut, Some(r))
        } else {
            match &verdict {
                Ok(()) => (TaskOutcome::Succeeded, None),
                Err(e) => (TaskOutcome::Failed, Some(e.clone())),
            }
        };
        let stream = slot.stream.as_deref();
        let spend = stream.map(|s| Spend::new(s.usage, self.cost_of(&slot.agent, s)));
        let session_id = stream.and_then(|s| s.session_id.clone());
        let ran_on = !slot.in_gate() && matches!(outcome, TaskOutcome::Failed);
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
            attempt: slot.attempt,
            outcome: outcome.clone(),
            exit: slot.agent_exit.or(slot.exited),
            reason: reason.clone(),
            duration_secs: duration.as_secs_f64(),
            log: slot.attempt_info.log.clone(),
            agent: slot.agent.name.clone(),
            session_id: session_id.clone(),
            spend,
            resumable,
            session_total,
        });
        if let Some(spend) = &spend {
            self.spent
                .entry(slot.task_id.clone())
                .or_default()
                .add(spend);
            self.run_spend.add(spend);
            self.check_budget(!matches!(outcome, TaskOutcome::Succeeded));
        }
        self.tasks[t].resume = match (resumable, session_id) {
            (true, Some(session_id)) => Some(Resume {
                session_id,
                agent: slot.agent.name.clone(),
                baseline: session_total.unwrap_or_default(),
                reason: reason.clone().unwrap_or_default(),
                progress: resume::read_progress(&slot.attempt_info.progress),
                log: Some(slot.attempt_info.log.clone()),
            }),
            _ => None,
        };
        if refused && self.cancel.is_none() {
            // The CLI would not continue the session: start afresh at once,
            // telling the new attempt what the interrupted one had done.
            let earlier = slot.resumed.as_ref().expect("refused a resume");
            let why = first_line(reason.as_deref().unwrap_or("refused")).to_owned();
            self.emit(Event::TaskResumeRefused {
                task: slot.task_id.clone(),
                session_id: earlier.session_id.clone(),
                reason: why,
            });
            self.tasks[t].previous = Some(match &earlier.log {
                Some(log) => resume::previous(&earlier.reason, log),
                None => Previous {
                    reason: earlier.reason.clone(),
                    ..Previous::default()
                },
            });
            self.tasks[t].free_attempts += 1;
            self.status[t] = Status::RetryAt(Instant::now());
            return;
        }
        match outcome {
            TaskOutcome::Succeeded => {
                self.status[t] = Status::Succeeded;
                self.pending_ticks.push(Tick {
                    id: slot.task_id.clone(),
                    text: Some(slot.task_text.clone()),
                });
                self.first_pending.get_or_insert_with(Instant::now);
                self.flush_ticks(false);
            }
            TaskOutcome::Interrupted => {
                self.status[t] = Status::Waiting;
            }
            TaskOutcome::Failed | TaskOutcome::TimedOut => {
                self.attempt_failed(
                    t,
                    &slot.task_id,
                    slot.attempt,
                    reason,
                    &slot.attempt_info.log,
                );
            }
        }
    }

    /// After a failed attempt: retry if retries remain, else the task fails
    /// (and with `--fail-fast`, the run stops).
    fn attempt_failed(
        &mut self,
        t: usize,
        task_id: &str,
        attempt: u32,
        reason: Option<String>,
        log: &Path,
    ) {
        // No input may follow (an attempt that never started): the next
        // turn decides again by itself.
        self.dirty = true;
        self.tasks[t].last_error = reason;
        let retries = self.plan.tasks[t]
            .settings
            .retries
            .unwrap_or(self.options.retries);
        if self.cancel.is_none() && attempt - self.tasks[t].free_attempts <= retries {
            let delay = RETRY_DELAY * attempt;
            self.status[t] = Status::RetryAt(Instant::now() + delay);
            self.emit(Event::TaskRetrying {
                task: task_id.to_owned(),
                next_attempt: attempt + 1,
                delay_secs: delay.as_secs_f64(),
            });
        } else {
            self.status[t] = Status::Failed;
            self.failed_any = true;
            self.reporter.failure_tail(task_id, log);
            if self.options.fail_fast {
                self.cancel_fail_fast(task_id);
            }
        }
    }

    /// The task's index in the current plan (the plan may have been reloaded
    /// since the attempt started).
    fn task_index(&self, id: &str, text: &str) -> Option<usize> {
        self.index
            .get(id)
            .copied()
            .or_else(|| self.plan.doc.task_with_text(text))
    }

    /// Writes pending ticks now if they are due: at once for a small file,
    /// batched for large files under a stream of fast tasks (so a 10,000-task
    /// run does not rewrite a 1 MB file 10,000 times).
    fn flush_ticks(&mut self, force: bool) {
        if self.pending_ticks.is_empty() {
            return;
        }
        let size = self.file_stamp.map_or(0, |s| s.len);
        let max_delay = Duration::from_millis(250 + (size * 4000 / (1 << 20)).min(4750));
        let batch = (self.to_run_at_start / 8).max(1);
        let due = force
            || self.pending_ticks.len() >= batch
            || self.first_pending.is_some_and(|f| f.elapsed() >= max_delay)
            || (self.last_flush.elapsed() >= max_delay && self.slots.is_empty());
        if !due {
            return;
        }
        let ticks = std::mem::take(&mut self.pending_ticks);
        self.first_pending = None;
        self.last_flush = Instant::now();
        // The stamp is left as it was: the next decision re-reads the file.
        // A person may have saved it while the tick was written (the tick
        // keeps their edit), and only a fresh read honours that edit. Ticks
        // are coalesced, so the extra reads are few.
        match tick::apply(&self.options.file, &ticks, false, self.options.read) {
            Ok(outcome) => {
                self.own_write = stamp(&self.options.file);
                if !outcome.changed.is_empty() || !outcome.parents.is_empty() {
                    self.emit(Event::Ticked {
                        tasks: outcome.changed,
                        parents: outcome.parents,
                    });
                }
                if !outcome.missing.is_empty() {
                    self.emit(Event::TickFailed {
                        tasks: outcome.missing,
                        reason: "no such task in the file any more (deleted or edited beyond recognition)".into(),
                    });
                }
            }
            Err(e) => {
                let tasks = ticks.iter().map(|t| t.id.clone()).collect();
                self.emit(Event::TickFailed {
                    tasks,
                    reason: e.to_string(),
                });
            }
        }
    }

    /// Re-reads the task file when it changed on disk: ticks and edits made
    /// by hand during the run are honoured.
    fn reload_if_changed(&mut self) {
        let now = stamp(&self.options.file);
        if now == self.file_stamp {
            return;
        }
        self.file_stamp = now;
        let ours = now == self.own_write;
        let plan = match plan_file(&self.options.file, &self.options) {
            Ok(p) => p,
            Err(e) => {
                let reason = match &e {
                    Error::Invalid { diagnostics, .. } => diagnostics
                        .first()
                        .map(|d| format!("line {}: {}", d.at.span.line, d.error))
                        .unwrap_or_else(|| e.to_string()),
                    _ => e.to_string(),
                };
                self.emit(Event::PlanReloadFailed { reason });
                return;
            }
        };
        let agents = match resolve_agents(&plan, &self.options) {
            Ok(a) => a,
            Err(e) => {
                self.emit(Event::PlanReloadFailed {
                    reason: e.to_string(),
                });
                return;
            }
        };
        let n = plan.doc.tasks.len();
        let mut status = vec![Status::Waiting; n];
        let mut tasks: Vec<TaskRun> = (0..n).map(|_| TaskRun::default()).collect();
        let pending: std::collections::HashSet<&str> =
            self.pending_ticks.iter().map(|t| t.id.as_str()).collect();
        for (i, task) in plan.doc.tasks.iter().enumerate() {
            if let Some(&o) = self.index.get(&task.id) {
                status[i] = self.status[o];
                tasks[i] = std::mem::take(&mut self.tasks[o]);
                // Unticked by hand after it succeeded: the person wants it again.
                if status[i] == Status::Succeeded
                    && !plan.is_done(i)
                    && !pending.contains(task.id.as_str())
                {
                    status[i] = Status::Waiting;
                }
            }
        }
        self.prep = Prepared::new(&plan);
        self.index = id_index(&plan);
        self.dirty = true;
        self.plan = plan;
        self.agents = agents;
        self.status = status;
        self.tasks = tasks;
        if !ours {
            let tasks = self.prep.runnable.len();
            self.emit(Event::PlanReloaded { tasks });
        }
    }

    fn next_wakeup(&self) -> Duration {
        let now = Instant::now();
        let mut next = now + Duration::from_secs(1);
        if !self.slots.is_empty() {
            next = next.min(now + PROGRESS_POLL);
        }
        for s in self.slots.values() {
            if let Some(d) = s.deadline
                && s.termination.is_none()
            {
                next = next.min(d);
            }
            if let Some(k) = &s.termination {
                next = next.min(k.next_poll());
            }
        }
        for k in &self.lingering {
            next = next.min(k.next_poll());
        }
        if let Some(f) = self.first_pending {
            next = next.min(f + Duration::from_millis(250));
        }
        for s in &self.status {
            if let Status::RetryAt(at) = s {
                next = next.min(*at);
            }
        }
        next.saturating_duration_since(now)
            .max(Duration::from_millis(5))
    }

    fn on_timers(&mut self) {
        let now = Instant::now();
        let grace = self.options.grace;
        let mut waiting = Vec::new();
        for s in self.slots.values_mut() {
            if let Some(d) = s.deadline
                && now >= d
                && s.termination.is_none()
            {
                s.timed_out = true;
                s.termination = Some(Termination::begin(
                    s.group,
                    &s.task_id,
                    libc::SIGTERM,
                    grace,
                ));
            }
            if let Some(k) = s.termination.as_mut()
                && k.poll(now)
            {
                waiting.push(k.clone());
            }
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
        self.flush_ticks(false);
    }

    /// New lines in each running task's progress file.
    fn poll_progress(&mut self) {
        let mut updates = Vec::new();
        for s in self.slots.values_mut() {
            let path = &s.attempt_info.progress;
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
                self.on_signal(sig);
                for k in &self.lingering {
                    k.group.signal(libc::SIGKILL);
                }
            }
            self.on_timers();
        }
    }

    fn finish(mut self) -> i32 {
        let runnable = &self.prep.runnable;
        let done = (runnable.iter())
            .filter(|&&t| scheduler::is_done(&self.plan, &self.status, t))
            .count();
        let failed = (runnable.iter())
            .filter(|&&t| matches!(self.status[t], Status::Failed | Status::Blocked))
            .count();
        let remaining = runnable.len() - done;
        let interrupted = matches!(self.cancel, Some(Cancel::Signal | Cancel::SecondSignal));
        let outcome = if interrupted {
            "interrupted"
        } else if self.failed_any || remaining > 0 {
            "failed"
        } else {
            "succeeded"
        };
        let stopped = self.cancel.map(|c| match c {
            Cancel::Budget => "max_cost",
            Cancel::FailFast => "fail_fast",
            Cancel::Signal | Cancel::SecondSignal => "interrupted",
        });
        self.emit(Event::RunFinished {
            outcome: outcome.into(),
            done,
            failed,
            remaining,
            duration_secs: self.started_at.elapsed().as_secs_f64(),
            spend: self.run_spend,
            stopped,
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
        if !self.options.json {
            let attempts: HashMap<&str, u32> = (self.plan.doc.tasks.iter().zip(&self.tasks))
                .map(|(t, run)| (t.id.as_str(), run.attempts))
                .collect();
            let summary = crate::report::summary::render(
                &self.plan,
                &self.journal,
                &crate::report::summary::RunTotals {
                    attempts: &attempts,
                    spent: &self.spent,
                    run_spend: &self.run_spend,
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

fn id_index(plan: &Plan) -> HashMap<String, usize> {
    (plan.doc.tasks.iter().enumerate())
        .map(|(i, t)| (t.id.clone(), i))
        .collect()
}

fn first_line(s: &str) -> &str {
    stream::first_line(s).unwrap_or("")
}

/// `20261121T193000Z-1234`: sortable, unique per process.
fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{compact}-{}", std::process::id())
}
