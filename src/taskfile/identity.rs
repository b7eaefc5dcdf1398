//! Stable ids for sections and tasks: the `id` hint, else the dialect's id,
//! else a slug of the section path and text (with an ordinal for twins).
//!
//! An id depends only on the task's own line and its headings, so edits
//! elsewhere in the file never change it; that is what lets a tick find its
//! task again after a person has edited the file.

use rustc_hash::FxHashMap as HashMap;

use crate::error::PlanError;
use crate::taskfile::Document;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdSource {
    /// An `<!-- id: … -->` hint.
    Hint,
    /// The dialect's own numbering (`T001`, `2.1`).
    Dialect,
    /// Derived from the section path and text.
    Slug,
}

const SLUG_PART_MAX: usize = 40;

pub(super) fn assign(doc: &mut Document) {
    // Explicit ids first: they win every clash, and two of them clash loudly.
    let mut taken: HashMap<String, usize> = HashMap::default();
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
            doc.tasks[t].id_source = super::IdSource::Hint;
        } else if let Some(s) = section {
            doc.sections[s].id = id;
            doc.sections[s].id_source = super::IdSource::Hint;
        }
    }
    // Dialect ids next; a repeated one falls back to a slug, with a warning.
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
    // Slugs, in document order, avoiding every id above.
    let mut path_slugs = vec![String::new(); doc.sections.len()];
    for s in 1..doc.sections.len() {
        let parent = doc.sections[s].parent.unwrap_or(0);
        let own = slug(&doc.sections[s].title, "section");
        path_slugs[s] = if path_slugs[parent].is_empty() {
            own
        } else {
            format!("{}/{own}", path_slugs[parent])
        };
        if doc.sections[s].id_source != IdSource::Hint {
            let id = unique(&path_slugs[s], &mut taken, doc.sections[s].span.line);
            doc.sections[s].id = id;
        }
    }
    for t in 0..doc.tasks.len() {
        let task = &doc.tasks[t];
        let needs_slug = match task.id_source {
            IdSource::Hint => false,
            IdSource::Dialect => task.id.is_empty(),
            IdSource::Slug => true,
        };
        if !needs_slug {
            continue;
        }
        let own = slug(&task.text, "task");
        let base = match &path_slugs[task.section] {
            p if p.is_empty() => own,
            p => format!("{p}/{own}"),
        };
        let id = unique(&base, &mut taken, task.checkbox.line);
        doc.tasks[t].id = id;
        doc.tasks[t].id_source = IdSource::Slug;
    }
}

fn unique(base: &str, taken: &mut HashMap<String, usize>, line: usize) -> String {
    let mut id = base.to_owned();
    let mut n = 2;
    while taken.contains_key(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(id.clone(), line);
    id
}

/// Lowercase words joined by `-`: letters and digits of any script are kept.
pub fn slug(text: &str, empty: &str) -> String {
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
    use super::slug;

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
        assert!(slug(&"word ".repeat(40), "t").chars().count() <= 41);
    }
}
