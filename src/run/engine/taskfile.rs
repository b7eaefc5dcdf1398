//! The engine and the task file: reading a person's edits (planned, then
//! carried over by the dispatcher), `run-batch tick --undo` requests, and
//! writing the boxes the run owes, batched. All file access goes through
//! `record::keeper`.

use super::*;

impl Engine {
    /// Looks at the task file: a person's edit is planned and carried over;
    /// our own writes are not read again. True while a save is in progress.
    pub(super) fn watch_file(&mut self) -> bool {
        match self.keeper.poll() {
            Poll::Same => self.file_gone = false,
            Poll::Settling => {
                self.file_gone = false;
                return true;
            }
            Poll::Changed(bytes, stamp) => {
                self.file_gone = false;
                self.reload(bytes, stamp);
            }
            Poll::Gone(e) => {
                if !std::mem::replace(&mut self.file_gone, true) {
                    self.emit(Event::PlanReloadFailed {
                        reason: format!("cannot read the task file: {e}"),
                    });
                }
            }
        }
        false
    }

    pub(super) fn reload(&mut self, bytes: Vec<u8>, stamp: Stamp) {
        let planned = plan_bytes(
            &self.options.file,
            bytes.clone(),
            self.options.read,
            self.options.plan,
        )
        .and_then(|mut plan| {
            crate::run::config_escalation(&mut plan, &self.options.config);
            Ok((resolve_agents(&plan, &self.options)?, plan))
        });
        let (agents, plan) = match planned {
            Ok(p) => p,
            Err(e) => {
                self.keeper.reject(stamp);
                if self.reload_error != Some(stamp) {
                    self.reload_error = Some(stamp);
                    let reason = match &e {
                        Error::Invalid { diagnostics, .. } => diagnostics
                            .first()
                            .map(|d| format!("line {}: {}", d.at.span.line(), d.error))
                            .unwrap_or_else(|| e.to_string()),
                        _ => e.to_string(),
                    };
                    self.emit(Event::PlanReloadFailed { reason });
                }
                return;
            }
        };
        self.read_undo_requests();
        // When the edit was saved, on the run's clock.
        let age = SystemTime::now()
            .duration_since(
                std::time::UNIX_EPOCH + Duration::from_nanos(stamp.mtime_ns.max(0) as u64),
            )
            .unwrap_or_default();
        let edited_at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        let providers = crate::run::providers_of(&agents);
        let actions = self.d.on_reload(plan, &self.undo, edited_at, providers);
        self.keeper.adopt(bytes, stamp);
        self.agents = agents;
        self.perform(actions);
    }

