//! Checkpoints at run time: one watcher thread per attempt whose task has
//! ```` ```checkpoint ```` blocks. It reads the attempt's log (the agent's
//! output; for stream-json agents the text and tool results of each event)
//! and progress file as they grow, runs a checkpoint's command with `sh -c`
//! in the task's working folder (its own process group, output to a file of
//! its own) when a line holds its marker or its interval is up, and reports
//! each start and end to the run loop. The agent keeps running meanwhile.
//!
//! Never decides what a failure means and never stops the agent: the engine
//! does, on the `Report`s it gets. Never blocks the run loop.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::run::Input;
use crate::run::process::{Exit, Group, own_group};
use crate::taskfile::{Checkpoint, Trigger};

/// How often the watcher looks for new output and finished commands.
const POLL: Duration = Duration::from_millis(100);
/// Lines of a checkpoint's output kept for reasons and messages.
pub const TAIL_LINES: usize = 20;
/// Longest line looked at for a marker; longer ones are cut (never fatal).
const MAX_LINE: usize = 1 << 20;

/// What the watcher tells the run loop.
#[derive(Debug)]
pub enum Report {
    Started {
        index: usize,
        pid: u32,
    },
    Finished {
        index: usize,
        exit: Exit,
        duration: Duration,
        /// The end of its output.
        tail: String,
        /// Where its whole output is.
        log: PathBuf,
    },
    /// Nothing of the watcher runs any more.
    Done,
}

/// The run loop's handle on a watcher.
#[derive(Debug, Clone)]
pub struct Watch {
    state: Arc<AtomicU8>,
}

const WATCHING: u8 = 0;
/// The agent ended: read what is left, let running commands finish.
const FINISHING: u8 = 1;
/// The attempt is stopped: end running commands now.
const CANCELLED: u8 = 2;

