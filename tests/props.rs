//! Property tests: Markdown-ish documents built from the fragments task files
//! are made of (headings, task items of every shape, code, comments and hint
//! comments, quotes, tables, odd unicode, CRLF, BOM, no final newline), and
//! fully arbitrary text and bytes.
//!
//! Whatever the input, parsing and planning do not panic; a tick changes
//! exactly the task's state byte (and its parents' when it completes them) and
//! leaves every other task as it was; line endings, a BOM and the final
//! newline do not change which tasks a file has; a task's subtasks are the
//! tasks whose parent it is, nested or adopted by their numbers.

use std::path::Path;

use proptest::prelude::*;
use run_batch::plan::{Plan, PlanOptions};
use run_batch::record::tick::{self, Tick};
use run_batch::taskfile::{Dialect, Document, ReadOptions, Source};

fn config() -> ProptestConfig {
    ProptestConfig {
        // 256 keeps the suite quick; `PROPTEST_CASES=20000` hunts longer.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        // Failures are printed with the minimal input; nothing is written
        // into the repository.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- the grammar --------------------------------------------------------

/// Short text: words, Markdown punctuation, unicode (RTL, CJK, emoji,
/// combining marks, NBSP, U+2028), never a line break.
fn words() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        4 => "[a-z]{1,8}",
        1 => Just("T001".to_owned()),
        1 => Just("1.2".to_owned()),
        1 => Just("(P)".to_owned()),
        1 => Just("[P]".to_owned()),
        1 => Just("`code`".to_owned()),
        1 => Just("**bold**".to_owned()),
        1 => Just("[link](u)".to_owned()),
        1 => Just("[x]".to_owned()),
        1 => Just("\\[ ]".to_owned()),
        1 => Just("<b>".to_owned()),
        1 => Just("<!-- c -->".to_owned()),
        1 => Just("&amp;".to_owned()),
        1 => Just("جامعة".to_owned()),
        1 => Just("実装計画".to_owned()),
        1 => Just("👩‍💻".to_owned()),
        1 => Just("e\u{301}".to_owned()),
        1 => Just("\u{a0}".to_owned()),
        1 => Just("\u{2028}".to_owned()),
        1 => Just("*".to_owned()),
        1 => Just("_".to_owned()),
        1 => Just("|".to_owned()),
        1 => "\\PC{1,3}",
    ];
    prop::collection::vec(word, 0..5).prop_map(|w| w.join(" "))
}

fn indent() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(String::new()),
        2 => Just("  ".to_owned()),
        1 => Just("   ".to_owned()),
        1 => Just("    ".to_owned()),
        1 => Just("      ".to_owned()),
        1 => Just("\t".to_owned()),
        1 => Just(" \t".to_owned()),
    ]
}

fn list_marker() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("-".to_owned()),
        1 => Just("*".to_owned()),
        1 => Just("+".to_owned()),
        1 => Just("1.".to_owned()),
        1 => Just("2)".to_owned()),
        1 => Just("10.".to_owned()),
    ]
}

fn hint_comment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<!-- parallel: 2 -->".to_owned()),
        Just("<!-- parallel: false -->".to_owned()),
        Just("<!-- parallel: true -->".to_owned()),
        Just("<!-- after: a -->".to_owned()),
        Just("<!-- after: a, b; timeout: 20m -->".to_owned()),
        Just("<!-- id: a -->".to_owned()),
        Just("<!-- id: b -->".to_owned()),
        Just("<!-- retries: 2; agent: shell -->".to_owned()),
        Just("<!-- gate: cargo test -->".to_owned()),
        Just("<!-- parallell: 2 -->".to_owned()),
        Just("<!-- parallel=false -->".to_owned()),
        Just("<!-- gate: test -f a; test -f b -->".to_owned()),
        Just("<!-- gate: test -f a && grep -q 'x y' a -->".to_owned()),
        Just("<!-- agent: claude --model 'x -->".to_owned()),
        Just("<!--\rretries: 1\ragent: shell\r-->".to_owned()),
        Just("<!-- timeout: soon -->".to_owned()),
        Just("<!-- id: -->".to_owned()),
        Just("<!-- a plain remark -->".to_owned()),
        Just("<!--\nparallel: 3\n-->".to_owned()),
        Just("<!-- unclosed".to_owned()),
    ]
}

