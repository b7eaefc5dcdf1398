//! `run-batch check`: takes a task file and the run's options; hands on
//! findings (errors `run` would refuse on, warnings it would not) with their
//! place and, where known, the fix. Uses what `run` uses (the file check,
//! the planner, the config loader, the prompt template, `check_agents`),
//! then adds what a run only finds out later: gates whose program is
//! missing, permission modes that let agents do anything. Never starts a
//! process or writes a file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Location};
use crate::plan::{Plan, PlanOptions};
use crate::run::{RunOptions, check_agents, prompt::Prompter};
use crate::taskfile::{Document, ReadOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One thing `check` found.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable, kebab-case: `unknown-dependency`, `agent-not-found`, …
    pub code: String,
    pub message: String,
    pub file: String,
    /// 1-based; `None` when the finding is about the whole file.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What to do about it, when known.
    pub fix: Option<String>,
    /// The caret's width in bytes, and the line's text, for the text form.
    #[serde(skip)]
    pub len: usize,
    #[serde(skip)]
    pub line_text: Option<String>,
}

impl Finding {
    fn whole_file(severity: Severity, code: &str, file: &Path, message: String) -> Finding {
        Finding {
            severity,
            code: code.to_owned(),
            message,
            file: shown(file),
            line: None,
            column: None,
            fix: None,
            len: 0,
            line_text: None,
        }
    }

    fn at(severity: Severity, code: &str, at: &Location, message: String) -> Finding {
        Finding {
            severity,
            code: code.to_owned(),
            message,
            file: shown(&at.path),
            line: Some(at.span.line()),
            column: Some(at.span.column()),
            fix: None,
            len: at.span.len(),
            line_text: Some(at.line_text.clone()),
        }
    }

    fn fix(mut self, fix: Option<String>) -> Finding {
        self.fix = fix;
        self
    }
}

/// What `check` is told: how `run` would be called.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    pub read: ReadOptions,
    pub plan: PlanOptions,
    pub agent: Option<String>,
    pub agent_args: Vec<String>,
    pub config: Option<PathBuf>,
    pub workdir: Option<PathBuf>,
    pub template: Option<PathBuf>,
    /// Leave out what depends on the machine (agents' programs, gates'
    /// programs): for CI and pre-commit, where the agent CLIs are not
    /// installed.
    pub plan_only: bool,
    /// `--isolate worktree`: the task file must be in a git repository
    /// with a branch checked out.
    pub isolate: bool,
}

/// Everything found in one task file, errors first, each in file order.
pub fn check_file(file: &Path, options: &CheckOptions) -> Vec<Finding> {
    let mut found = Vec::new();
    let planned = check_plan(file, options, &mut found);
    let config = check_config(file, options, &mut found);
    if let Some(template) = &options.template
        && let Err(message) = Prompter::new(Some(template))
    {
        found.push(Finding::whole_file(
            Severity::Error,
            "bad-template",
            template,
            message,
        ));
    }
    let hinted = (planned.as_ref())
        .is_some_and(|p| (0..p.tasks.len()).any(|t| p.settings(t).isolate == Some(true)));
    if (options.isolate || hinted)
        && file.exists()
        && let Err(message) = crate::run::worktree::Repo::open(
            file,
            &crate::record::state::StateDir::for_taskfile(file).dir,
        )
    {
        found.push(Finding::whole_file(
            Severity::Error,
            "isolate-needs-git",
            file,
            message,
        ));
    }
    if let Some(w) = &options.workdir
        && !w.is_dir()
    {
        found.push(Finding::whole_file(
            Severity::Error,
            "bad-workdir",
            file,
            format!("--workdir `{}` is not a folder", w.display()),
        ));
    }
    // Agents are looked up with the config's own agents; without a config
    // that loads, their findings would be guesses.
    if let (Some(plan), Some(config), false) = (&planned, config, options.plan_only) {
        let run = RunOptions {
            file: file.to_owned(),
            read: options.read,
            plan: options.plan,
            agent: options.agent.clone(),
            agent_args: options.agent_args.clone(),
            config,
            workdir: options.workdir.clone(),
            template: options.template.clone(),
            ..RunOptions::for_check()
        };
        check_run_agents(plan, &run, &mut found);
        check_gates(plan, &run, &mut found);
        if let Some(template) = crate::run::judge::template_path(&run)
            && let Err(message) = crate::run::judge::Template::new(Some(&template))
        {
            found.push(Finding::whole_file(
                Severity::Error,
                "bad-template",
                &template,
                message,
            ));
        }
    }
    // Errors first; the task file's own findings before other files'; then
    // in file order.
    let own = shown(file);
    found.sort_by_key(|f| {
        (
            f.severity,
            f.file != own,
            f.line.unwrap_or(0),
            f.column.unwrap_or(0),
        )
    });
    found
}

