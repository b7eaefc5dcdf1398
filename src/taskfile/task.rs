//! One task item as the document keeps it: where its text is, where it
//! is, its place among tasks and sections, its hints. Takes what
//! `Document` builds; hands on small reads (`item()`, `parent()`, …).
//! Never reads the file's text: ids, texts and bodies are `Document`'s.

use crate::location::narrow;
use crate::taskfile::{IdSource, Source, TaskHints};

/// One task item. A plan of 100,000 tasks holds 100,000 of these, so it is
/// kept small (56 bytes, tested): positions as `u32`s (see
/// `source::MAX_TEXT`), the text where it is written (most texts are the
/// line as written: no copy), the id in the document's string of ids
/// (`Document::id`), subtasks as links, hints boxed only when there are
/// some, and the dialect's dependencies beside the tasks that have them
/// (`Document::depends`).
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
    /// The first subtask, and the next subtask of the same parent, or
    /// [`NO_TASK`]: subtasks are linked through the tasks themselves, not
    /// listed in a block per parent (see `Document::children`).
    pub(super) first_child: u32,
    pub(super) next_sibling: u32,
    pub hints: TaskHints,
}

/// `Task::parent` of a task at the top of its section (a task index never
/// gets there: a task takes at least 6 bytes of a text of at most 4 GiB).
pub(super) const NO_PARENT: u32 = u32::MAX;
/// No first subtask, or no next one.
pub(super) const NO_TASK: u32 = u32::MAX;

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

    /// Whether it has subtasks.
    pub fn has_children(&self) -> bool {
        self.first_child != NO_TASK
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
#[derive(Clone)]
pub struct Children<'a> {
    tasks: &'a [Task],
    next: u32,
}

impl<'a> Children<'a> {
    /// The subtasks of `tasks[t]`.
    pub(super) fn of(tasks: &'a [Task], t: usize) -> Children<'a> {
        Children {
            tasks,
            next: tasks[t].first_child,
        }
    }
}

impl Iterator for Children<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let t = self.next;
        (t != NO_TASK).then(|| {
            self.next = self.tasks[t as usize].next_sibling;
            t as usize
        })
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
            .field("first_child", &self.first_child)
            .field("next_sibling", &self.next_sibling)
            .field("hints", &self.hints)
            .field("parallel_mark", &self.parallel_mark)
            .finish()
    }
}

/// Where a task's text is: a range of the file's text when the text is
/// the line as written (most are), else of the document's texts that
/// differ from their line (a comment inside, white space collapsed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
