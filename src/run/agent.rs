//! Agents: what `--agent` / the `agent` hint names, the command line it
//! becomes, and how its outcome is judged.
//!
//! Presets: `claude` (Claude Code headless, stream-json, judged by its final
//! `result` event) and `shell` (the task's `sh` blocks, bash strict mode).
//! Anything else is a command split like a shell splits words and run without
//! one. Never spawns anything: `executor` does.

use std::path::PathBuf;

use crate::run::process::find_program;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preset {
    Claude,
    Shell,
    Command(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentSpec {
    /// As the user wrote it, for messages.
    pub name: String,
    pub preset: Preset,
    /// The program, found before the run (see `resolve`).
    pub program: Option<PathBuf>,
}

/// How success is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judge {
    /// Exit status 0.
    ExitCode,
    /// Exit status 0 and a final `result` event with `is_error: false`.
    StreamJson,
}

pub const DEFAULT_AGENT: &str = "claude";

/// Variables that make a nested Claude Code refuse to start.
const NESTED_CLAUDE_VARS: &[&str] = &["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT"];

impl AgentSpec {
    pub fn parse(s: &str) -> Result<AgentSpec, String> {
        let preset = match s.trim() {
            "claude" => Preset::Claude,
            "shell" => Preset::Shell,
            other => {
                let words = shell_words::split(other)
                    .map_err(|e| format!("cannot split `{other}` into words: {e}"))?;
                if words.is_empty() {
                    return Err("the agent command is empty".into());
                }
                Preset::Command(words)
            }
        };
        Ok(AgentSpec {
            name: s.trim().to_owned(),
            preset,
            program: None,
        })
    }

    pub fn judge(&self) -> Judge {
        match self.preset {
            Preset::Claude => Judge::StreamJson,
            _ => Judge::ExitCode,
        }
    }

    /// The program and arguments, before task-specific parts.
    pub fn argv(&self) -> Vec<String> {
        match &self.preset {
            Preset::Claude => [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
            ]
            .map(String::from)
            .to_vec(),
            Preset::Shell => ["bash", "--noprofile", "--norc", "-euo", "pipefail"]
                .map(String::from)
                .to_vec(),
            Preset::Command(words) => words.clone(),
        }
    }

    /// Finds the program on PATH (or, for a path, relative to `base`) and
    /// remembers it; an error is a message for people.
    pub fn resolve(&mut self, base: &std::path::Path) -> Result<(), String> {
        let argv = self.argv();
        self.program = Some(find_program(&argv[0], base).ok_or_else(|| match self.preset {
            Preset::Claude => "agent `claude` needs the Claude Code CLI, and `claude` is not on PATH; install it with `npm install -g @anthropic-ai/claude-code`, or pick another agent with `--agent`".to_owned(),
            _ => format!("agent `{}`: program `{}` is not on PATH", self.name, argv[0]),
        })?);
        Ok(())
    }

    pub fn env_remove(&self) -> &'static [&'static str] {
        match self.preset {
            Preset::Claude => NESTED_CLAUDE_VARS,
            _ => &[],
        }
    }
}

/// The `sh`, `bash` and `shell` fenced blocks of a task's body, joined in order.
pub fn shell_script(body: &str) -> Option<String> {
    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
    let mut script = String::new();
    let mut inside = false;
    let mut found = false;
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let lang = info.split_whitespace().next().unwrap_or("");
                inside = matches!(lang, "sh" | "bash" | "shell");
                if inside {
                    found = true;
                }
            }
            Event::Text(t) if inside => script.push_str(&t),
            Event::End(TagEnd::CodeBlock) => {
                if inside && !script.ends_with('\n') {
                    script.push('\n');
                }
                inside = false;
            }
            _ => {}
        }
    }
    found.then_some(script)
}

/// What a stream-json agent said, read line by line as it streams.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StreamSummary {
    pub session_id: Option<String>,
    /// The final `result` event: was it an error, and its text or errors.
    pub result: Option<StreamResult>,
    pub cost_usd: Option<f64>,
    /// Latest thing the agent did (a tool call or text), for the live view.
    pub activity: Option<String>,
    /// Lines that were not JSON, or not understood; logged, never fatal.
    pub skipped_lines: u64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct StreamResult {
    pub is_error: bool,
    pub subtype: String,
    pub message: String,
}

