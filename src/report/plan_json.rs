//! The plan as one JSON object; the schema is documented in docs/plan-json.md.
//!
//! Takes a plan, hands pretty JSON to a writer as it goes: a plan of
//! 100,000 tasks is never held as one string or one tree, and ids, texts
//! and bodies are escaped from where they live. Waves and tasks are
//! written in pieces on a thread per CPU, handed on in order.

use std::io::{self, Write};
use std::ops::Range;
use std::path::Path;

use crate::plan::{GroupOwner, Plan};
use crate::report::in_order;
use crate::report::json_out::JsonOut;
use crate::taskfile::{Document, IdOwner, IdSource, SpanCursor};

/// The version of this JSON: it changes when a field is removed, renamed or
/// changes its type or meaning (2: `gate` is the command as one string;
/// 3: a task's `body` leaves out its subtasks; 4: `after` holds derived
/// edges too, tracks and `order: graph`).
pub const SCHEMA: u32 = 4;

/// Writes the plan as pretty JSON to `out`, streaming. `workdir` is where
/// agents run by default (`run::workspace::default_workdir`).
pub fn write(plan: &Plan, workdir: &Path, out: impl Write) -> std::io::Result<()> {
    write_on(plan, workdir, out, crate::cpus::threads())
}

/// [`write`] with waves and tasks written on at most `threads` threads.
fn write_on(plan: &Plan, workdir: &Path, out: impl Write, threads: usize) -> io::Result<()> {
    let mut j = JsonOut::new(out);
    write_to(plan, workdir, &mut j, threads)?;
    j.into_inner()?.flush()
}

fn write_to<W: Write>(
    plan: &Plan,
    workdir: &Path,
    j: &mut JsonOut<W>,
    threads: usize,
) -> io::Result<()> {
    let doc = &plan.doc;
    // Each section's title path, written once (sections are few, tasks
    // many), for where it stands: in a wave or a task, both at depth 3.
    let paths: Vec<String> = (0..doc.sections.len())
        .map(|s| {
            let mut p = JsonOut::nested(PATH_DEPTH);
            let path = doc.section_path(s);
            p.begin_array()?;
            for title in &path {
                p.item()?;
                p.str(title)?;
            }
            p.end_array()?;
            Ok(p.into_string())
        })
        .collect::<std::io::Result<_>>()?;
    j.begin_object()?;
    j.key("schema")?;
    j.uint(SCHEMA.into())?;
    j.key("file")?;
    j.str(&doc.source.display_path())?;
    j.key("workdir")?;
    j.str(&workdir.display().to_string())?;
    j.key("dialect")?;
    j.str(doc.dialect.name())?;
    j.key("include_optional")?;
    j.bool(plan.options.include_optional)?;
    j.key("pipeline")?;
    j.str(if plan.tracks.pipeline {
        "tracks"
    } else {
        "waves"
    })?;
    j.key("order")?;
    j.str(if plan.tracks.graph { "graph" } else { "waves" })?;
    j.key("tracks")?;
    j.begin_array()?;
    for track in &plan.tracks.list {
        j.item()?;
        j.begin_object()?;
        j.key("name")?;
        j.str(&track.name)?;
        j.key("modules")?;
        j.str_array(track.modules.iter().map(|&m| doc.sections[m].id.as_str()))?;
        j.end_object()?;
    }
    j.end_array()?;

    // Waves, then tasks: pieces written on threads, in order.
    let wave_pieces = wave_pieces(plan);
    let task_pieces = doc.tasks.len().div_ceil(BATCH);
    j.key("waves")?;
    j.begin_array()?;
    let mut in_tasks = false;
    in_order::write_in_order(
        wave_pieces.len() + task_pieces,
        threads,
        || PieceWriter::new(plan, &paths),
        |w, k, out| match k.checked_sub(wave_pieces.len()) {
            None => write_waves(w, &wave_pieces[k], out),
            Some(b) => w.batch(b * BATCH..((b + 1) * BATCH).min(doc.tasks.len()), out),
        },
        |k, piece| {
            if k == wave_pieces.len() {
                in_tasks = true;
                waves_to_tasks(j)?;
            }
            j.items(piece)
        },
    )?;
    if !in_tasks {
        waves_to_tasks(j)?;
    }
    j.end_array()?;

    j.key("groups")?;
    j.begin_array()?;
    for g in &plan.groups {
        let (kind, owner) = match g.owner {
            GroupOwner::File => ("file", "".into()),
            GroupOwner::Section(s) => ("section", doc.sections[s].id.as_str().into()),
            GroupOwner::Task(t) => ("task", doc.id(t)),
        };
        j.item()?;
        j.begin_object()?;
        j.key("owner")?;
        j.str(&owner)?;
        j.key("kind")?;
        j.str(kind)?;
        j.key("limit")?;
        j.uint(g.limit as u64)?;
        j.key("in_order")?;
        j.bool(g.in_order)?;
        j.end_object()?;
        // A group per task that limits its subtasks: thousands of them.
        j.flush_some()?;
    }
    j.end_array()?;

    j.key("warnings")?;
    j.begin_array()?;
    for w in &doc.warnings {
        j.item()?;
        j.begin_object()?;
        j.key("line")?;
        j.uint(w.at.span.line() as u64)?;
        j.key("column")?;
        j.uint(w.at.span.column() as u64)?;
        j.key("message")?;
        j.str(&w.message)?;
        j.end_object()?;
    }
    j.end_array()?;

    j.key("ignored")?;
    j.begin_array()?;
    for i in &doc.ignored {
        j.item()?;
        j.begin_object()?;
        j.key("line")?;
        j.uint(i.line as u64)?;
        j.key("text")?;
        j.str(&i.text)?;
        j.key("reason")?;
        j.str(i.reason)?;
        j.end_object()?;
    }
    j.end_array()?;
    j.end_object()?;
    j.raw("\n")
}