/// A task item's first line: indent, marker, blanks, `[state]`, rest.
fn task_line() -> impl Strategy<Value = String> {
    let state = prop_oneof![
        4 => Just(" "),
        2 => Just("x"),
        1 => Just("X"),
        1 => Just("\t"),
        1 => Just("~"),
        1 => Just(""),
    ];
    let after = prop_oneof![
        6 => Just(" "),
        1 => Just("\t"),
        1 => Just("  "),
        1 => Just("* "),
        1 => Just(""),
    ];
    let tail = prop_oneof![
        3 => Just(String::new()),
        1 => hint_comment().prop_map(|c| format!(" {c}")),
    ];
    (
        indent(),
        list_marker(),
        prop_oneof![4 => Just(" "), 1 => Just("\t"), 1 => Just("  "), 1 => Just("     ")],
        state,
        after,
        words(),
        tail,
    )
        .prop_map(|(i, m, gap, s, a, w, t)| format!("{i}{m}{gap}[{s}]{a}{w}{t}"))
}

fn fragment() -> impl Strategy<Value = String> {
    let code_body = || prop::collection::vec(task_line(), 0..3).prop_map(|l| l.join("\n"));
    prop_oneof![
        24 => task_line(),
        // A box with nothing after it, as templates end: no task.
        2 => (indent(), list_marker(), prop_oneof![Just(' '), Just('x')])
            .prop_map(|(i, m, s)| format!("{i}{m} [{s}]")),
        // A parent with subtasks, some done: ticking the last open one
        // completes the parent.
        4 => (words(), prop::collection::vec((prop::bool::ANY, words()), 1..4), prop::bool::ANY)
            .prop_map(|(w, kids, loose)| {
                let sep = if loose { "\n\n" } else { "\n" };
                let mut s = format!("- [ ] {w}");
                for (done, k) in kids {
                    let state = if done { 'x' } else { ' ' };
                    s.push_str(&format!("{sep}  - [{state}] {k}"));
                }
                s
            }),
        4 => (indent(), list_marker(), words()).prop_map(|(i, m, w)| format!("{i}{m} {w}")),
        2 => (indent(), words()).prop_map(|(i, w)| format!("{i}{w}")),
        3 => Just(String::new()),
        2 => ("#{1,6}", words()).prop_map(|(h, w)| format!("{h} {w}")),
        1 => ("#{1,3}", words()).prop_map(|(h, w)| format!("{h} {w} {h}")),
        1 => (words(), prop_oneof![Just("==="), Just("---")])
            .prop_map(|(w, u)| format!("{w}x\n{u}")),
        1 => (words(), code_body())
            .prop_map(|(w, b)| format!("```{w}\n{b}\n```")),
        1 => code_body().prop_map(|b| format!("~~~\n{b}\n~~~")),
        // A gate block, under a task or on its own.
        1 => (indent(), words()).prop_map(|(i, w)| format!("{i}```gate\n{i}{w}\n{i}```")),
        1 => task_line().prop_map(|l| format!("    {l}")),
        2 => hint_comment(),
        1 => code_body().prop_map(|b| format!("<!--\n{b}\n-->")),
        1 => code_body().prop_map(|b| format!("<details>\n{b}\n</details>")),
        1 => task_line().prop_map(|l| format!("> {l}")),
        1 => (task_line(), words()).prop_map(|(l, w)| format!(">{l}\n> {w}")),
        1 => task_line().prop_map(|l| format!("| {l} | b |\n|---|---|\n| {l} | d |")),
        1 => Just("---".to_owned()),
        1 => Just("***".to_owned()),
        1 => Just("[x]: /url".to_owned()),
        1 => Just("-".to_owned()),
        1 => words().prop_map(|w| format!("  {w}")),
        // Rarely: a fence that is never closed swallows the rest.
        1 => Just("~~~".to_owned()),
    ]
}

/// A whole document and how it is written down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Eol {
    Lf,
    CrLf,
    /// A carriage return alone: a line ending to CommonMark too, read
    /// exactly like LF.
    Cr,
}

#[derive(Clone, Debug)]
struct Doc {
    lines: Vec<String>,
    front_matter: bool,
    eol: Eol,
    bom: bool,
    final_newline: bool,
}

impl Doc {
    fn text_with(&self, eol: &str, final_newline: bool) -> String {
        let mut parts = Vec::new();
        if self.front_matter {
            parts.push("---\ntitle: t\n---".to_owned());
        }
        parts.extend(self.lines.iter().cloned());
        let mut text = parts.join("\n").replace('\n', eol);
        if final_newline {
            text.push_str(eol);
        }
        text
    }

