//! The run's vocabulary of events: written to `events.jsonl` as they happen
//! and, with `--json`, to stdout. The schema is in docs/events.md.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::run::agents::stream::{Baseline, Usage};
use crate::run::process::Exit;

/// Money and tokens spent: by an attempt, a task, a section, a run.
/// `input_tokens` is uncached input; cache reads and writes are separate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// Absent when nothing that was spent had a known price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Part of the cost is an estimate: an attempt stopped before its agent
    /// reported its spend, priced from the tokens its stream showed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

impl Spend {
    pub fn new(usage: Usage, cost_usd: Option<f64>) -> Spend {
        Spend {
            cost_usd,
            input_tokens: usage.input,
            output_tokens: usage.output,
            cache_read_tokens: usage.cache_read,
            cache_write_tokens: usage.cache_write,
            estimated: false,
        }
    }

    pub fn add(&mut self, other: &Spend) {
        if let Some(c) = other.cost_usd {
            *self.cost_usd.get_or_insert(0.0) += c;
            self.estimated |= other.estimated;
        }
        // Saturating: an agent may report absurd counts; never overflow.
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = (self.cache_read_tokens).saturating_add(other.cache_read_tokens);
        self.cache_write_tokens =
            (self.cache_write_tokens).saturating_add(other.cache_write_tokens);
    }

