//! Places in a task file: a byte span with its line and column, a location
//! with the line's text (for a caret under it), and a warning at one. Shared
//! by the reader, the planner and every error; depends on nothing else in
//! the crate, so neither errors nor the reader import each other for it.

use std::path::PathBuf;

/// Byte offset and length in `Source::text`, with the 1-based line and column
/// (in characters) of its start, so errors and edits share one description.
///
/// Held as `u32`s (16 bytes, not 32: a plan holds several per task and
/// hint): a `Source`'s text is at most `MAX_TEXT` (4 GiB, checked by
/// every way a `Source` is made), so offsets, lengths, lines and columns
/// all fit. Read as `usize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    offset: u32,
    len: u32,
    line: u32,
    column: u32,
}

impl Span {
    pub fn new(offset: usize, len: usize, line: usize, column: usize) -> Span {
        Span {
            offset: narrow(offset),
            len: narrow(len),
            line: narrow(line),
            column: narrow(column),
        }
    }

    /// The byte offset of its start.
    pub fn offset(&self) -> usize {
        self.offset as usize
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The 1-based line of its start.
    pub fn line(&self) -> usize {
        self.line as usize
    }

    /// The 1-based column of its start, in characters.
    pub fn column(&self) -> usize {
        self.column as usize
    }
}

/// A position in a task file as a `u32`: it fits, as a `Source` refuses
/// longer texts; saturated, never wrapped, if a caller ever hands a larger
/// one.
pub(crate) fn narrow(n: usize) -> u32 {
    debug_assert!(n <= u32::MAX as usize, "a position past 4 GiB: {n}");
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Where in a task file something is, with the line's text for the caret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub span: Span,
    pub line_text: String,
}

/// Something in a task file that works but deserves a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub at: Location,
    pub message: String,
}
