//! The engine's side of checkpoints: starting an attempt's watcher
//! (`run::checkpoint`), and hearing its reports. A checkpoint that fails
//! without `then=tell` stops its attempt at once (its process group is
//! terminated as a timeout's is) with the checkpoint, its trigger and the end
//! of its output as the reason; with `then=tell` its output is posted to the
//! task as a handoff message (in the next prompt, and live to agents that
//! take messages while they work) and the agent goes on.

use super::*;
use crate::run::checkpoint::{self, Report, Setup, Watch};

impl Engine {
    /// Starts watching attempt `attempt` of plan task `t` for its
    /// checkpoints, if it has any.
    pub(super) fn watch_checkpoints(
        &mut self,
        attempt: AttemptId,
        t: usize,
        info: &Attempt,
        workdir: &Path,
    ) -> Option<Watch> {
        let checkpoints = self.d.plan().settings(t).checkpoints.clone();
        if checkpoints.is_empty() {
            return None;
        }
        let task_id = self.d.plan().doc.id(t).into_owned();
        let number = self.slots.get(&attempt).map_or(1, |s| s.number);
        let run_dir = self.run_dir.clone();
        let setup = Setup {
            checkpoints,
            log: info.log.clone(),
            log_from: info.log_header,
            progress: info.progress.clone(),
            workdir: workdir.to_owned(),
            output: Box::new(move |i| {
                executor::attempt_file(
                    &run_dir,
                    &task_id,
                    number,
                    &format!("checkpoint{}.log", i + 1),
                )
            }),
        };
        match checkpoint::watch(setup, attempt, &self.tx) {
            Ok(w) => Some(w),
            Err(e) => {
                // Never run on without the checks the plan asked for.
                let reason = format!("could not watch for its checkpoints: {e}");
                self.fail_by_checkpoint(attempt, reason, None);
                None
            }
        }
    }

    pub(super) fn checkpoint_report(&mut self, attempt: AttemptId, report: Report) {
        let Some(s) = self.slots.get_mut(&attempt) else {
            return;
        };
        let place = self.d.task(s.key).place;
        let Some(t) = place else { return };
        let checkpoints = &self.d.plan().settings(t).checkpoints;
        match report {
            Report::Done => {
                s.checkpoints_done = true;
                self.maybe_complete(attempt);
            }
            Report::Started { index, .. } => {
                let Some(c) = checkpoints.get(index) else {
                    return;
                };
                let event = Event::CheckpointStarted {
                    task: s.task_id.clone(),
                    attempt: s.number,
                    trigger: c.trigger_label(),
                    command: c.command.clone(),
                    line: c.line,
                };
                self.emit(event);
            }
            Report::Finished {
                index,
                exit,
                duration,
                tail,
                log,
            } => {
                let Some(c) = checkpoints.get(index).cloned() else {
                    return;
                };
                let task = s.task_id.clone();
                let number = s.number;
                let watching = s.agent_exit.is_none() && s.checkpoint_failure.is_none();
                let told = c.tell && watching;
                if told {
                    self.tell_checkpoint(&task, &c, exit, &tail);
                }
                let duration_secs = duration.as_secs_f64();
                let (trigger, command, line) = (c.trigger_label(), c.command.clone(), c.line);
                if exit.success() {
                    self.emit(Event::CheckpointPassed {
                        task,
                        attempt: number,
                        trigger,
                        command,
                        line,
                        duration_secs,
                        told,
                        log,
                    });
                    return;
                }
                self.emit(Event::CheckpointFailed {
                    task,
                    attempt: number,
                    trigger,
                    command,
                    line,
                    exit,
                    duration_secs,
                    tail: tail.clone(),
                    told,
                    log,
                });
                if !c.tell && watching {
                    let last = (tail.lines().rev())
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .map_or_else(String::new, |l| format!(": {l}"));
                    let reason = format!("{} failed ({exit}){last}", c.label());
                    self.fail_by_checkpoint(attempt, reason, Some(&tail));
                }
            }
        }
    }

    /// Stops an attempt for a checkpoint: the reason (and the checkpoint's
    /// output, at the end of the agent's log, where the retry prompt looks)
    /// is kept, and its process group is terminated.
    fn fail_by_checkpoint(&mut self, attempt: AttemptId, reason: String, tail: Option<&str>) {
        let grace = self.options.grace;
        let Some(s) = self.slots.get_mut(&attempt) else {
            return;
        };
        // Cancelled first: what is appended to the log is no agent output.
        if let Some(w) = &s.watch {
            w.cancel();
        }
        if let Ok(mut log) = std::fs::OpenOptions::new().append(true).open(&s.info.log) {
            use std::io::Write as _;
            let _ = writeln!(log, "\n── run-batch: {reason} ──");
            if let Some(tail) = tail {
                let _ = writeln!(log, "{tail}\n──");
            }
        }
        s.checkpoint_failure = Some(reason);
        if s.termination.is_none() && s.exited.is_none() {
            s.termination = Some(Termination::begin(
                s.group,
                &s.task_id,
                libc::SIGTERM,
                grace,
            ));
        }
        self.maybe_complete(attempt);
    }

    /// `then=tell`: the checkpoint's result, as a message to the task.
    fn tell_checkpoint(
        &mut self,
        task: &str,
        c: &crate::taskfile::Checkpoint,
        exit: Exit,
        tail: &str,
    ) {
        let verdict = if exit.success() {
            "passed".to_owned()
        } else {
            format!("failed ({exit})")
        };
        // Messages are capped; the end of the output says most.
        let mut tail = tail.to_owned();
        let max = crate::record::handoff::MAX_TEXT / 2;
        if tail.len() > max {
            let mut cut = tail.len() - max;
            while !tail.is_char_boundary(cut) {
                cut += 1;
            }
            tail = tail[cut..].to_owned();
        }
        let text = if tail.trim().is_empty() {
            format!("{} {verdict}, with no output.", c.label())
        } else {
            format!(
                "{} {verdict}. The end of its output:\n\n```\n{tail}\n```",
                c.label()
            )
        };
        let posted = crate::record::handoff::post(
            &self.state.dir,
            "checkpoint",
            task,
            crate::record::handoff::Kind::Note,
            &text,
            Some(&self.run_id),
        );
        if let Err(e) = posted {
            self.reporter.note(&format!(
                "warning: could not tell `{task}` its checkpoint's output: {e}"
            ));
        }
        self.poll_handoffs();
    }
}
