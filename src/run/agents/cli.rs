//! What every agent CLI's file provides (`Cli`), and what a command line is
//! made from (`Setup`, `Invocation`). Takes nothing from those files; hands
//! this contract to them, to `presets` and to `AgentSpec`. Never runs
//! anything.

use std::collections::BTreeMap;
use std::path::Path;

use crate::run::agents::stream::Format;
use crate::run::price::ListPrice;
use crate::run::providers::Pace;

/// One agent CLI: its command line, what it prints, how it resumes and
/// what its models cost. Each CLI's file implements it; `presets` lists them.
pub trait Cli: std::fmt::Debug + Sync {
    /// Its name, as `--agent`, the `agent` hint and `[agents.NAME]` say it.
    fn name(&self) -> &'static str;

    /// The program looked up on PATH.
    fn program<'a>(&self, s: &Setup<'a>) -> &'a str;

    /// The whole command line, program first; an error is a message for
    /// people.
    fn argv(&self, s: &Setup, inv: &Invocation) -> Result<Vec<String>, String>;

    /// What it prints on stdout: `None` for anything (judged by exit status).
    fn output(&self) -> Option<Format> {
        None
    }

    /// (The CLI's name, its npm package), named when it is not on PATH.
    fn install(&self) -> Option<(&'static str, &'static str)> {
        None
    }

    /// Its permission setting, if it has one.
    fn permissions(&self) -> Option<&'static Permissions> {
        None
    }

    /// Why key `key` of `[agents.NAME]` in `run-batch.toml` does not apply
    /// to it, if it does not.
    fn refuses(&self, key: &str) -> Option<String> {
        preset_refuses(self.name(), key)
    }

    fn prompt_via(&self) -> PromptVia {
        PromptVia::Stdin
    }

    /// Variables to drop from its environment.
    fn env_remove(&self) -> &'static [&'static str] {
        &[]
    }

    /// Variables it needs, added after the config file's `env`.
    fn env_add(&self, _s: &Setup, _env: &mut BTreeMap<String, String>) {}

    /// Whether it can continue an earlier session (`Invocation::resume`).
    fn can_resume(&self) -> bool {
        false
    }

    /// What it runs instead of reading a prompt, made from a task's body.
    fn script(&self, _body: &str) -> Option<String> {
        None
    }

    /// What a task's body lacks for this CLI, told before anything starts.
    fn task_problem(&self, _body: &str) -> Option<String> {
        None
    }

    /// How its starts are paced, when it talks to a metered API: then its
    /// name is its provider (`providers`), whose gate all its tasks share.
    fn pace(&self) -> Option<Pace> {
        None
    }

    /// List prices of its models, for when an agent reports tokens but no
    /// cost.
    fn list_prices(&self) -> &'static [ListPrice] {
        &[]
    }

    /// How the CLI words a failure that is its provider's, not the task's
    /// (a usage limit, throttling, the API, auth), for the text table that
    /// `[limits]` extends.
    fn limit_wording(&self) -> &'static [(crate::run::limits::Kind, &'static str)] {
        &[]
    }
}

/// What `command` and `output` mean for any preset: nothing.
pub fn preset_refuses(name: &str, key: &str) -> Option<String> {
    match key {
        "command" => Some(format!(
            "`command` is for custom agents; the `{name}` preset builds its own command line — use `args` to add to it"
        )),
        "output" => Some(format!(
            "`output` is for custom agents; run-batch already knows what the `{name}` preset prints"
        )),
        _ => None,
    }
}

/// A CLI's permission setting.
#[derive(Debug)]
pub struct Permissions {
    /// The flag that sets it.
    pub flag: &'static str,
    /// The values it accepts (`permission-mode` in `run-batch.toml` is
    /// checked against them).
    pub accepted: &'static [&'static str],
    /// Used when the config file names none.
    pub default: &'static str,
}

/// What a command line is built from: the config file's settings, the
/// words a person added, and the run's options.
#[derive(Debug)]
pub struct Setup<'a> {
    /// A custom command's words (empty for a preset).
    pub command: &'a [String],
    pub model: Option<&'a str>,
    pub permission_mode: Option<&'a str>,
    pub allowed_tools: &'a [String],
    /// Config `args`, then words from the agent spec, then `--agent-arg`s.
    pub args: Vec<&'a str>,
    /// `--max-cost-per-task`, for CLIs that can cap a run's spend.
    pub max_cost_per_task: Option<f64>,
}

impl Setup<'_> {
    /// The config's permission mode, else the CLI's default.
    pub fn permission_mode<'s>(&'s self, p: &'s Permissions) -> &'s str {
        self.permission_mode.unwrap_or(p.default)
    }

    /// The config's model, permission mode and allowed tools, under this
    /// CLI's flags (`tools: None`: it has no allowed-tools flag).
    pub fn push_settings(
        &self,
        argv: &mut Vec<String>,
        model: &str,
        p: &Permissions,
        tools: Option<&str>,
    ) {
        if let Some(m) = self.model {
            push(argv, &[model, m]);
        }
        push(argv, &[p.flag, self.permission_mode(p)]);
        if let Some(flag) = tools
            && !self.allowed_tools.is_empty()
        {
            argv.push(flag.into());
            argv.extend(self.allowed_tools.iter().cloned());
        }
    }

    /// The words a person added, in command-line order.
    pub fn push_args(&self, argv: &mut Vec<String>) {
        push(argv, &self.args);
    }
}

/// What the agent-independent parts of the run add to one invocation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Invocation<'a> {
    /// A session to continue.
    pub resume: Option<&'a str>,
    /// The shell agent's script.
    pub script: Option<&'a Path>,
    /// The rendered prompt, for agents that take it as an argument.
    pub prompt: Option<&'a str>,
}

/// Where an agent reads its prompt from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptVia {
    /// stdin is the prompt file, then end of file.
    Stdin,
    /// The prompt is an argument; stdin is empty.
    Argument,
    /// stdin stays open for stream-json user messages (`run::inbox`): the
    /// prompt first, then messages while it works; closed after its result.
    StreamJson,
}

pub fn push(argv: &mut Vec<String>, words: &[&str]) {
    argv.extend(words.iter().map(|w| (*w).to_owned()));
}
