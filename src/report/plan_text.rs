//! The plan as a readable tree: where agents run, tracks, waves, sections,
//! tasks with state, ids, limits and dependencies (track edges marked), then
//! warnings and ignored items. Every line fits in 100 columns: long titles,
//! texts and notes are cut (with `…`), so a task keeps one line in a
//! terminal or a CI log.

use std::borrow::Cow;
use std::fmt::Write;
use std::path::Path;

use crate::plan::{EdgeFrom, Group, GroupOwner, Plan};
use crate::report::plural;
use crate::taskfile::{Document, IdSource, SpanCursor};

const TEXT_WIDTH: usize = 72;
/// The widest line, in terminal columns.
const WIDTH: usize = 100;
/// Columns a task's text keeps beside its notes (more notes go on lines of
/// their own).
const TEXT_MIN: usize = 32;

/// `workdir` is where agents and gates run unless `run --workdir` says
/// otherwise (`run::workspace::default_workdir`).
pub fn render(plan: &Plan, workdir: &Path) -> String {
    let mut out = String::new();
    write_to(plan, workdir, &mut out, |_| Ok(())).expect("writing to memory cannot fail");
    out
}

/// Writes what [`render`] returns to `sink` as it goes: the text of a plan
/// of 100,000 tasks is never held whole.
pub fn write(plan: &Plan, workdir: &Path, mut sink: impl std::io::Write) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 16;
    let mut out = String::with_capacity(CHUNK + 4096);
    write_to(plan, workdir, &mut out, |out| {
        if out.len() >= CHUNK {
            sink.write_all(out.as_bytes())?;
            out.clear();
        }
        Ok(())
    })?;
    sink.write_all(out.as_bytes())?;
    sink.flush()
}

/// Writes the plan text to `out`, calling `flush_some` between tasks (to
/// hand a chunk on, or not).
fn write_to(
    plan: &Plan,
    workdir: &Path,
    out: &mut String,
    mut flush_some: impl FnMut(&mut String) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let doc = &plan.doc;
    let total = doc.tasks.len();
    let runnable: Vec<usize> = plan.runnable().collect();
    let done = runnable.iter().filter(|&&t| plan.is_done(t)).count();
    let counts = format!(
        "{} task{} to run ({done} done, {} to do) in {} wave{} · dialect {}",
        runnable.len(),
        plural(runnable.len()),
        runnable.len() - done,
        plan.waves.len(),
        plural(plan.waves.len()),
        doc.dialect.name(),
    );
    let path = doc.source.display_path();
    let header = format!("{path}: {counts}");
    if width(&header) <= WIDTH {
        let _ = writeln!(out, "{header}");
    } else {
        // A long path on a line of its own.
        let _ = writeln!(out, "{}:\n  {counts}", keep_end(&path, WIDTH - 1));
    }
    if total != runnable.len() {
        let parents = (0..doc.tasks.len())
            .filter(|&t| doc.has_children(t))
            .count();
        let skipped = (0..plan.tasks.len()).filter(|&t| plan.skipped(t)).count();
        let mut extra = Vec::new();
        if parents > 0 {
            extra.push(format!(
                "{parents} parent{} ticked by their subtasks",
                plural(parents)
            ));
        }
        if skipped > 0 {
            extra.push(format!(
                "{skipped} optional skipped (use --include-optional)"
            ));
        }
        if !extra.is_empty() {
            let _ = writeln!(out, "  plus {}", extra.join(", "));
        }
    }
    if let Some(limit) = limit_of(plan, &GroupOwner::File) {
        let _ = writeln!(out, "  file: {limit}");
    }
    let _ = writeln!(
        out,
        "  agents run in {}",
        describe_workdir(workdir, WIDTH - 17)
    );
    tracks(out, plan);
    // The notes of a task, reused from task to task.
    let mut notes = String::new();
    let mut lines = SpanCursor::default();
    for (w, wave) in plan.waves.iter().enumerate() {
        let head = format!("wave {}", w + 1);
        let mut tail = String::new();
        if wave.own_tasks && wave.section == 0 {
            tail.push_str(" · before the first heading");
        }
        if let Some(limit) =
            limit_of(plan, &GroupOwner::Section(wave.section)).filter(|_| wave.section != 0)
        {
            let _ = write!(tail, "  ({limit})");
        }
        let path = doc.section_path(wave.section);
        let room = WIDTH.saturating_sub(width(&head) + width(&tail) + 3);
        let _ = write!(out, "\n{head}");
        if !path.is_empty() {
            let _ = write!(out, " · {}", fit_path(&path, room));
        }
        let _ = writeln!(out, "{tail}");
        let mut current = wave.section;
        for t in wave.tasks() {
            let task = &doc.tasks[t];
            if task.section() != current {
                current = task.section();
                let mut tail = format!("  [{}]", doc.sections[current].id);
                if let Some(limit) = limit_of(plan, &GroupOwner::Section(current)) {
                    let _ = write!(tail, "  ({limit})");
                }
                if let Some(k) = plan.tracks.of_section[current] {
                    let _ = write!(tail, "  · track {}", plan.tracks.list[k].name);
                }
                let rel = relative_path(doc, wave.section, current);
                let room = WIDTH.saturating_sub(width(&tail) + 4);
                let _ = writeln!(out, "  § {}{tail}", fit_path(&rel, room));
            }
            task_line(out, &mut notes, plan, t, &mut lines);
            flush_some(out)?;
        }
    }
    if !doc.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for w in &doc.warnings {
            let line = format!(
                "  line {}:{}: {}",
                w.at.span.line(),
                w.at.span.column(),
                w.message
            );
            wrap(out, &line, "    ");
        }
    }
    if !doc.ignored.is_empty() {
        let _ = writeln!(out, "\nignored:");
        for i in &doc.ignored {
            let head = format!("  line {}:", i.line);
            let tail = format!(" ({})", i.reason);
            let text = cut(
                &i.text,
                WIDTH.saturating_sub(width(&head) + width(&tail) + 1),
            );
            let gap = if text.is_empty() { "" } else { " " };
            let _ = writeln!(out, "{head}{gap}{text}{tail}");
        }
    }
    Ok(())
}

