//! The parser on real task files: the project's own fixtures
//! (`fixtures/taskfiles/`: spec-kit, Kiro, nesting with CRLF and a BOM), and
//! the 33 Markdown files of `../shared/corpus` when it is beside the
//! repository (spec-kit, Kiro, OpenSpec, Ralph plans, TODO and ROADMAP files,
//! parser stress tests), saved byte-exact from public repositories.
//! `INDEX.tsv` there says what is tricky in each one. A clone without the
//! corpus skips its part with a loud note (and fails when `CI` is set); the
//! fixtures cover every parser rule without it.
//!
//! For every file: it plans, it is read and written back byte for byte, and
//! ticking its tasks one by one through `tick::apply` changes exactly the one
//! byte inside each `[ ]` (in the two largest files every few tasks are
//! ticked together, so the suite stays quick in debug builds). Then a few
//! things a user of particular files would notice: how many tasks, which
//! dialect, CRLF and missing final newlines kept.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use run_batch::plan::{Plan, PlanOptions};
use run_batch::record::tick::{self, Tick};
use run_batch::report::{plan_graph, plan_text};
use run_batch::taskfile::{Dialect, Document, ReadOptions, Source};

#[path = "support/skip.rs"]
mod skip;

/// Whether the corpus is beside the repository. A clone has none: then a
/// loud SKIPPED note (a failure when `CI` is set); the project's own
/// fixtures cover every parser rule without it.
fn corpus_here() -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let here = root.join("files").is_dir() && root.join("INDEX.tsv").is_file();
    if !here {
        skip::skip_or_fail(&format!(
            "the task-file corpus is not at {} (`files/` and `INDEX.tsv`, from \
             `../shared` checked out beside the repository)",
            root.display()
        ));
    }
    here
}

fn corpus_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    assert!(
        root.join("files").is_dir() && root.join("INDEX.tsv").is_file(),
        "the task-file corpus is missing: expected `files/` and `INDEX.tsv` in {} \
         (the repository is checked out with `../shared` beside it)",
        root.display()
    );
    root
}

/// The project's own task-file fixtures, by name, in name order.
fn fixtures() -> Vec<(String, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/taskfiles");
    // Files in folders too (`openspec/changes/<id>/tasks.md`), named by
    // their path in the fixtures' folder.
    let mut files = Vec::new();
    let mut folders = vec![dir.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let name = path
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((name, path));
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 3,
        "the fixtures are missing from {}",
        dir.display()
    );
    files
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/taskfiles")
        .join(name)
}

/// The fixtures, then the corpus files when the corpus is here.
fn all_files() -> Vec<(String, PathBuf)> {
    let mut files = fixtures();
    if corpus_here() {
        files.extend(corpus());
    }
    files
}

/// Every corpus file, by name, in name order.
fn corpus() -> Vec<(String, PathBuf)> {
    let dir = corpus_root().join("files");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .md files in {}", dir.display());
    files
}

fn path_of(name: &str) -> PathBuf {
    let path = corpus_root().join("files").join(name);
    assert!(path.is_file(), "corpus file {name} is missing");
    path
}

/// `INDEX.tsv`: file name → (size in bytes, notable features).
fn index() -> BTreeMap<String, (usize, String)> {
    let text = std::fs::read_to_string(corpus_root().join("INDEX.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<_> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (name, bytes, features) = (col("saved_name"), col("bytes"), col("notable_features"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<_> = l.split('\t').collect();
            (
                f[name].to_owned(),
                (f[bytes].parse().unwrap(), f[features].to_owned()),
            )
        })
        .collect()
}

fn read(path: &Path) -> Document {
    Document::read(path, ReadOptions::default()).unwrap()
}

fn tick_one(id: &str) -> Vec<Tick> {
    vec![Tick {
        id: id.to_owned(),
        text: None,
    }]
}

/// Runs `check` on every fixture and corpus file and reports all failures
/// at once.
fn for_each_file(check: impl Fn(&str, &Path) -> Result<(), String>) {
    check_each(all_files(), check);
}

