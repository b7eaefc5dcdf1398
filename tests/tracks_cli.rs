//! Tracks and `order: graph`, end to end: which tasks start while others
//! still run (proved by marker files and the order of events, never by
//! clocks), failures that stay in their track, and `plan` in every format.

mod common;

use common::checks::git_ok as git;

use common::Test;
use serde_json::{Value, json};

/// A task run by the shell agent: `script` is its ```sh block.
fn task(name: &str, script: &str) -> String {
    format!("- [ ] {name} <!-- id: {name} -->\n  ```sh\n  {script}\n  ```\n")
}

/// Waits (at most about 30 s) for `file` to appear, else fails: a task that
/// can only succeed if another task started while it was running.
fn wait_for(file: &str) -> String {
    format!(
        "for i in $(seq 600); do [ -f {file} ] && exit 0; sleep 0.05; done; echo no {file} >&2; exit 1"
    )
}

/// Waves × modules A–D; `a2` marks that it started, `d1` needs that mark.
fn four_modules(head: &str, d1_wait: &str) -> String {
    let mut plan = format!("{head}# Wave 1\n");
    for m in ["A", "B", "C"] {
        plan += &format!(
            "## Module {m}\n{}",
            task(&format!("{}1", m.to_lowercase()), "true")
        );
    }
    plan += &format!("## Module D\n{}", task("d1", d1_wait));
    plan += "# Wave 2\n";
    plan += &format!("## 2. module a\n{}", task("a2", "touch a2.started"));
    for m in ["B", "C", "D"] {
        plan += &format!(
            "## Module {m}\n{}",
            task(&format!("{}2", m.to_lowercase()), "true")
        );
    }
    plan
}

/// The position of the first event named `name` for `task` in events.jsonl
/// (one writer appends them in the order they happened).
fn position(events: &[Value], name: &str, task: &str) -> usize {
    events
        .iter()
        .position(|e| e["event"] == name && e["task"] == task)
        .unwrap_or_else(|| panic!("no {name} for {task}: {events:#?}"))
}

fn ticked(text: &str, id: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("- [x]") && l.contains(&format!("id: {id} ")))
}

#[test]
fn module_a_second_wave_task_starts_before_module_d_first_wave_task_ends() {
    let plan = four_modules("<!-- pipeline: tracks -->\n", &wait_for("a2.started"));
    let out = Test::new()
        .file("t.md", &plan)
        .args(["t.md", "--agent", "shell", "-j", "4"])
        .success();
    let text = out.read("t.md");
    assert!(!text.contains("- [ ]"), "{text}");
    let events = common::agents::events(out.path(), "t.md");
    assert!(
        position(&events, "task_started", "a2") < position(&events, "task_finished", "d1"),
        "a2 started before d1 ended"
    );
}

#[test]
fn without_tracks_the_wave_is_a_barrier_and_the_same_plan_fails() {
    // `--pipeline waves` wins over the hint: `a2` waits for `d1`, which
    // waits for `a2` until it gives up.
    let wait = "for i in $(seq 40); do [ -f a2.started ] && exit 0; sleep 0.05; done; exit 1";
    let plan = four_modules("<!-- pipeline: tracks -->\n", wait);
    let out = Test::new()
        .file("t.md", &plan)
        .args(["t.md", "--agent", "shell", "-j", "4", "--pipeline", "waves"])
        .failure();
    let text = out.read("t.md");
    assert!(!ticked(&text, "d1") && !ticked(&text, "a2"), "{text}");
    assert!(ticked(&text, "a1"), "{text}");
}

#[test]
fn the_command_line_turns_tracks_on() {
    let plan = four_modules("", &wait_for("a2.started"));
    Test::new()
        .file("t.md", &plan)
        .args([
            "t.md",
            "--agent",
            "shell",
            "-j",
            "4",
            "--pipeline",
            "tracks",
        ])
        .success();
}

#[test]
fn tasks_outside_tracks_wait_for_the_whole_wave_before() {
    // `outside` sits in wave 2 but in no module: it must not start while
    // `b1` runs; `b1` waits until `a2` (a track's next task) has started.
    let plan = format!(
        "<!-- pipeline: tracks -->\n# Wave 1\n## A\n{}## B\n{}# Wave 2\n{}## A\n{}",
        task("a1", "true"),
        task("b1", &wait_for("a2.started")),
        task("outside", "touch outside.started"),
        task("a2", "touch a2.started"),
    );
    let out = Test::new()
        .file("t.md", &plan)
        .args(["t.md", "--agent", "shell", "-j", "4"])
        .success();
    let events = common::agents::events(out.path(), "t.md");
    assert!(
        position(&events, "task_finished", "b1") < position(&events, "task_started", "outside")
    );
    assert!(position(&events, "task_started", "a2") < position(&events, "task_finished", "b1"));
}

