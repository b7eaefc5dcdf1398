//! A document's sections: built from the scan's headings, and the queries
//! that relate sections to each other and to the tasks in them. Takes the
//! headings; hands on `Section`s and ranges of task indices. Never reads a
//! task's text.

use thin_vec::ThinVec;

use crate::taskfile::{Document, IdSource, Section, TaskHints, scan};

impl Document {
    /// Titles of the headings from the top down to `section`.
    pub fn section_path(&self, section: usize) -> Vec<String> {
        let mut path = Vec::new();
        let mut s = Some(section);
        while let Some(i) = s {
            if i != 0 {
                path.push(self.sections[i].title.clone());
            }
            s = self.sections[i].parent;
        }
        path.reverse();
        path
    }

    /// The tasks in `section` and its subsections, as a range of task
    /// indices: a section's subtree is one stretch of the document, from its
    /// heading to the next heading of the same or a higher level.
    pub fn section_tasks(&self, section: usize) -> std::ops::Range<usize> {
        let s = &self.sections[section];
        let start = if section == 0 { 0 } else { s.span.offset() };
        let end = (self.sections[section + 1..].iter())
            .find(|next| next.level <= s.level)
            .map_or(self.source.text.len(), |next| next.span.offset());
        self.tasks_starting_in(start, end)
    }

    /// The tasks directly in `section` (not in a subsection), as a range
    /// of task indices: from its heading to the next heading. A task's
    /// `section` is the last heading before it, so these are exactly the
    /// tasks whose `section` it is.
    pub fn section_own_tasks(&self, section: usize) -> std::ops::Range<usize> {
        let start = if section == 0 {
            0
        } else {
            self.sections[section].span.offset()
        };
        let end =
            (self.sections.get(section + 1)).map_or(self.source.text.len(), |s| s.span.offset());
        self.tasks_starting_in(start, end)
    }

    /// The tasks of `section` that are not inside another task (its own
    /// tasks at the top), in document order.
    pub fn section_top_tasks(&self, section: usize) -> impl Iterator<Item = usize> + '_ {
        (self.section_own_tasks(section)).filter(|&t| self.tasks[t].parent().is_none())
    }

    /// The tasks whose items start in `start..end` of the text, as a range
    /// of task indices (tasks are in document order).
    fn tasks_starting_in(&self, start: usize, end: usize) -> std::ops::Range<usize> {
        let first = self.tasks.partition_point(|t| t.item().start < start);
        let last = self.tasks.partition_point(|t| t.item().start < end);
        first..last
    }

    /// Whether `section` is `ancestor` or one of its subsections.
    pub fn section_within(&self, section: usize, ancestor: usize) -> bool {
        let mut s = Some(section);
        while let Some(i) = s {
            if i == ancestor {
                return true;
            }
            s = self.sections[i].parent;
        }
        false
    }

    pub(super) fn build_sections(&mut self, headings: &[scan::RawHeading]) {
        self.sections.push(Section {
            id: String::new(),
            id_source: IdSource::Slug,
            title: String::new(),
            level: 0,
            span: self.source.span(0, 0),
            parent: None,
            children: ThinVec::new(),
            hints: TaskHints::default(),
        });
        let mut stack = vec![0usize];
        for h in headings {
            while self.sections[*stack.last().unwrap()].level >= h.level {
                stack.pop();
            }
            let parent = *stack.last().unwrap();
            let index = self.sections.len();
            self.sections[parent].children.push(index);
            self.sections.push(Section {
                id: String::new(),
                id_source: IdSource::Slug,
                title: h.title.clone(),
                level: h.level,
                span: self.source.span(h.start, 0),
                parent: Some(parent),
                children: ThinVec::new(),
                hints: TaskHints::default(),
            });
            stack.push(index);
        }
    }

    /// The section a byte offset lies in: the last heading that starts before it.
    pub(super) fn section_at(&self, offset: usize) -> usize {
        self.sections[1..].partition_point(|s| s.span.offset() <= offset)
    }
}
