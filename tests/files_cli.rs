//! Files a task claims (`files:` hints and paths its text names): tasks
//! whose claims overlap never run at once, `plan` shows the claims, and a
//! bad claim is an error before anything runs.

mod common;

use common::Test;
use common::agents::{FAKE_AGENT, FakeLog};

#[test]
fn tasks_whose_files_overlap_never_run_at_once_and_other_work_goes_on() {
    let plan = "# P\n\
        - [ ] a sleep=1 <!-- id: a; files: src/a.rs -->\n\
        - [ ] b sleep=1 edits `src/a.rs` too <!-- id: b -->\n\
        - [ ] c sleep=1 <!-- id: c; files: src/** -->\n\
        - [ ] d sleep=1 <!-- id: d; files: docs/guide.md -->\n\
        - [ ] e sleep=1 claims nothing <!-- id: e -->\n";
    let out = Test::new()
        .file("t.md", plan)
        .env("FAKE_LOG", "fake.log")
        .args(["t.md", "--agent", FAKE_AGENT, "-j", "5"])
        .success();
    assert_eq!(out.read("t.md"), plan.replace("- [ ]", "- [x]"));
    let log = FakeLog::read(out.path());
    let clashing = ["a", "b", "c"];
    for (x, y) in log.overlapping() {
        assert!(
            !(clashing.contains(&x.as_str()) && clashing.contains(&y.as_str())),
            "{x} and {y} claim the same files but ran at once"
        );
    }
    // The others did not wait for them: `d` and `e` ran beside `a`.
    let pairs = log.overlapping();
    let beside_a =
        |z: &str| (pairs.iter()).any(|(x, y)| (x == "a" && y == z) || (x == z && y == "a"));
    assert!(beside_a("d") && beside_a("e"), "{pairs:?}");
}

#[test]
fn plan_shows_declared_and_inferred_files() {
    let plan = "- [ ] T001 Create User model in src/models/user.py <!-- files: src/models/**, tests/ -->\n\
                - [ ] Update `README.md` and `docs/guide.md`\n";
    let out = Test::new()
        .file("t.md", plan)
        .args(["plan", "t.md"])
        .success();
    let text = out.stdout;
    assert!(
        text.contains("files src/models/**, tests/, src/models/user.py"),
        "{text}"
    );
    assert!(text.contains("files README.md, docs/guide.md"), "{text}");
    let out = Test::new()
        .file("t.md", plan)
        .args(["plan", "t.md", "--format", "json"])
        .success();
    let json = out.json();
    let files = &json["tasks"][0]["files"];
    assert_eq!(
        files["declared"],
        serde_json::json!(["src/models/**", "tests/"])
    );
    assert_eq!(files["inferred"], serde_json::json!(["src/models/user.py"]));
}

#[test]
fn files_hints_add_up_from_the_section_to_the_task() {
    let plan = "## Parser <!-- files: src/parser/** -->\n- [ ] a <!-- files: tests/parser.rs -->\n";
    let out = Test::new()
        .file("t.md", plan)
        .args(["plan", "t.md", "--format", "json"])
        .success();
    let json = out.json();
    assert_eq!(
        json["tasks"][0]["files"]["declared"],
        serde_json::json!(["tests/parser.rs", "src/parser/**"])
    );
}

#[test]
fn a_claim_outside_the_working_folder_is_an_error_before_anything_runs() {
    for bad in ["../secrets.txt", "/etc/passwd", "src/[oops"] {
        let plan = format!("# P\n- [ ] a touch=ran <!-- files: src/a.rs, {bad} -->\n");
        let out = Test::new()
            .file("t.md", &plan)
            .args(["t.md", "--agent", FAKE_AGENT])
            .stderr_contains("t.md:2:")
            .stderr_contains("paths or globs relative to the working folder")
            .unchanged("t.md")
            .status(2);
        assert!(!out.path().join("ran").exists(), "{bad}: nothing ran");
    }
}
