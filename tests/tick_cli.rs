//! `run-batch tick`: a tick changes the one byte inside `[ ]` of the tasks
//! named, and their parents when all their subtasks are done — and nothing
//! else in the file, not even its line endings, BOM or permissions.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Test;

#[test]
fn tick_sets_one_box_and_changes_nothing_else() {
    Test::new()
        .file(
            "task.md",
            "
            # Ship

            - [ ] Build the API <!-- id: api -->
              Keep it small.
            - [ ] Write the docs
            ",
        )
        .args(["tick", "task.md", "api"])
        .stdout("ticked api\n")
        .stderr("")
        .file_is(
            "task.md",
            "
            # Ship

            - [x] Build the API <!-- id: api -->
              Keep it small.
            - [ ] Write the docs
            ",
        )
        .success();
}

#[test]
fn undo_clears_a_box_whichever_x_it_has() {
    Test::new()
        .file("task.md", "# P\n- [x] a\n- [X] b\n- [x] c\n")
        .args(["tick", "task.md", "--undo", "a", "b"])
        .stdout("cleared a\ncleared b\n")
        .file_is("task.md", "# P\n- [ ] a\n- [ ] b\n- [x] c\n")
        .success();
}

#[test]
fn every_list_marker_can_be_ticked() {
    Test::new()
        .file(
            "task.md",
            "- [ ] a\n* [ ] b\n+ [ ] c\n\n1. [ ] d\n2) [ ] e\n",
        )
        .args(["tick", "task.md", "a", "b", "c", "d", "e"])
        .file_is(
            "task.md",
            "- [x] a\n* [x] b\n+ [x] c\n\n1. [x] d\n2) [x] e\n",
        )
        .success();
}

#[test]
fn look_alikes_in_code_blocks_and_comments_are_left_alone() {
    Test::new()
        .file(
            "task.md",
            "
            # P
            ```
            - [ ] Deploy
            ```
            <!-- - [ ] Deploy -->
            - [ ] Deploy
            ",
        )
        .args(["tick", "task.md", "deploy"])
        .file_is(
            "task.md",
            "
            # P
            ```
            - [ ] Deploy
            ```
            <!-- - [ ] Deploy -->
            - [x] Deploy
            ",
        )
        .success();
}

// ---- ids ------------------------------------------------------------------

#[test]
fn a_task_is_named_by_its_id_or_the_last_segments_of_it() {
    Test::new()
        .file(
            "task.md",
            "# P\n## Docs\n- [ ] Write the guide\n- [ ] Proofread\n",
        )
        .args(["tick", "task.md", "write-the-guide", "proofread"])
        .stdout("ticked write-the-guide\nticked proofread\n")
        .file_is(
            "task.md",
            "# P\n## Docs\n- [x] Write the guide\n- [x] Proofread\n",
        )
        .success();
}

#[test]
fn dialect_ids_name_tasks() {
    Test::new()
        .file(
            "task.md",
            "# Tasks\n- [ ] T001 Set up\n- [ ] T002 [P] Lint\n- [ ] T003 [P] Format\n",
        )
        .args(["tick", "task.md", "T002"])
        .file_is(
            "task.md",
            "# Tasks\n- [ ] T001 Set up\n- [x] T002 [P] Lint\n- [ ] T003 [P] Format\n",
        )
        .success();
}

#[test]
fn an_unknown_id_is_refused_with_a_suggestion_and_nothing_changes() {
    Test::new()
        .file(
            "task.md",
            "# P\n- [ ] a <!-- id: build-api -->\n- [ ] b <!-- id: docs -->\n",
        )
        .args(["tick", "task.md", "docs", "biuld-api"])
        .stdout("")
        .stderr(
            "
            error: no task with id `biuld-api` in `task.md`
              = help: did you mean `build-api`? `run-batch plan` lists every id
            ",
        )
        .unchanged("task.md")
        .status(2);
}

#[test]
fn an_unknown_id_far_from_any_is_refused_without_a_guess() {
    Test::new()
        .file(
            "task.md",
            "# P\n- [ ] Pack the box <!-- id: build-box -->\n",
        )
        .args(["tick", "task.md", "x"])
        .stderr("error: no task with id `x` in `task.md`\n")
        .unchanged("task.md")
        .status(2);
}

#[test]
fn an_unknown_id_suggests_a_slug_it_starts() {
    Test::new()
        .file(
            "task.md",
            "# P\n## Frontend\n- [ ] Pack the box\n- [ ] Search box\n",
        )
        .args(["tick", "task.md", "search"])
        .stderr(
            "
            error: no task with id `search` in `task.md`
              = help: did you mean `search-box`? `run-batch plan` lists every id
            ",
        )
        .unchanged("task.md")
        .status(2);
}

