//! The one error type: every way run-batch can refuse, with messages for people.
//!
//! Variants hold facts; `Display` words them (lowercase, names in backticks, no
//! trailing period) and `code`/`help` carry policy. Rendering with the source
//! line and a caret lives in `report::diagnostic`.

use std::fmt;
use std::path::PathBuf;

pub use crate::location::Location;

/// A problem in a task file found while reading or planning it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    AmbiguousDependency {
        /// The task or section that wrote it: ``task `a` ``, ``section `b` ``.
        who: String,
        id: String,
        candidates: Vec<String>,
    },
    BadHintValue {
        key: String,
        value: String,
        expected: &'static str,
    },
    /// A ```` ```checkpoint ```` block that cannot be read: what is wrong
    /// and how to write it.
    BadCheckpoint {
        problem: String,
        help: String,
    },
    Cycle {
        path: Vec<String>,
    },
    DependsOnLaterWave {
        task: String,
        task_wave: usize,
        dependency: String,
        dependency_wave: usize,
    },
    DuplicateId {
        id: String,
        first_line: usize,
    },
    EmptyGateBlock,
    EmptyHint {
        key: String,
    },
    /// A hint comment or ```` ```gate ```` block after a section's first task
    /// and outside every task.
    HintOutOfPlace {
        block: bool,
    },
    HintNotHere {
        key: String,
        place: &'static str,
    },
    /// `key=value` where `key: value` was meant.
    HintWithEquals {
        written: String,
        fix: String,
    },
    /// A comment without hint keys whose key is a near miss of one.
    NotAHintKey {
        key: String,
        suggestion: String,
    },
    /// A NUL byte where it would have to reach an agent or a gate.
    NulByte {
        what: String,
    },
    /// Text in a comment that also holds hints.
    ProseInHints {
        text: String,
        /// It follows a `gate` pair: likely a gate cut at a `;`.
        after_gate: bool,
    },
    /// A second gate for one task, section or file.
    SecondGate {
        place: &'static str,
        first_line: usize,
    },
    UnknownDependency {
        /// As in `AmbiguousDependency`.
        who: String,
        id: String,
        suggestion: Option<String>,
    },
    UnknownHintKey {
        key: String,
        suggestion: Option<String>,
    },
}

impl PlanError {
    pub fn help(&self) -> Option<String> {
        match self {
            PlanError::AmbiguousDependency { candidates, .. } => Some(format!(
                "write the full id: {}",
                candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
            )),
            PlanError::BadHintValue { .. } | PlanError::EmptyHint { .. } => None,
            PlanError::BadCheckpoint { help, .. } => Some(help.clone()),
            PlanError::Cycle { .. } => {
                Some("remove one of these `after` dependencies to break the cycle".into())
            }
            PlanError::DependsOnLaterWave { .. } => Some(
                "waves run in order; move the task to a later section, drop the dependency, or make phases advisory with `<!-- order: graph -->` before the first heading"
                    .into(),
            ),
            PlanError::DuplicateId { .. } => Some("give each task its own `id`".into()),
            PlanError::EmptyGateBlock => {
                Some("write the command the gate runs, or delete the block".into())
            }
            PlanError::HintOutOfPlace { block: false } => Some(
                "put section hints between the heading and its first task, and task hints on the task's line or in its body"
                    .into(),
            ),
            PlanError::HintOutOfPlace { block: true } => Some(
                "indent the block under a task to make it the task's gate, or move it between the heading and the section's first task"
                    .into(),
            ),
            PlanError::HintNotHere { .. } => None,
            PlanError::HintWithEquals { fix, .. } => Some(format!("write `{fix}`")),
            PlanError::NotAHintKey { suggestion, .. } => Some(format!(
                "did you mean `{suggestion}`? (hint keys are lowercase; if this comment is not a hint, reword it)"
            )),
            PlanError::NulByte { .. } => Some(
                "delete it: agents and gates get their text in arguments and environment variables, which cannot hold a NUL byte"
                    .into(),
            ),
            PlanError::ProseInHints {
                after_gate: true, ..
            } => Some("write a gate that needs `;` or several lines as a ```gate block".into()),
            PlanError::ProseInHints {
                after_gate: false, ..
            } => Some("keep hints in a comment of their own".into()),
            PlanError::SecondGate { .. } => Some(
                "a task, section or file has one gate: put all its commands in one ```gate block"
                    .into(),
            ),
            PlanError::UnknownDependency { suggestion, .. }
            | PlanError::UnknownHintKey { suggestion, .. } => {
                suggestion.as_ref().map(|s| format!("did you mean `{s}`?"))
            }
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::AmbiguousDependency {
                who,
                id,
                candidates,
            } => write!(
                f,
                "{who} depends on `{id}`, which could be any of {} ids",
                candidates.len()
            ),
            PlanError::BadHintValue {
                key,
                value,
                expected,
            } => write!(f, "bad `{key}` value `{value}`: expected {expected}"),
            PlanError::BadCheckpoint { problem, .. } => f.write_str(problem),
            PlanError::Cycle { path } => {
                write!(f, "circular dependency `{}`", path.join(" -> "))
            }
            PlanError::DependsOnLaterWave {
                task,
                task_wave,
                dependency,
                dependency_wave,
            } => write!(
                f,
                "task `{task}` in wave {task_wave} waits for `{dependency}`, which runs in later wave {dependency_wave}"
            ),
            PlanError::DuplicateId { id, first_line } => {
                write!(f, "duplicate id `{id}`: line {first_line} already uses it")
            }
            PlanError::EmptyGateBlock => write!(f, "this ```gate block is empty"),
            PlanError::EmptyHint { key } => write!(f, "hint `{key}` has no value"),
            PlanError::HintOutOfPlace { block } => write!(
                f,
                "this {} applies to nothing: it comes after the section's first task and is not inside a task",
                if *block { "```gate block" } else { "hint" }
            ),
            PlanError::HintNotHere { key, place } => {
                write!(f, "hint `{key}` cannot be used {place}")
            }
            PlanError::HintWithEquals { written, .. } => write!(
                f,
                "`{written}` is not a hint: a hint is written `key: value`, with a colon"
            ),
            PlanError::NotAHintKey { key, .. } => write!(
                f,
                "`{key}` is not a hint key, so this comment would be ignored"
            ),
            PlanError::NulByte { what } => write!(f, "{what} contains a NUL byte"),
            PlanError::ProseInHints {
                text,
                after_gate: true,
            } => write!(
                f,
                "`{text}` is not part of the `gate` hint: `;` and line breaks end a hint"
            ),
            PlanError::ProseInHints {
                text,
                after_gate: false,
            } => write!(
                f,
                "`{text}` is not a hint, in a comment with hints (a hint is `key: value`)"
            ),
            PlanError::SecondGate { place, first_line } => {
                write!(f, "second gate {place}: line {first_line} already has one")
            }
            PlanError::UnknownDependency { who, id, .. } => {
                write!(f, "{who} depends on unknown id `{id}`")
            }
            PlanError::UnknownHintKey { key, .. } => write!(f, "unknown hint `{key}`"),
        }
    }
}

