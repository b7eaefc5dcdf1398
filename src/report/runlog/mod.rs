//! A run's story, for `run-batch report`: takes a run's `events.jsonl` (and
//! the plan, when the task file still plans, for sections and waves); hands
//! on `RunReport`: every attempt as a span on a lane, the waits between
//! attempts, what each task, section and wave cost and took, and the
//! critical path. `md`, `html` and `trace` draw it; `json` is it.
//!
//! Reads what it knows and counts the rest: a run that crashed (no
//! `run_finished`) keeps its unfinished attempts open to the last event,
//! a torn last line is skipped, an event this version does not know is
//! counted under `unknown_events`. Never writes anything.

mod critical;
pub mod html;
pub mod md;
pub mod trace;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use crate::plan::Plan;
use crate::record::events::Spend;

/// What `report --format json` prints; its fields are documented in
/// docs/report.md.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    /// 1 for this shape.
    pub schema: u32,
    pub run: String,
    /// The task file, as the run named it.
    pub file: Option<String>,
    /// RFC 3339: the run's first event.
    pub started: String,
    /// RFC 3339: `run_finished`, when there is one.
    pub finished: Option<String>,
    /// `succeeded`, `failed`, `interrupted`, `running` (still in progress),
    /// or `crashed` (ended without `run_finished`).
    pub outcome: String,
    /// `max_cost`, `fail_fast` or `interrupted`, when the run stopped early.
    pub stopped: Option<String>,
    pub duration_secs: f64,
    pub jobs: Option<usize>,
    /// From `run_started` and `run_finished`, when present.
    pub counts: Counts,
    /// What the run spent (the attempts' sum when it never finished).
    pub spend: Spend,
    /// How many lanes the timeline needs: the most attempts at once.
    pub lanes: usize,
    pub attempts: Vec<Attempt>,
    pub waits: Vec<Wait>,
    pub by_task: Vec<TaskRow>,
    pub by_section: Vec<GroupRow>,
    pub by_wave: Vec<GroupRow>,
    pub critical_path: Vec<PathStep>,
    /// Whether sections and waves come from the task file (it still plans).
    pub plan_known: bool,
    /// Lines that were not JSON (a crash can tear the last one).
    pub unreadable_lines: usize,
    /// Events this version does not know, by name.
    pub unknown_events: BTreeMap<String, usize>,
    /// Each task's section, for `group_of`.
    #[serde(skip)]
    section_of: HashMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub tasks: Option<usize>,
    pub to_run: Option<usize>,
    pub done: Option<usize>,
    pub failed: Option<usize>,
    pub remaining: Option<usize>,
}

/// One attempt of one task: a span on a lane.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    pub task: String,
    pub attempt: u32,
    /// 1-based: the lowest lane free when it started.
    pub lane: usize,
    /// Seconds since the run started.
    pub start_secs: f64,
    pub end_secs: f64,
    /// `succeeded`, `failed`, `timed_out`, `blocked`, `interrupted`, or
    /// `unfinished` (the run ended without saying: it crashed).
    pub outcome: String,
    pub reason: Option<String>,
    pub agent: Option<String>,
    /// Why it ended, finer than `outcome` (`task_failed`, `transient`,
    /// `throttled`, `limit_exhausted`, …), when the run said.
    pub class: Option<String>,
    /// It succeeded after an earlier attempt in this run failed.
    pub flaky: bool,
    /// The session this attempt continued.
    pub resumed: Option<String>,
    /// The agent refused to continue the session; a fresh attempt followed.
    pub resume_refused: bool,
    /// Present when the agent reported what it spent.
    pub spend: Option<Spend>,
    pub log: Option<String>,
}

