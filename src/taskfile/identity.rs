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
use crate::taskfile::taken::Taken;
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

/// The longest slug id, in bytes: a plan line keeps room for the text.
pub const ID_MAX: usize = 48;
/// The longest heading slug put in front of a task's or section's own slug.
const QUALIFIER_MAX: usize = 20;
/// Headings in front take at most this much, so the text's own words keep
/// at least 16 bytes.
const PREFIX_MAX: usize = ID_MAX - 16 - 1;

/// The id written at `base` (a range of `text`) if free, else `base-2`,
/// `base-3`, … (the base cut so the id stays within `ID_MAX`). Each
/// try is written where taken ids are kept and taken there: a run of
/// 16,000 twins allocates nothing per twin.
fn take_unique(taken: &mut Taken, base: (u32, u32), owner: u32, line: u32) {
    if taken.take_at(base, owner, line, true) {
        return;
    }
    let (from, to) = (base.0 as usize, base.1 as usize);
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
        if taken.take_at(id, owner, line, true) {
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

/// Hands each named id to its owner; the table becomes the id index.
fn hand_out(taken: Taken, doc: &mut Document) -> IdIndex {
    for e in &taken.entries {
        if !e.named {
            continue;
        }
        let id = &taken.text[e.start as usize..e.end as usize];
        match ids::owner(e.owner) {
            IdOwner::Task(t) => {
                doc.tasks[t].set_id(id);
                doc.tasks[t].id_source = IdSource::Slug;
            }
            IdOwner::Section(s) => doc.sections[s].id = id.to_owned(),
        }
    }
    let entries = taken.entries;
    IdIndex::from_table(taken.table, |e| entries[e as usize].owner)
}

/// Gives every section and task its id, and hands on the index of them all.
pub(super) fn assign(doc: &mut Document) -> IdIndex {
    let mut taken = Taken::with_capacity(doc.sections.len() + doc.tasks.len());
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

    let mut slugs = String::new();
    let items: Vec<Item> = (1..doc.sections.len())
        .filter(|&s| doc.sections[s].hints.id.is_none())
        .map(|s| Item {
            own: slug_into(&doc.sections[s].title, "section", ID_MAX, &mut slugs),
            chain: doc.sections[s].parent.unwrap_or(0) as u32,
            line: doc.sections[s].span.line() as u32,
            owner: ids::code(IdOwner::Section(s)),
        })
        .collect();
    name(&items, &slugs, &chains, &qualifiers, &mut taken);

    slugs.clear();
    // What the slugs take at most (for ASCII text, slugs of the other
    // scripts may grow it once): no doubling of a long string.
    let most = |t: &Task| t.text().len().clamp(4, ID_MAX);
    slugs.reserve(doc.tasks.iter().map(most).sum());
    let mut items: Vec<Item> = Vec::with_capacity(doc.tasks.len());
    items.extend(
        (0..doc.tasks.len())
            .filter(|&t| match doc.tasks[t].id_source {
                IdSource::Hint => false,
                IdSource::Dialect => doc.tasks[t].id().is_empty(),
                IdSource::Slug => true,
            })
            .map(|t| Item {
                own: slug_into(doc.tasks[t].text(), "task", ID_MAX, &mut slugs),
                chain: doc.tasks[t].section,
                line: doc.tasks[t].checkbox.line() as u32,
                owner: ids::code(IdOwner::Task(t)),
            }),
    );
    // Room for the longest ids, most of it never touched: growing the
    // string instead would copy it whole (twins may still add a little).
    taken.text.reserve(items.len() * ID_MAX);
    name(&items, &slugs, &chains, &qualifiers, &mut taken);
    drop(items);
    drop(slugs);
    hand_out(taken, doc)
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
            let first_line = first.line as usize;
            doc.error(span, PlanError::DuplicateId { id, first_line });
            continue;
        }
        match owner {
            IdOwner::Task(t) => {
                doc.tasks[t].set_id(&id);
                doc.tasks[t].id_source = IdSource::Hint;
            }
            IdOwner::Section(s) => {
                doc.sections[s].id = id.clone();
                doc.sections[s].id_source = IdSource::Hint;
            }
        }
        taken.take(&id, ids::code(owner), span.line() as u32, false);
    }
}

