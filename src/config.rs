//! `run-batch.toml`: per-agent settings (model, permission mode, allowed
//! tools, extra arguments, custom agents) and price overrides.
//!
//! The file is read into private `Raw*` structs that keep each value's byte
//! span, so that every error, from TOML syntax to a bad permission mode,
//! points at `path:line:column`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, suggest};
use crate::run::agents::cli::Cli;
use crate::run::agents::presets;
use crate::run::price::Price;

mod agents;
use agents::{agent_config, price_config};

/// The name looked for next to the task file and in its ancestors.
pub const FILE_NAME: &str = "run-batch.toml";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// Where it was read from; `None` for the empty default.
    pub path: Option<PathBuf>,
    pub agents: BTreeMap<String, AgentConfig>,
    pub prices: BTreeMap<String, Price>,
    /// `[runs] keep`: run folders kept per task file (None: the default).
    pub keep_runs: Option<usize>,
    /// `[limits]`: more patterns (regular expressions, checked when read)
    /// for provider failures, before the built-in ones.
    pub limit_patterns: Vec<(crate::run::limits::Kind, String)>,
    /// `[limits] transient-retries`: transient API failures retried before
    /// one counts as the task's failure (None: the default).
    pub transient_retries: Option<u32>,
    /// `[limits] margin`: waited past a usage limit's reset time.
    pub reset_margin: Option<std::time::Duration>,
    /// `[isolation] setup`: a command run in each new task worktree.
    pub worktree_setup: Option<String>,
    /// `[run]`: defaults for `run`'s options (a flag on the command line wins).
    pub run: RunDefaults,
    /// `[judge] agent`: the judge of tasks whose file gives no `judge` hint.
    pub judge: Option<String>,
    /// `[judge] template`: the judge's prompt template, relative to the
    /// config file's folder.
    pub judge_template: Option<PathBuf>,
}

/// `[run]` in run-batch.toml: what a run does when its flags do not say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunDefaults {
    pub require_done: Option<bool>,
    pub isolate_worktree: Option<bool>,
    pub commit: Option<String>,
    pub idle_timeout: Option<std::time::Duration>,
    pub max_wait: Option<std::time::Duration>,
    /// `escalate`: later attempts' agent and timeout, for tasks whose plan
    /// gives no `escalate` hint.
    pub escalate: Vec<crate::taskfile::Escalation>,
}

/// What a custom agent prints on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputKind {
    /// Anything; success is exit status 0.
    #[default]
    Text,
    /// Claude-style stream-json, judged by its final `result` event.
    StreamJson,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentConfig {
    /// A custom agent's command line (required for names that are not presets).
    pub command: Option<String>,
    pub output: OutputKind,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    pub allowed_tools: Vec<String>,
    /// Appended to the command line.
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Overrides the price table for this agent, whatever the model.
    pub price: Option<Price>,
}

impl Config {
    /// `run-batch.toml` in the task file's folder or the nearest ancestor.
    pub fn find(taskfile: &Path) -> Option<PathBuf> {
        let folder = match taskfile.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        // Absolute, so that a relative folder still walks up past the
        // current directory; without symlink resolution, like a shell's `..`.
        let folder = std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
        folder
            .ancestors()
            .map(|dir| dir.join(FILE_NAME))
            .find(|candidate| candidate.is_file())
    }

    pub fn load(path: &Path) -> Result<Config, Error> {
        // std, not fs_err: `Error::Config` already shows the path.
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        let mut config = parse(&text).map_err(|problem| problem.into_error(path, &text))?;
        config.path = Some(path.to_path_buf());
        Ok(config)
    }