/// Time spent waiting with no agent at work: a task's delay before a
/// retry, or a provider's wait for its usage limit to reset. Not on any
/// lane.
#[derive(Clone, Debug, Serialize)]
pub struct Wait {
    /// The task that waits (a retry).
    pub task: Option<String>,
    /// The provider that waits (a usage limit): none of its tasks start.
    pub provider: Option<String>,
    /// `retry` or `usage_limit`; other kinds may come.
    pub kind: String,
    pub start_secs: f64,
    pub end_secs: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TaskRow {
    pub id: String,
    /// The section path (`Backend › API`), when the plan is known.
    pub section: Option<String>,
    /// 1-based, when the plan is known.
    pub wave: Option<usize>,
    pub attempts: u32,
    /// The last attempt's outcome; `blocked_by_failure` for a task that
    /// never started because a task it waits for failed.
    pub outcome: String,
    /// The failed task it waited for, when `blocked_by_failure`.
    pub blocked_by: Option<String>,
    /// Time its agents ran, summed over attempts.
    pub busy_secs: f64,
    pub first_start_secs: Option<f64>,
    pub last_end_secs: Option<f64>,
    pub spend: Spend,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupRow {
    pub name: String,
    pub tasks: usize,
    pub attempts: u32,
    pub busy_secs: f64,
    /// From its first start to its last end.
    pub span_secs: f64,
    pub spend: Spend,
}

/// One step of the critical path: the chain of attempts, each starting
/// when the one before it ended, that ends with the run's last attempt.
#[derive(Clone, Debug, Serialize)]
pub struct PathStep {
    pub task: String,
    pub attempt: u32,
    pub start_secs: f64,
    pub end_secs: f64,
    pub outcome: String,
    /// Why it started when it did: `start` (the first step), `retry` (its
    /// own earlier attempt), `dependency`, `wave` (the wave before it), or
    /// `slot` (a free slot, when `-j` was the limit).
    pub after: String,
}

/// The runs of a task file, oldest first: `(id, events.jsonl)`.
pub fn runs_of(taskfile: &Path) -> Vec<(String, PathBuf)> {
    let state = crate::record::state::StateDir::for_taskfile(taskfile);
    runs_in(&state.runs())
}

fn runs_in(runs: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("events.jsonl").is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().join("events.jsonl"),
            )
        })
        .collect();
    // Run ids start with their UTC start time.
    found.sort();
    found
}

