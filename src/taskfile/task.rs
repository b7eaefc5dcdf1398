//! One task item as the document keeps it: its id and text, where it is,
//! its place among tasks and sections, its hints. Takes what `Document`
//! builds; hands on small reads (`id()`, `text()`, `item()`, …). Never reads
//! the file's text: bodies are `Document`'s.

use thin_vec::ThinVec;

use crate::location::narrow;
use crate::taskfile::{IdSource, Source, Span, Spanned, TaskHints};

/// One task item. A plan of 100,000 tasks holds 100,000 of these, so it is
/// kept small (80 bytes, tested): positions as `u32`s (see
/// `source::MAX_TEXT`), the id and text in one heap block, lists that are mostly
/// empty as `ThinVec`s (8 bytes, nothing allocated when empty).
pub struct Task {
    /// The id, then the text: one exact-size block for the two.
    pub(super) names: Box<str>,
    /// Where the id ends in `names`.
    pub(super) id_len: u32,
    pub id_source: IdSource,
    /// The checkbox `[ ]`: its span starts at the `[`.
    pub checkbox: Span,
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
    pub children: ThinVec<usize>,
    pub hints: TaskHints,
    /// Dependencies written in the dialect's prose, with their spans.
    pub depends: ThinVec<Spanned<String>>,
}

/// `Task::parent` of a task at the top of its section (a task index never
/// gets there: a task takes at least 6 bytes of a text of at most 4 GiB).
pub(super) const NO_PARENT: u32 = u32::MAX;

impl Task {
    /// Its id: the `id` hint, else the dialect's id, else a slug.
    pub fn id(&self) -> &str {
        &self.names[..self.id_len as usize]
    }

    /// The rest of the checkbox's line without `<!-- -->` comments, runs of
    /// white space collapsed to one space.
    pub fn text(&self) -> &str {
        &self.names[self.id_len as usize..]
    }

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

    pub(super) fn set_parent(&mut self, parent: usize) {
        self.parent = narrow(parent);
    }

    /// Gives the task `id`, its text kept (in a new block of the exact
    /// size: cheaper than growing the old one in place and moving the text).
    pub(super) fn set_id(&mut self, id: &str) {
        (self.names, self.id_len) = names(id, self.text());
    }

    /// The byte that says whether the task is done, as an offset in the file.
    pub fn state_offset(&self, source: &Source) -> usize {
        source.file_offset(self.checkbox.offset() + 1)
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("id_source", &self.id_source)
            .field("checkbox", &self.checkbox)
            .field("checked", &self.checked)
            .field("optional", &self.optional)
            .field("text", &self.text())
            .field("item", &self.item())
            .field("section", &self.section())
            .field("parent", &self.parent())
            .field("children", &self.children)
            .field("hints", &self.hints)
            .field("parallel_mark", &self.parallel_mark)
            .field("depends", &self.depends)
            .finish()
    }
}

/// A task's `names` block for `id` and `text`, and where the id ends in it.
pub(super) fn names(id: &str, text: impl AsRef<str> + Into<Box<str>>) -> (Box<str>, u32) {
    if id.is_empty() {
        // The text's own block, kept as it is.
        return (text.into(), 0);
    }
    let text = text.as_ref();
    let mut names = String::with_capacity(id.len() + text.len());
    names.push_str(id);
    names.push_str(text);
    (names.into_boxed_str(), narrow(id.len()))
}