#[test]
fn an_ambiguous_short_id_changes_nothing() {
    Test::new()
        .file("task.md", "# P\n## A\n- [ ] tests\n## B\n- [ ] tests\n")
        .args(["tick", "task.md", "tests"])
        .stdout("")
        .stderr_contains("`tests`")
        .unchanged("task.md")
        .status(2);
}

#[test]
fn a_duplicated_id_is_refused_rather_than_guessed() {
    Test::new()
        .file(
            "task.md",
            "# P\n- [ ] one <!-- id: x -->\n- [ ] two <!-- id: x -->\n",
        )
        .args(["tick", "task.md", "x"])
        .stdout("")
        .stderr(
            "
            error: duplicate id `x`: line 2 already uses it
             --> task.md:3:20
              |
            3 | - [ ] two <!-- id: x -->
              |                    ^
              = help: give each task its own `id`
            error: 1 problem in the task file; nothing was run
            ",
        )
        .unchanged("task.md")
        .status(2);
}

#[test]
fn an_already_done_task_is_reported_and_left_alone() {
    Test::new()
        .file(
            "task.md",
            "# P\n- [X] a <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
        )
        .args(["tick", "task.md", "a"])
        .stdout("a was already done\n")
        .unchanged("task.md")
        .success();
    Test::new()
        .file(
            "task.md",
            "# P\n- [X] a <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
        )
        .args(["tick", "task.md", "--undo", "b", "a"])
        .stdout("cleared a\nb was already not done\n")
        .file_is(
            "task.md",
            "# P\n- [ ] a <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
        )
        .success();
}

#[test]
fn several_ids_are_ticked_in_one_write() {
    let out = Test::new()
        .file("task.md", "# P\n- [ ] a\n- [ ] b\n- [x] c\n- [ ] d\n")
        .args(["tick", "task.md", "d", "a", "c"])
        .stdout("ticked d\nticked a\nc was already done\n")
        .file_is("task.md", "# P\n- [x] a\n- [ ] b\n- [x] c\n- [x] d\n")
        .success();
    // The write went through a temporary file that is gone now.
    assert_eq!(out.entries("."), ["task.md"]);
}

#[test]
fn ids_are_required() {
    Test::new()
        .file("task.md", "# P\n- [ ] a\n")
        .args(["tick", "task.md"])
        .stderr_contains("<ID>...")
        .unchanged("task.md")
        .status(2);
}

// ---- bytes that must survive --------------------------------------------

#[test]
fn a_byte_order_mark_is_kept() {
    Test::new()
        .bytes("task.md", b"\xEF\xBB\xBF# P\n- [ ] a\n")
        .args(["tick", "task.md", "a"])
        .file_bytes_are("task.md", b"\xEF\xBB\xBF# P\n- [x] a\n")
        .success();
}

#[test]
fn crlf_line_endings_are_kept() {
    Test::new()
        .bytes("task.md", b"# P\r\n- [ ] a\r\n  body\r\n- [ ] b\r\n")
        .args(["tick", "task.md", "b"])
        .file_bytes_are("task.md", b"# P\r\n- [ ] a\r\n  body\r\n- [x] b\r\n")
        .success();
}

#[test]
fn a_missing_final_newline_stays_missing() {
    Test::new()
        .bytes("task.md", b"# P\n- [ ] a")
        .args(["tick", "task.md", "a"])
        .file_bytes_are("task.md", b"# P\n- [x] a")
        .success();
}

#[test]
fn bom_crlf_tabs_and_no_final_newline_together() {
    Test::new()
        .bytes(
            "task.md",
            b"\xEF\xBB\xBF# P\r\n\r\n- [ ] a\r\n\t- [ ] b\t<!-- id: b -->",
        )
        .args(["tick", "task.md", "b"])
        .stdout("ticked b\nticked a (its subtasks are all done)\n")
        .file_bytes_are(
            "task.md",
            b"\xEF\xBB\xBF# P\r\n\r\n- [x] a\r\n\t- [x] b\t<!-- id: b -->",
        )
        .success();
}

