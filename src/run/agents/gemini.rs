//! Gemini CLI, `gemini --output-format stream-json -p <prompt>`. Takes a
//! setup and an invocation; hands on its command line (the prompt as an
//! argument), its environment, the reader of its stream and list prices of
//! Google's models. Never starts it and never judges it.
//!
//! Resume: `--resume <id>`. A refused resume ends before `init`, so the
//! attempt never counts as `session_started`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::run::agents::activity::{clip, tool_activity};
use crate::run::agents::cli::{Cli, Invocation, Permissions, PromptVia, Setup, push};
use crate::run::agents::stream::{
    Format, Reader, StreamResult, StreamSummary, Usage, error_message, models_from, num, set_str,
    str_at,
};
use crate::run::limits::{Kind, Signal};
use crate::run::price::ListPrice;
use crate::run::providers::Pace;

#[derive(Debug)]
pub struct Gemini;

/// Its `--approval-mode`.
const PERMISSIONS: Permissions = Permissions {
    flag: "--approval-mode",
    accepted: &["default", "auto_edit", "yolo", "plan"],
    // Edit files in the working folder, nothing riskier.
    default: "auto_edit",
};

/// How Gemini CLI words a failure that is not the task's
/// (`packages/core/src/utils/googleQuotaErrors.ts`); its error class, read
/// by the stream reader, comes first.
const LIMIT_WORDING: &[(Kind, &str)] = &[
    (Kind::Auth, r"(?i)API_KEY_INVALID"),
    (
        Kind::Limit,
        r"(?i)you have exhausted your (?:daily )?quota|quota will reset after|QUOTA_EXHAUSTED",
    ),
    (
        Kind::Throttled,
        r"(?i)RATE_LIMIT_EXCEEDED|RESOURCE_EXHAUSTED",
    ),
];

/// Google's list prices as of 2025, USD per million tokens (see
/// `ListPrice`). Gemini 2.5 Pro is billed more above 200k prompt tokens;
/// this is the lower tier.
const LIST_PRICES: &[ListPrice] = &[
    ("gemini-2.5-pro", 1.25, 0.31, 10.0, None),
    ("gemini-2.5-flash", 0.30, 0.075, 2.50, None),
    ("gemini-2.5-flash-lite", 0.10, 0.025, 0.40, None),
];

/// The longest prompt passed as an argument (Linux caps one argument at
/// 128 KiB).
const MAX_PROMPT_ARG: usize = 120 * 1024;

/// Bound on the accumulated assistant text: only its first line is shown.
const TEXT_MAX: usize = 4096;

pub const FORMAT: Format = Format {
    name: "gemini",
    reader: || Box::<GeminiReader>::default(),
    models_priced: true,
};

