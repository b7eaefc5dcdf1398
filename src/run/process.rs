//! Unix process control: agents in their own process groups, one function to
//! terminate a group (SIGTERM → grace → SIGKILL), a reaper thread that turns
//! child exits into events, and the guard that kills every agent group if
//! run-batch itself dies.
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

/// Puts the command's process in a new process group of its own.
pub fn own_group(cmd: &mut Command) {
    cmd.process_group(0);
}

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

/// Terminating one agent: the signal sent, when, and whether SIGKILL followed.
#[derive(Debug, Clone)]
pub struct Termination {
    pub group: Group,
    pub deadline: Instant,
    pub killed: bool,
}

impl Termination {
    /// Sends `sig` to the group now; SIGKILL follows at `grace` unless it is gone.
    pub fn begin(group: Group, sig: i32, grace: Duration) -> Termination {
        group.signal(sig);
        // A stopped process would hold the signal until continued.
        group.signal(libc::SIGCONT);
        Termination {
            group,
            deadline: Instant::now() + grace,
            killed: false,
        }
    }

    /// Escalates to SIGKILL once the grace period is over.
    pub fn poll(&mut self, now: Instant) {
        if !self.killed && now >= self.deadline && self.group.alive() {
            self.group.signal(libc::SIGKILL);
            self.killed = true;
        }
    }
}

/// The guard: a small process (run-batch itself, `__guard`) in its own process
/// group that learns every agent group over a pipe. When the pipe closes
/// without a goodbye — run-batch was killed, even with SIGKILL — it terminates
/// every group it still knows. Agents' grandchildren are in those groups, so
/// they die too; only processes that leave their group (setsid) escape.
pub struct Guard {
    stdin: Option<ChildStdin>,
}

impl Guard {
    pub fn start(grace: Duration) -> std::io::Result<Guard> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.arg("__guard")
            .arg(grace.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        own_group(&mut cmd);
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        // Reap it whenever it ends; nobody needs its status.
        wait_in_background(child, |_| {});
        Ok(Guard { stdin })
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
        self.stdin.take();
    }

    fn send(&mut self, line: &str) {
        if let Some(s) = self.stdin.as_mut()
            && s.write_all(line.as_bytes()).is_err()
        {
            self.stdin = None;
        }
    }
}

/// The guard's own main: read groups until EOF, then terminate the rest.
pub fn guard_main(grace_ms: u64) -> i32 {
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
    let groups: Vec<Group> = groups.into_iter().map(Group).collect();
    for g in &groups {
        g.signal(libc::SIGTERM);
        g.signal(libc::SIGCONT);
    }
    let deadline = Instant::now() + Duration::from_millis(grace_ms);
    while Instant::now() < deadline && groups.iter().any(|g| g.alive()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for g in &groups {
        g.signal(libc::SIGKILL);
    }
    0
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