/// Runs `check` on each of `files` and reports all failures at once.
fn check_each(files: Vec<(String, PathBuf)>, check: impl Fn(&str, &Path) -> Result<(), String>) {
    let failures: Vec<String> = files
        .iter()
        .filter_map(|(name, path)| check(name, path).err().map(|e| format!("{name}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} file(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_corpus_is_the_one_the_index_describes() {
    if !corpus_here() {
        return;
    }
    let index = index();
    let files = corpus();
    assert_eq!(files.len(), 33, "the corpus has 33 task files");
    for (name, path) in &files {
        let (bytes, _) = index
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in INDEX.tsv"));
        assert_eq!(
            std::fs::metadata(path).unwrap().len() as usize,
            *bytes,
            "{name} is not the byte-exact copy INDEX.tsv describes"
        );
    }
    assert_eq!(index.len(), files.len(), "INDEX.tsv names missing files");
}

#[test]
fn every_file_plans_with_and_without_optional_tasks() {
    for_each_file(|_, path| {
        for include_optional in [false, true] {
            let doc = read(path);
            let optional = doc.tasks.iter().filter(|t| t.optional).count();
            let n = doc.tasks.len();
            let plan = Plan::build(
                doc,
                PlanOptions {
                    include_optional,
                    ..PlanOptions::default()
                },
            )
            .map_err(|e| format!("include_optional={include_optional}: {e}"))?;
            if plan.tasks.len() != n {
                return Err(format!("{} tasks planned of {n}", plan.tasks.len()));
            }
            let skipped = (0..plan.tasks.len()).filter(|&t| plan.skipped(t)).count();
            let want = if include_optional { 0 } else { optional };
            if skipped != want {
                return Err(format!(
                    "include_optional={include_optional}: {skipped} skipped, want {want}"
                ));
            }
            // Every task is in exactly one wave, and waves list each task once.
            let mut seen = vec![0; n];
            for w in &plan.waves {
                for t in w.tasks() {
                    seen[t] += 1;
                }
            }
            if let Some(t) = seen.iter().position(|&c| c != 1) {
                return Err(format!("task {t} is in {} waves", seen[t]));
            }
        }
        Ok(())
    });
}

#[test]
fn reading_and_writing_back_unchanged_is_byte_exact() {
    for_each_file(|_, path| {
        let bytes = std::fs::read(path).unwrap();
        let doc = read(path);
        let mut back = b"\xEF\xBB\xBF"[..doc.source.bom].to_vec();
        back.extend_from_slice(doc.source.text.as_bytes());
        if back != bytes {
            return Err("BOM + text differs from the file".into());
        }
        // No ticks, and ticks of tasks that are already done, write nothing.
        let done: Vec<Tick> = (doc.tasks.iter().zip(doc.task_ids()))
            .filter(|(t, _)| t.checked)
            .map(|(_, id)| Tick {
                id: id.into_owned(),
                text: None,
            })
            .collect();
        let mut edited = bytes.clone();
        let outcome = tick::edit(&doc, &mut edited, &[], false);
        if edited != bytes || !outcome.changed.is_empty() {
            return Err("an edit without ticks changed the bytes".into());
        }
        let outcome = tick::edit(&doc, &mut edited, &done, false);
        if edited != bytes || outcome.unchanged.len() != done.len() {
            return Err(format!(
                "re-ticking done tasks changed something: {outcome:?}"
            ));
        }
        Ok(())
    });
}

#[test]
fn every_checkbox_span_points_at_its_brackets() {
    for_each_file(|_, path| {
        let bytes = std::fs::read(path).unwrap();
        let doc = read(path);
        for (t, id) in doc.tasks.iter().zip(doc.task_ids()) {
            let at = t.state_offset(&doc.source);
            let state = bytes[at];
            let ok_state = if t.checked {
                matches!(state, b'x' | b'X')
            } else {
                matches!(state, b' ' | b'\t')
            };
            if bytes[at - 1] != b'[' || bytes[at + 1] != b']' || !ok_state {
                return Err(format!("task `{id}`: no checkbox at byte {at}"));
            }
            // line:column (in characters) of the span is the `[` too.
            let line = doc.source.line_text(doc.checkbox(t).line());
            if line.chars().nth(doc.checkbox(t).column() - 1) != Some('[') {
                return Err(format!(
                    "task `{}`: line {} column {} is not its `[`: {line:?}",
                    id,
                    doc.checkbox(t).line(),
                    doc.checkbox(t).column()
                ));
            }
            if !doc.text_of(t).is_empty()
                && !line.contains(doc.text_of(t).split(' ').next().unwrap())
            {
                return Err(format!(
                    "task `{}`: text {:?} not on its line",
                    id,
                    doc.text_of(t)
                ));
            }
        }
        Ok(())
    });
}

/// What a user sees of a file's tasks: line, state, optional, text.
fn task_view(doc: &Document) -> Vec<(usize, bool, bool, String)> {
    (doc.tasks.iter())
        .map(|t| {
            (
                doc.checkbox(t).line(),
                t.checked,
                t.optional,
                doc.text_of(t).to_owned(),
            )
        })
        .collect()
}

/// run-batch parses a file in pieces (pulldown-cmark builds a tree of its
/// whole input); cut as finely as the cutting rule allows, every file reads
/// as it does parsed whole.
#[test]
fn parsing_in_pieces_reads_every_file_as_parsing_it_whole() {
    for_each_file(|_, path| {
        let source = Source::from_bytes(path, std::fs::read(path).unwrap()).unwrap();
        let view = |doc: &Document| {
            let tasks: Vec<String> = (0..doc.tasks.len())
                .map(|i| {
                    let t = &doc.tasks[i];
                    format!(
                        "{} {:?} {:?} {} {:?} {:?} {:?} {:?} {:?}",
                        doc.id(i),
                        doc.checkbox(t),
                        doc.text_of(t),
                        t.item().start,
                        t.section(),
                        t.parent(),
                        doc.children(i).collect::<Vec<_>>(),
                        t.hints,
                        doc.body(i)
                    )
                })
                .collect();
            let sections: Vec<String> = (doc.sections.iter())
                .map(|s| format!("{} {:?} {:?} {:?}", s.id, s.title, s.span, s.hints))
                .collect();
            (
                tasks,
                sections,
                format!("{:?} {:?}", doc.ignored, doc.errors),
                doc.warnings.len(),
            )
        };
        let whole = Document::parse_in_pieces(source.clone(), ReadOptions::default(), usize::MAX);
        let pieces = Document::parse_in_pieces(source, ReadOptions::default(), 1);
        if view(&whole) == view(&pieces) {
            Ok(())
        } else {
            Err("parsed in pieces, it reads differently".into())
        }
    });
}

#[test]
fn line_endings_bom_and_final_newline_do_not_change_the_tasks() {
    for_each_file(|name, path| {
        let bytes = std::fs::read(path).unwrap();
        let doc = read(path);
        let want = task_view(&doc);
        let text = doc.source.text.clone();
        let lf = text.replace("\r\n", "\n");
        let variants = [
            ("with a BOM", format!("\u{FEFF}{text}")),
            ("as LF", lf.clone()),
            ("as CRLF", lf.replace('\n', "\r\n")),
            (
                "without a final newline",
                text.trim_end_matches(['\r', '\n']).to_owned(),
            ),
            (
                "with a final newline",
                format!("{}\n", text.trim_end_matches(['\r', '\n'])),
            ),
        ];
        for (how, variant) in variants {
            let source = Source::from_bytes(Path::new(name), variant.into_bytes()).unwrap();
            let other = Document::parse(source, ReadOptions::default());
            if task_view(&other) != want || other.dialect != doc.dialect {
                return Err(format!("{how}: the tasks differ"));
            }
            let ids: Vec<_> = other.task_ids().collect();
            if ids != doc.task_ids().collect::<Vec<_>>() {
                return Err(format!("{how}: the ids differ"));
            }
        }
        // With a BOM the state bytes move by three and still are the states.
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(&bytes);
        let source = Source::from_bytes(path, with_bom.clone()).unwrap();
        let other = Document::parse(source, ReadOptions::default());
        for (i, (a, b)) in doc.tasks.iter().zip(&other.tasks).enumerate() {
            let (x, y) = (a.state_offset(&doc.source), b.state_offset(&other.source));
            if y != x + 3 || with_bom[y] != bytes[x] {
                return Err(format!("task `{}`: BOM offset {y} vs {x}", doc.id(i)));
            }
        }
        Ok(())
    });
}

/// Copies a corpus file into a fresh temporary folder.
/// On Linux that is in memory when it can be: every tick syncs the file and
/// its folder to disk, which is not what these tests are about.
fn scratch_copy(path: &Path) -> (tempfile::TempDir, PathBuf) {
    let shm = Path::new("/dev/shm");
    let dir = (shm
        .is_dir()
        .then(|| tempfile::tempdir_in(shm).ok())
        .flatten())
    .unwrap_or_else(|| tempfile::tempdir().unwrap());
    let copy = dir.path().join(path.file_name().unwrap());
    std::fs::copy(path, &copy).unwrap();
    // The corpus may be read-only; the copy (which keeps the mode) must not.
    let mut perms = std::fs::metadata(&copy).unwrap().permissions();
    perms.set_mode(perms.mode() | 0o600);
    std::fs::set_permissions(&copy, perms).unwrap();
    (dir, copy)
}

/// Moves the file's modification time a second back.
fn age(path: &Path) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(then))
        .unwrap();
}

/// The state offsets of `t` and the tasks it sits inside.
fn with_ancestors(doc: &Document, t: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut cur = Some(t);
    while let Some(i) = cur {
        out.push(doc.tasks[i].state_offset(&doc.source));
        cur = doc.tasks[i].parent();
    }
    out
}

/// Offsets where `a` and `b` differ (compared a block at a time: quick even
/// in debug builds, and these files are large).
fn differing(a: &[u8], b: &[u8]) -> Vec<usize> {
    assert_eq!(a.len(), b.len(), "a tick changed the file's length");
    const BLOCK: usize = 256;
    let mut out = Vec::new();
    for (n, (x, y)) in a.chunks(BLOCK).zip(b.chunks(BLOCK)).enumerate() {
        if x != y {
            out.extend(
                (0..x.len())
                    .filter(|&i| x[i] != y[i])
                    .map(|i| n * BLOCK + i),
            );
        }
    }
    out
}

/// At most about this many `tick::apply` calls per file. Each re-reads and
/// re-parses the whole file (one has 505 tasks in 146 KB); beyond it every
/// `stride`-th task is ticked alone and the tasks between in one call.
const CALLS_PER_FILE: usize = 120;

/// Ticks every open task of the file at `path` through `tick::apply`, in
/// document order, each call re-reading the file and finding the task by
/// its id, checking that each call changes exactly the state bytes of the
/// tasks it names. Then clears the last one with `undo` and ticks it again.
/// Returns how many tasks were ticked.
fn tick_everything(path: &Path) -> Result<usize, String> {
    let original = std::fs::read(path).unwrap();
    let (_dir, copy) = scratch_copy(path);
    let first = read(&copy);
    // Ticks change bytes in place, so state offsets stay where they were.
    let open: Vec<(String, usize)> = (first.tasks.iter().zip(first.task_ids()))
        .filter(|(t, _)| !t.checked)
        .map(|(t, id)| (id.into_owned(), t.state_offset(&first.source)))
        .collect();
    // Single ticks; for a very long file every `stride`-th task is ticked
    // alone and the tasks between in one call.
    let stride = if open.len() <= CALLS_PER_FILE {
        1
    } else {
        (2 * open.len()).div_ceil(CALLS_PER_FILE)
    };
    let mut steps: Vec<&[(String, usize)]> = Vec::new();
    let mut rest = &open[..];
    while !rest.is_empty() {
        steps.push(&rest[..1]);
        let run = (stride - 1).min(rest.len() - 1);
        if run > 0 {
            steps.push(&rest[1..1 + run]);
        }
        rest = &rest[1 + run..];
    }
    let mut expected = original.clone();
    for step in steps {
        let before = std::fs::read(&copy).unwrap();
        let ticks: Vec<Tick> = (step.iter())
            .map(|(id, _)| Tick {
                id: id.clone(),
                text: None,
            })
            .collect();
        // A file changed a moment ago may be in the middle of a save, and a
        // tick waits for it to be still; these ticks come back to back.
        age(&copy);
        let outcome = tick::apply(&copy, &ticks, false, ReadOptions::default())
            .map_err(|e| format!("tick {:?}: {e}", step[0].0))?;
        let after = std::fs::read(&copy).unwrap();
        let changed = differing(&before, &after);
        let want: Vec<usize> = step.iter().map(|s| s.1).collect();
        let ids: Vec<String> = step.iter().map(|s| s.0.clone()).collect();
        if changed != want
            || want
                .iter()
                .any(|&at| !matches!(before[at], b' ' | b'\t') || after[at] != b'x')
        {
            return Err(format!(
                "ticking {ids:?} changed bytes {changed:?}, want only {want:?}; outcome {outcome:?}"
            ));
        }
        // Parents come before their children: none is left for auto-ticking.
        if outcome.changed != ids || !outcome.parents.is_empty() {
            return Err(format!("ticking {ids:?}: outcome {outcome:?}"));
        }
        for at in want {
            expected[at] = b'x';
        }
    }
    let all_done = std::fs::read(&copy).unwrap();
    if all_done != expected {
        return Err("after every tick the file is not the original with `x` in each box".into());
    }
    let doc = read(&copy);
    if let Some(t) = doc.tasks.iter().position(|t| !t.checked) {
        return Err(format!(
            "task `{}` still open after ticking everything",
            doc.id(t)
        ));
    }
    if task_view(&doc).len() != first.tasks.len() {
        return Err("ticking changed the number of tasks".into());
    }
    // Undo the last task ticked: its box and its parents' boxes clear, nothing else.
    if let Some((id, _)) = open.last() {
        let t = doc.task_ids().position(|i| *i == **id).unwrap();
        let mut want = with_ancestors(&doc, t);
        want.sort();
        age(&copy);
        let outcome = tick::apply(&copy, &tick_one(id), true, ReadOptions::default())
            .map_err(|e| format!("undo `{id}`: {e}"))?;
        let undone = std::fs::read(&copy).unwrap();
        let changed = differing(&all_done, &undone);
        if changed != want || changed.iter().any(|&i| undone[i] != b' ') {
            return Err(format!(
                "undo `{id}` changed {changed:?}, want {want:?}: {outcome:?}"
            ));
        }
        let doc = read(&copy);
        if doc.tasks[t].checked {
            return Err(format!("undo `{id}`: still checked"));
        }
        // Ticking it again ticks the parents again too.
        tick::apply(&copy, &tick_one(id), false, ReadOptions::default())
            .map_err(|e| format!("re-tick `{id}`: {e}"))?;
        let again = std::fs::read(&copy).unwrap();
        let changed = differing(&all_done, &again);
        if changed
            .iter()
            .any(|&i| !want.contains(&i) || again[i] != b'x')
        {
            return Err(format!("re-tick `{id}` changed {changed:?}"));
        }
    }
    Ok(open.len())
}

#[test]
fn ticking_each_task_changes_exactly_its_state_byte() {
    // Largest first, over two threads (CI has two cores).
    let mut files = all_files();
    let with_corpus = files.len() > fixtures().len();
    files.sort_by_key(|(_, p)| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((name, path)) = files.get(i) else {
                return done;
            };
            done.push((name.clone(), tick_everything(path)));
        }
    };
    let results = std::thread::scope(|s| {
        let other = s.spawn(work);
        let mut r = work();
        r.extend(other.join().unwrap());
        r
    });
    let mut total = 0;
    let mut failures = Vec::new();
    for (name, r) in results {
        match r {
            Ok(n) => total += n,
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The corpus has well over a thousand open tasks; make sure we ticked them.
    let want = if with_corpus { 1000 } else { 10 };
    assert!(total > want, "only {total} ticks made");
}

// ---- what users of particular files notice ------------------------------

/// The corpus file whose name contains `part` (exactly one must).
fn file(part: &str) -> PathBuf {
    let found: Vec<_> = (corpus().into_iter())
        .filter(|(name, _)| name.contains(part))
        .collect();
    assert_eq!(found.len(), 1, "corpus files matching {part:?}: {found:?}");
    path_of(&found[0].0)
}

/// `key=N` from an INDEX.tsv feature list.
fn feature_count(features: &str, key: &str) -> Option<usize> {
    let at = features.find(&format!("{key}="))? + key.len() + 1;
    let digits: String = features[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn task_counts_match_the_index() {
    if !corpus_here() {
        return;
    }
    check_each(corpus(), |name, path| {
        let (_, features) = &index()[name];
        let doc = read(path);
        // The index counts checkboxes inside code fences naively. In this
        // plan a fence opened inside a list item (line 926) is closed by the
        // end of that item, as CommonMark says and GitHub shows: the 71
        // checkboxes the index puts "in-fence" are tasks.
        let want = match name.contains("jonathanavis96") {
            true => 143 + 71,
            false => feature_count(features, "effective").ok_or("no effective= in the index")?,
        };
        if doc.tasks.len() != want {
            return Err(format!("{} tasks, the index says {want}", doc.tasks.len()));
        }
        if let Some(upper) = feature_count(features, "[X]") {
            let bytes = std::fs::read(path).unwrap();
            let found = (doc.tasks.iter())
                .filter(|t| bytes[t.state_offset(&doc.source)] == b'X')
                .count();
            if found != upper {
                return Err(format!("{found} `[X]` tasks, the index says {upper}"));
            }
        }
        Ok(())
    });
}

/// Whether `line` fits in a 100-column terminal: a vt100 screen that wide
/// keeps the cursor on its first row (a wider line wraps to the next).
fn fits_in_100_columns(line: &str) -> bool {
    let size = |n| std::num::NonZero::new(n).unwrap();
    let mut term = vt100::Parser::new(size(4), size(100), 0);
    term.process(line.as_bytes());
    term.screen().cursor_position().0 == 0
}

#[test]
fn the_text_plan_fits_in_100_columns_and_the_mermaid_graph_in_50_kb() {
    assert!(fits_in_100_columns(&"x".repeat(100)) && fits_in_100_columns(&"界".repeat(50)));
    assert!(!fits_in_100_columns(&"x".repeat(101)) && !fits_in_100_columns(&"界".repeat(51)));
    // The largest files (a 505-task README, 212-task Ralph plans) among them.
    for_each_file(|_, path| {
        let plan = Plan::build(read(path), PlanOptions::default()).map_err(|e| format!("{e:?}"))?;
        let text = plan_text::render(&plan, Path::new("/home/someone/projects/a-project"));
        if let Some(line) = text.lines().find(|l| !fits_in_100_columns(l)) {
            return Err(format!("a plan line is wider than 100 columns:\n{line}"));
        }
        let graph = plan_graph::render(&plan, plan_graph::Flavor::Mermaid);
        if graph.len() > 50_000 {
            return Err(format!("the Mermaid graph takes {} bytes", graph.len()));
        }
        if plan.doc.tasks.len() > 400
            && !graph.contains("\n%% One node per section instead of one per task: ")
        {
            return Err(format!(
                "{} tasks, yet the graph does not say it is grouped",
                plan.doc.tasks.len()
            ));
        }
        Ok(())
    });
}

#[test]
fn dialects_are_detected_from_the_tasks() {
    if !corpus_here() {
        return;
    }
    check_each(corpus(), |name, path| {
        let (_, features) = &index()[name];
        let doc = read(path);
        let kind = &features[..features.find(']').unwrap() + 1];
        let want = match kind {
            "[spec-kit]" => Dialect::Speckit,
            // The Kiro steering document has no tasks at all.
            "[kiro]" if doc.tasks.is_empty() => Dialect::Native,
            "[kiro]" => Dialect::Kiro,
            // A change's tasks, numbered by group (`## 1. …`, `1.1`); the
            // initiative snapshot numbers its headings but not its tasks.
            "[openspec]" if name.contains("archive") => Dialect::Openspec,
            _ => Dialect::Native,
        };
        if doc.dialect != want {
            return Err(format!(
                "{kind} file read as {:?}, want {want:?}",
                doc.dialect
            ));
        }
        Ok(())
    });
}

#[test]
fn line_endings_and_missing_final_newlines_survive_ticking() {
    if !corpus_here() {
        return;
    }
    let index = index();
    let mut checked = 0;
    for (name, path) in corpus() {
        let features = &index[&name].1;
        let crlf = features.contains("eol=CRLF");
        let no_newline = features.contains("no final newline");
        if !crlf && !no_newline {
            continue;
        }
        let doc = read(&path);
        if doc.tasks.iter().all(|t| t.checked) {
            continue;
        }
        let (_dir, copy) = scratch_copy(&path);
        let ticks: Vec<Tick> = (doc.task_ids())
            .map(|id| Tick {
                id: id.into_owned(),
                text: None,
            })
            .collect();
        tick::apply(&copy, &ticks, false, ReadOptions::default()).unwrap();
        let after = std::fs::read(&copy).unwrap();
        assert!(read(&copy).tasks.iter().all(|t| t.checked), "{name}");
        let lf = after.iter().filter(|&&b| b == b'\n').count();
        let crlfs = after.windows(2).filter(|w| w == b"\r\n").count();
        if crlf {
            assert_eq!(crlfs, lf, "{name}: a line lost its CRLF");
            assert!(lf > 10, "{name}");
        }
        if no_newline {
            assert_ne!(
                after.last(),
                Some(&b'\n'),
                "{name}: a final newline appeared"
            );
        }
        assert_eq!(
            after.len(),
            std::fs::metadata(&path).unwrap().len() as usize
        );
        checked += 1;
    }
    // CRLF: 1 file; no final newline: 6 with open tasks.
    assert!(checked >= 5, "only {checked} files checked");
}

#[test]
fn look_alikes_in_fences_comments_and_tables_are_not_tasks() {
    if !corpus_here() {
        return;
    }
    // Obsidian's test file: a fenced and a commented look-alike; only the
    // one in Obsidian's `%%` comment (no comment to CommonMark) is a task.
    let doc = read(&file("non_tasks.md"));
    let texts: Vec<_> = doc.tasks.iter().map(|t| doc.text_of(t)).collect();
    assert_eq!(
        texts,
        ["I look like a task but am in an Obsidian (percent) comment"]
    );
    // The cookbook shows its list in a fence, then live: 4 tasks, not 8.
    let doc = read(&file("Markdown-Cookbook"));
    let lines: Vec<_> = doc
        .tasks
        .iter()
        .map(|t| (doc.checkbox(t).line(), t.checked))
        .collect();
    assert_eq!(lines, [(12, true), (13, true), (14, true), (15, false)]);
    assert_eq!(doc.sections[1].title, "How to Create Task List");
    // The Kiro steering document's 8 checkboxes are all examples in fences.
    assert!(read(&file("steering__spec-task-planning")).tasks.is_empty());
    // `[~]`, `[/]`, `[-]`, `[?]`... are not checkboxes.
    let doc = read(&file("WORK_STREAM_TASKS"));
    assert!(doc.tasks.iter().all(|t| doc.checkbox(t).line() != 192));
    assert!(doc.source.line_text(192).starts_with("- [~]"));
    let doc = read(&file("checkbox-test"));
    assert_eq!(doc.tasks.len(), 11);
    assert!((doc.tasks.iter()).all(|t| matches!(
        doc.source.text.as_bytes()[t.checkbox_offset() + 1],
        b' ' | b'x' | b'X'
    )));
    // "- 1. [ ] item" is a task (an ordered task item inside a bullet);
    // "- 1.1 [ ] sub" is not (the checkbox is not first).
    let doc = read(&file("apollo-toolkit"));
    assert_eq!(doc.tasks.len(), 3);
    assert!(
        doc.tasks
            .iter()
            .all(|t| doc.text_of(t) == "[Main task item]")
    );
}

#[test]
fn spec_kit_files_keep_their_ids_and_front_matter() {
    if !corpus_here() {
        return;
    }
    let doc = read(&file("precta__specs__001"));
    let ids: Vec<_> = doc.task_ids().map(std::borrow::Cow::into_owned).collect();
    let want: Vec<_> = (1..=154).map(|n| format!("T{n:03}")).collect();
    assert_eq!(ids, want);
    // The template's front matter has a blank line after `---`; it is no
    // section, and the `====` lines inside its HTML comment are no headings.
    let doc = read(&file("spec-kit__templates__tasks-template"));
    assert_eq!(doc.sections[1].title, "Tasks: [FEATURE NAME]");
    assert_eq!(doc.sections[1].level, 1);
    assert!(
        doc.sections
            .iter()
            .all(|s| !s.title.contains("description"))
    );
    assert_eq!(doc.id(0), "T001");
    assert!(doc.tasks[2].parallel_mark, "T003 is marked [P]");
    // Blocked-by ids: `T000l [B:T000a,T000e]`.
    let doc = read(&file("MichelKerkmeester"));
    assert!((0..doc.tasks.len()).any(|t| doc.depends(t).len() >= 2));
    let plan = Plan::build(doc, PlanOptions::default()).unwrap();
    assert!((0..plan.tasks.len()).any(|t| plan.after(t).len() >= 2));
}

#[test]
fn kiro_files_nest_by_number_and_skip_optional_tasks() {
    if !corpus_here() {
        return;
    }
    let doc = read(&file("vercel-ai-chatui"));
    let by_id = |id: &str| doc.task_ids().position(|i| i == id).unwrap();
    assert_eq!(doc.tasks[by_id("1.1")].parent(), Some(by_id("1")));
    assert_eq!(doc.tasks.iter().filter(|t| t.parent().is_none()).count(), 7);
    let path = file("v1.6-merge-import-export");
    let doc = read(&path);
    let optional: Vec<_> = doc.tasks.iter().filter(|t| t.optional).collect();
    assert_eq!(optional.len(), 10);
    let plan = Plan::build(doc, PlanOptions::default()).unwrap();
    assert_eq!(
        (0..plan.tasks.len()).filter(|&t| plan.skipped(t)).count(),
        10
    );
    assert_eq!(plan.runnable().count(), 38 - 10);
    // Read as plain GFM, `[ ]*` items are no tasks at all.
    let native = Document::read(
        &path,
        ReadOptions {
            dialect: Some(Dialect::Native),
        },
    )
    .unwrap();
    assert_eq!(native.tasks.len(), 38);
    // The Chinese Kiro file ends without a newline on a task's body.
    let doc = read(&file("chiisen__KIRO"));
    assert_eq!(doc.tasks.len(), 20);
    assert!(!doc.source.text.ends_with('\n'));
}

#[test]
fn task_text_and_body_are_what_the_user_wrote() {
    if !corpus_here() {
        return;
    }
    // todo.md ends each task line with two spaces (a hard break).
    let doc = read(&file("todomd__todo.md"));
    assert_eq!(
        doc.text(0),
        "Work on the website ~3d #feat @john 2020-03-20"
    );
    assert!(
        doc.tasks
            .iter()
            .all(|t| doc.text_of(t) == doc.text_of(t).trim())
    );
    assert_eq!(doc.sections.last().unwrap().title, "Done ✓");
    // A fenced block indented under a task is its body.
    let doc = read(&file("code_block_in_task"));
    assert_eq!(doc.body(0), "```sh\nls -la\n```");
    // Arabic headings and slugs; a tab-indented task is found.
    let doc = read(&file("README-ar"));
    assert_eq!(doc.sections[1].title, "جامعة المقابلات البرمجية");
    assert_eq!(doc.sections[1].id, "جامعة-المقابلات-البرمجية");
    // The title names no task; a heading tells look-alikes apart.
    assert!(
        doc.task_ids()
            .all(|id| !id.contains("جامعة") && id.len() <= 48)
    );
    assert!(
        doc.task_ids()
            .any(|id| id == "التحضير/cracking-the-coding-interview-6th")
    );
}

// ---- the project's own fixtures (no corpus needed) ------------------------

#[test]
fn fixture_speckit_front_matter_ids_markers_and_dependencies() {
    let doc = read(&fixture("speckit-tasks.md"));
    assert_eq!(doc.dialect, Dialect::Speckit);
    // Front matter with a blank line after `---` is no section (pulldown-cmark
    // sees a rule and a setext heading), and the `====` lines inside the HTML
    // comment are no headings.
    let titles: Vec<_> = doc.sections[1..].iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Tasks: Photo albums",
            "Format: [ID] [P?] [Story] Description",
            "Phase 1: Setup",
            "Phase 2: User Story 1 - Albums (Priority: P1)",
            "Notes",
        ]
    );
    assert_eq!(doc.sections[1].level, 1);
    let ids: Vec<_> = doc.task_ids().collect();
    assert_eq!(
        ids,
        ["T001", "T002", "T003", "T004", "T005", "T006", "T007"]
    );
    // `[X]` is done, written as it was.
    assert!(doc.tasks[0].checked);
    assert_eq!(
        std::fs::read(fixture("speckit-tasks.md")).unwrap()[doc.tasks[0].state_offset(&doc.source)],
        b'X'
    );
    let marked: Vec<_> = (doc.tasks.iter().zip(doc.task_ids()))
        .filter(|(t, _)| t.parallel_mark)
        .map(|(_, id)| id)
        .collect();
    assert_eq!(marked, ["T002", "T003", "T004", "T005"]);
    let depends = |id: &str| -> Vec<String> {
        let t = doc.task_by_id(id).unwrap();
        doc.depends(t).iter().map(|d| d.value.clone()).collect()
    };
    assert_eq!(depends("T006"), ["T004", "T005"]);
    assert_eq!(depends("T007"), ["T004", "T006"]);
    let plan = Plan::build(doc, PlanOptions::default()).unwrap();
    assert_eq!(plan.waves.len(), 2);
    // In order, `[P]` neighbours together: T002 and T003 wait only for T001.
    let after = |t: usize| -> Vec<String> {
        (plan.after(t).iter())
            .map(|e| plan.target_id(e.target()).into_owned())
            .collect()
    };
    assert_eq!(after(1), ["T001"]);
    assert_eq!(after(2), ["T001"]);
    assert_eq!(after(6), ["T004", "T006"]);
}

#[test]
fn fixture_kiro_numbers_nest_and_optional_tasks_are_skipped() {
    let path = fixture("kiro-tasks.md");
    let doc = read(&path);
    assert_eq!(doc.dialect, Dialect::Kiro);
    assert!(!doc.source.text.ends_with('\n'), "no final newline");
    let by_id = |id: &str| doc.task_ids().position(|i| i == id).unwrap();
    // `1.1` written flush left under `1.` is its subtask.
    assert_eq!(doc.tasks[by_id("1.1")].parent(), Some(by_id("1")));
    assert_eq!(doc.tasks[by_id("1.3")].parent(), Some(by_id("1")));
    assert_eq!(doc.tasks[by_id("2.1")].parent(), Some(by_id("2")));
    assert_eq!(doc.tasks.iter().filter(|t| t.parent().is_none()).count(), 3);
    assert_eq!(doc.text(by_id("2")), "2. 建立数据模型");
    assert!(doc.tasks[by_id("1.2")].parallel_mark);
    let depends = |id: &str| -> Vec<String> {
        (doc.depends(by_id(id)).iter())
            .map(|d| d.value.clone())
            .collect()
    };
    // A subtask's `_Depends:_` is its own, not its parent's.
    assert_eq!(depends("2.1"), ["1.3"]);
    assert_eq!(depends("2"), Vec::<String>::new());
    assert_eq!(depends("3"), ["2.1"]);
    assert!(doc.tasks[by_id("2.2")].optional);
    let plan = Plan::build(doc, PlanOptions::default()).unwrap();
    assert_eq!(
        (0..plan.tasks.len()).filter(|&t| plan.skipped(t)).count(),
        1
    );
    assert_eq!(plan.runnable().count(), 5);
    // Read as plain GFM, `[ ]*` is no task at all.
    let native = Document::read(
        &path,
        ReadOptions {
            dialect: Some(Dialect::Native),
        },
    )
    .unwrap();
    assert_eq!(native.tasks.len(), 7);
}

#[test]
fn fixture_nesting_markers_look_alikes_with_crlf_and_a_bom() {
    let doc = read(&fixture("nested-crlf-bom.md"));
    assert_eq!(doc.source.bom, 3);
    assert!(doc.source.text.contains("\r\n"));
    let texts: Vec<_> = doc.tasks.iter().map(|t| doc.text_of(t)).collect();
    assert_eq!(
        texts,
        [
            "Compile the release binaries",
            "Linux",
            "macOS",
            "Sign the macOS binary",
            "Notarize it",
            "Windows",
            "Package",
            // `- 1. [ ] x` is an ordered task item inside a bullet;
            // `- 1.1 [ ] x` is none (the checkbox is not first).
            "A task under a plain bullet",
            // A fence opened inside an item ends with the item.
            "Fence opened in an item",
            "Closed by the end of that item",
        ]
    );
    let children = |t: usize| -> Vec<usize> { doc.children(t).collect() };
    assert_eq!(children(0), [1, 2, 5]);
    assert_eq!(children(2), [3]);
    assert_eq!(children(3), [4]);
    let checked: Vec<_> = doc.tasks.iter().map(|t| t.checked).collect();
    assert_eq!(
        checked,
        [
            false, true, true, false, false, false, false, false, false, false
        ]
    );
    // Fenced, commented, tabled, `[~]`, `[-]` and `[]` items are no tasks;
    // a quoted one and `- [ ]` alone are listed as ignored.
    let ignored: Vec<_> = (doc.ignored.iter()).map(|i| (i.line, i.reason)).collect();
    assert_eq!(
        ignored,
        [(24, "nothing after the checkbox"), (40, "in a block quote")]
    );
    assert_eq!(doc.id(0), "compile");
    assert_eq!(doc.id(1), "linux");
    let plan = Plan::build(doc, PlanOptions::default()).unwrap();
    // A ticked parent makes everything under it done.
    assert!(plan.is_done(4));
    assert_eq!(
        plan.settings(6).gate.as_ref().unwrap().command,
        "test -f dist/package.tar.gz"
    );
    assert_eq!(
        plan.settings(4).timeout,
        Some(std::time::Duration::from_secs(1200))
    );
    assert_eq!(plan.groups.len(), 1);
    assert_eq!(plan.groups[0].limit, 2);
}