/// Tasks in a piece written on a thread (about 120 KB of JSON), and
/// about the most a piece of waves lists.
const BATCH: usize = 128;

/// Some of the `waves` array's items: whole waves, or some of the task ids
/// of a wave too long for one piece (its header before the first, its end
/// after the last).
enum Waves {
    Whole(Range<usize>),
    Part { wave: usize, ids: Range<usize> },
}

/// The waves in pieces of about [`BATCH`] tasks.
fn wave_pieces(plan: &Plan) -> Vec<Waves> {
    let mut pieces = Vec::new();
    let (mut start, mut tasks) = (0, 0);
    for (i, w) in plan.waves.iter().enumerate() {
        let count = w.task_count();
        if count > BATCH {
            if start < i {
                pieces.push(Waves::Whole(start..i));
            }
            pieces.extend((0..count).step_by(BATCH).map(|from| Waves::Part {
                wave: i,
                ids: from..(from + BATCH).min(count),
            }));
            (start, tasks) = (i + 1, 0);
            continue;
        }
        tasks += count;
        if tasks >= BATCH {
            pieces.push(Waves::Whole(start..i + 1));
            (start, tasks) = (i + 1, 0);
        }
    }
    if start < plan.waves.len() {
        pieces.push(Waves::Whole(start..plan.waves.len()));
    }
    pieces
}

/// Some of the `waves` array's items, into `out`.
fn write_waves(w: &PieceWriter, piece: &Waves, out: String) -> String {
    let mut j = match piece {
        // Inside the wave's `tasks` array, after its first ids.
        Waves::Part { ids, .. } if ids.start != 0 => {
            JsonOut::items_at(WAVE_DEPTH + 1, ids.start, out)
        }
        Waves::Part { wave: first, .. } | Waves::Whole(Range { start: first, .. }) => {
            JsonOut::items_at(WAVE_DEPTH - 1, *first, out)
        }
    };
    let written = match piece {
        Waves::Whole(waves) => (waves.clone()).try_for_each(|i| write_wave(w, &mut j, i)),
        Waves::Part { wave, ids } => write_wave_part(w, &mut j, *wave, ids.clone()),
    };
    written.expect("a string takes any write");
    j.into_string()
}

/// Wave `i`'s object.
fn write_wave(w: &PieceWriter, j: &mut JsonOut<io::Sink>, i: usize) -> io::Result<()> {
    let doc = &w.plan.doc;
    wave_header(w, j, i)?;
    j.array_from(w.plan.waves[i].tasks(), |t, out| doc.push_id(t, out))?;
    j.end_object()
}

/// Ids `ids` of wave `i`'s tasks: its object's start before the first, its
/// end after the last.
fn write_wave_part(
    w: &PieceWriter,
    j: &mut JsonOut<io::Sink>,
    i: usize,
    ids: Range<usize>,
) -> io::Result<()> {
    let (wave, doc) = (&w.plan.waves[i], &w.plan.doc);
    if ids.start == 0 {
        wave_header(w, j, i)?;
        j.begin_array()?;
    }
    for t in wave.tasks_from(ids.start).take(ids.len()) {
        j.item()?;
        j.str_from(|out| doc.push_id(t, out))?;
    }
    if ids.end == wave.task_count() {
        j.end_array()?;
        j.end_object()?;
    }
    Ok(())
}

