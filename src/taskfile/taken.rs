//! The ids taken so far in a document: each id's text kept once in one
//! string, looked up by hash. Takes ids with their owners; hands on whether
//! each was free, each owner's id, and (to `identity`) the document's id
//! index. Never decides what an id should be.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxHashMap;

use crate::taskfile::ids::{self, IdIndex, IdOwner};

/// Taken ids: their text is one string (no block per id), each owner's id
/// a range of it, and the table holds owners (as [`ids::code`]), so with
/// the tasks' ranges it becomes the document's id index (sections' ids are
/// copied to their sections). Per base, the next twin number to try: twins
/// cost one probe each, however many there are.
pub(super) struct Taken {
    pub(super) text: String,
    /// Each task's id in `text`, by task: its dialect's id until it takes
    /// one, then the one it took.
    tasks: Vec<(u32, u32)>,
    /// The same for sections.
    sections: Vec<(u32, u32)>,
    table: HashTable<u32>,
    pub(super) next: FxHashMap<String, usize>,
}

impl Taken {
    /// Nothing taken yet, for `sections` and for the tasks of `index`,
    /// whose dialect ids stay where they are written until taken.
    pub(super) fn new(sections: usize, index: IdIndex) -> Taken {
        let IdIndex { text, tasks, .. } = index;
        Taken {
            table: HashTable::with_capacity(sections + tasks.len()),
            text,
            tasks,
            sections: vec![(0, 0); sections],
            next: FxHashMap::default(),
        }
    }

    /// The id a task has until it takes one (its dialect's).
    pub(super) fn task_id(&self, t: usize) -> &str {
        let (start, end) = self.task_range(t);
        &self.text[start as usize..end as usize]
    }

    /// Where a task's id is written in `text`.
    pub(super) fn task_range(&self, t: usize) -> (u32, u32) {
        self.tasks[t]
    }

    /// Forgets a task's dialect id (it was taken by another).
    pub(super) fn clear_task(&mut self, t: usize) {
        self.tasks[t] = (0, 0);
    }

    /// The id `owner` (as [`ids::code`]) has taken.
    pub(super) fn id(&self, owner: u32) -> &str {
        id_in(&self.text, &self.tasks, &self.sections, owner)
    }

    /// Who has taken `id`, as [`ids::code`].
    pub(super) fn find(&self, id: &str) -> Option<u32> {
        (self.table.find(ids::hash(id), |&o| self.id(o) == id)).copied()
    }

    /// How many have taken an id.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// How many ids the table holds without growing.
    pub(super) fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Everyone who has taken an id so far, in no order.
    pub(super) fn owners(&self) -> impl Iterator<Item = u32> + '_ {
        self.table.iter().copied()
    }

    /// Takes `id` for `owner`; false when it is taken already.
    pub(super) fn take(&mut self, id: &str, owner: u32) -> bool {
        let start = self.text.len();
        self.text.push_str(id);
        let range = (start as u32, self.text.len() as u32);
        let taken = self.take_at(range, ids::hash(id), owner);
        if !taken {
            self.text.truncate(start);
        }
        taken
    }

    /// Takes the id written at `start..end` of `text`, whose hash is
    /// `hash`, for `owner`; false when it is taken already.
    pub(super) fn take_at(&mut self, (start, end): (u32, u32), hash: u64, owner: u32) -> bool {
        let Taken {
            text,
            tasks,
            sections,
            table,
            ..
        } = self;
        let id = &text[start as usize..end as usize];
        let of = |o: u32| id_in(text, tasks, sections, o);
        match table.entry(hash, |&o| of(o) == id, |&o| ids::hash(of(o))) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(owner);
                match ids::owner(owner) {
                    IdOwner::Task(t) => tasks[t] = (start, end),
                    IdOwner::Section(s) => sections[s] = (start, end),
                }
                true
            }
        }
    }

    /// The document's id index: the table of owners by id, and each task's
    /// id, moved down in place to the front of `text` (which also holds the
    /// slugs that gave way to ids with headings in front, the dialect ids
    /// that gave way to slugs, and room never written), and the rest given
    /// back. In place, not copied to a new string: a new block of a
    /// million ids (40 MB) lands on fresh pages as often as not.
    pub(super) fn into_index(self) -> IdIndex {
        let Taken {
            text,
            mut tasks,
            table,
            ..
        } = self;
        // Moved in the order they are written, each id goes to where the
        // ids before it end: never past its own start, so never over an id
        // not yet moved.
        let mut order: Vec<u32> = (0..tasks.len() as u32).collect();
        order.sort_unstable_by_key(|&t| tasks[t as usize].0);
        let mut bytes = text.into_bytes();
        let mut end = 0;
        for t in order {
            let (start, stop) = tasks[t as usize];
            bytes.copy_within(start as usize..stop as usize, end as usize);
            tasks[t as usize] = (end, end + stop - start);
            end += stop - start;
        }
        bytes.truncate(end as usize);
        bytes.shrink_to_fit();
        let ids = String::from_utf8(bytes).expect("whole ids moved whole stay UTF-8");
        IdIndex::new(table, ids, tasks)
    }
}

