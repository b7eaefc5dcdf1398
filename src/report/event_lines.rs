//! The live view's one-line form of each event, for logs and
//! non-terminals: takes an event, hands on its text with the status word
//! that starts it coloured (when colour is on). Never prints and keeps no
//! state: the view (`live`) decides what to show and when.

use crate::record::events::{BoxTaken, Event, TaskOutcome};
use crate::report::format::{count, humanize_secs, local_time, spend_usd};
use crate::report::style::{self, Tone};

/// The one-line form of an event, for logs and non-terminals, its status
/// word coloured (when colour is on).
pub(crate) fn plain_line(event: &Event) -> Option<String> {
    let text = plain_text(event)?;
    let lines: Vec<String> = text.lines().map(colour_status).collect();
    Some(lines.join("\n"))
}

/// The status word that starts a line, in its colour.
fn colour_status(line: &str) -> String {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let tone = match word {
        "done" | "ticked" | "checked" | "judged" => Tone::Good,
        "FAILED" | "TIMEOUT" | "CHECK" | "JUDGED" | "error:" => Tone::Bad,
        "BLOCKED" | "blocked" | "stopped" | "retry" | "cleared" | "edited" | "warning:"
        | "stopping:" => Tone::Warn,
        "start" | "note:" => Tone::Info,
        _ => return line.to_owned(),
    };
    format!("{} {rest}", style::err(tone, word))
}

