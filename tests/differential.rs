//! Differential test: run-batch's tasks against comrak's task items.
//!
//! comrak is a Rust port of cmark-gfm, the parser behind github.com. For the
//! corpus, a set of tricky synthetic inputs and generated documents, the
//! items comrak marks as tasks (line of the checkbox, checked or not) must be
//! run-batch's tasks, and those in block quotes run-batch's ignored items.
//!
//! Deliberate differences, each explained where it is allowed (see
//! `Difference`):
//! - Kiro's `- [ ]* text` is no GFM task; run-batch keeps it (as optional)
//!   only in the Kiro dialect, so it is left out of the comparison.
//! - Tasks in block quotes are compared with `doc.ignored`: run-batch lists
//!   them but never plans them.
//! - `Difference`: corner cases where the two parsers disagree and
//!   run-batch's reading is the spec's, or the one that keeps ticks stable.
//!   None of them occurs in the corpus.

use std::path::{Path, PathBuf};

use comrak::nodes::NodeValue;
use comrak::{Arena, Options, parse_document};
use proptest::prelude::*;
use run_batch::taskfile::{Document, ReadOptions, Source};

#[path = "support/skip.rs"]
mod skip;

/// The corpus files, or none after a loud SKIPPED note when the corpus is
/// not beside the repository (a failure when `CI` is set).
fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/files");
    if !dir.is_dir() {
        skip::skip_or_fail(&format!(
            "the task-file corpus is not at {} (from `../shared` checked out \
             beside the repository)",
            dir.display()
        ));
        return Vec::new();
    }
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .md files in {}", dir.display());
    files
}

/// What a parser found: tasks outside block quotes as (line, checked), the
/// lines of tasks inside block quotes, and top-level headings (line, level).
#[derive(Debug, Default, PartialEq, Eq)]
struct Found {
    tasks: Vec<(usize, bool)>,
    quoted: Vec<usize>,
    headings: Vec<(usize, u8)>,
}

fn comrak_options() -> Options<'static> {
    let mut options = Options::default();
    options.extension.tasklist = true;
    options.extension.table = true;
    options.extension.strikethrough = true;
    // run-batch reads YAML front matter as metadata too.
    options.extension.front_matter_delimiter = Some("---".into());
    options
}

fn comrak_found(text: &str) -> Found {
    let arena = Arena::new();
    let root = parse_document(&arena, text, &comrak_options());
    let mut found = Found::default();
    for node in root.descendants() {
        let data = node.data();
        let inside =
            |f: fn(&NodeValue) -> bool| node.ancestors().skip(1).any(|a| f(&a.data().value));
        match &data.value {
            NodeValue::TaskItem(item) => {
                let line = item.symbol_sourcepos.start.line;
                if inside(|v| matches!(v, NodeValue::BlockQuote)) {
                    found.quoted.push(line);
                } else {
                    found.tasks.push((line, item.symbol.is_some()));
                }
            }
            // Sections are headings outside lists and block quotes.
            NodeValue::Heading(h)
                if !inside(|v| {
                    matches!(
                        v,
                        NodeValue::BlockQuote | NodeValue::Item(_) | NodeValue::TaskItem(_)
                    )
                }) =>
            {
                found.headings.push((data.sourcepos.start.line, h.level));
            }
            _ => {}
        }
    }
    found
}

fn run_batch_found(doc: &Document) -> Found {
    Found {
        tasks: (doc.tasks.iter())
            .filter(|t| !t.optional)
            .map(|t| (doc.checkbox(t).line(), t.checked))
            .collect(),
        quoted: (doc.ignored.iter())
            .filter(|i| i.reason == "in a block quote")
            .map(|i| i.line)
            .collect(),
        headings: (doc.sections.iter().skip(1))
            .map(|s| (s.span.line(), s.level))
            .collect(),
    }
}

