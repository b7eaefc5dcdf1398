//! `<!-- key: value -->` hints: finding them in HTML, splitting pairs, checking values.
//!
//! Takes the text of an HTML block or inline HTML span and hands on typed
//! `Hints` with spans for errors. Decides nothing about scope: `scan` knows
//! whether a comment belongs to the file, a section or a task.

use std::time::Duration;

use crate::error::{PlanError, suggest};
use crate::taskfile::{Source, Span};

pub const KEYS: &[&str] = &[
    "after", "agent", "gate", "id", "parallel", "retries", "timeout",
];

/// How many tasks of a group may run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Parallel {
    /// `true`: no limit of its own.
    Unlimited,
    /// `false`: one at a time, in document order.
    Sequential,
    /// `N`: at most N at once, any order.
    AtMost(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// Hints given on one scope (file, section or task); inheritance is the planner's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    pub after: Vec<Spanned<String>>,
    pub agent: Option<Spanned<String>>,
    pub gate: Option<Spanned<Vec<String>>>,
    pub id: Option<Spanned<String>>,
    pub parallel: Option<Spanned<Parallel>>,
    pub retries: Option<Spanned<u32>>,
    pub timeout: Option<Spanned<Duration>>,
}

impl Hints {
    pub fn is_empty(&self) -> bool {
        *self == Hints::default()
    }

    /// Later hints win for single values; `after` accumulates.
    pub(crate) fn merge(&mut self, other: Hints) {
        self.after.extend(other.after);
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(agent, gate, id, parallel, retries, timeout);
    }
}

/// One HTML comment: where it starts and what it says about hints.
#[derive(Debug)]
pub struct Comment {
    pub offset: usize,
    pub hints: Hints,
    pub errors: Vec<(Span, PlanError)>,
    /// "did you mean" warnings for comments that only look like hints.
    pub warnings: Vec<(Span, String)>,
}

/// Every `<!-- … -->` comment in `source.text[range]`, parsed for hints.
pub fn comments_in(source: &Source, start: usize, end: usize) -> Vec<Comment> {
    let text = &source.text[start..end];
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(open) = text[pos..].find("<!--") {
        let body_start = pos + open + 4;
        let Some(close) = text[body_start..].find("-->") else {
            break;
        };
        let body_end = body_start + close;
        out.push(parse_comment(
            source,
            start + pos + open,
            start + body_start,
            start + body_end,
        ));
        pos = body_end + 3;
    }
    out
}

struct Pair<'a> {
    key: &'a str,
    key_offset: usize,
    value: &'a str,
    value_offset: usize,
}

