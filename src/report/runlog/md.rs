//! `report --format md`: takes a `RunReport`; hands on Markdown that GitHub
//! renders: the outcome, a Mermaid `gantt` (a bar per attempt, grouped by
//! section; per task or per section when a bar per attempt would pass
//! Mermaid's 50,000-character limit, which GitHub applies, and it says so),
//! cost, tokens and time per task, section, wave and run, and the critical
//! path.

use std::fmt::Write;

use super::{Attempt, GroupRow, RunReport, secs};
use crate::record::events::Spend;
use crate::report::format::{count, usd};

/// Mermaid's default `maxTextSize`, which GitHub keeps.
pub const MERMAID_LIMIT: usize = 50_000;
/// What a chart may take, leaving room for the fence and a margin.
const BUDGET: usize = MERMAID_LIMIT - 2_000;

/// How many bars the chart has: one per attempt, per task or per section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Detail {
    Attempts,
    Tasks,
    Sections,
}

pub fn render(r: &RunReport) -> String {
    let mut out = String::new();
    let file = r.file.as_deref().unwrap_or("the task file");
    let _ = writeln!(out, "# run-batch run `{}`\n", r.run);
    let _ = writeln!(out, "{}\n", headline(r, file));
    if r.outcome == "crashed" {
        let _ = writeln!(
            out,
            "> The run ended without a `run_finished` event: run-batch was killed or crashed. Attempts still open then are shown as *unfinished*, up to the run's last event.\n"
        );
    }
    if r.outcome == "running" {
        let _ = writeln!(
            out,
            "> The run is still going: this is how it stands at its last event. Attempts still running are shown up to then.\n"
        );
    }
    out.push_str(&chart_section(r));
    out.push_str(&tables(r));
    if !r.critical_path.is_empty() {
        let first = r.critical_path.first().map_or(0.0, |s| s.start_secs);
        let last = r.critical_path.last().map_or(0.0, |s| s.end_secs);
        let _ = writeln!(
            out,
            "## Critical path\n\nThe chain of attempts that ended last, each waiting for the one before it ({} of the run's {}):\n",
            secs(last - first),
            secs(r.duration_secs)
        );
        for (i, s) in r.critical_path.iter().enumerate() {
            let after = match s.after.as_str() {
                "start" => "first".to_owned(),
                "retry" => "after its own earlier attempt".to_owned(),
                "dependency" => "after a task it depends on".to_owned(),
                "wave" => "after the wave before it".to_owned(),
                _ => "when a slot was free".to_owned(),
            };
            let _ = writeln!(
                out,
                "{}. `{}` attempt {}: {} at +{}, {}, {}",
                i + 1,
                s.task,
                s.attempt,
                outcome_word(&s.outcome),
                secs(s.start_secs),
                secs(s.end_secs - s.start_secs),
                after
            );
        }
        out.push('\n');
    }
    if r.unreadable_lines > 0 || !r.unknown_events.is_empty() {
        let mut notes = Vec::new();
        if r.unreadable_lines > 0 {
            notes.push(format!(
                "{} line{} of `events.jsonl` could not be read (a crash can cut the last one)",
                r.unreadable_lines,
                crate::report::plural(r.unreadable_lines)
            ));
        }
        for (name, n) in &r.unknown_events {
            notes.push(format!(
                "{n} `{name}` event{} not shown",
                crate::report::plural(*n)
            ));
        }
        let _ = writeln!(out, "> Note: {}.\n", notes.join("; "));
    }
    out
}

fn headline(r: &RunReport, file: &str) -> String {
    let mut parts = vec![format!("**{}**", r.outcome)];
    if let Some(s) = &r.stopped {
        parts[0].push_str(&format!(" (stopped: {})", s.replace('_', " ")));
    }
    parts.push(format!("`{file}`"));
    if let (Some(done), Some(remaining)) = (r.counts.done, r.counts.remaining) {
        let mut s = format!("{done} of {} tasks done", done + remaining);
        if let Some(f) = r.counts.failed.filter(|&f| f > 0) {
            s.push_str(&format!(", {f} failed"));
        }
        parts.push(s);
    }
    parts.push(format!("started {}", r.started));
    parts.push(secs(r.duration_secs));
    parts.push(spend_words(&r.spend));
    parts.join(" · ")
}

pub fn spend_words(s: &Spend) -> String {
    if s.is_empty() {
        return "no cost or tokens reported".into();
    }
    format!(
        "{} · {} tokens in / {} out",
        usd(s.cost_usd),
        count(s.input_tokens),
        count(s.output_tokens)
    )
}

