//! Ticking: mark tasks done (or not done) in the task file on disk.
//!
//! Each call re-reads and re-parses the file, finds every task by its id
//! (never by a remembered line), changes the one state byte inside its `[ ]`,
//! ticks parents whose required children are now all done, and writes once,
//! atomically. If the file changes between our read and our rename (a person
//! saving in an editor), we start over from their version, so their edit is
//! kept and our tick lands on top of it.

use std::path::Path;

use crate::error::{Error, PlanError, suggest};
use crate::record::atomic;
use crate::taskfile::{Document, ReadOptions, Source};

/// A request to set one task's box.
#[derive(Clone, Debug)]
pub struct Tick {
    pub id: String,
    /// The task's text when it was planned: lets a task whose id was derived
    /// from its text be found again after its text was edited... only if
    /// exactly one unticked task still has this text.
    pub text: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Ids whose box changed.
    pub changed: Vec<String>,
    /// Parents ticked (or, with undo, cleared) because of their children.
    pub parents: Vec<String>,
    /// Ids already in the requested state.
    pub unchanged: Vec<String>,
    /// Ids no task has any more (deleted, or edited beyond recognition).
    pub missing: Vec<String>,
}

const ATTEMPTS: usize = 20;

/// Sets the boxes of `ticks` to done (or, with `undo`, not done) in `path`.
pub fn apply(
    path: &Path,
    ticks: &[Tick],
    undo: bool,
    options: ReadOptions,
) -> Result<Outcome, Error> {
    for _ in 0..ATTEMPTS {
        let source = Source::read(path)?;
        let mut bytes = Vec::with_capacity(source.bom + source.text.len());
        bytes.extend_from_slice(&b"\xEF\xBB\xBF"[..source.bom]);
        bytes.extend_from_slice(source.text.as_bytes());
        let original = bytes.clone();
        let doc = Document::parse(source, options);
        // Two tasks written with the same `id`: ticking "the" task would
        // pick one of them at random, so refuse, with the plan's error.
        let duplicated: Vec<_> = (doc.errors.iter())
            .filter(|d| {
                matches!(&d.error, PlanError::DuplicateId { id, .. }
                    if ticks.iter().any(|t| &t.id == id))
            })
            .cloned()
            .collect();
        if !duplicated.is_empty() {
            return Err(Error::Invalid {
                diagnostics: duplicated,
                warnings: Vec::new(),
            });
        }
        let outcome = edit(&doc, &mut bytes, ticks, undo);
        if bytes == original {
            return Ok(outcome);
        }
        let written = atomic::replace(path, &bytes, || Ok(std::fs::read(path)? == original))
            .map_err(|source| Error::Write {
                path: path.to_owned(),
                source,
            })?;
        if written {
            return Ok(outcome);
        }
    }
    Err(Error::TaskFileBusy {
        path: path.to_owned(),
    })
}

/// Applies the ticks to `bytes` (the file's bytes that `doc` was parsed from).
pub fn edit(doc: &Document, bytes: &mut [u8], ticks: &[Tick], undo: bool) -> Outcome {
    let mut outcome = Outcome::default();
    let want = if undo { b' ' } else { b'x' };
    let mut state: Vec<bool> = doc.tasks.iter().map(|t| t.checked).collect();
    let set = |bytes: &mut [u8], state: &mut [bool], t: usize| {
        let at = doc.tasks[t].state_offset(&doc.source);
        debug_assert_eq!(bytes[at - 1], b'[');
        bytes[at] = want;
        state[t] = !undo;
    };
    let mut touched = Vec::new();
    for tick in ticks {
        let Some(t) = find(doc, tick) else {
            outcome.missing.push(tick.id.clone());
            continue;
        };
        if state[t] != undo {
            outcome.unchanged.push(tick.id.clone());
            continue;
        }
        set(bytes, &mut state, t);
        outcome.changed.push(doc.tasks[t].id.clone());
        touched.push(t);
    }
    // Parents follow their children: ticked when every required child is
    // done, cleared when a child is cleared (or that child would never run).
    let mut parents: Vec<usize> = touched
        .iter()
        .filter_map(|&t| doc.tasks[t].parent)
        .collect();
    while let Some(p) = parents.pop() {
        let task = &doc.tasks[p];
        let required = task.children.iter().filter(|&&c| !doc.tasks[c].optional);
        let flip = if undo {
            state[p]
        } else {
            !state[p] && required.clone().count() > 0 && required.into_iter().all(|&c| state[c])
        };
        if flip {
            set(bytes, &mut state, p);
            outcome.parents.push(task.id.clone());
        }
        // Go on up while this parent is in the requested state, even if it
        // already was: with undo, any ticked ancestor would still count the
        // cleared task as done; when ticking, a ticked parent may complete
        // its own parent.
        if state[p] != undo {
            parents.extend(task.parent);
        }
    }
    outcome
}

fn find(doc: &Document, tick: &Tick) -> Option<usize> {
    doc.tasks
        .iter()
        .position(|t| t.id == tick.id)
        .or_else(|| doc.task_with_text(tick.text.as_deref()?))
}

/// For a command-line tick of an unknown id: the error, with the nearest id.
pub fn not_found(doc: &Document, id: &str) -> Error {
    Error::TaskNotFound {
        path: doc.source.path.clone(),
        id: id.to_owned(),
        // Else an id whose start, or the start of whose last segments, it
        // is (people type the start of a long slug).
        suggestion: suggest(id, doc.tasks.iter().map(|t| t.id.as_str()))
            .or_else(|| doc.id_starting_with(id)),
    }
}
