//! ```` ```checkpoint ```` blocks: mid-task gates, read from a fenced block's
//! info string (`when=MARKER` or `every=DURATION`, optional `then=tell`) and
//! its content (the command, run with `sh -c`).
//!
//! Takes the fence's place in the source and the block's text; hands on a
//! `Comment` holding one `Checkpoint` or the errors that say, at the token's
//! line and column, what is wrong. Decides nothing about scope (`scan` and the
//! document do) and never runs anything (`run::checkpoint` does).

use crate::error::{PlanError, suggest};
use crate::taskfile::hint_values::parse_duration;
use crate::taskfile::hints::{Checkpoint, Comment, Spanned, TaskHints, Trigger};
use crate::taskfile::{Source, Span};

const KEYS: &[&str] = &["when", "every", "then"];

/// The info string's words after `checkpoint`: each with its offset in the
/// source. A value may be double-quoted to hold spaces (`when="tests pass"`).
fn words(line: &str, base: usize) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(&(_, c)) = chars.peek() {
            if c == '"' {
                quoted = !quoted;
            } else if c.is_whitespace() && !quoted {
                break;
            } else {
                word.push(c);
            }
            chars.next();
        }
        out.push((base + i, word));
    }
    out
}

/// A ```` ```checkpoint ```` block: `offset` is where its opening fence
/// starts, `fence_len` how long the fence line is, `command` its content.
pub fn checkpoint_block(
    source: &Source,
    offset: usize,
    fence_len: usize,
    command: &str,
) -> Comment {
    let fence_span = source.span(offset, fence_len);
    let mut comment = Comment {
        offset,
        hints: TaskHints::default(),
        errors: Vec::new(),
    };
    let mut errors: Vec<(Span, PlanError)> = Vec::new();
    let mut error = |span: Span, problem: String, help: &str| {
        errors.push((
            span,
            PlanError::BadCheckpoint {
                problem,
                help: help.to_owned(),
            },
        ));
    };
    let line = &source.text[offset..offset + fence_len];
    // The fence, then the info string's first word (`checkpoint`).
    let after_fence = line.len() - line.trim_start_matches(['`', '~']).len();
    let info = &line[after_fence..];
    let words = words(info, offset + after_fence);
    let mut trigger: Option<(Span, Trigger)> = None;
    let mut tell = false;
    let how = "write `when=MARKER` (a line of the agent's output contains MARKER) or `every=DURATION` (like `30s`, `5m`), and optionally `then=tell`";
    for (at, word) in words.iter().skip(1) {
        let span = source.span(*at, word.len().max(1));
        let Some((key, value)) = word.split_once('=') else {
            error(span, format!("`{word}` is not a checkpoint setting"), how);
            continue;
        };
        match key {
            "when" | "every" if trigger.is_some() => {
                let first = trigger.as_ref().map_or(0, |t| t.0.column());
                error(
                    span,
                    format!("a second trigger `{word}`: column {first} already sets one"),
                    "a checkpoint has one trigger; write a second ```checkpoint block for another",
                );
            }
            "when" if value.trim().is_empty() => error(
                span,
                "`when=` has no marker".into(),
                "write the text the agent prints when the checkpoint should run, like `when=SCAFFOLD-READY`",
            ),
            "when" => trigger = Some((span, Trigger::Marker(value.to_owned()))),
            "every" => match parse_duration(value) {
                Some(d) => trigger = Some((span, Trigger::Every(d))),
                None => error(
                    span,
                    format!("bad `every` value `{value}`"),
                    "write a duration like `30s`, `5m` or `1h30m`",
                ),
            },
            "then" if value == "tell" => tell = true,
            "then" => error(
                span,
                format!("bad `then` value `{value}`"),
                "`then=tell` sends the output to the agent and lets it go on; leave it out to stop the attempt when the checkpoint fails",
            ),
            _ => {
                let did = suggest(key, KEYS.iter().copied())
                    .map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"));
                error(
                    span,
                    format!("unknown checkpoint setting `{key}`{did}"),
                    how,
                );
            }
        }
    }
    let command = command.replace("\r\n", "\n").replace('\r', "\n");
    if command.trim().is_empty() {
        error(
            fence_span,
            "this ```checkpoint block is empty".into(),
            "write the command the checkpoint runs, or delete the block",
        );
    } else if command.contains('\0') {
        errors.push((
            fence_span,
            PlanError::NulByte {
                what: "this ```checkpoint block".into(),
            },
        ));
    }
    if trigger.is_none() && errors.is_empty() {
        errors.push((
            fence_span,
            PlanError::BadCheckpoint {
                problem: "this ```checkpoint block has no trigger".into(),
                help: how.to_owned(),
            },
        ));
    }
    comment.errors = errors;
    if let (Some((_, trigger)), true) = (trigger, comment.errors.is_empty()) {
        comment.hints.checkpoints.push(Spanned {
            value: Checkpoint {
                trigger,
                tell,
                command: command.trim_end_matches('\n').to_owned(),
                line: fence_span.line(),
            },
            span: fence_span,
        });
    }
    comment
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn block(fence: &str, command: &str) -> Comment {
        let text = format!("{fence}\n{command}```\n");
        let s = Source::new("t.md".into(), text, 0);
        checkpoint_block(&s, 0, fence.len(), command)
    }

    fn problems(fence: &str) -> Vec<(usize, String)> {
        (block(fence, "make\n").errors.into_iter())
            .map(|(span, e)| (span.column(), e.to_string()))
            .collect()
    }

    #[test]
    fn triggers_and_then_tell() {
        let c = block(
            "```checkpoint when=SCAFFOLD-READY",
            "test -f a\r\ncargo check\n",
        );
        let cp = &c.hints.checkpoints[0].value;
        assert_eq!(cp.trigger, Trigger::Marker("SCAFFOLD-READY".into()));
        assert_eq!(cp.command, "test -f a\ncargo check");
        assert!(!cp.tell);
        assert_eq!(cp.summary(), "test -f a …");
        let c = block("~~~checkpoint every=1m30s then=tell", "make\n");
        let cp = &c.hints.checkpoints[0].value;
        assert_eq!(cp.trigger, Trigger::Every(Duration::from_secs(90)));
        assert!(cp.tell);
        assert_eq!(cp.trigger_label(), "every=1m 30s");
        let c = block(r#"```checkpoint when="tests pass""#, "make\n");
        let cp = &c.hints.checkpoints[0].value;
        assert_eq!(cp.trigger, Trigger::Marker("tests pass".into()));
    }

    #[test]
    fn bad_info_strings_point_at_the_word() {
        assert_eq!(
            problems("```checkpoint wen=X"),
            [(
                15,
                "unknown checkpoint setting `wen` (did you mean `when`?)".into()
            )]
        );
        assert_eq!(
            problems("```checkpoint every=soon"),
            [(15, "bad `every` value `soon`".into())]
        );
        assert_eq!(
            problems("```checkpoint when=A every=5m"),
            [(
                22,
                "a second trigger `every=5m`: column 15 already sets one".into()
            )]
        );
        assert_eq!(
            problems("```checkpoint when=A then=stop"),
            [(22, "bad `then` value `stop`".into())]
        );
        assert_eq!(
            problems("```checkpoint"),
            [(1, "this ```checkpoint block has no trigger".into())]
        );
        assert_eq!(
            problems("```checkpoint when="),
            [(15, "`when=` has no marker".into())]
        );
        assert_eq!(
            problems("```checkpoint READY"),
            [(15, "`READY` is not a checkpoint setting".into())]
        );
        let empty = block("```checkpoint when=A", " \n");
        assert_eq!(
            empty.errors[0].1.to_string(),
            "this ```checkpoint block is empty"
        );
    }
}
