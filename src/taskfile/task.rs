//! One task item as the document keeps it: where its text is, where it
//! is, its place among tasks and sections, its hints; and its subtasks,
//! found from the tasks' items and parents. Takes what `Document` builds;
//! hands on small reads (`item()`, `parent()`, …) and `Children`. Never
//! reads the file's text: ids, texts and bodies are `Document`'s.

use crate::location::narrow;
use crate::taskfile::{IdSource, Source, TaskHints};

/// One task item. A plan of 100,000 tasks holds 100,000 of these, so it is
/// kept small (40 bytes, tested): positions as `u32`s (see
/// `source::MAX_TEXT`), the text where it is written (most texts are the
/// line as written: no copy), the id in the document's string of ids
/// (`Document::id`), subtasks found from the items, not linked
/// ([`Children`]), hints boxed only when there are some, and the dialect's
/// dependencies beside the tasks that have them (`Document::depends`).
pub struct Task {
    /// Where the text is (see [`TextAt`]).
    pub(super) text: TextAt,
    pub id_source: IdSource,
    /// Where the checkbox's `[` is (its span is always 3 bytes long); its
    /// line and column are counted when asked for (`Document::checkbox`),
    /// not kept: 8 bytes a task, read by few.
    pub(super) checkbox_at: u32,
    pub checked: bool,
    pub optional: bool,
    /// The dialect's `[P]` / `(P)` marker.
    pub parallel_mark: bool,
    /// The list item's byte range in `Source::text` (see [`Task::item`]).
    pub(super) item_start: u32,
    pub(super) item_end: u32,
    pub(super) section: u32,
    /// The parent task, or [`NO_PARENT`].
    pub(super) parent: u32,
    pub hints: TaskHints,
}

/// `Task::parent` of a task at the top of its section (a task index never
/// gets there: a task takes at least 6 bytes of a text of at most 4 GiB).
pub(super) const NO_PARENT: u32 = u32::MAX;

impl Task {
    /// The list item's byte range in `Source::text`; its body (everything
    /// after the checkbox's line) is read from there on demand
    /// (`Document::body`), never stored: a parent's body holds its
    /// subtasks, so stored bodies cost the square of the nesting depth.
    pub fn item(&self) -> std::ops::Range<usize> {
        self.item_start as usize..self.item_end as usize
    }

    /// The section it is in: the last heading before it.
    pub fn section(&self) -> usize {
        self.section as usize
    }

    /// The task it is a subtask of.
    pub fn parent(&self) -> Option<usize> {
        (self.parent != NO_PARENT).then_some(self.parent as usize)
    }

    /// Where the checkbox's `[` is, as an offset in `Source::text`; its
    /// span is `Document::checkbox`.
    pub fn checkbox_offset(&self) -> usize {
        self.checkbox_at as usize
    }

    pub(super) fn set_parent(&mut self, parent: usize) {
        self.parent = narrow(parent);
    }

    /// The byte that says whether the task is done, as an offset in the file.
    pub fn state_offset(&self, source: &Source) -> usize {
        source.file_offset(self.checkbox_at as usize + 1)
    }
}

/// A task's subtasks, in document order (see `Document::children`).
///
/// A task's parent is the last task before it whose item holds its start,
/// unless the dialect adopted it by its number (`Adopted`), and only a
/// sibling adopts. So the subtasks of `p` are the tasks that start inside
/// `p`'s item but inside no other of those items, whose parent is still
/// `p` (one look each, skipping each one's own item: what starts inside it
/// is its, adopted or not), then the ones `p` adopted, which all start
/// after its item.
#[derive(Clone)]
pub struct Children<'a> {
    tasks: &'a [Task],
    parent: u32,
    /// The end of the parent's item.
    end: u32,
    /// The next task that may start inside the parent's item.
    next: usize,
    adopted: &'a [u32],
}

