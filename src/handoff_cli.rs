//! `run-batch handoff post` and `read`: the command line of handoffs, for
//! agents inside a run (their environment says which run, task and state
//! folder) and for people in another terminal (`--file`). Takes flags and
//! the environment; hands on messages stored or printed. Storage is
//! `record::handoff`'s.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::error::Error;
use crate::record::handoff::{self, Kind, Message};
use crate::record::state::StateDir;
use crate::taskfile::{Document, ReadOptions};

#[derive(Subcommand, Debug)]
pub enum HandoffCommand {
    /// Leave a message for another task (or a section's tasks, or all)
    Post(PostArgs),
    /// Print the messages for you that you have not read yet
    Read(ReadArgs),
}

#[derive(Args, Debug)]
pub struct PostArgs {
    /// Who it is for: a task id, a section id, or `all`
    #[arg(long, value_name = "TASK|SECTION|all", default_value = "all")]
    pub to: String,
    /// What it is
    #[arg(long, value_enum, default_value = "note")]
    pub kind: Kind,
    /// The task file [default: $RUN_BATCH_TASKFILE, set for agents]
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The message; `-` or none reads it from stdin
    pub message: Option<String>,
}

#[derive(Args, Debug)]
pub struct ReadArgs {
    /// Every message, read or not, whoever it is for
    #[arg(long)]
    pub all: bool,
    /// Keep waiting for new messages (Ctrl-C ends)
    #[arg(long)]
    pub follow: bool,
    /// The task file [default: $RUN_BATCH_TASKFILE, set for agents]
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

pub fn main(cmd: HandoffCommand) -> Result<i32, Error> {
    match cmd {
        HandoffCommand::Post(args) => post(args),
        HandoffCommand::Read(args) => read(args),
    }
}

/// Where messages are kept, the plan, and who is asking.
struct Place {
    state: PathBuf,
    doc: Document,
    /// The task asking (from the environment), or `person`.
    me: String,
}

fn place(file: Option<PathBuf>) -> Result<Place, Error> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let file = file
        .or_else(|| env("RUN_BATCH_TASKFILE").map(PathBuf::from))
        .ok_or_else(|| {
            Error::Setup(
                "which task file? give `--file FILE` (agents of a run need not: it is in $RUN_BATCH_TASKFILE)"
                    .into(),
            )
        })?;
    let doc = Document::read(&file, ReadOptions::default())?;
    // An agent in a worktree sees a copy of the plan; the run's state
    // folder is the one its environment names.
    let state = env("RUN_BATCH_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| StateDir::for_taskfile(&file).dir);
    let me = std::env::var("RUN_BATCH_TASK_ID")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "person".into());
    Ok(Place { state, doc, me })
}

