//! Benchmark (not a timed test) of the runner: `run-batch FILE --agent … -j N`
//! as a whole process, on generated task files, against `xargs -P` and GNU
//! `parallel` where that comparison means something. Prints a table; never
//! fails on a slow number (a missed goal is printed as MISSED, to be read).
//!
//! 1. Throughput: 5,000 `- [ ] task N` under one heading, `--agent true -j 2`,
//!    against `seq 5000 | xargs -P 2 -I{} true` and
//!    `seq 5000 | parallel -j 2 true`; wall time over RUNS runs (min, median),
//!    each run on a fresh copy of the file in a fresh folder, the contenders
//!    interleaved. Goal: within 1.5× of xargs, far ahead of GNU parallel.
//!    run-batch creates two files per task (prompt, log) where xargs creates
//!    none, so it also runs on tmpfs (/dev/shm) when the temporary folder is
//!    not, and the cost of creating one file there is measured and printed.
//! 2. Task-file writes: 10,000 tasks padded with body text to ~1 MB,
//!    `--agent true -j 2 --json`. A tick writes the bytes of its boxes in
//!    place (docs/ticks.md): each write is one `ticked` event on stdout, and
//!    writes one byte per box it ticks. An inotify watch on the folder counts
//!    renames onto the task file meanwhile (there must be none: the file is
//!    never replaced). Bytes = boxes ticked, checked against the file (its
//!    size never changes). Goal: ≤ 10× the file size.
//! 3. Peak memory: 64 agents at `-j 64`, each printing 10 MB. Once with a
//!    plain command (`head -c 10000000 /dev/zero`, judged by exit code: its
//!    stdout is the log file itself), once with a fake `claude` on PATH
//!    printing 100,000 stream-json lines (10 MB) and a final `result`, so
//!    run-batch reads every line. Peak RSS two ways: `ru_maxrss` from `wait4`
//!    (the largest peak in the process tree, i.e. run-batch, its guard and its
//!    agents, which are all far smaller than run-batch) and `VmHWM` of the
//!    run-batch process itself, polled from /proc every 10 ms. Goal: ≤ 30 MB.
//!
//! 4. Scaling: `- [ ] task N` × 2,000, 20,000 and 100,000, `--agent true -j
//!    2`: run-batch's own CPU time per task (its process alone, not its
//!    agents), and the state folder's size per task after the run. Goals:
//!    own CPU per task at 20,000 and at 100,000 ≤ 1.2× that at 2,000; ≤ 1 KiB
//!    of state per task.
//!
//! Beside each number: the CPU time other processes used meanwhile (from
//! /proc/stat, minus the measured process tree's own), as a share of all
//! CPUs: on a shared machine a number is only as good as that share is small.
//! Temporary folders are deleted only at the end (see `FOLDERS`).
//!
//! Run with `cargo bench --bench run`. Environment:
//! - `RUN_BATCH_BENCH_RUNS` (default 3): timed runs per throughput measurement
//! - `RUN_BATCH_BENCH_WAIT` (default 300): seconds to wait for a quiet machine
//!   (no rustc, no other cargo, < 25% CPU busy) before each section; 0 = don't
//! - `RUN_BATCH_BENCH_DIR`: where to make the temporary folders (default: the
//!   system's; the file system matters: file creation, fsyncs of each tick)
//! - `RUN_BATCH_BENCH_ONLY`: `throughput`, `writes`, `memory` or `scaling` to
//!   run one section
//!
//! Without `--bench` (e.g. `cargo test --all-targets`) it runs a small smoke
//! version so the file keeps compiling and working without taking long.
//!
//! Processes are started through this same binary in a helper mode
//! (`--spawn-helper PROGRAM ARGS…`): a child started with vfork/posix_spawn
//! inherits its parent's peak RSS in `ru_maxrss`, and the helper is small.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod support;

use support::{cpu_ns, env_usize, full_run, median, min, reap, which};

const RUN_BATCH: &str = env!("CARGO_BIN_EXE_run-batch");

/// Sizes of one benchmark session: the full one or the smoke one.
struct Sizes {
    full: bool,
    runs: usize,
    wait: Duration,
    throughput_tasks: usize,
    writes_tasks: usize,
    writes_bytes: usize,
    memory_agents: usize,
    memory_bytes: usize,
}

fn main() {
    let Some(full) = full_run(spawn_helper) else {
        return;
    };
    let sizes = if full {
        Sizes {
            full,
            runs: env_usize("RUN_BATCH_BENCH_RUNS").unwrap_or(3).max(1),
            wait: Duration::from_secs(env_usize("RUN_BATCH_BENCH_WAIT").unwrap_or(300) as u64),
            throughput_tasks: 5_000,
            writes_tasks: 10_000,
            writes_bytes: 1_000_000,
            memory_agents: 64,
            memory_bytes: 10_000_000,
        }
    } else {
        println!(
            "run bench: smoke run (small sizes, 1 run); use `cargo bench --bench run` for numbers"
        );
        Sizes {
            full,
            runs: 1,
            wait: Duration::ZERO,
            throughput_tasks: 100,
            writes_tasks: 200,
            writes_bytes: 20_000,
            memory_agents: 4,
            memory_bytes: 200_000,
        }
    };
    let _cleanup = Cleanup;
    let only = std::env::var("RUN_BATCH_BENCH_ONLY").ok();
    let wants = |name: &str| only.as_deref().is_none_or(|o| o == name);

    println!("run-batch: {RUN_BATCH}");
    println!(
        "machine: nproc {} · load average {} · temp folder {} ({})",
        nproc(),
        loadavg(),
        bench_root().display(),
        fs_type(&bench_root())
    );
    let mut table = Vec::new();
    if wants("throughput") {
        let machine = settle(&sizes);
        table.extend(throughput(&sizes, &machine));
    }
    if wants("writes") {
        let machine = settle(&sizes);
        table.extend(writes(&sizes, &machine));
    }
    if wants("memory") {
        let machine = settle(&sizes);
        table.extend(memory(&sizes, &machine));
    }
    if wants("scaling") {
        let machine = settle(&sizes);
        table.extend(scaling(&sizes, &machine));
    }
    print_table(&table);
}

