//! Codex CLI, `codex exec --json`. Takes a setup and an invocation; hands
//! on its command line (the prompt on stdin), the reader of its JSON events
//! (and of the `{"id","msg"}` events of versions before 0.44) and list
//! prices of OpenAI's models. Never starts it and never judges it.
//!
//! Resume: `codex exec [options] resume <id> -`. A refused resume ends
//! before `thread.started`, so the attempt never counts as
//! `session_started`. Codex reports the thread's cumulative tokens, so a
//! resumed attempt's share is its total less the baseline.

use std::collections::VecDeque;

use serde_json::{Map, Value};

use crate::run::agents::activity::{clip, edit_line, first_line, tool_activity, tool_line};
use crate::run::agents::cli::{Cli, Invocation, Permissions, Setup, preset_refuses, push};
use crate::run::agents::stream::{
    Format, Reader, StreamResult, StreamSummary, Usage, error_message, num, set_str, str_at,
};
use crate::run::limits::Kind;
use crate::run::price::ListPrice;
use crate::run::providers::Pace;

#[derive(Debug)]
pub struct Codex;

/// Its `--sandbox`.
const PERMISSIONS: Permissions = Permissions {
    flag: "--sandbox",
    accepted: &["read-only", "workspace-write", "danger-full-access"],
    // Edit files in the working folder, nothing riskier.
    default: "workspace-write",
};

/// How Codex words a failure that is not the task's (`codex-rs/core/src/
/// error.rs`, and the pinned CLI against the mock API; see docs/agents.md
/// "How the real CLIs report a limit"). Its apostrophes are typographic.
const LIMIT_WORDING: &[(Kind, &str)] = &[
    (
        Kind::Auth,
        r"(?i)quota exceeded\. check your plan and billing|\b401 unauthorized",
    ),
    (Kind::Limit, r"(?i)you['’]ve hit your usage limit"),
    (
        Kind::Throttled,
        r"(?i)exceeded retry limit, last status: 429",
    ),
    (
        Kind::Transient,
        r"(?i)experiencing high demand|stream disconnected|503 service",
    ),
];

/// OpenAI's list prices as of 2025, USD per million tokens (see
/// `ListPrice`).
const LIST_PRICES: &[ListPrice] = &[
    ("gpt-5", 1.25, 0.125, 10.0, None),
    ("gpt-5-codex", 1.25, 0.125, 10.0, None),
    ("gpt-5-mini", 0.25, 0.025, 2.0, None),
    ("gpt-5-nano", 0.05, 0.005, 0.40, None),
    ("gpt-4.1", 2.0, 0.50, 8.0, None),
    ("o4-mini", 1.10, 0.275, 4.40, None),
    ("o3", 2.0, 0.50, 8.0, None),
];

/// Codex item ids remembered to count each tool call once.
const SEEN_ITEMS_MAX: usize = 256;

pub const FORMAT: Format = Format {
    name: "codex",
    reader: || Box::<CodexReader>::default(),
    models_priced: true,
};

impl Cli for Codex {
    fn name(&self) -> &'static str {
        "codex"
    }

    fn program<'a>(&self, _: &Setup<'a>) -> &'a str {
        "codex"
    }

    fn argv(&self, s: &Setup, inv: &Invocation) -> Result<Vec<String>, String> {
        let mut argv = Vec::new();
        push(
            &mut argv,
            &["codex", "exec", "--json", "--skip-git-repo-check"],
        );
        s.push_settings(&mut argv, "-m", &PERMISSIONS, None);
        s.push_args(&mut argv);
        // Options go before `resume`: every Codex version takes them there.
        if let Some(id) = inv.resume {
            argv.push("resume".into());
            argv.push(id.to_owned());
        }
        // `-`: the prompt is read from stdin.
        argv.push("-".into());
        Ok(argv)
    }

    fn output(&self) -> Option<Format> {
        Some(FORMAT)
    }

    fn install(&self) -> Option<(&'static str, &'static str)> {
        Some(("Codex CLI", "@openai/codex"))
    }

    fn permissions(&self) -> Option<&'static Permissions> {
        Some(&PERMISSIONS)
    }

    fn refuses(&self, key: &str) -> Option<String> {
        if key == "allowed-tools" {
            return Some(
                "`allowed-tools` is not supported by the `codex` preset: Codex has no such setting; use `permission-mode` (its `--sandbox`) to limit what it may do".into(),
            );
        }
        preset_refuses(self.name(), key)
    }

    fn can_resume(&self) -> bool {
        true
    }

    fn pace(&self) -> Option<Pace> {
        Some(Pace::CLI)
    }

    fn list_prices(&self) -> &'static [ListPrice] {
        LIST_PRICES
    }

    fn limit_wording(&self) -> &'static [(Kind, &'static str)] {
        LIMIT_WORDING
    }
}