/// Dialect ids next; a repeated one falls back to a slug, with a warning.
fn dialect_ids(doc: &mut Document, taken: &mut Taken) {
    for t in 0..doc.tasks.len() {
        let task = &doc.tasks[t];
        if task.id_source != IdSource::Dialect || task.id().is_empty() {
            continue;
        }
        let line = task.checkbox.line() as u32;
        let owner = ids::code(IdOwner::Task(t));
        if !taken.take(task.id(), owner, line, false) {
            let id = task.id().to_owned();
            let first_line = taken.find(&id).map_or(line, |e| e.line) as usize;
            let span = task.checkbox;
            doc.tasks[t].set_id("");
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

/// One thing to name: its own slug (a range of the slugs' text), the
/// section whose chain of headings may qualify it, and who it is. Small:
/// there is one per task.
struct Item {
    own: (u32, u32),
    chain: u32,
    line: u32,
    owner: u32,
}

/// Items that share one candidate id: `members[start..start + len]`, the
/// chain levels put in front so far (a bit each: headings nest at most six
/// deep) and the next level to look at.
#[derive(Clone, Copy)]
struct Group {
    start: usize,
    len: usize,
    chosen: u32,
    level: usize,
}

/// Names `items` (in document order) so no two share an id and none takes
/// one already taken: an item whose own slug is unique keeps it;
/// look-alikes get the nearest heading that tells them apart in front
/// (`backend/tests`, `frontend/tests`); items no heading tells apart are
/// twins, numbered in document order (`compile`, `compile-2`).
fn name(items: &[Item], slugs: &str, chains: &[Vec<usize>], q: &Qualifiers, taken: &mut Taken) {
    let own = |i: usize| &slugs[items[i].own.0 as usize..items[i].own.1 as usize];
    let chain = |i: usize| chains[items[i].chain as usize].as_slice();
    let qual_at = |i: usize, level: usize| (chain(i).get(level)).map(|&s| q.number[s]);
    let qual_len = |i: usize, level: usize| (chain(i).get(level)).map_or(0, |&s| q.text[s].len());
    let prefix_len =
        |i: usize, chosen: u32| -> usize { levels(chosen).map(|l| qual_len(i, l) + 1).sum() };
    // Candidate ids are written where taken ids are kept, and taken there
    // (most are) without a copy.
    let compose = |i: usize, chosen: u32, text: &mut String| {
        let start = text.len();
        compose_into(chain(i), own(i), chosen, &q.text, text);
        (start as u32, text.len() as u32)
    };

    // Items by own slug, each group's members together in document order.
    let mut members: Vec<usize> = Vec::with_capacity(items.len() * 2);
    let mut work: Vec<Group> = Vec::new();
    {
        let mut group_of: Vec<u32> = Vec::with_capacity(items.len());
        let mut sizes: Vec<usize> = Vec::new();
        // Each group's first item, found by its slug: 4 bytes an entry, not
        // a map's 24 (the map was the largest thing at the ids' peak).
        let mut by_own: HashTable<u32> = HashTable::with_capacity(items.len());
        let hash_of = |i: u32| ids::hash(own(i as usize));
        for i in 0..items.len() {
            let same = |&first: &u32| own(first as usize) == own(i);
            let g = match by_own.entry(ids::hash(own(i)), same, |&f| hash_of(f)) {
                Entry::Occupied(first) => group_of[*first.get() as usize],
                Entry::Vacant(new) => {
                    new.insert(i as u32);
                    sizes.push(0);
                    (sizes.len() - 1) as u32
                }
            };
            sizes[g as usize] += 1;
            group_of.push(g);
        }
        let mut at = Vec::with_capacity(sizes.len());
        let mut start = 0;
        for &len in &sizes {
            at.push(start);
            work.push(Group {
                start,
                len,
                chosen: 0,
                level: 0,
            });
            start += len;
        }
        members.resize(items.len(), 0);
        for (i, &g) in group_of.iter().enumerate() {
            members[at[g as usize]] = i;
            at[g as usize] += 1;
        }
    }

    // (candidate id, whether it is a twin that takes a number)
    // (candidate id in `taken.text`, whether it is a twin that takes a number)
    let mut proposed: Vec<((u32, u32), bool)> = vec![((0, 0), false); items.len()];
    // Parts of a group being split, by qualifier number + 1 (0: none).
    let mut part_of: Vec<u32> = vec![u32::MAX; q.distinct + 1];
    let mut parts: Vec<(usize, usize)> = Vec::new();
    while let Some(g) = work.pop() {
        let range = g.start..g.start + g.len;
        if g.len == 1 {
            let i = members[g.start];
            let id = compose(i, g.chosen, &mut taken.text);
            // A clash with an explicit, dialect or section id: the nearest
            // heading left may tell it apart.
            if taken.has(&taken.text[id.0 as usize..])
                && qual_at(i, g.level).is_some()
                && prefix_len(i, g.chosen) + qual_len(i, g.level) < PREFIX_MAX
            {
                taken.text.truncate(id.0 as usize);
                work.push(Group {
                    chosen: g.chosen | 1 << g.level,
                    level: g.level + 1,
                    ..g
                });
                continue;
            }
            proposed[i] = (id, false);
            continue;
        }
        // The nearest level whose headings differ among the members.
        let deepest = members[range.clone()].iter().map(|&i| chain(i).len()).max();
        let split = (g.level..deepest.unwrap_or(0)).find(|&l| {
            let q0 = qual_at(members[g.start], l);
            members[range.clone()].iter().any(|&i| qual_at(i, l) != q0)
        });
        let fits = |l: usize| {
            (members[range.clone()].iter())
                .all(|&i| prefix_len(i, g.chosen) + qual_len(i, l) < PREFIX_MAX)
        };
        match split {
            Some(l) if fits(l) => {
                // Parts in order of first member, each one stretch of
                // `members` again.
                let key = |i: usize| qual_at(i, l).map_or(0, |n| n as usize + 1);
                for k in range.clone() {
                    let key = key(members[k]);
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
                        start,
                        len,
                        chosen: if key == 0 {
                            g.chosen
                        } else {
                            g.chosen | 1 << l
                        },
                        level: l + 1,
                    });
                    start += len;
                }
                members.resize(start, 0);
                for k in range {
                    let i = members[k];
                    let p = part_of[key(i)] as usize;
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
                    let i = members[k];
                    proposed[i] = (compose(i, g.chosen, &mut taken.text), true);
                }
            }
        }
    }
    drop(members);
    // Unique ids first, in document order, then twins take numbers: a task
    // whose text reads `compile 2` keeps `compile-2`.
    let mut twins = Vec::new();
    for (i, (id, twin)) in proposed.into_iter().enumerate() {
        let item = &items[i];
        if twin || !taken.take_at(id, item.owner, item.line, true) {
            twins.push((i, id));
        }
    }
    for (i, id) in twins {
        take_unique(taken, id, items[i].owner, items[i].line);
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

/// The chosen headings, outermost first, then the own slug cut to fit,
/// appended to `id`.
fn compose_into(chain: &[usize], own: &str, chosen: u32, qualifier: &[String], id: &mut String) {
    if chosen == 0 {
        id.push_str(own);
        return;
    }
    let start = id.len();
    let mut rest = chosen;
    while rest != 0 {
        let l = 31 - rest.leading_zeros() as usize;
        rest &= !(1 << l);
        id.push_str(&qualifier[chain[l]]);
        id.push('/');
    }
    let room = ID_MAX.saturating_sub(id.len() - start);
    id.push_str(cut_words(own, room));
}

/// The longest start of `s` within `max` bytes, on a char boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The longest start of slug `s` within `max` bytes that ends at a word
/// (a word is cut only when it is the first).
fn cut_words(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let head = cut(s, max);
    if s.as_bytes()[head.len()] == b'-' {
        return head;
    }
    match head.rfind('-') {
        Some(dash) => &head[..dash],
        None => head,
    }
}

/// Lowercase words joined by `-`, letters and digits of any script kept,
/// whole words up to `max` bytes (a first word longer than that is cut).
/// `empty` when the text has no letters or digits.
pub fn slug_within(text: &str, empty: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 4));
    slug_into(text, empty, max, &mut out);
    out
}

/// [`slug_within`], appended to `out`; hands on where it lies there.
fn slug_into(text: &str, empty: &str, max: usize, out: &mut String) -> (u32, u32) {
    let start = out.len();
    if text.is_ascii() {
        slug_ascii_into(text, max, out);
    } else {
        slug_chars_into(text, max, out);
    }
    if out.len() == start {
        out.push_str(empty);
    }
    (start as u32, out.len() as u32)
}

/// The slug a char at a time, for any script.
fn slug_chars_into(text: &str, max: usize, out: &mut String) {
    let start = out.len();
    let mut dash = false;
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        // ASCII byte by byte; any other char decoded whole.
        let (c, width) = match bytes[at] {
            b if b.is_ascii() => (b as char, 1),
            _ => {
                let c = text[at..].chars().next().unwrap_or_default();
                (c, c.len_utf8())
            }
        };
        at += width;
        if !c.is_alphanumeric() {
            dash = true;
            continue;
        }
        let len = out.len() - start;
        if dash && len != 0 {
            if len + 1 >= max {
                break;
            }
            out.push('-');
        }
        dash = false;
        let before = out.len();
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
        if out.len() - start > max {
            out.truncate(before);
            // Drop the part word: whole words read better than a stump.
            if let Some(d) = out[start..].rfind('-') {
                out.truncate(start + d);
            }
            break;
        }
    }
}

