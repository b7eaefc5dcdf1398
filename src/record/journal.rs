//! The journal: every task's status, attempts and last error across runs,
//! and the list of runs with their outcome. Runs append to their own
//! `events.jsonl` as they go; the journal is the fold of those events, written
//! when a run ends. A run that never ended (run-batch was killed) is folded by
//! the next one, which reports it as crashed.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::record::atomic;
use crate::record::events::Spend;
use crate::run::agents::stream::Baseline;
use crate::taskfile::Document;

/// `journal.json.corrupt-20261121T193000Z` beside `path` (`-2`, `-3`, … when
/// taken).
fn aside_name(path: &Path) -> PathBuf {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut aside = path.with_file_name(format!("{name}.corrupt-{stamp}"));
    let mut n = 1;
    while aside.symlink_metadata().is_ok() {
        n += 1;
        aside = path.with_file_name(format!("{name}.corrupt-{stamp}-{n}"));
    }
    aside
}

/// The naming rule the journal's task keys follow: 1, the heading path and
/// text (before short ids); 2, short ids (`taskfile::identity`).
pub const ID_SCHEME: u32 = 2;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Journal {
    /// A journal without it was written under scheme 1.
    #[serde(default = "first_scheme")]
    pub id_scheme: u32,
    pub runs: Vec<RunRecord>,
    pub tasks: BTreeMap<String, TaskRecord>,
}

fn first_scheme() -> u32 {
    1
}

