//! Places in a task file: a byte span with its line and column, a location
//! with the line's text (for a caret under it), and a warning at one. Shared
//! by the reader, the planner and every error; depends on nothing else in
//! the crate, so neither errors nor the reader import each other for it.

use std::path::PathBuf;

/// Byte offset and length in `Source::text`, with the 1-based line and column
/// (in characters) of its start, so errors and edits share one description.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub column: usize,
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
