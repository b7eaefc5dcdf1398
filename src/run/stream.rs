//! Agent output streams, normalised: Claude-style stream-json, Codex
//! `exec --json` and Gemini `-o stream-json` are read line by line into one
//! summary (session id, tool calls, text, tokens, cost, final verdict).
//! Unknown events and non-JSON lines are counted and skipped, never fatal.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest activity shown in the live view, in chars (the ellipsis included).
const ACTIVITY_MAX: usize = 120;
/// Bound on Gemini's accumulated assistant text: only its first line is shown.
const TEXT_MAX: usize = 4096;
/// Codex item ids remembered to count each tool call once.
const SEEN_ITEMS_MAX: usize = 256;
/// Input keys naming a tool call's main argument, most telling first.
const MAIN_ARGS: [&str; 9] = [
    "file_path",
    "path",
    "command",
    "pattern",
    "url",
    "query",
    "notebook_path",
    "dir_path",
    "absolute_path",
];

/// Which dialect of JSON lines an agent prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Claude Code `--output-format stream-json --verbose` (and any agent
    /// that prints the same events).
    Claude,
    /// Codex `exec --json`.
    Codex,
    /// Gemini CLI `--output-format stream-json`.
    Gemini,
}

/// Tokens, normalised: `input` is uncached input; cache reads and writes are
/// separate counters (the Anthropic convention).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Usage {
    pub fn saturating_sub(self, other: Usage) -> Usage {
        Usage {
            input: self.input.saturating_sub(other.input),
            output: self.output.saturating_sub(other.output),
            cache_read: self.cache_read.saturating_sub(other.cache_read),
            cache_write: self.cache_write.saturating_sub(other.cache_write),
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }
}

/// What a resumed session had already reported, cumulatively, before this
/// attempt: Codex's usage and Claude's `total_cost_usd` count the whole
/// session, so an attempt's share is the difference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub usage: Usage,
    pub cost_usd: Option<f64>,
}

/// The final event's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamResult {
    pub is_error: bool,
    /// Claude's `subtype`, Codex's `turn.completed`/`turn.failed`, Gemini's `status`.
    pub subtype: String,
    /// The result text, or the error message(s).
    pub message: String,
}

/// What an agent's stream said so far.
#[derive(Clone, Debug)]
pub struct StreamSummary {
    pub format: Format,
    /// The newest session id the agent reported (Claude `session_id` of
    /// init/other events, Codex `thread.started.thread_id`, Gemini
    /// `init.session_id`). Never taken from a Claude `result` that followed
    /// no init (a resume miss reports an unrelated id).
    pub session_id: Option<String>,
    /// The agent got going: Claude `system/init`, Codex `thread.started`,
    /// Gemini `init`. A resumed attempt that fails without it was refused.
    pub session_started: bool,
    /// The final event, if one came.
    pub result: Option<StreamResult>,
    /// Model named by the stream (init), if any.
    pub model: Option<String>,
    /// This attempt's tokens (cumulative counters minus the baseline).
    pub usage: Usage,
    /// Per-model tokens of this attempt when the stream breaks them down
    /// (Gemini `stats.models`); empty otherwise.
    pub models: Vec<(String, Usage)>,
    /// The session's cumulative tokens as last reported, when the agent
    /// reports cumulative numbers (Codex), to be the next resume's baseline.
    pub session_usage: Option<Usage>,
    /// This attempt's cost as the agent reported it (Claude only).
    pub cost_usd: Option<f64>,
    /// The session's cumulative cost as reported (Claude `total_cost_usd`).
    pub session_cost_usd: Option<f64>,
    /// Latest thing the agent did, for the live view: `Edit src/x.rs`,
    /// `Bash cargo test`, or the first line of its text.
    pub activity: Option<String>,
    pub tool_calls: u64,
    /// The last non-fatal error message in the stream (Codex `error`, Gemini
    /// `error`), used when no final event explains a failure.
    pub last_error: Option<String>,
    /// Lines that were not JSON objects.
    pub skipped_lines: u64,
    /// JSON lines of a type not understood.
    pub unknown_events: u64,
    baseline: Baseline,
    /// Codex item ids whose tool call was counted (newest last).
    seen_items: VecDeque<String>,
    /// Gemini's assistant text of the current message, delta chunks joined.
    text: String,
    /// The last complete assistant text (Codex `agent_message`, Gemini's
    /// message before a non-message event): a success result's message.
    last_text: String,
}

impl StreamSummary {
    /// The agent's last complete message text.
    pub fn final_text(&self) -> &str {
        &self.last_text
    }

    pub fn new(format: Format, baseline: Option<Baseline>) -> StreamSummary {
        StreamSummary {
            format,
            session_id: None,
            session_started: false,
            result: None,
            model: None,
            usage: Usage::default(),
            models: Vec::new(),
            session_usage: None,
            cost_usd: None,
            session_cost_usd: None,
            activity: None,
            tool_calls: 0,
            last_error: None,
            skipped_lines: 0,
            unknown_events: 0,
            baseline: baseline.unwrap_or_default(),
            seen_items: VecDeque::new(),
            text: String::new(),
            last_text: String::new(),
        }
    }

    /// Reads one line; returns the new activity, if the line was one.
    pub fn line(&mut self, line: &[u8]) -> Option<String> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return None;
        }
        let Ok(Value::Object(v)) = serde_json::from_slice::<Value>(line) else {
            self.skipped_lines += 1;
            return None;
        };
        let activity = match self.format {
            Format::Claude => self.claude(&v),
            Format::Codex => self.codex(&v),
            Format::Gemini => self.gemini(&v),
        };
        if activity.is_some() {
            self.activity.clone_from(&activity);
        }
        activity
    }
}

