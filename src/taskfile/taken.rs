//! The ids taken so far in a document, looked up by hash. Takes owners
//! with their ids' hashes, and a way to read any owner's id (most are made
//! again from their text, not kept); hands on whether each id was free and
//! who has one, and a bit per hash of a set of them for a first answer.
//! Never decides what an id should be.

use std::borrow::Cow;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxHashMap;

use crate::taskfile::ids;

/// Taken ids: a table of owners (as [`IdOwner::code`]) by their ids' hashes,
/// which becomes the document's id index. Per base, the next twin number
/// to try: twins cost one probe each, however many there are.
#[derive(Default)]
pub(super) struct Taken {
    pub(super) table: HashTable<u32>,
    /// Only bases that are taken: a twin whose base is here skips it.
    pub(super) next: FxHashMap<String, u32>,
}

impl Taken {
    /// Who has taken `id`, as [`IdOwner::code`]; `id_of` reads an owner's id.
    pub(super) fn find<'a>(&self, id: &str, id_of: impl Fn(u32) -> Cow<'a, str>) -> Option<u32> {
        (self.table.find(ids::hash(id), |&o| id_of(o) == id)).copied()
    }

    /// Takes the id whose hash is `hash` for `owner`, whose id `id_of`
    /// reads (as every other owner's); false when it is taken already.
    pub(super) fn take<'a>(
        &mut self,
        hash: u64,
        owner: u32,
        id_of: impl Fn(u32) -> Cow<'a, str>,
    ) -> bool {
        // The owner's own id is read only if another's hash is the same.
        let mut id: Option<Cow<'a, str>> = None;
        let same = |&o: &u32| *id.get_or_insert_with(|| id_of(owner)) == id_of(o);
        match self.table.entry(hash, same, |&o| ids::hash(&id_of(o))) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(owner);
                true
            }
        }
    }
}

/// `(hash, value)` pairs in the order a table holding `capacity` entries
/// keeps their hashes (by the top bits of their bucket), in their own order
/// within a bucket range. Filling or probing a table of a million ids in
/// this order touches its memory front to back instead of at random: a
/// cache miss per id becomes a hit. The values come along, so a pass in
/// this order reads no other list at random either.
pub(super) fn bucket_sorted<I>(pairs: I, capacity: usize) -> Vec<(u32, u32)>
where
    I: Iterator<Item = (u32, u32)> + Clone,
{
    bucket_ranges(pairs, capacity).0
}

/// [`bucket_sorted`], with where each bucket range ends in the pairs:
/// equal hashes are in one range, so a range can be worked on whole, in
/// cache, before the next.
pub(super) fn bucket_ranges<I>(pairs: I, capacity: usize) -> (Vec<(u32, u32)>, Vec<u32>)
where
    I: Iterator<Item = (u32, u32)> + Clone,
{
    // hashbrown's bucket is the hash's low bits; its buckets are the
    // capacity * 8 / 7 rounded up to a power of two. Guessed wrong, the
    // order only helps less.
    const RANGES: u32 = 12;
    let buckets = (capacity.max(1) * 8 / 7).next_power_of_two().max(4);
    let bits = buckets.trailing_zeros();
    let shift = bits.saturating_sub(RANGES);
    // (A spread hash's low bits are its 32 bits' own.)
    let range = |h: u32| (h as usize & (buckets - 1)) >> shift;
    let mut start = vec![0u32; (buckets >> shift) + 1];
    for (h, _) in pairs.clone() {
        start[range(h) + 1] += 1;
    }
    for r in 1..start.len() {
        start[r] += start[r - 1];
    }
    let mut sorted = vec![(0, 0); start[start.len() - 1] as usize];
    for (h, v) in pairs {
        let at = &mut start[range(h)];
        sorted[*at as usize] = (h, v);
        *at += 1;
    }
    // Each range's start is its end now; the last one is spare.
    start.pop();
    (sorted, start)
}