fn task_line(out: &mut String, notes: &mut String, plan: &Plan, t: usize, lines: &mut SpanCursor) {
    let doc = &plan.doc;
    let task = &doc.tasks[t];
    let depth = {
        let mut d = 0;
        let mut p = task.parent();
        while let Some(i) = p {
            d += 1;
            p = doc.tasks[i].parent();
        }
        d
    };
    let mark = if task.checked {
        "[x]"
    } else if plan.is_done(t) {
        "[~]"
    } else {
        "[ ]"
    };
    // Dialect ids are the start of the text; say them once. (A hint or slug
    // id that happens to start the text is not repeated text.)
    let text = (task.id_source == IdSource::Dialect)
        .then(|| doc.text(t).strip_prefix(&*doc.id(t)))
        .flatten()
        .map_or(doc.text(t), |rest| {
            rest.trim_start_matches('.').trim_start()
        });
    // The notes, `  (a; b; c)` or nothing, written straight into one
    // reused string.
    notes.clear();
    let note = |notes: &mut String| notes.push_str(if notes.is_empty() { "  (" } else { "; " });
    if task.optional {
        note(notes);
        notes.push_str(if plan.skipped(t) {
            "optional, skipped"
        } else {
            "optional"
        });
    }
    if doc.has_children(t) {
        note(notes);
        notes.push_str("parent");
    }
    if let Some(g) = group_of(plan, &GroupOwner::Task(t)) {
        note(notes);
        notes.push_str("subtasks ");
        push_limit(notes, g);
    }
    if !plan.after(t).is_empty() {
        note(notes);
        notes.push_str("after ");
        for (k, e) in plan.after(t).iter().enumerate() {
            if k > 0 {
                notes.push_str(", ");
            }
            doc.push_id_of(e.target(), notes);
            if e.from == EdgeFrom::TRACK {
                notes.push_str(" (track)");
            }
        }
    }
    let s = plan.settings(t);
    if let Some(a) = &s.agent {
        note(notes);
        notes.push_str("agent ");
        notes.push_str(a);
    }
    if let Some(d) = s.timeout {
        note(notes);
        notes.push_str("timeout ");
        humanize_into(notes, d);
    }
    if let Some(r) = s.retries {
        note(notes);
        notes.push_str("retries ");
        notes.push_str(itoa::Buffer::new().format(r));
    }
    if let Some(g) = &s.gate {
        note(notes);
        notes.push_str("gate ");
        notes.push_str(&g.label());
    }
    for c in &s.checkpoints {
        note(notes);
        let _ = write!(notes, "checkpoint `{}` {}", c.summary(), c.trigger_label());
    }
    if let Some(j) = &s.judge {
        note(notes);
        notes.push_str("judge ");
        notes.push_str(j);
    }
    if let Some(on) = s.isolate {
        note(notes);
        notes.push_str(if on {
            "isolate worktree"
        } else {
            "isolate none"
        });
    }
    if !plan.files(t).is_empty() {
        note(notes);
        notes.push_str("files ");
        for (k, f) in plan.files(t).all().enumerate() {
            if k > 0 {
                notes.push_str(", ");
            }
            notes.push_str(f);
        }
    }
    if !notes.is_empty() {
        notes.push(')');
    }
    // `  {indent}{mark} {id}  `, measured as written.
    let head_start = out.len();
    out.push_str("  ");
    out.push_str(&spaces(2 * depth));
    out.push_str(mark);
    out.push(' ');
    doc.push_id(t, out);
    out.push_str("  ");
    let head_width = width(&out[head_start..]);
    let mut line = itoa::Buffer::new();
    let line = line.format(doc.checkbox_after(lines, task).line());
    // `  :{line}`
    let end_width = 3 + line.len();
    let room = WIDTH.saturating_sub(head_width + end_width);
    let text = shorten(text);
    let notes_width = width(notes);
    let fits = notes_width + width(&text).min(TEXT_MIN) <= room;
    if fits {
        out.push_str(&cut(&text, room - notes_width));
        out.push_str(notes);
    } else {
        out.push_str(&cut(&text, room));
    }
    out.push_str("  :");
    out.push_str(line);
    out.push('\n');
    if !fits {
        // Notes that leave the text too little room get lines of their
        // own: a gate or a dependency is never cut.
        wrap_words(
            out,
            &spaces(4 + 2 * depth),
            notes.trim_start(),
            &spaces(5 + 2 * depth),
        );
    }
}

