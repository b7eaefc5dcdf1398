//! Benchmark (not a timed test): parse + plan of a generated 100,000-task
//! Markdown file, against `cmark-gfm -e tasklist` on the same file in the same
//! run.
//!
//! Takes nothing but the built binary; generates the task file in a temporary
//! folder, times whole processes (wall clock, CPU, peak RSS) and the library's
//! phases in process, and prints a table. Never fails on speed: a slow result
//! is a number to read, not an assertion.
//!
//! Run with `cargo bench --bench parse`. Environment:
//! - `RUN_BATCH_BENCH_TASKS` (default 100000): tasks in the generated file
//! - `RUN_BATCH_BENCH_RUNS` (default 9): timed runs per measurement, after one warm-up
//! - `RUN_BATCH_BENCH_OUT`: also copy the generated file there (for profiling)
//! - `RUN_BATCH_BENCH_SIZES` (default 10000,100000,1000000) and
//!   `RUN_BATCH_BENCH_SCALE_RUNS` (default 3): the cost-per-task table
//!
//! `BENCH_BINARY --plan-helper FILE json|text` plans one file as `plan` does
//! but without the 64 MiB cap (for profiling a 1,000,000-task file); with
//! `RUN_BATCH_BENCH_PHASES` set it prints each phase's wall time and CPU
//! time per task, and the peak RSS after each phase.
//!
//! Without `--bench` (e.g. `cargo test --all-targets`) it runs a small smoke
//! version so the file keeps compiling and working without taking long.
//!
//! Processes are started through this same binary in a small helper mode
//! (`--spawn-helper PROGRAM ARGS…`): peak RSS from `wait4` includes the peak
//! of the process that forked the child, and the helper is small where the
//! benchmark itself holds the generated file and plans.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use run_batch::plan::{Plan, PlanOptions};
use run_batch::report::{plan_json, plan_text};
use run_batch::taskfile::{Document, ReadOptions, Source};

mod parse_scale;
mod support;

use support::{cpu_ns, env_usize, full_run, median, min, reap, timeval_ns, which};

