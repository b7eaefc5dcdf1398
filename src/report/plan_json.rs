//! The plan as one JSON object; the schema is documented in docs/plan-json.md.

use std::path::Path;

use serde::Serialize;

use crate::plan::{GroupOwner, Plan};
use crate::taskfile::IdSource;

#[derive(Serialize)]
struct PlanJson<'a> {
    schema: u32,
    file: String,
    workdir: String,
    dialect: &'static str,
    include_optional: bool,
    waves: Vec<WaveJson<'a>>,
    tasks: Vec<TaskJson<'a>>,
    groups: Vec<GroupJson>,
    warnings: Vec<WarningJson<'a>>,
    ignored: &'a [crate::taskfile::Ignored],
}

#[derive(Serialize)]
struct WaveJson<'a> {
    index: usize,
    section: Vec<String>,
    section_id: Option<&'a str>,
    modules: Vec<&'a str>,
    tasks: Vec<&'a str>,
}

#[derive(Serialize)]
struct TaskJson<'a> {
    id: &'a str,
    id_source: IdSource,
    line: usize,
    column: usize,
    checked: bool,
    done: bool,
    optional: bool,
    skipped: bool,
    text: &'a str,
    body: &'a str,
    section: &'a [String],
    section_id: Option<&'a str>,
    wave: usize,
    after: Vec<&'a str>,
    parent: Option<&'a str>,
    children: Vec<&'a str>,
    parallel_mark: bool,
    agent: Option<&'a str>,
    timeout_secs: Option<f64>,
    retries: Option<u32>,
    gate: Option<&'a str>,
    /// `worktree` or `none` from an `isolate` hint; null follows the run.
    isolate: Option<&'static str>,
    files: FilesJson<'a>,
}

/// The files a task claims (tasks whose claims overlap never run at once).
#[derive(Serialize)]
struct FilesJson<'a> {
    declared: &'a [String],
    inferred: &'a [String],
}

#[derive(Serialize)]
struct GroupJson {
    owner: String,
    kind: &'static str,
    limit: usize,
    in_order: bool,
}

#[derive(Serialize)]
struct WarningJson<'a> {
    line: usize,
    column: usize,
    message: &'a str,
}

/// The version of this JSON: it changes when a field is removed, renamed or
/// changes its type or meaning (2: `gate` is the command as one string).
pub const SCHEMA: u32 = 2;

/// Writes the plan as pretty JSON to `out`, streaming: a plan of 100,000
/// tasks is never held as one string. `workdir` is where agents run by
/// default (`run::workspace::default_workdir`).
pub fn write(plan: &Plan, workdir: &Path, out: impl std::io::Write) -> std::io::Result<()> {
    let doc = &plan.doc;
    let paths: Vec<Vec<String>> = (0..doc.sections.len())
        .map(|s| doc.section_path(s))
        .collect();
    let section_id = |s: usize| (s != 0).then(|| doc.sections[s].id.as_str());
    let json = PlanJson {
        schema: SCHEMA,
        file: doc.source.display_path(),
        workdir: workdir.display().to_string(),
        dialect: doc.dialect.name(),
        include_optional: plan.options.include_optional,
        waves: plan
            .waves
            .iter()
            .enumerate()
            .map(|(i, w)| WaveJson {
                index: i,
                section: doc.section_path(w.section),
                section_id: section_id(w.section),
                modules: w
                    .modules
                    .iter()
                    .map(|&m| doc.sections[m].id.as_str())
                    .collect(),
                tasks: w.tasks.iter().map(|&t| doc.tasks[t].id.as_str()).collect(),
            })
            .collect(),
        tasks: doc
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let p = &plan.tasks[i];
                TaskJson {
                    id: &t.id,
                    id_source: t.id_source,
                    line: t.checkbox.line,
                    column: t.checkbox.column,
                    checked: t.checked,
                    done: plan.is_done(i),
                    optional: t.optional,
                    skipped: p.skipped,
                    text: &t.text,
                    body: &t.body,
                    section: &paths[t.section],
                    section_id: section_id(t.section),
                    wave: p.wave,
                    after: p.after.iter().map(|&a| plan.target_id(a)).collect(),
                    parent: t.parent.map(|q| doc.tasks[q].id.as_str()),
                    children: t
                        .children
                        .iter()
                        .map(|&c| doc.tasks[c].id.as_str())
                        .collect(),
                    parallel_mark: t.parallel_mark,
                    agent: p.settings.agent.as_deref(),
                    timeout_secs: p.settings.timeout.map(|d| d.as_secs_f64()),
                    retries: p.settings.retries,
                    gate: p.settings.gate.as_ref().map(|g| g.command.as_str()),
                    isolate: (p.settings.isolate).map(|on| if on { "worktree" } else { "none" }),
                    files: FilesJson {
                        declared: &p.files.declared,
                        inferred: &p.files.inferred,
                    },
                }
            })
            .collect(),
        groups: plan
            .groups
            .iter()
            .map(|g| {
                let (kind, owner) = match g.owner {
                    GroupOwner::File => ("file", String::new()),
                    GroupOwner::Section(s) => ("section", doc.sections[s].id.clone()),
                    GroupOwner::Task(t) => ("task", doc.tasks[t].id.clone()),
                };
                GroupJson {
                    owner,
                    kind,
                    limit: g.limit,
                    in_order: g.in_order,
                }
            })
            .collect(),
        warnings: doc
            .warnings
            .iter()
            .map(|w| WarningJson {
                line: w.at.span.line,
                column: w.at.span.column,
                message: &w.message,
            })
            .collect(),
        ignored: &doc.ignored,
    };
    let mut out = out;
    serde_json::to_writer_pretty(&mut out, &json)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The plan as one JSON string (for tests and small plans).
pub fn render(plan: &Plan, workdir: &Path) -> String {
    let mut buf = Vec::new();
    write(plan, workdir, &mut buf).expect("writing to memory cannot fail");
    String::from_utf8(buf).expect("JSON is UTF-8")
}