/// Columns `s` takes in a terminal (wide characters count two, ANSI
/// escapes none): `console`'s measure, without a call for printable ASCII.
fn width(s: &str) -> usize {
    if printable_ascii(s) {
        s.len()
    } else {
        console::measure_text_width(s)
    }
}

/// Whether `s` is all printable ASCII (0x20 to 0x7e), one column a byte;
/// a word at a time.
fn printable_ascii(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.as_bytes().chunks_exact(8);
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap());
        // A byte below 0x20 borrows into its high bit, 0x7f carries into
        // it, and 0x80 and up have it. (A borrow or carry running on can
        // only flag a word that has such a byte anyway.)
        if (x.wrapping_sub(ONES * 0x20) | x | x.wrapping_add(ONES)) & HIGH != 0 {
            return false;
        }
    }
    (words.remainder().iter()).all(|b| matches!(b, 0x20..=0x7e))
}

/// `s` in at most `max` columns, ending with `…` when cut.
fn cut(s: &str, max: usize) -> Cow<'_, str> {
    if printable_ascii(s) {
        if s.len() <= max {
            return s.into();
        }
        // What `console` does for one column a byte, without its walk
        // through escapes and characters.
        let mut cut = String::with_capacity(max + 2);
        cut.push_str(&s[..max.saturating_sub(1)]);
        cut.push('…');
        return cut.into();
    }
    if console::measure_text_width(s) <= max {
        s.into()
    } else {
        console::truncate_str(s, max, "…")
    }
}

