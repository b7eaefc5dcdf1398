//! Errors and warnings as `file:line:column` with the source line and a caret.

use std::fmt::Write;

use crate::error::{Error, Location};
use crate::taskfile::Warning;

pub fn render_error(e: &Error) -> String {
    let mut out = String::new();
    match e {
        Error::Invalid {
            diagnostics,
            warnings,
        } => {
            for w in warnings {
                out.push_str(&render_warning(w));
            }
            for d in diagnostics {
                located(
                    &mut out,
                    "error",
                    &d.at,
                    &d.error.to_string(),
                    d.error.help(),
                );
            }
            let n = diagnostics.len();
            let _ = writeln!(
                out,
                "error: {n} problem{} in the task file; nothing was run",
                crate::report::plural(n)
            );
        }
        _ => {
            let _ = writeln!(out, "error: {e}");
            if let Some(help) = e.help() {
                let _ = writeln!(out, "  = help: {help}");
            }
        }
    }
    out
}

pub fn render_warning(w: &Warning) -> String {
    let mut out = String::new();
    located(&mut out, "warning", &w.at, &w.message, None);
    out
}

fn located(out: &mut String, level: &str, at: &Location, message: &str, help: Option<String>) {
    let gutter = at.span.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{level}: {message}");
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        at.path.display(),
        at.span.line,
        at.span.column
    );
    let _ = writeln!(out, "{pad} |");
    // A NUL byte shows as `␀`: one character for one, so the caret holds.
    let _ = writeln!(
        out,
        "{} | {}",
        at.span.line,
        at.line_text.replace('\0', "␀")
    );
    // The span's length is in bytes; the caret is one `^` per character.
    let mut bytes = 0;
    let width = at
        .line_text
        .chars()
        .skip(at.span.column - 1)
        .take_while(|c| {
            bytes += c.len_utf8();
            bytes <= at.span.len
        })
        .count()
        .max(1);
    let lead: String = at
        .line_text
        .chars()
        .take(at.span.column - 1)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(width));
    if let Some(help) = help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
}
