//! Judging an attempt: did the agent do the task, fail it, or say it could
//! not?
//!
//! Takes how the agent's process ended, what its stream said (stream-json
//! agents) or the end of its output (command agents), and whether the run
//! asks for `RUN-BATCH: DONE`; hands on a verdict. The protocol an agent uses
//! to say it is blocked (or done) is in docs/agents.md. Never runs anything:
//! gates are the engine's next step after an `Ok`.

use std::path::Path;

use crate::run::agents::activity::first_line;
use crate::run::agents::stream::StreamSummary;
use crate::run::process::Exit;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Failed(String),
    /// The agent said it could not finish, and why.
    Blocked(String),
}

/// A line an agent ends its final message with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    Done,
    Blocked(String),
}

/// The prefix of the protocol's lines.
pub const PREFIX: &str = "RUN-BATCH:";

/// The verdict on an agent that exited with `exit`.
pub fn judge(
    exit: Exit,
    stream: Option<&StreamSummary>,
    log: &Path,
    require_done: bool,
) -> Verdict {
    let marker = match stream {
        Some(s) => s
            .result
            .as_ref()
            .and_then(|r| last_marker(&r.message))
            .or_else(|| last_marker(s.final_text())),
        None => last_marker(&log_tail(log)),
    };
    if let Some(Marker::Blocked(reason)) = marker {
        return Verdict::Blocked(if reason.is_empty() {
            "the agent said it is blocked (no reason given)".into()
        } else {
            reason
        });
    }
    if let Err(e) = exit_verdict(exit, stream) {
        return Verdict::Failed(e);
    }
    if require_done && marker != Some(Marker::Done) {
        return Verdict::Failed(format!(
            "the agent did not end with `{PREFIX} DONE` (required by `require-done`)"
        ));
    }
    Verdict::Ok
}

/// Success by the process and its final event alone.
fn exit_verdict(exit: Exit, stream: Option<&StreamSummary>) -> Result<(), String> {
    let Some(stream) = stream else {
        return if exit.success() {
            Ok(())
        } else {
            Err(exit.to_string())
        };
    };
    match (&stream.result, exit.success()) {
        (Some(r), true) if !r.is_error => Ok(()),
        (Some(r), false) if !r.is_error => {
            Err(format!("the agent reported success but ended with {exit}"))
        }
        (Some(r), _) => Err(if r.message.is_empty() {
            format!("the agent reported an error ({}; {exit})", r.subtype)
        } else {
            format!(
                "the agent reported an error: {}",
                first_line(&r.message).unwrap_or("")
            )
        }),
        (None, _) => Err(match &stream.last_error {
            Some(e) => format!(
                "the agent ended without a final result event ({exit}): {}",
                first_line(e).unwrap_or("")
            ),
            None => format!("the agent ended without a final result event ({exit})"),
        }),
    }
}

/// The last protocol line in `text`: `RUN-BATCH: BLOCKED <reason>` or
/// `RUN-BATCH: DONE`, alone on its line (Markdown emphasis around it is
/// allowed, since agents write Markdown).
pub fn last_marker(text: &str) -> Option<Marker> {
    text.lines().rev().find_map(|line| {
        let line = line.trim().trim_matches(['*', '_', '`']).trim();
        let rest = line.strip_prefix(PREFIX)?.trim_start();
        if let Some(reason) = rest.strip_prefix("BLOCKED") {
            if !reason.is_empty() && !reason.starts_with([' ', ':', '\t']) {
                return None;
            }
            let reason = reason
                .trim_start_matches(':')
                .trim()
                .trim_end_matches(['*', '_', '`']);
            return Some(Marker::Blocked(reason.trim().to_owned()));
        }
        (rest.trim_end_matches(['*', '_', '`', '.']) == "DONE").then_some(Marker::Done)
    })
}

/// The end of a command agent's output (its log), where a final line is.
fn log_tail(log: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(log) else {
        return String::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert_eq!(
            last_marker("did some\nRUN-BATCH: BLOCKED the API key is missing\n"),
            Some(Marker::Blocked("the API key is missing".into()))
        );
        assert_eq!(
            last_marker("**RUN-BATCH: BLOCKED: no access**"),
            Some(Marker::Blocked("no access".into()))
        );
        assert_eq!(
            last_marker("All good.\n\nRUN-BATCH: DONE"),
            Some(Marker::Done)
        );
        assert_eq!(last_marker("`RUN-BATCH: DONE.`"), Some(Marker::Done));
        // The last one wins; words merely mentioning it do not count.
        assert_eq!(
            last_marker("RUN-BATCH: BLOCKED x\nfixed it\nRUN-BATCH: DONE\n"),
            Some(Marker::Done)
        );
        assert_eq!(last_marker("I will print RUN-BATCH: DONE when done"), None);
        assert_eq!(last_marker("RUN-BATCH: BLOCKEDNESS"), None);
        assert_eq!(last_marker("RUN-BATCH: DONE soon"), None);
    }

    #[test]
    fn blocked_wins_over_exit_status_and_done_can_be_required() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, "work\nRUN-BATCH: BLOCKED needs a human\n").unwrap();
        assert_eq!(
            judge(Exit::Code(0), None, &log, false),
            Verdict::Blocked("needs a human".into())
        );
        assert_eq!(
            judge(Exit::Code(1), None, &log, false),
            Verdict::Blocked("needs a human".into())
        );
        std::fs::write(&log, "work\n").unwrap();
        assert_eq!(judge(Exit::Code(0), None, &log, false), Verdict::Ok);
        assert!(matches!(
            judge(Exit::Code(0), None, &log, true),
            Verdict::Failed(m) if m.contains("RUN-BATCH: DONE")
        ));
        std::fs::write(&log, "work\nRUN-BATCH: DONE\n").unwrap();
        assert_eq!(judge(Exit::Code(0), None, &log, true), Verdict::Ok);
        assert_eq!(
            judge(Exit::Code(2), None, &log, true),
            Verdict::Failed("exit status 2".into())
        );
    }
}
