//! Plan: a valid `Document` → tasks with waves, dependency edges and the
//! concurrency limits of their groups.
//!
//! Edges come from four places: `after` hints, dialect dependencies ("depends
//! on T005", `_Depends: 1.2_`), in-order groups (`parallel: false`, and the
//! dialects' unmarked tasks) and wave order. Wave order is kept implicit (a
//! wave starts when the previous one is done) so a large file does not grow a
//! quadratic edge list. Never touches processes or the file.

mod edge;
pub mod files;
mod graph;
mod refs;
mod tracks;
mod waves;

use std::sync::Arc;
use std::time::Duration;

pub use edge::EdgeFrom;
use rustc_hash::FxHashMap;
pub use tracks::{Track, Tracks, track_key};

pub use waves::Wave;

use refs::Aliases;

use crate::error::{Error, PlanError};
use crate::taskfile::{Checkpoint, Document, Gate, Hints, Parallel, Pipeline, Span, Spanned};

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

/// Settings that cascade from the file to sections, parent tasks and tasks.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub agent: Option<String>,
    /// Later attempts' agent and timeout (`escalate` hints of the nearest
    /// scope that has any), by the attempt they start from.
    pub escalate: Vec<crate::taskfile::Escalation>,
    /// Written as a `gate` hint or a ```` ```gate ```` block; run with `sh -c`.
    pub gate: Option<Gate>,
    /// ```` ```checkpoint ```` blocks of the nearest scope that has any.
    pub checkpoints: Vec<Checkpoint>,
    /// The `judge` hint: an agent that judges the work after the gate.
    pub judge: Option<String>,
    pub retries: Option<u32>,
    pub timeout: Option<Duration>,
    /// `isolate: worktree` (true) or `none` (false); unset follows the run.
    pub isolate: Option<bool>,
}

impl Settings {
    /// The agent and timeout of attempt `n` (1 for the first): its own,
    /// replaced by each escalation that has begun by then.
    pub fn for_attempt(&self, n: u32) -> (Option<&str>, Option<Duration>) {
        let mut agent = self.agent.as_deref();
        let mut timeout = self.timeout;
        for e in self.escalate.iter().filter(|e| e.from <= n) {
            agent = e.agent.as_deref().or(agent);
            timeout = e.timeout.or(timeout);
        }
        (agent, timeout)
    }
}

#[derive(Debug, Clone)]
pub struct PlannedTask {
    pub wave: usize,
    /// What this task waits for directly (its own hints, dialect
    /// dependencies, in-order predecessors and its track's module in the
    /// wave before), sorted, without duplicates.
    pub after: Vec<Target>,
    /// Where each edge of `after` came from.
    pub after_from: Vec<EdgeFrom>,
    /// Limited groups this task counts against (only for tasks that run).
    pub groups: Vec<usize>,
    /// An optional task left out of this run.
    pub skipped: bool,
    /// Shared by the tasks that inherit the same hints: a plan of 100,000
    /// tasks under one `gate` holds that gate once.
    pub settings: Arc<Settings>,
    /// The files it claims: tasks whose claims overlap never run at once.
    pub files: files::Files,
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
    pub options: PlanOptions,
    /// Tracks, and which tasks wait for whole waves.
    pub tracks: Tracks,
}

