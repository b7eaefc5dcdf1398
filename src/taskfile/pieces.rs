//! Where the Markdown text may be cut into pieces that pulldown-cmark can
//! parse one at a time with the same result as parsing it whole.
//!
//! Takes the text; hands on cut offsets and, after a piece is parsed,
//! whether its last block could run on past the cut (then the cut is not
//! taken). Never parses Markdown itself.
//!
//! A piece starts at a line in column 1 that ends every open container
//! block: an ATX heading (`#`), or, after a blank line, a list item or a
//! thematic break. What can still run on past such a line is a top-level
//! fenced code block without its closing fence, an HTML block (the comment
//! kinds end only at their closing marker) or a table; when the piece's
//! last top-level block is one of those and reaches its last line, the
//! pieces are parsed together. A link reference definition (`[x]: url`)
//! applies to the whole file, so a file with `]:` is never cut.

use pulldown_cmark::{CodeBlockKind, Tag};

/// The last block at the top level of a piece.
#[derive(Clone, Copy, Debug)]
pub struct TopBlock {
    /// A fenced code block, HTML block or table: it may run on.
    may_run_on: bool,
    end: usize,
}

impl TopBlock {
    pub fn new(tag: &Tag<'_>, end: usize) -> TopBlock {
        let may_run_on = matches!(
            tag,
            Tag::HtmlBlock | Tag::CodeBlock(CodeBlockKind::Fenced(_)) | Tag::Table(_)
        );
        TopBlock { may_run_on, end }
    }
}

/// Whether the text may be cut at all: not when it may define a link
/// reference (checked once; the cuts are then looked for piece by piece).
pub fn may_cut(text: &str) -> bool {
    memchr::memmem::find(text.as_bytes(), b"]:").is_none()
}

/// The first cut at or after `from` (in a text that [`may_cut`]).
pub fn next_cut(text: &str, from: usize) -> Option<usize> {
    let b = text.as_bytes();
    if from >= b.len() {
        return None;
    }
    // The start of the line holding `from`, then each line after it.
    let mut line = memchr::memrchr(b'\n', &b[..from]).map_or(0, |i| i + 1);
    let mut prev_blank = line > 0 && {
        let prev = memchr::memrchr(b'\n', &b[..line - 1]).map_or(0, |i| i + 1);
        is_blank(&b[prev..line])
    };
    while line < b.len() {
        let next = memchr::memchr(b'\n', &b[line..]).map_or(b.len(), |i| line + i + 1);
        let this = &b[line..next];
        if line >= from && line > 0 && (atx_heading(this) || prev_blank && item_or_rule(this)) {
            return Some(line);
        }
        prev_blank = is_blank(this);
        line = next;
    }
    None
}

/// Whether the piece `start..end` must be parsed together with the next:
/// its last top-level block may run on and reaches its last non-blank line.
pub fn runs_on(text: &str, start: usize, end: usize, last: Option<TopBlock>) -> bool {
    let Some(last) = last.filter(|l| l.may_run_on) else {
        return false;
    };
    let piece = text[start..end].trim_end();
    let last_line = memchr::memrchr(b'\n', piece.as_bytes()).map_or(0, |i| i + 1);
    last.end > start + last_line
}

fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// `#` to `######` at column 1, then a blank or the end of the line.
fn atx_heading(line: &[u8]) -> bool {
    let hashes = line.iter().take_while(|&&b| b == b'#').count();
    (1..=6).contains(&hashes) && line.get(hashes).is_none_or(|b| b" \t\r\n".contains(b))
}

/// A bullet or ordered list marker at column 1 followed by a blank, or a
/// thematic break (`---`, `***`, `___`).
fn item_or_rule(line: &[u8]) -> bool {
    let blank_after = |i: usize| line.get(i).is_none_or(|b| b" \t\r\n".contains(b));
    match line.first() {
        Some(b'-' | b'*' | b'+') if blank_after(1) => true,
        Some(c @ (b'-' | b'*' | b'_')) => {
            let marks = line.iter().filter(|&b| b == c).count();
            marks >= 3 && line.iter().all(|b| b == c || b" \t\r\n".contains(b))
        }
        Some(b'0'..=b'9') => {
            let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
            digits <= 9 && matches!(line.get(digits), Some(b'.' | b')')) && blank_after(digits + 1)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts(text: &str) -> Vec<usize> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(c) = next_cut(text, from).filter(|_| may_cut(text)) {
            out.push(c);
            from = c + 1;
        }
        out
    }

    #[test]
    fn pieces_start_at_headings_in_column_one() {
        let text = "# A\n- [ ] a\n## B\n  # not at column 1\n#hashtag\n####### seven\n### C\n";
        let at: Vec<&str> = cuts(text).iter().map(|&c| &text[c..c + 4]).collect();
        assert_eq!(at, ["## B", "### "]);
    }

    #[test]
    fn items_and_rules_start_pieces_only_after_a_blank_line() {
        let text = "- [ ] a\n- [ ] b\n\n- [ ] c\n\n1. [ ] d\n\n---\n\n  - [ ] e\n\n-x\n";
        let at: Vec<&str> = cuts(text).iter().map(|&c| &text[c..c + 3]).collect();
        assert_eq!(at, ["- [", "1. ", "---"]);
    }

    #[test]
    fn a_link_reference_definition_keeps_the_file_whole() {
        assert_eq!(
            cuts("# A\n\n[x]: https://example.com\n# B\n"),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn pieces_never_cut_through_a_block() {
        let fence = TopBlock::new(&Tag::CodeBlock(CodeBlockKind::Fenced("".into())), 20);
        let text = "```\n# inside\n- [ ] x\n";
        // An unclosed fence reaching the piece's last line runs on.
        assert!(runs_on(text, 0, 12, Some(fence)));
        // A paragraph or list never does; nor a block that ended before
        // the piece's last line.
        let para = TopBlock::new(&Tag::Paragraph, 12);
        assert!(!runs_on(text, 0, 12, Some(para)));
        let early = TopBlock::new(&Tag::HtmlBlock, 3);
        assert!(!runs_on(text, 0, 12, Some(early)));
    }
}
