//! Landing a task's work: what its agent left in its worktree is committed
//! (never its copy of the task file), merged with the branch the work lands
//! on without a checkout (`git merge-tree`), and only then brought into the
//! user's checkout, by a fast-forward that git refuses if it would touch the
//! user's uncommitted work.
//!
//! Takes the repository, the task's worktree and what to write in the
//! commit; hands on what happened: landed (with the commit and the files it
//! changed), a conflict (the files and the diff), or waiting for the user's
//! uncommitted changes. One landing at a time; never deletes anything (the
//! caller removes a worktree and its branch once the landing is recorded).

use std::path::Path;

use crate::git::{Git, GitError};
use crate::run::worktree::{Repo, Worktree};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Landed {
    /// The work is on the branch and in the user's checkout.
    Merged {
        commit: String,
        /// Files the task changed, relative to the repository.
        files: Vec<String>,
    },
    /// The task changed nothing.
    Nothing,
    /// The task's changes conflict with what landed since it started.
    Conflict { files: Vec<String>, diff: String },
    /// The user's uncommitted changes (or another checked-out branch) keep
    /// the merged work out of their checkout: try again later.
    Waiting { reason: String, files: Vec<String> },
}

/// What the commit of an agent's leftover changes says.
pub struct Message<'a> {
    pub subject: &'a str,
    pub run_id: &'a str,
    pub task_id: &'a str,
}

/// Commits what the agent left uncommitted in its worktree (its copy of the
/// task file is put back first: only run-batch's ticks change the plan).
pub fn commit_leftovers(wt: &Worktree, taskfile: &Path, msg: &Message) -> Result<(), GitError> {
    let git = Git::new(&wt.dir);
    let plan = taskfile.to_string_lossy().into_owned();
    // Tracked: back to the committed copy; untracked: out of the commit.
    if git.ok(&["ls-files", "--error-unmatch", "--", &plan]) {
        git.run(&["checkout", "HEAD", "--", &plan])?;
    }
    let exclude = format!(":(exclude){plan}");
    git.run(&["add", "-A", "--", ".", &exclude])?;
    if git.ok(&["diff", "--cached", "--quiet"]) {
        return Ok(());
    }
    let run = format!("Run-Id: {}", msg.run_id);
    let task = format!("Task-Id: {}", msg.task_id);
    git.run_as_run_batch(&[
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        msg.subject,
        "--trailer",
        &run,
        "--trailer",
        &task,
    ])?;
    Ok(())
}

/// Merges the task's branch into `repo.branch` and brings the result into
/// the user's checkout.
pub fn land(repo: &Repo, wt: &Worktree, msg: &Message) -> Result<Landed, GitError> {
    let main = repo.git();
    let tip = main.run(&["rev-parse", &repo.branch])?;
    let head = Git::new(&wt.dir).run(&["rev-parse", "HEAD"])?;
    let files: Vec<String> = Git::new(&wt.dir)
        .run(&["diff", "--name-only", &format!("{}..HEAD", wt.base)])?
        .lines()
        .map(str::to_owned)
        .collect();
    if main.ok(&["merge-base", "--is-ancestor", &head, &tip]) {
        // Already on the branch (nothing new, or landed before a crash).
        return Ok(if files.is_empty() {
            Landed::Nothing
        } else {
            Landed::Merged { commit: tip, files }
        });
    }
    let merged = merge_aside(repo, &tip, wt, msg)?;
    let merged = match merged {
        Ok(commit) => commit,
        Err(conflict) => return Ok(conflict),
    };
    // Into the user's checkout: only if they still have the branch out, and
    // only by fast-forward, which git refuses when their uncommitted
    // changes would be overwritten (it names the files).
    let current = main
        .run(&["symbolic-ref", "--quiet", "--short", "HEAD"])
        .unwrap_or_default();
    if current != repo.branch {
        return Ok(Landed::Waiting {
            reason: format!(
                "`{}` is checked out instead of `{}`, where the run lands its work; check `{}` out again",
                if current.is_empty() {
                    "a detached HEAD"
                } else {
                    &current
                },
                repo.branch,
                repo.branch
            ),
            files: Vec::new(),
        });
    }
    match main.run(&["merge", "--ff-only", "--quiet", &merged]) {
        Ok(_) => Ok(Landed::Merged {
            commit: merged,
            files,
        }),
        Err(e) => {
            let files: Vec<String> = (e.message.lines())
                .filter(|l| l.starts_with('\t'))
                .map(|l| l.trim().to_owned())
                .collect();
            if files.is_empty() {
                return Err(e);
            }
            Ok(Landed::Waiting {
                reason: format!(
                    "your uncommitted changes to {} would be overwritten; commit or stash them",
                    files
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                files,
            })
        }
    }
}

/// Merges the task's branch with `tip` without any checkout (`git
/// merge-tree`): the user's checkout is never in a half-merged state, and
/// no second copy of the repository is written. The merge commit, or the
/// conflict.
fn merge_aside(
    repo: &Repo,
    tip: &str,
    wt: &Worktree,
    msg: &Message,
) -> Result<Result<String, Landed>, GitError> {
    let main = repo.git();
    match main.run(&["merge-tree", "--write-tree", "--name-only", tip, &wt.branch]) {
        Ok(out) => {
            let tree = out.lines().next().unwrap_or_default().to_owned();
            let subject = format!("Merge task {}: {}", msg.task_id, msg.subject);
            let body = format!("Run-Id: {}\nTask-Id: {}", msg.run_id, msg.task_id);
            let commit = main.run_as_run_batch(&[
                "commit-tree",
                &tree,
                "-p",
                tip,
                "-p",
                &wt.branch,
                "-m",
                &subject,
                "-m",
                &body,
            ])?;
            Ok(Ok(commit))
        }
        Err(e) => {
            // Exit 1 with the tree, then the conflicting files, a blank
            // line and git's messages; anything else is a real failure.
            let mut lines = e.message.lines();
            let _tree = lines.next();
            let files: Vec<String> = lines
                .take_while(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            let conflicted = e.message.contains("CONFLICT") && !files.is_empty();
            if !conflicted {
                return Err(e);
            }
            // What each side did to those files, for the log and the retry.
            let mut diff = String::new();
            let mut args = vec!["diff", &wt.base, tip, "--"];
            args.extend(files.iter().map(String::as_str));
            diff.push_str("── landed since the task started:\n");
            diff.push_str(&main.run(&args).unwrap_or_default());
            let mut args = vec!["diff", &wt.base, &wt.branch, "--"];
            args.extend(files.iter().map(String::as_str));
            diff.push_str("\n── the task's changes:\n");
            diff.push_str(&main.run(&args).unwrap_or_default());
            Ok(Err(Landed::Conflict { files, diff }))
        }
    }
}
