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

use std::collections::HashMap;

use crate::error::PlanError;
use crate::taskfile::Document;

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

/// Taken ids and, per base, the next twin number to try: twins cost one
/// probe each, however many there are.
struct Taken {
    ids: HashMap<String, usize>,
    next: HashMap<String, usize>,
}

impl Taken {
    fn has(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    fn take(&mut self, id: String, line: usize) {
        self.ids.insert(id, line);
    }

    /// `base` if free, else `base-2`, `base-3`, … (the base cut so the id
    /// stays within `ID_MAX`).
    fn unique(&mut self, base: &str, line: usize) -> String {
        if !self.has(base) {
            self.take(base.to_owned(), line);
            return base.to_owned();
        }
        let n = self.next.entry(base.to_owned()).or_insert(2);
        loop {
            let suffix = format!("-{n}");
            let id = format!(
                "{}{suffix}",
                cut(base, ID_MAX.saturating_sub(suffix.len())).trim_end_matches('-')
            );
            *n += 1;
            if !self.ids.contains_key(&id) {
                self.ids.insert(id.clone(), line);
                return id;
            }
        }
    }
}

pub(super) fn assign(doc: &mut Document) {
    let mut taken = Taken {
        ids: HashMap::new(),
        next: HashMap::new(),
    };
    explicit_ids(doc, &mut taken.ids);
    dialect_ids(doc, &mut taken.ids);

    let title = title_section(doc);
    // Each section's qualifier (its `id` hint, else its title's slug) and the
    // sections a slug may be qualified by, nearest first (never the title
    // nor the file).
    let qualifier: Vec<String> = (doc.sections.iter())
        .map(|s| match &s.hints.id {
            Some(id) => id.value.clone(),
            None => slug_within(&s.title, "section", QUALIFIER_MAX),
        })
        .collect();
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

    let sections: Vec<usize> = (1..doc.sections.len())
        .filter(|&s| doc.sections[s].hints.id.is_none())
        .collect();
    let items: Vec<Item> = (sections.iter())
        .map(|&s| Item {
            own: slug_within(&doc.sections[s].title, "section", ID_MAX),
            chain: &chains[doc.sections[s].parent.unwrap_or(0)],
            line: doc.sections[s].span.line,
        })
        .collect();
    let ids = name(&items, &qualifier, &mut taken);
    for (&s, id) in sections.iter().zip(ids) {
        doc.sections[s].id = id;
    }

    let tasks: Vec<usize> = (0..doc.tasks.len())
        .filter(|&t| match doc.tasks[t].id_source {
            IdSource::Hint => false,
            IdSource::Dialect => doc.tasks[t].id.is_empty(),
            IdSource::Slug => true,
        })
        .collect();
    let items: Vec<Item> = (tasks.iter())
        .map(|&t| Item {
            own: slug_within(&doc.tasks[t].text, "task", ID_MAX),
            chain: &chains[doc.tasks[t].section],
            line: doc.tasks[t].checkbox.line,
        })
        .collect();
    let ids = name(&items, &qualifier, &mut taken);
    for (&t, id) in tasks.iter().zip(ids) {
        doc.tasks[t].id = id;
        doc.tasks[t].id_source = IdSource::Slug;
    }
}

/// `id` hints first: they win every clash, and two of them clash loudly.
fn explicit_ids(doc: &mut Document, taken: &mut HashMap<String, usize>) {
    let mut explicit = Vec::new();
    for (i, s) in doc.sections.iter().enumerate() {
        if let Some(id) = &s.hints.id {
            explicit.push((id.value.clone(), id.span, None, Some(i)));
        }
    }
    for (i, t) in doc.tasks.iter().enumerate() {
        if let Some(id) = &t.hints.id {
            explicit.push((id.value.clone(), id.span, Some(i), None));
        }
    }
    explicit.sort_by_key(|e| e.1.offset);
    for (id, span, task, section) in explicit {
        if let Some(&first_line) = taken.get(&id) {
            doc.error(span, PlanError::DuplicateId { id, first_line });
            continue;
        }
        taken.insert(id.clone(), span.line);
        if let Some(t) = task {
            doc.tasks[t].id = id;
            doc.tasks[t].id_source = IdSource::Hint;
        } else if let Some(s) = section {
            doc.sections[s].id = id;
            doc.sections[s].id_source = IdSource::Hint;
        }
    }
}

/// Dialect ids next; a repeated one falls back to a slug, with a warning.
fn dialect_ids(doc: &mut Document, taken: &mut HashMap<String, usize>) {
    for t in 0..doc.tasks.len() {
        let task = &doc.tasks[t];
        if task.id_source != IdSource::Dialect || task.id.is_empty() {
            continue;
        }
        let id = task.id.clone();
        if let Some(&first_line) = taken.get(&id) {
            let span = task.checkbox;
            doc.tasks[t].id.clear();
            doc.warn(
                span,
                format!("id `{id}` is already used on line {first_line}; this task gets an id from its text"),
            );
        } else {
            taken.insert(id, task.checkbox.line);
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

/// One thing to name: its own slug and the headings that may qualify it.
struct Item<'a> {
    own: String,
    /// Section indices, nearest first.
    chain: &'a [usize],
    line: usize,
}

/// Work on the items that share one candidate id: the levels of their
/// chains put in front so far, and the next level to look at.
struct Group {
    members: Vec<usize>,
    chosen: Vec<usize>,
    level: usize,
}

/// Names `items` (in document order) so no two share an id and none takes
/// one in `taken`: an item whose own slug is unique keeps it; look-alikes
/// get the nearest heading that tells them apart in front (`backend/tests`,
/// `frontend/tests`); items no heading tells apart are twins, numbered in
/// document order (`compile`, `compile-2`).
fn name(items: &[Item], qualifier: &[String], taken: &mut Taken) -> Vec<String> {
    let qual_at =
        |i: usize, level: usize| (items[i].chain.get(level)).map(|&s| qualifier[s].as_str());
    let prefix_len = |i: usize, chosen: &[usize]| -> usize {
        chosen
            .iter()
            .map(|&l| qual_at(i, l).map_or(0, str::len) + 1)
            .sum()
    };
    let mut work: Vec<Group> = Vec::new();
    let mut by_own: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        match by_own.get(item.own.as_str()) {
            Some(&g) => work[g].members.push(i),
            None => {
                by_own.insert(&item.own, work.len());
                work.push(Group {
                    members: vec![i],
                    chosen: Vec::new(),
                    level: 0,
                });
            }
        }
    }
    // (candidate id, whether it is a twin that takes a number)
    let mut proposed: Vec<(String, bool)> = vec![(String::new(), false); items.len()];
    while let Some(Group {
        members,
        chosen,
        level,
    }) = work.pop()
    {
        let compose = |i: usize| compose(&items[i], &chosen, qualifier);
        if let [i] = members[..] {
            let id = compose(i);
            // A clash with an explicit, dialect or section id: the nearest
            // heading left may tell it apart.
            if taken.has(&id)
                && let Some(q) = qual_at(i, level)
                && prefix_len(i, &chosen) + q.len() < PREFIX_MAX
            {
                let mut chosen = chosen;
                chosen.push(level);
                work.push(Group {
                    members,
                    chosen,
                    level: level + 1,
                });
                continue;
            }
            proposed[i] = (id, false);
            continue;
        }
        // The nearest level whose headings differ among the members.
        let deepest = members.iter().map(|&i| items[i].chain.len()).max();
        let split = (level..deepest.unwrap_or(0)).find(|&l| {
            let q0 = qual_at(members[0], l);
            members.iter().any(|&i| qual_at(i, l) != q0)
        });
        let fits = |l: usize| {
            (members.iter())
                .all(|&i| prefix_len(i, &chosen) + qual_at(i, l).map_or(0, str::len) < PREFIX_MAX)
        };
        match split {
            Some(l) if fits(l) => {
                // Parts in order of first member (a map finds each: many
                // look-alikes in many sections stay linear).
                let mut parts: Vec<(Option<&str>, Vec<usize>)> = Vec::new();
                let mut part_of: HashMap<Option<&str>, usize> = HashMap::new();
                for &i in &members {
                    let q = qual_at(i, l);
                    match part_of.get(&q) {
                        Some(&p) => parts[p].1.push(i),
                        None => {
                            part_of.insert(q, parts.len());
                            parts.push((q, vec![i]));
                        }
                    }
                }
                for (q, part) in parts {
                    let mut chosen = chosen.clone();
                    if q.is_some() {
                        chosen.push(l);
                    }
                    work.push(Group {
                        members: part,
                        chosen,
                        level: l + 1,
                    });
                }
            }
            _ => {
                for &i in &members {
                    proposed[i] = (compose(i), true);
                }
            }
        }
    }
    // Unique ids first, in document order, then twins take numbers: a task
    // whose text reads `compile 2` keeps `compile-2`.
    let mut ids = vec![String::new(); items.len()];
    let mut twins = Vec::new();
    for (i, (id, twin)) in proposed.into_iter().enumerate() {
        if twin || taken.has(&id) {
            twins.push((i, id));
        } else {
            taken.take(id.clone(), items[i].line);
            ids[i] = id;
        }
    }
    for (i, base) in twins {
        ids[i] = taken.unique(&base, items[i].line);
    }
    ids
}

/// The chosen headings, outermost first, then the own slug cut to fit.
fn compose(item: &Item, chosen: &[usize], qualifier: &[String]) -> String {
    if chosen.is_empty() {
        return item.own.clone();
    }
    let mut levels = chosen.to_vec();
    levels.sort_unstable_by(|a, b| b.cmp(a));
    let mut id = String::new();
    for l in levels {
        id.push_str(&qualifier[item.chain[l]]);
        id.push('/');
    }
    let room = ID_MAX.saturating_sub(id.len());
    id.push_str(cut_words(&item.own, room));
    id
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
    let mut out = String::new();
    let mut dash = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            dash = true;
            continue;
        }
        if dash && !out.is_empty() {
            if out.len() + 1 >= max {
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
        if out.len() > max {
            out.truncate(before);
            // Drop the part word: whole words read better than a stump.
            if let Some(d) = out.rfind('-') {
                out.truncate(d);
            }
            break;
        }
    }
    if out.is_empty() {
        empty.to_owned()
    } else {
        out
    }
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
        doc.tasks.iter().map(|t| t.id.clone()).collect()
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
