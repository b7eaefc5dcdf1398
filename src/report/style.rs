//! Colour: takes `--color auto|always|never` (and, for `auto`, `NO_COLOR`
//! and whether the stream is a terminal); hands on styled words for the
//! live view, diagnostics and `check`. Never decides what is said, only how
//! it looks: with colour off every function returns its text unchanged.

use console::Style;

/// `--color`: when to colour what run-batch prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (to anything but empty)
    #[default]
    Auto,
    /// Always, even into a pipe and with `NO_COLOR` set
    Always,
    /// Never
    Never,
}

impl ColorChoice {
    /// Sets colour for stdout and stderr, for the whole process (the live
    /// view's bars read the same switch). `auto` leaves console's own
    /// choice: a terminal, `NO_COLOR` unset, `TERM` not `dumb`.
    pub fn apply(self) {
        let on = match self {
            ColorChoice::Auto => match std::env::var_os("NO_COLOR") {
                Some(v) if !v.is_empty() => Some(false),
                // console takes an empty `NO_COLOR` as set; the convention
                // (no-color.org) is that only a non-empty value counts.
                Some(_) => {
                    let term = std::env::var_os("TERM").is_none_or(|t| t != "dumb");
                    let stderr = std::io::IsTerminal::is_terminal(&std::io::stderr()) && term;
                    let stdout = std::io::IsTerminal::is_terminal(&std::io::stdout()) && term;
                    console::set_colors_enabled(stdout);
                    console::set_colors_enabled_stderr(stderr);
                    None
                }
                None => None,
            },
            ColorChoice::Always => Some(true),
            ColorChoice::Never => Some(false),
        };
        if let Some(on) = on {
            console::set_colors_enabled(on);
            console::set_colors_enabled_stderr(on);
        }
    }

    /// The same choice for clap's own help and error messages.
    pub fn for_clap(self) -> clap::ColorChoice {
        match self {
            ColorChoice::Auto if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => {
                clap::ColorChoice::Never
            }
            ColorChoice::Auto => clap::ColorChoice::Auto,
            ColorChoice::Always => clap::ColorChoice::Always,
            ColorChoice::Never => clap::ColorChoice::Never,
        }
    }
}

/// The kinds of words that get a colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Done, ticked, clean.
    Good,
    /// Failed, timed out, an error.
    Bad,
    /// Blocked, stopped, retried, a warning.
    Warn,
    /// Started, a note.
    Info,
    /// Less important: paths, help.
    Dim,
    /// Emphasis without a verdict.
    Bold,
}

impl Tone {
    fn style(self) -> Style {
        match self {
            Tone::Good => Style::new().green(),
            Tone::Bad => Style::new().red().bold(),
            Tone::Warn => Style::new().yellow(),
            Tone::Info => Style::new().cyan(),
            Tone::Dim => Style::new().dim(),
            Tone::Bold => Style::new().bold(),
        }
    }
}

/// `text` in `tone`, for stderr.
pub fn err(tone: Tone, text: &str) -> String {
    tone.style().for_stderr().apply_to(text).to_string()
}

/// `text` in `tone`, for stdout.
pub fn out(tone: Tone, text: &str) -> String {
    tone.style().apply_to(text).to_string()
}

/// Whether stderr gets colour (for code that builds its own templates).
pub fn stderr_on() -> bool {
    console::colors_enabled_stderr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_means_plain_text() {
        ColorChoice::Never.apply();
        assert_eq!(err(Tone::Bad, "FAILED"), "FAILED");
        assert_eq!(out(Tone::Good, "ok"), "ok");
    }
}