    fn bytes(&self) -> Vec<u8> {
        let eol = match self.eol {
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
            Eol::Cr => "\r",
        };
        let mut out = if self.bom {
            b"\xEF\xBB\xBF".to_vec()
        } else {
            Vec::new()
        };
        out.extend_from_slice(self.text_with(eol, self.final_newline).as_bytes());
        out
    }
}

fn doc() -> impl Strategy<Value = Doc> {
    (
        prop::collection::vec(fragment(), 0..20),
        prop::bool::weighted(0.15),
        prop_oneof![6 => Just(Eol::Lf), 3 => Just(Eol::CrLf), 1 => Just(Eol::Cr)],
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.7),
    )
        .prop_map(|(lines, front_matter, eol, bom, final_newline)| Doc {
            lines,
            front_matter,
            eol,
            bom,
            final_newline,
        })
}

// ---- helpers ------------------------------------------------------------

fn parse_bytes(bytes: &[u8], dialect: Option<Dialect>) -> Option<Document> {
    let source = Source::from_bytes(Path::new("t.md"), bytes.to_vec()).ok()?;
    Some(Document::parse(source, ReadOptions { dialect }))
}

fn parse(bytes: &[u8]) -> Document {
    parse_bytes(bytes, None).expect("generated documents are UTF-8")
}

/// What a user sees of the tasks: line, state, text, id.
fn view(doc: &Document) -> Vec<(usize, bool, String, String)> {
    (doc.tasks.iter().zip(doc.task_ids()))
        .map(|(t, id)| {
            (
                doc.checkbox(t).line(),
                t.checked,
                doc.text_of(t).to_owned(),
                id.into_owned(),
            )
        })
        .collect()
}

/// Everything a parse finds, for comparing two parses of one text: tasks
/// (with bodies, hints, places in the tree), sections, ignored items,
/// errors and warnings.
fn whole_view(doc: &Document) -> Vec<String> {
    let mut out = Vec::new();
    for (i, t) in doc.tasks.iter().enumerate() {
        out.push(format!(
            "task {} {:?} {:?} {} {} {:?} {} {:?} {:?} {:?} {} {:?} {:?}",
            doc.id(i),
            t.id_source,
            doc.checkbox(t),
            t.checked,
            t.optional,
            doc.text_of(t),
            t.item().start,
            t.section(),
            t.parent(),
            doc.children(i).collect::<Vec<_>>(),
            t.parallel_mark,
            doc.depends(i).iter().map(|d| &d.value).collect::<Vec<_>>(),
            doc.body(i),
        ));
        out.push(format!("hints {:?}", t.hints));
    }
    for (k, s) in doc.sections.iter().enumerate() {
        out.push(format!(
            "section {} {:?} {} {:?} {:?} {:?} {:?} {:?}",
            s.id,
            s.title,
            s.level,
            s.span,
            s.parent,
            s.children,
            doc.section_own_tasks(k).collect::<Vec<_>>(),
            s.hints
        ));
    }
    out.push(format!("ignored {:?}", doc.ignored));
    for e in &doc.errors {
        out.push(format!("error {:?}", e));
    }
    for w in &doc.warnings {
        out.push(format!("warning {:?}", w));
    }
    out.push(format!("dialect {:?}", doc.dialect));
    out
}

/// One parse of the whole text and one in the smallest pieces read the
/// same document.
fn check_pieces(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(source) = Source::from_bytes(Path::new("t.md"), bytes.to_vec()) else {
        return Ok(());
    };
    let whole = Document::parse_in_pieces(source.clone(), ReadOptions::default(), usize::MAX);
    let pieces = Document::parse_in_pieces(source, ReadOptions::default(), 1);
    prop_assert_eq!(whole_view(&whole), whole_view(&pieces));
    Ok(())
}

/// Parses and plans, with and without optional tasks, in every dialect.
fn parse_and_plan(bytes: &[u8]) {
    for dialect in [
        None,
        Some(Dialect::Native),
        Some(Dialect::Speckit),
        Some(Dialect::Kiro),
    ] {
        let Some(doc) = parse_bytes(bytes, dialect) else {
            return;
        };
        check_children(&doc);
        for t in &doc.tasks {
            // Spans stay inside the text, on char boundaries.
            assert!(
                t.item().start <= t.checkbox_offset() && t.checkbox_offset() + 3 <= t.item().end
            );
            assert!(doc.source.text.is_char_boundary(t.item().end));
        }
        for include_optional in [false, true] {
            // Tracks too: modules joined across waves never panic either.
            for pipeline in [None, Some(run_batch::taskfile::Pipeline::Tracks)] {
                let doc = parse_bytes(bytes, dialect).unwrap();
                let _ = Plan::build(
                    doc,
                    PlanOptions {
                        include_optional,
                        pipeline,
                    },
                );
            }
        }
    }
}

