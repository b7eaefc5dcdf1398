//! One pass of pulldown-cmark over the text: task items, headings, comments
//! and ```` ```gate ```` blocks with their byte ranges. Nothing is
//! interpreted here; `document` gives it shape.
//!
//! Never guesses at structure from line patterns: what is a task is what a
//! CommonMark+GFM parser says, plus Kiro's `[ ]*` (recorded, kept or dropped by
//! the dialect).

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::location::narrow;
use crate::taskfile::Source;
use crate::taskfile::checkpoint;
use crate::taskfile::comments;
use crate::taskfile::hints::Comment;
use crate::taskfile::pieces;

#[derive(Debug, Clone)]
pub struct RawItem {
    /// The list item's byte range. Offsets are `u32`s, as in a `Span`
    /// (a `Source` is never longer): 20 bytes an item, not 40.
    pub start: u32,
    pub end: u32,
    /// Offset of the `[` of the checkbox.
    pub bracket: u32,
    pub checked: bool,
    /// Kiro's `- [ ]* …`: not a GFM task; kept only by the Kiro dialect.
    pub optional: bool,
    /// Where the task's text starts, after the checkbox and spaces.
    pub text_start: u32,
    pub in_quote: bool,
    /// Nothing but blanks after the checkbox on its line: no task, as for
    /// cmark-gfm (github.com), whatever lines follow.
    pub empty: bool,
}

#[derive(Debug)]
pub struct RawHeading {
    pub start: usize,
    pub level: u8,
    pub title: String,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub items: Items,
    pub headings: Vec<RawHeading>,
    /// Hint comments and ```` ```gate ```` blocks, in document order.
    pub comments: Shares<Comment>,
}

/// The list items with a checkbox, in document order (see [`Shares`]).
pub type Items = Shares<RawItem>;

/// What the scan found, in document order: one list per thread that
/// scanned a share of the text, kept as they are. Joined into one they
/// would be copied while all of them are held (80 MB more at the peak of a
/// 1,000,000-task plan for the items, 10 MB for the comments).
#[derive(Debug)]
pub struct Shares<T>(Vec<Vec<T>>);

impl<T> Default for Shares<T> {
    fn default() -> Self {
        Shares(Vec::new())
    }
}

impl<T> Shares<T> {
    pub fn iter(&self) -> impl Iterator<Item = &T> + Clone {
        self.0.iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    /// The lists, one per share of the text scanned.
    pub fn shares(&self) -> &[Vec<T>] {
        &self.0
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        for share in &mut self.0 {
            share.retain(&mut keep);
        }
    }

    /// The list of the share being scanned (the last).
    fn share(&mut self) -> &mut Vec<T> {
        if self.0.is_empty() {
            self.0.push(Vec::new());
        }
        let last = self.0.len() - 1;
        &mut self.0[last]
    }
}

/// Each in order, each share's list freed once read.
impl<T> IntoIterator for Shares<T> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().flatten()
    }
}

/// No metadata blocks: pulldown-cmark takes any `---` line followed by a
/// non-blank line and, later, another `---` for one, anywhere in the file (a
/// rule above a heading and the next rule swallow a whole section). Front
/// matter is only at the top; `front_matter_len` finds it.
pub fn options() -> Options {
    Options::ENABLE_TASKLISTS | Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// How long YAML front matter at the top of the text is (0 when there is
/// none), by pulldown-cmark's rule: a `---` line, a first line that is
/// neither blank nor the end, and a closing `---` or `...` line.
fn front_matter_len(text: &str) -> usize {
    let mut lines = text.split_inclusive('\n');
    let mut len = match lines.next() {
        Some(first) if first.trim_end() == "---" && first.ends_with('\n') => first.len(),
        _ => return 0,
    };
    for (n, line) in lines.enumerate() {
        len += line.len();
        let bare = line.trim_end_matches(['\r', '\n']).trim_end_matches(' ');
        let closing = bare == "---" || bare == "...";
        if n == 0 && (closing || line.trim().is_empty()) {
            return 0;
        }
        if closing {
            return len;
        }
    }
    0
}

struct OpenItem {
    start: usize,
    end: usize,
    /// Index into `items` once we know the item is a task.
    task: Option<usize>,
    /// No event has been seen inside the item yet: the next one is its first block.
    first: bool,
}

/// The text with every CR that ends a line alone turned into LF. CommonMark
/// ends lines at LF, CRLF or a CR alone, but pulldown-cmark does not end
/// every block at a lone CR (an HTML comment's block ran to the end of the
/// file). One byte for one byte, so every offset stays what it was.
fn lone_cr_as_lf(text: &str) -> std::borrow::Cow<'_, str> {
    let b = text.as_bytes();
    let lone = |i: usize| b[i] == b'\r' && b.get(i + 1) != Some(&b'\n');
    if !text.contains('\r') || !(0..b.len()).any(lone) {
        return text.into();
    }
    let bytes: Vec<u8> = (0..b.len())
        .map(|i| if lone(i) { b'\n' } else { b[i] })
        .collect();
    String::from_utf8(bytes)
        .expect("ASCII for ASCII keeps UTF-8")
        .into()
}

