//! Starting one attempt: the prompt file, the log, the environment, the
//! command in its own process group, and (for stream-json agents) a thread
//! that copies stdout to the log while reading its events. Output goes to
//! disk as it comes; nothing holds a whole output in memory. Never decides
//! and never prints: it reports to the run loop through `Input`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crate::plan::Plan;
use crate::record::state::file_stem_for;
use crate::run::Input;
use crate::run::agents::stream::StreamReader;
use crate::run::agents::{AgentSpec, Invocation, PromptVia};
use crate::run::process::{self, own_group};
use crate::run::prompt::Prompter;
use crate::run::resume::{Previous, Resume};

pub struct Launch<'a> {
    pub plan: &'a Plan,
    pub task: usize,
    pub attempt: u32,
    pub spec: &'a AgentSpec,
    pub prompter: &'a Prompter,
    /// Why the attempt before failed, and the end of its log (gate output
    /// included), for the retry's prompt.
    pub last_failure: Option<&'a Previous>,
    /// A session to continue instead of starting afresh.
    pub resume: Option<&'a Resume>,
    /// The attempt before, when its session could not be continued.
    pub previous: Option<&'a Previous>,
    /// Messages for the task (`run-batch handoff`).
    pub messages: &'a [crate::record::handoff::Message],
    pub run_dir: &'a Path,
    /// Files silent successes gave back, reused for this attempt's log and
    /// prompt.
    pub spares: &'a crate::run::spares::Spares,
    pub run_id: &'a str,
    /// Absolute, as agents see them (their working folder is elsewhere).
    pub state_dir: &'a Path,
    pub taskfile: &'a Path,
    pub workdir: &'a Path,
}

/// Where one attempt's files are.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub pid: u32,
    pub log: PathBuf,
    pub progress: PathBuf,
    pub prompt: PathBuf,
    /// The command line (a prompt passed as an argument shown as
    /// `<prompt>`), which also heads the log.
    pub command: String,
    /// Bytes run-batch wrote at the head of the log (the command line): a
    /// log no longer than this holds nothing the agent printed.
    pub log_header: u64,
    /// Bytes read from a stream-json agent's stdout so far (the log shows
    /// the others' output), for the idle timeout.
    pub streamed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Its stdin, for agents that take messages while they work.
    pub inbox: Option<std::sync::Arc<crate::run::inbox::Inbox>>,
}

impl Attempt {
    /// Removes what a successful attempt that printed nothing left: its log
    /// (only the command line, which `task_started` records too) and its
    /// prompt. Thousands of quick tasks then leave no files behind.
    /// They go back to `spares` for the next attempt. Returns whether the
    /// log is gone.
    pub fn tidy_after_success(&self, spares: &crate::run::spares::Spares) -> bool {
        if std::fs::metadata(&self.log).is_ok_and(|m| m.len() <= self.log_header) {
            spares.give_back(&self.prompt);
            spares.give_back(&self.log);
            return true;
        }
        false
    }
}

/// Longest task text passed in `RUN_BATCH_TASK_TEXT`: 128 KiB (Linux's
/// limit on one environment string, MAX_ARG_STRLEN) less the name.
pub const MAX_ENV_TEXT: usize = 128 * 1024 - "RUN_BATCH_TASK_TEXT=".len() - 1;

/// Longest stdout line parsed as an event; longer ones are logged, not parsed.
const MAX_EVENT_LINE: usize = 8 << 20;

/// `<run dir>/<task id as a file name>.<attempt>.<ext>`: where an attempt's
/// log, prompt, progress and script live.
pub fn attempt_file(run_dir: &Path, task_id: &str, attempt: u32, ext: &str) -> PathBuf {
    run_dir.join(format!("{}.{attempt}.{ext}", file_stem_for(task_id)))
}