    pub fn agent(&self, name: &str) -> Option<&AgentConfig> {
        self.agents.get(name)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    #[serde(default)]
    agents: BTreeMap<Spanned<String>, Spanned<RawAgent>>,
    #[serde(default)]
    prices: BTreeMap<Spanned<String>, Spanned<RawPrice>>,
    runs: Option<RawRuns>,
    limits: Option<RawLimits>,
    isolation: Option<RawIsolation>,
    run: Option<RawRun>,
    judge: Option<RawJudge>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table of settings for judges (`agent`, `template`)"
)]
struct RawJudge {
    agent: Option<Spanned<String>>,
    template: Option<String>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table of defaults for runs (`require-done`, `isolate`, `commit`, `idle-timeout`, `max-wait`, `escalate`)"
)]
struct RawRun {
    escalate: Option<Vec<Spanned<String>>>,
    require_done: Option<bool>,
    isolate: Option<Spanned<String>>,
    commit: Option<Spanned<String>>,
    idle_timeout: Option<Spanned<String>>,
    max_wait: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table of settings for task worktrees (`setup`)"
)]
struct RawIsolation {
    setup: Option<String>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table of patterns (`limit`, `throttled`, `transient`, `auth`), `transient-retries` and `margin`"
)]
struct RawLimits {
    limit: Option<Vec<Spanned<String>>>,
    throttled: Option<Vec<Spanned<String>>>,
    transient: Option<Vec<Spanned<String>>>,
    auth: Option<Vec<Spanned<String>>>,
    transient_retries: Option<Spanned<i64>>,
    margin: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table of settings for the run folders (`keep`)"
)]
struct RawRuns {
    keep: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table of agent settings"
)]
struct RawAgent {
    command: Option<Spanned<String>>,
    output: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    permission_mode: Option<Spanned<String>>,
    allowed_tools: Option<Spanned<Vec<String>>>,
    args: Option<Spanned<Vec<String>>>,
    env: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    price: Option<Spanned<RawPrice>>,
}

/// Like `Price`, but with spans, and `input`/`output` optional so that a
/// missing one gets our message rather than serde's.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a table of prices (`input`, `output`, `cache-read`, `cache-write`)"
)]
struct RawPrice {
    input: Option<Spanned<Number>>,
    output: Option<Spanned<Number>>,
    cache_read: Option<Spanned<Number>>,
    cache_write: Option<Spanned<Number>>,
}

/// An integer or a float, so that `output = 10` works and a string is
/// refused as "expected a number" rather than "expected f64".
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Number, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Number;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A problem with the byte range it is about, before it is placed in a file.
#[derive(Debug)]
struct Problem {
    span: Option<Range<usize>>,
    message: String,
}

impl Problem {
    fn at(span: Range<usize>, message: impl Into<String>) -> Problem {
        Problem {
            span: Some(span),
            message: message.into(),
        }
    }