fn plain_text(event: &Event) -> Option<String> {
    Some(match event {
        Event::RunStarted {
            file,
            tasks,
            to_run,
            jobs,
            ..
        } => {
            format!("run-batch: {to_run} of {tasks} tasks to run from {file} (-j {jobs})")
        }
        Event::PreviousRunCrashed { previous_run, pid } => {
            format!(
                "note: the previous run {previous_run} (pid {pid}) ended without finishing; it crashed or was killed"
            )
        }
        Event::TaskStarted {
            task,
            attempt,
            resume,
            escalation,
            ..
        } => {
            let mut line = format!("start    {task}");
            match escalation {
                Some(e) => line.push_str(&format!(" (attempt {attempt}, escalated: {e})")),
                None if *attempt > 1 => line.push_str(&format!(" (attempt {attempt})")),
                None => {}
            }
            if let Some(id) = resume {
                line.push_str(&format!(" resuming session {id}"));
            }
            line
        }
        Event::TaskSession { .. } => return None,
        Event::TaskResumeRefused {
            task,
            session_id,
            reason,
        } => format!(
            "note: {task}: the agent would not continue session {session_id} ({reason}); starting afresh"
        ),
        Event::TaskProgress { task, line } => format!("progress {task}: {line}"),
        Event::TaskActivity { task, activity } => format!("activity {task}: {activity}"),
        Event::TaskFinished {
            task,
            outcome,
            reason,
            duration_secs,
            log,
            spend,
            ..
        } => {
            let mut took = humanize_secs(*duration_secs);
            if let Some(s) = spend {
                took.push_str(&format!(
                    ", {}, {} tokens in / {} out",
                    spend_usd(s),
                    count(s.input_tokens),
                    count(s.output_tokens)
                ));
            }
            // Only a silent success has no log.
            let log = log
                .as_deref()
                .map_or_else(String::new, |l| l.display().to_string());
            match outcome {
                TaskOutcome::Succeeded => format!("done     {task} ({took})"),
                TaskOutcome::Failed => format!(
                    "FAILED   {task} ({}; {took}) log: {}",
                    reason.as_deref().unwrap_or("failed"),
                    log
                ),
                TaskOutcome::TimedOut => format!(
                    "TIMEOUT  {task} ({}) log: {}",
                    reason.as_deref().unwrap_or("timed out"),
                    log
                ),
                TaskOutcome::Interrupted => match reason.as_deref() {
                    Some(r) if r != "interrupted" => format!("stopped  {task} ({r}; {took})"),
                    _ => format!("stopped  {task} ({took})"),
                },
                TaskOutcome::Blocked => format!(
                    "BLOCKED  {task} ({}) log: {}",
                    reason.as_deref().unwrap_or("the agent said it is blocked"),
                    log
                ),
            }
        }
        Event::TaskRetrying {
            task,
            next_attempt,
            delay_secs,
        } => {
            format!(
                "retry    {task} in {} (attempt {next_attempt})",
                humanize_secs(*delay_secs)
            )
        }
        Event::TaskBlocked { task, by } => format!("blocked  {task} (waits for failed `{by}`)"),
        Event::CheckpointStarted { .. }
        | Event::CheckpointPassed { .. }
        | Event::CheckpointFailed { .. }
        | Event::JudgeStarted { .. }
        | Event::JudgeFinished { .. }
        | Event::HandoffDelivered { .. } => return crate::report::check_lines::line(event),
        Event::Ticked {
            tasks,
            parents,
            cleared,
        } => {
            let mut all = tasks.clone();
            all.extend(parents.iter().cloned());
            let mut line = String::new();
            if !all.is_empty() {
                line = format!("ticked   {}", all.join(", "));
            }
            if !cleared.is_empty() {
                if !line.is_empty() {
                    line.push('\n');
                }
                line.push_str(&format!(
                    "cleared  {} (ticked by an agent that did not succeed)",
                    cleared.join(", ")
                ));
            }
            line
        }
        Event::BoxEdited {
            task,
            ticked,
            taken,
            running,
        } => {
            let what = if *ticked { "ticked" } else { "cleared" };
            let during = if running.is_empty() {
                String::new()
            } else {
                format!(" (while {} ran)", running.join(", "))
            };
            match taken {
                BoxTaken::Honoured => {
                    format!("edited   {task}: {what} in the file{during}; honoured")
                }
                BoxTaken::Owned => format!(
                    "note: {task}: its box was {what} while its agent runs; the box stays run-batch's until the attempt ends"
                ),
                BoxTaken::TickedAgain => format!(
                    "note: {task}: its box was cleared by a save of an older copy of the file; ticking it again (to run it again, use `run-batch tick --undo` during the run, or clear it after)"
                ),
            }
        }
        Event::TickFailed { tasks, reason } => {
            format!("warning: could not tick {}: {reason}", tasks.join(", "))
        }
        Event::PlanReloaded { tasks } => format!("reloaded the task file: {tasks} tasks"),
        Event::PlanReloadFailed { reason } => {
            format!(
                "warning: the task file changed but does not plan ({reason}); keeping the previous plan"
            )
        }
        Event::Cancelling { reason } => format!("stopping: {reason}"),
        Event::LimitWait {
            provider,
            until,
            window,
            reset_known,
        } => {
            let at = humantime::parse_rfc3339(until).map_or_else(|_| until.clone(), local_time);
            let window = window
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            let guess = if *reset_known {
                ""
            } else {
                "; it gave no reset time, so this is a guess"
            };
            format!(
                "{provider}: waiting for the usage limit until {at}{window}{guess}; its tasks continue then"
            )
        }
        Event::LimitWaitOver {
            provider,
            waited_secs,
        } => format!(
            "{provider}: the usage limit is over (waited {}); its tasks start again",
            humanize_secs(*waited_secs)
        ),
        Event::ProviderThrottled {
            provider,
            concurrency,
            pause_secs,
        } => format!(
            "{provider}: throttled; at most {concurrency} at once, next start in {}",
            humanize_secs(*pause_secs)
        ),
        Event::WorktreeReady {
            task, dir, reused, ..
        } => {
            if *reused {
                format!("worktree {task}: continuing in {}", dir.display())
            } else {
                format!("worktree {task}: {}", dir.display())
            }
        }
        Event::TaskVerified { .. } => return None,
        Event::Handoff {
            from,
            to,
            kind,
            text,
            ..
        } => format!(
            "message  {from} → {to} ({kind}): {}",
            crate::run::agents::activity::first_line(text).unwrap_or("")
        ),
        Event::Committed { commit, tasks } => format!(
            "commit   {} ({})",
            &commit[..commit.len().min(10)],
            tasks.join(", ")
        ),
        Event::LandingWaits {
            task,
            branch,
            reason,
            ..
        } => format!("waiting to merge `{task}` into `{branch}`: {reason}"),
        Event::TaskLanded {
            task,
            commit,
            files,
            undeclared,
            ..
        } => match commit {
            Some(c) if !undeclared.is_empty() => format!(
                "merged   {task} ({} file{}, {}); changed outside its files: {}",
                files.len(),
                crate::report::plural(files.len()),
                &c[..c.len().min(10)],
                undeclared.join(", ")
            ),
            Some(c) => format!(
                "merged   {task} ({} file{}, {})",
                files.len(),
                crate::report::plural(files.len()),
                &c[..c.len().min(10)]
            ),
            None => format!("merged   {task} (no changes)"),
        },
        Event::ProviderStopped { provider, reason } => {
            format!("{provider}: stopped ({reason}); none of its tasks start again in this run")
        }
        Event::RunFinished { .. } => return None,
    })
}
