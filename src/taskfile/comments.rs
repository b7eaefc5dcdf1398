//! Hint comments: `<!-- key: value -->` and ```` ```gate ```` blocks in a
//! slice of the source → `Comment`s holding `Hints` or the errors that say,
//! at the token's line and column, what is wrong (with near misses of a key
//! caught, never ignored). Never decides which scope a comment belongs to:
//! the document does.

use crate::error::{PlanError, suggest};
use crate::taskfile::Source;
use crate::taskfile::hint_values::parse_value;
use crate::taskfile::hints::*;

/// Every `<!-- … -->` comment in `source.text[range]`, parsed for hints.
pub fn comments_in(source: &Source, start: usize, end: usize) -> Vec<Comment> {
    let text = &source.text[start..end];
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(open) = memchr::memmem::find(&text.as_bytes()[pos..], b"<!--") {
        let body_start = pos + open + 4;
        let Some(close) = memchr::memmem::find(&text.as_bytes()[body_start..], b"-->") else {
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

/// A ```` ```gate ```` block: `command` is its content, `offset` where its
/// opening fence starts and `fence_len` how long the fence and info string are.
pub fn gate_block(source: &Source, offset: usize, fence_len: usize, command: &str) -> Comment {
    let span = source.span(offset, fence_len);
    let mut comment = Comment {
        offset,
        hints: TaskHints::default(),
        errors: Vec::new(),
    };
    // A CR alone ends a line for Markdown, not for `sh`.
    let command = command.replace("\r\n", "\n").replace('\r', "\n");
    if command.trim().is_empty() {
        comment.errors.push((span, PlanError::EmptyGateBlock));
    } else if command.contains('\0') {
        let at = (source.text[offset..].find('\0')).map_or(span, |i| source.span(offset + i, 1));
        comment.errors.push((
            at,
            PlanError::NulByte {
                what: "this ```gate block".into(),
            },
        ));
    } else {
        comment.hints.gate = Some(Box::new(Spanned {
            value: Gate {
                command: command.trim_end_matches('\n').to_owned(),
                block: true,
                line: span.line(),
            },
            span,
        }));
    }
    comment
}

struct Pair<'a> {
    key: &'a str,
    key_offset: usize,
    value: &'a str,
    value_offset: usize,
}

/// One part of a comment, between `;` and line breaks.
enum Part<'a> {
    /// `key: value` with an identifier-like key.
    Pair(Pair<'a>),
    /// `key=value` or `key = value`, where the key is a hint key or a near
    /// miss of one.
    Equals { key: &'a str, value: &'a str },
    /// Anything else.
    Prose,
}

fn parse_comment(source: &Source, offset: usize, body_start: usize, body_end: usize) -> Comment {
    let mut comment = Comment {
        offset,
        hints: TaskHints::default(),
        errors: Vec::new(),
    };
    let body = &source.text[body_start..body_end];
    // (part, its trimmed text, where that starts, whether a `gate` pair
    // comes just before it)
    let mut parts = Vec::new();
    let mut seg_start = 0;
    let mut after_gate = false;
    // LF, CR (alone or in CRLF) and `;` end a part.
    for (i, c) in body.char_indices().chain([(body.len(), ';')]) {
        if !matches!(c, ';' | '\n' | '\r') {
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
        let part = match split_pair(trimmed) {
            Some((key, value, value_rel)) => Part::Pair(Pair {
                key,
                key_offset: at,
                value,
                value_offset: at + value_rel,
            }),
            None => match split_equals(trimmed) {
                Some((key, value)) => Part::Equals { key, value },
                None => Part::Prose,
            },
        };
        let gate_before = after_gate;
        after_gate = matches!(&part, Part::Pair(p) if p.key == "gate");
        parts.push((part, trimmed, at, gate_before));
    }
    let known = (parts.iter()).any(|(p, ..)| matches!(p, Part::Pair(p) if KEYS.contains(&p.key)));
    let mut prose_reported = false;
    // Spans are found only where they are kept: errors are rare.
    for (part, text, at, gate_before) in parts {
        let text_span = || source.span(at, text.len());
        match part {
            Part::Pair(p) if known => {
                let key_span = || source.span(p.key_offset, p.key.len());
                let value_span = source.span(p.value_offset, p.value.len());
                match parse_value(p.key, p.value, value_span) {
                    Ok(h) => {
                        if let Some((span, first_line)) = comment.hints.merge(h) {
                            comment.errors.push((
                                span,
                                PlanError::SecondGate {
                                    place: "in this comment",
                                    first_line,
                                },
                            ));
                        }
                    }
                    // An unknown key or a missing value is the key's fault.
                    Err(e) => comment.errors.push((
                        if p.value.is_empty() || matches!(e, PlanError::UnknownHintKey { .. }) {
                            key_span()
                        } else {
                            value_span
                        },
                        e,
                    )),
                }
            }
            // Without a hint key, a comment is an ordinary one unless a key
            // is a near miss of a hint key: a typo must not silently drop a
            // `parallel: false`.
            Part::Pair(p) => {
                if let Some(s) = near_miss(p.key) {
                    comment.errors.push((
                        source.span(p.key_offset, p.key.len()),
                        PlanError::NotAHintKey {
                            key: p.key.to_owned(),
                            suggestion: s.to_owned(),
                        },
                    ));
                }
            }
            Part::Equals { key, value } => comment.errors.push((
                text_span(),
                PlanError::HintWithEquals {
                    written: text.to_owned(),
                    fix: format!("{}: {value}", near_miss(key).unwrap_or(key)),
                },
            )),
            Part::Prose if known && !prose_reported => {
                prose_reported = true;
                comment.errors.push((
                    text_span(),
                    PlanError::ProseInHints {
                        text: text.to_owned(),
                        after_gate: gate_before,
                    },
                ));
            }
            Part::Prose => {}
        }
    }
    comment
}

/// `key: value` with an identifier-like key, or None for prose.
fn split_pair(seg: &str) -> Option<(&str, &str, usize)> {
    let colon = seg.find(':')?;
    let key = seg[..colon].trim_end();
    if !is_key(key) {
        return None;
    }
    let rest = &seg[colon + 1..];
    let value = rest.trim();
    let value_rel = colon + 1 + (rest.len() - rest.trim_start().len());
    Some((key, value, value_rel))
}

/// `key=value` (or `key = value`) whose key is a hint key or a near miss
/// of one; other text with `=` in it is prose.
fn split_equals(seg: &str) -> Option<(&str, &str)> {
    let (key, value) = seg.split_once('=')?;
    let key = key.trim_end();
    (is_key(key) && (KEYS.contains(&key) || near_miss(key).is_some())).then(|| (key, value.trim()))
}

/// An ASCII letter, then letters, digits, `_` and `-`.
fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The hint key that `key` is a near miss of: the same key in another case,
/// with `_` or `-` in it, or in the plural (`Parallel`, `time-out`,
/// `retry`, `gates`); or one or two letters off with the same first letter
/// (`paralel`, `timout`, `agnet`). Words that only look alike (`date` for
/// `gate`, `state`) are not near misses.
pub(crate) fn near_miss(key: &str) -> Option<&'static str> {
    fn norm(s: &str) -> String {
        let s = s.to_ascii_lowercase().replace(['_', '-'], "");
        if let Some(stem) = s.strip_suffix("ies") {
            format!("{stem}y")
        } else {
            s.strip_suffix('s').map_or_else(|| s.clone(), str::to_owned)
        }
    }
    let n = norm(key);
    if let Some(k) = KEYS.iter().find(|k| norm(k) == n) {
        return Some(k);
    }
    let first = key.chars().next()?.to_ascii_lowercase();
    let close = suggest(
        key,
        FUZZY_KEYS.iter().copied().filter(|k| k.starts_with(first)),
    )?;
    FUZZY_KEYS.iter().copied().find(|k| *k == close)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn comments(text: &str) -> Vec<Comment> {
        let s = Source::new("t.md".into(), text.into(), 0);
        comments_in(&s, 0, text.len())
    }

    /// The errors of the first comment in `text`, as (column, error).
    fn errors(text: &str) -> Vec<(usize, PlanError)> {
        let c = comments(text);
        c[0].errors
            .iter()
            .map(|(s, e)| (s.column(), e.clone()))
            .collect()
    }

    #[test]
    fn pairs_split_on_semicolons_and_line_breaks() {
        let c = comments("<!-- parallel: 2; id: build\nafter: a, b -->");
        assert_eq!(c.len(), 1);
        let h = &c[0].hints;
        assert_eq!(h.parallel.as_ref().unwrap().value, Parallel::AtMost(2));
        assert_eq!(h.id.as_ref().unwrap().value, "build");
        let after: Vec<_> = h.after.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(after, ["a", "b"]);
        assert_eq!(h.after[1].span.line(), 2);
        assert_eq!(h.after[1].span.column(), 11);
    }

    #[test]
    fn a_cr_alone_ends_a_pair_too() {
        for eol in ["\r", "\r\n"] {
            let c = comments(&format!("<!--{eol}agent: shell{eol}retries: 1{eol}-->"));
            assert!(c[0].errors.is_empty(), "{:?}", c[0].errors);
            assert_eq!(c[0].hints.agent.as_ref().unwrap().value, "shell");
            assert_eq!(c[0].hints.retries.as_ref().unwrap().value, 1);
            assert_eq!(c[0].hints.retries.as_ref().unwrap().span.line(), 3);
        }
    }

    #[test]
    fn prose_comments_are_not_hints() {
        let c = comments(
            "<!-- TODO: fix this later -->\n<!-- ANCHOR:phase-1 -->\n\
             <!-- markdownlint-disable MD013 -->\n<!-- prettier-ignore -->\n\
             <!-- date: 2024-05-01; state: draft -->\n<!-- x = 1 -->\n\
             <!--\n  WHAT: the plan\n  WHY: focus\n-->",
        );
        assert!(c.iter().all(|c| c.hints.is_empty() && c.errors.is_empty()));
    }

    #[test]
    fn near_misses_are_errors() {
        for (text, key, want) in [
            ("<!-- paralel: false -->", "paralel", "parallel"),
            ("<!-- Parallel: 3 -->", "Parallel", "parallel"),
            ("<!-- retry: 2 -->", "retry", "retries"),
            ("<!-- gates: make -->", "gates", "gate"),
            ("<!-- time-out: 5m -->", "time-out", "timeout"),
            ("<!-- TODO: x\ntimout: 5m -->", "timout", "timeout"),
        ] {
            let e = errors(text);
            assert_eq!(e.len(), 1, "{text}: {e:?}");
            assert_eq!(
                e[0].1,
                PlanError::NotAHintKey {
                    key: key.into(),
                    suggestion: want.into()
                },
                "{text}"
            );
        }
    }

    #[test]
    fn an_equals_sign_instead_of_a_colon_is_an_error() {
        assert_eq!(
            errors("<!-- parallel=false -->"),
            [(
                6,
                PlanError::HintWithEquals {
                    written: "parallel=false".into(),
                    fix: "parallel: false".into()
                }
            )]
        );
        assert_eq!(
            errors("<!-- id: a; paralel = 2 -->")[0].1,
            PlanError::HintWithEquals {
                written: "paralel = 2".into(),
                fix: "parallel: 2".into()
            }
        );
    }

    #[test]
    fn prose_beside_a_hint_is_an_error() {
        assert_eq!(
            errors("<!-- gate: test -f a; test -f b -->"),
            [(
                23,
                PlanError::ProseInHints {
                    text: "test -f b".into(),
                    after_gate: true
                }
            )]
        );
        assert_eq!(
            errors("<!-- note this; parallel: 2 -->"),
            [(
                6,
                PlanError::ProseInHints {
                    text: "note this".into(),
                    after_gate: false
                }
            )]
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
    fn escalations_accumulate_and_bad_ones_say_what_is_expected() {
        let c = comments(
            "x <!-- escalate: 2 timeout=40m; escalate: 3 agent=\"claude --model opus\" -->",
        );
        assert!(c[0].errors.is_empty(), "{:?}", c[0].errors);
        let steps: Vec<&Escalation> = c[0].hints.escalate.iter().map(|e| &e.value).collect();
        assert_eq!(
            steps,
            [
                &Escalation {
                    from: 2,
                    agent: None,
                    timeout: Some(Duration::from_secs(40 * 60)),
                },
                &Escalation {
                    from: 3,
                    agent: Some("claude --model opus".into()),
                    timeout: None,
                },
            ]
        );
        for bad in [
            "escalate: 1 timeout=40m",
            "escalate: 2",
            "escalate: timeout=40m",
            "escalate: 2 model=opus",
            "escalate: 2 timeout=soon",
            "escalate: 2 agent='claude",
            "escalate: 2 timeout=1m timeout=2m",
        ] {
            let e = errors(&format!("x <!-- {bad} -->"));
            assert!(
                matches!(&e[..], [(_, PlanError::BadHintValue { key, .. })] if key == "escalate"),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn bad_values_are_errors_at_the_value() {
        let c = comments("x <!-- timeout: soon -->");
        let (span, err) = &c[0].errors[0];
        assert_eq!(span.column(), 17);
        assert!(matches!(err, PlanError::BadHintValue { key, .. } if key == "timeout"));
        for bad in [
            "parallel: 0",
            "parallel: maybe",
            "retries: -1",
            "gate: 'open",
            "agent: claude --model 'x",
            "agent: ''",
            "gate: make\0",
            "id: -x",
            "after: a,,b",
        ] {
            let c = comments(&format!("<!-- {bad} -->"));
            assert_eq!(c[0].errors.len(), 1, "{bad}");
        }
    }

    #[test]
    fn pipeline_order_and_track_hints() {
        let c = comments("<!-- pipeline: tracks; order: graph; track: 2. Backend API -->");
        assert!(c[0].errors.is_empty(), "{:?}", c[0].errors);
        let h = &c[0].hints;
        assert_eq!(h.pipeline.as_ref().unwrap().value, Pipeline::Tracks);
        assert_eq!(h.order.as_ref().unwrap().value, Order::Graph);
        assert_eq!(h.track.as_ref().unwrap().value, "2. Backend API");
        for bad in ["pipeline: lanes", "order: random"] {
            assert!(
                matches!(
                    errors(&format!("<!-- {bad} -->"))[..],
                    [(_, PlanError::BadHintValue { .. })]
                ),
                "{bad}"
            );
        }
        // Case and plural still count as near misses; ordinary words that
        // are two letters off do not.
        assert_eq!(errors("<!-- Order: graph -->").len(), 1);
        assert_eq!(errors("<!-- tracks: a -->").len(), 1);
        for prose in [
            "<!-- owner: me -->",
            "<!-- trace: on -->",
            "<!-- pipe: x -->",
        ] {
            assert!(comments(prose)[0].errors.is_empty(), "{prose}");
        }
    }

    #[test]
    fn a_gate_is_the_command_as_written() {
        let c = comments("<!-- gate: test -f out.txt && grep -q 'o k' out.txt | cat -->");
        let gate = &c[0].hints.gate.as_ref().unwrap().value;
        assert_eq!(
            gate.command,
            "test -f out.txt && grep -q 'o k' out.txt | cat"
        );
        assert!(!gate.block);
    }

    #[test]
    fn two_gates_in_one_comment_are_an_error() {
        let e = errors("<!-- gate: a; gate: b -->");
        assert_eq!(
            e,
            [(
                21,
                PlanError::SecondGate {
                    place: "in this comment",
                    first_line: 1
                }
            )]
        );
    }

    #[test]
    fn gate_blocks() {
        let s = Source::new(
            "t.md".into(),
            "```gate\r\nset -e\r\nmake\r\n```\r\n".into(),
            0,
        );
        let c = gate_block(&s, 0, 7, "set -e\r\nmake\r\n");
        let gate = c.hints.gate.clone().unwrap().value;
        assert_eq!(gate.command, "set -e\nmake");
        assert!(gate.block);
        assert_eq!(gate.summary(), "set -e …");
        assert_eq!(
            gate_block(&s, 0, 7, " \n").errors[0].1,
            PlanError::EmptyGateBlock
        );
    }
}