/// `n` spaces (borrowed for the usual indents).
fn spaces(n: usize) -> Cow<'static, str> {
    const SPACES: &str = "                                                                ";
    match SPACES.get(..n) {
        Some(s) => s.into(),
        None => " ".repeat(n).into(),
    }
}

/// `s` in at most `max` columns, its start given up for `…` when cut (the
/// end of a path says most).
fn keep_end(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let mut chars: Vec<char> = s.chars().collect();
    while !chars.is_empty() && width(&chars.iter().collect::<String>()) + 1 > max {
        chars.remove(0);
    }
    format!("…{}", chars.iter().collect::<String>())
}

/// Headings joined by ` › ` in at most `max` columns: the outer ones give
/// way to `…` first, then the innermost is cut.
fn fit_path(path: &[String], max: usize) -> String {
    let mut skip = 0;
    loop {
        let shown = path[skip..].join(" › ");
        let line = if skip == 0 {
            shown
        } else {
            format!("… › {shown}")
        };
        if width(&line) <= max || skip + 1 >= path.len() {
            return cut(&line, max).into_owned();
        }
        skip += 1;
    }
}

/// `line` wrapped at spaces to `WIDTH` columns, continued after `indent`.
fn wrap(out: &mut String, line: &str, indent: &str) {
    let body = line.trim_start_matches(' ');
    wrap_words(out, &line[..line.len() - body.len()], body, indent);
}

/// `lead` then `body` wrapped at spaces to `WIDTH` columns,
/// continued after `indent`; only the last line is cut to fit.
fn wrap_words(out: &mut String, lead: &str, body: &str, indent: &str) {
    if lead.len() + body.len() <= WIDTH && printable_ascii(lead) && printable_ascii(body) {
        // It fits, one column a byte: no word moves, nothing is cut.
        out.push_str(lead);
        out.push_str(body);
        out.push('\n');
        return;
    }
    // The line being filled is `out[start..]`; its width is its length
    // while it is all printable ASCII (`ascii`), else measured.
    let mut start = out.len();
    out.push_str(lead);
    let indent_ascii = printable_ascii(indent);
    let mut ascii = printable_ascii(lead);
    let mut empty = true;
    for word in body.split(' ') {
        let word_ascii = printable_ascii(word);
        let word_width = if word_ascii {
            word.len()
        } else {
            console::measure_text_width(word)
        };
        if !empty {
            let current = if ascii {
                out.len() - start
            } else {
                width(&out[start..])
            };
            if current + 1 + word_width > WIDTH {
                out.push('\n');
                start = out.len();
                out.push_str(indent);
                ascii = indent_ascii;
            } else {
                out.push(' ');
            }
        }
        out.push_str(word);
        ascii &= word_ascii;
        empty = false;
    }
    if !ascii || out.len() - start > WIDTH {
        let last = cut(&out[start..], WIDTH).into_owned();
        out.truncate(start);
        out.push_str(&last);
    }
    out.push('\n');
}

/// What orders the waves, and each track as its modules wave by wave.
fn tracks(out: &mut String, plan: &Plan) {
    let doc = &plan.doc;
    let tracks = &plan.tracks;
    if tracks.graph {
        wrap(
            out,
            "  order: graph (phases are advisory; only dependencies, in-order groups and tracks order tasks)",
            "    ",
        );
    }
    if !tracks.pipeline {
        return;
    }
    wrap(
        out,
        "  pipeline: tracks (a module waits for its track's module in the wave before; tasks outside tracks wait for the whole wave before)",
        "    ",
    );
    let _ = writeln!(
        out,
        "
tracks:"
    );
    for track in &tracks.list {
        let steps: Vec<String> = (track.modules.iter())
            .map(|&m| {
                format!(
                    "{} (wave {})",
                    doc.sections[m].id,
                    wave_of_section(plan, m) + 1
                )
            })
            .collect();
        wrap(
            out,
            &format!("  {}: {}", track.name, steps.join(" → ")),
            "    ",
        );
    }
}

fn wave_of_section(plan: &Plan, s: usize) -> usize {
    let first = plan.doc.section_tasks(s).start;
    plan.tasks
        .get(first)
        .map_or(0, crate::plan::PlannedTask::wave)
}

