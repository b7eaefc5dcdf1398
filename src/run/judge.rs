//! Judge gates: an agent (a preset or a command, from the `judge` hint or
//! `[judge] agent`) that reads a verified attempt's work and answers
//! `RUN-BATCH: PASS` or `RUN-BATCH: FAIL <reason>`, after the task's gate
//! and before its box is ticked.
//!
//! Takes the plan, the attempt's working folder and log; hands on the
//! judge's prompt (`templates/judge.md`, or `[judge] template`), its process
//! (own group, like an agent's) and, when it ends, a `Judged` read by one
//! thread. Fails closed: no verdict line, an error, a limit, all fail.
//! Never decides what happens to the attempt: the engine does.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;

use minijinja::{Environment, context};

use crate::git::Git;
use crate::plan::Plan;
use crate::run::agents::stream::{StreamReader, StreamSummary};
use crate::run::agents::{AgentSpec, Invocation, PromptVia};
use crate::run::process::{self, Exit, own_group};
use crate::run::{AgentProblem, Input, RunOptions};

pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/judge.md");

/// Most bytes of a diff or gate output put into a judge's prompt; the rest
/// is cut with a note (a judge with a truncated diff says so, or fails).
const MAX_CHANGES: usize = 200 * 1024;
const MAX_GATE_OUTPUT: usize = 16 * 1024;

/// The judge's template, compiled once; a broken one is an error before
/// anything runs.
pub struct Template {
    env: Environment<'static>,
}

impl Template {
    pub fn new(path: Option<&Path>) -> Result<Template, String> {
        let source = match path {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the judge template `{}`: {e}", path.display()))?,
            None => DEFAULT_TEMPLATE.to_owned(),
        };
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template_owned("judge", source)
            .map_err(|e| format!("judge template: {e}"))?;
        Ok(Template { env })
    }

    /// The judge's prompt for plan task `t`.
    pub fn render(
        &self,
        plan: &Plan,
        t: usize,
        changes: &Changes,
        gate_output: Option<&str>,
    ) -> Result<String, String> {
        let doc = &plan.doc;
        let task = &doc.tasks[t];
        let file = (doc.source.path.file_name()).map_or_else(
            || doc.source.display_path(),
            |n| n.to_string_lossy().into_owned(),
        );
        let ctx = context! {
            file => file,
            task => context! { id => doc.id(t).into_owned(), text => doc.text(t).to_owned(), body => doc.body(t) },
            section => doc.section_path(task.section()),
            changes => changes.diff.clone(),
            changes_from => changes.from.clone(),
            gate_output => gate_output,
        };
        let tmpl = self.env.get_template("judge").map_err(|e| e.to_string())?;
        let mut out = tmpl
            .render(ctx)
            .map_err(|e| format!("judge template: {e}"))?;
        out.push('\n');
        Ok(out)
    }
}

/// `[judge] template`, relative to the config file's folder.
pub fn template_path(options: &RunOptions) -> Option<PathBuf> {
    let t = options.config.judge_template.as_ref()?;
    let base = (options.config.path.as_deref())
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    Some(base.join(t))
}

/// Each task's judge, checked before anything starts like its agent: a
/// known preset or a command that splits, its program on PATH. The `shell`
/// agent cannot judge (it runs scripts, it reads nothing). Hands on the
/// problems, one per judge named (the judge itself is made when it runs).
pub fn check(plan: &Plan, options: &RunOptions) -> Vec<AgentProblem> {
    let mut problems: Vec<AgentProblem> = Vec::new();
    let folder = crate::run::taskfile_folder(&options.file);
    let config_folder = (options.config.path.as_deref())
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    // Each judge (with the folder it is resolved in) is checked once.
    let mut checked: std::collections::HashSet<String> = Default::default();
    for t in plan.runnable() {
        if plan.is_done(t) {
            continue;
        }
        let (name, base) = match &plan.settings(t).judge {
            Some(hint) => (hint.clone(), folder.clone()),
            None => match &options.config.judge {
                Some(name) => (name.clone(), config_folder.clone()),
                None => continue,
            },
        };
        if !checked.insert(format!("{}\0{name}", base.display())) {
            continue;
        }
        let parsed = AgentSpec::parse(&name, &options.config, &[], options.max_cost_per_task);
        let problem = match parsed {
            Err(message) => Some(format!("judge: {message}")),
            Ok(spec) if spec.script("```sh\ntrue\n```\n").is_some() => Some(format!(
                "judge `{name}` cannot judge: the shell agent runs scripts and reads no prompt; name an agent such as `claude`, or a command"
            )),
            Ok(mut spec) => spec.resolve(&base).err().map(|m| format!("judge: {m}")),
        };
        if let Some(message) = problem {
            problems.push(AgentProblem { task: t, message });
        }
    }
    problems.dedup_by(|a, b| a.message == b.message);
    problems
}

