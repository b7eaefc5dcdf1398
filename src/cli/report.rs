//! `run-batch report [FILE] [--run ID] --format md|html|trace|json`: finds
//! the run (the latest by default), reads its events and the plan, and
//! prints the report on stdout.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::error::Error;
use crate::plan::{Plan, PlanOptions};
use crate::report::output::print_stdout;
use crate::report::runlog::{self, RunReport};
use crate::taskfile::{Document, ReadOptions};

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    run-batch report tasks.md > run.md                 Markdown with a Mermaid timeline\n  \
    run-batch report tasks.md --format html > run.html one page, nothing fetched\n  \
    run-batch report --format trace > trace.json       open in Perfetto or chrome://tracing\n  \
    run-batch report .run-batch/tasks.md/runs/ID/events.jsonl --format json")]
pub struct ReportArgs {
    /// The task file, or a run's `events.jsonl` [default: the task file
    /// with the latest run in `./.run-batch/`]
    pub file: Option<PathBuf>,
    /// The run: its id or the start of it [default: the latest]
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// `md` (Markdown with a Mermaid gantt), `html` (one self-contained
    /// page), `trace` (Chrome Trace Event JSON) or `json` (for scripts)
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
    Trace,
    Json,
}

pub fn report(args: &ReportArgs) -> Result<i32, Error> {
    let (taskfile, events) = find_run(args)?;
    // Sections and waves come from the file as it is now; a file that no
    // longer plans still gets its report, without them.
    let plan = taskfile.as_deref().and_then(|f| {
        let doc = Document::read(f, ReadOptions::default()).ok()?;
        Plan::build(doc, PlanOptions::default()).ok()
    });
    let mut report = RunReport::read(&events, plan.as_ref()).map_err(Error::Setup)?;
    if let Some(file) = &taskfile {
        let state = crate::record::state::StateDir::for_taskfile(file);
        let latest = runlog::runs_of(file).last().map(|(_, e)| e.clone());
        if state.run_in_progress() && latest.as_ref() == Some(&events) {
            report.in_progress();
        }
    }
    let out = match args.format {
        ReportFormat::Md => runlog::md::render(&report),
        ReportFormat::Html => runlog::html::render(&report),
        ReportFormat::Trace => runlog::trace::render(&report),
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report).expect("a report serialises");
            s.push('\n');
            s
        }
    };
    print_stdout(&out);
    Ok(0)
}

/// The task file (when known) and the run's `events.jsonl`.
fn find_run(args: &ReportArgs) -> Result<(Option<PathBuf>, PathBuf), Error> {
    if let Some(file) = &args.file
        && file.extension().is_some_and(|e| e == "jsonl")
    {
        if args.run.is_some() {
            return Err(Error::Setup(
                "`--run` picks a run of a task file; it cannot be used with an events.jsonl".into(),
            ));
        }
        // `.run-batch/<name>/runs/<id>/events.jsonl` sits four folders
        // below the task file's.
        let taskfile = (file.ancestors().nth(4))
            .zip(file.ancestors().nth(3).and_then(Path::file_name))
            .map(|(dir, name)| dir.join(name))
            .filter(|f| f.is_file());
        return Ok((taskfile, file.clone()));
    }
    let (taskfile, runs) = match &args.file {
        Some(file) => {
            if !file.exists() {
                return Err(Error::Read {
                    path: file.clone(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
            (file.clone(), runlog::runs_of(file))
        }
        None => {
            let here = runlog::runs_here(Path::new("."));
            // The task file whose latest run is the newest.
            let latest = (here.into_iter())
                .max_by(|a, b| a.1.last().map(|r| &r.0).cmp(&b.1.last().map(|r| &r.0)));
            match latest {
                Some((file, runs)) => (file.strip_prefix("./").unwrap_or(&file).to_owned(), runs),
                None => {
                    return Err(Error::Setup(
                        "no runs in `./.run-batch/`; name the task file: `run-batch report FILE`"
                            .into(),
                    ));
                }
            }
        }
    };
    if runs.is_empty() {
        return Err(Error::Setup(format!(
            "`{}` has no recorded runs yet; run it with `run-batch {}`",
            taskfile.display(),
            taskfile.display()
        )));
    }
    let chosen = match &args.run {
        None => runs.last().cloned(),
        Some(id) => {
            let matching: Vec<&(String, PathBuf)> = runs
                .iter()
                .filter(|(r, _)| r.starts_with(id.as_str()))
                .collect();
            match matching.as_slice() {
                [one] => Some((*one).clone()),
                [] => {
                    let recent: Vec<String> = runs
                        .iter()
                        .rev()
                        .take(5)
                        .map(|(r, _)| format!("`{r}`"))
                        .collect();
                    return Err(Error::Setup(format!(
                        "`{}` has no run `{id}`; its latest runs: {}",
                        taskfile.display(),
                        recent.join(", ")
                    )));
                }
                many => {
                    let ids: Vec<String> = many.iter().map(|(r, _)| format!("`{r}`")).collect();
                    return Err(Error::Setup(format!(
                        "`{id}` could be any of {} runs: {}; give more of the id",
                        many.len(),
                        ids.join(", ")
                    )));
                }
            }
        }
    };
    let (_, events) = chosen.expect("runs is not empty");
    Ok((Some(taskfile), events))
}
