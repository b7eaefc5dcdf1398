//! The command line: flags (validated by clap) → one of the commands, each a
//! thin call into the library. Returns the exit status; prints errors.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod check;
mod help;
mod init;
mod report;

use crate::error::Error;
use crate::plan::{Plan, PlanOptions};
use crate::record::tick::{self, Tick};
use crate::report::output::{print_stdout, stdout_failed, to_stderr};
use crate::report::style::ColorChoice;
use crate::report::{diagnostic, plan_graph, plan_json, plan_text};
use crate::taskfile::{Dialect, Document, ReadOptions};

#[derive(Parser, Debug)]
#[command(
    name = "run-batch",
    version,
    about = "Run a Markdown plan of tasks with coding agents, ticking each box as its task is done",
    long_about = "Run a Markdown plan of tasks with coding agents, ticking each box as its task is done.\n\n\
Tasks are GFM checkboxes (`- [ ] …`); headings group them into waves that run one after another.\n\
`<!-- key: value -->` comments give hints (parallel, id, after, agent, timeout, retries, gate,\n\
files, isolate, judge, escalate, pipeline, track, order).\n\
spec-kit (`T001 [P]`), Kiro (`1.2`, `(P)`) and OpenSpec (`## 1. Group`, `1.1`) task files are understood as they are.",
    override_usage = "run-batch [OPTIONS] FILE\n       run-batch <COMMAND> [ARGS]",
    after_help = help::AFTER_HELP,
    after_long_help = help::AFTER_LONG_HELP
)]
pub struct Cli {
    /// When to colour the output: `auto` (on a terminal, unless `NO_COLOR`
    /// is set), `always` or `never`
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the plan: one agent per task, ticking each box as its task is done
    /// (also `run-batch FILE`)
    Run(Box<RunArgs>),
    /// Done and remaining tasks, the last run's outcome and each failed task
    Status(StatusArgs),
    /// Show the plan: waves, sections, tasks, ids, limits and dependencies
    Plan(PlanArgs),
    /// Mark tasks done (or not done, with --undo) in the task file
    Tick(TickArgs),
    /// Remove old run folders (events and logs) from the task file's state
    /// folder, `.run-batch/<file>/`, and worktrees kept after failures
    Clean(CleanArgs),
    /// Messages between running agents, and from you to them: `post` and
    /// `read` (agents are told how in their prompt)
    #[command(subcommand)]
    Handoff(crate::handoff_cli::HandoffCommand),
    /// Check task files for everything `run` would refuse, without running
    /// anything (for editors, pre-commit and CI)
    Check(check::CheckArgs),
    /// Write a starter plan (`tasks.md`) and `run-batch.toml` into a folder
    Init(init::InitArgs),
    /// A run as a report: Markdown with a Mermaid timeline, a self-contained
    /// HTML page, a Chrome trace, or JSON
    Report(report::ReportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(help::CompletionsArgs),
    /// Print the man page (or write one page per command into a folder)
    Man(help::ManArgs),
}

/// How to read the task file; shared by every command.
#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    /// The task file (Markdown)
    pub file: PathBuf,
    /// Read the file in this dialect instead of detecting it
    #[arg(long, value_enum)]
    pub dialect: Option<Dialect>,
    /// Plan Kiro's optional `- [ ]*` tasks instead of skipping them
    #[arg(long)]
    pub include_optional: bool,
    /// What waves wait for: `waves` (each whole wave before) or `tracks`
    /// (a module waits for its track's module in the wave before); wins
    /// over the file's `pipeline` hints
    #[arg(long, value_enum, value_name = "HOW")]
    pub pipeline: Option<crate::taskfile::Pipeline>,
}

impl ReadArgs {
    fn read_options(&self) -> ReadOptions {
        ReadOptions {
            dialect: self.dialect,
        }
    }

    fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            include_optional: self.include_optional,
            pipeline: self.pipeline,
        }
    }

    /// Reads and plans the file, printing warnings to stderr.
    pub fn plan(&self) -> Result<Plan, Error> {
        crate::memory::prepare_for(std::fs::metadata(&self.file).map_or(0, |m| m.len()));
        let doc = Document::read(&self.file, self.read_options())?;
        let plan = Plan::build(doc, self.plan_options())?;
        for w in &plan.doc.warnings {
            to_stderr(&diagnostic::render_warning(w));
        }
        Ok(plan)
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Agent for tasks without an `agent` hint: `claude`, `codex`, `gemini`,
    /// `shell`, an agent named in run-batch.toml, or a command (split like a
    /// shell would, never run through one)
    #[arg(long, value_name = "NAME|COMMAND")]
    pub agent: Option<String>,
    /// Add ARG to every agent's command line (repeatable; after the preset's
    /// own arguments and the config file's `args`)
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub agent_arg: Vec<String>,
    /// Config file with per-agent settings and prices [default: run-batch.toml
    /// in the task file's folder or the nearest parent folder that has one]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Start no new task once the run has spent this many US dollars
    /// (running tasks finish)
    #[arg(long, value_name = "USD", value_parser = parse_usd)]
    pub max_cost: Option<f64>,
    /// Like --max-cost, and also stop the running agents once the live spend
    /// reaches this many US dollars (they are continued by the next run)
    #[arg(long, value_name = "USD", value_parser = parse_usd)]
    pub max_cost_hard: Option<f64>,
    /// Cap each attempt's spend, for agents that can (claude --max-budget-usd)
    #[arg(long, value_name = "USD", value_parser = parse_usd)]
    pub max_cost_per_task: Option<f64>,
    /// Start interrupted tasks afresh instead of continuing their agent's session
    #[arg(long)]
    pub fresh: bool,
    /// Most agents running at once [default: the number of CPUs]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// After a failure, still run later work that does not depend on it
    #[arg(long, conflicts_with = "fail_fast")]
    pub keep_going: bool,
    /// At the first failure, stop every running agent and start nothing new
    #[arg(long)]
    pub fail_fast: bool,
    /// Time limit for each attempt, e.g. `90s`, `20m` (the `timeout` hint wins)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub timeout: Option<std::time::Duration>,
    /// How long an agent may take to exit after SIGTERM (or a forwarded
    /// Ctrl-C, which SIGTERM follows after 2s) before SIGKILL
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, default_value = "10s")]
    pub grace: std::time::Duration,
    /// Extra attempts after a failure (the `retries` hint wins)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,
    /// Print what would run, in order, and the first task's prompt; run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print events as JSON lines on stdout: the lines of the run's
    /// `events.jsonl`, each with `ts`, `run` and `event`
    #[arg(long)]
    pub json: bool,
    /// Folder the agents and gates run in [default: the root of the git work
    /// tree holding the task file, else the task file's folder]
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Prompt template (minijinja) to use instead of the built-in one
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Count an attempt as done only if the agent ends its final message
    /// with a line `RUN-BATCH: DONE`
    #[arg(long)]
    pub require_done: bool,
    /// The longest the run may wait for usage limits in all, e.g. `8h`;
    /// past it, nothing new starts and the run exits 75 (run it again later
    /// to carry on) [default: no limit]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub max_wait: Option<std::time::Duration>,
    /// Stop an attempt as stalled when it shows no sign of life (output,
    /// a stream event, a progress line) for this long, e.g. `10m`; it is
    /// retried, continuing its agent's session where it can
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Where tasks run: `none` (all in the same folder), or `worktree` (each
    /// task in a git worktree of its own, merged back onto your branch
    /// before its box is ticked) [default: none, or
    /// `isolate` under [run] in run-batch.toml]
    #[arg(long, value_enum, value_name = "MODE")]
    pub isolate: Option<Isolate>,
    /// Commit the task file's progress to git: `tick` (each write of ticks),
    /// `wave` (when a wave is done), `end` (once, at the end), `off`. Only
    /// the tick bytes are committed, never your other edits [default: off,
    /// or `commit` under [run] in run-batch.toml]
    #[arg(long, value_enum, value_name = "WHEN")]
    pub commit: Option<crate::run::CommitWhen>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Isolate {
    /// Every agent works in the same folder
    None,
    /// Each task in its own git worktree and branch, merged back in order
    Worktree,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

fn parse_usd(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_start_matches('$')
        .parse()
        .map_err(|_| format!("`{s}` is not an amount of US dollars; write e.g. `5` or `0.50`"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("`{s}`: the amount must be more than 0"))
    }
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    crate::taskfile::parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration; write e.g. `90s`, `20m` or `1h30m`"))
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// A readable tree of waves, sections and tasks
    Text,
    /// One JSON object with the waves, tracks, sections and tasks (`schema` 4)
    Json,
    /// A Mermaid flowchart
    Mermaid,
    /// A Graphviz digraph
    Dot,
}

#[derive(Args, Debug)]
pub struct TickArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Ids of the tasks to tick (see `run-batch plan`)
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    /// Clear the boxes instead of ticking them
    #[arg(long)]
    pub undo: bool,
}

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// The task file whose state to clean
    pub file: PathBuf,
    /// Keep the newest N runs' folders (and any a resumable session needs)
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "all")]
    pub keep: usize,
    /// Remove the whole state folder: every run, the journal of tasks'
    /// history and agent sessions, and every kept worktree (their work stays
    /// on their branches; the task file itself is never touched)
    #[arg(long)]
    pub all: bool,
}