/// The folder relative to the current one when inside it (`.` for itself),
/// else as it is, and why agents run there.
fn describe_workdir(workdir: &Path, max: usize) -> String {
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| std::fs::canonicalize(cwd).ok())
        .and_then(|cwd| workdir.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .map_or_else(
            || workdir.display().to_string(),
            |rel| {
                if rel.as_os_str().is_empty() {
                    ".".to_owned()
                } else {
                    rel.display().to_string()
                }
            },
        );
    let why = if workdir.join(".git").exists() {
        "the root of the git work tree holding the file"
    } else {
        "the task file's folder"
    };
    let shown = keep_end(&shown, max.saturating_sub(why.len() + 3));
    format!("{shown} ({why})")
}

fn limit_of(plan: &Plan, owner: &GroupOwner) -> Option<String> {
    group_of(plan, owner).map(|g| {
        let mut s = String::new();
        push_limit(&mut s, g);
        s
    })
}

/// The group `owner` limits, if any.
fn group_of<'p>(plan: &'p Plan, owner: &GroupOwner) -> Option<&'p Group> {
    // Groups come file, sections in order, then tasks in order.
    let key = |o: &GroupOwner| match o {
        GroupOwner::File => (0, 0),
        GroupOwner::Section(s) => (1, *s),
        GroupOwner::Task(t) => (2, *t),
    };
    let want = key(owner);
    let i = plan.groups.partition_point(|g| key(&g.owner) < want);
    plan.groups.get(i).filter(|g| key(&g.owner) == want)
}

fn push_limit(out: &mut String, g: &Group) {
    if g.in_order {
        out.push_str("one at a time, in order");
    } else {
        out.push_str("at most ");
        out.push_str(itoa::Buffer::new().format(g.limit));
        out.push_str(" at once");
    }
}

fn relative_path(doc: &Document, from: usize, to: usize) -> Vec<String> {
    let full = doc.section_path(to);
    let skip = doc.section_path(from).len();
    full[skip.min(full.len())..].to_vec()
}

pub fn humanize(d: std::time::Duration) -> String {
    let mut out = String::new();
    humanize_into(&mut out, d);
    out
}

/// [`humanize`], written to the end of `out`.
fn humanize_into(out: &mut String, d: std::time::Duration) {
    let mut num = |n: u128, unit: &str| {
        out.push_str(itoa::Buffer::new().format(n));
        out.push_str(unit);
    };
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return num(ms, "ms");
    }
    let s = u128::from(d.as_secs());
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => num(s, "s"),
        (0, m, 0) => num(m, "m"),
        (0, m, s) => {
            num(m, "m");
            num(s, "s");
        }
        (h, 0, 0) => num(h, "h"),
        (h, m, 0) => {
            num(h, "h");
            num(m, "m");
        }
        (h, m, s) => {
            num(h, "h");
            num(m, "m");
            num(s, "s");
        }
    }
}

