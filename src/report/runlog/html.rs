//! `report --format html`: takes a `RunReport`; hands on one self-contained
//! page (inline CSS and SVG; no script, no font, nothing fetched): the
//! timeline with one lane per slot and spans coloured by outcome, waits in
//! rows of their own, the critical path outlined and listed, and the cost
//! tables.

use std::fmt::Write;

use super::md::outcome_word;
use super::{GroupRow, RunReport, secs};
use crate::report::format::{count, usd};

/// Width of the plot, in SVG units (the page scales it to fit).
const PLOT: f64 = 1000.0;
/// Left gutter for lane names.
const GUTTER: f64 = 70.0;
const LANE: f64 = 26.0;
const WAIT_ROW: f64 = 12.0;
const AXIS: f64 = 22.0;

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#1d2330;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.6em 0 .5em}
.outcome{display:inline-block;padding:.05em .5em;border-radius:.3em;color:#fff;font-weight:600}
.outcome.succeeded{background:#2f8a57}.outcome.failed,.outcome.crashed{background:#c73a3a}.outcome.interrupted,.outcome.running{background:#6b7a90}
svg{width:100%;height:auto;display:block}
.lane-name,.tick{font-size:11px;fill:#555}.lane-line{stroke:#e4e7ec}.tick-line{stroke:#eef0f3}
.span{stroke:#fff;stroke-width:1}.span-label{font-size:11px;fill:#fff;pointer-events:none}
.succeeded{fill:#3b9b66}.failed,.timed_out{fill:#d14b4b}.blocked{fill:#e0a030}.interrupted,.unfinished,.running{fill:#8391a7}
.span.critical{stroke:#111;stroke-width:2.5}
.wait{fill:url(#hatch);stroke:#999;stroke-dasharray:3 2}
.legend span{display:inline-block;margin-right:1.2em}.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em;border-radius:2px}
.legend .critical{outline:2.5px solid #111;outline-offset:-2px;background:#ddd}.legend .waiting{background:repeating-linear-gradient(45deg,#bbb 0 2px,#fff 2px 5px)}
table{border-collapse:collapse;margin:.3em 0 1em}th,td{padding:.25em .7em;border-bottom:1px solid #e4e7ec;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.92em}
.note{color:#555;border-left:3px solid #ccc;padding-left:.7em}
";

pub fn render(r: &RunReport) -> String {
    let mut out = String::new();
    let file = r.file.as_deref().unwrap_or("the task file");
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>run-batch run {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&r.run)
    );
    let _ = writeln!(
        out,
        "<header>\n<h1>run-batch run <code>{}</code> of <code>{}</code></h1>",
        esc(&r.run),
        esc(file)
    );
    let mut facts = vec![format!(
        "<span class=\"outcome {}\" id=\"outcome\">{}</span>",
        esc(&r.outcome),
        esc(&r.outcome)
    )];
    if let Some(s) = &r.stopped {
        facts.push(format!("stopped: {}", esc(&s.replace('_', " "))));
    }
    if let (Some(done), Some(remaining)) = (r.counts.done, r.counts.remaining) {
        facts.push(format!("{done} of {} tasks done", done + remaining));
    }
    facts.push(format!("started {}", esc(&r.started)));
    facts.push(secs(r.duration_secs));
    facts.push(super::md::spend_words(&r.spend));
    let _ = writeln!(out, "<p>{}</p>\n</header>", facts.join(" · "));
    if r.outcome == "crashed" {
        out.push_str(
            "<p class=\"note\">The run ended without saying how: run-batch was killed or crashed. Attempts still open then are drawn as unfinished, up to the run's last event.</p>\n",
        );
    }
    if r.outcome == "running" {
        out.push_str(
            "<p class=\"note\">The run is still going: this is how it stands at its last event.</p>\n",
        );
    }
    out.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
    if r.attempts.is_empty() {
        out.push_str("<p>No attempt started in this run.</p>\n");
    } else {
        out.push_str(&timeline(r));
        out.push_str(
            "<p class=\"legend\"><span><i class=\"succeeded\" style=\"background:#3b9b66\"></i>done</span>\
             <span><i style=\"background:#d14b4b\"></i>failed or timed out</span>\
             <span><i style=\"background:#e0a030\"></i>blocked</span>\
             <span><i style=\"background:#8391a7\"></i>interrupted or unfinished</span>\
             <span><i class=\"waiting\"></i>waiting (no agent runs)</span>\
             <span><i class=\"critical\"></i>critical path</span></p>\n",
        );
    }
    out.push_str("</section>\n");
    out.push_str(&critical(r));
    out.push_str(&tables(r));
    if r.unreadable_lines > 0 || !r.unknown_events.is_empty() {
        let mut notes = Vec::new();
        if r.unreadable_lines > 0 {
            notes.push(format!(
                "{} unreadable line(s) in events.jsonl",
                r.unreadable_lines
            ));
        }
        for (name, n) in &r.unknown_events {
            notes.push(format!("{n} <code>{}</code> event(s) not shown", esc(name)));
        }
        let _ = writeln!(out, "<p class=\"note\">{}</p>", notes.join("; "));
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn timeline(r: &RunReport) -> String {
    let span = r
        .attempts
        .iter()
        .map(|a| a.end_secs)
        .chain(r.waits.iter().map(|w| w.end_secs))
        .fold(r.duration_secs, f64::max)
        .max(0.001);
    let x = |s: f64| GUTTER + s / span * PLOT;
    // Waits get rows of their own, packed like lanes.
    let mut wait_rows: Vec<f64> = Vec::new();
    let mut wait_row = Vec::new();
    for w in &r.waits {
        let row = match wait_rows.iter().position(|&end| end <= w.start_secs) {
            Some(i) => i,
            None => {
                wait_rows.push(0.0);
                wait_rows.len() - 1
            }
        };
        wait_rows[row] = w.end_secs;
        wait_row.push(row);
    }
    let lanes_h = r.lanes as f64 * LANE;
    let height = lanes_h + wait_rows.len() as f64 * WAIT_ROW + AXIS + 6.0;
    let width = GUTTER + PLOT + 10.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg id=\"lanes\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"timeline: {} attempts on {} lanes\">",
        r.attempts.len(),
        r.lanes
    );
    out.push_str(
        "<defs><pattern id=\"hatch\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"2\" height=\"5\" fill=\"#bbb\"/></pattern></defs>\n",
    );
    // Axis ticks at a round step.
    let step = tick_step(span);
    let mut t = 0.0;
    while t <= span + 1e-9 {
        let _ = writeln!(
            out,
            "<line class=\"tick-line\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"0\" y2=\"{1:.1}\"/><text class=\"tick\" x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">+{3}</text>",
            x(t),
            height - AXIS,
            height - 6.0,
            clock(t, step)
        );
        t += step;
    }
    for lane in 0..r.lanes {
        let y = lane as f64 * LANE;
        let _ = writeln!(
            out,
            "<text class=\"lane-name\" x=\"4\" y=\"{:.1}\">slot {}</text><line class=\"lane-line\" x1=\"{GUTTER}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
            y + LANE / 2.0 + 4.0,
            lane + 1,
            GUTTER + PLOT,
            y + LANE,
            y + LANE
        );
    }
    let critical: std::collections::HashSet<(&str, u32)> = (r.critical_path.iter())
        .map(|s| (s.task.as_str(), s.attempt))
        .collect();
    for a in &r.attempts {
        let x0 = x(a.start_secs);
        let w = (x(a.end_secs) - x0).max(1.5);
        let y = (a.lane - 1) as f64 * LANE + 2.0;
        let mut tip = format!(
            "{} · attempt {} · {} · {}",
            a.task,
            a.attempt,
            outcome_word(&a.outcome),
            secs(a.end_secs - a.start_secs)
        );
        if let Some(s) = &a.spend {
            tip.push_str(&format!(
                " · {} · {} tokens in / {} out",
                usd(s.cost_usd),
                count(s.input_tokens),
                count(s.output_tokens)
            ));
        }
        if let Some(reason) = &a.reason {
            tip.push_str(&format!(" · {reason}"));
        }
        if a.flaky {
            tip.push_str(" · flaky: an earlier attempt failed");
        }
        let crit = critical.contains(&(a.task.as_str(), a.attempt));
        let _ = writeln!(
            out,
            "<rect class=\"span {}{}\" data-task=\"{}\" data-attempt=\"{}\" data-outcome=\"{}\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"3\"><title>{}</title></rect>",
            esc(&a.outcome),
            if crit { " critical" } else { "" },
            esc(&a.task),
            a.attempt,
            esc(&a.outcome),
            LANE - 4.0,
            esc(&tip)
        );
        // A name inside the bar when it fits (about 6.5 units a letter).
        let fits = ((w - 8.0) / 6.5) as usize;
        if fits >= 4 {
            let mut name: String = a.task.chars().take(fits).collect();
            if a.task.chars().count() > fits {
                name.pop();
                name.push('…');
            }
            let _ = writeln!(
                out,
                "<text class=\"span-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x0 + 4.0,
                y + LANE / 2.0 + 2.0,
                esc(&name)
            );
        }
    }
    for (w, row) in r.waits.iter().zip(wait_row) {
        let x0 = x(w.start_secs);
        let width = (x(w.end_secs) - x0).max(1.5);
        let y = lanes_h + row as f64 * WAIT_ROW + 2.0;
        let task = (w.task.as_deref())
            .or(w.provider.as_deref())
            .unwrap_or("the run");
        let _ = writeln!(
            out,
            "<rect class=\"wait\" data-task=\"{}\" data-kind=\"{}\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{:.1}\"><title>{} waits ({}) for {}</title></rect>",
            esc(task),
            esc(&w.kind),
            WAIT_ROW - 3.0,
            esc(task),
            esc(&w.kind.replace('_', " ")),
            secs(w.end_secs - w.start_secs)
        );
    }
    if !r.waits.is_empty() {
        let _ = writeln!(
            out,
            "<text class=\"lane-name\" x=\"4\" y=\"{:.1}\">waiting</text>",
            lanes_h + WAIT_ROW - 2.0
        );
    }
    out.push_str("</svg>\n");
    out
}

/// 1, 2 or 5 times a power of ten seconds (or round minutes), for about
/// eight ticks.
fn tick_step(span: f64) -> f64 {
    let raw = span / 8.0;
    let mut step = 1.0;
    for candidate in [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        14400.0,
    ] {
        step = candidate;
        if candidate >= raw {
            break;
        }
    }
    if raw < 1.0 {
        // Sub-second runs: tenths.
        step = ((raw * 10.0).ceil() / 10.0).max(0.1);
    }
    step
}

/// `0:05`, `12:30`, `1:02:03`; `0.4s` for steps under a second.
fn clock(s: f64, step: f64) -> String {
    if step < 1.0 {
        return format!("{s:.1}s");
    }
    let s = s.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn critical(r: &RunReport) -> String {
    let mut out = String::from("<section id=\"critical-path\">\n<h2>Critical path</h2>\n");
    if r.critical_path.is_empty() {
        out.push_str("<p>No attempt started in this run.</p>\n</section>\n");
        return out;
    }
    let first = r.critical_path.first().map_or(0.0, |s| s.start_secs);
    let last = r.critical_path.last().map_or(0.0, |s| s.end_secs);
    let _ = writeln!(
        out,
        "<p>The chain of attempts that ended last, each waiting for the one before it: {} of the run's {}.</p>\n<ol>",
        secs(last - first),
        secs(r.duration_secs)
    );
    for s in &r.critical_path {
        let after = match s.after.as_str() {
            "start" => "first",
            "retry" => "after its own earlier attempt",
            "dependency" => "after a task it depends on",
            "wave" => "after the wave before it",
            _ => "when a slot was free",
        };
        let _ = writeln!(
            out,
            "<li data-task=\"{}\"><code>{}</code> attempt {}: {} at +{}, {}, {after}</li>",
            esc(&s.task),
            esc(&s.task),
            s.attempt,
            esc(&outcome_word(&s.outcome)),
            secs(s.start_secs),
            secs(s.end_secs - s.start_secs)
        );
    }
    out.push_str("</ol>\n</section>\n");
    out
}

fn tables(r: &RunReport) -> String {
    let mut out = String::from("<section id=\"cost\">\n<h2>Cost and time</h2>\n");
    let _ = writeln!(
        out,
        "<p>Run: {} ({} cache read, {} cache write).</p>",
        super::md::spend_words(&r.spend),
        count(r.spend.cache_read_tokens),
        count(r.spend.cache_write_tokens)
    );
    if !r.by_task.is_empty() {
        out.push_str(
            "<table id=\"by-task\">\n<thead><tr><th>task</th><th>section</th><th>outcome</th><th class=\"n\">attempts</th><th class=\"n\">agent time</th><th class=\"n\">cost</th><th class=\"n\">tokens in</th><th class=\"n\">tokens out</th></tr></thead>\n<tbody>\n",
        );
        for t in &r.by_task {
            let outcome = match &t.blocked_by {
                Some(by) => format!("not started (waits for failed <code>{}</code>)", esc(by)),
                None => esc(&outcome_word(&t.outcome)),
            };
            let _ = writeln!(
                out,
                "<tr data-task=\"{}\"><td><code>{}</code></td><td>{}</td><td>{outcome}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&t.id),
                esc(&t.id),
                esc(t.section.as_deref().unwrap_or("")),
                t.attempts,
                secs(t.busy_secs),
                usd(t.spend.cost_usd),
                count(t.spend.input_tokens),
                count(t.spend.output_tokens)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    group_table(&mut out, "by-section", "section", &r.by_section);
    group_table(&mut out, "by-wave", "wave", &r.by_wave);
    out.push_str("</section>\n");
    out
}

fn group_table(out: &mut String, id: &str, what: &str, rows: &[GroupRow]) {
    if rows.len() < 2 {
        return;
    }
    let _ = writeln!(
        out,
        "<table id=\"{id}\">\n<thead><tr><th>{what}</th><th class=\"n\">tasks</th><th class=\"n\">attempts</th><th class=\"n\">agent time</th><th class=\"n\">wall time</th><th class=\"n\">cost</th><th class=\"n\">tokens in</th><th class=\"n\">tokens out</th></tr></thead>\n<tbody>"
    );
    for g in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&g.name),
            g.tasks,
            g.attempts,
            secs(g.busy_secs),
            secs(g.span_secs),
            usd(g.spend.cost_usd),
            count(g.spend.input_tokens),
            count(g.spend.output_tokens)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Text for HTML (and SVG): `<`, `>`, `&` and quotes escaped.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(40.0), 5.0);
        assert_eq!(tick_step(600.0), 120.0);
        assert_eq!(tick_step(0.5), 0.1);
        assert_eq!(clock(125.0, 5.0), "2:05");
        assert_eq!(clock(3725.0, 60.0), "1:02:05");
        assert_eq!(clock(2.0, 0.4), "2.0s");
    }
}
