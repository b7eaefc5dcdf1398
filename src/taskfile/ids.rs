//! The id index: every section and task id → who owns it. Takes the table
//! `identity` hashed the ids into while it assigned them, hands on lookups
//! by id. Never copies an id: the table holds indices and hashes the ids
//! where they live in the document.

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
    /// with [`hash`].
    pub(super) fn from_table(table: HashTable<u32>) -> IdIndex {
        IdIndex { table }
    }

    pub(super) fn get<'a>(&self, id: &str, id_of: impl Fn(IdOwner) -> &'a str) -> Option<IdOwner> {
        (self.table.find(hash(id), |&e| id_of(owner(e)) == id)).map(|&e| owner(e))
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
