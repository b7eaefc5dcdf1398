//! The task file as bytes: decoding, BOM, line endings and offset → line:column.
//!
//! Takes the raw bytes of a file, hands on a `Source` whose `text` is what the
//! Markdown parser sees. Every span elsewhere is an offset into `text`; the BOM
//! length turns it back into an offset into the file. Never writes anything.

use std::path::{Path, PathBuf};

use crate::error::Error;

pub use crate::location::Span;

#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    /// The file's bytes after the BOM, known to be UTF-8.
    pub text: String,
    /// 3 when the file starts with a UTF-8 byte order mark, else 0.
    pub bom: usize,
    /// Line endings before each block of [`LINE_BLOCK`] bytes (`u32`: see
    /// [`MAX_TEXT`]).
    line_blocks: Vec<u32>,
    /// How many lines `text` has.
    lines: usize,
}

/// The line index counts line endings per block of this many bytes, not
/// where each line starts: 4 bytes a block, not 4 a line (17 MB for a
/// file of a million tasks). A line is then found by counting the endings
/// in at most one block, which memchr does in well under a microsecond;
/// where a line starts, by looking back to the last ending (as far as a
/// column count reads anyway).
const LINE_BLOCK: usize = 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The most bytes read from a task file: far more than any plan (a
/// 100,000-task plan is a few MB), and a bound on what `/dev/zero` or an
/// endless pipe can cost.
pub const MAX_BYTES: u64 = 64 << 20;

/// The longest text a `Source` holds, however it was made: every position
/// in it (offset, length, line, column) then fits the `u32`s a [`Span`] and
/// the line index keep it in. Far past [`MAX_BYTES`], so a file read for
/// the command line always fits; bytes from elsewhere (read again during a
/// run, from git, the parse benchmark's 133 MB file) are checked against it.
pub const MAX_TEXT: u64 = u32::MAX as u64 - 1;
const _: () = assert!(MAX_BYTES < MAX_TEXT);

impl Source {
    /// Reads a task file, with an error for people when it is missing, a
    /// directory, unreadable, larger than [`MAX_BYTES`] or not UTF-8. A pipe
    /// or FIFO is read to its end (`run-batch plan <(…)`), never past the cap.
    pub fn read(path: &Path) -> Result<Source, Error> {
        use std::io::Read as _;
        let io = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Err(Error::IsDirectory {
                path: path.to_owned(),
            });
        }
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::with_capacity(meta.len().min(MAX_BYTES) as usize);
        file.take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        too_big(path, bytes.len(), MAX_BYTES)?;
        Source::from_bytes(path, bytes)
    }

    /// A task file's bytes, with an error for people when they are not
    /// UTF-8 or longer than [`MAX_TEXT`].
    pub fn from_bytes(path: &Path, mut bytes: Vec<u8>) -> Result<Source, Error> {
        too_big(path, bytes.len(), MAX_TEXT)?;
        let bom = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
        // In place: `split_off(0)` would copy the whole file (13 MB for
        // 100,000 tasks) into a second buffer.
        bytes.drain(..bom);
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = 1 + bytes[..valid].iter().filter(|&&b| b == b'\n').count();
            let line_start = bytes[..valid]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let column = 1 + String::from_utf8_lossy(&bytes[line_start..valid])
                .chars()
                .count();
            Error::NotUtf8 {
                path: path.to_owned(),
                line,
                column,
                byte: bom + valid,
            }
        })?;
        Ok(Source::new(path.to_owned(), text, bom))
    }

    /// A source of text known to be at most [`MAX_TEXT`] long (panics
    /// otherwise: bytes from outside go through [`Source::from_bytes`],
    /// which says so as an error).
    pub fn new(path: PathBuf, text: String, bom: usize) -> Source {
        assert!(
            text.len() as u64 <= MAX_TEXT,
            "a task file over MAX_TEXT: {} bytes",
            text.len()
        );
        let bytes = text.as_bytes();
        // Endings counted in the block after theirs, then summed: each
        // block's count is of the endings before it.
        let mut line_blocks = vec![0u32; text.len() / LINE_BLOCK + 1];
        let mut lines = 1;
        for i in line_endings(bytes, 0, bytes.len()) {
            lines += 1;
            if let Some(after) = line_blocks.get_mut(i / LINE_BLOCK + 1) {
                *after += 1;
            }
        }
        let mut sum = 0;
        for count in &mut line_blocks {
            sum += *count;
            *count = sum;
        }
        Source {
            path,
            text,
            bom,
            line_blocks,
            lines,
        }
    }

    /// The span of `len` bytes at `offset`, with its line and column.
    pub fn span(&self, offset: usize, len: usize) -> Span {
        let (line_index, start) = self.locate(offset);
        self.span_on(line_index, start, offset, len)
    }

    /// The span at `offset` for offsets asked for mostly in document
    /// order: the lines are counted on from `cursor`'s last offset when it
    /// is near, else found from the block index.
    pub(crate) fn span_after(&self, cursor: &mut SpanCursor, offset: usize, len: usize) -> Span {
        let at = offset.min(self.text.len());
        if at >= cursor.offset && at - cursor.offset <= 2 * LINE_BLOCK {
            for i in line_endings(self.text.as_bytes(), cursor.offset, at) {
                cursor.line += 1;
                cursor.start = i + 1;
            }
        } else {
            (cursor.line, cursor.start) = self.locate(at);
        }
        cursor.offset = at;
        self.span_on(cursor.line, cursor.start, offset, len)
    }

    fn span_on(&self, line_index: usize, start: usize, offset: usize, len: usize) -> Span {
        let before = &self.text[start..offset.min(self.text.len())];
        Span::new(offset, len, line_index + 1, 1 + chars_in(before))
    }

    /// The 0-based line `offset` is on, and where that line starts.
    fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let bytes = self.text.as_bytes();
        let block = offset / LINE_BLOCK;
        let from = block * LINE_BLOCK;
        let mut line = self.line_blocks[block] as usize;
        let mut start = None;
        for i in line_endings(bytes, from, offset) {
            line += 1;
            start = Some(i + 1);
        }
        (
            line,
            start.unwrap_or_else(|| line_start_before(bytes, from)),
        )
    }

    /// Where 0-based line `line` starts (the text's end past the last).
    fn line_start(&self, line: usize) -> usize {
        if line == 0 {
            return 0;
        }
        // The last block with fewer endings before it than `line`: the
        // ending before the line is in it (the next block has `line` or
        // more before it).
        let block = self.line_blocks.partition_point(|&n| (n as usize) < line) - 1;
        let need = line - self.line_blocks[block] as usize;
        let bytes = self.text.as_bytes();
        line_endings(bytes, block * LINE_BLOCK, bytes.len())
            .nth(need - 1)
            .map_or(bytes.len(), |i| i + 1)
    }

    /// The text of 1-based `line` without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        if line == 0 || line > self.lines {
            return "";
        }
        let start = self.line_start(line - 1);
        &self.text[start..self.line_end(start)]
    }

    /// Offset of the end of the line containing `offset`, before its line
    /// ending (LF, CRLF, or a CR alone, as CommonMark has it).
    pub fn line_end(&self, offset: usize) -> usize {
        let rest = &self.text.as_bytes()[offset..];
        offset + memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len())
    }

    /// Where the task file's own bytes are, for edits: offset in the file.
    pub fn file_offset(&self, offset: usize) -> usize {
        self.bom + offset
    }

    pub fn display_path(&self) -> String {
        self.path.display().to_string()
    }
}

