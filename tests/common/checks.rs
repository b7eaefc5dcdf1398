//! The promise, as checks a fault-injection test runs after every run: no
//! edit lost, no byte changed but checkbox state bytes, every tick earned by
//! a success (and every success ticked), no task run twice (at once or at
//! all), never more than `-j` agents, no process left behind, a true exit
//! status. Each check returns what it found wrong (empty: the promise held),
//! so a test can assert and the soak can count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::agents::{FakeLog, Interval, events_in};

// ---- the task file -----------------------------------------------------------------

/// Every task of a generated plan (a line `- [ ] … <!-- id: ID -->` or
/// `<!-- id: ID; … -->`) and whether its box is ticked. A line cut before the
/// end of its id is no task.
pub fn boxes(text: &[u8]) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for line in text.split(|&b| b == b'\n') {
        let ticked = if line.starts_with(b"- [x] ") || line.starts_with(b"- [X] ") {
            true
        } else if line.starts_with(b"- [ ] ") {
            false
        } else {
            continue;
        };
        let line = String::from_utf8_lossy(line);
        let Some(at) = line.find("<!-- id: ") else {
            continue;
        };
        let rest = &line[at + 9..];
        let id: String = (rest.chars())
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        // A line cut inside its comment (`<!-- id: t17` of `t170`) is no task.
        let closed = rest[id.len()..].starts_with(" -->") || rest[id.len()..].starts_with(';');
        if !id.is_empty() && closed {
            out.insert(id, ticked);
        }
    }
    out
}

/// Ids of the ticked boxes.
pub fn ticked(text: &[u8]) -> BTreeSet<String> {
    boxes(text)
        .into_iter()
        .filter(|(_, t)| *t)
        .map(|(id, _)| id)
        .collect()
}

/// Markers (see `Editor`) that are not in the file: edits lost.
pub fn lost_edits(file: &[u8], markers: &[String]) -> Vec<String> {
    let text = String::from_utf8_lossy(file);
    // A marker's line, whole: `edit 1` must not be found inside `edit 17`.
    let lines: BTreeSet<&str> = text.lines().map(str::trim).collect();
    markers
        .iter()
        .filter(|m| !lines.contains(m.as_str()))
        .cloned()
        .collect()
}

/// Where `now` differs from `then` in anything but checkbox state bytes
/// (the byte inside `[ ]`/`[x]`): empty when run-batch changed only boxes.
pub fn foreign_bytes(then: &[u8], now: &[u8]) -> Vec<String> {
    if then.len() != now.len() {
        let common = then.iter().zip(now).take_while(|(a, b)| a == b).count();
        return vec![format!(
            "the file has {} bytes, not {}; first difference at byte {common}: {} instead of {}",
            now.len(),
            then.len(),
            excerpt(now, common),
            excerpt(then, common),
        )];
    }
    let is_state = |b: u8| matches!(b, b' ' | b'x' | b'X');
    let boxed = |bytes: &[u8], i: usize| {
        i > 0 && i + 1 < bytes.len() && bytes[i - 1] == b'[' && bytes[i + 1] == b']'
    };
    (0..now.len())
        .filter(|&i| then[i] != now[i])
        .filter(|&i| !(is_state(then[i]) && is_state(now[i]) && boxed(then, i) && boxed(now, i)))
        .take(5)
        .map(|i| {
            format!(
                "byte {i} changed: {} instead of {}",
                excerpt(now, i),
                excerpt(then, i)
            )
        })
        .collect()
}

/// A short escaped view of the bytes around `at`.
fn excerpt(bytes: &[u8], at: usize) -> String {
    let from = at.saturating_sub(20);
    let to = (at + 20).min(bytes.len());
    format!("{:?}", String::from_utf8_lossy(&bytes[from..to]))
}

// ---- the records -------------------------------------------------------------------