#[test]
fn file_permissions_are_kept() {
    for mode in [0o640, 0o755, 0o600] {
        let out = Test::new()
            .file("task.md", "# P\n- [ ] a\n")
            .chmod("task.md", mode)
            .args(["tick", "task.md", "a"])
            .file_is("task.md", "# P\n- [x] a\n")
            .success();
        let meta = std::fs::metadata(out.path().join("task.md")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{mode:o}");
    }
}

#[test]
fn a_symlink_is_followed_and_stays_a_link() {
    let out = Test::new()
        .file("plans/real.md", "# P\n- [ ] a\n")
        .symlink("task.md", "plans/real.md")
        .args(["tick", "task.md", "a"])
        .file_is("plans/real.md", "# P\n- [x] a\n")
        .success();
    let link = out.path().join("task.md");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        std::path::Path::new("plans/real.md")
    );
    // The temporary file was made beside the real file, and is gone.
    assert_eq!(out.entries("plans"), ["real.md"]);
    assert_eq!(out.entries("."), ["plans", "task.md"]);
}

#[test]
fn ids_of_earlier_versions_still_name_their_tasks() {
    // Scripts written when ids were the whole heading path keep working:
    // the old id, or its last segments; the output shows today's ids.
    Test::new()
        .file(
            "task.md",
            "# P\n## Docs\n- [ ] Write the guide\n- [ ] Proofread\n## Code\n- [ ] Proofread\n",
        )
        .args([
            "tick",
            "task.md",
            "p/docs/write-the-guide",
            "docs/proofread",
        ])
        .stdout("ticked write-the-guide\nticked docs/proofread\n")
        .file_is(
            "task.md",
            "# P\n## Docs\n- [x] Write the guide\n- [x] Proofread\n## Code\n- [ ] Proofread\n",
        )
        .success();
}

#[test]
fn a_file_that_is_not_utf8_is_refused_and_left_alone() {
    Test::new()
        .bytes("task.md", b"# P\n- [ ] caf\xE9\n")
        .args(["tick", "task.md", "caf"])
        .stderr_contains("error: task.md:2:10: not valid UTF-8 (byte 13)\n")
        .unchanged("task.md")
        .status(2);
}

#[test]
fn a_missing_file_is_an_error() {
    Test::new()
        .args(["tick", "missing.md", "a"])
        .stderr("error: cannot read `missing.md`: No such file or directory (os error 2)\n")
        .status(2);
}

// ---- edits made by people ------------------------------------------------

#[test]
fn a_hand_edit_between_plan_and_tick_is_kept() {
    let out = Test::new()
        .file(
            "task.md",
            "
            # Ship
            - [ ] Build the API
            - [ ] Write the docs
            ",
        )
        .args(["plan", "task.md", "--format", "json"])
        .success();
    let id = out.task_field("id")[1].as_str().unwrap().to_owned();
    assert_eq!(id, "write-the-docs");
    assert_eq!(out.task(&id)["line"], 3);

    // Someone adds notes and a task above it and rewords the other task; the
    // tick finds the task by its id, on its new line, and keeps every edit.
    out.then()
        .file(
            "task.md",
            "
            # Ship

            Notes added by hand.

            - [ ] Build the API, and test it
            - [ ] A new task
            - [ ] Write the docs
            ",
        )
        .args(["tick", "task.md", &id])
        .stdout("ticked write-the-docs\n")
        .file_is(
            "task.md",
            "
            # Ship

            Notes added by hand.

            - [ ] Build the API, and test it
            - [ ] A new task
            - [x] Write the docs
            ",
        )
        .success();
}

#[test]
fn a_task_removed_since_the_plan_is_not_ticked() {
    let out = Test::new()
        .file(
            "task.md",
            "# P\n- [ ] a <!-- id: a -->\n- [ ] b <!-- id: b -->\n",
        )
        .args(["tick", "task.md", "a"])
        .success();
    out.then()
        .file("task.md", "# P\n- [x] a <!-- id: a -->\n")
        .args(["tick", "task.md", "b"])
        .stderr_contains("error: no task with id `b` in `task.md`\n")
        .unchanged("task.md")
        .status(2);
}

// ---- parents --------------------------------------------------------------

const NESTED: &str = "
    # P
    - [ ] Release <!-- id: release -->
      - [ ] Build <!-- id: build -->
      - [ ] Check <!-- id: check -->
        - [ ] Lint <!-- id: lint -->
        - [ ] Test <!-- id: test -->
    - [ ] Announce <!-- id: announce -->
    ";

#[test]
fn a_parent_waits_for_all_its_subtasks() {
    Test::new()
        .file("task.md", NESTED)
        .args(["tick", "task.md", "build", "lint"])
        .stdout("ticked build\nticked lint\n")
        .file_is(
            "task.md",
            "
            # P
            - [ ] Release <!-- id: release -->
              - [x] Build <!-- id: build -->
              - [ ] Check <!-- id: check -->
                - [x] Lint <!-- id: lint -->
                - [ ] Test <!-- id: test -->
            - [ ] Announce <!-- id: announce -->
            ",
        )
        .success();
}

