//! The engine with `--isolate worktree`: a task's worktree is prepared
//! (made, ignored files copied in, set up) before its first attempt, off the
//! loop's thread; a verified attempt's work is landed on the user's branch,
//! one landing at a time, before its box is ticked; worktrees and branches
//! go once their landing is recorded. Takes attempts and git's answers;
//! hands on attempts started in their worktree and verdicts after landing.

use std::collections::VecDeque;

use super::*;
use crate::run::land::{self, Landed};
use crate::run::worktree::{Repo, Worktree};

/// An attempt waiting for its task's worktree.
pub(super) struct Pending {
    pub(super) key: Key,
    pub(super) number: u32,
}

/// Attempts whose work waits to land, and the one landing now.
#[derive(Default)]
pub(super) struct Landings {
    pub(super) queue: VecDeque<AttemptId>,
    pub(super) busy: Option<AttemptId>,
    /// Verified attempts, held until they land: their slot, and since when
    /// the user's checkout has kept them out (with the reason last told).
    pub(super) held: HashMap<AttemptId, (Slot, Option<(Instant, String)>)>,
    /// When waiting landings are tried again.
    pub(super) retry_at: Option<Instant>,
}

/// How long a landing waits for the user's uncommitted changes before the
/// attempt ends unlanded (the next run lands it).
const LANDING_PATIENCE: Duration = Duration::from_secs(600);
/// How often a waiting landing is tried again.
const LANDING_RETRY: Duration = Duration::from_secs(2);

impl Engine {
    /// Starts making task `key`'s worktree in the background.
    pub(super) fn prepare(&mut self, attempt: AttemptId, key: Key, number: u32) {
        let repo = self.repo.clone().expect("isolating");
        let stem = crate::record::state::file_stem_for(&self.d.task(key).id);
        let run_id = self.run_id.clone();
        let setup = self.options.config.worktree_setup.clone();
        let log = self.run_dir.join(format!("{stem}.setup.log"));
        let tx = self.tx.clone();
        self.pending.insert(attempt, Pending { key, number });
        std::thread::Builder::new()
            .name("worktree".into())
            .spawn(move || {
                let result = make(&repo, &stem, &run_id, setup.as_deref(), &log);
                let _ = tx.send(Input::Prepared {
                    slot: attempt,
                    result: Box::new(result),
                });
            })
            .expect("spawn a worktree thread");
    }

    /// A worktree is ready (or could not be made): the attempt starts in it.
    pub(super) fn prepared(&mut self, attempt: AttemptId, result: Result<Worktree, String>) {
        let Some(p) = self.pending.remove(&attempt) else {
            return;
        };
        let place = self.d.task(p.key).place;
        match (result, place) {
            (Ok(wt), Some(t)) => {
                self.emit(Event::WorktreeReady {
                    task: self.d.task(p.key).id.clone(),
                    dir: wt.dir.clone(),
                    branch: wt.branch.clone(),
                    reused: !wt.new,
                });
                self.worktrees.insert(p.key, wt);
                self.start(attempt, p.key, t, p.number);
            }
            (Err(reason), Some(_)) => {
                let id = self.d.task(p.key).id.clone();
                let reason = format!("could not prepare its worktree: {reason}");
                self.emit(Event::TaskFinished {
                    task: id.clone(),
                    attempt: p.number,
                    outcome: TaskOutcome::Failed,
                    class: Class::Setup.name(),
                    flaky: false,
                    exit: None,
                    reason: Some(reason.clone()),
                    duration_secs: 0.0,
                    log: Some(self.run_dir.join(format!(
                        "{}.setup.log",
                        crate::record::state::file_stem_for(&id)
                    ))),
                    agent: String::new(),
                    session_id: None,
                    spend: None,
                    resumable: false,
                    session_total: None,
                });
                let actions = self
                    .d
                    .on_end(attempt, Class::Setup, Some(&reason), Instant::now());
                self.perform(actions);
            }
            (_, None) => {
                let actions = self
                    .d
                    .on_end(attempt, Class::Interrupted, None, Instant::now());
                self.perform(actions);
            }
        }
    }

