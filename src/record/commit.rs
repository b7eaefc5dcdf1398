//! `--commit`: the run's progress committed to git — the tick bytes of the
//! task file and nothing else.
//!
//! Takes the repository, the task file's path in it and the boxes ticked;
//! hands on the commit made. The commit is the committed task file with
//! those boxes set (built with a private index, so the person's other edits
//! to the file, their staged work and agents' files are never swept in),
//! put on the checked-out branch only if nobody moved it meanwhile. Never
//! touches the working tree.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::git::{Git, GitError};
use crate::record::tick::{self, Tick};
use crate::taskfile::{Document, ReadOptions, Source};

/// What a progress commit says.
pub struct Progress<'a> {
    /// The tasks ticked, by id, with their text (found by either).
    pub ticks: &'a [Tick],
    pub run_id: &'a str,
    /// What those tasks cost, if known.
    pub cost_usd: Option<f64>,
}

/// Commits the boxes of `p.ticks` as ticked in the committed copy of the
/// task file (`rel`, relative to the repository). `Ok(None)`: nothing to
/// commit (already ticked there).
pub fn commit_progress(
    repo: &Git,
    rel: &Path,
    read: ReadOptions,
    p: &Progress,
) -> Result<Option<String>, GitError> {
    let rel_s = rel.to_string_lossy().into_owned();
    let head = repo.run(&["rev-parse", "--verify", "HEAD"])?;
    let spec = format!("HEAD:{rel_s}");
    let committed = repo.run_bytes(&["cat-file", "blob", &spec]).map_err(|e| GitError {
        message: format!(
            "the task file is not committed ({}); --commit adds ticks to the committed copy, so commit it first",
            e.message
        ),
        ..e
    })?;
    let source = Source::from_bytes(rel, committed.clone()).map_err(|e| GitError {
        command: format!("read {spec}"),
        message: e.to_string(),
    })?;
    let doc = Document::parse(source, read);
    let (changes, outcome) = tick::changes(&doc, p.ticks, false);
    if changes.is_empty() {
        return Ok(None);
    }
    let mut bytes = committed;
    for c in &changes {
        bytes[c.offset] = c.byte;
    }
    let blob = repo.run_input(&["hash-object", "-w", "--stdin"], &bytes)?;
    let mode = repo
        .run(&["ls-tree", "HEAD", "--", &rel_s])?
        .split_whitespace()
        .next()
        .unwrap_or("100644")
        .to_owned();
    // A private index: the person's staged work is not in the commit.
    let index = tempfile::NamedTempFile::new().map_err(|e| GitError {
        command: "mktemp".into(),
        message: e.to_string(),
    })?;
    let env = [("GIT_INDEX_FILE", index.path())];
    repo.run_env(&["read-tree", "HEAD"], &env)?;
    let entry = format!("{mode},{blob},{rel_s}");
    repo.run_env(&["update-index", "--cacheinfo", &entry], &env)?;
    let tree = repo.run_env(&["write-tree"], &env)?;
    let mut names: Vec<&str> = outcome.changed.iter().map(String::as_str).collect();
    names.extend(outcome.parents.iter().map(String::as_str));
    let subject = match names.as_slice() {
        [one] => format!("Tick {one}"),
        many => format!("Tick {} tasks", many.len()),
    };
    let mut message = format!("{subject}\n\n");
    if names.len() > 1 {
        for n in &names {
            message.push_str(&format!("- {n}\n"));
        }
        message.push('\n');
    }
    message.push_str(&format!("Run-Id: {}\n", p.run_id));
    for n in &outcome.changed {
        message.push_str(&format!("Task-Id: {n}\n"));
    }
    if let Some(c) = p.cost_usd {
        message.push_str(&format!("Cost-USD: {c:.4}\n"));
    }
    let commit = repo.run_as_run_batch(&["commit-tree", &tree, "-p", &head, "-m", &message])?;
    let old_blob = repo.run(&["rev-parse", &spec]).unwrap_or_default();
    // Only if the branch is where it was: a landing or the person may have
    // moved it, and then the caller tries again.
    let branch = repo.run(&["symbolic-ref", "--quiet", "HEAD"])?;
    repo.run(&["update-ref", &branch, &commit, &head])?;
    // The person's index follows for the file, unless they staged it.
    let staged = repo
        .run(&["ls-files", "--stage", "--", &rel_s])
        .unwrap_or_default();
    if staged.split_whitespace().nth(1) == Some(old_blob.as_str()) {
        let _ = repo.run(&["update-index", "--cacheinfo", &entry]);
    }
    Ok(Some(commit))
}

impl Git {
    /// Runs `git ARGS` with `input` on stdin; its stdout, trimmed.
    pub fn run_input(&self, args: &[&str], input: &[u8]) -> Result<String, GitError> {
        let mut child = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| GitError {
                command: format!("git {}", args.join(" ")),
                message: format!("cannot run git: {e}"),
            })?;
        let _ = child.stdin.take().unwrap().write_all(input);
        let out = child.wait_with_output().map_err(|e| GitError {
            command: format!("git {}", args.join(" ")),
            message: e.to_string(),
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
        } else {
            Err(GitError {
                command: format!("git {}", args.join(" ")),
                message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    /// Runs `git ARGS`; its stdout as bytes, untouched.
    pub fn run_bytes(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| GitError {
                command: format!("git {}", args.join(" ")),
                message: format!("cannot run git: {e}"),
            })?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(GitError {
                command: format!("git {}", args.join(" ")),
                message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }
}