/// Deletes the temporary folders when `main` ends, panicking or not.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        FOLDERS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

// ---------------------------------------------------------------------------
// The three measurements

/// One line of the final table.
struct Row {
    what: String,
    number: String,
    goal: String,
    met: Option<bool>,
    machine: String,
}

fn throughput(sizes: &Sizes, machine: &str) -> Vec<Row> {
    let n = sizes.throughput_tasks;
    println!("\n== 1. throughput: {n} tasks, `--agent true -j 2` ==");
    let mut text = String::from("# Tasks\n\n");
    for i in 1..=n {
        writeln!(text, "- [ ] task {i}").unwrap();
    }
    let sh = which("sh").expect("sh on PATH");
    // `-I{}` runs `true` with no argument, as run-batch does; `-n 1` would
    // hand it one, which makes it load locale files.
    let xargs_cmd = format!("seq {n} | xargs -P 2 -I{{}} true");
    let parallel_cmd = format!("seq {n} | parallel -j 2 true");
    let parallel = which("parallel").filter(|_| {
        Command::new("parallel")
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("GNU parallel"))
    });
    if parallel.is_none() {
        println!();
        println!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        println!("!!! GNU parallel is not installed: `{parallel_cmd}` is SKIPPED.");
        println!("!!! Install it with `apt-get install parallel` to compare against it.");
        println!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    }
    // run-batch creates two files per task (prompt, log) beside the task
    // file: where that is matters. A second run-batch on tmpfs shows how much.
    let tmpfs = Path::new("/dev/shm");
    let also_tmpfs = fs_type(&bench_root()) != "tmpfs" && fs_type(tmpfs) == "tmpfs";
    println!(
        "  run-batch tasks.md --agent true -j 2   (in a fresh folder in {}; stdout, stderr → /dev/null)",
        bench_root().display()
    );
    if also_tmpfs {
        println!(
            "  run-batch tasks.md --agent true -j 2   (the same, in a fresh folder in /dev/shm, tmpfs)"
        );
    }
    println!("  sh -c '{xargs_cmd}'");
    if parallel.is_some() {
        println!("  sh -c '{parallel_cmd}'");
    }

    // A small warm-up of each so binaries and libraries are in the page cache.
    {
        let dir = tempdir_in(&bench_root());
        let path = dir.join("tasks.md");
        std::fs::write(&path, "# Tasks\n\n- [ ] a\n- [ ] b\n").unwrap();
        run_checked(&helper(RUN_BATCH, &["tasks.md", "--agent", "true", "-j", "2"]).dir(&dir));
        run_checked(&helper(&sh, &["-c", "seq 10 | xargs -P 2 -I{} true"]));
        if parallel.is_some() {
            run_checked(&helper(&sh, &["-c", "seq 10 | parallel -j 2 true"]));
        }
    }

    // What creating one file costs here: run-batch creates two per task.
    for root in std::iter::once(bench_root()).chain(also_tmpfs.then(|| tmpfs.to_owned())) {
        let dir = tempdir_in(&root);
        let probes = if sizes.full { 2000 } else { 200 };
        let per_file = create_probe(&dir, probes);
        println!(
            "  creating a file in {} ({}): {:.0} µs ({probes} empty files, timed){}",
            root.display(),
            fs_type(&root),
            per_file.as_secs_f64() * 1e6,
            if per_file > Duration::from_micros(50) {
                " — SLOW: many files were deleted here lately; run-batch's times include it"
            } else {
                ""
            }
        );
    }
    let run_batch = |root: &Path,
                     label: &str,
                     run: usize,
                     samples: &mut Samples,
                     writes: &mut Vec<usize>| {
        let dir = tempdir_in(root);
        let path = dir.join("tasks.md");
        std::fs::write(&path, &text).unwrap();
        let renames = RenameCounter::start(&dir, "tasks.md");
        let r =
            run_checked(&helper(RUN_BATCH, &["tasks.md", "--agent", "true", "-j", "2"]).dir(&dir));
        let seen = renames.stop();
        let ticked = std::fs::read_to_string(&path)
            .unwrap()
            .matches("- [x] ")
            .count();
        assert_eq!(ticked, n, "run-batch ticked {ticked} of {n} tasks");
        let p = phases(&dir, &r);
        println!(
            "  run {run}: {label} {} (cpu {}, own cpu {}, {} renames onto the task file; others used {:.0}% of the CPUs)",
            secs(r.wall),
            secs(r.cpu),
            secs(r.self_cpu),
            seen.renames,
            r.others * 100.0
        );
        println!(
            "         {label} phases: start-up {} · tasks {} · finish (journal, summary) {}",
            secs(p.startup),
            secs(p.tasks),
            secs(p.finish)
        );
        samples.push(&r);
        samples.phases.push(p);
        writes.push(seen.renames);
    };
    let mut rb = Samples::default();
    let mut rb_tmpfs = Samples::default();
    let mut xargs = Samples::default();
    let mut gnu = Samples::default();
    let mut rb_writes = Vec::new();
    let mut tmpfs_writes = Vec::new();
    // Interleaved, so a burst of load elsewhere hits every contender alike.
    for run in 1..=sizes.runs {
        run_batch(
            &bench_root(),
            "run-batch        ",
            run,
            &mut rb,
            &mut rb_writes,
        );
        if also_tmpfs {
            run_batch(
                tmpfs,
                "run-batch (tmpfs)",
                run,
                &mut rb_tmpfs,
                &mut tmpfs_writes,
            );
        }
        let r = run_checked(&helper(&sh, &["-c", &xargs_cmd]));
        println!(
            "  run {run}: xargs             {} (cpu {}; others used {:.0}% of the CPUs)",
            secs(r.wall),
            secs(r.cpu),
            r.others * 100.0
        );
        xargs.push(&r);
        if parallel.is_some() {
            let r = run_checked(&helper(&sh, &["-c", &parallel_cmd]));
            println!(
                "  run {run}: parallel          {} (cpu {}; others used {:.0}% of the CPUs)",
                secs(r.wall),
                secs(r.cpu),
                r.others * 100.0
            );
            gnu.push(&r);
        }
    }

    let per_task = |s: &Samples| {
        format!(
            "{:.0} µs/task",
            median(&s.wall).as_secs_f64() * 1e6 / n as f64
        )
    };
    let line = |s: &Samples| {
        format!(
            "min {} · median {} · {} · cpu {} · others ≤ {:.0}% CPU",
            secs(min(&s.wall)),
            secs(median(&s.wall)),
            per_task(s),
            secs(median(&s.cpu)),
            s.others.iter().copied().fold(0.0, f64::max) * 100.0
        )
    };
    let ratio =
        |a: &Samples, b: &Samples| median(&a.wall).as_secs_f64() / median(&b.wall).as_secs_f64();
    let vs_xargs = ratio(&rb, &xargs);
    let own = |s: &Samples| {
        let pick = |f: fn(&Phases) -> Duration| median(&s.phases.iter().map(f).collect::<Vec<_>>());
        format!(
            "own cpu {} ({:.0} µs/task) · phases (median): start-up {}, tasks {}, finish {}",
            secs(median(&s.self_cpu)),
            median(&s.self_cpu).as_secs_f64() * 1e6 / n as f64,
            secs(pick(|p| p.startup)),
            secs(pick(|p| p.tasks)),
            secs(pick(|p| p.finish))
        )
    };
    let mut rows = vec![Row {
        what: format!("1. run-batch, {n} × `true`, -j 2"),
        number: format!(
            "{} · {vs_xargs:.2}× xargs · {} · renames onto the task file {rb_writes:?}",
            line(&rb),
            own(&rb)
        ),
        goal: "≤ 1.5× xargs".into(),
        met: Some(vs_xargs <= 1.5),
        machine: machine.to_owned(),
    }];
    if also_tmpfs {
        rows.push(Row {
            what: "   run-batch, the same on tmpfs".into(),
            number: format!(
                "{} · {:.2}× xargs · {} · renames onto the task file {tmpfs_writes:?}",
                line(&rb_tmpfs),
                ratio(&rb_tmpfs, &xargs),
                own(&rb_tmpfs)
            ),
            goal: String::new(),
            met: None,
            machine: String::new(),
        });
    }
    rows.push(Row {
        what: format!("   xargs -P 2 -I{{}} true ({n})"),
        number: line(&xargs),
        goal: String::new(),
        met: None,
        machine: String::new(),
    });
    if parallel.is_some() {
        let vs_parallel = ratio(&gnu, &rb);
        rows.push(Row {
            what: format!("   parallel -j 2 true ({n})"),
            number: format!("{} · run-batch {vs_parallel:.1}× faster", line(&gnu)),
            goal: "run-batch far ahead (≥ 2×)".into(),
            met: Some(vs_parallel >= 2.0),
            machine: String::new(),
        });
    } else {
        rows.push(Row {
            what: "   parallel -j 2 true".into(),
            number: "SKIPPED: GNU parallel is not installed".into(),
            goal: "run-batch far ahead".into(),
            met: None,
            machine: String::new(),
        });
    }
    rows
}

