//! The live view's lines for checks made while and after agents work:
//! checkpoints, judges, and messages delivered to running agents. Takes an
//! event; hands on its one line (its status word first, as `live` colours
//! it). Never prints.

use crate::record::events::Event;
use crate::report::format::{count, humanize_secs, usd};

/// The line for one of these events; `None` for events shown on the task's
/// own line (a checkpoint or judge starting) or not these.
pub(crate) fn line(event: &Event) -> Option<String> {
    Some(match event {
        Event::HandoffDelivered { task, .. } => {
            format!("told     {task} the message while it works")
        }
        Event::JudgeFinished {
            task,
            judge,
            passed,
            reason,
            spend,
            ..
        } => {
            let cost = spend.map_or_else(String::new, |s| {
                format!(
                    " ({}, {} tokens in / {} out)",
                    usd(s.cost_usd),
                    count(s.input_tokens),
                    count(s.output_tokens)
                )
            });
            if *passed {
                format!("judged   {task}: `{judge}` passed it{cost}")
            } else {
                format!(
                    "JUDGED   {task}: `{judge}`: {}{cost}",
                    reason.as_deref().unwrap_or("failed")
                )
            }
        }
        Event::CheckpointPassed {
            task,
            trigger,
            command,
            duration_secs,
            told,
            ..
        } => format!(
            "checked  {task}: checkpoint `{}` ({trigger}) passed in {}{}",
            command_summary(command),
            humanize_secs(*duration_secs),
            if *told { ", told the agent" } else { "" }
        ),
        Event::CheckpointFailed {
            task,
            trigger,
            command,
            exit,
            told,
            log,
            ..
        } => format!(
            "CHECK    {task}: checkpoint `{}` ({trigger}) failed ({exit}){} log: {}",
            command_summary(command),
            if *told {
                "; told the agent, which goes on"
            } else {
                "; stopping the attempt"
            },
            log.display()
        ),
        _ => return None,
    })
}

/// A command on one line: its first line, and `…` when more follow.
pub(crate) fn command_summary(command: &str) -> String {
    let mut lines = (command.lines().map(str::trim)).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    match lines.next() {
        Some(_) => format!("{first} …"),
        None => first.to_owned(),
    }
}
