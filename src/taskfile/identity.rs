//! Stable ids for sections and tasks: the `id` hint, else the dialect's id,
//! else a short slug of the text (at most 48 bytes), with a heading in front
//! only where look-alikes need one, and `-2`, `-3`, … for twins.
//!
//! Takes a document whose sections and tasks are built; hands on their ids
//! (and errors or warnings for clashing explicit ones). A slug id depends
//! only on the item's own text, its headings and the items whose text slugs
//! like it, so edits elsewhere in the file leave it alone; that is what lets
//! a tick find its task again after a person has edited the file. Never the
//! file's title heading. Never reads files or plans.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxHashMap;

use crate::error::PlanError;
use crate::taskfile::ids::{self, IdIndex, IdOwner};
use crate::taskfile::slug::{ID_MAX, cut, cut_words, slug_into, slug_within};
use crate::taskfile::taken::{Taken, bucket_order};
use crate::taskfile::{Document, Task};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdSource {
    /// An `<!-- id: … -->` hint.
    Hint,
    /// The dialect's own numbering (`T001`, `2.1`).
    Dialect,
    /// Derived from the text (and, for look-alikes, a heading).
    Slug,
}

/// The longest heading slug put in front of a task's or section's own slug.
const QUALIFIER_MAX: usize = 20;
/// Headings in front take at most this much, so the text's own words keep
/// at least 16 bytes.
const PREFIX_MAX: usize = ID_MAX - 16 - 1;

/// The id written at `base` (a range of `text`) if free, else `base-2`,
/// `base-3`, … (the base cut so the id stays within `ID_MAX`). Each
/// try is written where taken ids are kept and taken there: a run of
/// 16,000 twins allocates nothing per twin.
fn take_unique(taken: &mut Taken, base: (u32, u32), owner: u32) {
    let (from, to) = (base.0 as usize, base.1 as usize);
    if taken.take_at(base, ids::hash(&taken.text[from..to]), owner) {
        return;
    }
    let mut n = *taken.next.get(&taken.text[from..to]).unwrap_or(&2);
    let mut number = itoa::Buffer::new();
    let taken_as = loop {
        let suffix = number.format(n);
        let start = taken.text.len();
        let kept = cut(
            &taken.text[from..to],
            ID_MAX.saturating_sub(suffix.len() + 1),
        )
        .trim_end_matches('-')
        .len();
        taken.text.extend_from_within(from..from + kept);
        taken.text.push('-');
        taken.text.push_str(suffix);
        n += 1;
        let id = (start as u32, taken.text.len() as u32);
        if taken.take_at(id, ids::hash(&taken.text[start..]), owner) {
            break n;
        }
        taken.text.truncate(start);
    };
    match taken.next.get_mut(&taken.text[from..to]) {
        Some(next) => *next = taken_as,
        None => {
            let base = taken.text[from..to].to_owned();
            taken.next.insert(base, taken_as);
        }
    }
}

/// Hands each named id to its owner (sections', then tasks', each in
/// document order); the taken ids become the id index, where tasks' ids
/// stay.
fn hand_out(taken: Taken, named: &[u32], doc: &mut Document) -> IdIndex {
    for &owner in named {
        match ids::owner(owner) {
            IdOwner::Task(t) => doc.tasks[t].id_source = IdSource::Slug,
            IdOwner::Section(s) => doc.sections[s].id = taken.id(owner).to_owned(),
        }
    }
    taken.into_index()
}

/// The line an owner's id was taken on: its `id` hint's, else its own.
fn line_of(doc: &Document, owner: u32) -> usize {
    match ids::owner(owner) {
        IdOwner::Task(t) => match (&doc.tasks[t].hints.id, doc.tasks[t].id_source) {
            (Some(id), IdSource::Hint) => id.span.line(),
            _ => doc.checkbox(&doc.tasks[t]).line(),
        },
        IdOwner::Section(s) => match (&doc.sections[s].hints.id, doc.sections[s].id_source) {
            (Some(id), IdSource::Hint) => id.span.line(),
            _ => doc.sections[s].span.line(),
        },
    }
}

