//! `run-batch check` (everything `run` would refuse, and the warnings it
//! would not, without running anything) and `run-batch init` (a starter
//! plan and config that `check` passes).

mod common;

use common::Test;

/// A `claude` that does nothing, so the default agent is installed.
fn with_claude(t: Test) -> Test {
    t.executable("bin/claude", "exit 0").path_prefix("bin")
}

#[test]
fn a_clean_file_passes() {
    with_claude(Test::new())
        .file("t.md", "# P\n- [ ] a\n- [ ] b <!-- after: a -->\n")
        .args(["check", "t.md"])
        .stdout("")
        .stderr("t.md: ok\n")
        .success();
}

#[test]
fn plan_errors_have_a_place_a_caret_and_the_fix() {
    with_claude(Test::new())
        .file(
            "t.md",
            "# P\n- [ ] a <!-- id: a -->\n- [ ] b <!-- after: aa -->\n",
        )
        .args(["check", "t.md"])
        .stderr(
            "
            error: task `b` depends on unknown id `aa`
             --> t.md:3:21
              |
            3 | - [ ] b <!-- after: aa -->
              |                     ^^
            checked 1 file: 1 error, 0 warnings
            ",
        )
        .status(2);
}

#[test]
fn json_has_one_diagnostic_per_finding() {
    let out = Test::new()
        .file(
            "t.md",
            "# P\n- [ ] a <!-- after: zz -->\n- [ ] b <!-- paralel: 2 -->\n",
        )
        .args(["check", "t.md", "--format", "json"])
        .status(2);
    let json = out.json();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["errors"], 2);
    let d = &json["diagnostics"];
    assert_eq!(d[0]["severity"], "error");
    assert_eq!(d[0]["code"], "unknown-dependency");
    assert_eq!(d[0]["file"], "t.md");
    assert_eq!(
        (d[0]["line"].as_u64(), d[0]["column"].as_u64()),
        (Some(2), Some(21))
    );
    assert_eq!(d[0]["message"], "task `a` depends on unknown id `zz`");
    assert_eq!(d[1]["code"], "not-a-hint-key");
    assert!(
        d[1]["fix"]
            .as_str()
            .unwrap()
            .starts_with("did you mean `parallel`?"),
        "{json:#}"
    );
    assert_eq!(json["files"][0]["errors"], 2);
}

#[test]
fn everything_run_would_refuse_is_an_error_and_run_refuses_it_too() {
    // An agent that is not installed, named by a task and by `--agent`,
    // and a shell task with no ```sh block.
    let plan =
        "# P\n- [ ] a <!-- agent: no-such-agent-xyz -->\n- [ ] b <!-- agent: shell -->\n- [ ] c\n";
    let out = Test::new()
        .file("t.md", plan)
        .args([
            "check",
            "t.md",
            "--agent",
            "also-missing-xyz",
            "--format",
            "json",
        ])
        .status(2);
    let codes: Vec<(String, Option<u64>)> = out.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["message"].as_str().unwrap().to_owned(),
                d["line"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (
                "agent `also-missing-xyz`: program `also-missing-xyz` is not on PATH".to_owned(),
                None
            ),
            (
                "agent `no-such-agent-xyz`: program `no-such-agent-xyz` is not on PATH".to_owned(),
                Some(2)
            ),
            (
                "task `b` (line 3) has no ```sh block for the `shell` agent to run".to_owned(),
                Some(3)
            ),
        ]
    );
    // `run` refuses the same file, on the same grounds, before anything starts.
    out.then()
        .args(["t.md", "--agent", "also-missing-xyz"])
        .stderr_contains("agent `no-such-agent-xyz`: program `no-such-agent-xyz` is not on PATH")
        .stderr_contains("agent `also-missing-xyz`: program `also-missing-xyz` is not on PATH")
        .stderr_contains("has no ```sh block")
        .file_is("t.md", plan)
        .status(2);
}

