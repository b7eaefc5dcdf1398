//! The command line explaining itself: the text after `--help` (examples,
//! exit statuses, the environment agents get), the `run-batch FILE` short
//! form, `--color` read before clap runs, shell completions and the man
//! page. Never points at files an installed binary lacks.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};

use super::Cli;
use crate::error::Error;
use crate::report::output::print_stdout;
use crate::report::style::ColorChoice;

/// Every subcommand's name (`help` is clap's).
const COMMANDS: &[&str] = &[
    "check",
    "clean",
    "completions",
    "handoff",
    "help",
    "init",
    "man",
    "plan",
    "report",
    "run",
    "status",
    "tick",
];

pub const AFTER_HELP: &str = "\
Run `run-batch FILE` to run a plan, `run-batch check FILE` to check it first.
`run-batch --help` adds examples, exit statuses and the environment agents get.";

pub const AFTER_LONG_HELP: &str = "\
Examples:
  run-batch tasks.md                  run the plan, ticking each box as its task is done
  run-batch tasks.md -j 4 --agent codex --retries 1
  run-batch tasks.md --dry-run        what would run, in order, and the first prompt
  run-batch plan tasks.md             waves, sections, tasks and their ids
  run-batch check tasks.md            what `run` would refuse, without running anything
  run-batch status tasks.md           done and remaining tasks, failures and their logs
  run-batch report tasks.md --format html > run.html
  run-batch init                      a starter tasks.md and run-batch.toml here

Exit status:
  0    everything done (`check`: nothing to report)
  1    a task failed or was blocked, `--max-cost` stopped the run with tasks left,
       or a success could not be ticked (`check --deny-warnings`: warnings)
  2    a usage error, a problem in the task file or run-batch.toml, or an agent
       that cannot run: nothing was started (`check`: errors)
  75   `--max-wait` was reached waiting for usage limits: run it again later
  130  interrupted (Ctrl-C)

Environment of each agent (its prompt arrives on stdin; gates get the same):
  RUN_BATCH_TASK_ID        the task's id (see `run-batch plan`)
  RUN_BATCH_TASK_TEXT      the task's text: the rest of its checkbox line
  RUN_BATCH_TASKFILE       absolute path of the task file
  RUN_BATCH_PROMPT_FILE    absolute path of a file holding the prompt
  RUN_BATCH_PROGRESS_FILE  a file to append progress lines to (shown live)
  RUN_BATCH_ATTEMPT        1 for the task's first attempt in this run, then 2, …
  RUN_BATCH_RUN_ID         the run's id, e.g. 20261121T193815Z-16073
  RUN_BATCH_STATE_DIR      absolute path of .run-batch/<task file name>/
  RUN_BATCH_GUARD          a token the guard uses to end leftover processes; keep it
An agent that ends its final message with `RUN-BATCH: BLOCKED <reason>` is not
ticked and not retried.

Records: .run-batch/<task file name>/ beside the task file holds each run's
events.jsonl and logs, and journal.json. `NO_COLOR=1` turns colour off.";

/// `run-batch FILE [FLAGS]` is `run-batch run FILE [FLAGS]`: inserts `run`
/// unless the first word (after `--color WHEN`) is a command or a flag of
/// the program itself. A near miss of a command that is no file is left for
/// clap, which suggests the command.
pub fn insert_run(argv: &mut Vec<OsString>) {
    let mut i = 1;
    while let Some(arg) = argv.get(i).and_then(|a| a.to_str()) {
        if arg == "--color" {
            i += 2;
        } else if arg.starts_with("--color=") {
            i += 1;
        } else {
            break;
        }
    }
    let Some(first) = argv.get(i) else {
        return;
    };
    if let Some(first) = first.to_str() {
        if COMMANDS.contains(&first) || matches!(first, "-h" | "--help" | "-V" | "--version") {
            return;
        }
        if !first.starts_with('-')
            && !Path::new(first).exists()
            && crate::error::suggest(first, COMMANDS.iter().copied()).is_some()
        {
            return;
        }
    }
    argv.insert(i, "run".into());
}