/// `children` and `has_children` (found from the items, not kept) say
/// exactly which tasks have a task as their parent, in document order.
fn check_children(doc: &Document) {
    for p in 0..doc.tasks.len() {
        let want: Vec<usize> = (p + 1..doc.tasks.len())
            .filter(|&c| doc.tasks[c].parent() == Some(p))
            .collect();
        assert_eq!(doc.children(p).collect::<Vec<_>>(), want, "task {p}");
        assert_eq!(doc.has_children(p), !want.is_empty(), "task {p}");
    }
}

/// A Kiro or OpenSpec task list: numbered tasks (`1.`, `1.1`, `1.1.1`)
/// nested or not, so some are adopted by their numbers, among headings,
/// blank lines and lines that continue an item.
fn numbered_doc() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        8 => (
            prop_oneof![Just(""), Just("  "), Just("    "), Just("   ")],
            prop_oneof![
                Just("1."), Just("1"), Just("1.1"), Just("1.2"), Just("1.1.1"),
                Just("2."), Just("2.1"), Just("2.1.1"), Just("3"), Just("3.1"), Just("x"),
            ],
            prop_oneof![Just("[ ]"), Just("[x]"), Just("[ ]*")],
        )
            .prop_map(|(i, n, b)| format!("{i}- {b} {n} task")),
        1 => Just(String::new()),
        1 => Just("## 1. Group".to_owned()),
        1 => Just("  more text".to_owned()),
        1 => Just("> - [ ] 1.1 quoted".to_owned()),
    ];
    prop::collection::vec(line, 0..30).prop_map(|l| l.join("\n"))
}

/// Ticks task `t` of the document in `bytes` with `tick::edit`, and checks
/// what changed: its state byte (when open) and only the state bytes of
/// parents it completed; after re-parsing it is done and every other task
/// kept its text, id and state (parents that were completed aside).
fn check_tick(bytes: &[u8], t: usize) -> Result<(), TestCaseError> {
    let doc = parse(bytes);
    let id = doc.id(t).into_owned();
    // `tick::edit` finds the first task with an id; duplicates are refused
    // by `tick::apply` and the planner.
    let t = doc.task_ids().position(|i| i == id).unwrap();
    let task = &doc.tasks[t];
    let mut edited = bytes.to_vec();
    let outcome = tick::edit(
        &doc,
        &mut edited,
        &[Tick {
            id: id.clone(),
            text: None,
        }],
        false,
    );
    prop_assert_eq!(edited.len(), bytes.len());
    let changed: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i] != edited[i])
        .collect();
    let at = task.state_offset(&doc.source);
    if task.checked {
        prop_assert!(
            changed.is_empty(),
            "ticking a done task changed {:?}",
            changed
        );
        prop_assert_eq!(outcome.unchanged, vec![id]);
        return Ok(());
    }
    prop_assert_eq!(outcome.changed, vec![id.clone()]);
    prop_assert_eq!(edited[at], b'x');
    prop_assert!(changed.contains(&at), "state byte {} not changed", at);
    // Everything else that changed is the state byte of a parent.
    let mut ancestors = Vec::new();
    let mut p = task.parent();
    while let Some(i) = p {
        ancestors.push(i);
        p = doc.tasks[i].parent();
    }
    let flipped: Vec<usize> = (ancestors.iter().copied())
        .filter(|&a| changed.contains(&doc.tasks[a].state_offset(&doc.source)))
        .collect();
    prop_assert_eq!(changed.len(), 1 + flipped.len(), "changed {:?}", changed);
    for &a in &flipped {
        prop_assert!(!doc.tasks[a].checked);
        prop_assert_eq!(edited[doc.tasks[a].state_offset(&doc.source)], b'x');
    }
    prop_assert_eq!(outcome.parents.len(), flipped.len());
    // Re-parse: the task is done, the rest as before.
    let after = parse(&edited);
    prop_assert_eq!(
        after.tasks.len(),
        doc.tasks.len(),
        "tick changed the task count"
    );
    for (i, (a, b)) in doc.tasks.iter().zip(&after.tasks).enumerate() {
        prop_assert_eq!(doc.id(i), after.id(i));
        prop_assert_eq!(doc.text(i), after.text(i));
        prop_assert_eq!(a.checkbox_offset(), b.checkbox_offset());
        let want = a.checked || i == t || flipped.contains(&i);
        prop_assert_eq!(b.checked, want, "task {} `{}`", i, doc.id(i));
    }
    Ok(())
}