/// A located plan problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub at: Location,
    pub error: PlanError,
}

#[derive(Debug)]
pub enum Error {
    /// A short id that ends several ids.
    AmbiguousTask {
        path: PathBuf,
        id: String,
        candidates: Vec<String>,
    },
    /// An agent cannot run: unknown, not installed, or nothing to run.
    Agent {
        message: String,
    },
    /// A problem in the config file (`run-batch.toml`).
    Config {
        path: PathBuf,
        /// 1-based; 0 when the problem has no single place.
        line: usize,
        column: usize,
        message: String,
    },
    /// One or more problems in the task file; nothing was run or written.
    Invalid {
        diagnostics: Vec<Diagnostic>,
        warnings: Vec<crate::location::Warning>,
    },
    IsDirectory {
        path: PathBuf,
    },
    NotUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
        byte: usize,
    },
    /// Another run holds the task file.
    Locked {
        path: PathBuf,
        pid: Option<i32>,
    },
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Something run-batch needs for a run could not be set up.
    Setup(String),
    /// The file kept changing under us while we tried to write it.
    TaskFileBusy {
        path: PathBuf,
    },
    TaskNotFound {
        path: PathBuf,
        id: String,
        suggestion: Option<String>,
    },
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `run` or `tick` cannot write the task file; checked before anything starts.
    NotWritable {
        path: PathBuf,
        problem: NotWritable,
    },
    /// More bytes than run-batch reads from a task file.
    TooBig {
        path: PathBuf,
        limit: u64,
    },
}