fn parse_comment(source: &Source, offset: usize, body_start: usize, body_end: usize) -> Comment {
    let mut comment = Comment {
        offset,
        hints: Hints::default(),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let body = &source.text[body_start..body_end];
    let mut pairs = Vec::new();
    let mut prose = false;
    let mut seg_start = 0;
    for (i, c) in body.char_indices().chain([(body.len(), ';')]) {
        if c != ';' && c != '\n' {
            continue;
        }
        let seg = &body[seg_start..i];
        let lead = seg.len() - seg.trim_start().len();
        let trimmed = seg.trim();
        let at = body_start + seg_start + lead;
        seg_start = i + c.len_utf8().min(body.len() - i);
        if trimmed.is_empty() {
            continue;
        }
        match split_pair(trimmed) {
            Some((key, value, value_rel)) => pairs.push(Pair {
                key,
                key_offset: at,
                value,
                value_offset: at + value_rel,
            }),
            None => prose = true,
        }
    }
    let known = pairs.iter().any(|p| KEYS.contains(&p.key));
    if !known || prose {
        // An ordinary comment. If it is shaped like hints with a near-miss
        // key, say so: a typo must not silently drop a `parallel: false`.
        if !prose {
            for p in &pairs {
                if let Some(s) = suggest(p.key, KEYS.iter().copied()) {
                    comment.warnings.push((
                        source.span(p.key_offset, p.key.len()),
                        format!(
                            "`{}` is not a hint, so this comment is ignored; did you mean `{s}`?",
                            p.key
                        ),
                    ));
                }
            }
        } else if known {
            let p = pairs.iter().find(|p| KEYS.contains(&p.key)).unwrap();
            comment.warnings.push((
                source.span(p.key_offset, p.key.len()),
                format!(
                    "comment mixes the hint `{}` with other text, so it is ignored; keep hints in a comment of their own",
                    p.key
                ),
            ));
        }
        return comment;
    }
    for p in pairs {
        let key_span = source.span(p.key_offset, p.key.len());
        let value_span = source.span(p.value_offset, p.value.len());
        match parse_value(p.key, p.value, value_span) {
            Ok(h) => comment.hints.merge(h),
            // An unknown key or a missing value is the key's fault.
            Err(e) => comment.errors.push((
                if p.value.is_empty() || matches!(e, PlanError::UnknownHintKey { .. }) {
                    key_span
                } else {
                    value_span
                },
                e,
            )),
        }
    }
    comment
}

/// `key: value` with an identifier-like key, or None for prose.
fn split_pair(seg: &str) -> Option<(&str, &str, usize)> {
    let colon = seg.find(':')?;
    let key = seg[..colon].trim_end();
    let mut chars = key.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    let rest = &seg[colon + 1..];
    let value = rest.trim();
    let value_rel = colon + 1 + (rest.len() - rest.trim_start().len());
    Some((key, value, value_rel))
}

fn spanned<T>(value: T, span: Span) -> Spanned<T> {
    Spanned { value, span }
}

fn parse_value(key: &str, value: &str, span: Span) -> Result<Hints, PlanError> {
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
            h.parallel = Some(spanned(p, span));
        }
        "id" => {
            if !is_id(value) {
                return Err(bad(
                    "letters, digits, `.`, `_`, `-` and `/`, starting with a letter or digit",
                ));
            }
            h.id = Some(spanned(value.to_owned(), span));
        }
        "after" => {
            let mut offset = span.offset;
            for part in value.split(',') {
                let id = part.trim();
                let lead = part.len() - part.trim_start().len();
                if !is_id(id) {
                    return Err(bad("a comma-separated list of task or section ids"));
                }
                h.after.push(Spanned {
                    value: id.to_owned(),
                    span: Span {
                        offset: offset + lead,
                        len: id.len(),
                        line: span.line,
                        column: span.column + value[..offset - span.offset + lead].chars().count(),
                    },
                });
                offset += part.len() + 1;
            }
        }
        "agent" => h.agent = Some(spanned(value.to_owned(), span)),
        "timeout" => {
            let d = parse_duration(value)
                .ok_or_else(|| bad("a duration such as `90s`, `20m` or `1h30m`"))?;
            h.timeout = Some(spanned(d, span));
        }
        "retries" => {
            let n = value
                .parse::<u32>()
                .map_err(|_| bad("a whole number such as `0` or `2`"))?;
            h.retries = Some(spanned(n, span));
        }
        "gate" => {
            let words = shell_words::split(value)
                .ok()
                .filter(|w| !w.is_empty())
                .ok_or_else(|| bad("a command line with balanced quotes"))?;
            h.gate = Some(spanned(words, span));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn comments(text: &str) -> Vec<Comment> {
        let s = Source::new("t.md".into(), text.into(), 0);
        comments_in(&s, 0, text.len())
    }

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

    #[test]
    fn pairs_split_on_semicolons_and_newlines() {
        let c = comments("<!-- parallel: 2; id: build\nafter: a, b -->");
        assert_eq!(c.len(), 1);
        let h = &c[0].hints;
        assert_eq!(h.parallel.as_ref().unwrap().value, Parallel::AtMost(2));
        assert_eq!(h.id.as_ref().unwrap().value, "build");
        let after: Vec<_> = h.after.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(after, ["a", "b"]);
        assert_eq!(h.after[1].span.line, 2);
        assert_eq!(h.after[1].span.column, 11);
    }

    #[test]
    fn prose_comments_are_not_hints() {
        let c = comments("<!-- TODO: fix this later -->\n<!-- ANCHOR:phase-1 -->");
        assert!(
            c.iter()
                .all(|c| c.hints.is_empty() && c.errors.is_empty() && c.warnings.is_empty())
        );
    }

    #[test]
    fn near_miss_keys_warn() {
        let c = comments("<!-- paralel: false -->");
        assert!(c[0].hints.is_empty());
        assert!(
            c[0].warnings[0].1.contains("did you mean `parallel`"),
            "{:?}",
            c[0].warnings
        );
    }

    #[test]
    fn unknown_key_beside_a_hint_is_an_error() {
        let c = comments("<!-- id: a; ater: b -->");
        assert_eq!(
            c[0].errors[0].1,
            PlanError::UnknownHintKey {
                key: "ater".into(),
                suggestion: Some("after".into())
            }
        );
    }

    #[test]
    fn bad_values_are_errors_at_the_value() {
        let c = comments("x <!-- timeout: soon -->");
        let (span, err) = &c[0].errors[0];
        assert_eq!(span.column, 17);
        assert!(matches!(err, PlanError::BadHintValue { key, .. } if key == "timeout"));
        for bad in [
            "parallel: 0",
            "parallel: maybe",
            "retries: -1",
            "gate: 'open",
            "id: -x",
            "after: a,,b",
        ] {
            let c = comments(&format!("<!-- {bad} -->"));
            assert_eq!(c[0].errors.len(), 1, "{bad}");
        }
    }

    #[test]
    fn gate_is_split_like_a_shell_without_one() {
        let c = comments("<!-- gate: cargo test -- --exact 'a b' -->");
        assert_eq!(
            c[0].hints.gate.as_ref().unwrap().value,
            ["cargo", "test", "--", "--exact", "a b"]
        );
    }
}
