//! Agents: what `--agent` / the `agent` hint names, the command line it
//! becomes (with the config file's settings, `--agent-arg`s and a session to
//! resume), and which stream format it prints. Takes the name, the config
//! and the run's options; hands on an `AgentSpec` whose program was found
//! before the run. Never spawns anything: `executor` does.
//!
//! One file per CLI holds all run-batch knows about it (its command line,
//! stream reader, resume rule and list prices): `claude`, `codex`, `gemini`
//! and `shell` are the presets (`presets`); `command` is any other command.
//! A name defined under `[agents.NAME]` in `run-batch.toml` is a custom
//! agent. Anything else is a command split like a shell splits words and run
//! without one. A preset name followed by words (`codex -m o3`) is the preset
//! with those words added to its command line.

pub mod activity;
pub mod claude;
pub mod cli;
pub mod codex;
pub mod command;
pub mod gemini;
pub mod presets;
pub mod shell;
pub mod stream;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{AgentConfig, Config, OutputKind};
use crate::run::price::ListPrice;
use crate::run::process::find_program;
use crate::run::providers::Pace;

use cli::{Cli, Setup};
pub use cli::{Invocation, PromptVia};
use stream::Format;

pub const DEFAULT_AGENT: &str = "claude";

#[derive(Clone, Debug)]
pub struct AgentSpec {
    /// As the user wrote it, for messages.
    pub name: String,
    /// Its CLI: a preset, or `command::Command`.
    cli: &'static dyn Cli,
    /// A custom command's words (empty for a preset).
    command: Vec<String>,
    /// What it prints: `None` for anything (judged by exit status).
    pub output: Option<Format>,
    /// Words after a preset's name in the agent spec.
    extra: Vec<String>,
    /// From `[agents.<preset or name>]` in the config file.
    pub settings: AgentConfig,
    /// `--agent-arg`s, appended last.
    cli_args: Vec<String>,
    /// `--max-cost-per-task`, for CLIs that can cap a run's spend.
    max_cost_per_task: Option<f64>,
    /// The program, found before the run (see `resolve`).
    pub program: Option<PathBuf>,
}

impl AgentSpec {
    /// Parses an agent name or command with the config file's settings and
    /// the command line's `--agent-arg`s.
    pub fn parse(
        s: &str,
        config: &Config,
        cli_args: &[String],
        max_cost_per_task: Option<f64>,
    ) -> Result<AgentSpec, String> {
        let name = s.trim();
        let words = shell_words::split(name)
            .map_err(|e| format!("cannot split `{name}` into words: {e}"))?;
        let Some(first) = words.first() else {
            return Err("the agent command is empty".into());
        };
        let settings = config.agent(first).cloned();
        let custom: &'static dyn Cli = &command::Command;
        let (cli, command, extra, settings) = if let Some(preset) = presets::named(first) {
            let settings = settings.unwrap_or_default();
            (preset, Vec::new(), words[1..].to_vec(), settings)
        } else if let Some(custom_settings) = settings.filter(|c| c.command.is_some()) {
            let command = custom_settings.command.as_deref().unwrap_or_default();
            let mut cwords = command::configured(first, command, config.path.as_deref())?;
            cwords.extend(words[1..].iter().cloned());
            (custom, cwords, Vec::new(), custom_settings)
        } else {
            (custom, words.clone(), Vec::new(), AgentConfig::default())
        };
        let output = cli.output().or_else(|| {
            (settings.output == OutputKind::StreamJson).then_some(command::STREAM_JSON)
        });
        Ok(AgentSpec {
            name: name.to_owned(),
            cli,
            command,
            output,
            extra,
            settings,
            cli_args: cli_args.to_vec(),
            max_cost_per_task,
            program: None,
        })
    }