/// `--color` as the command line gives it (the last one wins), before clap
/// parses anything, so that clap's own messages follow it too.
pub fn color_in(argv: &[OsString]) -> ColorChoice {
    let mut choice = ColorChoice::Auto;
    let mut args = argv.iter().skip(1).map(|a| a.to_str().unwrap_or(""));
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        let value = match arg.strip_prefix("--color") {
            Some("") => args.next().unwrap_or(""),
            Some(rest) => match rest.strip_prefix('=') {
                Some(v) => v,
                None => continue,
            },
            None => continue,
        };
        choice = match value {
            "always" => ColorChoice::Always,
            "never" => ColorChoice::Never,
            _ => ColorChoice::Auto,
        };
    }
    choice
}

#[derive(Args, Debug)]
#[command(after_help = "Install, e.g.:\n  \
    bash: run-batch completions bash > ~/.local/share/bash-completion/completions/run-batch\n  \
    zsh:  run-batch completions zsh > ~/.zfunc/_run-batch  (with `fpath+=~/.zfunc` before `compinit`)\n  \
    fish: run-batch completions fish > ~/.config/fish/completions/run-batch.fish")]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
#[command(after_help = "Install, e.g.:\n  \
    run-batch man ~/.local/share/man/man1   (then `man run-batch`, `man run-batch-run`)\n  \
    run-batch man > run-batch.1 && man ./run-batch.1")]
pub struct ManArgs {
    /// Write `run-batch.1` and a `run-batch-COMMAND.1` page per command into
    /// this folder instead of printing `run-batch.1`
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn completions(args: &CompletionsArgs) -> Result<i32, Error> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "run-batch", &mut out);
    print_stdout(&String::from_utf8_lossy(&out));
    Ok(0)
}

pub fn man(args: &ManArgs) -> Result<i32, Error> {
    let command = Cli::command();
    match &args.dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .expect("a man page renders into memory");
            print_stdout(&String::from_utf8_lossy(&out));
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            clap_mangen::generate_to(command, dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            print_stdout(&format!("wrote the man pages to {}\n", dir.display()));
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        std::iter::once("run-batch")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn run_is_inserted_before_a_file_or_a_flag_only() {
        let with = |words: &[&str]| {
            let mut a = argv(words);
            insert_run(&mut a);
            a.iter()
                .skip(1)
                .map(|w| w.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(with(&["t.md"]), "run t.md");
        assert_eq!(with(&["-j", "2", "t.md"]), "run -j 2 t.md");
        assert_eq!(
            with(&["--color", "never", "t.md"]),
            "--color never run t.md"
        );
        assert_eq!(
            with(&["--color=never", "plan", "t.md"]),
            "--color=never plan t.md"
        );
        assert_eq!(with(&["check", "t.md"]), "check t.md");
        assert_eq!(with(&["--help"]), "--help");
        // A near miss of a command, and no such file: clap suggests.
        assert_eq!(with(&["chek", "t.md"]), "chek t.md");
        assert_eq!(with(&[]), "");
    }

    #[test]
    fn the_last_color_wins() {
        assert_eq!(color_in(&argv(&["t.md"])), ColorChoice::Auto);
        assert_eq!(
            color_in(&argv(&["--color", "always", "t.md"])),
            ColorChoice::Always
        );
        assert_eq!(
            color_in(&argv(&["t.md", "--color=always", "--color=never"])),
            ColorChoice::Never
        );
        assert_eq!(
            color_in(&argv(&["t.md", "--", "--color=never"])),
            ColorChoice::Auto
        );
    }

    #[test]
    fn every_command_is_known_to_the_short_form() {
        let mut names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .chain(["help".to_owned()])
            .collect();
        names.sort();
        assert_eq!(names, COMMANDS);
    }
}
