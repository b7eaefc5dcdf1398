//! The end of a run: what the file says is done (not what the run hoped),
//! `run_finished`, the journal, old run folders pruned, the summary, and the
//! exit status.

use super::*;

impl Engine {
    pub(super) fn finish(mut self) -> i32 {
        self.spares.clear();
        // What the file says, not what the run hoped: a success whose box
        // could not be ticked is not done.
        let plan = self.d.plan();
        let runnable: Vec<usize> = self.d.runnable().collect();
        let done = (runnable.iter())
            .filter(|&&t| plan.is_done(t) || plan.skipped(t))
            .count();
        let failed = (runnable.iter())
            .filter(|&&t| {
                matches!(
                    self.d.schedule_state(t),
                    crate::run::scheduler::State::Failed | crate::run::scheduler::State::Blocked
                ) && !plan.is_done(t)
            })
            .count();
        let unticked = self.d.unticked_successes();
        let remaining = runnable.len() - done;
        let cancel = self.d.cancel();
        let interrupted = cancel.is_some_and(|c| c >= crate::run::dispatcher::Cancel::Signal);
        for id in &unticked {
            let reason = self
                .write_error
                .clone()
                .unwrap_or_else(|| "the task file could not be written".to_owned());
            self.reporter.note(&format!(
                "error: `{id}` succeeded but its box could not be ticked: {reason}"
            ));
        }
        let outcome = if interrupted {
            "interrupted"
        } else if self.d.failed_any() || remaining > 0 || !unticked.is_empty() {
            "failed"
        } else {
            "succeeded"
        };
        self.emit(Event::RunFinished {
            outcome: outcome.into(),
            done,
            failed,
            remaining,
            duration_secs: self.started_at.elapsed().as_secs_f64(),
            spend: self.budget.run,
            stopped: cancel.map(|c| c.name()),
        });
        self.reporter.finish();
        if let Some(r) = self.journal.runs.last_mut() {
            r.finished = Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
            r.outcome = outcome.into();
        }
        self.journal.fold_events(&self.run_id, &self.events.path);
        if let Some(r) = self.journal.runs.last_mut() {
            r.folded = true;
        }
        if let Err(e) = self.journal.save(&self.state.journal()) {
            self.reporter.note(&format!("warning: {e}"));
        }
        let keep = (self.options.config.keep_runs).unwrap_or(crate::record::state::KEEP_RUNS);
        if let Err(e) = self.state.prune_runs(keep, &self.journal.needed_runs()) {
            self.reporter.note(&format!(
                "warning: could not remove old run folders in `{}`: {e}",
                self.state.runs().display()
            ));
        }
        if !self.options.json {
            let plan = self.d.plan();
            let attempts: HashMap<String, u32> = (0..plan.doc.tasks.len())
                .filter_map(|t| {
                    let k = self.d.key_of(t)?;
                    Some((plan.doc.id(t).into_owned(), self.d.task(k).attempts))
                })
                .collect();
            let summary = crate::report::summary::render(
                plan,
                &self.journal,
                &crate::report::summary::RunTotals {
                    attempts: &attempts,
                    spent: &self.budget.by_task,
                    run_spend: &self.budget.run,
                    judge_spend: &self.judge_spend,
                    run_id: &self.run_id,
                    run_dir: &self.run_dir,
                    done,
                    remaining,
                },
            );
            crate::report::output::to_stderr(&summary);
        }
        if interrupted {
            EXIT_INTERRUPTED
        } else if cancel == Some(crate::run::dispatcher::Cancel::MaxWait) && !self.d.failed_any() {
            crate::run::EXIT_LIMIT_WAIT
        } else if outcome == "failed" {
            EXIT_FAILED
        } else {
            EXIT_OK
        }
    }
}
