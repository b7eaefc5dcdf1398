//! `run-batch report`: a real run (retries, failures, a blocked agent, a
//! task that never started) as Markdown, HTML, a Chrome trace and JSON; a
//! run killed with SIGKILL; runs too large for one Mermaid bar per attempt;
//! and the HTML loaded in a real headless Chromium.

mod common;
#[path = "support/skip.rs"]
mod skip;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::agents::*;
use common::{Output, Test};

const PLAN: &str = "
    # Demo

    ## Build
    - [ ] compile sleep=0.3 <!-- id: compile -->
    - [ ] flaky fail-once <!-- id: flaky -->

    ## Test
    - [ ] stuck say-blocked <!-- id: stuck -->
    - [ ] broken fail <!-- id: broken -->
    - [ ] later <!-- id: later; after: stuck -->
    ";

/// A finished run of `PLAN`: `flaky` fails once and is retried, `stuck`
/// says it is blocked, `broken` fails twice, `later` never starts.
fn demo_run() -> Output {
    Test::new()
        .fake_agent()
        .file("t.md", PLAN)
        .args([
            "t.md",
            "--agent",
            "fake-agent",
            "--retries",
            "1",
            "--keep-going",
            "-j",
            "2",
        ])
        .failure()
}

fn report(out: &Output, format: &str) -> String {
    let r = out.path().to_owned();
    let o = std::process::Command::new(common::BIN)
        .args(["report", "t.md", "--format", format])
        .current_dir(&r)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The text between ```mermaid and the closing fence.
fn mermaid(md: &str) -> &str {
    let start = md.find("```mermaid\n").expect("a mermaid block") + 11;
    let end = start + md[start..].find("```").expect("a closing fence");
    &md[start..end]
}

#[test]
fn markdown_shows_every_attempt_its_outcome_and_the_costs() {
    let out = demo_run();
    let md = report(&out, "md");
    assert!(md.starts_with("# run-batch run `"), "{md}");
    assert!(
        md.contains("**failed** · `t.md` · 2 of 5 tasks done, 3 failed"),
        "{md}"
    );
    let chart = mermaid(&md);
    assert!(chart.starts_with("gantt\n"), "{chart}");
    assert!(chart.contains("    section Demo › Build\n"), "{chart}");
    assert!(chart.contains("    section Demo › Test\n"), "{chart}");
    // One bar per attempt, tagged by outcome, and the wait before a retry.
    let bars: Vec<&str> = chart.lines().filter(|l| l.contains(" :")).collect();
    assert_eq!(bars.len(), 8, "6 attempts and 2 waits: {chart}");
    assert!(chart.contains("    compile · done :done, "), "{chart}");
    assert!(chart.contains("    flaky · failed :crit, "), "{chart}");
    assert!(
        chart.contains("    flaky attempt 2 · done :done, "),
        "{chart}"
    );
    assert!(
        chart.contains("    stuck · blocked :crit, done, "),
        "{chart}"
    );
    assert!(
        chart.contains("    broken attempt 2 · failed :crit, "),
        "{chart}"
    );
    assert!(chart.contains("    flaky waits (retry) :"), "{chart}");
    assert!(
        !md.contains("One bar per"),
        "a small run has a bar per attempt"
    );
    // The tables: per task (the blocked one says what it waits for), per
    // section and per wave.
    assert!(md.contains("| `flaky` | Demo › Build | done | 2 |"), "{md}");
    assert!(
        md.contains("| `stuck` | Demo › Test | blocked | 1 |"),
        "{md}"
    );
    assert!(
        md.contains("| `later` | Demo › Test | not started (waits for failed `stuck`) | 0 |"),
        "{md}"
    );
    assert!(md.contains("### By section\n"), "{md}");
    assert!(md.contains("| wave 2 | 3 | 3 |"), "{md}");
    assert!(md.contains("## Critical path\n"), "{md}");
}

