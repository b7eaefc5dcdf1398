//! Plan: a valid `Document` → tasks with waves, dependency edges and the
//! concurrency limits of their groups.
//!
//! Edges come from four places: `after` hints, dialect dependencies ("depends
//! on T005", `_Depends: 1.2_`), in-order groups (`parallel: false`, and the
//! dialects' unmarked tasks) and wave order. Wave order is kept implicit (a
//! wave starts when the previous one is done) so a large file does not grow a
//! quadratic edge list. Never touches processes or the file.

mod cycles;
mod edge;
pub mod files;
mod graph;
mod refs;
mod settings;
mod tracks;
mod waves;

pub use edge::{Edge, EdgeFrom};
use rustc_hash::FxHashMap;
use thin_vec::ThinVec;
pub use tracks::{Track, Tracks, track_key};

pub use settings::Settings;
pub use waves::Wave;

use refs::Aliases;

use crate::error::{Error, PlanError};
use crate::memory::fetching_ahead;
use crate::taskfile::{Document, Parallel, Pipeline, Span, Spanned};

#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOptions {
    /// Run Kiro's optional `[ ]*` tasks instead of skipping them.
    pub include_optional: bool,
    /// `--pipeline`: wins over every `pipeline` hint.
    pub pipeline: Option<Pipeline>,
}

/// What a dependency points at: a task, or every task of a section (the
/// owner of the id it names).
pub use crate::taskfile::IdOwner as Target;

/// One task as planned. A plan holds one per task, so it is kept small
/// (the unit test `planned_task_stays_small` holds the budget): four u32s
/// into the plan's tables. What most tasks lack (edges, claimed files) sits
/// in a table of its own; the groups and settings, the same for most tasks
/// of a section, are shared.
#[derive(Debug, Clone, Default)]
pub struct PlannedTask {
    /// Its wave (`wave()`).
    wave: u32,
    /// Its limited groups: `Plan::groups_of`.
    group_list: u32,
    /// Its edges and files: `Plan::rare`, 0 (empty) for most tasks.
    rare: u32,
    /// Its settings: `Plan::settings`. Shared by the tasks that inherit
    /// the same hints: a plan of 100,000 tasks under one `gate` holds that
    /// gate once.
    settings: u32,
}

/// What a few tasks have and most lack, one entry per task that has any.
#[derive(Debug, Clone, Default)]
struct Rare {
    /// What the task waits for directly (its own hints, dialect
    /// dependencies, in-order predecessors and its track's module in the
    /// wave before) and where each came from, sorted by target, without
    /// duplicates.
    after: ThinVec<Edge>,
    /// The files it claims (an index of `Plan::file_sets`): tasks whose
    /// claims overlap never run at once.
    files: u32,
}

