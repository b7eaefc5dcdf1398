//! The id index: every section and task id → who owns it, built once after
//! ids are assigned. Takes the document's ids, hands on lookups by id.
//! Never copies an id: the table holds indices and hashes the ids where
//! they live in the document.

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

fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

fn owner(entry: u32) -> IdOwner {
    if entry & SECTION != 0 {
        IdOwner::Section((entry & !SECTION) as usize)
    } else {
        IdOwner::Task(entry as usize)
    }
}

impl IdIndex {
    /// Sections first, then tasks: on a clash (an error the document
    /// reports) the later one wins, as it would in a map.
    pub(super) fn build<'a>(
        sections: impl ExactSizeIterator<Item = &'a str>,
        tasks: impl ExactSizeIterator<Item = &'a str>,
        id_of: impl Fn(IdOwner) -> &'a str,
    ) -> IdIndex {
        let mut table = HashTable::with_capacity(sections.len() + tasks.len());
        let entries = (sections.enumerate().skip(1))
            .map(|(i, id)| (id, i as u32 | SECTION))
            .chain(tasks.enumerate().map(|(i, id)| (id, i as u32)));
        for (id, entry) in entries {
            let h = hash(id);
            match table.entry(h, |&e| id_of(owner(e)) == id, |&e| hash(id_of(owner(e)))) {
                hashbrown::hash_table::Entry::Occupied(mut o) => *o.get_mut() = entry,
                hashbrown::hash_table::Entry::Vacant(v) => {
                    v.insert(entry);
                }
            }
        }
        IdIndex { table }
    }

    pub(super) fn get<'a>(&self, id: &str, id_of: impl Fn(IdOwner) -> &'a str) -> Option<IdOwner> {
        (self.table.find(hash(id), |&e| id_of(owner(e)) == id)).map(|&e| owner(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tasks_and_sections_and_a_later_twin_wins() {
        let sections = ["", "a", "b"];
        let tasks = ["a/x", "b", "a/y"];
        let id_of = |o: IdOwner| match o {
            IdOwner::Task(t) => tasks[t],
            IdOwner::Section(s) => sections[s],
        };
        let index = IdIndex::build(sections.iter().copied(), tasks.iter().copied(), id_of);
        assert_eq!(index.get("a", id_of), Some(IdOwner::Section(1)));
        assert_eq!(index.get("a/y", id_of), Some(IdOwner::Task(2)));
        assert_eq!(index.get("b", id_of), Some(IdOwner::Task(1)));
        assert_eq!(index.get("", id_of), None);
        assert_eq!(index.get("c", id_of), None);
    }
}