/// What an attempt changed, for its judge.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    /// `git diff` against where the work started, and new files.
    pub diff: String,
    /// How it was found, for the template: `git diff <base>` or why none.
    pub from: String,
}

/// The diff of `workdir` against `base` (the worktree's starting commit
/// with `--isolate worktree`, else `HEAD`), with files git does not track
/// yet listed and shown (a new file is most of many tasks' work).
pub fn changes(workdir: &Path, base: Option<&str>) -> Changes {
    if Git::toplevel(workdir).is_none() {
        return Changes {
            diff: String::new(),
            from: "the working folder is not in a git work tree".into(),
        };
    }
    let git = Git::new(workdir);
    let base = base.unwrap_or("HEAD");
    let mut diff = git
        .run(&["diff", "--no-color", "--no-ext-diff", base, "--", "."])
        .unwrap_or_default();
    let untracked = git
        .run(&[
            "ls-files",
            "--others",
            "--exclude-standard",
            "-z",
            "--",
            ".",
        ])
        .unwrap_or_default();
    for path in untracked.split('\0').filter(|p| !p.is_empty()) {
        if diff.len() > MAX_CHANGES {
            break;
        }
        diff.push_str(&format!("new file (untracked): {path}\n"));
        // `--no-index` shows a new file as a diff; it exits 1 when it differs.
        let shown = Command::new("git")
            .args(["diff", "--no-color", "--no-index", "--", "/dev/null", path])
            .current_dir(workdir)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        if let Ok(o) = shown {
            diff.push_str(&String::from_utf8_lossy(&o.stdout));
        }
    }
    Changes {
        diff: cut(diff, MAX_CHANGES),
        from: format!("`git diff {base}` in the working folder"),
    }
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
        s.push_str("\n… (cut: the rest is longer than run-batch puts in a prompt)\n");
    }
    s
}

/// The output of the attempt's gate: what follows the last gate header in
/// its log, if the gate ran.
pub fn gate_output(log: &Path) -> Option<String> {
    let mut f = File::open(log).ok()?;
    let len = f.metadata().ok()?.len();
    let start = len.saturating_sub(4 * MAX_GATE_OUTPUT as u64);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let at = text.rfind("── run-batch: gate ")?;
    let after = &text[at..];
    let body = after.split_once('\n').map_or("", |(_, rest)| rest);
    let body = body.trim_end();
    let skip = body.len().saturating_sub(MAX_GATE_OUTPUT);
    let mut skip_at = skip;
    while !body.is_char_boundary(skip_at) {
        skip_at += 1;
    }
    Some(body[skip_at..].to_owned())
}

/// A judge's answer: its last line that is exactly `RUN-BATCH: PASS` or
/// starts with `RUN-BATCH: FAIL`. None when there is no such line.
pub fn verdict(text: &str) -> Option<Result<(), String>> {
    text.lines().rev().find_map(|line| {
        let line = line.trim().trim_matches('`').trim();
        if line == "RUN-BATCH: PASS" {
            return Some(Ok(()));
        }
        let rest = line.strip_prefix("RUN-BATCH: FAIL")?;
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            return None;
        }
        let reason = rest.trim();
        Some(Err(if reason.is_empty() {
            "no reason given".to_owned()
        } else {
            reason.to_owned()
        }))
    })
}

/// How a judge ended.
#[derive(Debug)]
pub struct Judged {
    pub exit: Exit,
    /// A stream-json judge's stream (tokens, cost, result).
    pub summary: Option<Box<StreamSummary>>,
    /// What its verdict is read from: the final result's text, or the end
    /// of its output.
    pub answer: String,
    pub log: PathBuf,
}

/// One judge to start: who, with what prompt, where.
pub struct Call<'a> {
    pub spec: &'a AgentSpec,
    pub prompt: &'a str,
    pub prompt_path: &'a Path,
    pub workdir: &'a Path,
    pub log: &'a Path,
    pub task_id: &'a str,
}

