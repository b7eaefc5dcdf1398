//! `run-batch FILE --dry-run`: the order tasks would start in, which resume
//! an agent's session, and the first task's command line and prompt.
//!
//! Takes the plan, each task's agent and the journal; hands on text for
//! stdout, line by line as it is made. Starts nothing and writes no file.

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use crate::error::Error;
use crate::plan::Plan;
use crate::record::journal::Journal;
use crate::record::state::StateDir;
use crate::report::plural;
use crate::run::agents::{AgentSpec, Invocation};
use crate::run::prompt::Prompter;
use crate::run::scheduler::{Pools, Prepared, Schedule, State};
use crate::run::{RunOptions, journal_resume, process};

/// A task's line names at most this many of the tasks it waits for, then
/// how many more: a task after a wide wave waits for thousands, and a line
/// of them all helps nobody (and made the dry run of a 100,000-task plan
/// 800 MB).
const AFTER_SHOWN: usize = 8;

pub fn render(
    plan: &Plan,
    agents: &[Option<Arc<AgentSpec>>],
    prompter: &Prompter,
    options: &RunOptions,
    out: &mut impl Write,
) -> Result<(), Error> {
    let prep = Prepared::new(plan);
    // Every task succeeds at once: the order is the plan's own, wave by wave.
    let mut schedule = Schedule::new(
        plan,
        &prep,
        |_| State::Waiting,
        |_| false,
        false,
        &Pools::NONE,
    );
    let mut order = Vec::new();
    while let Some(t) = schedule.next(usize::MAX) {
        order.push(t);
        schedule.succeeded(t);
    }
    let journal = if options.fresh {
        Journal::default()
    } else {
        let mut j = Journal::load(&StateDir::for_taskfile(&options.file).journal());
        // Read only: folding a crashed run is saved by the next real run.
        j.recover(process::pid_alive);
        j
    };
    let resumes_of = |t: usize| journal_resume(&journal, plan, agents, t);
    // The first task's prompt and command are made before anything is
    // written: a template that fails to render is an error on its own.
    let first = (order.first())
        .map(|&first| -> Result<_, Error> {
            let resumed = resumes_of(first);
            let prompt = match &resumed {
                Some(r) => prompter.render_resume(plan, first, r, &[]),
                None => prompter.render(plan, first, 1, None, None, &[]),
            }
            .map_err(Error::Setup)?;
            let command = (agents[first].as_ref())
                .map(|spec| {
                    let argv = spec.argv(&Invocation {
                        resume: resumed.as_ref().map(|r| r.session_id.as_str()),
                        prompt: Some(&prompt),
                        script: Some(Path::new("<its sh blocks>")),
                    })?;
                    let shown: Vec<&str> = (argv.iter())
                        .map(|a| if *a == prompt { "<prompt>" } else { a })
                        .collect();
                    Ok(shell_words::join(shown))
                })
                .transpose()
                .map_err(|message| Error::Agent { message })?;
            Ok((first, prompt, command))
        })
        .transpose()?;
    // Writing to a String or `StreamedStdout` cannot fail.
    let _ = writeln!(
        out,
        "would run {} task{} from {} (-j {}):",
        order.len(),
        plural(order.len()),
        options.file.display(),
        options.jobs
    );
    for (i, &t) in order.iter().enumerate() {
        let agent = agents[t].as_ref().map_or("?", |a| a.name.as_str());
        let _ = write!(out, "{:>4}. wave {}", i + 1, plan.tasks[t].wave() + 1);
        if let Some(k) = plan.tracks.track_of(&plan.doc, t) {
            let _ = write!(out, " · track {}", plan.tracks.list[k].name);
        }
        let _ = write!(out, " · {} · agent {agent}", plan.doc.id(t));
        let after = prep.dep_leaves(t);
        for (k, &d) in after.iter().take(AFTER_SHOWN).enumerate() {
            let sep = if k == 0 { " · after " } else { ", " };
            let _ = write!(out, "{sep}{}", plan.doc.id(d));
        }
        if after.len() > AFTER_SHOWN {
            let _ = write!(out, " and {} more", after.len() - AFTER_SHOWN);
        }
        if let Some(r) = resumes_of(t) {
            let _ = write!(out, " · resumes session {}", r.session_id);
        }
        let _ = writeln!(out);
    }
    if let Some((first, prompt, command)) = first {
        let id = plan.doc.id(first);
        if let Some(command) = command {
            let _ = writeln!(out, "\ncommand for `{id}`: {command}");
        }
        let rule = "─".repeat(60);
        let _ = writeln!(out, "\nprompt for `{id}`:\n{rule}");
        let _ = writeln!(out, "{prompt}{rule}");
    }
    Ok(())
}