    fn into_error(self, path: &Path, text: &str) -> Error {
        let (line, column) = match self.span {
            Some(span) => line_column(text, span.start),
            None => (0, 0),
        };
        Error::Config {
            path: path.to_path_buf(),
            line,
            column,
            message: self.message,
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn parse(text: &str) -> Result<Config, Problem> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| Problem {
        span: e.span(),
        message: toml_message(e.message()),
    })?;
    let mut config = Config::default();
    for (name, agent) in raw.agents {
        let span = name.span();
        let name = name.into_inner();
        if name.trim().is_empty() {
            return Err(Problem::at(span, "an agent needs a name"));
        }
        // `--agent` and the `agent` hint split their value into words and
        // look up the first, so only a one-word name can ever be used.
        if shell_words::split(&name).ok().as_deref() != Some(std::slice::from_ref(&name)) {
            return Err(Problem::at(
                span,
                format!(
                    "agent name `{name}` must be one word, without spaces or quotes: `--agent` and the `agent` hint split on them"
                ),
            ));
        }
        let agent = agent_config(&name, span, agent.into_inner())?;
        config.agents.insert(name, agent);
    }
    for (model, price) in raw.prices {
        let span = model.span();
        let model = model.into_inner();
        if model.is_empty() {
            return Err(Problem::at(span, "a price needs a model name"));
        }
        let context = format!("`[prices.\"{model}\"]`");
        let price = price_config(&context, price)?;
        config.prices.insert(model, price);
    }
    if let Some(keep) = raw.runs.and_then(|r| r.keep) {
        let span = keep.span();
        let n = keep.into_inner();
        if n < 1 {
            return Err(Problem::at(
                span,
                format!("`keep` must be 1 or more (run folders to keep), not {n}"),
            ));
        }
        config.keep_runs = Some(n as usize);
    }
    if let Some(run) = raw.run {
        config.run.require_done = run.require_done;
        if let Some(mode) = run.isolate {
            let span = mode.span();
            config.run.isolate_worktree = Some(match mode.into_inner().as_str() {
                "worktree" => true,
                "none" => false,
                other => {
                    return Err(Problem::at(
                        span,
                        format!("`isolate` is `none` or `worktree`, not `{other}`"),
                    ));
                }
            });
        }
        if let Some(when) = run.commit {
            let span = when.span();
            let when = when.into_inner();
            if !["off", "tick", "wave", "end"].contains(&when.as_str()) {
                return Err(Problem::at(
                    span,
                    format!("`commit` is one of `off`, `tick`, `wave`, `end`, not `{when}`"),
                ));
            }
            config.run.commit = Some(when);
        }
        for step in run.escalate.unwrap_or_default() {
            let span = step.span();
            let text = step.into_inner();
            let e = crate::taskfile::parse_escalation(&text).ok_or_else(|| {
                Problem::at(
                    span,
                    format!(
                        "`escalate` steps are the attempt they start from (2 or more), then `agent=NAME` and/or `timeout=DURATION`, e.g. `2 agent=\"claude --model opus\" timeout=40m`; not `{text}`"
                    ),
                )
            })?;
            config.run.escalate.push(e);
        }
        config.run.escalate.sort_by_key(|e| e.from);
        for (value, slot, key) in [
            (
                run.idle_timeout,
                &mut config.run.idle_timeout,
                "idle-timeout",
            ),
            (run.max_wait, &mut config.run.max_wait, "max-wait"),
        ] {
            if let Some(v) = value {
                let span = v.span();
                let text = v.into_inner();
                *slot = Some(crate::taskfile::parse_duration(&text).ok_or_else(|| {
                    Problem::at(
                        span,
                        format!("`{key}` must be a duration such as `10m` or `8h`, not `{text}`"),
                    )
                })?);
            }
        }
    }
    if let Some(judge) = raw.judge {
        if let Some(agent) = judge.agent {
            let span = agent.span();
            let agent = agent.into_inner();
            if shell_words::split(&agent).map_or(true, |w| w.is_empty()) {
                return Err(Problem::at(
                    span,
                    format!(
                        "`agent` must be an agent name or a command line with balanced quotes, not `{agent}`"
                    ),
                ));
            }
            config.judge = Some(agent);
        }
        config.judge_template = judge
            .template
            .filter(|t| !t.trim().is_empty())
            .map(PathBuf::from);
    }
    if let Some(isolation) = raw.isolation {
        config.worktree_setup = isolation.setup.filter(|s| !s.trim().is_empty());
    }
    if let Some(limits) = raw.limits {
        use crate::run::limits::Kind;
        let lists = [
            (Kind::Limit, limits.limit),
            (Kind::Throttled, limits.throttled),
            (Kind::Transient, limits.transient),
            (Kind::Auth, limits.auth),
        ];
        for (kind, patterns) in lists {
            for pattern in patterns.unwrap_or_default() {
                let span = pattern.span();
                let text = pattern.into_inner();
                if let Err(e) = regex::Regex::new(&text) {
                    return Err(Problem::at(
                        span,
                        format!("`{text}` is not a regular expression: {e}"),
                    ));
                }
                config.limit_patterns.push((kind, text));
            }
        }
        if let Some(m) = limits.margin {
            let span = m.span();
            let text = m.into_inner();
            config.reset_margin =
                Some(crate::taskfile::parse_duration(&text).ok_or_else(|| {
                    Problem::at(
                        span,
                        format!("`margin` must be a duration such as `60s` or `2m`, not `{text}`"),
                    )
                })?);
        }
        if let Some(n) = limits.transient_retries {
            let span = n.span();
            let n = n.into_inner();
            config.transient_retries = Some(u32::try_from(n).map_err(|_| {
                Problem::at(
                    span,
                    format!("`transient-retries` must be 0 or more, not {n}"),
                )
            })?);
        }
    }
    Ok(config)
}

/// serde's wording, made to read as ours: unknown keys get a "did you
/// mean", and multi-line parser messages become one line.
fn toml_message(message: &str) -> String {
    let message = message.trim().lines().map(str::trim).collect::<Vec<_>>();
    let message = message.join("; ");
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message;
    };
    let Some((key, rest)) = rest.split_once('`') else {
        return message;
    };
    // The rest is ", expected one of `a`, `b`" or ", expected `a`" or
    // ", there are no fields": the names are the backticked words.
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    match suggest(key, expected.iter().copied()) {
        Some(s) => format!("unknown key `{key}`; did you mean `{s}`?"),
        None if expected.is_empty() => format!("unknown key `{key}`"),
        None => format!(
            "unknown key `{key}`; expected {}",
            one_of(expected.iter().copied())
        ),
    }
}

