//! What cascades from the file to sections, parent tasks and tasks: the
//! settings (agent, gate, timeout, …), the limited groups a task counts
//! against and the files it declares, plus the files its words name.
//!
//! Takes the document's hints; hands on per-task `Settings` (indices into
//! one list, shared where nothing changes them), groups and `Files` to the
//! planner. Never decides order or waves.

use std::collections::hash_map::Entry;
use std::time::Duration;

use rustc_hash::FxHashMap;
use thin_vec::ThinVec;

use super::{Group, GroupOwner, PlannedTask, Planner, files};
use crate::location::narrow;
use crate::taskfile::{Checkpoint, Document, Gate, Hints, Parallel};

/// Settings that cascade from the file to sections, parent tasks and tasks.
#[derive(Clone, Debug, Default, PartialEq)]
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

/// The distinct settings, the defaults first; each task's index into them
/// (a u32 per task, not a pointer) is set in `planned`. They cascade
/// top-down: sections follow their parents in index order and tasks their
/// parents, so each inherits a finished value, shared (the same index)
/// unless its own hints change it. Tasks whose hints make the same settings
/// from the same ones above share one too: a long plan repeats a few hint
/// comments thousands of times.
pub(super) fn task_settings(doc: &Document, planned: &mut [PlannedTask]) -> Vec<Settings> {
    let mut list = vec![Settings::default()];
    let mut sections: Vec<u32> = Vec::with_capacity(doc.sections.len());
    for section in &doc.sections {
        let above = section.parent.map_or(0, |p| sections[p]);
        let own = match inherit(&section.hints, &list[above as usize]) {
            Some(own) => push(&mut list, own),
            None => above,
        };
        sections.push(own);
    }
    // By the settings above: the distinct ones made from them, a few.
    let mut made: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for (t, task) in doc.tasks.iter().enumerate() {
        let above = match task.parent() {
            Some(p) => planned[p].settings,
            None => sections[task.section()],
        };
        // A task whose hints set nothing (most have none) shares what is
        // above it.
        let own = match inherit(&task.hints, &list[above as usize]) {
            Some(own) => share(made.entry(above).or_default(), &mut list, own),
            None => above,
        };
        planned[t].settings = own;
    }
    // It grew by doubling: the plan keeps it.
    list.shrink_to_fit();
    list
}

/// `new`'s index in `list`: an equal one of `made` (which keeps up to 16 to
/// compare with, latest first: neighbours tend to repeat a comment), or
/// `new` added.
fn share(made: &mut Vec<u32>, list: &mut Vec<Settings>, new: Settings) -> u32 {
    if let Some(&same) = made.iter().rev().find(|&&s| list[s as usize] == new) {
        return same;
    }
    let i = push(list, new);
    if made.len() < 16 {
        made.push(i);
    }
    i
}

fn push(list: &mut Vec<Settings>, new: Settings) -> u32 {
    list.push(new);
    u32::try_from(list.len() - 1).expect("fewer settings than tasks and sections")
}

impl Planner {
    /// The limited groups, and each leaf's groups and files.
    pub(super) fn groups_and_files(&mut self, doc: &Document) {
        let mut section_group = vec![None; doc.sections.len()];
        for (s, section) in doc.sections.iter().enumerate() {
            let owner = if s == 0 {
                GroupOwner::File
            } else {
                GroupOwner::Section(s)
            };
            if let Some(g) = group_for(&section.hints, owner) {
                section_group[s] = Some(self.groups.len());
                self.groups.push(g);
            }
        }
        // Only a task with hints has a `parallel` one (and few have): the
        // tasks with a group, in order (their groups follow the sections'
        // in the same order), and a bit per task saying which (a map of
        // them, and the list of groups grown by doubling, were 3 MB of a
        // 1,000,000-task plan's peak).
        let hinted = doc.hinted_tasks();
        let limited_group = |t: usize| group_for(&doc.tasks[t].hints, GroupOwner::Task(t));
        let count = hinted
            .iter()
            .filter(|&&t| limited_group(t).is_some())
            .count();
        self.groups.reserve_exact(count);
        let mut limited: Vec<u32> = Vec::with_capacity(count);
        let mut grouped = vec![0u64; doc.tasks.len().div_ceil(64)];
        let first = self.groups.len();
        for &t in hinted {
            if let Some(g) = limited_group(t) {
                limited.push(narrow(t));
                grouped[t / 64] |= 1 << (t % 64);
                self.groups.push(g);
            }
        }
        let has_group = |t: usize| grouped[t / 64] & (1 << (t % 64)) != 0;
        let group_of = |t: usize| Some(first + limited.binary_search(&narrow(t)).ok()?);
        // Groups and declared files add up from a task to the file, nearest
        // first, each file once. A section's share is the same for all its
        // tasks: made once per section (sections follow their parents). Its
        // groups are one list, its parent's unless it has a limit itself,
        // that its tasks share unless a task above one has a limit too.
        let mut section_list: Vec<u32> = Vec::with_capacity(doc.sections.len());
        let mut section_files: Vec<ThinVec<String>> = Vec::with_capacity(doc.sections.len());
        for (s, section) in doc.sections.iter().enumerate() {
            let above = section.parent.map_or(0, |p| section_list[p]);
            let list = match section_group[s] {
                Some(g) => self.group_list(&[g], above),
                None => above,
            };
            section_list.push(list);
            let mut declared = ThinVec::new();
            add_files(&mut declared, section.hints.files.iter().map(|f| &f.value));
            if let Some(p) = section.parent {
                add_files(&mut declared, section_files[p].iter());
            }
            section_files.push(declared);
        }
        // A task's own limits (and its parents') come before its section's:
        // the leaves under one limited parent share that list too. Their
        // groups are those of the nearest limited task and the tasks it is
        // in, so that task and the section's list name the shared list (a
        // list as the key cost 4 MB more at the peak of a million tasks).
        let mut task_lists: FxHashMap<(u32, u32), u32> = FxHashMap::default();
        for t in 0..doc.tasks.len() {
            let task = &doc.tasks[t];
            if doc.has_children(t) {
                continue;
            }
            let mut declared: ThinVec<String> = ThinVec::new();
            let mut nearest = None;
            let mut cur = Some(t);
            while let Some(i) = cur {
                if nearest.is_none() && has_group(i) {
                    nearest = Some(i);
                }
                let files = doc.tasks[i].hints.files.iter().map(|f| &f.value);
                add_files(&mut declared, files);
                cur = doc.tasks[i].parent();
            }
            let shared = section_list[task.section()];
            self.tasks[t].group_list = match nearest {
                None => shared,
                Some(nearest) => match task_lists.entry((nearest as u32, shared)) {
                    Entry::Occupied(list) => *list.get(),
                    Entry::Vacant(new) => {
                        let mut groups = Vec::new();
                        let mut cur = Some(nearest);
                        while let Some(i) = cur {
                            groups.extend(group_of(i));
                            cur = doc.tasks[i].parent();
                        }
                        *new.insert(self.group_list(&groups, shared))
                    }
                },
            };
            add_files(&mut declared, section_files[task.section()].iter());
            // A claim needs a `/` or a backtick in the item's bytes (its text
            // and body come from them): most tasks have neither, and need
            // no body read.
            let raw = &doc.source.text.as_bytes()[task.item()];
            let mut inferred = match memchr::memchr2(b'/', b'`', raw) {
                Some(_) => files::infer(doc.text(t), doc.raw_body(t)).into(),
                None => ThinVec::new(),
            };
            inferred.retain(|p| !declared.contains(p));
            let files = files::Files::new(declared, inferred);
            if !files.is_empty() {
                self.rare_mut(t).files = self.file_sets.index(files);
            }
        }
    }

