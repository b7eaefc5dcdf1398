//! Agent output streams, read line by line into one summary (session id,
//! tool calls, text, tokens, cost, final verdict) whatever the CLI. Takes an
//! agent's stdout lines and a format (from its CLI's file, which reads the
//! events); hands on a `StreamSummary`. Unknown events and non-JSON lines
//! are counted and skipped, never fatal; never knows any one CLI's events.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// Which dialect of JSON lines an agent prints: each CLI's file has one
/// (`claude::FORMAT`, …).
#[derive(Clone, Copy)]
pub struct Format {
    /// The CLI it comes from, for messages and tests.
    pub name: &'static str,
    /// A reader for one attempt's stream.
    pub reader: fn() -> Box<dyn Reader>,
    /// Whether `models` may be priced model by model when the agent reports
    /// no cost: true when the breakdown is this attempt's own.
    pub models_priced: bool,
}

impl PartialEq for Format {
    fn eq(&self, other: &Format) -> bool {
        self.name == other.name
    }
}

impl Eq for Format {}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// One format's events, read into a summary. Implemented in each CLI's file.
pub trait Reader: Send {
    /// Reads one JSON object; returns the activity it shows, if any. What it
    /// does not understand is counted in `s.unknown_events`.
    fn event(&mut self, s: &mut StreamSummary, v: &Map<String, Value>) -> Option<String>;
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
    /// Tokens seen before the final event (Claude's per-message usage, each
    /// message counted once): live spend, and the estimate of an attempt
    /// stopped before it reported its own.
    pub live_usage: Usage,
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
    /// What the CLI said, in its own structured events, about its provider
    /// (Claude's `rate_limit_event`, `api_retry` and failed result, Gemini's
    /// error class): wins over the texts when the attempt fails.
    pub limit: Option<crate::run::limits::Signal>,
    /// The CLI said the end was its own (Claude's `terminal_reason` such as
    /// `max_turns`, Gemini's turn limit or a tool's error): no text is read
    /// for a provider signal then, so that a tool's "429 Too Many Requests"
    /// in the log is not taken for throttling.
    pub not_provider: bool,
    /// Lines that were not JSON objects.
    pub skipped_lines: u64,
    /// JSON lines of a type not understood.
    pub unknown_events: u64,
    pub(super) baseline: Baseline,
    /// The last complete assistant text (Codex `agent_message`, Gemini's
    /// message before a non-message event): a success result's message.
    pub(super) last_text: String,
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
            live_usage: Usage::default(),
            models: Vec::new(),
            session_usage: None,
            cost_usd: None,
            session_cost_usd: None,
            activity: None,
            tool_calls: 0,
            last_error: None,
            limit: None,
            not_provider: false,
            skipped_lines: 0,
            unknown_events: 0,
            baseline: baseline.unwrap_or_default(),
            last_text: String::new(),
        }
    }

    /// The tokens this attempt has used so far: its reported usage once
    /// there is one, else what its messages said as they came.
    pub fn usage_so_far(&self) -> Usage {
        if self.usage.is_zero() {
            self.live_usage
        } else {
            self.usage
        }
    }

    /// Reads one line with `reader`; returns the new activity, if the line
    /// was one.
    pub fn line(&mut self, reader: &mut dyn Reader, line: &[u8]) -> Option<String> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return None;
        }
        let Ok(Value::Object(v)) = serde_json::from_slice::<Value>(line) else {
            self.skipped_lines += 1;
            return None;
        };
        let activity = reader.event(self, &v);
        if activity.is_some() {
            self.activity.clone_from(&activity);
        }
        activity
    }
}

/// One attempt's stream as it is read: the summary so far and its format's
/// reader (which keeps what only that format needs).
pub struct StreamReader {
    pub summary: StreamSummary,
    reader: Box<dyn Reader>,
}

impl StreamReader {
    pub fn new(format: Format, baseline: Option<Baseline>) -> StreamReader {
        StreamReader {
            summary: StreamSummary::new(format, baseline),
            reader: (format.reader)(),
        }
    }

