//! What a person watching the run sees. On a terminal: a live view (one line
//! per running task with its elapsed time and latest progress, an overall
//! bar). Off a terminal: one plain line per event. With `--json`: the events
//! themselves, one JSON object per line on stdout. Consumes events; decides
//! nothing.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::record::events::{Event, Spend, TaskOutcome};
use crate::report::event_lines;
use crate::report::format::{count, spend_usd};
use crate::report::output::to_stderr;
use crate::report::plan_text::humanize;
use crate::report::style::{self, Tone};
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
    /// Each running task's line, and the label it shows.
    bars: HashMap<String, (ProgressBar, String)>,
    /// The width the running tasks' labels are padded to.
    label_width: usize,
    total: usize,
    done: usize,
    /// Tasks whose last attempt failed and that will not be tried again
    /// in this run (a retry or a fresh start takes a task off).
    failed: HashSet<String>,
    /// What finished attempts have spent so far in this run.
    spent: Spend,
    /// What running attempts have used so far (priced from their tokens).
    running: Spend,
    /// The terminal's settings before the live view changed them.
    _term: Option<NoFlush>,
}

/// Keeps a Ctrl-C from moving the live view's lines while it draws. The
/// view's last line fills the terminal's width, leaving the cursor in the
/// last column; the terminal's echo of `^C` there wraps to a new line, the
/// next redraw starts a line too low, and the top line stays on the screen
/// for good (a frozen spinner). So the interrupt character is echoed as
/// itself, which moves nothing (termios `ECHOCTL` off), and output on its
/// way to the terminal is not thrown away on it (`NOFLSH`, which a redraw
/// cut in half would break the same way). Puts the settings back when
/// dropped; a run killed outright leaves only `^C` unechoed.
struct NoFlush {
    saved: libc::termios,
}

impl NoFlush {
    fn set() -> Option<NoFlush> {
        // SAFETY: tcgetattr/tcsetattr on fd 2 with a termios we own; a
        // descriptor that is no terminal makes them fail, and we stop.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(2, &mut saved) != 0 {
                return None;
            }
            let mut t = saved;
            t.c_lflag |= libc::NOFLSH;
            t.c_lflag &= !libc::ECHOCTL;
            if libc::tcsetattr(2, libc::TCSANOW, &t) != 0 {
                return None;
            }
            Some(NoFlush { saved })
        }
    }
}

impl Drop for NoFlush {
    fn drop(&mut self) {
        // SAFETY: as in `set`, with the settings read there.
        unsafe {
            libc::tcsetattr(2, libc::TCSANOW, &self.saved);
        }
    }
}

const TAIL_LINES: usize = 20;