/// `TooBig` when `len` bytes are more than `limit`.
fn too_big(path: &Path, len: usize, limit: u64) -> Result<(), Error> {
    if len as u64 > limit {
        return Err(Error::TooBig {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(())
}

/// Where [`Source::span_after`] was last: an offset, its 0-based line and
/// where that line starts.
#[derive(Debug, Default)]
pub(crate) struct SpanCursor {
    offset: usize,
    line: usize,
    start: usize,
}

/// The line endings in `bytes[from..to]`, as offsets in `bytes`: each LF,
/// and each CR not followed by an LF (a line ending too, for CommonMark
/// and so for the Markdown parser, whose line numbers ours must match).
fn line_endings(bytes: &[u8], from: usize, to: usize) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr2_iter(b'\n', b'\r', &bytes[from..to])
        .map(move |i| from + i)
        .filter(|&i| bytes[i] == b'\n' || bytes.get(i + 1) != Some(&b'\n'))
}

/// Where the line holding byte `at` starts, when no line ends from `at`
/// on before it: after the last ending before `at`.
fn line_start_before(bytes: &[u8], at: usize) -> usize {
    let mut end = at;
    while let Some(i) = memchr::memrchr2(b'\n', b'\r', &bytes[..end]) {
        // A CR whose LF is at `at` ends no line: that LF does.
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            end = i;
            continue;
        }
        return i + 1;
    }
    0
}

/// How many chars `s` holds (its width in columns, as spans count them):
/// its length when it is ASCII, as it mostly is.
pub(super) fn chars_in(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let s = Source::new("t.md".into(), "é\n- [ ] ñx\n".into(), 0);
        let off = s.text.find('x').unwrap();
        let span = s.span(off, 1);
        assert_eq!((span.line(), span.column()), (2, 8));
    }

    #[test]
    fn invalid_utf8_is_located() {
        let err = Source::from_bytes(Path::new("t.md"), b"ok\nab\xFFc".to_vec()).unwrap_err();
        match err {
            Error::NotUtf8 {
                line, column, byte, ..
            } => assert_eq!((line, column, byte), (2, 3, 5)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bytes_past_what_a_span_holds_are_an_error() {
        // As `from_bytes` checks them (4 GiB of bytes would be too many
        // for a test to make).
        let path = Path::new("t.md");
        assert!(too_big(path, MAX_TEXT as usize, MAX_TEXT).is_ok());
        let err = too_big(path, MAX_TEXT as usize + 1, MAX_TEXT).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TooBig {
                    limit: MAX_TEXT,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_span_is_four_u32s() {
        assert_eq!(std::mem::size_of::<Span>(), 16);
    }

    #[test]
    fn bom_is_kept_out_of_text() {
        let s = Source::from_bytes(Path::new("t.md"), b"\xEF\xBB\xBF- [ ] a".to_vec()).unwrap();
        assert_eq!(s.bom, 3);
        assert_eq!(s.text, "- [ ] a");
        assert_eq!(s.file_offset(3), 6);
    }

    #[test]
    fn a_lone_cr_ends_a_line() {
        let s = Source::new("t.md".into(), "- [ ] a\r- [ ] b\r\nc".into(), 0);
        assert_eq!(s.line_end(0), 7);
        assert_eq!(s.line_text(2), "- [ ] b");
        let b = s.text.find('b').unwrap();
        assert_eq!((s.span(b, 1).line(), s.span(b, 1).column()), (2, 7));
        assert_eq!(s.span(s.text.len() - 1, 1).line(), 3);
    }

    #[test]
    fn a_cursor_finds_what_a_search_finds() {
        let text: String = (0..300)
            .map(|i| format!("{}é line {i}\r\n", " ".repeat(i % 7)))
            .collect::<String>()
            + "a\rb\n\nlast";
        let s = Source::new("t.md".into(), text.clone(), 0);
        let mut offsets: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .step_by(3)
            .collect();
        // Forward in small and large steps, then backwards.
        offsets.extend([text.len() / 2, 5, text.len(), 0, 1000]);
        let mut cursor = SpanCursor::default();
        for &o in &offsets {
            assert_eq!(s.span_after(&mut cursor, o, 2), s.span(o, 2), "offset {o}");
        }
    }

    #[test]
    fn the_block_index_finds_every_line_a_list_of_starts_finds() {
        // Endings of every kind on and around block edges, lines longer
        // than a block, and a file ending in each kind of ending.
        let mut rng = 7u64;
        let mut next = |n: u64| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) % n
        };
        for round in 0..40 {
            let mut text = String::new();
            while text.len() < 5 * LINE_BLOCK {
                let word = ["a", "é", "\n", "\r", "\r\n", "\n\n"][next(6) as usize];
                let run = if next(50) == 0 {
                    1500
                } else {
                    next(40) as usize
                };
                text.push_str(&"x".repeat(run));
                text.push_str(word);
            }
            text.push_str(["", "\n", "\r", "\r\n"][round % 4]);
            let bytes = text.as_bytes();
            let starts: Vec<usize> = std::iter::once(0)
                .chain(
                    (0..bytes.len())
                        .filter(|&i| {
                            bytes[i] == b'\n'
                                || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
                        })
                        .map(|i| i + 1),
                )
                .collect();
            let s = Source::new("t.md".into(), text.clone(), 0);
            assert_eq!(s.lines, starts.len());
            let mut cursor = SpanCursor::default();
            for o in (0..=text.len()).filter(|&o| text.is_char_boundary(o)) {
                let line = starts.partition_point(|&st| st <= o) - 1;
                let column = 1 + text[starts[line]..o].chars().count();
                let span = s.span(o, 1);
                assert_eq!(
                    (span.line(), span.column()),
                    (line + 1, column),
                    "offset {o}"
                );
                assert_eq!(s.span_after(&mut cursor, o, 1), span, "offset {o}");
            }
            for (line, &start) in starts.iter().enumerate() {
                let end = starts.get(line + 1).copied().unwrap_or(text.len());
                let want = text[start..end].trim_end_matches(['\n', '\r']);
                assert_eq!(s.line_text(line + 1), want, "line {}", line + 1);
            }
        }
    }

    #[test]
    fn line_end_stops_before_crlf() {
        let s = Source::new("t.md".into(), "ab\r\ncd".into(), 0);
        assert_eq!(s.line_end(0), 2);
        assert_eq!(s.line_end(4), 6);
        assert_eq!(s.line_text(1), "ab");
    }
}
