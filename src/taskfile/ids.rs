//! The id index: every section and task id → who owns it, and how each
//! task's id is had. Takes the dialect's ids as tasks are built, then the
//! table, the `id` hints and the forms `identity` gave out; hands on
//! lookups both ways. Keeps no slug id: a task's slug id is made again
//! from its text each time it is asked for (`slug::write_id`), so a plan
//! of a million tasks holds 5 bytes per task for ids, not some 50.

use std::hash::BuildHasher as _;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::taskfile::slug::{Forms, Qualifiers};

/// Who an id belongs to. Tasks order before sections (a plan's `after`
/// lists task ids first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdOwner {
    Task(usize),
    Section(usize),
}

/// A section's code has the top bit set (see [`IdOwner::code`]).
const SECTION: u32 = 1 << 31;

impl IdOwner {
    /// The owner as one number, as id tables and a plan's edges keep it: a
    /// task's index, or a section's with the top bit set, so codes sort
    /// as owners do (every task before every section).
    pub fn code(self) -> u32 {
        let (index, tag) = match self {
            IdOwner::Task(t) => (t, 0),
            IdOwner::Section(s) => (s, SECTION),
        };
        let index = u32::try_from(index)
            .ok()
            .filter(|&i| i < SECTION)
            .expect("fewer than 2^31 tasks and sections");
        index | tag
    }

    /// The owner a [`IdOwner::code`] stands for.
    pub fn from_code(code: u32) -> IdOwner {
        let index = (code & !SECTION) as usize;
        if code & SECTION == 0 {
            IdOwner::Task(index)
        } else {
            IdOwner::Section(index)
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct IdIndex {
    /// Owners (as [`IdOwner::code`]) by the [`hash`] of their ids.
    pub(super) table: HashTable<u32>,
    /// The dialect's ids (`T001`, `1.2`), one after the other (a task's
    /// `id` hint is read from its hints).
    pub(super) text: String,
    /// `(task, start, end)` in `text`, by task.
    written: Vec<(u32, u32, u32)>,
    /// How each slug id is made from its task's text, by task.
    pub(super) forms: Forms,
    /// Sections' qualifiers and the file's title, which slug ids are made
    /// of.
    pub(super) qualifiers: Qualifiers,
    pub(super) title: Option<usize>,
}

/// The hash every id table uses (identity's, then this index): [`hash32`]
/// as hashbrown reads a hash (its bucket from the low bits, its tag from
/// the top seven).
pub(super) fn hash(id: &str) -> u64 {
    spread(hash32(id))
}

/// An id's hash in 32 bits: naming keeps one per task while it groups a
/// million of them (4 MB less at its peak than a `u64` each), and a
/// table of ids meets a clash of 32 bits once in billions of lookups (and
/// then compares the ids).
pub(super) fn hash32(id: &str) -> u32 {
    let h = FxBuildHasher.hash_one(id);
    (h >> 32) as u32 ^ h as u32
}

/// A [`hash32`] as the `u64` tables take.
pub(super) fn spread(h: u32) -> u64 {
    (u64::from(h) << 32) | u64::from(h)
}

impl IdIndex {
    /// Keeps `id` as task `t`'s dialect id (tasks come in order).
    pub(super) fn push_dialect(&mut self, t: usize, id: &str) {
        let start = crate::location::narrow(self.text.len());
        self.text.push_str(id);
        let end = crate::location::narrow(self.text.len());
        self.written.push((crate::location::narrow(t), start, end));
    }

    /// Task `t`'s dialect id (`""`: none).
    pub(super) fn dialect(&self, t: usize) -> &str {
        let i = self.written.partition_point(|w| (w.0 as usize) < t);
        match self.written.get(i) {
            Some(&(task, start, end)) if task as usize == t => {
                &self.text[start as usize..end as usize]
            }
            _ => "",
        }
    }

    pub(super) fn get<'a>(
        &self,
        id: &str,
        id_of: impl Fn(IdOwner) -> std::borrow::Cow<'a, str>,
    ) -> Option<IdOwner> {
        (self
            .table
            .find(hash(id), |&e| id_of(IdOwner::from_code(e)) == id))
        .map(|&e| IdOwner::from_code(e))
    }
}

/// Resolves a short reference to the one id that ends with `/reference`
/// (slug ids are long; their last segments are what people type). `Err`
/// lists the candidates when several ids end that way.
pub fn by_last_segments<S: AsRef<str>>(
    ids: impl Iterator<Item = S>,
    reference: &str,
) -> Result<Option<String>, Vec<String>> {
    let suffix = format!("/{reference}");
    let mut found: Vec<String> = ids
        .filter(|id| id.as_ref().ends_with(&suffix))
        .map(|id| id.as_ref().to_owned())
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => {
            found.sort();
            Err(found)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::taskfile::{Document, IdOwner, ReadOptions, Source};

    #[test]
    fn finds_tasks_and_sections_by_their_ids() {
        let text = "# T\n## A\n- [ ] x\n## B\n- [ ] y <!-- id: b-task -->\n- [ ] A\n";
        let doc = Document::parse(
            Source::new("t.md".into(), text.into(), 0),
            ReadOptions::default(),
        );
        assert_eq!(doc.id_owner("a"), Some(IdOwner::Section(2)));
        assert_eq!(doc.id_owner("x"), Some(IdOwner::Task(0)));
        assert_eq!(doc.id_owner("b-task"), Some(IdOwner::Task(1)));
        assert_eq!(doc.id_owner("b/a"), Some(IdOwner::Task(2)));
        assert_eq!(doc.id_owner(""), None);
        assert_eq!(doc.id_owner("c"), None);
        for (id, owner) in doc.all_ids() {
            assert_eq!(doc.id_owner(&id), Some(owner), "{id}");
        }
    }
}