impl Plan {
    pub fn build(doc: Document, options: PlanOptions) -> Result<Plan, Error> {
        let mut doc = doc;
        let (waves, task_wave) = waves::waves(&doc);
        // One placeholder for all, until `groups_and_settings` sets each.
        let unset = Arc::new(Settings::default());
        let mut planner = Planner {
            tasks: task_wave
                .iter()
                .enumerate()
                .map(|(i, &wave)| PlannedTask {
                    wave,
                    after: Vec::new(),
                    after_from: Vec::new(),
                    groups: Vec::new(),
                    skipped: doc.tasks[i].optional && !options.include_optional,
                    settings: Arc::clone(&unset),
                    files: files::Files::default(),
                })
                .collect(),
            by_last: FxHashMap::default(),
            legacy: None,
            legacy_firsts: Default::default(),
            after_spans: FxHashMap::default(),
            section_after: vec![Vec::new(); doc.sections.len()],
            errors: Vec::new(),
            warnings: Vec::new(),
            groups: Vec::new(),
        };
        planner.index_short_references(&doc);
        planner.hint_edges(&doc);
        planner.dialect_edges(&doc);
        planner.order_edges(&doc, &waves);
        let built = tracks::build(&doc, &waves, options.pipeline);
        planner.track_edges(&doc, &built.tracks);
        planner.errors.extend(built.errors);
        planner.warnings.extend(built.warnings);
        planner.groups_and_settings(&doc);
        for t in &mut planner.tasks {
            edge::sort_edges(&mut t.after, &mut t.after_from);
        }
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
            options,
            tracks: built.tracks,
        })
    }

    pub fn is_leaf(&self, t: usize) -> bool {
        self.doc.tasks[t].children.is_empty()
    }

    /// A task counts as done when it, or a task it sits inside, is ticked.
    pub fn is_done(&self, t: usize) -> bool {
        let mut cur = Some(t);
        while let Some(i) = cur {
            if self.doc.tasks[i].checked {
                return true;
            }
            cur = self.doc.tasks[i].parent;
        }
        false
    }

    pub fn target_id(&self, target: Target) -> &str {
        self.doc.id_of(target)
    }

    /// Every dependency a task must wait for: its own, its parent tasks' and
    /// its sections'. A parent's `after` holds for each of its children.
    pub fn effective_after(&self, t: usize) -> Vec<Target> {
        let mut out = Vec::new();
        let mut cur = Some(t);
        while let Some(i) = cur {
            out.extend_from_slice(&self.tasks[i].after);
            cur = self.doc.tasks[i].parent;
        }
        let mut s = Some(self.doc.tasks[t].section);
        while let Some(i) = s {
            out.extend(self.section_after(i));
            s = self.doc.sections[i].parent;
        }
        out.sort();
        out.dedup();
        out
    }

    fn section_after(&self, s: usize) -> impl Iterator<Item = Target> + '_ {
        self.section_after[s].iter().copied()
    }

    /// Tasks that run: leaves, not skipped.
    pub fn runnable(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.tasks.len()).filter(|&t| self.is_leaf(t) && !self.tasks[t].skipped)
    }
}

struct Planner {
    tasks: Vec<PlannedTask>,
    /// Ids by their last `/` segment, for short references: only the
    /// segments some reference that is no full id ends with.
    by_last: FxHashMap<Box<str>, Vec<Target>>,
    /// Ids under the earlier naming rule, read only when a reference is
    /// not a current id.
    legacy: Option<Aliases>,
    /// The first characters of the references that are no current id.
    legacy_firsts: rustc_hash::FxHashSet<char>,
    /// Where each task's dependency was written, to point at it in errors.
    after_spans: FxHashMap<(usize, Target), Span>,
    /// Each section's resolved `after` targets, with where they were written.
    section_after: Vec<Vec<(Target, Span)>>,
    errors: Vec<(Span, PlanError)>,
    warnings: Vec<(Span, String)>,
    groups: Vec<Group>,
}