fn writes(sizes: &Sizes, machine: &str) -> Vec<Row> {
    let n = sizes.writes_tasks;
    let text = padded_file(n, sizes.writes_bytes);
    let size = text.len() as u64;
    println!(
        "\n== 2. task-file writes: {n} tasks, {} file, `--agent true -j 2 --json` ==",
        bytes(size)
    );
    let dir = tempdir();
    let path = dir.join("tasks.md");
    std::fs::write(&path, &text).unwrap();
    let events_path = dir.join("stdout.jsonl");
    let renames = RenameCounter::start(&dir, "tasks.md");
    let r = run_checked(
        &helper(
            RUN_BATCH,
            &["tasks.md", "--agent", "true", "-j", "2", "--json"],
        )
        .dir(&dir)
        .stdout(&events_path),
    );
    let seen = renames.stop();
    let after = std::fs::read_to_string(&path).unwrap();
    let ticked = after.matches("- [x] ").count();
    assert_eq!(ticked, n, "run-batch ticked {ticked} of {n} tasks");
    assert_eq!(after.len() as u64, size, "a tick changed the file's size");

    // The `ticked` events: one per write, with the tasks it ticked.
    let events = std::fs::read_to_string(&events_path).unwrap();
    let mut per_write = Vec::new();
    for line in events.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("an event line");
        if v["event"] == "ticked" {
            per_write.push(
                v["tasks"].as_array().map_or(0, Vec::len)
                    + v["parents"].as_array().map_or(0, Vec::len),
            );
        }
    }
    // One byte per box a write ticked; a rename would have rewritten it all.
    let total = per_write.iter().sum::<usize>() as u64 + seen.renames as u64 * size;
    let state = dir_size(&dir.join(".run-batch"));
    println!("  run-batch tasks.md --agent true -j 2 --json   (in a fresh folder)");
    println!(
        "  wall {} · cpu {} (own {}; others used {:.0}% of the CPUs) · renames onto tasks.md: {} (inotify{}) · `ticked` events: {}",
        secs(r.wall),
        secs(r.cpu),
        secs(r.self_cpu),
        r.others * 100.0,
        seen.renames,
        if seen.overflowed {
            ", QUEUE OVERFLOWED: a lower bound"
        } else {
            ""
        },
        per_write.len()
    );
    println!("  tasks per write: {per_write:?}");
    let at: Vec<String> = seen
        .at
        .iter()
        .map(|t| format!("{:.2}", t.as_secs_f64()))
        .collect();
    println!("  writes at (s after the watch started): {}", at.join(" "));
    println!(
        "  bytes written to tasks.md: {} (one per box, in place; {} renames onto it) = {:.6}× the file; state folder afterwards: {}",
        bytes(total),
        seen.renames,
        total as f64 / size as f64,
        bytes(state)
    );
    vec![Row {
        what: format!("2. writes of a {} task file, {n} tasks", bytes(size)),
        number: format!(
            "{} writes in place, {} renames · {} = {:.6}× the file · wall {} · state folder {}",
            per_write.len(),
            seen.renames,
            bytes(total),
            total as f64 / size as f64,
            secs(r.wall),
            bytes(state)
        ),
        goal: "≤ 10× the file, no renames".into(),
        met: Some(total <= 10 * size && seen.renames == 0 && !seen.overflowed),
        machine: machine.to_owned(),
    }]
}