    /// Reads one line; returns the new activity, if the line was one.
    pub fn line(&mut self, line: &[u8]) -> Option<String> {
        self.summary.line(self.reader.as_mut(), line)
    }
}

// JSON fields as the readers take them: a wrong type is no value.

pub(super) fn str_at<'a>(v: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Keeps `value`, if there is one, in `field`; allocates only when it
/// changed (Claude repeats its session id on every line).
pub(super) fn set_str(field: &mut Option<String>, value: Option<&str>) {
    if let Some(value) = value
        && field.as_deref() != Some(value)
    {
        *field = Some(value.to_owned());
    }
}

/// A token count: a non-negative integer, or a float (saturating).
pub(super) fn num(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// A cost in dollars: finite and non-negative, else none.
pub(super) fn cost(v: Option<&Value>) -> Option<f64> {
    v?.as_f64().filter(|f| f.is_finite() && *f >= 0.0)
}

/// `"text"` or `{"message": "text"}`.
pub(super) fn error_message(v: Option<&Value>) -> Option<String> {
    let v = v?;
    v.as_str()
        .or_else(|| v.get("message").and_then(Value::as_str))
        .map(str::to_owned)
}

/// One entry per model that has an object, sorted by name.
pub(super) fn models_from(
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

#[cfg(test)]
pub(super) mod testing {
    //! What the stream tests of every CLI's file share.

    use super::*;

    impl StreamSummary {
        /// Success or failure from the final event; `None` when none came.
        pub(crate) fn verdict(&self) -> Option<Result<(), String>> {
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

    /// Reads every line; returns the summary and the activities in order.
    pub(crate) fn read(
        format: Format,
        baseline: Option<Baseline>,
        text: &str,
    ) -> (StreamSummary, Vec<String>) {
        let mut s = StreamReader::new(format, baseline);
        let activities = text.lines().filter_map(|l| s.line(l.as_bytes())).collect();
        (s.summary, activities)
    }

    pub(crate) fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Usage {
        Usage {
            input,
            output,
            cache_read,
            cache_write,
        }
    }

    pub(crate) fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }
}

/// Every format held to the same rules: junk and odd shapes are counted,
/// never fatal.
#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::run::agents::{claude, codex, gemini, presets};
    use proptest::prelude::*;

    /// What every preset prints: a new CLI's format is held to these rules
    /// too.
    fn formats() -> impl Iterator<Item = Format> {
        presets::PRESETS.iter().filter_map(|p| p.output())
    }

    #[test]
    fn junk_is_counted_never_fatal() {
        for format in formats() {
            let mut s = StreamReader::new(format, None);
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
            assert_eq!(s.summary.skipped_lines, 6, "{format:?}");
            assert_eq!(s.summary.unknown_events, 3, "{format:?}");
            assert_eq!(s.summary.result, None);
        }
    }

    #[test]
    fn wrong_field_types_are_ignored() {
        let (s, _) = read(
            claude::FORMAT,
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
            claude::FORMAT,
            None,
            r#"{"type":"result","is_error":false,"total_cost_usd":-3,"usage":{"input_tokens":-5,"output_tokens":1e30,"cache_read_input_tokens":2.0,"cache_creation_input_tokens":18446744073709551615}}"#,
        );
        assert_eq!(s.usage, usage(0, u64::MAX, 2, u64::MAX));
        assert_eq!(s.cost_usd, None);

        let (s, _) = read(
            codex::FORMAT,
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
            gemini::FORMAT,
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

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for format in formats() {
                StreamReader::new(format, None).line(&bytes);
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
            for format in formats() {
                let mut s = StreamReader::new(format, Some(Baseline {
                    usage: Usage { input: u64::MAX, ..Usage::default() },
                    cost_usd: Some(f64::MAX),
                }));
                s.line(line.as_bytes());
                s.line(line.as_bytes());
                let _ = s.summary.verdict();
            }
        }
    }
}