impl<'a> Children<'a> {
    /// The subtasks of `tasks[t]`.
    #[inline]
    pub(super) fn of(tasks: &'a [Task], adopted: &'a Adopted, t: usize) -> Children<'a> {
        Children {
            tasks,
            parent: narrow(t),
            end: tasks[t].item_end,
            next: t + 1,
            adopted: adopted.by(t),
        }
    }
}

impl Iterator for Children<'_> {
    type Item = usize;

    // Inlined, as the links it replaces were read: every pass over the
    // tasks asks each one for its subtasks.
    #[inline]
    fn next(&mut self) -> Option<usize> {
        while let Some(task) = (self.tasks.get(self.next)).filter(|c| c.item_start < self.end) {
            let c = self.next;
            self.next = after_item(self.tasks, c);
            if task.parent == self.parent {
                return Some(c);
            }
        }
        let (&c, rest) = self.adopted.split_first()?;
        self.adopted = rest;
        Some(c as usize)
    }
}

/// The first task after `tasks[t]` that does not start inside its item
/// (tasks are in document order: the ones that do follow it): one look for
/// a task without subtasks.
#[inline]
fn after_item(tasks: &[Task], t: usize) -> usize {
    let end = tasks[t].item_end;
    match tasks.get(t + 1) {
        Some(next) if next.item_start < end => after_inside(&tasks[t + 1..], end) + t + 1,
        _ => t + 1,
    }
}

/// How many of `rest` start before `end`. Searched doubling from the
/// start, not across the list: `2 log k` looks for `k`, so walking a
/// parent's subtasks stays linear in them however wide or deep.
#[inline(never)]
fn after_inside(rest: &[Task], end: u32) -> usize {
    let inside = |c: &Task| c.item_start < end;
    // `rest[..known]` start inside.
    let (mut known, mut step) = (0, 1);
    loop {
        let upto = (known + step).min(rest.len());
        if upto == known || !inside(&rest[upto - 1]) {
            return known + rest[known..upto].partition_point(inside);
        }
        known = upto;
        step *= 2;
    }
}

/// The tasks a dialect gave a parent by their numbers, not their items
/// (`dialect::adopt_by_number`: Kiro's `1.1` under `1.` without an
/// indent). Kept apart from the tasks: few files have any.
#[derive(Debug, Default)]
pub(super) struct Adopted {
    /// The adopted tasks, by parent, each parent's in document order.
    tasks: Vec<u32>,
    /// Per 64 tasks, a bit for each that adopted some, and how many
    /// before them did: a parent's rank, found without a search.
    parents: Vec<(u64, u32)>,
    /// Where each parent's run of `tasks` starts, by rank, and the end.
    starts: Vec<u32>,
}

impl Adopted {
    /// `adopted`, in document order: tasks whose parent in `tasks` is not
    /// the task their item is inside.
    pub(super) fn new(tasks: &[Task], adopted: Vec<u32>) -> Adopted {
        if adopted.is_empty() {
            return Adopted::default();
        }
        let parent = |c: u32| tasks[c as usize].parent as usize;
        let mut parents = vec![(0u64, 0u32); tasks.len().div_ceil(64)];
        for &c in &adopted {
            parents[parent(c) / 64].0 |= 1 << (parent(c) % 64);
        }
        let mut before = 0;
        for (bits, rank) in &mut parents {
            *rank = before;
            before += bits.count_ones();
        }
        let mut by = Adopted {
            tasks: vec![0; adopted.len()],
            parents,
            starts: vec![0; before as usize + 1],
        };
        // Sorted by parent by counting (linear, and each parent's stay in
        // document order): each run's length, then its start, then each
        // task placed at its run's cursor, which leaves each cursor at the
        // next run's start.
        for &c in &adopted {
            let r = by.rank(parent(c));
            by.starts[r + 1] += 1;
        }
        for r in 1..by.starts.len() {
            by.starts[r] += by.starts[r - 1];
        }
        for &c in &adopted {
            let r = by.rank(parent(c));
            by.tasks[by.starts[r] as usize] = c;
            by.starts[r] += 1;
        }
        by.starts.rotate_right(1);
        by.starts[0] = 0;
        by
    }