/// "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
fn one_of<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let words: Vec<String> = words.into_iter().map(|w| format!("`{w}`")).collect();
    match words.as_slice() {
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        _ => format!("one of {}", words.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error as a person sees it, for a file called `run-batch.toml`.
    fn error(text: &str) -> String {
        match parse(text) {
            Ok(config) => panic!("parsed: {config:?}"),
            Err(problem) => problem
                .into_error(Path::new("run-batch.toml"), text)
                .to_string(),
        }
    }

    const EXAMPLE: &str = r#"
[agents.claude]
model = "sonnet"
permission-mode = "acceptEdits"
allowed-tools = ["Read", "Edit", "Bash(cargo test:*)"]
args = ["--max-turns", "40"]
env = { MY_VAR = "1" }

[agents.codex]
model = "gpt-5-codex"
permission-mode = "workspace-write"
price = { input = 1.25, output = 10, cache-read = 0.125 }

[agents.gemini]
model = "gemini-2.5-pro"
permission-mode = "auto_edit"

[agents.shell]
env = { PATH = "/usr/bin" }

[agents.my-agent]          # a custom agent
command = "./tools/my-agent --fast"
output = "stream-json"

[prices."gpt-5.5"]         # USD per million tokens
input = 1.25
output = 10
cache-read = 0.125
"#;

    #[test]
    fn full_example_parses() {
        let config = parse(EXAMPLE).unwrap();
        assert_eq!(
            config.agents.keys().collect::<Vec<_>>(),
            ["claude", "codex", "gemini", "my-agent", "shell"]
        );
        assert_eq!(
            config.agent("claude"),
            Some(&AgentConfig {
                command: None,
                output: OutputKind::Text,
                model: Some("sonnet".into()),
                permission_mode: Some("acceptEdits".into()),
                allowed_tools: vec!["Read".into(), "Edit".into(), "Bash(cargo test:*)".into()],
                args: vec!["--max-turns".into(), "40".into()],
                env: BTreeMap::from([("MY_VAR".into(), "1".into())]),
                price: None,
            })
        );
        let codex = config.agent("codex").unwrap();
        assert_eq!(codex.model.as_deref(), Some("gpt-5-codex"));
        assert_eq!(codex.permission_mode.as_deref(), Some("workspace-write"));
        assert_eq!(
            codex.price,
            Some(Price {
                input: 1.25,
                output: 10.0,
                cache_read: Some(0.125),
                cache_write: None,
            })
        );
        let gemini = config.agent("gemini").unwrap();
        assert_eq!(gemini.permission_mode.as_deref(), Some("auto_edit"));
        assert!(gemini.allowed_tools.is_empty() && gemini.args.is_empty());
        assert_eq!(config.agent("shell").unwrap().env["PATH"], "/usr/bin");
        let custom = config.agent("my-agent").unwrap();
        assert_eq!(custom.command.as_deref(), Some("./tools/my-agent --fast"));
        assert_eq!(custom.output, OutputKind::StreamJson);
        assert_eq!(
            config.prices,
            BTreeMap::from([(
                "gpt-5.5".to_owned(),
                Price {
                    input: 1.25,
                    output: 10.0,
                    cache_read: Some(0.125),
                    cache_write: None,
                }
            )])
        );
        assert_eq!(config.path, None);
        assert!(config.agent("nobody").is_none());
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(
            parse("# nothing\n[agents]\n[prices]\n").unwrap(),
            Config::default()
        );
        let custom = parse("[agents.x]\ncommand = 'x'\n").unwrap();
        assert_eq!(custom.agents["x"].output, OutputKind::Text);
    }

    #[test]
    fn unknown_top_level_key() {
        assert_eq!(
            error("[agents.claude]\nmodel = \"opus\"\n\n[agent.codex]\n"),
            "run-batch.toml:4:2: unknown key `agent`; did you mean `agents`?"
        );
        assert_eq!(
            error("timeout = 5\n"),
            "run-batch.toml:1:1: unknown key `timeout`; expected one of `agents`, `prices`, `runs`, `limits`, `isolation`, `run`, `judge`"
        );
    }

    #[test]
    fn unknown_agent_key_suggests() {
        assert_eq!(
            error("[agents.claude]\npermision-mode = \"plan\"\n"),
            "run-batch.toml:2:1: unknown key `permision-mode`; did you mean `permission-mode`?"
        );
        assert_eq!(
            error("[agents.claude]\n  sandbox = 1\n"),
            "run-batch.toml:2:3: unknown key `sandbox`; expected one of `command`, `output`, \
             `model`, `permission-mode`, `allowed-tools`, `args`, `env`, `price`"
        );
        assert_eq!(
            error("[prices.x]\ninput = 1\noutput = 2\ncache_read = 3\n"),
            "run-batch.toml:4:1: unknown key `cache_read`; did you mean `cache-read`?"
        );
    }

    #[test]
    fn bad_permission_mode_per_preset() {
        assert_eq!(
            error("[agents.claude]\npermission-mode = \"yolo\"\n"),
            "run-batch.toml:2:19: bad `permission-mode` `yolo` for `claude`: expected one of \
             `default`, `acceptEdits`, `plan`, `bypassPermissions`, `dontAsk`, `auto`"
        );
        assert_eq!(
            error("[agents.claude]\npermission-mode = \"acceptedits\"\n"),
            "run-batch.toml:2:19: bad `permission-mode` `acceptedits` for `claude`: expected one of \
             `default`, `acceptEdits`, `plan`, `bypassPermissions`, `dontAsk`, `auto` \
             (did you mean `acceptEdits`?)"
        );
        assert_eq!(
            error("[agents.codex]\npermission-mode = \"acceptEdits\"\n"),
            "run-batch.toml:2:19: bad `permission-mode` `acceptEdits` for `codex`: expected one of \
             `read-only`, `workspace-write`, `danger-full-access`"
        );
        assert_eq!(
            error("[agents.gemini]\npermission-mode = \"auto-edit\"\n"),
            "run-batch.toml:2:19: bad `permission-mode` `auto-edit` for `gemini`: expected one of \
             `default`, `auto_edit`, `yolo`, `plan` (did you mean `auto_edit`?)"
        );
        for agent in ["claude", "codex", "gemini"] {
            let modes = presets::named(agent)
                .unwrap()
                .permissions()
                .unwrap()
                .accepted;
            for mode in modes {
                let text = format!("[agents.{agent}]\npermission-mode = \"{mode}\"\n");
                let config = parse(&text).unwrap();
                assert_eq!(config.agents[agent].permission_mode.as_deref(), Some(*mode));
            }
        }
    }

    #[test]
    fn custom_agent_without_command() {
        assert_eq!(
            error("[agents.my-agent]\noutput = \"stream-json\"\n"),
            "run-batch.toml:1:9: custom agent `my-agent` needs a `command`, \
             e.g. `command = \"./tools/my-agent --fast\"`"
        );
        assert_eq!(
            error("[agents.cladue]\nargs = [\"-v\"]\n"),
            "run-batch.toml:1:9: custom agent `cladue` needs a `command`, \
             e.g. `command = \"./tools/cladue --fast\"` (or did you mean the `claude` preset?)"
        );
    }

    #[test]
    fn custom_agent_command_must_split() {
        assert_eq!(
            error("[agents.x]\ncommand = \"run 'it\"\n"),
            "run-batch.toml:2:11: cannot split `command` into words: missing closing quote"
        );
        assert_eq!(
            error("[agents.x]\ncommand = \"  \"\n"),
            "run-batch.toml:2:11: `command` is empty; give the program to run and its arguments"
        );
        assert_eq!(
            error("[agents.x]\ncommand = \"a\"\noutput = \"json\"\n"),
            "run-batch.toml:3:10: bad `output` `json`: expected `text` or `stream-json`"
        );
    }

    #[test]
    fn preset_keys_on_custom_agents() {
        assert_eq!(
            error("[agents.x]\ncommand = \"x\"\nmodel = \"m\"\n"),
            "run-batch.toml:3:9: `model` is for the `claude`, `codex` and `gemini` presets; \
             for custom agent `x`, put the flag in `command` or `args`"
        );
        assert_eq!(
            error("[agents.x]\ncommand = \"x\"\nallowed-tools = []\n"),
            "run-batch.toml:3:17: `allowed-tools` is for the `claude`, `codex` and `gemini` \
             presets; for custom agent `x`, put the flag in `command` or `args`"
        );
    }

    #[test]
    fn command_on_a_preset() {
        assert_eq!(
            error("[agents.codex]\ncommand = \"codex exec\"\n"),
            "run-batch.toml:2:11: `command` is for custom agents; the `codex` preset builds its \
             own command line — use `args` to add to it"
        );
        assert_eq!(
            error("[agents.claude]\noutput = \"text\"\n"),
            "run-batch.toml:2:10: `output` is for custom agents; run-batch already knows what \
             the `claude` preset prints"
        );
    }

    #[test]
    fn allowed_tools_on_codex() {
        assert_eq!(
            error("[agents.codex]\nallowed-tools = [\"Read\"]\n"),
            "run-batch.toml:2:17: `allowed-tools` is not supported by the `codex` preset: Codex \
             has no such setting; use `permission-mode` (its `--sandbox`) to limit what it may do"
        );
        let gemini = parse("[agents.gemini]\nallowed-tools = [\"read_file\"]\n").unwrap();
        assert_eq!(gemini.agents["gemini"].allowed_tools, ["read_file"]);
    }

    #[test]
    fn shell_takes_only_env() {
        assert_eq!(
            error("[agents.shell]\nenv = { A = \"1\" }\nargs = [\"-x\"]\n"),
            "run-batch.toml:3:8: `args` cannot be set for the `shell` agent: it runs the task's \
             shell blocks with bash; only `env` applies"
        );
        assert_eq!(
            error("[agents.shell]\ncommand = \"zsh\"\n"),
            "run-batch.toml:2:11: `command` cannot be set for the `shell` agent: it runs the \
             task's shell blocks with bash; only `env` applies"
        );
    }

    #[test]
    fn bad_values() {
        assert_eq!(
            error("[agents.claude]\nmodel = 5\n"),
            "run-batch.toml:2:9: invalid type: integer `5`, expected a string"
        );
        assert_eq!(
            error("[agents.claude]\nmodel = \"\"\n"),
            "run-batch.toml:2:9: `model` in `[agents.claude]` is empty; leave it out to use the \
             agent's default"
        );
        assert_eq!(
            error("[agents.claude]\nenv = { \"A=B\" = \"1\" }\n"),
            "run-batch.toml:2:9: bad environment variable name `A=B`: it must be non-empty, \
             without `=` or NUL"
        );
        assert_eq!(
            error("[agents.claude]\nargs = [\"a\\u0000b\"]\n"),
            "run-batch.toml:2:8: contains a NUL character"
        );
        assert_eq!(
            error("[agents.\"\"]\ncommand = \"x\"\n"),
            "run-batch.toml:1:9: an agent needs a name"
        );
        assert_eq!(
            error("[agents.\"my agent\"]\ncommand = \"x\"\n"),
            "run-batch.toml:1:9: agent name `my agent` must be one word, without spaces or \
             quotes: `--agent` and the `agent` hint split on them"
        );
        assert_eq!(
            error("agents.claude = 5\n"),
            "run-batch.toml:1:17: invalid type: integer `5`, expected a table of agent settings"
        );
    }

    #[test]
    fn prices_must_be_complete_and_non_negative() {
        assert_eq!(
            error("[prices.m]\ninput = 1\n"),
            "run-batch.toml:1:1: `[prices.\"m\"]` needs `output` (USD per million output tokens)"
        );
        assert_eq!(
            error("[prices.m]\ninput = 1\noutput = -2\n"),
            "run-batch.toml:3:10: `output` in `[prices.\"m\"]` must be a number of USD, 0 or more"
        );
        assert_eq!(
            error("[prices.m]\ninput = nan\noutput = 2\n"),
            "run-batch.toml:2:9: `input` in `[prices.\"m\"]` must be a number of USD, 0 or more"
        );
        assert_eq!(
            error("[prices.m]\ninput = 1\noutput = 2\ncache-write = inf\n"),
            "run-batch.toml:4:15: `cache-write` in `[prices.\"m\"]` must be a number of USD, \
             0 or more"
        );
        assert_eq!(
            error("[prices.m]\ninput = 1\noutput = \"2\"\n"),
            "run-batch.toml:3:10: invalid type: string \"2\", expected a number"
        );
        assert_eq!(
            error("[agents.codex]\nprice = { output = 1 }\n"),
            "run-batch.toml:2:9: `price` of `[agents.codex]` needs `input` (USD per million \
             input tokens)"
        );
        let config = parse("[prices.m]\ninput = 0\noutput = 3\ncache-write = 0.5\n").unwrap();
        assert_eq!(
            config.prices["m"],
            Price {
                input: 0.0,
                output: 3.0,
                cache_read: None,
                cache_write: Some(0.5),
            }
        );
    }

    #[test]
    fn bad_toml_syntax() {
        assert_eq!(
            error("[agents.claude\nmodel = \"x\"\n"),
            "run-batch.toml:1:15: unclosed table, expected `]`"
        );
        assert_eq!(
            error("[agents.claude]\nmodel = \"x\n"),
            "run-batch.toml:2:11: invalid basic string, expected `\"`"
        );
        assert_eq!(
            error("[agents.claude]\nmodel = \"a\"\nmodel = \"b\"\n"),
            "run-batch.toml:3:1: duplicate key"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}", cut in 0usize..800) {
            let _ = parse(&text);
            // Cut the example anywhere (on a char boundary): broken tables,
            // strings and keys.
            let mut cut = cut.min(EXAMPLE.len());
            while !EXAMPLE.is_char_boundary(cut) {
                cut -= 1;
            }
            let _ = parse(&EXAMPLE[..cut]);
            let _ = parse(&format!("{}{text}", &EXAMPLE[..cut]));
        }
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_column("", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 3), (2, 1));
        assert_eq!(line_column("ab\ncd", 99), (2, 3));
        // "é" is two bytes; an offset inside it is rounded down.
        assert_eq!(line_column("éé", 2), (1, 2));
        assert_eq!(line_column("éé", 3), (1, 2));
        assert_eq!(
            error("[agents.claude]\n# é\nmodel = \"é\" x\n"),
            "run-batch.toml:3:13: unexpected key or value, expected newline, `#`"
        );
    }

    #[test]
    fn load_reads_and_places_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, EXAMPLE).unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.path.as_deref(), Some(path.as_path()));
        assert_eq!(config.agents.len(), 5);

        std::fs::write(&path, "[agents.codex]\nmodel = 1\n").unwrap();
        let message = Config::load(&path).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "{}:2:9: invalid type: integer `1`, expected a string",
                path.display()
            )
        );

        let missing = dir.path().join("missing.toml");
        let err = Config::load(&missing).unwrap_err();
        assert!(
            matches!(&err, Error::Config { line: 0, column: 0, message, .. }
                if message.starts_with("cannot read: ") && !message.contains("missing.toml")),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: cannot read: No such file or directory (os error 2)",
                missing.display()
            )
        );
    }

    #[test]
    fn find_walks_up_to_the_nearest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let deep = root.join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        let taskfile = deep.join("tasks.md");

        std::fs::write(root.join(FILE_NAME), "").unwrap();
        assert_eq!(Config::find(&taskfile), Some(root.join(FILE_NAME)));

        // A folder with the name is not a config file.
        std::fs::create_dir(root.join("a/b").join(FILE_NAME)).unwrap();
        assert_eq!(Config::find(&taskfile), Some(root.join(FILE_NAME)));

        std::fs::write(root.join("a").join(FILE_NAME), "").unwrap();
        assert_eq!(
            Config::find(&taskfile),
            Some(root.join("a").join(FILE_NAME))
        );

        std::fs::write(deep.join(FILE_NAME), "").unwrap();
        assert_eq!(Config::find(&taskfile), Some(deep.join(FILE_NAME)));

        // The task file need not exist; a bare name looks from `.`.
        let _ = Config::find(Path::new("tasks.md"));
        let _ = Config::find(Path::new(""));
        let _ = Config::find(Path::new("/"));
    }
}
