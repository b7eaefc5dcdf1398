//! Task files: bytes → `Document` (sections, tasks, hints, ids) with byte spans.
//!
//! `Document::parse` never fails on Markdown: every input gives a document.
//! Problems a person must fix are collected in `errors`, softer ones in
//! `warnings`; the planner refuses to plan while `errors` is not empty, and the
//! ticker only needs the ids.

mod checkpoint;
mod comments;
mod dialect;
mod hint_values;
mod hints;
mod identity;
mod ids;
mod legacy_ids;
mod pieces;
mod scan;
mod sections;
mod slug;
mod source;
mod taken;
mod task;
mod text;

use std::borrow::Cow;
use std::path::Path;

use thin_vec::ThinVec;

pub use dialect::Dialect;
pub use hint_values::{parse_duration, parse_escalation};
pub use hints::{Checkpoint, Trigger};
pub use hints::{Escalation, Gate, Hints, Order, Parallel, Pipeline, Spanned, TaskHints};
pub use identity::IdSource;
pub use ids::{IdOwner, by_last_segments};
pub(crate) use legacy_ids::legacy_ids_where;
pub use legacy_ids::{LegacyIds, find_task, legacy_ids};
pub use slug::{ID_MAX, slug};
pub(crate) use source::SpanCursor;
pub use source::{Source, Span};
use task::{Adopted, NO_PARENT, TextAt};
pub use task::{Children, Task};

use crate::error::{Diagnostic, Error, Location, PlanError};
use crate::location::narrow;
use text::{body_into, body_is_blank};

/// How to read a task file: which dialect (Kiro's optional tasks are kept
/// by the Kiro dialect; whether they run is a planning option).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// `None` detects the dialect from the tasks.
    pub dialect: Option<Dialect>,
}

#[derive(Debug)]
pub struct Section {
    pub id: String,
    pub id_source: IdSource,
    pub title: String,
    /// 0 for the document itself.
    pub level: u8,
    pub span: Span,
    pub parent: Option<usize>,
    pub children: ThinVec<usize>,
    /// Boxed only when there are some: a file of 100,000 one-task
    /// sections would hold 22 MB of empty hints inline.
    pub hints: TaskHints,
}

/// A task item that is not planned: inside a block quote, or with nothing
/// after its checkbox.
#[derive(Debug, serde::Serialize)]
pub struct Ignored {
    pub line: usize,
    pub text: String,
    pub reason: &'static str,
}

pub use crate::location::Warning;

#[derive(Debug)]
pub struct Document {
    pub source: Source,
    pub dialect: Dialect,
    /// `sections[0]` is the document; the rest follow their headings in order.
    pub sections: Vec<Section>,
    pub tasks: Vec<Task>,
    pub ignored: Vec<Ignored>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Warning>,
    ids: ids::IdIndex,
    /// Task texts that are not their line as written (see `TextAt`).
    copied_texts: String,
    /// The tasks that have hints, in order (most have none: passes over
    /// hints visit these, not every task).
    hinted: Vec<usize>,
    /// Dependencies the dialect writes in prose (`Depends on T001`), every
    /// task's in task order, and where the list of each task that has some
    /// starts: a few tasks have them, so none of this is in every task.
    depends: Vec<Spanned<String>>,
    depends_at: Vec<(u32, u32)>,
    /// Subtasks the dialect gave a parent by their numbers (see `Children`).
    adopted: Adopted,
}

impl Document {
    pub fn read(path: &Path, options: ReadOptions) -> Result<Document, Error> {
        Ok(Document::parse(Source::read(path)?, options))
    }

    pub fn parse(source: Source, options: ReadOptions) -> Document {
        Document::parse_in_pieces(source, options, scan::PIECE)
    }

