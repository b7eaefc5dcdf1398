//! Live messages to a running agent that reads user turns on stdin (Claude
//! Code with `--input-format stream-json`): its prompt goes in as the first
//! user message, handoff messages (and `then=tell` checkpoint output) follow
//! while it works, and stdin is closed once its `result` came, so it ends.
//!
//! Takes the agent's stdin and texts; hands on JSON lines, written by one
//! thread so the run loop never waits on a full pipe. Never decides who gets
//! what: the engine does.

use std::io::Write;
use std::process::ChildStdin;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

/// The open stdin of one attempt's agent.
#[derive(Debug)]
pub struct Inbox {
    tx: Mutex<Option<Sender<String>>>,
}

/// One stream-json user message: `{"type":"user","message":{…}}` and a newline.
pub fn user_message(text: &str) -> String {
    let mut line = serde_json::json!({
        "type": "user",
        "message": { "role": "user", "content": text },
    })
    .to_string();
    line.push('\n');
    line
}

impl Inbox {
    /// Starts the writer of `stdin` with `first` (the prompt) as the first
    /// message.
    pub fn start(stdin: ChildStdin, first: &str) -> std::io::Result<Arc<Inbox>> {
        let (tx, rx) = channel::<String>();
        tx.send(user_message(first)).expect("the receiver is here");
        std::thread::Builder::new()
            .name("inbox".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let mut stdin = stdin;
                for line in rx {
                    // The agent is gone (or closed its end): nothing more goes in.
                    if stdin
                        .write_all(line.as_bytes())
                        .and_then(|()| stdin.flush())
                        .is_err()
                    {
                        break;
                    }
                }
                // Dropping it closes the pipe: the agent sees the end of input.
            })?;
        Ok(Arc::new(Inbox {
            tx: Mutex::new(Some(tx)),
        }))
    }

    /// Sends `text` as a user message; false once the inbox is closed.
    pub fn send(&self, text: &str) -> bool {
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .is_some_and(|tx| tx.send(user_message(text)).is_ok())
    }

    /// No more messages: stdin closes once what was sent is written.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    pub fn is_open(&self) -> bool {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_message_is_one_json_line() {
        let line = user_message("use \"q\"\nnot `query`");
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "user");
        assert_eq!(v["message"]["role"], "user");
        assert_eq!(v["message"]["content"], "use \"q\"\nnot `query`");
    }
}