fn scaling(sizes: &Sizes, machine: &str) -> Vec<Row> {
    let counts: &[usize] = if sizes.full {
        &[2_000, 20_000, 100_000]
    } else {
        &[100, 1_000]
    };
    println!("\n== 4. scaling: `--agent true -j 2` on {counts:?} tasks ==");
    let mut per_task = Vec::new();
    let mut rows = Vec::new();
    for &n in counts {
        let mut text = String::from("# Tasks\n\n");
        for i in 1..=n {
            writeln!(text, "- [ ] task {i}").unwrap();
        }
        let dir = tempdir();
        std::fs::write(dir.join("tasks.md"), &text).unwrap();
        let r =
            run_checked(&helper(RUN_BATCH, &["tasks.md", "--agent", "true", "-j", "2"]).dir(&dir));
        let ticked = std::fs::read_to_string(dir.join("tasks.md"))
            .unwrap()
            .matches("- [x] ")
            .count();
        assert_eq!(ticked, n, "run-batch ticked {ticked} of {n} tasks");
        let state = dir_size(&dir.join(".run-batch"));
        let mut files = 0usize;
        walk(&dir.join(".run-batch"), &mut |_, _| files += 1);
        let own = r.self_cpu.as_secs_f64() * 1e6 / n as f64;
        per_task.push(own);
        println!(
            "  {n} tasks: wall {} · own cpu {} ({own:.0} µs/task) · state folder {} in {files} files ({:.0} B/task) · others used {:.0}% of the CPUs",
            secs(r.wall),
            secs(r.self_cpu),
            bytes(state),
            state as f64 / n as f64,
            r.others * 100.0
        );
        rows.push((n, own, state, r.others));
    }
    let base = per_task[0];
    (rows.iter())
        .map(|&(n, own, state, others)| {
            let ratio = own / base;
            let per = state as f64 / n as f64;
            Row {
                what: format!("4. own CPU per task, {n} × `true`"),
                number: format!(
                    "{own:.0} µs/task = {ratio:.2}× the {} figure · state {per:.0} B/task",
                    counts[0]
                ),
                goal: "≤ 1.2× the smallest · ≤ 1 KiB state/task".into(),
                met: Some(ratio <= 1.2 && per <= 1024.0),
                machine: if n == counts[0] {
                    format!("{machine} · others ≤ {:.0}% CPU", others * 100.0)
                } else {
                    format!("others ≤ {:.0}% CPU", others * 100.0)
                },
            }
        })
        .collect()
}