impl Watch {
    /// The agent has exited: what it printed last still counts, and
    /// checkpoints already running are waited for; nothing new is timed.
    pub fn finish(&self) {
        let _ =
            (self.state).compare_exchange(WATCHING, FINISHING, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The attempt is over: running commands are ended, nothing new starts.
    pub fn cancel(&self) {
        self.state.store(CANCELLED, Ordering::SeqCst);
    }
}

/// What one attempt's watcher needs.
pub struct Setup {
    pub checkpoints: Vec<Checkpoint>,
    pub log: PathBuf,
    /// Bytes of the log run-batch wrote itself (the command line): skipped.
    pub log_from: u64,
    pub progress: PathBuf,
    pub workdir: PathBuf,
    /// `<checkpoint index>` → the file its latest run's output goes to.
    pub output: Box<dyn Fn(usize) -> PathBuf + Send>,
}

/// Starts the watcher of one attempt (`slot`).
pub fn watch(setup: Setup, slot: u64, tx: &Sender<Input>) -> std::io::Result<Watch> {
    let state = Arc::new(AtomicU8::new(WATCHING));
    let watch = Watch {
        state: state.clone(),
    };
    let tx = tx.clone();
    std::thread::Builder::new()
        .name("checkpoints".into())
        .stack_size(256 * 1024)
        .spawn(move || Watcher::new(setup, state, slot, tx).run())?;
    Ok(watch)
}

/// A file read as it grows, line by line.
struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl Tail {
    fn new(path: PathBuf, offset: u64) -> Tail {
        Tail {
            path,
            offset,
            partial: Vec::new(),
        }
    }

    /// Whole lines added since the last look (`last`: the rest too).
    fn lines(&mut self, last: bool) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Ok(mut f) = File::open(&self.path)
            && f.seek(SeekFrom::Start(self.offset)).is_ok()
        {
            let mut buf = Vec::new();
            let _ = f.by_ref().take(16 << 20).read_to_end(&mut buf);
            self.offset += buf.len() as u64;
            for piece in buf.split_inclusive(|&b| b == b'\n') {
                if self.partial.len() < MAX_LINE {
                    let room = MAX_LINE - self.partial.len();
                    self.partial
                        .extend_from_slice(&piece[..piece.len().min(room)]);
                }
                if piece.ends_with(b"\n") {
                    out.push(std::mem::take(&mut self.partial));
                }
            }
        }
        if last && !self.partial.is_empty() {
            out.push(std::mem::take(&mut self.partial));
        }
        out
    }
}

/// The texts of one line of output in which a marker counts: for a JSON
/// event, its strings except a tool call's arguments (what the agent is
/// about to run is not what happened) and a final `result` (it repeats the
/// last message); any other line as it is.
pub fn texts(line: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(line);
    let trimmed = text.trim();
    if trimmed.starts_with('{')
        && let Ok(Value::Object(event)) = serde_json::from_str::<Value>(trimmed)
    {
        if event.get("type").and_then(Value::as_str) == Some("result") {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (key, value) in &event {
            strings(key, value, &mut out);
        }
        return out;
    }
    vec![trimmed.to_owned()]
}

fn strings(key: &str, value: &Value, out: &mut Vec<String>) {
    const ARGUMENTS: [&str; 5] = ["input", "command", "args", "arguments", "parameters"];
    if ARGUMENTS.contains(&key) {
        return;
    }
    match value {
        Value::String(s) => out.extend(s.lines().map(str::to_owned)),
        Value::Array(items) => items.iter().for_each(|v| strings("", v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| strings(k, v, out)),
        _ => {}
    }
}

/// One checkpoint's state in the watcher.
struct Entry {
    checkpoint: Checkpoint,
    running: Option<(Child, Instant)>,
    /// Triggered while running: runs once more when it ends.
    again: bool,
    /// For `every=`: when it is next due.
    due: Option<Instant>,
}

struct Watcher {
    entries: Vec<Entry>,
    log: Tail,
    progress: Tail,
    workdir: PathBuf,
    output: Box<dyn Fn(usize) -> PathBuf + Send>,
    state: Arc<AtomicU8>,
    slot: u64,
    tx: Sender<Input>,
}

impl Watcher {
    fn new(setup: Setup, state: Arc<AtomicU8>, slot: u64, tx: Sender<Input>) -> Watcher {
        let now = Instant::now();
        Watcher {
            entries: (setup.checkpoints.into_iter())
                .map(|checkpoint| Entry {
                    due: match checkpoint.trigger {
                        Trigger::Every(d) => now.checked_add(d),
                        Trigger::Marker(_) => None,
                    },
                    checkpoint,
                    running: None,
                    again: false,
                })
                .collect(),
            log: Tail::new(setup.log, setup.log_from),
            progress: Tail::new(setup.progress, 0),
            workdir: setup.workdir,
            output: setup.output,
            state,
            slot,
            tx,
        }
    }

    fn run(mut self) {
        loop {
            let state = self.state.load(Ordering::SeqCst);
            if state == CANCELLED {
                self.end_all();
                break;
            }
            let finishing = state == FINISHING;
            self.read(finishing);
            let now = Instant::now();
            if !finishing {
                for e in &mut self.entries {
                    if let (Some(due), Trigger::Every(d)) = (e.due, &e.checkpoint.trigger)
                        && now >= due
                    {
                        e.again = true;
                        e.due = now.checked_add(*d);
                    }
                }
            }
            self.reap();
            if self.state.load(Ordering::SeqCst) == CANCELLED {
                continue;
            }
            self.start_due();
            if finishing && self.entries.iter().all(|e| e.running.is_none() && !e.again) {
                break;
            }
            std::thread::sleep(POLL);
        }
        let _ = self.tx.send(Input::Checkpoint {
            slot: self.slot,
            report: Box::new(Report::Done),
        });
    }

    /// New lines of the log and progress file: a marker triggers its checkpoint.
    fn read(&mut self, last: bool) {
        let mut lines = self.log.lines(last);
        lines.extend(self.progress.lines(last));
        if lines.is_empty() {
            return;
        }
        for line in lines {
            let texts = texts(&line);
            for e in &mut self.entries {
                if let Trigger::Marker(m) = &e.checkpoint.trigger
                    && texts.iter().any(|t| t.contains(m.as_str()))
                {
                    e.again = true;
                }
            }
        }
    }

    fn start_due(&mut self) {
        for index in 0..self.entries.len() {
            let e = &mut self.entries[index];
            if !e.again || e.running.is_some() {
                continue;
            }
            e.again = false;
            let log = (self.output)(index);
            let started = spawn(&e.checkpoint.command, &self.workdir, &log);
            match started {
                Ok(child) => {
                    let pid = child.id();
                    e.running = Some((child, Instant::now()));
                    self.send(Report::Started { index, pid });
                }
                Err(err) => {
                    let _ = std::fs::write(&log, format!("run-batch: could not run it: {err}\n"));
                    self.send(Report::Started { index, pid: 0 });
                    self.send(Report::Finished {
                        index,
                        exit: Exit::Code(-1),
                        duration: Duration::ZERO,
                        tail: format!("could not run it: {err}"),
                        log,
                    });
                }
            }
        }
    }

    /// Commands that ended since the last look.
    fn reap(&mut self) {
        for index in 0..self.entries.len() {
            let Some((child, started)) = self.entries[index].running.as_mut() else {
                continue;
            };
            let Ok(Some(status)) = child.try_wait() else {
                continue;
            };
            let duration = started.elapsed();
            self.entries[index].running = None;
            let exit = exit_of(status);
            let log = (self.output)(index);
            let tail = crate::report::live::tail_lines(&log, TAIL_LINES).join("\n");
            self.send(Report::Finished {
                index,
                exit,
                duration,
                tail,
                log,
            });
        }
    }

    /// Ends what still runs (the attempt is over), and waits for it.
    fn end_all(&mut self) {
        for e in &mut self.entries {
            if let Some((mut child, _)) = e.running.take() {
                let group = Group(child.id() as i32);
                group.signal(libc::SIGTERM);
                group.signal(libc::SIGCONT);
                let deadline = Instant::now() + Duration::from_secs(2);
                while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                group.signal(libc::SIGKILL);
                let _ = child.wait();
            }
        }
    }

    fn send(&self, report: Report) {
        let _ = self.tx.send(Input::Checkpoint {
            slot: self.slot,
            report: Box::new(report),
        });
    }
}

/// The plan author's command: `sh -c`, never split, in its own group.
fn spawn(command: &str, workdir: &Path, log: &Path) -> std::io::Result<Child> {
    let out = File::create(log)?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    own_group(&mut cmd);
    cmd.spawn()
}

fn exit_of(status: std::process::ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(sig) => Exit::Signal(sig),
        None => Exit::Code(status.code().unwrap_or(-1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_count_in_text_and_results_not_in_arguments() {
        let text = br#"{"type":"assistant","message":{"content":[{"type":"text","text":"done\nSCAFFOLD-READY"}]}}"#;
        assert!(texts(text).iter().any(|t| t == "SCAFFOLD-READY"));
        let tool = br#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash","input":{"command":"echo SCAFFOLD-READY"}}]}}"#;
        assert!(!texts(tool).iter().any(|t| t.contains("SCAFFOLD-READY")));
        let result = br#"{"type":"user","message":{"content":[{"type":"tool_result","content":"SCAFFOLD-READY\n"}]}}"#;
        assert!(texts(result).iter().any(|t| t == "SCAFFOLD-READY"));
        let codex = br#"{"type":"item.completed","item":{"type":"command_execution","command":"echo X","aggregated_output":"X\n"}}"#;
        assert_eq!(
            texts(codex).iter().filter(|t| t.contains('X')).count(),
            1,
            "the output, not the command"
        );
        let last = br#"{"type":"result","result":"SCAFFOLD-READY"}"#;
        assert!(texts(last).is_empty());
        assert_eq!(texts(b"plain SCAFFOLD-READY\n"), ["plain SCAFFOLD-READY"]);
    }

    #[test]
    fn a_tail_hands_on_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "head\na\nb").unwrap();
        let mut t = Tail::new(path.clone(), 5);
        assert_eq!(t.lines(false), [b"a\n".to_vec()]);
        std::fs::write(&path, "head\na\nbc\n").unwrap();
        assert_eq!(t.lines(false), [b"bc\n".to_vec()]);
        assert!(t.lines(true).is_empty());
    }
}