    /// The folder an attempt of task `key` runs in, and the task file it is
    /// told of: in its worktree when isolating.
    pub(super) fn attempt_paths(&self, key: Key) -> (PathBuf, PathBuf) {
        match (&self.repo, self.worktrees.get(&key)) {
            (Some(repo), Some(wt)) => (
                repo.inside(wt, &self.workdir)
                    .unwrap_or_else(|| wt.dir.clone()),
                repo.inside(wt, &self.taskfile_real)
                    .unwrap_or_else(|| self.taskfile_abs.clone()),
            ),
            _ => (self.workdir.clone(), self.taskfile_abs.clone()),
        }
    }

    /// The files among `changed` that task `id` did not claim (none when it
    /// claimed nothing: then there is nothing to hold it to). Paths are
    /// relative to the repository; claims to the working folder.
    fn undeclared(&self, id: &str, changed: &[String]) -> Vec<String> {
        let plan = self.d.plan();
        let Some(crate::taskfile::IdOwner::Task(t)) = plan.doc.id_owner(id) else {
            return Vec::new();
        };
        let files = plan.files(t);
        if files.is_empty() {
            return Vec::new();
        }
        // `changed` is relative to the repository, claims to the folder
        // tasks work in.
        let prefix = (self.repo.as_ref())
            .and_then(|r| self.workdir.strip_prefix(&r.root).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty())
            .map(|p| format!("{p}/"))
            .unwrap_or_default();
        (changed.iter())
            .filter(|f| {
                let rel = f.strip_prefix(prefix.as_str()).unwrap_or(f);
                !crate::plan::files::covers(files, rel)
            })
            .cloned()
            .collect()
    }

    /// Whether task `key` runs in a worktree of its own.
    pub(super) fn isolated(&self, key: Key) -> bool {
        self.repo.is_some() && self.worktrees.contains_key(&key)
    }

    /// A verified attempt of an isolated task: its work lands before it
    /// counts.
    pub(super) fn hold_for_landing(&mut self, attempt: AttemptId, slot: Slot) {
        let wt = &self.worktrees[&slot.key];
        self.emit(Event::TaskVerified {
            task: slot.task_id.clone(),
            attempt: slot.number,
            branch: wt.branch.clone(),
        });
        self.landings.held.insert(attempt, (slot, None));
        self.landings.queue.push_back(attempt);
        self.next_landing();
    }

    /// Starts the next landing if none runs.
    pub(super) fn next_landing(&mut self) {
        if self.landings.busy.is_some() {
            return;
        }
        let Some(attempt) = self.landings.queue.pop_front() else {
            return;
        };
        let Some((slot, _)) = self.landings.held.get(&attempt) else {
            return;
        };
        let repo = self.repo.clone().expect("isolating");
        let wt = self.worktrees[&slot.key].clone();
        let rel = self
            .taskfile_real
            .strip_prefix(&repo.root)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let subject = self
            .d
            .task(slot.key)
            .place
            .map(|t| self.d.plan().doc.text(t).to_owned())
            .unwrap_or_else(|| slot.task_id.clone());
        let (run_id, task_id) = (self.run_id.clone(), slot.task_id.clone());
        let tx = self.tx.clone();
        self.landings.busy = Some(attempt);
        std::thread::Builder::new()
            .name("land".into())
            .spawn(move || {
                let msg = land::Message {
                    subject: &subject,
                    run_id: &run_id,
                    task_id: &task_id,
                };
                let result = land::commit_leftovers(&wt, &rel, &msg)
                    .and_then(|()| land::land(&repo, &wt, &msg))
                    .map_err(|e| e.to_string());
                let _ = tx.send(Input::Landed {
                    slot: attempt,
                    result: Box::new(result),
                });
            })
            .expect("spawn a landing thread");
    }