// ---- properties ---------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parsing_and_planning_never_panic(d in doc()) {
        parse_and_plan(&d.bytes());
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC*|[-*+\\[\\] x\t\r\n>#`<!]{0,60}") {
        parse_and_plan(s.as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
        parse_and_plan(&b);
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(&b);
        parse_and_plan(&with_bom);
    }

    #[test]
    fn subtasks_are_the_tasks_whose_parent_it_is(s in numbered_doc()) {
        for dialect in [Dialect::Kiro, Dialect::Openspec, Dialect::Native] {
            check_children(&parse_bytes(s.as_bytes(), Some(dialect)).unwrap());
        }
    }

    #[test]
    fn parsing_in_pieces_reads_the_same_document(d in doc()) {
        check_pieces(&d.bytes())?;
    }

    #[test]
    fn parsing_in_pieces_reads_the_same_document_for_any_text(
        s in "([-*+#>`~<!\\[\\] x\t\n|]|1\\.|```|<!--|-->|<div>|\n\n){0,80}"
    ) {
        check_pieces(s.as_bytes())?;
    }

    #[test]
    fn source_gives_back_the_exact_bytes(d in doc()) {
        let bytes = d.bytes();
        let source = Source::from_bytes(Path::new("t.md"), bytes.clone()).unwrap();
        prop_assert_eq!(source.bom, if d.bom { 3 } else { 0 });
        let mut back = bytes[..source.bom].to_vec();
        back.extend_from_slice(source.text.as_bytes());
        prop_assert_eq!(back, bytes);
    }

    #[test]
    fn a_tick_changes_only_its_task(d in doc()) {
        let bytes = d.bytes();
        let doc = parse(&bytes);
        for t in 0..doc.tasks.len() {
            check_tick(&bytes, t)?;
        }
    }

    #[test]
    fn ticking_everything_checks_everything(d in doc()) {
        let mut bytes = d.bytes();
        let doc = parse(&bytes);
        let ticks: Vec<Tick> = (doc.task_ids())
            .map(|id| Tick { id: id.into_owned(), text: None })
            .collect();
        tick::edit(&doc, &mut bytes, &ticks, false);
        let after = parse(&bytes);
        prop_assert_eq!(after.tasks.len(), doc.tasks.len());
        prop_assert!(after.tasks.iter().all(|t| t.checked));
        // And undoing everything clears every box.
        tick::edit(&after, &mut bytes, &ticks, true);
        let undone = parse(&bytes);
        prop_assert!(undone.tasks.iter().all(|t| !t.checked));
    }

    #[test]
    fn line_endings_bom_and_final_newline_do_not_change_tasks(d in doc()) {
        let lf = Doc { eol: Eol::Lf, bom: false, final_newline: true, ..d.clone() };
        let want = view(&parse(&lf.bytes()));
        for variant in [
            Doc { eol: Eol::CrLf, ..lf.clone() },
            Doc { eol: Eol::Cr, ..lf.clone() },
            Doc { bom: true, ..lf.clone() },
            Doc { final_newline: false, ..lf.clone() },
            Doc { eol: Eol::CrLf, final_newline: false, bom: true, ..lf.clone() },
        ] {
            let got = view(&parse(&variant.bytes()));
            prop_assert_eq!(&got, &want, "{:?}", variant);
        }
    }
}

/// The properties above are only as good as the documents: the grammar must
/// make plenty of tasks, parents, quoted and optional items.
#[test]
fn the_grammar_makes_tasks_of_every_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut tasks, mut parents, mut quoted, mut optional, mut checked) = (0, 0, 0, 0, 0);
    let docs = 200;
    for _ in 0..docs {
        let d = doc().new_tree(&mut runner).unwrap().current();
        let doc = parse_bytes(&d.bytes(), Some(Dialect::Kiro)).unwrap();
        tasks += doc.tasks.len();
        parents += (0..doc.tasks.len())
            .filter(|&t| doc.has_children(t))
            .count();
        checked += doc.tasks.iter().filter(|t| t.checked).count();
        optional += doc.tasks.iter().filter(|t| t.optional).count();
        quoted += doc.ignored.len();
    }
    assert!(tasks >= 2 * docs, "{tasks} tasks in {docs} documents");
    assert!(parents >= docs / 4, "{parents} parents");
    assert!(checked >= tasks / 5, "{checked} checked");
    assert!(
        optional >= 10 && quoted >= 10,
        "{optional} optional, {quoted} quoted"
    );
}
