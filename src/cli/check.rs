//! `run-batch check FILE...`: the flags, and the findings as text (with a
//! caret, on stderr) or one JSON document (on stdout). Exit 0 when clean,
//! 1 with `--deny-warnings` and warnings, 2 on errors.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::error::Error;
use crate::plan::PlanOptions;
use crate::report::diagnostic::render_finding;
use crate::report::output::print_stdout;
use crate::report::output::to_stderr;
use crate::report::plural;
use crate::report::style::{self, Tone};
use crate::run::check::{CheckOptions, Finding, Severity, check_file};
use crate::taskfile::{Dialect, ReadOptions};

#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: 0 nothing to report (warnings without --deny-warnings), \
1 warnings with --deny-warnings, 2 errors."
)]
pub struct CheckArgs {
    /// Task files (Markdown)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// `text` (with the line and a caret, on stderr) or `json` (one document
    /// on stdout, a diagnostic per finding)
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Exit 1 when there are warnings (and no errors)
    #[arg(long)]
    pub deny_warnings: bool,
    /// Read the files in this dialect instead of detecting it
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
    /// The agent `run` would be given with `--agent`
    #[arg(long, value_name = "NAME|COMMAND")]
    pub agent: Option<String>,
    /// The `--agent-arg`s `run` would be given
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub agent_arg: Vec<String>,
    /// Config file [default: run-batch.toml in the task file's folder or the
    /// nearest parent folder that has one]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The `--workdir` `run` would be given
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// The `--template` `run` would be given
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Check the task files and the config only, not whether agents and
    /// gates' programs are installed (for CI and pre-commit, where the
    /// agent CLIs usually are not)
    #[arg(long)]
    pub plan_only: bool,
    /// The `--isolate` `run` would be given (`worktree` needs a git
    /// repository with a branch checked out)
    #[arg(long, value_enum, value_name = "MODE", default_value = "none")]
    pub isolate: super::Isolate,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(Serialize)]
struct Report<'a> {
    /// 1 for this document's shape.
    schema: u32,
    errors: usize,
    warnings: usize,
    files: Vec<FileSummary>,
    diagnostics: Vec<&'a Finding>,
}

#[derive(Serialize)]
struct FileSummary {
    file: String,
    errors: usize,
    warnings: usize,
}

pub fn check(args: &CheckArgs) -> Result<i32, Error> {
    let options = CheckOptions {
        read: ReadOptions {
            dialect: args.dialect,
        },
        plan: PlanOptions {
            include_optional: args.include_optional,
            pipeline: args.pipeline,
        },
        agent: args.agent.clone(),
        agent_args: args.agent_arg.clone(),
        config: args.config.clone(),
        workdir: args.workdir.clone(),
        template: args.template.clone(),
        plan_only: args.plan_only,
        isolate: args.isolate == super::Isolate::Worktree,
    };
    let mut all: Vec<Finding> = Vec::new();
    let mut files = Vec::new();
    for file in &args.files {
        let found = check_file(file, &options);
        let errors = count(&found, Severity::Error);
        files.push(FileSummary {
            file: file.display().to_string(),
            errors,
            warnings: found.len() - errors,
        });
        all.extend(found);
    }
    // A config or template shared by several files is reported once.
    let mut seen = std::collections::HashSet::new();
    all.retain(|f| seen.insert((f.file.clone(), f.line, f.column, f.message.clone())));
    let errors = count(&all, Severity::Error);
    let warnings = all.len() - errors;
    match args.format {
        CheckFormat::Json => {
            let report = Report {
                schema: 1,
                errors,
                warnings,
                files,
                diagnostics: all.iter().collect(),
            };
            let mut out = serde_json::to_string_pretty(&report).expect("findings serialise");
            out.push('\n');
            print_stdout(&out);
        }
        CheckFormat::Text => {
            let mut out = String::new();
            for f in &all {
                out.push_str(&render_finding(f));
            }
            for f in &files {
                if f.errors + f.warnings == 0 {
                    out.push_str(&format!("{}: {}\n", f.file, style::err(Tone::Good, "ok")));
                }
            }
            if errors + warnings > 0 {
                out.push_str(&format!(
                    "checked {} file{}: {errors} error{}, {warnings} warning{}\n",
                    files.len(),
                    plural(files.len()),
                    plural(errors),
                    plural(warnings)
                ));
            }
            to_stderr(&out);
        }
    }
    Ok(if errors > 0 {
        2
    } else if warnings > 0 && args.deny_warnings {
        1
    } else {
        0
    })
}

fn count(found: &[Finding], severity: Severity) -> usize {
    found.iter().filter(|f| f.severity == severity).count()
}
