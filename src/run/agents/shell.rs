//! The shell agent: bash runs the `sh`, `bash` and `shell` fenced blocks of
//! a task's body. Takes the body; hands on the script and the command line
//! that runs it. Never reads a prompt, prints no events (its exit status is
//! its verdict), never resumes and costs nothing.

use crate::run::agents::cli::{Cli, Invocation, Setup, push};

#[derive(Debug)]
pub struct Shell;

impl Cli for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn program<'a>(&self, _: &Setup<'a>) -> &'a str {
        "bash"
    }

    fn argv(&self, _: &Setup, inv: &Invocation) -> Result<Vec<String>, String> {
        let mut argv = Vec::new();
        push(
            &mut argv,
            &["bash", "--noprofile", "--norc", "-euo", "pipefail"],
        );
        if let Some(script) = inv.script {
            argv.push(script.display().to_string());
        }
        Ok(argv)
    }

    fn refuses(&self, key: &str) -> Option<String> {
        (key != "env").then(|| {
            format!(
                "`{key}` cannot be set for the `shell` agent: it runs the task's shell blocks with bash; only `env` applies"
            )
        })
    }

    fn script(&self, body: &str) -> Option<String> {
        Some(script(body).unwrap_or_default())
    }

    fn task_problem(&self, body: &str) -> Option<String> {
        script(body)
            .is_none()
            .then(|| "has no ```sh block for the `shell` agent to run".to_owned())
    }
}

/// The `sh`, `bash` and `shell` fenced blocks of a task's body, joined in order.
pub fn script(body: &str) -> Option<String> {
    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
    let mut script = String::new();
    let mut inside = false;
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let lang = info.split_whitespace().next().unwrap_or("");
                inside = matches!(lang, "sh" | "bash" | "shell");
            }
            Event::Text(t) if inside => script.push_str(&t),
            Event::End(TagEnd::CodeBlock) => {
                if inside && !script.ends_with('\n') {
                    script.push('\n');
                }
                inside = false;
            }
            _ => {}
        }
    }
    // Every shell block ends with a newline, so an empty script had none.
    (!script.is_empty()).then_some(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_blocks_in_order() {
        let body =
            "intro\n```sh\necho one\n```\n```python\nprint(2)\n```\n```bash\necho three\n```";
        assert_eq!(script(body).unwrap(), "echo one\necho three\n");
        assert_eq!(script("no code"), None);
    }
}
