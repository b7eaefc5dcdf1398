//! Where run-batch's own words go: stdout for one-shot commands (a closed
//! pipe ends them quietly), stderr for everything else (a closed stderr
//! never ends a run). Takes text; writes it.

use std::io::Write;

/// Writes to stderr. A closed stderr (`2>&1 | head` that has seen enough, a
/// pager quit) stops the output, never the run: the error is dropped, and
/// the run goes on to tick, record and exit as it would have.
pub fn to_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Writes to stdout for a one-shot command (`plan`, `status`, `tick`, a dry
/// run); a closed pipe (`| head`) ends the program quietly. `run` never
/// calls it: its output must not end it (see `report::live`).
pub fn print_stdout(s: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        stdout_failed(e);
    }
}

/// Stdout for a one-shot command whose output is written as it is made (a
/// dry run of 100,000 tasks is too much to hold first), in large writes; a
/// failed write ends the program as [`print_stdout`]'s does. Written to
/// through `std::fmt::Write`, so the writer never sees an error.
pub struct StreamedStdout(std::io::BufWriter<std::io::StdoutLock<'static>>);

impl StreamedStdout {
    pub fn new() -> StreamedStdout {
        // Its pieces are small: gathered into 64 KiB writes.
        StreamedStdout(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout().lock(),
        ))
    }

    /// Everything written, flushed.
    pub fn finish(mut self) {
        if let Err(e) = self.0.flush() {
            stdout_failed(e);
        }
    }
}

impl Default for StreamedStdout {
    fn default() -> StreamedStdout {
        StreamedStdout::new()
    }
}

impl std::fmt::Write for StreamedStdout {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if let Err(e) = self.0.write_all(s.as_bytes()) {
            stdout_failed(e);
        }
        Ok(())
    }
}

pub fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    to_stderr(&format!("error: cannot write to stdout: {e}\n"));
    std::process::exit(2);
}
