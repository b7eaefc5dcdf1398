//! Which items' own slugs are the same. Takes the items being named and
//! their own slugs' hashes; hands on each item's group of look-alikes and
//! each group's size. Never decides what an id is.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxHashMap;

use super::Names;
use crate::memory::AHEAD;
use crate::taskfile::slug::{self, ID_MAX};
use crate::taskfile::taken::bucket_ranges;

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

    /// Asks for `group`'s first text, if kept, to be brought into cache.
    fn prefetch(&self, group: &LookAlikes) {
        let start = group.kept.0;
        if start != u32::MAX {
            crate::memory::prefetch(self.bytes.as_ptr().wrapping_add(start as usize));
        }
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

/// The group of an item no other item looks like: it is in none, and
/// naming passes it by until it takes its own slug.
pub(super) const ALONE: u32 = u32::MAX;

/// Items grouped by their own slugs: each item's group ([`ALONE`] when
/// its slug is its own) and each group's size. Only look-alikes are in
/// groups, numbered densely: most items are alone, and counting and
/// placing members touches a short list of groups, not one per item.
/// `hashes` are the items' own slugs'; `scratch`, two strings to reuse.
pub(super) fn groups(
    items: &[u32],
    names: &Names,
    hashes: &[u32],
    scratch: &mut (String, String),
) -> (Vec<u32>, Vec<u32>) {
    // Items in the order of their hashes' bucket ranges, each range in the
    // file's order. Equal hashes share a range, so a range is grouped on
    // its own, with a table that stays in cache, and an item learns at once
    // whether it is alone: no list by hash is read again at random. Only
    // hashes are compared here: the slugs are, below, in the file's order.
    let mut group_of: Vec<u32> = vec![ALONE; items.len()];
    let mut groups: Vec<LookAlikes> = Vec::new();
    let pairs = hashes.iter().enumerate().map(|(i, &h)| (h, i as u32));
    let (sorted, ends) = bucket_ranges(pairs, items.len());
    // In a range: each distinct hash's first item, how many have it and its
    // group once it has one; each item's place in that list.
    let mut seen: Vec<(u32, u32, u32)> = Vec::new();
    let mut seen_of: Vec<u32> = Vec::new();
    // Each range as `sorted[start..end]`.
    let ranges = || {
        let starts = std::iter::once(0).chain(ends.iter().copied());
        starts
            .zip(ends.iter().copied())
            .map(|(s, e)| s as usize..e as usize)
    };
    let most = ranges().map(|r| r.len()).max().unwrap_or(0);
    let mut by_hash: HashTable<u32> = HashTable::with_capacity(most);
    // A range's hashes share some bits: mixed, they spread in its table.
    let mix = |h: u32| {
        let x = u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 29)
    };
    for range in ranges() {
        let range = &sorted[range];
        if range.len() < 2 {
            continue;
        }
        by_hash.clear();
        seen.clear();
        seen_of.clear();
        for &(h, i) in range {
            let hash_of = |s: u32| hashes[seen[s as usize].0 as usize];
            let same = |&s: &u32| hash_of(s) == h;
            let s = match by_hash.entry(mix(h), same, |&s| mix(hash_of(s))) {
                Entry::Occupied(s) => *s.get(),
                Entry::Vacant(new) => {
                    seen.push((i, 0, ALONE));
                    *new.insert(seen.len() as u32 - 1).get()
                }
            };
            seen[s as usize].1 += 1;
            seen_of.push(s);
        }
        for (&(_, i), &s) in range.iter().zip(&seen_of) {
            let (first, len, group) = &mut seen[s as usize];
            if *len < 2 {
                continue;
            }
            if *group == ALONE {
                *group = groups.len() as u32;
                groups.push(LookAlikes {
                    first: *first,
                    len: *len,
                    kept: NOT_KEPT,
                });
            }
            group_of[i as usize] = *group;
        }
    }
    drop((sorted, seen, seen_of, by_hash));
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
        // A few items ahead: the text, and its group's first one's.
        if let Some(&ahead) = items.get(i + AHEAD) {
            names.prefetch_text(ahead);
            if let Some(g) = groups.get(group_of[i + AHEAD] as usize) {
                kept.prefetch(g);
            }
        }
        if group_of[i] == ALONE {
            continue;
        }
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
