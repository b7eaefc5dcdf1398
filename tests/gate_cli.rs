//! Gates, run for real: a gate is the plan author's shell command (a `gate`
//! hint or a ```` ```gate ```` block), run with `sh -c` in the task's working
//! folder after its agent succeeded; the box is ticked only when it passes.
//! The tasks use the `shell` agent, which runs their ```` ```sh ```` blocks,
//! so each test's task file is also its script.

mod common;

use common::Test;
use common::agents::*;

#[test]
fn a_gate_hint_is_run_by_sh_so_and_pipes_and_quotes_work() {
    let out = Test::new()
        .file(
            "t.md",
            "
            # Plan
            <!-- agent: shell -->
            - [ ] good <!-- id: good; gate: test -f good.txt && cat good.txt | grep -qx 'all good' -->
              ```sh
              echo 'all good' > good.txt
              ```
            - [ ] bad <!-- id: bad; gate: test -f bad.txt && grep -qx 'all good' bad.txt -->
              ```sh
              echo 'not good' > bad.txt
              ```
            ",
        )
        .arg("t.md")
        .stderr_contains(
            "FAILED   bad (gate `test -f bad.txt && grep -qx 'all good' bad.txt` failed (exit status 1)",
        )
        .file_is(
            "t.md",
            "
            # Plan
            <!-- agent: shell -->
            - [x] good <!-- id: good; gate: test -f good.txt && cat good.txt | grep -qx 'all good' -->
              ```sh
              echo 'all good' > good.txt
              ```
            - [ ] bad <!-- id: bad; gate: test -f bad.txt && grep -qx 'all good' bad.txt -->
              ```sh
              echo 'not good' > bad.txt
              ```
            ",
        )
        .failure();
    let events = events(out.path(), "t.md");
    let bad = named(&events, "task_finished")
        .into_iter()
        .find(|e| e["task"] == "bad")
        .expect("bad finished");
    assert_eq!(
        bad["reason"],
        "gate `test -f bad.txt && grep -qx 'all good' bad.txt` failed (exit status 1)"
    );
}

#[test]
fn a_gate_block_with_several_lines_is_a_script_for_sh() {
    let task = "
        # Plan
        <!-- agent: shell -->
        - [ ] passes <!-- id: passes -->
          ```sh
          echo yes > passes.txt
          ```
          ```gate
          set -e
          test -f passes.txt; grep -q yes passes.txt
          test \"$(cat passes.txt)\" = yes
          ```
        - [ ] fails <!-- id: fails -->
          ```sh
          echo no > fails.txt
          ```
          ```gate
          set -e
          grep -q yes fails.txt
          echo unreachable > reached.txt
          ```
        ";
    let out = Test::new()
        .file("t.md", task)
        .arg("t.md")
        .stderr_contains("FAILED   fails (gate `set -e …` from line 16 failed (exit status 1)")
        .failure();
    assert!(out.read("t.md").contains("- [x] passes"));
    assert!(out.read("t.md").contains("- [ ] fails"));
    assert!(!out.path().join("reached.txt").exists());
    // The log shows the whole script the gate ran.
    let log = out.read(run_dirs(out.path(), "t.md")[0].join("fails.1.log"));
    assert!(
        log.contains(
            "── run-batch: gate `set -e …` from line 16 ──\nset -e\ngrep -q yes fails.txt\necho unreachable > reached.txt\n──\n"
        ),
        "{log}"
    );
}

#[test]
fn a_gate_block_in_a_section_or_the_file_holds_for_its_tasks() {
    Test::new()
        .file(
            "t.md",
            "
            ```gate
            test -f file-gate-ran || touch file-gate-ran
            test -f made-by-$(echo agent)
            ```

            # Plan
            ## One
            - [ ] one <!-- agent: shell -->
              ```sh
              touch made-by-agent
              ```
            ## Two
            The section's own gate wins over the file's:

            ```gate
            test -f two.txt
            ```

            - [ ] two <!-- agent: shell -->
              ```sh
              touch two.txt
              ```
            ",
        )
        .arg("t.md")
        .success();
}

#[test]
fn a_gate_block_is_not_part_of_the_shell_agents_script() {
    let out = Test::new()
        .file(
            "t.md",
            "
            - [ ] a <!-- agent: shell -->
              ```sh
              echo agent >> order
              ```
              ```gate
              echo gate >> order
              ```
            ",
        )
        .arg("t.md")
        .success();
    assert_eq!(out.read("order"), "agent\ngate\n");
}

#[test]
fn a_gate_runs_in_the_working_folder() {
    let out = Test::new()
        .dir("work")
        .file(
            "plans/t.md",
            "
            - [ ] a <!-- agent: shell; gate: pwd -P > gate-pwd && test -f made-here -->
              ```sh
              touch made-here
              ```
            ",
        )
        .args(["plans/t.md", "--workdir", "work"])
        .success();
    let work = std::fs::canonicalize(out.path().join("work")).unwrap();
    assert_eq!(out.read("work/gate-pwd").trim(), work.to_str().unwrap());
}