impl PlannedTask {
    /// Its wave: 0 for the first.
    pub fn wave(&self) -> usize {
        self.wave as usize
    }
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupOwner {
    File,
    Section(usize),
    Task(usize),
}

/// A section, parent task or the file whose `parallel` hint limits how many
/// of its tasks run at once.
#[derive(Debug, Clone)]
pub struct Group {
    pub owner: GroupOwner,
    pub limit: usize,
    /// `parallel: false`: one at a time, in document order.
    pub in_order: bool,
}

#[derive(Debug)]
pub struct Plan {
    pub doc: Document,
    pub tasks: Vec<PlannedTask>,
    /// Each section's `after` hints, resolved.
    pub section_after: Vec<Vec<Target>>,
    pub waves: Vec<Wave>,
    pub groups: Vec<Group>,
    /// The distinct lists of limited groups tasks count against, shared:
    /// `PlannedTask::group_list` points here. The first is empty.
    group_lists: settings::GroupLists,
    /// `PlannedTask::rare` points here. The first is empty.
    rare: Vec<Rare>,
    /// The distinct claims: `Rare::files` points here. The first is empty.
    file_sets: Vec<files::Files>,
    /// The distinct settings: `PlannedTask::settings` points here. The
    /// first are the defaults.
    settings: Vec<Settings>,
    pub options: PlanOptions,
    /// Tracks, and which tasks wait for whole waves.
    pub tracks: Tracks,
}

impl Plan {
    pub fn build(doc: Document, options: PlanOptions) -> Result<Plan, Error> {
        let mut doc = doc;
        // Filled in place: a list per field beside them was 8 MB more at
        // the peak of a 1,000,000-task plan.
        let mut tasks = vec![PlannedTask::default(); doc.tasks.len()];
        let waves = waves::waves(&doc, &mut tasks);
        let settings = settings::task_settings(&doc, &mut tasks);
        let mut planner = Planner {
            tasks,
            // Room for every task, given back at the end: pages never
            // touched cost nothing, and a list grown by doubling copies
            // itself, both copies resident (9 MB of a million tasks' peak).
            rare: {
                let mut rare = Vec::with_capacity(doc.tasks.len() + 1);
                rare.push(Rare::default());
                rare
            },
            file_sets: files::FileSets::default(),
            by_last: FxHashMap::default(),
            legacy: None,
            legacy_firsts: Default::default(),
            after_spans: FxHashMap::default(),
            section_after: vec![Vec::new(); doc.sections.len()],
            errors: Vec::new(),
            warnings: Vec::new(),
            groups: Vec::new(),
            group_lists: settings::GroupLists::default(),
        };
        let whole = planner.index_short_references(&doc);
        planner.hint_edges(&doc, whole);
        planner.dialect_edges(&doc);
        planner.order_edges(&doc, &waves);
        let built = tracks::build(&doc, &waves, options.pipeline);
        planner.track_edges(&doc, &built.tracks);
        planner.errors.extend(built.errors);
        planner.warnings.extend(built.warnings);
        planner.groups_and_files(&doc);
        for r in &mut planner.rare {
            edge::sort_edges(&mut r.after);
        }
        // The spare room would outlive the planning.
        planner.rare.shrink_to_fit();
        // Under `order: graph` headings order nothing, so a dependency may
        // point at a later section.
        if !built.tracks.graph {
            planner.check_waves(&doc);
        }
        if planner.errors.is_empty() {
            planner.check_cycles(&doc);
        }
        for (span, e) in planner.errors {
            doc.error(span, e);
        }
        for (span, w) in planner.warnings {
            doc.warn(span, w);
        }
        let doc = doc.into_valid()?;
        let section_after = planner
            .section_after
            .iter()
            .map(|deps| deps.iter().map(|&(t, _)| t).collect())
            .collect();
        Ok(Plan {
            doc,
            tasks: planner.tasks,
            section_after,
            waves,
            groups: planner.groups,
            group_lists: planner.group_lists,
            rare: planner.rare,
            file_sets: planner.file_sets.into_list(),
            settings,
            options,
            tracks: built.tracks,
        })
    }

    /// An optional task left out of this run.
    pub fn skipped(&self, t: usize) -> bool {
        self.doc.tasks[t].optional && !self.options.include_optional
    }

    pub fn is_leaf(&self, t: usize) -> bool {
        !self.doc.has_children(t)
    }

    /// A task counts as done when it, or a task it sits inside, is ticked.
    pub fn is_done(&self, t: usize) -> bool {
        let mut cur = Some(t);
        while let Some(i) = cur {
            if self.doc.tasks[i].checked {
                return true;
            }
            cur = self.doc.tasks[i].parent();
        }
        false
    }

    pub fn target_id(&self, target: Target) -> std::borrow::Cow<'_, str> {
        self.doc.id_of(target)
    }