pub fn spawn(l: &Launch, slot: u64, tx: &Sender<Input>) -> std::io::Result<Attempt> {
    let id = l.plan.doc.id(l.task);
    let id = id.as_ref();
    let file = |ext| attempt_file(l.run_dir, id, l.attempt, ext);
    let log = file("log");
    let progress = file("progress");
    let prompt_path = file("prompt.md");
    let prompt = match l.resume {
        Some(r) => l.prompter.render_resume(l.plan, l.task, r, l.messages),
        None => l.prompter.render(
            l.plan,
            l.task,
            l.attempt,
            l.last_failure,
            l.previous,
            l.messages,
        ),
    }
    .map_err(std::io::Error::other)?;
    let mut prompt_file = l.spares.open(&prompt_path, prompt.as_bytes(), false)?;

    let script_path = file("sh");
    let script = l.spec.script(&l.plan.doc.body(l.task));
    if let Some(script) = &script {
        std::fs::write(&script_path, script)?;
    }
    let invocation = Invocation {
        resume: l.resume.map(|r| r.session_id.as_str()),
        script: script.is_some().then_some(script_path.as_path()),
        prompt: Some(&prompt),
    };
    let argv = l.spec.argv(&invocation).map_err(std::io::Error::other)?;
    let program = l
        .spec
        .program
        .clone()
        .ok_or_else(|| std::io::Error::other("the agent was not resolved before the run"))?;
    // The command line heads the log: what ran is the first question when
    // something goes wrong. A prompt passed as an argument is not repeated.
    let shown: Vec<&str> = argv
        .iter()
        .map(|a| if a == &prompt { "<prompt>" } else { a.as_str() })
        .collect();
    let command = shell_words::join(shown);
    let header = format!("run-batch: {command}\n");
    let log_file = l.spares.open(&log, header.as_bytes(), true)?;
    let mut cmd = Command::new(program);
    cmd.arg0(&argv[0]).args(&argv[1..]);
    for var in l.spec.env_remove() {
        cmd.env_remove(var);
    }
    cmd.envs(l.spec.env_add());
    // Linux caps one `NAME=value` string at 128 KiB: a longer text would
    // make the spawn fail (E2BIG). The agent has it in its prompt anyway;
    // the variable is left unset (never inherited from outside).
    let text = l.plan.doc.text(l.task);
    if text.len() <= MAX_ENV_TEXT {
        cmd.env("RUN_BATCH_TASK_TEXT", text);
    } else {
        cmd.env_remove("RUN_BATCH_TASK_TEXT");
    }
    cmd.env("RUN_BATCH_TASK_ID", id)
        .env("RUN_BATCH_TASKFILE", l.taskfile)
        .env("RUN_BATCH_PROMPT_FILE", &prompt_path)
        .env("RUN_BATCH_PROGRESS_FILE", &progress)
        .env("RUN_BATCH_ATTEMPT", l.attempt.to_string())
        .env("RUN_BATCH_RUN_ID", l.run_id)
        .env("RUN_BATCH_STATE_DIR", l.state_dir)
        .current_dir(l.workdir)
        .stderr(log_file.try_clone()?);
    match l.spec.prompt_via() {
        // The prompt arrives on stdin and then stdin ends: a file does both
        // without a writer thread (the one just written, read from its start).
        PromptVia::Stdin => {
            prompt_file.rewind()?;
            cmd.stdin(prompt_file)
        }
        // An open stdin would make some CLIs wait for more.
        PromptVia::Argument => cmd.stdin(Stdio::null()),
        PromptVia::StreamJson => cmd.stdin(Stdio::piped()),
    };
    if l.spec.output.is_some() {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.stdout(log_file.try_clone()?);
    }
    own_group(&mut cmd);
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let streamed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let inbox = match child.stdin.take() {
        Some(stdin) => Some(crate::run::inbox::Inbox::start(stdin, &prompt)?),
        None => None,
    };
    if let Some(format) = l.spec.output {
        let inbox = inbox.clone();
        let stdout = child.stdout.take().expect("stdout was piped");
        let tx = tx.clone();
        let reader = StreamReader::new(format, l.resume.map(|r| r.baseline));
        let counter = streamed.clone();
        std::thread::Builder::new()
            .name("stream".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                read_stream(
                    stdout,
                    log_file,
                    reader,
                    slot,
                    &tx,
                    &counter,
                    inbox.as_deref(),
                )
            })?;
    }
    let exit_tx = tx.clone();
    process::wait_in_background(child, move |exit| {
        let _ = exit_tx.send(Input::Exited { slot, exit });
    });
    Ok(Attempt {
        pid,
        log,
        progress,
        prompt: prompt_path,
        command,
        log_header: header.len() as u64,
        streamed,
        inbox,
    })
}

