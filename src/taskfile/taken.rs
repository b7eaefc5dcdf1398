//! The ids taken so far in a document: each id's text kept once in one
//! string, looked up by hash. Takes ids with their owners; hands on whether
//! each was free, and (to `identity`) the table that becomes the document's
//! id index. Never decides what an id should be.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxHashMap;

use crate::taskfile::ids;

/// One taken id: where its text is in `Taken::text`, who has it, and the
/// line it was taken on (for errors).
pub(super) struct Taking {
    pub(super) start: u32,
    pub(super) end: u32,
    /// The owner as [`ids::code`].
    pub(super) owner: u32,
    pub(super) line: u32,
    /// Named here: the id still has to be handed to its owner.
    pub(super) named: bool,
}

/// Taken ids, each hashed once and copied once, to its owner at the end:
/// their text is one string (no block per id), the table holds indices
/// into `entries`, and becomes the document's id index at the end. Per
/// base, the next twin number to try: twins cost one probe each, however
/// many there are.
pub(super) struct Taken {
    pub(super) text: String,
    pub(super) entries: Vec<Taking>,
    pub(super) table: HashTable<u32>,
    pub(super) next: FxHashMap<String, usize>,
}

impl Taken {
    pub(super) fn with_capacity(n: usize) -> Taken {
        Taken {
            text: String::new(),
            entries: Vec::with_capacity(n),
            table: HashTable::with_capacity(n),
            next: FxHashMap::default(),
        }
    }

    pub(super) fn id(&self, e: u32) -> &str {
        let e = &self.entries[e as usize];
        &self.text[e.start as usize..e.end as usize]
    }

    pub(super) fn find(&self, id: &str) -> Option<&Taking> {
        (self.table.find(ids::hash(id), |&e| self.id(e) == id)).map(|&e| &self.entries[e as usize])
    }

    pub(super) fn has(&self, id: &str) -> bool {
        self.find(id).is_some()
    }

    /// Takes `id` for `owner`; false when it is taken already.
    pub(super) fn take(&mut self, id: &str, owner: u32, line: u32, named: bool) -> bool {
        let start = self.text.len();
        self.text.push_str(id);
        let taken = self.take_at((start as u32, self.text.len() as u32), owner, line, named);
        if !taken {
            self.text.truncate(start);
        }
        taken
    }

    /// Takes the id written at `start..end` of `text` for `owner`; false
    /// when it is taken already.
    pub(super) fn take_at(
        &mut self,
        (start, end): (u32, u32),
        owner: u32,
        line: u32,
        named: bool,
    ) -> bool {
        let Taken {
            text,
            entries,
            table,
            ..
        } = self;
        let of = |e: u32| {
            let e = &entries[e as usize];
            &text[e.start as usize..e.end as usize]
        };
        let id = &text[start as usize..end as usize];
        let next = entries.len() as u32;
        match table.entry(ids::hash(id), |&e| of(e) == id, |&e| ids::hash(of(e))) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(next);
                entries.push(Taking {
                    start,
                    end,
                    owner,
                    line,
                    named,
                });
                true
            }
        }
    }
}