impl Reporter {
    pub fn new(mode: Mode) -> Reporter {
        Reporter {
            mode,
            multi: None,
            overall: None,
            bars: HashMap::new(),
            label_width: 0,
            total: 0,
            done: 0,
            failed: HashSet::new(),
            spent: Spend::default(),
            running: Spend::default(),
            _term: None,
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
    /// What the running attempts have used so far, for the overall line's
    /// total (marked `~`: an estimate until they report).
    pub fn running_spend(&mut self, running: Spend) {
        if running != self.running {
            self.running = running;
            self.refresh_overall();
        }
    }

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
        for (_, (bar, _)) in self.bars.drain() {
            bar.finish_and_clear();
        }
        if let Some(o) = self.overall.take() {
            o.finish_and_clear();
        }
        if let Some(m) = self.multi.take() {
            let _ = m.clear();
        }
        self._term = None;
    }

    fn plain(&mut self, event: &Event) {
        if let Some(line) = event_lines::plain_line(event) {
            to_stderr(&format!("{line}\n"));
        }
    }

    fn live(&mut self, event: &Event) {
        if self.multi.is_none() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{bar:24.green/dim} {pos}/{len} done{msg}")
                    .unwrap()
                    .progress_chars("━━─"),
            );
            overall.enable_steady_tick(Duration::from_millis(200));
            self.overall = Some(overall);
            self.multi = Some(multi);
            self._term = NoFlush::set();
        }
        let multi = self.multi.clone().unwrap();
        match event {
            Event::RunStarted { to_run, .. } => {
                self.total = *to_run;
                if let Some(o) = &self.overall {
                    o.set_length(*to_run as u64);
                }
            }
            Event::TaskStarted { task, attempt, .. } => {
                self.failed.remove(task);
                let bar = multi.insert_from_back(1, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {spinner:.cyan} {prefix:.bold} {elapsed:>4}  {wide_msg:.dim}",
                    )
                    .unwrap(),
                );
                let label = if *attempt > 1 {
                    format!("{task} #{attempt}")
                } else {
                    task.clone()
                };
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Some((old, _)) = self.bars.insert(task.clone(), (bar, label)) {
                    old.finish_and_clear();
                }
                self.align_labels();
                self.refresh_overall();
            }
            Event::TaskProgress { task, line } => {
                if let Some((bar, _)) = self.bars.get(task) {
                    bar.set_message(line.clone());
                }
            }
            Event::TaskActivity { task, activity } => {
                if let Some((bar, _)) = self.bars.get(task) {
                    bar.set_message(activity.clone());
                }
            }
            Event::TaskFinished {
                task,
                outcome,
                class,
                spend,
                ..
            } => {
                if let Some((bar, _)) = self.bars.remove(task) {
                    bar.finish_and_clear();
                }
                match outcome {
                    TaskOutcome::Succeeded => {
                        self.done += 1;
                        self.failed.remove(task);
                    }
                    // A refused resume, a transient error, throttling and a
                    // usage limit start the task again without a retry:
                    // not failures. A task failure may still be retried
                    // (`task_retrying` takes it off again).
                    TaskOutcome::Failed | TaskOutcome::TimedOut | TaskOutcome::Blocked
                        if !matches!(
                            *class,
                            "resume_refused" | "transient" | "throttled" | "limit_exhausted"
                        ) =>
                    {
                        self.failed.insert(task.clone());
                    }
                    _ => {}
                }
                if let Some(s) = spend {
                    self.spent.add(s);
                }
                self.refresh_overall();
            }
            Event::TaskRetrying { task, .. } => {
                self.failed.remove(task);
                self.refresh_overall();
            }
            Event::CheckpointStarted {
                task,
                trigger,
                command,
                ..
            } => {
                if let Some((bar, _)) = self.bars.get(task) {
                    let first = crate::report::check_lines::command_summary(command);
                    bar.set_message(format!("checkpoint ({trigger}): {first}"));
                }
            }
            Event::JudgeStarted { task, judge, .. } => {
                if let Some((bar, _)) = self.bars.get(task) {
                    bar.set_message(format!("judge `{judge}` is reading the work"));
                }
            }
            Event::JudgeFinished { spend, .. } => {
                if let Some(s) = spend {
                    self.spent.add(s);
                }
                self.refresh_overall();
            }
            _ => {}
        }
        // A running task's start and progress show on its own line.
        if !matches!(
            event,
            Event::TaskStarted { .. } | Event::TaskProgress { .. } | Event::TaskActivity { .. }
        ) && let Some(line) = event_lines::plain_line(event)
        {
            let _ = multi.println(line);
        }
    }

    /// The overall line: done of total, tasks failed for good, and what
    /// the run has spent, kept short of the terminal's width.
    fn refresh_overall(&self) {
        let Some(o) = &self.overall else { return };
        o.set_position(self.done as u64);
        let mut msg = String::new();
        if !self.failed.is_empty() {
            msg.push_str(&format!(
                " · {}",
                style::err(Tone::Bad, &format!("{} failed", self.failed.len()))
            ));
        }
        let room = term_width().saturating_sub(24 + 14 + msg.len());
        let mut spent = self.spent;
        spent.add(&self.running);
        if !spent.is_empty() {
            let full = format!(
                " · {} · {} tokens in / {} out",
                spend_usd(&spent),
                count(spent.input_tokens),
                count(spent.output_tokens)
            );
            let short = format!(" · {}", spend_usd(&spent));
            if full.chars().count() <= room {
                msg.push_str(&full);
            } else if short.chars().count() <= room {
                msg.push_str(&short);
            }
        }
        o.set_message(msg);
    }

    /// Pads every running task's label to one width, so the elapsed times
    /// and progress line up; a label longer than its share of the terminal
    /// is shortened in the middle, so that each task keeps one line.
    fn align_labels(&mut self) {
        let longest = (self.bars.values())
            .map(|(_, l)| l.chars().count())
            .max()
            .unwrap_or(0);
        // The spinner and elapsed time take 12 columns; the progress keeps
        // at least a quarter of the line.
        let cap = (term_width() * 3 / 4).saturating_sub(12).clamp(12, 60);
        let width = longest.min(cap).max(self.label_width.min(cap));
        self.label_width = width;
        for (bar, label) in self.bars.values() {
            bar.set_prefix(format!("{:<width$}", shorten(label, width)));
        }
    }
}

/// The terminal's width in columns (80 when it cannot be told).
fn term_width() -> usize {
    let (_, cols) = console::Term::stderr().size();
    if cols == 0 { 80 } else { cols as usize }
}

/// `text` in at most `width` characters: the start and the end, which
/// holds the task's own words, joined by `…`.
pub fn shorten(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_owned();
    }
    if width < 2 {
        return text.chars().take(width).collect();
    }
    let head = (width - 1) / 3;
    let tail = width - 1 - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(n - tail).collect();
    format!("{start}…{end}")
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