/// A bit for each hash of a set, by the hash's low bits: whether a hash
/// may be in the set, from a list of 2 bytes per member. Most candidates
/// clash with no id taken before them; the bit says so from cache where a
/// look in a table of 50,000 ids read memory at random for each of a
/// million items (one in 16 says "may" wrongly, and the table answers).
pub(super) struct HashBits {
    words: Vec<u64>,
    mask: u32,
}

impl HashBits {
    pub(super) fn new(hashes: impl ExactSizeIterator<Item = u32>) -> HashBits {
        let bits = (hashes.len() * 16).next_power_of_two().max(64);
        let mut set = HashBits {
            words: vec![0; bits / 64],
            mask: (bits - 1) as u32,
        };
        for h in hashes {
            let b = h & set.mask;
            set.words[(b / 64) as usize] |= 1 << (b % 64);
        }
        set
    }

    pub(super) fn may_have(&self, h: u32) -> bool {
        let b = h & self.mask;
        self.words[(b / 64) as usize] & 1 << (b % 64) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hashes of `n` ids, `distinct` of them different.
    fn hashes(n: u64, distinct: u64) -> Vec<u32> {
        (0..n)
            .map(|i| ids::hash32(&format!("id-{}", i % distinct)))
            .collect()
    }

    /// Each hash with its index, as naming hands them to a bucket sort.
    fn pairs(hashes: &[u32]) -> impl Iterator<Item = (u32, u32)> + Clone + '_ {
        hashes.iter().enumerate().map(|(i, &h)| (h, i as u32))
    }

    #[test]
    fn bucket_sorted_is_a_stable_order_of_every_pair() {
        let hashes = hashes(50_000, 20_000);
        let sorted = bucket_sorted(pairs(&hashes), hashes.len());
        let mut seen = vec![false; hashes.len()];
        for &(h, i) in &sorted {
            assert_eq!(h, hashes[i as usize]);
            assert!(!std::mem::replace(&mut seen[i as usize], true));
        }
        assert!(seen.iter().all(|&s| s));
        // Equal hashes keep their order: the first of twins comes first.
        let mut last: FxHashMap<u32, u32> = FxHashMap::default();
        for &(h, i) in &sorted {
            if let Some(prev) = last.insert(h, i) {
                assert!(prev < i);
            }
        }
    }

    #[test]
    fn bucket_ranges_end_where_their_hashes_change_range() {
        let hashes = hashes(30_000, 9_000);
        let (sorted, ends) = bucket_ranges(pairs(&hashes), hashes.len());
        assert_eq!(ends.last().copied(), Some(sorted.len() as u32));
        assert!(ends.windows(2).all(|w| w[0] <= w[1]));
        // Every hash is in one range only: equal hashes are grouped there.
        let mut range_of: FxHashMap<u32, usize> = FxHashMap::default();
        let mut from = 0;
        for (r, &end) in ends.iter().enumerate() {
            for &(h, _) in &sorted[from..end as usize] {
                assert_eq!(*range_of.entry(h).or_insert(r), r);
            }
            from = end as usize;
        }
        assert_eq!(range_of.len(), 9_000);
    }

    #[test]
    fn hash_bits_have_every_hash_put_in_and_few_others() {
        let set = hashes(5_000, 5_000);
        let bits = HashBits::new(set.iter().copied());
        assert!(set.iter().all(|&h| bits.may_have(h)));
        let others = (0..10_000)
            .filter(|i| bits.may_have(ids::hash32(&format!("other-{i}"))))
            .count();
        // One in 16 on average.
        assert!(others < 1_000, "{others}");
    }

    #[test]
    fn a_taken_id_is_found_and_not_taken_twice() {
        let named = ["a", "b", "a"];
        let id_of = |o: u32| Cow::Borrowed(named[o as usize]);
        let mut taken = Taken::default();
        assert!(taken.take(ids::hash("a"), 0, id_of));
        assert!(taken.take(ids::hash("b"), 1, id_of));
        assert!(!taken.take(ids::hash("a"), 2, id_of));
        assert_eq!(taken.find("a", id_of), Some(0));
        assert_eq!(taken.find("b", id_of), Some(1));
        assert_eq!(taken.find("c", id_of), None);
        assert_eq!(taken.table.len(), 2);
    }
}