    /// Every dependency a task must wait for: its own, its parent tasks' and
    /// its sections'. A parent's `after` holds for each of its children.
    pub fn effective_after(&self, t: usize) -> Vec<Target> {
        let mut out = Vec::new();
        let mut cur = Some(t);
        while let Some(i) = cur {
            out.extend(self.after(i).iter().map(|e| e.target()));
            cur = self.doc.tasks[i].parent();
        }
        let mut s = Some(self.doc.tasks[t].section());
        while let Some(i) = s {
            out.extend(self.section_after(i));
            s = self.doc.sections[i].parent;
        }
        out.sort();
        out.dedup();
        out
    }

    /// The limited groups task `t` counts against (only tasks that run
    /// count against any), nearest first.
    pub fn groups_of(&self, t: usize) -> &[usize] {
        self.group_lists.get(self.tasks[t].group_list)
    }

    /// What task `t` waits for directly and where each came from, sorted by
    /// target (see `Rare::after`).
    pub fn after(&self, t: usize) -> &[Edge] {
        &self.rare[self.tasks[t].rare as usize].after
    }

    /// The settings task `t` runs with.
    pub fn settings(&self, t: usize) -> &Settings {
        &self.settings[self.tasks[t].settings as usize]
    }

    /// The settings tasks point at, each once (and sections' own): a change
    /// to one holds for every task that shares it.
    pub fn settings_mut(&mut self) -> &mut [Settings] {
        &mut self.settings
    }

    /// The files task `t` claims.
    pub fn files(&self, t: usize) -> &files::Files {
        &self.file_sets[self.rare[self.tasks[t].rare as usize].files as usize]
    }

    fn section_after(&self, s: usize) -> impl Iterator<Item = Target> + '_ {
        self.section_after[s].iter().copied()
    }

    /// Tasks that run: leaves, not skipped.
    pub fn runnable(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.tasks.len()).filter(|&t| self.is_leaf(t) && !self.skipped(t))
    }
}

struct Planner {
    tasks: Vec<PlannedTask>,
    /// `Plan::rare`.
    rare: Vec<Rare>,
    /// `Plan::file_sets`.
    file_sets: files::FileSets,
    /// Ids by their last `/` segment, for short references: only the
    /// segments some reference that is no full id ends with.
    by_last: FxHashMap<Box<str>, Vec<Target>>,
    /// Ids under the earlier naming rule, read only when a reference is
    /// not a current id.
    legacy: Option<Aliases>,
    /// The first characters of the references that are no current id.
    legacy_firsts: rustc_hash::FxHashSet<char>,
    /// Where each task's dependency was written, to point at it in errors.
    /// Where each task's written dependency is, by task and target as
    /// `u32`s (an entry of 24 bytes, not 40: hinted plans hold many).
    after_spans: FxHashMap<(u32, u32), Span>,
    /// Each section's resolved `after` targets, with where they were written.
    section_after: Vec<Vec<(Target, Span)>>,
    errors: Vec<(Span, PlanError)>,
    warnings: Vec<(Span, String)>,
    groups: Vec<Group>,
    /// `Plan::group_lists`.
    group_lists: settings::GroupLists,
}

impl Planner {
    fn edge(&mut self, t: usize, target: Target, from: EdgeFrom) {
        self.rare_mut(t).after.push(Edge::new(target, from));
    }

    /// Task `t`'s entry in `rare`, made on first use.
    fn rare_mut(&mut self, t: usize) -> &mut Rare {
        if self.tasks[t].rare == 0 {
            self.tasks[t].rare = u32::try_from(self.rare.len()).expect("fewer than 2^32 tasks");
            self.rare.push(Rare::default());
        }
        &mut self.rare[self.tasks[t].rare as usize]
    }

    fn after(&self, t: usize) -> &[Edge] {
        &self.rare[self.tasks[t].rare as usize].after
    }

