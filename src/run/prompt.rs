//! The prompt an agent gets: `templates/prompt.md` (embedded in the binary,
//! or the user's `--template`) rendered with the task, its section path and
//! its parents' context.

use std::path::Path;

use minijinja::{Environment, context};

use crate::plan::Plan;

pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/prompt.md");

pub struct Prompter {
    env: Environment<'static>,
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
        Ok(Prompter { env })
    }

    pub fn render(
        &self,
        plan: &Plan,
        t: usize,
        attempt: u32,
        last_error: Option<&str>,
    ) -> Result<String, String> {
        let doc = &plan.doc;
        let task = &doc.tasks[t];
        let mut parents = Vec::new();
        let mut p = task.parent;
        while let Some(i) = p {
            parents.push(context! { text => doc.tasks[i].text.clone(), body => doc.tasks[i].body.clone(), id => doc.tasks[i].id.clone() });
            p = doc.tasks[i].parent;
        }
        parents.reverse();
        let file = doc.source.path.file_name().map_or_else(
            || doc.source.display_path(),
            |n| n.to_string_lossy().into_owned(),
        );
        let gate = plan.tasks[t].settings.gate.as_ref().map(shell_words::join);
        let ctx = context! {
            file => file,
            task => context! { id => task.id.clone(), text => task.text.clone(), body => task.body.clone() },
            section => doc.section_path(task.section),
            parents => parents,
            gate => gate,
            attempt => attempt,
            last_error => last_error,
        };
        let tmpl = self.env.get_template("prompt").map_err(|e| e.to_string())?;
        let mut out = tmpl
            .render(ctx)
            .map_err(|e| format!("prompt template: {e}"))?;
        out.push('\n');
        Ok(out)
    }
}
