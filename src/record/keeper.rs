//! The run's hold on its task file: the bytes its plan was read from, what
//! the file looked like after our own last write, settled reads of other
//! people's edits, and ticks written in place.
//!
//! Takes the path and, to write, the plan's document and the boxes the run
//! owes; hands on either the file's new bytes (someone else changed it: plan
//! again) or the boxes it set. Our own writes never cause a re-read or a
//! re-plan: a write checks the file still holds the bytes we know, then sets
//! single bytes (`record::lease`). Never decides which boxes to set.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::record::lease::{self, Access, Stamp};
use crate::record::tick::{self, Change, Tick};
use crate::taskfile::{Document, ReadOptions, Source};

pub struct Keeper {
    path: PathBuf,
    read: ReadOptions,
    real: PathBuf,
    /// The bytes the current plan was read from (with our ticks since).
    known: Vec<u8>,
    /// The file's stamp when it held `known`.
    stamp: Option<Stamp>,
    /// The stamp of the last version read that could not be planned.
    rejected: Option<Stamp>,
    /// Since when a write has found the file busy.
    busy_since: Option<Instant>,
}

/// What `poll` found.
pub enum Poll {
    /// Nothing new (or only our own write).
    Same,
    /// Someone is saving it right now: look again shortly.
    Settling,
    /// Someone changed it: plan these bytes (then `adopt` or `reject` them).
    Changed(Vec<u8>, Stamp),
    /// It cannot be read (deleted, moved, permissions).
    Gone(std::io::Error),
}

/// What `write` did.
pub enum Written {
    /// The boxes are set (plan indices); the document says so too.
    Done {
        changed: Vec<usize>,
        parents: Vec<usize>,
    },
    /// The file holds something else now: plan it, then write again.
    Changed(Vec<u8>, Stamp),
    /// Saved over by a rename while we wrote, or busy: try again shortly.
    Later,
    /// It cannot be written.
    Failed(std::io::Error),
}

/// How long a save in progress may hold the first read back.
const OPEN_PATIENCE: Duration = Duration::from_secs(30);