fn id_in<'a>(text: &'a str, tasks: &[(u32, u32)], sections: &[(u32, u32)], owner: u32) -> &'a str {
    let (start, end) = match ids::owner(owner) {
        IdOwner::Task(t) => tasks[t],
        IdOwner::Section(s) => sections[s],
    };
    &text[start as usize..end as usize]
}

/// `0..hashes.len()` in the order a table holding `capacity` entries keeps
/// their hashes (by the top bits of their bucket), in order within a
/// bucket range. Filling or probing a table of a million ids in this order
/// touches its memory front to back instead of at random: a cache miss per
/// id becomes a hit.
pub(super) fn bucket_order(hashes: &[u64], capacity: usize) -> Vec<u32> {
    // hashbrown's bucket is the hash's low bits; its buckets are the
    // capacity * 8 / 7 rounded up to a power of two. Guessed wrong, the
    // order only helps less.
    const RANGES: u32 = 12;
    let buckets = (capacity.max(1) * 8 / 7).next_power_of_two().max(4);
    let bits = buckets.trailing_zeros();
    let shift = bits.saturating_sub(RANGES);
    let range = |h: u64| ((h as usize & (buckets - 1)) >> shift) as u32;
    let mut start = vec![0u32; (buckets >> shift) + 1];
    for &h in hashes {
        start[range(h) as usize + 1] += 1;
    }
    for r in 1..start.len() {
        start[r] += start[r - 1];
    }
    let mut order = vec![0u32; hashes.len()];
    for (i, &h) in hashes.iter().enumerate() {
        let r = range(h) as usize;
        order[start[r] as usize] = i as u32;
        start[r] += 1;
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_order_is_a_stable_order_of_every_index() {
        let hashes: Vec<u64> = (0..50_000u64)
            .map(|i| ids::hash(&format!("id-{}", i % 20_000)))
            .collect();
        let order = bucket_order(&hashes, hashes.len());
        let mut seen = vec![false; hashes.len()];
        for &i in &order {
            assert!(!std::mem::replace(&mut seen[i as usize], true));
        }
        assert!(seen.iter().all(|&s| s));
        // Equal hashes keep their order: the first of twins comes first.
        let mut last: FxHashMap<u64, u32> = FxHashMap::default();
        for &i in &order {
            if let Some(prev) = last.insert(hashes[i as usize], i) {
                assert!(prev < i);
            }
        }
    }

    #[test]
    fn a_taken_id_is_found_and_not_taken_twice() {
        let mut index = IdIndex::default();
        for _ in 0..3 {
            index.push_task("");
        }
        let mut taken = Taken::new(2, index);
        let task = |t| ids::code(IdOwner::Task(t));
        assert!(taken.take("a", task(0)));
        assert!(taken.take("b", ids::code(IdOwner::Section(1))));
        assert!(!taken.take("a", task(2)));
        assert_eq!(taken.find("a"), Some(task(0)));
        assert_eq!(taken.find("b"), Some(ids::code(IdOwner::Section(1))));
        assert_eq!(taken.find("c"), None);
        assert_eq!(taken.text, "ab");
        let mut owners: Vec<u32> = taken.owners().collect();
        owners.sort();
        assert_eq!(owners.len(), 2);
    }
}