#[test]
fn the_last_subtask_ticks_every_parent_it_completes() {
    let out = Test::new()
        .file("task.md", NESTED)
        .args(["tick", "task.md", "build", "lint"])
        .success();
    out.then()
        .args(["tick", "task.md", "test"])
        .stdout(
            "
            ticked test
            ticked check (its subtasks are all done)
            ticked release (its subtasks are all done)
            ",
        )
        .file_is(
            "task.md",
            "
            # P
            - [x] Release <!-- id: release -->
              - [x] Build <!-- id: build -->
              - [x] Check <!-- id: check -->
                - [x] Lint <!-- id: lint -->
                - [x] Test <!-- id: test -->
            - [ ] Announce <!-- id: announce -->
            ",
        )
        .success();
}

#[test]
fn undo_clears_every_ticked_ancestor() {
    Test::new()
        .file(
            "task.md",
            "
            # P
            - [x] Release <!-- id: release -->
              - [x] Build <!-- id: build -->
              - [x] Check <!-- id: check -->
                - [x] Lint <!-- id: lint -->
                - [x] Test <!-- id: test -->
            - [x] Announce <!-- id: announce -->
            ",
        )
        .args(["tick", "task.md", "--undo", "lint"])
        .stdout(
            "
            cleared lint
            cleared check (its subtasks are not all done)
            cleared release (its subtasks are not all done)
            ",
        )
        .file_is(
            "task.md",
            "
            # P
            - [ ] Release <!-- id: release -->
              - [x] Build <!-- id: build -->
              - [ ] Check <!-- id: check -->
                - [ ] Lint <!-- id: lint -->
                - [x] Test <!-- id: test -->
            - [x] Announce <!-- id: announce -->
            ",
        )
        .success();
}

#[test]
fn kiro_optional_subtasks_are_not_required_for_the_parent() {
    Test::new()
        .file(
            "task.md",
            "
            # Implementation Plan
            - [ ] 1. Build the models
            - [ ] 1.1 (P) Create the user model
            - [ ] 1.2 (P) Create the order model
            - [ ]* 1.3 Write unit tests
            - [ ] 2. Wire everything
            ",
        )
        .args(["tick", "task.md", "1.1", "1.2"])
        .stdout("ticked 1.1\nticked 1.2\nticked 1 (its subtasks are all done)\n")
        .file_is(
            "task.md",
            "
            # Implementation Plan
            - [x] 1. Build the models
            - [x] 1.1 (P) Create the user model
            - [x] 1.2 (P) Create the order model
            - [ ]* 1.3 Write unit tests
            - [ ] 2. Wire everything
            ",
        )
        .success();
}

#[test]
fn undo_clears_a_ticked_grandparent_above_an_unticked_parent() {
    // While `Release` stays ticked, everything in it counts as done, so the
    // cleared task would never run again.
    Test::new()
        .file(
            "task.md",
            "
            # P
            - [x] Release
              - [ ] Check
                - [x] Lint
            ",
        )
        .args(["tick", "task.md", "--undo", "lint"])
        .stdout("cleared lint\ncleared release (its subtasks are not all done)\n")
        .file_is(
            "task.md",
            "
            # P
            - [ ] Release
              - [ ] Check
                - [ ] Lint
            ",
        )
        .success();
}

#[test]
fn a_ticked_parent_can_complete_its_own_parent() {
    Test::new()
        .file(
            "task.md",
            "
            # P
            - [ ] Release
              - [x] Check
                - [ ] Lint
            ",
        )
        .args(["tick", "task.md", "lint"])
        .stdout("ticked lint\nticked release (its subtasks are all done)\n")
        .file_is(
            "task.md",
            "
            # P
            - [x] Release
              - [x] Check
                - [x] Lint
            ",
        )
        .success();
}

#[test]
fn a_read_only_task_file_is_refused_and_left_alone() {
    Test::new()
        .file("task.md", "- [ ] a\n")
        .chmod("task.md", 0o444)
        .args(["tick", "task.md", "a"])
        .stderr_contains("read-only")
        .unchanged("task.md")
        .status(2);
}

#[test]
fn an_ambiguous_short_id_lists_the_candidates() {
    Test::new()
        .file("task.md", "# A\n- [ ] tests\n# B\n- [ ] tests\n")
        .args(["tick", "task.md", "tests"])
        .stderr_contains("`tests` could be any of 2 tasks")
        .stderr_contains("`a/tests`, `b/tests`")
        .unchanged("task.md")
        .status(2);
}