// The stream: `thread.started` starts the session, `item.*` events show
// commands, edits and messages, `turn.completed`/`turn.failed` is the
// verdict with the thread's tokens.

#[derive(Default)]
struct CodexReader {
    /// Item ids whose tool call was counted (newest last).
    seen_items: VecDeque<String>,
}

impl Reader for CodexReader {
    fn event(&mut self, s: &mut StreamSummary, v: &Map<String, Value>) -> Option<String> {
        let Some(kind) = str_at(v, "type") else {
            // Before 0.44, `--json` printed `{"id":…,"msg":{"type":…}}`.
            if let Some(msg) = v.get("msg").and_then(Value::as_object) {
                return legacy(s, msg);
            }
            s.unknown_events += 1;
            return None;
        };
        match kind {
            "thread.started" => {
                s.session_started = true;
                set_str(&mut s.session_id, str_at(v, "thread_id"));
                None
            }
            "turn.started" | "item.plan.delta" | "request_user_input" => None,
            "item.started" | "item.updated" | "item.completed" => {
                match v.get("item").and_then(Value::as_object) {
                    Some(item) => self.item(s, kind, item),
                    None => {
                        s.unknown_events += 1;
                        None
                    }
                }
            }
            "turn.completed" => {
                if let Some(u) = v.get("usage").and_then(Value::as_object) {
                    thread_usage(s, u);
                }
                s.result = Some(StreamResult {
                    is_error: false,
                    subtype: kind.to_owned(),
                    message: s.last_text.clone(),
                });
                None
            }
            "turn.failed" => {
                let message = error_message(v.get("error"))
                    .or_else(|| s.last_error.clone())
                    .unwrap_or_default();
                s.result = Some(StreamResult {
                    is_error: true,
                    subtype: kind.to_owned(),
                    message,
                });
                None
            }
            // Retries ("Reconnecting... 1/5") come this way too: not terminal.
            "error" => {
                set_str(&mut s.last_error, str_at(v, "message"));
                // Its own retries, shown while they last.
                str_at(v, "message")
                    .filter(|m| m.starts_with("Reconnecting"))
                    .and_then(clip)
            }
            _ => {
                s.unknown_events += 1;
                None
            }
        }
    }
}

impl CodexReader {
    fn item(
        &mut self,
        s: &mut StreamSummary,
        event: &str,
        item: &Map<String, Value>,
    ) -> Option<String> {
        // `item_type` and `assistant_message`: the 0.43-era names.
        let kind = str_at(item, "type").or_else(|| str_at(item, "item_type"));
        let id = str_at(item, "id");
        match kind {
            Some("command_execution") => {
                self.tool(s, event, id, || command_line(item.get("command")))
            }
            Some("file_change") => {
                let changes = item.get("changes").and_then(Value::as_array);
                let first = changes
                    .and_then(|c| c.first())
                    .and_then(|c| c.get("path"))
                    .and_then(Value::as_str);
                let more = changes.map_or(0, |c| c.len().saturating_sub(1));
                self.tool(s, event, id, || edit_line(first, more))
            }
            Some("mcp_tool_call") => self.tool(s, event, id, || mcp_line(item)),
            Some("web_search") => {
                let query = str_at(item, "query").and_then(first_line);
                self.tool(s, event, id, || tool_line("Search", query))
            }
            Some("agent_message" | "assistant_message") => {
                let text = str_at(item, "text")?;
                s.last_text = text.to_owned();
                clip(text)
            }
            Some("reasoning" | "todo_list" | "collab_tool_call") => None,
            // Non-fatal notices ("model metadata not found", reroutes).
            Some("error") => {
                set_str(&mut s.last_error, str_at(item, "message"));
                None
            }
            _ => {
                s.unknown_events += 1;
                None
            }
        }
    }

