//! What a person watching the run sees. On a terminal: a live view (one line
//! per running task with its elapsed time and latest progress, an overall
//! bar). Off a terminal: one plain line per event. With `--json`: the events
//! themselves, one JSON object per line on stdout. Consumes events; decides
//! nothing.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::record::events::{BoxTaken, Event, Spend, TaskOutcome};
use crate::report::plan_text::humanize;
use crate::report::summary::{count, usd};
use crate::run::process::{TERM_AFTER, Termination, signal_name};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Live,
    Plain,
    Json,
}

impl Mode {
    pub fn pick(json: bool) -> Mode {
        if json {
            Mode::Json
        } else if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

pub struct Reporter {
    mode: Mode,
    multi: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    bars: HashMap<String, ProgressBar>,
    total: usize,
    done: usize,
    failed: usize,
    /// What finished attempts have spent so far in this run.
    spent: Spend,
}

const TAIL_LINES: usize = 20;

impl Reporter {
    pub fn new(mode: Mode) -> Reporter {
        Reporter {
            mode,
            multi: None,
            overall: None,
            bars: HashMap::new(),
            total: 0,
            done: 0,
            failed: 0,
            spent: Spend::default(),
        }
    }

    /// Reports one event; `json` is its line for `--json`.
    pub fn event(&mut self, event: &Event, json: &str) {
        match self.mode {
            Mode::Json => {
                let mut out = std::io::stdout().lock();
                if out.write_all(json.as_bytes()).is_err() {
                    // Nobody is reading; keep running, stop writing.
                    self.mode = Mode::Plain;
                }
            }
            Mode::Plain => self.plain(event),
            Mode::Live => self.live(event),
        }
    }

    /// A message for the person, outside the event stream (warnings, notes).
    pub fn note(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text.trim_end());
            }
            None => to_stderr(&format!("{}\n", text.trim_end())),
        }
    }

    /// Shows the end of a failed task's log between rules.
    pub fn failure_tail(&self, task: &str, log: &Path) {
        if self.mode == Mode::Json {
            return;
        }
        let tail = tail_lines(log, TAIL_LINES);
        let mut text = format!("── {task}: end of its log {}\n", "─".repeat(40));
        for line in tail {
            text.push_str(&line);
            text.push('\n');
        }
        text.push_str(&format!("── {} {}", log.display(), "─".repeat(8)));
        self.note(&text);
    }

    pub fn finish(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
        if let Some(o) = self.overall.take() {
            o.finish_and_clear();
        }
        if let Some(m) = self.multi.take() {
            let _ = m.clear();
        }
    }

    fn plain(&mut self, event: &Event) {
        if let Some(line) = plain_line(event) {
            to_stderr(&format!("{line}\n"));
        }
    }

    fn live(&mut self, event: &Event) {
        if self.multi.is_none() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{bar:30.green/dim} {pos}/{len} done {msg}")
                    .unwrap()
                    .progress_chars("━━─"),
            );
            overall.enable_steady_tick(Duration::from_millis(200));
            self.overall = Some(overall);
            self.multi = Some(multi);
        }
        let multi = self.multi.clone().unwrap();
        match event {
            Event::RunStarted { to_run, .. } => {
                self.total = *to_run;
                if let Some(o) = &self.overall {
                    o.set_length(*to_run as u64);
                }
                if let Some(line) = plain_line(event) {
                    let _ = multi.println(line);
                }
            }
            Event::TaskStarted { task, attempt, .. } => {
                let bar = multi.insert_from_back(1, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {spinner:.cyan} {prefix:.bold} {elapsed:>4} {wide_msg:.dim}",
                    )
                    .unwrap(),
                );
                let prefix = if *attempt > 1 {
                    format!("{task} (attempt {attempt})")
                } else {
                    task.clone()
                };
                bar.set_prefix(prefix);
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Some(old) = self.bars.insert(task.clone(), bar) {
                    old.finish_and_clear();
                }
            }
            Event::TaskProgress { task, line } => {
                if let Some(bar) = self.bars.get(task) {
                    bar.set_message(line.clone());
                }
            }
            Event::TaskActivity { task, activity } => {
                if let Some(bar) = self.bars.get(task) {
                    bar.set_message(activity.clone());
                }
            }
            Event::TaskFinished {
                task,
                outcome,
                spend,
                ..
            } => {
                if let Some(bar) = self.bars.remove(task) {
                    bar.finish_and_clear();
                }
                match outcome {
                    TaskOutcome::Succeeded => self.done += 1,
                    _ => self.failed += 1,
                }
                if let Some(s) = spend {
                    self.spent.add(s);
                }
                if let Some(o) = &self.overall {
                    o.set_position(self.done as u64);
                    let mut msg = String::new();
                    if self.failed > 0 {
                        msg.push_str(&format!("· {} failed ", self.failed));
                    }
                    if !self.spent.is_empty() {
                        msg.push_str(&format!(
                            "· {} · {} tokens in / {} out",
                            usd(self.spent.cost_usd),
                            count(self.spent.input_tokens),
                            count(self.spent.output_tokens)
                        ));
                    }
                    o.set_message(msg);
                }
                if let Some(line) = plain_line(event) {
                    let _ = multi.println(line);
                }
            }
            _ => {
                if let Some(line) = plain_line(event) {
                    let _ = multi.println(line);
                }
            }
        }
    }
}