#[test]
fn trace_is_chrome_trace_json_with_a_lane_per_slot() {
    let out = demo_run();
    let trace: serde_json::Value = serde_json::from_str(&report(&out, "trace")).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let spans: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] != "wait")
        .collect();
    assert_eq!(spans.len(), 6, "{trace:#}");
    for s in &spans {
        assert!(s["ts"].as_u64().is_some() && s["dur"].as_u64().is_some());
        assert!(s["tid"].as_u64().unwrap() <= 2, "-j 2: two slots");
        assert_eq!(s["args"]["outcome"], s["cat"]);
    }
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert!(names.starts_with(&["slot 1", "slot 2"]), "{names:?}");
    assert!(names.contains(&"waiting 1"), "{names:?}");
    let flaky: Vec<&str> = spans
        .iter()
        .filter(|s| s["args"]["task"] == "flaky")
        .map(|s| s["args"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(flaky, ["failed", "succeeded"]);
}

#[test]
fn json_has_attempts_waits_tasks_groups_and_the_critical_path() {
    let out = demo_run();
    let r: serde_json::Value = serde_json::from_str(&report(&out, "json")).unwrap();
    assert_eq!(r["schema"], 1);
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["file"], "t.md");
    assert_eq!(r["attempts"].as_array().unwrap().len(), 6);
    assert_eq!(r["waits"].as_array().unwrap().len(), 2);
    assert_eq!(r["waits"][0]["kind"], "retry");
    assert!(r["lanes"].as_u64().unwrap() <= 2);
    let later = r["by_task"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "later")
        .unwrap();
    assert_eq!(later["outcome"], "blocked_by_failure");
    assert_eq!(later["blocked_by"], "stuck");
    assert_eq!(r["by_wave"].as_array().unwrap().len(), 2);
    assert!(!r["critical_path"].as_array().unwrap().is_empty());
    assert_eq!(r["unknown_events"], serde_json::json!({}));
}

#[test]
fn a_run_killed_with_sigkill_is_reported_as_crashed() {
    let t = Test::new().fake_agent().file(
        "t.md",
        "# P\n- [ ] quick <!-- id: quick -->\n- [ ] slow hang <!-- id: slow -->\n",
    );
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "fake-agent", "-j", "2"]);
    wait_until(PATIENCE, "both tasks to start", || {
        named(&events(&dir, "t.md"), "task_finished").len() == 1
            && named(&events(&dir, "t.md"), "task_started").len() == 2
    });
    run.kill();
    let md = t
        .args(["report", "t.md"])
        .stdout_contains("**crashed** · `t.md`")
        .stdout_contains("The run ended without a `run_finished` event")
        .stdout_contains("    slow · unfinished :active, ")
        .stdout_contains("    quick · done :done, ")
        .success();
    kill_agents(md.path());
}

