//! The end-of-run table and `run-batch status`: what is done, what is left,
//! how the last run ended, and each failed task with its reason and log.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::plan::Plan;
use crate::record::journal::Journal;
use crate::report::live::humanize_secs;

/// Rows shown before the table is cut short (failures are always shown).
const MAX_ROWS: usize = 40;

/// The table of the tasks this run touched; `attempts` counts this run's
/// attempts per task id (the journal's count spans every run).
pub fn render(
    plan: &Plan,
    journal: &Journal,
    attempts: &std::collections::HashMap<&str, u32>,
    run_id: &str,
    run_dir: &Path,
    done: usize,
    remaining: usize,
) -> String {
    let mut out = String::new();
    let rows: Vec<(&String, &crate::record::journal::TaskRecord)> = journal
        .tasks
        .iter()
        .filter(|(_, r)| r.last_run == run_id)
        .collect();
    if !rows.is_empty() {
        let width = rows
            .iter()
            .map(|(id, _)| id.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 48);
        let _ = writeln!(
            out,
            "\n{:<width$}  {:<11}  {:>8}  {:>8}",
            "task", "status", "attempts", "time"
        );
        let mut shown = 0;
        let mut hidden = 0;
        // Tasks in plan order, failures always shown.
        let order: std::collections::HashMap<&str, usize> = (plan.doc.tasks.iter().enumerate())
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let mut sorted = rows.clone();
        sorted.sort_by_key(|(id, _)| order.get(id.as_str()).copied().unwrap_or(usize::MAX));
        for (id, r) in sorted {
            if r.status == "succeeded" && shown >= MAX_ROWS {
                hidden += 1;
                continue;
            }
            shown += 1;
            let _ = writeln!(
                out,
                "{:<width$}  {:<11}  {:>8}  {:>8}",
                id,
                r.status.replace('_', " "),
                attempts.get(id.as_str()).copied().unwrap_or(r.attempts),
                humanize_secs(r.duration_secs)
            );
        }
        if hidden > 0 {
            let _ = writeln!(out, "… and {hidden} more succeeded");
        }
    }
    let total = done + remaining;
    let _ = writeln!(
        out,
        "\n{done} of {total} tasks done, {remaining} remaining · logs: {}",
        run_dir.display()
    );
    out
}

#[derive(Serialize)]
pub struct StatusJson {
    pub file: String,
    pub tasks: usize,
    pub done: usize,
    pub remaining: usize,
    pub last_run: Option<LastRun>,
    pub failed: Vec<FailedTask>,
}

#[derive(Serialize)]
pub struct LastRun {
    pub id: String,
    pub outcome: String,
    pub started: String,
    pub finished: Option<String>,
}

#[derive(Serialize)]
pub struct FailedTask {
    pub id: String,
    pub status: String,
    pub attempts: u32,
    pub reason: Option<String>,
    pub log: Option<String>,
}

pub fn status(plan: &Plan, journal: &Journal) -> StatusJson {
    let runnable: Vec<usize> = plan.runnable().collect();
    let done = runnable.iter().filter(|&&t| plan.is_done(t)).count();
    let failed = runnable
        .iter()
        .filter(|&&t| !plan.is_done(t))
        .filter_map(|&t| {
            let id = &plan.doc.tasks[t].id;
            let r = journal.tasks.get(id)?;
            (r.status != "succeeded").then(|| FailedTask {
                id: id.clone(),
                status: r.status.clone(),
                attempts: r.attempts,
                reason: r.last_error.clone(),
                log: r.last_log.as_ref().map(|p| p.display().to_string()),
            })
        })
        .collect();
    StatusJson {
        file: plan.doc.source.display_path(),
        tasks: runnable.len(),
        done,
        remaining: runnable.len() - done,
        last_run: journal.runs.last().map(|r| LastRun {
            id: r.id.clone(),
            outcome: r.outcome.clone(),
            started: r.started.clone(),
            finished: r.finished.clone(),
        }),
        failed,
    }
}

pub fn status_text(s: &StatusJson) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} of {} tasks done, {} remaining",
        s.file, s.done, s.tasks, s.remaining
    );
    match &s.last_run {
        Some(r) => {
            let _ = writeln!(
                out,
                "last run: {} {} (started {})",
                r.id, r.outcome, r.started
            );
        }
        None => {
            let _ = writeln!(out, "last run: none yet");
        }
    }
    for f in &s.failed {
        let _ = writeln!(
            out,
            "  {} {} after {} attempt{}: {}",
            f.status.replace('_', " "),
            f.id,
            f.attempts,
            if f.attempts == 1 { "" } else { "s" },
            f.reason.as_deref().unwrap_or("no reason recorded")
        );
        if let Some(log) = &f.log {
            let _ = writeln!(out, "    log: {log}");
        }
    }
    out
}