/// Runs the command line and returns the process exit status.
pub fn main() -> i32 {
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "__guard") {
        let grace = argv
            .get(2)
            .and_then(|g| g.to_str()?.parse().ok())
            .unwrap_or(10_000);
        let token = argv.get(3).and_then(|t| t.to_str()).unwrap_or("");
        return crate::run::process::guard_main(grace, token);
    }
    help::insert_run(&mut argv);
    let color = help::color_in(&argv);
    color.apply();
    let cli = match <Cli as clap::CommandFactory>::command()
        .color(color.for_clap())
        .try_get_matches_from(argv)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // `--help` and `--version` are no errors.
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Some(Command::Run(args)) => run(*args),
        Some(Command::Status(args)) => status(&args),
        Some(Command::Plan(args)) => plan(&args),
        Some(Command::Tick(args)) => tick(&args),
        Some(Command::Clean(args)) => clean(&args),
        Some(Command::Handoff(cmd)) => crate::handoff_cli::main(cmd),
        Some(Command::Check(args)) => check::check(&args),
        Some(Command::Init(args)) => init::init(&args),
        Some(Command::Report(args)) => report::report(&args),
        Some(Command::Completions(args)) => help::completions(&args),
        Some(Command::Man(args)) => help::man(&args),
        None => {
            // Nothing asked: the help, on stderr, and a usage error's status.
            let mut command = <Cli as clap::CommandFactory>::command().color(color.for_clap());
            let help = command.render_help();
            to_stderr(&if crate::report::style::stderr_on() {
                help.ansi().to_string()
            } else {
                help.to_string()
            });
            Ok(2)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            to_stderr(&diagnostic::render_error(&e));
            e.code()
        }
    }
}

