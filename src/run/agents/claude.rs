//! Claude Code, `claude -p --output-format stream-json --verbose
//! --input-format stream-json` (the prompt, then messages, on stdin). Takes a
//! setup and an invocation; hands on its command line and environment, the
//! reader of its stream (which custom agents may print too: `command`) and
//! list prices of Anthropic's models. Never starts it and never judges it.
//!
//! Resume: `--resume=<id>`. A refused resume ("No conversation found")
//! prints a `result` with no `system/init` before it, so the attempt never
//! counts as `session_started`, and that result's unrelated session id is
//! not kept.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::run::agents::activity::{clip, tool_activity};
use crate::run::agents::cli::{Cli, Invocation, Permissions, PromptVia, Setup, push};
use crate::run::agents::stream::{
    Format, Reader, StreamResult, StreamSummary, Usage, cost, models_from, num, set_str, str_at,
};
use crate::run::limits::{Kind, Signal};
use crate::run::price::ListPrice;
use crate::run::providers::Pace;

#[derive(Debug)]
pub struct Claude;

const PERMISSIONS: Permissions = Permissions {
    flag: "--permission-mode",
    accepted: &[
        "default",
        "acceptEdits",
        "plan",
        "bypassPermissions",
        "dontAsk",
        "auto",
    ],
    // Edit files in the working folder, nothing riskier.
    default: "acceptEdits",
};

/// Variables that make a nested Claude Code refuse to start.
const NESTED_CLAUDE_VARS: &[&str] = &["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT"];

/// How Claude Code words a failure that is not the task's (its docs' error
/// reference, and the pinned CLI against the mock API; see docs/agents.md
/// "How the real CLIs report a limit").
const LIMIT_WORDING: &[(Kind, &str)] = &[
    (
        Kind::Auth,
        r"(?i)invalid api key|invalid x-api-key|not logged in|please run /login|credit balance is too low|usage allocation has been disabled|your organization has been disabled|(?:org's|organization's) monthly usage limit|individual spend limit",
    ),
    (
        Kind::Limit,
        r"(?i)you['’]ve hit your (?:[\w-]+ )?limit|claude ai usage limit reached",
    ),
    (
        Kind::Throttled,
        r"(?i)server is temporarily limiting requests|request rejected \(429\)",
    ),
    (Kind::Transient, r"(?i)repeated 529|api error: 5\d\d"),
];

/// Anthropic's list prices, USD per million tokens (see
/// `ListPrice`): Claude Code reports its own cost, a custom stream-json
/// agent may not.
const LIST_PRICES: &[ListPrice] = &[
    ("claude-opus-4", 15.0, 1.50, 75.0, Some(18.75)),
    // Opus 4.5 is much cheaper than Opus 4/4.1; without its own entry the
    // prefix rule would price it as `claude-opus-4`.
    ("claude-opus-4-5", 5.0, 0.50, 25.0, Some(6.25)),
    ("claude-sonnet-4", 3.0, 0.30, 15.0, Some(3.75)),
    ("claude-haiku-4-5", 1.0, 0.10, 5.0, Some(1.25)),
    // The 5 family, as Claude Code 2.1.330 prices them in its own
    // `total_cost_usd` (measured against the mock API, a million tokens of
    // each kind at a time).
    ("claude-opus-5", 4.0, 0.20, 20.0, Some(5.0)),
    ("claude-sonnet-5", 2.0, 0.10, 10.0, Some(2.5)),
    ("claude-haiku-5", 0.50, 0.05, 2.50, Some(0.625)),
];

/// Claude Code's `stream-json`, and any agent that prints the same events.
pub const FORMAT: Format = Format {
    name: "claude",
    reader: || Box::<ClaudeReader>::default(),
    // `modelUsage` counts a whole resumed session; `usage` is this
    // attempt's, priced at the model named.
    models_priced: false,
};

