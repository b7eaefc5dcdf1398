//! Which items' own slugs are the same. Takes the items being named and
//! their own slugs' hashes; hands on each item's group of look-alikes and
//! each group's size. Never decides what an id is.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxHashMap;

use super::Names;
use crate::taskfile::ids;
use crate::taskfile::slug::{self, ID_MAX};
use crate::taskfile::taken::bucket_sorted;

/// Items whose own slugs are the same: the first in the file, how many,
/// and where its text and slug are kept (see [`FirstTexts`]).
struct LookAlikes {
    first: u32,
    len: u32,
    /// In [`FirstTexts::bytes`]: where the first's text starts (`u32::MAX`:
    /// not kept), its length and its slug's.
    kept: (u32, u32, u32),
}

/// The texts and slugs of look-alike groups' first items, kept as the
/// naming meets them in the file's order, up to `room` bytes in all.
struct FirstTexts {
    bytes: String,
    room: usize,
}

const NOT_KEPT: (u32, u32, u32) = (u32::MAX, 0, 0);

impl FirstTexts {
    /// Keeps a group's first item's own text and slug, if there is room.
    fn keep(&mut self, group: &mut LookAlikes, text: &str, empty: &str, slug: &mut String) {
        slug.clear();
        slug::slug_into(text, empty, ID_MAX, slug);
        let start = self.bytes.len();
        if start + text.len() + slug.len() > self.room.min(u32::MAX as usize - 1) {
            return;
        }
        self.bytes.push_str(text);
        self.bytes.push_str(slug);
        group.kept = (start as u32, text.len() as u32, slug.len() as u32);
    }

    /// Whether an item with this own text slugs as `group`'s first does;
    /// `None` when the first's was not kept. (`slug`: scratch.)
    fn same(&self, group: &LookAlikes, text: &str, empty: &str, slug: &mut String) -> Option<bool> {
        let (start, len, slug_len) = group.kept;
        if start == u32::MAX {
            return None;
        }
        let (start, len) = (start as usize, len as usize);
        if &self.bytes[start..start + len] == text {
            return Some(true);
        }
        slug.clear();
        slug::slug_into(text, empty, ID_MAX, slug);
        let start = start + len;
        Some(self.bytes[start..start + slug_len as usize] == *slug)
    }
}

/// Items grouped by their own slugs: each item's group and each group's
/// size. Groups are numbered densely (not by first item), so counting and
/// placing their members touches a list of groups, not one of items, at
/// random. `hashes` are the items' own slugs'; `scratch`, two strings to
/// reuse.
pub(super) fn groups(
    items: &[u32],
    names: &Names,
    hashes: &[u32],
    scratch: &mut (String, String),
) -> (Vec<u32>, Vec<u32>) {
    // Each item's group, numbered as the table meets them; each group's
    // first member (equal hashes come in the file's order, so the first
    // in the file comes first) and size. Only hashes are compared here:
    // the slugs are, below, in the file's order. (A table of group
    // numbers: 4 bytes an entry, not a map's 24.)
    let mut group_of: Vec<u32> = vec![0; items.len()];
    let mut groups: Vec<LookAlikes> = Vec::new();
    let mut by_hash: HashTable<u32> = HashTable::with_capacity(items.len());
    let pairs = hashes.iter().enumerate().map(|(i, &h)| (h, i as u32));
    for (h, i) in bucket_sorted(pairs, by_hash.capacity()) {
        // (A group's first member was met just before, in this order:
        // its hash is read from cache.)
        let hash_of = |g: u32| hashes[groups[g as usize].first as usize];
        let same = |&g: &u32| hash_of(g) == h;
        let g = match by_hash.entry(ids::spread(h), same, |&g| ids::spread(hash_of(g))) {
            Entry::Occupied(g) => *g.get(),
            Entry::Vacant(new) => {
                groups.push(LookAlikes {
                    first: i,
                    len: 0,
                    kept: NOT_KEPT,
                });
                *new.insert(groups.len() as u32 - 1).get()
            }
        };
        groups[g as usize].len += 1;
        group_of[i as usize] = g;
    }
    drop(by_hash);
    // Each item's slug against its group's first one's, in the file's
    // order, so an item's text is read where the file has it. The first
    // ones' texts and slugs are kept together as they come (a first's
    // text read again at random was a cache miss or two per look-alike,
    // a quarter of naming a million items); past `room`, they are read
    // again. Another slug with the same hash (a clash of 32 bits, some
    // hundred in a million items) is a group of its own.
    let mut kept = FirstTexts {
        bytes: String::new(),
        room: items.len() * 8,
    };
    let mut clashed: FxHashMap<String, u32> = FxHashMap::default();
    for i in 0..items.len() {
        let g = group_of[i] as usize;
        let first = groups[g].first as usize;
        let (text, empty) = names.own_text(items[i]);
        if first == i {
            if groups[g].len > 1 {
                kept.keep(&mut groups[g], text, empty, &mut scratch.0);
            }
            continue;
        }
        let same = match kept.same(&groups[g], text, empty, &mut scratch.0) {
            Some(same) => same,
            None => names.same_own(items[first], items[i], scratch),
        };
        if !same {
            let mut slug = String::new();
            slug::slug_into(text, empty, ID_MAX, &mut slug);
            let next = groups.len() as u32;
            let other = *clashed.entry(slug).or_insert(next);
            if other == next {
                groups.push(LookAlikes {
                    first: i as u32,
                    len: 0,
                    kept: NOT_KEPT,
                });
            }
            group_of[i] = other;
            groups[g].len -= 1;
            groups[other as usize].len += 1;
        }
    }
    drop((clashed, kept));
    let sizes = groups.iter().map(|g| g.len).collect();
    (group_of, sizes)
}
