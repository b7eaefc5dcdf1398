//! Running a plan. Takes the plan and the run's options; hands on an exit
//! status. The rooms: `dispatcher` decides (with `scheduler` and `carry`),
//! `engine` does (the loop, carrying out the dispatcher's actions),
//! `executor` starts one attempt's processes (`process`), `verdict` judges an
//! attempt, `budget` counts what it cost (at `price`s), `agents` knows each
//! agent CLI (one file each) and `resume` what an interrupted one left; the
//! task file is touched only through `record::keeper`, and people are told
//! through `report::live`.

pub mod agents;
pub mod budget;
pub mod carry;
pub mod check;
pub mod checkpoint;
pub mod claims;
pub mod dispatcher;
pub mod dry_run;
mod engine;
pub mod executor;
pub mod inbox;
pub mod judge;
pub mod land;
pub mod limits;
pub mod price;
pub mod process;
pub mod prompt;
pub mod providers;
pub mod resume;
pub mod scheduler;
pub mod spares;
pub mod verdict;
pub mod workspace;
pub mod worktree;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::error::Error;
use crate::plan::{Plan, PlanOptions};
use crate::record::journal::Journal;
use crate::record::keeper::Keeper;
use crate::record::state::StateDir;
use crate::taskfile::{Document, ReadOptions, Source};

use agents::AgentSpec;
use process::Exit;
use prompt::Prompter;
use resume::Resume;

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
    /// `--max-cost-hard`: also stop the running attempts at this live spend.
    pub max_cost_hard: Option<f64>,
    /// `--max-cost-per-task`: passed to CLIs that can cap a run's spend.
    pub max_cost_per_task: Option<f64>,
    /// `--fresh`: never continue an interrupted session.
    pub fresh: bool,
    /// `--require-done`: an agent must end with `RUN-BATCH: DONE`.
    pub require_done: bool,
    /// `--max-wait`: the most the run waits for usage limits in all.
    pub max_wait: Option<Duration>,
    /// `--idle-timeout`: an attempt silent this long is stopped as stalled.
    pub idle_timeout: Option<Duration>,
    /// `--isolate worktree`: each task runs in a git worktree of its own.
    pub isolate: bool,
    /// `--commit`: when the task file's progress is committed.
    pub commit: CommitWhen,
}

/// When `--commit` commits the task file's ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CommitWhen {
    /// Never
    Off,
    /// After each write of ticks
    Tick,
    /// When a wave is done
    Wave,
    /// Once, when the run ends
    End,
}

impl RunOptions {
    /// Every setting at its default, for a look at a plan without a run
    /// (`run-batch check` fills in what its command line gives).
    pub fn for_check() -> RunOptions {
        RunOptions {
            file: PathBuf::new(),
            read: ReadOptions::default(),
            plan: PlanOptions::default(),
            agent: None,
            jobs: 1,
            keep_going: false,
            fail_fast: false,
            timeout: None,
            grace: Duration::from_secs(10),
            retries: 0,
            dry_run: false,
            json: false,
            workdir: None,
            template: None,
            config: Config::default(),
            agent_args: Vec::new(),
            max_cost: None,
            max_cost_hard: None,
            max_cost_per_task: None,
            fresh: false,
            require_done: false,
            max_wait: None,
            idle_timeout: None,
            isolate: false,
            commit: CommitWhen::Off,
        }
    }
}

/// How the run ended, as an exit status.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_INTERRUPTED: i32 = 130;
/// `--max-wait` ran out while waiting for usage limits: run again later
/// (EX_TEMPFAIL).
pub const EXIT_LIMIT_WAIT: i32 = 75;