fn check_plan(file: &Path, options: &CheckOptions, found: &mut Vec<Finding>) -> Option<Plan> {
    let refused = |e: Error, found: &mut Vec<Finding>| {
        found.push(
            Finding::whole_file(Severity::Error, error_code(&e), file, e.to_string()).fix(e.help()),
        );
        None
    };
    if let Err(e) = crate::record::writable::check(file, true) {
        return refused(e, found);
    }
    let doc = match Document::read(file, options.read) {
        Ok(doc) => doc,
        Err(e) => return refused(e, found),
    };
    match Plan::build(doc, options.plan) {
        Ok(plan) => {
            for w in &plan.doc.warnings {
                found.push(Finding::at(
                    Severity::Warning,
                    "plan-warning",
                    &w.at,
                    w.message.clone(),
                ));
            }
            Some(plan)
        }
        Err(Error::Invalid {
            diagnostics,
            warnings,
        }) => {
            for w in &warnings {
                found.push(Finding::at(
                    Severity::Warning,
                    "plan-warning",
                    &w.at,
                    w.message.clone(),
                ));
            }
            for d in &diagnostics {
                found.push(
                    Finding::at(
                        Severity::Error,
                        &variant_code(&d.error),
                        &d.at,
                        d.error.to_string(),
                    )
                    .fix(d.error.help()),
                );
            }
            None
        }
        Err(e) => refused(e, found),
    }
}

/// The config `run` would load (none: the empty default).
fn check_config(file: &Path, options: &CheckOptions, found: &mut Vec<Finding>) -> Option<Config> {
    let path = (options.config.clone()).or_else(|| Config::find(file));
    let Some(path) = path else {
        return Some(Config::default());
    };
    match Config::load(&path) {
        Ok(config) => {
            risky_modes(&config, &path, found);
            Some(config)
        }
        Err(Error::Config {
            path,
            line,
            column,
            message,
        }) => {
            let mut f = Finding::whole_file(Severity::Error, "bad-config", &path, message);
            if line > 0 {
                f.line = Some(line);
                f.column = Some(column);
                f.len = 1;
                f.line_text = line_of(&path, line);
            }
            found.push(f);
            None
        }
        Err(e) => {
            found.push(Finding::whole_file(
                Severity::Error,
                "bad-config",
                &path,
                e.to_string(),
            ));
            None
        }
    }
}

/// Permission modes that let an agent run anything: allowed (a person can
/// choose them on purpose, preferably in a sandbox), but worth a look
/// before a run that nobody watches.
const RISKY_MODES: &[(&str, &str)] = &[
    ("claude", "bypassPermissions"),
    ("codex", "danger-full-access"),
    ("gemini", "yolo"),
];

