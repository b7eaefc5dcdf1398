//! The id index: every section and task id → who owns it, and where each
//! task's id is kept. Takes the dialect's ids as tasks are built, then the
//! table and the string `identity` wrote the ids into while it assigned
//! them; hands on lookups both ways. Copies no id: the table holds indices,
//! and every task's id is a range of one string.

use std::hash::BuildHasher as _;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// Who an id belongs to. Tasks order before sections (a plan's `after`
/// lists task ids first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdOwner {
    Task(usize),
    Section(usize),
}

/// One entry: a task index, or a section index with the top bit set.
const SECTION: u32 = 1 << 31;

#[derive(Debug, Default)]
pub(super) struct IdIndex {
    table: HashTable<u32>,
    /// Every task's id, one after the other: one string, not a block per
    /// id. (While ids are assigned, the dialect's ids as tasks were built.)
    pub(super) text: String,
    /// Each task's id in `text`, by task.
    pub(super) tasks: Vec<(u32, u32)>,
}

/// The hash every id table uses (identity's, then this index).
pub(super) fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

/// An owner as one number (as the table holds it).
pub(super) fn code(owner: IdOwner) -> u32 {
    match owner {
        IdOwner::Task(t) => t as u32,
        IdOwner::Section(s) => s as u32 | SECTION,
    }
}

pub(super) fn owner(entry: u32) -> IdOwner {
    if entry & SECTION != 0 {
        IdOwner::Section((entry & !SECTION) as usize)
    } else {
        IdOwner::Task(entry as usize)
    }
}

impl IdIndex {
    /// The index of a table of owners (as [`code`]) hashed by their ids
    /// with [`hash`], and of tasks' ids written at `tasks` in `text`.
    pub(super) fn new(table: HashTable<u32>, text: String, tasks: Vec<(u32, u32)>) -> IdIndex {
        IdIndex { table, text, tasks }
    }

    /// Adds the next task, with its dialect's id (`""`: none).
    pub(super) fn push_task(&mut self, id: &str) {
        let start = crate::location::narrow(self.text.len());
        self.text.push_str(id);
        self.tasks
            .push((start, crate::location::narrow(self.text.len())));
    }

    /// Task `t`'s id.
    pub(super) fn task(&self, t: usize) -> &str {
        let (start, end) = self.tasks[t];
        &self.text[start as usize..end as usize]
    }

    pub(super) fn get<'a>(&self, id: &str, id_of: impl Fn(IdOwner) -> &'a str) -> Option<IdOwner> {
        (self.table.find(hash(id), |&e| id_of(owner(e)) == id)).map(|&e| owner(e))
    }
}

/// Resolves a short reference to the one id that ends with `/reference`
/// (slug ids are long; their last segments are what people type). `Err`
/// lists the candidates when several ids end that way.
pub fn by_last_segments<'a>(
    ids: impl Iterator<Item = &'a str>,
    reference: &str,
) -> Result<Option<String>, Vec<String>> {
    let suffix = format!("/{reference}");
    let mut found: Vec<String> = ids
        .filter(|id| id.ends_with(&suffix))
        .map(str::to_owned)
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
            assert_eq!(doc.id_owner(id), Some(owner), "{id}");
        }
    }
}
