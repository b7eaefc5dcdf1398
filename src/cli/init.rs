//! `run-batch init [DIR]`: writes a starter plan (`tasks.md`) and a
//! `run-batch.toml` with every setting commented out at its default. Never
//! overwrites: if either file exists, nothing is written.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;

use crate::error::Error;
use crate::report::output::print_stdout;

const PLAN: &str = include_str!("../../templates/init/tasks.md");
const CONFIG: &str = include_str!("../../templates/init/run-batch.toml");

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The folder to write into (made if missing) [default: the current folder]
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

pub fn init(args: &InitArgs) -> Result<i32, Error> {
    let files = [
        (args.dir.join("tasks.md"), PLAN),
        (args.dir.join(crate::config::FILE_NAME), CONFIG),
    ];
    // Both or neither: a half-written start is worse than a clear refusal.
    for (path, _) in &files {
        if path.symlink_metadata().is_ok() {
            return Err(Error::Setup(format!(
                "`{}` already exists; init never overwrites a file (move it away, or run `run-batch init` in another folder)",
                path.display()
            )));
        }
    }
    std::fs::create_dir_all(&args.dir).map_err(|source| Error::Write {
        path: args.dir.clone(),
        source,
    })?;
    for (path, text) in &files {
        // `create_new`: a file that appeared since the look above is kept.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        written.map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    }
    let plan = files[0].0.display();
    print_stdout(&format!(
        "wrote {plan} and {}\n\
         next: edit the tasks, then `run-batch check {plan}` and `run-batch {plan}`\n",
        files[1].0.display()
    ));
    Ok(0)
}