/// What the loop hears.
pub enum Input {
    Exited {
        slot: u64,
        exit: Exit,
    },
    StreamDone {
        slot: u64,
        summary: Box<agents::stream::StreamSummary>,
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
    /// The tokens an attempt used so far (live spend), with the model its
    /// stream named.
    Usage {
        slot: u64,
        usage: agents::stream::Usage,
        model: Option<String>,
    },
    Signal(i32),
    /// An attempt's judge ended.
    Judged {
        slot: u64,
        judged: Box<judge::Judged>,
    },
    /// A checkpoint of a running attempt started or ended.
    Checkpoint {
        slot: u64,
        report: Box<checkpoint::Report>,
    },
    /// A task's worktree is ready, or could not be made.
    Prepared {
        slot: u64,
        result: Box<Result<worktree::Worktree, String>>,
    },
    /// A verified attempt's work landed, or did not.
    Landed {
        slot: u64,
        result: Box<Result<land::Landed, String>>,
    },
}

/// Runs `plan`, read from `bytes` of `options.file` by `keeper` (which
/// follows the file as people edit it).
pub fn run(mut plan: Plan, keeper: Keeper, options: RunOptions) -> Result<i32, Error> {
    config_escalation(&mut plan, &options.config);
    let mut prompter = Prompter::new(options.template.as_deref()).map_err(Error::Setup)?;
    prompter.require_done = options.require_done;
    prompter.judge = Some(
        judge::Template::new(judge::template_path(&options).as_deref()).map_err(Error::Setup)?,
    );
    let agents = resolve_agents(&plan, &options)?;
    if options.dry_run {
        let mut out = crate::report::output::StreamedStdout::new();
        dry_run::render(&plan, &agents, &prompter, &options, &mut out)?;
        out.finish();
        return Ok(EXIT_OK);
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
    engine::Engine::new(plan, keeper, agents, prompter, options, state, lock)?.run()
}

/// Reads the task file once no save is in progress, and plans it.
pub fn open(file: &Path, read: ReadOptions, plan: PlanOptions) -> Result<(Plan, Keeper), Error> {
    let (keeper, bytes) = Keeper::open(file, read).map_err(|source| Error::Read {
        path: file.to_owned(),
        source,
    })?;
    Ok((plan_bytes(file, bytes, read, plan)?, keeper))
}

/// The folder a task file is in (`.` for a bare file name).
fn taskfile_folder(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn plan_bytes(
    path: &Path,
    bytes: Vec<u8>,
    read: ReadOptions,
    options: PlanOptions,
) -> Result<Plan, Error> {
    let doc = Document::parse(Source::from_bytes(path, bytes)?, read);
    Plan::build(doc, options)
}

fn default_agent(options: &RunOptions) -> String {
    (options.agent.clone()).unwrap_or_else(|| agents::DEFAULT_AGENT.to_owned())
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

/// `[run] escalate` in run-batch.toml, for tasks whose plan gives no
/// `escalate` hint of its own (a hint at any scope wins over it).
pub fn config_escalation(plan: &mut Plan, config: &Config) {
    if config.run.escalate.is_empty() {
        return;
    }
    // Settings are shared between tasks, but the rule reads only the
    // settings: changing each shared one changes every task that has it.
    for settings in plan.settings_mut() {
        if settings.escalate.is_empty() {
            settings.escalate.clone_from(&config.run.escalate);
        }
    }
}

/// The agent an `escalate` hint names, ready to run (a path in it is
/// relative to the task file, as for the `agent` hint).
pub(crate) fn escalated_agent(name: &str, options: &RunOptions) -> Result<AgentSpec, String> {
    let mut spec = AgentSpec::parse(
        name,
        &options.config,
        &options.agent_args,
        options.max_cost_per_task,
    )?;
    spec.resolve(&taskfile_folder(&options.file))?;
    Ok(spec)
}

/// A task's agent that cannot run, found before anything starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentProblem {
    /// The first task that names the agent (or has no `sh` block for it).
    pub task: usize,
    pub message: String,
}

/// Every task's agent, checked before anything starts: known presets,
/// commands that split, programs on PATH, and `sh` blocks for the shell
/// agent. A run refuses on any problem; `run-batch check` lists them all.
pub fn check_agents(
    plan: &Plan,
    options: &RunOptions,
) -> (Vec<Option<Arc<AgentSpec>>>, Vec<AgentProblem>) {
    let mut specs: HashMap<String, Option<Arc<AgentSpec>>> = HashMap::new();
    let mut out = vec![None; plan.doc.tasks.len()];
    let mut problems: Vec<AgentProblem> = Vec::new();
    let folder = taskfile_folder(&options.file);
    for t in plan.runnable() {
        if plan.is_done(t) {
            continue;
        }
        // A path in the file is relative to the file; one on the command
        // line, to where the command was typed.
        let (name, base) = match &plan.settings(t).agent {
            Some(hint) => (hint.clone(), folder.clone()),
            None => (default_agent(options), PathBuf::from(".")),
        };
        let key = format!("{}\0{name}", base.display());
        let spec = specs.entry(key).or_insert_with(|| {
            let parsed = AgentSpec::parse(
                &name,
                &options.config,
                &options.agent_args,
                options.max_cost_per_task,
            );
            let mut spec = match parsed {
                Ok(spec) => spec,
                Err(message) => {
                    problems.push(AgentProblem { task: t, message });
                    return None;
                }
            };
            if let Err(message) = spec.resolve(&base) {
                problems.push(AgentProblem { task: t, message });
            }
            // Shared by the tasks that name it: a spec is some 400 bytes.
            Some(Arc::new(spec))
        });
        let Some(spec) = spec.clone() else { continue };
        let task = &plan.doc.tasks[t];
        if let Some(problem) = spec.task_problem(&plan.doc.body(t)) {
            problems.push(AgentProblem {
                task: t,
                message: format!(
                    "task `{}` (line {}) {problem}",
                    plan.doc.id(t),
                    plan.doc.checkbox(task).line()
                ),
            });
        }
        out[t] = Some(spec);
        // Later attempts' agents are checked now too, not when a first
        // attempt has failed hours into the run.
        let own = &plan.settings(t).escalate;
        let steps = if own.is_empty() {
            &options.config.run.escalate
        } else {
            own
        };
        for e in steps {
            let Some(name) = &e.agent else { continue };
            match escalated_agent(name, options) {
                Ok(spec) => {
                    if let Some(problem) = spec.task_problem(&plan.doc.body(t)) {
                        problems.push(AgentProblem {
                            task: t,
                            message: format!(
                                "task `{}` (line {}), from attempt {}: {problem}",
                                plan.doc.id(t),
                                plan.doc.checkbox(task).line(),
                                e.from
                            ),
                        });
                    }
                }
                Err(message) => problems.push(AgentProblem { task: t, message }),
            }
        }
    }
    problems.dedup_by(|a, b| a.message == b.message);
    (out, problems)
}

/// `check_agents`, as a refusal when anything cannot run.
fn resolve_agents(plan: &Plan, options: &RunOptions) -> Result<Vec<Option<Arc<AgentSpec>>>, Error> {
    let (specs, mut problems) = check_agents(plan, options);
    problems.extend(judge::check(plan, options));
    if problems.is_empty() {
        return Ok(specs);
    }
    let messages: Vec<String> = problems.into_iter().map(|p| p.message).collect();
    Err(Error::Agent {
        message: messages.join("\n"),
    })
}

/// Each task's provider, for its gate (`providers`): the agent CLI a preset
/// talks to (`claude`, `codex`, `gemini`), paced as a metered API; for any
/// other agent, the agent itself, unpaced.
fn providers_of(agents: &[Option<Arc<AgentSpec>>]) -> dispatcher::Providers {
    let mut names: Vec<(String, providers::Pace)> = Vec::new();
    let of = (agents.iter())
        .map(|spec| {
            let spec = spec.as_ref()?;
            let (name, pace) = spec.provider();
            Some(match names.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    names.push((name, pace));
                    names.len() - 1
                }
            })
        })
        .collect();
    dispatcher::Providers { names, of }
}

/// The session the journal says task `t`'s next attempt continues.
fn journal_resume(
    journal: &Journal,
    plan: &Plan,
    agents: &[Option<Arc<AgentSpec>>],
    t: usize,
) -> Option<Resume> {
    let spec = agents[t].as_ref().filter(|a| a.can_resume())?;
    resume::from_journal(journal.tasks.get(&*plan.doc.id(t))?, &spec.name)
}

fn first_line(s: &str) -> &str {
    agents::activity::first_line(s).unwrap_or("")
}