/// Per-format readers. Each returns the line's activity, if any, and counts
/// what it does not understand in `unknown_events`.
impl StreamSummary {
    fn claude(&mut self, v: &Map<String, Value>) -> Option<String> {
        let kind = str_at(v, "type");
        // A result's id is unrelated on a resume miss; see `claude_result`.
        if kind != Some("result") {
            set_str(&mut self.session_id, str_at(v, "session_id"));
        }
        match kind {
            Some("system") => {
                match str_at(v, "subtype") {
                    Some("init") => {
                        self.session_started = true;
                        set_str(&mut self.model, str_at(v, "model"));
                    }
                    // Says why a run that gets killed while retrying hung.
                    Some("api_retry") => self.last_error = Some(api_retry_message(v)),
                    _ => {}
                }
                None
            }
            Some("assistant") => self.claude_assistant(v),
            Some("result") => {
                self.claude_result(v);
                None
            }
            Some(
                "user"
                | "stream_event"
                | "rate_limit_event"
                | "control_request"
                | "control_response"
                | "control_cancel_request"
                | "keep_alive",
            ) => None,
            _ => {
                self.unknown_events += 1;
                None
            }
        }
    }

    fn claude_assistant(&mut self, v: &Map<String, Value>) -> Option<String> {
        let content = v
            .get("message")
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)?;
        let mut activity = None;
        for block in content {
            match block.get("type").and_then(Value::as_str) {
                Some("tool_use" | "server_tool_use") => {
                    self.tool_calls += 1;
                    activity = tool_activity(
                        block.get("name").and_then(Value::as_str),
                        block.get("input"),
                    );
                }
                Some("text") => {
                    if let Some(text) = block.get("text").and_then(Value::as_str) {
                        // The final message's lines are the agent's verdict
                        // when its result event has none (see `verdict`).
                        self.last_text = text.to_owned();
                        if let Some(a) = clip(text) {
                            activity = Some(a);
                        }
                    }
                }
                _ => {}
            }
        }
        activity
    }

    fn claude_result(&mut self, v: &Map<String, Value>) {
        let is_error = v.get("is_error").and_then(Value::as_bool).unwrap_or(true);
        let message = match str_at(v, "result") {
            Some(r) if !r.trim().is_empty() => r.to_owned(),
            _ => v
                .get("errors")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
        };
        if self.session_started {
            set_str(&mut self.session_id, str_at(v, "session_id"));
        }
        // Per invocation, even on resume, unlike the cost.
        if let Some(u) = v.get("usage").and_then(Value::as_object) {
            self.usage = anthropic_usage(u, ANTHROPIC_SNAKE);
        }

        let total = cost(v.get("total_cost_usd"));
        let since = v
            .get("model_usage_since_last_result")
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty());
        let since_cost = since.and_then(|m| {
            let mut costs = m.values().filter_map(|e| cost(e.get("costUSD"))).peekable();
            costs.peek().is_some().then(|| costs.sum())
        });
        // `total_cost_usd` counts the whole resumed session.
        let attempt_cost = since_cost.or_else(|| {
            total.map(|t| match self.baseline.cost_usd {
                Some(b) => (t - b).max(0.0),
                None => t,
            })
        });
        if total.is_some() {
            self.session_cost_usd = total;
        }
        if attempt_cost.is_some() {
            self.cost_usd = attempt_cost;
        }
        // `modelUsage` is cumulative on resume too; prefer this attempt's part.
        if let Some(models) = since.or_else(|| v.get("modelUsage").and_then(Value::as_object)) {
            self.models = models_from(models, |u| anthropic_usage(u, ANTHROPIC_CAMEL));
        }

        self.result = Some(StreamResult {
            is_error,
            subtype: str_at(v, "subtype").unwrap_or("").to_owned(),
            message,
        });
    }

    fn codex(&mut self, v: &Map<String, Value>) -> Option<String> {
        let Some(kind) = str_at(v, "type") else {
            // Before 0.44, `--json` printed `{"id":…,"msg":{"type":…}}`.
            if let Some(msg) = v.get("msg").and_then(Value::as_object) {
                return self.codex_legacy(msg);
            }
            self.unknown_events += 1;
            return None;
        };
        match kind {
            "thread.started" => {
                self.session_started = true;
                set_str(&mut self.session_id, str_at(v, "thread_id"));
                None
            }
            "turn.started" | "item.plan.delta" | "request_user_input" => None,
            "item.started" | "item.updated" | "item.completed" => {
                match v.get("item").and_then(Value::as_object) {
                    Some(item) => self.codex_item(kind, item),
                    None => {
                        self.unknown_events += 1;
                        None
                    }
                }
            }
            "turn.completed" => {
                if let Some(u) = v.get("usage").and_then(Value::as_object) {
                    self.codex_usage(u);
                }
                self.result = Some(StreamResult {
                    is_error: false,
                    subtype: kind.to_owned(),
                    message: self.last_text.clone(),
                });
                None
            }
            "turn.failed" => {
                let message = error_message(v.get("error"))
                    .or_else(|| self.last_error.clone())
                    .unwrap_or_default();
                self.result = Some(StreamResult {
                    is_error: true,
                    subtype: kind.to_owned(),
                    message,
                });
                None
            }
            // Retries ("Reconnecting... 1/5") come this way too: not terminal.
            "error" => {
                set_str(&mut self.last_error, str_at(v, "message"));
                None
            }
            _ => {
                self.unknown_events += 1;
                None
            }
        }
    }

    fn codex_item(&mut self, event: &str, item: &Map<String, Value>) -> Option<String> {
        // `item_type` and `assistant_message`: the 0.43-era names.
        let kind = str_at(item, "type").or_else(|| str_at(item, "item_type"));
        let id = str_at(item, "id");
        match kind {
            Some("command_execution") => {
                self.codex_tool(event, id, || command_line(item.get("command")))
            }
            Some("file_change") => {
                let changes = item.get("changes").and_then(Value::as_array);
                let first = changes
                    .and_then(|c| c.first())
                    .and_then(|c| c.get("path"))
                    .and_then(Value::as_str);
                let more = changes.map_or(0, |c| c.len().saturating_sub(1));
                self.codex_tool(event, id, || edit_line(first, more))
            }
            Some("mcp_tool_call") => self.codex_tool(event, id, || mcp_line(item)),
            Some("web_search") => {
                let query = str_at(item, "query").and_then(first_line);
                self.codex_tool(event, id, || tool_line("Search", query))
            }
            Some("agent_message" | "assistant_message") => {
                let text = str_at(item, "text")?;
                self.last_text = text.to_owned();
                clip(text)
            }
            Some("reasoning" | "todo_list" | "collab_tool_call") => None,
            // Non-fatal notices ("model metadata not found", reroutes).
            Some("error") => {
                set_str(&mut self.last_error, str_at(item, "message"));
                None
            }
            _ => {
                self.unknown_events += 1;
                None
            }
        }
    }

    /// Counts a Codex tool item once, on the first event seen for its id
    /// (`item.started`, or `item.completed` when nothing started it), and
    /// shows it then.
    fn codex_tool(
        &mut self,
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
        self.tool_calls += 1;
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

    /// Codex counts the whole thread, cached input within input.
    fn codex_usage(&mut self, u: &Map<String, Value>) {
        let input = num(u.get("input_tokens")).unwrap_or(0);
        let cached = num(u.get("cached_input_tokens")).unwrap_or(0);
        let session = Usage {
            input: input.saturating_sub(cached),
            output: num(u.get("output_tokens")).unwrap_or(0),
            cache_read: cached,
            cache_write: num(u.get("cache_write_input_tokens")).unwrap_or(0),
        };
        self.session_usage = Some(session);
        self.usage = session.saturating_sub(self.baseline.usage);
    }

    fn codex_legacy(&mut self, msg: &Map<String, Value>) -> Option<String> {
        match str_at(msg, "type") {
            Some("session_configured") => {
                self.session_started = true;
                set_str(&mut self.session_id, str_at(msg, "session_id"));
                set_str(&mut self.model, str_at(msg, "model"));
                None
            }
            Some("task_started") => {
                self.session_started = true;
                None
            }
            Some("agent_message") => {
                let text = str_at(msg, "message")?;
                self.last_text = text.to_owned();
                clip(text)
            }
            Some("token_count") => {
                // Newer legacy builds wrap the totals in `info`; older ones
                // put the counters on the event itself.
                let totals = msg
                    .get("info")
                    .and_then(|i| i.get("total_token_usage"))
                    .and_then(Value::as_object)
                    .unwrap_or(msg);
                self.codex_usage(totals);
                None
            }
            Some("task_complete") => {
                let message = str_at(msg, "last_agent_message")
                    .map(str::to_owned)
                    .unwrap_or_else(|| self.last_text.clone());
                self.result = Some(StreamResult {
                    is_error: false,
                    subtype: "task_complete".to_owned(),
                    message,
                });
                None
            }
            Some("error" | "stream_error") => {
                set_str(&mut self.last_error, str_at(msg, "message"));
                None
            }
            Some("exec_command_begin") => {
                self.tool_calls += 1;
                command_line(msg.get("command"))
            }
            Some("patch_apply_begin") => {
                self.tool_calls += 1;
                // Here `changes` maps each path to its change.
                let changes = msg.get("changes").and_then(Value::as_object);
                let first = changes.and_then(|c| c.keys().next()).map(String::as_str);
                let more = changes.map_or(0, |c| c.len().saturating_sub(1));
                edit_line(first, more)
            }
            Some("mcp_tool_call_begin") => {
                self.tool_calls += 1;
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
                self.unknown_events += 1;
                None
            }
        }
    }

    fn gemini(&mut self, v: &Map<String, Value>) -> Option<String> {
        let kind = str_at(v, "type");
        if kind != Some("message") {
            self.end_text();
        }
        match kind {
            Some("init") => {
                self.session_started = true;
                set_str(&mut self.session_id, str_at(v, "session_id"));
                set_str(&mut self.model, str_at(v, "model"));
                None
            }
            Some("message") => self.gemini_message(v),
            Some("tool_use") => {
                self.tool_calls += 1;
                tool_activity(str_at(v, "tool_name"), v.get("parameters"))
            }
            Some("tool_result") => {
                if str_at(v, "status") == Some("error")
                    && let Some(m) = error_message(v.get("error"))
                {
                    self.last_error = Some(m);
                }
                None
            }
            // Warnings and soft errors (loop detected, turn limit): the
            // result decides.
            Some("error") => {
                set_str(&mut self.last_error, str_at(v, "message"));
                None
            }
            Some("result") => {
                self.gemini_result(v);
                None
            }
            _ => {
                self.unknown_events += 1;
                None
            }
        }
    }

    fn gemini_message(&mut self, v: &Map<String, Value>) -> Option<String> {
        if str_at(v, "role") != Some("assistant") {
            self.end_text();
            return None;
        }
        let content = str_at(v, "content")?;
        if v.get("delta").and_then(Value::as_bool) != Some(true) {
            // A whole message replaces whatever was being streamed.
            self.end_text();
        }
        push_bounded(&mut self.text, content, TEXT_MAX);
        let activity = clip(&self.text);
        // Most chunks only extend the text past its first line.
        if activity == self.activity {
            return None;
        }
        activity
    }

    /// The assistant's current message is over: keep it as the last text.
    fn end_text(&mut self) {
        if !self.text.is_empty() {
            self.last_text = std::mem::take(&mut self.text);
        }
    }

    fn gemini_result(&mut self, v: &Map<String, Value>) {
        let status = str_at(v, "status");
        let is_error = status != Some("success");
        let message = if is_error {
            error_message(v.get("error"))
                .or_else(|| self.last_error.clone())
                .unwrap_or_default()
        } else {
            self.last_text.clone()
        };
        if let Some(stats) = v.get("stats").and_then(Value::as_object) {
            self.usage = gemini_usage(stats).saturating_sub(self.baseline.usage);
            if let Some(models) = stats.get("models").and_then(Value::as_object) {
                self.models = models_from(models, gemini_usage);
            }
        }
        self.result = Some(StreamResult {
            is_error,
            subtype: status.unwrap_or("").to_owned(),
            message,
        });
    }
}

