//! Ticking: mark tasks done (or not done) in the task file on disk.
//!
//! Takes a document (or, for `run-batch tick`, the file itself) and the
//! tasks to set; hands on the state bytes to change: each task's one byte
//! inside `[ ]`, and its parents' when their required children are now all
//! done (or, undoing, no longer are). Tasks are found by id, never by a
//! remembered line. Writes only through `record::lease`, one byte at a time
//! in place: a person's save in progress is waited for, and a save that lands
//! meanwhile is never overwritten.

use std::path::Path;

use crate::error::{Error, PlanError, suggest};
use crate::record::lease;
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

/// How long `run-batch tick` waits for a save in progress to finish.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a reader that keeps the file open (a pager, `tail -f`) holds
/// a tick back before it is written beside the reader.
pub const READERS_ALLOWED_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// One state byte to set: an offset in the file and the byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub offset: usize,
    pub byte: u8,
}

/// Sets the boxes of `ticks` to done (or, with `undo`, not done) in `path`:
/// each box's one state byte, written in place under a lease (see
/// `record::lease`), so nothing else in the file can change.
pub fn apply(
    path: &Path,
    ticks: &[Tick],
    undo: bool,
    options: ReadOptions,
) -> Result<Outcome, Error> {
    let io = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let real = lease::resolve(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    writable(&real).map_err(io)?;
    let start = std::time::Instant::now();
    let deadline = start + PATIENCE;
    loop {
        // Someone keeps the file open (a pager?): after a while, write as
        // long as nobody is writing it.
        let readers_allowed = start.elapsed() >= READERS_ALLOWED_AFTER;
        let mut writer = match lease::Writer::open(&real, readers_allowed, None).map_err(io)? {
            lease::Access::Ready(w) => w,
            lease::Access::Busy(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            lease::Access::Busy(_) => {
                return Err(Error::TaskFileBusy {
                    path: path.to_owned(),
                });
            }
        };
        let bytes = writer.read_all().map_err(io)?;
        let doc = Document::parse(Source::from_bytes(path, bytes)?, options);
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
        let (changes, outcome) = changes(&doc, ticks, undo);
        for c in &changes {
            // Read under the lease a moment ago: the byte is still a box's.
            writer
                .set_byte(c.offset as u64, b" xX", c.byte)
                .map_err(io)?;
        }
        // Replaced by a rename meanwhile: our bytes went to the old file;
        // do it again on the new one.
        if writer.finish().map_err(io)?.is_some() {
            return Ok(outcome);
        }
    }
}

/// Refuses a file the owner made read-only: as root, a write would succeed
/// anyway, against the owner's intent.
pub fn writable(real: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(real)?;
    if meta.permissions().readonly() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the file is read-only (make it writable to let run-batch tick it)",
        ));
    }
    Ok(())
}

/// Applies the ticks to `bytes` (the file's bytes that `doc` was parsed from).
pub fn edit(doc: &Document, bytes: &mut [u8], ticks: &[Tick], undo: bool) -> Outcome {
    let (changes, outcome) = changes(doc, ticks, undo);
    for c in changes {
        bytes[c.offset] = c.byte;
    }
    outcome
}

/// The state bytes that make `ticks` true in the file `doc` was parsed
/// from: the tasks' own boxes and their parents'.
pub fn changes(doc: &Document, ticks: &[Tick], undo: bool) -> (Vec<Change>, Outcome) {
    let found: Vec<Option<usize>> = ticks.iter().map(|t| find(doc, t)).collect();
    let mut outcome = Outcome::default();
    for (tick, t) in ticks.iter().zip(&found) {
        if t.is_none() {
            outcome.missing.push(tick.id.clone());
        }
    }
    let (changes, by_index) = changes_of(doc, found.iter().flatten().copied(), undo);
    for (tick, t) in ticks.iter().zip(&found) {
        let Some(t) = *t else { continue };
        if by_index.changed.contains(&t) {
            outcome.changed.push(doc.id(t).into_owned());
        } else {
            outcome.unchanged.push(tick.id.clone());
        }
    }
    outcome.parents = (by_index.parents.iter())
        .map(|&p| doc.id(p).into_owned())
        .collect();
    (changes, outcome)
}

/// What `changes_of` did, by task index.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changed {
    pub changed: Vec<usize>,
    pub parents: Vec<usize>,
}

/// The state bytes that set tasks `tasks` (indices into `doc.tasks`) to
/// done (or with `undo`, not done), with the parents that follow them.
pub fn changes_of(
    doc: &Document,
    tasks: impl IntoIterator<Item = usize>,
    undo: bool,
) -> (Vec<Change>, Changed) {
    let want = if undo { b' ' } else { b'x' };
    let mut state: Vec<bool> = doc.tasks.iter().map(|t| t.checked).collect();
    let mut changes = Vec::new();
    let mut done = Changed::default();
    let mut set = |state: &mut [bool], t: usize| {
        changes.push(Change {
            offset: doc.tasks[t].state_offset(&doc.source),
            byte: want,
        });
        state[t] = !undo;
    };
    for t in tasks {
        if state[t] != undo {
            continue;
        }
        set(&mut state, t);
        done.changed.push(t);
    }
    // Parents follow their children: ticked when every required child is
    // done, cleared when a child is cleared (or that child would never run).
    let mut parents: Vec<usize> = (done.changed.iter())
        .filter_map(|&t| doc.tasks[t].parent())
        .collect();
    while let Some(p) = parents.pop() {
        let required = doc.children(p).filter(|&c| !doc.tasks[c].optional);
        let flip = if undo {
            state[p]
        } else {
            !state[p] && required.clone().count() > 0 && required.into_iter().all(|c| state[c])
        };
        if flip {
            set(&mut state, p);
            done.parents.push(p);
        }
        // Go on up while this parent is in the requested state, even if it
        // already was: with undo, any ticked ancestor would still count the
        // cleared task as done; when ticking, a ticked parent may complete
        // its own parent.
        if state[p] != undo {
            parents.extend(doc.tasks[p].parent());
        }
    }
    (changes, done)
}

fn find(doc: &Document, tick: &Tick) -> Option<usize> {
    (doc.task_by_id(&tick.id)).or_else(|| doc.task_with_text(tick.text.as_deref()?))
}

/// For a command-line tick of an unknown id: the error, with the nearest id.
pub fn not_found(doc: &Document, id: &str) -> Error {
    Error::TaskNotFound {
        path: doc.source.path.clone(),
        id: id.to_owned(),
        // Else an id whose start, or the start of whose last segments, it
        // is (people type the start of a long slug).
        suggestion: suggest(id, doc.task_ids()).or_else(|| doc.id_starting_with(id)),
    }
}
