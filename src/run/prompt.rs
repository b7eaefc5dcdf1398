//! The prompt an agent gets: `templates/prompt.md` (embedded in the binary,
//! or the user's `--template`) rendered with the task, its section path and
//! its parents' context.

use std::path::Path;

use minijinja::{Environment, context};

use crate::plan::Plan;
use crate::run::resume::{Previous, Resume};

pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/prompt.md");
/// What a resumed session is told: short, since it has the whole transcript.
pub const RESUME_TEMPLATE: &str = include_str!("../../templates/resume.md");

pub struct Prompter {
    env: Environment<'static>,
    /// Agents are asked to end with `RUN-BATCH: DONE` (`--require-done`).
    pub require_done: bool,
    /// The judges' template (`run::judge`), once a run compiled it.
    pub judge: Option<crate::run::judge::Template>,
}

impl Prompter {
    /// Compiles the template once; a broken user template is an error before
    /// anything runs.
    pub fn new(template: Option<&Path>) -> Result<Prompter, String> {
        let source = match template {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read template `{}`: {e}", path.display()))?,
            None => DEFAULT_TEMPLATE.to_owned(),
        };
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template_owned("prompt", source)
            .map_err(|e| format!("prompt template: {e}"))?;
        env.add_template("resume", RESUME_TEMPLATE)
            .map_err(|e| format!("resume template: {e}"))?;
        Ok(Prompter {
            env,
            require_done: false,
            judge: None,
        })
    }

    pub fn render(
        &self,
        plan: &Plan,
        t: usize,
        attempt: u32,
        last_failure: Option<&Previous>,
        previous: Option<&Previous>,
        messages: &[crate::record::handoff::Message],
    ) -> Result<String, String> {
        let doc = &plan.doc;
        let task = &doc.tasks[t];
        let mut parents = Vec::new();
        let mut p = task.parent();
        while let Some(i) = p {
            parents.push(context! { text => doc.text(i).to_owned(), body => doc.body(i), id => doc.id(i).into_owned() });
            p = doc.tasks[i].parent();
        }
        parents.reverse();
        let file = file_name(plan);
        let gate = (plan.settings(t).gate.as_ref()).map(|g| g.command.clone());
        let ctx = context! {
            file => file,
            task => context! { id => doc.id(t).into_owned(), text => doc.text(t).to_owned(), body => doc.body(t) },
            section => doc.section_path(task.section()),
            parents => parents,
            gate => gate,
            require_done => self.require_done,
            attempt => attempt,
            messages => message_context(messages),
            last_error => last_failure.map(|f| f.reason.clone()),
            last_output => last_failure.map(|f| f.log_tail.clone()).filter(|t| !t.is_empty()),
            previous => previous.map(|p| context! {
                reason => p.reason.clone(),
                log_tail => p.log_tail.clone(),
                progress => p.progress.clone(),
            }),
        };
        render(&self.env, "prompt", ctx)
    }

    /// The prompt that continues an interrupted session.
    pub fn render_resume(
        &self,
        plan: &Plan,
        t: usize,
        resume: &Resume,
        messages: &[crate::record::handoff::Message],
    ) -> Result<String, String> {
        let doc = &plan.doc;
        let mut open_subtasks = Vec::new();
        // Depth first, in document order: each task's subtasks pushed in
        // reverse.
        let mut stack: Vec<usize> = doc.children(t).collect();
        stack.reverse();
        while let Some(i) = stack.pop() {
            if !plan.is_done(i) {
                open_subtasks.push(doc.text(i).to_owned());
            }
            let at = stack.len();
            stack.extend(doc.children(i));
            stack[at..].reverse();
        }
        let gate = (plan.settings(t).gate.as_ref()).map(|g| g.command.clone());
        let ctx = context! {
            file => file_name(plan),
            task => context! { id => doc.id(t).into_owned(), text => doc.text(t).to_owned() },
            open_subtasks => open_subtasks,
            progress => resume.progress.clone(),
            reason => resume.reason.clone(),
            messages => message_context(messages),
            gate => gate,
            require_done => self.require_done,
        };
        render(&self.env, "resume", ctx)
    }
}

/// Messages as the templates see them: `{from, to, kind, text, time}`.
fn message_context(messages: &[crate::record::handoff::Message]) -> Vec<minijinja::Value> {
    (messages.iter())
        .map(|m| {
            context! {
                from => m.from.clone(),
                to => m.to.clone(),
                kind => m.kind.name(),
                text => m.text.clone(),
                time => m.time.clone(),
            }
        })
        .collect()
}

fn file_name(plan: &Plan) -> String {
    let doc = &plan.doc;
    doc.source.path.file_name().map_or_else(
        || doc.source.display_path(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn render(env: &Environment, name: &str, ctx: minijinja::Value) -> Result<String, String> {
    let tmpl = env.get_template(name).map_err(|e| e.to_string())?;
    let mut out = tmpl
        .render(ctx)
        .map_err(|e| format!("{name} template: {e}"))?;
    out.push('\n');
    Ok(out)
}