    /// A pipelined module's top-level tasks wait for the same track's
    /// modules in the wave before (their subtasks inherit it).
    fn track_edges(&mut self, doc: &Document, tracks: &Tracks) {
        for (m, follows) in tracks.follows.iter().enumerate() {
            // Most sections follow nothing: their tasks are not visited.
            if follows.is_empty() {
                continue;
            }
            for t in doc.section_tasks(m) {
                if doc.tasks[t].parent().is_none() {
                    for &p in follows {
                        self.edge(t, Target::Section(p), EdgeFrom::TRACK);
                    }
                }
            }
        }
    }

    /// Edges from `after` hints; `whole`, what each reference names as a
    /// whole id, in `refs::after_refs`' order (`index_short_references`).
    fn hint_edges(&mut self, doc: &Document, whole: Vec<Option<Target>>) {
        let mut whole = whole.into_iter();
        let hinted = fetching_ahead(doc.hinted_tasks(), |&t| doc.tasks[t].hints.prefetch());
        for (_, &i) in hinted {
            let t = &doc.tasks[i];
            for dep in &t.hints.after {
                let found = whole.next().flatten();
                if let Some(target) = self.lookup(doc, Target::Task(i), dep, found) {
                    self.edge(i, target, EdgeFrom::HINT);
                    self.after_spans
                        .entry(span_key(i, target))
                        .or_insert(dep.span);
                }
            }
        }
        for (i, s) in doc.sections.iter().enumerate() {
            if s.level == 0 && !s.hints.after.is_empty() {
                self.errors.push((
                    s.hints.after[0].span,
                    PlanError::HintNotHere {
                        key: "after".into(),
                        place: "before the first heading; put it on a section or a task",
                    },
                ));
                continue;
            }
            for dep in &s.hints.after {
                let found = whole.next().flatten();
                if let Some(target) = self.lookup(doc, Target::Section(i), dep, found) {
                    self.section_after[i].push((target, dep.span));
                }
            }
        }
    }

    fn dialect_edges(&mut self, doc: &Document) {
        for (i, depends) in doc.tasks_with_depends() {
            for dep in depends {
                match doc.id_owner(&dep.value) {
                    Some(target) => {
                        self.edge(i, target, EdgeFrom::DIALECT);
                        self.after_spans
                            .entry(span_key(i, target))
                            .or_insert(dep.span);
                    }
                    None => self.warnings.push((
                        dep.span,
                        format!(
                            "task `{}` says it depends on `{}`, which no task is; ignored",
                            doc.id(i),
                            dep.value
                        ),
                    )),
                }
            }
        }
    }

    /// In-order groups: `parallel: false` sections and parents, and under the
    /// spec-kit and Kiro dialects every wave and parent without an explicit
    /// `parallel` hint (there `[P]`/`(P)` tasks next to each other may overlap).
    fn order_edges(&mut self, doc: &Document, waves: &[Wave]) {
        let explicit_above = |mut s: usize| loop {
            if doc.sections[s].hints.parallel.is_some() {
                return true;
            }
            match doc.sections[s].parent {
                Some(p) => s = p,
                None => return false,
            }
        };
        for (s, section) in doc.sections.iter().enumerate() {
            if matches!(
                section.hints.parallel.as_deref(),
                Some(Spanned {
                    value: Parallel::Sequential,
                    ..
                })
            ) {
                let units: Vec<usize> = doc
                    .section_tasks(s)
                    .filter(|&t| doc.tasks[t].parent().is_none())
                    .collect();
                self.chain(doc, &units, false);
            }
        }
        // Without the dialects' order only `parallel: false` chains
        // subtasks, and only tasks with hints have one.
        let parents: Box<dyn Iterator<Item = usize>> = if doc.dialect.in_order() {
            Box::new(0..doc.tasks.len())
        } else {
            Box::new(doc.hinted_tasks().iter().copied())
        };
        for p in parents {
            let task = &doc.tasks[p];
            if !doc.has_children(p) {
                continue;
            }
            let children = || doc.children(p).collect::<Vec<_>>();
            match task.hints.parallel.as_ref().map(|p| p.value) {
                Some(Parallel::Sequential) => self.chain(doc, &children(), false),
                None if doc.dialect.in_order() && !explicit_above(task.section()) => {
                    self.chain(doc, &children(), true)
                }
                _ => {}
            }
        }
        if doc.dialect.in_order() {
            for wave in waves {
                if explicit_above(wave.section) {
                    continue;
                }
                let units: Vec<usize> = (wave.tasks())
                    .filter(|&t| doc.tasks[t].parent().is_none())
                    .collect();
                self.chain(doc, &units, true);
            }
        }
    }

