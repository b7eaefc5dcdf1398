//! The command line explaining itself: help and its usage line, exit
//! statuses and the agents' environment in `--help`, suggestions for
//! mistyped commands and options, shell completions, the man page, and
//! colour that follows `--color` and `NO_COLOR`.

mod common;
#[path = "support/skip.rs"]
mod skip;

use common::Test;
use common::agents::RunTest;

#[test]
fn no_arguments_print_the_help_and_exit_2() {
    let out = Test::new().status(2);
    assert!(
        out.stderr
            .contains("Usage: run-batch [OPTIONS] FILE\n       run-batch <COMMAND> [ARGS]\n"),
        "{}",
        out.stderr
    );
    for command in ["run", "check", "init", "report", "completions", "man"] {
        assert!(
            out.stderr.contains(&format!("\n  {command} ")),
            "{command}: {}",
            out.stderr
        );
    }
}

#[test]
fn long_help_ends_with_examples_exit_statuses_and_the_environment() {
    let out = Test::new().arg("--help").success();
    let help = &out.stdout;
    let examples = help.find("\nExamples:\n").expect("examples");
    let exits = help.find("\nExit status:\n").expect("exit statuses");
    let env = help
        .find("\nEnvironment of each agent")
        .expect("the environment");
    assert!(examples < exits && exits < env, "{help}");
    for var in [
        "RUN_BATCH_TASK_ID",
        "RUN_BATCH_TASK_TEXT",
        "RUN_BATCH_TASKFILE",
        "RUN_BATCH_PROMPT_FILE",
        "RUN_BATCH_PROGRESS_FILE",
        "RUN_BATCH_ATTEMPT",
        "RUN_BATCH_RUN_ID",
        "RUN_BATCH_STATE_DIR",
        "RUN_BATCH_GUARD",
    ] {
        assert!(help[env..].contains(var), "{var}");
    }
    assert!(help.contains("  130  interrupted (Ctrl-C)\n"), "{help}");
    // Nothing an installed binary does not have.
    for command in [
        "--help",
        "run --help",
        "status --help",
        "plan --help",
        "tick --help",
        "clean --help",
        "check --help",
        "init --help",
        "report --help",
        "completions --help",
        "man --help",
    ] {
        let out = Test::new().args(command.split(' ')).success();
        for missing in ["README", "docs/", ".md)"] {
            assert!(
                !out.stdout.contains(missing),
                "`{command}` mentions {missing}:\n{}",
                out.stdout
            );
        }
    }
}

#[test]
fn mistyped_commands_and_options_get_a_suggestion() {
    Test::new()
        .args(["chek", "t.md"])
        .stderr_contains("error: unrecognized subcommand 'chek'")
        .stderr_contains("tip: a similar subcommand exists: 'check'")
        .status(2);
    Test::new()
        .args(["stauts"])
        .stderr_contains("tip: a similar subcommand exists: 'status'")
        .status(2);
    Test::new()
        .file("t.md", "- [ ] a\n")
        .args(["t.md", "--jbos", "2"])
        .stderr_contains("error: unexpected argument '--jbos' found")
        .stderr_contains("tip: a similar argument exists: '--jobs'")
        .status(2);
    // A file whose name is near a command is still a file.
    Test::new()
        .fake_agent()
        .file("chek", "- [ ] a\n")
        .args(["chek", "--agent", "fake-agent"])
        .file_is("chek", "- [x] a\n")
        .success();
}

#[test]
fn completions_for_every_shell() {
    for (shell, mark) in [
        ("bash", "complete -F _run__batch"),
        ("zsh", "#compdef run-batch"),
        ("fish", "complete -c run-batch"),
        ("elvish", "edit:completion:arg-completer[run-batch]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = Test::new().args(["completions", shell]).success();
        assert!(out.stdout.contains(mark), "{shell}: {}", &out.stdout[..200]);
        assert!(out.stdout.contains("report"), "{shell} completes `report`");
    }
    if which("bash") {
        // The bash script loads.
        let out = Test::new().args(["completions", "bash"]).success();
        let script = out.path().join("c.bash");
        std::fs::write(&script, &out.stdout).unwrap();
        let ok = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {} && complete -p run-batch",
                script.display()
            ))
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }
}

#[test]
fn man_pages_print_or_go_into_a_folder() {
    let out = Test::new().arg("man").success();
    assert!(
        out.stdout.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &out.stdout[..100]
    );
    assert!(
        out.stdout.contains(".TH run-batch 1"),
        "{}",
        &out.stdout[..300]
    );
    assert!(out.stdout.contains("RUN_BATCH_TASK_ID"));
    let out = out
        .then()
        .args(["man", "pages"])
        .stdout("wrote the man pages to pages\n")
        .success();
    let pages = out.entries("pages");
    for page in [
        "run-batch.1",
        "run-batch-run.1",
        "run-batch-check.1",
        "run-batch-report.1",
    ] {
        assert!(pages.contains(&page.to_owned()), "{pages:?}");
    }
    if which("man") {
        let shown = std::process::Command::new("man")
            .arg(out.path().join("pages/run-batch-check.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(text.contains("--deny-warnings"), "{text}");
    }
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let failing = || Test::new().fake_agent().file("t.md", "- [ ] a fail\n");
    // The harness sets NO_COLOR=1; stderr is a pipe.
    let out = failing().args(["t.md", "--agent", "fake-agent"]).failure();
    assert!(!out.stderr.contains('\x1b'), "{}", out.stderr);
    let out = failing()
        .args(["t.md", "--agent", "fake-agent", "--color", "always"])
        .failure();
    assert!(
        out.stderr.contains("\x1b[31m\x1b[1mFAILED\x1b[0m   a-fail"),
        "{:?}",
        out.stderr
    );
    let out = failing()
        .env_remove("NO_COLOR")
        .args(["--color=never", "t.md", "--agent", "fake-agent"])
        .failure();
    assert!(!out.stderr.contains('\x1b'), "{}", out.stderr);
    // Diagnostics and clap's own messages too.
    let out = Test::new()
        .file("t.md", "- [ ] a <!-- after: zz -->\n")
        .args(["check", "t.md", "--color", "always"])
        .status(2);
    assert!(
        out.stderr.starts_with("\x1b[31m\x1b[1merror:\x1b[0m task"),
        "{:?}",
        out.stderr
    );
    let out = Test::new().args(["--color", "always", "chek"]).status(2);
    assert!(out.stderr.contains('\x1b'), "{:?}", out.stderr);
    let out = Test::new().args(["chek"]).status(2);
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
}

fn which(program: &str) -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join(program).is_file())
}
