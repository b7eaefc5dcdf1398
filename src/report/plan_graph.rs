//! The plan as a picture: Mermaid flowchart or Graphviz DOT. Waves and their
//! sections are nested boxes; arrows go from what must finish first: a bold
//! one from a wave to the next where the next waits for all of it, one
//! labelled `track` from a module to the module that continues its track. A
//! Mermaid graph stays under Mermaid's 50,000-character limit (which GitHub
//! applies) by drawing a node per section, or per wave, when a node per task
//! would pass it, and says so in a `%%` comment. Takes a plan; hands on
//! text. Never prints.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::plan::{EdgeFrom, Plan, Target};
use crate::report::runlog::md::MERMAID_LIMIT;

/// What a Mermaid graph may take, leaving room for a fence and a margin.
const BUDGET: usize = MERMAID_LIMIT - 2_000;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Mermaid,
    Dot,
}

pub fn render(plan: &Plan, flavor: Flavor) -> String {
    let full = render_tasks(plan, flavor);
    if flavor == Flavor::Dot || full.len() <= BUDGET {
        return full;
    }
    let (what, grouped) = match by_section(plan) {
        g if g.len() <= BUDGET => ("section", g),
        _ => ("wave", by_wave(plan)),
    };
    // The note goes after the diagram's type, where every Mermaid reads
    // a comment.
    let body = grouped.strip_prefix("flowchart TD\n").unwrap_or(&grouped);
    format!(
        "flowchart TD\n%% One node per {what} instead of one per task: {} tasks would make the graph {} KB, over the {} KB that Mermaid (and so GitHub) renders. `--format dot` draws every task.\n{body}",
        plan.doc.tasks.len(),
        full.len() / 1000,
        MERMAID_LIMIT / 1000
    )
}

/// A node per section that holds tasks itself, in its wave's box, labelled
/// with its title and counts; an arrow wherever a task of one waits for a
/// task (or section) of another.
fn by_section(plan: &Plan) -> String {
    let doc = &plan.doc;
    let mut out = String::from("flowchart TD\n");
    for (w, wave) in plan.waves.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph w{w}[\"{}\"]",
            mermaid_escape(&wave_label(plan, w))
        );
        let mut sections: Vec<usize> = wave.tasks().map(|t| doc.tasks[t].section()).collect();
        sections.dedup();
        let mut seen = BTreeSet::new();
        for s in sections {
            if !seen.insert(s) {
                continue;
            }
            let tasks: Vec<usize> = (wave.tasks())
                .filter(|&t| doc.tasks[t].section() == s)
                .collect();
            let done = tasks.iter().filter(|&&t| plan.is_done(t)).count();
            let title = match doc.section_path(s).last() {
                Some(t) => short(t),
                None => "before the first heading".to_owned(),
            };
            let label = format!("{title}: {} tasks, {done} done", tasks.len());
            let _ = writeln!(out, "    g{s}[\"{}\"]", mermaid_escape(&label));
        }
        out.push_str("  end\n");
    }
    for w in (1..plan.waves.len()).filter(|&w| waits_for_wave(plan, w)) {
        let _ = writeln!(out, "  w{} ==> w{w}", w - 1);
    }
    // A section target without tasks of its own stands for its first task's.
    let node = |target: Target| match target {
        Target::Task(t) => Some(doc.tasks[t].section()),
        Target::Section(s) => doc.section_tasks(s).next().map(|t| doc.tasks[t].section()),
    };
    let mut edges = BTreeSet::new();
    for t in 0..doc.tasks.len() {
        for e in plan.after(t) {
            let (dep, kind) = (e.target(), e.from);
            if let Some(from) = node(dep)
                && from != doc.tasks[t].section()
            {
                edges.insert((from, doc.tasks[t].section(), kind == EdgeFrom::TRACK));
            }
        }
    }
    for (from, to, track) in edges {
        let arrow = if track { "==>|track|" } else { "-->" };
        let _ = writeln!(out, "  g{from} {arrow} g{to}");
    }
    out
}