fn memory(sizes: &Sizes, machine: &str) -> Vec<Row> {
    let agents = sizes.memory_agents;
    let each = sizes.memory_bytes;
    println!(
        "\n== 3. peak memory: {agents} agents at -j {agents}, each printing {} ==",
        bytes(each as u64)
    );
    let mut tasks = String::from("# Tasks\n\n");
    for i in 1..=agents {
        writeln!(tasks, "- [ ] task {i}").unwrap();
    }
    let goal = 30_000_000u64;
    let mut rows = Vec::new();
    let jobs = agents.to_string();

    // Judged by exit code: the agent's stdout is the log file.
    {
        let dir = tempdir();
        std::fs::write(dir.join("tasks.md"), &tasks).unwrap();
        let agent = format!("head -c {each} /dev/zero");
        println!("  run-batch tasks.md --agent '{agent}' -j {jobs}");
        let r = run_checked(
            &helper(RUN_BATCH, &["tasks.md", "--agent", &agent, "-j", &jobs])
                .dir(&dir)
                .poll_hwm(),
        );
        let logs = check_logs(&dir, agents, each as u64);
        println!("{}", memory_line(&r, logs));
        rows.push(Row {
            what: format!(
                "3a. peak RSS, {agents} × {} to stdout, exit-code agent",
                bytes(each as u64)
            ),
            number: format!(
                "ru_maxrss {} · VmHWM {} · wall {}",
                bytes(r.maxrss),
                bytes(r.hwm),
                secs(r.wall)
            ),
            goal: "≤ 30 MB".into(),
            met: Some(r.maxrss.max(r.hwm) <= goal),
            machine: machine.to_owned(),
        });
    }

    // The claude preset: stream-json read line by line by run-batch. First
    // with assistant text lines (each one is an activity for the live view),
    // then, as a control, tool results of the same size (parsed, no activity).
    for (label, kind) in [
        (
            "3b. peak RSS, {agents} × {each} stream-json, claude preset",
            Lines::AssistantText,
        ),
        (
            "3c.   the same with tool-result lines (control: no activity)",
            Lines::ToolResult,
        ),
    ] {
        let dir = tempdir();
        std::fs::write(dir.join("tasks.md"), &tasks).unwrap();
        let bin = dir.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let (script, lines) = fake_claude(each, kind);
        let claude = bin.join("claude");
        std::fs::write(&claude, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .unwrap();
        println!(
            "  PATH=<fake claude>:$PATH run-batch tasks.md --agent claude -j {jobs}   (fake claude: {lines} {kind:?} lines of 100 bytes + a result)"
        );
        let r = run_checked(
            &helper(RUN_BATCH, &["tasks.md", "--agent", "claude", "-j", &jobs])
                .dir(&dir)
                .env("PATH", &path)
                .poll_hwm(),
        );
        let logs = check_logs(&dir, agents, each as u64);
        let events = run_dir_events(&dir);
        println!("{} · events.jsonl {}", memory_line(&r, logs), bytes(events));
        rows.push(Row {
            what: label
                .replace("{agents}", &agents.to_string())
                .replace("{each}", &bytes(each as u64)),
            number: format!(
                "ru_maxrss {} · VmHWM {} · wall {} · events.jsonl {}",
                bytes(r.maxrss),
                bytes(r.hwm),
                secs(r.wall),
                bytes(events)
            ),
            goal: if kind == Lines::AssistantText {
                "≤ 30 MB".into()
            } else {
                String::new()
            },
            met: (kind == Lines::AssistantText).then_some(r.maxrss.max(r.hwm) <= goal),
            machine: if kind == Lines::AssistantText {
                machine.to_owned()
            } else {
                String::new()
            },
        });
    }
    rows
}

/// Where a run-batch run's wall time went, from its `events.jsonl`: before
/// `run_started` (reading, planning, state folder), until `run_finished` (the
/// tasks), and after it (folding the journal, the summary).
#[derive(Clone, Copy, Default)]
struct Phases {
    startup: Duration,
    tasks: Duration,
    finish: Duration,
}

/// The numbers of one peak-memory run, as printed under its command line.
fn memory_line(r: &Ran, logs: u64) -> String {
    format!(
        "  wall {} · cpu {} (own {}; others used {:.0}% of the CPUs) · ru_maxrss {} · run-batch VmHWM {} · logs {}",
        secs(r.wall),
        secs(r.cpu),
        secs(r.self_cpu),
        r.others * 100.0,
        bytes(r.maxrss),
        bytes(r.hwm),
        bytes(logs)
    )
}

fn phases(dir: &Path, r: &Ran) -> Phases {
    let mut found = Phases::default();
    walk(&dir.join(".run-batch"), &mut |p, _| {
        if p.file_name().is_none_or(|n| n != "events.jsonl") {
            return;
        }
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let at = |event: &str| {
            text.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["event"] == event)
                .and_then(|v| humantime::parse_rfc3339(v["ts"].as_str()?).ok())
        };
        let since = |a: std::time::SystemTime, b: std::time::SystemTime| {
            b.duration_since(a).unwrap_or_default()
        };
        if let (Some(started), Some(finished)) = (at("run_started"), at("run_finished")) {
            found = Phases {
                startup: since(r.started, started),
                tasks: since(started, finished),
                finish: since(finished, r.ended),
            };
        }
    });
    found
}

/// Creates `n` empty files in `dir`; the time each took on average.
fn create_probe(dir: &Path, n: usize) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        std::fs::File::create(dir.join(format!("probe-{i}"))).expect("create a probe file");
    }
    start.elapsed() / n as u32
}

/// `n` tasks under one heading, each padded with an indented body line so the
/// whole file is about `target` bytes.
fn padded_file(n: usize, target: usize) -> String {
    const WORDS: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ";
    let head = "# Tasks\n\n";
    let per_task = (target - head.len()) / n;
    let mut text = String::with_capacity(target + n);
    text.push_str(head);
    for i in 1..=n {
        let line = format!("- [ ] task {i}\n");
        // Body: two spaces, words, a newline.
        let pad = per_task.saturating_sub(line.len() + 3).max(1);
        text.push_str(&line);
        text.push_str("  ");
        text.extend(WORDS.chars().cycle().take(pad));
        text.push('\n');
    }
    text
}

/// What the fake `claude` prints before its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lines {
    /// `assistant` events with a text block: each is an activity.
    AssistantText,
    /// `user` events with a tool result: parsed, but no activity.
    ToolResult,
}