    /// What its CLI's file builds the command line from.
    fn setup(&self) -> Setup<'_> {
        let s = &self.settings;
        Setup {
            command: &self.command,
            model: s.model.as_deref(),
            permission_mode: s.permission_mode.as_deref(),
            allowed_tools: &s.allowed_tools,
            args: self.user_args().map(String::as_str).collect(),
            max_cost_per_task: self.max_cost_per_task,
        }
    }

    /// Its provider, for the gate its tasks share (`providers`): a metered
    /// CLI, paced; any other agent is its own, unpaced.
    pub fn provider(&self) -> (String, Pace) {
        match self.cli.pace() {
            Some(pace) => (self.cli.name().to_owned(), pace),
            None => (self.name.clone(), Pace::NONE),
        }
    }

    /// Whether this agent can continue an earlier session.
    pub fn can_resume(&self) -> bool {
        self.cli.can_resume()
    }

    pub fn prompt_via(&self) -> PromptVia {
        self.cli.prompt_via()
    }

    /// The model the command line asks for, if it says (for prices).
    pub fn model(&self) -> Option<String> {
        let words: Vec<&String> = self.user_args().collect();
        let mut found = self.settings.model.clone();
        for (i, w) in words.iter().enumerate() {
            if let Some(v) = w.strip_prefix("--model=") {
                found = Some(v.to_owned());
            } else if (*w == "-m" || *w == "--model")
                && let Some(v) = words.get(i + 1)
            {
                found = Some((*v).clone());
            } else if i > 0
                && words[i - 1] == "-c"
                && let Some(v) = w.strip_prefix("model=")
            {
                found = Some(v.trim_matches('"').to_owned());
            }
        }
        found
    }

    /// The whole command line, program first.
    pub fn argv(&self, inv: &Invocation) -> Result<Vec<String>, String> {
        self.cli.argv(&self.setup(), inv)
    }

    /// The words a person added, in command-line order (a later flag wins):
    /// config `args`, then words from the agent spec, then `--agent-arg`s.
    fn user_args(&self) -> impl Iterator<Item = &String> {
        (self.settings.args.iter())
            .chain(&self.extra)
            .chain(&self.cli_args)
    }

    /// Finds the program on PATH (or, for a path, relative to `base`) and
    /// remembers it; an error is a message for people.
    pub fn resolve(&mut self, base: &Path) -> Result<(), String> {
        let setup = self.setup();
        let word = self.cli.program(&setup);
        self.program = Some(find_program(word, base).ok_or_else(|| match self.cli.install() {
            Some((cli, package)) => format!(
                "agent `{}` needs the {cli}, and `{word}` is not on PATH; install it with `npm install -g {package}`, or pick another agent with `--agent`",
                self.name
            ),
            None if word.contains('/') => format!(
                "agent `{}`: `{}` is not an executable file",
                self.name,
                if base == Path::new(".") {
                    PathBuf::from(word)
                } else {
                    base.join(word)
                }
                .display()
            ),
            None => format!("agent `{}`: program `{word}` is not on PATH", self.name),
        })?);
        if let Some(program) = &self.program {
            check_interpreter(&self.name, program)?;
        }
        Ok(())
    }

    /// Variables to drop from the agent's environment.
    pub fn env_remove(&self) -> &'static [&'static str] {
        self.cli.env_remove()
    }

    /// Variables to add: the config's `env`, and what its CLI needs.
    pub fn env_add(&self) -> BTreeMap<String, String> {
        let mut env = self.settings.env.clone();
        self.cli.env_add(&self.setup(), &mut env);
        env
    }

    /// What the agent runs instead of reading a prompt, made from the
    /// task's body (the shell agent's script).
    pub fn script(&self, body: &str) -> Option<String> {
        self.cli.script(body)
    }

    /// What a task's body lacks for this agent, told before the run.
    pub fn task_problem(&self, body: &str) -> Option<String> {
        self.cli.task_problem(body)
    }
}

