//! The wave rule: descend while every task lies in one single child section,
//! then the node's own tasks are a wave and each child section is a wave.

use super::PlannedTask;
use crate::location::narrow;
use crate::taskfile::Document;

#[derive(Debug, Clone)]
pub struct Wave {
    /// The section this wave is; for the node's own tasks, the node itself.
    pub section: usize,
    /// True for the wave of tasks that sit directly under the node, before
    /// its first subsection.
    pub own_tasks: bool,
    /// Every task of the wave (parents and children), in document order:
    /// its sections' own stretches of the task list (`tasks()`), not an
    /// index per task.
    spans: Vec<std::ops::Range<u32>>,
    /// Subsections of the wave that hold tasks: its modules.
    pub modules: Vec<usize>,
}

impl Wave {
    /// Every task of the wave (parents and children), in document order.
    pub fn tasks(&self) -> impl Iterator<Item = usize> + Clone + '_ {
        (self.spans.iter()).flat_map(|r| r.start as usize..r.end as usize)
    }

    /// The wave's tasks from its `skip`-th on (whole stretches skipped,
    /// not a task at a time).
    pub fn tasks_from(&self, skip: usize) -> impl Iterator<Item = usize> + '_ {
        let mut left = skip;
        (self.spans.iter()).flat_map(move |r| {
            let cut = left.min(r.len());
            left -= cut;
            r.start as usize + cut..r.end as usize
        })
    }

    /// How many tasks the wave has.
    pub fn task_count(&self) -> usize {
        self.spans.iter().map(|r| r.len()).sum()
    }
}

/// The waves; each task's wave is set in `tasks`.
pub(super) fn waves(doc: &Document, tasks: &mut [PlannedTask]) -> Vec<Wave> {
    let n = doc.sections.len();
    // A section's own tasks are one stretch of the task list: counted and
    // given their wave by ranges, without a pass over the tasks.
    let own: Vec<std::ops::Range<usize>> = (0..n).map(|s| doc.section_own_tasks(s)).collect();
    let direct: Vec<usize> = own.iter().map(|r| r.len()).collect();
    // Sections follow their parents in index order, so one backward pass sums subtrees.
    let mut within = direct.clone();
    for s in (1..n).rev() {
        let p = doc.sections[s].parent.unwrap_or(0);
        within[p] += within[s];
    }
    let with_tasks = |s: usize| -> Vec<usize> {
        doc.sections[s]
            .children
            .iter()
            .copied()
            .filter(|&c| within[c] > 0)
            .collect()
    };
    let mut node = 0;
    loop {
        let children = with_tasks(node);
        if direct[node] == 0 && children.len() == 1 {
            node = children[0];
        } else {
            break;
        }
    }
    let mut result = Vec::new();
    if direct[node] > 0 {
        result.push(Wave {
            section: node,
            own_tasks: true,
            spans: Vec::new(),
            modules: Vec::new(),
        });
    }
    for c in with_tasks(node) {
        result.push(Wave {
            section: c,
            own_tasks: false,
            spans: Vec::new(),
            modules: with_tasks(c),
        });
    }
    // Map every section to its wave: the node's own wave for the node, else
    // the wave of the child section it sits under.
    let mut wave_of_section = vec![usize::MAX; n];
    for (w, wave) in result.iter().enumerate() {
        wave_of_section[wave.section] = w;
    }
    for s in 1..n {
        if wave_of_section[s] == usize::MAX {
            let p = doc.sections[s].parent.unwrap_or(0);
            if p != node {
                wave_of_section[s] = wave_of_section[p];
            }
        }
    }
    for (s, range) in own.into_iter().enumerate() {
        if range.is_empty() {
            continue;
        }
        let w = wave_of_section[s];
        for task in &mut tasks[range.clone()] {
            task.wave = narrow(w);
        }
        let span = narrow(range.start)..narrow(range.end);
        match result[w].spans.last_mut() {
            // Sections one after the other in one wave: one stretch.
            Some(last) if last.end == span.start => last.end = span.end,
            _ => result[w].spans.push(span),
        }
    }
    result
}