/// Gives every section and task its id, and hands on the index of them all
/// (which holds tasks' ids). Takes the index of tasks' dialect ids.
pub(super) fn assign(doc: &mut Document, dialect: IdIndex) -> IdIndex {
    let mut taken = Taken::new(doc.sections.len(), dialect);
    explicit_ids(doc, &mut taken);
    dialect_ids(doc, &mut taken);

    let title = title_section(doc);
    // Each section's qualifier (its `id` hint, else its title's slug) and the
    // sections a slug may be qualified by, nearest first (never the title
    // nor the file).
    let qualifiers = Qualifiers::new(doc);
    let mut chains: Vec<Vec<usize>> = vec![Vec::new(); doc.sections.len()];
    for s in 1..doc.sections.len() {
        let parent = doc.sections[s].parent.unwrap_or(0);
        let mut chain = Vec::with_capacity(chains[parent].len() + 1);
        if Some(s) != title {
            chain.push(s);
        }
        chain.extend_from_slice(&chains[parent]);
        chains[s] = chain;
    }

    // Slugs are written where taken ids are kept: an item whose slug is
    // its id (most are) takes it where it is, without a copy.
    let mut items: Vec<Item> = Vec::new();
    let mut own: Vec<(u32, u32)> = Vec::new();
    for s in (1..doc.sections.len()).filter(|&s| doc.sections[s].hints.id.is_none()) {
        own.push(slug_into(
            &doc.sections[s].title,
            "section",
            ID_MAX,
            &mut taken.text,
        ));
        items.push(Item {
            chain: doc.sections[s].parent.unwrap_or(0) as u32,
            owner: ids::code(IdOwner::Section(s)),
        });
    }
    name(&items, own, &chains, &qualifiers, &mut taken);
    let mut named: Vec<u32> = items.iter().map(|i| i.owner).collect();

    // Room for the slugs at their longest (for ASCII text; slugs of other
    // scripts may grow it once), and for an id with headings in front per
    // task (twins may add a little): a long string grown would be copied
    // whole. Room never written costs no memory.
    let most = |t: &Task| doc.text_of(t).len().clamp(4, ID_MAX) + ID_MAX;
    taken
        .text
        .reserve(doc.tasks.iter().map(most).sum::<usize>());
    let mut items: Vec<Item> = Vec::with_capacity(doc.tasks.len());
    let mut own: Vec<(u32, u32)> = Vec::with_capacity(doc.tasks.len());
    for t in 0..doc.tasks.len() {
        let slugged = match doc.tasks[t].id_source {
            IdSource::Hint => false,
            IdSource::Dialect => taken.task_id(t).is_empty(),
            IdSource::Slug => true,
        };
        if slugged {
            own.push(slug_into(doc.text(t), "task", ID_MAX, &mut taken.text));
            items.push(Item {
                chain: doc.tasks[t].section,
                owner: ids::code(IdOwner::Task(t)),
            });
        }
    }
    name(&items, own, &chains, &qualifiers, &mut taken);
    named.extend(items.iter().map(|i| i.owner));
    drop(items);
    hand_out(taken, &named, doc)
}

/// `id` hints first: they win every clash, and two of them clash loudly.
fn explicit_ids(doc: &mut Document, taken: &mut Taken) {
    let mut explicit = Vec::new();
    for (i, s) in doc.sections.iter().enumerate() {
        if let Some(id) = &s.hints.id {
            explicit.push((id.value.clone(), id.span, IdOwner::Section(i)));
        }
    }
    for (i, t) in doc.tasks.iter().enumerate() {
        if let Some(id) = &t.hints.id {
            explicit.push((id.value.clone(), id.span, IdOwner::Task(i)));
        }
    }
    explicit.sort_by_key(|e| e.1.offset());
    for (id, span, owner) in explicit {
        if let Some(first) = taken.find(&id) {
            let first_line = line_of(doc, first);
            doc.error(span, PlanError::DuplicateId { id, first_line });
            continue;
        }
        match owner {
            IdOwner::Task(t) => doc.tasks[t].id_source = IdSource::Hint,
            IdOwner::Section(s) => {
                doc.sections[s].id = id.clone();
                doc.sections[s].id_source = IdSource::Hint;
            }
        }
        taken.take(&id, ids::code(owner));
    }
}

