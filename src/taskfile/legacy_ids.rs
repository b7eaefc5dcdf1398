//! The naming rule of earlier versions: the path of heading slugs, then the
//! text slug, each cut at 40 characters, joined by `/` (`-2`, `-3`, … for
//! twins). Journals written then are keyed by these ids, and `after` hints
//! may name them.
//!
//! Takes a document whose ids are assigned (hint and dialect ids are the
//! same under both rules); hands on each task's and section's id under the
//! old rule (or, for the planner, only the tasks' a reference could name).
//! Never changes the document.

use rustc_hash::FxHashMap;

use crate::taskfile::{Document, IdSource, by_last_segments};

const SLUG_PART_MAX: usize = 40;

/// Every task's and section's id under the old rule, by index.
#[derive(Debug)]
pub struct LegacyIds {
    pub tasks: Vec<String>,
    pub sections: Vec<String>,
}

pub fn legacy_ids(doc: &Document) -> LegacyIds {
    let (sections, tasks) = legacy_ids_where(doc, |_| true);
    LegacyIds {
        tasks: tasks.into_iter().map(|(_, id)| id).collect(),
        sections,
    }
}

/// Every section's old id, and the old ids of the tasks whose old id's
/// last segment starts with a character `first` accepts, by index. Exact
/// for those tasks: an id of one (or its twin `-2`) can only clash with
/// an id whose last segment starts the same way, and every such id is
/// made here too. A reference to an old id (rare: the fallback for plans
/// written for earlier versions, and for typos) then slugs the few tasks
/// it could name, not all of them.
pub(crate) fn legacy_ids_where(
    doc: &Document,
    first: impl Fn(char) -> bool,
) -> (Vec<String>, Vec<(usize, String)>) {
    let mut taken: FxHashMap<String, usize> = FxHashMap::default();
    let explicit = |source: IdSource| source != IdSource::Slug;
    for s in doc.sections.iter().skip(1) {
        if explicit(s.id_source) {
            taken.insert(s.id.clone(), 0);
        }
    }
    for (t, id) in doc.tasks.iter().zip(doc.task_ids()) {
        if explicit(t.id_source) {
            taken.insert(id.into_owned(), 0);
        }
    }
    let mut next: FxHashMap<String, usize> = FxHashMap::default();
    let mut unique = |base: String, taken: &mut FxHashMap<String, usize>| {
        if !taken.contains_key(&base) {
            taken.insert(base.clone(), 0);
            return base;
        }
        // Numbers below the stored one were taken then and still are: the
        // same ids the old one-by-one probing gave.
        let n = next.entry(base.clone()).or_insert(2);
        loop {
            let id = format!("{base}-{n}");
            *n += 1;
            if !taken.contains_key(&id) {
                taken.insert(id.clone(), 0);
                return id;
            }
        }
    };
    let mut sections = vec![String::new(); doc.sections.len()];
    let mut path_slugs = vec![String::new(); doc.sections.len()];
    for s in 1..doc.sections.len() {
        let parent = doc.sections[s].parent.unwrap_or(0);
        let own = slug40(&doc.sections[s].title, "section");
        path_slugs[s] = if path_slugs[parent].is_empty() {
            own
        } else {
            format!("{}/{own}", path_slugs[parent])
        };
        sections[s] = if explicit(doc.sections[s].id_source) {
            doc.sections[s].id.clone()
        } else {
            unique(path_slugs[s].clone(), &mut taken)
        };
    }
    let tasks = (doc.tasks.iter().enumerate())
        .filter(|&(i, t)| {
            let starts = if explicit(t.id_source) {
                doc.id(i)
                    .rsplit('/')
                    .next()
                    .and_then(|last| last.chars().next())
            } else {
                slug40_first(doc.text_of(t))
            };
            first(starts.unwrap_or('t'))
        })
        .map(|(i, t)| {
            if explicit(t.id_source) {
                return (i, doc.id(i).into_owned());
            }
            let own = slug40(doc.text_of(t), "task");
            let base = match &path_slugs[t.section()] {
                p if p.is_empty() => own,
                p => format!("{p}/{own}"),
            };
            (i, unique(base, &mut taken))
        })
        .collect();
    (sections, tasks)
}

/// The task a command line names: its id or the last segments of one,
/// else (for scripts written against earlier versions) an old id or the
/// last segments of one. `Err` lists the ids it could be when several end
/// that way.
pub fn find_task(doc: &Document, reference: &str) -> Result<Option<usize>, Vec<String>> {
    if let Some(t) = doc.task_by_id(reference) {
        return Ok(Some(t));
    }
    if let Some(full) = by_last_segments(doc.task_ids(), reference)? {
        return Ok(doc.task_by_id(&full));
    }
    let old = legacy_ids(doc);
    let before = || old.tasks.iter().map(String::as_str);
    if let Some(t) = before().position(|id| id == reference) {
        return Ok(Some(t));
    }
    match by_last_segments(before(), reference) {
        Ok(Some(full)) => Ok(before().position(|id| id == full)),
        Ok(None) => Ok(None),
        // Named by today's ids, which are what `plan` shows.
        Err(candidates) => {
            let mut ids: Vec<String> = (candidates.iter())
                .filter_map(|c| before().position(|id| id == c))
                .map(|t| doc.id(t).into_owned())
                .collect();
            ids.sort();
            Err(ids)
        }
    }
}

/// The first character of `slug40(text, …)`, without making it (None for
/// a text with no letter or digit, whose slug is the fallback word).
fn slug40_first(text: &str) -> Option<char> {
    let c = text.chars().find(|c| c.is_alphanumeric())?;
    if c.is_ascii() {
        Some(c.to_ascii_lowercase())
    } else {
        c.to_lowercase().next()
    }
}

/// The old slug: lowercase words joined by `-`, cut at 40 characters
/// (dashes counted), even in a word.
fn slug40(text: &str, empty: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    let mut count = 0;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
                count += 1;
            }
            dash = false;
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
                count += 1;
            } else {
                for l in c.to_lowercase() {
                    out.push(l);
                    count += 1;
                }
            }
        } else {
            dash = true;
        }
        if count >= SLUG_PART_MAX {
            break;
        }
    }
    if out.is_empty() {
        empty.to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskfile::{ReadOptions, Source};

    #[test]
    fn the_old_rule() {
        let doc = Document::parse(
            Source::new(
                "t.md".into(),
                "# Add search\n## Backend\n- [ ] Index documents on write\n- [ ] fix\n- [ ] fix\n- [ ] kept <!-- id: k -->\n## Backend\n- [ ] fix\n- [ ] A very long task text that goes on past forty characters\n"
                    .into(),
                0,
            ),
            ReadOptions::default(),
        );
        let old = legacy_ids(&doc);
        assert_eq!(
            old.tasks,
            [
                "add-search/backend/index-documents-on-write",
                "add-search/backend/fix",
                "add-search/backend/fix-2",
                "k",
                "add-search/backend/fix-3",
                "add-search/backend/a-very-long-task-text-that-goes-on-past-f",
            ]
        );
        assert_eq!(
            old.sections[1..],
            ["add-search", "add-search/backend", "add-search/backend-2"]
        );
    }
}