/// A difference between the parsers that is understood and accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Difference {
    /// `- [\t] a` (or a vertical tab or form feed in the brackets). The GFM
    /// spec: the marker is "a left bracket, either a whitespace character or
    /// the letter x ..., and then a right bracket", and a tab is a whitespace
    /// character. pulldown-cmark follows it; comrak and cmark-gfm take only
    /// a space. run-batch ticks such a box like any other.
    BlankInBrackets,
    /// `- [ ]` (or `- [x]`) with nothing after it on its line is no task for
    /// run-batch, whatever follows. cmark-gfm, the parser behind github.com,
    /// wants a space or tab after the `]` on the same line (its scanner's
    /// `spacechar+`; a line break is none), so `- [ ]` at the end of a line
    /// or of the file, and `- [ ]` with the text on the next line, render as
    /// plain text there. comrak takes them as tasks. With only blanks after
    /// the box (`- [ ]  `) both take it; run-batch does not: there is
    /// nothing to run, and invisible trailing blanks must not decide.
    EmptyCheckbox,
    /// `- [ ]` with nothing after it, and more lines. To cmark-gfm the
    /// checkbox starts the item's paragraph: the next line continues it
    /// (lazily, when not indented into the item) or underlines it as a
    /// setext heading (`  ===`, and then there is no task at all).
    /// pulldown-cmark reads the checkbox first and treats the item as one
    /// that starts with a blank line: the next line is a paragraph of its
    /// own, outside the item when not indented, and after a blank line the
    /// item ends (unless the next line is an item that could interrupt a
    /// paragraph). Items that follow can then nest differently, block quotes
    /// end elsewhere. An empty task is rare; this is left as pulldown-cmark
    /// reads it.
    EmptyCheckboxParagraph,
    /// `[x]` (or `[X]`) is also the label of a link reference definition
    /// (`[x]: url`). cmark-gfm sees a link and no task; run-batch reads the
    /// checkbox first, as pulldown-cmark does on the marker's line, so that
    /// ticking `[ ]` to `[x]` can never turn a task into a link.
    LinkLabel,
    /// `- &#91; ] a`: comrak decodes the character reference and then sees
    /// a checkbox. CommonMark: "Entity and numeric character references
    /// cannot be used in place of symbols indicating structure"; there is
    /// no `[` byte to tick either. Not a task for run-batch.
    EntityBracket,
    /// `- [ ]*a*` or `- [ ]*a\n-b*`: comrak checks for whitespace after
    /// the `]` in the text node, whose end counts, so emphasis (or code, a
    /// link...) right after the brackets makes a checkbox. GFM wants
    /// whitespace; run-batch sees Kiro's `[ ]*` or no task.
    InlineAfterBrackets,
    /// The file starts with `---`, then a blank line (or `---` again), ...,
    /// `---`: comrak reads that as front matter, Jekyll-style. run-batch
    /// follows pulldown-cmark's rule (the line after the opening `---` is
    /// neither blank nor a closing line), so a file that starts with a rule
    /// keeps its tasks. (The setext heading such front matter makes is
    /// dropped, as spec-kit's template needs: no task is lost that way.)
    FrontMatterJekyll,
    /// Front matter in a file whose lines end with a CR alone: comrak looks
    /// for its delimiters only before LF. A lone CR ends a line for
    /// CommonMark, and run-batch reads such a file as it reads the same file
    /// with LF.
    FrontMatterLoneCr,
    /// A Kiro optional item `[ ]*` in a block quote: run-batch lists it with
    /// the other quoted items; it is no GFM task.
    QuotedOptional,
}