impl StreamSummary {
    /// Reads one line of Claude-style stream-json; returns a new activity, if any.
    pub fn line(&mut self, line: &[u8]) -> Option<String> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return None;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            self.skipped_lines += 1;
            return None;
        };
        if let Some(id) = v.get("session_id").and_then(|s| s.as_str())
            && v.get("type").and_then(|t| t.as_str()) != Some("result")
        {
            self.session_id = Some(id.to_owned());
        }
        match v.get("type").and_then(|t| t.as_str()) {
            Some("result") => {
                let is_error = v.get("is_error").and_then(|b| b.as_bool()).unwrap_or(true);
                let subtype = v
                    .get("subtype")
                    .and_then(|s| s.as_str())
                    .unwrap_or("")
                    .to_owned();
                let message = v
                    .get("result")
                    .and_then(|r| r.as_str())
                    .map(str::to_owned)
                    .or_else(|| {
                        v.get("errors").and_then(|e| e.as_array()).map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                    })
                    .unwrap_or_default();
                self.cost_usd = v
                    .get("total_cost_usd")
                    .and_then(|c| c.as_f64())
                    .or(self.cost_usd);
                // A resume miss reports a new, unrelated session id; only a
                // run that got going (an init) names the session to keep.
                if self.session_id.is_none() && !is_error {
                    self.session_id = v
                        .get("session_id")
                        .and_then(|s| s.as_str())
                        .map(str::to_owned);
                }
                self.result = Some(StreamResult {
                    is_error,
                    subtype,
                    message,
                });
                None
            }
            Some("assistant") => {
                let content = v.pointer("/message/content")?.as_array()?;
                let mut activity = None;
                for block in content {
                    match block.get("type").and_then(|t| t.as_str()) {
                        Some("tool_use") => {
                            let name = block.get("name").and_then(|n| n.as_str()).unwrap_or("tool");
                            let input = block.get("input");
                            let arg = ["file_path", "path", "command", "pattern", "url"]
                                .iter()
                                .find_map(|k| {
                                    input.and_then(|i| i.get(*k)).and_then(|x| x.as_str())
                                });
                            activity = Some(match arg {
                                Some(a) => format!("{name} {}", first_line(a)),
                                None => name.to_owned(),
                            });
                        }
                        Some("text") => {
                            if let Some(t) = block.get("text").and_then(|t| t.as_str()) {
                                activity = Some(first_line(t).to_owned());
                            }
                        }
                        _ => {}
                    }
                }
                if activity.is_some() {
                    self.activity.clone_from(&activity);
                }
                activity
            }
            _ => None,
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_commands() {
        assert_eq!(
            AgentSpec::parse("claude").unwrap().judge(),
            Judge::StreamJson
        );
        assert_eq!(AgentSpec::parse("shell").unwrap().argv()[0], "bash");
        let c = AgentSpec::parse("my-agent --flag 'two words'").unwrap();
        assert_eq!(c.argv(), ["my-agent", "--flag", "two words"]);
        assert!(AgentSpec::parse("bad 'quote").is_err());
        assert!(AgentSpec::parse("  ").is_err());
    }

    #[test]
    fn shell_blocks_in_order() {
        let body =
            "intro\n```sh\necho one\n```\n```python\nprint(2)\n```\n```bash\necho three\n```";
        assert_eq!(shell_script(body).unwrap(), "echo one\necho three\n");
        assert_eq!(shell_script("no code"), None);
    }

    #[test]
    fn claude_success_and_error_results() {
        let sample = include_str!("../../fixtures/claude/stream_success.jsonl");
        let mut s = StreamSummary::default();
        for line in sample.lines() {
            s.line(line.as_bytes());
        }
        let r = s.result.as_ref().unwrap();
        assert!(!r.is_error);
        assert_eq!(
            s.session_id.as_deref(),
            Some("6f1c2a3e-8d4b-4f7a-9c2e-1b5d7e9a0c13")
        );
        assert!(s.cost_usd.unwrap() > 0.0);
        assert_eq!(
            s.activity.as_deref(),
            Some("The README contains a single heading: \"demo\".")
        );

        let mut e = StreamSummary::default();
        for line in include_str!("../../fixtures/claude/stream_api_error_401.jsonl").lines() {
            e.line(line.as_bytes());
        }
        assert!(e.result.unwrap().is_error);
    }

    #[test]
    fn junk_lines_are_skipped() {
        let mut s = StreamSummary::default();
        s.line(b"not json");
        s.line(b"{\"type\":\"mystery\"}");
        assert_eq!(s.skipped_lines, 1);
        assert!(s.result.is_none());
    }
}
