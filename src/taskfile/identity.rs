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

use std::borrow::Cow;

use hashbrown::HashTable;
use rustc_hash::FxHashMap;

use crate::error::PlanError;
use crate::memory::fetching_ahead;
use crate::taskfile::Document;
use crate::taskfile::ids::{self, IdOwner};
use crate::taskfile::slug::{self, Chain, Form, Forms, ID_MAX, ID_ROOM, PREFIX_MAX, Qualifiers};
use crate::taskfile::taken::{HashBits, Taken, bucket_sorted};

mod look_alikes;

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

/// The id of an owner that keeps its id as written: an `id` hint, a
/// dialect's id, a section's.
pub(super) fn kept_id(doc: &Document, owner: u32) -> &str {
    match IdOwner::from_code(owner) {
        IdOwner::Task(t) => doc.written_id(t),
        IdOwner::Section(s) => &doc.sections[s].id,
    }
}

/// What reads ids while they are given out: the document, each section's
/// chain and qualifier, and whose forms the pass gives out (sections' or
/// tasks').
struct Names<'a> {
    doc: &'a Document,
    q: &'a Qualifiers,
    chains: &'a [Chain],
    sections: bool,
}

impl<'a> Names<'a> {
    /// The index an owner's form has: its task's or section's.
    fn index(owner: u32) -> usize {
        match IdOwner::from_code(owner) {
            IdOwner::Task(t) | IdOwner::Section(t) => t,
        }
    }

    /// An item's chain: a section's starts at its parent, a task's at its
    /// section.
    fn chain(&self, owner: u32) -> &'a Chain {
        &self.chains[self.chain_at(owner) as usize]
    }

    /// Where an item's chain is in `chains`.
    fn chain_at(&self, owner: u32) -> u32 {
        match IdOwner::from_code(owner) {
            IdOwner::Task(t) => self.doc.tasks[t].section,
            IdOwner::Section(s) => self.doc.sections[s].parent.unwrap_or(0) as u32,
        }
    }

    /// An item's own text, and its slug when the text has none.
    fn own_text(&self, owner: u32) -> (&'a str, &'static str) {
        match IdOwner::from_code(owner) {
            IdOwner::Task(t) => (self.doc.text(t), "task"),
            IdOwner::Section(s) => (self.doc.sections[s].title.as_str(), "section"),
        }
    }

    /// Asks for an item's own text to be brought into cache (see
    /// [`crate::memory::prefetch`]).
    pub(super) fn prefetch_text(&self, owner: u32) {
        match IdOwner::from_code(owner) {
            IdOwner::Task(t) => self.doc.prefetch_text(t),
            IdOwner::Section(s) => crate::memory::prefetch(self.doc.sections[s].title.as_ptr()),
        }
    }

    /// Whether `owner`'s id is made from a form this pass gives out.
    fn formed(&self, owner: u32) -> bool {
        match IdOwner::from_code(owner) {
            IdOwner::Task(t) => !self.sections && self.doc.tasks[t].id_source == IdSource::Slug,
            IdOwner::Section(s) => {
                self.sections && s != 0 && self.doc.sections[s].hints.id.is_none()
            }
        }
    }

    /// Appends the id `owner` has when made as `form` says.
    fn write(&self, owner: u32, form: Form, out: &mut String) {
        let (text, empty) = self.own_text(owner);
        slug::write_id(text, empty, self.chain(owner), form, self.q, out);
    }

    /// Any owner's id: made from its form, or as kept.
    fn id(&self, forms: &Forms, owner: u32) -> Cow<'a, str> {
        if self.formed(owner) {
            let mut out = String::with_capacity(ID_ROOM);
            self.write(owner, forms.get(Names::index(owner)), &mut out);
            return Cow::Owned(out);
        }
        Cow::Borrowed(kept_id(self.doc, owner))
    }

    /// Whether two items' own slugs are the same: the same text gives the
    /// same slug (most look-alikes), else both are made.
    fn same_own(&self, a: u32, b: u32, scratch: &mut (String, String)) -> bool {
        let (a, b) = (self.own_text(a), self.own_text(b));
        if a == b {
            return true;
        }
        let (sa, sb) = scratch;
        sa.clear();
        sb.clear();
        slug::slug_into(a.0, a.1, ID_MAX, sa);
        slug::slug_into(b.0, b.1, ID_MAX, sb);
        sa == sb
    }
}

