//! The parse benchmark's further sections: cost per task from 10,000 to
//! 1,000,000 tasks, deep nesting, dry runs of many waves,
//! instruction counts, and the machine's load while it all ran.
//!
//! Takes the helper binary and the generator, prints tables. Never asserts
//! on speed.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use run_batch::plan::{Plan, PlanOptions};
use run_batch::report::{plan_json, plan_text};
use run_batch::taskfile::{Document, ReadOptions, Source};

use crate::support::{cpu_ns, median, min, vm_hwm_kib, which};
use crate::{Measured, measure_interleaved};

/// `--plan-helper FILE FORMAT`: what `run-batch plan FILE --format FORMAT`
/// does, through the same library calls, without the 64 MiB cap on task
/// files (a 1,000,000-task file is 133 MB). Output goes to /dev/null.
pub fn plan_helper(file: &OsStr, format: &OsStr) {
    let path = Path::new(file);
    // Which phase grows with the plan's size: time per task, and memory.
    let phases = std::env::var_os("RUN_BATCH_BENCH_PHASES").is_some();
    let peak = || phases.then(|| vm_hwm_kib("/proc/self/status").unwrap_or(0));
    // CPU time of all the process's threads so far (ended ones too).
    let cpu = || {
        phases.then(|| {
            // SAFETY: getrusage fills the struct it is given.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
            cpu_ns(&usage)
        })
    };
    let c0 = cpu();
    let t0 = std::time::Instant::now();
    // As `plan` does before it reads the file.
    run_batch::memory::prepare_for(std::fs::metadata(path).map_or(0, |m| m.len()));
    let bytes = std::fs::read(path).expect("read the task file");
    let source = Source::from_bytes(path, bytes).expect("UTF-8");
    let t1 = std::time::Instant::now();
    let (m1, c1) = (peak(), cpu());
    let doc = Document::parse(source, ReadOptions::default());
    let t2 = std::time::Instant::now();
    let (m2, c2) = (peak(), cpu());
    let plan = Plan::build(doc, PlanOptions::default()).expect("the file plans");
    let t3 = std::time::Instant::now();
    let (m3, c3) = (peak(), cpu());
    let null = std::fs::File::create("/dev/null").expect("/dev/null");
    let out = std::io::BufWriter::with_capacity(1 << 16, null);
    match format.to_str() {
        Some("json") => plan_json::write(&plan, Path::new("."), out).unwrap(),
        _ => plan_text::write(&plan, Path::new("."), out).unwrap(),
    }
    let t4 = std::time::Instant::now();
    let c4 = cpu();
    if let (Some(m1), Some(m2), Some(m3), Some(m4)) = (m1, m2, m3, peak()) {
        let n = plan.doc.tasks.len().max(1) as f64;
        let per = |d: std::time::Duration| d.as_nanos() as f64 / n;
        eprintln!(
            "{} tasks, ns per task (wall): read {:.0}, parse {:.0}, plan {:.0}, write {:.0}",
            plan.doc.tasks.len(),
            per(t1 - t0),
            per(t2 - t1),
            per(t3 - t2),
            per(t4 - t3)
        );
        let c: Vec<u64> = [c0, c1, c2, c3, c4].into_iter().flatten().collect();
        let cpu_per = |k: usize| (c[k + 1] - c[k]) as f64 / n;
        eprintln!(
            "ns per task (CPU, all threads): read {:.0}, parse {:.0}, plan {:.0}, write {:.0}",
            cpu_per(0),
            cpu_per(1),
            cpu_per(2),
            cpu_per(3)
        );
        eprintln!("peak RSS after each phase (KB): read {m1}, parse {m2}, plan {m3}, write {m4}");
    }
    // As `plan` does: the process ends; freeing the plan would only cost time.
    std::mem::forget(plan);
}

/// Busy and total CPU ticks of the whole machine, from /proc/stat.
pub fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = n.iter().take(8).sum();
    let idle = n.get(3)? + n.get(4)?;
    Some((total - idle, total))
}

