//! Custom agents: a command, from `--agent`, the `agent` hint or `command`
//! under `[agents.NAME]` in `run-batch.toml`, run with the words a person
//! added and the prompt on stdin. Takes its words (a configured command's
//! relative to the config file); hands on its command line, and Claude's
//! stream reader for one whose config says `output = "stream-json"`. Never
//! resumes: how a session is continued is known only for the presets.

use std::path::Path;

use crate::run::agents::claude;
use crate::run::agents::cli::{Cli, Invocation, Setup};
use crate::run::agents::stream::Format;

#[derive(Debug)]
pub struct Command;

/// What a custom agent with `output = "stream-json"` prints: Claude Code's
/// events (its prices come from the list, as it may report no cost).
pub const STREAM_JSON: Format = claude::FORMAT;

impl Cli for Command {
    /// Not a preset: found by its words, never by this name.
    fn name(&self) -> &'static str {
        "command"
    }

    fn program<'a>(&self, s: &Setup<'a>) -> &'a str {
        &s.command[0]
    }

    fn argv(&self, s: &Setup, _: &Invocation) -> Result<Vec<String>, String> {
        let mut argv = s.command.to_vec();
        s.push_args(&mut argv);
        Ok(argv)
    }
}

/// The words of custom agent `name`'s `command` in the config file at
/// `config_file`.
pub fn configured(
    name: &str,
    command: &str,
    config_file: Option<&Path>,
) -> Result<Vec<String>, String> {
    let mut words = shell_words::split(command)
        .map_err(|e| format!("agent `{name}`: cannot split its command: {e}"))?;
    if words.is_empty() {
        return Err(format!("agent `{name}`: its command is empty"));
    }
    // A relative path in the config file is relative to that file.
    if words[0].contains('/')
        && Path::new(&words[0]).is_relative()
        && let Some(dir) = config_file.and_then(Path::parent)
    {
        let path = dir.join(&words[0]);
        words[0] = std::path::absolute(&path)
            .unwrap_or(path)
            .display()
            .to_string();
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AgentConfig, Config, OutputKind};
    use crate::run::agents::AgentSpec;

    #[test]
    fn custom_agents_from_the_config() {
        let mut config = Config::default();
        config.agents.insert(
            "mine".into(),
            AgentConfig {
                command: Some("./bin/agent --fast".into()),
                output: OutputKind::StreamJson,
                ..AgentConfig::default()
            },
        );
        let s = AgentSpec::parse("mine --more", &config, &["--x".into()], None).unwrap();
        assert_eq!(s.output, Some(claude::FORMAT));
        assert_eq!(
            s.argv(&Invocation::default()).unwrap(),
            ["./bin/agent", "--fast", "--more", "--x"]
        );
        assert!(!s.can_resume());
    }
}