impl Cli for Claude {
    fn name(&self) -> &'static str {
        "claude"
    }

    fn program<'a>(&self, _: &Setup<'a>) -> &'a str {
        "claude"
    }

    fn argv(&self, s: &Setup, inv: &Invocation) -> Result<Vec<String>, String> {
        let mut argv = Vec::new();
        push(
            &mut argv,
            &[
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--input-format",
                "stream-json",
            ],
        );
        s.push_settings(&mut argv, "--model", &PERMISSIONS, Some("--allowedTools"));
        if let Some(usd) = s.max_cost_per_task {
            argv.push("--max-budget-usd".into());
            argv.push(format!("{usd}"));
        }
        if let Some(id) = inv.resume {
            // `=`: the flag's value is optional, so a bare id that
            // starts with `-` would read as another flag.
            argv.push(format!("--resume={id}"));
        }
        s.push_args(&mut argv);
        Ok(argv)
    }

    fn output(&self) -> Option<Format> {
        Some(FORMAT)
    }

    /// stdin stays open: messages for the task reach it while it works.
    fn prompt_via(&self) -> PromptVia {
        PromptVia::StreamJson
    }

    fn install(&self) -> Option<(&'static str, &'static str)> {
        Some(("Claude Code CLI", "@anthropic-ai/claude-code"))
    }

    fn permissions(&self) -> Option<&'static Permissions> {
        Some(&PERMISSIONS)
    }

    fn env_remove(&self) -> &'static [&'static str] {
        NESTED_CLAUDE_VARS
    }

    fn env_add(&self, s: &Setup, env: &mut BTreeMap<String, String>) {
        // Claude refuses bypassPermissions as root unless told it is sandboxed;
        // a person who chose that mode for run-batch said as much.
        if s.permission_mode(&PERMISSIONS) == "bypassPermissions"
            && is_root()
            && std::env::var_os("IS_SANDBOX").is_none()
        {
            env.insert("IS_SANDBOX".into(), "1".into());
        }
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

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

// The stream: `system/init` starts the session, `assistant` messages show
// tool calls and text, `result` is the verdict with tokens and cost.

/// Claude's events carry everything they mean but live spend: the reader
/// keeps each message's latest usage, because a message comes once per
/// content block with the same id.
#[derive(Default)]
struct ClaudeReader {
    messages: Vec<(String, Usage)>,
}

impl Reader for ClaudeReader {
    fn event(&mut self, s: &mut StreamSummary, v: &Map<String, Value>) -> Option<String> {
        if str_at(v, "type") == Some("assistant") {
            self.count(s, v);
        }
        event(s, v)
    }
}

impl ClaudeReader {
    /// Counts an assistant message's usage, once per message id.
    fn count(&mut self, s: &mut StreamSummary, v: &Map<String, Value>) {
        let Some(m) = v.get("message").and_then(Value::as_object) else {
            return;
        };
        let (Some(id), Some(u)) = (str_at(m, "id"), m.get("usage").and_then(Value::as_object))
        else {
            return;
        };
        let usage = anthropic_usage(u, ANTHROPIC_SNAKE);
        match self.messages.iter_mut().find(|(i, _)| i == id) {
            Some((_, seen)) => *seen = usage,
            None => self.messages.push((id.to_owned(), usage)),
        }
        let mut total = Usage::default();
        for (_, u) in &self.messages {
            total = Usage {
                input: total.input.saturating_add(u.input),
                output: total.output.saturating_add(u.output),
                cache_read: total.cache_read.saturating_add(u.cache_read),
                cache_write: total.cache_write.saturating_add(u.cache_write),
            };
        }
        s.live_usage = total;
    }
}

fn event(s: &mut StreamSummary, v: &Map<String, Value>) -> Option<String> {
    let kind = str_at(v, "type");
    // A result's id is unrelated on a resume miss; see `result`.
    if kind != Some("result") {
        set_str(&mut s.session_id, str_at(v, "session_id"));
    }
    match kind {
        Some("system") => {
            match str_at(v, "subtype") {
                Some("init") => {
                    s.session_started = true;
                    set_str(&mut s.model, str_at(v, "model"));
                }
                // Says why a run that gets killed while retrying hung, and
                // shows the wait in the live view.
                Some("api_retry") => {
                    let message = api_retry_message(v);
                    s.last_error = Some(message.clone());
                    if !matches!(s.limit, Some(Signal::Limited { .. })) {
                        s.limit = status_signal(num(v.get("error_status")));
                    }
                    return Some(format!("API retry: {message}"));
                }
                _ => {}
            }
            None
        }
        Some("rate_limit_event") => {
            rate_limit(s, v);
            None
        }
        Some("assistant") => {
            // The model answered: a throttle or API error it retried past
            // is over (a failed result says so again if not).
            if matches!(s.limit, Some(Signal::Throttled | Signal::Transient)) {
                s.limit = None;
            }
            assistant(s, v)
        }
        Some("result") => {
            result(s, v);
            None
        }
        Some(
            "user"
            | "stream_event"
            | "control_request"
            | "control_response"
            | "control_cancel_request"
            | "keep_alive",
        ) => None,
        _ => {
            s.unknown_events += 1;
            None
        }
    }
}

fn assistant(s: &mut StreamSummary, v: &Map<String, Value>) -> Option<String> {
    let content = v
        .get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)?;
    let mut activity = None;
    for block in content {
        match block.get("type").and_then(Value::as_str) {
            Some("tool_use" | "server_tool_use") => {
                s.tool_calls += 1;
                activity = tool_activity(
                    block.get("name").and_then(Value::as_str),
                    block.get("input"),
                );
            }
            Some("text") => {
                if let Some(text) = block.get("text").and_then(Value::as_str) {
                    // The final message's lines are the agent's verdict
                    // when its result event has none (see `verdict`).
                    s.last_text = text.to_owned();
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

fn result(s: &mut StreamSummary, v: &Map<String, Value>) {
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
    if s.session_started {
        set_str(&mut s.session_id, str_at(v, "session_id"));
    }
    // Per invocation, even on resume, unlike the cost.
    if let Some(u) = v.get("usage").and_then(Value::as_object) {
        s.usage = anthropic_usage(u, ANTHROPIC_SNAKE);
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
        total.map(|t| match s.baseline.cost_usd {
            Some(b) => (t - b).max(0.0),
            None => t,
        })
    });
    if total.is_some() {
        s.session_cost_usd = total;
    }
    if attempt_cost.is_some() {
        s.cost_usd = attempt_cost;
    }
    // `modelUsage` is cumulative on resume too; prefer this attempt's part.
    if let Some(models) = since.or_else(|| v.get("modelUsage").and_then(Value::as_object)) {
        s.models = models_from(models, |u| anthropic_usage(u, ANTHROPIC_CAMEL));
    }

    if is_error {
        let subtype = str_at(v, "subtype").unwrap_or("");
        match str_at(v, "terminal_reason") {
            // The API failed: its status says how, unless a rate-limit
            // event already said more (a usage window and its reset).
            Some("api_error") | None => {
                if !matches!(s.limit, Some(Signal::Limited { .. }))
                    && let Some(signal) = status_signal(num(v.get("api_error_status")))
                {
                    s.limit = Some(signal);
                }
            }
            // max_turns, aborted_tools, turn_setup_failed, …: the CLI's
            // own end, not its provider's.
            Some(_) => s.not_provider = true,
        }
        if subtype.starts_with("error_max") {
            s.not_provider = true;
        }
    }
    s.result = Some(StreamResult {
        is_error,
        subtype: str_at(v, "subtype").unwrap_or("").to_owned(),
        message,
    });
}

/// A `rate_limit_event`: a status other than `allowed` with a reset time or
/// a window is a usage limit; without either it is the server's burst
/// limiter (Claude Code says "not your usage limit" and retries it). An
/// `allowed` status after a rejection means the window reopened.
fn rate_limit(s: &mut StreamSummary, v: &Map<String, Value>) {
    let Some(info) = v.get("rate_limit_info").and_then(Value::as_object) else {
        return;
    };
    match str_at(info, "status") {
        Some("allowed" | "allowed_warning") | None => {
            if matches!(s.limit, Some(Signal::Limited { .. } | Signal::Throttled)) {
                s.limit = None;
            }
        }
        Some(_) => {
            let reset = num(info.get("resetsAt")).map(crate::run::limits::epoch);
            let window = str_at(info, "rateLimitType").map(str::to_owned);
            s.limit = Some(if reset.is_some() || window.is_some() {
                Signal::Limited { reset, window }
            } else {
                Signal::Throttled
            });
        }
    }
}

/// What an HTTP status from the API says about the provider.
fn status_signal(status: Option<u64>) -> Option<Signal> {
    match status? {
        429 => Some(Signal::Throttled),
        401 | 403 => Some(Signal::Auth),
        408 | 500..=599 => Some(Signal::Transient),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AgentConfig, Config};
    use crate::run::agents::AgentSpec;
    use crate::run::agents::activity::ACTIVITY_MAX;
    use crate::run::agents::stream::Baseline;
    use crate::run::agents::stream::testing::*;

    #[test]
    fn claude_command_line_with_settings_resume_and_args() {
        let mut config = Config::default();
        config.agents.insert(
            "claude".into(),
            AgentConfig {
                model: Some("opus".into()),
                permission_mode: Some("bypassPermissions".into()),
                allowed_tools: vec!["Read".into(), "Bash(git *)".into()],
                args: vec!["--max-turns".into(), "9".into()],
                ..AgentConfig::default()
            },
        );
        let s = AgentSpec::parse("claude --debug", &config, &["--x".into()], Some(0.5)).unwrap();
        let inv = Invocation {
            resume: Some("-abc"),
            ..Invocation::default()
        };
        assert_eq!(
            s.argv(&inv).unwrap().join(" "),
            "claude -p --output-format stream-json --verbose --input-format stream-json --model opus \
             --permission-mode bypassPermissions --allowedTools Read Bash(git *) \
             --max-budget-usd 0.5 --resume=-abc --max-turns 9 --debug --x"
        );
        assert_eq!(s.model().as_deref(), Some("opus"));
    }

    #[test]
    fn claude_success() {
        let (s, acts) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/claude/stream_success.jsonl"),
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
            FORMAT,
            None,
            include_str!("../../../fixtures/claude/stream_max_turns.jsonl"),
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
            FORMAT,
            None,
            include_str!("../../../fixtures/claude/stream_api_error_401.jsonl"),
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
        assert_eq!(s.limit, Some(Signal::Auth));
        // max_turns is the CLI's own end: no text is read for the provider.
        let (s, _) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/claude/stream_max_turns.jsonl"),
        );
        assert!(s.not_provider);
    }

    #[test]
    fn claude_usage_limit_and_throttle() {
        // Captured from Claude Code 2.1.330, logged in to a subscription,
        // against the mock's 429 with `anthropic-ratelimit-unified-*`.
        let (s, _) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/claude/stream_usage_limit.jsonl"),
        );
        assert_eq!(
            s.limit,
            Some(Signal::Limited {
                reset: Some(crate::run::limits::epoch(1_796_266_924)),
                window: Some("five_hour".into()),
            })
        );
        assert!(!s.not_provider);
        assert!(s.verdict().unwrap().unwrap_err().contains("5-hour limit"));
        // With an API key, a 429 is "Request rejected": throttled.
        let (s, _) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/claude/stream_throttled.jsonl"),
        );
        assert_eq!(s.limit, Some(Signal::Throttled));
        // A rejection with no reset is the burst limiter; an `allowed`
        // status later means the window reopened.
        let (s, acts) = read(
            FORMAT,
            None,
            concat!(
                r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected"}}"#,
                "\n",
                r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":500,"error_status":429,"error":"rate_limit"}"#,
                "\n",
            ),
        );
        assert_eq!(s.limit, Some(Signal::Throttled));
        assert_eq!(acts, ["API retry: rate_limit (HTTP 429), retry 1/10"]);
        // A retry that worked is no signal: a later failure of the agent's
        // own is the task's.
        let (s, _) = read(
            FORMAT,
            None,
            concat!(
                r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"error_status":429,"error":"rate_limit"}"#,
                "\n",
                r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"Reading."}]}}"#,
                "\n",
                r#"{"type":"result","subtype":"error_during_execution","is_error":true,"result":"Tool failed"}"#,
                "\n",
            ),
        );
        assert_eq!(s.limit, None);
        let (s, _) = read(
            FORMAT,
            None,
            concat!(
                r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1796266924000}}"#,
                "\n",
                r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed"}}"#,
                "\n",
            ),
        );
        assert_eq!(s.limit, None);
    }

    #[test]
    fn claude_resume_miss_keeps_no_session() {
        let (s, acts) = read(
            FORMAT,
            Some(Baseline {
                usage: Usage::default(),
                cost_usd: Some(0.5),
            }),
            include_str!("../../../fixtures/claude/stream_resume_miss.jsonl"),
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
            FORMAT,
            None,
            include_str!("../../../fixtures/claude/stream_partial.jsonl"),
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
        let (s, _) = read(FORMAT, baseline, &format!("{init}\n{RESUMED_RESULT}"));
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
        let (s, _) = read(FORMAT, baseline, &older);
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
        let (s, _) = read(FORMAT, baseline, &empty);
        assert!(close(s.cost_usd, 0.2));

        // Never below zero; no baseline means the total is this attempt's.
        let high = Some(Baseline {
            usage: Usage::default(),
            cost_usd: Some(0.7),
        });
        let (s, _) = read(FORMAT, high, &older);
        assert!(close(s.cost_usd, 0.0));
        let (s, _) = read(FORMAT, None, &older);
        assert!(close(s.cost_usd, 0.5));
    }

    #[test]
    fn claude_custom_agent_with_a_bare_result() {
        let (s, _) = read(
            FORMAT,
            None,
            r#"{"type":"result","is_error":false,"result":"done"}"#,
        );
        assert_eq!(s.verdict(), Some(Ok(())));
        assert_eq!(s.cost_usd, None);
        assert_eq!(s.session_cost_usd, None);
        assert_eq!(s.usage, Usage::default());

        // No `is_error`: not a success.
        let (s, _) = read(FORMAT, None, r#"{"type":"result","subtype":"weird"}"#);
        assert_eq!(
            s.verdict(),
            Some(Err("the agent reported an error (weird)".to_owned()))
        );
    }

    #[test]
    fn long_activity_is_cut() {
        let long = "x".repeat(200);
        let line = serde_json::json!({"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":format!("{long}\nsecond line")}}]}});
        let (s, acts) = read(FORMAT, None, &line.to_string());
        let a = &acts[0];
        assert_eq!(a.chars().count(), ACTIVITY_MAX);
        assert!(a.starts_with("Bash xxx"));
        assert!(a.ends_with("x…"));
        assert_eq!(s.tool_calls, 1);

        // Multi-byte chars and control characters.
        let text = format!("\u{1b}[31m{}", "é".repeat(300));
        let line = serde_json::json!({"type":"assistant","message":{"content":[{"type":"text","text":text}]}});
        let (_, acts) = read(FORMAT, None, &line.to_string());
        assert_eq!(acts[0].chars().count(), ACTIVITY_MAX);
        assert!(acts[0].starts_with("[31mé"));

        // The key order decides, not the input's order; only strings count.
        let line = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Grep","input":{"pattern":"fn main","path":["x"],"file_path":null}}]}}"#;
        let (_, acts) = read(FORMAT, None, line);
        assert_eq!(acts, ["Grep fn main"]);
    }
}