    /// Each unit waits for the step before it; with `marks`, adjacent
    /// parallel-marked units form one step.
    fn chain(&mut self, doc: &Document, units: &[usize], marks: bool) {
        let mut prev: Vec<usize> = Vec::new();
        let mut cur: Vec<usize> = Vec::new();
        let mut cur_parallel = false;
        for &u in units {
            let p = marks && doc.tasks[u].parallel_mark;
            if !(cur.is_empty() || p && cur_parallel) {
                prev = std::mem::take(&mut cur);
            }
            for &q in &prev {
                self.edge(u, Target::Task(q), EdgeFrom::IN_ORDER);
            }
            cur.push(u);
            cur_parallel = p;
        }
    }

    /// Dependencies may only point at the same or earlier waves.
    fn check_waves(&mut self, doc: &Document) {
        // A section's own tasks share its wave (`waves`); subsections go
        // into their parents (sections follow their parents in index order).
        let mut section_max_wave = vec![None::<usize>; doc.sections.len()];
        for (s, max) in section_max_wave.iter_mut().enumerate() {
            let own = doc.section_own_tasks(s);
            if !own.is_empty() {
                *max = Some(self.tasks[own.start].wave());
            }
        }
        for s in (1..doc.sections.len()).rev() {
            if let (Some(w), Some(p)) = (section_max_wave[s], doc.sections[s].parent) {
                let up = section_max_wave[p].get_or_insert(0);
                *up = (*up).max(w);
            }
        }
        let tasks = &self.tasks;
        // (A target's id is made only for an error.)
        let wave_of = |target: Target| match target {
            Target::Task(d) => Some(tasks[d].wave()),
            Target::Section(s) => section_max_wave[s],
        };
        let later = |t: usize, dep_id: &str, w: usize| PlanError::DependsOnLaterWave {
            task: doc.id(t).into_owned(),
            task_wave: tasks[t].wave() + 1,
            dependency: dep_id.to_owned(),
            dependency_wave: w + 1,
        };
        let mut errors = Vec::new();
        for (t, planned) in tasks.iter().enumerate() {
            for target in self.after(t).iter().map(|e| e.target()) {
                if let Some(w) = wave_of(target)
                    && w > planned.wave()
                {
                    let span = (self.after_spans.get(&span_key(t, target)).copied())
                        .unwrap_or(doc.checkbox(&doc.tasks[t]));
                    errors.push((span, later(t, &doc.id_of(target), w)));
                }
            }
        }
        // A section's `after` holds for every task in it: the first task
        // that would wait for a later wave is named.
        for (s, deps) in self.section_after.iter().enumerate() {
            for &(target, span) in deps {
                let Some(w) = wave_of(target) else {
                    continue;
                };
                if let Some(t) = doc.section_tasks(s).find(|&t| tasks[t].wave() < w) {
                    errors.push((span, later(t, &doc.id_of(target), w)));
                }
            }
        }
        self.errors.extend(errors);
    }
}

/// `Planner::after_spans`' key for task `t`'s dependency on `target`.
fn span_key(t: usize, target: Target) -> (u32, u32) {
    (t as u32, target.code())
}

