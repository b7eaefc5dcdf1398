//! The run's vocabulary of events: written to `events.jsonl` as they happen
//! and, with `--json`, to stdout. The schema is in docs/events.md.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::run::process::Exit;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        file: String,
        pid: u32,
        tasks: usize,
        to_run: usize,
        jobs: usize,
    },
    PreviousRunCrashed {
        previous_run: String,
        pid: i32,
    },
    TaskStarted {
        task: String,
        attempt: u32,
        agent: String,
        pid: u32,
        log: PathBuf,
    },
    TaskProgress {
        task: String,
        line: String,
    },
    TaskActivity {
        task: String,
        activity: String,
    },
    TaskFinished {
        task: String,
        attempt: u32,
        outcome: TaskOutcome,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit: Option<Exit>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        duration_secs: f64,
        log: PathBuf,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cost_usd: Option<f64>,
    },
    TaskRetrying {
        task: String,
        next_attempt: u32,
        delay_secs: f64,
    },
    TaskBlocked {
        task: String,
        by: String,
    },
    Ticked {
        tasks: Vec<String>,
        parents: Vec<String>,
    },
    TickFailed {
        tasks: Vec<String>,
        reason: String,
    },
    PlanReloaded {
        tasks: usize,
    },
    PlanReloadFailed {
        reason: String,
    },
    Cancelling {
        reason: String,
    },
    RunFinished {
        outcome: String,
        done: usize,
        failed: usize,
        remaining: usize,
        duration_secs: f64,
    },
}

#[derive(Serialize)]
struct Envelope<'a> {
    ts: String,
    run: &'a str,
    #[serde(flatten)]
    event: &'a Event,
}

/// One JSON line for `event`, stamped with the time and the run id.
pub fn line(run: &str, event: &Event) -> String {
    let mut s = serde_json::to_string(&Envelope {
        ts: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        run,
        event,
    })
    .expect("events serialise");
    s.push('\n');
    s
}

/// Appends events to `events.jsonl`, one write per line so a crash loses at
/// most the line being written.
pub struct EventLog {
    file: std::fs::File,
    pub path: PathBuf,
}

impl EventLog {
    pub fn create(path: PathBuf) -> std::io::Result<EventLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(EventLog { file, path })
    }

    pub fn write(&mut self, line: &str) {
        let _ = self.file.write_all(line.as_bytes());
    }
}