    pub fn is_empty(&self) -> bool {
        *self == Spend::default()
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    Succeeded,
    Failed,
    /// The agent said it could not finish (`RUN-BATCH: BLOCKED`).
    Blocked,
    TimedOut,
    Interrupted,
}

/// What the run made of a box changed by someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxTaken {
    /// A hand edit: the task counts as done (or not) from now on.
    Honoured,
    /// The task's own agent is running: the box is the run's until the
    /// attempt ends, and then says what the attempt's verdict says.
    Owned,
    /// The task succeeded in this run and a save of an older copy of the
    /// file cleared its box: it is ticked again.
    TickedAgain,
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
        /// The command line, as the log's first line shows it.
        command: String,
        /// The session this attempt continues.
        #[serde(skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
        /// What `escalate` hints changed for this attempt (`agent claude
        /// --model opus, timeout 40m`).
        #[serde(skip_serializing_if = "Option::is_none")]
        escalation: Option<String>,
    },
    /// The agent named its session (written as soon as it does, so a crash
    /// of run-batch still leaves it for the next run to resume).
    TaskSession {
        task: String,
        attempt: u32,
        agent: String,
        session_id: String,
    },
    /// The agent would not continue the session; the task starts afresh.
    TaskResumeRefused {
        task: String,
        session_id: String,
        reason: String,
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
        /// Why it ended, finer than `outcome`: `succeeded`, `task_failed`,
        /// `blocked`, `interrupted`, `resume_refused`, `transient`,
        /// `throttled`, `limit_exhausted` or `auth` (only `task_failed` uses
        /// the task's retries).
        class: &'static str,
        /// Succeeded after an earlier attempt in this run failed.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        flaky: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit: Option<Exit>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        duration_secs: f64,
        /// Absent when a successful attempt printed nothing: its log (only
        /// the command line) was removed.
        #[serde(skip_serializing_if = "Option::is_none")]
        log: Option<PathBuf>,
        agent: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        /// What this attempt spent, for agents that say.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        spend: Option<Spend>,
        /// The next attempt may continue `session_id`.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        resumable: bool,
        /// The session's cumulative totals as its agent last reported them.
        #[serde(skip_serializing_if = "Option::is_none")]
        session_total: Option<Baseline>,
    },
    /// A task's worktree is ready (`--isolate worktree`).
    WorktreeReady {
        task: String,
        dir: PathBuf,
        branch: String,
        /// An earlier attempt's, with its partial work.
        reused: bool,
    },
    /// An attempt's verdict and gate passed in its worktree: its work is
    /// about to land. A crash from here on leaves it for the next run.
    TaskVerified {
        task: String,
        attempt: u32,
        branch: String,
    },
    /// A task's work landed on the user's branch (before its box is ticked).
    TaskLanded {
        task: String,
        branch: String,
        /// The merge commit; absent when the task changed nothing.
        #[serde(skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        /// Files it changed, relative to the repository.
        files: Vec<String>,
        /// Of those, the files outside what the task claimed (its `files:`
        /// hints and the paths its text names); only for a task that
        /// claimed any.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        undeclared: Vec<String>,
    },
    /// A verified task's work cannot come into the user's checkout yet
    /// (their uncommitted changes, another branch checked out): it is tried
    /// again every few seconds.
    LandingWaits {
        task: String,
        branch: String,
        reason: String,
        files: Vec<String>,
    },
    /// A message was posted (`run-batch handoff post`).
    Handoff {
        id: String,
        from: String,
        to: String,
        kind: &'static str,
        text: String,
    },
    /// A verified attempt's judge started (after its gate).
    JudgeStarted {
        task: String,
        attempt: u32,
        judge: String,
        pid: u32,
        log: PathBuf,
    },
    /// A judge's verdict; what it spent is counted in the task's cost.
    JudgeFinished {
        task: String,
        attempt: u32,
        judge: String,
        passed: bool,
        /// Why it failed the work, or why no verdict counts.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        duration_secs: f64,
        log: PathBuf,
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        spend: Option<Spend>,
    },
    /// A ```` ```checkpoint ```` block's command started while the agent works.
    CheckpointStarted {
        task: String,
        attempt: u32,
        /// `when=MARKER` or `every=DURATION`.
        trigger: String,
        command: String,
        line: usize,
    },
    CheckpointPassed {
        task: String,
        attempt: u32,
        trigger: String,
        command: String,
        line: usize,
        duration_secs: f64,
        /// `then=tell`: its output went to the agent.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        told: bool,
        log: PathBuf,
    },
    /// Without `then=tell` the attempt is stopped at once.
    CheckpointFailed {
        task: String,
        attempt: u32,
        trigger: String,
        command: String,
        line: usize,
        exit: Exit,
        duration_secs: f64,
        /// The end of its output.
        tail: String,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        told: bool,
        log: PathBuf,
    },
    /// A message was sent to a running agent on its stdin (Claude).
    HandoffDelivered {
        id: String,
        task: String,
        attempt: u32,
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
        /// Boxes cleared in the same write: ticked by an agent whose
        /// attempt then did not succeed.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        cleared: Vec<String>,
    },
    /// `--commit`: the task file's ticks were committed to git.
    Committed {
        commit: String,
        tasks: Vec<String>,
    },
    TickFailed {
        tasks: Vec<String>,
        reason: String,
    },
    PlanReloaded {
        tasks: usize,
    },
    /// A box changed in the file during the run, not by run-batch.
    BoxEdited {
        task: String,
        ticked: bool,
        taken: BoxTaken,
        /// Tasks whose agents were running when the change was seen.
        running: Vec<String>,
    },
    PlanReloadFailed {
        reason: String,
    },
    Cancelling {
        reason: String,
    },
    /// A provider hit a usage limit: none of its tasks start until `until`
    /// (the reset time plus a margin, RFC 3339), when one task probes.
    LimitWait {
        provider: String,
        until: String,
        /// The limit's window as the CLI named it (`five_hour`, …).
        #[serde(skip_serializing_if = "Option::is_none")]
        window: Option<String>,
        /// False when the CLI gave no reset time (the wait is a guess that
        /// grows with each limit).
        reset_known: bool,
    },
    /// A provider's probe after a wait succeeded: its tasks start again.
    LimitWaitOver {
        provider: String,
        waited_secs: f64,
    },
    /// A provider throttled an attempt: fewer of its tasks run at once.
    ProviderThrottled {
        provider: String,
        concurrency: usize,
        pause_secs: f64,
    },
    /// Auth or billing failed: none of the provider's tasks start again in
    /// this run.
    ProviderStopped {
        provider: String,
        reason: String,
    },
    RunFinished {
        outcome: String,
        done: usize,
        failed: usize,
        remaining: usize,
        duration_secs: f64,
        /// What this run spent.
        #[serde(flatten)]
        spend: Spend,
        /// Why the run stopped early: `max_cost`, `fail_fast` or `interrupted`.
        #[serde(skip_serializing_if = "Option::is_none")]
        stopped: Option<&'static str>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_adds_up_without_overflowing() {
        let mut a = Spend::new(
            Usage {
                input: u64::MAX,
                output: 1,
                cache_read: 2,
                cache_write: 3,
            },
            None,
        );
        a.add(&Spend::new(
            Usage {
                input: 5,
                output: 1,
                cache_read: 2,
                cache_write: 3,
            },
            Some(0.5),
        ));
        assert_eq!(a.input_tokens, u64::MAX);
        assert_eq!(
            (a.output_tokens, a.cache_read_tokens, a.cache_write_tokens),
            (2, 4, 6)
        );
        assert_eq!(a.cost_usd, Some(0.5));
    }
}
