//! The engine's side of judge gates (`run::judge`): after an attempt's
//! agent succeeded and its gate passed, its judge reads the work in the
//! same slot (its process group is the slot's, so a timeout or Ctrl-C stops
//! it as it stops an agent); its verdict decides the attempt. What it spent
//! counts in the task's cost and is shown apart. Fails closed.

use super::*;
use crate::run::judge::{self, Judged};
use crate::run::limits::Signal;

impl Engine {
    /// The judge named for plan task `t` (its `judge` hint, else `[judge]
    /// agent`), and the folder a relative path in it is relative to.
    fn judge_of(&self, t: usize) -> Option<(String, PathBuf)> {
        match &self.d.plan().settings(t).judge {
            Some(hint) => Some((
                hint.clone(),
                crate::run::taskfile_folder(&self.options.file),
            )),
            None => {
                let name = self.options.config.judge.clone()?;
                let base = (self.options.config.path.as_deref())
                    .and_then(Path::parent)
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                Some((name, base))
            }
        }
    }

    /// Starts the judge of a verified attempt of plan task `t`, if it has
    /// one. `Ok(false)`: no judge; an error is the reason the attempt fails
    /// (a judge that cannot run never lets work through).
    pub(super) fn start_judge(
        &mut self,
        attempt: AttemptId,
        slot: &mut Slot,
        t: usize,
    ) -> Result<bool, String> {
        let Some((name, base)) = self.judge_of(t) else {
            return Ok(false);
        };
        let mut spec = AgentSpec::parse(
            &name,
            &self.options.config,
            &[],
            self.options.max_cost_per_task,
        )
        .and_then(|mut s| s.resolve(&base).map(|()| s))
        .map_err(|e| format!("judge `{name}` cannot run: {e}"))?;
        spec.name = name;
        let (workdir, _) = self.attempt_paths(slot.key);
        let base = self.worktrees.get(&slot.key).map(|w| w.base.clone());
        let changes = judge::changes(&workdir, base.as_deref());
        let gate_output = (slot.agent_exit.is_some())
            .then(|| judge::gate_output(&slot.info.log))
            .flatten();
        let template = (self.prompter.judge.as_ref()).ok_or("the judge template was not read")?;
        let prompt = template.render(self.d.plan(), t, &changes, gate_output.as_deref())?;
        let log = executor::attempt_file(&self.run_dir, &slot.task_id, slot.number, "judge.log");
        let prompt_path =
            executor::attempt_file(&self.run_dir, &slot.task_id, slot.number, "judge.prompt.md");
        let call = judge::Call {
            spec: &spec,
            prompt: &prompt,
            prompt_path: &prompt_path,
            workdir: &workdir,
            log: &log,
            task_id: &slot.task_id,
        };
        let pid = judge::spawn(&call, attempt, &self.tx)
            .map_err(|e| format!("could not start the judge `{}`: {e}", spec.name))?;
        self.emit(Event::JudgeStarted {
            task: slot.task_id.clone(),
            attempt: slot.number,
            judge: spec.name.clone(),
            pid,
            log,
        });
        slot.group = Group(pid as i32);
        slot.termination = None;
        slot.judging = Some((spec, Instant::now()));
        if let Some(g) = self.guard.as_mut() {
            g.watch(slot.group);
        }
        Ok(true)
    }

    /// A judge ended: its verdict (or why none counts) ends the attempt.
    pub(super) fn judged(&mut self, attempt: AttemptId, judged: Judged) {
        let Some(mut slot) = self.slots.remove(&attempt) else {
            return;
        };
        let Some((spec, started)) = slot.judging.take() else {
            self.slots.insert(attempt, slot);
            return;
        };
        if slot.group.alive() {
            self.lingering
                .push(slot.termination.take().unwrap_or_else(|| {
                    Termination::begin(slot.group, &slot.task_id, libc::SIGTERM, self.options.grace)
                }));
        } else if let Some(g) = self.guard.as_mut() {
            g.forget(slot.group);
        }
        let mut spend = None;
        if let Some(s) = judged.summary.as_deref() {
            let (sp, warnings) = self.budget.spend_of(&spec, s);
            for w in warnings {
                self.reporter.note(&w);
            }
            spend = Some(sp);
        }
        let name = &spec.name;
        let failure = judged
            .summary
            .as_deref()
            .and_then(|s| s.result.as_ref())
            .filter(|r| r.is_error)
            .map(|r| r.message.clone());
        let tail = crate::report::live::tail_lines(&judged.log, 20).join("\n");
        let limited = self.limit_patterns.classify(
            &[failure.as_deref().unwrap_or(""), &judged.answer, &tail],
            SystemTime::now(),
        );
        let result: Result<(), String> = if slot.stop.is_some() {
            Err(format!("judge `{name}` was stopped"))
        } else if let Some(signal @ (Signal::Limited { .. } | Signal::Throttled)) = limited
            && (failure.is_some() || !judged.exit.success())
        {
            let what = match signal {
                Signal::Throttled => "was throttled by its provider",
                _ => "hit a usage limit",
            };
            // Fails closed, and waits like any agent: on the task's own
            // provider, for the limit; on another, as a transient failure
            // (retried with backoff, no retry of the task's used).
            let place = self.d.task(slot.key).place;
            let same =
                place.and_then(|t| self.d.provider_of(t)) == Some(spec.provider().0.as_str());
            slot.judge_refused = Some(match signal {
                Signal::Limited { reset, window } if same => Class::Limited { reset, window },
                Signal::Throttled if same => Class::Throttled,
                _ => Class::Transient,
            });
            Err(format!(
                "judge `{name}` {what}, so the work is not judged yet (a judge fails closed); the task waits like any agent"
            ))
        } else if let Some(message) = failure {
            Err(format!(
                "judge `{name}` failed ({}), so the work is not judged (a judge fails closed)",
                first_line(&message)
            ))
        } else {
            match judge::verdict(&judged.answer) {
                Some(Ok(())) if judged.exit.success() => Ok(()),
                Some(Err(reason)) => Err(format!("judge `{name}` failed the work: {reason}")),
                _ if !judged.exit.success() => Err(format!(
                    "judge `{name}` failed ({}), so the work is not judged (a judge fails closed)",
                    judged.exit
                )),
                _ => Err(format!(
                    "judge `{name}` gave no verdict (a line `RUN-BATCH: PASS` or `RUN-BATCH: FAIL <reason>`), so the work does not pass"
                )),
            }
        };
        let reason = result.as_ref().err().cloned();
        self.emit(Event::JudgeFinished {
            task: slot.task_id.clone(),
            attempt: slot.number,
            judge: name.clone(),
            passed: result.is_ok(),
            reason: reason.clone(),
            duration_secs: started.elapsed().as_secs_f64(),
            log: judged.log.clone(),
            spend,
        });
        if let Some(sp) = &spend {
            self.budget.add(&slot.task_id, sp);
            self.judge_spend.add(sp);
        }
        let verdict = match reason {
            None => Verdict::Ok,
            Some(reason) => {
                // In the attempt's log too, where the retry prompt looks.
                if let Ok(mut log) = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&slot.info.log)
                {
                    use std::io::Write as _;
                    let _ = writeln!(log, "\n── run-batch: {reason} ──");
                    let _ = writeln!(log, "(the judge's log: {})", judged.log.display());
                }
                Verdict::Failed(reason)
            }
        };
        self.conclude(attempt, slot, verdict);
    }
}