fn post(args: PostArgs) -> Result<i32, Error> {
    let p = place(args.file)?;
    let ids = (p.doc.task_ids())
        .chain((p.doc.sections.iter().skip(1)).map(|s| std::borrow::Cow::Borrowed(s.id.as_str())));
    // A full id, or its last segments when only one id ends that way (as
    // `after` reads them).
    let to = if args.to == "all" || ids.clone().any(|i| i == args.to) {
        Some(args.to.clone())
    } else {
        match crate::taskfile::by_last_segments(ids, &args.to) {
            Ok(found) => found,
            Err(candidates) => {
                return Err(Error::Setup(format!(
                    "`{}` could be any of {}; write the full id",
                    args.to,
                    list(&candidates.iter().map(String::as_str).collect::<Vec<_>>())
                )));
            }
        }
    };
    // An id as earlier versions named it (the whole heading path), or its
    // last segments, as `after` reads them.
    let to = to.or_else(|| {
        let old = crate::taskfile::legacy_ids(&p.doc);
        let olds = (old.tasks.iter().zip(p.doc.task_ids())).chain(
            (old.sections.iter().zip(&p.doc.sections))
                .skip(1)
                .map(|(o, s)| (o, std::borrow::Cow::Borrowed(s.id.as_str()))),
        );
        let pairs: Vec<(&String, std::borrow::Cow<str>)> = olds.collect();
        let full = match pairs.iter().find(|(o, _)| **o == args.to) {
            Some(&(o, _)) => Some(o.clone()),
            None => {
                crate::taskfile::by_last_segments(pairs.iter().map(|(o, _)| o.as_str()), &args.to)
                    .ok()
                    .flatten()
            }
        }?;
        pairs
            .iter()
            .find(|(o, _)| **o == full)
            .map(|(_, now)| now.to_string())
    });
    let Some(to) = to else {
        let tasks: Vec<String> = p.doc.task_ids().map(String::from).collect();
        let sections: Vec<&str> = p
            .doc
            .sections
            .iter()
            .skip(1)
            .map(|s| s.id.as_str())
            .collect();
        return Err(Error::Setup(format!(
            "no task or section `{}` in `{}`\n  = help: address a task ({}), a section ({}), or `all`",
            args.to,
            p.doc.source.display_path(),
            list(&tasks.iter().map(String::as_str).collect::<Vec<_>>()),
            list(&sections)
        )));
    };
    let text = match args.message.as_deref() {
        Some(m) if m != "-" => m.to_owned(),
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .take(handoff::MAX_TEXT as u64 + 1)
                .read_to_string(&mut s)
                .map_err(|e| Error::Setup(format!("cannot read the message from stdin: {e}")))?;
            s
        }
    };
    let text = text.trim_end();
    if text.is_empty() {
        return Err(Error::Setup("the message is empty".into()));
    }
    if text.len() > handoff::MAX_TEXT {
        return Err(Error::Setup(format!(
            "the message is longer than {} bytes: say it shorter, or put it in a file and post the path",
            handoff::MAX_TEXT
        )));
    }
    let run = std::env::var("RUN_BATCH_RUN_ID").ok();
    let m =
        handoff::post(&p.state, &p.me, &to, args.kind, text, run.as_deref()).map_err(|source| {
            Error::Write {
                path: handoff::live_dir(&p.state),
                source,
            }
        })?;
    crate::report::output::print_stdout(&format!(
        "posted {} for {} ({})\n",
        m.kind.name(),
        m.to,
        m.id
    ));
    Ok(0)
}

fn read(args: ReadArgs) -> Result<i32, Error> {
    let p = place(args.file)?;
    // The sections a task sits in: a message to any of them is for it.
    let sections: Vec<String> = match p.doc.task_by_id(&p.me).map(|t| &p.doc.tasks[t]) {
        Some(t) => {
            let mut out = Vec::new();
            let mut s = Some(t.section());
            while let Some(i) = s {
                out.push(p.doc.sections[i].id.clone());
                s = p.doc.sections[i].parent;
            }
            out
        }
        None => Vec::new(),
    };
    let refs: Vec<&str> = sections.iter().map(String::as_str).collect();
    let me = p.me.clone();
    let person = me == "person";
    let mine = |m: &Message| person || handoff::addressed_to(m, &me, &refs);
    let mut everything = args.all;
    loop {
        let messages = if std::mem::take(&mut everything) {
            handoff::all(&p.state)
        } else {
            handoff::unread(&p.state, &me, mine)
        };
        let mut out = String::new();
        for m in &messages {
            out.push_str(&render(m));
        }
        if !out.is_empty() {
            crate::report::output::print_stdout(&out);
        }
        if !args.follow {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// One message as people read it.
pub fn render(m: &Message) -> String {
    let mut out = format!(
        "[{}] from {} to {} at {}\n",
        m.kind.name(),
        m.from,
        m.to,
        m.time
    );
    for line in m.text.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn list(ids: &[&str]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = ids.iter().take(20).map(|i| format!("`{i}`")).collect();
    if ids.len() > 20 {
        format!("{}, … {} more", shown.join(", "), ids.len() - 20)
    } else {
        shown.join(", ")
    }
}