fn risky_modes(config: &Config, path: &Path, found: &mut Vec<Finding>) {
    for (agent, mode) in RISKY_MODES {
        let Some(settings) = config.agents.get(*agent) else {
            continue;
        };
        if settings.permission_mode.as_deref() != Some(*mode) {
            continue;
        }
        let mut f = Finding::whole_file(
            Severity::Warning,
            "risky-permission-mode",
            path,
            format!(
                "`permission-mode = \"{mode}\"` lets `{agent}` run any command and reach the network without asking"
            ),
        )
        .fix(Some(
            "run it in a container or VM, or leave `permission-mode` out for the default (edit files in the working folder)"
                .into(),
        ));
        // The config keeps no spans once loaded: the line that says it.
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some((n, line)) = (text.lines().enumerate())
                .find(|(_, l)| l.contains("permission-mode") && l.contains(mode))
        {
            f.line = Some(n + 1);
            f.column = Some(char_column(line, line.find(mode)));
            f.len = mode.len();
            f.line_text = Some(line.to_owned());
        }
        found.push(f);
    }
}

fn check_run_agents(plan: &Plan, run: &RunOptions, found: &mut Vec<Finding>) {
    let (_, mut problems) = check_agents(plan, run);
    problems.extend(crate::run::judge::check(plan, run));
    for p in problems {
        let task = &plan.doc.tasks[p.task];
        // A task's own `agent` hint (or its missing ```sh block) is placed
        // at the task; the default agent and `--agent` are the file's.
        let code = if p.message.contains("```sh block") {
            "no-shell-block"
        } else {
            "agent-cannot-run"
        };
        if plan.settings(p.task).agent.is_some() || code == "no-shell-block" {
            let at = plan.doc.location(plan.doc.checkbox(task));
            found.push(Finding::at(Severity::Error, code, &at, p.message));
        } else {
            let file = plan.doc.source.path.clone();
            found.push(Finding::whole_file(Severity::Error, code, &file, p.message));
        }
    }
}

/// Gates (run with `sh -c` in the working folder) whose program is not
/// there: every task with that gate would fail after its agent's work.
fn check_gates(plan: &Plan, run: &RunOptions, found: &mut Vec<Finding>) {
    let workdir =
        (run.workdir.clone()).unwrap_or_else(|| crate::run::workspace::default_workdir(&run.file));
    let mut seen = std::collections::HashSet::new();
    for t in plan.runnable() {
        if plan.is_done(t) {
            continue;
        }
        let Some(gate) = &plan.settings(t).gate else {
            continue;
        };
        if !seen.insert((gate.line, gate.command.clone())) {
            continue;
        }
        for program in gate_programs(&gate.command) {
            let exists = if program.contains('/') {
                workdir.join(&program).is_file()
            } else {
                crate::run::process::find_program(&program, &workdir).is_some()
            };
            if exists {
                continue;
            }
            let line = gate.line;
            let text = plan.doc.source.line_text(line).to_owned();
            let column = char_column(&text, text.find(&program));
            found.push(Finding {
                severity: Severity::Warning,
                code: "gate-program-missing".into(),
                message: format!(
                    "gate {} runs `{program}`, which is not {}",
                    gate.label(),
                    if program.contains('/') {
                        format!("a file in `{}`", workdir.display())
                    } else {
                        "on PATH".to_owned()
                    }
                ),
                file: plan.doc.source.path.display().to_string(),
                line: Some(line),
                column: Some(column),
                fix: Some(
                    "install it, or make sure an earlier task creates it; a gate that cannot run fails its task"
                        .into(),
                ),
                len: program.len(),
                line_text: Some(text),
            });
        }
    }
}

/// Words `sh` itself understands: never looked up on PATH.
const SHELL_WORDS: &[&str] = &[
    "!", ".", ":", "[", "[[", "alias", "break", "case", "cd", "command", "continue", "do", "done",
    "echo", "elif", "else", "esac", "eval", "exec", "exit", "export", "false", "fi", "for",
    "function", "if", "in", "local", "printf", "pwd", "read", "return", "set", "shift", "source",
    "test", "then", "time", "trap", "true", "type", "ulimit", "umask", "unset", "until", "wait",
    "while", "{", "}",
];