/// The run folders of `.run-batch/<file>/runs/`, oldest first.
pub fn runs_of(taskfile: &Path) -> Vec<PathBuf> {
    let name = taskfile.file_name().unwrap();
    let runs = taskfile
        .parent()
        .unwrap()
        .join(".run-batch")
        .join(name)
        .join("runs");
    let mut out: Vec<PathBuf> = match std::fs::read_dir(runs) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// What a run's `events.jsonl` says about its attempts.
#[derive(Debug, Default, Clone)]
pub struct Attempts {
    /// Tasks with an attempt that succeeded.
    pub succeeded: BTreeSet<String>,
    /// Tasks whose last attempt did not succeed.
    pub failed: BTreeSet<String>,
    /// The `run_finished` event, if the run got that far.
    pub finished: Option<serde_json::Value>,
}

impl Attempts {
    /// Reads the `events.jsonl` of the given run folders (one run, or every
    /// run of a series).
    pub fn of(runs: &[PathBuf]) -> Attempts {
        let mut out = Attempts::default();
        for run in runs {
            for e in events_in(&run.join("events.jsonl")) {
                let task = e["task"].as_str().unwrap_or_default().to_owned();
                match e["event"].as_str() {
                    Some("task_finished") if e["outcome"] == "succeeded" => {
                        out.failed.remove(&task);
                        out.succeeded.insert(task);
                    }
                    Some("task_finished") => {
                        out.failed.insert(task);
                    }
                    Some("run_finished") => out.finished = Some(e),
                    _ => {}
                }
            }
        }
        out
    }
}

/// Boxes ticked in `after` that were not in `before` and whose task has no
/// succeeded attempt; and tasks that succeeded but are not ticked in `after`.
pub fn unearned_and_missing_ticks(
    before: &[u8],
    after: &[u8],
    attempts: &Attempts,
) -> (Vec<String>, Vec<String>) {
    let was = ticked(before);
    let now = boxes(after);
    let unearned = now
        .iter()
        .filter(|(id, t)| **t && !was.contains(*id) && !attempts.succeeded.contains(*id))
        .map(|(id, _)| id.clone())
        .collect();
    let missing = attempts
        .succeeded
        .iter()
        .filter(|id| now.get(*id) != Some(&true))
        .cloned()
        .collect();
    (unearned, missing)
}

/// The exit status the file and the records call for: 0 when every box is
/// ticked and no task failed, else 1.
pub fn true_exit_status(after: &[u8], attempts: &Attempts) -> i32 {
    let all_ticked = boxes(after).values().all(|t| *t);
    if all_ticked && attempts.failed.is_empty() {
        0
    } else {
        1
    }
}

// ---- agents ---------------------------------------------------------------------

// An agent that was killed logged no end, so when it died is unknown: the
// two checks below look only at agents that ran to their end (and never
// blame a killed one), and `cut_short` reports the killed ones.

/// Tasks with two agents running at the same time.
pub fn twice_at_once(log: &FakeLog) -> Vec<String> {
    let ended: Vec<&Interval> = log.runs.iter().filter(|r| r.end.is_some()).collect();
    let mut out = Vec::new();
    for (i, a) in ended.iter().enumerate() {
        for b in &ended[i + 1..] {
            if a.id == b.id && a.overlaps(b) {
                out.push(format!("two agents of `{}` ran at once", a.id));
            }
        }
    }
    out
}

/// More than `jobs` agents at once, if that happened.
pub fn over_jobs(log: &FakeLog, jobs: usize) -> Vec<String> {
    let ended = FakeLog {
        runs: log
            .runs
            .iter()
            .filter(|r| r.end.is_some())
            .cloned()
            .collect(),
    };
    let most = ended.max_concurrency();
    if most > jobs {
        vec![format!("{most} agents ran at once with -j {jobs}")]
    } else {
        Vec::new()
    }
}

/// Agents that never reached their end: something killed them.
pub fn cut_short(log: &FakeLog) -> Vec<String> {
    (log.runs.iter())
        .filter(|r| r.end.is_none())
        .map(|r| format!("an agent of `{}` was killed before its end", r.id))
        .collect()
}

/// Tasks whose agent started more than once.
pub fn started_twice(log: &FakeLog) -> Vec<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &log.runs {
        *count.entry(&r.id).or_default() += 1;
    }
    count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, n)| format!("`{id}` started {n} times"))
        .collect()
}

// ---- processes -------------------------------------------------------------------