/// A node per wave, with its counts, one after another.
fn by_wave(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    for (w, wave) in plan.waves.iter().enumerate() {
        let done = wave.tasks().filter(|&t| plan.is_done(t)).count();
        let label = format!(
            "{}: {} tasks, {done} done",
            wave_label(plan, w),
            wave.task_count()
        );
        let _ = writeln!(out, "  w{w}[\"{}\"]", mermaid_escape(&label));
        // Under `order: graph` no wave waits for the one before; under
        // `pipeline: tracks` the arrow stands for the tasks that do.
        if w > 0 && waits_for_wave(plan, w) {
            let _ = writeln!(out, "  w{} ==> w{w}", w - 1);
        }
    }
    out
}

/// Whether some task of wave `w` waits for the waves before it.
fn waits_for_wave(plan: &Plan, w: usize) -> bool {
    (plan.waves[w].tasks()).any(|t| plan.tracks.waits_for_waves(&plan.doc, t))
}

fn wave_label(plan: &Plan, w: usize) -> String {
    let title = plan.doc.section_path(plan.waves[w].section).join(" › ");
    if title.is_empty() {
        format!("wave {}", w + 1)
    } else {
        format!("wave {}: {}", w + 1, short(&title))
    }
}

/// One node per task.
fn render_tasks(plan: &Plan, flavor: Flavor) -> String {
    let doc = &plan.doc;
    let mut out = String::new();
    match flavor {
        Flavor::Mermaid => out.push_str("flowchart TD\n"),
        Flavor::Dot => {
            out.push_str("digraph plan {\n  rankdir=TB;\n  compound=true;\n  node [shape=box];\n")
        }
    }
    for (w, wave) in plan.waves.iter().enumerate() {
        let label = wave_label(plan, w);
        open_box(&mut out, flavor, &wave_id(plan, w), &label, 1);
        let tasks: Vec<usize> = wave.tasks().collect();
        section_box(&mut out, plan, flavor, wave.section, &tasks, 2);
        close_box(&mut out, flavor, 1);
    }
    for w in 1..plan.waves.len() {
        // Under `pipeline: tracks` only the tasks outside tracks wait for
        // the wave before (arrows to them); under `order: graph` none does.
        let waits = |t: usize| plan.tracks.waits_for_waves(doc, t);
        let tasks = plan.waves[w].tasks();
        if tasks.clone().all(waits) {
            wave_arrow(&mut out, plan, flavor, w - 1, &wave_id(plan, w), None);
        } else {
            for t in tasks.filter(|&t| waits(t) && doc.tasks[t].parent().is_none()) {
                wave_arrow(&mut out, plan, flavor, w - 1, &format!("t{t}"), Some(t));
            }
        }
    }
    for t in 0..doc.tasks.len() {
        for c in doc.children(t) {
            match flavor {
                Flavor::Mermaid => {
                    let _ = writeln!(out, "  t{t} -.- t{c}");
                }
                Flavor::Dot => {
                    let _ = writeln!(out, "  t{t} -> t{c} [style=dotted, arrowhead=none];");
                }
            }
        }
        for e in plan.after(t) {
            let (dep, kind) = (e.target(), e.from);
            // Drawn once per module below.
            if kind == EdgeFrom::TRACK {
                continue;
            }
            let from = match dep {
                Target::Task(d) => format!("t{d}"),
                Target::Section(s) => format!("s{s}"),
            };
            match flavor {
                Flavor::Mermaid => {
                    let _ = writeln!(out, "  {from} --> t{t}");
                }
                Flavor::Dot => {
                    let _ = writeln!(out, "  {from} -> t{t};");
                }
            }
        }
    }
    for (m, follows) in plan.tracks.follows.iter().enumerate() {
        for &p in follows {
            match flavor {
                Flavor::Mermaid => {
                    let _ = writeln!(out, "  s{p} ==>|track| s{m}");
                }
                Flavor::Dot => {
                    let _ = writeln!(
                        out,
                        "  s{p} -> s{m} [ltail=cluster_s{p}, lhead=cluster_s{m}, style=bold, label=\"track\"];"
                    );
                }
            }
        }
    }
    if flavor == Flavor::Dot {
        out.push_str("}\n");
    }
    out
}

