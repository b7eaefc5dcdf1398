//! Hint values: the text after `key:` → a typed value in `Hints`, or the
//! error saying what the key expects. Knows nothing of comments or scopes.

use std::time::Duration;

use crate::error::{PlanError, suggest};
use crate::taskfile::Span;
use crate::taskfile::hints::{Escalation, Gate, Hints, KEYS, Order, Parallel, Pipeline, Spanned};
use crate::taskfile::source::chars_in;

fn spanned<T>(value: T, span: Span) -> Spanned<T> {
    Spanned { value, span }
}

pub(crate) fn parse_value(key: &str, value: &str, span: Span) -> Result<Hints, PlanError> {
    let bad = |expected| PlanError::BadHintValue {
        key: key.to_owned(),
        value: value.to_owned(),
        expected,
    };
    if value.is_empty() {
        return Err(PlanError::EmptyHint {
            key: key.to_owned(),
        });
    }
    if value.contains('\0') && KEYS.contains(&key) {
        return Err(PlanError::NulByte {
            what: format!("the `{key}` hint"),
        });
    }
    let mut h = Hints::default();
    match key {
        "parallel" => {
            let p = match value {
                "true" => Parallel::Unlimited,
                "false" => Parallel::Sequential,
                n => match n.parse::<usize>() {
                    Ok(n) if n > 0 => Parallel::AtMost(n),
                    _ => {
                        return Err(bad(
                            "`true`, `false` or a number of tasks at once (1 or more)",
                        ));
                    }
                },
            };
            h.parallel = Some(Box::new(spanned(p, span)));
        }
        "id" => {
            if !is_id(value) {
                return Err(bad(
                    "letters, digits, `.`, `_`, `-` and `/`, starting with a letter or digit",
                ));
            }
            h.id = Some(Box::new(spanned(value.to_owned(), span)));
        }
        "after" => {
            for (id, at) in list_parts(value, span) {
                if !is_id(id) {
                    return Err(bad("a comma-separated list of task or section ids"));
                }
                h.after.push(spanned(id.to_owned(), at));
            }
        }
        "files" => {
            for (glob, at) in list_parts(value, span) {
                if glob.is_empty() {
                    return Err(bad("a comma-separated list of paths or globs"));
                }
                let outside = glob.starts_with('/')
                    || glob.split('/').any(|c| c == "..")
                    || glob.contains('\\');
                if outside || globset::Glob::new(glob).is_err() {
                    return Err(PlanError::BadHintValue {
                        key: key.to_owned(),
                        value: glob.to_owned(),
                        expected: "paths or globs relative to the working folder, such as `src/parser.rs` or `src/parser/**`, separated by commas",
                    });
                }
                h.files.push(spanned(glob.to_owned(), at));
            }
        }
        "isolate" => {
            let on = match value {
                "worktree" => true,
                "none" => false,
                _ => return Err(bad("`worktree` or `none`")),
            };
            h.isolate = Some(spanned(on, span));
        }
        "agent" => {
            // Only the splitting is checked here; whether the program
            // exists is the runner's check.
            let words = shell_words::split(value).unwrap_or_default();
            if words.first().is_none_or(String::is_empty) {
                return Err(bad("an agent name or a command line with balanced quotes"));
            }
            h.agent = Some(Box::new(spanned(value.to_owned(), span)));
        }
        "pipeline" => {
            let p = match value {
                "tracks" => Pipeline::Tracks,
                "waves" => Pipeline::Waves,
                _ => return Err(bad("`tracks` or `waves`")),
            };
            h.pipeline = Some(spanned(p, span));
        }
        "order" => {
            let o = match value {
                "graph" => Order::Graph,
                "waves" => Order::Waves,
                _ => return Err(bad("`graph` (phases are advisory) or `waves`")),
            };
            h.order = Some(spanned(o, span));
        }
        "track" => {
            if value.contains(['<', '>']) {
                return Err(bad("the title of a module in the wave before, or a name"));
            }
            h.track = Some(spanned(value.to_owned(), span));
        }
        "escalate" => {
            let e = parse_escalation(value).ok_or_else(|| {
                bad("the attempt it starts from (2 or more), then `agent=NAME` and/or `timeout=DURATION`, e.g. `2 agent=\"claude --model opus\" timeout=40m`")
            })?;
            h.escalate.push(spanned(e, span));
        }
        "judge" => {
            let words = shell_words::split(value).unwrap_or_default();
            if words.first().is_none_or(String::is_empty) {
                return Err(bad("an agent name or a command line with balanced quotes"));
            }
            h.judge = Some(spanned(value.to_owned(), span));
        }
        "timeout" => {
            let d = parse_duration(value)
                .ok_or_else(|| bad("a duration such as `90s`, `20m` or `1h30m`"))?;
            h.timeout = Some(Box::new(spanned(d, span)));
        }
        "retries" => {
            let n = value
                .parse::<u32>()
                .map_err(|_| bad("a whole number such as `0` or `2`"))?;
            h.retries = Some(spanned(n, span));
        }
        "gate" => {
            // Run with `sh -c`, never split; a quote left open is a mistake
            // `sh` would only report after the agent's work was done.
            if shell_words::split(value).is_err() {
                return Err(bad("a shell command with balanced quotes"));
            }
            let gate = Gate {
                command: value.to_owned(),
                block: false,
                line: span.line(),
            };
            h.gate = Some(Box::new(spanned(gate, span)));
        }
        _ => {
            return Err(PlanError::UnknownHintKey {
                key: key.to_owned(),
                suggestion: suggest(key, KEYS.iter().copied()),
            });
        }
    }
    Ok(h)
}

/// `2 agent="claude --model opus" timeout=40m`: words split as a shell
/// would (quotes keep an agent's command line together), never run.
pub fn parse_escalation(value: &str) -> Option<Escalation> {
    let words = shell_words::split(value).ok()?;
    let (first, rest) = words.split_first()?;
    let from = first.parse::<u32>().ok().filter(|&n| n >= 2)?;
    let mut e = Escalation {
        from,
        agent: None,
        timeout: None,
    };
    for word in rest {
        match word.split_once('=')? {
            ("agent", a) if !a.trim().is_empty() && e.agent.is_none() => {
                shell_words::split(a).ok()?;
                e.agent = Some(a.to_owned());
            }
            ("timeout", t) if e.timeout.is_none() => e.timeout = Some(parse_duration(t)?),
            _ => return None,
        }
    }
    (e.agent.is_some() || e.timeout.is_some()).then_some(e)
}

pub fn is_id(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphanumeric())
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

/// `90s`, `20m`, `1h30m`, `500ms`, `2h`: one or more number-unit pairs.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let d = match &rest[..unit] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60)?),
            "h" => Duration::from_secs(n.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(d)?;
        rest = &rest[unit..];
    }
    (!total.is_zero()).then_some(total)
}

/// The parts of a comma-separated value, trimmed, each with its span
/// (`span` is the value's).
fn list_parts(value: &str, span: Span) -> impl Iterator<Item = (&str, Span)> {
    let mut at = 0;
    value.split(',').map(move |part| {
        let lead = part.len() - part.trim_start().len();
        let trimmed = part.trim();
        let column = span.column() + chars_in(&value[..at + lead]);
        let part_span = Span::new(
            span.offset() + at + lead,
            trimmed.len(),
            span.line(),
            column,
        );
        at += part.len() + 1;
        (trimmed, part_span)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("90"), None);
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("m"), None);
    }
}