/// An `events.jsonl` of `tasks` tasks in `sections` sections, each task
/// failing once and succeeding on its retry, with long ids.
fn big_run(dir: &Path, tasks: usize, sections: usize) -> PathBuf {
    let run = dir.join(".run-batch/t.md/runs/20261121T100000Z-1");
    std::fs::create_dir_all(&run).unwrap();
    let mut lines = Vec::new();
    let ts = |ms: usize| {
        format!(
            "2026-11-21T{:02}:{:02}:{:02}.{:03}Z",
            10 + ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    let head = |ms: usize| format!("{{\"ts\":\"{}\",\"run\":\"20261121T100000Z-1\"", ts(ms));
    lines.push(format!(
        "{},\"event\":\"run_started\",\"file\":\"t.md\",\"pid\":1,\"tasks\":{tasks},\"to_run\":{tasks},\"jobs\":4}}",
        head(0)
    ));
    let mut md = String::from("# Big\n");
    for t in 0..tasks {
        let s = t * sections / tasks;
        if t == 0 || (t - 1) * sections / tasks != s {
            md.push_str(&format!("\n## Section number {s}\n"));
        }
        let id = format!("s{s}-a-fairly-long-task-name-number-{t}");
        md.push_str(&format!(
            "- [x] a fairly long task name number {t} <!-- id: {id} -->\n"
        ));
        let start = t * 1000;
        for (attempt, outcome, from, to) in [
            (1, "failed", start, start + 400),
            (2, "succeeded", start + 500, start + 900),
        ] {
            lines.push(format!(
                "{},\"event\":\"task_started\",\"task\":\"{id}\",\"attempt\":{attempt},\"agent\":\"x\",\"pid\":2,\"log\":\"l\",\"command\":\"x\"}}",
                head(from)
            ));
            lines.push(format!(
                "{},\"event\":\"task_finished\",\"task\":\"{id}\",\"attempt\":{attempt},\"outcome\":\"{outcome}\",\"duration_secs\":0.4,\"log\":\"l\",\"agent\":\"x\",\"cost_usd\":0.01,\"input_tokens\":100,\"output_tokens\":10,\"cache_read_tokens\":0,\"cache_write_tokens\":0}}",
                head(to)
            ));
            if attempt == 1 {
                lines.push(format!(
                    "{},\"event\":\"task_retrying\",\"task\":\"{id}\",\"next_attempt\":2,\"delay_secs\":0.1}}",
                    head(to)
                ));
            }
        }
    }
    lines.push(format!(
        "{},\"event\":\"run_finished\",\"outcome\":\"succeeded\",\"done\":{tasks},\"failed\":0,\"remaining\":0,\"duration_secs\":{},\"cost_usd\":{},\"input_tokens\":0,\"output_tokens\":0,\"cache_read_tokens\":0,\"cache_write_tokens\":0}}",
        head(tasks * 1000),
        tasks,
        tasks as f64 * 0.02
    ));
    std::fs::write(run.join("events.jsonl"), lines.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("t.md"), md).unwrap();
    run
}

#[test]
fn a_large_run_keeps_its_chart_under_mermaids_limit_and_says_so() {
    // 300 tasks: 900 bars would not fit; one per task does.
    let t = Test::new();
    big_run(t.path(), 300, 6);
    let out = t
        .args(["report", "t.md"])
        .stdout_contains("> One bar per task (from its first start to its last end) instead of one per attempt: 600 attempts would make the chart")
        .stdout_contains("over the 50 KB that Mermaid (and so GitHub) renders")
        .stdout_contains("    section Big › Section number 0\n")
        .stdout_contains("    s0-a-fairly-long-task-name-number-0 (2 attempts) · done :done, ")
        .success();
    let chart = mermaid(&out.stdout);
    assert!(chart.len() < 50_000, "{} bytes", chart.len());
    assert_eq!(
        chart.lines().filter(|l| l.contains(" :done, ")).count(),
        300
    );

    // 2,000 tasks: one bar per section.
    let t = Test::new();
    big_run(t.path(), 2000, 12);
    let out = t
        .args(["report", "t.md"])
        .stdout_contains("> One bar per section")
        .stdout_contains("    Big › Section number 0 (167 tasks) · done :done, ")
        .success();
    let chart = mermaid(&out.stdout);
    assert!(chart.len() < 50_000, "{} bytes", chart.len());
    assert_eq!(chart.lines().filter(|l| l.contains(" :done, ")).count(), 12);
}

#[test]
fn report_picks_runs_by_id_and_says_what_is_missing() {
    let t = Test::new();
    big_run(t.path(), 3, 1);
    let out = t
        .args(["report", "t.md", "--run", "20261121T10", "--format", "json"])
        .success();
    assert_eq!(out.json()["run"], "20261121T100000Z-1");
    // Without a file: the latest run in ./.run-batch/.
    let out = out.then().args(["report", "--format", "json"]).success();
    assert_eq!(out.json()["file"], "t.md");
    // The events file itself.
    out.then()
        .args([
            "report",
            ".run-batch/t.md/runs/20261121T100000Z-1/events.jsonl",
        ])
        .stdout_contains("# run-batch run `20261121T100000Z-1`")
        .success()
        .then()
        .args(["report", "t.md", "--run", "2025"])
        .stderr("error: `t.md` has no run `2025`; its latest runs: `20261121T100000Z-1`\n")
        .status(2);
    Test::new()
        .file("new.md", "- [ ] a\n")
        .args(["report", "new.md"])
        .stderr("error: `new.md` has no recorded runs yet; run it with `run-batch new.md`\n")
        .status(2);
    Test::new()
        .args(["report"])
        .stderr("error: no runs in `./.run-batch/`; name the task file: `run-batch report FILE`\n")
        .status(2);
}

// ---- the HTML page in a real browser -----------------------------------------

/// Chromium's flags here: headless, as root, no GPU, and nothing that
/// reaches for the network by itself.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
    "--virtual-time-budget=3000",
];

/// What a script in the page measures once the browser laid it out: each
/// span's box and fill, the waits, what was fetched, the tables.
const PROBE: &str = r#"<script>
(function () {
  const spans = [...document.querySelectorAll('#lanes rect.span')].map(r => {
    const b = r.getBoundingClientRect();
    return { task: r.dataset.task, attempt: +r.dataset.attempt, outcome: r.dataset.outcome,
             x: b.x, y: b.y, w: b.width, h: b.height,
             fill: getComputedStyle(r).fill, critical: r.classList.contains('critical') };
  });
  const waits = [...document.querySelectorAll('#lanes rect.wait')].map(r => r.getBoundingClientRect().width);
  const rows = [...document.querySelectorAll('#by-task tbody tr')].map(tr => [...tr.cells].map(c => c.textContent));
  const out = { spans, waits, rows,
    fetched: performance.getEntriesByType('resource').map(e => e.name),
    outcome: document.getElementById('outcome').textContent,
    critical: [...document.querySelectorAll('#critical-path li')].map(li => li.dataset.task),
    svgWidth: document.getElementById('lanes').getBoundingClientRect().width };
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"#;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

#[test]
fn html_renders_in_headless_chromium_with_nothing_fetched() {
    let Some(browser) = chromium() else {
        skip::skip_or_fail(
            "Chromium is not installed (`apt-get install chromium`); the HTML report was not loaded in a browser",
        );
        return;
    };
    let out = demo_run();
    let html = report(&out, "html");
    assert!(
        !html.contains("<script"),
        "the report itself runs no script"
    );
    assert!(!html.contains("http://") || !html.contains("src=\"http"));
    // The probe goes in just before </body>, in a copy.
    let page = out.path().join("probe.html");
    std::fs::write(&page, html.replace("</body>", &format!("{PROBE}\n</body>"))).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(&browser);
    cmd.args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--window-size=1200,900")
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(std::process::Stdio::null());
    let dom = run_bounded(cmd, Duration::from_secs(60));
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let probe: serde_json::Value = serde_json::from_str(&json).unwrap();

    assert_eq!(
        probe["fetched"],
        serde_json::json!([]),
        "nothing is fetched"
    );
    assert_eq!(probe["outcome"], "failed");
    assert!(probe["svgWidth"].as_f64().unwrap() > 800.0, "{probe}");
    let spans = probe["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 6, "{probe}");
    for s in spans {
        assert!(
            s["w"].as_f64().unwrap() >= 1.0 && s["h"].as_f64().unwrap() > 10.0,
            "{s}"
        );
    }
    // Two slots: two rows of spans.
    let mut ys: Vec<i64> = spans
        .iter()
        .map(|s| s["y"].as_f64().unwrap() as i64)
        .collect();
    ys.sort();
    ys.dedup();
    assert_eq!(ys.len(), 2, "{probe}");
    // Coloured by outcome: one fill per outcome, different outcomes apart.
    let fill = |o: &str| -> Vec<String> {
        let mut f: Vec<String> = spans
            .iter()
            .filter(|s| s["outcome"] == o)
            .map(|s| s["fill"].as_str().unwrap().to_owned())
            .collect();
        f.dedup();
        f
    };
    let (ok, failed, blocked) = (fill("succeeded"), fill("failed"), fill("blocked"));
    assert_eq!(
        (ok.len(), failed.len(), blocked.len()),
        (1, 1, 1),
        "{probe}"
    );
    assert!(ok[0] != failed[0] && failed[0] != blocked[0] && ok[0] != blocked[0]);
    // Waits: two retry delays, drawn with a width.
    let waits = probe["waits"].as_array().unwrap();
    assert_eq!(waits.len(), 2, "{probe}");
    // The critical path is listed and outlined on the timeline.
    let critical = probe["critical"].as_array().unwrap();
    assert!(!critical.is_empty());
    assert!(spans.iter().any(|s| s["critical"] == true));
    // The cost table: a row per task, in plan order.
    let tasks: Vec<&str> = probe["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(tasks, ["compile", "flaky", "stuck", "broken", "later"]);
}

/// Runs a command to its end, killed after `timeout`; its stdout.
fn run_bounded(mut cmd: std::process::Command, timeout: Duration) -> String {
    use std::io::Read;
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("start the browser");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    reader.join().unwrap()
}

#[test]
fn a_run_in_progress_is_reported_as_running() {
    let t = Test::new()
        .fake_agent()
        .file("t.md", "# P\n- [ ] slow hang <!-- id: slow -->\n");
    let dir = t.path().to_owned();
    let run = Background::start(&dir, &["t.md", "--agent", "fake-agent"]);
    wait_until(PATIENCE, "the task to start", || {
        named(&events(&dir, "t.md"), "task_started").len() == 1
    });
    let out = t.args(["report", "t.md", "--format", "json"]).success();
    let json = out.json();
    assert_eq!(json["outcome"], "running");
    assert_eq!(json["attempts"][0]["outcome"], "running");
    run.signal(libc::SIGINT);
    let finished = run.wait(PATIENCE);
    assert_eq!(finished.status.code(), Some(130));
}