/// The id made as `owner`'s form says if free, else with `-2`, `-3`, …
/// (the base cut so the id stays within `ID_MAX`). Per base, the next
/// number to try is kept once the base is taken: a run of 16,000 twins
/// costs one try each, and no twin after the first looks up the base or
/// makes its slug again. `scratch` is two strings reused from call to
/// call (a twin's base and candidate): a million twins need no
/// allocation each.
fn take_unique(
    taken: &mut Taken,
    names: &Names,
    forms: &mut Forms,
    owner: u32,
    (base, id): &mut (String, String),
) {
    let i = Names::index(owner);
    base.clear();
    names.write(owner, forms.get(i), base);
    let known = taken.next.get(base.as_str()).copied();
    if known.is_none() && taken.take(ids::hash(base), owner, |o| names.id(forms, o)) {
        taken.next.insert(base.clone(), 2);
        return;
    }
    let mut n = known.unwrap_or(2);
    loop {
        forms.set(
            i,
            Form {
                twin: n,
                ..forms.get(i)
            },
        );
        id.clear();
        id.push_str(base);
        slug::twin_id(0, n, id);
        n += 1;
        if taken.take(ids::hash(id), owner, |o| names.id(forms, o)) {
            break;
        }
    }
    match taken.next.get_mut(base.as_str()) {
        Some(next) => *next = n,
        None => {
            taken.next.insert(base.clone(), n);
        }
    }
}