/// Writes to stderr. A closed stderr (`2>&1 | head` that has seen enough, a
/// pager quit) stops the output, never the run: the error is dropped, and
/// the run goes on to tick, record and exit as it would have.
pub fn to_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The one-line form of an event, for logs and non-terminals.
fn plain_line(event: &Event) -> Option<String> {
    Some(match event {
        Event::RunStarted {
            file,
            tasks,
            to_run,
            jobs,
            ..
        } => {
            format!("run-batch: {to_run} of {tasks} tasks to run from {file} (-j {jobs})")
        }
        Event::PreviousRunCrashed { previous_run, pid } => {
            format!(
                "note: the previous run {previous_run} (pid {pid}) ended without finishing; it crashed or was killed"
            )
        }
        Event::TaskStarted {
            task,
            attempt,
            resume,
            ..
        } => {
            let mut line = format!("start    {task}");
            if *attempt > 1 {
                line.push_str(&format!(" (attempt {attempt})"));
            }
            if let Some(id) = resume {
                line.push_str(&format!(" resuming session {id}"));
            }
            line
        }
        Event::TaskSession { .. } => return None,
        Event::TaskResumeRefused {
            task,
            session_id,
            reason,
        } => format!(
            "note: {task}: the agent would not continue session {session_id} ({reason}); starting afresh"
        ),
        Event::TaskProgress { task, line } => format!("progress {task}: {line}"),
        Event::TaskActivity { task, activity } => format!("activity {task}: {activity}"),
        Event::TaskFinished {
            task,
            outcome,
            reason,
            duration_secs,
            log,
            spend,
            ..
        } => {
            let mut took = humanize_secs(*duration_secs);
            if let Some(s) = spend {
                took.push_str(&format!(
                    ", {}, {} tokens in / {} out",
                    usd(s.cost_usd),
                    count(s.input_tokens),
                    count(s.output_tokens)
                ));
            }
            match outcome {
                TaskOutcome::Succeeded => format!("done     {task} ({took})"),
                TaskOutcome::Failed => format!(
                    "FAILED   {task} ({}; {took}) log: {}",
                    reason.as_deref().unwrap_or("failed"),
                    log.display()
                ),
                TaskOutcome::TimedOut => format!(
                    "TIMEOUT  {task} ({}) log: {}",
                    reason.as_deref().unwrap_or("timed out"),
                    log.display()
                ),
                TaskOutcome::Interrupted => match reason.as_deref() {
                    Some(r) if r != "interrupted" => format!("stopped  {task} ({r}; {took})"),
                    _ => format!("stopped  {task} ({took})"),
                },
                TaskOutcome::Blocked => format!(
                    "BLOCKED  {task} ({}) log: {}",
                    reason.as_deref().unwrap_or("the agent said it is blocked"),
                    log.display()
                ),
            }
        }
        Event::TaskRetrying {
            task,
            next_attempt,
            delay_secs,
        } => {
            format!(
                "retry    {task} in {} (attempt {next_attempt})",
                humanize_secs(*delay_secs)
            )
        }
        Event::TaskBlocked { task, by } => format!("blocked  {task} (waits for failed `{by}`)"),
        Event::Ticked {
            tasks,
            parents,
            cleared,
        } => {
            let mut all = tasks.clone();
            all.extend(parents.iter().cloned());
            let mut line = String::new();
            if !all.is_empty() {
                line = format!("ticked   {}", all.join(", "));
            }
            if !cleared.is_empty() {
                if !line.is_empty() {
                    line.push('\n');
                }
                line.push_str(&format!(
                    "cleared  {} (ticked by an agent that did not succeed)",
                    cleared.join(", ")
                ));
            }
            line
        }
        Event::BoxEdited {
            task,
            ticked,
            taken,
            running,
        } => {
            let what = if *ticked { "ticked" } else { "cleared" };
            let during = if running.is_empty() {
                String::new()
            } else {
                format!(" (while {} ran)", running.join(", "))
            };
            match taken {
                BoxTaken::Honoured => {
                    format!("edited   {task}: {what} in the file{during}; honoured")
                }
                BoxTaken::Owned => format!(
                    "note: {task}: its box was {what} while its agent runs; the box stays run-batch's until the attempt ends"
                ),
                BoxTaken::TickedAgain => format!(
                    "note: {task}: its box was cleared by a save of an older copy of the file; ticking it again (to run it again, use `run-batch tick --undo` during the run, or clear it after)"
                ),
            }
        }
        Event::TickFailed { tasks, reason } => {
            format!("warning: could not tick {}: {reason}", tasks.join(", "))
        }
        Event::PlanReloaded { tasks } => format!("reloaded the task file: {tasks} tasks"),
        Event::PlanReloadFailed { reason } => {
            format!(
                "warning: the task file changed but does not plan ({reason}); keeping the previous plan"
            )
        }
        Event::Cancelling { reason } => format!("stopping: {reason}"),
        Event::LimitWait {
            provider,
            until,
            window,
            reset_known,
        } => {
            let at = humantime::parse_rfc3339(until).map_or_else(|_| until.clone(), local_time);
            let window = window
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            let guess = if *reset_known {
                ""
            } else {
                "; it gave no reset time, so this is a guess"
            };
            format!(
                "{provider}: waiting for the usage limit until {at}{window}{guess}; its tasks continue then"
            )
        }
        Event::LimitWaitOver {
            provider,
            waited_secs,
        } => format!(
            "{provider}: the usage limit is over (waited {}); its tasks start again",
            humanize_secs(*waited_secs)
        ),
        Event::ProviderThrottled {
            provider,
            concurrency,
            pause_secs,
        } => format!(
            "{provider}: throttled; at most {concurrency} at once, next start in {}",
            humanize_secs(*pause_secs)
        ),
        Event::WorktreeReady {
            task, dir, reused, ..
        } => {
            if *reused {
                format!("worktree {task}: continuing in {}", dir.display())
            } else {
                format!("worktree {task}: {}", dir.display())
            }
        }
        Event::TaskVerified { .. } => return None,
        Event::Handoff {
            from,
            to,
            kind,
            text,
            ..
        } => format!(
            "message  {from} → {to} ({kind}): {}",
            crate::run::agents::activity::first_line(text).unwrap_or("")
        ),
        Event::Committed { commit, tasks } => format!(
            "commit   {} ({})",
            &commit[..commit.len().min(10)],
            tasks.join(", ")
        ),
        Event::LandingWaits {
            task,
            branch,
            reason,
            ..
        } => format!("waiting to merge `{task}` into `{branch}`: {reason}"),
        Event::TaskLanded {
            task,
            commit,
            files,
            ..
        } => match commit {
            Some(c) => format!(
                "merged   {task} ({} file{}, {})",
                files.len(),
                crate::report::plural(files.len()),
                &c[..c.len().min(10)]
            ),
            None => format!("merged   {task} (no changes)"),
        },
        Event::ProviderStopped { provider, reason } => {
            format!("{provider}: stopped ({reason}); none of its tasks start again in this run")
        }
        Event::RunFinished { .. } => return None,
    })
}