/// A fake `claude` that reads its prompt, prints about `total` bytes of
/// 100-byte stream-json lines, then a successful result. Returns the script
/// and its number of lines.
fn fake_claude(total: usize, kind: Lines) -> (String, usize) {
    let (prefix, suffix) = match kind {
        Lines::AssistantText => (
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":""#,
            r#""}]}}"#,
        ),
        Lines::ToolResult => (
            r#"{"type":"user","message":{"content":[{"type":"tool_result","content":""#,
            r#""}]}}"#,
        ),
    };
    let line_len = 100;
    let text_len = line_len - 1 - prefix.len() - suffix.len();
    let line = format!("{prefix}{}{suffix}", "x".repeat(text_len));
    let lines = total / line_len;
    let script = format!(
        "#!/bin/sh\n\
         cat >/dev/null\n\
         yes '{line}' | head -n {lines}\n\
         printf '%s\\n' '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"ok\",\"session_id\":\"s\",\"total_cost_usd\":0.01}}'\n"
    );
    (script, lines)
}

/// Every attempt's log is there, and each holds what its agent printed.
fn check_logs(dir: &Path, agents: usize, each: u64) -> u64 {
    let mut logs = Vec::new();
    walk(&dir.join(".run-batch"), &mut |p, len| {
        if p.extension().is_some_and(|e| e == "log") {
            logs.push(len);
        }
    });
    assert_eq!(logs.len(), agents, "one log per agent");
    for &len in &logs {
        assert!(
            len >= each,
            "a log of {len} bytes, expected at least {each}"
        );
    }
    logs.iter().sum()
}

fn run_dir_events(dir: &Path) -> u64 {
    let mut total = 0;
    walk(&dir.join(".run-batch"), &mut |p, len| {
        if p.file_name().is_some_and(|n| n == "events.jsonl") {
            total += len;
        }
    });
    total
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    walk(dir, &mut |_, len| total += len);
    total
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, u64)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            walk(&e.path(), f);
        } else {
            f(&e.path(), meta.len());
        }
    }
}

// ---------------------------------------------------------------------------
// Running processes

/// What to run through the helper.
struct Spawn {
    program: PathBuf,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    stdout: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    poll_hwm: bool,
}

fn helper(program: impl AsRef<Path>, args: &[&str]) -> Spawn {
    Spawn {
        program: program.as_ref().to_owned(),
        args: args.iter().map(OsString::from).collect(),
        dir: None,
        stdout: None,
        env: Vec::new(),
        poll_hwm: false,
    }
}

impl Spawn {
    fn dir(mut self, dir: &Path) -> Spawn {
        self.dir = Some(dir.to_owned());
        self
    }

    fn stdout(mut self, path: &Path) -> Spawn {
        self.stdout = Some(path.to_owned());
        self
    }

    fn env(mut self, key: &str, value: &OsStr) -> Spawn {
        self.env.push((key.into(), value.to_owned()));
        self
    }

    fn poll_hwm(mut self) -> Spawn {
        self.poll_hwm = true;
        self
    }
}

/// One process's numbers, from the helper.
struct Ran {
    wall: Duration,
    cpu: Duration,
    /// `ru_maxrss` from `wait4`, in bytes.
    maxrss: u64,
    /// The process's own `VmHWM`, polled, in bytes (0 when not polled).
    hwm: u64,
    /// CPU time that other processes used meanwhile, as a share of all CPUs.
    others: f64,
    /// The process's own CPU time, without its children's.
    self_cpu: Duration,
    started: std::time::SystemTime,
    ended: std::time::SystemTime,
}

#[derive(Default)]
struct Samples {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    others: Vec<f64>,
    self_cpu: Vec<Duration>,
    phases: Vec<Phases>,
}

impl Samples {
    fn push(&mut self, r: &Ran) {
        self.wall.push(r.wall);
        self.cpu.push(r.cpu);
        self.others.push(r.others);
        self.self_cpu.push(r.self_cpu);
    }
}

/// Runs it through the helper; panics with its stderr when it fails.
fn run_checked(s: &Spawn) -> Ran {
    let me = std::env::current_exe().expect("the benchmark's own path");
    let before = cpu_jiffies();
    let mut cmd = Command::new(&me);
    cmd.arg("--spawn-helper").arg(&s.program).args(&s.args);
    if let Some(d) = &s.dir {
        cmd.current_dir(d);
    }
    for (k, v) in &s.env {
        cmd.env(k, v);
    }
    cmd.env_remove("RUN_BATCH_BENCH_STDOUT")
        .env_remove("RUN_BATCH_BENCH_POLL");
    if let Some(o) = &s.stdout {
        cmd.env("RUN_BATCH_BENCH_STDOUT", o);
    }
    if s.poll_hwm {
        cmd.env("RUN_BATCH_BENCH_POLL", "1");
    }
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("start the helper");
    let report = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = report.split_whitespace().collect();
    if !out.status.success() || fields.len() != 8 || fields[0] != "0" {
        let mut again = Command::new(&s.program);
        again.args(&s.args);
        if let Some(d) = &s.dir {
            again.current_dir(d);
        }
        for (k, v) in &s.env {
            again.env(k, v);
        }
        let again = again.stdin(Stdio::null()).output().expect("run it again");
        panic!(
            "{} {:?} failed ({report:?}); again, its stderr:\n{}",
            s.program.display(),
            s.args,
            String::from_utf8_lossy(&again.stderr)
        );
    }
    let num = |s: &str| s.parse::<u64>().expect("a helper number");
    let after = cpu_jiffies();
    let wall = Duration::from_nanos(num(fields[1]));
    let cpu = Duration::from_nanos(num(fields[2]));
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let busy = (after.0 - after.1).saturating_sub(before.0 - before.1) as f64 / hz;
    let unix = |s: &str| std::time::UNIX_EPOCH + Duration::from_nanos(num(s));
    Ran {
        wall,
        cpu,
        maxrss: num(fields[3]) * 1024,
        hwm: num(fields[4]) * 1024,
        self_cpu: Duration::from_nanos(num(fields[5])),
        started: unix(fields[6]),
        ended: unix(fields[7]),
        others: ((busy - cpu.as_secs_f64()) / (wall.as_secs_f64() * nproc() as f64))
            .clamp(0.0, 1.0),
    }
}

