//! The plan as a readable tree: where agents run, tracks, waves, sections,
//! tasks with state, ids, limits and dependencies (track edges marked), then
//! warnings and ignored items. Every line fits in 100 columns: long titles,
//! texts and notes are cut (with `…`), so a task keeps one line in a
//! terminal or a CI log.

use std::fmt::Write;
use std::path::Path;

use crate::plan::{EdgeFrom, GroupOwner, Plan};
use crate::report::plural;
use crate::taskfile::{Document, IdSource};

const TEXT_WIDTH: usize = 72;
/// The widest line, in terminal columns.
const WIDTH: usize = 100;
/// Columns a task's text keeps beside its notes (more notes go on lines of
/// their own).
const TEXT_MIN: usize = 32;

/// `workdir` is where agents and gates run unless `run --workdir` says
/// otherwise (`run::workspace::default_workdir`).
pub fn render(plan: &Plan, workdir: &Path) -> String {
    let mut buf = Vec::new();
    write(plan, workdir, &mut buf).expect("writing to memory cannot fail");
    String::from_utf8(buf).expect("the plan text is UTF-8")
}

/// Writes what [`render`] returns to `sink` as it goes: the text of a plan
/// of 100,000 tasks is never held whole.
pub fn write(plan: &Plan, workdir: &Path, mut sink: impl std::io::Write) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 16;
    let doc = &plan.doc;
    let mut out = String::with_capacity(2 * CHUNK);
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
        let parents = doc.tasks.iter().filter(|t| !t.children.is_empty()).count();
        let skipped = plan.tasks.iter().filter(|t| t.skipped).count();
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
    tracks(&mut out, plan);
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
        for &t in &wave.tasks {
            let task = &doc.tasks[t];
            if task.section != current {
                current = task.section;
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
            task_line(&mut out, plan, t);
            if out.len() >= CHUNK {
                sink.write_all(out.as_bytes())?;
                out.clear();
            }
        }
    }
    if !doc.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for w in &doc.warnings {
            let line = format!(
                "  line {}:{}: {}",
                w.at.span.line, w.at.span.column, w.message
            );
            wrap(&mut out, &line, "    ");
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
    sink.write_all(out.as_bytes())?;
    sink.flush()
}

fn task_line(out: &mut String, plan: &Plan, t: usize) {
    let doc = &plan.doc;
    let task = &doc.tasks[t];
    let depth = {
        let mut d = 0;
        let mut p = task.parent;
        while let Some(i) = p {
            d += 1;
            p = doc.tasks[i].parent;
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
        .then(|| task.text.strip_prefix(task.id.as_str()))
        .flatten()
        .map_or(task.text.as_str(), |rest| {
            rest.trim_start_matches('.').trim_start()
        });
    let head = format!("  {}{mark} {}  ", "  ".repeat(depth), task.id);
    let mut notes = Vec::new();
    if task.optional {
        notes.push(if plan.tasks[t].skipped {
            "optional, skipped".to_owned()
        } else {
            "optional".to_owned()
        });
    }
    if !task.children.is_empty() {
        notes.push("parent".to_owned());
    }
    if let Some(limit) = limit_of(plan, &GroupOwner::Task(t)) {
        notes.push(format!("subtasks {limit}"));
    }
    if !plan.tasks[t].after.is_empty() {
        let p = &plan.tasks[t];
        let ids: Vec<String> = (p.after.iter().zip(&p.after_from))
            .map(|(&a, &from)| {
                let id = plan.target_id(a);
                if from == EdgeFrom::TRACK {
                    format!("{id} (track)")
                } else {
                    id.to_owned()
                }
            })
            .collect();
        notes.push(format!("after {}", ids.join(", ")));
    }
    let s = &plan.tasks[t].settings;
    if let Some(a) = &s.agent {
        notes.push(format!("agent {a}"));
    }
    if let Some(d) = s.timeout {
        notes.push(format!("timeout {}", humanize(d)));
    }
    if let Some(r) = s.retries {
        notes.push(format!("retries {r}"));
    }
    if let Some(g) = &s.gate {
        notes.push(format!("gate {}", g.label()));
    }
    for c in &s.checkpoints {
        notes.push(format!(
            "checkpoint `{}` {}",
            c.summary(),
            c.trigger_label()
        ));
    }
    if let Some(j) = &s.judge {
        notes.push(format!("judge {j}"));
    }
    if let Some(on) = s.isolate {
        notes.push(format!("isolate {}", if on { "worktree" } else { "none" }));
    }
    let files = &plan.tasks[t].files;
    if !files.is_empty() {
        notes.push(format!(
            "files {}",
            files.all().collect::<Vec<_>>().join(", ")
        ));
    }
    let end = format!("  :{}", task.checkbox.line);
    let room = WIDTH.saturating_sub(width(&head) + width(&end));
    let text = shorten(text);
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("  ({})", notes.join("; "))
    };
    if width(&notes) + width(&text).min(TEXT_MIN) <= room {
        let text = cut(&text, room - width(&notes));
        let _ = writeln!(out, "{head}{text}{notes}{end}");
    } else {
        // Notes that leave the text too little room get lines of their
        // own: a gate or a dependency is never cut.
        let _ = writeln!(out, "{head}{}{end}", cut(&text, room));
        let pad = format!("    {}", "  ".repeat(depth));
        wrap(
            out,
            &format!("{pad}{}", notes.trim_start()),
            &format!("{pad} "),
        );
    }
}

/// Columns `s` takes in a terminal (wide characters count two).
fn width(s: &str) -> usize {
    console::measure_text_width(s)
}

/// `s` in at most `max` columns, ending with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    console::truncate_str(s, max, "…").into_owned()
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
            return cut(&line, max);
        }
        skip += 1;
    }
}

/// `line` wrapped at spaces to `WIDTH` columns, continued after `indent`.
fn wrap(out: &mut String, line: &str, indent: &str) {
    let body = line.trim_start_matches(' ');
    let mut current = line[..line.len() - body.len()].to_owned();
    let mut empty = true;
    for word in body.split(' ') {
        if !empty && width(&current) + 1 + width(word) > WIDTH {
            let _ = writeln!(out, "{current}");
            current = indent.to_owned();
        } else if !empty {
            current.push(' ');
        }
        current.push_str(word);
        empty = false;
    }
    let _ = writeln!(out, "{}", cut(&current, WIDTH));
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
    plan.tasks.get(first).map_or(0, |t| t.wave)
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
    // Groups come file, sections in order, then tasks in order.
    let key = |o: &GroupOwner| match o {
        GroupOwner::File => (0, 0),
        GroupOwner::Section(s) => (1, *s),
        GroupOwner::Task(t) => (2, *t),
    };
    let want = key(owner);
    let i = plan.groups.partition_point(|g| key(&g.owner) < want);
    plan.groups
        .get(i)
        .filter(|g| key(&g.owner) == want)
        .map(|g| {
            if g.in_order {
                "one at a time, in order".to_owned()
            } else {
                format!("at most {} at once", g.limit)
            }
        })
}

fn relative_path(doc: &Document, from: usize, to: usize) -> Vec<String> {
    let full = doc.section_path(to);
    let skip = doc.section_path(from).len();
    full[skip.min(full.len())..].to_vec()
}

pub fn humanize(d: std::time::Duration) -> String {
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
}

fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    // Bytes bound characters: most texts are short enough to need no count.
    if text.len() <= TEXT_WIDTH || text.chars().count() <= TEXT_WIDTH {
        text.into()
    } else {
        let mut s: String = text.chars().take(TEXT_WIDTH - 1).collect();
        s.push('…');
        s.into()
    }
}