/// A bold arrow from wave `from` to `to`: the next wave's box, or one task
/// of it (`task`).
fn wave_arrow(
    out: &mut String,
    plan: &Plan,
    flavor: Flavor,
    from: usize,
    to: &str,
    task: Option<usize>,
) {
    let a = wave_id(plan, from);
    match flavor {
        Flavor::Mermaid => {
            let _ = writeln!(out, "  {a} ==> {to}");
        }
        Flavor::Dot => {
            let first = first_node(plan, from);
            let (head, lhead) = match task {
                Some(t) => (format!("t{t}"), String::new()),
                None => (first_node(plan, from + 1), format!(", lhead=cluster_{to}")),
            };
            let _ = writeln!(
                out,
                "  {first} -> {head} [ltail=cluster_{a}{lhead}, style=bold];"
            );
        }
    }
}

/// A wave that is a section is drawn as that section's box, so arrows from a
/// section id land on it.
fn wave_id(plan: &Plan, w: usize) -> String {
    let wave = &plan.waves[w];
    if wave.own_tasks {
        format!("w{w}")
    } else {
        format!("s{}", wave.section)
    }
}

fn first_node(plan: &Plan, wave: usize) -> String {
    format!("t{}", plan.waves[wave].tasks().next().unwrap_or_default())
}

fn section_box(
    out: &mut String,
    plan: &Plan,
    flavor: Flavor,
    section: usize,
    tasks: &[usize],
    depth: usize,
) {
    let doc = &plan.doc;
    let pad = "  ".repeat(depth);
    if flavor == Flavor::Dot {
        // An anchor so arrows can start at a whole section.
        let _ = writeln!(out, "{pad}s{section} [shape=point, style=invis];");
    }
    for &t in tasks.iter().filter(|&&t| doc.tasks[t].section() == section) {
        let state = if plan.is_done(t) { "✓ " } else { "" };
        let label = format!("{state}{}: {}", doc.id(t), short(doc.text(t)));
        match flavor {
            Flavor::Mermaid => {
                let _ = writeln!(out, "{pad}t{t}[\"{}\"]", mermaid_escape(&label));
            }
            Flavor::Dot => {
                let _ = writeln!(out, "{pad}t{t} [label=\"{}\"];", dot_escape(&label));
            }
        }
    }
    for &child in &doc.sections[section].children {
        if !tasks
            .iter()
            .any(|&t| doc.section_within(doc.tasks[t].section(), child))
        {
            continue;
        }
        open_box(
            out,
            flavor,
            &format!("s{child}"),
            &doc.sections[child].title,
            depth,
        );
        section_box(out, plan, flavor, child, tasks, depth + 1);
        close_box(out, flavor, depth);
    }
}

fn open_box(out: &mut String, flavor: Flavor, id: &str, label: &str, depth: usize) {
    let pad = "  ".repeat(depth);
    match flavor {
        Flavor::Mermaid => {
            let _ = writeln!(out, "{pad}subgraph {id}[\"{}\"]", mermaid_escape(label));
        }
        Flavor::Dot => {
            let _ = writeln!(
                out,
                "{pad}subgraph cluster_{id} {{\n{pad}  label=\"{}\";",
                dot_escape(label)
            );
        }
    }
}

fn close_box(out: &mut String, flavor: Flavor, depth: usize) {
    let pad = "  ".repeat(depth);
    match flavor {
        Flavor::Mermaid => {
            let _ = writeln!(out, "{pad}end");
        }
        Flavor::Dot => {
            let _ = writeln!(out, "{pad}}}");
        }
    }
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(48).collect();
    if text.chars().count() > 48 {
        s.push('…');
    }
    s
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
