//! Worker resume: an attempt that was interrupted (Ctrl-C, a crash, a
//! timeout) after its agent named a session is continued by the next attempt
//! (`claude --resume=<id>`, `codex exec resume <id>`: each CLI's file under
//! `agents` says how, and which event shows the session began), in this run
//! or the next, instead of starting over. The journal keeps the newest
//! session per task; this file decides what may be resumed and what a fresh
//! start after a refused resume is told about the attempt before.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::record::journal::TaskRecord;
use crate::run::agents::stream::Baseline;

/// A session the next attempt of a task continues.
#[derive(Clone, Debug, PartialEq)]
pub struct Resume {
    pub session_id: String,
    /// The agent that made it (a session only means something to its CLI).
    pub agent: String,
    /// What the session had reported, cumulatively, so far.
    pub baseline: Baseline,
    /// Why the attempt before stopped, for the resume prompt.
    pub reason: String,
    /// The attempt's progress lines, newest last.
    pub progress: Vec<String>,
    /// The attempt's log, for a summary if the resume is refused.
    pub log: Option<PathBuf>,
}

/// What a fresh start is told about the attempt before it, when that
/// attempt's session could not be resumed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Previous {
    pub reason: String,
    /// The end of its log.
    pub log_tail: String,
    pub progress: Vec<String>,
}

/// Lines of an earlier attempt's log and progress shown in a prompt.
const LOG_TAIL_LINES: usize = 30;
const PROGRESS_LINES: usize = 10;
/// Longest log line shown in a prompt (stream-json lines can be huge).
const MAX_LINE: usize = 300;

/// The session the journal says a task's next attempt may continue.
pub fn from_journal(record: &TaskRecord, agent: &str) -> Option<Resume> {
    let id = record.session_id.as_ref()?;
    if !record.resumable || !same_cli(record.session_agent.as_deref()?, agent) {
        return None;
    }
    Some(Resume {
        session_id: id.clone(),
        agent: agent.to_owned(),
        baseline: record.session_total.unwrap_or_default(),
        reason: match record.status.as_str() {
            "timed_out" => "it ran out of time".to_owned(),
            "interrupted" => "the run was interrupted".to_owned(),
            _ => "the run stopped before it finished".to_owned(),
        },
        progress: record
            .last_log
            .as_deref()
            .map(progress_of_log)
            .unwrap_or_default(),
        log: record.last_log.clone(),
    })
}

/// Whether a session made by agent `a` means something to agent `b`: the
/// same CLI (`codex` and `codex -m o3` share sessions).
pub fn same_cli(a: &str, b: &str) -> bool {
    a.split_whitespace().next() == b.split_whitespace().next()
}

/// The progress lines of the attempt whose log is `log`.
fn progress_of_log(log: &Path) -> Vec<String> {
    read_progress(&log.with_extension("progress"))
}

pub fn read_progress(path: &Path) -> Vec<String> {
    crate::report::live::tail_lines(path, PROGRESS_LINES)
        .into_iter()
        .filter(|l| !l.trim().is_empty() && l != "(no log)")
        .map(|l| clip(l.trim()))
        .collect()
}

/// A summary of the attempt whose log is `log`, for the fresh start that
/// replaces it.
pub fn previous(reason: &str, log: &Path) -> Previous {
    let tail = crate::report::live::tail_lines(log, LOG_TAIL_LINES);
    Previous {
        reason: reason.to_owned(),
        log_tail: tail.iter().map(|l| clip(l)).collect::<Vec<_>>().join("\n"),
        progress: progress_of_log(log),
    }
}

fn clip(line: &str) -> String {
    if line.len() <= MAX_LINE {
        return line.to_owned();
    }
    let mut end = MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resumable_sessions_of_the_same_agent() {
        let mut r = TaskRecord {
            status: "timed_out".into(),
            session_id: Some("s1".into()),
            session_agent: Some("claude".into()),
            resumable: true,
            ..TaskRecord::default()
        };
        let got = from_journal(&r, "claude").unwrap();
        assert_eq!(got.session_id, "s1");
        assert_eq!(got.reason, "it ran out of time");
        assert_eq!(from_journal(&r, "codex"), None);
        assert!(from_journal(&r, "claude --model opus").is_some());
        r.resumable = false;
        assert_eq!(from_journal(&r, "claude"), None);
    }

    #[test]
    fn long_lines_are_clipped_on_a_char_boundary() {
        let line = "é".repeat(400);
        let c = clip(&line);
        assert!(c.ends_with('…'));
        assert!(c.len() <= MAX_LINE + '…'.len_utf8());
    }
}