/// Starts the judge in its working folder: the prompt on stdin or as an
/// argument as its CLI takes it, output to its log. A thread reads and
/// waits, then sends `Input::Judged`. Returns its pid (and process group).
pub fn spawn(call: &Call, slot: u64, tx: &Sender<Input>) -> std::io::Result<u32> {
    let Call {
        spec,
        prompt,
        prompt_path,
        workdir,
        log,
        task_id,
    } = *call;
    let mut prompt_file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(prompt_path)?;
    prompt_file.write_all(prompt.as_bytes())?;
    let mut log_file = OpenOptions::new().create(true).append(true).open(log)?;
    let invocation = Invocation {
        resume: None,
        script: None,
        prompt: Some(prompt),
    };
    let argv = spec.argv(&invocation).map_err(std::io::Error::other)?;
    let program = (spec.program.clone())
        .ok_or_else(|| std::io::Error::other("the judge was not resolved before the run"))?;
    let shown: Vec<&str> = (argv.iter())
        .map(|a| if a == prompt { "<prompt>" } else { a.as_str() })
        .collect();
    writeln!(log_file, "run-batch: judge: {}", shell_words::join(shown))?;
    let mut cmd = Command::new(program);
    cmd.arg0(&argv[0]).args(&argv[1..]);
    for var in spec.env_remove() {
        cmd.env_remove(var);
    }
    cmd.envs(spec.env_add())
        .env("RUN_BATCH_TASK_ID", task_id)
        .env("RUN_BATCH_JUDGE", "1")
        .env("RUN_BATCH_PROMPT_FILE", prompt_path)
        .current_dir(workdir)
        .stderr(log_file.try_clone()?);
    match spec.prompt_via() {
        PromptVia::Stdin => {
            prompt_file.rewind()?;
            cmd.stdin(prompt_file)
        }
        PromptVia::Argument => cmd.stdin(Stdio::null()),
        // One user message, then the end of input: one turn.
        PromptVia::StreamJson => {
            let path = prompt_path.with_extension("jsonl");
            std::fs::write(&path, crate::run::inbox::user_message(prompt))?;
            cmd.stdin(File::open(&path)?)
        }
    };
    if spec.output.is_some() {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.stdout(log_file.try_clone()?);
    }
    own_group(&mut cmd);
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let stdout = child.stdout.take();
    let format = spec.output;
    let tx = tx.clone();
    let log = log.to_owned();
    std::thread::Builder::new()
        .name("judge".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let summary = match (format, stdout) {
                (Some(format), Some(stdout)) => Some(Box::new(read(stdout, log_file, format))),
                _ => None,
            };
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            process::wait_in_background(child, move |exit| {
                let _ = done_tx.send(exit);
            });
            let exit = done_rx.recv().unwrap_or(Exit::Code(-1));
            let answer = match &summary {
                Some(s) => s
                    .result
                    .as_ref()
                    .map_or_else(String::new, |r| r.message.clone()),
                None => crate::report::live::tail_lines(&log, 200).join("\n"),
            };
            let _ = tx.send(Input::Judged {
                slot,
                judged: Box::new(Judged {
                    exit,
                    summary,
                    answer,
                    log,
                }),
            });
        })?;
    Ok(pid)
}

/// Copies a stream-json judge's stdout to its log, reading its events.
fn read(
    mut stdout: std::process::ChildStdout,
    mut log: File,
    format: crate::run::agents::stream::Format,
) -> StreamSummary {
    let mut reader = StreamReader::new(format, None);
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let _ = log.write_all(&buf[..n]);
        for piece in buf[..n].split_inclusive(|&b| b == b'\n') {
            if line.len() < (8 << 20) {
                line.extend_from_slice(piece);
            }
            if piece.ends_with(b"\n") {
                reader.line(&line);
                line.clear();
            }
        }
    }
    if !line.is_empty() {
        reader.line(&line);
    }
    reader.summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_the_last_line_that_says_one() {
        assert_eq!(verdict("looks good\nRUN-BATCH: PASS\n"), Some(Ok(())));
        assert_eq!(
            verdict("RUN-BATCH: PASS\nwait, no\nRUN-BATCH: FAIL the page param is ignored"),
            Some(Err("the page param is ignored".into()))
        );
        assert_eq!(verdict("`RUN-BATCH: PASS`"), Some(Ok(())));
        assert_eq!(
            verdict("RUN-BATCH: FAIL"),
            Some(Err("no reason given".into()))
        );
        assert_eq!(verdict("I think it passes"), None);
        assert_eq!(verdict("RUN-BATCH: PASSED"), None);
        assert_eq!(verdict("RUN-BATCH: FAILURE"), None);
        // The template's own words never read as a verdict.
        assert_eq!(verdict(DEFAULT_TEMPLATE), None);
    }
}