fn run(args: RunArgs) -> Result<i32, Error> {
    if let (Some(soft), Some(hard)) = (args.max_cost, args.max_cost_hard)
        && hard < soft
    {
        return Err(Error::Setup(format!(
            "--max-cost-hard ${hard:.2} is below --max-cost ${soft:.2}: the hard cap stops running agents, so it must be at least the soft one (or give --max-cost-hard alone)"
        )));
    }
    // A file the run could not tick is refused before it is even read (a
    // FIFO would block the read).
    crate::record::writable::check(&args.read.file, true)?;
    // Read once no save is in progress, and planned (its warnings printed)
    // before anything else is set up.
    let (plan, keeper) = crate::run::open(
        &args.read.file,
        args.read.read_options(),
        args.read.plan_options(),
    )?;
    for w in &plan.doc.warnings {
        to_stderr(&diagnostic::render_warning(w));
    }
    let jobs = args
        .jobs
        .map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let config_path = args
        .config
        .clone()
        .or_else(|| crate::config::Config::find(&args.read.file));
    let config = match &config_path {
        Some(path) => crate::config::Config::load(path)?,
        None => crate::config::Config::default(),
    };
    let defaults = config.run.clone();
    let options = crate::run::RunOptions {
        read: args.read.read_options(),
        plan: args.read.plan_options(),
        file: args.read.file,
        agent: args.agent,
        jobs,
        keep_going: args.keep_going,
        fail_fast: args.fail_fast,
        timeout: args.timeout,
        grace: args.grace,
        retries: args.retries,
        dry_run: args.dry_run,
        json: args.json,
        workdir: args.workdir,
        template: args.template,
        config,
        agent_args: args.agent_arg,
        max_cost: args.max_cost,
        max_cost_hard: args.max_cost_hard,
        max_cost_per_task: args.max_cost_per_task,
        fresh: args.fresh,
        require_done: args.require_done || defaults.require_done == Some(true),
        max_wait: args.max_wait.or(defaults.max_wait),
        idle_timeout: args.idle_timeout.or(defaults.idle_timeout),
        isolate: match args.isolate {
            Some(mode) => mode == Isolate::Worktree,
            None => defaults.isolate_worktree == Some(true),
        },
        commit: args.commit.unwrap_or(match defaults.commit.as_deref() {
            Some("tick") => crate::run::CommitWhen::Tick,
            Some("wave") => crate::run::CommitWhen::Wave,
            Some("end") => crate::run::CommitWhen::End,
            _ => crate::run::CommitWhen::Off,
        }),
    };
    crate::run::run(plan, keeper, options)
}

fn status(args: &StatusArgs) -> Result<i32, Error> {
    let plan = args.read.plan()?;
    let state = crate::record::state::StateDir::for_taskfile(&args.read.file);
    let path = state.journal();
    let mut journal = crate::record::journal::Journal::read(&path).unwrap_or_else(|why| {
        to_stderr(&format!(
            "warning: `{}` cannot be read ({why}); showing no records of earlier runs (the next run keeps it aside and starts a new journal)\n",
            path.display()
        ));
        Default::default()
    });
    // A run in progress (or one that crashed) is not folded yet: read its
    // events without writing anything.
    journal.recover(crate::run::process::pid_alive);
    journal.include_live();
    journal.migrate_ids(&plan.doc);
    let s = crate::report::summary::status(&plan, &journal);
    if args.json {
        let mut out = serde_json::to_string_pretty(&s).expect("status serialises");
        out.push('\n');
        print_stdout(&out);
    } else {
        print_stdout(&crate::report::summary::status_text(&s));
    }
    Ok(0)
}

fn plan(args: &PlanArgs) -> Result<i32, Error> {
    let plan = args.read.plan()?;
    let workdir = crate::run::workspace::default_workdir(&args.read.file);
    match args.format {
        Format::Json => {
            if let Err(e) = plan_json::write(&plan, &workdir, std::io::stdout().lock()) {
                stdout_failed(e);
            }
        }
        Format::Text => {
            if let Err(e) = plan_text::write(&plan, &workdir, std::io::stdout().lock()) {
                stdout_failed(e);
            }
        }
        Format::Mermaid => print_stdout(&plan_graph::render(&plan, plan_graph::Flavor::Mermaid)),
        Format::Dot => print_stdout(&plan_graph::render(&plan, plan_graph::Flavor::Dot)),
    }
    // The process ends here: freeing a large plan string by string would
    // only cost time (a sixth of a 100,000-task `plan`).
    std::mem::forget(plan);
    Ok(0)
}