    /// A landing's outcome: the attempt is concluded (succeeded, or failed
    /// on a conflict), or tried again later.
    pub(super) fn landed(&mut self, attempt: AttemptId, result: Result<Landed, String>) {
        self.landings.busy = None;
        let Some((mut slot, waiting)) = self.landings.held.remove(&attempt) else {
            self.next_landing();
            return;
        };
        let key = slot.key;
        slot.landed = true;
        match result {
            Ok(Landed::Merged { commit, files }) => {
                let undeclared = self.undeclared(&slot.task_id, &files);
                self.emit(Event::TaskLanded {
                    task: slot.task_id.clone(),
                    branch: self.worktrees[&key].branch.clone(),
                    commit: Some(commit),
                    files,
                    undeclared,
                });
                self.conclude(attempt, slot, Verdict::Ok);
                self.drop_worktree(key, true);
            }
            Ok(Landed::Nothing) => {
                self.emit(Event::TaskLanded {
                    task: slot.task_id.clone(),
                    branch: self.worktrees[&key].branch.clone(),
                    commit: None,
                    files: Vec::new(),
                    undeclared: Vec::new(),
                });
                self.conclude(attempt, slot, Verdict::Ok);
                self.drop_worktree(key, true);
            }
            Ok(Landed::Conflict { files, diff }) => {
                // The diff in the log: the retry's prompt shows its end.
                if let Ok(mut log) = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&slot.info.log)
                {
                    use std::io::Write;
                    let _ = write!(log, "\n── run-batch: merge conflict ──\n{diff}\n");
                }
                let reason = format!(
                    "its changes conflict with work that landed since it started, in {}",
                    files
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let wt = self.worktrees.get(&key).cloned();
                self.conclude(attempt, slot, Verdict::Failed(reason));
                // A retry starts afresh on the new tip; the conflicting
                // branch is kept under another name for inspection. With no
                // retry left, the worktree stays as it is.
                if let Some(wt) = wt
                    && self.d.task(key).state == crate::run::scheduler::State::Retrying
                {
                    self.set_aside(key, &wt);
                }
            }
            Ok(Landed::Waiting { reason, files }) => {
                let now = Instant::now();
                let since = waiting.as_ref().map_or(now, |w| w.0);
                if waiting.as_ref().is_none_or(|w| w.1 != reason) {
                    self.emit(Event::LandingWaits {
                        task: slot.task_id.clone(),
                        branch: self
                            .repo
                            .as_ref()
                            .map_or(String::new(), |r| r.branch.clone()),
                        reason: reason.clone(),
                        files,
                    });
                }
                if now - since >= LANDING_PATIENCE || self.d.cancel().is_some() {
                    let reason = format!(
                        "done and verified, but not merged ({reason}); the next run merges it"
                    );
                    slot.stop = Some(Stop::Cancelled);
                    self.note_unlanded(&slot.task_id, &reason);
                    self.conclude(attempt, slot, Verdict::Failed(reason));
                } else {
                    self.landings
                        .held
                        .insert(attempt, (slot, Some((since, reason))));
                    self.landings.retry_at = Some(now + LANDING_RETRY);
                }
            }
            Err(e) => {
                let reason = format!("could not merge its work: {e}");
                self.conclude(attempt, slot, Verdict::Failed(reason));
            }
        }
        self.next_landing();
    }