/// How busy the machine was between two `cpu_ticks` readings, and its load
/// average now: others' work slows every number here.
pub fn load_report(start: Option<(u64, u64)>) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let busy = match (start, cpu_ticks()) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            format!("{:.0}%", 100.0 * (b1 - b0) as f64 / (t1 - t0) as f64)
        }
        _ => "unknown".into(),
    };
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let avg: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    format!(
        "machine load: {cores} CPUs, {busy} busy while the benchmark ran (all processes, this one included); load average {}",
        avg.join(" ")
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mb_rss(m: &Measured) -> String {
    format!("{:.0} MB", m.max_rss_kib as f64 / 1024.0)
}

/// CPU per task at each size, for `run-batch plan --format json` (through
/// the plan helper) and for cmark-gfm on the same file. Every size is
/// measured in the same rounds (one run of each command at each size per
/// round), so a machine that slows down for a while slows every size alike,
/// and cmark-gfm's own growth says how flat a flat cost looks here.
/// `files_are` ends the title (what the generated files are like).
pub fn scaling(
    helper: &Path,
    dir: &Path,
    sizes: &[usize],
    runs: usize,
    files_are: &str,
    generate: &dyn Fn(usize) -> (String, usize),
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ncost per task by size (run-batch: plan --format json through --plan-helper, the same library calls without the 64 MiB cap; CPU medians, all sizes in the same rounds, smaller files several times a round and each round's median kept{files_are})"
    );
    let _ = writeln!(
        out,
        "{:>9} {:>9} {:>12} {:>10} {:>10} {:>10} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "tasks",
        "file",
        "run-batch",
        "per task",
        "vs first",
        "system",
        "peak RSS",
        "cmark-gfm",
        "per task",
        "vs first",
        "system"
    );
    let cmark = which("cmark-gfm");
    let mut files = Vec::new();
    // Tasks whose text an earlier task has: they need a heading or a number
    // in their ids, which costs more than a unique text's.
    let mut repeats = Vec::new();
    for &n in sizes {
        let path = dir.join(format!("scale-{n}.md"));
        let (text, repeated) = generate(n);
        std::fs::write(&path, &text).expect("write the task file");
        files.push((n, path, text.len()));
        repeats.push(repeated);
    }
    // A small file is planned several times a round (up to 10: 10,000
    // tasks take some 30 ms, where a busy moment of the machine weighs
    // much), and each round keeps the median of those runs.
    let largest = sizes.iter().copied().max().unwrap_or(1);
    // Each size's measurements: ours, then cmark-gfm's when it is there.
    let per_size = if cmark.is_some() { 2 } else { 1 };
    let repeats_of = |n: usize| ((largest as f64 / n as f64).sqrt().round() as usize).clamp(1, 10);
    let mut commands: Vec<(&Path, Vec<&OsStr>)> = Vec::new();
    for (n, path, _) in &files {
        let file = path.as_os_str();
        for _ in 0..repeats_of(*n) {
            commands.push((
                helper,
                vec![OsStr::new("--plan-helper"), file, OsStr::new("json")],
            ));
            if let Some(c) = &cmark {
                commands.push((c, vec![OsStr::new("-e"), OsStr::new("tasklist"), file]));
            }
        }
    }
    let measured = measure_interleaved(helper, &commands, runs);
    let mut measured = measured.into_iter();
    let mut m: Vec<Measured> = Vec::new();
    for (n, _, _) in &files {
        let of_size: Vec<Measured> = (&mut measured).take(repeats_of(*n) * per_size).collect();
        for which in 0..per_size {
            let same: Vec<&Measured> = of_size.iter().skip(which).step_by(per_size).collect();
            m.push(round_medians(&same));
        }
    }
    // Of CPU time, or of its kernel part (`Measured::sys`).
    let per_task = |times: &[Duration], n: usize| median(times).as_secs_f64() * 1e6 / n as f64;
    // The first size's figures: growth beyond them is what the goals are
    // about.
    struct First {
        cost: f64,
        /// CPU per task in each round.
        rounds: Vec<f64>,
        fastest: f64,
        cmark: Option<(f64, f64)>,
        bytes: f64,
        rss: f64,
    }
    let mut first: Option<First> = None;
    let mut growth = Vec::new();
    for (k, ((n, _, bytes), m)) in files.iter().zip(m.chunks(per_size)).enumerate() {
        let (n, bytes) = (*n, *bytes as f64);
        let (ours, theirs) = (&m[0], m.get(1));
        let cost = (per_task(&ours.cpu, n), theirs.map(|c| per_task(&c.cpu, n)));
        let rss = ours.max_rss_kib as f64 * 1024.0;
        // The fastest run too: a busy machine only ever adds time.
        let fastest_of = |m: &Measured| min(&m.cpu).as_secs_f64() * 1e6 / n as f64;
        let fastest = fastest_of(ours);
        let cmark = cost.1.zip(theirs.map(fastest_of));
        let rounds: Vec<f64> = (ours.cpu.iter())
            .map(|c| c.as_secs_f64() * 1e6 / n as f64)
            .collect();
        let f = first.get_or_insert_with(|| First {
            cost: cost.0,
            rounds: rounds.clone(),
            fastest,
            cmark,
            bytes,
            rss,
        });
        let cmark_growth = cmark.zip(f.cmark).map(|(c, c0)| (c.0 / c0.0, c.1 / c0.1));
        let _ = writeln!(
            out,
            "{:>9} {:>6.1} MB {:>12} {:>7.2} us {:>9.2}x {:>7.2} us {:>10} {:>12} {:>10} {:>10} {:>10}   (RSS {:.1}x the file)",
            n,
            bytes / 1e6,
            ms(median(&ours.cpu)),
            cost.0,
            cost.0 / f.cost,
            per_task(&ours.sys, n),
            mb_rss(ours),
            theirs.map_or("n/a".into(), |c| ms(median(&c.cpu))),
            cost.1.map_or("n/a".into(), |c| format!("{c:.2} us")),
            cmark_growth.map_or("n/a".into(), |g| format!("{:.2}x", g.0)),
            theirs.map_or("n/a".into(), |c| format!("{:.2} us", per_task(&c.sys, n))),
            rss / bytes,
        );
        if k > 0 {
            let slope = (rss - f.rss) / (bytes - f.bytes);
            // Round by round: each round's sizes ran within seconds of each
            // other, so a slow spell of the machine that spans minutes
            // weighs on both sides of a round's ratio.
            let mut paired: Vec<f64> = rounds.iter().zip(&f.rounds).map(|(c, c0)| c / c0).collect();
            paired.sort_by(f64::total_cmp);
            let at = |q: usize| paired[(paired.len() - 1) * q / 4];
            let paired = (at(2), at(1), at(3));
            let ratios = (cost.0 / f.cost, fastest / f.fastest, paired);
            growth.push((n, ratios, cmark_growth, slope));
        }
    }
    let _ = writeln!(
        out,
        "runs per round: {}",
        (files.iter())
            .map(|(n, _, _)| format!("{} of {n}", repeats_of(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "tasks whose text an earlier task has (their ids need a heading or a number): {}",
        (files.iter().zip(&repeats))
            .map(|((n, _, _), r)| format!("{:.0}% of {n}", *r as f64 * 100.0 / *n as f64))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (n, (cpu, fastest, paired), cmark_growth, slope) in growth {
        let verdict = |ok: bool| if ok { "within" } else { "OVER" };
        let anchor = cmark_growth.map_or(String::new(), |g| {
            format!(" (cmark-gfm: {:.2}x, fastest runs {:.2}x)", g.0, g.1)
        });
        let _ = writeln!(
            out,
            "CPU per task grows {cpu:.2}x (fastest runs {fastest:.2}x) from the first size to {n} tasks: {} the 1.1x bar{anchor}",
            verdict(cpu <= 1.1)
        );
        let _ = writeln!(
            out,
            "  round by round (each round's ratio): median {:.2}x, middle half {:.2}x to {:.2}x",
            paired.0, paired.1, paired.2
        );
        let _ = writeln!(
            out,
            "peak RSS grows {slope:.2} bytes per byte of file from the first size to {n} tasks: {} the 2x bar",
            verdict(slope <= 2.0)
        );
    }
    for (_, path, _) in &files {
        let _ = std::fs::remove_file(path);
    }
    out
}

/// One command measured several times a round: per round, the median of
/// its runs (wall, CPU and its kernel part each); the largest peak RSS.
fn round_medians(runs: &[&Measured]) -> Measured {
    let rounds = runs.first().map_or(0, |m| m.cpu.len());
    let each = |of: fn(&Measured) -> &Vec<Duration>| -> Vec<Duration> {
        (0..rounds)
            .map(|r| median(&runs.iter().map(|m| of(m)[r]).collect::<Vec<_>>()))
            .collect()
    };
    Measured {
        wall: each(|m| &m.wall),
        cpu: each(|m| &m.cpu),
        sys: each(|m| &m.sys),
        max_rss_kib: runs.iter().map(|m| m.max_rss_kib).max().unwrap_or(0),
    }
}

/// Whole-process rows for files made for one question each.
pub fn special_files(bin: &Path, helper: &Path, dir: &Path, runs: usize) -> String {
    let mut out = String::new();
    let row = |out: &mut String, name: &str, m: &Measured, extra: String| {
        let _ = writeln!(
            out,
            "{:<52} {:>10} {:>10} {:>9}  {extra}",
            name,
            ms(median(&m.wall)),
            ms(median(&m.cpu)),
            mb_rss(m)
        );
    };
    let _ = writeln!(
        out,
        "\n{:<52} {:>10} {:>10} {:>9}",
        "special files (whole process)", "median", "CPU med.", "peak RSS"
    );

    let plan_json_args = |f: &Path| {
        vec![
            OsStr::new("plan").to_owned(),
            f.as_os_str().to_owned(),
            OsStr::new("--format").to_owned(),
            OsStr::new("json").to_owned(),
        ]
    };

    // Deep nesting: each task inside the one before.
    let depth = 2000;
    let nested = dir.join("nested.md");
    let mut text = String::from("# Deep\n\n");
    for i in 0..depth {
        let _ = writeln!(text, "{}- [ ] level {i}", "  ".repeat(i));
    }
    let bytes = text.len();
    std::fs::write(&nested, text).unwrap();
    let nested_args = plan_json_args(&nested);
    let m = measure_interleaved(
        helper,
        &[(bin, nested_args.iter().map(|s| s.as_os_str()).collect())],
        runs,
    );
    row(
        &mut out,
        &format!("nesting {depth} deep (plan --format json)"),
        &m[0],
        format!("file {:.1} MB", bytes as f64 / 1e6),
    );

    // Dry runs of many waves: a heading and one task each.
    let mut first = None;
    for waves in [10_000, 100_000] {
        let path = dir.join(format!("waves-{waves}.md"));
        let mut text = String::new();
        for i in 0..waves {
            let _ = writeln!(text, "# Wave {i}\n- [ ] task {i}");
        }
        std::fs::write(&path, text).unwrap();
        let args = [
            path.as_os_str().to_owned(),
            OsStr::new("--dry-run").to_owned(),
            OsStr::new("--agent").to_owned(),
            OsStr::new("true").to_owned(),
        ];
        let m = measure_interleaved(
            helper,
            &[(bin, args.iter().map(|s| s.as_os_str()).collect())],
            runs,
        );
        let per = median(&m[0].cpu).as_secs_f64() * 1e6 / waves as f64;
        let base = *first.get_or_insert(per);
        row(
            &mut out,
            &format!("run --dry-run, {waves} waves"),
            &m[0],
            format!("{per:.1} us/wave CPU ({:.2}x the first)", per / base),
        );
    }
    out
}

/// Instructions of each command, counted by valgrind's callgrind (when
/// `RUN_BATCH_BENCH_CALLGRIND=1` and valgrind is on PATH): steadier than
/// time on a shared machine.
pub fn instructions(dir: &Path, commands: &[(&str, &Path, Vec<&OsStr>)]) -> String {
    let mut out = String::new();
    if std::env::var("RUN_BATCH_BENCH_CALLGRIND").as_deref() != Ok("1") {
        return out;
    }
    let Some(valgrind) = which("valgrind") else {
        return "\ninstructions: valgrind not found on PATH; skipped\n".into();
    };
    let _ = writeln!(out, "\ninstructions (valgrind --tool=callgrind)");
    for (i, (name, program, args)) in commands.iter().enumerate() {
        let cg = dir.join(format!("callgrind.{i}"));
        let status = Command::new(&valgrind)
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", cg.display()))
            .arg(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run valgrind");
        let total = std::fs::read_to_string(&cg).ok().and_then(|t| {
            t.lines()
                .find_map(|l| {
                    l.strip_prefix("summary: ")
                        .or_else(|| l.strip_prefix("totals: "))
                })
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        let _ = match (status.success(), total) {
            (true, Some(n)) => writeln!(out, "{name:<52} {:>8.3} G", n as f64 / 1e9),
            _ => writeln!(out, "{name:<52} failed"),
        };
        let _ = std::io::stdout().flush();
    }
    out
}