impl Keeper {
    /// Reads the file once no save is in progress. Returns the keeper and
    /// the bytes to plan.
    pub fn open(path: &Path, read: ReadOptions) -> std::io::Result<(Keeper, Vec<u8>)> {
        let real = lease::resolve(path)?;
        let start = Instant::now();
        loop {
            match lease::read_settled(&real, None)? {
                Access::Ready(s) => {
                    let keeper = Keeper {
                        path: path.to_owned(),
                        read,
                        real,
                        known: s.bytes.clone(),
                        stamp: Some(s.stamp),
                        rejected: None,
                        busy_since: None,
                    };
                    return Ok((keeper, s.bytes));
                }
                Access::Busy(_) if start.elapsed() < OPEN_PATIENCE => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Access::Busy(_) => {
                    return Err(std::io::Error::other(
                        "it is being saved and did not settle for 30s",
                    ));
                }
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether anyone else changed the file since we last knew it.
    pub fn poll(&mut self) -> Poll {
        let now = match std::fs::metadata(&self.real) {
            Ok(m) => Stamp::of(&m),
            Err(e) => return Poll::Gone(e),
        };
        if Some(now) == self.stamp || Some(now) == self.rejected {
            return Poll::Same;
        }
        match lease::read_settled(&self.real, self.stamp) {
            Err(e) => Poll::Gone(e),
            Ok(Access::Busy(_)) => Poll::Settling,
            Ok(Access::Ready(s)) if s.bytes == self.known => {
                // Touched, or saved with the same bytes.
                self.stamp = Some(s.stamp);
                Poll::Same
            }
            Ok(Access::Ready(s)) => Poll::Changed(s.bytes, s.stamp),
        }
    }

    /// The run now plans from these bytes.
    pub fn adopt(&mut self, bytes: Vec<u8>, stamp: Stamp) {
        self.known = bytes;
        self.stamp = Some(stamp);
        self.rejected = None;
    }

    /// These bytes could not be planned: the run keeps its plan, and looks
    /// again when the file changes.
    pub fn reject(&mut self, stamp: Stamp) {
        self.rejected = Some(stamp);
    }

    /// Sets boxes (`(plan index, ticked?)`) of `doc`, the document read from
    /// the bytes we know, in the file and in `doc`.
    pub fn write(&mut self, doc: &mut Document, wants: &[(usize, bool)]) -> Written {
        if let Err(e) = tick::writable(&self.real) {
            return Written::Failed(e);
        }
        let readers_allowed = self
            .busy_since
            .is_some_and(|t| t.elapsed() >= tick::READERS_ALLOWED_AFTER);
        let mut writer = match lease::Writer::open(&self.real, readers_allowed, self.stamp) {
            Err(e) => return Written::Failed(e),
            Ok(Access::Busy(_)) => {
                self.busy_since.get_or_insert_with(Instant::now);
                return Written::Later;
            }
            Ok(Access::Ready(w)) => w,
        };
        self.busy_since = None;
        let bytes = match writer.read_all() {
            Ok(b) => b,
            Err(e) => return Written::Failed(e),
        };
        if bytes != self.known {
            let stamp = Stamp::at(&self.real);
            if stamp != self.rejected {
                drop(writer);
                return match stamp {
                    Some(s) => Written::Changed(bytes, s),
                    None => Written::Later,
                };
            }
            // The person's edit does not plan, and the run goes on with its
            // plan: the boxes are set in their version, found by id or text
            // as `run-batch tick` finds them.
            return self.write_foreign(writer, bytes, doc, wants);
        }
        // Ticks first, then clears, each seeing the other's parents.
        let ticks: Vec<usize> = wants.iter().filter(|w| w.1).map(|w| w.0).collect();
        let clears: Vec<usize> = wants.iter().filter(|w| !w.1).map(|w| w.0).collect();
        let mut changes: Vec<Change> = Vec::new();
        let mut changed = Vec::new();
        let mut parents = Vec::new();
        for (set, undo) in [(ticks, false), (clears, true)] {
            if set.is_empty() {
                continue;
            }
            let (c, done) = tick::changes_of(doc, set, undo);
            for &t in done.changed.iter().chain(&done.parents) {
                doc.tasks[t].checked = !undo;
            }
            changes.extend(c);
            changed.extend(done.changed);
            parents.extend(done.parents);
        }
        for c in &changes {
            match writer.set_byte(c.offset as u64, b" xX", c.byte) {
                Ok(true) => self.known[c.offset] = c.byte,
                // Read under the lease a moment ago; cannot happen unless
                // someone writes without opening (mmap): plan again.
                Ok(false) => return Written::Later,
                Err(e) => return Written::Failed(e),
            }
        }
        self.finish(writer, doc, changed, parents)
    }

    /// Sets the boxes in a version of the file the run could not plan.
    fn write_foreign(
        &mut self,
        mut writer: lease::Writer,
        bytes: Vec<u8>,
        doc: &mut Document,
        wants: &[(usize, bool)],
    ) -> Written {
        let theirs = match Source::from_bytes(&self.path, bytes) {
            Ok(source) => Document::parse(source, self.read),
            // Not even UTF-8: nothing can be found in it now.
            Err(_) => return Written::Later,
        };
        let mut changed = Vec::new();
        let mut parents = Vec::new();
        for undo in [false, true] {
            let (ours, ticks): (Vec<usize>, Vec<Tick>) = (wants.iter())
                .filter(|w| w.1 != undo)
                .map(|&(t, _)| {
                    let tick = Tick {
                        id: doc.id(t).into_owned(),
                        text: Some(doc.text(t).to_owned()),
                    };
                    (t, tick)
                })
                .unzip();
            if ticks.is_empty() {
                continue;
            }
            let (changes, outcome) = tick::changes(&theirs, &ticks, undo);
            for c in &changes {
                match writer.set_byte(c.offset as u64, b" xX", c.byte) {
                    Ok(true) => {}
                    Ok(false) => return Written::Later,
                    Err(e) => return Written::Failed(e),
                }
            }
            // Ours are set as far as the run is concerned: found or not,
            // the person's version decides now.
            for (&t, tick) in ours.iter().zip(&ticks) {
                if !outcome.missing.contains(&tick.id) {
                    doc.tasks[t].checked = !undo;
                    changed.push(t);
                }
            }
            let _ = &mut parents;
        }
        match writer.finish() {
            Err(e) => Written::Failed(e),
            Ok(None) => Written::Later,
            // The file is still not the one the plan was read from.
            Ok(Some(stamp)) => {
                self.rejected = Some(stamp);
                Written::Done { changed, parents }
            }
        }
    }

    fn finish(
        &mut self,
        writer: lease::Writer,
        doc: &mut Document,
        changed: Vec<usize>,
        parents: Vec<usize>,
    ) -> Written {
        match writer.finish() {
            Err(e) => Written::Failed(e),
            // A rename replaced the file while we wrote: our bytes went to
            // the old one. The next poll reads the new one.
            Ok(None) => {
                for &t in changed.iter().chain(&parents) {
                    doc.tasks[t].checked = !doc.tasks[t].checked;
                }
                Written::Later
            }
            Ok(Some(stamp)) => {
                self.stamp = Some(stamp);
                Written::Done { changed, parents }
            }
        }
    }
}
