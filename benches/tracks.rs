//! Benchmark (not a timed test) of pipelining: plans of waves × modules,
//! each task a `sleep` run by the shell agent, `-j` = the number of modules
//! (so only the order, never the job limit, decides). Every plan runs twice:
//! with `<!-- pipeline: tracks -->` and without it. Prints, side by side,
//! the makespan against the best possible one:
//!
//! - barrier bound (without the hint): the sum over waves of the wave's
//!   longest task, since a wave starts only when the one before is done;
//! - pipelined bound (with it): the longest module's sum over the waves,
//!   since a module's wave-N+1 task waits only for its own wave-N task.
//!
//! Durations: rotated (module m in wave w sleeps the ((m + w) mod M)-th of
//! M steps), random (a fixed seed) and constant. Goal: makespan ≤ 1.05× the
//! bound of its mode. Makespan is the span from the first `task_started` to
//! the last `task_finished` in events.jsonl: what the order of starts
//! decides. Beside it, the whole `run-batch` process's wall time, and as its
//! anchor the wall time of a run of one task that sleeps 0 s (the fixed
//! cost of a run: start-up, records, the last tick; the same in both modes).
//! A missed goal is printed as MISSED, never a failure.
//!
//! Run with `cargo bench --bench tracks`. `RUN_BATCH_BENCH_RUNS` (default 3)
//! runs per plan and mode, the best one counted; `RUN_BATCH_BENCH_DIR` for
//! the temporary folders. Without `--bench`: a small smoke run.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod support;

use support::{env_usize, full_run};

const RUN_BATCH: &str = env!("CARGO_BIN_EXE_run-batch");

fn main() {
    let Some(full) = full_run(|_| {}) else {
        return;
    };
    let runs = if full {
        env_usize("RUN_BATCH_BENCH_RUNS").unwrap_or(3).max(1)
    } else {
        println!("tracks bench: smoke run; use `cargo bench --bench tracks` for numbers");
        1
    };
    // Steps in seconds: long enough that starting an agent (a few ms) is
    // small beside them, short enough for a bench of a few minutes.
    let step = if full { 0.5 } else { 0.05 };
    let shapes: &[(usize, usize)] = if full { &[(3, 4), (4, 6)] } else { &[(2, 2)] };
    let anchor = (0..runs)
        .map(|_| run("- [ ] one\n  ```sh\n  sleep 0\n  ```\n", 1).0)
        .min()
        .expect("one run at least");
    println!(
        "anchor: a run of one task sleeping 0 s takes {:.2}s (process wall time)",
        anchor.as_secs_f64()
    );
    // On a shared machine a number is only as good as the machine was quiet.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average before: {}\n",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<22} {:<7} {:>8} {:>9} {:>6} {:>9}  goal",
        "plan", "mode", "bound", "makespan", "ratio", "wall"
    );
    let mut missed = 0;
    for &(waves, modules) in shapes {
        for kind in ["rotated", "random", "constant"] {
            let d = durations(kind, waves, modules, step);
            let barrier: f64 = d
                .iter()
                .map(|wave| wave.iter().cloned().fold(0.0, f64::max))
                .sum();
            let pipelined = (0..modules)
                .map(|m| d.iter().map(|wave| wave[m]).sum::<f64>())
                .fold(0.0, f64::max);
            for (mode, head, bound) in [
                ("waves", "", barrier),
                ("tracks", "<!-- pipeline: tracks -->\n", pipelined),
            ] {
                let plan = plan_text(head, &d);
                let (wall, span) = (0..runs)
                    .map(|_| run(&plan, modules))
                    .min_by(|a, b| a.1.cmp(&b.1))
                    .expect("one run at least");
                let ratio = span.as_secs_f64() / bound;
                let met = ratio <= 1.05;
                missed += usize::from(!met);
                println!(
                    "{:<22} {:<7} {:>7.2}s {:>8.2}s {:>6.3} {:>8.2}s  ≤ 1.05× {}",
                    format!("{waves}×{modules} {kind}"),
                    mode,
                    bound,
                    span.as_secs_f64(),
                    ratio,
                    wall.as_secs_f64(),
                    if met { "met" } else { "MISSED" },
                );
            }
            println!(
                "{:<22} pipelined bound is {:.2}× the barrier bound",
                "",
                pipelined / barrier
            );
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\nload average after: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if missed > 0 {
        println!("{missed} goal(s) MISSED");
    }
}

/// Seconds per task, `[wave][module]`.
fn durations(kind: &str, waves: usize, modules: usize, step: f64) -> Vec<Vec<f64>> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..waves)
        .map(|w| {
            (0..modules)
                .map(|m| match kind {
                    "rotated" => step * ((m + w) % modules + 1) as f64,
                    "random" => {
                        // xorshift: the same numbers every run.
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        step * (1.0 + (seed % 1000) as f64 / 1000.0 * (modules - 1) as f64)
                    }
                    _ => step * 2.0,
                })
                .map(|s| (s * 100.0).round() / 100.0)
                .collect()
        })
        .collect()
}

fn plan_text(head: &str, d: &[Vec<f64>]) -> String {
    let mut plan = head.to_owned();
    for (w, wave) in d.iter().enumerate() {
        plan += &format!("# Wave {}\n", w + 1);
        for (m, secs) in wave.iter().enumerate() {
            plan += &format!("## Module {m}\n- [ ] task {w}-{m}\n  ```sh\n  sleep {secs}\n  ```\n");
        }
    }
    plan
}

/// One run: its wall time, and the span from the first agent's start to
/// the last one's end in events.jsonl.
fn run(plan: &str, jobs: usize) -> (Duration, Duration) {
    let root = std::env::var_os("RUN_BATCH_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::Builder::new()
        .prefix("run-batch-bench.")
        .tempdir_in(root)
        .expect("a temporary folder");
    std::fs::write(dir.path().join("t.md"), plan).expect("write the plan");
    let started = Instant::now();
    let out = Command::new(RUN_BATCH)
        .args(["t.md", "--agent", "shell", "-j", &jobs.to_string()])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run run-batch");
    let wall = started.elapsed();
    assert!(
        out.status.success(),
        "run-batch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (wall, agents_span(dir.path()))
}

fn agents_span(dir: &Path) -> Duration {
    let runs = dir.join(".run-batch/t.md/runs");
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    for entry in std::fs::read_dir(&runs).expect("a run folder") {
        let events = entry.expect("an entry").path().join("events.jsonl");
        let Ok(text) = std::fs::read_to_string(events) else {
            continue;
        };
        for line in text.lines() {
            let Ok(e) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(ts) = e["ts"].as_str().map(ms_of) else {
                continue;
            };
            match e["event"].as_str() {
                Some("task_started") => first = first.min(ts),
                Some("task_finished") => last = last.max(ts),
                _ => {}
            }
        }
    }
    Duration::from_millis((last - first).max(0) as u64)
}

/// Milliseconds since midnight of an event's `ts` (`…T20:58:23.852Z`); a
/// bench run that spans midnight shows a wrong span (printed, not judged).
fn ms_of(ts: &str) -> i64 {
    let time = ts.split('T').nth(1).unwrap_or("").trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let m: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let s: f64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0.0);
    (h * 3600 + m * 60) * 1000 + (s * 1000.0).round() as i64
}