/// Each ASCII byte's lowercase form when it is a letter or digit, else 0.
static SLUG_BYTE: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            table[b] = c.to_ascii_lowercase();
        }
        b += 1;
    }
    table
};

/// [`slug_into`] for ASCII text, a byte at a time through a table (the
/// same slug: a word that does not fit ends it, a first word is cut).
fn slug_ascii_into(text: &str, max: usize, out: &mut String) {
    let mut buf = [0u8; 128];
    if max >= buf.len() {
        return slug_chars_into(text, max, out);
    }
    let (mut n, mut word_start, mut in_word) = (0, 0, false);
    for &b in text.as_bytes() {
        let c = SLUG_BYTE[(b & 0x7f) as usize];
        if c == 0 {
            in_word = false;
            continue;
        }
        if !in_word {
            in_word = true;
            if n != 0 {
                if n + 1 >= max {
                    break;
                }
                buf[n] = b'-';
                n += 1;
            }
            word_start = n;
        }
        if n == max {
            // Drop the part word and its dash: whole words read better
            // than a stump (a first word is cut all the same).
            if word_start != 0 {
                n = word_start - 1;
            }
            break;
        }
        buf[n] = c;
        n += 1;
    }
    // Letters, digits and dashes: ASCII.
    out.push_str(std::str::from_utf8(&buf[..n]).unwrap_or_default());
}

