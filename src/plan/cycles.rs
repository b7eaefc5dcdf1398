//! The cycle check: takes the planned tasks' edges, the document's nesting
//! and the sections' `after`; hands on the first cycle as an error naming
//! its path. Reads every edge where it is kept: never builds the graph (at
//! a million tasks a copy of it was the largest thing at planning's peak).

use super::graph::{self, Edges};
use super::{Planner, Target};
use crate::error::PlanError;
use crate::taskfile::{Children, Document};

/// Tasks are nodes `0..n`; section `s` is node `n + s`. A task waits for
/// its own `after`, its subtasks, every enclosing task's `after` and its
/// sections' `after` (outermost first); a section for its top tasks and
/// its subsections.
struct Dependencies<'a> {
    doc: &'a Document,
    planner: &'a Planner,
    /// Whether a section or one it is in has an `after`: most tasks'
    /// sections have none to read.
    chained: Vec<bool>,
}

/// Where a node's edges are being read.
enum Cursor<'a> {
    Task {
        t: u32,
        part: Part,
        /// The next edge in the list being read.
        i: u32,
        /// The enclosing task whose `after` is read (`Part::Enclosing`),
        /// or the depth of the section read (`Part::Sections`).
        at: u32,
        /// How many sections enclose the task's (`Part::Sections`).
        depth: u8,
        children: Children<'a>,
    },
    Section {
        s: u32,
        /// The next task of the section's own, then the next subsection.
        next: u32,
        end: u32,
        tasks_done: bool,
    },
}

#[derive(Clone, Copy)]
enum Part {
    Own,
    Subtasks,
    Enclosing,
    Sections,
}

impl Dependencies<'_> {
    fn node(&self, target: Target) -> usize {
        match target {
            Target::Task(t) => t,
            Target::Section(s) => self.planner.tasks.len() + s,
        }
    }

    /// The section `up` levels above `s` (0: `s`).
    fn section_above(&self, s: usize, up: usize) -> usize {
        (0..up).fold(s, |s, _| self.doc.sections[s].parent.unwrap_or(0))
    }

    /// How many sections enclose `s` (0 for the file's).
    fn depth(&self, s: usize) -> u8 {
        let mut depth = 0;
        let mut s = s;
        while let Some(p) = self.doc.sections[s].parent {
            (depth, s) = (depth + 1, p);
        }
        depth
    }
}

impl<'a> Edges for Dependencies<'a> {
    type Cursor = Cursor<'a>;

    fn nodes(&self) -> usize {
        self.planner.tasks.len() + self.doc.sections.len()
    }

    fn cursor(&self, node: usize) -> Cursor<'a> {
        let n = self.planner.tasks.len();
        if node < n {
            return Cursor::Task {
                t: node as u32,
                part: Part::Own,
                i: 0,
                at: 0,
                depth: 0,
                children: self.doc.children(node),
            };
        }
        let own = self.doc.section_own_tasks(node - n);
        Cursor::Section {
            s: (node - n) as u32,
            next: own.start as u32,
            end: own.end as u32,
            tasks_done: false,
        }
    }

    fn next(&self, cursor: &mut Cursor<'a>) -> Option<usize> {
        let (doc, planner) = (self.doc, self.planner);
        match cursor {
            Cursor::Task {
                t,
                part,
                i,
                at,
                depth,
                children,
            } => loop {
                let t = *t as usize;
                match part {
                    Part::Own => match planner.after(t).get(*i as usize) {
                        Some(e) => {
                            *i += 1;
                            return Some(self.node(e.target()));
                        }
                        None => *part = Part::Subtasks,
                    },
                    Part::Subtasks => match children.next() {
                        Some(c) => return Some(c),
                        None => {
                            *part = Part::Enclosing;
                            (*i, *at) = (0, doc.tasks[t].parent().map_or(u32::MAX, |p| p as u32));
                        }
                    },
                    Part::Enclosing if *at != u32::MAX => {
                        let p = *at as usize;
                        match planner.after(p).get(*i as usize) {
                            Some(e) => {
                                *i += 1;
                                return Some(self.node(e.target()));
                            }
                            None => {
                                (*i, *at) =
                                    (0, doc.tasks[p].parent().map_or(u32::MAX, |p| p as u32));
                            }
                        }
                    }
                    Part::Enclosing => {
                        let s = doc.tasks[t].section();
                        if !self.chained[s] {
                            return None;
                        }
                        *part = Part::Sections;
                        (*i, *at, *depth) = (0, 0, self.depth(s));
                    }
                    Part::Sections => {
                        let s = doc.tasks[t].section();
                        if *at > u32::from(*depth) {
                            return None;
                        }
                        let section = self.section_above(s, usize::from(*depth) - *at as usize);
                        match planner.section_after[section].get(*i as usize) {
                            Some(&(target, _)) => {
                                *i += 1;
                                return Some(self.node(target));
                            }
                            None => (*i, *at) = (0, *at + 1),
                        }
                    }
                }
            },
            Cursor::Section {
                s,
                next,
                end,
                tasks_done,
            } => {
                let s = *s as usize;
                if !*tasks_done {
                    while *next < *end {
                        let t = *next as usize;
                        *next += 1;
                        if doc.tasks[t].parent().is_none() {
                            return Some(t);
                        }
                    }
                    (*tasks_done, *next) = (true, 0);
                }
                let child = doc.sections[s].children.get(*next as usize)?;
                *next += 1;
                Some(planner.tasks.len() + child)
            }
        }
    }
}

impl Planner {
    pub(super) fn check_cycles(&mut self, doc: &Document) {
        // Sections follow the sections they are in.
        let mut chained = Vec::with_capacity(doc.sections.len());
        for (s, section) in doc.sections.iter().enumerate() {
            let above = section.parent.is_some_and(|p| chained[p]);
            chained.push(above || !self.section_after[s].is_empty());
        }
        let graph = Dependencies {
            doc,
            planner: self,
            chained,
        };
        let Some(cycle) = graph::find_cycle(&graph) else {
            return;
        };
        let n = doc.tasks.len();
        let name = |i: usize| {
            if i < n {
                doc.id(i).into_owned()
            } else {
                doc.sections[i - n].id.clone()
            }
        };
        let span = if cycle[0] < n {
            doc.checkbox(&doc.tasks[cycle[0]])
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
