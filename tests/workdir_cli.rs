//! Where agents and gates run: by default at the root of the git work tree
//! that holds the task file (spec-kit's `specs/…/tasks.md` and Kiro's
//! `.kiro/specs/…/tasks.md` name paths from there), in the task file's
//! folder outside git, and in `--workdir DIR` when it is given. The
//! repositories are made by the real `git`.

mod common;

use std::path::Path;

use common::Test;

/// Writes where it ran (`pwd -P`) to `$DUMP_DIR/<task id>`.
const PWD_AGENT: &str = r#"
    cat > /dev/null
    mkdir -p "$DUMP_DIR"
    pwd -P > "$DUMP_DIR/$RUN_BATCH_TASK_ID"
    "#;

/// Runs the real `git` with `args` in `dir` of the test's folder.
fn git(test: Test, dir: &str, args: &[&str]) -> Test {
    let test = test.dir(dir);
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(test.path().join(dir))
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    test
}

fn agent(test: Test) -> Test {
    test.executable("bin/pwd-agent", PWD_AGENT)
        .path_prefix("bin")
        .env("DUMP_DIR", "{dir}/dumps")
}

fn real(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_speckit_file_in_a_git_repository_runs_its_agents_at_the_root() {
    let test = git(Test::new(), "repo", &["init", "-q"]);
    let out = agent(test)
        .file(
            "repo/specs/001-x/tasks.md",
            "
            # Tasks
            - [ ] T001 Create src/app.py
            - [ ] T002 Check it <!-- gate: pwd -P > gate-pwd -->
            ",
        )
        // Typed from outside the repository: the current folder does not count.
        .args(["repo/specs/001-x/tasks.md", "--agent", "pwd-agent"])
        .success();
    let root = real(&out.path().join("repo"));
    assert_eq!(out.read("dumps/T001").trim(), root);
    assert_eq!(out.read("dumps/T002").trim(), root);
    assert_eq!(out.read("repo/gate-pwd").trim(), root);
    // The records stay beside the task file.
    assert!(out.path().join("repo/specs/001-x/.run-batch").is_dir());
}

#[test]
fn a_kiro_file_in_a_git_worktree_runs_at_the_worktree_root() {
    // A worktree's `.git` is a file naming the repository.
    let test = git(Test::new(), "repo", &["init", "-q"]);
    let test = git(
        test,
        "repo",
        &["commit", "-q", "--allow-empty", "-m", "start"],
    );
    let test = git(test, "repo", &["worktree", "add", "-q", "../wt"]);
    assert!(test.path().join("wt/.git").is_file());
    let out = agent(test)
        .file("wt/.kiro/specs/search/tasks.md", "- [ ] 1. Add the index\n")
        .args(["wt/.kiro/specs/search/tasks.md", "--agent", "pwd-agent"])
        .success();
    assert_eq!(out.read("dumps/1").trim(), real(&out.path().join("wt")));
}

#[test]
fn outside_git_agents_run_in_the_task_files_folder() {
    let out = agent(Test::new())
        .file("plans/sub/tasks.md", "- [ ] a <!-- id: a -->\n")
        .args(["plans/sub/tasks.md", "--agent", "pwd-agent"])
        .success();
    assert_eq!(
        out.read("dumps/a").trim(),
        real(&out.path().join("plans/sub"))
    );
}

#[test]
fn workdir_wins_over_the_git_root() {
    let test = git(Test::new(), "repo", &["init", "-q"]);
    let out = agent(test)
        .dir("elsewhere")
        .file(
            "repo/specs/001-x/tasks.md",
            "- [ ] T001 Create src/app.py <!-- gate: pwd -P > gate-pwd -->\n",
        )
        .args([
            "repo/specs/001-x/tasks.md",
            "--agent",
            "pwd-agent",
            "--workdir",
            "elsewhere",
        ])
        .success();
    let elsewhere = real(&out.path().join("elsewhere"));
    assert_eq!(out.read("dumps/T001").trim(), elsewhere);
    assert_eq!(out.read("elsewhere/gate-pwd").trim(), elsewhere);
}

#[test]
fn the_bundled_example_runs_in_a_clone_of_the_repository() {
    // As the README's first command does: from the root of a git clone, so
    // the `sh` blocks run at that root.
    let example = include_str!("../examples/runbook.md").replace("- [x]", "- [ ]");
    let test = git(Test::new(), "clone", &["init", "-q"]);
    let out = test
        .file("clone/examples/runbook.md", &example)
        .current_dir("clone")
        .args(["examples/runbook.md"])
        .file_is(
            "clone/examples/runbook.md",
            &example.replace("- [ ]", "- [x]"),
        )
        .success();
    let report = out.read("clone/.run-batch/example/report.txt");
    assert!(report.contains("checkboxes: 4"), "{report}");
}
