//! A git worktree per task (`--isolate worktree`): created from the tip of
//! the branch the work lands on, on a branch of its own, with the ignored
//! files `.worktreeinclude` names copied in and a setup command run there.
//!
//! Takes the repository, the task and the run; hands on the folder the
//! task's attempts run in and the branch they commit to. Reuses a task's
//! worktree when it is still there (an interrupted agent continues in it,
//! with its partial work). Never merges (see `land`) and never touches the
//! user's working tree.

use std::path::{Path, PathBuf};

use crate::git::{Git, GitError};

/// The repository a run isolates its tasks in.
#[derive(Clone, Debug)]
pub struct Repo {
    /// The main work tree (the user's checkout).
    pub root: PathBuf,
    /// The branch checked out there when the run started: work lands on it.
    pub branch: String,
    /// Where task worktrees go (inside the state folder, which git ignores).
    pub worktrees: PathBuf,
}

/// A task's worktree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Worktree {
    pub dir: PathBuf,
    pub branch: String,
    /// The commit it was created from (what the task's changes are counted
    /// against).
    pub base: String,
    /// Made now (false: an earlier attempt's, reused).
    pub new: bool,
}

impl Repo {
    /// The repository holding `taskfile`, for a run that isolates tasks.
    /// An error names what stops isolation (not in git, no branch checked
    /// out, a file outside the repository).
    pub fn open(taskfile: &Path, state_dir: &Path) -> Result<Repo, String> {
        let real = std::fs::canonicalize(taskfile)
            .map_err(|e| format!("cannot find `{}`: {e}", taskfile.display()))?;
        let folder = real.parent().unwrap_or(Path::new("/"));
        let root = Git::toplevel(folder).ok_or_else(|| {
            format!(
                "`{}` is not in a git repository; running tasks in worktrees (`--isolate worktree` or an `isolate: worktree` hint) needs one",
                taskfile.display()
            )
        })?;
        let branch = Git::new(&root)
            .run(&["symbolic-ref", "--quiet", "--short", "HEAD"])
            .map_err(|_| {
                format!(
                    "`{}` has no branch checked out (a detached HEAD): `--isolate worktree` lands work on a branch; check one out first",
                    root.display()
                )
            })?;
        let state = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
        Ok(Repo {
            root,
            branch,
            worktrees: state.join("worktrees"),
        })
    }

    pub fn git(&self) -> Git {
        Git::new(&self.root)
    }

    /// The worktree of task `stem` (its state file name), made if needed.
    pub fn prepare(&self, stem: &str, run_id: &str) -> Result<Worktree, GitError> {
        let _one_at_a_time = admin_lock();
        let dir = self.worktrees.join(stem);
        let git = self.git();
        // An earlier attempt's worktree, still registered: reuse it.
        if dir.join(".git").exists()
            && let Ok(branch) = Git::new(&dir).run(&["symbolic-ref", "--quiet", "--short", "HEAD"])
        {
            let base = Git::new(&dir)
                .run(&["merge-base", "HEAD", &self.branch])
                .unwrap_or_default();
            return Ok(Worktree {
                dir,
                branch,
                base,
                new: false,
            });
        }
        // A folder left without its registration (killed mid-creation):
        // git would refuse it.
        let _ = git.run(&["worktree", "prune"]);
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        std::fs::create_dir_all(&self.worktrees).map_err(|e| GitError {
            command: "mkdir".into(),
            message: format!("cannot create `{}`: {e}", self.worktrees.display()),
        })?;
        let base = git.run(&["rev-parse", &self.branch])?;
        let branch = branch_name(run_id, stem);
        let d = dir.to_string_lossy().into_owned();
        git.run(&["worktree", "add", "--quiet", "-b", &branch, &d, &base])?;
        Ok(Worktree {
            dir,
            branch,
            base,
            new: true,
        })
    }

    /// Copies into a new worktree the files git ignores that
    /// `.worktreeinclude` (gitignore syntax, at the repository's root)
    /// names: `.env`, local config. Tracked files are never copied (the
    /// worktree has them). Returns the paths copied.
    pub fn copy_included(&self, wt: &Worktree) -> Result<Vec<String>, String> {
        let list = self.root.join(".worktreeinclude");
        if !list.is_file() {
            return Ok(Vec::new());
        }
        let mut builder = ignore::gitignore::GitignoreBuilder::new(&self.root);
        if let Some(e) = builder.add(&list) {
            return Err(format!("`{}`: {e}", list.display()));
        }
        let include = builder
            .build()
            .map_err(|e| format!("`{}`: {e}", list.display()))?;
        let ignored = self
            .git()
            .run(&[
                "ls-files",
                "--others",
                "--ignored",
                "--exclude-standard",
                "-z",
            ])
            .map_err(|e| e.to_string())?;
        let state = self.worktrees.parent().map(Path::to_path_buf);
        let mut copied = Vec::new();
        for rel in ignored.split('\0').filter(|r| !r.is_empty()) {
            let from = self.root.join(rel);
            if state.as_ref().is_some_and(|s| from.starts_with(s)) {
                continue;
            }
            if !include.matched_path_or_any_parents(rel, false).is_ignore() {
                continue;
            }
            let to = wt.dir.join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
            }
            std::fs::copy(&from, &to)
                .map_err(|e| format!("cannot copy `{rel}` into the worktree: {e}"))?;
            copied.push(rel.to_owned());
        }
        Ok(copied)
    }

    /// Removes a task's worktree and (once its work has landed) its branch.
    pub fn remove(&self, wt: &Worktree, branch_too: bool) -> Result<(), GitError> {
        let _one_at_a_time = admin_lock();
        let git = self.git();
        let d = wt.dir.to_string_lossy().into_owned();
        git.run(&["worktree", "remove", "--force", &d])?;
        if branch_too {
            git.run(&["branch", "-D", &wt.branch])?;
        }
        Ok(())
    }

    /// Moves the worktree of task stem `from` to stem `to` (a task whose id
    /// changed), unless `to` has one. Best effort: a worktree left where it
    /// was is made anew, its work still on its branch.
    pub fn rename_worktree(&self, from: &str, to: &str) {
        let (from, to) = (self.worktrees.join(from), self.worktrees.join(to));
        if from.join(".git").exists() && !to.exists() {
            let _ = self.git().run(&[
                "worktree",
                "move",
                &from.to_string_lossy(),
                &to.to_string_lossy(),
            ]);
        }
    }

    /// The folder of the worktree that has `branch` checked out: a crashed
    /// run's worktree is found by its branch, whatever its task is called
    /// now (ids were longer before).
    pub fn dir_of_branch(&self, branch: &str) -> Option<PathBuf> {
        let list = self.git().run(&["worktree", "list", "--porcelain"]).ok()?;
        let want = format!("branch refs/heads/{branch}");
        let mut dir = None;
        for line in list.lines() {
            if let Some(path) = line.strip_prefix("worktree ") {
                dir = Some(PathBuf::from(path));
            } else if line == want {
                return dir;
            }
        }
        None
    }

    /// Where `path` (in the main work tree) is inside a worktree.
    pub fn inside(&self, wt: &Worktree, path: &Path) -> Option<PathBuf> {
        let rel = path.strip_prefix(&self.root).ok()?;
        Some(wt.dir.join(rel))
    }
}