impl Planner {
    fn edge(&mut self, t: usize, target: Target, from: EdgeFrom) {
        self.tasks[t].after.push(target);
        self.tasks[t].after_from.push(from);
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
                if doc.tasks[t].parent.is_none() {
                    for &p in follows {
                        self.edge(t, Target::Section(p), EdgeFrom::TRACK);
                    }
                }
            }
        }
    }

    fn hint_edges(&mut self, doc: &Document) {
        for (i, t) in doc.tasks.iter().enumerate() {
            for dep in &t.hints.after {
                if let Some(target) = self.lookup(doc, &t.id, dep) {
                    self.edge(i, target, EdgeFrom::HINT);
                    self.after_spans.entry((i, target)).or_insert(dep.span);
                }
            }
        }
        for (i, s) in doc.sections.iter().enumerate() {
            let who = if s.id.is_empty() { "the file" } else { &s.id };
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
                if let Some(target) = self.lookup(doc, who, dep) {
                    self.section_after[i].push((target, dep.span));
                }
            }
        }
    }

    fn dialect_edges(&mut self, doc: &Document) {
        for (i, t) in doc.tasks.iter().enumerate() {
            for dep in &t.depends {
                match doc.id_owner(&dep.value) {
                    Some(target) => {
                        self.edge(i, target, EdgeFrom::DIALECT);
                        self.after_spans.entry((i, target)).or_insert(dep.span);
                    }
                    None => self.warnings.push((
                        dep.span,
                        format!(
                            "task `{}` says it depends on `{}`, which no task is; ignored",
                            t.id, dep.value
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
                section.hints.parallel,
                Some(Spanned {
                    value: Parallel::Sequential,
                    ..
                })
            ) {
                let units: Vec<usize> = doc
                    .section_tasks(s)
                    .filter(|&t| doc.tasks[t].parent.is_none())
                    .collect();
                self.chain(doc, &units, false);
            }
        }
        for (p, task) in doc.tasks.iter().enumerate() {
            if task.children.is_empty() {
                continue;
            }
            match task.hints.parallel.as_ref().map(|p| p.value) {
                Some(Parallel::Sequential) => self.chain(doc, &task.children, false),
                None if doc.dialect.in_order() && !explicit_above(task.section) => {
                    self.chain(doc, &doc.tasks[p].children.clone(), true)
                }
                _ => {}
            }
        }
        if doc.dialect.in_order() {
            for wave in waves {
                if explicit_above(wave.section) {
                    continue;
                }
                let units: Vec<usize> = wave
                    .tasks
                    .iter()
                    .copied()
                    .filter(|&t| doc.tasks[t].parent.is_none())
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

    fn groups_and_settings(&mut self, doc: &Document) {
        let mut section_group = vec![None; doc.sections.len()];
        for (s, section) in doc.sections.iter().enumerate() {
            if let Some(g) = group_for(
                &section.hints,
                if s == 0 {
                    GroupOwner::File
                } else {
                    GroupOwner::Section(s)
                },
            ) {
                section_group[s] = Some(self.groups.len());
                self.groups.push(g);
            }
        }
        let mut task_group = vec![None; doc.tasks.len()];
        for (t, task) in doc.tasks.iter().enumerate() {
            if let Some(g) = group_for(&task.hints, GroupOwner::Task(t)) {
                task_group[t] = Some(self.groups.len());
                self.groups.push(g);
            }
        }
        // Settings cascade top-down: sections follow their parents in
        // index order and tasks their parents, so each inherits a finished
        // value, shared unless its own hints change it.
        let mut section_settings: Vec<Arc<Settings>> = Vec::with_capacity(doc.sections.len());
        for section in &doc.sections {
            let above = section.parent.map(|p| &section_settings[p]);
            let own = inherit(&section.hints, above);
            section_settings.push(own);
        }
        for t in 0..doc.tasks.len() {
            let task = &doc.tasks[t];
            let above = match task.parent {
                Some(p) => &self.tasks[p].settings,
                None => &section_settings[task.section],
            };
            self.tasks[t].settings = inherit(&task.hints, Some(above));
            if !task.children.is_empty() {
                continue;
            }
            // Groups and declared files add up from the task to the file,
            // nearest first.
            let mut groups = Vec::new();
            let mut declared: Vec<String> = Vec::new();
            let mut add = |h: &Hints, g: Option<usize>| {
                groups.extend(g);
                for f in &h.files {
                    if !declared.contains(&f.value) {
                        declared.push(f.value.clone());
                    }
                }
            };
            let mut cur = Some(t);
            while let Some(i) = cur {
                add(&doc.tasks[i].hints, task_group[i]);
                cur = doc.tasks[i].parent;
            }
            let mut s = Some(task.section);
            while let Some(i) = s {
                add(&doc.sections[i].hints, section_group[i]);
                s = doc.sections[i].parent;
            }
            self.tasks[t].groups = groups;
            // A claim needs a `/` or a backtick in the item's bytes (its text
            // and body come from them): most tasks have neither, and need
            // no body read.
            let raw = &doc.source.text.as_bytes()[task.item.clone()];
            let mut inferred = match memchr::memchr2(b'/', b'`', raw) {
                Some(_) => files::infer(&task.text, doc.raw_body(t)),
                None => Vec::new(),
            };
            inferred.retain(|p| !declared.contains(p));
            self.tasks[t].files = files::Files { declared, inferred };
        }
    }

    /// Dependencies may only point at the same or earlier waves.
    fn check_waves(&mut self, doc: &Document) {
        // Each section's own tasks, then subsections into their parents
        // (sections follow their parents in index order): one pass each.
        let mut section_max_wave = vec![None::<usize>; doc.sections.len()];
        for (task, planned) in doc.tasks.iter().zip(&self.tasks) {
            let w = section_max_wave[task.section].get_or_insert(0);
            *w = (*w).max(planned.wave);
        }
        for s in (1..doc.sections.len()).rev() {
            if let (Some(w), Some(p)) = (section_max_wave[s], doc.sections[s].parent) {
                let up = section_max_wave[p].get_or_insert(0);
                *up = (*up).max(w);
            }
        }
        let wave_of = |target: Target| match target {
            Target::Task(d) => (Some(self.tasks[d].wave), &doc.tasks[d].id),
            Target::Section(s) => (section_max_wave[s], &doc.sections[s].id),
        };
        let later = |t: usize, dep_id: &String, w: usize| PlanError::DependsOnLaterWave {
            task: doc.tasks[t].id.clone(),
            task_wave: self.tasks[t].wave + 1,
            dependency: dep_id.clone(),
            dependency_wave: w + 1,
        };
        let mut errors = Vec::new();
        for t in 0..doc.tasks.len() {
            for &target in &self.tasks[t].after {
                let (dep_wave, dep_id) = wave_of(target);
                if let Some(w) = dep_wave
                    && w > self.tasks[t].wave
                {
                    let span = (self.after_spans.get(&(t, target)).copied())
                        .unwrap_or(doc.tasks[t].checkbox);
                    errors.push((span, later(t, dep_id, w)));
                }
            }
        }
        // A section's `after` holds for every task in it: the first task
        // that would wait for a later wave is named.
        for (s, deps) in self.section_after.iter().enumerate() {
            for &(target, span) in deps {
                let (Some(w), dep_id) = wave_of(target) else {
                    continue;
                };
                if let Some(t) = doc.section_tasks(s).find(|&t| self.tasks[t].wave < w) {
                    errors.push((span, later(t, dep_id, w)));
                }
            }
        }
        self.errors.extend(errors);
    }

    /// Nodes: tasks, then sections. A task waits for its targets (and a
    /// child for its parent's); a parent and a section wait for what they hold.
    fn check_cycles(&mut self, doc: &Document) {
        let n = doc.tasks.len();
        let node = |t: Target| match t {
            Target::Task(i) => i,
            Target::Section(s) => n + s,
        };
        // One flat array of edges, node by node, in the order the search
        // tries them (so the cycle it reports stays the same).
        let mut graph = graph::Graph::with_capacity(n + doc.sections.len());
        let mut chain = Vec::new();
        for t in 0..n {
            graph.extend(self.tasks[t].after.iter().map(|&a| node(a)));
            graph.extend(doc.tasks[t].children.iter().copied());
            // Every enclosing task's `after` holds for this task too.
            let mut p = doc.tasks[t].parent;
            while let Some(i) = p {
                graph.extend(self.tasks[i].after.iter().map(|&a| node(a)));
                p = doc.tasks[i].parent;
            }
            // A section's `after` holds for every task in it, outer
            // sections first.
            chain.clear();
            let mut s = Some(doc.tasks[t].section);
            while let Some(i) = s {
                chain.push(i);
                s = doc.sections[i].parent;
            }
            for &s in chain.iter().rev() {
                graph.extend(
                    self.section_after[s]
                        .iter()
                        .map(|&(target, _)| node(target)),
                );
            }
            graph.end_node();
        }
        for section in &doc.sections {
            graph.extend(section.tasks.iter().copied());
            graph.extend(section.children.iter().map(|&c| n + c));
            graph.end_node();
        }
        if let Some(cycle) = graph.find_cycle() {
            let name = |i: usize| {
                if i < n {
                    doc.tasks[i].id.clone()
                } else {
                    doc.sections[i - n].id.clone()
                }
            };
            let span = if cycle[0] < n {
                doc.tasks[cycle[0]].checkbox
            } else {
                doc.sections[cycle[0] - n].span
            };
            self.errors.push((
                span,
                PlanError::Cycle {
                    path: cycle.iter().map(|&i| name(i)).collect(),
                },
            ));
        }
    }
}

type HashMap<K, V> = FxHashMap<K, V>;

/// The settings under `hints`, given those above them: the nearest value
/// wins. The same `Arc` when the hints set none of them.
fn inherit(hints: &Hints, above: Option<&Arc<Settings>>) -> Arc<Settings> {
    let sets_any = hints.agent.is_some()
        || hints.gate.is_some()
        || hints.retries.is_some()
        || hints.timeout.is_some()
        || hints.isolate.is_some()
        || !hints.checkpoints.is_empty()
        || !hints.escalate.is_empty()
        || hints.judge.is_some();
    match above {
        Some(above) if !sets_any => Arc::clone(above),
        _ => {
            let base = above.map(|a| a.as_ref());
            Arc::new(Settings {
                agent: (hints.agent.as_ref().map(|a| a.value.clone()))
                    .or_else(|| base.and_then(|b| b.agent.clone())),
                gate: (hints.gate.as_ref().map(|g| g.value.clone()))
                    .or_else(|| base.and_then(|b| b.gate.clone())),
                escalate: if hints.escalate.is_empty() {
                    base.map(|b| b.escalate.clone()).unwrap_or_default()
                } else {
                    let mut e: Vec<_> = hints.escalate.iter().map(|e| e.value.clone()).collect();
                    e.sort_by_key(|e| e.from);
                    e
                },
                checkpoints: if hints.checkpoints.is_empty() {
                    base.map(|b| b.checkpoints.clone()).unwrap_or_default()
                } else {
                    hints.checkpoints.iter().map(|c| c.value.clone()).collect()
                },
                judge: (hints.judge.as_ref().map(|j| j.value.clone()))
                    .or_else(|| base.and_then(|b| b.judge.clone())),
                retries: (hints.retries.as_ref().map(|r| r.value))
                    .or_else(|| base.and_then(|b| b.retries)),
                timeout: (hints.timeout.as_ref().map(|d| d.value))
                    .or_else(|| base.and_then(|b| b.timeout)),
                isolate: (hints.isolate.as_ref().map(|i| i.value))
                    .or_else(|| base.and_then(|b| b.isolate)),
            })
        }
    }
}

fn group_for(hints: &Hints, owner: GroupOwner) -> Option<Group> {
    let (limit, in_order) = match hints.parallel.as_ref()?.value {
        Parallel::Unlimited => return None,
        Parallel::Sequential => (1, true),
        Parallel::AtMost(n) => (n, false),
    };
    Some(Group {
        owner,
        limit,
        in_order,
    })
}