/// A wave's object up to its `tasks` key.
fn wave_header(w: &PieceWriter, j: &mut JsonOut<io::Sink>, i: usize) -> io::Result<()> {
    let (wave, doc) = (&w.plan.waves[i], &w.plan.doc);
    j.item()?;
    j.begin_object()?;
    j.key("index")?;
    j.uint(i as u64)?;
    j.key("section")?;
    path_array(j, &w.paths[wave.section])?;
    j.key("section_id")?;
    j.opt_str(section_id(doc, wave.section))?;
    j.key("modules")?;
    j.str_array(wave.modules.iter().map(|&m| doc.sections[m].id.as_str()))?;
    j.key("tasks")
}

/// Ends the `waves` array and begins the `tasks` array.
fn waves_to_tasks<W: Write>(j: &mut JsonOut<W>) -> io::Result<()> {
    j.end_array()?;
    j.key("tasks")?;
    j.begin_array()
}

/// What a thread keeps from piece to piece: the plan, the section paths,
/// and for tasks one after another, ids made lately, where the last
/// checkbox was, a body's room.
struct PieceWriter<'p> {
    plan: &'p Plan,
    paths: &'p [String],
    body: String,
    lines: SpanCursor,
    ids: RecentIds<'p>,
}

impl<'p> PieceWriter<'p> {
    fn new(plan: &'p Plan, paths: &'p [String]) -> PieceWriter<'p> {
        PieceWriter {
            plan,
            paths,
            body: String::new(),
            lines: SpanCursor::default(),
            ids: RecentIds::new(&plan.doc),
        }
    }

    /// Tasks `tasks` as items of the `tasks` array, into `out`.
    fn batch(&mut self, tasks: Range<usize>, out: String) -> String {
        let mut j = JsonOut::items_at(TASK_DEPTH - 1, tasks.start, out);
        for i in tasks {
            self.write(&mut j, i).expect("a string takes any write");
        }
        j.into_string()
    }

    fn write<W: Write>(&mut self, j: &mut JsonOut<W>, i: usize) -> io::Result<()> {
        let PieceWriter {
            plan,
            paths,
            body,
            lines,
            ids,
        } = self;
        write_task(j, plan, i, paths, body, lines, ids)
    }
}

/// Task ids made lately, a slot per task index modulo [`RECENT`]: a task's
/// id is written several times close together (an edge's target twice, a
/// parent's for each of its subtasks, a subtask's right after its
/// parent's list of them), and a slug id is made anew from its text each
/// time it is asked for.
struct RecentIds<'d> {
    doc: &'d Document,
    slots: Vec<(usize, String)>,
}

const RECENT: usize = 1024;