/// Why a task file cannot be written.
#[derive(Debug)]
pub enum NotWritable {
    /// No write permission: the mode bits (`None`), or the system's answer.
    ReadOnly { reason: Option<String> },
    /// A FIFO, a device, a socket: what it is.
    NotAFile(&'static str),
    /// No file can be created in its folder.
    Folder {
        folder: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit status for this error.
    pub fn code(&self) -> i32 {
        2
    }

    pub fn help(&self) -> Option<String> {
        match self {
            Error::TaskNotFound { suggestion, .. } => suggestion
                .as_ref()
                .map(|s| format!("did you mean `{s}`? `run-batch plan` lists every id")),
            Error::AmbiguousTask { candidates, .. } => Some(format!(
                "write the full id: {}",
                candidates
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Error::Locked { .. } => Some(
                "wait for that run to finish, or stop it with Ctrl-C; one run per task file".into(),
            ),
            Error::NotUtf8 { .. } => {
                Some("task files must be UTF-8; convert it with `iconv -t UTF-8`".into())
            }
            Error::TaskFileBusy { .. } => Some(
                "the file changed on every attempt; try again when it is not being saved".into(),
            ),
            Error::NotWritable { path, problem } => Some(match problem {
                NotWritable::ReadOnly { .. } => format!(
                    "make it writable (`chmod u+w {}`); `run-batch plan` shows the plan without writing it",
                    path.display()
                ),
                NotWritable::NotAFile(_) => {
                    "save the plan as a regular file and use that; `run-batch plan` can read a pipe"
                        .into()
                }
                NotWritable::Folder { .. } => {
                    "make the folder writable, or copy the task file to a folder you can write"
                        .into()
                }
            }),
            Error::TooBig { .. } => Some("check that this is the task file you meant".into()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid { diagnostics, .. } => {
                let n = diagnostics.len();
                write!(
                    f,
                    "{n} problem{} in the task file",
                    crate::report::plural(n)
                )
            }
            Error::Agent { message } => write!(f, "{message}"),
            Error::Config {
                path,
                line,
                column,
                message,
            } => {
                if *line > 0 {
                    write!(f, "{}:{line}:{column}: {message}", path.display())
                } else {
                    write!(f, "{}: {message}", path.display())
                }
            }
            Error::AmbiguousTask {
                path,
                id,
                candidates,
            } => write!(
                f,
                "`{id}` could be any of {} tasks in `{}`",
                candidates.len(),
                path.display()
            ),
            Error::Locked { path, pid } => match pid {
                Some(pid) => write!(
                    f,
                    "`{}` is already being run by run-batch (pid {pid})",
                    path.display()
                ),
                None => write!(
                    f,
                    "`{}` is already being run by another run-batch",
                    path.display()
                ),
            },
            Error::Setup(message) => write!(f, "{message}"),
            Error::IsDirectory { path } => {
                write!(f, "`{}` is a directory, not a task file", path.display())
            }
            Error::NotUtf8 {
                path,
                line,
                column,
                byte,
            } => write!(
                f,
                "{}:{line}:{column}: not valid UTF-8 (byte {byte})",
                path.display()
            ),
            Error::Read { path, source } => {
                write!(f, "cannot read `{}`: {source}", path.display())
            }
            Error::TaskFileBusy { path } => {
                write!(f, "`{}` changed while it was being written", path.display())
            }
            Error::TaskNotFound { path, id, .. } => {
                write!(f, "no task with id `{id}` in `{}`", path.display())
            }
            Error::Write { path, source } => {
                write!(f, "cannot write `{}`: {source}", path.display())
            }
            Error::NotWritable { path, problem } => {
                let path = path.display();
                match problem {
                    NotWritable::ReadOnly { reason: None } => write!(
                        f,
                        "`{path}` is read-only: run-batch needs to write it to tick boxes"
                    ),
                    NotWritable::ReadOnly { reason: Some(why) } => write!(
                        f,
                        "cannot write `{path}` ({why}): run-batch needs to write it to tick boxes"
                    ),
                    NotWritable::NotAFile(what) => write!(
                        f,
                        "`{path}` is {what}, not a regular file: run-batch needs a file it can write to tick boxes"
                    ),
                    NotWritable::Folder { folder, source } => write!(
                        f,
                        "cannot create files in `{}` ({source}): a run keeps its records (events, logs, the journal) in `.run-batch/` beside `{path}`",
                        folder.display()
                    ),
                }
            }
            Error::TooBig { path, limit } => write!(
                f,
                "`{}` is larger than {} MiB, the most run-batch reads from a task file",
                path.display(),
                limit >> 20
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } | Error::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub fn suggest<S: AsRef<str>>(
    word: &str,
    candidates: impl IntoIterator<Item = S>,
) -> Option<String> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&lower, &c.as_ref().to_lowercase()), c))
        .filter(|(d, c)| *d <= 2 && 2 * d < word.chars().count().max(c.as_ref().chars().count()))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c.as_ref().to_owned())
}

#[cfg(test)]
mod tests {
    use super::suggest;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(
            suggest("paralel", ["parallel", "after"]),
            Some("parallel".into())
        );
        assert_eq!(suggest("ater", ["parallel", "after"]), Some("after".into()));
        assert_eq!(suggest("Parallel", ["parallel"]), Some("parallel".into()));
        assert_eq!(suggest("if", ["id"]), None);
        assert_eq!(suggest("zzzzz", ["after"]), None);
    }
}