#[test]
fn an_unmatched_module_starts_a_track_and_waits_for_the_whole_wave() {
    let plan = format!(
        "<!-- pipeline: tracks -->\n# Wave 1\n## A\n{}## B\n{}# Wave 2\n## QA\n{}## A\n{}",
        task("a1", "true"),
        task("b1", &wait_for("a2.started")),
        task("qa", "true"),
        task("a2", "touch a2.started"),
    );
    let out = Test::new()
        .file("t.md", &plan)
        .args(["t.md", "--agent", "shell", "-j", "4"])
        .success();
    let events = common::agents::events(out.path(), "t.md");
    assert!(position(&events, "task_finished", "b1") < position(&events, "task_started", "qa"));
    let json = plan_json(&plan, &[]);
    assert_eq!(
        json["tracks"],
        json!([
            {"name": "A", "modules": ["wave-1/a", "wave-2/a"]},
            {"name": "B", "modules": ["b"]},
            {"name": "QA", "modules": ["wave-2/qa"]},
        ])
    );
    let qa = task_json(&json, "qa");
    assert_eq!(qa["waits_for_waves"], true);
    assert_eq!(qa["edges"], json!([]));
}

fn plan_json(plan: &str, args: &[&str]) -> Value {
    let mut all = vec!["plan", "t.md", "--format", "json"];
    all.extend_from_slice(args);
    Test::new().file("t.md", plan).args(all).success().json()
}

fn task_json<'a>(json: &'a Value, id: &str) -> &'a Value {
    (json["tasks"].as_array().unwrap().iter())
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("no task {id}"))
}

#[test]
fn modules_match_by_title_without_case_or_numbering_and_by_a_track_hint() {
    let plan = "<!-- pipeline: tracks -->\n\
        # Wave 1\n## 1.1 Backend API\n- [ ] api <!-- id: api -->\n## Frontend\n- [ ] ui <!-- id: ui -->\n\
        # Wave 2\n## 2.1 backend api\n- [ ] more <!-- id: more -->\n\
        ## Browser tests\n<!-- track: frontend -->\n- [ ] e2e <!-- id: e2e -->\n";
    let json = plan_json(plan, &[]);
    assert_eq!(json["pipeline"], "tracks");
    assert_eq!(
        json["tracks"],
        json!([
            {"name": "1.1 Backend API", "modules": ["1-1-backend-api", "2-1-backend-api"]},
            {"name": "Frontend", "modules": ["frontend", "browser-tests"]},
        ])
    );
    let more = task_json(&json, "more");
    assert_eq!(more["after"], json!(["1-1-backend-api"]));
    assert_eq!(
        more["edges"],
        json!([{"after": "1-1-backend-api", "from": ["track"]}])
    );
    assert_eq!(more["waits_for_waves"], false);
    assert_eq!(task_json(&json, "e2e")["after"], json!(["frontend"]));
    // Without the hint there are no tracks, and every task waits for waves.
    let plain = plan_json(&plan.replace("<!-- pipeline: tracks -->\n", ""), &[]);
    assert_eq!(plain["pipeline"], "waves");
    assert_eq!(plain["tracks"], json!([]));
    assert_eq!(task_json(&plain, "more")["after"], json!([]));
    assert_eq!(task_json(&plain, "more")["waits_for_waves"], true);
    // The command line wins over the hint.
    let off = plan_json(plan, &["--pipeline", "waves"]);
    assert_eq!(off["tracks"], json!([]));
}

#[test]
fn a_section_level_pipeline_hint_pipelines_only_that_wave() {
    let plan = "# W1\n## A\n- [ ] a1\n# W2\n<!-- pipeline: tracks -->\n## A\n- [ ] a2\n# W3\n## A\n- [ ] a3\n";
    let json = plan_json(plan, &[]);
    assert_eq!(task_json(&json, "a2")["after"], json!(["w1/a"]));
    assert_eq!(task_json(&json, "a3")["after"], json!([]));
    assert_eq!(task_json(&json, "a3")["waits_for_waves"], true);
}