/// Anthropic's names for (input, output, cache read, cache write).
type UsageKeys = [&'static str; 4];
const ANTHROPIC_SNAKE: UsageKeys = [
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
];
const ANTHROPIC_CAMEL: UsageKeys = [
    "inputTokens",
    "outputTokens",
    "cacheReadInputTokens",
    "cacheCreationInputTokens",
];

/// Anthropic counts are already separate: input is the uncached part.
fn anthropic_usage(u: &Map<String, Value>, keys: UsageKeys) -> Usage {
    let n = |k: &str| num(u.get(k)).unwrap_or(0);
    Usage {
        input: n(keys[0]),
        output: n(keys[1]),
        cache_read: n(keys[2]),
        cache_write: n(keys[3]),
    }
}

/// Gemini's `input_tokens` includes the cached ones; `input` is the rest.
fn gemini_usage(s: &Map<String, Value>) -> Usage {
    let total = num(s.get("input_tokens")).unwrap_or(0);
    let cached = num(s.get("cached")).unwrap_or(0);
    Usage {
        input: num(s.get("input")).unwrap_or(total.saturating_sub(cached)),
        output: num(s.get("output_tokens")).unwrap_or(0),
        cache_read: cached,
        cache_write: 0,
    }
}

/// One entry per model that has an object, sorted by name.
fn models_from(
    models: &Map<String, Value>,
    usage: impl Fn(&Map<String, Value>) -> Usage,
) -> Vec<(String, Usage)> {
    let mut out: Vec<(String, Usage)> = models
        .iter()
        .filter_map(|(name, u)| Some((name.clone(), usage(u.as_object()?))))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn str_at<'a>(v: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Keeps `value`, if there is one, in `field`; allocates only when it
/// changed (Claude repeats its session id on every line).
fn set_str(field: &mut Option<String>, value: Option<&str>) {
    if let Some(value) = value
        && field.as_deref() != Some(value)
    {
        *field = Some(value.to_owned());
    }
}

/// A token count: a non-negative integer, or a float (saturating).
fn num(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// A cost in dollars: finite and non-negative, else none.
fn cost(v: Option<&Value>) -> Option<f64> {
    v?.as_f64().filter(|f| f.is_finite() && *f >= 0.0)
}

/// `"text"` or `{"message": "text"}`.
fn error_message(v: Option<&Value>) -> Option<String> {
    let v = v?;
    v.as_str()
        .or_else(|| v.get("message").and_then(Value::as_str))
        .map(str::to_owned)
}

fn api_retry_message(v: &Map<String, Value>) -> String {
    let error = str_at(v, "error").unwrap_or("API error");
    let mut s = match num(v.get("error_status")) {
        Some(status) => format!("{error} (HTTP {status})"),
        None => error.to_owned(),
    };
    if let Some(attempt) = num(v.get("attempt")) {
        s.push_str(&format!(", retry {attempt}"));
        if let Some(max) = num(v.get("max_retries")) {
            s.push_str(&format!("/{max}"));
        }
    }
    s
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

/// `<name> <main argument>`: the first string among the input's usual keys.
fn tool_activity(name: Option<&str>, input: Option<&Value>) -> Option<String> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("tool");
    let arg = input
        .and_then(Value::as_object)
        .and_then(|i| {
            MAIN_ARGS
                .iter()
                .find_map(|k| i.get(*k).and_then(Value::as_str))
        })
        .and_then(first_line);
    tool_line(name, arg)
}

fn tool_line(name: &str, arg: Option<&str>) -> Option<String> {
    match arg {
        Some(arg) => clip(&format!("{name} {arg}")),
        None => clip(name),
    }
}

fn edit_line(first: Option<&str>, more: usize) -> Option<String> {
    let line = tool_line("Edit", first.and_then(first_line))?;
    if more == 0 {
        return Some(line);
    }
    clip(&format!("{line} (+{more} more)"))
}

/// The first line with something on it, trimmed.
/// The first line that is not blank, trimmed.
pub(crate) fn first_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).find(|l| !l.is_empty())
}

/// An activity: the first non-blank line, control characters (escape
/// sequences would garble the live view) made spaces, at most
/// `ACTIVITY_MAX` chars with `…` marking a cut.
fn clip(s: &str) -> Option<String> {
    s.lines().find_map(|line| {
        let clean: String = line
            .chars()
            .take(ACTIVITY_MAX * 4)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let clean = clean.trim();
        if clean.is_empty() {
            return None;
        }
        if clean.chars().count() <= ACTIVITY_MAX {
            return Some(clean.to_owned());
        }
        let mut cut: String = clean.chars().take(ACTIVITY_MAX - 1).collect();
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        Some(cut)
    })
}

/// Appends as much of `s` as fits in `max` bytes, cut on a char boundary.
fn push_bounded(buf: &mut String, s: &str, max: usize) {
    let room = max.saturating_sub(buf.len());
    let mut end = room.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    buf.push_str(&s[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    impl StreamSummary {
        /// Success or failure from the final event; `None` when none came.
        fn verdict(&self) -> Option<Result<(), String>> {
            self.result.as_ref().map(|r| {
                if r.is_error {
                    Err(if r.message.is_empty() {
                        format!("the agent reported an error ({})", r.subtype)
                    } else {
                        r.message.clone()
                    })
                } else {
                    Ok(())
                }
            })
        }
    }

    /// Feeds every line; returns the activities in order.
    fn feed(s: &mut StreamSummary, text: &str) -> Vec<String> {
        text.lines().filter_map(|l| s.line(l.as_bytes())).collect()
    }

    fn read(
        format: Format,
        baseline: Option<Baseline>,
        text: &str,
    ) -> (StreamSummary, Vec<String>) {
        let mut s = StreamSummary::new(format, baseline);
        let activities = feed(&mut s, text);
        (s, activities)
    }

    fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Usage {
        Usage {
            input,
            output,
            cache_read,
            cache_write,
        }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn claude_success() {
        let (s, acts) = read(
            Format::Claude,
            None,
            include_str!("../../fixtures/claude/stream_success.jsonl"),
        );
        assert_eq!(
            acts,
            [
                "I'll read the README first.",
                "Read /work/repo/README.md",
                "The README contains a single heading: \"demo\".",
            ]
        );
        assert_eq!(
            s.session_id.as_deref(),
            Some("6f1c2a3e-8d4b-4f7a-9c2e-1b5d7e9a0c13")
        );
        assert!(s.session_started);
        assert_eq!(s.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        assert_eq!(s.verdict(), Some(Ok(())));
        assert_eq!(
            s.result.as_ref().map(|r| r.message.as_str()),
            Some("The README contains a single heading: \"demo\".")
        );
        // From the result only, not the (repeated) assistant usages.
        assert_eq!(s.usage, usage(10, 99, 24500, 2280));
        assert!(close(s.cost_usd, 0.017415));
        assert!(close(s.session_cost_usd, 0.017415));
        assert_eq!(
            s.models,
            [(
                "claude-sonnet-4-5-20250929".to_owned(),
                usage(10, 99, 24500, 2280)
            )]
        );
        assert_eq!(
            s.activity.as_deref(),
            Some("The README contains a single heading: \"demo\".")
        );
        assert_eq!(s.tool_calls, 1);
        assert_eq!(s.session_usage, None);
        assert_eq!((s.skipped_lines, s.unknown_events), (0, 0));
    }

    #[test]
    fn claude_failures() {
        let (s, acts) = read(
            Format::Claude,
            None,
            include_str!("../../fixtures/claude/stream_max_turns.jsonl"),
        );
        assert_eq!(acts, ["Bash cargo test"]);
        assert_eq!(s.tool_calls, 1);
        assert_eq!(
            s.verdict(),
            Some(Err("Reached maximum number of turns (1)".to_owned()))
        );
        assert_eq!(
            s.result.as_ref().map(|r| r.subtype.as_str()),
            Some("error_max_turns")
        );
        assert_eq!(s.usage, usage(4, 38, 11200, 2100));
        assert!(close(s.cost_usd, 0.011817));

        // `subtype: success` yet `is_error: true`.
        let (s, _) = read(
            Format::Claude,
            None,
            include_str!("../../fixtures/claude/stream_api_error_401.jsonl"),
        );
        assert_eq!(
            s.verdict(),
            Some(Err("Invalid API key · Fix external API key".to_owned()))
        );
        assert_eq!(
            s.last_error.as_deref(),
            Some("authentication_failed (HTTP 401), retry 2/2")
        );
        assert_eq!(
            s.session_id.as_deref(),
            Some("9408bea7-c831-4edd-9a00-e7475e63fb4b")
        );
        assert!(close(s.cost_usd, 0.0));
        assert!(s.models.is_empty());
    }

    #[test]
    fn claude_resume_miss_keeps_no_session() {
        let (s, acts) = read(
            Format::Claude,
            Some(Baseline {
                usage: Usage::default(),
                cost_usd: Some(0.5),
            }),
            include_str!("../../fixtures/claude/stream_resume_miss.jsonl"),
        );
        assert!(acts.is_empty());
        assert_eq!(s.session_id, None);
        assert!(!s.session_started);
        assert_eq!(
            s.verdict(),
            Some(Err(
                "No conversation found with session ID: 6f1c2a3e-8d4b-4f7a-9c2e-1b5d7e9a0c13"
                    .to_owned()
            ))
        );
        assert_eq!(s.usage, Usage::default());
        assert!(close(s.cost_usd, 0.0));
    }

    #[test]
    fn claude_partial_messages_are_known() {
        let (s, acts) = read(
            Format::Claude,
            None,
            include_str!("../../fixtures/claude/stream_partial.jsonl"),
        );
        assert_eq!(acts, ["Hello!"]);
        assert_eq!(s.unknown_events, 0);
        assert_eq!(s.usage, usage(3, 5, 13300, 0));
        assert_eq!(s.verdict(), Some(Ok(())));
    }

    const RESUMED_RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"s1","total_cost_usd":0.5,"usage":{"input_tokens":100,"output_tokens":20,"cache_read_input_tokens":300,"cache_creation_input_tokens":40},"modelUsage":{"big":{"inputTokens":900,"outputTokens":90,"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"costUSD":0.45},"small":{"inputTokens":50,"outputTokens":5,"costUSD":0.05}},"model_usage_since_last_result":{"big":{"inputTokens":100,"outputTokens":20,"cacheReadInputTokens":300,"cacheCreationInputTokens":40,"costUSD":0.1},"small":{"inputTokens":10,"outputTokens":1,"costUSD":0.05}}}"#;

    #[test]
    fn claude_cost_of_a_resumed_attempt() {
        let init = r#"{"type":"system","subtype":"init","session_id":"s1","model":"big"}"#;
        let baseline = Some(Baseline {
            usage: Usage::default(),
            cost_usd: Some(0.3),
        });

        // This invocation's own costs win over total − baseline.
        let (s, _) = read(
            Format::Claude,
            baseline,
            &format!("{init}\n{RESUMED_RESULT}"),
        );
        assert!(close(s.cost_usd, 0.15));
        assert!(close(s.session_cost_usd, 0.5));
        assert_eq!(s.session_id.as_deref(), Some("s1"));
        assert_eq!(s.usage, usage(100, 20, 300, 40));
        assert_eq!(
            s.models,
            [
                ("big".to_owned(), usage(100, 20, 300, 40)),
                ("small".to_owned(), usage(10, 1, 0, 0)),
            ]
        );

        // Without it: total minus what the session had cost before.
        let older = RESUMED_RESULT.replace("model_usage_since_last_result", "other");
        let (s, _) = read(Format::Claude, baseline, &older);
        assert!(close(s.cost_usd, 0.2));
        assert!(close(s.session_cost_usd, 0.5));
        assert_eq!(s.models[0], ("big".to_owned(), usage(900, 90, 0, 0)));
        // No init came: the result's id is not trusted.
        assert_eq!(s.session_id, None);

        // An empty breakdown is no breakdown.
        let empty = RESUMED_RESULT.replace(
            r#""model_usage_since_last_result":{"big""#,
            r#""model_usage_since_last_result":{},"x":{"big""#,
        );
        let (s, _) = read(Format::Claude, baseline, &empty);
        assert!(close(s.cost_usd, 0.2));

        // Never below zero; no baseline means the total is this attempt's.
        let high = Some(Baseline {
            usage: Usage::default(),
            cost_usd: Some(0.7),
        });
        let (s, _) = read(Format::Claude, high, &older);
        assert!(close(s.cost_usd, 0.0));
        let (s, _) = read(Format::Claude, None, &older);
        assert!(close(s.cost_usd, 0.5));
    }

    #[test]
    fn claude_custom_agent_with_a_bare_result() {
        let (s, _) = read(
            Format::Claude,
            None,
            r#"{"type":"result","is_error":false,"result":"done"}"#,
        );
        assert_eq!(s.verdict(), Some(Ok(())));
        assert_eq!(s.cost_usd, None);
        assert_eq!(s.session_cost_usd, None);
        assert_eq!(s.usage, Usage::default());

        // No `is_error`: not a success.
        let (s, _) = read(
            Format::Claude,
            None,
            r#"{"type":"result","subtype":"weird"}"#,
        );
        assert_eq!(
            s.verdict(),
            Some(Err("the agent reported an error (weird)".to_owned()))
        );
    }

    #[test]
    fn codex_success() {
        let (s, acts) = read(
            Format::Codex,
            None,
            include_str!("../../fixtures/codex/exec_success.jsonl"),
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
            Format::Codex,
            None,
            include_str!("../../fixtures/codex/exec_success.jsonl"),
        );
        let resume = include_str!("../../fixtures/codex/exec_resume.jsonl");
        let (s, _) = read(
            Format::Codex,
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
            Format::Codex,
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
    fn codex_failure() {
        let (s, _) = read(
            Format::Codex,
            None,
            include_str!("../../fixtures/codex/exec_failed.jsonl"),
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
            Format::Codex,
            None,
            r#"{"type":"error","message":"Reconnecting... 1/5"}"#,
        );
        assert_eq!(s.result, None);
        assert_eq!(s.last_error.as_deref(), Some("Reconnecting... 1/5"));
        let (s, _) = read(
            Format::Codex,
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
        let (s, acts) = read(Format::Codex, None, &lines.join("\n"));
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
            Format::Codex,
            None,
            include_str!("../../fixtures/codex/exec_legacy_v0_2x.jsonl"),
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
        let (s, acts) = read(Format::Codex, None, &lines.join("\n"));
        assert_eq!(acts, ["Bash make test", "Edit src/x.rs"]);
        assert_eq!(s.tool_calls, 2);
        assert_eq!(s.last_error.as_deref(), Some("retrying"));
        assert_eq!(s.unknown_events, 2);
    }

    #[test]
    fn gemini_success() {
        let (s, acts) = read(
            Format::Gemini,
            None,
            include_str!("../../fixtures/gemini/stream_success.jsonl"),
        );
        assert_eq!(
            acts,
            [
                "read_file README.md",
                "The README contains a single",
                "The README contains a single heading: \"demo\".",
            ]
        );
        assert_eq!(
            s.session_id.as_deref(),
            Some("3c2b9f7e-4a1d-4e8b-b6f0-9d2c7a5e1f48")
        );
        assert!(s.session_started);
        assert_eq!(s.model.as_deref(), Some("auto-gemini-3"));
        assert_eq!(s.verdict(), Some(Ok(())));
        assert_eq!(
            s.result.as_ref().unwrap().message,
            "The README contains a single heading: \"demo\"."
        );
        assert_eq!(s.usage, usage(5122, 96, 12288, 0));
        assert_eq!(
            s.models,
            [("gemini-3-pro-preview".to_owned(), usage(5122, 96, 12288, 0))]
        );
        assert_eq!(s.tool_calls, 1);
        assert_eq!(s.cost_usd, None);
        assert_eq!((s.skipped_lines, s.unknown_events), (0, 0));
    }

    #[test]
    fn gemini_failures() {
        let (s, _) = read(
            Format::Gemini,
            None,
            include_str!("../../fixtures/gemini/stream_error.jsonl"),
        );
        assert_eq!(
            s.verdict(),
            Some(Err(
                "[API Error: You have exhausted your capacity on this model.]".to_owned()
            ))
        );
        assert_eq!(s.result.as_ref().unwrap().subtype, "error");
        assert_eq!(s.usage, Usage::default());

        let (s, _) = read(
            Format::Gemini,
            None,
            include_str!("../../fixtures/gemini/stream_max_turns.jsonl"),
        );
        assert!(
            s.verdict()
                .unwrap()
                .unwrap_err()
                .starts_with("Reached max session turns for this session.")
        );
        assert_eq!(s.usage, usage(9150, 341, 30720, 0));

        // Soft errors are remembered, not final.
        let lines = [
            r#"{"type":"tool_result","tool_id":"t","status":"error","error":{"type":"x","message":"file not found"}}"#,
            r#"{"type":"error","severity":"warning","message":"Loop detected"}"#,
        ];
        let (s, _) = read(Format::Gemini, None, &lines.join("\n"));
        assert_eq!(s.result, None);
        assert_eq!(s.last_error.as_deref(), Some("Loop detected"));
    }

    #[test]
    fn gemini_delta_text_accumulates() {
        let lines = [
            r#"{"type":"message","role":"assistant","content":"Plan","delta":true}"#,
            r#"{"type":"message","role":"assistant","content":":\n1. read","delta":true}"#,
            r#"{"type":"message","role":"assistant","content":" the code\n2. fix","delta":true}"#,
            r#"{"type":"tool_use","tool_name":"run_shell_command","parameters":{"command":"cargo test","description":"tests"}}"#,
            r#"{"type":"message","role":"assistant","content":"Fixed","delta":true}"#,
            r#"{"type":"message","role":"assistant","content":" it.","delta":true}"#,
            r#"{"type":"result","status":"success","stats":{"input_tokens":1000,"cached":600,"output_tokens":50}}"#,
        ];
        let (s, acts) = read(Format::Gemini, None, &lines.join("\n"));
        // The first line, once whole, stays put while the text grows.
        assert_eq!(
            acts,
            [
                "Plan",
                "Plan:",
                "run_shell_command cargo test",
                "Fixed",
                "Fixed it."
            ]
        );
        assert_eq!(s.result.as_ref().unwrap().message, "Fixed it.");
        // No `input`: the uncached part is input_tokens − cached.
        assert_eq!(s.usage, usage(400, 50, 600, 0));

        // The buffer is bounded and cut on a char boundary.
        let mut s = StreamSummary::new(Format::Gemini, None);
        let chunk = serde_json::json!({"type":"message","role":"assistant","content":"é".repeat(1000),"delta":true});
        for _ in 0..10 {
            s.line(chunk.to_string().as_bytes());
        }
        assert!(s.text.len() <= TEXT_MAX);
        assert!(s.text.len() >= TEXT_MAX - 1);
    }

    #[test]
    fn junk_is_counted_never_fatal() {
        for format in [Format::Claude, Format::Codex, Format::Gemini] {
            let mut s = StreamSummary::new(format, None);
            for line in [
                "",
                "   \r",
                "not json",
                "[1,2]",
                "42",
                "\"str\"",
                "{\"type\":",
                "{\"type\":\"mystery\"}",
                "{\"type\":7}",
                "{}",
            ] {
                assert_eq!(s.line(line.as_bytes()), None, "{format:?} {line:?}");
            }
            assert!(s.line(b"\xff\xfe{}").is_none());
            // Blank lines are not counted; invalid UTF-8 is not JSON.
            assert_eq!(s.skipped_lines, 6, "{format:?}");
            assert_eq!(s.unknown_events, 3, "{format:?}");
            assert_eq!(s.result, None);
        }
    }

    #[test]
    fn wrong_field_types_are_ignored() {
        let (s, _) = read(
            Format::Claude,
            None,
            r#"{"type":"result","is_error":"no","result":5,"errors":"x","usage":"x","total_cost_usd":"1","modelUsage":[1],"session_id":9}"#,
        );
        assert_eq!(s.usage, Usage::default());
        assert_eq!(s.cost_usd, None);
        assert_eq!(
            s.verdict(),
            Some(Err("the agent reported an error ()".to_owned()))
        );

        let (s, _) = read(
            Format::Claude,
            None,
            r#"{"type":"result","is_error":false,"total_cost_usd":-3,"usage":{"input_tokens":-5,"output_tokens":1e30,"cache_read_input_tokens":2.0,"cache_creation_input_tokens":18446744073709551615}}"#,
        );
        assert_eq!(s.usage, usage(0, u64::MAX, 2, u64::MAX));
        assert_eq!(s.cost_usd, None);

        let (s, _) = read(
            Format::Codex,
            None,
            "{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":5,\"cached_input_tokens\":1e300}}\n\
             {\"type\":\"item.started\",\"item\":\"x\"}\n\
             {\"type\":\"item.completed\",\"item\":{\"id\":3,\"type\":\"command_execution\",\"command\":{\"a\":1}}}\n\
             {\"type\":\"turn.failed\",\"error\":\"plain text\"}",
        );
        assert_eq!(s.usage, usage(0, 0, u64::MAX, 0));
        assert_eq!(s.verdict(), Some(Err("plain text".to_owned())));
        assert_eq!(s.activity.as_deref(), Some("Bash"));
        assert_eq!(s.unknown_events, 1);

        let (s, _) = read(
            Format::Gemini,
            None,
            "{\"type\":\"tool_use\",\"tool_name\":null,\"parameters\":{\"file_path\":3,\"path\":\"src\"}}\n\
             {\"type\":\"message\",\"role\":\"assistant\",\"content\":[\"x\"]}\n\
             {\"type\":\"result\",\"status\":\"success\",\"stats\":{\"input_tokens\":\"9\",\"models\":{\"m\":5}}}",
        );
        assert_eq!(s.activity.as_deref(), Some("tool src"));
        assert_eq!(s.usage, Usage::default());
        assert!(s.models.is_empty());
        assert_eq!(s.verdict(), Some(Ok(())));
    }

    #[test]
    fn long_activity_is_cut() {
        let long = "x".repeat(200);
        let line = serde_json::json!({"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":format!("{long}\nsecond line")}}]}});
        let (s, acts) = read(Format::Claude, None, &line.to_string());
        let a = &acts[0];
        assert_eq!(a.chars().count(), ACTIVITY_MAX);
        assert!(a.starts_with("Bash xxx"));
        assert!(a.ends_with("x…"));
        assert_eq!(s.tool_calls, 1);

        // Multi-byte chars and control characters.
        let text = format!("\u{1b}[31m{}", "é".repeat(300));
        let line = serde_json::json!({"type":"assistant","message":{"content":[{"type":"text","text":text}]}});
        let (_, acts) = read(Format::Claude, None, &line.to_string());
        assert_eq!(acts[0].chars().count(), ACTIVITY_MAX);
        assert!(acts[0].starts_with("[31mé"));

        // The key order decides, not the input's order; only strings count.
        let line = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Grep","input":{"pattern":"fn main","path":["x"],"file_path":null}}]}}"#;
        let (_, acts) = read(Format::Claude, None, line);
        assert_eq!(acts, ["Grep fn main"]);
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
        let mut s = StreamSummary::new(Format::Codex, None);
        for i in 0..(SEEN_ITEMS_MAX + 10) {
            let line = format!(
                r#"{{"type":"item.started","item":{{"id":"i{i}","type":"command_execution","command":"true"}}}}"#
            );
            s.line(line.as_bytes());
        }
        assert_eq!(s.seen_items.len(), SEEN_ITEMS_MAX);
        assert_eq!(s.tool_calls, (SEEN_ITEMS_MAX + 10) as u64);
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for format in [Format::Claude, Format::Codex, Format::Gemini] {
                StreamSummary::new(format, None).line(&bytes);
            }
        }

        #[test]
        fn never_panics_on_event_shapes(
            kind in prop::sample::select(vec![
                "system", "assistant", "result", "thread.started", "item.started",
                "item.completed", "turn.completed", "turn.failed", "error", "init",
                "message", "tool_use", "tool_result",
            ]),
            key in prop::sample::select(vec![
                "usage", "stats", "item", "message", "content", "error", "result",
                "total_cost_usd", "msg", "model_usage_since_last_result", "modelUsage",
            ]),
            value in prop::sample::select(vec![
                "null", "-1", "1e308", "18446744073709551616", "\"\"", "\"\\n\\r\\u001b\"",
                "[]", "{}", "[{}]", "{\"type\":\"text\",\"text\":\"\"}",
                "{\"input_tokens\":-1,\"cached_input_tokens\":5}",
                "[{\"type\":\"tool_use\",\"input\":{\"command\":\"\\n\"}}]",
                "{\"content\":[{\"type\":\"tool_use\",\"name\":\"\"}]}",
                "{\"m\":{\"costUSD\":-1e308}}",
            ]),
        ) {
            let line = format!(r#"{{"type":"{kind}","{key}":{value},"role":"assistant","delta":true}}"#);
            for format in [Format::Claude, Format::Codex, Format::Gemini] {
                let mut s = StreamSummary::new(format, Some(Baseline {
                    usage: Usage { input: u64::MAX, ..Usage::default() },
                    cost_usd: Some(f64::MAX),
                }));
                s.line(line.as_bytes());
                s.line(line.as_bytes());
                let _ = s.verdict();
            }
        }
    }
}