type HashMap<K, V> = FxHashMap<K, V>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskfile::{ReadOptions, Source};

    fn plan(text: &str) -> Plan {
        let doc = Document::parse(
            Source::new("t.md".into(), text.into(), 0),
            ReadOptions::default(),
        );
        Plan::build(doc, PlanOptions::default()).unwrap()
    }

    /// A plan holds one `PlannedTask` per task: at 100,000 tasks each byte
    /// here is 100 KB for as long as the plan lives (it was 144 bytes, then
    /// 48, then 32, then 24 with edges and claimed files, which most tasks
    /// lack, in `Plan::rare`; 16 since its settings are an index too).
    #[test]
    fn planned_task_stays_small() {
        assert!(
            std::mem::size_of::<PlannedTask>() <= 16,
            "PlannedTask grew to {} bytes",
            std::mem::size_of::<PlannedTask>()
        );
    }

    #[test]
    fn groups_add_up_nearest_first_and_leaves_share_them() {
        let plan = plan(
            "<!-- parallel: 4 -->\n# Release\n## Build <!-- parallel: 3 -->\n\
             - [ ] compile\n\
             - [ ] package <!-- parallel: 2 -->\n  - [ ] deb\n  - [ ] rpm\n\
             - [ ] images\n  - [ ] arm <!-- parallel: 1 -->\n    - [ ] v7\n\
             \x20   - [ ] v8\n  - [ ] x86\n\
             ## Test\n- [ ] smoke\n",
        );
        let limits = |id: &str| -> Vec<usize> {
            let t = plan.doc.task_by_id(id).unwrap();
            (plan.groups_of(t).iter())
                .map(|&g| plan.groups[g].limit)
                .collect()
        };
        assert_eq!(limits("compile"), [3, 4]);
        assert_eq!(limits("deb"), [2, 3, 4]);
        assert_eq!(limits("rpm"), [2, 3, 4]);
        // A parent does not run: it counts against nothing itself.
        assert_eq!(limits("package"), [] as [usize; 0]);
        assert_eq!(limits("smoke"), [4]);
        // A limit two tasks up, under a parent without one.
        assert_eq!(limits("v7"), [1, 3, 4]);
        assert_eq!(limits("v8"), [1, 3, 4]);
        assert_eq!(limits("x86"), [3, 4]);
        // One list per distinct set: the empty one, the file's, Build's,
        // the one the package's subtasks share and the arm builds'.
        assert_eq!(plan.group_lists.len(), 5);
    }

    #[test]
    fn tasks_that_set_the_same_settings_share_them() {
        let plan = plan(
            "# A <!-- retries: 2 -->\n\
             - [ ] one <!-- timeout: 5m -->\n\
             - [ ] two <!-- timeout: 5m -->\n\
             - [ ] three <!-- timeout: 6m -->\n\
             - [ ] four\n\
             # B\n- [ ] five <!-- timeout: 5m -->\n",
        );
        let s = |t: usize| plan.settings(t);
        let shared = |a: usize, b: usize| plan.tasks[a].settings == plan.tasks[b].settings;
        assert_eq!(s(0).timeout, Some(std::time::Duration::from_secs(300)));
        assert_eq!(
            (s(0).retries, s(2).retries, s(4).retries),
            (Some(2), Some(2), None)
        );
        assert!(shared(0, 1));
        assert!(!shared(0, 2));
        // The same hint under other settings makes other settings.
        assert!(!shared(0, 4));
        assert_eq!(s(3).timeout, None);
    }

    #[test]
    fn edges_merge_the_places_they_come_from() {
        let plan = plan(
            "# A\n<!-- parallel: false -->\n- [ ] one\n- [ ] two <!-- after: one -->\n- [ ] three\n",
        );
        let two = plan.after(1);
        assert_eq!(two.len(), 1);
        assert_eq!(two[0].target(), Target::Task(0));
        assert_eq!(
            two[0].from.names().collect::<Vec<_>>(),
            ["hint", "in-order"]
        );
        assert!(plan.after(0).is_empty());
        assert_eq!(plan.tasks[0].rare, 0, "no entry of its own when empty");
    }
}