impl Cli for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn program<'a>(&self, _: &Setup<'a>) -> &'a str {
        "gemini"
    }

    fn argv(&self, s: &Setup, inv: &Invocation) -> Result<Vec<String>, String> {
        let mut argv = Vec::new();
        push(&mut argv, &["gemini", "--output-format", "stream-json"]);
        s.push_settings(&mut argv, "-m", &PERMISSIONS, Some("--allowed-tools"));
        if let Some(id) = inv.resume {
            push(&mut argv, &["--resume", id]);
        }
        s.push_args(&mut argv);
        let prompt = inv.prompt.unwrap_or_default();
        if prompt.len() > MAX_PROMPT_ARG {
            return Err(format!(
                "the prompt is {} KiB, more than gemini takes as its `-p` argument ({} KiB); shorten the task's text or use --template",
                prompt.len() / 1024,
                MAX_PROMPT_ARG / 1024
            ));
        }
        argv.push("-p".into());
        argv.push(prompt.to_owned());
        Ok(argv)
    }

    fn output(&self) -> Option<Format> {
        Some(FORMAT)
    }

    fn install(&self) -> Option<(&'static str, &'static str)> {
        Some(("Gemini CLI", "@google/gemini-cli"))
    }

    fn permissions(&self) -> Option<&'static Permissions> {
        Some(&PERMISSIONS)
    }

    fn prompt_via(&self) -> PromptVia {
        PromptVia::Argument
    }

    fn env_add(&self, _: &Setup, env: &mut BTreeMap<String, String>) {
        // Headless Gemini refuses a folder it has not been told to trust;
        // run-batch runs agents in the folder the person chose.
        if std::env::var_os("GEMINI_CLI_TRUST_WORKSPACE").is_none() {
            env.insert("GEMINI_CLI_TRUST_WORKSPACE".into(), "true".into());
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

// The stream: `init` starts the session, `message` deltas make the text,
// `tool_use` shows tool calls, `result` is the verdict with tokens by model.

#[derive(Default)]
struct GeminiReader {
    /// The assistant's text of the current message, delta chunks joined.
    text: String,
}

impl Reader for GeminiReader {
    fn event(&mut self, s: &mut StreamSummary, v: &Map<String, Value>) -> Option<String> {
        let kind = str_at(v, "type");
        if kind != Some("message") {
            self.end_text(s);
        }
        match kind {
            Some("init") => {
                s.session_started = true;
                set_str(&mut s.session_id, str_at(v, "session_id"));
                set_str(&mut s.model, str_at(v, "model"));
                None
            }
            Some("message") => self.message(s, v),
            Some("tool_use") => {
                s.tool_calls += 1;
                tool_activity(str_at(v, "tool_name"), v.get("parameters"))
            }
            Some("tool_result") => {
                if str_at(v, "status") == Some("error")
                    && let Some(m) = error_message(v.get("error"))
                {
                    s.last_error = Some(m);
                }
                None
            }
            // Warnings and soft errors (loop detected, turn limit): the
            // result decides.
            Some("error") => {
                set_str(&mut s.last_error, str_at(v, "message"));
                None
            }
            Some("result") => {
                result(s, v);
                None
            }
            _ => {
                s.unknown_events += 1;
                None
            }
        }
    }
}

impl GeminiReader {
    fn message(&mut self, s: &mut StreamSummary, v: &Map<String, Value>) -> Option<String> {
        if str_at(v, "role") != Some("assistant") {
            self.end_text(s);
            return None;
        }
        let content = str_at(v, "content")?;
        if v.get("delta").and_then(Value::as_bool) != Some(true) {
            // A whole message replaces whatever was being streamed.
            self.end_text(s);
        }
        push_bounded(&mut self.text, content, TEXT_MAX);
        let activity = clip(&self.text);
        // Most chunks only extend the text past its first line.
        if activity == s.activity {
            return None;
        }
        activity
    }

    /// The assistant's current message is over: keep it as the last text.
    fn end_text(&mut self, s: &mut StreamSummary) {
        if !self.text.is_empty() {
            s.last_text = std::mem::take(&mut self.text);
        }
    }
}

fn result(s: &mut StreamSummary, v: &Map<String, Value>) {
    let status = str_at(v, "status");
    let is_error = status != Some("success");
    let message = if is_error {
        error_message(v.get("error"))
            .or_else(|| s.last_error.clone())
            .unwrap_or_default()
    } else {
        s.last_text.clone()
    };
    if let Some(stats) = v.get("stats").and_then(Value::as_object) {
        s.usage = gemini_usage(stats).saturating_sub(s.baseline.usage);
        if let Some(models) = stats.get("models").and_then(Value::as_object) {
            s.models = models_from(models, gemini_usage);
        }
    }
    if is_error {
        error_class(
            s,
            v.get("error")
                .and_then(|e| e.get("type"))
                .and_then(Value::as_str),
        );
    }
    s.result = Some(StreamResult {
        is_error,
        subtype: status.unwrap_or("").to_owned(),
        message,
    });
}

/// What a fatal error's class says (`packages/core/src/utils/errors.ts` and
/// `googleQuotaErrors.ts` in Gemini CLI's sources): a terminal quota is a
/// usage window (its reset is in the message, read with the texts), a
/// retryable one the burst limiter; the `Fatal…` classes other than auth
/// are the CLI's own ends (turn limit, a tool, the sandbox, bad input).
fn error_class(s: &mut StreamSummary, class: Option<&str>) {
    match class {
        Some("TerminalQuotaError") => {
            s.limit = Some(Signal::Limited {
                reset: None,
                window: None,
            })
        }
        Some("RetryableQuotaError") => s.limit = Some(Signal::Throttled),
        Some("FatalAuthenticationError") => s.limit = Some(Signal::Auth),
        Some(c) if c.starts_with("Fatal") => s.not_provider = true,
        _ => {}
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
    use crate::config::Config;
    use crate::run::agents::AgentSpec;
    use crate::run::agents::stream::testing::*;

    #[test]
    fn gemini_takes_its_prompt_as_an_argument() {
        let s = AgentSpec::parse("gemini", &Config::default(), &[], None).unwrap();
        let inv = Invocation {
            prompt: Some("do it"),
            resume: Some("s1"),
            ..Invocation::default()
        };
        assert_eq!(s.prompt_via(), PromptVia::Argument);
        assert_eq!(
            s.argv(&inv).unwrap().join(" "),
            "gemini --output-format stream-json --approval-mode auto_edit --resume s1 -p do it"
        );
        let huge = "x".repeat(MAX_PROMPT_ARG + 1);
        let inv = Invocation {
            prompt: Some(&huge),
            ..Invocation::default()
        };
        assert!(s.argv(&inv).unwrap_err().contains("KiB"));
    }

    #[test]
    fn gemini_success() {
        let (s, acts) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/gemini/stream_success.jsonl"),
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
            FORMAT,
            None,
            include_str!("../../../fixtures/gemini/stream_error.jsonl"),
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
            FORMAT,
            None,
            include_str!("../../../fixtures/gemini/stream_max_turns.jsonl"),
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
        let (s, _) = read(FORMAT, None, &lines.join("\n"));
        assert_eq!(s.result, None);
        assert_eq!(s.last_error.as_deref(), Some("Loop detected"));
    }

    #[test]
    fn gemini_error_classes() {
        // Written from Gemini CLI's sources (googleQuotaErrors.ts and the
        // stream-json result), not captured: there is no gemini binary here.
        let (s, _) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/gemini/stream_quota.jsonl"),
        );
        assert_eq!(
            s.limit,
            Some(Signal::Limited {
                reset: None,
                window: None
            })
        );
        assert!(
            s.verdict()
                .unwrap()
                .unwrap_err()
                .contains("reset after 2h36m24s")
        );
        let (s, _) = read(
            FORMAT,
            None,
            include_str!("../../../fixtures/gemini/stream_max_turns.jsonl"),
        );
        assert!(s.not_provider, "the turn limit is the CLI's own end");
        assert_eq!(s.limit, None);
        for (class, want) in [
            ("RetryableQuotaError", Some(Signal::Throttled)),
            ("FatalAuthenticationError", Some(Signal::Auth)),
            ("Error", None),
        ] {
            let line = format!(
                r#"{{"type":"result","status":"error","error":{{"type":"{class}","message":"x"}}}}"#
            );
            let (s, _) = read(FORMAT, None, &line);
            assert_eq!(s.limit, want, "{class}");
        }
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
        let (s, acts) = read(FORMAT, None, &lines.join("\n"));
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
        let mut r = GeminiReader::default();
        let mut s = StreamSummary::new(FORMAT, None);
        let chunk = serde_json::json!({"type":"message","role":"assistant","content":"é".repeat(1000),"delta":true});
        for _ in 0..10 {
            s.line(&mut r, chunk.to_string().as_bytes());
        }
        assert!(r.text.len() <= TEXT_MAX);
        assert!(r.text.len() >= TEXT_MAX - 1);
    }
}