    /// Whether `p` adopted some.
    #[inline]
    pub(super) fn adopts(&self, p: usize) -> bool {
        (self.parents.get(p / 64)).is_some_and(|&(bits, _)| bits >> (p % 64) & 1 != 0)
    }

    /// How many tasks before `p`, which adopted some, adopted some.
    fn rank(&self, p: usize) -> usize {
        let (bits, before) = self.parents[p / 64];
        (before + (bits & ((1 << (p % 64)) - 1)).count_ones()) as usize
    }

    /// The tasks `p` adopted, in document order.
    #[inline]
    fn by(&self, p: usize) -> &[u32] {
        if !self.adopts(p) {
            return &[];
        }
        let rank = self.rank(p);
        &self.tasks[self.starts[rank] as usize..self.starts[rank + 1] as usize]
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("id_source", &self.id_source)
            .field("checkbox_at", &self.checkbox_at)
            .field("checked", &self.checked)
            .field("optional", &self.optional)
            .field("text", &self.text)
            .field("item", &self.item())
            .field("section", &self.section())
            .field("parent", &self.parent())
            .field("hints", &self.hints)
            .field("parallel_mark", &self.parallel_mark)
            .finish()
    }
}

/// Where a task's text is: a range of the file's text when the text is
/// the line as written (most are), else of the document's texts that
/// differ from their line (a comment inside, white space collapsed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct TextAt {
    start: u32,
    /// The length, with [`COPIED`] set for a range of the document's
    /// copies, not the file's text (8 bytes, not 12, in every task).
    len: u32,
}

/// A text's length is below `source::MAX_TEXT` (under 2^32), and kept
/// below half that (`TextAt::new` cuts a longer one): the top bit is free
/// to say where it is.
const COPIED: u32 = 1 << 31;

impl TextAt {
    /// `text` as written at byte `start` of `file` (after white space)
    /// when it is that, else as a copy appended to `copies`.
    pub(super) fn new(text: &str, start: usize, file: &str, copies: &mut String) -> TextAt {
        let rest = &file[start..];
        let start = start + (rest.len() - rest.trim_start().len());
        // Only a text of 2 GiB or more on one line (bytes read past the
        // command line's 64 MiB cap) is cut short here, at a character.
        let mut cut = text.len().min(COPIED as usize - 1);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = &text[..cut];
        let len = narrow(cut);
        if file.get(start..start + text.len()) == Some(text) {
            return TextAt {
                start: narrow(start),
                len,
            };
        }
        let at = copies.len();
        copies.push_str(text);
        TextAt {
            start: narrow(at),
            len: len | COPIED,
        }
    }

    /// The same text, a copy's place moved `by` bytes on (copies made
    /// apart, then appended to others).
    pub(super) fn copy_moved(self, by: usize) -> TextAt {
        if self.len & COPIED == 0 {
            return self;
        }
        TextAt {
            start: narrow(self.start as usize + by),
            ..self
        }
    }

    /// Where the text starts, found without reading it (slicing reads its
    /// first byte), for [`crate::memory::prefetch`].
    pub(super) fn as_ptr(self, file: &str, copies: &str) -> *const u8 {
        let from = if self.len & COPIED != 0 { copies } else { file };
        from.as_ptr().wrapping_add(self.start as usize)
    }

    /// The text, from the file's text or the copies.
    pub(super) fn get<'a>(self, file: &'a str, copies: &'a str) -> &'a str {
        let from = if self.len & COPIED != 0 { copies } else { file };
        let start = self.start as usize;
        &from[start..start + (self.len & !COPIED) as usize]
    }
}

#[cfg(test)]
mod tests {
    use crate::taskfile::{Dialect, Document, ReadOptions, Source};

    fn parse(text: &str, dialect: Dialect) -> Document {
        Document::parse(
            Source::new("t.md".into(), text.into(), 0),
            ReadOptions {
                dialect: Some(dialect),
            },
        )
    }

