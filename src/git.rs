//! Running git: one command at a time in a given folder, its arguments
//! never through a shell, its error kept for people.
//!
//! Takes a folder and arguments; hands on stdout, or an error holding git's
//! own words. Never decides what to do with the repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A repository (or one of its worktrees) to run git in.
#[derive(Clone, Debug)]
pub struct Git {
    pub dir: PathBuf,
}

/// A git command that failed: the command and what git said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitError {
    pub command: String,
    pub message: String,
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` failed: {}", self.command, self.message)
    }
}

impl Git {
    pub fn new(dir: impl Into<PathBuf>) -> Git {
        Git { dir: dir.into() }
    }

    /// Runs `git ARGS`; its stdout, trimmed at the end.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        self.run_env(args, &[])
    }

    /// Runs `git ARGS` with more environment.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &Path)]) -> Result<String, GitError> {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            // Our messages, in our words: no pager, no colour, no prompts.
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_PAGER", "cat")
            .env("LC_ALL", "C");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let shown = || format!("git {}", shell_words::join(args));
        let out = cmd.output().map_err(|e| GitError {
            command: shown(),
            message: format!("cannot run git: {e}"),
        })?;
        if out.status.success() {
            let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
            s.truncate(s.trim_end().len());
            Ok(s)
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let msg = if err.trim().is_empty() {
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            } else {
                err.trim().to_owned()
            };
            Err(GitError {
                command: shown(),
                message: msg,
            })
        }
    }

    /// Runs `git ARGS` committing as run-batch (`commit`, `commit-tree`):
    /// its commits name it, whatever identity the repository has (or lacks).
    pub fn run_as_run_batch(&self, args: &[&str]) -> Result<String, GitError> {
        let mut all = vec![
            "-c",
            "user.name=run-batch",
            "-c",
            "user.email=run-batch@localhost",
        ];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Whether `git ARGS` succeeds (for questions such as `merge-base
    /// --is-ancestor`).
    pub fn ok(&self, args: &[&str]) -> bool {
        self.run(args).is_ok()
    }

    /// The root of the work tree holding `dir`, if it is in one.
    pub fn toplevel(dir: &Path) -> Option<PathBuf> {
        Git::new(dir)
            .run(&["rev-parse", "--show-toplevel"])
            .ok()
            .map(PathBuf::from)
    }
}