/// The helper: runs the program once (stdin and stderr /dev/null, stdout
/// /dev/null or `RUN_BATCH_BENCH_STDOUT`) and prints `STATUS WALL_NS CPU_NS
/// MAXRSS_KIB HWM_KIB SELF_CPU_NS START_UNIX_NS END_UNIX_NS` (CPU_NS: the
/// process and its children; SELF_CPU_NS: the process alone). With `RUN_BATCH_BENCH_POLL`, it
/// polls the child's `VmHWM` every 10 ms until it ends.
fn spawn_helper(args: &[OsString]) {
    let stdout = match std::env::var_os("RUN_BATCH_BENCH_STDOUT") {
        Some(p) => Stdio::from(std::fs::File::create(p).expect("create the stdout file")),
        None => Stdio::null(),
    };
    let poll = std::env::var_os("RUN_BATCH_BENCH_POLL").is_some();
    let start = Instant::now();
    let started_at = std::time::SystemTime::now();
    let child = Command::new(&args[0])
        .args(&args[1..])
        .env_remove("RUN_BATCH_BENCH_STDOUT")
        .env_remove("RUN_BATCH_BENCH_POLL")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", args[0]));
    let pid = child.id() as libc::pid_t;
    let status_path = format!("/proc/{pid}/status");
    let mut hwm_kib = 0u64;
    // Wait for the end without reaping (WNOWAIT): the zombie's /proc/PID/stat
    // still holds its own CPU time, apart from its children's.
    loop {
        let flags = libc::WEXITED | libc::WNOWAIT | if poll { libc::WNOHANG } else { 0 };
        // SAFETY: an all-zero siginfo is valid; waitid fills it in for our own child.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
        assert_eq!(r, 0, "waitid: {}", std::io::Error::last_os_error());
        // SAFETY: reading the pid field of a siginfo waitid wrote (or left zero).
        if unsafe { info.si_pid() } != 0 {
            break;
        }
        if let Some(kib) = support::vm_hwm_kib(&status_path) {
            hwm_kib = hwm_kib.max(kib);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let wall = start.elapsed();
    let ended_at = std::time::SystemTime::now();
    // utime and stime: fields 14 and 15, the 12th and 13th after the `(comm)`.
    let self_ticks: u64 = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            Some(rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    // `pid` is our own child, exited and not yet reaped.
    let (code, usage) = reap(pid);
    drop(child);
    // Linux reports ru_maxrss in KiB.
    let unix = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    };
    println!(
        "{code} {} {} {} {hwm_kib} {} {} {}",
        wall.as_nanos(),
        cpu_ns(&usage),
        usage.ru_maxrss,
        self_ticks * 1_000_000_000 / hz,
        unix(started_at),
        unix(ended_at)
    );
}

// ---------------------------------------------------------------------------
// Counting renames onto the task file

/// An inotify watch on a folder, counting renames onto one name in it.
struct RenameCounter {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Renames>,
}

struct Renames {
    renames: usize,
    /// When each happened, from the start of the watch.
    at: Vec<Duration>,
    /// The kernel's queue overflowed: some events were lost.
    overflowed: bool,
}

impl RenameCounter {
    fn start(dir: &Path, name: &str) -> RenameCounter {
        // SAFETY: plain system calls on a descriptor we own.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(
            fd >= 0,
            "inotify_init1: {}",
            std::io::Error::last_os_error()
        );
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
        // SAFETY: as above, with a valid C string.
        let wd = unsafe { libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_MOVED_TO) };
        assert!(
            wd >= 0,
            "inotify_add_watch: {}",
            std::io::Error::last_os_error()
        );
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let name = name.as_bytes().to_vec();
        let started = Instant::now();
        let thread = std::thread::spawn(move || {
            let mut seen = Renames {
                renames: 0,
                at: Vec::new(),
                overflowed: false,
            };
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                // Read the queue dry, then (unless stopping) wait for more.
                let stopping = flag.load(Ordering::Acquire);
                loop {
                    // SAFETY: reading into a buffer we own, of its length.
                    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                    if n <= 0 {
                        break;
                    }
                    let mut at = 0;
                    while at + 16 <= n as usize {
                        let word = |i: usize| {
                            u32::from_ne_bytes(buf[at + i..at + i + 4].try_into().unwrap())
                        };
                        let (mask, len) = (word(4), word(12) as usize);
                        let raw = &buf[at + 16..at + 16 + len];
                        let event_name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(len)];
                        if mask & libc::IN_Q_OVERFLOW != 0 {
                            seen.overflowed = true;
                        }
                        if mask & libc::IN_MOVED_TO != 0 && event_name == name.as_slice() {
                            seen.renames += 1;
                            seen.at.push(started.elapsed());
                        }
                        at += 16 + len;
                    }
                }
                if stopping {
                    break;
                }
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one pollfd we own.
                unsafe { libc::poll(&mut pfd, 1, 20) };
            }
            // SAFETY: closing our own descriptor once.
            unsafe { libc::close(fd) };
            seen
        });
        RenameCounter { stop, thread }
    }

    fn stop(self) -> Renames {
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("the inotify thread")
    }
}

