//! `run-batch FILE --dry-run`: the order tasks would start in, which resume
//! an agent's session, and the first task's command line and prompt.
//!
//! Takes the plan, each task's agent and the journal; hands on text for
//! stdout. Starts nothing and writes nothing.

use std::path::Path;

use crate::error::Error;
use crate::plan::Plan;
use crate::record::journal::Journal;
use crate::record::state::StateDir;
use crate::report::plural;
use crate::run::agents::{AgentSpec, Invocation};
use crate::run::prompt::Prompter;
use crate::run::scheduler::{Pools, Prepared, Schedule, State};
use crate::run::{RunOptions, journal_resume, process};

pub fn render(
    plan: &Plan,
    agents: &[Option<AgentSpec>],
    prompter: &Prompter,
    options: &RunOptions,
) -> Result<String, Error> {
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
    let mut out = String::new();
    out.push_str(&format!(
        "would run {} task{} from {} (-j {}):\n",
        order.len(),
        plural(order.len()),
        options.file.display(),
        options.jobs
    ));
    let resumes_of = |t: usize| journal_resume(&journal, plan, agents, t);
    for (i, &t) in order.iter().enumerate() {
        let agent = agents[t].as_ref().map_or("?", |a| a.name.as_str());
        let after: Vec<&str> = (prep.dep_leaves(t).into_iter())
            .map(|d| plan.doc.tasks[d].id())
            .collect();
        let resumes = resumes_of(t);
        let track = plan
            .tracks
            .track_of(&plan.doc, t)
            .map_or_else(String::new, |k| {
                format!(" · track {}", plan.tracks.list[k].name)
            });
        out.push_str(&format!(
            "{:>4}. wave {}{track} · {} · agent {}{}{}\n",
            i + 1,
            plan.tasks[t].wave + 1,
            plan.doc.tasks[t].id(),
            agent,
            if after.is_empty() {
                String::new()
            } else {
                format!(" · after {}", after.join(", "))
            },
            resumes.map_or_else(String::new, |r| format!(
                " · resumes session {}",
                r.session_id
            ))
        ));
    }
    if let Some(&first) = order.first() {
        let resumed = resumes_of(first);
        let prompt = match &resumed {
            Some(r) => prompter.render_resume(plan, first, r, &[]),
            None => prompter.render(plan, first, 1, None, None, &[]),
        }
        .map_err(Error::Setup)?;
        if let Some(spec) = &agents[first] {
            let argv = spec
                .argv(&Invocation {
                    resume: resumed.as_ref().map(|r| r.session_id.as_str()),
                    prompt: Some(&prompt),
                    script: Some(Path::new("<its sh blocks>")),
                })
                .map_err(|message| Error::Agent { message })?;
            let shown: Vec<&str> = (argv.iter())
                .map(|a| if *a == prompt { "<prompt>" } else { a })
                .collect();
            out.push_str(&format!(
                "\ncommand for `{}`: {}\n",
                plan.doc.tasks[first].id(),
                shell_words::join(shown)
            ));
        }
        out.push_str(&format!(
            "\nprompt for `{}`:\n{}\n",
            plan.doc.tasks[first].id(),
            "─".repeat(60)
        ));
        out.push_str(&prompt);
        out.push_str(&"─".repeat(60));
        out.push('\n');
    }
    Ok(out)
}