    /// Counts a Codex tool item once, on the first event seen for its id
    /// (`item.started`, or `item.completed` when nothing started it), and
    /// shows it then.
    fn tool(
        &mut self,
        s: &mut StreamSummary,
        event: &str,
        id: Option<&str>,
        activity: impl FnOnce() -> Option<String>,
    ) -> Option<String> {
        let first = match id {
            Some(id) => self.see_item(id),
            // No id to match events on: count the finished call only.
            None => event == "item.completed",
        };
        if !first {
            return None;
        }
        s.tool_calls += 1;
        activity()
    }

    /// Remembers an item id; true if it is new.
    fn see_item(&mut self, id: &str) -> bool {
        if self.seen_items.iter().any(|s| s == id) {
            return false;
        }
        if self.seen_items.len() >= SEEN_ITEMS_MAX {
            self.seen_items.pop_front();
        }
        self.seen_items.push_back(id.to_owned());
        true
    }
}

/// Codex counts the whole thread, cached input within input.
fn thread_usage(s: &mut StreamSummary, u: &Map<String, Value>) {
    let input = num(u.get("input_tokens")).unwrap_or(0);
    let cached = num(u.get("cached_input_tokens")).unwrap_or(0);
    let session = Usage {
        input: input.saturating_sub(cached),
        output: num(u.get("output_tokens")).unwrap_or(0),
        cache_read: cached,
        cache_write: num(u.get("cache_write_input_tokens")).unwrap_or(0),
    };
    s.session_usage = Some(session);
    s.usage = session.saturating_sub(s.baseline.usage);
}

fn legacy(s: &mut StreamSummary, msg: &Map<String, Value>) -> Option<String> {
    match str_at(msg, "type") {
        Some("session_configured") => {
            s.session_started = true;
            set_str(&mut s.session_id, str_at(msg, "session_id"));
            set_str(&mut s.model, str_at(msg, "model"));
            None
        }
        Some("task_started") => {
            s.session_started = true;
            None
        }
        Some("agent_message") => {
            let text = str_at(msg, "message")?;
            s.last_text = text.to_owned();
            clip(text)
        }
        Some("token_count") => {
            // Newer legacy builds wrap the totals in `info`; older ones
            // put the counters on the event its.
            let totals = msg
                .get("info")
                .and_then(|i| i.get("total_token_usage"))
                .and_then(Value::as_object)
                .unwrap_or(msg);
            thread_usage(s, totals);
            None
        }
        Some("task_complete") => {
            let message = str_at(msg, "last_agent_message")
                .map(str::to_owned)
                .unwrap_or_else(|| s.last_text.clone());
            s.result = Some(StreamResult {
                is_error: false,
                subtype: "task_complete".to_owned(),
                message,
            });
            None
        }
        Some("error" | "stream_error") => {
            set_str(&mut s.last_error, str_at(msg, "message"));
            None
        }
        Some("exec_command_begin") => {
            s.tool_calls += 1;
            command_line(msg.get("command"))
        }
        Some("patch_apply_begin") => {
            s.tool_calls += 1;
            // Here `changes` maps each path to its change.
            let changes = msg.get("changes").and_then(Value::as_object);
            let first = changes.and_then(|c| c.keys().next()).map(String::as_str);
            let more = changes.map_or(0, |c| c.len().saturating_sub(1));
            edit_line(first, more)
        }
        Some("mcp_tool_call_begin") => {
            s.tool_calls += 1;
            mcp_line(msg.get("invocation").and_then(Value::as_object)?)
        }
        Some(
            "agent_message_delta"
            | "agent_reasoning"
            | "agent_reasoning_delta"
            | "agent_reasoning_raw_content"
            | "agent_reasoning_raw_content_delta"
            | "agent_reasoning_section_break"
            | "exec_command_output_delta"
            | "exec_command_end"
            | "patch_apply_end"
            | "mcp_tool_call_end"
            | "turn_diff"
            | "background_event"
            | "plan_update",
        ) => None,
        _ => {
            s.unknown_events += 1;
            None
        }
    }
}

