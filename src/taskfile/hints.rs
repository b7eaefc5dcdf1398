//! `<!-- key: value -->` hints: finding them in HTML, splitting pairs, checking values.
//!
//! Takes the text of an HTML block or inline HTML span and hands on typed
//! `Hints` with spans for errors. Decides nothing about scope: `scan` knows
//! whether a comment belongs to the file, a section or a task. A comment that
//! looks like a hint but cannot be read as one is an error, never ignored:
//! a dropped `gate` or `parallel: false` would change what a run does.

use std::time::Duration;

use thin_vec::ThinVec;

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
///
/// The hints most scopes use are fields here; the rest are boxed in
/// [`RareHints`] (a task with hints holds one of these: 100,000 tasks with
/// a hint each kept 46 MB of them whole), read as if they were fields
/// here too (`hints.track`, through `Deref`) and boxed on the first write.
#[derive(Clone, Debug, Default)]
pub struct Hints {
    pub after: ThinVec<Spanned<String>>,
    /// Boxed, like every single value here: a hint few tasks give takes
    /// 8 bytes in every `Hints`, not 32 to 56 (a `Hints` is 224 bytes with
    /// them inline, 64 without: an 80-byte block on the heap, not 128).
    pub agent: Option<Box<Spanned<String>>>,
    /// Globs naming the files a task changes; accumulates like `after`.
    pub files: ThinVec<Spanned<String>>,
    pub gate: Option<Box<Spanned<Gate>>>,
    pub id: Option<Box<Spanned<String>>>,
    pub parallel: Option<Box<Spanned<Parallel>>>,
    pub timeout: Option<Box<Spanned<Duration>>>,
    rare: Option<Box<RareHints>>,
}

/// The hints few scopes set (several only sections or the file can).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RareHints {
    /// Accumulates, like `after`: one entry per `escalate` hint.
    pub escalate: ThinVec<Spanned<Escalation>>,
    /// `isolate: worktree` (true) or `isolate: none` (false).
    pub isolate: Option<Spanned<bool>>,
    /// An agent (preset or command) that judges the work after the gate.
    pub judge: Option<Spanned<String>>,
    pub retries: Option<Spanned<u32>>,
    /// `pipeline: tracks|waves` (file and sections).
    pub pipeline: Option<Spanned<Pipeline>>,
    /// `track: NAME` (sections): the track a module continues.
    pub track: Option<Spanned<String>>,
    /// `order: graph|waves` (the file).
    pub order: Option<Spanned<Order>>,
    /// ```` ```checkpoint ```` blocks, in document order.
    pub checkpoints: ThinVec<Spanned<Checkpoint>>,
}

static NO_RARE_HINTS: RareHints = RareHints {
    escalate: ThinVec::new(),
    isolate: None,
    judge: None,
    retries: None,
    pipeline: None,
    track: None,
    order: None,
    checkpoints: ThinVec::new(),
};

impl std::ops::Deref for Hints {
    type Target = RareHints;

    fn deref(&self) -> &RareHints {
        self.rare.as_deref().unwrap_or(&NO_RARE_HINTS)
    }
}

impl std::ops::DerefMut for Hints {
    fn deref_mut(&mut self) -> &mut RareHints {
        self.rare.get_or_insert_with(Box::default)
    }
}

/// Equal when they say the same: rare hints boxed but empty are none.
impl PartialEq for Hints {
    fn eq(&self, other: &Hints) -> bool {
        fn common(h: &Hints) -> impl PartialEq + '_ {
            (
                &h.after,
                &h.agent,
                &h.files,
                &h.gate,
                &h.id,
                &h.parallel,
                &h.timeout,
            )
        }
        common(self) == common(other) && **self == **other
    }
}

impl Eq for Hints {}

/// A task's, a section's or a comment's hints: most have none, so they are
/// kept only when there are some (an empty `Hints` is 64 bytes; 100,000
/// tasks would hold 8 MB of them with the heap's own). Reads as a `Hints`
/// either way; a comment's box becomes its task's without a copy.
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

    /// Asks for the hints, if any, to be brought into cache without
    /// reading them ([`crate::memory::prefetch`]): each task's box is
    /// somewhere in the heap, and a pass over tasks reads them at random.
    pub(crate) fn prefetch(&self) {
        if let Some(hints) = &self.0 {
            crate::memory::prefetch(&raw const **hints);
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
    after: ThinVec::new(),
    agent: None,
    files: ThinVec::new(),
    gate: None,
    id: None,
    parallel: None,
    timeout: None,
    rare: None,
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
        self.files.extend(other.files);
        macro_rules! take {
            ($mine:expr, $other:expr; $($f:ident),*) => { $( if $other.$f.is_some() { $mine.$f = $other.$f; } )* };
        }
        take!(self, other; agent, gate, id, parallel, timeout);
        if let Some(rare) = other.rare {
            let rare = *rare;
            let mine = &mut **self;
            mine.escalate.extend(rare.escalate);
            mine.checkpoints.extend(rare.checkpoints);
            take!(mine, rare; isolate, judge, retries, pipeline, track, order);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every task with a hint holds a `Hints`: each byte here is 100 kB
    /// of a 100,000-task plan whose tasks all have one.
    #[test]
    fn hints_stay_within_their_memory_budget() {
        // 64: every single value boxed (224 with them inline).
        assert!(size_of::<Hints>() <= 64, "{}", size_of::<Hints>());
    }

    #[test]
    // Rare hints are set through `Deref`, as `parse_value` sets them.
    #[allow(clippy::field_reassign_with_default)]
    fn rare_hints_merge_and_compare_as_fields() {
        let span = Span::default();
        let mut a = Hints::default();
        a.after.push(Spanned {
            value: "x".into(),
            span,
        });
        let mut b = Hints::default();
        b.track = Some(Spanned {
            value: "api".into(),
            span,
        });
        b.retries = Some(Spanned { value: 2, span });
        assert!(a.rare.is_none() && !b.is_empty());
        a.merge(b);
        assert_eq!(a.track.as_ref().map(|t| t.value.as_str()), Some("api"));
        assert_eq!(
            (a.after.len(), a.retries.as_ref().map(|r| r.value)),
            (1, Some(2))
        );
        // A box of rare hints with nothing in it says nothing.
        let mut empty = Hints::default();
        empty.escalate.clear();
        assert!(empty.rare.is_some() && empty.is_empty());
        assert_eq!(empty, Hints::default());
    }
}
