//! Unix process control: agents in their own process groups, one type to
//! terminate a group (first signal → SIGTERM → grace → SIGKILL), a reaper
//! thread that turns child exits into events, and the guard that kills every
//! agent group if run-batch itself dies (each agent tells it its group
//! before its program runs).
//!
//! Why process groups: an agent runs shells, test runners and servers; a
//! signal to the agent alone would orphan them. Each agent leads its own
//! group, so Ctrl-C at the terminal reaches only run-batch, which forwards it
//! on purpose to every group. Never decides anything: the scheduler does.

use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// A process group led by an agent: a negative pid to `kill` means the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Group(pub i32);

impl Group {
    pub fn signal(self, sig: i32) -> bool {
        // SAFETY: kill(2) with a negative pid signals the process group; it has no memory effects.
        unsafe { libc::kill(-self.0, sig) == 0 }
    }

    /// Whether any process is still running in the group. kill(2) also
    /// finds zombies, which an init that never reaps keeps forever, so a
    /// group of zombies alone counts as gone.
    pub fn alive(self) -> bool {
        self.signal(0) && has_running_member(self.0)
    }
}

/// Whether /proc shows a process of group `pgid` that is not a zombie (true
/// when /proc cannot be read: better to wait than to leave something behind).
fn has_running_member(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parens.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
        if pgrp == Some(pgid) && state != "Z" && state != "X" {
            return true;
        }
    }
    false
}

/// Puts the command's process in a new process group of its own, marked
/// with the guard's token in its environment (inherited by everything it
/// starts): see [`Guard`].
pub fn own_group(cmd: &mut Command) {
    cmd.process_group(0);
    if let Some(token) = GUARD_TOKEN.get() {
        cmd.env(GUARD_VAR, token);
    }
}

/// The variable that marks a run's agents and gates, and everything they
/// start, for the guard.
pub const GUARD_VAR: &str = "RUN_BATCH_GUARD";

/// This run's guard token, once a guard runs.
static GUARD_TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by {}", signal_name(*s)),
        }
    }
}

pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGPIPE => "SIGPIPE".into(),
        n => format!("signal {n}"),
    }
}

/// Waits for `child` on a small thread of its own and reports how it ended.
/// One thread per running agent is cheap next to the agent itself, and it
/// leaves std as the only one calling waitpid on that pid.
pub fn wait_in_background(mut child: Child, done: impl FnOnce(Exit) + Send + 'static) {
    std::thread::Builder::new()
        .name("wait".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            use std::os::unix::process::ExitStatusExt;
            let exit = match child.wait() {
                Ok(status) => match status.signal() {
                    Some(sig) => Exit::Signal(sig),
                    None => Exit::Code(status.code().unwrap_or(-1)),
                },
                Err(_) => Exit::Code(-1),
            };
            done(exit);
        })
        .expect("spawn a waiter thread");
}

/// How long a group stopped with SIGINT (Ctrl-C) or SIGHUP has before SIGTERM
/// follows. A shell starts its background jobs with SIGINT ignored, so a
/// forwarded Ctrl-C alone would leave them running until the SIGKILL at the
/// end of the grace period.
pub const TERM_AFTER: Duration = Duration::from_secs(2);

/// Terminating one task's process group: the first signal (SIGTERM, or the
/// SIGINT/SIGHUP run-batch received), SIGTERM after [`TERM_AFTER`] if the
/// first was not SIGTERM, SIGKILL at the end of the grace period.
#[derive(Debug, Clone)]
pub struct Termination {
    pub group: Group,
    /// The task whose processes these are, for messages.
    pub task: String,
    /// The signal sent first.
    pub first: i32,
    /// When SIGTERM follows a first SIGINT or SIGHUP and the run says what
    /// it still waits for; `None` once done (or when SIGKILL comes first).
    step: Option<Instant>,
    /// When SIGKILL follows.
    pub deadline: Instant,
    pub killed: bool,
}

impl Termination {
    /// Sends `sig` to the group now; SIGTERM follows after [`TERM_AFTER`]
    /// (unless `sig` was SIGTERM) and SIGKILL at `grace`, unless it is gone.
    pub fn begin(group: Group, task: &str, sig: i32, grace: Duration) -> Termination {
        group.signal(sig);
        // A stopped process would hold the signal until continued.
        group.signal(libc::SIGCONT);
        let now = Instant::now();
        Termination {
            group,
            task: task.to_owned(),
            first: sig,
            step: (TERM_AFTER < grace).then_some(now + TERM_AFTER),
            deadline: now + grace,
            killed: false,
        }
    }

    /// The next moment `poll` has something to do.
    pub fn next_poll(&self) -> Instant {
        self.step.map_or(self.deadline, |s| s.min(self.deadline))
    }