#[test]
fn plan_shows_tracks_in_every_format() {
    let plan = "<!-- pipeline: tracks -->\n# Wave 1\n## Module A\n- [ ] a1\n## Module B\n- [ ] b1\n\
        # Wave 2\n- [ ] outside\n## Module A\n- [ ] a2\n## Module B\n- [ ] b2 <!-- after: a1 -->\n";
    let t = || Test::new().file("t.md", plan);
    let text = t().args(["plan", "t.md"]).success().stdout;
    assert!(
        text.contains(
            "\ntracks:\n  Module A: wave-1/module-a (wave 1) → wave-2/module-a (wave 2)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("§ Module B  [wave-2/module-b]  · track Module B"),
        "{text}"
    );
    assert!(
        text.contains("b2  (after a1, wave-1/module-b (track))"),
        "{text}"
    );
    let mermaid = t()
        .args(["plan", "t.md", "--format", "mermaid"])
        .success()
        .stdout;
    for line in [
        "  s2 ==>|track| s5\n",
        "  s3 ==>|track| s6\n",
        "  s1 ==> t2\n",
        "  t0 --> t4\n",
    ] {
        assert!(mermaid.contains(line), "{line:?} in {mermaid}");
    }
    // The whole-wave arrow goes to the task outside tracks only.
    assert!(!mermaid.contains("s1 ==> s4"), "{mermaid}");
    let dot = t()
        .args(["plan", "t.md", "--format", "dot"])
        .success()
        .stdout;
    assert!(
        dot.contains(
            "  s2 -> s5 [ltail=cluster_s2, lhead=cluster_s5, style=bold, label=\"track\"];"
        ),
        "{dot}"
    );
    assert!(
        dot.contains("  t0 -> t2 [ltail=cluster_s1, style=bold];"),
        "{dot}"
    );
    let json = t()
        .args(["plan", "t.md", "--format", "json"])
        .success()
        .json();
    assert_eq!(json["schema"], 4);
    assert_eq!(
        task_json(&json, "b2")["edges"],
        json!([
            {"after": "a1", "from": ["hint"]},
            {"after": "wave-1/module-b", "from": ["track"]},
        ])
    );
    assert_eq!(task_json(&json, "outside")["waits_for_waves"], true);
}

#[test]
fn order_graph_starts_a_task_of_the_last_section_at_once() {
    // `build` can only finish once `free`, in the last section and with no
    // dependencies, has started.
    let plan = format!(
        "<!-- order: graph -->\n# Build\n{}# Docs\n{}# QA\n{}",
        task("build", &wait_for("free.started")),
        task("docs", "true").replace("-->", "; after: qa-check -->"),
        task("free", "touch free.started") + &task("qa-check", "true"),
    );
    let out = Test::new()
        .file("t.md", &plan)
        .args(["t.md", "--agent", "shell", "-j", "4"])
        .success();
    let events = common::agents::events(out.path(), "t.md");
    assert!(
        position(&events, "task_started", "free") < position(&events, "task_finished", "build")
    );
    // `docs` depends on a task in a later section, which is allowed here.
    assert!(
        position(&events, "task_finished", "qa-check") < position(&events, "task_started", "docs")
    );
    let json = plan_json(&plan, &[]);
    assert_eq!(json["order"], "graph");
    assert_eq!(task_json(&json, "free")["waits_for_waves"], false);
}

#[test]
fn without_order_graph_a_dependency_on_a_later_section_is_an_error() {
    Test::new()
        .file(
            "t.md",
            "# A\n- [ ] a <!-- after: b -->\n# B\n- [ ] b <!-- id: b -->\n",
        )
        .args(["plan", "t.md"])
        .stderr_contains("make phases advisory with `<!-- order: graph -->`")
        .status(2);
}

#[test]
fn order_graph_still_rejects_a_cycle_and_names_it() {
    Test::new()
        .file(
            "t.md",
            "<!-- order: graph -->\n# A\n- [ ] a <!-- id: a; after: b -->\n# B\n- [ ] b <!-- id: b; after: a -->\n",
        )
        .args(["plan", "t.md"])
        .stderr_contains("`a -> b -> a`")
        .status(2);
}

#[test]
fn a_cycle_through_a_track_is_an_error() {
    // `a2` follows module A of wave 1; `a1` waits for `a2`.
    Test::new()
        .file(
            "t.md",
            "<!-- order: graph; pipeline: tracks -->\n# W1\n## A\n- [ ] a1 <!-- id: a1; after: a2 -->\n# W2\n## A\n- [ ] a2 <!-- id: a2 -->\n",
        )
        .args(["plan", "t.md"])
        .stderr_contains("circular dependency")
        .status(2);
}

#[test]
fn hints_in_the_wrong_place_are_errors_before_anything_runs() {
    for (plan, at) in [
        ("# W\n- [ ] a <!-- track: x -->\n", "t.md:2:21"),
        ("# W\n<!-- order: graph -->\n- [ ] a\n", "t.md:2:13"),
        ("# W\n<!-- track: x -->\n- [ ] a\n", "t.md:2:13"),
        ("<!-- pipeline: lanes -->\n# W\n- [ ] a\n", "t.md:1:16"),
    ] {
        Test::new()
            .file("t.md", plan)
            .args(["t.md", "--agent", "shell"])
            .stderr_contains(at)
            .unchanged("t.md")
            .status(2);
    }
    // `owner` in an ordinary comment is not a misspelt `order`.
    Test::new()
        .file("t.md", "<!-- owner: me -->\n# W\n- [ ] a\n")
        .args(["plan", "t.md"])
        .success();
}

/// Two tracks over two waves, `a1` failing at once, `b1` done, and a task
/// outside the tracks in wave 2.
fn failing_track() -> String {
    format!(
        "<!-- pipeline: tracks -->\n# Wave 1\n## A\n{}## B\n{}# Wave 2\n{}## A\n{}## B\n{}",
        task("a1", "exit 1"),
        task("b1", "true"),
        task("outside", "true"),
        task("a2", "true"),
        task("b2", "true"),
    )
}

#[test]
fn a_failure_blocks_its_own_track_and_not_the_others() {
    let out = Test::new()
        .file("t.md", &failing_track())
        .args(["t.md", "--agent", "shell", "-j", "4"])
        .status(1);
    let text = out.read("t.md");
    assert!(ticked(&text, "b1") && ticked(&text, "b2"), "{text}");
    assert!(!ticked(&text, "a2") && !ticked(&text, "outside"), "{text}");
    let events = common::agents::events(out.path(), "t.md");
    let blocked = common::agents::named(&events, "task_blocked");
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(
        (blocked[0]["task"].as_str(), blocked[0]["by"].as_str()),
        (Some("a2"), Some("a1"))
    );
}

#[test]
fn with_keep_going_tasks_outside_tracks_run_after_a_failure() {
    let out = Test::new()
        .file("t.md", &failing_track())
        .args(["t.md", "--agent", "shell", "-j", "4", "--keep-going"])
        .status(1);
    let text = out.read("t.md");
    assert!(ticked(&text, "b2") && ticked(&text, "outside"), "{text}");
    assert!(!ticked(&text, "a2"), "{text}");
}

#[test]
fn with_fail_fast_the_other_tracks_stop_too() {
    // `b1` would run long; the failure of `a1` stops it and nothing new starts.
    let plan = failing_track().replacen("  true\n", "  sleep 30\n", 1);
    assert!(plan.contains("sleep 30"));
    let out = Test::new()
        .file("t.md", &plan)
        .args(["t.md", "--agent", "shell", "-j", "4", "--fail-fast"])
        .failure();
    let text = out.read("t.md");
    assert!(!text.contains("- [x]"), "{text}");
    let events = common::agents::events(out.path(), "t.md");
    let started: Vec<&str> = common::agents::named(&events, "task_started")
        .iter()
        .filter_map(|e| e["task"].as_str())
        .collect();
    assert!(
        started.iter().all(|t| ["a1", "b1"].contains(t)),
        "nothing starts after the failure: {started:?}"
    );
}

#[test]
fn with_worktrees_a_tracks_next_task_starts_from_a_tip_with_its_merged_work() {
    // `a2` runs in a worktree of its own and needs `a1`'s file there, while
    // `b1` is still running (it waits for `a2`'s mark, outside the repo).
    let marks = tempfile::tempdir().unwrap();
    let mark = marks.path().join("a2.started");
    let mark = mark.to_str().unwrap();
    let plan = format!(
        "<!-- pipeline: tracks -->\n# Wave 1\n## A\n{}## B\n{}# Wave 2\n## A\n{}",
        task("a1", "echo one > a1.txt"),
        task("b1", &wait_for(mark)),
        task(
            "a2",
            &format!("grep -q one a1.txt && touch {mark} && echo two > a2.txt")
        ),
    );
    let t = Test::new().file("t.md", &plan);
    let dir = t.path().to_owned();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "start"]);
    let out = t
        .args([
            "t.md",
            "--agent",
            "shell",
            "-j",
            "4",
            "--isolate",
            "worktree",
        ])
        .success();
    assert_eq!(out.read("a2.txt"), "two\n");
    let events = common::agents::events(out.path(), "t.md");
    assert!(position(&events, "task_started", "a2") < position(&events, "task_finished", "b1"));
}

#[test]
fn a_grouped_mermaid_graph_shows_tracks_too() {
    // Too many tasks for a node each: one node per section, and the track
    // edges between them; no wave waits for the whole wave before.
    let mut plan = "<!-- pipeline: tracks -->\n".to_owned();
    for w in 0..40 {
        plan += &format!("# Wave {w}\n");
        for m in ["A", "B", "C", "D"] {
            plan += &format!("## Module {m}\n");
            for i in 0..8 {
                plan += &format!(
                    "- [ ] task {w} {m} {i}, with a text long enough to make the graph big\n"
                );
            }
        }
    }
    let out = Test::new()
        .file("t.md", &plan)
        .args(["plan", "t.md", "--format", "mermaid"])
        .success()
        .stdout;
    assert!(out.contains("%% One node per section"), "{}", &out[..200]);
    assert_eq!(out.matches("==>|track|").count(), 39 * 4);
    assert!(!out.contains("w0 ==> w1"));
}
