//! Agents: what `--agent` / the `agent` hint names, the command line it
//! becomes (with the config file's settings, `--agent-arg`s and a session to
//! resume), and which stream format it prints. Never spawns anything:
//! `executor` does.
//!
//! Presets: `claude`, `codex` and `gemini` (headless, JSON event streams,
//! judged by their final event) and `shell` (the task's `sh` blocks). A name
//! defined under `[agents.NAME]` in `run-batch.toml` is a custom agent.
//! Anything else is a command split like a shell splits words and run
//! without one. A preset name followed by words (`codex -m o3`) is the preset
//! with those words added to its command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{AgentConfig, Config, OutputKind};
use crate::run::process::find_program;
use crate::run::stream::Format;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preset {
    Claude,
    Codex,
    Gemini,
    Shell,
    /// A custom command: its words.
    Command(Vec<String>),
}

impl Preset {
    fn named(name: &str) -> Option<Preset> {
        Some(match name {
            "claude" => Preset::Claude,
            "codex" => Preset::Codex,
            "gemini" => Preset::Gemini,
            "shell" => Preset::Shell,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct AgentSpec {
    /// As the user wrote it, for messages.
    pub name: String,
    pub preset: Preset,
    /// What it prints: `None` for anything (judged by exit status).
    pub output: Option<Format>,
    /// Words after a preset's name in the agent spec.
    extra: Vec<String>,
    /// From `[agents.<preset or name>]` in the config file.
    pub settings: AgentConfig,
    /// `--agent-arg`s, appended last.
    cli_args: Vec<String>,
    /// `--max-cost-per-task`, for CLIs that can cap a run's spend.
    max_cost_per_task: Option<f64>,
    /// The program, found before the run (see `resolve`).
    pub program: Option<PathBuf>,
}

pub const DEFAULT_AGENT: &str = "claude";

/// Variables that make a nested Claude Code refuse to start.
const NESTED_CLAUDE_VARS: &[&str] = &["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT"];

/// Permission modes used when the config file names none: edit files in the
/// working folder, nothing riskier.
const DEFAULT_CLAUDE_MODE: &str = "acceptEdits";
const DEFAULT_CODEX_SANDBOX: &str = "workspace-write";
const DEFAULT_GEMINI_MODE: &str = "auto_edit";

/// The longest prompt passed as an argument (Linux caps one argument at
/// 128 KiB); Gemini takes its prompt that way.
const MAX_PROMPT_ARG: usize = 120 * 1024;

/// What the agent-independent parts of the run add to one invocation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Invocation<'a> {
    /// A session to continue.
    pub resume: Option<&'a str>,
    /// The shell agent's script.
    pub script: Option<&'a Path>,
    /// The rendered prompt, for agents that take it as an argument.
    pub prompt: Option<&'a str>,
}

/// Where an agent reads its prompt from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptVia {
    /// stdin is the prompt file, then end of file.
    Stdin,
    /// The prompt is an argument; stdin is empty.
    Argument,
}

impl AgentSpec {
    /// Parses an agent name or command with the config file's settings and
    /// the command line's `--agent-arg`s.
    pub fn parse(
        s: &str,
        config: &Config,
        cli_args: &[String],
        max_cost_per_task: Option<f64>,
    ) -> Result<AgentSpec, String> {
        let name = s.trim();
        let words = shell_words::split(name)
            .map_err(|e| format!("cannot split `{name}` into words: {e}"))?;
        let Some(first) = words.first() else {
            return Err("the agent command is empty".into());
        };
        let settings = config.agent(first).cloned();
        let (preset, extra, settings) = if let Some(preset) = Preset::named(first) {
            (preset, words[1..].to_vec(), settings.unwrap_or_default())
        } else if let Some(custom) = settings.filter(|c| c.command.is_some()) {
            let command = custom.command.as_deref().unwrap_or_default();
            let mut cwords = shell_words::split(command)
                .map_err(|e| format!("agent `{first}`: cannot split its command: {e}"))?;
            if cwords.is_empty() {
                return Err(format!("agent `{first}`: its command is empty"));
            }
            // A relative path in the config file is relative to that file.
            if cwords[0].contains('/')
                && Path::new(&cwords[0]).is_relative()
                && let Some(dir) = config.path.as_deref().and_then(Path::parent)
            {
                let path = dir.join(&cwords[0]);
                cwords[0] = std::path::absolute(&path)
                    .unwrap_or(path)
                    .display()
                    .to_string();
            }
            cwords.extend(words[1..].iter().cloned());
            (Preset::Command(cwords), Vec::new(), custom)
        } else {
            (
                Preset::Command(words.clone()),
                Vec::new(),
                AgentConfig::default(),
            )
        };
        let output = match preset {
            Preset::Claude => Some(Format::Claude),
            Preset::Codex => Some(Format::Codex),
            Preset::Gemini => Some(Format::Gemini),
            Preset::Shell => None,
            Preset::Command(_) => {
                (settings.output == OutputKind::StreamJson).then_some(Format::Claude)
            }
        };
        let cli_args = if preset == Preset::Shell {
            Vec::new()
        } else {
            cli_args.to_vec()
        };
        Ok(AgentSpec {
            name: name.to_owned(),
            preset,
            output,
            extra,
            settings,
            cli_args,
            max_cost_per_task,
            program: None,
        })
    }

    /// The program's name or path, as looked up on PATH.
    fn program_word(&self) -> &str {
        match &self.preset {
            Preset::Claude => "claude",
            Preset::Codex => "codex",
            Preset::Gemini => "gemini",
            Preset::Shell => "bash",
            Preset::Command(words) => &words[0],
        }
    }

    /// Whether this agent can continue an earlier session.
    pub fn can_resume(&self) -> bool {
        matches!(self.preset, Preset::Claude | Preset::Codex | Preset::Gemini)
    }

    pub fn prompt_via(&self) -> PromptVia {
        match self.preset {
            Preset::Gemini => PromptVia::Argument,
            _ => PromptVia::Stdin,
        }
    }

    /// The model the command line asks for, if it says (for prices).
    pub fn model(&self) -> Option<String> {
        let words: Vec<&String> = self.user_args().collect();
        let mut found = self.settings.model.clone();
        for (i, w) in words.iter().enumerate() {
            if let Some(v) = w.strip_prefix("--model=") {
                found = Some(v.to_owned());
            } else if (*w == "-m" || *w == "--model")
                && let Some(v) = words.get(i + 1)
            {
                found = Some((*v).clone());
            } else if i > 0
                && words[i - 1] == "-c"
                && let Some(v) = w.strip_prefix("model=")
            {
                found = Some(v.trim_matches('"').to_owned());
            }
        }
        found
    }

    /// The whole command line, program first.
    pub fn argv(&self, inv: &Invocation) -> Result<Vec<String>, String> {
        let mut argv: Vec<String> = Vec::new();
        match &self.preset {
            Preset::Claude => {
                push(
                    &mut argv,
                    &[
                        "claude",
                        "-p",
                        "--output-format",
                        "stream-json",
                        "--verbose",
                    ],
                );
                self.push_settings(
                    &mut argv,
                    "--model",
                    "--permission-mode",
                    Some("--allowedTools"),
                );
                if let Some(usd) = self.max_cost_per_task {
                    argv.push("--max-budget-usd".into());
                    argv.push(format!("{usd}"));
                }
                if let Some(id) = inv.resume {
                    // `=`: the flag's value is optional, so a bare id that
                    // starts with `-` would read as another flag.
                    argv.push(format!("--resume={id}"));
                }
                self.push_user_args(&mut argv);
            }
            Preset::Codex => {
                push(
                    &mut argv,
                    &["codex", "exec", "--json", "--skip-git-repo-check"],
                );
                self.push_settings(&mut argv, "-m", "--sandbox", None);
                self.push_user_args(&mut argv);
                // Options go before `resume`: every Codex version takes them there.
                if let Some(id) = inv.resume {
                    argv.push("resume".into());
                    argv.push(id.to_owned());
                }
                // `-`: the prompt is read from stdin.
                argv.push("-".into());
            }
            Preset::Gemini => {
                push(&mut argv, &["gemini", "--output-format", "stream-json"]);
                self.push_settings(&mut argv, "-m", "--approval-mode", Some("--allowed-tools"));
                if let Some(id) = inv.resume {
                    push(&mut argv, &["--resume", id]);
                }
                self.push_user_args(&mut argv);
                let prompt = inv.prompt.unwrap_or_default();
                if prompt.len() > MAX_PROMPT_ARG {
                    return Err(format!(
                        "the prompt is {} KiB, more than gemini takes as its `-p` argument ({} KiB); shorten the task's text or use --template",
                        prompt.len() / 1024,
                        MAX_PROMPT_ARG / 1024
                    ));
                }
                argv.push("-p".into());
                argv.push(prompt.to_owned());
            }
            Preset::Shell => {
                push(
                    &mut argv,
                    &["bash", "--noprofile", "--norc", "-euo", "pipefail"],
                );
                if let Some(script) = inv.script {
                    argv.push(script.display().to_string());
                }
            }
            Preset::Command(words) => {
                argv.extend(words.iter().cloned());
                self.push_user_args(&mut argv);
            }
        }
        Ok(argv)
    }

    /// The config's model, permission mode and allowed tools, under this
    /// CLI's flags (`tools: None`: it has no allowed-tools flag).
    fn push_settings(&self, argv: &mut Vec<String>, model: &str, mode: &str, tools: Option<&str>) {
        let s = &self.settings;
        if let Some(m) = &s.model {
            push(argv, &[model, m]);
        }
        push(argv, &[mode, self.permission_mode()]);
        if let Some(flag) = tools
            && !s.allowed_tools.is_empty()
        {
            argv.push(flag.into());
            argv.extend(s.allowed_tools.iter().cloned());
        }
    }

    /// Config `args`, then words from the agent spec, then `--agent-arg`s.
    fn push_user_args(&self, argv: &mut Vec<String>) {
        argv.extend(self.user_args().cloned());
    }

    /// The words a person added, in command-line order (a later flag wins).
    fn user_args(&self) -> impl Iterator<Item = &String> {
        (self.settings.args.iter())
            .chain(&self.extra)
            .chain(&self.cli_args)
    }

    fn permission_mode(&self) -> &str {
        let default = match self.preset {
            Preset::Codex => DEFAULT_CODEX_SANDBOX,
            Preset::Gemini => DEFAULT_GEMINI_MODE,
            _ => DEFAULT_CLAUDE_MODE,
        };
        self.settings.permission_mode.as_deref().unwrap_or(default)
    }

    /// Finds the program on PATH (or, for a path, relative to `base`) and
    /// remembers it; an error is a message for people.
    pub fn resolve(&mut self, base: &Path) -> Result<(), String> {
        let word = self.program_word();
        let install = match self.preset {
            Preset::Claude => Some(("Claude Code CLI", "@anthropic-ai/claude-code")),
            Preset::Codex => Some(("Codex CLI", "@openai/codex")),
            Preset::Gemini => Some(("Gemini CLI", "@google/gemini-cli")),
            _ => None,
        };
        self.program = Some(find_program(word, base).ok_or_else(|| match install {
            Some((cli, package)) => format!(
                "agent `{}` needs the {cli}, and `{word}` is not on PATH; install it with `npm install -g {package}`, or pick another agent with `--agent`",
                self.name
            ),
            None if word.contains('/') => format!(
                "agent `{}`: `{}` is not an executable file",
                self.name,
                if base == Path::new(".") {
                    PathBuf::from(word)
                } else {
                    base.join(word)
                }
                .display()
            ),
            None => format!("agent `{}`: program `{word}` is not on PATH", self.name),
        })?);
        if let Some(program) = &self.program {
            check_interpreter(&self.name, program)?;
        }
        Ok(())
    }

    /// Variables to drop from the agent's environment.
    pub fn env_remove(&self) -> &'static [&'static str] {
        match self.preset {
            Preset::Claude => NESTED_CLAUDE_VARS,
            _ => &[],
        }
    }

    /// Variables to add: the config's `env`, and what a preset needs.
    pub fn env_add(&self) -> BTreeMap<String, String> {
        let mut env = self.settings.env.clone();
        // Claude refuses bypassPermissions as root unless told it is sandboxed;
        // a person who chose that mode for run-batch said as much.
        if self.preset == Preset::Claude
            && self.permission_mode() == "bypassPermissions"
            && is_root()
            && std::env::var_os("IS_SANDBOX").is_none()
        {
            env.insert("IS_SANDBOX".into(), "1".into());
        }
        // Headless Gemini refuses a folder it has not been told to trust;
        // run-batch runs agents in the folder the person chose.
        if self.preset == Preset::Gemini && std::env::var_os("GEMINI_CLI_TRUST_WORKSPACE").is_none()
        {
            env.insert("GEMINI_CLI_TRUST_WORKSPACE".into(), "true".into());
        }
        env
    }
}

/// A script's `#!` line, checked as the kernel will run it, so that a
/// missing interpreter is an error naming it before anything starts instead
/// of a bare "No such file or directory" for every task: the interpreter
/// must be an executable file, and a program named through `env` must be
/// on PATH.
fn check_interpreter(name: &str, script: &Path) -> Result<(), String> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    // Linux reads at most this much of a `#!` line.
    let mut head = Vec::new();
    if let Ok(f) = std::fs::File::open(script) {
        let _ = f.take(256).read_to_end(&mut head);
    }
    let Some(rest) = head.strip_prefix(b"#!") else {
        return Ok(());
    };
    let line = String::from_utf8_lossy(rest.split(|&b| b == b'\n').next().unwrap_or(rest));
    let line = line.trim_end_matches('\r');
    let mut words = line.split([' ', '\t']).filter(|w| !w.is_empty());
    let fail = |what: String| {
        Err(format!(
            "agent `{name}`: the script `{}` starts with `#!{}`, and {what}; install it or fix the script's first line",
            script.display(),
            line.trim()
        ))
    };
    let Some(interpreter) = words.next() else {
        return fail("names no interpreter".into());
    };
    // A relative interpreter is found from the agent's folder: left to the run.
    if !interpreter.starts_with('/') {
        return Ok(());
    }
    match std::fs::metadata(interpreter) {
        Err(_) => return fail(format!("`{interpreter}` does not exist")),
        Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => {
            return fail(format!("`{interpreter}` is not an executable file"));
        }
        Ok(_) => {}
    }
    if Path::new(interpreter)
        .file_name()
        .is_some_and(|n| n == "env")
    {
        // `env [-S] [-i] [-u NAME] [NAME=value]… program`
        let mut takes_value = false;
        let program = words.find(|w| {
            if std::mem::take(&mut takes_value) {
                return false;
            }
            if matches!(*w, "-u" | "--unset" | "-C" | "--chdir") {
                takes_value = true;
                return false;
            }
            !w.starts_with('-') && !w.contains('=')
        });
        if let Some(program) = program
            && find_program(program, Path::new(".")).is_none()
        {
            return fail(format!("`{program}` is not on PATH"));
        }
    }
    Ok(())
}