fn chart_section(r: &RunReport) -> String {
    let mut out = String::from("## Timeline\n\n");
    if r.attempts.is_empty() {
        out.push_str("No attempt started in this run.\n\n");
        return out;
    }
    let full = chart(r, Detail::Attempts);
    let full_len = full.len();
    let (detail, text) = if full.len() <= BUDGET {
        (Detail::Attempts, full)
    } else {
        let tasks = chart(r, Detail::Tasks);
        if tasks.len() <= BUDGET {
            (Detail::Tasks, tasks)
        } else {
            (Detail::Sections, chart(r, Detail::Sections))
        }
    };
    if text.len() > BUDGET {
        let _ = writeln!(
            out,
            "> The chart is left out: even one bar per section would take {} KB, over the {} KB that Mermaid (and so GitHub) renders. `run-batch report --format html` draws every attempt.\n",
            text.len() / 1000,
            MERMAID_LIMIT / 1000
        );
        return out;
    }
    if detail != Detail::Attempts {
        let _ = writeln!(
            out,
            "> One bar per {} (from its first start to its last end) instead of one per attempt: {} attempts would make the chart {} KB, over the {} KB that Mermaid (and so GitHub) renders. `run-batch report --format html` draws every attempt.\n",
            if detail == Detail::Tasks {
                "task"
            } else {
                "section"
            },
            r.attempts.len(),
            full_len / 1000,
            MERMAID_LIMIT / 1000
        );
    }
    out.push_str("```mermaid\n");
    out.push_str(&text);
    out.push_str("```\n\n");
    out.push_str(
        "Bars: **done** (grey), **failed** or **timed out** (red), **blocked** by the agent (red edge, grey), **interrupted**, **unfinished** or **running** (light blue), and *waits* before a retry or for a usage limit (blue); each bar's name ends with its outcome.\n\n",
    );
    out
}

/// The Mermaid source (without its fence).
fn chart(r: &RunReport, detail: Detail) -> String {
    let t0 = humantime::parse_rfc3339_weak(&r.started)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64);
    let ms = |s: f64| t0 + (s * 1000.0).round() as u64;
    let mut out = String::new();
    let _ = writeln!(out, "gantt");
    let _ = writeln!(out, "    title {}", label(&format!("run {}", r.run), 80));
    let _ = writeln!(out, "    dateFormat x");
    let axis = if r.duration_secs >= 3600.0 {
        "%H:%M"
    } else {
        "%H:%M:%S"
    };
    let _ = writeln!(out, "    axisFormat {axis}");
    // Bars by group, in order of each group's first start.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut push = |group: String, line: String| match groups.iter_mut().find(|(g, _)| *g == group)
    {
        Some((_, lines)) => lines.push(line),
        None => groups.push((group, vec![line])),
    };
    match detail {
        Detail::Attempts => {
            for a in &r.attempts {
                let mut text = a.task.clone();
                if a.attempt > 1 {
                    text.push_str(&format!(" attempt {}", a.attempt));
                }
                let line = bar(&text, &a.outcome, ms(a.start_secs), ms(a.end_secs));
                push(r.group_of(&a.task), line);
            }
            for w in &r.waits {
                let who = (w.task.as_deref())
                    .or(w.provider.as_deref())
                    .unwrap_or("run");
                let text = format!("{who} waits ({})", w.kind.replace('_', " "));
                push(
                    w.task.as_deref().map_or("waits".into(), |t| r.group_of(t)),
                    format!(
                        "    {} :{}, {}",
                        label(&text, 48),
                        ms(w.start_secs),
                        ms(w.end_secs.max(w.start_secs))
                    ),
                );
            }
        }
        Detail::Tasks => {
            for t in r.by_task.iter().filter(|t| t.attempts > 0) {
                let text = if t.attempts > 1 {
                    format!("{} ({} attempts)", t.id, t.attempts)
                } else {
                    t.id.clone()
                };
                let (Some(s), Some(e)) = (t.first_start_secs, t.last_end_secs) else {
                    continue;
                };
                push(r.group_of(&t.id), bar(&text, &t.outcome, ms(s), ms(e)));
            }
        }
        Detail::Sections => {
            let rows: &[GroupRow] = if r.plan_known {
                &r.by_section
            } else {
                &r.by_wave
            };
            for g in rows {
                let members: Vec<&Attempt> = (r.attempts.iter())
                    .filter(|a| r.group_of(&a.task) == g.name)
                    .collect();
                let start = members
                    .iter()
                    .map(|a| a.start_secs)
                    .fold(f64::MAX, f64::min);
                let end = members.iter().map(|a| a.end_secs).fold(0.0, f64::max);
                if members.is_empty() {
                    continue;
                }
                // How its tasks ended, not every attempt on the way.
                let worst = worst_outcome(
                    (r.by_task.iter())
                        .filter(|t| t.attempts > 0 && r.group_of(&t.id) == g.name)
                        .map(|t| t.outcome.as_str()),
                );
                let text = format!("{} ({} tasks)", g.name, g.tasks);
                push("sections".into(), bar(&text, worst, ms(start), ms(end)));
            }
        }
    }
    for (group, lines) in groups {
        let _ = writeln!(out, "    section {}", label(&group, 60));
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn bar(text: &str, outcome: &str, start: u64, end: u64) -> String {
    let tags = match outcome {
        "succeeded" => "done, ",
        "failed" | "timed_out" => "crit, ",
        "blocked" => "crit, done, ",
        "interrupted" | "unfinished" | "running" => "active, ",
        _ => "",
    };
    // Mermaid draws nothing for a bar of no length.
    let end = end.max(start + 1);
    format!(
        "    {} · {} :{tags}{start}, {end}",
        label(text, 48),
        outcome_word(outcome)
    )
}

/// The outcome that says most about a group: a failure over a success.
fn worst_outcome<'a>(outcomes: impl Iterator<Item = &'a str>) -> &'a str {
    let rank = |o: &str| match o {
        "failed" | "timed_out" => 4,
        "blocked" => 3,
        "interrupted" | "unfinished" | "running" => 2,
        "succeeded" => 1,
        _ => 0,
    };
    outcomes.max_by_key(|o| rank(o)).unwrap_or("succeeded")
}