/// The smallest piece of the text pulldown-cmark parses at once (see
/// [`scan_in_pieces`]).
pub const PIECE: usize = 32 << 10;

/// Parses the text in pieces of at least `min_piece` bytes, each cut where
/// no block can run on past it (`pieces`): pulldown-cmark builds a tree of
/// the whole input before its first event, so a 13 MB file held a tree
/// many times its size. Pieces keep that tree small and in cache; what they
/// find is what one parse of the whole text finds (tested).
///
/// A long text (at least [`SHARE_PIECES`] pieces per share) is cut into a
/// share per CPU (at most [`crate::cpus::MAX`]), scanned at once on threads and
/// joined in order; a share whose last block runs on past its end puts the
/// whole text back on one thread.
pub fn scan_in_pieces(source: &Source, min_piece: usize) -> Scan {
    let normalized = lone_cr_as_lf(&source.text);
    let text = normalized.as_ref();
    let top = front_matter_len(text);
    // `usize::MAX`: one parse of the whole text.
    let may_cut = min_piece != usize::MAX && pieces::may_cut(text);
    let bounds = shares(text, top, min_piece, may_cut);
    if bounds.len() > 2 {
        let scans: Vec<Option<Scan>> = std::thread::scope(|scope| {
            let others: Vec<_> = (bounds.windows(2).skip(1))
                .map(|w| {
                    let (start, end) = (w[0], w[1]);
                    scope.spawn(move || {
                        scan_range(source, text, start..end, min_piece, may_cut, false)
                    })
                })
                .collect();
            let first = scan_range(source, text, bounds[0]..bounds[1], min_piece, may_cut, true);
            std::iter::once(first)
                .chain(others.into_iter().map(|h| h.join().ok().flatten()))
                .collect()
        });
        let joined = (scans.into_iter().collect::<Option<Vec<Scan>>>()).map(|scans| {
            let mut scans = scans.into_iter();
            let mut all = scans.next().unwrap_or_default();
            for mut scan in scans {
                all.items.0.append(&mut scan.items.0);
                all.headings.append(&mut scan.headings);
                all.comments.0.append(&mut scan.comments.0);
            }
            all
        });
        if let Some(all) = joined {
            return all;
        }
    }
    (scan_range(source, text, top..text.len(), min_piece, may_cut, true))
        .expect("nothing runs on past the end of the text")
}

/// Pieces per share below which a text is scanned on one thread (for
/// [`PIECE`]: 2 MiB, where a thread costs far less than it saves).
pub const SHARE_PIECES: usize = 64;
/// Where the shares of the text after `top` start, and its end: cuts near
/// equal parts, one per CPU. Just `[top, end]` for a short text or one
/// that may not be cut.
fn shares(text: &str, top: usize, min_piece: usize, may_cut: bool) -> Vec<usize> {
    let share_min = min_piece.saturating_mul(SHARE_PIECES).max(1);
    let count = ((text.len() - top) / share_min).min(crate::cpus::threads());
    let mut bounds = vec![top];
    if may_cut {
        for k in 1..count {
            let want = top + (text.len() - top) * k / count;
            let from = want.max(bounds[bounds.len() - 1] + 1);
            match pieces::next_cut(text, from) {
                Some(cut) if cut < text.len() => bounds.push(cut),
                _ => break,
            }
        }
    }
    bounds.push(text.len());
    bounds
}