/// What the run says when process groups outlive the first signal it sent
/// them (see `process::Termination::poll`): one line per first signal,
/// naming the tasks and when SIGKILL comes.
pub fn waiting_lines(waiting: &[Termination], now: Instant) -> Vec<String> {
    let mut lines = Vec::new();
    let mut firsts: Vec<i32> = waiting.iter().map(|k| k.first).collect();
    firsts.sort_unstable();
    firsts.dedup();
    for first in firsts {
        let of: Vec<&Termination> = waiting.iter().filter(|k| k.first == first).collect();
        let mut tasks: Vec<String> = of.iter().map(|k| format!("`{}`", k.task)).collect();
        tasks.dedup();
        let kill_at = of.iter().map(|k| k.deadline).max().unwrap_or(now);
        let kill_in = Duration::from_secs(
            kill_at.saturating_duration_since(now).as_secs_f64().round() as u64,
        );
        lines.push(format!(
            "waiting for the processes of {}: still running {} after {}{}; SIGKILL in {}",
            tasks.join(", "),
            humanize(TERM_AFTER),
            signal_name(first),
            if first == libc::SIGTERM {
                ""
            } else {
                ", sent SIGTERM"
            },
            humanize(kill_in)
        ));
    }
    lines
}

/// `15:04` in the local time zone (with the date when it is not today).
pub fn local_time(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as libc::time_t;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as libc::time_t;
    // SAFETY: localtime_r writes into the struct we pass and reads the time.
    let (at, today) = unsafe {
        let mut at: libc::tm = std::mem::zeroed();
        let mut today: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut at);
        libc::localtime_r(&now, &mut today);
        (at, today)
    };
    let hm = format!("{:02}:{:02}", at.tm_hour, at.tm_min);
    if (at.tm_year, at.tm_yday) == (today.tm_year, today.tm_yday) {
        hm
    } else {
        format!(
            "{}-{:02}-{:02} {hm}",
            at.tm_year + 1900,
            at.tm_mon + 1,
            at.tm_mday
        )
    }
}

pub fn humanize_secs(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else {
        humanize(Duration::from_secs(secs.round() as u64))
    }
}

/// The last `n` lines of a file, reading only its end.
pub fn tail_lines(path: &Path, n: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return vec!["(no log)".into()];
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(16 * 1024);
    let _ = f.seek(SeekFrom::Start(start));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.lines();
    if start > 0 {
        // Cut by the seek: not a whole line.
        lines.next();
    }
    let mut tail: Vec<String> = lines.rev().take(n).map(str::to_owned).collect();
    tail.reverse();
    tail
}