    /// What a crashed run left: work that landed but was never ticked is
    /// ticked now; work verified but not landed is landed now (or, on a
    /// conflict, its task runs again). Runs before anything starts.
    pub(super) fn recover_landings(&mut self) {
        let Some(repo) = self.repo.clone() else {
            return;
        };
        let plan = self.d.plan();
        let mut ticked = Vec::new();
        let mut verified = Vec::new();
        for t in plan.runnable() {
            if plan.is_done(t) {
                continue;
            }
            let id = plan.doc.id(t).into_owned();
            let Some(rec) = self.journal.tasks.get(&id) else {
                continue;
            };
            if rec.landed_unticked {
                ticked.push(t);
            } else if let Some(branch) = &rec.verified_branch {
                verified.push((t, id.to_owned(), branch.clone()));
            }
        }
        for t in ticked {
            let id = self.d.plan().doc.id(t).into_owned();
            self.reporter.note(&format!(
                "note: `{id}`: its work landed in the run that crashed; ticking it"
            ));
            self.d.mark_succeeded(t);
        }
        for (t, id, branch) in verified {
            let dir = repo.dir_of_branch(&branch).unwrap_or_else(|| {
                repo.worktrees
                    .join(crate::record::state::file_stem_for(&id))
            });
            if !repo
                .git()
                .ok(&["rev-parse", "--verify", "--quiet", &branch])
            {
                continue;
            }
            let base = repo
                .git()
                .run(&["merge-base", &branch, &repo.branch])
                .unwrap_or_default();
            let wt = Worktree {
                dir,
                branch,
                base,
                new: false,
            };
            let msg = land::Message {
                subject: self.d.plan().doc.text(t),
                run_id: &self.run_id.clone(),
                task_id: &id,
            };
            match land::land(&repo, &wt, &msg) {
                Ok(Landed::Merged { commit, files }) => {
                    self.reporter.note(&format!(
                        "note: `{id}`: its work was verified in the run that crashed; merged it"
                    ));
                    let undeclared = self.undeclared(&id, &files);
                    self.emit(Event::TaskLanded {
                        task: id.clone(),
                        branch: wt.branch.clone(),
                        commit: Some(commit),
                        files,
                        undeclared,
                    });
                    self.d.mark_succeeded(t);
                    let _ = repo.remove(&wt, true);
                }
                Ok(Landed::Nothing) => {
                    self.d.mark_succeeded(t);
                    let _ = repo.remove(&wt, true);
                }
                Ok(Landed::Conflict { files, .. }) => self.reporter.note(&format!(
                    "note: `{id}`: its work from the run that crashed conflicts in {}; it runs again",
                    files.join(", ")
                )),
                Ok(Landed::Waiting { reason, .. }) => self.reporter.note(&format!(
                    "note: `{id}`: its work from the run that crashed cannot be merged yet ({reason}); it runs again in its worktree"
                )),
                Err(e) => self.reporter.note(&format!(
                    "warning: `{id}`: its work from the run that crashed could not be merged: {e}"
                )),
            }
        }
    }

    /// Landings that wait for the user are tried again when due.
    pub(super) fn retry_landings(&mut self, now: Instant) {
        if self.landings.retry_at.is_some_and(|at| now >= at) {
            self.landings.retry_at = None;
            let waiting: Vec<AttemptId> = self.landings.held.keys().copied().collect();
            for a in waiting {
                if !self.landings.queue.contains(&a) && self.landings.busy != Some(a) {
                    self.landings.queue.push_back(a);
                }
            }
            self.next_landing();
        }
    }

    fn note_unlanded(&mut self, task: &str, reason: &str) {
        self.reporter.note(&format!("note: `{task}`: {reason}"));
    }

    /// A task's work landed: its worktree goes, and its branch with it.
    fn drop_worktree(&mut self, key: Key, branch_too: bool) {
        if let (Some(repo), Some(wt)) = (&self.repo, self.worktrees.remove(&key))
            && let Err(e) = repo.remove(&wt, branch_too)
        {
            self.reporter.note(&format!(
                "warning: could not remove the worktree `{}`: {e}",
                wt.dir.display()
            ));
        }
    }

    /// After a conflict, with a retry to come: the worktree goes, its branch
    /// is kept as `<branch>-conflict-<n>`.
    fn set_aside(&mut self, key: Key, wt: &Worktree) {
        let Some(repo) = &self.repo else { return };
        let n = self.d.task(key).attempts;
        let kept = format!("{}-conflict-{n}", wt.branch);
        let _ = repo.remove(wt, false);
        let _ = repo.git().run(&["branch", "-m", &wt.branch, &kept]);
        self.worktrees.remove(&key);
    }
}

/// Makes (or finds) a task's worktree, copies in what `.worktreeinclude`
/// names, and runs the setup command in a new one.
fn make(
    repo: &Repo,
    stem: &str,
    run_id: &str,
    setup: Option<&str>,
    log: &Path,
) -> Result<Worktree, String> {
    let wt = repo.prepare(stem, run_id).map_err(|e| e.to_string())?;
    if wt.new {
        repo.copy_included(&wt)?;
        if let Some(command) = setup {
            run_setup(command, &wt.dir, log)?;
        }
    }
    Ok(wt)
}

/// The setup command (`npm ci`, …) in a new worktree, with `sh -c`, its
/// output in `log`.
fn run_setup(command: &str, dir: &Path, log: &Path) -> Result<(), String> {
    let out = std::fs::File::create(log)
        .map_err(|e| format!("cannot create `{}`: {e}", log.display()))?;
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out);
    crate::run::process::own_group(&mut cmd);
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run the setup command `{command}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the setup command `{command}` failed ({status}); see `{}`",
            log.display()
        ))
    }
}