    /// Sends what is due: SIGTERM after the pause, SIGKILL once the grace
    /// period is over. True when the group is found still running at the
    /// pause, so the run goes on waiting for it: the caller says so.
    pub fn poll(&mut self, now: Instant) -> bool {
        let mut waiting = false;
        if let Some(step) = self.step
            && now >= step
        {
            self.step = None;
            if self.group.alive() {
                waiting = true;
                if self.first != libc::SIGTERM {
                    self.group.signal(libc::SIGTERM);
                    self.group.signal(libc::SIGCONT);
                }
            }
        }
        if !self.killed && now >= self.deadline && self.group.alive() {
            self.group.signal(libc::SIGKILL);
            self.killed = true;
        }
        waiting
    }
}

/// The guard: a small process (run-batch itself, `__guard`) in its own process
/// group that outlives run-batch if run-batch is killed, even with SIGKILL,
/// and then ends every agent run-batch started.
///
/// It learns each agent's group over a pipe once the agent has started, and
/// run-batch says when a group is gone. That alone would miss an agent being
/// started at the moment run-batch dies, so every agent and gate also
/// carries a token in its environment ([`GUARD_VAR`]), which everything it
/// starts inherits. When the pipe closes without a goodbye, the guard ends
/// the groups it knows and the groups of every process that carries the
/// token. No agent can be missed: a child being started holds its copy of
/// the pipe's write end until its `exec` closes it (close-on-exec), so the
/// guard cannot see the pipe close before that child runs its program, with
/// the token in its environment. This keeps `posix_spawn`, twice as cheap as
/// a fork with a hook in the child. Processes that leave their group
/// (`setsid`) are found by the token too, unless they clear their
/// environment.
pub struct Guard {
    stdin: ChildStdin,
    /// The guard is gone (a write failed): nothing more is sent.
    broken: bool,
}

impl Guard {
    pub fn start(grace: Duration) -> std::io::Result<Guard> {
        let token = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.arg("__guard")
            .arg(grace.as_millis().to_string())
            .arg(&token)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Not marked itself: it must not be among its own targets.
            .env_remove(GUARD_VAR)
            .process_group(0);
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take().expect("stdin was piped");
        // One guard per process (one run per run-batch).
        let _ = GUARD_TOKEN.set(token);
        // Reap it whenever it ends; nobody needs its status.
        wait_in_background(child, |_| {});
        Ok(Guard {
            stdin,
            broken: false,
        })
    }

    pub fn watch(&mut self, group: Group) {
        self.send(&format!("+{}\n", group.0));
    }

    pub fn forget(&mut self, group: Group) {
        self.send(&format!("-{}\n", group.0));
    }

    /// A clean end: the guard exits without killing anything.
    pub fn dismiss(mut self) {
        self.send("bye\n");
    }

    fn send(&mut self, line: &str) {
        if !self.broken && self.stdin.write_all(line.as_bytes()).is_err() {
            self.broken = true;
        }
    }
}

/// The guard's own main: read groups until EOF, then terminate the rest,
/// with every group whose processes carry `token`.
pub fn guard_main(grace_ms: u64, token: &str) -> i32 {
    // The terminal's Ctrl-C and hang-up are for run-batch, not for us.
    // SAFETY: setting signal dispositions to ignore.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let mut groups = std::collections::HashSet::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line == "bye" {
            return 0;
        }
        let (op, pid) = line.split_at(1.min(line.len()));
        let Ok(pid) = pid.parse::<i32>() else {
            continue;
        };
        match op {
            "+" => {
                groups.insert(pid);
            }
            "-" => {
                groups.remove(&pid);
            }
            _ => {}
        }
    }
    let marker = format!("{GUARD_VAR}={token}");
    groups.extend(marked_groups(&marker));
    let groups: Vec<Group> = groups.into_iter().map(Group).collect();
    for g in &groups {
        g.signal(libc::SIGTERM);
        g.signal(libc::SIGCONT);
    }
    let deadline = Instant::now() + Duration::from_millis(grace_ms);
    while Instant::now() < deadline && groups.iter().any(|g| g.alive()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // And whatever they started meanwhile in groups of its own.
    let late: Vec<Group> = marked_groups(&marker).into_iter().map(Group).collect();
    for g in groups.iter().chain(&late) {
        g.signal(libc::SIGKILL);
    }
    0
}

/// The process groups of every live process whose environment holds
/// `marker` (`NAME=value`).
fn marked_groups(marker: &str) -> std::collections::HashSet<i32> {
    let mut found = std::collections::HashSet::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    let me = std::process::id().to_string();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && *n != me)
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ
            .split(|&b| b == 0)
            .any(|var| var == marker.as_bytes())
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces and parens.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        if let Some(pgrp) = fields.nth(1).and_then(|p| p.parse::<i32>().ok())
            && state != "Z"
            && pgrp > 1
        {
            found.insert(pgrp);
        }
    }
    found
}

/// Whether a process with this pid exists (for stale locks and crashed runs).
pub fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// Resolves a program name the way `execvp` would, for a clear error before
/// anything starts.
/// A name with a `/` is a path, taken relative to `base` when relative; the
/// result is absolute, so it works from any working directory.
pub fn find_program(program: &str, base: &std::path::Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = std::path::absolute(base.join(program)).ok()?;
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
}
