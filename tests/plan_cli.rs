//! `run-batch plan`: what a task file means, as a person sees it in the
//! text, JSON, Mermaid and DOT outputs and in the errors for bad files.

mod common;

use common::Test;
use common::agents::RunTest;
use serde_json::{Value, json};

/// Plans `task` (written to `task.md`) as JSON and returns the output.
fn plan_json(task: &str) -> common::Output {
    Test::new()
        .file("task.md", task)
        .args(["plan", "task.md", "--format", "json"])
        .stderr("")
        .success()
}

/// Planning `task` fails with exactly this on stderr, exit status 2, and
/// nothing on stdout.
fn plan_error(task: &str, stderr: &str) {
    Test::new()
        .file("task.md", task)
        .args(["plan", "task.md"])
        .stdout("")
        .stderr(stderr)
        .status(2);
}

fn ids(values: &[Value]) -> Vec<&str> {
    values.iter().map(|v| v.as_str().unwrap()).collect()
}

fn strings(value: &Value) -> Vec<&str> {
    ids(value.as_array().expect("an array"))
}

// ---- the text plan ---------------------------------------------------------

#[test]
fn text_plan_lists_waves_tasks_ids_limits_dependencies_and_settings() {
    Test::new()
        .file(
            "task.md",
            "
            # Ship search

            <!-- agent: claude -->

            ## Backend
            <!-- parallel: 2 -->
            - [ ] Add the endpoint <!-- id: api -->
            - [x] Index documents

            ## Frontend
            - [ ] Search box <!-- after: api; timeout: 20m -->
            ",
        )
        .args(["plan", "task.md"])
        .stdout(
            "
            task.md: 3 tasks to run (1 done, 2 to do) in 2 waves · dialect native
              agents run in . (the task file's folder)

            wave 1 · Ship search › Backend  (at most 2 at once)
              [ ] api  Add the endpoint  (agent claude)  :7
              [x] index-documents  Index documents  (agent claude)  :8

            wave 2 · Ship search › Frontend
              [ ] search-box  Search box  (after api; agent claude; timeout 20m)  :11
            ",
        )
        .stderr("")
        .success();
}

#[test]
fn text_plan_does_not_cut_an_id_hint_off_the_text() {
    // Only a dialect id (`T001 …`) repeats the start of the text.
    Test::new()
        .file(
            "task.md",
            "
            # P
            - [ ] build the thing <!-- id: build -->
            - [ ] ship
            ",
        )
        .args(["plan", "task.md"])
        .stdout_contains("  [ ] build  build the thing  :2\n")
        .stdout_contains("  [ ] ship  ship  :3\n")
        .success();
}

#[test]
fn text_plan_shows_parents_and_subtasks_indented() {
    Test::new()
        .file(
            "task.md",
            "
            # P
            - [ ] Parent <!-- parallel: 2 -->
              - [x] One
              - [ ] Two
            ",
        )
        .args(["plan", "task.md"])
        .stdout(
            "
            task.md: 2 tasks to run (1 done, 1 to do) in 1 wave · dialect native
              plus 1 parent ticked by their subtasks
              agents run in . (the task file's folder)

            wave 1 · P
              [ ] parent  Parent  (parent; subtasks at most 2 at once)  :2
                [x] one  One  :3
                [ ] two  Two  :4
            ",
        )
        .success();
}

// ---- hints: parallel -----------------------------------------------------

#[test]
fn parallel_number_on_a_section_limits_that_section() {
    let out = plan_json(
        "
        # P
        ## Build
        <!-- parallel: 2 -->
        - [ ] a
        - [ ] b
        - [ ] c
        ## Test
        - [ ] d
        ",
    );
    assert_eq!(
        out.json()["groups"],
        json!([{"owner": "build", "kind": "section", "limit": 2, "in_order": false}])
    );
    // A limit is not an order: no task waits for another.
    assert!(out.task_field("after").iter().all(|a| a == &json!([])));
}

#[test]
fn parallel_false_on_a_section_runs_its_tasks_one_at_a_time_in_order() {
    let out = plan_json(
        "
        # P
        <!-- parallel: false -->
        - [ ] a
        - [ ] b
        - [ ] c
        ",
    );
    assert_eq!(
        out.json()["groups"],
        json!([{"owner": "p", "kind": "section", "limit": 1, "in_order": true}])
    );
    assert_eq!(
        out.task_field("after"),
        [json!([]), json!(["a"]), json!(["b"])]
    );
}

#[test]
fn parallel_true_on_a_section_adds_no_limit() {
    let out = plan_json(
        "
        # P
        <!-- parallel: true -->
        - [ ] a
        - [ ] b
        ",
    );
    assert_eq!(out.json()["groups"], json!([]));
    assert_eq!(out.task_field("after"), [json!([]), json!([])]);
}

#[test]
fn parallel_true_lets_unmarked_speckit_tasks_overlap() {
    // spec-kit runs unmarked tasks in order; an explicit hint says otherwise.
    let task = "
        # Tasks
        ## Phase 1: Setup
        <!-- parallel: true -->
        - [ ] T001 Create the project
        - [ ] T002 Add the linter
        ## Phase 2: Core
        - [ ] T003 Write the models
        - [ ] T004 Write the service
        ";
    let out = plan_json(task);
    assert_eq!(
        out.task_field("after"),
        [json!([]), json!([]), json!([]), json!(["T003"])]
    );
}

#[test]
fn parallel_before_the_first_heading_limits_the_whole_file() {
    Test::new()
        .file(
            "task.md",
            "
            <!-- parallel: 3 -->
            # P
            - [ ] a
            ",
        )
        .args(["plan", "task.md"])
        .stdout_contains("\n  file: at most 3 at once\n")
        .success();
    let out = plan_json("<!-- parallel: 3 -->\n# P\n- [ ] a\n");
    assert_eq!(
        out.json()["groups"],
        json!([{"owner": "", "kind": "file", "limit": 3, "in_order": false}])
    );
}

#[test]
fn parallel_true_and_false_on_the_file() {
    let out = plan_json(
        "
        <!-- parallel: false -->
        # P
        ## A
        - [ ] a
        - [ ] b
        ## B
        - [ ] c
        ",
    );
    assert_eq!(
        out.json()["groups"],
        json!([{"owner": "", "kind": "file", "limit": 1, "in_order": true}])
    );
    // Each task slug reads like a section's id, so the section tells it apart.
    assert_eq!(out.task("a/b")["after"], json!(["a/a"]));
    Test::new()
        .file("task.md", "<!-- parallel: false -->\n# P\n- [ ] a\n")
        .args(["plan", "task.md"])
        .stdout_contains("\n  file: one at a time, in order\n")
        .success();

    let out = plan_json("<!-- parallel: true -->\n# P\n- [ ] a\n- [ ] b\n");
    assert_eq!(out.json()["groups"], json!([]));
    assert_eq!(out.task("b")["after"], json!([]));
}

#[test]
fn parallel_on_a_parent_task_limits_its_subtasks() {
    let out = plan_json(
        "
        # P
        - [ ] Parent <!-- parallel: 2 -->
          - [ ] a
          - [ ] b
          - [ ] c
        ",
    );
    assert_eq!(
        out.json()["groups"],
        json!([{"owner": "parent", "kind": "task", "limit": 2, "in_order": false}])
    );
}

#[test]
fn parallel_true_on_a_parent_task_lets_kiro_subtasks_overlap() {
    // Kiro runs unmarked subtasks in order unless the parent says otherwise.
    let kiro = "# Plan\n- [ ] 1. Parent\n- [ ] 1.1 One\n- [ ] 1.2 Two\n";
    assert_eq!(plan_json(kiro).task("1.2")["after"], json!(["1.1"]));
    let out = plan_json(
        "# Plan\n- [ ] 1. Parent <!-- parallel: true -->\n- [ ] 1.1 One\n- [ ] 1.2 Two\n",
    );
    assert_eq!(out.task("1.2")["after"], json!([]));
    assert_eq!(out.json()["groups"], json!([]));
}

#[test]
fn parallel_false_on_a_parent_task_orders_its_subtasks() {
    let out = plan_json(
        "
        # P
        - [ ] Parent
          <!-- parallel: false -->
          - [ ] a
          - [ ] b
        - [ ] Other
        ",
    );
    assert_eq!(out.task("b")["after"], json!(["a"]));
    assert_eq!(out.task("other")["after"], json!([]));
    assert_eq!(
        out.json()["groups"],
        json!([{"owner": "parent", "kind": "task", "limit": 1, "in_order": true}])
    );
}

// ---- hints: id and after ---------------------------------------------------

#[test]
fn id_hint_names_a_task_and_a_section() {
    let out = plan_json(
        "
        # P
        ## Backend
        <!-- id: back -->
        - [ ] Build the API <!-- id: api -->
        - [ ] Build the DB
        ",
    );
    let api = out.task("api");
    assert_eq!(api["id_source"], "hint");
    assert_eq!(api["section_id"], "back");
    // Slugs follow the headings' titles, not a section's id.
    assert_eq!(out.task("build-the-db")["section_id"], "back");
}

#[test]
fn after_a_task_waits_for_that_task() {
    let out = plan_json(
        "
        # P
        ## Backend
        - [ ] Build the API <!-- id: api -->
        ## Frontend
        - [ ] Search box <!-- after: api -->
        ",
    );
    assert_eq!(out.task("search-box")["after"], json!(["api"]));
}

#[test]
fn after_a_section_waits_for_the_whole_section() {
    let out = plan_json(
        "
        # P
        ## Backend
        - [ ] a
        - [ ] b
        ## Frontend
        - [ ] Search box <!-- after: p/backend -->
        ",
    );
    assert_eq!(out.task("search-box")["after"], json!(["backend"]));
}

#[test]
fn after_accepts_the_last_segments_of_a_long_id() {
    let out = plan_json(
        "
        # P
        ## Backend
        - [ ] Build the API
        - [ ] Migrate <!-- after: build-the-api -->
        ## Frontend
        - [ ] Search box <!-- after: backend -->
        - [ ] Results page <!-- after: backend/migrate -->
        ",
    );
    assert_eq!(out.task("migrate")["after"], json!(["build-the-api"]));
    assert_eq!(out.task("search-box")["after"], json!(["backend"]));
    assert_eq!(out.task("results-page")["after"], json!(["migrate"]));
}

#[test]
fn after_lists_several_ids_in_one_hint_and_across_hints() {
    let out = plan_json(
        "
        # P
        - [ ] a <!-- id: a -->
        - [ ] b <!-- id: b -->
        - [ ] c <!-- id: c -->
        - [ ] d <!-- after: a, b -->
          <!-- after: c -->
        ",
    );
    assert_eq!(out.task("d")["after"], json!(["a", "b", "c"]));
}

// ---- hints: agent, timeout, retries, gate --------------------------------

#[test]
fn agent_timeout_retries_and_gate_appear_in_the_json() {
    let out = plan_json(
        "
        # P
        - [ ] a <!-- agent: codex --model o3; timeout: 1h30m; retries: 2; gate: test -f out && grep -q 'a b' out | cat -->
        - [ ] b
        ",
    );
    let a = out.task("a");
    assert_eq!(a["agent"], "codex --model o3");
    assert_eq!(a["timeout_secs"], 5400.0);
    assert_eq!(a["retries"], 2);
    // The gate is the command as written, for `sh -c`.
    assert_eq!(a["gate"], "test -f out && grep -q 'a b' out | cat");
    let b = out.task("b");
    for field in ["agent", "timeout_secs", "retries", "gate"] {
        assert_eq!(b[field], Value::Null, "{field}");
    }
}

#[test]
fn timeouts_take_hours_minutes_seconds_and_milliseconds() {
    let out = plan_json(
        "
        # P
        - [ ] a <!-- timeout: 90s -->
        - [ ] b <!-- timeout: 20m -->
        - [ ] c <!-- timeout: 2h -->
        - [ ] d <!-- timeout: 500ms -->
        - [ ] e <!-- timeout: 1h30m15s -->
        ",
    );
    assert_eq!(
        out.task_field("timeout_secs"),
        [
            json!(90.0),
            json!(1200.0),
            json!(7200.0),
            json!(0.5),
            json!(5415.0)
        ]
    );
}

#[test]
fn settings_cascade_and_the_nearest_scope_wins() {
    let out = plan_json(
        "
        <!-- agent: claude; retries: 1; timeout: 10m; gate: make check -->
        # P
        ## A
        <!-- agent: shell; retries: 3 -->
        - [ ] Parent <!-- timeout: 5m -->
          - [ ] Child <!-- agent: codex -->
        - [ ] Plain
        ## B
        - [ ] Other
        ",
    );
    let settings = |id: &str| {
        let t = out.task(id);
        (
            t["agent"].clone(),
            t["retries"].clone(),
            t["timeout_secs"].clone(),
        )
    };
    assert_eq!(settings("child"), (json!("codex"), json!(3), json!(300.0)));
    assert_eq!(settings("plain"), (json!("shell"), json!(3), json!(600.0)));
    assert_eq!(settings("other"), (json!("claude"), json!(1), json!(600.0)));
    assert_eq!(out.task("other")["gate"], "make check");
}

// ---- gates ---------------------------------------------------------------

#[test]
fn gate_blocks_and_hints_cascade_like_the_other_hints() {
    let out = plan_json(
        "
        A gate for the whole file:

        ```gate
        set -e
        make lint
        ```

        # P
        ## A
        The section's preamble has its own:

        ```gate extra words are fine
        test -f a.txt; grep -q ok a.txt
        ```

        - [ ] Parent
          ```gate
          cargo test -p parent
          ```
          - [ ] Child one
          - [ ] Child two <!-- gate: test -d out && ls out | grep -q . -->
        - [ ] Plain
        ## B
        - [ ] Other
        - [ ] Shell task <!-- agent: shell -->
          ```sh
          echo building
          ```
          ```gate
          test -f built
          ```
        ",
    );
    assert_eq!(
        out.task_field("gate"),
        [
            json!("cargo test -p parent"),
            json!("cargo test -p parent"),
            json!("test -d out && ls out | grep -q ."),
            json!("test -f a.txt; grep -q ok a.txt"),
            json!("set -e\nmake lint"),
            json!("test -f built"),
        ]
    );
    // The block stays in the body the agent reads.
    assert_eq!(
        out.task("shell-task")["body"],
        "```sh\necho building\n```\n```gate\ntest -f built\n```"
    );
}

#[test]
fn the_text_plan_shows_each_gate() {
    Test::new()
        .file(
            "task.md",
            "
            # P
            - [ ] a <!-- gate: test -f out.txt && grep -q ok out.txt -->
            - [ ] b
              ```gate
              set -e
              make check
              ```
            ",
        )
        .args(["plan", "task.md"])
        .stdout(
            "
            task.md: 2 tasks to run (0 done, 2 to do) in 1 wave · dialect native
              agents run in . (the task file's folder)

            wave 1 · P
              [ ] a  a  (gate `test -f out.txt && grep -q ok out.txt`)  :2
              [ ] b  b  (gate `set -e …` from line 4)  :3
            ",
        )
        .stderr("")
        .success();
}

#[test]
fn a_second_gate_on_one_scope_is_an_error_at_the_second() {
    plan_error(
        "
        # P
        - [ ] a <!-- gate: make -->
          ```gate
          make check
          ```
        ",
        "
        error: second gate for this task: line 2 already has one
         --> task.md:3:3
          |
        3 |   ```gate
          |   ^^^^^^^
          = help: a task, section or file has one gate: put all its commands in one ```gate block
        error: 1 problem in the task file; nothing was run
        ",
    );
    plan_error(
        "
        # P
        ```gate
        make
        ```
        ```gate
        make check
        ```
        - [ ] a
        ",
        "
        error: second gate for this section: line 2 already has one
         --> task.md:5:1
          |
        5 | ```gate
          | ^^^^^^^
          = help: a task, section or file has one gate: put all its commands in one ```gate block
        error: 1 problem in the task file; nothing was run
        ",
    );
    plan_error(
        "
        <!-- gate: make -->
        <!-- gate: make check -->
        # P
        - [ ] a
        ",
        "
        error: second gate for the file: line 1 already has one
         --> task.md:2:12
          |
        2 | <!-- gate: make check -->
          |            ^^^^^^^^^^
          = help: a task, section or file has one gate: put all its commands in one ```gate block
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_gate_block_after_a_sections_first_task_is_an_error() {
    plan_error(
        "
        # P
        - [ ] a

        ```gate
        make
        ```
        ",
        "
        error: this ```gate block applies to nothing: it comes after the section's first task and is not inside a task
         --> task.md:4:1
          |
        4 | ```gate
          | ^^^^^^^
          = help: indent the block under a task to make it the task's gate, or move it between the heading and the section's first task
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn an_empty_gate_block_is_an_error() {
    plan_error(
        "# P\n- [ ] a\n  ```gate\n  ```\n",
        "
        error: this ```gate block is empty
         --> task.md:3:3
          |
        3 |   ```gate
          |   ^^^^^^^
          = help: write the command the gate runs, or delete the block
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn only_fenced_gate_blocks_outside_block_quotes_are_gates() {
    let out = plan_json(
        "
        # P
        - [ ] a
          ```sh
          gate
          ```
              indented code, not a fence
          > ```gate
          > make
          > ```
        - [ ] b
          ```gates
          make
          ```
        ",
    );
    assert_eq!(out.task_field("gate"), [Value::Null, Value::Null]);
}

// ---- tasks that could never start ------------------------------------------

#[test]
fn a_nul_byte_in_a_tasks_text_is_an_error() {
    Test::new()
        .bytes("task.md", "# P\n- [ ] fix the \0 bug\n")
        .args(["plan", "task.md"])
        .stdout("")
        .stderr(
            "
            error: the text of task `fix-the-bug` contains a NUL byte
             --> task.md:2:15
              |
            2 | - [ ] fix the ␀ bug
              |               ^
              = help: delete it: agents and gates get their text in arguments and environment variables, which cannot hold a NUL byte
            error: 1 problem in the task file; nothing was run
            ",
        )
        .status(2);
}

#[test]
fn an_agent_hint_with_an_unbalanced_quote_is_an_error() {
    plan_error(
        "
        # P
        - [ ] a <!-- agent: claude --model 'x -->
        ",
        "
        error: bad `agent` value `claude --model 'x`: expected an agent name or a command line with balanced quotes
         --> task.md:2:21
          |
        2 | - [ ] a <!-- agent: claude --model 'x -->
          |                     ^^^^^^^^^^^^^^^^^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

// ---- where agents run --------------------------------------------------------

/// Runs `git init` in `dir` of the test's folder (a real repository).
fn git_init(test: Test, dir: &str) -> Test {
    let test = test.dir(dir);
    let status = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(test.path().join(dir))
        .status()
        .expect("run git init");
    assert!(status.success(), "git init failed");
    test
}

#[test]
fn the_plan_says_where_agents_run_at_the_root_of_the_git_work_tree() {
    let speckit = |args: &[&str]| {
        git_init(Test::new(), "repo")
            .file(
                "repo/specs/001-x/tasks.md",
                "# Tasks\n- [ ] T001 Create src/app.py\n",
            )
            .current_dir("repo")
            .args(args)
            .stderr("")
    };
    speckit(&["plan", "specs/001-x/tasks.md"])
        .stdout_contains("\n  agents run in . (the root of the git work tree holding the file)\n")
        .success();
    // The JSON gives the folder in full.
    let out = speckit(&["plan", "specs/001-x/tasks.md", "--format", "json"]).success();
    let root = std::fs::canonicalize(out.path().join("repo")).unwrap();
    assert_eq!(out.json()["workdir"], root.to_str().unwrap());
}

#[test]
fn the_plan_says_agents_run_in_the_task_files_folder_outside_git() {
    Test::new()
        .file(
            "specs/001-x/tasks.md",
            "# Tasks\n- [ ] T001 Create src/app.py\n",
        )
        .args(["plan", "specs/001-x/tasks.md"])
        .stdout_contains("\n  agents run in specs/001-x (the task file's folder)\n")
        .stderr("")
        .success();
}

// ---- hint scope ---------------------------------------------------------

#[test]
fn hints_before_the_first_heading_are_file_defaults() {
    let out = plan_json(
        "
        <!-- agent: shell -->
        # P
        ## A
        - [ ] a
        ## B
        - [ ] b
        ",
    );
    assert_eq!(out.task_field("agent"), [json!("shell"), json!("shell")]);
}

#[test]
fn hints_between_a_heading_and_its_first_task_are_section_hints() {
    let out = plan_json(
        "
        # P
        ## A
        Some prose about this section.

        <!-- agent: shell -->

        - [ ] a
        - [ ] b
        ## B
        - [ ] c
        ",
    );
    assert_eq!(
        out.task_field("agent"),
        [json!("shell"), json!("shell"), Value::Null]
    );
}

#[test]
fn hints_on_a_task_line_or_in_its_body_are_task_hints() {
    let out = plan_json(
        "
        # P
        - [ ] On the line <!-- retries: 1 -->
        - [ ] In the body
          Some notes.
          <!-- retries: 2 -->
        - [ ] In a subtask
          - [ ] Sub
            <!-- retries: 3 -->
        - [ ] None
        ",
    );
    assert_eq!(
        out.task_field("retries"),
        [json!(1), json!(2), Value::Null, json!(3), Value::Null]
    );
}

#[test]
fn a_hint_after_a_parents_subtasks_but_inside_the_parent_is_the_parents() {
    let out = plan_json(
        "
        # P
        - [ ] Parent
          - [ ] a
          - [ ] b

          <!-- parallel: false -->
        - [ ] c
        ",
    );
    assert_eq!(
        out.json()["groups"],
        json!([{"owner": "parent", "kind": "task", "limit": 1, "in_order": true}])
    );
    assert_eq!(out.task("b")["after"], json!(["a"]));
}

#[test]
fn an_unindented_hint_under_a_task_is_not_in_the_task() {
    // The comment ends the list, so it belongs to no task.
    plan_error(
        "
        # P
        - [ ] a
        <!-- timeout: 5m -->
        - [ ] b
        ",
        "
        error: this hint applies to nothing: it comes after the section's first task and is not inside a task
         --> task.md:3:1
          |
        3 | <!-- timeout: 5m -->
          | ^^^^
          = help: put section hints between the heading and its first task, and task hints on the task's line or in its body
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_hint_after_a_sections_first_task_outside_any_task_is_an_error() {
    plan_error(
        "
        # P
        - [ ] a

        <!-- parallel: 2 -->

        - [ ] b
        ",
        "
        error: this hint applies to nothing: it comes after the section's first task and is not inside a task
         --> task.md:4:1
          |
        4 | <!-- parallel: 2 -->
          | ^^^^
          = help: put section hints between the heading and its first task, and task hints on the task's line or in its body
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_hint_on_a_heading_line_is_a_section_hint() {
    let out = plan_json(
        "
        # P
        ## Backend <!-- id: back; agent: shell -->
        - [ ] a
        ",
    );
    assert_eq!(out.task("a")["section_id"], "back");
    assert_eq!(out.task("a")["agent"], "shell");
    assert_eq!(out.task("a")["section"], json!(["P", "Backend"]));
}

#[test]
fn comments_in_code_blocks_and_block_quotes_are_not_hints() {
    let out = plan_json(
        "
        # P
        - [ ] a
          ```html
          <!-- retries: 9 -->
          ```
        > <!-- parallel: 0 -->
        ",
    );
    assert_eq!(out.task("a")["retries"], Value::Null);
}

// ---- comments that look like hints ---------------------------------------

#[test]
fn a_near_miss_hint_key_is_an_error_and_nothing_runs() {
    let task = "
        # P
        <!-- paralel: false -->
        - [ ] a touch=ran
        ";
    let stderr = "
        error: `paralel` is not a hint key, so this comment would be ignored
         --> task.md:2:6
          |
        2 | <!-- paralel: false -->
          |      ^^^^^^^
          = help: did you mean `parallel`? (hint keys are lowercase; if this comment is not a hint, reword it)
        error: 1 problem in the task file; nothing was run
        ";
    plan_error(task, stderr);
    // `run` refuses before any agent starts and writes nothing.
    let out = Test::new()
        .fake_agent()
        .file("task.md", task)
        .args(["task.md", "--agent", "fake-agent"])
        .stdout("")
        .stderr(stderr)
        .unchanged("task.md")
        .status(2);
    assert!(!out.path().join("ran").exists());
    assert!(!out.path().join(".run-batch").exists());
}

#[test]
fn near_misses_in_case_spelling_or_number_are_errors() {
    for (comment, key, want) in [
        ("<!-- Parallel: 3 -->", "Parallel", "parallel"),
        ("<!-- retry: 2 -->", "retry", "retries"),
        ("<!-- timout: 5m -->", "timout", "timeout"),
        ("<!-- gates: make test -->", "gates", "gate"),
        ("<!-- Agent: codex -->", "Agent", "agent"),
        ("<!-- depends: a\nafer: b -->", "afer", "after"),
    ] {
        Test::new()
            .file("task.md", &format!("# P\n{comment}\n- [ ] a\n"))
            .args(["plan", "task.md"])
            .stdout("")
            .stderr_contains(&format!(
                "error: `{key}` is not a hint key, so this comment would be ignored\n"
            ))
            .stderr_contains(&format!("= help: did you mean `{want}`?"))
            .status(2);
    }
}

#[test]
fn an_equals_sign_instead_of_a_colon_is_an_error() {
    plan_error(
        "
        # P
        <!-- parallel=false -->
        - [ ] a
        - [ ] b <!-- id: b; retries = 2 -->
        ",
        "
        error: `parallel=false` is not a hint: a hint is written `key: value`, with a colon
         --> task.md:2:6
          |
        2 | <!-- parallel=false -->
          |      ^^^^^^^^^^^^^^
          = help: write `parallel: false`
        error: `retries = 2` is not a hint: a hint is written `key: value`, with a colon
         --> task.md:4:21
          |
        4 | - [ ] b <!-- id: b; retries = 2 -->
          |                     ^^^^^^^^^^^
          = help: write `retries: 2`
        error: 2 problems in the task file; nothing was run
        ",
    );
}

#[test]
fn a_gate_cut_at_a_semicolon_is_an_error_that_points_to_gate_blocks() {
    plan_error(
        "
        # P
        - [ ] a <!-- gate: test -f a; test -f b -->
        ",
        "
        error: `test -f b` is not part of the `gate` hint: `;` and line breaks end a hint
         --> task.md:2:31
          |
        2 | - [ ] a <!-- gate: test -f a; test -f b -->
          |                               ^^^^^^^^^
          = help: write a gate that needs `;` or several lines as a ```gate block
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_comment_mixing_a_hint_with_prose_is_an_error() {
    plan_error(
        "# P\n- [ ] a <!-- retries: 2\nask Sam first -->\n",
        "
        error: `ask Sam first` is not a hint, in a comment with hints (a hint is `key: value`)
         --> task.md:3:1
          |
        3 | ask Sam first -->
          | ^^^^^^^^^^^^^
          = help: keep hints in a comment of their own
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn ordinary_comments_are_not_hints_and_not_warned_about() {
    let out = Test::new()
        .file(
            "task.md",
            "
            <!-- markdownlint-disable MD013 -->
            # P
            <!-- TODO: split this section -->
            <!-- ANCHOR:phase-1 -->
            <!-- prettier-ignore -->
            <!--
              WHAT: the roadmap
              WHY: keeps us focused
              Date: 2025-01-02
              Status: draft
            -->
            <!-- a = b, x=1 -->
            - [ ] a <!-- see the wiki -->
            <!-- /ANCHOR:phase-1 -->
            ",
        )
        .args(["plan", "task.md", "--format", "json"])
        .stderr("")
        .success();
    assert_eq!(out.json()["warnings"], json!([]));
    assert_eq!(out.json()["groups"], json!([]));
}

#[test]
fn an_unknown_key_beside_real_hints_is_an_error_with_a_suggestion() {
    plan_error(
        "
        # P
        - [ ] a <!-- id: a; ater: b -->
        ",
        "
        error: unknown hint `ater`
         --> task.md:2:21
          |
        2 | - [ ] a <!-- id: a; ater: b -->
          |                     ^^^^
          = help: did you mean `after`?
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn multi_line_hints_split_at_a_lone_cr_too() {
    // Old Mac line endings: a CR alone ends each line.
    let out = Test::new()
        .bytes(
            "task.md",
            "# P\r<!--\ragent: shell\rretries: 2\r-->\r- [ ] a\r- [ ] b\r  <!--\r  timeout: 5m\r  -->\r",
        )
        .args(["plan", "task.md", "--format", "json"])
        .stderr("")
        .success();
    assert_eq!(out.task_field("id"), [json!("a"), json!("b")]);
    assert_eq!(out.task_field("agent"), [json!("shell"), json!("shell")]);
    assert_eq!(out.task_field("retries"), [json!(2), json!(2)]);
    assert_eq!(out.task_field("timeout_secs"), [Value::Null, json!(300.0)]);
    assert_eq!(out.task("b")["line"], 7);
}

// ---- dialects -----------------------------------------------------------

const SPECKIT: &str = "
    # Tasks: Search

    ## Phase 1: Setup
    - [ ] T001 Create the project structure
    - [ ] T002 [P] Configure the linter
    - [ ] T003 [P] Configure the formatter
    - [ ] T004 Write the README

    ## Phase 2: Core
    - [ ] T005 Implement the models
    - [X] T006 [P] Implement the service (depends on T005)
    - [ ] T007 [P] Wire the endpoints, depends on T002 and T006
    ";

#[test]
fn speckit_ids_parallel_markers_dependencies_and_phases() {
    let out = plan_json(SPECKIT);
    let json = out.json();
    assert_eq!(json["dialect"], "speckit");
    assert_eq!(
        ids(&out.task_field("id")),
        ["T001", "T002", "T003", "T004", "T005", "T006", "T007"]
    );
    assert!(out.task_field("id_source").iter().all(|s| s == "dialect"));
    assert_eq!(
        out.task_field("parallel_mark"),
        [false, true, true, false, false, true, true].map(Value::from)
    );
    // Each `## Phase N` is a wave.
    let waves: Vec<_> = json["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["section"].clone(), w["tasks"].clone()))
        .collect();
    assert_eq!(
        waves,
        [
            (
                json!(["Tasks: Search", "Phase 1: Setup"]),
                json!(["T001", "T002", "T003", "T004"])
            ),
            (
                json!(["Tasks: Search", "Phase 2: Core"]),
                json!(["T005", "T006", "T007"])
            ),
        ]
    );
    // Unmarked tasks run in order; adjacent [P] tasks run together; "depends
    // on" adds edges.
    assert_eq!(
        out.task_field("after"),
        [
            json!([]),
            json!(["T001"]),
            json!(["T001"]),
            json!(["T002", "T003"]),
            json!([]),
            json!(["T005"]),
            json!(["T002", "T005", "T006"]),
        ]
    );
    assert_eq!(out.task("T006")["checked"], true);
}

#[test]
fn speckit_text_plan_names_each_id_once() {
    Test::new()
        .file("task.md", SPECKIT)
        .args(["plan", "task.md"])
        .stdout_contains("  [ ] T002  [P] Configure the linter  (after T001)  :5\n")
        .stdout_contains(
            "  [x] T006  [P] Implement the service (depends on T005)  (after T005)  :11\n",
        )
        .stdout_contains("dialect speckit")
        .success();
}

#[test]
fn speckit_dependency_on_a_missing_task_is_a_warning() {
    let out = Test::new()
        .file(
            "task.md",
            "# Tasks\n- [ ] T001 Build\n- [ ] T002 Test, depends on T009\n",
        )
        .args(["plan", "task.md", "--format", "json"])
        .stderr_contains(
            "warning: task `T002` says it depends on `T009`, which no task is; ignored\n",
        )
        .success();
    assert_eq!(out.task("T002")["after"], json!(["T001"]));
}

const KIRO: &str = "
    # Implementation Plan

    - [ ] 1. Set up the project
    - [ ] 1.1 Create the skeleton
      - _Requirements: 1.1_
    - [ ] 1.2 Add the configuration
    - [ ] 2. Build the models
    - [ ] 2.1 (P) Create the user model
      - _Depends: 1.2_
    - [ ] 2.2 (P) Create the order model
    - [ ]* 2.3 Write unit tests
    - [ ] 3. Wire everything
    ";

#[test]
fn kiro_numbers_parents_markers_and_dependencies() {
    let out = plan_json(KIRO);
    assert_eq!(out.json()["dialect"], "kiro");
    assert_eq!(
        ids(&out.task_field("id")),
        ["1", "1.1", "1.2", "2", "2.1", "2.2", "2.3", "3"]
    );
    // `1.1` belongs to `1.` even without indentation.
    assert_eq!(
        out.task_field("parent"),
        [
            Value::Null,
            json!("1"),
            json!("1"),
            Value::Null,
            json!("2"),
            json!("2"),
            json!("2"),
            Value::Null
        ]
    );
    assert_eq!(out.task("2")["children"], json!(["2.1", "2.2", "2.3"]));
    assert_eq!(out.task("2.1")["parallel_mark"], true);
    assert_eq!(out.task("2.1")["after"], json!(["1.2"]));
    assert_eq!(out.task("2.2")["after"], json!([]));
    assert_eq!(out.task("3")["after"], json!(["2"]));
}

#[test]
fn kiro_optional_tasks_are_skipped_unless_included() {
    let out = plan_json(KIRO);
    let t = out.task("2.3");
    assert_eq!(
        (t["optional"].clone(), t["skipped"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(out.json()["include_optional"], false);
    Test::new()
        .file("task.md", KIRO)
        .args(["plan", "task.md"])
        .stdout_contains("5 tasks to run")
        .stdout_contains("1 optional skipped (use --include-optional)")
        .stdout_contains(
            "    [ ] 2.3  Write unit tests  (optional, skipped; after 2.1, 2.2)  :11\n",
        )
        .success();

    let out = Test::new()
        .file("task.md", KIRO)
        .args(["plan", "task.md", "--format", "json", "--include-optional"])
        .success();
    assert_eq!(out.task("2.3")["skipped"], false);
    assert_eq!(out.json()["include_optional"], true);
    Test::new()
        .file("task.md", KIRO)
        .args(["plan", "task.md", "--include-optional"])
        .stdout_contains("6 tasks to run")
        .stdout_lacks("skipped")
        .success();
}

const OPENSPEC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/taskfiles/openspec/changes/add-search/tasks.md"
));
const OPENSPEC_PATH: &str = "openspec/changes/add-search/tasks.md";

#[test]
fn openspec_groups_are_waves_and_numbers_are_ids() {
    let out = Test::new()
        .file(OPENSPEC_PATH, OPENSPEC)
        .args(["plan", OPENSPEC_PATH, "--format", "json"])
        .stderr("")
        .success();
    // `1.2` under `## 1. Search endpoint` is OpenSpec's, not Kiro's.
    assert_eq!(out.json()["dialect"], "openspec");
    assert_eq!(
        ids(&out.task_field("id")),
        ["1.1", "1.2", "1.3", "2.1", "2.1.1", "2.1.2", "2.2", "3.1"]
    );
    let waves: Vec<Value> = (out.json()["waves"].as_array().unwrap().iter())
        .map(|w| w["tasks"].clone())
        .collect();
    assert_eq!(
        waves,
        [
            json!(["1.1", "1.2", "1.3"]),
            json!(["2.1", "2.1.1", "2.1.2", "2.2"]),
            json!(["3.1"])
        ]
    );
    // A group's tasks run in order, as OpenSpec lists them.
    assert_eq!(out.task("1.3")["after"], json!(["1.2"]));
    assert_eq!(out.task("2.1.2")["after"], json!(["2.1.1"]));
    assert_eq!(out.task("2.1.1")["parent"], "2.1");
    assert_eq!(out.task("2.2")["after"], json!(["2.1"]));
    assert_eq!(
        out.task("1.2")["body"],
        "- Keep the old `find` route working"
    );
    Test::new()
        .file(OPENSPEC_PATH, OPENSPEC)
        .args(["plan", OPENSPEC_PATH])
        .stdout_contains("7 tasks to run (1 done, 6 to do) in 3 waves · dialect openspec\n")
        .stdout_contains("\nwave 2 · Tasks › 2. Indexing\n")
        .stdout_contains("  [ ] 1.3  Tests: cover empty and long queries  (after 1.2)  :7\n")
        .success();
}

#[test]
fn openspec_can_be_asked_for_and_a_parallel_hint_lifts_the_order() {
    // Numbers without group headings read as Kiro…
    let flat = "# Tasks\n- [ ] 1.1 One\n- [ ] 1.2 Two\n";
    assert_eq!(plan_json(flat).json()["dialect"], "kiro");
    // …unless OpenSpec is asked for.
    let out = Test::new()
        .file("task.md", flat)
        .args([
            "plan",
            "task.md",
            "--format",
            "json",
            "--dialect",
            "openspec",
        ])
        .success();
    assert_eq!(out.json()["dialect"], "openspec");
    assert_eq!(ids(&out.task_field("id")), ["1.1", "1.2"]);
    let parallel = format!("<!-- parallel: true -->\n{OPENSPEC}");
    let out = plan_json(&parallel);
    assert_eq!(out.json()["dialect"], "openspec");
    assert_eq!(out.task("1.3")["after"], json!([]));
}

#[test]
fn the_dialect_flag_overrides_detection() {
    let out = Test::new()
        .file("task.md", SPECKIT)
        .args(["plan", "task.md", "--format", "json", "--dialect", "native"])
        .success();
    assert_eq!(out.json()["dialect"], "native");
    assert_eq!(out.task_field("id")[0], "t001-create-the-project-structure");
    assert!(out.task_field("after").iter().all(|a| a == &json!([])));

    // One id-like task among plain ones is not enough to detect spec-kit…
    let plain = "# P\n- [ ] T100 Rename the thing\n- [ ] Write docs\n- [ ] Ship it\n";
    let out = plan_json(plain);
    assert_eq!(out.json()["dialect"], "native");
    // …but it can be asked for.
    let out = Test::new()
        .file("task.md", plain)
        .args([
            "plan",
            "task.md",
            "--format",
            "json",
            "--dialect",
            "speckit",
        ])
        .success();
    assert_eq!(out.task_field("id")[0], "T100");

    Test::new()
        .file("task.md", plain)
        .args(["plan", "task.md", "--dialect", "yaml"])
        .stderr_contains("invalid value 'yaml' for '--dialect <DIALECT>'")
        .status(2);
}

#[test]
fn kiro_optional_items_are_not_tasks_in_other_dialects() {
    let out = plan_json("# P\n- [ ] Write docs\n- [ ]* not a task here\n- [ ] Ship it\n");
    assert_eq!(out.json()["dialect"], "native");
    assert_eq!(ids(&out.task_field("id")), ["write-docs", "ship-it"]);
}

// ---- waves --------------------------------------------------------------

fn waves(out: &common::Output) -> Vec<(Vec<String>, Vec<String>, Vec<String>)> {
    out.json()["waves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let list =
                |v: &Value| -> Vec<String> { strings(v).into_iter().map(str::to_owned).collect() };
            (list(&w["section"]), list(&w["tasks"]), list(&w["modules"]))
        })
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_section_under_the_top_heading_is_a_wave() {
    let out = plan_json(
        "
        # Project
        ## Backend
        - [ ] a
        ## Frontend
        - [ ] b
        ## Docs
        - [ ] c
        ",
    );
    assert_eq!(
        waves(&out),
        [
            (s(&["Project", "Backend"]), s(&["a"]), s(&[])),
            (s(&["Project", "Frontend"]), s(&["b"]), s(&[])),
            (s(&["Project", "Docs"]), s(&["c"]), s(&[])),
        ]
    );
    assert_eq!(out.task_field("wave"), [json!(0), json!(1), json!(2)]);
}

#[test]
fn the_plan_descends_while_all_tasks_lie_in_one_section() {
    let out = plan_json(
        "
        # Project
        Intro.
        ## Only phase
        ### Step one
        - [ ] a
        ### Step two
        - [ ] b
        ## Notes
        No tasks here.
        ",
    );
    assert_eq!(
        waves(&out),
        [
            (s(&["Project", "Only phase", "Step one"]), s(&["a"]), s(&[])),
            (s(&["Project", "Only phase", "Step two"]), s(&["b"]), s(&[])),
        ]
    );
}

#[test]
fn a_sections_own_tasks_form_a_wave_before_its_subsections() {
    let out = plan_json(
        "
        # Project
        - [ ] own
        ## A
        - [ ] a
        ## B
        - [ ] b
        ",
    );
    assert_eq!(
        waves(&out),
        [
            (s(&["Project"]), s(&["own"]), s(&[])),
            (s(&["Project", "A"]), s(&["a/a"]), s(&[])),
            (s(&["Project", "B"]), s(&["b/b"]), s(&[])),
        ]
    );
}

#[test]
fn subsections_of_a_wave_are_its_modules() {
    let out = plan_json(
        "
        # Project
        ## Build
        ### API
        - [ ] a
        ### UI
        - [ ] b
        ## Release
        - [ ] c
        ",
    );
    assert_eq!(
        waves(&out),
        [
            (s(&["Project", "Build"]), s(&["a", "b"]), s(&["api", "ui"])),
            (s(&["Project", "Release"]), s(&["c"]), s(&[])),
        ]
    );
    Test::new()
        .file(
            "task.md",
            "# Project\n## Build\n### API\n- [ ] a\n### UI\n- [ ] b\n## Release\n- [ ] c\n",
        )
        .args(["plan", "task.md"])
        .stdout(
            "
            task.md: 3 tasks to run (0 done, 3 to do) in 2 waves · dialect native
              agents run in . (the task file's folder)

            wave 1 · Project › Build
              § API  [api]
              [ ] a  a  :4
              § UI  [ui]
              [ ] b  b  :6

            wave 2 · Project › Release
              [ ] c  c  :8
            ",
        )
        .success();
}

#[test]
fn tasks_before_the_first_heading_form_the_first_wave() {
    Test::new()
        .file("task.md", "- [ ] prepare\n# Project\n## A\n- [ ] a\n")
        .args(["plan", "task.md"])
        .stdout(
            "
            task.md: 2 tasks to run (0 done, 2 to do) in 2 waves · dialect native
              agents run in . (the task file's folder)

            wave 1 · before the first heading
              [ ] prepare  prepare  :1

            wave 2 · Project
              § A  [a]
              [ ] a/a  a  :4
            ",
        )
        .success();
}

#[test]
fn a_file_without_headings_is_one_wave() {
    let out = plan_json("- [ ] a\n- [ ] b\n");
    assert_eq!(waves(&out), [(s(&[]), s(&["a", "b"]), s(&[]))]);
    assert_eq!(out.task("a")["section"], json!([]));
}

#[test]
fn a_dependency_on_an_earlier_wave_is_fine() {
    let out = plan_json(
        "
        # P
        ## A
        - [ ] a <!-- id: a -->
        ## B
        - [ ] b <!-- after: a -->
        ",
    );
    assert_eq!(out.task("b/b")["wave"], 1);
    assert_eq!(out.task("b/b")["after"], json!(["a"]));
}

// ---- nesting ------------------------------------------------------------

#[test]
fn nested_tasks_have_a_parent_and_children() {
    let out = plan_json(
        "
        # P
        - [ ] Parent
          - [ ] Child
            - [x] Grandchild
        - [ ] Alone
        ",
    );
    assert_eq!(
        out.task_field("parent"),
        [Value::Null, json!("parent"), json!("child"), Value::Null]
    );
    assert_eq!(out.task("parent")["children"], json!(["child"]));
    assert_eq!(out.task("child")["children"], json!(["grandchild"]));
    // All of them are in the same wave as their parent.
    assert_eq!(out.task_field("wave"), vec![json!(0); 4]);
}

#[test]
fn a_ticked_parent_makes_its_subtasks_done() {
    let out = plan_json("# P\n- [x] Parent\n  - [ ] Child\n");
    let child = out.task("child");
    assert_eq!(
        (child["checked"].clone(), child["done"].clone()),
        (json!(false), json!(true))
    );
    Test::new()
        .file("task.md", "# P\n- [x] Parent\n  - [ ] Child\n")
        .args(["plan", "task.md"])
        .stdout_contains("    [~] child  Child  :3\n")
        .stdout_contains("1 task to run (1 done, 0 to do)")
        .success();
}

// ---- identity ---------------------------------------------------------

#[test]
fn slugs_come_from_the_section_path_and_the_text() {
    let out = plan_json(
        "
        # Add Search!
        ## Back-end (API)
        - [ ] Add a `search` endpoint & **tests**
        - [ ] Über-schnell indexieren
        ",
    );
    assert_eq!(
        ids(&out.task_field("id")),
        ["add-a-search-endpoint-tests", "über-schnell-indexieren"]
    );
    assert!(out.task_field("id_source").iter().all(|s| s == "slug"));
}

#[test]
fn identical_siblings_get_ordinals() {
    let out = plan_json(
        "
        # P
        - [ ] Run the tests
        - [ ] Fix what broke
        - [ ] Run the tests
        - [ ] Run the tests
        ",
    );
    assert_eq!(
        ids(&out.task_field("id")),
        [
            "run-the-tests",
            "fix-what-broke",
            "run-the-tests-2",
            "run-the-tests-3"
        ]
    );
}

#[test]
fn explicit_ids_win_over_slugs() {
    let out = plan_json(
        "
        # P
        - [ ] same
        - [ ] other <!-- id: same -->
        ",
    );
    assert_eq!(ids(&out.task_field("id")), ["same-2", "same"]);
}

#[test]
fn a_repeated_dialect_id_falls_back_to_a_slug_with_a_warning() {
    let out = Test::new()
        .file("task.md", "# P\n- [ ] T001 one\n- [ ] T001 two\n")
        .args(["plan", "task.md", "--format", "json"])
        .stderr(
            "
            warning: id `T001` is already used on line 2; this task gets an id from its text
             --> task.md:3:3
              |
            3 | - [ ] T001 two
              |   ^^^
            ",
        )
        .success();
    assert_eq!(ids(&out.task_field("id")), ["T001", "t001-two"]);
}

// ---- the JSON -----------------------------------------------------------

#[test]
fn json_describes_every_task() {
    let out = Test::new()
        .file(
            "task.md",
            "
            # P

            - [ ] Parent <!-- id: parent -->
              Notes for the parent.
              - [x] Child <!-- id: child -->
            - [ ] Last <!-- after: child -->
            ",
        )
        .args(["plan", "task.md", "--format", "json"])
        .success();
    let task =
        |id, line, column, checked, text, body, after: Value, parent: Value, children: Value| {
            let edges: Vec<Value> = (after.as_array().unwrap().iter())
                .map(|a| json!({"after": a, "from": ["hint"]}))
                .collect();
            json!({
                "id": id, "id_source": if id == "last" { "slug" } else { "hint" },
                "line": line, "column": column, "checked": checked, "done": checked,
                "optional": false, "skipped": false, "text": text, "body": body,
                "section": ["P"], "section_id": "p", "wave": 0, "after": after,
                "edges": edges, "waits_for_waves": true,
                "parent": parent, "children": children, "parallel_mark": false,
                "agent": null, "timeout_secs": null, "retries": null, "gate": null,
                "isolate": null, "judge": null, "checkpoints": [],
                "files": {"declared": [], "inferred": []},
            })
        };
    // Outside git, agents run in the task file's folder.
    let workdir = std::fs::canonicalize(out.path()).unwrap();
    assert_eq!(
        out.json(),
        json!({
            "schema": 4,
            "file": "task.md",
            "workdir": workdir.to_str().unwrap(),
            "dialect": "native",
            "include_optional": false,
            "pipeline": "waves",
            "order": "waves",
            "tracks": [],
            "waves": [{
                "index": 0,
                "section": ["P"],
                "section_id": "p",
                "modules": [],
                "tasks": ["parent", "child", "last"],
            }],
            "tasks": [
                // Schema 3: a parent's body stops at its first subtask.
                task("parent", 3, 3, false, "Parent",
                    "Notes for the parent.",
                    json!([]), Value::Null, json!(["child"])),
                task("child", 5, 5, true, "Child", "", json!([]), json!("parent"), json!([])),
                task("last", 6, 3, false, "Last", "", json!(["child"]), Value::Null, json!([])),
            ],
            "groups": [],
            "warnings": [],
            "ignored": [],
        })
    );
}

#[test]
fn json_lines_count_from_one_with_bom_and_crlf() {
    let out = Test::new()
        .bytes(
            "task.md",
            b"\xEF\xBB\xBF# P\r\n\r\n- [ ] a\r\n  body\r\n- [X] b",
        )
        .args(["plan", "task.md", "--format", "json"])
        .success();
    assert_eq!(out.task_field("line"), [json!(3), json!(5)]);
    assert_eq!(out.task_field("text"), [json!("a"), json!("b")]);
    assert_eq!(out.task("a")["body"], "body");
    assert_eq!(out.task_field("checked"), [json!(false), json!(true)]);
}

#[test]
fn tasks_in_block_quotes_are_listed_as_ignored() {
    let out = plan_json("# P\n- [ ] real\n\n> - [ ] quoted\n");
    assert_eq!(ids(&out.task_field("id")), ["real"]);
    assert_eq!(
        out.json()["ignored"],
        json!([{"line": 4, "text": "quoted", "reason": "in a block quote"}])
    );
}

// ---- Mermaid and DOT ----------------------------------------------------

const GRAPH: &str = "
    # Ship
    ## Backend
    - [ ] Add the endpoint <!-- id: api -->
    - [x] Index documents
    ## Frontend
    - [ ] Search box <!-- after: api -->
    - [ ] Parent
      - [ ] Child
    ";

#[test]
fn mermaid_draws_waves_as_subgraphs_and_dependencies_as_arrows() {
    Test::new()
        .file("task.md", GRAPH)
        .args(["plan", "task.md", "--format", "mermaid"])
        .stdout(
            r#"
            flowchart TD
              subgraph s2["wave 1: Ship › Backend"]
                t0["api: Add the endpoint"]
                t1["✓ index-documents: Index documents"]
              end
              subgraph s3["wave 2: Ship › Frontend"]
                t2["search-box: Search box"]
                t3["parent: Parent"]
                t4["child: Child"]
              end
              s2 ==> s3
              t0 --> t2
              t3 -.- t4
            "#,
        )
        .stderr("")
        .success();
}

#[test]
fn dot_draws_waves_as_clusters_and_dependencies_as_edges() {
    Test::new()
        .file("task.md", GRAPH)
        .args(["plan", "task.md", "--format", "dot"])
        .stdout(
            r#"
            digraph plan {
              rankdir=TB;
              compound=true;
              node [shape=box];
              subgraph cluster_s2 {
                label="wave 1: Ship › Backend";
                s2 [shape=point, style=invis];
                t0 [label="api: Add the endpoint"];
                t1 [label="✓ index-documents: Index documents"];
              }
              subgraph cluster_s3 {
                label="wave 2: Ship › Frontend";
                s3 [shape=point, style=invis];
                t2 [label="search-box: Search box"];
                t3 [label="parent: Parent"];
                t4 [label="child: Child"];
              }
              t0 -> t2 [ltail=cluster_s2, lhead=cluster_s3, style=bold];
              t0 -> t2;
              t3 -> t4 [style=dotted, arrowhead=none];
            }
            "#,
        )
        .success();
}

#[test]
fn graph_labels_escape_quotes() {
    let task = "# P\n- [ ] Say \"hi\" <!-- id: hi -->\n";
    Test::new()
        .file("task.md", task)
        .args(["plan", "task.md", "--format", "mermaid"])
        .stdout_contains("t0[\"hi: Say #quot;hi#quot;\"]")
        .success();
    Test::new()
        .file("task.md", task)
        .args(["plan", "task.md", "--format", "dot"])
        .stdout_contains(r#"t0 [label="hi: Say \"hi\""];"#)
        .success();
}

// ---- files that cannot be read ----------------------------------------

#[test]
fn a_missing_file_is_an_error() {
    Test::new()
        .args(["plan", "missing.md"])
        .stdout("")
        .stderr("error: cannot read `missing.md`: No such file or directory (os error 2)\n")
        .status(2);
}

#[test]
fn a_directory_is_not_a_task_file() {
    Test::new()
        .dir("plans")
        .args(["plan", "plans"])
        .stderr("error: `plans` is a directory, not a task file\n")
        .status(2);
}

#[test]
fn a_file_that_is_not_utf8_is_located() {
    Test::new()
        .bytes("task.md", b"# P\n- [ ] caf\xE9 au lait\n")
        .args(["plan", "task.md"])
        .stdout("")
        .stderr(
            "
            error: task.md:2:10: not valid UTF-8 (byte 13)
              = help: task files must be UTF-8; convert it with `iconv -t UTF-8`
            ",
        )
        .status(2);
}

#[test]
fn not_utf8_after_a_bom_counts_columns_in_characters() {
    Test::new()
        .bytes("task.md", b"\xEF\xBB\xBF# \xC3\xA9t\xC3\xA9 \xFF\n")
        .args(["plan", "task.md"])
        .stderr_contains("error: task.md:1:7: not valid UTF-8 (byte 11)\n")
        .status(2);
}

#[test]
fn usage_errors_exit_2() {
    Test::new()
        .file("task.md", "- [ ] a\n")
        .args(["plan", "task.md", "--format", "yaml"])
        .stderr_contains("invalid value 'yaml' for '--format <FORMAT>'")
        .status(2);
    Test::new()
        .args(["plan"])
        .stderr_contains("<FILE>")
        .status(2);
}

// ---- bad hints ----------------------------------------------------------

#[test]
fn parallel_must_be_true_false_or_a_positive_number() {
    plan_error(
        "
        # P
        <!-- parallel: 0 -->
        - [ ] a
        ",
        "
        error: bad `parallel` value `0`: expected `true`, `false` or a number of tasks at once (1 or more)
         --> task.md:2:16
          |
        2 | <!-- parallel: 0 -->
          |                ^
        error: 1 problem in the task file; nothing was run
        ",
    );
    plan_error(
        "# P\n<!-- parallel: yes -->\n- [ ] a\n",
        "
        error: bad `parallel` value `yes`: expected `true`, `false` or a number of tasks at once (1 or more)
         --> task.md:2:16
          |
        2 | <!-- parallel: yes -->
          |                ^^^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn timeout_must_be_a_duration() {
    plan_error(
        "
        # P
        - [ ] a <!-- timeout: soon -->
        ",
        "
        error: bad `timeout` value `soon`: expected a duration such as `90s`, `20m` or `1h30m`
         --> task.md:2:23
          |
        2 | - [ ] a <!-- timeout: soon -->
          |                       ^^^^
        error: 1 problem in the task file; nothing was run
        ",
    );
    // A number without a unit is refused rather than guessed.
    plan_error(
        "# P\n- [ ] a <!-- timeout: 90 -->\n",
        "
        error: bad `timeout` value `90`: expected a duration such as `90s`, `20m` or `1h30m`
         --> task.md:2:23
          |
        2 | - [ ] a <!-- timeout: 90 -->
          |                       ^^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn retries_must_be_a_whole_number() {
    plan_error(
        "
        # P
        - [ ] a <!-- retries: -1 -->
        ",
        "
        error: bad `retries` value `-1`: expected a whole number such as `0` or `2`
         --> task.md:2:23
          |
        2 | - [ ] a <!-- retries: -1 -->
          |                       ^^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn gate_quotes_must_balance() {
    plan_error(
        "
        # P
        - [ ] a <!-- gate: sh -c 'cargo test -->
        ",
        "
        error: bad `gate` value `sh -c 'cargo test`: expected a shell command with balanced quotes
         --> task.md:2:20
          |
        2 | - [ ] a <!-- gate: sh -c 'cargo test -->
          |                    ^^^^^^^^^^^^^^^^^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_hint_needs_a_value() {
    plan_error(
        "# P\n- [ ] a <!-- timeout: -->\n",
        "
        error: hint `timeout` has no value
         --> task.md:2:14
          |
        2 | - [ ] a <!-- timeout: -->
          |              ^^^^^^^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn ids_must_be_id_like() {
    plan_error(
        "# P\n- [ ] a <!-- id: -x -->\n",
        "
        error: bad `id` value `-x`: expected letters, digits, `.`, `_`, `-` and `/`, starting with a letter or digit
         --> task.md:2:18
          |
        2 | - [ ] a <!-- id: -x -->
          |                  ^^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    Test::new()
        .file(
            "task.md",
            "
            # P
            - [ ] a <!-- retries: many -->
            - [ ] b <!-- timeout: later -->
            ",
        )
        .args(["plan", "task.md"])
        .stderr_contains("error: bad `retries` value `many`")
        .stderr_contains(" --> task.md:2:23\n")
        .stderr_contains("error: bad `timeout` value `later`")
        .stderr_contains(" --> task.md:3:23\n")
        .stderr_contains("error: 2 problems in the task file; nothing was run\n")
        .status(2);
}

// ---- bad dependencies ---------------------------------------------------

#[test]
fn an_unknown_after_id_is_an_error_with_a_suggestion() {
    plan_error(
        "
        # P
        - [ ] Build <!-- id: build -->
        - [ ] Test <!-- after: biuld -->
        ",
        "
        error: task `test` depends on unknown id `biuld`
         --> task.md:3:24
          |
        3 | - [ ] Test <!-- after: biuld -->
          |                        ^^^^^
          = help: did you mean `build`?
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn an_unknown_after_id_on_a_section_is_an_error() {
    Test::new()
        .file(
            "task.md",
            "
            # P
            ## Test
            <!-- after: nothing-like-it -->
            - [ ] a
            ",
        )
        .args(["plan", "task.md"])
        .stdout("")
        .stderr_contains("depends on unknown id `nothing-like-it`\n")
        .stderr_contains(
            "
             --> task.md:3:13
              |
            3 | <!-- after: nothing-like-it -->
              |             ^^^^^^^^^^^^^^^
            ",
        )
        .status(2);
}

#[test]
fn an_unknown_after_id_suggests_a_slug_it_starts() {
    Test::new()
        .file(
            "task.md",
            "
            # P
            ## Frontend
            - [ ] Pack the box
            - [ ] Search box
            ## Docs
            - [ ] Document search <!-- after: search -->
            - [ ] Document the rest <!-- after: x -->
            ",
        )
        .args(["plan", "task.md"])
        .stdout("")
        .stderr(
            "
            error: task `document-search` depends on unknown id `search`
             --> task.md:6:35
              |
            6 | - [ ] Document search <!-- after: search -->
              |                                   ^^^^^^
              = help: did you mean `search-box`?
            error: task `document-the-rest` depends on unknown id `x`
             --> task.md:7:37
              |
            7 | - [ ] Document the rest <!-- after: x -->
              |                                     ^
            error: 2 problems in the task file; nothing was run
            ",
        )
        .status(2);
}

/// A plan with a task `tests` under `## A` and one under `## B`, and
/// `rest` under `## C` (line 6).
fn two_tests_and(rest: &str) -> String {
    format!("# P\n## A\n- [ ] tests\n## B\n- [ ] tests\n## C\n{rest}")
}

#[test]
fn an_ambiguous_short_reference_lists_the_candidates() {
    plan_error(
        &two_tests_and("- [ ] ship <!-- after: tests -->\n"),
        "
        error: task `ship` depends on `tests`, which could be any of 2 ids
         --> task.md:7:24
          |
        7 | - [ ] ship <!-- after: tests -->
          |                        ^^^^^
          = help: write the full id: `a/tests`, `b/tests`
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_section_that_names_an_unclear_id_is_called_a_section() {
    plan_error(
        &two_tests_and("<!-- after: tests -->\n- [ ] ship\n"),
        "
        error: section `c` depends on `tests`, which could be any of 2 ids
         --> task.md:7:13
          |
        7 | <!-- after: tests -->
          |             ^^^^^
          = help: write the full id: `a/tests`, `b/tests`
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_cycle_is_named_as_a_path() {
    plan_error(
        "
        # P
        - [ ] a <!-- id: a; after: c -->
        - [ ] b <!-- id: b; after: a -->
        - [ ] c <!-- id: c; after: b -->
        ",
        "
        error: circular dependency `a -> c -> b -> a`
         --> task.md:2:3
          |
        2 | - [ ] a <!-- id: a; after: c -->
          |   ^^^
          = help: remove one of these `after` dependencies to break the cycle
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_task_after_itself_is_a_cycle() {
    plan_error(
        "# P\n- [ ] a <!-- id: a; after: a -->\n",
        "
        error: circular dependency `a -> a`
         --> task.md:2:3
          |
        2 | - [ ] a <!-- id: a; after: a -->
          |   ^^^
          = help: remove one of these `after` dependencies to break the cycle
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_cycle_through_a_parents_after_is_found() {
    // `c` sits in `g`, so it waits for what `g` waits for: `x`, which waits
    // for `c`.
    Test::new()
        .file(
            "task.md",
            "
            # P
            - [ ] G <!-- id: g; after: x -->
              - [ ] P <!-- id: p -->
                - [ ] C <!-- id: c -->
            - [ ] X <!-- id: x; after: c -->
            ",
        )
        .args(["plan", "task.md"])
        .stderr_contains("error: circular dependency `x -> c -> x`\n")
        .status(2);
}

#[test]
fn a_cycle_through_a_sections_after_is_found() {
    // A short reference on a section counts like a full one.
    Test::new()
        .file(
            "task.md",
            "
            # P
            ## Backend
            <!-- after: build -->
            - [ ] Build
            ",
        )
        .args(["plan", "task.md"])
        .stderr_contains("error: circular dependency `build -> build`\n")
        .status(2);
}

#[test]
fn a_dependency_on_a_later_wave_is_an_error() {
    plan_error(
        "
        # P
        ## A
        - [ ] a <!-- id: a -->
        - [ ] z <!-- after: a, b -->
        ## B
        - [ ] b <!-- id: b -->
        ",
        "
        error: task `z` in wave 1 waits for `b`, which runs in later wave 2
         --> task.md:4:24
          |
        4 | - [ ] z <!-- after: a, b -->
          |                        ^
          = help: waves run in order; move the task to a later section, drop the dependency, or make phases advisory with `<!-- order: graph -->` before the first heading
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_section_waiting_for_a_later_wave_is_an_error() {
    plan_error(
        "
        # P
        ## A
        <!-- after: b -->
        - [ ] a
        ## B
        - [ ] b <!-- id: b -->
        ",
        "
        error: task `a/a` in wave 1 waits for `b`, which runs in later wave 2
         --> task.md:3:13
          |
        3 | <!-- after: b -->
          |             ^
          = help: waves run in order; move the task to a later section, drop the dependency, or make phases advisory with `<!-- order: graph -->` before the first heading
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_speckit_dependency_on_a_later_phase_is_an_error() {
    Test::new()
        .file(
            "task.md",
            "# Tasks\n## Phase 1\n- [ ] T001 Build, depends on T002\n## Phase 2\n- [ ] T002 Design\n",
        )
        .args(["plan", "task.md"])
        .stderr(
            "
            error: task `T001` in wave 1 waits for `T002`, which runs in later wave 2
             --> task.md:3:7
              |
            3 | - [ ] T001 Build, depends on T002
              |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = help: waves run in order; move the task to a later section, drop the dependency, or make phases advisory with `<!-- order: graph -->` before the first heading
            error: 1 problem in the task file; nothing was run
            ",
        )
        .status(2);
}

// ---- bad identity and placement ---------------------------------------

#[test]
fn duplicate_ids_are_an_error() {
    plan_error(
        "
        # P
        - [ ] a <!-- id: build -->
        - [ ] b <!-- id: build -->
        ",
        "
        error: duplicate id `build`: line 2 already uses it
         --> task.md:3:18
          |
        3 | - [ ] b <!-- id: build -->
          |                  ^^^^^
          = help: give each task its own `id`
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_section_and_a_task_may_not_share_an_id() {
    Test::new()
        .file(
            "task.md",
            "# P\n## A\n<!-- id: x -->\n- [ ] a <!-- id: x -->\n",
        )
        .args(["plan", "task.md"])
        .stderr_contains("error: duplicate id `x`: line 3 already uses it\n")
        .status(2);
}

#[test]
fn parallel_on_a_task_without_subtasks_is_an_error() {
    plan_error(
        "
        # P
        - [ ] a <!-- parallel: 2 -->
        ",
        "
        error: hint `parallel` cannot be used on a task without subtasks; put it on a section or a parent task
         --> task.md:2:24
          |
        2 | - [ ] a <!-- parallel: 2 -->
          |                        ^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn id_before_the_first_heading_is_an_error() {
    plan_error(
        "
        <!-- id: everything -->
        # P
        - [ ] a
        ",
        "
        error: hint `id` cannot be used before the first heading (the file has no id)
         --> task.md:1:10
          |
        1 | <!-- id: everything -->
          |          ^^^^^^^^^^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn after_before_the_first_heading_is_an_error() {
    plan_error(
        "
        <!-- after: a -->
        # P
        - [ ] a <!-- id: a -->
        ",
        "
        error: hint `after` cannot be used before the first heading; put it on a section or a task
         --> task.md:1:13
          |
        1 | <!-- after: a -->
          |             ^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn references_after_one_before_the_first_heading_name_what_they_say() {
    // The file's references are an error and name nothing: the section's
    // own still find their own targets.
    plan_error(
        "
        <!-- after: nowhere, elsewhere -->
        # P
        - [ ] a <!-- id: a -->
        # Q
        <!-- after: a, missing -->
        - [ ] b
        ",
        "
        error: hint `after` cannot be used before the first heading; put it on a section or a task
         --> task.md:1:13
          |
        1 | <!-- after: nowhere, elsewhere -->
          |             ^^^^^^^
        error: section `q` depends on unknown id `missing`
         --> task.md:5:16
          |
        5 | <!-- after: a, missing -->
          |                ^^^^^^^
        error: 2 problems in the task file; nothing was run
        ",
    );
}

#[test]
fn columns_and_carets_count_characters_not_bytes() {
    plan_error(
        "# P\n- [ ] café <!-- timeout: bientôt -->\n",
        "
        error: bad `timeout` value `bientôt`: expected a duration such as `90s`, `20m` or `1h30m`
         --> task.md:2:26
          |
        2 | - [ ] café <!-- timeout: bientôt -->
          |                          ^^^^^^^
        error: 1 problem in the task file; nothing was run
        ",
    );
}

#[test]
fn a_checkbox_with_nothing_after_it_is_not_a_task() {
    let text =
        "# P\n- [ ] real work\n- [ ]\n- [x]  \n- [ ]\n  Some words on the next line.\n-\n  [ ]\n";
    Test::new()
        .file("task.md", text)
        .args(["plan", "task.md"])
        .stdout(
            "
            task.md: 1 task to run (0 done, 1 to do) in 1 wave · dialect native
              agents run in . (the task file's folder)

            wave 1 · P
              [ ] real-work  real work  :2

            ignored:
              line 3: (nothing after the checkbox)
              line 4: (nothing after the checkbox)
              line 5: (nothing after the checkbox)
              line 8: (nothing after the checkbox)
            ",
        )
        .stderr("")
        .success();
    // Nor can it be ticked.
    Test::new()
        .file("task.md", "# P\n- [ ]\n")
        .args(["tick", "task.md", "p/task"])
        .stderr_contains("error: no task with id `p/task`")
        .unchanged("task.md")
        .status(2);
}

#[test]
fn a_task_with_only_a_comment_after_its_box_is_empty_with_a_warning() {
    Test::new()
        .file("task.md", "- [ ] real work\n- [ ] <!-- id: later -->\n")
        .args(["plan", "task.md"])
        .stderr_contains(
            "warning: this task is empty: it has no text and no body for an agent to work from",
        )
        .stdout_contains("\nwarnings:\n  line 2:3: this task is empty")
        .success();
}

#[test]
fn the_example_in_plan_json_md_is_what_plan_prints() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/plan-json.md")).unwrap();
    let between = |open: &str, close: &str| {
        let start = doc.find(open).unwrap() + open.len();
        doc[start..start + doc[start..].find(close).unwrap()].to_owned()
    };
    let task = between("````markdown\n", "````\n");
    let mut want: Value = serde_json::from_str(&between("```json\n", "```\n")).unwrap();
    let out = Test::new()
        .bytes("tasks.md", &task)
        .args(["plan", "tasks.md", "--format", "json"])
        .stderr("")
        .success();
    // The example ran in `/home/me/search`.
    want["workdir"] = std::fs::canonicalize(out.path())
        .unwrap()
        .to_str()
        .unwrap()
        .into();
    assert_eq!(out.json(), want);
}

#[test]
fn these_mistakes_stop_a_run_before_any_agent_starts() {
    for (task, error) in [
        ("# P\n<!-- paralel: false -->\n- [ ] a\n", "task.md:2:6"),
        ("# P\n<!-- parallel=false -->\n- [ ] a\n", "task.md:2:6"),
        (
            "# P\n- [ ] a <!-- gate: test -f a; test -f b -->\n",
            "task.md:2:31",
        ),
        (
            "# P\n- [ ] a <!-- gate: make -->\n  ```gate\n  make check\n  ```\n",
            "task.md:3:3",
        ),
        ("# P\n- [ ] a\n  ```gate\n  ```\n", "task.md:3:3"),
        ("# P\n- [ ] fix the \0 bug\n", "task.md:2:15"),
        (
            "# P\n- [ ] a <!-- agent: claude --model 'x -->\n",
            "task.md:2:21",
        ),
    ] {
        let out = Test::new()
            .fake_agent()
            .bytes("task.md", task)
            .args(["task.md", "--agent", "fake-agent"])
            .stdout("")
            .stderr_contains(&format!(" --> {error}\n"))
            .stderr_contains("error: 1 problem in the task file; nothing was run\n")
            .unchanged("task.md")
            .status(2);
        assert!(
            !out.path().join("fake.log").exists(),
            "{task:?}: an agent ran"
        );
        assert!(!out.path().join(".run-batch").exists(), "{task:?}");
    }
}

/// A plan of `tasks` tasks as people write large ones: a long title, phases
/// and modules with long headings, long task texts (some the same in several
/// modules), subtasks, and hints with several dependencies, gates and agents.
fn large_plan(tasks: usize) -> String {
    let mut out = String::from(
        "# Platform rewrite: the whole migration from the monolith to services, phase by phase\n\n",
    );
    let mut n = 0;
    let mut phase = 0;
    while n < tasks {
        phase += 1;
        out.push_str(&format!(
            "## Phase {phase}: move the billing, search and notification components onto the new platform\n\n"
        ));
        for module in 1..=4 {
            out.push_str(&format!(
                "### Module {phase}.{module}: the part of the system that talks to the payment providers\n\n"
            ));
            for k in 0..5 {
                if n >= tasks {
                    break;
                }
                n += 1;
                let text = if k == 0 {
                    "Run the formatter and fix every lint warning the new rules report in this module".to_owned()
                } else {
                    format!(
                        "Task {n}: refactor the billing service's error handling so that retries are safe and idempotent across restarts"
                    )
                };
                let hints = match n % 4 {
                    0 if n > 8 => format!(
                        " <!-- id: t{n}; after: t{}, t{}; gate: cargo test -p billing --all-features -- --include-ignored; agent: claude; timeout: 45m -->",
                        n - 4,
                        n - 8
                    ),
                    0 => format!(" <!-- id: t{n} -->"),
                    _ => String::new(),
                };
                out.push_str(&format!("- [ ] {text}{hints}\n"));
                if k == 1 && n < tasks {
                    n += 1;
                    out.push_str(&format!("  - [ ] Subtask {n} of the refactoring: write the migration for the ledger tables and backfill them\n"));
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Whether `line` fits in a 100-column terminal: a vt100 screen that wide
/// keeps the cursor on its first row (a wider line wraps to the next).
fn fits_in_100_columns(line: &str) -> bool {
    let size = |n| std::num::NonZero::new(n).unwrap();
    let mut term = vt100::Parser::new(size(4), size(100), 0);
    term.process(line.as_bytes());
    term.screen().cursor_position().0 == 0
}

#[test]
fn a_200_task_plan_fits_in_100_columns_and_its_graph_in_50_kb() {
    let plan = large_plan(200);
    let out = Test::new()
        .file("task.md", &plan)
        .args(["plan", "task.md"])
        .stderr("")
        .success();
    assert!(
        out.stdout.contains("task.md: 167 tasks to run (0 done, 167 to do) in 9 waves · dialect native\n  plus 33 parents"),
        "{}",
        out.stdout
    );
    let wide: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !fits_in_100_columns(l))
        .collect();
    assert!(
        wide.is_empty(),
        "lines wider than 100 columns:\n{}",
        wide.join("\n")
    );
    // A task's line has its id, the start of its text and its line; notes
    // too long to sit beside the text follow on lines of their own, whole.
    assert!(
        out.stdout.contains("\n  [ ] t20  Task 20: refactor the billing service's error handling so that retries …  :35\n    (parent; after t12, t16; agent claude; timeout 45m; gate `cargo test -p billing --all-features\n     -- --include-ignored`)\n"),
        "{}",
        out.stdout
    );
    // Ids are short and never the title; look-alikes get their module.
    assert!(
        out.stdout
            .contains("  [ ] module-1-1-the-part/run-the-formatter-and-fix  Run the formatter"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("[ ] platform-rewrite"),
        "{}",
        out.stdout
    );

    let graph = Test::new()
        .file("task.md", &plan)
        .args(["plan", "task.md", "--format", "mermaid"])
        .success();
    assert!(graph.stdout.len() <= 50_000, "{} bytes", graph.stdout.len());
    assert!(
        graph
            .stdout
            .contains(" t0[\"module-1-1-the-part/run-the-formatter"),
        "one node per task:\n{}",
        graph.stdout
    );
    assert!(!graph.stdout.contains("%%"), "{}", graph.stdout);
}

#[test]
fn a_graph_too_large_for_mermaid_groups_tasks_by_section_and_says_so() {
    let plan = large_plan(1_000);
    let out = Test::new()
        .file("task.md", &plan)
        .args(["plan", "task.md", "--format", "mermaid"])
        .success();
    assert!(out.stdout.len() <= 50_000, "{} bytes", out.stdout.len());
    assert!(
        out.stdout.starts_with("flowchart TD\n%% One node per section instead of one per task: 1000 tasks would make the graph "),
        "{}",
        &out.stdout[..300]
    );
    assert!(!out.stdout.contains(" t0[\""), "no node per task");
    // A module's node counts its tasks; arrows join modules whose tasks wait.
    assert!(
        out.stdout.contains(": 6 tasks, 0 done\"]"),
        "{}",
        &out.stdout[..2000]
    );
    assert!(out.stdout.contains(" --> g"), "{}", &out.stdout[..2000]);
    // DOT has no such limit: every task.
    let dot = Test::new()
        .file("task.md", &plan)
        .args(["plan", "task.md", "--format", "dot"])
        .success();
    assert!(dot.stdout.contains("t999 [label="));
}

#[test]
fn json_shows_a_tasks_judge_and_checkpoints() {
    let out = Test::new()
        .file(
            "task.md",
            "- [ ] Build it <!-- id: b; judge: claude -->\n  ```checkpoint when=READY then=tell\n  cargo check\n  ```\n",
        )
        .args(["plan", "task.md", "--format", "json"])
        .success();
    let task = &out.json()["tasks"][0];
    assert_eq!(task["judge"], "claude");
    assert_eq!(
        task["checkpoints"],
        json!([{"trigger": "when=READY", "tell": true, "command": "cargo check", "line": 2}])
    );
}
