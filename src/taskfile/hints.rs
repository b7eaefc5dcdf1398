//! `<!-- key: value -->` hints: finding them in HTML, splitting pairs, checking values.
//!
//! Takes the text of an HTML block or inline HTML span and hands on typed
//! `Hints` with spans for errors. Decides nothing about scope: `scan` knows
//! whether a comment belongs to the file, a section or a task. A comment that
//! looks like a hint but cannot be read as one is an error, never ignored:
//! a dropped `gate` or `parallel: false` would change what a run does.

use std::time::Duration;

use crate::error::PlanError;
use crate::taskfile::Span;

pub const KEYS: &[&str] = &[
    "after", "agent", "escalate", "files", "gate", "id", "isolate", "judge", "order", "parallel",
    "pipeline", "retries", "timeout", "track",
];

/// Keys whose misspellings one or two letters off are errors. The newer
/// keys are left out: `owner` or `trace` in an ordinary comment must not
/// read as a typo of `order` or `track`.
pub(crate) const FUZZY_KEYS: &[&str] = &[
    "after", "agent", "escalate", "files", "gate", "id", "isolate", "judge", "parallel", "retries",
    "timeout",
];

/// `escalate: N agent=… timeout=…`: from attempt N on, the task runs with
/// this agent and/or this timeout instead of its own (a stronger model, a
/// longer timeout for a task that failed once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escalation {
    /// The first attempt it applies to (2 or more).
    pub from: u32,
    pub agent: Option<String>,
    pub timeout: Option<Duration>,
}

/// How many tasks of a group may run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Parallel {
    /// `true`: no limit of its own.
    Unlimited,
    /// `false`: one at a time, in document order.
    Sequential,
    /// `N`: at most N at once, any order.
    AtMost(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// A command that must pass before a box is ticked, as the plan's author
/// wrote it: run with `sh -c` in the task's working folder, never split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gate {
    pub command: String,
    /// Written as a ```` ```gate ```` block (else as a `gate` hint).
    pub block: bool,
    /// The line of the hint's value or of the block's opening fence.
    pub line: usize,
}

impl Gate {
    /// The command on one line, for messages: the command itself, or the
    /// first line of a longer one followed by `…`.
    pub fn summary(&self) -> String {
        let mut lines = self
            .command
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        let first = lines.next().unwrap_or_default();
        if lines.next().is_some() {
            format!("{first} …")
        } else {
            first.to_owned()
        }
    }

    /// How messages name the gate: `` `cmd` ``, and for a longer block also
    /// where it is.
    pub fn label(&self) -> String {
        if self.command.trim().contains('\n') {
            format!("`{}` from line {}", self.summary(), self.line)
        } else {
            format!("`{}`", self.summary())
        }
    }
}

/// Hints given on one scope (file, section or task); inheritance is the planner's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    pub after: Vec<Spanned<String>>,
    pub agent: Option<Spanned<String>>,
    /// Accumulates, like `after`: one entry per `escalate` hint.
    pub escalate: Vec<Spanned<Escalation>>,
    /// Globs naming the files a task changes; accumulates like `after`.
    pub files: Vec<Spanned<String>>,
    pub gate: Option<Spanned<Gate>>,
    pub id: Option<Spanned<String>>,
    /// `isolate: worktree` (true) or `isolate: none` (false).
    pub isolate: Option<Spanned<bool>>,
    /// An agent (preset or command) that judges the work after the gate.
    pub judge: Option<Spanned<String>>,
    pub parallel: Option<Spanned<Parallel>>,
    pub retries: Option<Spanned<u32>>,
    pub timeout: Option<Spanned<Duration>>,
    /// `pipeline: tracks|waves` (file and sections).
    pub pipeline: Option<Spanned<Pipeline>>,
    /// `track: NAME` (sections): the track a module continues.
    pub track: Option<Spanned<String>>,
    /// `order: graph|waves` (the file).
    pub order: Option<Spanned<Order>>,
    /// ```` ```checkpoint ```` blocks, in document order.
    pub checkpoints: Vec<Spanned<Checkpoint>>,
}

/// A task's (or a comment's) hints: most tasks have none, so they are kept
/// only when there are some (an empty `Hints` is about 600 bytes; 100,000
/// tasks would hold 60 MB of them). Reads as a `Hints` either way; a
/// comment's box becomes its task's without a copy.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TaskHints(Option<Box<Hints>>);