fn shorten(text: &str) -> Cow<'_, str> {
    // Bytes bound characters: most texts are short enough to need no count.
    if text.len() <= TEXT_WIDTH || text.chars().count() <= TEXT_WIDTH {
        text.into()
    } else {
        let mut s: String = text.chars().take(TEXT_WIDTH - 1).collect();
        s.push('…');
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRICKY: &[&str] = &[
        "",
        "plain ascii words",
        "tab\there and a bell \u{7}",
        "\u{7f} delete",
        "全角の文字で書かれたとても長いタスクのテキスト",
        "emoji 🎉🎉 and flags 🇫🇷 and a family 👨‍👩‍👧 and ❤️ with VS16",
        "combining é́́ marks and zero\u{200b}width spaces",
        "\u{1b}[31mred\u{1b}[0m escapes count nothing",
        "half an escape \u{1b}[",
        "U+2028 \u{2028} and U+2029 \u{2029}",
        "ascii then 日本",
        "exactly eight",
        "a text of plain printable ASCII that is long enough to be cut in most of the widths tried",
        "~}|{ `_^]\\[ @?>=<;:/.-,+*)('&%$#\"! 0123456789",
        "ascii and a \u{7f} near the end",
        "ascii and a \u{80} near the end",
        "ascii and a \u{1f} near the end",
    ];

    #[test]
    fn printable_ascii_is_every_byte_from_space_to_tilde() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            for at in 0..17 {
                let mut s = "x".repeat(16);
                s.insert(at, c);
                assert_eq!(printable_ascii(&s), (0x20..=0x7e).contains(&b), "{s:?}");
            }
        }
        for s in TRICKY {
            assert_eq!(
                printable_ascii(s),
                s.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                "{s:?}"
            );
        }
    }

    #[test]
    fn width_is_consoles_measure() {
        for s in TRICKY {
            assert_eq!(width(s), console::measure_text_width(s), "{s:?}");
            for max in 0..60 {
                assert_eq!(
                    cut(s, max),
                    console::truncate_str(s, max, "…"),
                    "{s:?} in {max}"
                );
            }
        }
    }

    /// The wrapping as it was first written: the whole line measured for
    /// every word.
    fn wrap_as_first_written(out: &mut String, line: &str, indent: &str) {
        let body = line.trim_start_matches(' ');
        let mut current = line[..line.len() - body.len()].to_owned();
        let mut empty = true;
        for word in body.split(' ') {
            if !empty
                && console::measure_text_width(&current) + 1 + console::measure_text_width(word)
                    > WIDTH
            {
                out.push_str(&current);
                out.push('\n');
                current = indent.to_owned();
            } else if !empty {
                current.push(' ');
            }
            current.push_str(word);
            empty = false;
        }
        out.push_str(&console::truncate_str(&current, WIDTH, "…"));
        out.push('\n');
    }

    #[test]
    fn wrapping_keeps_every_line_in_its_columns_as_before() {
        let words = [
            "a",
            "gate",
            "`cargo test --all`",
            "全角の文字",
            "🎉🎉🎉",
            "\u{1b}[31mred\u{1b}[0m",
            "",
            "é́́",
            "files src/a.rs,",
            "a-very-long-word-that-takes-most-of-a-line-by-itself-and-then-some-more-columns-to-spare-or-not",
            "全角の文字で書かれたとても長いタスクのテキストがここにありますとても長いタスクのテキストがここにあります",
        ];
        // Lines of many lengths from a fixed pseudo-random walk over the
        // words, behind ASCII and non-ASCII indents.
        let mut seed = 7u64;
        for n in 0..400 {
            let mut line = String::from(if n % 3 == 0 { "    " } else { "  " });
            for _ in 0..(n % 40) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if !line.ends_with(' ') {
                    line.push(' ');
                }
                line.push_str(words[(seed >> 33) as usize % words.len()]);
            }
            for indent in ["     ", "  ", "  · "] {
                let (mut ours, mut want) = (String::from("x"), String::from("x"));
                wrap(&mut ours, &line, indent);
                wrap_as_first_written(&mut want, &line, indent);
                assert_eq!(ours, want, "{line:?}");
            }
        }
    }

    #[test]
    fn durations_read_as_before() {
        let first_written = |d: std::time::Duration| {
            let ms = d.as_millis();
            if !ms.is_multiple_of(1000) {
                return format!("{ms}ms");
            }
            let s = d.as_secs();
            match (s / 3600, (s % 3600) / 60, s % 60) {
                (0, 0, s) => format!("{s}s"),
                (0, m, 0) => format!("{m}m"),
                (0, m, s) => format!("{m}m{s}s"),
                (h, 0, 0) => format!("{h}h"),
                (h, m, 0) => format!("{h}h{m}m"),
                (h, m, s) => format!("{h}h{m}m{s}s"),
            }
        };
        let mut cases: Vec<_> = (0..20_000)
            .step_by(7)
            .map(std::time::Duration::from_secs)
            .collect();
        cases.extend([1, 999, 1000, 1500, 60_000, 3_600_001].map(std::time::Duration::from_millis));
        cases.push(std::time::Duration::from_secs(u64::MAX / 2));
        for d in cases {
            assert_eq!(humanize(d), first_written(d), "{d:?}");
        }
    }
}