/// Why a task line only one of the parsers reports may differ, if known.
fn explain(text: &str, line: usize) -> Option<Difference> {
    // Lines as CommonMark ends them: LF, CRLF or CR.
    let lines: Vec<&str> = text
        .split('\n')
        .flat_map(|l| l.strip_suffix('\r').unwrap_or(l).split('\r'))
        .collect();
    let this = lines.get(line - 1)?;
    let lower = this.to_ascii_lowercase();
    if ["&#91;", "&#x5b;", "&lbrack;", "&lsqb;"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return Some(Difference::EntityBracket);
    }
    // Front matter to comrak but not by pulldown-cmark's rule: the second
    // line is blank or a closing line.
    if text.starts_with("---\r") && !text.starts_with("---\r\n") {
        return Some(Difference::FrontMatterLoneCr);
    }
    let second = lines.get(1).map(|l| l.trim_end());
    if lines[0].trim_end() == "---"
        && second.is_some_and(|l| l.is_empty() || l == "---" || l == "...")
        && lines[1..].iter().any(|l| l.starts_with("---"))
    {
        return Some(Difference::FrontMatterJekyll);
    }
    let open = this.find('[')?;
    let b = this.as_bytes();
    if b.get(open + 3) == Some(&b'*') && this.trim_start().starts_with('>') {
        return Some(Difference::QuotedOptional);
    }
    let after = b.get(open + 3).copied();
    if after.is_some_and(|c| !c.is_ascii_whitespace() && c != 0x0b) {
        return Some(Difference::InlineAfterBrackets);
    }
    match b.get(open + 1) {
        Some(b'\t' | 0x0b | 0x0c) => return Some(Difference::BlankInBrackets),
        Some(&c @ (b'x' | b'X'))
            if lines.iter().any(|l| {
                let l = l.trim_start().trim_start_matches(['>', ' ']);
                l.starts_with(&format!("[{}]:", c as char))
                    || l.starts_with(&format!("[{}]:", (c ^ 0x20) as char))
            }) =>
        {
            return Some(Difference::LinkLabel);
        }
        _ => {}
    }
    // A checkbox alone on its line (after a list marker, or on the line
    // after a lone one).
    let alone =
        regex::Regex::new(r"^[ \t>]*(([-*+]|[0-9]+[.)])[ \t]+)?\[[ \txX]\][ \t]*$").unwrap();
    if alone.is_match(this) {
        return Some(Difference::EmptyCheckbox);
    }
    // An empty checkbox at or above this line, with a line after it: what
    // follows can be read differently in many ways (lazy lines, nesting,
    // where a block quote ends), so this allowance is broad. Documents
    // without empty checkboxes must agree exactly.
    let empty = regex::Regex::new(r"^[ \t>]*([-*+]|[0-9]+[.)])[ \t]+\[[ \txX]\][ \t]*$").unwrap();
    let continued = (0..line).any(|i| empty.is_match(lines[i]) && i + 1 < lines.len());
    if continued {
        return Some(Difference::EmptyCheckboxParagraph);
    }
    None
}