fn tick(args: &TickArgs) -> Result<i32, Error> {
    // Check the file and every id first so a typo changes nothing.
    crate::record::writable::check(&args.read.file, false)?;
    let doc = Document::read(&args.read.file, args.read.read_options())?;
    let mut ticks = Vec::new();
    for id in &args.ids {
        let full = match crate::taskfile::find_task(&doc, id) {
            Ok(Some(t)) => doc.id(t).into_owned(),
            Ok(None) => return Err(tick::not_found(&doc, id)),
            Err(candidates) => {
                return Err(Error::AmbiguousTask {
                    path: args.read.file.clone(),
                    id: id.clone(),
                    candidates,
                });
            }
        };
        ticks.push(Tick {
            id: full,
            text: None,
        });
    }
    if args.undo {
        // A run in progress would tick them again as boxes it owes: tell it
        // the person wants them run again.
        let state = crate::record::state::StateDir::for_taskfile(&args.read.file);
        if state.run_in_progress() {
            let ids: Vec<String> = ticks.iter().map(|t| t.id.clone()).collect();
            state.request_again(&ids).map_err(|source| Error::Write {
                path: state.undo_requests(),
                source,
            })?;
        }
    }
    let outcome = tick::apply(&args.read.file, &ticks, args.undo, args.read.read_options())?;
    let verb = if args.undo { "cleared" } else { "ticked" };
    let mut out = String::new();
    for id in &outcome.changed {
        out.push_str(&format!("{verb} {id}\n"));
    }
    for id in &outcome.parents {
        out.push_str(&format!(
            "{verb} {id} (its subtasks are {})\n",
            if args.undo {
                "not all done"
            } else {
                "all done"
            }
        ));
    }
    for id in &outcome.unchanged {
        out.push_str(&format!(
            "{id} was already {}\n",
            if args.undo { "not done" } else { "done" }
        ));
    }
    print_stdout(&out);
    if outcome.missing.is_empty() {
        Ok(0)
    } else {
        // The file changed between our check and the write.
        Err(tick::not_found(&doc, &outcome.missing[0]))
    }
}

fn clean(args: &CleanArgs) -> Result<i32, Error> {
    use crate::record::state::StateDir;
    let state = StateDir::for_taskfile(&args.file);
    if !state.dir.is_dir() {
        print_stdout(&format!(
            "nothing to clean: `{}` has no state folder\n",
            args.file.display()
        ));
        return Ok(0);
    }
    // Holding the lock keeps a run from starting while we remove things.
    let _lock = state.lock(&args.file)?;
    let io = |source| Error::Write {
        path: state.dir.clone(),
        source,
    };
    let journal = crate::record::journal::Journal::load(&state.journal());
    // Worktrees kept after failures go; those holding an interrupted agent
    // or unlanded work stay, unless --all (their work stays on branches).
    let needed: std::collections::HashSet<String> = (journal.tasks.iter())
        .filter(|(_, r)| !args.all && (r.resumable || r.verified_branch.is_some()))
        .map(|(id, _)| crate::record::state::file_stem_for(id))
        .collect();
    let cleaned =
        crate::run::worktree::clean_kept(&args.file, &state.dir, |stem| needed.contains(stem))
            .map_err(Error::Setup)?;
    for c in &cleaned {
        print_stdout(&match &c.branch {
            Some(b) => format!(
                "removed the worktree `{}`; its work stays on branch `{b}`\n",
                c.dir.display()
            ),
            None => format!("removed the worktree `{}`\n", c.dir.display()),
        });
    }
    if args.all {
        let pruned = state.prune_runs(0, &Default::default()).map_err(io)?;
        for f in [state.journal(), state.undo_requests()] {
            match std::fs::remove_file(&f) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
        print_stdout(&format!(
            "removed {} run folder{} ({}) and the journal from {}\n",
            pruned.runs,
            crate::report::plural(pruned.runs),
            crate::report::format::bytes(pruned.bytes),
            state.dir.display()
        ));
        return Ok(0);
    }
    let pruned = state
        .prune_runs(args.keep, &journal.needed_runs())
        .map_err(io)?;
    print_stdout(&format!(
        "removed {} run folder{} ({}) from {}\n",
        pruned.runs,
        crate::report::plural(pruned.runs),
        crate::report::format::bytes(pruned.bytes),
        state.runs().display()
    ));
    Ok(0)
}
