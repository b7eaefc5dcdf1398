//! One pass of pulldown-cmark over the text: task items, headings and comments
//! with their byte ranges. Nothing is interpreted here; `document` gives it shape.
//!
//! Never guesses at structure from line patterns: what is a task is what a
//! CommonMark+GFM parser says, plus Kiro's `[ ]*` (recorded, kept or dropped by
//! the dialect).

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::taskfile::Source;
use crate::taskfile::hints::{self, Comment};

#[derive(Debug, Clone)]
pub struct RawItem {
    /// The list item's byte range.
    pub start: usize,
    pub end: usize,
    /// Offset of the `[` of the checkbox.
    pub bracket: usize,
    pub checked: bool,
    /// Kiro's `- [ ]* …`: not a GFM task; kept only by the Kiro dialect.
    pub optional: bool,
    /// Where the task's text starts, after the checkbox and spaces.
    pub text_start: usize,
    pub in_quote: bool,
}

#[derive(Debug)]
pub struct RawHeading {
    pub start: usize,
    pub level: u8,
    pub title: String,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub items: Vec<RawItem>,
    pub headings: Vec<RawHeading>,
    pub comments: Vec<Comment>,
}

pub fn options() -> Options {
    Options::ENABLE_TASKLISTS
        | Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
}

struct OpenItem {
    start: usize,
    end: usize,
    /// Index into `items` once we know the item is a task.
    task: Option<usize>,
}

pub fn scan(source: &Source) -> Scan {
    let text = source.text.as_str();
    let mut out = Scan::default();
    let mut open: Vec<OpenItem> = Vec::new();
    let mut quote_depth = 0usize;
    let mut heading: Option<RawHeading> = None;
    for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Item) => {
                let task =
                    optional_marker(text, range.start).map(|(bracket, checked, text_start)| {
                        out.items.push(RawItem {
                            start: range.start,
                            end: range.end,
                            bracket,
                            checked,
                            optional: true,
                            text_start,
                            in_quote: quote_depth > 0,
                        });
                        out.items.len() - 1
                    });
                open.push(OpenItem {
                    start: range.start,
                    end: range.end,
                    task,
                });
            }
            Event::End(TagEnd::Item) => {
                open.pop();
            }
            Event::TaskListMarker(checked) => {
                let Some(item) = open.last_mut() else {
                    continue;
                };
                let Some(bracket) = text[range.clone()].find('[').map(|i| range.start + i) else {
                    continue;
                };
                let after = skip_blanks(text, bracket + 3);
                let raw = RawItem {
                    start: item.start,
                    end: item.end,
                    bracket,
                    checked,
                    optional: false,
                    text_start: after,
                    in_quote: quote_depth > 0,
                };
                match item.task {
                    Some(i) => out.items[i] = raw,
                    None => {
                        out.items.push(raw);
                        item.task = Some(out.items.len() - 1);
                    }
                }
            }
            Event::Start(Tag::BlockQuote(_)) => quote_depth += 1,
            Event::End(TagEnd::BlockQuote(_)) => quote_depth -= 1,
            Event::Start(Tag::Heading { level, .. }) if quote_depth == 0 && open.is_empty() => {
                heading = Some(RawHeading {
                    start: range.start,
                    level: level as u8,
                    title: String::new(),
                });
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(mut h) = heading.take() {
                    h.title = h.title.split_whitespace().collect::<Vec<_>>().join(" ");
                    out.headings.push(h);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.title.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(h) = heading.as_mut() {
                    h.title.push(' ');
                }
            }
            Event::Start(Tag::HtmlBlock) | Event::InlineHtml(_) if quote_depth == 0 => {
                out.comments
                    .extend(hints::comments_in(source, range.start, range.end));
            }
            _ => {}
        }
    }
    out
}

fn skip_blanks(text: &str, mut i: usize) -> usize {
    let b = text.as_bytes();
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// Kiro's optional task `- [ ]* text`: the bracket offset, its state and
/// where the text starts. GFM does not call it a task (no space after `]`).
fn optional_marker(text: &str, item_start: usize) -> Option<(usize, bool, usize)> {
    let b = text.as_bytes();
    let mut i = skip_blanks(text, item_start);
    match b.get(i)? {
        b'-' | b'*' | b'+' => i += 1,
        b'0'..=b'9' => {
            while b.get(i)?.is_ascii_digit() {
                i += 1;
            }
            if !matches!(b.get(i)?, b'.' | b')') {
                return None;
            }
            i += 1;
        }
        _ => return None,
    }
    let after_marker = skip_blanks(text, i);
    if after_marker == i {
        return None;
    }
    let i = after_marker;
    let checked = match (b.get(i)?, b.get(i + 1)?, b.get(i + 2)?, b.get(i + 3)?) {
        (b'[', b' ', b']', b'*') => false,
        (b'[', b'x' | b'X', b']', b'*') => true,
        _ => return None,
    };
    match b.get(i + 4) {
        None | Some(b' ' | b'\t' | b'\r' | b'\n') => Some((i, checked, skip_blanks(text, i + 4))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<(String, bool, bool)> {
        let s = Source::new("t.md".into(), text.into(), 0);
        scan(&s)
            .items
            .iter()
            .map(|i| {
                (
                    text[i.text_start..s.line_end(i.text_start)].to_owned(),
                    i.checked,
                    i.optional,
                )
            })
            .collect()
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
        let sc = scan(&s);
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
        let h = scan(&s).headings;
        assert_eq!(
            h.iter()
                .map(|h| (h.level, h.title.as_str()))
                .collect::<Vec<_>>(),
            [(1, "Title"), (2, "Two code")]
        );
    }

    #[test]
    fn front_matter_is_not_a_heading() {
        let s = Source::new("t.md".into(), "---\ntitle: x\n---\n# Real\n".into(), 0);
        assert_eq!(scan(&s).headings.len(), 1);
    }
}
