//! The end-of-run table and `run-batch status`: what is done, what is left,
//! how the last run ended, each failed task with its reason and log, and
//! what the agents spent (per task, section, wave and in all).

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::plan::Plan;
use crate::record::events::Spend;
use crate::record::journal::{Journal, TaskRecord};
use crate::report::format::{count, humanize_secs, spend_usd, usd};

/// Rows shown before the table is cut short (failures are always shown).
const MAX_ROWS: usize = 40;

/// What the end-of-run table shows besides the journal.
pub struct RunTotals<'a> {
    /// This run's attempts per task id (the journal's count spans every run).
    pub attempts: &'a std::collections::HashMap<String, u32>,
    /// What each task spent in this run.
    pub spent: &'a std::collections::HashMap<String, Spend>,
    pub run_spend: &'a Spend,
    /// The part of it judges spent (`judge`), shown apart.
    pub judge_spend: &'a Spend,
    pub run_id: &'a str,
    pub run_dir: &'a Path,
    pub done: usize,
    pub remaining: usize,
}

/// The table of the tasks this run touched.
pub fn render(plan: &Plan, journal: &Journal, totals: &RunTotals) -> String {
    let RunTotals {
        attempts,
        spent,
        run_spend,
        judge_spend,
        run_id,
        run_dir,
        done,
        remaining,
    } = *totals;
    let mut out = String::new();
    let costs = !run_spend.is_empty();
    let mut rows: Vec<(&String, &TaskRecord)> = journal
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
        let _ = write!(
            out,
            "\n{:<width$}  {:<11}  {:>8}  {:>8}",
            "task", "status", "attempts", "time"
        );
        if costs {
            let _ = write!(out, "  {:>9}  {:>15}", "cost", "tokens in/out");
        }
        out.push('\n');
        let mut shown = 0;
        let mut hidden = 0;
        // Tasks in plan order, failures always shown.
        rows.sort_by_key(|(id, _)| plan.doc.task_by_id(id).unwrap_or(usize::MAX));
        for (id, r) in rows {
            if r.status == "succeeded" && shown >= MAX_ROWS {
                hidden += 1;
                continue;
            }
            shown += 1;
            let _ = write!(
                out,
                "{:<width$}  {:<11}  {:>8}  {:>8}",
                id,
                shown_status(r),
                attempts.get(id.as_str()).copied().unwrap_or(r.attempts),
                humanize_secs(r.duration_secs)
            );
            if costs {
                let s = spent.get(id.as_str()).copied().unwrap_or_default();
                let _ = write!(out, "  {:>9}  {:>15}", spend_usd(&s), tokens(&s));
            }
            out.push('\n');
        }
        if hidden > 0 {
            let _ = writeln!(out, "… and {hidden} more succeeded");
        }
    }
    if costs {
        out.push_str(&subtotals(plan, spent));
        let _ = writeln!(
            out,
            "spent {} · {} tokens in / {} out (+ {} cache read, {} cache write)",
            spend_usd(run_spend),
            count(run_spend.input_tokens),
            count(run_spend.output_tokens),
            count(run_spend.cache_read_tokens),
            count(run_spend.cache_write_tokens),
        );
        if !judge_spend.is_empty() {
            let _ = writeln!(
                out,
                "  of which judges {} · {} tokens in / {} out",
                spend_usd(judge_spend),
                count(judge_spend.input_tokens),
                count(judge_spend.output_tokens),
            );
        }
        if run_spend.estimated {
            out.push_str(
                "~ an estimate: an agent was stopped before it reported its spend, so its tokens were priced\n",
            );
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

/// A task's status word in the table: its outcome, or what held it back,
/// or `flaky` for a success after a failed attempt.
fn shown_status(r: &TaskRecord) -> String {
    match (r.status.as_str(), r.class.as_deref()) {
        ("succeeded", _) if r.flaky => "flaky".into(),
        (_, Some("limit_exhausted")) => "limit wait".into(),
        (_, Some("throttled")) => "throttled".into(),
        (_, Some("auth")) => "auth failed".into(),
        (_, Some("transient")) => "api error".into(),
        (status, _) => status.replace('_', " "),
    }
}

/// Spend per wave and per section, for the end-of-run table (only when
/// there is more than one of either).
fn subtotals(plan: &Plan, spent: &std::collections::HashMap<String, Spend>) -> String {
    let mut by_wave: std::collections::BTreeMap<usize, Spend> = Default::default();
    let mut by_section: std::collections::BTreeMap<usize, Spend> = Default::default();
    for (t, task) in plan.doc.tasks.iter().enumerate() {
        if let Some(s) = spent.get(&*plan.doc.id(t)) {
            by_wave.entry(plan.tasks[t].wave()).or_default().add(s);
            by_section.entry(task.section()).or_default().add(s);
        }
    }
    let mut rows: Vec<(String, &Spend)> = Vec::new();
    if by_wave.len() > 1 {
        rows.extend(by_wave.iter().map(|(w, s)| (format!("wave {}", w + 1), s)));
    }
    if by_section.len() > 1 {
        rows.extend(by_section.iter().map(|(sec, s)| {
            let title = plan.doc.section_path(*sec).join(" › ");
            (
                if title.is_empty() {
                    "(no section)".to_owned()
                } else {
                    title
                },
                s,
            )
        }));
    }
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let width = (rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(4))
    .clamp(4, 48);
    let _ = writeln!(
        out,
        "\n{:<width$}  {:>9}  {:>15}",
        "spent by", "cost", "tokens in/out"
    );
    for (label, s) in rows {
        let _ = writeln!(
            out,
            "{label:<width$}  {:>9}  {:>15}",
            spend_usd(s),
            tokens(s)
        );
    }
    out
}

/// `12.3k/1.2k`: input (uncached) and output tokens.
fn tokens(s: &Spend) -> String {
    format!("{}/{}", count(s.input_tokens), count(s.output_tokens))
}

#[derive(Serialize)]
pub struct StatusJson {
    pub file: String,
    pub tasks: usize,
    pub done: usize,
    pub remaining: usize,
    pub last_run: Option<LastRun>,
    pub failed: Vec<FailedTask>,
    /// Tasks held back by their provider (a usage limit, throttling, an
    /// auth failure), not by a fault of their own.
    pub waiting: Vec<FailedTask>,
    /// Spent on this file's tasks, across every run.
    #[serde(flatten)]
    pub spent: Totals,
    /// Every task that has run at least once, in plan order.
    pub by_task: Vec<TaskStatus>,
}

#[derive(Serialize)]
pub struct TaskStatus {
    pub id: String,
    /// The last attempt's outcome.
    pub status: String,
    /// The last attempt's class (see docs/events.md, `task_finished`).
    pub class: Option<String>,
    /// Its last success came after a failed attempt in the same run.
    pub flaky: bool,
    /// Whether the box is ticked.
    pub done: bool,
    /// Files its last landed work (`--isolate worktree`) changed outside
    /// what it claimed (`files:` hints, paths its text names).
    pub undeclared_changes: Vec<String>,
    pub attempts: u32,
    #[serde(flatten)]
    pub spent: Totals,
    pub session_id: Option<String>,
}

/// Spend as `status --json` shows it: every field a number (an unknown
/// cost counts as 0).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Totals {
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Part of the cost is an estimate (priced from the tokens of an
    /// attempt stopped before its agent reported its spend).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

impl From<&Spend> for Totals {
    fn from(s: &Spend) -> Totals {
        Totals {
            cost_usd: s.cost_usd.unwrap_or(0.0),
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            cache_read_tokens: s.cache_read_tokens,
            cache_write_tokens: s.cache_write_tokens,
            estimated: s.estimated,
        }
    }
}

impl TaskStatus {
    fn new(id: &str, done: bool, r: &TaskRecord) -> TaskStatus {
        TaskStatus {
            id: id.to_owned(),
            status: r.status.clone(),
            class: r.class.clone(),
            flaky: r.flaky,
            done,
            undeclared_changes: r.undeclared.clone(),
            attempts: r.attempts,
            spent: Totals::from(&r.spent),
            session_id: r.session_id.clone(),
        }
    }
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
    pub class: Option<String>,
    pub attempts: u32,
    pub reason: Option<String>,
    pub log: Option<String>,
}

pub fn status(plan: &Plan, journal: &Journal) -> StatusJson {
    let (mut tasks, mut done) = (0, 0);
    let mut failed = Vec::new();
    let mut waiting = Vec::new();
    let mut spent = Spend::default();
    let mut by_task = Vec::new();
    for t in plan.runnable() {
        let is_done = plan.is_done(t);
        tasks += 1;
        done += usize::from(is_done);
        let id = plan.doc.id(t);
        let Some(r) = journal.tasks.get(&*id) else {
            continue;
        };
        if !is_done && r.status != "succeeded" {
            let task = FailedTask {
                id: id.to_string(),
                status: r.status.clone(),
                class: r.class.clone(),
                attempts: r.attempts,
                reason: r.last_error.clone(),
                log: r.last_log.as_ref().map(|p| p.display().to_string()),
            };
            match r.class.as_deref() {
                Some("limit_exhausted" | "throttled" | "auth" | "transient") => waiting.push(task),
                _ => failed.push(task),
            }
        }
        spent.add(&r.spent);
        by_task.push(TaskStatus::new(&id, is_done, r));
    }
    StatusJson {
        spent: Totals::from(&spent),
        by_task,
        file: plan.doc.source.display_path(),
        tasks,
        done,
        remaining: tasks - done,
        last_run: journal.runs.last().map(|r| LastRun {
            id: r.id.clone(),
            outcome: r.outcome.clone(),
            started: r.started.clone(),
            finished: r.finished.clone(),
        }),
        failed,
        waiting,
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
    let t = &s.spent;
    if t.input_tokens + t.output_tokens > 0 || t.cost_usd > 0.0 {
        let _ = writeln!(
            out,
            "spent: {}{} · {} tokens in / {} out (+ {} cache read, {} cache write), all runs",
            if t.estimated { "~" } else { "" },
            usd(Some(t.cost_usd)),
            count(t.input_tokens),
            count(t.output_tokens),
            count(t.cache_read_tokens),
            count(t.cache_write_tokens),
        );
    }
    for f in &s.failed {
        let _ = writeln!(
            out,
            "  {} {} after {} attempt{}: {}",
            f.status.replace('_', " "),
            f.id,
            f.attempts,
            crate::report::plural(f.attempts as usize),
            f.reason.as_deref().unwrap_or("no reason recorded")
        );
        if let Some(log) = &f.log {
            let _ = writeln!(out, "    log: {log}");
        }
    }
    for w in &s.waiting {
        let why = match w.class.as_deref() {
            Some("limit_exhausted") => "waits for a usage limit",
            Some("throttled") => "waits: its provider throttled it",
            Some("auth") => "waits: its provider refused (auth or billing)",
            _ => "waits: the API failed for a while",
        };
        let _ = writeln!(
            out,
            "  {} {why}: {}",
            w.id,
            w.reason.as_deref().unwrap_or("no reason recorded")
        );
    }
    out
}
