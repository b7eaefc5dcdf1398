//! Activities: the one line the live view shows for what an agent is doing
//! (`Edit src/x.rs`, `Bash cargo test`, the first line of its text). Takes
//! pieces of events from the stream readers; hands on short clean lines.
//! Never reads events itself.

use serde_json::Value;

/// Longest activity shown in the live view, in chars (the ellipsis included).
pub(super) const ACTIVITY_MAX: usize = 120;
/// Input keys naming a tool call's main argument, most telling first.
const MAIN_ARGS: [&str; 9] = [
    "file_path",
    "path",
    "command",
    "pattern",
    "url",
    "query",
    "notebook_path",
    "dir_path",
    "absolute_path",
];

/// `<name> <main argument>`: the first string among the input's usual keys.
pub(super) fn tool_activity(name: Option<&str>, input: Option<&Value>) -> Option<String> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("tool");
    let arg = input
        .and_then(Value::as_object)
        .and_then(|i| {
            MAIN_ARGS
                .iter()
                .find_map(|k| i.get(*k).and_then(Value::as_str))
        })
        .and_then(first_line);
    tool_line(name, arg)
}

pub(super) fn tool_line(name: &str, arg: Option<&str>) -> Option<String> {
    match arg {
        Some(arg) => clip(&format!("{name} {arg}")),
        None => clip(name),
    }
}

pub(super) fn edit_line(first: Option<&str>, more: usize) -> Option<String> {
    let line = tool_line("Edit", first.and_then(first_line))?;
    if more == 0 {
        return Some(line);
    }
    clip(&format!("{line} (+{more} more)"))
}

/// The first line that is not blank, trimmed.
pub fn first_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).find(|l| !l.is_empty())
}

/// An activity: the first non-blank line, control characters (escape
/// sequences would garble the live view) made spaces, at most
/// `ACTIVITY_MAX` chars with `…` marking a cut.
pub(super) fn clip(s: &str) -> Option<String> {
    s.lines().find_map(|line| {
        let clean: String = line
            .chars()
            .take(ACTIVITY_MAX * 4)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let clean = clean.trim();
        if clean.is_empty() {
            return None;
        }
        if clean.chars().count() <= ACTIVITY_MAX {
            return Some(clean.to_owned());
        }
        let mut cut: String = clean.chars().take(ACTIVITY_MAX - 1).collect();
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        Some(cut)
    })
}