/// Compares the parsers on `text`; `Err` describes what differs
/// unexplained. `Ok` lists the explained differences.
fn compare(text: &str) -> Result<Vec<Difference>, String> {
    let doc = Document::parse(
        Source::new("t.md".into(), text.to_owned(), 0),
        ReadOptions::default(),
    );
    let ours = run_batch_found(&doc);
    let theirs = comrak_found(text);
    let mut explained = Vec::new();
    let mut problems = Vec::new();
    let mut one_sided = |who: &str, mine: &[(usize, bool)], other: &[(usize, bool)]| {
        for x in mine.iter().filter(|x| !other.contains(x)) {
            match explain(text, x.0) {
                Some(d) => explained.push(d),
                None => problems.push(format!(
                    "only {who}: line {} checked={}: {:?}",
                    x.0,
                    x.1,
                    doc.source.line_text(x.0)
                )),
            }
        }
    };
    one_sided("run-batch", &ours.tasks, &theirs.tasks);
    one_sided("comrak", &theirs.tasks, &ours.tasks);
    let as_pairs = |q: &[usize]| q.iter().map(|&l| (l, false)).collect::<Vec<_>>();
    one_sided(
        "run-batch (quoted)",
        &as_pairs(&ours.quoted),
        &as_pairs(&theirs.quoted),
    );
    one_sided(
        "comrak (quoted)",
        &as_pairs(&theirs.quoted),
        &as_pairs(&ours.quoted),
    );
    // Optional Kiro items are no GFM tasks: comrak must not see them.
    for t in doc.tasks.iter().filter(|t| t.optional) {
        if theirs.tasks.iter().any(|x| x.0 == doc.checkbox(t).line()) {
            problems.push(format!(
                "comrak calls Kiro optional `{}` a task",
                doc.text_of(t)
            ));
        }
    }
    if problems.is_empty() {
        Ok(explained)
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn corpus_tasks_agree_with_comrak() {
    let files = corpus_files();
    if files.is_empty() {
        return; // skipped
    }
    let mut failures = Vec::new();
    let mut compared = 0;
    for path in files {
        let source = Source::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match compare(&source.text) {
            // No corner case of the allow-list occurs in the corpus.
            Ok(explained) if explained.is_empty() => {}
            Ok(explained) => failures.push(format!("{name}: allowed but unexpected {explained:?}")),
            Err(e) => failures.push(format!("{name}:\n{e}")),
        }
        compared += comrak_found(&source.text).tasks.len();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The corpus holds about two thousand GFM tasks; make sure they were seen.
    assert!(compared > 1900, "comrak found only {compared} tasks");
}

#[test]
fn corpus_sections_agree_with_comrak_headings() {
    for path in corpus_files() {
        let source = Source::read(&path).unwrap();
        let doc = Document::parse(source, ReadOptions::default());
        assert_eq!(
            run_batch_found(&doc).headings,
            comrak_found(&doc.source.text).headings,
            "{}",
            path.display()
        );
    }
}

#[test]
fn kiro_optional_items_are_the_only_extra_tasks_in_kiro_files() {
    let files = corpus_files();
    if files.is_empty() {
        return; // skipped
    }
    let path = (files.into_iter())
        .find(|p| p.to_string_lossy().contains("v1.6-merge-import-export"))
        .expect("the SpaceWeirdos Kiro file is in the corpus");
    let doc = Document::read(&path, ReadOptions::default()).unwrap();
    let theirs = comrak_found(&doc.source.text).tasks;
    let optional: Vec<_> = doc.tasks.iter().filter(|t| t.optional).collect();
    assert_eq!(optional.len(), 10);
    assert_eq!(theirs.len() + optional.len(), doc.tasks.len());
    for t in optional {
        assert!(
            doc.text_of(t).starts_with(char::is_numeric),
            "{}",
            doc.text_of(t)
        );
        assert!(!theirs.iter().any(|x| x.0 == doc.checkbox(t).line()));
    }
}

/// The project's own fixtures (`fixtures/taskfiles/`), which need no corpus:
/// the same tasks and headings as comrak, but for the documented differences.
#[test]
fn fixtures_agree_with_comrak() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/taskfiles");
    for (name, known) in [
        ("kiro-tasks.md", &[][..]),
        ("nested-crlf-bom.md", &[Difference::EmptyCheckbox][..]),
        ("openspec/changes/add-search/tasks.md", &[][..]),
        ("speckit-tasks.md", &[][..]),
    ] {
        let source = Source::read(&dir.join(name)).unwrap();
        let mut explained = compare(&source.text).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        explained.dedup();
        assert_eq!(explained, known, "{name}");
        let doc = Document::parse(source, ReadOptions::default());
        assert_eq!(
            run_batch_found(&doc).headings,
            comrak_found(&doc.source.text).headings,
            "{name}"
        );
    }
}

/// Tricky inputs, each with the differences it is known to show (none for
/// most: both parsers agree).
const SYNTHETIC: &[(&str, &[Difference])] = &[
    // Tabs around the checkbox, and blanks inside it.
    ("- [ ]\ttab after\n", &[]),
    ("-\t[ ] tab after the marker\n", &[]),
    ("\t- [ ] tab-indented\n", &[]),
    ("- [ ] a\n\t- [x] tab-indented child\n", &[]),
    ("- [\t] tab inside\n", &[Difference::BlankInBrackets]),
    (
        "- [\x0b] vertical tab inside\n",
        &[Difference::BlankInBrackets],
    ),
    (
        "- [\x0c] form feed inside\n",
        &[Difference::BlankInBrackets],
    ),
    ("- [\u{a0}] no-break space inside\n", &[]),
    ("- [ ]\u{a0}no-break space after\n", &[]),
    ("- [ ]\x0bvertical tab after\n", &[]),
    ("- [ ]  two spaces\n", &[]),
    ("- [x]text\n", &[]),
    ("- []  empty\n", &[]),
    ("- [xx] two\n", &[]),
    ("- [ ]]\n", &[]),
    ("- [[ ]] x\n", &[]),
    ("- \\[ ] escaped\n", &[]),
    ("- &#91; ] entity\n", &[Difference::EntityBracket]),
    ("- &lbrack;x] named entity\n", &[Difference::EntityBracket]),
    // A checkbox with nothing after it on its line, at the end of the file
    // too: no task (cmark-gfm agrees; comrak does not).
    ("- [ ]\n", &[Difference::EmptyCheckbox]),
    ("- [ ]", &[Difference::EmptyCheckbox]),
    ("- [x]", &[Difference::EmptyCheckbox]),
    ("- [ ]\r\n", &[Difference::EmptyCheckbox]),
    ("- [ ]  \n", &[Difference::EmptyCheckbox]),
    ("- [x]\t\n", &[Difference::EmptyCheckbox]),
    ("- [ ]\n  ===\n", &[]),
    ("- [ ]\n  ---\n", &[]),
    ("- [ ] a\n  ===\n", &[]),
    ("- [ ] a\n  ---\n", &[]),
    ("- [ ]\n  text\n", &[Difference::EmptyCheckbox]),
    ("- [ ]\n  body\n  more body\n", &[Difference::EmptyCheckbox]),
    (
        "- [ ]\n===\n    - [ ] child in cmark-gfm\n",
        &[
            Difference::EmptyCheckbox,
            Difference::EmptyCheckboxParagraph,
        ],
    ),
    (
        "- [ ]\n  - [ ] child of an empty checkbox\n",
        &[Difference::EmptyCheckbox],
    ),
    // The checkbox after a blank first line of the item.
    ("-\n  [ ] blank first line\n", &[]),
    ("-\n  [x]\n", &[Difference::EmptyCheckbox]),
    ("-\n\n  [ ] not the item's\n", &[]),
    // Nesting and list markers.
    ("- [ ] a\n  - [ ] b\n    - [x] c\n", &[]),
    ("1. [ ] a\n2) [x] b\n10. [X] c\n", &[]),
    ("1234567890. [ ] too long a number\n", &[]),
    ("* * [ ] two markers\n", &[]),
    ("- - [ ] two markers\n", &[]),
    (
        "- 1. [ ] bullet then number\n  - 1.1 [ ] number then checkbox\n",
        &[],
    ),
    ("- [ ] a\n- \n- [ ] c\n", &[]),
    ("- [ ] a\n\n\n- [ ] b\n", &[]),
    ("   - [ ] three spaces\n", &[]),
    ("-    [ ] four spaces after the marker\n", &[]),
    ("-     [ ] five: code in the item\n", &[]),
    // Lazy continuation and paragraphs.
    ("- [ ] a\nlazy [ ] continuation\n- [ ] b\n", &[]),
    ("- a\n[ ] lazy line\n", &[]),
    ("Para\n- [ ] interrupts\n", &[]),
    ("Para\n1. [ ] interrupts\n", &[]),
    ("Para\n2. [ ] cannot interrupt\n", &[]),
    ("- [ ] a\\\n  b\n", &[]),
    // Code, HTML, comments.
    ("    - [ ] indented code\n\n- [ ] real\n", &[]),
    ("- [ ] a\n\n      - [ ] code in the item\n", &[]),
    ("```\n- [ ] fenced\n```\n- [ ] after\n", &[]),
    ("```\n- [ ] fence never closed\n", &[]),
    ("- [ ] a\n  ```\n  - [ ] fenced in the item\n  ```\n", &[]),
    ("- [ ] a\n    ```\n- [ ] fence ends with its item\n", &[]),
    (
        "<div>\n- [ ] in an HTML block\n</div>\n\n- [ ] after\n",
        &[],
    ),
    ("<!-- - [ ] comment -->\n- [ ] a\n", &[]),
    ("<!--\n- [ ] in a comment\n-->\n- [ ] a\n", &[]),
    ("- [ ] <!-- id: x --> a\n", &[]),
    ("<details>\n\n- [ ] inside details\n\n</details>\n", &[]),
    // Block quotes.
    ("> - [ ] quoted\n> - [x] q2\n\n- [ ] real\n", &[]),
    ("> 1. [ ] a\n>    - [ ] b\n", &[]),
    (">- [ ] tight quote\n", &[]),
    ("- > [ ] quote in an item\n", &[]),
    (
        "> - [ ]* 1.1 quoted optional\n",
        &[Difference::QuotedOptional],
    ),
    // Tables, headings, rules, front matter.
    ("| a |\n|---|\n| [ ] cell |\n", &[]),
    ("| - [ ] a |\n|---|\n| - [ ] b |\n", &[]),
    ("- [ ] a | b\n  --|--\n", &[]),
    ("# - [ ] heading\n", &[]),
    ("- # [ ] heading in an item\n", &[]),
    ("Heading\n- [ ] x\n===\n", &[]),
    ("- [ ] a\n***\n- [ ] b\n", &[]),
    ("---\ntitle: x\n---\n- [ ] after front matter\n", &[]),
    ("---\n- [ ] in front matter\n---\n- [ ] after\n", &[]),
    ("---\n\ndescription: x\n---\n\n# T\n- [ ] a\n", &[]),
    (
        "---\n\n- [ ] a file that starts with a rule\n---\n",
        &[Difference::FrontMatterJekyll],
    ),
    // Rules as separators: no front matter below the top of the file.
    (
        "# P\n- [ ] a\n\n---\n## Two\n- [ ] b\n\n---\n## Three\n- [ ] c\n",
        &[],
    ),
    ("\n---\n- [ ] after a blank line\n---\n", &[]),
    ("---\r\ntitle: x\r\n...\r\n- [ ] CRLF front matter\r\n", &[]),
    // Links.
    ("- [ ] [link](x)\n", &[]),
    ("- [ ] a\n- [x] b\n\n[x]: /url\n", &[Difference::LinkLabel]),
    // Kiro optional items are no GFM tasks.
    ("- [ ]* 1.1 optional\n- [ ] 1.2 required\n", &[]),
    ("- [ ]*nospace\n", &[]),
    ("- [ ]*a*\n", &[Difference::InlineAfterBrackets]),
    ("- [ ]`code`\n", &[Difference::InlineAfterBrackets]),
    // CRLF, and a CR alone (a line ending to CommonMark).
    ("- [ ] a\r\n  - [x] b\r\n\r\n> - [ ] q\r\n", &[]),
    ("- [ ] a\r- [x] b\r  - [ ] c\r", &[]),
    ("# H\r\r- [ ] a <!-- id: z -->\r", &[]),
    ("# H\r<!--\rid: x\r-->\r- [ ] a\r", &[]),
    ("```\r- [ ] fenced\r```\r- [ ] after\r", &[]),
    ("- [ ] a\r  ```gate\r  make\r  ```\r- [ ] b\r", &[]),
];

#[test]
fn synthetic_tricky_inputs_agree_with_comrak() {
    let mut failures = Vec::new();
    for (text, known) in SYNTHETIC {
        match compare(text) {
            Ok(mut explained) => {
                explained.dedup();
                if explained != *known {
                    failures.push(format!(
                        "{text:?}: differences {explained:?}, documented {known:?}"
                    ));
                }
            }
            Err(e) => failures.push(format!("{text:?}:\n{e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_differences_are_what_run_batch_sees() {
    let tasks = |text: &str| {
        let doc = Document::parse(
            Source::new("t.md".into(), text.to_owned(), 0),
            ReadOptions::default(),
        );
        doc.tasks
            .iter()
            .map(|t| (doc.checkbox(t).line(), t.checked, doc.text_of(t).to_owned()))
            .collect::<Vec<_>>()
    };
    // A tab in the brackets is an open task, ticked like any other.
    assert_eq!(tasks("- [\t] a\n"), [(1, false, "a".to_owned())]);
    // `[x]` stays a done task when `[x]` is also a link label...
    assert_eq!(tasks("- [x] a\n\n[x]: /u\n"), [(1, true, "a".to_owned())]);
    // ...also where pulldown-cmark itself reports no marker.
    assert_eq!(tasks("- [x] a\n\n[x]: /u"), [(1, true, "a".to_owned())]);
    assert_eq!(tasks("-\n  [ ] b\n"), [(2, false, "b".to_owned())]);
    // A box with nothing after it is no task; the items below it are.
    assert_eq!(tasks("- [x]"), []);
    assert_eq!(tasks("- [ ]  \n  body\n"), []);
    assert_eq!(
        tasks("- [ ]\n  - [ ] child\n"),
        [(2, false, "child".to_owned())]
    );
}

// ---- generated documents ------------------------------------------------

fn gen_line() -> impl Strategy<Value = String> {
    let indent = prop_oneof![
        Just(""),
        Just(""),
        Just("  "),
        Just("   "),
        Just("    "),
        Just("\t"),
        Just("> "),
        Just(">"),
    ];
    let marker = prop_oneof![
        Just("- "),
        Just("* "),
        Just("1. "),
        Just("2) "),
        Just("-\t"),
        Just("-  "),
        Just("-"),
        Just(""),
    ];
    let checkbox = prop_oneof![
        4 => Just("[ ]"),
        2 => Just("[x]"),
        1 => Just("[X]"),
        1 => Just("[ ]*"),
        1 => Just("[]"),
        1 => Just(""),
    ];
    let rest = prop_oneof![
        3 => Just(" task"),
        1 => Just(""),
        1 => Just("text"),
        1 => Just(" `code` [P]"),
        1 => Just(" <!-- id: a -->"),
    ];
    let line = (indent, marker, checkbox, rest).prop_map(|(i, m, c, r)| format!("{i}{m}{c}{r}"));
    prop_oneof![
        8 => line,
        2 => Just(String::new()),
        1 => Just("# h".to_owned()),
        1 => Just("===".to_owned()),
        1 => Just("---".to_owned()),
        1 => Just("```".to_owned()),
        1 => Just("<!-- c -->".to_owned()),
        1 => Just("  continued".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Generated line soup of list items, checkboxes, quotes, headings,
    /// rules and fences: every difference is one of the documented ones.
    /// (Tables and HTML blocks, where the parsers also disagree about where
    /// blocks end, are left to the corpus and the synthetic inputs.)
    #[test]
    fn generated_documents_agree_with_comrak(
        lines in prop::collection::vec(gen_line(), 0..12),
        // A CR alone too: run-batch hands pulldown-cmark an LF for it
        // (pulldown-cmark does not end every block at a lone CR).
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        final_newline in any::<bool>(),
    ) {
        let mut text = lines.join(eol);
        if final_newline {
            text.push_str(eol);
        }
        if let Err(e) = compare(&text) {
            prop_assert!(false, "{:?}\n{}", text, e);
        }
    }
}