impl<'d> RecentIds<'d> {
    fn new(doc: &'d Document) -> RecentIds<'d> {
        RecentIds {
            doc,
            slots: (0..RECENT).map(|_| (usize::MAX, String::new())).collect(),
        }
    }

    /// Appends task `t`'s id.
    fn push(&mut self, t: usize, out: &mut String) {
        let (at, id) = &mut self.slots[t % RECENT];
        if *at != t {
            id.clear();
            self.doc.push_id(t, id);
            *at = t;
        }
        out.push_str(id);
    }

    fn push_of(&mut self, owner: IdOwner, out: &mut String) {
        match owner {
            IdOwner::Task(t) => self.push(t, out),
            IdOwner::Section(s) => out.push_str(&self.doc.sections[s].id),
        }
    }
}

/// One task's object, at depth 3. `body` is a string to reuse.
fn write_task<W: Write>(
    j: &mut JsonOut<W>,
    plan: &Plan,
    i: usize,
    paths: &[String],
    body: &mut String,
    lines: &mut SpanCursor,
    ids: &mut RecentIds,
) -> std::io::Result<()> {
    let doc = &plan.doc;
    let t = &doc.tasks[i];
    let p = &plan.tasks[i];
    // The keys after the first: each a fixed string with its comma and
    // indent (a task object always stands at depth 3), and with its value
    // when that is a constant, copied in one go.
    macro_rules! key {
        ($k:literal) => {
            j.fixed_key(concat!(",\n      \"", $k, "\": "), TASK_DEPTH)
        };
        ($k:literal = $v:literal) => {
            j.fixed_key(concat!(",\n      \"", $k, "\": ", $v), TASK_DEPTH)
        };
        ($k:literal, $b:expr) => {
            if $b {
                key!($k = "true")
            } else {
                key!($k = "false")
            }
        };
    }
    macro_rules! opt_str {
        ($k:literal, $v:expr) => {
            match $v {
                Some(v) => {
                    key!($k)?;
                    j.str(v)
                }
                None => key!($k = "null"),
            }
        };
    }
    j.item()?;
    j.begin_object()?;
    j.key("id")?;
    j.str_from(|out| ids.push(i, out))?;
    match t.id_source {
        IdSource::Hint => key!("id_source" = "\"hint\"")?,
        IdSource::Dialect => key!("id_source" = "\"dialect\"")?,
        IdSource::Slug => key!("id_source" = "\"slug\"")?,
    }
    let checkbox = doc.checkbox_after(lines, t);
    key!("line")?;
    j.uint(checkbox.line() as u64)?;
    key!("column")?;
    j.uint(checkbox.column() as u64)?;
    key!("checked", t.checked)?;
    key!("done", plan.is_done(i))?;
    key!("optional", t.optional)?;
    key!("skipped", plan.skipped(i))?;
    key!("text")?;
    j.str(doc.text(i))?;
    key!("body")?;
    body.clear();
    doc.own_body_into(i, body);
    j.str(body)?;
    key!("section")?;
    path_array(j, &paths[t.section()])?;
    opt_str!("section_id", section_id(doc, t.section()))?;
    key!("wave")?;
    j.uint(p.wave() as u64)?;
    if plan.after(i).is_empty() {
        key!("after" = "[]")?;
        key!("edges" = "[]")?;
    } else {
        key!("after")?;
        j.array_from(plan.after(i), |e, out| ids.push_of(e.target(), out))?;
        key!("edges")?;
        j.begin_array()?;
        for e in plan.after(i) {
            j.item()?;
            j.begin_object()?;
            j.key("after")?;
            j.str_from(|out| ids.push_of(e.target(), out))?;
            j.key("from")?;
            j.str_array(e.from.names())?;
            j.end_object()?;
        }
        j.end_array()?;
    }
    key!("waits_for_waves", plan.tracks.waits_for_waves(doc, i))?;
    match t.parent() {
        Some(q) => {
            key!("parent")?;
            j.str_from(|out| ids.push(q, out))?;
        }
        None => key!("parent" = "null")?,
    }
    if !doc.has_children(i) {
        key!("children" = "[]")?;
    } else {
        key!("children")?;
        j.array_from(doc.children(i), |c, out| ids.push(c, out))?;
    }
    key!("parallel_mark", t.parallel_mark)?;
    let s = plan.settings(i);
    opt_str!("agent", s.agent.as_deref())?;
    match s.timeout {
        Some(d) => {
            key!("timeout_secs")?;
            j.float(d.as_secs_f64())?;
        }
        None => key!("timeout_secs" = "null")?,
    }
    match s.retries {
        Some(r) => {
            key!("retries")?;
            j.uint(r.into())?;
        }
        None => key!("retries" = "null")?,
    }
    opt_str!("gate", s.gate.as_ref().map(|g| g.command.as_str()))?;
    // `worktree` or `none` from an `isolate` hint; null follows the run.
    match s.isolate {
        Some(true) => key!("isolate" = "\"worktree\"")?,
        Some(false) => key!("isolate" = "\"none\"")?,
        None => key!("isolate" = "null")?,
    }
    opt_str!("judge", s.judge.as_deref())?;
    // Checkpoints run while the agent works (the nearest scope's).
    if s.checkpoints.is_empty() {
        key!("checkpoints" = "[]")?;
    } else {
        key!("checkpoints")?;
        j.begin_array()?;
        for c in &s.checkpoints {
            j.item()?;
            j.begin_object()?;
            j.key("trigger")?;
            j.str(&c.trigger_label())?;
            j.key("tell")?;
            j.bool(c.tell)?;
            j.key("command")?;
            j.str(&c.command)?;
            j.key("line")?;
            j.uint(c.line as u64)?;
            j.end_object()?;
        }
        j.end_array()?;
    }
    // The files it claims (tasks whose claims overlap never run at once).
    if plan.files(i).is_empty() {
        key!("files" = "{\n        \"declared\": [],\n        \"inferred\": []\n      }")?;
    } else {
        key!("files")?;
        j.begin_object()?;
        j.key("declared")?;
        j.str_array(plan.files(i).declared().iter().map(String::as_str))?;
        j.key("inferred")?;
        j.str_array(plan.files(i).inferred().iter().map(String::as_str))?;
        j.end_object()?;
    }
    j.end_object()
}

/// A section's id, but none for the part before the first heading.
fn section_id(doc: &Document, s: usize) -> Option<&str> {
    (s != 0).then(|| doc.sections[s].id.as_str())
}

const PATH_DEPTH: usize = 3;
const TASK_DEPTH: usize = 3;
const WAVE_DEPTH: usize = 3;

/// A section's title path, written beforehand at its depth.
fn path_array<W: Write>(j: &mut JsonOut<W>, written: &str) -> std::io::Result<()> {
    debug_assert_eq!(j.depth(), PATH_DEPTH);
    j.raw(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanOptions;
    use crate::taskfile::{ReadOptions, Source};

    /// A plan with every kind of task field: sections, subtasks, edges,
    /// hints, bodies to escape, twins.
    fn plan(tasks: usize) -> Plan {
        plan_in_sections(tasks, 97)
    }

    /// [`plan`] with a section every `every` tasks (a wave each).
    fn plan_in_sections(tasks: usize, every: usize) -> Plan {
        let mut text = String::from("# Plan\n\n");
        for t in 0..tasks {
            if t % every == 0 {
                text.push_str(&format!("\n## Phase {}\n\n", t / every));
            }
            match t % 5 {
                0 => text.push_str(&format!(
                    "- [ ] Build part {t}\n  a \"quoted\" note\tand tab\n"
                )),
                1 => text.push_str("  - [x] Check it\n"),
                2 => text.push_str(&format!(
                    "- [ ] Wire part {t} <!-- after: build-part-{}; timeout: 5m -->\n",
                    t - 2
                )),
                3 => text.push_str("- [ ] Same words\n"),
                _ => text.push_str(&format!("- [ ] Ship `src/part_{t}.rs`\n")),
            }
        }
        let doc = Document::parse(Source::new("t.md".into(), text, 0), ReadOptions::default());
        Plan::build(doc, PlanOptions::default()).unwrap()
    }

    fn json(plan: &Plan, threads: usize) -> String {
        let mut out = Vec::new();
        write_on(plan, Path::new("/w"), &mut out, threads).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tasks_written_on_threads_read_as_written_on_one() {
        // Batches that end mid-section and mid-parent, and a last one short.
        let plan = plan(BATCH * 5 + 37);
        let one = json(&plan, 1);
        let value: serde_json::Value = serde_json::from_str(&one).unwrap();
        assert_eq!(
            value["tasks"].as_array().unwrap().len(),
            plan.doc.tasks.len()
        );
        for threads in [2, 3, 4] {
            assert!(json(&plan, threads) == one, "{threads} threads");
        }
    }

    /// A reader that goes away (a closed pipe) after some bytes.
    struct Closes(usize);

    impl Write for Closes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 < buf.len() {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_gone_mid_tasks_ends_the_write_with_its_error() {
        let plan = plan(BATCH * 40);
        // Threads write ahead of a reader gone after their first batches.
        for after in [0, 1000, 300_000] {
            let e = write_on(&plan, Path::new("/w"), Closes(after), 2).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        }
    }

    #[test]
    fn waves_long_and_short_written_on_threads_read_as_on_one() {
        // One wave split in pieces; waves of a piece's size, one more and
        // one less; many small waves to a piece.
        for (tasks, every) in [
            (BATCH * 3 + 5, usize::MAX),
            (BATCH * 2, BATCH),
            (BATCH * 3, BATCH + 1),
            (BATCH * 3, BATCH - 1),
            (BATCH * 2 + 1, 3),
        ] {
            let plan = plan_in_sections(tasks, every);
            let one = json(&plan, 1);
            let value: serde_json::Value = serde_json::from_str(&one).unwrap();
            let listed: usize = (value["waves"].as_array().unwrap().iter())
                .map(|w| w["tasks"].as_array().unwrap().len())
                .sum();
            assert_eq!(listed, tasks, "{tasks} tasks, a section every {every}");
            for threads in [2, 3] {
                assert!(
                    json(&plan, threads) == one,
                    "{tasks}/{every}: {threads} threads"
                );
            }
        }
    }

    #[test]
    fn a_short_plan_is_written_as_a_long_one_is() {
        for tasks in [0, 1, BATCH - 1, BATCH, BATCH + 1, 2 * BATCH] {
            let plan = plan(tasks);
            assert!(json(&plan, 4) == json(&plan, 1), "{tasks} tasks");
        }
    }
}