/// The slug of `text` as a whole id may have it.
pub fn slug(text: &str, empty: &str) -> String {
    slug_within(text, empty, ID_MAX)
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
        doc.tasks.iter().map(|t| t.id().to_owned()).collect()
    }

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Add **bold** `code` & more!", "t"),
            "add-bold-code-more"
        );
        assert_eq!(
            slug("Next.js 15プロジェクト", "t"),
            "next-js-15プロジェクト"
        );
        assert_eq!(slug("!!!", "task"), "task");
        let long = slug(&"word ".repeat(40), "t");
        assert!(long.len() <= ID_MAX && long.ends_with("word"), "{long}");
        assert_eq!(slug(&"x".repeat(60), "t").len(), ID_MAX);
        assert!(slug(&"é".repeat(60), "t").len() <= ID_MAX);
    }

    #[test]
    fn ascii_slugs_a_word_at_a_time_match_a_char_at_a_time() {
        let words = [
            "a",
            "Build",
            "x2",
            "",
            "--",
            "Éa",
            "the",
            "verylongwordthatgoesonandon",
        ];
        let mut seed = 7u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 12) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let word = words[(seed >> 33) as usize % words.len()].replace('É', "");
                text.push_str(&word);
                text.push_str([" ", "-", ", ", "`", ""][(seed >> 40) as usize % 5]);
            }
            for max in [0, 1, 2, 5, 16, 20, 48] {
                let (mut fast, mut slow) = (String::new(), String::new());
                slug_ascii_into(&text, max, &mut fast);
                slug_chars_into(&text, max, &mut slow);
                assert_eq!(fast, slow, "{text:?} within {max}");
            }
        }
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
