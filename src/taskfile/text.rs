//! A task's words from the source: the text on its checkbox's line
//! (comments out, white space collapsed) and its body (the item's further
//! lines, dedented). Takes the source and byte offsets; hands on strings.
//! Never stores them: bodies are read when asked for.

use crate::taskfile::Source;
use crate::taskfile::scan::{Items, RawItem};
use crate::taskfile::source::chars_in;
use crate::taskfile::task::TextAt;

/// Each item's text, in order, and the copies of those that differ from
/// their line. The shares of a text scanned on threads are read on threads
/// too, into their parts of one list sized first (a list grown by doubling
/// leaves its smaller copies behind, 8 MB at a million tasks).
pub(super) fn texts(source: &Source, items: &Items) -> (Vec<TextAt>, String) {
    let mut texts = vec![TextAt::default(); items.len()];
    let shares = items.shares();
    let mut parts = Vec::with_capacity(shares.len());
    let mut rest = texts.as_mut_slice();
    for share in shares {
        let (part, after) = rest.split_at_mut(share.len());
        parts.push(part);
        rest = after;
    }
    let copies = if shares.len() < 2 {
        let mut copies = String::new();
        for (share, part) in shares.iter().zip(parts) {
            texts_into(source, share, part, &mut copies);
        }
        copies
    } else {
        let shares_copies: Vec<String> = std::thread::scope(|scope| {
            let threads: Vec<_> = (shares.iter().zip(parts))
                .map(|(share, part)| {
                    scope.spawn(move || {
                        let mut copies = String::new();
                        texts_into(source, share, part, &mut copies);
                        copies
                    })
                })
                .collect();
            (threads.into_iter())
                .map(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        // Each share's copies after the ones before it, on the first's
        // (not all in a new string while every share's is held).
        let mut shares_copies = shares_copies.into_iter();
        let mut all = shares_copies.next().unwrap_or_default();
        let mut at = shares[0].len();
        for (share, copies) in shares[1..].iter().zip(shares_copies) {
            for text in &mut texts[at..at + share.len()] {
                *text = text.copy_moved(all.len());
            }
            at += share.len();
            all.push_str(&copies);
        }
        all
    };
    (texts, copies)
}

/// The texts of a share's items into `part`, copies appended to `copies`.
fn texts_into(source: &Source, share: &[RawItem], part: &mut [TextAt], copies: &mut String) {
    let mut scratch = String::new();
    for (item, text_at) in share.iter().zip(part) {
        let at = item.text_start as usize;
        let text = first_line_text(source, at, &mut scratch);
        *text_at = TextAt::new(text, at, &source.text, copies);
    }
}

/// The rest of the checkbox's line, trimmed, with `<!-- -->` comments removed
/// (but not inside code spans, where they are text), runs of white space
/// collapsed to one space. Written in `scratch` (kept from call to call):
/// the caller keeps a copy only of a text that differs from its line.
pub(super) fn first_line_text<'a>(
    source: &Source,
    start: usize,
    scratch: &'a mut String,
) -> &'a str {
    let line = &source.text[start..source.line_end(start)];
    scratch.clear();
    let mut out = Collapsed::in_buffer(std::mem::take(scratch));
    let mut rest = line;
    loop {
        let comment = find(rest, "<!--");
        let tick = memchr::memchr(b'`', rest.as_bytes());
        match (comment, tick) {
            (Some(c), t) if t.is_none_or(|t| c < t) => {
                out.push(&rest[..c]);
                rest = find(&rest[c..], "-->").map_or("", |close| &rest[c + close + 3..]);
            }
            (_, Some(t)) => {
                // A code span: a run of backticks up to the same run again.
                let run = rest[t..].len() - rest[t..].trim_start_matches('`').len();
                let fence = &rest[t..t + run];
                let end = rest[t + run..]
                    .find(fence)
                    .map_or(rest.len(), |e| t + run + e + run);
                out.push(&rest[..end]);
                rest = &rest[end..];
            }
            _ => break,
        }
    }
    out.push(rest);
    *scratch = out.text;
    scratch.as_str()
}

/// Where `pattern` first occurs in `hay`: its first byte found with
/// memchr, the rest compared (`str::find` sets up a searcher per call, which
/// costs more than a short line).
fn find(hay: &str, pattern: &str) -> Option<usize> {
    let (hay, pat) = (hay.as_bytes(), pattern.as_bytes());
    let mut from = 0;
    while let Some(i) = memchr::memchr(pat[0], &hay[from..]) {
        let at = from + i;
        if hay[at..].starts_with(pat) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Text pushed in pieces, with white space collapsed as
/// `split_whitespace().join(" ")` would over the whole, in one pass.
pub(super) struct Collapsed {
    pub(super) text: String,
    space: bool,
}

impl Collapsed {
    /// Collapsed text written in `text` (after what it holds; empty for a
    /// text of its own), its capacity kept.
    pub(super) fn in_buffer(text: String) -> Collapsed {
        Collapsed { text, space: false }
    }

    pub(super) fn push(&mut self, piece: &str) {
        if piece.is_ascii() {
            // Whole runs of words at a time: words with single spaces
            // between them are copied as they are (ASCII white space is
            // what `char::is_whitespace` says of ASCII, vertical tab
            // included).
            let blank = |c: u8| c.is_ascii_whitespace() || c == 0x0b;
            let b = piece.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if blank(b[i]) {
                    self.space = true;
                    i += 1;
                    continue;
                }
                let run = i;
                while i < b.len()
                    && (!blank(b[i]) || b[i] == b' ' && b.get(i + 1).is_some_and(|&c| !blank(c)))
                {
                    i += 1;
                }
                if self.space && !self.text.is_empty() {
                    self.text.push(' ');
                }
                self.text.push_str(&piece[run..i]);
                self.space = false;
            }
            return;
        }
        for word in piece.split_inclusive(char::is_whitespace) {
            let bare = word.trim_end_matches(char::is_whitespace);
            if !bare.is_empty() {
                if self.space && !self.text.is_empty() {
                    self.text.push(' ');
                }
                self.text.push_str(bare);
                self.space = false;
            }
            if bare.len() < word.len() {
                self.space = true;
            }
        }
    }
}

/// Where an item's body starts: after the checkbox's line and its line
/// ending, or `end` when the item ends on that line.
fn body_start(source: &Source, bracket: usize, end: usize) -> usize {
    let text = source.text.as_bytes();
    // The checkbox line can end exactly at the item's end (no final newline).
    let first_end = source.line_end(bracket).min(end);
    match text[first_end..end].first() {
        Some(b'\r') if text.get(first_end + 1) == Some(&b'\n') && first_end + 1 < end => {
            first_end + 2
        }
        Some(b'\r' | b'\n') => first_end + 1,
        _ => end,
    }
}

/// The item's lines after the first, up to `end`, as written.
pub(super) fn body_raw(source: &Source, bracket: usize, end: usize) -> &str {
    let start = body_start(source, bracket, end);
    &source.text[start.min(end)..end]
}

/// Whether the body of the item from `bracket` to `end` is empty: nothing
/// but white space after the checkbox's line.
pub(super) fn body_is_blank(source: &Source, bracket: usize, end: usize) -> bool {
    body_raw(source, bracket, end).trim().is_empty()
}

/// Appends the item's lines after the first, up to `end`, dedented by the
/// item's content indent, to `out`.
pub(super) fn body_into(source: &Source, bracket: usize, end: usize, out: &mut String) {
    let text = &source.text;
    let start = body_start(source, bracket, end);
    if start >= end {
        return;
    }
    let bytes = text.as_bytes();
    let line_start = memchr::memrchr2(b'\n', b'\r', &bytes[..bracket]).map_or(0, |i| i + 1);
    let before = &text[line_start..bracket];
    let indent = chars_in(before);
    let from = out.len();
    // LF, CRLF and a lone CR all end a line, as they do for the parser.
    let mut at = start;
    while at < end {
        let stop = memchr::memchr2(b'\n', b'\r', &bytes[at..end]).map_or(end, |i| at + i);
        let line = &text[at..stop];
        at = match bytes.get(stop) {
            Some(b'\r') if stop + 1 < end && bytes[stop + 1] == b'\n' => stop + 2,
            _ => stop + 1,
        };
        // Spaces and tabs up to the content indent (one byte a character).
        let strip = (line.as_bytes().iter())
            .take(indent)
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        // Blank lines before the first text are left out.
        if out.len() == from && line.len() == strip {
            continue;
        }
        out.push_str(&line[strip..]);
        out.push('\n');
    }
    let kept = out[from..].trim_end().len();
    out.truncate(from + kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_space_collapses_as_split_whitespace_joined() {
        let cases = [
            vec!["  a  b ", "c", " d\t\x0b e\u{a0}f\u{2003} g  "],
            vec!["", " ", "x"],
            vec!["a", "b"],
            vec!["é  ñ", "\u{3000}プ"],
            vec!["\x0c\r\n"],
            vec!["a b  c ", " d e", "f\tg h", "i\x0bj"],
            vec!["x ", " y", "z", "w  "],
            vec!["a", " ", "b", "c d"],
        ];
        for pieces in cases {
            let mut c = Collapsed::in_buffer(String::new());
            for p in &pieces {
                c.push(p);
            }
            let want = pieces
                .concat()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            assert_eq!(c.text, want, "{pieces:?}");
        }
    }
}