/// Dialect ids next; a repeated one falls back to a slug, with a warning.
fn dialect_ids(doc: &mut Document, taken: &mut Taken) {
    for t in 0..doc.tasks.len() {
        let task = &doc.tasks[t];
        let id = taken.task_id(t);
        if task.id_source != IdSource::Dialect || id.is_empty() {
            continue;
        }
        let owner = ids::code(IdOwner::Task(t));
        // Taken where the dialect's id was written when the task was built.
        let (hash, range) = (ids::hash(id), taken.task_range(t));
        if !taken.take_at(range, hash, owner) {
            let id = taken.task_id(t).to_owned();
            let first_line = taken
                .find(&id)
                .map_or(doc.checkbox(task).line(), |o| line_of(doc, o));
            let span = doc.checkbox(task);
            taken.clear_task(t);
            doc.warn(
                span,
                format!("id `{id}` is already used on line {first_line}; this task gets an id from its text"),
            );
        }
    }
}

/// The file's title: its first heading, when no other heading is at its
/// level or above. Every task sits under it, so it tells none apart.
fn title_section(doc: &Document) -> Option<usize> {
    let first = doc.sections.get(1)?;
    let alone = doc.sections[2..].iter().all(|s| s.level > first.level);
    alone.then_some(1)
}

/// Each section's qualifier text, and a number per distinct text: headings
/// are told apart by comparing numbers, not strings.
struct Qualifiers {
    text: Vec<String>,
    number: Vec<u32>,
    distinct: usize,
}

impl Qualifiers {
    fn new(doc: &Document) -> Qualifiers {
        let text: Vec<String> = (doc.sections.iter())
            .map(|s| match &s.hints.id {
                Some(id) => id.value.clone(),
                None => slug_within(&s.title, "section", QUALIFIER_MAX),
            })
            .collect();
        let mut numbers: FxHashMap<&str, u32> = FxHashMap::default();
        let number = (text.iter())
            .map(|t| {
                let next = numbers.len() as u32;
                *numbers.entry(t.as_str()).or_insert(next)
            })
            .collect();
        let distinct = numbers.len();
        Qualifiers {
            text,
            number,
            distinct,
        }
    }
}

/// One thing to name: the section whose chain of headings may qualify it,
/// and who it is. Small: there is one per task. (Its own slug, a range of
/// `Taken::text`, is kept beside it: see [`name`].)
struct Item {
    chain: u32,
    owner: u32,
}

/// Items that share one candidate id: `members[start..start + len]`, the
/// chain levels put in front so far (a bit each: headings nest at most six
/// deep) and the next level to look at. Small: there is one per distinct
/// slug.
#[derive(Clone, Copy)]
struct Group {
    start: u32,
    len: u32,
    chosen: u32,
    level: u32,
}