/// `Bash <command>` for a Codex command: a string, or argv in older events.
fn command_line(v: Option<&Value>) -> Option<String> {
    let command = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    tool_line("Bash", first_line(unwrap_shell(&command)))
}

/// `<server>.<tool> <main argument>` for a Codex MCP call (an item, or a
/// legacy `invocation`).
fn mcp_line(call: &Map<String, Value>) -> Option<String> {
    let name = match (str_at(call, "server"), str_at(call, "tool")) {
        (Some(s), Some(t)) => format!("{s}.{t}"),
        (None, Some(t)) => t.to_owned(),
        _ => "mcp".to_owned(),
    };
    tool_activity(Some(&name), call.get("arguments"))
}

/// `bash -lc 'cargo test'` → `cargo test`: Codex wraps every command in a
/// shell, which says nothing in the live view.
fn unwrap_shell(command: &str) -> &str {
    let command = command.trim();
    let mut words = command.splitn(3, ' ');
    let (Some(shell), Some(flag), Some(script)) = (words.next(), words.next(), words.next()) else {
        return command;
    };
    let shell = shell.rsplit('/').next().unwrap_or(shell);
    if !matches!(shell, "bash" | "sh" | "zsh") || !matches!(flag, "-c" | "-lc") {
        return command;
    }
    let script = script.trim();
    // Only a plain single-quoted script is unquoted; anything fancier is
    // shown as it is.
    match script.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        Some(inner) if !inner.contains('\'') => inner,
        _ => script,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::run::agents::AgentSpec;
    use crate::run::agents::stream::Baseline;
    use crate::run::agents::stream::testing::*;

    #[test]
    fn codex_puts_options_before_resume_and_reads_stdin() {
        let s = AgentSpec::parse("codex -m o3", &Config::default(), &[], None).unwrap();
        assert_eq!(
            s.argv(&Invocation::default()).unwrap().join(" "),
            "codex exec --json --skip-git-repo-check --sandbox workspace-write -m o3 -"
        );
        let inv = Invocation {
            resume: Some("T1"),
            ..Invocation::default()
        };
        assert_eq!(
            s.argv(&inv).unwrap().join(" "),
            "codex exec --json --skip-git-repo-check --sandbox workspace-write -m o3 resume T1 -"
        );
        assert_eq!(s.model().as_deref(), Some("o3"));
        let c = AgentSpec::parse(
            "codex",
            &Config::default(),
            &["-c".into(), "model=\"x\"".into()],
            None,
        )
        .unwrap();
        assert_eq!(c.model().as_deref(), Some("x"));
    }

    #[test]
    fn codex_success() {
        let (s, acts) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/codex/exec_success.jsonl"),
        );
        assert_eq!(
            acts,
            [
                "Bash ls",
                "Edit /work/repo/NOTES.md",
                "Created NOTES.md with a short summary of the repository.",
            ]
        );
        assert_eq!(
            s.session_id.as_deref(),
            Some("0199a213-81c0-7800-8aa1-bbab2a035a53")
        );
        assert!(s.session_started);
        assert_eq!(s.verdict(), Some(Ok(())));
        let r = s.result.as_ref().unwrap();
        assert_eq!(r.subtype, "turn.completed");
        assert_eq!(
            r.message,
            "Created NOTES.md with a short summary of the repository."
        );
        assert_eq!(s.usage, usage(24763 - 24448, 122, 24448, 0));
        assert_eq!(s.session_usage, Some(s.usage));
        assert_eq!(s.tool_calls, 2);
        assert_eq!(s.cost_usd, None);
        assert_eq!((s.skipped_lines, s.unknown_events), (0, 0));
    }

    #[test]
    fn codex_resume_subtracts_the_baseline() {
        let (first, _) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/codex/exec_success.jsonl"),
        );
        let resume = include_str!("../../../fixtures/codex/exec_resume.jsonl");
        let (s, _) = read(
            FORMAT,
            Some(Baseline {
                usage: first.session_usage.unwrap(),
                cost_usd: None,
            }),
            resume,
        );
        // Cumulative: 51890 in (48896 cached), 187 out for the whole thread.
        assert_eq!(s.session_usage, Some(usage(2994, 187, 48896, 0)));
        assert_eq!(s.usage, usage(2994 - 315, 65, 48896 - 24448, 0));
        assert_eq!(s.verdict(), Some(Ok(())));

        let (s, _) = read(
            FORMAT,
            Some(Baseline {
                usage: usage(3000, 0, 0, 0),
                cost_usd: None,
            }),
            resume,
        );
        // Saturates rather than wrapping.
        assert_eq!(s.usage, usage(0, 187, 48896, 0));
    }

    #[test]
    fn codex_usage_limit_is_text_for_the_table() {
        // Captured from Codex 0.169.0 against the mock's 429
        // `usage_limit_reached` body: a typographic apostrophe, local time.
        let (s, _) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/codex/exec_usage_limit.jsonl"),
        );
        let msg = "You’ve hit your usage limit. Try again at 3:01 AM.";
        assert_eq!(s.verdict(), Some(Err(msg.to_owned())));
        assert_eq!(s.limit, None, "Codex says it only in words");
        let signal = crate::run::limits::Patterns::new(&[], crate::run::agents::limit_wording())
            .classify(&[msg], std::time::SystemTime::now());
        assert!(matches!(
            signal,
            Some(crate::run::limits::Signal::Limited { reset: Some(_), .. })
        ));
        // Its reconnect notices show while it retries.
        let (_, acts) = read(
            FORMAT,
            None,
            r#"{"type":"error","message":"Reconnecting... 2/5 (stream disconnected before completion)"}"#,
        );
        assert_eq!(acts.len(), 1);
        assert!(acts[0].starts_with("Reconnecting... 2/5"), "{acts:?}");
    }

    #[test]
    fn codex_failure() {
        let (s, _) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/codex/exec_failed.jsonl"),
        );
        let msg = "Selected model is at capacity. Please try a different model.";
        assert_eq!(s.verdict(), Some(Err(msg.to_owned())));
        assert_eq!(s.result.as_ref().unwrap().subtype, "turn.failed");
        assert_eq!(s.last_error.as_deref(), Some(msg));
        assert!(s.session_started);
        assert_eq!(s.usage, Usage::default());

        // A retry notice is not an end; a failure without a message
        // falls back to it.
        let (s, _) = read(
            FORMAT,
            None,
            r#"{"type":"error","message":"Reconnecting... 1/5"}"#,
        );
        assert_eq!(s.result, None);
        assert_eq!(s.last_error.as_deref(), Some("Reconnecting... 1/5"));
        let (s, _) = read(
            FORMAT,
            None,
            "{\"type\":\"error\",\"message\":\"stream disconnected\"}\n{\"type\":\"turn.failed\"}",
        );
        assert_eq!(s.verdict(), Some(Err("stream disconnected".to_owned())));
    }

    #[test]
    fn codex_items() {
        let lines = [
            r#"{"type":"item.started","item":{"id":"i1","type":"command_execution","command":"/bin/bash -lc 'cargo test --lib'","status":"in_progress"}}"#,
            r#"{"type":"item.updated","item":{"id":"i1","type":"command_execution","command":"/bin/bash -lc 'cargo test --lib'","status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"/bin/bash -lc 'cargo test --lib'","exit_code":0}}"#,
            r#"{"type":"item.completed","item":{"id":"i2","type":"command_execution","command":"git status"}}"#,
            r#"{"type":"item.completed","item":{"id":"i3","type":"file_change","changes":[{"path":"a.rs","kind":"update"},{"path":"b.rs"},{"path":"c.rs"}]}}"#,
            r#"{"type":"item.started","item":{"id":"i4","type":"mcp_tool_call","server":"docs","tool":"lookup","arguments":{"query":"serde"}}}"#,
            r#"{"type":"item.completed","item":{"id":"i4","type":"mcp_tool_call","server":"docs","tool":"lookup"}}"#,
            r#"{"type":"item.started","item":{"id":"i5","type":"web_search","query":"rust 2024 edition"}}"#,
            r#"{"type":"item.completed","item":{"id":"i6","type":"reasoning","text":"**Thinking**"}}"#,
            r#"{"type":"item.completed","item":{"id":"i7","type":"todo_list","items":[]}}"#,
            r#"{"type":"item.completed","item":{"id":"i8","type":"error","message":"Model metadata for `m` not found"}}"#,
            r#"{"type":"item.completed","item":{"id":"i9","item_type":"assistant_message","text":"\n\nAll done.\nDetails follow."}}"#,
            r#"{"type":"item.completed","item":{"id":"i10","type":"hologram"}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":4,"output_tokens":3}}"#,
        ];
        let (s, acts) = read(FORMAT, None, &lines.join("\n"));
        assert_eq!(
            acts,
            [
                "Bash cargo test --lib",
                "Bash git status",
                "Edit a.rs (+2 more)",
                "docs.lookup serde",
                "Search rust 2024 edition",
                "All done.",
            ]
        );
        assert_eq!(s.tool_calls, 5);
        assert_eq!(
            s.last_error.as_deref(),
            Some("Model metadata for `m` not found")
        );
        assert_eq!(s.unknown_events, 1);
        assert_eq!(s.usage, usage(6, 3, 4, 0));
        assert_eq!(
            s.result.as_ref().unwrap().message,
            "\n\nAll done.\nDetails follow."
        );
        // Not started and no thread id: nothing to resume.
        assert!(!s.session_started);
        assert_eq!(s.session_id, None);
    }

    #[test]
    fn codex_legacy_format() {
        let (s, acts) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/codex/exec_legacy_v0_2x.jsonl"),
        );
        assert_eq!(acts, ["Hello!"]);
        assert_eq!(s.usage, usage(252, 12, 2048, 0));
        assert_eq!(s.verdict(), Some(Ok(())));
        assert_eq!(s.result.as_ref().unwrap().message, "Hello!");
        assert_eq!(s.unknown_events, 0);

        let lines = [
            r#"{"id":"0","msg":{"type":"exec_command_begin","call_id":"c","command":["bash","-lc","make test"]}}"#,
            r#"{"id":"0","msg":{"type":"patch_apply_begin","changes":{"src/x.rs":{"update":{}}}}}"#,
            r#"{"id":"0","msg":{"type":"stream_error","message":"retrying"}}"#,
            r#"{"id":"0","msg":{"type":"something_new"}}"#,
            r#"{"id":"0","msg":"not an object"}"#,
        ];
        let (s, acts) = read(FORMAT, None, &lines.join("\n"));
        assert_eq!(acts, ["Bash make test", "Edit src/x.rs"]);
        assert_eq!(s.tool_calls, 2);
        assert_eq!(s.last_error.as_deref(), Some("retrying"));
        assert_eq!(s.unknown_events, 2);
    }

    #[test]
    fn shell_wrappers_are_dropped() {
        assert_eq!(unwrap_shell("bash -lc ls"), "ls");
        assert_eq!(unwrap_shell("/bin/zsh -c 'a && b'"), "a && b");
        assert_eq!(unwrap_shell("bash -lc 'a' && 'b'"), "'a' && 'b'");
        assert_eq!(unwrap_shell("python -c 'x'"), "python -c 'x'");
        assert_eq!(unwrap_shell("bash script.sh"), "bash script.sh");
    }

    #[test]
    fn codex_seen_items_stay_bounded() {
        let mut r = CodexReader::default();
        let mut s = StreamSummary::new(FORMAT, None);
        for i in 0..(SEEN_ITEMS_MAX + 10) {
            let line = format!(
                r#"{{"type":"item.started","item":{{"id":"i{i}","type":"command_execution","command":"true"}}}}"#
            );
            s.line(&mut r, line.as_bytes());
        }
        assert_eq!(r.seen_items.len(), SEEN_ITEMS_MAX);
        assert_eq!(s.tool_calls, (SEEN_ITEMS_MAX + 10) as u64);
    }
}
