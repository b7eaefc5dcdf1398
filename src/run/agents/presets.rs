//! The presets: the agent CLIs run-batch knows by name. Adding a CLI is
//! adding its file and a line in `PRESETS`. Takes a name; hands on that
//! CLI's room. Never parses a command line.

use crate::run::agents::claude::Claude;
use crate::run::agents::cli::Cli;
use crate::run::agents::codex::Codex;
use crate::run::agents::gemini::Gemini;
use crate::run::agents::shell::Shell;

pub static PRESETS: &[&dyn Cli] = &[&Claude, &Codex, &Gemini, &Shell];

/// The preset called `name`.
pub fn named(name: &str) -> Option<&'static dyn Cli> {
    PRESETS.iter().copied().find(|p| p.name() == name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name())
}
