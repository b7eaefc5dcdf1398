//! Errors and warnings as `file:line:column` with the source line and a caret.

use std::fmt::Write;

use crate::error::{Error, Location};
use crate::report::style::{self, Tone};
use crate::run::check::{Finding, Severity};
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
                "{} {n} problem{} in the task file; nothing was run",
                label("error"),
                crate::report::plural(n)
            );
        }
        _ => {
            let _ = writeln!(out, "{} {e}", label("error"));
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

/// A finding of `run-batch check`: with the line and a caret when it has a
/// place, else `file: message`.
pub fn render_finding(f: &Finding) -> String {
    let level = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = String::new();
    match (f.line, f.column, &f.line_text) {
        (Some(line), Some(column), Some(text)) => {
            let at = Location {
                path: f.file.clone().into(),
                span: crate::taskfile::Span::new(0, f.len, line, column),
                line_text: text.clone(),
            };
            located(&mut out, level, &at, &f.message, f.fix.clone());
        }
        _ => {
            let _ = writeln!(out, "{} {}: {}", label(level), f.file, f.message);
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "  = help: {fix}");
            }
        }
    }
    out
}

/// `error:` or `warning:`, coloured for stderr.
fn label(level: &str) -> String {
    let tone = if level == "error" {
        Tone::Bad
    } else {
        Tone::Warn
    };
    style::err(tone, &format!("{level}:"))
}

fn located(out: &mut String, level: &str, at: &Location, message: &str, help: Option<String>) {
    let gutter = at.span.line().to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{} {message}", label(level));
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        at.path.display(),
        at.span.line(),
        at.span.column()
    );
    let _ = writeln!(out, "{pad} |");
    // A NUL byte shows as `␀`: one character for one, so the caret holds.
    let _ = writeln!(
        out,
        "{} | {}",
        at.span.line(),
        at.line_text.replace('\0', "␀")
    );
    // The span's length is in bytes; the caret is one `^` per character.
    let mut bytes = 0;
    let width = at
        .line_text
        .chars()
        .skip(at.span.column() - 1)
        .take_while(|c| {
            bytes += c.len_utf8();
            bytes <= at.span.len()
        })
        .count()
        .max(1);
    let lead: String = at
        .line_text
        .chars()
        .take(at.span.column() - 1)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(width));
    if let Some(help) = help {
        let _ = writeln!(out, "{pad} = help: {help}");
    }
}
