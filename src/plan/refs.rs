//! References between tasks: an `after` id (or its last segments, or an
//! id of an earlier version's scheme) → the task or section it names, for
//! the planner. Never builds edges itself and never touches the file.

use rustc_hash::FxHashSet;

use super::{HashMap, Planner, Target};
use crate::error::{PlanError, suggest};
use crate::memory::fetching_ahead;
use crate::taskfile::{Document, Spanned};

impl Planner {
    /// Indexes the ids whose last segments `after` references may be, and
    /// hands on what each reference names as a whole id (most do), in
    /// [`after_refs`]' order, for [`Planner::lookup`] to take.
    pub(super) fn index_short_references(&mut self, doc: &Document) -> Vec<Option<Target>> {
        // Once each: a look in the table of every id and the id made again
        // to compare, each a wait on memory at a million tasks.
        // The others' last segments are wanted.
        let mut wanted: FxHashSet<&str> = FxHashSet::default();
        let whole: Vec<Option<Target>> = after_refs(doc)
            .map(|dep| {
                let found = doc.id_owner(&dep.value);
                if found.is_none() {
                    wanted.insert(dep.value.rsplit('/').next().unwrap_or(""));
                }
                found
            })
            .collect();
        // What an old id would have to start its last segment with, should
        // one be looked for.
        self.legacy_firsts = wanted.iter().filter_map(|l| l.chars().next()).collect();
        if wanted.is_empty() {
            return whole;
        }
        // The lengths of the wanted segments, to skip most ids unhashed.
        let lengths = wanted.iter().fold(0u64, |m, l| m | 1 << l.len().min(63));
        for (id, owner) in doc.all_ids() {
            if let Some((_, last)) = id.rsplit_once('/')
                && lengths & 1 << last.len().min(63) != 0
                && wanted.contains(last)
            {
                self.by_last.entry(last.into()).or_default().push(owner);
            }
        }
        whole
    }

    /// The task or section `who` names `dep`, given `whole`: what
    /// `index_short_references` found for it as a whole id. Only an error
    /// names `who` (a task's slug id is made only then).
    pub(super) fn lookup(
        &mut self,
        doc: &Document,
        who: Target,
        dep: &Spanned<String>,
        whole: Option<Target>,
    ) -> Option<Target> {
        if whole.is_some() {
            return whole;
        }
        let last = dep.value.rsplit('/').next().unwrap_or("");
        let candidates = self.by_last.get(last).map(Vec::as_slice).unwrap_or(&[]);
        let ids = candidates.iter().map(|&c| doc.id_of(c));
        match crate::taskfile::by_last_segments(ids, &dep.value) {
            Ok(Some(full)) => return doc.id_owner(&full),
            Ok(None) => {}
            Err(candidates) => {
                self.ambiguous(doc, who, dep, candidates);
                return None;
            }
        }
        // An id as earlier versions named it (the whole heading path), or
        // its last segments: plans written then keep working.
        let firsts = &self.legacy_firsts;
        let legacy = (self.legacy).get_or_insert_with(|| Aliases::legacy(doc, firsts));
        if let Some(&t) = legacy.ids.get(&dep.value) {
            return Some(t);
        }
        match resolve_last(&legacy.ids, &legacy.by_last, &dep.value) {
            Ok(Some(t)) => return Some(t),
            Ok(None) => {}
            Err(candidates) => {
                self.ambiguous(doc, who, dep, candidates);
                return None;
            }
        }
        let suggestion = suggest(&dep.value, doc.all_ids().map(|(id, _)| id))
            .or_else(|| doc.id_starting_with(&dep.value));
        self.errors.push((
            dep.span,
            PlanError::UnknownDependency {
                who: name(doc, who),
                id: dep.value.clone(),
                suggestion,
            },
        ));
        None
    }

    pub(super) fn ambiguous(
        &mut self,
        doc: &Document,
        who: Target,
        dep: &Spanned<String>,
        candidates: Vec<String>,
    ) {
        self.errors.push((
            dep.span,
            PlanError::AmbiguousDependency {
                who: name(doc, who),
                id: dep.value.clone(),
                candidates,
            },
        ));
    }
}

/// How an error names the task or section that wrote a dependency.
fn name(doc: &Document, who: Target) -> String {
    let id = doc.id_of(who);
    match who {
        _ if id.is_empty() => "the file".into(),
        Target::Task(_) => format!("task `{id}`"),
        Target::Section(_) => format!("section `{id}`"),
    }
}