    /// [`Document::parse`] with pulldown-cmark given pieces of at least
    /// `min_piece` bytes (`usize::MAX`: the whole text at once). For tests
    /// that check pieces read the same document as one parse.
    #[doc(hidden)]
    pub fn parse_in_pieces(source: Source, options: ReadOptions, min_piece: usize) -> Document {
        let scan = scan::scan_in_pieces(&source, min_piece);
        // Empty boxes are few: set aside, the rest kept in place (no
        // second list of every item).
        let mut items = scan.items;
        let empty: Vec<scan::RawItem> = items.iter().filter(|i| i.empty).cloned().collect();
        items.retain(|i| !i.empty);
        let (texts, copied_texts) = text::texts(&source, &items);
        let dialect = options.dialect.unwrap_or_else(|| {
            let heading = |at: usize| {
                let before = scan.headings.partition_point(|h| h.start <= at);
                before
                    .checked_sub(1)
                    .map(|h| scan.headings[h].title.as_str())
            };
            let candidates =
                (items.iter().zip(&texts))
                    .filter(|(i, _)| !i.in_quote)
                    .map(|(i, t)| dialect::Candidate {
                        text: t.get(&source.text, &copied_texts),
                        optional: i.optional,
                        at: i.start as usize,
                    });
            dialect::detect(candidates, heading)
        });
        let mut doc = Document {
            dialect,
            sections: Vec::new(),
            tasks: Vec::new(),
            ignored: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            ids: ids::IdIndex::default(),
            copied_texts,
            hinted: Vec::new(),
            depends: Vec::new(),
            depends_at: Vec::new(),
            adopted: Adopted::default(),
            source,
        };
        doc.build_sections(&scan.headings);
        doc.build_tasks(&items, texts);
        // Gone before ids are made (2 MB at 100,000 tasks, at what was the
        // parse's peak), with what growing the scan's lists left behind.
        drop(items);
        crate::memory::give_back();
        // `- [ ]` alone is no task for GFM renderers; listed, so a person
        // sees why it does not run. (Kiro's `[ ]*` is no checkbox at all
        // outside its dialect.)
        for item in empty {
            if !item.optional || doc.dialect == Dialect::Kiro {
                doc.ignored.push(Ignored {
                    line: doc.source.span(item.bracket as usize, 0).line(),
                    text: String::new(),
                    reason: "nothing after the checkbox",
                });
            }
        }
        doc.ignored.sort_by_key(|i| i.line);
        doc.attach_comments(scan.comments);
        identity::assign(&mut doc);
        // The naming's tables, before the plan is built beside the document.
        crate::memory::give_back();
        doc.check_nul_bytes();
        doc
    }

    /// Task `t`'s text: the rest of the checkbox's line without `<!-- -->`
    /// comments, runs of white space collapsed to one space.
    pub fn text(&self, t: usize) -> &str {
        self.text_of(&self.tasks[t])
    }

    /// Asks for task `t`'s text to be brought into cache without reading
    /// it (see [`crate::memory::prefetch`]).
    pub(crate) fn prefetch_text(&self, t: usize) {
        let at = self.tasks[t]
            .text
            .as_ptr(&self.source.text, &self.copied_texts);
        crate::memory::prefetch(at);
    }

    /// [`Document::text`] of a task of this document.
    pub fn text_of(&self, task: &Task) -> &str {
        task.text.get(&self.source.text, &self.copied_texts)
    }

    /// The checkbox `[ ]` of a task of this document: its span starts at
    /// the `[`. Its line is counted here, from the line index (under a
    /// microsecond); passes over every task in order count on with a
    /// `SpanCursor` instead.
    pub fn checkbox(&self, task: &Task) -> Span {
        self.source.span(task.checkbox_offset(), 3)
    }

    /// [`Document::checkbox`] for passes over tasks in document order,
    /// counting lines on from where `cursor` was.
    pub(crate) fn checkbox_after(&self, cursor: &mut SpanCursor, task: &Task) -> Span {
        self.source.span_after(cursor, task.checkbox_offset(), 3)
    }