/// Held while worktrees are added, pruned or removed. Tasks prepare their
/// worktrees on threads of their own, and `git worktree prune` in one could
/// remove another's registration half made ("failed to read
/// .git/worktrees/b/commondir").
fn admin_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A worktree `run-batch clean` removed, and the branch that keeps its work.
pub struct Cleaned {
    pub dir: PathBuf,
    pub branch: Option<String>,
}

/// Removes the task worktrees a run kept under `state_dir` (after a
/// failure, for inspection) whose task file stem `needed` does not claim
/// (an interrupted agent to continue, verified work to land). What an agent
/// left uncommitted is committed to the worktree's branch first, and the
/// branch is kept: cleaning never loses work.
pub fn clean_kept(
    taskfile: &Path,
    state_dir: &Path,
    needed: impl Fn(&str) -> bool,
) -> Result<Vec<Cleaned>, String> {
    let folder = std::fs::canonicalize(state_dir).map_err(|e| e.to_string())?;
    let under = folder.join("worktrees");
    if !under.is_dir() {
        return Ok(Vec::new());
    }
    let Some(root) = taskfile
        .parent()
        .and_then(|p| {
            std::fs::canonicalize(if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            })
            .ok()
        })
        .and_then(|p| Git::toplevel(&p))
    else {
        return Ok(Vec::new());
    };
    let git = Git::new(&root);
    let list = git
        .run(&["worktree", "list", "--porcelain"])
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut dir: Option<PathBuf> = None;
    let mut branch: Option<String> = None;
    for line in list.lines().chain(std::iter::once("")) {
        if let Some(d) = line.strip_prefix("worktree ") {
            dir = Some(PathBuf::from(d));
        } else if let Some(b) = line.strip_prefix("branch ") {
            branch = Some(b.trim_start_matches("refs/heads/").to_owned());
        } else if line.is_empty() {
            let (Some(d), b) = (dir.take(), branch.take()) else {
                continue;
            };
            let Some(stem) = (d.parent() == Some(under.as_path()))
                .then(|| d.file_name())
                .flatten()
                .map(|n| n.to_string_lossy().into_owned())
            else {
                continue;
            };
            if needed(&stem) {
                continue;
            }
            let wt = Git::new(&d);
            if wt.run(&["add", "-A"]).is_ok() && !wt.ok(&["diff", "--cached", "--quiet"]) {
                wt.run_as_run_batch(&[
                    "commit",
                    "--quiet",
                    "--no-verify",
                    "-m",
                    &format!("run-batch clean: what was left in the worktree of `{stem}`"),
                ])
                .map_err(|e| e.to_string())?;
            }
            let ds = d.to_string_lossy().into_owned();
            git.run(&["worktree", "remove", "--force", &ds])
                .map_err(|e| e.to_string())?;
            out.push(Cleaned { dir: d, branch: b });
        }
    }
    Ok(out)
}

/// `run-batch/<run id>/<task>`: a branch named after the run and the task.
/// A task's file stem is safe as a file name; git's ref rules also forbid
/// `~`, `..`, a final `.lock` or `.`.
pub fn branch_name(run_id: &str, stem: &str) -> String {
    let mut s: String = stem
        .chars()
        .map(|c| {
            if c == '~' || c.is_whitespace() {
                '-'
            } else {
                c
            }
        })
        .collect();
    while s.contains("..") {
        s = s.replace("..", ".");
    }
    let s = s.trim_end_matches('.').trim_end_matches(".lock");
    format!("run-batch/{run_id}/{s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_gits_rules() {
        assert_eq!(branch_name("R1", "api"), "run-batch/R1/api");
        assert_eq!(branch_name("R1", "a..b~1f2e"), "run-batch/R1/a.b-1f2e");
        assert_eq!(branch_name("R1", "x.lock"), "run-batch/R1/x");
    }
}