/// The line an owner's id was taken on: its `id` hint's, else its own.
fn line_of(doc: &Document, owner: u32) -> usize {
    match IdOwner::from_code(owner) {
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

/// Gives every section and task its id. Sections' ids are kept in them;
/// a task's slug id is kept as its form (the headings in front, its twin
/// number) in the document's id index, with the table of every id, the
/// qualifiers and the title it is made of.
pub(super) fn assign(doc: &mut Document) {
    let mut taken = Taken::default();
    explicit_ids(doc, &mut taken);
    dialect_ids(doc, &mut taken);

    let title = title_section(doc);
    // Each section's qualifier (its `id` hint, else its title's slug) and
    // the sections a slug may be qualified by, nearest first (never the
    // title nor the file).
    let q = Qualifiers::new(&doc.sections);
    let numbers = Numbers::new(&q);
    let chains: Vec<Chain> = (0..doc.sections.len())
        .map(|s| Chain::of(&doc.sections, title, s))
        .collect();

    let items: Vec<u32> = (1..doc.sections.len())
        .filter(|&s| doc.sections[s].hints.id.is_none())
        .map(|s| IdOwner::Section(s).code())
        .collect();
    let mut forms = Forms::new(doc.sections.len());
    let section_ids: Vec<String> = {
        let names = Names {
            doc,
            q: &q,
            chains: &chains,
            sections: true,
        };
        name(&items, &names, &numbers, &mut forms, &mut taken);
        (items.iter())
            .map(|&o| names.id(&forms, o).into_owned())
            .collect()
    };
    for (&o, id) in items.iter().zip(section_ids) {
        doc.sections[Names::index(o)].id = id;
    }

    let mut items: Vec<u32> = Vec::with_capacity(doc.tasks.len());
    for t in 0..doc.tasks.len() {
        let slugged = match doc.tasks[t].id_source {
            IdSource::Hint => false,
            IdSource::Dialect => doc.written_id(t).is_empty(),
            IdSource::Slug => true,
        };
        if slugged {
            doc.tasks[t].id_source = IdSource::Slug;
            items.push(IdOwner::Task(t).code());
        }
    }
    let mut forms = Forms::new(doc.tasks.len());
    {
        let names = Names {
            doc,
            q: &q,
            chains: &chains,
            sections: false,
        };
        name(&items, &names, &numbers, &mut forms, &mut taken);
    }
    drop((items, chains));
    doc.ids.table = taken.table;
    doc.ids.forms = forms;
    doc.ids.qualifiers = q;
    doc.ids.title = title;
}

/// `id` hints first: they win every clash, and two of them clash loudly.
fn explicit_ids(doc: &mut Document, taken: &mut Taken) {
    let mut explicit = Vec::new();
    for (i, s) in doc.sections.iter().enumerate() {
        if let Some(id) = &s.hints.id {
            explicit.push((id.span, IdOwner::Section(i)));
        }
    }
    for (i, t) in doc.tasks.iter().enumerate() {
        if let Some(id) = &t.hints.id {
            explicit.push((id.span, IdOwner::Task(i)));
        }
    }
    explicit.sort_by_key(|e| e.0.offset());
    for (span, owner) in explicit {
        let hint = match owner {
            IdOwner::Task(t) => &doc.tasks[t].hints.id,
            IdOwner::Section(s) => &doc.sections[s].hints.id,
        };
        let id = hint.as_ref().map_or("", |h| h.value.as_str());
        if let Some(first) = taken.find(id, |o| Cow::Borrowed(kept_id(doc, o))) {
            let (id, first_line) = (id.to_owned(), line_of(doc, first));
            doc.error(span, PlanError::DuplicateId { id, first_line });
            continue;
        }
        let hash = ids::hash(id);
        match owner {
            IdOwner::Task(t) => doc.tasks[t].id_source = IdSource::Hint,
            IdOwner::Section(s) => {
                doc.sections[s].id = id.to_owned();
                doc.sections[s].id_source = IdSource::Hint;
            }
        }
        taken.take(hash, owner.code(), |o| Cow::Borrowed(kept_id(doc, o)));
    }
}

/// Dialect ids next; a repeated one falls back to a slug, with a warning.
fn dialect_ids(doc: &mut Document, taken: &mut Taken) {
    for t in 0..doc.tasks.len() {
        let id = doc.written_id(t);
        if doc.tasks[t].id_source != IdSource::Dialect || id.is_empty() {
            continue;
        }
        let owner = IdOwner::Task(t).code();
        if !taken.take(ids::hash(id), owner, |o| Cow::Borrowed(kept_id(doc, o))) {
            let id = id.to_owned();
            let span = doc.checkbox(&doc.tasks[t]);
            let first_line = taken
                .find(&id, |o| Cow::Borrowed(kept_id(doc, o)))
                .map_or(span.line(), |o| line_of(doc, o));
            doc.tasks[t].id_source = IdSource::Slug;
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

/// A number per distinct qualifier, by section: headings are told apart by
/// comparing numbers, not strings.
struct Numbers {
    number: Vec<u32>,
    distinct: usize,
}

impl Numbers {
    fn new(q: &Qualifiers) -> Numbers {
        let mut numbers: FxHashMap<&str, u32> = FxHashMap::default();
        let number = (0..q.len())
            .map(|s| {
                let next = numbers.len() as u32;
                *numbers.entry(q.get(s)).or_insert(next)
            })
            .collect();
        let distinct = numbers.len();
        Numbers { number, distinct }
    }
}

/// Items that share one candidate id: `members[start..start + len]`, the
/// chain levels put in front so far (a bit each: headings nest at most six
/// deep) and the next level to look at. Small: there is one per distinct
/// slug.
#[derive(Clone, Copy)]
struct Group {
    start: u32,
    len: u32,
    chosen: u8,
    level: u32,
}

impl Group {
    fn members(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// An item's [`name`] state: a twin, not a level.
const TWIN: u8 = u8::MAX;

/// Items whose own slugs are made on one thread: more are shared out
/// among threads, one per CPU (a slug is a few hundred instructions).
const ONE_THREAD: usize = 16 * 1024;

/// The hash of each item's own slug, and where its chain is: read here,
/// where the items are met in the file's order, the chain is not read
/// from the item again at random while look-alikes are told apart.
fn own_hashes(items: &[u32], names: &Names) -> (Vec<u32>, Vec<u32>) {
    let hash_into = |items: &[u32], hashes: &mut [u32], chains: &mut [u32]| {
        let mut slug = String::new();
        for ((&o, hash), chain) in items.iter().zip(hashes).zip(chains) {
            let (text, empty) = names.own_text(o);
            slug.clear();
            slug::slug_into(text, empty, ID_MAX, &mut slug);
            *hash = ids::hash32(&slug);
            *chain = names.chain_at(o);
        }
    };
    let mut hashes = vec![0; items.len()];
    let mut chains = vec![0; items.len()];
    let threads = crate::cpus::threads().min(items.len().div_ceil(ONE_THREAD));
    if threads < 2 {
        hash_into(items, &mut hashes, &mut chains);
        return (hashes, chains);
    }
    let share = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts = (items.chunks(share))
            .zip(hashes.chunks_mut(share))
            .zip(chains.chunks_mut(share));
        for ((items, hashes), chains) in parts {
            scope.spawn(move || hash_into(items, hashes, chains));
        }
    });
    (hashes, chains)
}

/// Names `items` (owners, in document order) so no two share an id and
/// none takes one already taken: an item whose own slug is unique keeps it;
/// look-alikes get the nearest heading that tells them apart in front
/// (`backend/tests`, `frontend/tests`); items no heading tells apart are
/// twins, numbered in document order (`compile`, `compile-2`). What each
/// is named goes to `forms`; no id is kept, each is made again when read.
fn name(items: &[u32], names: &Names, numbers: &Numbers, forms: &mut Forms, taken: &mut Taken) {
    if items.is_empty() {
        return;
    }
    let q = names.q;
    // Each item's own slug's hash (then its candidate id's), and where its
    // chain is.
    let (mut hashes, chain_at) = own_hashes(items, names);
    // By chain (see `chain_at`): an item's, or a look-alike's as kept
    // beside it in `members`.
    let chain = |c: u32| &names.chains[c as usize];
    let qual_at = |c: u32, level: usize| chain(c).get(level).map(|s| numbers.number[s]);
    let qual_len = |c: u32, level: usize| chain(c).get(level).map_or(0, |s| q.get(s).len());
    let prefix_len =
        |c: u32, chosen: u8| -> usize { slug::levels(chosen).map(|l| qual_len(c, l) + 1).sum() };
    let mut scratch = (String::new(), String::new());

    // Look-alikes by own slug, each group's members together in document
    // order (an item alone is in none: it keeps its own slug unless an id
    // taken before has it).
    // Each with its chain: splitting reads a look-alike's chain several
    // times, and `chain_at` at random each time (a wait on memory at a
    // million items).
    let mut members: Vec<(u32, u32)> = Vec::new();
    let mut work: Vec<Group> = Vec::new();
    {
        // Each item's group of look-alikes, if any; by group, its size
        // (then where it starts in `members`).
        let (group_of, mut sizes) = look_alikes::groups(items, names, &hashes, &mut scratch);
        // The table and the scan's freed lists: the ids' peak comes next.
        crate::memory::give_back();
        let mut start = 0;
        for size in sizes.iter_mut() {
            if *size == 0 {
                continue;
            }
            work.push(Group {
                start: start as u32,
                len: *size,
                chosen: 0,
                level: 0,
            });
            (*size, start) = (start as u32, start + *size as usize);
        }
        // Room for the groups' splits too.
        members.reserve_exact(start * 2);
        members.resize(start, (0, 0));
        for (i, &g) in group_of.iter().enumerate() {
            if g == look_alikes::ALONE {
                continue;
            }
            let at = &mut sizes[g as usize];
            members[*at as usize] = (i as u32, chain_at[i]);
            *at += 1;
        }
    }

    // Ids taken before these items: while groups split, the only ones a
    // candidate can clash with (the items' own are taken at the end). A
    // table of their own, not the document's: in a file of slug ids it is
    // small, so a look stays in cache. Each owner with its id's hash: a
    // look compares hashes, and reads an id (from its owner's text, at
    // random) only when they are equal, not once in eight looks (when a
    // 7-bit tag alone is).
    let mut before: HashTable<(u32, u32)> = HashTable::with_capacity(taken.table.len());
    for &o in taken.table.iter() {
        let hash = ids::hash32(&names.id(forms, o));
        before.insert_unique(ids::spread(hash), (hash, o), |&(h, _)| ids::spread(h));
    }
    let before_bits = HashBits::new(before.iter().map(|&(h, _)| h));
    // Each item's state once its group is down to it: the next heading
    // level to look at (it is named after the loop), or a twin that takes
    // a number. An item alone starts at the first level.
    let mut state: Vec<u8> = vec![0; items.len()];
    // Parts of a group being split, by qualifier number + 1 (0: none).
    let mut part_of: Vec<u32> = vec![u32::MAX; numbers.distinct + 1];
    let mut parts: Vec<(usize, usize)> = Vec::new();
    while let Some(g) = work.pop() {
        let range = g.members();
        let level = g.level as usize;
        if g.len == 1 {
            // Named after the loop, in the file's order: its text is read
            // where the file has it, not where the loop is.
            let i = members[range.start].0 as usize;
            forms.set(
                Names::index(items[i]),
                Form {
                    chosen: g.chosen,
                    twin: 0,
                },
            );
            state[i] = g.level as u8;
            continue;
        }
        // The nearest level whose headings differ among the members.
        let member_chain = |k: usize| members[k].1;
        let deepest = range.clone().map(|k| chain(member_chain(k)).len()).max();
        let split = (level..deepest.unwrap_or(0)).find(|&l| {
            let q0 = qual_at(member_chain(range.start), l);
            range.clone().any(|k| qual_at(member_chain(k), l) != q0)
        });
        let fits = |l: usize| {
            (range.clone()).all(|k| {
                prefix_len(member_chain(k), g.chosen) + qual_len(member_chain(k), l) < PREFIX_MAX
            })
        };
        match split {
            Some(l) if fits(l) => {
                // Parts in order of first member, each one stretch of
                // `members` again.
                let key = |c: u32| qual_at(c, l).map_or(0, |n| n as usize + 1);
                for k in range.clone() {
                    let key = key(member_chain(k));
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
                members.resize(start, (0, 0));
                for k in range {
                    let m = members[k];
                    let p = part_of[key(m.1)] as usize;
                    members[at[p]] = m;
                    at[p] += 1;
                }
                for &(key, _) in &parts {
                    part_of[key] = u32::MAX;
                }
                parts.clear();
            }
            _ => {
                for k in range {
                    let i = members[k].0 as usize;
                    let form = Form {
                        chosen: g.chosen,
                        twin: 0,
                    };
                    forms.set(Names::index(items[i]), form);
                    state[i] = TWIN;
                }
            }
        }
    }
    drop(members);
    // Each item down to itself: its id as its headings make it, unless an
    // explicit, dialect or section id has it, when the nearest heading left
    // may tell it apart. (The candidate is made again only when a hash is
    // the same.)
    // A qualified candidate is made from the item's text, read at random
    // among the file's lines: the text a few items ahead is asked for
    // (each one's: picking those that need it cost more at 10,000 tasks
    // than the rest of this loop).
    for (i, _) in fetching_ahead(items, |&o| names.prefetch_text(o)) {
        if state[i] == TWIN {
            continue;
        }
        let mut level = state[i] as usize;
        let mut chosen = forms.get(Names::index(items[i])).chosen;
        loop {
            let form = Form { chosen, twin: 0 };
            let hash = if chosen == 0 {
                hashes[i]
            } else {
                scratch.0.clear();
                names.write(items[i], form, &mut scratch.0);
                ids::hash32(&scratch.0)
            };
            let clash = || {
                let same = |&(h, o): &(u32, u32)| {
                    if h != hash {
                        return false;
                    }
                    let mut candidate = String::with_capacity(ID_ROOM);
                    names.write(items[i], form, &mut candidate);
                    names.id(forms, o) == candidate.as_str()
                };
                before_bits.may_have(hash) && before.find(ids::spread(hash), same).is_some()
            };
            let c = chain_at[i];
            if qual_at(c, level).is_some()
                && prefix_len(c, chosen) + qual_len(c, level) < PREFIX_MAX
                && clash()
            {
                chosen |= 1 << level;
                level += 1;
                continue;
            }
            hashes[i] = hash;
            forms.set(Names::index(items[i]), form);
            break;
        }
    }
    // Unique ids first, the first in the file winning a clash, then twins
    // take numbers in file order: a task whose text reads `compile 2` keeps
    // `compile-2`. (Equal ids share a hash, so the table's order keeps the
    // file's among them.)
    // Room for them all: the table is made again from `before`, which
    // has each id's hash. (Grown in place, it made every id in it again,
    // three reads at random an `id` hint.)
    let hash = |&o: &u32| ids::hash(&names.id(forms, o));
    let mut table = HashTable::with_capacity(before.len() + items.len());
    for &(h, o) in before.iter() {
        table.insert_unique(ids::spread(h), o, hash);
    }
    taken.table = table;
    drop(before);
    // Items in the table's order, with their hashes: no list is read at
    // random. Twins (as owners, in the file's order) take numbers after.
    let mut twins: Vec<u32> = Vec::new();
    let unnamed = (0..items.len()).filter(|&i| state[i] != TWIN);
    let pairs = unnamed.map(|i| (hashes[i], items[i]));
    let sorted = bucket_sorted(pairs, taken.table.capacity());
    twins.extend(
        (0..items.len())
            .filter(|&i| state[i] == TWIN)
            .map(|i| items[i]),
    );
    drop((hashes, state, chain_at));
    for (hash, owner) in sorted {
        if !taken.take(ids::spread(hash), owner, |o| names.id(forms, o)) {
            twins.push(owner);
        }
    }
    // Owners in one pass are in the file's order, and so are their codes.
    twins.sort_unstable();
    // A twin's base is made from its text.
    for (_, &owner) in fetching_ahead(&twins, |&o| names.prefetch_text(o)) {
        take_unique(taken, names, forms, owner, &mut scratch);
    }
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
        (0..doc.tasks.len())
            .map(|t| doc.id(t).into_owned())
            .collect()
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

    /// Two slugs of different words whose 32-bit hashes are the same.
    fn slugs_whose_hashes_clash() -> (String, String) {
        let mut seen: FxHashMap<u32, String> = FxHashMap::default();
        for n in 0.. {
            let slug = format!("task-{n}");
            if let Some(other) = seen.insert(ids::hash32(&slug), slug.clone()) {
                return (other, slug);
            }
        }
        unreachable!()
    }

    #[test]
    fn slugs_whose_hashes_clash_are_not_look_alikes() {
        let (a, b) = slugs_whose_hashes_clash();
        assert_ne!(a, b);
        assert_eq!(ids::hash32(&a), ids::hash32(&b));
        // Under two headings: look-alikes would take them in front.
        assert_eq!(
            ids(&format!("# T\n## X\n- [ ] {a}\n## Y\n- [ ] {b}\n")),
            [a.as_str(), b.as_str()]
        );
        // The second slug's own look-alikes, after the first's, are told
        // apart as usual; the first slug's twin is numbered.
        assert_eq!(
            ids(&format!(
                "# T\n## X\n- [ ] {a}\n- [ ] {b}\n## Y\n- [ ] {b}\n- [ ] {a}\n- [ ] {a}\n"
            )),
            [
                format!("x/{a}"),
                format!("x/{b}"),
                format!("y/{b}"),
                format!("y/{a}"),
                format!("y/{a}-2"),
            ]
        );
    }

    #[test]
    fn a_text_that_reads_like_a_twin_number_keeps_it() {
        assert_eq!(
            ids("- [ ] compile\n- [ ] compile\n- [ ] compile 2\n"),
            ["compile", "compile-3", "compile-2"]
        );
    }

    #[test]
    fn twins_number_on_from_their_base_whoever_took_a_number_first() {
        // The second `compile` takes `compile-2` before the `compile 2`s
        // come, which then number on from their own base.
        assert_eq!(
            ids("- [ ] compile\n- [ ] compile\n- [ ] compile 2\n- [ ] compile 2\n- [ ] compile\n"),
            [
                "compile",
                "compile-2",
                "compile-2-2",
                "compile-2-3",
                "compile-3"
            ]
        );
        // A long base is cut where its number goes, for every twin.
        let long = "ab ".repeat(30);
        let ids = ids(&format!("- [ ] {long}\n").repeat(12));
        let base = &ids[0];
        assert_eq!(base.len(), ID_MAX - 1, "{base}");
        for (n, id) in ids.iter().enumerate().skip(1) {
            let suffix = format!("-{}", n + 1);
            assert!(id.ends_with(&suffix) && id.len() <= ID_MAX, "{id}");
            assert!(base.starts_with(id.trim_end_matches(&suffix)), "{id}");
        }
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
    fn look_alikes_are_told_apart_after_their_first_texts_fill_their_room() {
        // Long texts in pairs: the first texts kept for comparing fill their
        // room after some pairs, and the rest are read from the file again.
        // The second of each pair is in bold: the texts differ, only their
        // slugs are the same.
        let long = |k: usize| {
            format!("Step {k} of the migration that moves every record of the old store")
        };
        let mut text = String::from("# Plan\n## A\n");
        for k in 0..200 {
            text += &format!("- [ ] {}\n", long(k));
        }
        text += "## B\n";
        for k in 0..200 {
            text += &format!("- [ ] **{}**\n", long(k));
        }
        let ids = ids(&text);
        for k in 0..200 {
            assert!(ids[k].starts_with(&format!("a/step-{k}-of-")), "{}", ids[k]);
            assert_eq!(ids[200 + k], ids[k].replacen("a/", "b/", 1));
        }
    }

    #[test]
    fn slugs_made_on_threads_name_as_on_one() {
        // Past ONE_THREAD items: distinct texts, look-alikes under two
        // headings, twins; each share's hashes must land on its own items.
        let mut text = String::new();
        for (part, shift) in [("A", 0), ("B", 7)] {
            text.push_str(&format!("## {part}\n\n"));
            for i in shift..ONE_THREAD + shift {
                text.push_str(&format!("- [ ] task {i}\n- [ ] look alike {}\n", i % 3));
            }
        }
        let ids = ids(&text);
        assert_eq!(ids.len(), 4 * ONE_THREAD);
        // Only the texts under both headings take theirs.
        assert_eq!(ids[0], "task-0");
        assert_eq!(ids[14], "a/task-7");
        assert_eq!(ids[2 * ONE_THREAD], "b/task-7");
        assert_eq!(ids[4 * ONE_THREAD - 2], format!("task-{}", ONE_THREAD + 6));
        assert_eq!(ids[1], "a/look-alike-0");
        assert_eq!(ids[7], "a/look-alike-0-2");
        assert_eq!(ids[2 * ONE_THREAD + 1], "b/look-alike-1");
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