    /// Task `t`'s id: its `id` hint, else the dialect's id, else a slug
    /// (made again from its text: slug ids are not kept).
    pub fn id(&self, t: usize) -> Cow<'_, str> {
        if self.tasks[t].id_source != IdSource::Slug {
            return Cow::Borrowed(self.written_id(t));
        }
        let mut id = String::with_capacity(slug::ID_ROOM);
        self.push_id(t, &mut id);
        Cow::Owned(id)
    }

    /// Appends task `t`'s id to `out` (no allocation for one written
    /// out).
    pub fn push_id(&self, t: usize, out: &mut String) {
        let task = &self.tasks[t];
        if task.id_source != IdSource::Slug {
            out.push_str(self.written_id(t));
            return;
        }
        let chain = slug::Chain::of(&self.sections, self.ids.title, task.section as usize);
        let form = self.ids.forms.get(t);
        slug::write_id(
            self.text_of(task),
            "task",
            &chain,
            form,
            &self.ids.qualifiers,
            out,
        );
    }

    /// Appends the id of a task or section to `out`.
    pub fn push_id_of(&self, owner: IdOwner, out: &mut String) {
        match owner {
            IdOwner::Task(t) => self.push_id(t, out),
            IdOwner::Section(s) => out.push_str(&self.sections[s].id),
        }
    }

    /// Task `t`'s id as written: its `id` hint's, else its dialect's
    /// (`""`: none).
    fn written_id(&self, t: usize) -> &str {
        match (&self.tasks[t].hints.id, self.tasks[t].id_source) {
            (Some(id), IdSource::Hint) => &id.value,
            _ => self.ids.dialect(t),
        }
    }

    /// Every task's id, in document order.
    pub fn task_ids(&self) -> impl ExactSizeIterator<Item = Cow<'_, str>> + Clone {
        (0..self.tasks.len()).map(|t| self.id(t))
    }

    /// The task whose id is exactly `id`.
    pub fn task_by_id(&self, id: &str) -> Option<usize> {
        match self.id_owner(id)? {
            IdOwner::Task(t) => Some(t),
            IdOwner::Section(_) => None,
        }
    }

    /// The id of a task or section.
    pub fn id_of(&self, owner: IdOwner) -> Cow<'_, str> {
        match owner {
            IdOwner::Task(t) => self.id(t),
            IdOwner::Section(s) => Cow::Borrowed(&self.sections[s].id),
        }
    }

    /// The task or section with exactly this id (a task wins a clash).
    pub fn id_owner(&self, id: &str) -> Option<IdOwner> {
        self.ids.get(id, |o| self.id_of(o))
    }

    /// The tasks with hints of their own, in document order; every other
    /// task's `hints` are empty.
    pub fn hinted_tasks(&self) -> &[usize] {
        &self.hinted
    }

    /// Every id, sections' then tasks' (the file's own empty id left out).
    pub fn all_ids(&self) -> impl Iterator<Item = (Cow<'_, str>, IdOwner)> {
        let sections = (self.sections.iter().enumerate().skip(1))
            .map(|(i, s)| (Cow::Borrowed(s.id.as_str()), IdOwner::Section(i)));
        let tasks = (self.task_ids().enumerate()).map(|(i, id)| (id, IdOwner::Task(i)));
        sections.chain(tasks)
    }

    /// Task `t`'s body: the rest of its list item after the checkbox's
    /// line, dedented, with LF line endings, its subtasks' lines included
    /// (what an agent is given).
    pub fn body(&self, t: usize) -> String {
        let task = &self.tasks[t];
        let mut out = String::new();
        body_into(
            &self.source,
            task.checkbox_offset(),
            task.item().end,
            &mut out,
        );
        out
    }

    /// Task `t`'s body as written: the item's bytes after the checkbox's
    /// line, not dedented, with the file's line endings (for readers that
    /// only look at words, without copying it).
    pub fn raw_body(&self, t: usize) -> &str {
        let task = &self.tasks[t];
        text::body_raw(&self.source, task.checkbox_offset(), task.item().end)
    }

    /// Task `t`'s own body, up to its first subtask, appended to `out`
    /// (for the JSON, where each subtask has its own).
    pub fn own_body_into(&self, t: usize, out: &mut String) {
        let task = &self.tasks[t];
        let end = (self.tasks.get(t + 1))
            .filter(|next| {
                next.item().start < task.item().end && next.item().start > task.item().start
            })
            .map_or(task.item().end, |next| next.item().start);
        body_into(&self.source, task.checkbox_offset(), end, out);
    }

    /// Diagnostics become an error; a document without errors passes through.
    pub fn into_valid(self) -> Result<Document, Error> {
        if self.errors.is_empty() {
            Ok(self)
        } else {
            Err(Error::Invalid {
                diagnostics: self.errors,
                warnings: self.warnings,
            })
        }
    }

    pub fn location(&self, span: Span) -> Location {
        Location {
            path: self.source.path.clone(),
            span,
            line_text: self.source.line_text(span.line()).to_owned(),
        }
    }

    pub fn error(&mut self, span: Span, error: PlanError) {
        let at = self.location(span);
        self.errors.push(Diagnostic { at, error });
    }

    pub fn warn(&mut self, span: Span, message: String) {
        let at = self.location(span);
        self.warnings.push(Warning { at, message });
    }

    /// A task id that starts with `id`, or whose last segments do (people
    /// type the start of a long slug); not one that merely ends the same.
    pub fn id_starting_with(&self, id: &str) -> Option<String> {
        self.task_ids()
            .find(|t| {
                std::iter::once(&**t)
                    .chain(t.match_indices('/').map(|(i, _)| &t[i + 1..]))
                    .any(|rest| rest.starts_with(id))
            })
            .map(Cow::into_owned)
    }

    /// The one task whose text is exactly `text`: a task whose id was derived
    /// from its text is still recognised after that id changed. None when no
    /// task, or several, have that text (never a guess).
    pub fn task_with_text(&self, text: &str) -> Option<usize> {
        let mut same = self
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| self.text_of(t) == text);
        match (same.next(), same.next()) {
            (Some((t, _)), None) => Some(t),
            _ => None,
        }
    }

    /// Whether `task` is `ancestor` or lies inside it.
    pub fn task_within(&self, task: usize, ancestor: usize) -> bool {
        let mut t = Some(task);
        while let Some(i) = t {
            if i == ancestor {
                return true;
            }
            t = self.tasks[i].parent();
        }
        false
    }

    fn build_tasks(&mut self, items: &scan::Items, texts: Vec<TextAt>) {
        self.tasks.reserve(items.len());
        let keep_optional = self.dialect == Dialect::Kiro;
        let mut stack: Vec<usize> = Vec::new();
        let mut lines = source::SpanCursor::default();
        let mut rest = items.iter().peekable();
        let mut texts = texts.into_iter();
        while let (Some(item), Some(text_at)) = (rest.next(), texts.next()) {
            let (start, end) = (item.start as usize, item.end as usize);
            let bracket = item.bracket as usize;
            let text = text_at.get(&self.source.text, &self.copied_texts);
            if item.in_quote {
                self.ignored.push(Ignored {
                    line: self.source.span_after(&mut lines, bracket, 0).line(),
                    text: text.to_owned(),
                    reason: "in a block quote",
                });
                continue;
            }
            if item.optional && !keep_optional {
                continue;
            }
            while stack
                .last()
                .is_some_and(|&t| self.tasks[t].item().end <= start)
            {
                stack.pop();
            }
            let index = self.tasks.len();
            let parent = stack.last().copied();
            let section = self.section_at(start);
            // Only comments follow the checkbox (`- [ ] <!-- id: a -->`).
            let empty = text.is_empty() && body_is_blank(&self.source, bracket, end);
            // The dialect reads the task's own lines, not its subtasks': a
            // subtask's `_Depends:` is the subtask's.
            let marks = if self.dialect == Dialect::Kiro {
                let first_child = rest.peek().filter(|next| next.start < item.end);
                let end = first_child.map_or(end, |child| child.start as usize);
                let mut own = String::new();
                body_into(&self.source, bracket, end, &mut own);
                dialect::marks(self.dialect, text, &own)
            } else {
                // Only Kiro reads bodies.
                dialect::marks(self.dialect, text, "")
            };
            if !marks.depends.is_empty() {
                let span =
                    (self.source).span_after(&mut lines, item.text_start as usize, text.len());
                (self.depends_at).push((narrow(index), narrow(self.depends.len())));
                (self.depends)
                    .extend((marks.depends.into_iter()).map(|(value, _)| Spanned { value, span }));
            }
            // Warned once the text (read where it lies in the document) is
            // no longer needed.
            if empty {
                self.warn(
                    self.source.span_after(&mut lines, bracket, 3),
                    "this task is empty: it has no text and no body for an agent to work from"
                        .into(),
                );
            }
            if let Some(id) = marks.id.as_deref().filter(|id| !id.is_empty()) {
                self.ids.push_dialect(index, id);
            }
            self.tasks.push(Task {
                text: text_at,
                id_source: IdSource::Dialect,
                checkbox_at: item.bracket,
                checked: item.checked,
                optional: item.optional,
                parallel_mark: marks.parallel,
                item_start: item.start,
                item_end: item.end,
                section: narrow(section),
                parent: parent.map_or(NO_PARENT, narrow),
                hints: TaskHints::default(),
            });
            stack.push(index);
        }
        if matches!(self.dialect, Dialect::Kiro | Dialect::Openspec) {
            let adopted = dialect::adopt_by_number(self);
            self.adopted = Adopted::new(&self.tasks, adopted);
        }
    }

    /// The dependencies task `t`'s dialect writes in prose, with their spans.
    pub fn depends(&self, t: usize) -> &[Spanned<String>] {
        let k = (self.depends_at).partition_point(|&(task, _)| (task as usize) < t);
        match self.depends_at.get(k) {
            Some(&(task, _)) if task as usize == t => self.depends_of(k),
            _ => &[],
        }
    }

    /// The tasks that have dialect dependencies, in order, with them (for
    /// passes over all of them: no search per task).
    pub fn tasks_with_depends(&self) -> impl Iterator<Item = (usize, &[Spanned<String>])> {
        (0..self.depends_at.len()).map(|k| (self.depends_at[k].0 as usize, self.depends_of(k)))
    }

    /// The `k`th list of `depends`.
    fn depends_of(&self, k: usize) -> &[Spanned<String>] {
        let start = self.depends_at[k].1 as usize;
        let end = (self.depends_at.get(k + 1)).map_or(self.depends.len(), |&(_, s)| s as usize);
        &self.depends[start..end]
    }

    /// Task `t`'s subtasks, in document order.
    #[inline]
    pub fn children(&self, t: usize) -> Children<'_> {
        Children::of(&self.tasks, &self.adopted, t)
    }

    /// Whether task `t` has subtasks: the next task starts inside its
    /// item (and is then its subtask: see `Children`), or it adopted some.
    #[inline]
    pub fn has_children(&self, t: usize) -> bool {
        let end = self.tasks[t].item().end;
        (self.tasks.get(t + 1)).is_some_and(|next| next.item().start < end)
            || self.adopted.adopts(t)
    }

    fn attach_comments(&mut self, comments: scan::Shares<hints::Comment>) {
        // Comments come in document order: the task search goes on from
        // the last one. Tasks given hints are checked for `parallel` after.
        let mut next_task = 0;
        let mut hinted: Vec<usize> = Vec::new();
        for c in comments {
            for (span, e) in c.errors {
                self.error(span, e);
            }
            if c.hints.is_empty() {
                continue;
            }
            // A ```gate block is pointed at by its fence, a comment by `<!--`.
            let gate_block = c.hints.gate.as_ref().filter(|g| g.value.block);
            let fenced = gate_block
                .map(|g| g.span)
                .or(c.hints.checkpoints.first().map(|c| c.span));
            let block = fenced.is_some();
            let merged = if let Some(t) = self.task_at(&mut next_task, c.offset) {
                hinted.push(t);
                (self.tasks[t].hints.absorb(c.hints), "for this task")
            } else {
                let section = self.section_at(c.offset);
                let first_task =
                    (self.section_top_tasks(section).next()).map(|t| self.tasks[t].item().start);
                if section != 0 && first_task.is_some_and(|start| start < c.offset) {
                    let span = fenced.unwrap_or_else(|| self.source.span(c.offset, 4));
                    self.error(span, PlanError::HintOutOfPlace { block });
                    continue;
                }
                if let (0, Some(id)) = (section, &c.hints.id) {
                    self.error(
                        id.span,
                        PlanError::HintNotHere {
                            key: "id".into(),
                            place: "before the first heading (the file has no id)",
                        },
                    );
                    continue;
                }
                let place = if section == 0 {
                    "for the file"
                } else {
                    "for this section"
                };
                let hints = &mut self.sections[section].hints;
                (hints.merge(c.hints.into_hints()), place)
            };
            if let (Some((span, first_line)), place) = merged {
                self.error(span, PlanError::SecondGate { place, first_line });
            }
        }
        hinted.sort_unstable();
        hinted.dedup();
        for &t in &hinted {
            if !self.has_children(t)
                && let Some(p) = &self.tasks[t].hints.parallel
            {
                let span = p.span;
                self.error(
                    span,
                    PlanError::HintNotHere {
                        key: "parallel".into(),
                        place: "on a task without subtasks; put it on a section or a parent task",
                    },
                );
            }
        }
        self.hinted = hinted;
    }

    /// A NUL byte in a task's text cannot reach its agent (the text is an
    /// environment variable, the prompt an argument for some agents): the
    /// task could never start, so it is an error now, not at run time.
    /// (Hint values and gate blocks are checked where they are read.)
    fn check_nul_bytes(&mut self) {
        if !self.source.text.contains('\0') {
            return;
        }
        for t in 0..self.tasks.len() {
            if !self.text(t).contains('\0') {
                continue;
            }
            let start = self.tasks[t].checkbox_offset();
            let line = &self.source.text[start..self.source.line_end(start)];
            if let Some(i) = line.find('\0') {
                let span = self.source.span(start + i, 1);
                let what = format!("the text of task `{}`", self.id(t));
                self.error(span, PlanError::NulByte { what });
            }
        }
    }

    /// The innermost task whose item contains `offset`. `next` is how many
    /// tasks start at or before the last offset asked for: offsets asked
    /// for in document order step forward from there.
    fn task_at(&self, next: &mut usize, offset: usize) -> Option<usize> {
        let starts_by = |t: &Task| t.item().start <= offset;
        if *next > 0 && !starts_by(&self.tasks[*next - 1]) {
            *next = self.tasks.partition_point(starts_by);
        }
        while self.tasks.get(*next).is_some_and(starts_by) {
            *next += 1;
        }
        let mut t = next.checked_sub(1);
        while let Some(i) = t {
            if self.tasks[i].item().contains(&offset) {
                return Some(i);
            }
            t = self.tasks[i].parent();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Document {
        Document::parse(
            Source::new("t.md".into(), text.into(), 0),
            ReadOptions::default(),
        )
    }

    fn bodies(text: &str) -> Vec<String> {
        let doc = parse(text);
        (0..doc.tasks.len()).map(|t| doc.body(t)).collect()
    }

    #[test]
    fn a_text_as_written_is_not_copied() {
        let doc = parse(
            "- [ ] as written <!-- id: a -->\n- [ ]   \t  leading blanks\n\
             - [ ] two  spaces\n- [ ] a <!-- x --> comment inside\n",
        );
        let texts: Vec<&str> = (0..doc.tasks.len()).map(|t| doc.text(t)).collect();
        assert_eq!(
            texts,
            [
                "as written",
                "leading blanks",
                "two spaces",
                "a comment inside"
            ]
        );
        assert_eq!(doc.copied_texts, "two spacesa comment inside");
    }

    #[test]
    fn slug_ids_are_not_kept() {
        // Look-alikes (whose own slugs give way to ids with a heading in
        // front), twins, an `id` hint and a clashing dialect id: the
        // document keeps the dialect's ids as written, and how each slug id
        // is made, not the slug ids themselves.
        let doc = Document::parse(
            Source::new(
                "t.md".into(),
                "# Plan\n## Api\n- [ ] T001 Tests\n- [ ] Check\n\
                 ## Web\n- [ ] T001 Again\n- [ ] Check\n- [ ] Check\n- [ ] Same <!-- id: mine -->\n"
                    .into(),
                0,
            ),
            ReadOptions {
                dialect: Some(Dialect::Speckit),
            },
        );
        let ids: Vec<_> = doc.task_ids().collect();
        assert_eq!(
            ids,
            [
                "T001",
                "api/check",
                "t001-again",
                "web/check",
                "web/check-2",
                "mine"
            ]
        );
        assert_eq!(doc.ids.text, "T001T001");
        for (t, id) in ids.iter().enumerate() {
            assert_eq!(doc.task_by_id(id), Some(t));
        }
    }

    /// A 100,000-task plan holds 100,000 tasks: each byte here is 100 kB
    /// of its memory (issue 15's peak-RSS goal). Raise the budget only for a
    /// field that earns it.
    #[test]
    fn tasks_and_sections_stay_within_their_memory_budget() {
        // 40: subtasks found from the items (and the few a dialect adopts
        // by number), not linked through two indices here. 48: the
        // checkbox's line and column counted when asked for, not kept. 56:
        // the dialect's dependencies kept beside the tasks that have
        // them (an 8-byte list pointer here before). 64 before that: the
        // checkbox's length (always 3) and a flag in the text's place that
        // had 4 bytes of their own. 72 before that: the id, a 16-byte
        // pointer to a block of its own, gone to the document's one string
        // of ids.
        let task = std::mem::size_of::<Task>();
        assert!(task <= 40, "{task}");
        // Sections are fewer (one per heading), but a file may have 100,000
        // (a dry run of that many waves). 104: a section's tasks found from
        // the task list, not listed in it (112 before). 112: hints boxed
        // only when there are some (328 with them inline).
        let section = std::mem::size_of::<Section>();
        assert!(section <= 104, "{section}");
    }

    #[test]
    fn a_task_keeps_its_text_when_its_id_changes() {
        // Kiro's numbers are ids; a hint replaces one, a repeated one gives
        // way to a slug.
        let text = "- [ ] 1. Models <!-- id: m -->\n- [ ] 2. Wire é\n- [ ] 2. Again\n";
        let doc = Document::parse(
            Source::new("t.md".into(), text.into(), 0),
            ReadOptions {
                dialect: Some(Dialect::Kiro),
            },
        );
        let got: Vec<(String, &str)> = (doc.tasks.iter())
            .enumerate()
            .map(|(i, t)| (doc.id(i).into_owned(), doc.text_of(t)))
            .collect();
        assert_eq!(
            got,
            [
                ("m".to_owned(), "1. Models"),
                ("2".to_owned(), "2. Wire é"),
                ("2-again".to_owned(), "2. Again")
            ]
        );
    }

    #[test]
    fn comments_in_code_spans_stay_in_the_text() {
        let doc = parse("- [ ] x `<!-- id: nope -->` y <!-- id: real -->\n");
        assert_eq!(doc.text(0), "x `<!-- id: nope -->` y");
        assert_eq!(doc.id(0), "real");
    }

    #[test]
    fn a_kiro_subtask_depends_for_itself() {
        let doc = parse(
            "- [ ] 1. Models\n  - [ ] 1.1 Create models\n  - [ ] 1.2 Wire the API\n    - _Depends: 1.1_\n",
        );
        let deps: Vec<Vec<&str>> = (0..doc.tasks.len())
            .map(|t| doc.depends(t).iter().map(|d| d.value.as_str()).collect())
            .collect();
        assert_eq!(deps, [vec![], vec![], vec!["1.1"]]);
    }

    #[test]
    fn bodies_are_dedented_with_any_line_ending() {
        let want = "line one\n\n```sh\necho hi\n```";
        assert_eq!(
            bodies("- [ ] t\n  line one\n\n  ```sh\n  echo hi\n  ```\n"),
            [want]
        );
        assert_eq!(
            bodies("- [ ] t\r\n  line one\r\n\r\n  ```sh\r\n  echo hi\r\n  ```\r\n"),
            [want]
        );
        assert_eq!(
            bodies("- [ ] t\r  line one\r\r  ```sh\r  echo hi\r  ```\r"),
            [want]
        );
        assert_eq!(bodies("- [ ] no body"), [""]);
    }

    #[test]
    fn a_sections_tasks_are_one_range() {
        let doc = parse("- [ ] root\n# A\n- [ ] a1\n## A.1\n- [ ] a11\n# B\n- [ ] b1\n");
        for s in 0..doc.sections.len() {
            let want: Vec<usize> = (0..doc.tasks.len())
                .filter(|&t| doc.section_within(doc.tasks[t].section(), s))
                .collect();
            assert_eq!(
                doc.section_tasks(s).collect::<Vec<_>>(),
                want,
                "section {s}"
            );
        }
    }
}