fn push(argv: &mut Vec<String>, words: &[&str]) {
    argv.extend(words.iter().map(|w| (*w).to_owned()));
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// The `sh`, `bash` and `shell` fenced blocks of a task's body, joined in order.
pub fn shell_script(body: &str) -> Option<String> {
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

    fn spec(s: &str) -> AgentSpec {
        AgentSpec::parse(s, &Config::default(), &[], None).unwrap()
    }

    #[test]
    fn presets_and_commands() {
        assert_eq!(spec("claude").output, Some(Format::Claude));
        assert_eq!(spec("codex").output, Some(Format::Codex));
        assert_eq!(spec("shell").output, None);
        let c = spec("my-agent --flag 'two words'");
        assert_eq!(
            c.argv(&Invocation::default()).unwrap(),
            ["my-agent", "--flag", "two words"]
        );
        assert_eq!(c.output, None);
        let p = |s: &str| AgentSpec::parse(s, &Config::default(), &[], None);
        assert!(p("bad 'quote").is_err());
        assert!(p("  ").is_err());
    }

    #[test]
    fn claude_command_line_with_settings_resume_and_args() {
        let mut config = Config::default();
        config.agents.insert(
            "claude".into(),
            AgentConfig {
                model: Some("opus".into()),
                permission_mode: Some("bypassPermissions".into()),
                allowed_tools: vec!["Read".into(), "Bash(git *)".into()],
                args: vec!["--max-turns".into(), "9".into()],
                ..AgentConfig::default()
            },
        );
        let s = AgentSpec::parse("claude --debug", &config, &["--x".into()], Some(0.5)).unwrap();
        let inv = Invocation {
            resume: Some("-abc"),
            ..Invocation::default()
        };
        assert_eq!(
            s.argv(&inv).unwrap().join(" "),
            "claude -p --output-format stream-json --verbose --model opus \
             --permission-mode bypassPermissions --allowedTools Read Bash(git *) \
             --max-budget-usd 0.5 --resume=-abc --max-turns 9 --debug --x"
        );
        assert_eq!(s.model().as_deref(), Some("opus"));
    }

    #[test]
    fn codex_puts_options_before_resume_and_reads_stdin() {
        let s = AgentSpec::parse("codex -m o3", &Config::default(), &[], None).unwrap();
        assert_eq!(
            s.argv(&Invocation::default()).unwrap().join(" "),
            "codex exec --json --skip-git-repo-check --sandbox workspace-write -m o3 -"
        );
        let inv = Invocation {
            resume: Some("T1"),
            ..Invocation::default()
        };
        assert_eq!(
            s.argv(&inv).unwrap().join(" "),
            "codex exec --json --skip-git-repo-check --sandbox workspace-write -m o3 resume T1 -"
        );
        assert_eq!(s.model().as_deref(), Some("o3"));
        let c = AgentSpec::parse(
            "codex",
            &Config::default(),
            &["-c".into(), "model=\"x\"".into()],
            None,
        )
        .unwrap();
        assert_eq!(c.model().as_deref(), Some("x"));
    }

    #[test]
    fn the_model_priced_is_the_last_one_on_the_command_line() {
        let mut config = Config::default();
        config.agents.insert(
            "codex".into(),
            AgentConfig {
                args: vec!["-m".into(), "from-config".into()],
                ..AgentConfig::default()
            },
        );
        let s = AgentSpec::parse("codex -m from-spec", &config, &[], None).unwrap();
        let argv = s.argv(&Invocation::default()).unwrap().join(" ");
        assert!(argv.ends_with("-m from-config -m from-spec -"), "{argv}");
        assert_eq!(s.model().as_deref(), Some("from-spec"));
    }

    #[test]
    fn gemini_takes_its_prompt_as_an_argument() {
        let s = spec("gemini");
        let inv = Invocation {
            prompt: Some("do it"),
            resume: Some("s1"),
            ..Invocation::default()
        };
        assert_eq!(s.prompt_via(), PromptVia::Argument);
        assert_eq!(
            s.argv(&inv).unwrap().join(" "),
            "gemini --output-format stream-json --approval-mode auto_edit --resume s1 -p do it"
        );
        let huge = "x".repeat(MAX_PROMPT_ARG + 1);
        let inv = Invocation {
            prompt: Some(&huge),
            ..Invocation::default()
        };
        assert!(s.argv(&inv).unwrap_err().contains("KiB"));
    }

    #[test]
    fn custom_agents_from_the_config() {
        let mut config = Config::default();
        config.agents.insert(
            "mine".into(),
            AgentConfig {
                command: Some("./bin/agent --fast".into()),
                output: OutputKind::StreamJson,
                ..AgentConfig::default()
            },
        );
        let s = AgentSpec::parse("mine --more", &config, &["--x".into()], None).unwrap();
        assert_eq!(s.output, Some(Format::Claude));
        assert_eq!(
            s.argv(&Invocation::default()).unwrap(),
            ["./bin/agent", "--fast", "--more", "--x"]
        );
        assert!(!s.can_resume());
    }

    #[test]
    fn shell_blocks_in_order() {
        let body =
            "intro\n```sh\necho one\n```\n```python\nprint(2)\n```\n```bash\necho three\n```";
        assert_eq!(shell_script(body).unwrap(), "echo one\necho three\n");
        assert_eq!(shell_script("no code"), None);
    }
}