    /// Every task's subtasks, checked against their definition (the tasks
    /// whose parent it is, in order), as ids.
    fn children(doc: &Document) -> Vec<(String, Vec<String>)> {
        (0..doc.tasks.len())
            .map(|p| {
                let want: Vec<usize> = (0..doc.tasks.len())
                    .filter(|&c| doc.tasks[c].parent() == Some(p))
                    .collect();
                assert_eq!(doc.children(p).collect::<Vec<_>>(), want, "task {p}");
                assert_eq!(doc.has_children(p), !want.is_empty(), "task {p}");
                let ids: Vec<String> = want.iter().map(|&c| doc.id(c).into_owned()).collect();
                (doc.id(p).into_owned(), ids)
            })
            .filter(|(_, c)| !c.is_empty())
            .collect()
    }

    #[test]
    fn a_text_is_found_without_reading_it_where_reading_finds_it() {
        // As written, and copied (white space collapsed, a comment cut).
        let doc = parse(
            "- [ ] Plain text\n- [ ] Two  spaces <!-- a note --> here\n",
            Dialect::Native,
        );
        let file = doc.source.text.as_bytes().as_ptr_range();
        for t in 0..doc.tasks.len() {
            let at = doc.tasks[t]
                .text
                .as_ptr(&doc.source.text, &doc.copied_texts);
            assert_eq!(at, doc.text(t).as_ptr(), "task {t}");
            assert_eq!(file.contains(&at), t == 0, "task {t}");
        }
    }

    #[test]
    fn subtasks_adopted_by_number_come_after_the_nested_ones() {
        // `1.2` and `2.1` are not inside their parents' items; `3.1.1` is
        // inside `3.`'s, beside `3.1`, whose it becomes; `3.2` is nested.
        let doc = parse(
            "- [ ] 1. Models\n\
             - [ ] 1.1 Create\n\
             \x20 - [ ] Detail of 1.1\n\
             - [ ] 2. Wire\n\
             - [ ] 1.2 Late\n\
             \x20 - [ ] 1.2.1 Nested in 1.2\n\
             - [ ] 2.1 Of two\n\
             - [ ] 3. Three\n\
             \x20 - [ ] 3.1 Nested\n\
             \x20 - [ ] 3.1.1 Beside 3.1\n\
             \x20 - [ ] 3.2 Nested too\n\
             - [ ] 3.3 Adopted\n",
            Dialect::Kiro,
        );
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            children(&doc),
            [
                ("1".into(), s(&["1.1", "1.2"])),
                ("1.1".into(), s(&["detail-of-1-1"])),
                ("2".into(), s(&["2.1"])),
                ("1.2".into(), s(&["1.2.1"])),
                ("3".into(), s(&["3.1", "3.2", "3.3"])),
                ("3.1".into(), s(&["3.1.1"])),
            ]
        );
    }

    #[test]
    fn subtasks_of_deep_and_wide_nesting() {
        let mut text = String::from("# Deep\n\n");
        for i in 0..2000 {
            text.push_str(&format!("{}- [ ] level {i}\n", "  ".repeat(i)));
        }
        text.push_str("# Wide\n\n- [ ] parent\n");
        for i in 0..3000 {
            text.push_str(&format!("  - [ ] child {i}\n"));
            if i % 7 == 0 {
                text.push_str("    - [ ] grandchild\n\n      body\n");
            }
        }
        let doc = parse(&text, Dialect::Native);
        for t in 0..1999 {
            assert_eq!(doc.children(t).collect::<Vec<_>>(), [t + 1]);
        }
        assert!(!doc.has_children(1999));
        let wide: Vec<usize> = doc.children(2000).collect();
        assert_eq!(wide.len(), 3000);
        for (i, &c) in wide.iter().enumerate() {
            assert_eq!(doc.tasks[c].parent(), Some(2000));
            let grandchildren: Vec<usize> = doc.children(c).collect();
            assert_eq!(grandchildren, if i % 7 == 0 { vec![c + 1] } else { vec![] });
        }
    }
}