/// Scans `range` of the text in pieces, cut only where `may_cut`
/// (`first`: the range at the top of the text). None when its last block
/// may run on past its end: then it must be scanned with what follows.
fn scan_range(
    source: &Source,
    text: &str,
    range: std::ops::Range<usize>,
    min_piece: usize,
    may_cut: bool,
    mut first: bool,
) -> Option<Scan> {
    let (mut start, end) = (range.start, range.end);
    let mut scanner = Scanner {
        source,
        text,
        out: Scan::default(),
        open: Vec::new(),
        quote_depth: 0,
        heading: None,
        in_heading: false,
        front_matter_end: 0,
        gate: None,
        checkpoint: None,
        depth: 0,
        last_top: None,
    };
    while start < end || first {
        let mut want = min_piece.max(1);
        loop {
            let cut = (pieces::next_cut(text, start.saturating_add(want)).filter(|_| may_cut))
                .filter(|&cut| cut < end)
                .unwrap_or(end);
            let kept = (scanner.out.items.share().len(), scanner.out.headings.len());
            let comments = scanner.out.comments.share().len();
            scanner.parse(start, cut, first);
            let runs_on = pieces::runs_on(text, start, cut, scanner.last_top);
            if cut == end {
                return (end == text.len() || !runs_on).then_some(scanner.out);
            }
            if !runs_on {
                start = cut;
                break;
            }
            // The last block may run on past the cut: parse it again with the
            // next piece, in a piece twice as long (so a long fence costs a
            // linear amount of parsing, not a square).
            scanner.out.items.share().truncate(kept.0);
            scanner.out.headings.truncate(kept.1);
            scanner.out.comments.share().truncate(comments);
            want = (cut - start) * 2;
        }
        first = false;
    }
    Some(scanner.out)
}

struct Scanner<'a> {
    source: &'a Source,
    text: &'a str,
    out: Scan,
    open: Vec<OpenItem>,
    quote_depth: usize,
    heading: Option<RawHeading>,
    // Inside any heading, also one in a list item (which is no section).
    in_heading: bool,
    // YAML front matter with a blank line after its opening `---` (spec-kit's
    // tasks template) is none by pulldown-cmark's rule: it sees a rule and a
    // setext heading. That heading is front matter, not a section.
    front_matter_end: usize,
    // The open ```` ```gate ```` block: where its fence starts, its text.
    gate: Option<(usize, String)>,
    // The open ```` ```checkpoint ```` block, likewise.
    checkpoint: Option<(usize, String)>,
    /// How many blocks are open (for `last_top`).
    depth: usize,
    /// The last block at the top level of the piece: whether it can run on
    /// past a cut, and where it ends.
    last_top: Option<pieces::TopBlock>,
}