/// Every preset's wording of provider failures, for the text table.
pub fn limit_wording() -> impl Iterator<Item = &'static (crate::run::limits::Kind, &'static str)> {
    presets::PRESETS.iter().flat_map(|p| p.limit_wording())
}

/// Every preset's list prices, for the price table.
pub fn list_prices() -> impl Iterator<Item = &'static ListPrice> {
    presets::PRESETS.iter().flat_map(|p| p.list_prices())
}

/// A script's `#!` line, checked as the kernel will run it, so that a
/// missing interpreter is an error naming it before anything starts instead
/// of a bare "No such file or directory" for every task: the interpreter
/// must be an executable file, and a program named through `env` must be
/// on PATH.
fn check_interpreter(name: &str, script: &Path) -> Result<(), String> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    // Linux reads at most this much of a `#!` line.
    let mut head = Vec::new();
    if let Ok(f) = std::fs::File::open(script) {
        let _ = f.take(256).read_to_end(&mut head);
    }
    let Some(rest) = head.strip_prefix(b"#!") else {
        return Ok(());
    };
    let line = String::from_utf8_lossy(rest.split(|&b| b == b'\n').next().unwrap_or(rest));
    let line = line.trim_end_matches('\r');
    let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
    let fail = |what: String| {
        Err(format!(
            "agent `{name}`: the script `{}` starts with `#!{}`, and {what}; install it or fix the script's first line",
            script.display(),
            line.trim()
        ))
    };
    let Some(interpreter) = words.next() else {
        return fail("names no interpreter".into());
    };
    // A relative interpreter is found from the agent's folder: left to the run.
    if !interpreter.starts_with('/') {
        return Ok(());
    }
    match std::fs::metadata(interpreter) {
        Err(_) => return fail(format!("`{interpreter}` does not exist")),
        Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => {
            return fail(format!("`{interpreter}` is not an executable file"));
        }
        Ok(_) => {}
    }
    if Path::new(interpreter)
        .file_name()
        .is_some_and(|n| n == "env")
    {
        // `env [-S] [-i] [-u NAME] [NAME=value]… program`
        let mut takes_value = false;
        let program = words.find(|w| {
            if std::mem::take(&mut takes_value) {
                return false;
            }
            if matches!(*w, "-u" | "--unset" | "-C" | "--chdir") {
                takes_value = true;
                return false;
            }
            !w.starts_with('-') && !w.contains('=')
        });
        if let Some(program) = program
            && find_program(program, Path::new(".")).is_none()
        {
            return fail(format!("`{program}` is not on PATH"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> AgentSpec {
        AgentSpec::parse(s, &Config::default(), &[], None).unwrap()
    }

    #[test]
    fn presets_and_commands() {
        assert_eq!(spec("claude").output, Some(claude::FORMAT));
        assert_eq!(spec("codex").output, Some(codex::FORMAT));
        assert_eq!(spec("shell").output, None);
        let c = spec("my-agent --flag 'two words'");
        assert_eq!(
            c.argv(&Invocation::default()).unwrap(),
            ["my-agent", "--flag", "two words"]
        );
        assert_eq!(c.output, None);
        let p = |s: &str| AgentSpec::parse(s, &Config::default(), &[], None);
        assert!(p("bad 'quote").is_err());
        assert!(p("  ").is_err());
    }

    #[test]
    fn the_model_priced_is_the_last_one_on_the_command_line() {
        let mut config = Config::default();
        config.agents.insert(
            "codex".into(),
            AgentConfig {
                args: vec!["-m".into(), "from-config".into()],
                ..AgentConfig::default()
            },
        );
        let s = AgentSpec::parse("codex -m from-spec", &config, &[], None).unwrap();
        let argv = s.argv(&Invocation::default()).unwrap().join(" ");
        assert!(argv.ends_with("-m from-config -m from-spec -"), "{argv}");
        assert_eq!(s.model().as_deref(), Some("from-spec"));
    }
}