impl TaskHints {
    /// [`Hints::merge`] of `other` into these: the first hints a task gets
    /// are taken as they are (merging into nothing changes nothing).
    pub(crate) fn absorb(&mut self, other: TaskHints) -> Option<(Span, usize)> {
        let other = other.0?;
        match &mut self.0 {
            None => {
                self.0 = Some(other);
                None
            }
            Some(mine) => mine.merge(*other),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(Hints::is_empty)
    }

    pub(crate) fn into_hints(self) -> Hints {
        self.0.map_or_else(Hints::default, |h| *h)
    }
}

static NO_HINTS: Hints = Hints {
    after: Vec::new(),
    agent: None,
    escalate: Vec::new(),
    files: Vec::new(),
    gate: None,
    id: None,
    isolate: None,
    judge: None,
    parallel: None,
    retries: None,
    timeout: None,
    pipeline: None,
    track: None,
    order: None,
    checkpoints: Vec::new(),
};

impl std::ops::Deref for TaskHints {
    type Target = Hints;

    fn deref(&self) -> &Hints {
        self.0.as_deref().unwrap_or(&NO_HINTS)
    }
}

impl std::ops::DerefMut for TaskHints {
    fn deref_mut(&mut self) -> &mut Hints {
        self.0.get_or_insert_with(Box::default)
    }
}

impl std::fmt::Debug for TaskHints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl Hints {
    pub fn is_empty(&self) -> bool {
        *self == Hints::default()
    }

    /// Later hints win for single values; `after` accumulates. A scope has
    /// one gate: a second one is not merged, and its span is returned with
    /// the line of the first, for an error.
    pub(crate) fn merge(&mut self, mut other: Hints) -> Option<(Span, usize)> {
        let second_gate = match (&self.gate, &other.gate) {
            (Some(first), Some(second)) => Some((second.span, first.span.line())),
            _ => None,
        };
        if second_gate.is_some() {
            other.gate = None;
        }
        self.after.extend(other.after);
        self.escalate.extend(other.escalate);
        self.files.extend(other.files);
        self.checkpoints.extend(other.checkpoints);
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            agent, gate, id, isolate, judge, parallel, retries, timeout, pipeline, track, order
        );
        second_gate
    }
}

/// One HTML comment (or ```` ```gate ```` block): where it starts and what
/// it says about hints (boxed: a file holds thousands of comments, most
/// of them moved several times on their way to their task).
#[derive(Debug)]
pub struct Comment {
    pub offset: usize,
    pub hints: TaskHints,
    pub errors: Vec<(Span, PlanError)>,
}

/// What starts a checkpoint while its task's agent works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A line of the agent's output, stream text, tool result or progress
    /// file contains this text.
    Marker(String),
    /// Every so often, counted from the attempt's start.
    Every(Duration),
}

/// A command run while the agent keeps working, as the plan's author wrote
/// it: `sh -c` in the task's working folder, never split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub trigger: Trigger,
    /// `then=tell`: its output goes to the agent and the attempt goes on,
    /// whatever the exit status; otherwise a failure stops the attempt.
    pub tell: bool,
    pub command: String,
    /// The line of the opening fence.
    pub line: usize,
}

impl Checkpoint {
    /// `when=READY` / `every=5m`, for messages and events.
    pub fn trigger_label(&self) -> String {
        match &self.trigger {
            Trigger::Marker(m) => format!("when={m}"),
            Trigger::Every(d) => format!("every={}", humantime::format_duration(*d)),
        }
    }

    /// The command on one line: the command itself, or its first line and `…`.
    pub fn summary(&self) -> String {
        let mut lines = (self.command.lines().map(str::trim)).filter(|l| !l.is_empty());
        let first = lines.next().unwrap_or_default();
        if lines.next().is_some() {
            format!("{first} …")
        } else {
            first.to_owned()
        }
    }

    /// How messages name it: `` checkpoint `cmd` (when=READY, line 7) ``.
    pub fn label(&self) -> String {
        format!(
            "checkpoint `{}` ({}, line {})",
            self.summary(),
            self.trigger_label(),
            self.line
        )
    }
}

/// `pipeline`: what a wave waits for before its tasks start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Pipeline {
    /// Each wave waits for the whole wave before it (the default)
    Waves,
    /// A module's tasks wait only for the same track's module in the wave
    /// before; tasks outside any track still wait for the whole wave
    Tracks,
}

/// `order`: whether headings order the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Waves run one after another (the default).
    Waves,
    /// Phases are advisory: only dependencies, in-order groups and tracks
    /// order tasks.
    Graph,
}