pub fn outcome_word(outcome: &str) -> String {
    match outcome {
        "succeeded" => "done".into(),
        "blocked_by_failure" => "not started (waits for a failed task)".into(),
        other => other.replace('_', " "),
    }
}

/// Text Mermaid takes in a task or section name: no `:` (it ends the
/// name), `;` or `#` (statement and entity syntax), at most `max` chars.
fn label(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .map(|c| match c {
            ':' | ';' | '#' | '\n' | '\r' | '`' => ' ',
            c => c,
        })
        .collect();
    let clean = clean.trim();
    if clean.chars().count() <= max {
        return clean.to_owned();
    }
    let mut cut: String = clean.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

fn tables(r: &RunReport) -> String {
    let mut out = String::from("## Cost and time\n\n");
    let _ = writeln!(
        out,
        "Run: {} ({} cache read, {} cache write) · {} of agent time over {}.\n",
        spend_words(&r.spend),
        count(r.spend.cache_read_tokens),
        count(r.spend.cache_write_tokens),
        secs(r.by_task.iter().map(|t| t.busy_secs).sum()),
        secs(r.duration_secs)
    );
    if !r.by_task.is_empty() {
        out.push_str("### By task\n\n");
        out.push_str(
            "| task | section | outcome | attempts | agent time | cost | tokens in | tokens out |\n",
        );
        out.push_str("|---|---|---|--:|--:|--:|--:|--:|\n");
        for t in &r.by_task {
            let mut outcome = outcome_word(&t.outcome);
            if let Some(by) = &t.blocked_by {
                outcome = format!("not started (waits for failed `{}`)", cell(by));
            }
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
                cell(&t.id),
                cell(t.section.as_deref().unwrap_or("")),
                outcome,
                t.attempts,
                secs(t.busy_secs),
                usd(t.spend.cost_usd),
                count(t.spend.input_tokens),
                count(t.spend.output_tokens)
            );
        }
        out.push('\n');
    }
    for (title, rows) in [("By section", &r.by_section), ("By wave", &r.by_wave)] {
        if rows.len() < 2 {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        out.push_str(
            "| | tasks | attempts | agent time | wall time | cost | tokens in | tokens out |\n",
        );
        out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|\n");
        for g in rows.iter() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&g.name),
                g.tasks,
                g.attempts,
                secs(g.busy_secs),
                secs(g.span_secs),
                usd(g.spend.cost_usd),
                count(g.spend.input_tokens),
                count(g.spend.output_tokens)
            );
        }
        out.push('\n');
    }
    out
}

/// Text for a table cell: a `|` would end it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_mermaid_syntax_out() {
        assert_eq!(label("a: b; c #1", 40), "a  b  c  1");
        assert_eq!(label("abcdef", 4), "abc…");
    }
}