impl Default for Journal {
    fn default() -> Journal {
        Journal {
            id_scheme: ID_SCHEME,
            runs: Vec::new(),
            tasks: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    pub pid: i32,
    pub started: String,
    #[serde(default)]
    pub finished: Option<String>,
    /// `running`, `succeeded`, `failed`, `interrupted` or `crashed`.
    pub outcome: String,
    pub events: PathBuf,
    #[serde(default)]
    pub folded: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TaskRecord {
    /// `succeeded`, `failed`, `timed_out` or `interrupted`: the last attempt's outcome.
    pub status: String,
    pub attempts: u32,
    pub last_run: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_log: Option<PathBuf>,
    #[serde(default)]
    pub duration_secs: f64,
    /// The newest session the task's agent reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The agent (as named in the plan) that made `session_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_agent: Option<String>,
    /// The last attempt was interrupted (Ctrl-C, crash, timeout) after its
    /// session started: the next attempt continues it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resumable: bool,
    /// The session's cumulative totals as last reported (for resumes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_total: Option<Baseline>,
    /// The last attempt's class (`task_failed`, `limit_exhausted`, …; see
    /// `task_finished.class` in docs/events.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The last success came after a failed attempt in the same run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// `--isolate worktree`: an attempt was verified in this branch, and
    /// the run ended (crashed) before its work landed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_branch: Option<String>,
    /// Its work landed, and the run ended (crashed) before it was recorded
    /// as finished: the box may not be ticked yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub landed_unticked: bool,
    /// Files its last landed work changed outside what it claimed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undeclared: Vec<String>,
    /// Everything spent on the task, across attempts and runs.
    #[serde(flatten)]
    pub spent: Spend,
}

impl Journal {
    /// Reads the journal (none yet: an empty one), or says why it cannot.
    pub fn read(path: &Path) -> Result<Journal, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| e.to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Journal::default()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The journal for a look at it: an unreadable one counts as empty.
    pub fn load(path: &Path) -> Journal {
        Journal::read(path).unwrap_or_default()
    }

    /// The journal for a run, which writes it when it ends: one that cannot
    /// be read is never replaced, but moved aside to
    /// `journal.json.corrupt-<time>`, with a warning saying so.
    pub fn open(path: &Path) -> Result<(Journal, Option<String>), Error> {
        let why = match Journal::read(path) {
            Ok(journal) => return Ok((journal, None)),
            Err(why) => why,
        };
        let aside = aside_name(path);
        std::fs::rename(path, &aside).map_err(|e| {
            Error::Setup(format!(
                "`{}` cannot be read ({why}) and cannot be moved aside ({e}); move it away by hand to start a new journal",
                path.display()
            ))
        })?;
        Ok((
            Journal::default(),
            Some(format!(
                "warning: `{}` cannot be read ({why}); kept it as `{}` and started a new journal",
                path.display(),
                aside.file_name().unwrap_or_default().to_string_lossy()
            )),
        ))
    }

    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self).expect("journal serialises");
        if !path.exists() {
            std::fs::write(path, b"{}").map_err(|source| Error::Write {
                path: path.to_owned(),
                source,
            })?;
        }
        atomic::replace(path, &bytes, || Ok(true)).map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
        Ok(())
    }

    /// Renames task records keyed by an earlier naming rule's ids to the
    /// ids `doc` gives the same tasks now (once: the journal then says it
    /// follows the current rule). Call after `recover`, which folds a
    /// crashed run's events under the ids that run used. A record whose
    /// task is no longer in the file keeps its old key. Returns the
    /// records renamed, as (old id, new id).
    pub fn migrate_ids(&mut self, doc: &Document) -> Vec<(String, String)> {
        let mut renamed = Vec::new();
        if self.id_scheme >= ID_SCHEME {
            return renamed;
        }
        let old = crate::taskfile::legacy_ids(doc);
        let renames: HashMap<&str, Cow<str>> = (old.tasks.iter())
            .zip(doc.task_ids())
            .map(|(from, id)| (from.as_str(), id))
            .collect();
        let records = std::mem::take(&mut self.tasks);
        let mut kept = Vec::new();
        for (key, record) in records {
            match renames.get(key.as_str()) {
                Some(new) => {
                    if key != *new {
                        renamed.push((key.clone(), new.to_string()));
                    }
                    self.tasks.insert(new.to_string(), record);
                }
                None => kept.push((key, record)),
            }
        }
        // A renamed record wins over an old key that happens to read like
        // another task's new id.
        for (key, record) in kept {
            self.tasks.entry(key).or_insert(record);
        }
        self.id_scheme = ID_SCHEME;
        renamed
    }

    /// Applies one run's events to the task records.
    pub fn fold_events(&mut self, run: &str, events: &Path) {
        use std::io::BufRead;
        let Ok(file) = std::fs::File::open(events) else {
            return;
        };
        // Streamed, and only task lines are parsed: an events file can be
        // large, and most of it is progress.
        for line in std::io::BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            if ![
                "\"task_finished\"",
                "\"task_session\"",
                "\"task_verified\"",
                "\"task_landed\"",
                "\"judge_finished\"",
            ]
            .iter()
            .any(|e| line.contains(e))
            {
                continue;
            }
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let Some(task) = v.get("task").and_then(|t| t.as_str()) else {
                continue;
            };
            let str_at = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_owned);
            let rec = self.tasks.entry(task.to_owned()).or_default();
            let finished = match v.get("event").and_then(|e| e.as_str()) {
                Some("task_session") => false,
                Some("task_finished") => true,
                Some("task_verified") => {
                    rec.verified_branch = str_at("branch");
                    continue;
                }
                // A judge's spend is its task's.
                Some("judge_finished") => {
                    if let Ok(spend) = Spend::deserialize(&v) {
                        rec.spent.add(&spend);
                    }
                    continue;
                }
                Some("task_landed") => {
                    rec.verified_branch = None;
                    rec.landed_unticked = true;
                    rec.undeclared = (v.get("undeclared").and_then(|u| u.as_array()))
                        .map(|u| {
                            u.iter()
                                .filter_map(|f| Some(f.as_str()?.to_owned()))
                                .collect()
                        })
                        .unwrap_or_default();
                    continue;
                }
                _ => continue,
            };
            if let Some(id) = str_at("session_id") {
                if rec.session_id.as_ref() != Some(&id) {
                    rec.session_total = None;
                }
                rec.session_id = Some(id);
                rec.session_agent = str_at("agent");
                // Until the attempt says how it ended (a crash never does).
                rec.resumable = true;
            }
            if !finished {
                continue;
            }
            rec.status = str_at("outcome").unwrap_or_else(|| "failed".into());
            rec.verified_branch = None;
            rec.landed_unticked = false;
            rec.class = str_at("class");
            rec.flaky = v.get("flaky").and_then(|f| f.as_bool()) == Some(true);
            rec.attempts += 1;
            rec.last_run = run.to_owned();
            rec.last_error = str_at("reason");
            rec.last_log = str_at("log").map(PathBuf::from);
            rec.duration_secs = v
                .get("duration_secs")
                .and_then(|d| d.as_f64())
                .unwrap_or(0.0);
            if let Some(total) = v
                .get("session_total")
                .and_then(|t| Baseline::deserialize(t).ok())
            {
                rec.session_total = Some(total);
            }
            rec.resumable = v.get("resumable").and_then(|r| r.as_bool()) == Some(true);
            if let Ok(spend) = Spend::deserialize(&v) {
                rec.spent.add(&spend);
            }
        }
    }

    /// Run folders that hold what a task's next attempt needs: the log of an
    /// interrupted attempt whose session will be continued.
    pub fn needed_runs(&self) -> std::collections::HashSet<PathBuf> {
        (self.tasks.values())
            .filter(|t| t.resumable)
            .filter_map(|t| t.last_log.as_deref()?.parent().map(Path::to_path_buf))
            .collect()
    }

    /// After `recover`, the runs not folded are the ones still in progress:
    /// adds their events, for a look at them (never saved: a run folds its
    /// own events when it ends).
    pub fn include_live(&mut self) {
        let runs = std::mem::take(&mut self.runs);
        for run in runs.iter().filter(|r| !r.folded) {
            self.fold_events(&run.id, &run.events);
        }
        self.runs = runs;
    }

    /// Folds runs that ended without folding (crashed ones); returns the
    /// crashed runs' ids and pids.
    pub fn recover(&mut self, alive: impl Fn(i32) -> bool) -> Vec<(String, i32)> {
        let mut crashed = Vec::new();
        let mut runs = std::mem::take(&mut self.runs);
        for run in runs.iter_mut().filter(|r| !r.folded) {
            if run.outcome == "running" {
                if alive(run.pid) {
                    continue;
                }
                run.outcome = "crashed".into();
                crashed.push((run.id.clone(), run.pid));
            }
            self.fold_events(&run.id, &run.events);
            run.folded = true;
        }
        self.runs = runs;
        crashed
    }
}