/// Live processes (not zombies: this sandbox's PID 1 does not reap) whose
/// environment holds `FAULTS_TOKEN=token`, with their command lines.
pub fn processes_with_token(token: &str) -> Vec<(i32, String)> {
    let mark = format!("FAULTS_TOKEN={token}").into_bytes();
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ.split(|&b| b == 0).any(|v| v == mark.as_slice()) {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .unwrap_or("Z");
        if state == "Z" || state == "X" {
            continue;
        }
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        out.push((
            pid,
            String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .trim()
                .to_owned(),
        ));
    }
    out
}

/// Processes still carrying `token` after waiting up to `patience` for them
/// to go; the survivors are then killed (so they cannot disturb what comes
/// next) and returned, described.
pub fn left_behind(token: &str, patience: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let alive = processes_with_token(token);
        if alive.is_empty() {
            return Vec::new();
        }
        if start.elapsed() >= patience {
            for (pid, _) in &alive {
                // SAFETY: kill(2) on one process; no memory effects.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            return alive
                .into_iter()
                .map(|(pid, cmd)| format!("pid {pid}: {cmd}"))
                .collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A token for one test's processes.
pub fn token(seed: u64) -> String {
    format!("{}-{seed:x}", std::process::id())
}

// ---- git -------------------------------------------------------------------------

/// `git init` in `repo` and a first commit of everything in it.
pub fn git_init(repo: &Path) {
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "plan",
        ],
    ] {
        let out = git(repo, args);
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `git ARGS` in `dir`, committing as `t <t@t>`; its stdout. Panics with
/// git's message when it fails.
pub fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git status --porcelain --untracked-files=all` in `repo`.
pub fn git_status(repo: &Path) -> String {
    let out = git(repo, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(
        out.status.success(),
        "git status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn git(repo: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .args(args)
        .current_dir(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git")
}

// ---- all of it ------------------------------------------------------------------

/// What went wrong in one run, check by check.
#[derive(Debug, Default)]
pub struct Findings {
    pub lost_edits: Vec<String>,
    pub foreign_bytes: Vec<String>,
    pub unearned_ticks: Vec<String>,
    pub unticked_successes: Vec<String>,
    pub twice_at_once: Vec<String>,
    pub over_jobs: Vec<String>,
    pub cut_short: Vec<String>,
    pub started_twice: Vec<String>,
    pub left_behind: Vec<String>,
    pub false_exit: Vec<String>,
    pub other: Vec<String>,
}

impl Findings {
    /// The checks, labelled, with what each found.
    fn groups(&self) -> [(&'static str, &Vec<String>); 11] {
        [
            ("edit lost", &self.lost_edits),
            ("not a checkbox byte", &self.foreign_bytes),
            ("ticked without a success", &self.unearned_ticks),
            ("succeeded but not ticked", &self.unticked_successes),
            ("same task twice at once", &self.twice_at_once),
            ("over -j", &self.over_jobs),
            ("agent killed", &self.cut_short),
            ("started again", &self.started_twice),
            ("left behind", &self.left_behind),
            ("exit status", &self.false_exit),
            ("other", &self.other),
        ]
    }

    /// Each finding, labelled with its check.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (label, items) in self.groups() {
            for item in items {
                out.push(format!("{label}: {item}"));
            }
        }
        out
    }

    /// How many findings each check made, e.g. `12 edit lost, 1 exit status`.
    pub fn counts(&self) -> String {
        let counts: Vec<String> = (self.groups().iter())
            .filter(|(_, items)| !items.is_empty())
            .map(|(label, items)| format!("{} {label}", items.len()))
            .collect();
        if counts.is_empty() {
            "none".into()
        } else {
            counts.join(", ")
        }
    }

    /// Panics listing every problem (at most 40), with the warnings and the
    /// last lines of run-batch's stderr.
    pub fn assert_none(&self, what: &str, stderr: &str) {
        let problems = self.problems();
        if problems.is_empty() {
            return;
        }
        let lines: Vec<&str> = stderr.lines().collect();
        let mut shown: Vec<&str> = (lines.iter().copied())
            .filter(|l| l.contains("warning") || l.contains("error"))
            .take(10)
            .collect();
        shown.extend(&lines[lines.len().saturating_sub(5)..]);
        panic!(
            "{what}: {} problems ({}):\n  {}\n---- from run-batch's stderr ----\n{}\n",
            problems.len(),
            self.counts(),
            problems[..problems.len().min(40)].join("\n  "),
            shown.join("\n"),
        );
    }
}
