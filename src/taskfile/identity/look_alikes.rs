//! Which items' own slugs are the same: each item's first look-alike in
//! the file. Takes the items being named and their own slugs' hashes;
//! hands on each item's first and, by first, how many share its slug.
//! Never decides what an id is.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxHashMap;

use super::Names;
use crate::taskfile::ids;
use crate::taskfile::slug::{self, ID_MAX};
use crate::taskfile::taken::bucket_sorted;

/// Items whose own slugs share a hash: the first in the file and how many.
struct HashGroup {
    first: u32,
    len: u32,
}

/// The texts and slugs of look-alike groups' first items, kept as the
/// naming meets them in the file's order, up to `room` bytes in all.
struct FirstTexts {
    /// By group: where its first's text starts, its length, its slug's.
    at: FxHashMap<u32, (u32, u32, u32)>,
    bytes: String,
    room: usize,
}

impl FirstTexts {
    fn new(room: usize) -> FirstTexts {
        FirstTexts {
            at: FxHashMap::default(),
            bytes: String::new(),
            room,
        }
    }

    /// Keeps group `g`'s first item's own text and slug, if there is room.
    fn keep(&mut self, g: usize, text: &str, empty: &str, slug: &mut String) {
        slug.clear();
        slug::slug_into(text, empty, ID_MAX, slug);
        let start = self.bytes.len();
        if start + text.len() + slug.len() > self.room.min(u32::MAX as usize) {
            return;
        }
        self.bytes.push_str(text);
        self.bytes.push_str(slug);
        (self.at).insert(
            g as u32,
            (start as u32, text.len() as u32, slug.len() as u32),
        );
    }

    /// Whether an item with this own text slugs as group `g`'s first
    /// does; `None` when the first's was not kept. (`slug`: scratch.)
    fn same(&self, g: usize, text: &str, empty: &str, slug: &mut String) -> Option<bool> {
        let &(start, len, slug_len) = self.at.get(&(g as u32))?;
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

/// Each item's first look-alike in the file (itself when none comes before
/// it) and, by first item, how many items have its slug (0 for the rest).
/// `hashes` are the items' own slugs'; `scratch`, two strings to reuse.
pub(super) fn firsts(
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
    let mut groups: Vec<HashGroup> = Vec::new();
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
                groups.push(HashGroup { first: i, len: 0 });
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
    // hundred in a million items) has a first item of its own.
    let mut kept = FirstTexts::new(items.len() * 8);
    let mut clashed: FxHashMap<String, u32> = FxHashMap::default();
    let mut first_of = group_of;
    // Each group's size, by its first member.
    let mut sizes: Vec<u32> = vec![0; items.len()];
    for i in 0..items.len() {
        let g = first_of[i] as usize;
        let group = &mut groups[g];
        let first = group.first as usize;
        first_of[i] = first as u32;
        let (text, empty) = names.own_text(items[i]);
        if first == i {
            if group.len > 1 {
                kept.keep(g, text, empty, &mut scratch.0);
            }
            continue;
        }
        let same = match kept.same(g, text, empty, &mut scratch.0) {
            Some(same) => same,
            None => names.same_own(items[first], items[i], scratch),
        };
        if !same {
            let mut slug = String::new();
            slug::slug_into(text, empty, ID_MAX, &mut slug);
            let first = *clashed.entry(slug).or_insert(i as u32);
            first_of[i] = first;
            group.len -= 1;
            sizes[first as usize] += 1;
        }
    }
    drop((clashed, kept));
    for group in &groups {
        sizes[group.first as usize] += group.len;
    }
    (first_of, sizes)
}