    /// A new shared list of groups: `nearest`, then list `rest`'s.
    fn group_list(&mut self, nearest: &[usize], rest: u32) -> u32 {
        self.group_lists.push(nearest, rest)
    }
}

/// The distinct lists of limited groups tasks count against, one after
/// the other in one list of groups: one block, not one per list (38,000
/// lists of a 1,000,000-task plan were 3 MB in blocks of their own).
#[derive(Debug)]
pub(super) struct GroupLists {
    groups: Vec<usize>,
    /// Where each list starts in `groups`, and the end.
    starts: Vec<u32>,
}

impl Default for GroupLists {
    /// The empty list, 0.
    fn default() -> GroupLists {
        GroupLists {
            groups: Vec::new(),
            starts: vec![0, 0],
        }
    }
}

impl GroupLists {
    pub(super) fn get(&self, list: u32) -> &[usize] {
        let list = list as usize;
        &self.groups[self.starts[list] as usize..self.starts[list + 1] as usize]
    }

    pub(super) fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// A new list: `nearest`, then list `rest`'s.
    fn push(&mut self, nearest: &[usize], rest: u32) -> u32 {
        let rest = rest as usize;
        let (start, end) = (self.starts[rest] as usize, self.starts[rest + 1] as usize);
        self.groups.extend_from_slice(nearest);
        self.groups.extend_from_within(start..end);
        self.starts.push(narrow(self.groups.len()));
        narrow(self.len() - 1)
    }
}

/// Appends each file not in `declared` yet.
fn add_files<'a>(declared: &mut ThinVec<String>, files: impl Iterator<Item = &'a String>) {
    for f in files {
        if !declared.contains(f) {
            declared.push(f.clone());
        }
    }
}

/// The settings under `hints`, given those above them: the nearest value
/// wins. None when the hints set none of them (those above hold).
fn inherit(hints: &Hints, base: &Settings) -> Option<Settings> {
    let sets_any = hints.agent.is_some()
        || hints.gate.is_some()
        || hints.retries.is_some()
        || hints.timeout.is_some()
        || hints.isolate.is_some()
        || !hints.checkpoints.is_empty()
        || !hints.escalate.is_empty()
        || hints.judge.is_some();
    if !sets_any {
        return None;
    }
    Some(Settings {
        agent: (hints.agent.as_ref().map(|a| a.value.clone())).or_else(|| base.agent.clone()),
        gate: (hints.gate.as_ref().map(|g| g.value.clone())).or_else(|| base.gate.clone()),
        escalate: if hints.escalate.is_empty() {
            base.escalate.clone()
        } else {
            let mut e: Vec<_> = hints.escalate.iter().map(|e| e.value.clone()).collect();
            e.sort_by_key(|e| e.from);
            e
        },
        checkpoints: if hints.checkpoints.is_empty() {
            base.checkpoints.clone()
        } else {
            hints.checkpoints.iter().map(|c| c.value.clone()).collect()
        },
        judge: (hints.judge.as_ref().map(|j| j.value.clone())).or_else(|| base.judge.clone()),
        retries: (hints.retries.as_ref().map(|r| r.value)).or(base.retries),
        timeout: (hints.timeout.as_ref().map(|d| d.value)).or(base.timeout),
        isolate: (hints.isolate.as_ref().map(|i| i.value)).or(base.isolate),
    })
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
