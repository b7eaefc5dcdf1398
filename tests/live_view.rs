//! The live view as an 80-column terminal shows it: run-batch runs under
//! `script` (a real pseudo-terminal), its output goes through a terminal
//! emulator (vt100), and Ctrl-C is typed into the terminal, so the kernel's
//! own handling of the interrupt character is part of the test.

mod common;
#[path = "support/skip.rs"]
mod skip;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Test;
use common::agents::*;

const COLS: u16 = 80;
const ROWS: u16 = 60;

fn script_available() -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("script").is_file())
}

/// A spinner's glyph (braille patterns).
fn is_spinner(c: char) -> bool {
    ('\u{2801}'..='\u{28ff}').contains(&c)
}

/// The screen's rows, trailing blanks cut.
fn rows(screen: &vt100::Screen) -> Vec<String> {
    screen
        .rows(0, COLS)
        .map(|r| r.trim_end().to_owned())
        .collect()
}

/// Runs `run-batch ARGS` in `dir` in an 80-column terminal. Each time the
/// screen changes, `at` sees it and may answer with bytes to type; returns
/// the exit status and the last screen.
fn in_terminal(
    dir: &Path,
    args: &[&str],
    mut at: impl FnMut(&vt100::Screen) -> Option<&'static [u8]>,
) -> (i32, vt100::Screen) {
    let line = format!(
        "stty cols {COLS} rows {ROWS}; exec {} {}",
        common::BIN,
        args.join(" ")
    );
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &line, "/dev/null"])
        .current_dir(dir)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm-256color")
        .env("FAKE_LOG", dir.join(FAKE_LOG))
        .env("FAKE_PIDS", dir.join(FAKE_PIDS))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start script");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut parser = vt100::Parser::new(
        std::num::NonZero::new(ROWS).unwrap(),
        std::num::NonZero::new(COLS).unwrap(),
        0,
    );
    let start = Instant::now();
    let status = loop {
        while let Ok(chunk) = rx.try_recv() {
            parser.process(&chunk);
            if let Some(keys) = at(parser.screen()) {
                let _ = stdin.write_all(keys);
                let _ = stdin.flush();
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            // What is left in the pipe.
            while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
                parser.process(&chunk);
            }
            break status.code().unwrap_or(-1);
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            kill_agents(dir);
            panic!(
                "the run did not finish within {PATIENCE:?}; the screen:\n{}",
                rows(parser.screen()).join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(stdin);
    (status, parser.screen().clone())
}

const LONG: &str = "a-very-long-task-id-that-would-not-fit-beside-its-progress-at-eighty-columns";

#[test]
fn at_80_columns_each_task_keeps_one_line_and_ctrl_c_leaves_nothing_behind() {
    if !script_available() {
        skip::skip_or_fail("`script` (util-linux) is not installed; the live view was not tested");
        return;
    }
    let t = Test::new().fake_agent().file(
        "t.md",
        &format!(
            "# P\n\
             - [ ] progress=step-one hang <!-- id: {LONG}-1 -->\n\
             - [ ] hang <!-- id: {LONG}-2 -->\n\
             - [ ] hang <!-- id: short -->\n"
        ),
    );
    let dir = t.path().to_owned();
    let mut running: Option<Vec<String>> = None;
    let (status, screen) = in_terminal(&dir, &["t.md", "--agent", "fake-agent", "-j", "3"], |s| {
        let r = rows(s);
        if running.is_none() && r.iter().any(|l| l.contains("step-one")) {
            running = Some(r);
            return Some(b"\x03");
        }
        None
    });
    let running = running.expect("the progress line showed");
    let spinners: Vec<&String> = running
        .iter()
        .filter(|l| l.chars().any(is_spinner))
        .collect();
    assert_eq!(
        spinners.len(),
        3,
        "one line per task:\n{}",
        running.join("\n")
    );
    // Where each line's elapsed time (`3s`) ends.
    let elapsed_end = |l: &str| -> Option<usize> {
        let c: Vec<char> = l.chars().collect();
        (1..c.len()).find(|&i| {
            c[i] == 's' && c[i - 1].is_ascii_digit() && c.get(i + 1).is_none_or(|&n| n == ' ')
        })
    };
    for line in &spinners {
        // The id, shortened in the middle, and its elapsed time.
        assert!(line.chars().count() <= usize::from(COLS), "{line}");
        assert!(elapsed_end(line).is_some(), "elapsed time: {line}");
    }
    let one = spinners.iter().find(|l| l.contains("-1 ")).expect("task 1");
    assert!(one.contains('…') && one.contains("step-one"), "{one}");
    assert!(
        spinners.iter().any(|l| l.contains("short ")),
        "{spinners:?}"
    );
    // The columns line up: each elapsed time ends at the same column.
    let ends: Vec<usize> = spinners.iter().map(|l| elapsed_end(l).unwrap()).collect();
    assert!(ends.windows(2).all(|w| w[0] == w[1]), "{spinners:#?}");
    // The line after the spinners is the overall bar, not a wrapped rest.
    let last = running
        .iter()
        .rposition(|l| l.chars().any(is_spinner))
        .unwrap();
    assert!(running[last + 1].contains("0/3 done"), "{running:#?}");

    assert_eq!(status, 130);
    let after = rows(&screen);
    assert!(
        !after.iter().any(|l| l.chars().any(is_spinner)),
        "a spinner line stayed on the screen:\n{}",
        after.join("\n")
    );
    assert!(!after.iter().any(|l| l.contains("0/3 done")), "{after:#?}");
    assert!(
        after.iter().any(|l| l.starts_with("stopping: SIGINT")),
        "{after:#?}"
    );
    kill_agents(&dir);
}

#[test]
fn the_failed_count_counts_tasks_that_failed_for_good() {
    if !script_available() {
        skip::skip_or_fail("`script` (util-linux) is not installed; the live view was not tested");
        return;
    }
    let t = Test::new().fake_agent().file(
        "t.md",
        "# P\n- [ ] retried fail-once <!-- id: retried -->\n- [ ] broken fail <!-- id: broken -->\n- [ ] slow sleep=4 <!-- id: slow -->\n",
    );
    let dir = t.path().to_owned();
    let mut seen: Option<String> = None;
    let (status, _) = in_terminal(
        &dir,
        &["t.md", "--agent", "fake-agent", "-j", "3", "--retries", "1"],
        |s| {
            let r = rows(s);
            // Once `retried` succeeded and `broken` failed twice.
            let done = r.iter().any(|l| l.starts_with("done     retried"));
            let broken = r
                .iter()
                .filter(|l| l.starts_with("FAILED   broken"))
                .count();
            if seen.is_none()
                && done
                && broken == 2
                && let Some(bar) = r.iter().find(|l| l.contains(" done"))
                && bar.contains("/3 done")
            {
                seen = Some(bar.clone());
            }
            None
        },
    );
    let bar = seen.expect("the overall line after the retries");
    assert!(bar.contains("1/3 done · 1 failed"), "{bar}");
    assert_eq!(status, 1);
}