const PHASES: usize = 50;
const SUBSECTIONS: usize = 8;

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "--plan-helper") {
        parse_scale::plan_helper(&args[2], &args[3]);
        return;
    }
    let Some(full) = full_run(spawn_helper) else {
        return;
    };
    let load_start = parse_scale::cpu_ticks();
    let tasks = env_usize("RUN_BATCH_BENCH_TASKS").unwrap_or(if full { 100_000 } else { 2_000 });
    let runs = env_usize("RUN_BATCH_BENCH_RUNS")
        .unwrap_or(if full { 9 } else { 1 })
        .max(1);
    if !full {
        println!(
            "parse bench: smoke run ({tasks} tasks, {runs} run); use `cargo bench --bench parse` for numbers"
        );
    }

    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("tasks.md");
    let generated = generate(tasks);
    std::fs::write(&path, &generated.text).expect("write the task file");
    if let Ok(out) = std::env::var("RUN_BATCH_BENCH_OUT") {
        std::fs::write(&out, &generated.text).expect("copy the task file");
        println!("generated file copied to {out}");
    }
    let bytes = generated.text.len();

    // In process first: it also checks the generated file plans as intended.
    let in_process = measure_in_process(&path, &generated, runs);

    // A copy of this binary runs the helper: a concurrent `cargo bench` or
    // `cargo test --all-targets` may replace the original while we measure.
    let helper = dir.path().join("parse-bench-helper");
    let helper = match std::env::current_exe().and_then(|me| std::fs::copy(me, &helper)) {
        Ok(_) => helper,
        Err(_) => std::env::current_exe().expect("the benchmark's own path"),
    };
    let bin = Path::new(env!("CARGO_BIN_EXE_run-batch"));
    let file = path.as_os_str();
    let plan_args = |format: &'static str| {
        vec![
            OsStr::new("plan"),
            file,
            OsStr::new("--format"),
            OsStr::new(format),
        ]
    };
    let cmark_path = which("cmark-gfm");
    let mut commands: Vec<(&Path, Vec<&OsStr>)> =
        vec![(bin, plan_args("json")), (bin, plan_args("text"))];
    if let Some(cmark) = &cmark_path {
        commands.push((cmark, vec![OsStr::new("-e"), OsStr::new("tasklist"), file]));
    }
    // The commands take turns, so a change in the machine's load falls on
    // all of them alike.
    let mut measured = measure_interleaved(&helper, &commands, runs).into_iter();
    let json = measured.next().unwrap();
    let text = measured.next().unwrap();
    let cmark = measured.next();

    // The report.
    let mb = bytes as f64 / 1e6;
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "file: {mb:.1} MB ({bytes} bytes), {} lines, {} tasks ({} parents, {} checked), {} ignored look-alikes, {} headings",
        generated.text.lines().count(),
        generated.tasks,
        in_process.parents,
        in_process.checked,
        in_process.ignored,
        generated.headings,
    );
    let _ = writeln!(
        out,
        "plan: {} waves, {} groups, {} tasks with dependencies ({} `after` hints, {} of them short ids), {} warnings",
        in_process.waves,
        in_process.groups,
        in_process.with_after,
        generated.after_hints,
        generated.short_after,
        in_process.warnings
    );
    let _ = writeln!(
        out,
        "runs: {runs} timed after 1 warm-up; wall clock unless marked CPU (user+sys)"
    );
    let cmark_wall = cmark.as_ref().map(|c| (min(&c.wall), median(&c.wall)));
    let ratio = |m: &Measured| match cmark_wall {
        Some((cmin, cmed)) => format!(
            "{:.2}x / {:.2}x",
            min(&m.wall).as_secs_f64() / cmin.as_secs_f64(),
            median(&m.wall).as_secs_f64() / cmed.as_secs_f64()
        ),
        None => "n/a".into(),
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<44} {:>10} {:>10} {:>10} {:>7} {:>9} {:>15}",
        "whole process (stdout to /dev/null)",
        "min",
        "median",
        "CPU med.",
        "MB/s",
        "peak RSS",
        "vs cmark min/med"
    );
    let mut row = |name: &str, m: &Measured| {
        let _ = writeln!(
            out,
            "{:<44} {:>10} {:>10} {:>10} {:>7.0} {:>9} {:>15}",
            name,
            ms(min(&m.wall)),
            ms(median(&m.wall)),
            ms(median(&m.cpu)),
            mb / median(&m.wall).as_secs_f64(),
            format!("{:.0} MB", m.max_rss_kib as f64 / 1024.0),
            ratio(m)
        );
    };
    row("run-batch plan FILE --format json", &json);
    row("run-batch plan FILE --format text", &text);
    if let Some(c) = &cmark {
        row("cmark-gfm -e tasklist FILE", c);
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<44} {:>10} {:>10} {:>10} {:>7} {:>9} {:>15}",
        "in process (library; bytes already read)",
        "min",
        "median",
        "",
        "MB/s",
        "",
        "vs cmark min/med"
    );
    for (name, times) in &in_process.phases {
        let r = match cmark_wall {
            Some((cmin, cmed)) => format!(
                "{:.2}x / {:.2}x",
                min(times).as_secs_f64() / cmin.as_secs_f64(),
                median(times).as_secs_f64() / cmed.as_secs_f64()
            ),
            None => "n/a".into(),
        };
        let _ = writeln!(
            out,
            "{:<44} {:>10} {:>10} {:>10} {:>7.0} {:>9} {:>15}",
            name,
            ms(min(times)),
            ms(median(times)),
            "",
            mb / median(times).as_secs_f64(),
            "",
            r
        );
    }
    print!("{out}");
    twins(runs);
    let mut instruction_commands = vec![
        ("run-batch plan FILE --format json", bin, plan_args("json")),
        ("run-batch plan FILE --format text", bin, plan_args("text")),
    ];
    if let Some(cmark) = &cmark_path {
        instruction_commands.push((
            "cmark-gfm -e tasklist FILE",
            cmark.as_path(),
            vec![OsStr::new("-e"), OsStr::new("tasklist"), file],
        ));
    }
    print!(
        "{}",
        parse_scale::instructions(dir.path(), &instruction_commands)
    );
    if full {
        // Sizes: RUN_BATCH_BENCH_SIZES, comma-separated task counts.
        let sizes: Vec<usize> = std::env::var("RUN_BATCH_BENCH_SIZES")
            .unwrap_or_else(|_| "10000,100000,1000000".into())
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect();
        let scale_runs = env_usize("RUN_BATCH_BENCH_SCALE_RUNS").unwrap_or(3).max(1);
        print!(
            "{}",
            parse_scale::scaling(&helper, dir.path(), &sizes, scale_runs, "", &|n| {
                let g = generate(n);
                (g.text, g.repeated)
            })
        );
        // The same, with files that repeat texts as often at every size: how
        // much of the growth above is the files' growing share of repeats.
        let part = sizes.iter().copied().min().unwrap_or(1);
        print!(
            "{}",
            parse_scale::scaling(
                &helper,
                dir.path(),
                &sizes,
                scale_runs,
                &format!(
                    ", files whose texts repeat as often as the first size's (from task {}, each {part} tasks' texts end in `in part N`)",
                    part + 1
                ),
                &|n| {
                    let g = generate_in_parts(n, part);
                    (g.text, g.repeated)
                }
            )
        );
        print!(
            "{}",
            parse_scale::special_files(bin, &helper, dir.path(), scale_runs)
        );
    }
    println!();
    println!("{}", parse_scale::load_report(load_start));
    match cmark_wall {
        None => {
            println!();
            println!("{}", "!".repeat(79));
            println!("!! cmark-gfm was not found on PATH: no comparison was made.");
            println!("!! Install it (Debian: `apt-get install -y cmark-gfm`) and run this again.");
            println!("{}", "!".repeat(79));
        }
        Some((_, cmed)) => {
            println!();
            for (name, m) in [
                ("run-batch plan --format json", &json),
                ("run-batch plan --format text", &text),
            ] {
                let r = median(&m.wall).as_secs_f64() / cmed.as_secs_f64();
                let verdict = if r <= 1.0 {
                    "no slower than"
                } else {
                    "SLOWER than"
                };
                println!("{name}: {verdict} cmark-gfm (median {r:.2}x)");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Twins: many tasks with one text

/// Parse + plan of N identical task texts against N distinct ones of the
/// same length, in the same run: twins take one probe each for their
/// number, so the two should cost about the same (the bar: at most 2x).
fn twins(runs: usize) {
    let n = env_usize("RUN_BATCH_BENCH_TWINS").unwrap_or(16_000);
    let file = |text: &dyn Fn(usize) -> String| {
        let mut out = String::from("# Plan\n\n## Docs\n\n");
        for i in 0..n {
            let _ = writeln!(out, "- [ ] {}", text(i));
        }
        out
    };
    let same = file(&|_| "Write the release notes for component 00000".to_owned());
    let distinct = file(&|i| format!("Write the release notes for component {i:05}"));
    let time = |text: &str| {
        let mut times = Vec::new();
        for i in 0..=runs {
            let source =
                Source::from_bytes(Path::new("twins.md"), text.as_bytes().to_vec()).expect("UTF-8");
            let t0 = Instant::now();
            let doc = Document::parse(source, ReadOptions::default());
            let plan = Plan::build(doc, PlanOptions::default()).expect("plans");
            let elapsed = t0.elapsed();
            assert_eq!(plan.doc.tasks.len(), n);
            std::hint::black_box(&plan);
            if i > 0 {
                times.push(elapsed);
            }
        }
        times
    };
    let (same_t, distinct_t) = (time(&same), time(&distinct));
    println!();
    println!(
        "{:<44} {:>10} {:>10}",
        format!("Document::parse + Plan::build, {n} tasks"),
        "min",
        "median"
    );
    println!(
        "{:<44} {:>10} {:>10}",
        "distinct texts",
        ms(min(&distinct_t)),
        ms(median(&distinct_t))
    );
    println!(
        "{:<44} {:>10} {:>10}",
        "identical texts (twins `-2`, `-3`, …)",
        ms(min(&same_t)),
        ms(median(&same_t))
    );
    let r = median(&same_t).as_secs_f64() / median(&distinct_t).as_secs_f64();
    let verdict = if r <= 2.0 { "within" } else { "OVER" };
    println!("identical / distinct: {r:.2}x (median), {verdict} the 2x bar");
}

// ---------------------------------------------------------------------------
// Measuring

#[derive(Default)]
pub(crate) struct Measured {
    pub wall: Vec<Duration>,
    pub cpu: Vec<Duration>,
    /// The part of `cpu` spent in the kernel: starting the process and
    /// zeroing the pages it touches first. (Linux splits CPU time between
    /// user and system by sampling, so a 20 ms run's split is rough.)
    pub sys: Vec<Duration>,
    pub max_rss_kib: i64,
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Runs each command `runs` times after one warm-up, taking turns (one run
/// of each, then the next round), and collects each one's measurements.
pub(crate) fn measure_interleaved(
    helper: &Path,
    commands: &[(&Path, Vec<&OsStr>)],
    runs: usize,
) -> Vec<Measured> {
    let mut all: Vec<Measured> = commands.iter().map(|_| Measured::default()).collect();
    for round in 0..=runs {
        for ((program, args), m) in commands.iter().zip(&mut all) {
            measure_once(helper, program, args, round > 0, m);
        }
    }
    all
}

/// Runs `program args` once through the helper and, when `keep`, adds its
/// wall time, CPU time and peak RSS to `m`.
fn measure_once(helper: &Path, program: &Path, args: &[&OsStr], keep: bool, m: &mut Measured) {
    let out = Command::new(helper)
        .arg("--spawn-helper")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("start the helper");
    let report = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = report.split_whitespace().collect();
    if !out.status.success() || fields.len() != 5 || fields[0] != "0" {
        // Run it again with stderr visible so the failure can be read.
        let again = Command::new(program).args(args).output().unwrap();
        panic!(
            "{} {:?} failed ({report:?}):\n{}",
            program.display(),
            args,
            String::from_utf8_lossy(&again.stderr)
        );
    }
    let num = |s: &str| s.parse::<u64>().expect("a helper number");
    if keep {
        m.wall.push(Duration::from_nanos(num(fields[1])));
        m.cpu.push(Duration::from_nanos(num(fields[2])));
        m.max_rss_kib = m.max_rss_kib.max(num(fields[3]) as i64);
        m.sys.push(Duration::from_nanos(num(fields[4])));
    }
}

/// The helper: runs the program once with stdout and stderr to /dev/null and
/// prints `STATUS WALL_NS CPU_NS MAXRSS_KIB SYS_NS`.
fn spawn_helper(args: &[OsString]) {
    let start = Instant::now();
    let child = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", args[0]));
    let (code, usage) = reap(child.id() as libc::pid_t);
    let wall = start.elapsed();
    drop(child);
    // Linux reports ru_maxrss in KiB.
    println!(
        "{code} {} {} {} {}",
        wall.as_nanos(),
        cpu_ns(&usage),
        usage.ru_maxrss,
        timeval_ns(usage.ru_stime)
    );
}

struct InProcess {
    phases: Vec<(&'static str, Vec<Duration>)>,
    parents: usize,
    checked: usize,
    ignored: usize,
    waves: usize,
    groups: usize,
    with_after: usize,
    warnings: usize,
}

/// The library alone: the file's bytes are read once, then each run decodes,
/// parses, plans and writes both formats to a sink, timing each phase.
fn measure_in_process(path: &Path, generated: &Generated, runs: usize) -> InProcess {
    let bytes = std::fs::read(path).unwrap();
    let names = [
        "Source::from_bytes (UTF-8, line index)",
        "Document::parse",
        "Plan::build",
        "Document::parse + Plan::build",
        "plan_json::write (to a sink, as plan streams)",
        "plan_text::write (to a sink, as plan streams)",
        "pulldown-cmark events only (parser floor)",
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    let mut summary = None;
    for i in 0..=runs {
        let copy = bytes.clone();
        let t0 = Instant::now();
        let source = Source::from_bytes(path, copy).expect("UTF-8");
        let t1 = Instant::now();
        let doc = Document::parse(source, ReadOptions::default());
        let t2 = Instant::now();
        let plan = match Plan::build(doc, PlanOptions::default()) {
            Ok(plan) => plan,
            Err(e) => panic!(
                "the generated file does not plan:\n{}",
                run_batch::report::diagnostic::render_error(&e)
            ),
        };
        let t3 = Instant::now();
        plan_json::write(&plan, Path::new("."), std::io::sink()).unwrap();
        let t4 = Instant::now();
        plan_text::write(&plan, Path::new("."), std::io::sink()).unwrap();
        let t5 = Instant::now();
        let events = pulldown_cmark::Parser::new_ext(
            &plan.doc.source.text,
            pulldown_cmark::Options::ENABLE_TASKLISTS
                | pulldown_cmark::Options::ENABLE_TABLES
                | pulldown_cmark::Options::ENABLE_STRIKETHROUGH
                | pulldown_cmark::Options::ENABLE_YAML_STYLE_METADATA_BLOCKS,
        )
        .into_offset_iter()
        .count();
        let t6 = Instant::now();
        std::hint::black_box(events);
        if i > 0 {
            for (k, d) in [
                t1 - t0,
                t2 - t1,
                t3 - t2,
                t3 - t1,
                t4 - t3,
                t5 - t4,
                t6 - t5,
            ]
            .into_iter()
            .enumerate()
            {
                times[k].push(d);
            }
        }
        if summary.is_none() {
            let doc = &plan.doc;
            assert_eq!(
                doc.tasks.len(),
                generated.tasks,
                "the generator and the parser disagree on the number of tasks"
            );
            assert_eq!(doc.ignored.len(), generated.quoted, "quoted look-alikes");
            assert_eq!(doc.sections.len() - 1, generated.headings, "headings");
            summary = Some(InProcess {
                phases: Vec::new(),
                parents: (0..doc.tasks.len())
                    .filter(|&t| doc.has_children(t))
                    .count(),
                checked: doc.tasks.iter().filter(|t| t.checked).count(),
                ignored: doc.ignored.len(),
                waves: plan.waves.len(),
                groups: plan.groups.len(),
                with_after: (0..plan.tasks.len())
                    .filter(|&t| !plan.after(t).is_empty())
                    .count(),
                warnings: doc.warnings.len(),
            });
        }
    }
    let mut summary = summary.unwrap();
    summary.phases = names.into_iter().zip(times).collect();
    summary
}

// ---------------------------------------------------------------------------
// The task file

struct Generated {
    text: String,
    /// Task items the parser should find (outside code, quotes, tables).
    tasks: usize,
    /// `- [ ]` items inside block quotes (reported as ignored).
    quoted: usize,
    headings: usize,
    /// `after` hints on tasks and sections, and how many use short ids.
    after_hints: usize,
    short_after: usize,
    /// Tasks whose text is one an earlier task has: the texts come from a
    /// fixed vocabulary, so their share grows with the file.
    repeated: usize,
}

/// splitmix64: deterministic variety without a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const VERBS: &[&str] = &[
    "Add",
    "Implement",
    "Refactor",
    "Remove",
    "Rename",
    "Document",
    "Test",
    "Migrate",
    "Wire up",
    "Split",
    "Cache",
    "Validate",
    "Log",
    "Benchmark",
    "Harden",
    "Expose",
    "Deprecate",
    "Inline",
    "Extract",
    "Retry",
    "Stream",
    "Batch",
    "Paginate",
    "Index",
];
const COMPONENTS: &[&str] = &[
    "billing",
    "auth",
    "search",
    "storage",
    "scheduler",
    "gateway",
    "ingest",
    "export",
    "metrics",
    "audit log",
    "notifier",
    "session",
    "upload",
    "webhook",
    "config",
    "CLI",
    "admin UI",
    "queue",
    "cache layer",
    "importer",
    "reporting",
    "tenant",
    "invoice",
    "checkout",
    "catalog",
    "profile",
    "feature flag",
    "rate limiter",
    "mailer",
    "sync worker",
];
const OBJECTS: &[&str] = &[
    "request validation",
    "error mapping",
    "retry policy",
    "schema migration",
    "pagination",
    "timeout handling",
    "the public API",
    "unit tests",
    "integration tests",
    "metrics",
    "logging",
    "the config loader",
    "the DB index",
    "the HTTP handler",
    "the job runner",
    "input parsing",
    "serialisation",
    "backpressure",
    "idempotency keys",
    "the read path",
    "the write path",
    "access checks",
    "the fixtures",
    "docs and examples",
    "the cleanup job",
    "the health check",
    "the feature flag",
    "dead code",
    "the event schema",
    "permissions",
    "the data model",
    "caching headers",
    "the CSV export",
    "the dashboard",
    "alerts",
    "the rollout plan",
    "load shedding",
    "the backfill",
    "the client SDK",
    "the changelog",
];
const PHASE_NAMES: &[&str] = &[
    "Foundations",
    "Storage",
    "Accounts",
    "Search",
    "Billing",
    "Notifications",
    "Reporting",
    "Hardening",
    "Rollout",
    "Cleanup",
];
const SUB_NAMES: &[&str] = &[
    "Data model",
    "API",
    "Workers",
    "Frontend",
    "Tests",
    "Observability",
    "Docs",
    "Migration",
];
const PROSE: &[&str] = &[
    "Keep the change small and behind the existing interface.",
    "The current code lives next to the handler; move it rather than copy it.",
    "See the design note in the wiki for the edge cases we agreed on.",
    "Make sure the old behaviour stays available until the rollout is done.",
    "Measure before and after; attach the numbers to the pull request.",
    "Coordinate with the on-call engineer before merging this one.",
    "Touches the shared schema, so run the full migration suite.",
    "There is a flaky test around this; fix it instead of retrying it.",
];

/// Slugs as run-batch makes them, so short `after` ids in the generated
/// file resolve.
fn slug(text: &str) -> String {
    run_batch::taskfile::slug(text, "")
}

struct Gen {
    rng: Rng,
    out: String,
    tasks: usize,
    quoted: usize,
    headings: usize,
    after_hints: usize,
    short_after: usize,
    /// Explicit ids of this phase's earlier top-level units, for `after`.
    phase_ids: Vec<String>,
    previous_phase_ids: Vec<String>,
    /// Slugs of this subsection's tasks: (slug, times seen, top-level unit).
    sub_slugs: Vec<(String, usize, usize)>,
    /// The current top-level unit, counted from 1.
    unit: usize,
    checked_percent: usize,
    /// Tasks per part whose texts a word tells apart (0: one part).
    part: usize,
    /// Every task text so far, to count repeats.
    texts: std::collections::HashSet<String>,
    repeated: usize,
}

impl Gen {
    fn text(&mut self) -> String {
        let mut text = self.vocabulary_text();
        let part = (self.tasks.saturating_sub(1)).checked_div(self.part);
        if let Some(part @ 1..) = part {
            let _ = write!(text, " in part {}", part + 1);
        }
        text
    }

    fn vocabulary_text(&mut self) -> String {
        let verb = self.rng.pick(VERBS);
        let comp = self.rng.pick(COMPONENTS);
        let obj = self.rng.pick(OBJECTS);
        match self.rng.below(10) {
            0 => format!(
                "{verb} {comp} {obj} in `src/{}/mod.rs`",
                comp.replace(' ', "_")
            ),
            1 => format!("{verb} **{comp}** {obj}"),
            _ if self.rng.below(30) == 0 => "Run the formatter and fix lint warnings".to_owned(),
            _ => format!("{verb} {comp} {obj}"),
        }
    }

    /// One task line (and body and children). `depth` 0 is a top-level unit.
    fn task(&mut self, indent: &str, marker: &str, depth: usize, budget: &mut usize) {
        *budget = budget.saturating_sub(1);
        self.tasks += 1;
        let n = self.tasks;
        let mut text = self.text();
        // Numbered steps have texts of their own, so their slug is their id:
        // what short `after` references name.
        let step = n % 50 == 25;
        if step {
            text = format!("Step {n}: {text}");
        }
        if !self.texts.insert(text.clone()) {
            self.repeated += 1;
        }
        // Enough budget left that every child is written (a `parallel` hint
        // on a task without subtasks is an error).
        let room = if depth == 0 { 25 } else { 5 };
        let children =
            if depth < 2 && *budget > room && self.rng.chance(if depth == 0 { 22 } else { 10 }) {
                2 + self.rng.below(3)
            } else {
                0
            };
        let checked = self.rng.chance(self.checked_percent);
        let mut line = format!(
            "{indent}{marker} [{}] {text}",
            if checked {
                if n.is_multiple_of(7) { 'X' } else { 'x' }
            } else {
                ' '
            }
        );
        // Hints on the task's line.
        let mut hints: Vec<String> = Vec::new();
        let mut own_id = None;
        if n.is_multiple_of(20) {
            let id = format!("t{n}");
            hints.push(format!("id: {id}"));
            own_id = Some(id);
        }
        if n % 40 == 7 && !self.phase_ids.is_empty() {
            let i = self.rng.below(self.phase_ids.len());
            hints.push(format!("after: {}", self.phase_ids[i]));
            self.after_hints += 1;
        } else if n % 500 == 11 && !self.previous_phase_ids.is_empty() {
            let i = self.rng.below(self.previous_phase_ids.len());
            hints.push(format!("after: {}", self.previous_phase_ids[i]));
            self.after_hints += 1;
        } else if n % 200 == 13 {
            // A reference to an earlier step's slug id.
            let unit = self.unit;
            let unique: Vec<&String> = self
                .sub_slugs
                .iter()
                .filter(|(_, seen, u)| *seen == 1 && *u < unit)
                .map(|(s, _, _)| s)
                .collect();
            if !unique.is_empty() {
                let s = unique[self.rng.below(unique.len())].clone();
                hints.push(format!("after: {s}"));
                self.after_hints += 1;
                self.short_after += 1;
            }
        }
        if children > 0 && self.rng.chance(25) {
            hints.push(if self.rng.chance(50) {
                "parallel: 2".to_owned()
            } else {
                "parallel: false".to_owned()
            });
        }
        if !hints.is_empty() {
            let _ = write!(line, " <!-- {} -->", hints.join("; "));
        }
        self.out.push_str(&line);
        self.out.push('\n');
        if step && own_id.is_none() {
            let s = slug(&text);
            match self.sub_slugs.iter_mut().find(|(x, _, _)| *x == s) {
                Some((_, seen, _)) => *seen += 1,
                None => self.sub_slugs.push((s, 1, self.unit)),
            }
        }

        // The body, at the item's content indent.
        let body_indent = format!("{indent}{}", " ".repeat(marker.len() + 1));
        if self.rng.chance(60) {
            let lines = 1 + self.rng.below(3);
            for _ in 0..lines {
                let p = self.rng.pick(PROSE);
                let _ = writeln!(self.out, "{body_indent}{p}");
            }
        }
        if n.is_multiple_of(30) {
            let _ = writeln!(self.out, "{body_indent}<!-- timeout: 20m -->");
        }
        if n.is_multiple_of(70) {
            let _ = writeln!(self.out, "{body_indent}<!-- agent: shell; retries: 2 -->");
        }
        if n.is_multiple_of(90) {
            let comp = self.rng.pick(COMPONENTS).replace(' ', "-");
            let _ = writeln!(self.out, "{body_indent}<!-- gate: cargo test -p {comp} -->");
        }
        if n.is_multiple_of(25) {
            let comp = self.rng.pick(COMPONENTS).replace(' ', "_");
            let _ = writeln!(
                self.out,
                "{body_indent}```sh\n{body_indent}cargo test -p {comp} -- --nocapture\n{body_indent}# - [ ] not a task: inside a code block\n{body_indent}```"
            );
        }
        if n.is_multiple_of(45) {
            let _ = writeln!(
                self.out,
                "{body_indent}- note: ask the {} owners first\n{body_indent}- note: keep the old endpoint",
                self.rng.pick(COMPONENTS)
            );
        }
        for _ in 0..children {
            if *budget == 0 {
                break;
            }
            self.task(&body_indent, "-", depth + 1, budget);
        }
        // Only tasks of earlier top-level units are referenced by `after`
        // (never an ancestor, which would be a cycle).
        if depth == 0 {
            self.phase_ids.extend(own_id);
        }
    }
}

fn generate(total: usize) -> Generated {
    generate_in_parts(total, 0)
}

/// [`generate`], with the texts of each part of `part` tasks after the
/// first told apart by a word (none when 0): a larger file repeats texts
/// as often as one part does, where [`generate`]'s fixed vocabulary
/// repeats more the larger the file.
fn generate_in_parts(total: usize, part: usize) -> Generated {
    let mut g = Gen {
        part,
        rng: Rng(0x5EED_CAFE),
        out: String::with_capacity(total * 150),
        tasks: 0,
        quoted: 0,
        headings: 0,
        after_hints: 0,
        short_after: 0,
        phase_ids: Vec::new(),
        previous_phase_ids: Vec::new(),
        sub_slugs: Vec::new(),
        unit: 0,
        checked_percent: 0,
        texts: Default::default(),
        repeated: 0,
    };
    g.out
        .push_str("---\ntitle: Platform rewrite\nowner: infra\n---\n\n");
    g.out.push_str("<!-- timeout: 45m; retries: 1 -->\n\n");
    g.out.push_str(
        "# Platform rewrite\n\nThe whole migration, phase by phase. Each phase is a wave.\n\n",
    );
    g.headings += 1;
    let per_sub = total.div_ceil(PHASES * SUBSECTIONS).max(1);
    for p in 1..=PHASES {
        if g.tasks >= total {
            break;
        }
        g.previous_phase_ids = std::mem::take(&mut g.phase_ids);
        g.checked_percent = match p {
            p if p <= PHASES * 3 / 10 => 90,
            p if p <= PHASES * 4 / 10 => 40,
            _ => 2,
        };
        let name = PHASE_NAMES[(p - 1) % PHASE_NAMES.len()];
        let title = format!("Phase {p}: {name}");
        if p % 10 == 0 {
            let _ = writeln!(g.out, "{title}\n{}\n", "-".repeat(title.len()));
        } else {
            let _ = writeln!(g.out, "## {title}\n");
        }
        g.headings += 1;
        if p % 3 == 0 {
            g.out.push_str("<!-- parallel: 16 -->\n\n");
        }
        if p % 5 == 0 && p > 1 {
            let prev = slug(&format!(
                "Phase {}: {}",
                p - 1,
                PHASE_NAMES[(p - 2) % PHASE_NAMES.len()]
            ));
            let _ = writeln!(g.out, "<!-- after: {prev} -->\n");
            g.after_hints += 1;
            g.short_after += 1;
        }
        if p == 17 {
            // A prose comment (a misspelt hint like `paralel` is an error).
            g.out.push_str("<!-- Keep this phase small. -->\n\n");
        }
        let _ = writeln!(
            g.out,
            "Goal of this phase: {} for {}. {}\n",
            g.rng.pick(OBJECTS),
            g.rng.pick(COMPONENTS),
            g.rng.pick(PROSE)
        );
        for s in 1..=SUBSECTIONS {
            if g.tasks >= total {
                break;
            }
            let sub = SUB_NAMES[(s - 1) % SUB_NAMES.len()];
            let heading = format!("{p}.{s} {sub}");
            g.sub_slugs.clear();
            let _ = writeln!(g.out, "### {heading}\n");
            g.headings += 1;
            if s == 2 {
                g.out.push_str("<!-- parallel: 4 -->\n");
            }
            if s == 5 && p % 4 == 0 {
                g.out.push_str("<!-- parallel: false -->\n");
            }
            let _ = writeln!(g.out, "{}\n", g.rng.pick(PROSE));
            if s == 3 {
                g.out.push_str("| Component | Owner | Status |\n|---|---|---|\n| - [ ] billing | payments | open |\n| search | core | done |\n\n");
            }
            if s == 4 {
                g.out.push_str("```markdown\n- [ ] an example task inside a fence\n- [x] not a task either\n```\n\n");
            }
            if s == 6 {
                g.out
                    .push_str("<!-- TODO: split this section when it grows -->\n\n");
            }
            if s == 7 && p % 5 == 0 {
                g.out
                    .push_str("> - [ ] Consider moving this to the next quarter\n\n");
                g.quoted += 1;
            }
            let marker = match (p + s) % 9 {
                0 => "*",
                4 => "1.",
                _ => "-",
            };
            let mut budget = per_sub.min(total - g.tasks);
            while budget > 0 {
                g.unit += 1;
                g.task("", marker, 0, &mut budget);
                if g.rng.chance(15) {
                    g.out.push('\n');
                }
            }
            g.out.push('\n');
            if s == 8 {
                g.out.push_str(
                    "Notes: <!-- a prose comment, not a hint --> and [ ] brackets in prose.\n\n",
                );
            }
        }
    }
    Generated {
        text: g.out,
        tasks: g.tasks,
        quoted: g.quoted,
        headings: g.headings,
        after_hints: g.after_hints,
        short_after: g.short_after,
        repeated: g.repeated,
    }
}