impl Group {
    fn members(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// Names `items` (in document order) so no two share an id and none takes
/// one already taken: an item whose own slug is unique keeps it;
/// look-alikes get the nearest heading that tells them apart in front
/// (`backend/tests`, `frontend/tests`); items no heading tells apart are
/// twins, numbered in document order (`compile`, `compile-2`).
///
/// `id_at` holds where each item's own slug is written in `taken.text`; once
/// the groups are split, each item's candidate id is written in item order
/// and `id_at` holds that instead (an item's own slug is read only until
/// then): one list for both, not two.
fn name(
    items: &[Item],
    mut id_at: Vec<(u32, u32)>,
    chains: &[Vec<usize>],
    q: &Qualifiers,
    taken: &mut Taken,
) {
    if items.is_empty() {
        return;
    }
    let at = |(start, end): (u32, u32)| start as usize..end as usize;
    let chain = |i: usize| chains[items[i].chain as usize].as_slice();
    let qual_at = |i: usize, level: usize| (chain(i).get(level)).map(|&s| q.number[s]);
    let qual_len = |i: usize, level: usize| (chain(i).get(level)).map_or(0, |&s| q.text[s].len());
    let prefix_len =
        |i: usize, chosen: u32| -> usize { levels(chosen).map(|l| qual_len(i, l) + 1).sum() };
    // An item's candidate id in `taken.text`: its own slug where it is, or
    // written after the rest with headings in front.
    let compose = |i: usize, own: (u32, u32), chosen: u32, text: &mut String| {
        if chosen == 0 {
            return own;
        }
        let start = text.len();
        compose_into(chain(i), at(own), chosen, &q.text, text);
        (start as u32, text.len() as u32)
    };

    // Each item's own slug's hash; then its candidate id's.
    let text = taken.text.as_str();
    let mut hashes: Vec<u64> = id_at.iter().map(|&own| ids::hash(&text[at(own)])).collect();
    // Items by own slug, each group's members together in document order.
    let mut members: Vec<u32> = Vec::with_capacity(items.len() * 2);
    let mut work: Vec<Group> = Vec::new();
    {
        // Each item's group, named by its first member; each group's size
        // (then where it starts in `members`), by its first member.
        let mut first_of: Vec<u32> = vec![0; items.len()];
        let mut sizes: Vec<u32> = vec![0; items.len()];
        // Each group's first item, found by its slug: 4 bytes an entry, not
        // a map's 24 (the map was the largest thing at the ids' peak).
        let mut by_own: HashTable<u32> = HashTable::with_capacity(items.len());
        // Look-alikes share a hash, so the first in the file still comes
        // first.
        for i in bucket_order(&hashes, by_own.capacity()) {
            let i = i as usize;
            let same = |&first: &u32| text[at(id_at[first as usize])] == text[at(id_at[i])];
            let first = match by_own.entry(hashes[i], same, |&f| hashes[f as usize]) {
                Entry::Occupied(first) => *first.get(),
                Entry::Vacant(new) => *new.insert(i as u32).get(),
            };
            sizes[first as usize] += 1;
            first_of[i] = first;
        }
        drop(by_own);
        // The table and the scan's freed lists: the ids' peak comes next.
        crate::memory::give_back();
        // Groups in order of their first member, as the file has them.
        let mut start = 0;
        for (first, size) in sizes.iter_mut().enumerate() {
            if *size == 0 {
                continue;
            }
            work.push(Group {
                start: start as u32,
                len: *size,
                chosen: 0,
                level: 0,
            });
            debug_assert_eq!(first_of[first] as usize, first);
            (*size, start) = (start as u32, start + *size as usize);
        }
        members.resize(items.len(), 0);
        for (i, &first) in first_of.iter().enumerate() {
            let at = &mut sizes[first as usize];
            members[*at as usize] = i as u32;
            *at += 1;
        }
    }

    // Ids taken before these items: while groups split, the only ones a
    // candidate can clash with (the items' own are taken at the end). A
    // table of their own, not the document's: in a file of slug ids it is
    // small, so a look stays in cache.
    let mut before: HashTable<u32> = HashTable::with_capacity(taken.len());
    for o in taken.owners() {
        before.insert_unique(ids::hash(taken.id(o)), o, |&o| ids::hash(taken.id(o)));
    }
    // Whether an item is a twin that takes a number.
    let mut twin: Vec<bool> = vec![false; items.len()];
    // The chain levels each item's id puts in front. Ids with headings in
    // front are written after the loop, in the items' order: in the order
    // groups split they would lie in `taken.text` at random, and a plan
    // of a million tasks reads them in task order.
    let mut chosen_of: Vec<u8> = vec![0; items.len()];
    // Parts of a group being split, by qualifier number + 1 (0: none).
    let mut part_of: Vec<u32> = vec![u32::MAX; q.distinct + 1];
    let mut parts: Vec<(usize, usize)> = Vec::new();
    while let Some(g) = work.pop() {
        let range = g.members();
        let level = g.level as usize;
        if g.len == 1 {
            let i = members[range.start] as usize;
            let id = compose(i, id_at[i], g.chosen, &mut taken.text);
            let candidate = &taken.text[id.0 as usize..id.1 as usize];
            if g.chosen != 0 {
                hashes[i] = ids::hash(candidate);
            }
            // A clash with an explicit, dialect or section id: the nearest
            // heading left may tell it apart.
            let clash = (before.find(hashes[i], |&o| taken.id(o) == candidate)).is_some()
                && qual_at(i, level).is_some()
                && prefix_len(i, g.chosen) + qual_len(i, level) < PREFIX_MAX;
            // Made here for its hash only (again after the loop).
            if id != id_at[i] {
                taken.text.truncate(id.0 as usize);
            }
            if clash {
                work.push(Group {
                    chosen: g.chosen | 1 << g.level,
                    level: g.level + 1,
                    ..g
                });
                continue;
            }
            chosen_of[i] = g.chosen as u8;
            continue;
        }
        // The nearest level whose headings differ among the members.
        let of = |k: usize| members[k] as usize;
        let deepest = range.clone().map(|k| chain(of(k)).len()).max();
        let split = (level..deepest.unwrap_or(0)).find(|&l| {
            let q0 = qual_at(of(range.start), l);
            range.clone().any(|k| qual_at(of(k), l) != q0)
        });
        let fits = |l: usize| {
            (range.clone()).all(|k| prefix_len(of(k), g.chosen) + qual_len(of(k), l) < PREFIX_MAX)
        };
        match split {
            Some(l) if fits(l) => {
                // Parts in order of first member, each one stretch of
                // `members` again.
                let key = |i: usize| qual_at(i, l).map_or(0, |n| n as usize + 1);
                for k in range.clone() {
                    let key = key(of(k));
                    if part_of[key] == u32::MAX {
                        part_of[key] = parts.len() as u32;
                        parts.push((key, 0));
                    }
                    parts[part_of[key] as usize].1 += 1;
                }
                let mut at = Vec::with_capacity(parts.len());
                let mut start = members.len();
                for &(key, len) in &parts {
                    at.push(start);
                    work.push(Group {
                        start: start as u32,
                        len: len as u32,
                        chosen: if key == 0 {
                            g.chosen
                        } else {
                            g.chosen | 1 << l
                        },
                        level: l as u32 + 1,
                    });
                    start += len;
                }
                members.resize(start, 0);
                for k in range {
                    let i = members[k];
                    let p = part_of[key(i as usize)] as usize;
                    members[at[p]] = i;
                    at[p] += 1;
                }
                for &(key, _) in &parts {
                    part_of[key] = u32::MAX;
                }
                parts.clear();
            }
            _ => {
                for k in range {
                    let i = members[k] as usize;
                    chosen_of[i] = g.chosen as u8;
                    twin[i] = true;
                }
            }
        }
    }
    drop((members, before));
    for (i, &chosen) in chosen_of.iter().enumerate() {
        id_at[i] = compose(i, id_at[i], chosen as u32, &mut taken.text);
    }
    drop(chosen_of);
    // Unique ids first, the first in the file winning a clash, then twins
    // take numbers in file order: a task whose text reads `compile 2` keeps
    // `compile-2`. (Equal ids share a hash, so the table's order keeps the
    // file's among them.)
    let mut twins: Vec<u32> = Vec::new();
    for i in bucket_order(&hashes, taken.capacity()) {
        let i = i as usize;
        if twin[i] || !taken.take_at(id_at[i], hashes[i], items[i].owner) {
            twins.push(i as u32);
        }
    }
    twins.sort_unstable();
    for i in twins {
        let i = i as usize;
        take_unique(taken, id_at[i], items[i].owner);
    }
}

/// The levels in a set of chosen ones, nearest first.
fn levels(chosen: u32) -> impl Iterator<Item = usize> {
    let mut rest = chosen;
    std::iter::from_fn(move || {
        (rest != 0).then(|| {
            let l = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            l
        })
    })
}

/// The chosen headings (at least one), outermost first, then the own slug
/// (`own`, a range of `id`) cut to fit, appended to `id`.
fn compose_into(
    chain: &[usize],
    own: std::ops::Range<usize>,
    chosen: u32,
    qualifier: &[String],
    id: &mut String,
) {
    let start = id.len();
    let mut rest = chosen;
    while rest != 0 {
        let l = 31 - rest.leading_zeros() as usize;
        rest &= !(1 << l);
        id.push_str(&qualifier[chain[l]]);
        id.push('/');
    }
    let room = ID_MAX.saturating_sub(id.len() - start);
    let kept = cut_words(&id[own.clone()], room).len();
    id.extend_from_within(own.start..own.start + kept);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskfile::{ReadOptions, Source};

    fn ids(text: &str) -> Vec<String> {
        let doc = Document::parse(
            Source::new("t.md".into(), text.into(), 0),
            ReadOptions::default(),
        );
        (0..doc.tasks.len()).map(|t| doc.id(t).to_owned()).collect()
    }

    #[test]
    fn ids_are_the_text_without_the_title() {
        assert_eq!(
            ids("# Big plan title\n## Backend\n- [ ] Index documents on write\n- [ ] Add search\n"),
            ["index-documents-on-write", "add-search"]
        );
    }

    #[test]
    fn look_alikes_get_the_heading_that_tells_them_apart() {
        assert_eq!(
            ids("# T\n## Linux\n- [ ] Compile\n- [ ] Ship\n## macOS\n- [ ] Compile\n- [ ] Test\n"),
            ["linux/compile", "ship", "macos/compile", "test"]
        );
        // Twins in one section are numbered; the heading tells nothing.
        assert_eq!(
            ids("# T\n## A\n- [ ] fix\n- [ ] fix\n## B\n- [ ] fix\n"),
            ["a/fix", "a/fix-2", "b/fix"]
        );
        assert_eq!(
            ids("- [ ] fix\n- [ ] fix\n- [ ] fix\n"),
            ["fix", "fix-2", "fix-3"]
        );
        // A task before the first heading keeps its bare slug.
        assert_eq!(ids("- [ ] fix\n# A\n- [ ] fix\n# B\n"), ["fix", "a/fix"]);
    }

    #[test]
    fn a_text_that_reads_like_a_twin_number_keeps_it() {
        assert_eq!(
            ids("- [ ] compile\n- [ ] compile\n- [ ] compile 2\n"),
            ["compile", "compile-3", "compile-2"]
        );
    }

    #[test]
    fn ids_stay_short() {
        let long_heading = format!("## {}\n", "Heading words ".repeat(10));
        let text = format!(
            "# T\n{long_heading}- [ ] {0}\n## Other\n- [ ] {0}\n{long_heading}- [ ] {0}\n",
            "A very long task text that goes on and on well past any limit"
        );
        for id in ids(&text) {
            assert!(id.len() <= ID_MAX, "{id}");
        }
    }

    #[test]
    fn a_clash_with_a_section_id_is_qualified() {
        assert_eq!(ids("# T\n## Tests\n- [ ] Tests\n"), ["tests/tests"]);
    }

    #[test]
    fn a_duplicate_id_names_the_line_of_the_first_id_hint() {
        let text = "# T\n\n## A\n\n<!-- id: shared -->\n\n- [ ] one <!-- id: dup -->\n\
                    - [ ] two\n  <!-- id: dup -->\n- [ ] three <!-- id: shared -->\n";
        let doc = Document::parse(
            Source::new("t.md".into(), text.into(), 0),
            ReadOptions::default(),
        );
        let firsts: Vec<(String, usize)> = (doc.errors.iter())
            .map(|d| match &d.error {
                PlanError::DuplicateId { id, first_line } => (id.clone(), *first_line),
                other => panic!("{other:?}"),
            })
            .collect();
        // The section's hint is two lines below its heading.
        assert_eq!(firsts, [("dup".into(), 7), ("shared".into(), 5)]);
    }

    #[test]
    fn of_two_ids_cut_to_one_the_first_in_the_file_keeps_it() {
        // Headings in front cut both texts to the same id; thousands of
        // other ids first, so the table is filled in its own order, not the
        // file's: the file's still decides who is numbered.
        let mut text = String::from("# T\n## Alpha\n");
        for i in 0..3_000 {
            text.push_str(&format!("- [ ] task {i}\n"));
        }
        let twins = "- [ ] Prepare the quarterly billing report for x one\n\
                     - [ ] Prepare the quarterly billing report for x two\n";
        text.push_str(twins);
        text.push_str("## Beta\n");
        text.push_str(twins);
        let ids = ids(&text);
        assert_eq!(
            ids[3_000],
            "alpha/prepare-the-quarterly-billing-report-for-x"
        );
        assert_eq!(
            ids[3_001],
            "alpha/prepare-the-quarterly-billing-report-for-2"
        );
        assert_eq!(
            ids[3_002],
            "beta/prepare-the-quarterly-billing-report-for-x"
        );
    }

    #[test]
    fn look_alikes_in_many_sections_stay_linear() {
        let text: String = (0..16_000)
            .map(|i| format!("## Part {i}\n- [ ] Run the tests\n"))
            .collect();
        let ids = ids(&text);
        assert_eq!(ids[0], "part-0/run-the-tests");
        assert_eq!(ids[15_999], "part-15999/run-the-tests");
    }

    #[test]
    fn sixteen_thousand_twins_take_one_probe_each() {
        let text = "- [ ] same\n".repeat(16_000);
        let ids = ids(&text);
        assert_eq!(ids[0], "same");
        assert_eq!(ids[15_999], "same-16000");
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), 16_000);
    }
}