/// Earlier versions' ids of every section and of the tasks a reference
/// could name (read only when a reference is no current id): those whose
/// old id's last segment starts as some reference's does.
pub(super) struct Aliases {
    ids: HashMap<String, Target>,
    by_last: HashMap<String, Vec<String>>,
}

impl Aliases {
    fn legacy(doc: &Document, firsts: &FxHashSet<char>) -> Aliases {
        let (sections, tasks) = crate::taskfile::legacy_ids_where(doc, |c| firsts.contains(&c));
        let mut ids = HashMap::default();
        for (s, id) in sections.into_iter().enumerate().skip(1) {
            ids.insert(id, Target::Section(s));
        }
        for (t, id) in tasks {
            ids.insert(id, Target::Task(t));
        }
        let by_last = by_last(&ids);
        Aliases { ids, by_last }
    }
}

/// Ids by their last `/` segment.
fn by_last(ids: &HashMap<String, Target>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::default();
    for id in ids.keys() {
        if let Some((_, last)) = id.rsplit_once('/') {
            out.entry(last.to_owned()).or_default().push(id.clone());
        }
    }
    out
}

/// Every `after` reference that may name something: the hinted tasks', in
/// order, then the sections' (not those before the first heading: an
/// error). (A few tasks ahead, a task's hints are asked for: each is a box
/// somewhere in the heap.)
pub(super) fn after_refs(doc: &Document) -> impl Iterator<Item = &Spanned<String>> {
    let hinted = fetching_ahead(doc.hinted_tasks(), |&t| doc.tasks[t].hints.prefetch());
    hinted
        .map(|(_, &t)| &doc.tasks[t].hints.after)
        .chain((doc.sections.iter().filter(|s| s.level != 0)).map(|s| &s.hints.after))
        .flatten()
}

/// The one id of `ids` that ends with `/reference`; `Err` lists them when
/// several do.
fn resolve_last(
    ids: &HashMap<String, Target>,
    by_last: &HashMap<String, Vec<String>>,
    reference: &str,
) -> Result<Option<Target>, Vec<String>> {
    let last = reference.rsplit('/').next().unwrap_or("");
    let candidates = by_last.get(last).map(Vec::as_slice).unwrap_or(&[]);
    let found =
        crate::taskfile::by_last_segments(candidates.iter().map(String::as_str), reference)?;
    Ok(found.and_then(|full| ids.get(&full).copied()))
}

#[cfg(test)]
mod tests {
    use crate::plan::{Plan, PlanOptions, Target};
    use crate::taskfile::{Document, ReadOptions, Source, legacy_ids};

    const PLAN: &str = "# Add search\n## Backend\n- [ ] Index documents on write\n- [ ] fix\n- [ ] fix\n- [ ] fix 2\n- [ ] Fix it\n- [ ] kept <!-- id: k -->\n## Backend\n- [ ] fix\n- [ ] Other work\n";

    fn parse(text: &str) -> Document {
        Document::parse(
            Source::new("t.md".into(), text.into(), 0),
            ReadOptions::default(),
        )
    }

    /// What the last task of `PLAN` plus a task after `reference` waits for.
    fn after(reference: &str) -> Result<Vec<Target>, crate::error::Error> {
        let text = format!("{PLAN}- [ ] last <!-- after: {reference} -->\n");
        let plan = Plan::build(parse(&text), PlanOptions::default())?;
        let last = plan.tasks.len() - 1;
        Ok(plan.after(last).iter().map(|e| e.target()).collect())
    }

    #[test]
    fn old_ids_name_the_tasks_they_named() {
        // Only the tasks an old id could name are given one (those starting
        // with `f` here, beside twins and `fix 2`): the ids stay the ones
        // every task got under the old rule.
        let old = legacy_ids(&parse(PLAN)).tasks;
        assert!(
            old.contains(&"add-search/backend/fix-2-2".to_owned()),
            "{old:?}"
        );
        for (t, id) in old.iter().enumerate().filter(|(_, id)| id.contains('/')) {
            assert_eq!(after(id).unwrap(), [Target::Task(t)], "{id}");
            // Its last segments, as people type them.
            let short = id.strip_prefix("add-search/").unwrap();
            assert_eq!(after(short).unwrap(), [Target::Task(t)], "{short}");
        }
        assert!(after("add-search/backend/fxi").is_err());
    }
}