#[test]
fn a_bad_config_is_an_error_at_its_line() {
    with_claude(Test::new())
        .file("t.md", "- [ ] a\n")
        .file(
            "run-batch.toml",
            "[agents.claude]\npermision-mode = \"plan\"\n",
        )
        .args(["check", "t.md"])
        .stderr(
            "
            error: unknown key `permision-mode`; did you mean `permission-mode`?
             --> run-batch.toml:2:1
              |
            2 | permision-mode = \"plan\"
              | ^
            checked 1 file: 1 error, 0 warnings
            ",
        )
        .status(2);
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let t = || {
        with_claude(Test::new())
            .file(
                "t.md",
                "- [ ] a <!-- gate: no-such-checker-xyz --all && test -f x -->\n",
            )
            .file(
                "run-batch.toml",
                "[agents.claude]\npermission-mode = \"bypassPermissions\"\n",
            )
    };
    let warnings = "
        warning: gate `no-such-checker-xyz --all && test -f x` runs `no-such-checker-xyz`, which is not on PATH
         --> t.md:1:20
          |
        1 | - [ ] a <!-- gate: no-such-checker-xyz --all && test -f x -->
          |                    ^^^^^^^^^^^^^^^^^^^
          = help: install it, or make sure an earlier task creates it; a gate that cannot run fails its task
        warning: `permission-mode = \"bypassPermissions\"` lets `claude` run any command and reach the network without asking
         --> run-batch.toml:2:20
          |
        2 | permission-mode = \"bypassPermissions\"
          |                    ^^^^^^^^^^^^^^^^^
          = help: run it in a container or VM, or leave `permission-mode` out for the default (edit files in the working folder)
        checked 1 file: 0 errors, 2 warnings
        ";
    t().args(["check", "t.md"]).stderr(warnings).success();
    t().args(["check", "t.md", "--deny-warnings"])
        .stderr(warnings)
        .failure();
}

#[test]
fn plan_only_leaves_out_what_this_machine_lacks() {
    Test::new()
        .file("t.md", "- [ ] a <!-- gate: no-such-checker-xyz -->\n")
        .args(["check", "t.md", "--plan-only", "--deny-warnings"])
        .stderr("t.md: ok\n")
        .success();
}

#[test]
fn several_files_and_files_that_cannot_be_read() {
    with_claude(Test::new())
        .file("good.md", "- [ ] a\n")
        .dir("folder.md")
        .args(["check", "good.md", "missing.md", "folder.md"])
        .stderr_contains("error: missing.md: cannot read `missing.md`")
        .stderr_contains("error: folder.md: `folder.md` is a directory, not a task file")
        .stderr_contains("good.md: ok\n")
        .stderr_contains("checked 3 files: 2 errors, 0 warnings\n")
        .status(2);
}

// ---- init ---------------------------------------------------------------------

#[test]
fn init_writes_a_plan_and_config_that_check_passes() {
    let out = with_claude(Test::new())
        .args(["init", "proj"])
        .stdout(
            "
            wrote proj/tasks.md and proj/run-batch.toml
            next: edit the tasks, then `run-batch check proj/tasks.md` and `run-batch proj/tasks.md`
            ",
        )
        .success();
    let plan = out.read("proj/tasks.md");
    for shown in [
        "## Prepare",
        "<!-- parallel: 2 -->",
        "after: notes",
        "```gate",
        "  - [ ] ",
    ] {
        assert!(
            plan.contains(shown),
            "the starter plan shows {shown:?}:\n{plan}"
        );
    }
    let out = with_claude(out.then())
        .args(["check", "proj/tasks.md", "--deny-warnings"])
        .stderr("proj/tasks.md: ok\n")
        .success();
    // Waves, nesting and the gate, as `plan` reads them.
    let out = out
        .then()
        .args(["plan", "proj/tasks.md", "--format", "json"])
        .success();
    assert_eq!(out.json()["waves"].as_array().unwrap().len(), 2);
    // Every commented setting is a real one: uncommented, the file loads.
    let config = out.read("proj/run-batch.toml");
    let uncommented: String = config
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if !rest.starts_with(' ') && !rest.is_empty() => {
                rest.split("  #").next().unwrap().trim_end().to_owned()
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let out = with_claude(out.then())
        .file("all.toml", &uncommented)
        .args([
            "check",
            "proj/tasks.md",
            "--plan-only",
            "--config",
            "all.toml",
        ])
        .stderr("proj/tasks.md: ok\n")
        .success();
    // Never overwrites: nothing is written when either file exists.
    out.then()
        .file("again/run-batch.toml", "# mine\n")
        .args(["init", "again"])
        .stderr("error: `again/run-batch.toml` already exists; init never overwrites a file (move it away, or run `run-batch init` in another folder)\n")
        .file_is("again/run-batch.toml", "# mine\n")
        .status(2);
}

#[test]
fn isolate_worktree_needs_a_git_repository() {
    with_claude(Test::new())
        .file("t.md", "- [ ] a\n")
        .args(["check", "t.md", "--isolate", "worktree"])
        .stderr(
            "error: t.md: `t.md` is not in a git repository; running tasks in worktrees (`--isolate worktree` or an `isolate: worktree` hint) needs one\nchecked 1 file: 1 error, 0 warnings\n",
        )
        .status(2);
}