/// Every state folder under `.run-batch/` in `dir`: `(task file, runs)`.
pub fn runs_here(dir: &Path) -> Vec<(PathBuf, Vec<(String, PathBuf)>)> {
    let mut out: Vec<(PathBuf, Vec<(String, PathBuf)>)> = std::fs::read_dir(dir.join(".run-batch"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| (dir.join(e.file_name()), runs_in(&e.path().join("runs"))))
        .filter(|(_, runs)| !runs.is_empty())
        .collect();
    out.sort();
    out
}

/// One event line, parsed leniently.
struct Line {
    ts: SystemTime,
    name: String,
    v: Value,
}

impl RunReport {
    /// Reads `events` (a run's `events.jsonl`); `plan` places tasks in
    /// sections and waves. An unreadable file is an error for people.
    pub fn read(events: &Path, plan: Option<&Plan>) -> Result<RunReport, String> {
        let text = std::fs::read(events)
            .map_err(|e| format!("cannot read `{}`: {e}", events.display()))?;
        let text = String::from_utf8_lossy(&text);
        let mut report = RunReport {
            schema: 1,
            plan_known: plan.is_some(),
            ..RunReport::default()
        };
        let mut lines = Vec::new();
        for raw in text.lines().filter(|l| !l.trim().is_empty()) {
            let parsed = serde_json::from_str::<Value>(raw).ok().and_then(|v| {
                let ts = humantime::parse_rfc3339_weak(v.get("ts")?.as_str()?).ok()?;
                let name = v.get("event")?.as_str()?.to_owned();
                Some(Line { ts, name, v })
            });
            match parsed {
                Some(line) => lines.push(line),
                None => report.unreadable_lines += 1,
            }
        }
        let Some(first) = lines.first() else {
            return Err(format!(
                "`{}` holds no events: the run had not started",
                events.display()
            ));
        };
        let t0 = first.ts;
        report.run = str_of(&first.v, "run").unwrap_or_default();
        report.started = humantime::format_rfc3339_millis(t0).to_string();
        let secs = |ts: SystemTime| ts.duration_since(t0).map_or(0.0, |d| d.as_secs_f64());
        let last = secs(lines.last().map_or(t0, |l| l.ts));
        report.fold(&lines, secs, last);
        report.finish(plan, last);
        Ok(report)
    }

    fn fold(&mut self, lines: &[Line], secs: impl Fn(SystemTime) -> f64, last: f64) {
        // Attempts in progress, by task.
        let mut open: HashMap<String, Attempt> = HashMap::new();
        let mut retrying: HashMap<String, Wait> = HashMap::new();
        let mut lanes: Vec<f64> = Vec::new();
        let mut lane_of: HashMap<String, usize> = HashMap::new();
        let mut blocked: HashMap<String, String> = HashMap::new();
        // Usage-limit waits in progress, by provider.
        let mut limits: HashMap<String, Wait> = HashMap::new();
        for line in lines {
            let v = &line.v;
            let at = secs(line.ts);
            let task = str_of(v, "task");
            match line.name.as_str() {
                "run_started" => {
                    self.file = str_of(v, "file");
                    self.jobs = usize_of(v, "jobs");
                    self.counts.tasks = usize_of(v, "tasks");
                    self.counts.to_run = usize_of(v, "to_run");
                }
                "task_started" => {
                    let task = task.unwrap_or_default();
                    if let Some(mut w) = retrying.remove(&task) {
                        w.end_secs = at;
                        self.waits.push(w);
                    }
                    // The lowest lane free now.
                    let lane = match lanes.iter().position(|&end| end <= at) {
                        Some(l) => l,
                        None => {
                            lanes.push(f64::INFINITY);
                            lanes.len() - 1
                        }
                    };
                    lanes[lane] = f64::INFINITY;
                    lane_of.insert(task.clone(), lane);
                    open.insert(
                        task.clone(),
                        Attempt {
                            task,
                            attempt: u32_of(v, "attempt").unwrap_or(1),
                            lane: lane + 1,
                            start_secs: at,
                            end_secs: at,
                            outcome: "unfinished".into(),
                            class: None,
                            flaky: false,
                            reason: None,
                            agent: str_of(v, "agent"),
                            resumed: str_of(v, "resume"),
                            resume_refused: false,
                            spend: None,
                            log: str_of(v, "log"),
                        },
                    );
                }
                "task_finished" => {
                    let task = task.unwrap_or_default();
                    let mut a = open.remove(&task).unwrap_or_else(|| Attempt {
                        // Its start was lost (a torn line): it ran for
                        // `duration_secs` up to now.
                        task: task.clone(),
                        attempt: u32_of(v, "attempt").unwrap_or(1),
                        lane: 0,
                        start_secs: (at - f64_of(v, "duration_secs").unwrap_or(0.0)).max(0.0),
                        end_secs: at,
                        outcome: String::new(),
                        class: None,
                        flaky: false,
                        reason: None,
                        agent: None,
                        resumed: None,
                        resume_refused: false,
                        spend: None,
                        log: None,
                    });
                    a.end_secs = at;
                    a.outcome = str_of(v, "outcome").unwrap_or_else(|| "failed".into());
                    a.reason = str_of(v, "reason");
                    a.class = str_of(v, "class");
                    a.flaky = v.get("flaky").and_then(Value::as_bool) == Some(true);
                    a.agent = a.agent.or_else(|| str_of(v, "agent"));
                    a.log = a.log.or_else(|| str_of(v, "log"));
                    // Tokens are present exactly when the agent reported them.
                    if v.get("input_tokens").is_some() || v.get("cost_usd").is_some() {
                        a.spend = serde::Deserialize::deserialize(v).ok();
                    }
                    if let Some(&lane) = lane_of.get(&task) {
                        lanes[lane] = at;
                    }
                    self.attempts.push(a);
                }
                "task_retrying" => {
                    let task = task.unwrap_or_default();
                    let delay = f64_of(v, "delay_secs").unwrap_or(0.0);
                    retrying.insert(
                        task.clone(),
                        Wait {
                            task: Some(task),
                            provider: None,
                            kind: "retry".into(),
                            start_secs: at,
                            end_secs: (at + delay).min(last.max(at)),
                        },
                    );
                }
                "task_resume_refused" => {
                    if let Some(a) =
                        (self.attempts.iter_mut().rev()).find(|a| Some(&a.task) == task.as_ref())
                    {
                        a.resume_refused = true;
                    }
                }
                "limit_wait" => {
                    let provider = str_of(v, "provider").unwrap_or_default();
                    let until = str_of(v, "until")
                        .and_then(|u| humantime::parse_rfc3339_weak(&u).ok())
                        .map_or(last, &secs);
                    // A second limit while waiting moves the end; the start stays.
                    let w = limits.entry(provider.clone()).or_insert(Wait {
                        task: None,
                        provider: Some(provider),
                        kind: "usage_limit".into(),
                        start_secs: at,
                        end_secs: at,
                    });
                    w.end_secs = until.max(at);
                }
                "limit_wait_over" => {
                    if let Some(mut w) = str_of(v, "provider").and_then(|p| limits.remove(&p)) {
                        w.end_secs = at;
                        self.waits.push(w);
                    }
                }
                "task_blocked" => {
                    if let (Some(task), Some(by)) = (task, str_of(v, "by")) {
                        blocked.insert(task, by);
                    }
                }
                "run_finished" => {
                    self.finished = Some(humantime::format_rfc3339_millis(line.ts).to_string());
                    self.outcome = str_of(v, "outcome").unwrap_or_default();
                    self.stopped = str_of(v, "stopped");
                    self.duration_secs = f64_of(v, "duration_secs").unwrap_or(at);
                    self.counts.done = usize_of(v, "done");
                    self.counts.failed = usize_of(v, "failed");
                    self.counts.remaining = usize_of(v, "remaining");
                    self.spend = serde::Deserialize::deserialize(v).unwrap_or_default();
                }
                "previous_run_crashed"
                | "task_session"
                | "task_progress"
                | "task_activity"
                | "ticked"
                | "tick_failed"
                | "plan_reloaded"
                | "plan_reload_failed"
                | "box_edited"
                | "cancelling"
                | "committed"
                | "worktree_ready"
                | "task_verified"
                | "task_landed"
                | "landing_waits"
                | "provider_throttled"
                | "provider_stopped" => {}
                other => *self.unknown_events.entry(other.to_owned()).or_default() += 1,
            }
        }
        // A run that never said how it ended: its open attempts end with
        // its last event.
        let mut unfinished: Vec<Attempt> = open.into_values().collect();
        unfinished.sort_by(|a, b| a.start_secs.total_cmp(&b.start_secs));
        for mut a in unfinished {
            a.end_secs = last;
            self.attempts.push(a);
        }
        self.waits.extend(retrying.into_values());
        // A wait still on when the run ended (or crashed) ends with it.
        for mut w in limits.into_values() {
            w.end_secs = w.end_secs.min(last).max(w.start_secs);
            self.waits.push(w);
        }
        self.attempts.sort_by(|a, b| {
            (a.start_secs, a.lane)
                .partial_cmp(&(b.start_secs, b.lane))
                .unwrap()
        });
        self.waits
            .sort_by(|a, b| a.start_secs.total_cmp(&b.start_secs));
        self.lanes = lanes.len();
        // Attempts whose start was lost get a lane of their own at the end.
        for a in self.attempts.iter_mut().filter(|a| a.lane == 0) {
            self.lanes += 1;
            a.lane = self.lanes;
        }
        self.by_task = Vec::new();
        for (task, by) in blocked {
            self.by_task.push(TaskRow {
                id: task,
                section: None,
                wave: None,
                attempts: 0,
                outcome: "blocked_by_failure".into(),
                blocked_by: Some(by),
                busy_secs: 0.0,
                first_start_secs: None,
                last_end_secs: None,
                spend: Spend::default(),
            });
        }
    }

    fn finish(&mut self, plan: Option<&Plan>, last: f64) {
        if self.finished.is_none() {
            self.outcome = "crashed".into();
            self.duration_secs = last;
            for a in &self.attempts {
                if let Some(s) = &a.spend {
                    self.spend.add(s);
                }
            }
        }
        // Tasks: blocked ones (from `fold`) and every task that ran.
        let mut rows: Vec<TaskRow> = std::mem::take(&mut self.by_task);
        let mut row_of: HashMap<String, usize> = (rows.iter().enumerate())
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        for a in &self.attempts {
            let i = *row_of.entry(a.task.clone()).or_insert_with(|| {
                rows.push(TaskRow {
                    id: a.task.clone(),
                    section: None,
                    wave: None,
                    attempts: 0,
                    outcome: String::new(),
                    blocked_by: None,
                    busy_secs: 0.0,
                    first_start_secs: None,
                    last_end_secs: None,
                    spend: Spend::default(),
                });
                rows.len() - 1
            });
            let row = &mut rows[i];
            row.attempts += 1;
            row.outcome = a.outcome.clone();
            row.busy_secs += a.end_secs - a.start_secs;
            row.first_start_secs.get_or_insert(a.start_secs);
            row.last_end_secs = Some(row.last_end_secs.unwrap_or(0.0).max(a.end_secs));
            if let Some(s) = &a.spend {
                row.spend.add(s);
            }
        }
        let index: HashMap<String, usize> = plan
            .map(|p| {
                (p.doc.task_ids().enumerate())
                    .map(|(i, id)| (id.into_owned(), i))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(plan) = plan {
            for row in &mut rows {
                if let Some(&t) = index.get(row.id.as_str()) {
                    let path = plan.doc.section_path(plan.doc.tasks[t].section());
                    row.section = Some(if path.is_empty() {
                        "(no section)".into()
                    } else {
                        path.join(" › ")
                    });
                    row.wave = Some(plan.tasks[t].wave() + 1);
                }
            }
            // Plan order; tasks no longer in the file last, by first start.
            rows.sort_by(|a, b| {
                let ka = index.get(a.id.as_str()).copied().unwrap_or(usize::MAX);
                let kb = index.get(b.id.as_str()).copied().unwrap_or(usize::MAX);
                ka.cmp(&kb).then(
                    (a.first_start_secs.unwrap_or(f64::MAX))
                        .total_cmp(&b.first_start_secs.unwrap_or(f64::MAX)),
                )
            });
        }
        self.by_section = group(&rows, |r| r.section.clone());
        self.by_wave = group(&rows, |r| r.wave.map(|w| format!("wave {w}")));
        self.section_of = (rows.iter())
            .filter_map(|r| Some((r.id.clone(), r.section.clone()?)))
            .collect();
        self.by_task = rows;
        self.critical_path = critical::critical_path(&self.attempts, plan, &index);
    }

    /// The run is still going (it holds the task file's lock): what looked
    /// like a crash is a run in progress, its open attempts still running.
    pub fn in_progress(&mut self) {
        if self.outcome == "crashed" {
            self.outcome = "running".into();
            for a in self
                .attempts
                .iter_mut()
                .filter(|a| a.outcome == "unfinished")
            {
                a.outcome = "running".into();
            }
            for t in self
                .by_task
                .iter_mut()
                .filter(|t| t.outcome == "unfinished")
            {
                t.outcome = "running".into();
            }
        }
    }

    /// A task's section, for grouping bars: the plan's, else `wave N`,
    /// else one group for all.
    pub fn group_of(&self, task: &str) -> String {
        (self.section_of.get(task).cloned()).unwrap_or_else(|| "tasks".into())
    }
}

fn group(rows: &[TaskRow], key: impl Fn(&TaskRow) -> Option<String>) -> Vec<GroupRow> {
    let mut out: Vec<GroupRow> = Vec::new();
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for r in rows {
        let Some(name) = key(r) else { continue };
        let i = match out.iter().position(|g| g.name == name) {
            Some(i) => i,
            None => {
                out.push(GroupRow {
                    name,
                    tasks: 0,
                    attempts: 0,
                    busy_secs: 0.0,
                    span_secs: 0.0,
                    spend: Spend::default(),
                });
                spans.push((f64::MAX, 0.0));
                out.len() - 1
            }
        };
        let g = &mut out[i];
        g.tasks += 1;
        g.attempts += r.attempts;
        g.busy_secs += r.busy_secs;
        g.spend.add(&r.spend);
        if let (Some(s), Some(e)) = (r.first_start_secs, r.last_end_secs) {
            spans[i].0 = spans[i].0.min(s);
            spans[i].1 = spans[i].1.max(e);
        }
    }
    for (g, (s, e)) in out.iter_mut().zip(spans) {
        g.span_secs = if e >= s { e - s } else { 0.0 };
    }
    out
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_owned)
}

fn f64_of(v: &Value, key: &str) -> Option<f64> {
    v.get(key)?.as_f64()
}

fn usize_of(v: &Value, key: &str) -> Option<usize> {
    v.get(key)?.as_u64().map(|n| n as usize)
}

fn u32_of(v: &Value, key: &str) -> Option<u32> {
    v.get(key)?.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// `1.2s`, `45s`, `3m 20s`, `1h 05m`.
pub fn secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 60.0 {
        format!("{}s", s.round() as u64)
    } else if s < 3600.0 {
        let s = s.round() as u64;
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        let m = (s / 60.0).round() as u64;
        format!("{}h {:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests;