// ---------------------------------------------------------------------------
// The machine

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn fs_type(path: &Path) -> String {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: statfs fills in the zeroed struct for a valid C string.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return "?".into();
    }
    match s.f_type {
        // ext4 without a journal (no jbd2 anywhere) skips recently deleted
        // inodes one by one when it creates a file.
        0xEF53 if std::fs::read_dir("/proc/fs/jbd2").is_ok_and(|mut d| d.next().is_none()) => {
            "ext4, no journal".into()
        }
        0xEF53 => "ext4".into(),
        0x0102_1994 => "tmpfs".into(),
        0x9123_683E => "btrfs".into(),
        0x5846_5342 => "xfs".into(),
        0x794c_7630 => "overlayfs".into(),
        t => format!("fs type {t:#x}"),
    }
}

/// The share of all CPUs busy over `over` (from /proc/stat).
/// All CPUs' time and idle time so far, in jiffies (from /proc/stat).
fn cpu_jiffies() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let nums: Vec<u64> = s
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let idle = nums.get(3).copied().unwrap_or(0) + nums.get(4).copied().unwrap_or(0);
    (nums.iter().take(8).sum(), idle)
}

fn cpu_busy(over: Duration) -> f64 {
    let (t0, i0) = cpu_jiffies();
    std::thread::sleep(over);
    let (t1, i1) = cpu_jiffies();
    let total = t1.saturating_sub(t0).max(1);
    1.0 - i1.saturating_sub(i0) as f64 / total as f64
}

/// Builds and benchmarks running beside us: rustc, and cargo or `--bench`
/// processes that are not our own ancestors.
fn others_busy() -> Vec<String> {
    let mut ancestors = vec![std::process::id()];
    let mut pid = std::process::id();
    while let Some(ppid) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1)?.parse::<u32>().ok())
        })
        .filter(|&p| p > 1)
    {
        ancestors.push(ppid);
        pid = ppid;
    }
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if ancestors.contains(&pid) {
            continue;
        }
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let is_bench = cmdline.split(|&b| b == 0).any(|a| a == b"--bench") && comm != "cargo";
        if comm == "rustc" || comm == "cargo" || comm == "clippy-driver" || is_bench {
            found.push(format!("{comm}[{pid}]"));
        }
    }
    found
}

/// Waits (up to `sizes.wait`) for a quiet machine; returns how it was.
fn settle(sizes: &Sizes) -> String {
    let started = Instant::now();
    let mut announced = false;
    loop {
        let others = others_busy();
        let busy = cpu_busy(if sizes.full {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(100)
        });
        let quiet = others.is_empty() && busy < 0.25;
        if quiet || started.elapsed() >= sizes.wait {
            let state = format!(
                "load {} · {:.0}% CPU busy · {}{}",
                loadavg(),
                busy * 100.0,
                if others.is_empty() {
                    "no builds running".to_owned()
                } else {
                    format!("BUSY: {}", others.join(" "))
                },
                if announced {
                    format!(" (waited {:.0}s)", started.elapsed().as_secs_f64())
                } else {
                    String::new()
                }
            );
            if !quiet && sizes.full {
                println!("\n!!! the machine is not quiet; measuring anyway: {state}");
            }
            println!("\nmachine before measuring: {state}");
            return state;
        }
        if !announced {
            println!(
                "\nwaiting up to {}s for a quiet machine ({:.0}% CPU busy; {})",
                sizes.wait.as_secs(),
                busy * 100.0,
                if others.is_empty() {
                    "no builds".to_owned()
                } else {
                    others.join(" ")
                }
            );
            announced = true;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

// ---------------------------------------------------------------------------
// Small things

fn bench_root() -> PathBuf {
    std::env::var_os("RUN_BATCH_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from)
}

/// Every temporary folder, deleted only when the benchmark ends: deleting
/// thousands of files just before a measurement slows its file creation (ext4
/// without a journal skips inodes deleted in the last minutes one by one).
static FOLDERS: std::sync::Mutex<Vec<tempfile::TempDir>> = std::sync::Mutex::new(Vec::new());

fn tempdir() -> PathBuf {
    tempdir_in(&bench_root())
}

fn tempdir_in(root: &Path) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("run-batch-bench.")
        .tempdir_in(root)
        .expect("a temporary folder");
    let path = dir.path().to_owned();
    FOLDERS.lock().unwrap().push(dir);
    path
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn bytes(b: u64) -> String {
    if b >= 1_000_000 {
        format!("{:.2} MB", b as f64 / 1e6)
    } else if b >= 1_000 {
        format!("{:.1} kB", b as f64 / 1e3)
    } else {
        format!("{b} B")
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "\n== results (nproc {}, load average now {}) ==",
        nproc(),
        loadavg()
    );
    let w = rows
        .iter()
        .map(|r| r.what.chars().count())
        .max()
        .unwrap_or(0);
    for r in rows {
        let verdict = match r.met {
            Some(true) => format!("goal {}: met", r.goal),
            Some(false) => format!("goal {}: MISSED", r.goal),
            None if r.goal.is_empty() => String::new(),
            None => format!("goal {}: not measured", r.goal),
        };
        println!("{:<w$}  {}", r.what, r.number);
        if !verdict.is_empty() {
            println!("{:<w$}    {verdict}", "");
        }
        if !r.machine.is_empty() {
            println!("{:<w$}    machine: {}", "", r.machine);
        }
    }
}