impl Scanner<'_> {
    /// One piece, `start..end` of the text; `first` for the one at the top.
    fn parse(&mut self, start: usize, end: usize, first: bool) {
        let text = self.text;
        self.open.clear();
        self.quote_depth = 0;
        self.heading = None;
        self.in_heading = false;
        self.gate = None;
        self.checkpoint = None;
        self.depth = 0;
        self.last_top = None;
        let parser = Parser::new_ext(&text[start..end], options()).into_offset_iter();
        for (n, (event, range)) in parser.enumerate() {
            let range = range.start + start..range.end + start;
            if first
                && n == 1
                && start == 0
                && let Event::Start(Tag::Heading {
                    level: HeadingLevel::H2,
                    ..
                }) = event
                && text.lines().next().map(str::trim_end) == Some("---")
                && text[range.clone()].lines().last().map(str::trim) == Some("---")
            {
                self.front_matter_end = range.end;
            }
            self.event(event, range);
        }
    }

    fn event(&mut self, event: Event<'_>, range: std::ops::Range<usize>) {
        let text = self.text;
        let source = self.source;
        let out = &mut self.out;
        match &event {
            Event::Start(tag) => {
                if self.depth == 0 {
                    self.last_top = Some(pieces::TopBlock::new(tag, range.end));
                }
                self.depth += 1;
            }
            Event::End(_) => self.depth -= 1,
            _ => {}
        }
        if let Some(item) = self.open.last_mut().filter(|i| i.first) {
            item.first = false;
            // pulldown-cmark reports a task marker only right after the list
            // marker and with whitespace after it. GFM also takes one at the
            // start of an item's first paragraph after a blank first line,
            // and one that ends the file (`- [ ]` without a final newline).
            // Kiro's `[ ]*` never is one; we record it the same way.
            // (`[x]` is a link when a `[x]: url` definition exists; as the
            // first thing in an item it is a checkbox all the same.)
            let first_text = matches!(
                event,
                Event::Start(Tag::Paragraph | Tag::Link { .. }) | Event::Text(_)
            );
            if let Some((checked, optional, after)) =
                first_text.then(|| marker_at(text, range.start)).flatten()
            {
                let items = out.items.share();
                items.push(RawItem {
                    start: narrow(item.start),
                    end: narrow(item.end),
                    bracket: narrow(range.start),
                    checked,
                    optional,
                    text_start: narrow(skip_blanks(text, after)),
                    in_quote: self.quote_depth > 0,
                    empty: rest_is_blank(source, after),
                });
                item.task = Some(items.len() - 1);
            }
        }
        match event {
            Event::Start(Tag::Item) => {
                self.open.push(OpenItem {
                    start: range.start,
                    end: range.end,
                    task: None,
                    first: true,
                });
            }
            Event::End(TagEnd::Item) => {
                self.open.pop();
            }
            // A marker pulldown-cmark reports inside a heading belongs to a
            // setext heading (`- [ ] a` over `  ---`): GFM wants a paragraph.
            Event::TaskListMarker(_) if self.in_heading => {}
            Event::TaskListMarker(checked) => {
                let Some(item) = self.open.last_mut() else {
                    return;
                };
                let Some(bracket) = text[range.clone()].find('[').map(|i| range.start + i) else {
                    return;
                };
                let after = skip_blanks(text, bracket + 3);
                let raw = RawItem {
                    start: narrow(item.start),
                    end: narrow(item.end),
                    bracket: narrow(bracket),
                    checked,
                    optional: false,
                    text_start: narrow(after),
                    in_quote: self.quote_depth > 0,
                    empty: rest_is_blank(source, bracket + 3),
                };
                let items = out.items.share();
                match item.task {
                    Some(i) => items[i] = raw,
                    None => {
                        items.push(raw);
                        item.task = Some(items.len() - 1);
                    }
                }
            }
            Event::Start(Tag::BlockQuote(_)) => self.quote_depth += 1,
            Event::End(TagEnd::BlockQuote(_)) => self.quote_depth -= 1,
            Event::Start(Tag::Heading { level, .. }) => {
                self.in_heading = true;
                if self.quote_depth == 0
                    && self.open.is_empty()
                    && range.start >= self.front_matter_end
                {
                    self.heading = Some(RawHeading {
                        start: range.start,
                        level: level as u8,
                        title: String::new(),
                    });
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                self.in_heading = false;
                if let Some(mut h) = self.heading.take() {
                    h.title = h.title.split_whitespace().collect::<Vec<_>>().join(" ");
                    out.headings.push(h);
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))
                if self.quote_depth == 0
                    && range.start >= self.front_matter_end
                    && info.split_whitespace().next() == Some("gate") =>
            {
                self.gate = Some((range.start, String::new()));
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info)))
                if self.quote_depth == 0
                    && range.start >= self.front_matter_end
                    && info.split_whitespace().next() == Some("checkpoint") =>
            {
                self.checkpoint = Some((range.start, String::new()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((start, command)) = self.checkpoint.take() {
                    let fence = source.line_end(start) - start;
                    out.comments
                        .share()
                        .push(checkpoint::checkpoint_block(source, start, fence, &command));
                }
                if let Some((start, command)) = self.gate.take() {
                    let fence = source.line_end(start) - start;
                    out.comments
                        .share()
                        .push(comments::gate_block(source, start, fence, &command));
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = self.heading.as_mut() {
                    h.title.push_str(&t);
                }
                if let Some((_, command)) = self.gate.as_mut().or(self.checkpoint.as_mut()) {
                    command.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(h) = self.heading.as_mut() {
                    h.title.push(' ');
                }
            }
            Event::Start(Tag::HtmlBlock) | Event::InlineHtml(_)
                if self.quote_depth == 0 && range.start >= self.front_matter_end =>
            {
                out.comments
                    .share()
                    .extend(comments::comments_in(source, range.start, range.end));
            }
            _ => {}
        }
    }
}

/// Whether the line holds only whitespace from `at` on.
fn rest_is_blank(source: &Source, at: usize) -> bool {
    source.text[at..source.line_end(at)].trim().is_empty()
}

fn skip_blanks(text: &str, mut i: usize) -> usize {
    let b = text.as_bytes();
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// A checkbox at `at`, the start of an item's first paragraph: `[ ]`,
/// `[x]` or `[X]` (any blank but a line break inside), then whitespace or the
/// end of the text; or Kiro's `[ ]*` / `[x]*`, which GFM does not call a task.
/// Its state, whether it is optional, and where the text after it starts.
fn marker_at(text: &str, at: usize) -> Option<(bool, bool, usize)> {
    let b = text.as_bytes();
    // Blanks separate it from the list marker or indent it; anything else
    // before it (a `\` escape, say) means the paragraph started earlier.
    let after_blank = at > 0 && matches!(b[at - 1], b' ' | b'\t');
    if !after_blank || b.get(at) != Some(&b'[') || b.get(at + 2) != Some(&b']') {
        return None;
    }
    let checked = match b.get(at + 1)? {
        b' ' | b'\t' | 0x0b | 0x0c => false,
        b'x' | b'X' => true,
        _ => return None,
    };
    let optional = b.get(at + 3) == Some(&b'*');
    let after = at + 3 + usize::from(optional);
    match b.get(after) {
        None => Some((checked, optional, after)),
        Some(&c) if c == b' ' || (0x09..=0x0d).contains(&c) => Some((checked, optional, after)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<(String, bool, bool)> {
        let s = Source::new("t.md".into(), text.into(), 0);
        scan_in_pieces(&s, PIECE)
            .items
            .iter()
            .map(|i| {
                (
                    text[i.text_start as usize..s.line_end(i.text_start as usize)].to_owned(),
                    i.checked,
                    i.optional,
                )
            })
            .collect()
    }

    /// What a scan finds, in order: each item's bracket and each heading.
    fn found(text: &str, min_piece: usize) -> (Vec<usize>, Vec<(usize, String)>, usize) {
        let s = Source::new("t.md".into(), text.into(), 0);
        let scan = scan_in_pieces(&s, min_piece);
        let items = scan.items.iter().map(|i| i.bracket as usize).collect();
        let headings = (scan.headings.iter())
            .map(|h| (h.start, h.title.clone()))
            .collect();
        (items, headings, scan.comments.len())
    }

    #[test]
    fn shares_on_threads_find_what_one_parse_finds() {
        let part = "# Part\n\n- [ ] a <!-- id: x -->\n  - [x] b\n\n";
        let text = part.repeat(40);
        assert!(shares(&text, 0, 1, true).len() > 2 || num_cpus() < 2);
        assert_eq!(found(&text, 1), found(&text, usize::MAX));
        assert_eq!(found(&text, 1).0.len(), 80);
    }

    #[test]
    fn a_share_whose_last_block_runs_on_is_scanned_with_the_next() {
        // A fence opened before the middle holds headings and items that
        // would start the next share: they are code, not sections.
        let fenced = "- [ ] not a task\n# not a heading\n\n".repeat(20);
        let text = format!("# A\n- [ ] one\n\n```\n{fenced}```\n# B\n- [ ] two\n");
        let whole = found(&text, usize::MAX);
        assert_eq!(whole.0.len(), 2);
        assert_eq!(whole.1.len(), 2);
        assert_eq!(found(&text, 1), whole);
    }

    fn num_cpus() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    #[test]
    fn every_list_marker_makes_tasks() {
        let got = items("- [ ] a\n* [x] b\n+ [X] c\n1. [ ] d\n1) [ ] e\n");
        let texts: Vec<_> = got.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(texts, ["a", "b", "c", "d", "e"]);
        assert_eq!(got.iter().filter(|t| t.1).count(), 2);
    }

    #[test]
    fn look_alikes_are_not_tasks() {
        let text = "```\n- [ ] fenced\n```\n\n    - [ ] indented code\n\n<!-- - [ ] comment -->\n\n- []  empty\n- [ ]text\n- [C++](x)\n\n| - [ ] cell |\n|---|\n| - [ ] row |\n";
        assert!(items(text).is_empty(), "{:?}", items(text));
    }

    #[test]
    fn kiro_optional_items_are_recorded() {
        let got = items("- [ ]* 2.3 write tests\n- [x]* 2.4 done\n- [ ]*nope\n");
        assert_eq!(
            got,
            [
                ("2.3 write tests".into(), false, true),
                ("2.4 done".into(), true, true)
            ]
        );
    }

    #[test]
    fn quoted_tasks_are_flagged() {
        let s = Source::new("t.md".into(), "> - [ ] quoted\n\n- [ ] real\n".into(), 0);
        let sc = scan_in_pieces(&s, PIECE);
        assert_eq!(
            sc.items.iter().map(|i| i.in_quote).collect::<Vec<_>>(),
            [true, false]
        );
    }

    #[test]
    fn headings_atx_and_setext() {
        let s = Source::new(
            "t.md".into(),
            "Title\n=====\n\n## Two `code` ##\n".into(),
            0,
        );
        let h = scan_in_pieces(&s, PIECE).headings;
        assert_eq!(
            h.iter()
                .map(|h| (h.level, h.title.as_str()))
                .collect::<Vec<_>>(),
            [(1, "Title"), (2, "Two code")]
        );
    }

    #[test]
    fn rules_below_the_top_are_no_front_matter() {
        let text = "# P\n- [ ] a\n\n---\n## Two\n- [ ] b\n\n---\n";
        let s = Source::new("t.md".into(), text.into(), 0);
        let sc = scan_in_pieces(&s, PIECE);
        assert_eq!(sc.items.len(), 2);
        assert_eq!(sc.headings.len(), 2);
        assert_eq!(items("---\nt: x\n...\n- [ ] a\n").len(), 1);
        assert_eq!(items("---\n- [ ] in front matter\n---\n").len(), 0);
    }

    #[test]
    fn a_box_with_nothing_after_it_is_marked_empty() {
        let s = Source::new(
            "t.md".into(),
            "- [ ]\n- [x]  \n- [ ] a\n-\n  [ ]\n".into(),
            0,
        );
        let empty: Vec<_> = scan_in_pieces(&s, PIECE)
            .items
            .iter()
            .map(|i| i.empty)
            .collect();
        assert_eq!(empty, [true, true, false, true]);
    }

    #[test]
    fn lone_crs_become_lfs_in_place() {
        let text = "<!--\rid: a\r-->\r- [ ] a\r\n";
        let lf = lone_cr_as_lf(text);
        assert_eq!(lf, "<!--\nid: a\n-->\n- [ ] a\r\n");
        assert_eq!(lf.len(), text.len());
        let s = Source::new("t.md".into(), text.into(), 0);
        let sc = scan_in_pieces(&s, PIECE);
        assert_eq!(sc.items.len(), 1);
        assert_eq!(
            sc.comments
                .iter()
                .next()
                .unwrap()
                .hints
                .id
                .as_ref()
                .unwrap()
                .value,
            "a"
        );
    }

    #[test]
    fn gate_blocks_are_comments_with_a_gate() {
        let text = "# P\n```gate\nmake\n```\n- [ ] a\n  ~~~gate x\n  a; b\n  ~~~\n> ```gate\n> no\n> ```\n";
        let s = Source::new("t.md".into(), text.into(), 0);
        let gates: Vec<_> = (scan_in_pieces(&s, PIECE).comments.iter())
            .map(|c| {
                let g = c.hints.gate.as_ref().unwrap();
                (g.value.command.clone(), g.span.line(), g.span.column())
            })
            .collect();
        assert_eq!(gates, [("make".into(), 2, 1), ("a; b".into(), 6, 3)]);
    }

    #[test]
    fn front_matter_is_not_a_heading() {
        let s = Source::new("t.md".into(), "---\ntitle: x\n---\n# Real\n".into(), 0);
        assert_eq!(scan_in_pieces(&s, PIECE).headings.len(), 1);
    }
}
