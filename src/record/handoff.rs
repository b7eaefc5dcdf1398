//! Handoffs: messages between the agents of a run, and from people to them
//! (`run-batch handoff post` and `read`).
//!
//! Takes a message (sender, addressee, kind, text) and the state folder;
//! stores it as one file in `handoffs/live/`, written atomically; hands on
//! the messages addressed to a task, and what a reader has not read yet.
//! A message's file name is made here, never taken from anyone, so no
//! message can name a path outside its folder. Never delivers anything
//! itself: the run puts messages into prompts and events.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The longest message (bytes of text).
pub const MAX_TEXT: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Something worth knowing
    Note,
    /// A changed interface others build on (an API, a schema, a file format)
    Contract,
    /// Something that stops the sender, or will stop the addressee
    Blocker,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Note => "note",
            Kind::Contract => "contract",
            Kind::Blocker => "blocker",
        }
    }
}

/// One message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Its file's name without `.json`: sortable by time.
    pub id: String,
    /// The sending task's id, or `person`.
    pub from: String,
    /// A task id, a section id, or `all`.
    pub to: String,
    pub kind: Kind,
    pub text: String,
    /// RFC 3339.
    pub time: String,
    /// The run it was posted during, if one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// The folder of a task file's handoffs: `.run-batch/<file>/handoffs/live/`.
pub fn live_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("handoffs").join("live")
}

/// Stores a message; returns it as stored.
pub fn post(
    state_dir: &Path,
    from: &str,
    to: &str,
    kind: Kind,
    text: &str,
    run: Option<&str>,
) -> std::io::Result<Message> {
    let dir = live_dir(state_dir);
    std::fs::create_dir_all(&dir)?;
    let now = std::time::SystemTime::now();
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Time first (they sort by it), then the pid: unique per poster.
    let id = format!("{nanos:020}-{}", std::process::id());
    let message = Message {
        id: id.clone(),
        from: from.to_owned(),
        to: to.to_owned(),
        kind,
        text: text.to_owned(),
        time: humantime::format_rfc3339_millis(now).to_string(),
        run: run.map(str::to_owned),
    };
    let bytes = serde_json::to_vec_pretty(&message).expect("a message serialises");
    // Written beside, then renamed in: a reader never sees half a message.
    let mut tmp = tempfile::Builder::new()
        .prefix(".posting.")
        .tempfile_in(&dir)?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.persist(dir.join(format!("{id}.json")))
        .map_err(|e| e.error)?;
    Ok(message)
}

/// Every message, oldest first (unreadable files are skipped).
pub fn all(state_dir: &Path) -> Vec<Message> {
    let Ok(entries) = std::fs::read_dir(live_dir(state_dir)) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    names
        .iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect()
}

/// Whether a message is for task `task`, which sits in sections
/// `sections` (their ids, innermost first).
pub fn addressed_to(m: &Message, task: &str, sections: &[&str]) -> bool {
    m.from != task && (m.to == "all" || m.to == task || sections.contains(&m.to.as_str()))
}

/// What `reader` has not read yet, and marks it read.
pub fn unread(state_dir: &Path, reader: &str, mine: impl Fn(&Message) -> bool) -> Vec<Message> {
    let mark = state_dir
        .join("handoffs")
        .join("read")
        .join(crate::record::state::file_stem_for(reader));
    let seen = std::fs::read_to_string(&mark).unwrap_or_default();
    let new: Vec<Message> = all(state_dir)
        .into_iter()
        .filter(|m| m.id.as_str() > seen.trim())
        .collect();
    if let Some(last) = new.last() {
        if let Some(dir) = mark.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&mark, &last.id);
    }
    new.into_iter().filter(|m| mine(m)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_messages_are_read_once_by_whom_they_are_for() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        post(
            state,
            "api",
            "ui",
            Kind::Contract,
            "GET /search now takes `q`",
            None,
        )
        .unwrap();
        post(state, "person", "all", Kind::Note, "lunch", None).unwrap();
        post(
            state,
            "db",
            "backend",
            Kind::Blocker,
            "the schema changed",
            None,
        )
        .unwrap();
        let for_ui = |m: &Message| addressed_to(m, "ui", &["frontend"]);
        let got: Vec<String> = unread(state, "ui", for_ui)
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(got, ["GET /search now takes `q`", "lunch"]);
        assert!(unread(state, "ui", for_ui).is_empty(), "read once");
        let for_api = |m: &Message| addressed_to(m, "api", &["backend"]);
        let got: Vec<String> = unread(state, "api", for_api)
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(got, ["lunch", "the schema changed"], "not its own");
    }
}