/// The programs a gate starts, as far as can be told without running a
/// shell: the first word of each simple command (after `VAR=value`s),
/// skipping shell words and anything built at run time (`$x`, `$(…)`).
fn gate_programs(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after_cd = false;
    for part in command.split(['\n', ';', '|', '&', '(', ')']) {
        let Ok(words) = shell_words::split(part) else {
            continue;
        };
        // `VAR=value`s, and words that lead into a command, come first.
        let Some(first) = words.iter().find(|w| {
            !is_assignment(w)
                && !matches!(
                    w.as_str(),
                    "!" | "if"
                        | "then"
                        | "else"
                        | "elif"
                        | "do"
                        | "while"
                        | "until"
                        | "time"
                        | "exec"
                        | "command"
                )
        }) else {
            continue;
        };
        if first == "cd" {
            // Relative paths after a `cd` are relative to somewhere else.
            after_cd = true;
            continue;
        }
        if SHELL_WORDS.contains(&first.as_str())
            || first.contains(['$', '`', '*', '?', '~'])
            || (after_cd && first.contains('/') && !first.starts_with('/'))
            || out.contains(first)
        {
            continue;
        }
        out.push(first.clone());
    }
    out
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The 1-based column, in characters, of byte `offset` of `line` (1 when
/// not found).
fn char_column(line: &str, offset: Option<usize>) -> usize {
    offset.map_or(1, |o| line[..o].chars().count() + 1)
}

/// A path as people typed it: relative to the current folder when it is
/// inside it (the config file is found as an absolute path).
fn shown(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|here| path.strip_prefix(here).ok().map(Path::to_path_buf));
    relative
        .unwrap_or_else(|| path.to_owned())
        .display()
        .to_string()
}

/// Line `n` (1-based) of a file, for the caret.
fn line_of(path: &Path, n: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().nth(n - 1).map(str::to_owned)
}

/// A plan error's code: its variant's name in kebab case
/// (`UnknownDependency` → `unknown-dependency`). Taken from the name itself
/// so that a new kind of problem gets a code without a second list to keep.
fn variant_code(e: &impl std::fmt::Debug) -> String {
    let debug = format!("{e:?}");
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut code = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                code.push('-');
            }
            code.push(c.to_ascii_lowercase());
        } else {
            code.push(c);
        }
    }
    code
}

fn error_code(e: &Error) -> &'static str {
    match e {
        Error::IsDirectory { .. } => "not-a-file",
        Error::NotUtf8 { .. } => "not-utf8",
        Error::Read { .. } => "cannot-read",
        Error::NotWritable { .. } => "not-writable",
        Error::TooBig { .. } => "too-big",
        _ => "cannot-check",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_programs_are_the_commands_first_words() {
        assert_eq!(gate_programs("cargo test && cargo clippy"), ["cargo"]);
        assert_eq!(
            gate_programs("RUST_LOG=1 ./check.sh | grep -q ok"),
            ["./check.sh", "grep"]
        );
        assert_eq!(gate_programs("test -f a && [ -d b ]"), Vec::<String>::new());
        assert_eq!(gate_programs("cd web; ./build.sh; npm test"), ["npm"]);
        assert_eq!(gate_programs("$CHECKER --all"), Vec::<String>::new());
        assert_eq!(gate_programs("if make check; then true; fi"), ["make"]);
    }

    #[test]
    fn codes_are_kebab_case_variant_names() {
        #[derive(Debug)]
        #[allow(dead_code)]
        enum E {
            UnknownDependency { id: u8 },
            Cycle,
        }
        assert_eq!(
            variant_code(&E::UnknownDependency { id: 1 }),
            "unknown-dependency"
        );
        assert_eq!(variant_code(&E::Cycle), "cycle");
    }
}