/// Copies the agent's stdout to its log line by line and reads each line as
/// an event. Memory stays bounded by the longest line parsed.
fn read_stream(
    mut stdout: std::process::ChildStdout,
    mut log: File,
    mut reader: StreamReader,
    slot: u64,
    tx: &Sender<Input>,
    streamed: &std::sync::atomic::AtomicU64,
    inbox: Option<&crate::run::inbox::Inbox>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    let mut oversized = false;
    // An agent can print thousands of events a second; the person watching
    // needs the latest few. At most one activity per interval leaves here, so
    // the loop (and events.jsonl) never falls behind an agent.
    let mut last_sent: Option<Instant> = None;
    let mut unsent: Option<String> = None;
    let mut session_sent: Option<String> = None;
    let mut usage_sent = crate::run::agents::stream::Usage::default();
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let _ = log.write_all(&buf[..n]);
        streamed.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        for piece in buf[..n].split_inclusive(|&b| b == b'\n') {
            if !oversized {
                if line.len() + piece.len() > MAX_EVENT_LINE {
                    oversized = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(piece);
                }
            }
            if piece.ends_with(b"\n") {
                if !oversized && let Some(activity) = reader.line(&line) {
                    unsent = Some(activity);
                }
                line.clear();
                oversized = false;
            }
        }
        // Its result came: no more input, so it ends (in stream-json input
        // mode it would wait for another turn).
        if let Some(inbox) = inbox.filter(|_| reader.summary.result.is_some()) {
            inbox.close();
        }
        // The session is told at once: if run-batch dies now, the next run
        // can still continue it.
        let summary = &reader.summary;
        if summary.session_started && summary.session_id != session_sent {
            session_sent.clone_from(&summary.session_id);
            if let Some(id) = &session_sent {
                let _ = tx.send(Input::Session {
                    slot,
                    session_id: id.clone(),
                });
            }
        }
        // Live spend, at most once a read: budgets are checked as it comes.
        let seen = summary.usage_so_far();
        if seen != usage_sent {
            usage_sent = seen;
            let _ = tx.send(Input::Usage {
                slot,
                usage: seen,
                model: summary.model.clone(),
            });
        }
        if unsent.is_some() && last_sent.is_none_or(|t| t.elapsed() >= ACTIVITY_INTERVAL) {
            let activity = unsent.take().unwrap();
            let _ = tx.send(Input::Activity { slot, activity });
            last_sent = Some(Instant::now());
        }
    }
    if !line.is_empty() && !oversized {
        reader.line(&line);
    }
    if let Some(inbox) = inbox {
        inbox.close();
    }
    let _ = tx.send(Input::StreamDone {
        slot,
        summary: Box::new(reader.summary),
    });
}

/// How often a stream-json agent's latest activity is reported.
const ACTIVITY_INTERVAL: Duration = Duration::from_millis(250);

/// Runs a task's gate (its `gate` hint or ```` ```gate ```` block) after the
/// agent succeeded, appending its output to the attempt's log. The command
/// is the plan author's shell code: `sh -c`, never split into words.
pub fn spawn_gate(
    gate: &crate::taskfile::Gate,
    workdir: &Path,
    log: &Path,
    slot: u64,
    tx: &Sender<Input>,
) -> std::io::Result<u32> {
    let mut log_file = OpenOptions::new().create(true).append(true).open(log)?;
    writeln!(log_file, "\n── run-batch: gate {} ──", gate.label())?;
    if gate.command.contains('\n') {
        writeln!(log_file, "{}\n──", gate.command)?;
    }
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&gate.command)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    own_group(&mut cmd);
    let child = cmd.spawn()?;
    let pid = child.id();
    let tx = tx.clone();
    process::wait_in_background(child, move |exit| {
        let _ = tx.send(Input::Exited { slot, exit });
    });
    Ok(pid)
}