    /// Ids the person asked to run again (`run-batch tick --undo` during the
    /// run), appended to a file in the state folder.
    pub(super) fn read_undo_requests(&mut self) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(self.state.undo_requests()) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.undo_read)).is_err() {
            return;
        }
        let mut text = String::new();
        if f.read_to_string(&mut text).is_err() {
            return;
        }
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        for id in text[..complete].lines() {
            self.undo.insert(id.to_owned());
        }
        self.undo_read += complete as u64;
    }

    /// Writes the boxes the run owes the file when due: at once for a small
    /// file, batched for large files under a stream of fast tasks (so a
    /// 10,000-task run does not write a 1 MB file 10,000 times).
    pub(super) fn write_boxes(&mut self, force: bool) {
        let wants = self.d.box_wants();
        if wants.is_empty() {
            self.first_owed = None;
            return;
        }
        let now = Instant::now();
        let first = *self.first_owed.get_or_insert(now);
        if self.write_again_at.is_some_and(|at| now < at) && !force {
            return;
        }
        let size = self.d.plan().doc.source.text.len() as u64;
        let max_delay = Duration::from_millis(250 + (size * 4000 / (1 << 20)).min(4750));
        let batch = (self.to_run_at_start / 8).max(1);
        let due = force
            || wants.len() >= batch
            || now - first >= max_delay
            || (self.slots.is_empty() && self.last_write.is_none_or(|w| now - w >= max_delay));
        if !due {
            return;
        }
        match self.keeper.write(&mut self.d.plan_mut().doc, &wants) {
            Written::Done { changed, parents } => {
                self.last_write = Some(now);
                // Boxes the person's version of the file does not have yet
                // are tried again in a while, not on every turn.
                self.write_again_at =
                    (!self.d.box_wants().is_empty()).then(|| now + Duration::from_secs(1));
                self.write_error = None;
                self.first_owed = None;
                self.d.boxes_written();
                let doc = &self.d.plan().doc;
                let id = |t: &usize| doc.id(*t).into_owned();
                let (ticked, cleared): (Vec<usize>, Vec<usize>) =
                    changed.iter().partition(|&&t| doc.tasks[t].checked);
                let event = Event::Ticked {
                    tasks: ticked.iter().map(id).collect(),
                    parents: parents.iter().map(id).collect(),
                    cleared: cleared.iter().map(id).collect(),
                };
                for &t in &ticked {
                    self.uncommitted.push(crate::record::tick::Tick {
                        id: doc.id(t).into_owned(),
                        text: Some(doc.text(t).to_owned()),
                    });
                }
                self.emit(event);
                if self.options.commit == crate::run::CommitWhen::Tick {
                    self.commit_progress();
                }
            }
            Written::Changed(bytes, stamp) => {
                self.reload(bytes, stamp);
                self.write_again_at = Some(now + SETTLE_POLL);
            }
            Written::Later => self.write_again_at = Some(now + SETTLE_POLL),
            Written::Failed(e) => {
                let reason = e.to_string();
                self.write_again_at = Some(now + Duration::from_secs(1));
                if self.write_error.as_ref() != Some(&reason) {
                    let doc = &self.d.plan().doc;
                    let tasks = wants.iter().map(|&(t, _)| doc.id(t).into_owned()).collect();
                    self.write_error = Some(reason.clone());
                    self.emit(Event::TickFailed { tasks, reason });
                }
            }
        }
    }

    /// `--commit`: the ticks written so far, committed (only their bytes).
    pub(super) fn commit_progress(&mut self) {
        if self.uncommitted.is_empty() || self.options.commit == crate::run::CommitWhen::Off {
            return;
        }
        let Some(root) =
            crate::git::Git::toplevel(self.taskfile_real.parent().unwrap_or(Path::new("/")))
        else {
            if !std::mem::replace(&mut self.commit_warned, true) {
                self.reporter.note(
                    "warning: --commit: the task file is not in a git repository; nothing is committed",
                );
            }
            return;
        };
        let rel = self
            .taskfile_real
            .strip_prefix(&root)
            .unwrap_or(&self.taskfile_real);
        let cost = (self.uncommitted.iter())
            .filter_map(|t| self.budget.by_task.get(&t.id)?.cost_usd)
            .reduce(|a, b| a + b);
        let progress = crate::record::commit::Progress {
            ticks: &self.uncommitted,
            run_id: &self.run_id,
            cost_usd: cost,
        };
        let git = crate::git::Git::new(&root);
        match crate::record::commit::commit_progress(&git, rel, self.options.read, &progress) {
            Ok(commit) => {
                let tasks = self.uncommitted.drain(..).map(|t| t.id).collect();
                if let Some(commit) = commit {
                    self.emit(Event::Committed { commit, tasks });
                }
            }
            // Tried again with the next ticks, and at the end.
            Err(e) => self.reporter.note(&format!("warning: --commit: {e}")),
        }
    }

    /// The last writes: wait (a while) for a busy file to take them.
    pub(super) fn write_boxes_at_end(&mut self) {
        let deadline = Instant::now() + FINAL_WRITE_PATIENCE;
        loop {
            self.watch_file();
            self.write_boxes(true);
            if self.d.box_wants().is_empty()
                || self.write_error.is_some()
                || Instant::now() >= deadline
            {
                return;
            }
            std::thread::sleep(SETTLE_POLL);
        }
    }
}
