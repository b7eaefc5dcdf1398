//! Why an agent CLI failed, when it was not the task's fault: a usage limit
//! (with its reset time when the CLI says), throttling, a transient API
//! error, or auth and billing.
//!
//! Takes the texts an attempt left (its final error, the stream's last
//! error, the end of its log) and a table of patterns (each CLI's wording
//! from its room, generic ones from here, extended by `[limits]` in
//! run-batch.toml, because the CLIs change their wording);
//! hands on a `Signal`. Structured signals (Claude's `rate_limit_event`) are
//! read by the stream reader and win over text. Never decides what to do.

use std::time::{Duration, SystemTime};

use regex::Regex;

/// What a failure says about the provider rather than the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// A usage window is exhausted; it resets at `reset` if the CLI said.
    Limited {
        reset: Option<SystemTime>,
        window: Option<String>,
    },
    /// A burst limiter (429 with no reset time).
    Throttled,
    /// 5xx, overloaded, network: after the CLI's own retries.
    Transient,
    /// Invalid key, credit too low, access disabled.
    Auth,
}

/// Which kind a pattern says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Limit,
    Throttled,
    Transient,
    Auth,
}

/// Wording no one CLI owns: HTTP statuses, network errors, any API's
/// limiter. Each CLI's own wording is in its room (`LIMIT_WORDING` in
/// src/run/agents/<cli>.rs).
const GENERIC: &[(Kind, &str)] = &[
    (Kind::Auth, r"(?i)authentication_error|permission_error"),
    (Kind::Limit, r"(?i)usage limit reached"),
    (
        Kind::Throttled,
        r"(?i)rate_limit_error|too many requests|(?:status|error|http)[: ]+429\b",
    ),
    (
        Kind::Transient,
        r"(?i)overloaded_error|\boverloaded\b|internal server error|service unavailable|bad gateway|gateway timeout|econnreset|etimedout|econnrefused|socket hang up|network error|connection reset",
    ),
];

/// The order kinds are tried in: a text that says both "usage limit" and
/// "429" is a usage limit.
const STRONGEST_FIRST: [Kind; 4] = [Kind::Auth, Kind::Limit, Kind::Throttled, Kind::Transient];

/// The table: built-in patterns, then the config's.
pub struct Patterns {
    entries: Vec<(Kind, Regex)>,
}

impl Patterns {
    /// The built-in table (the CLIs' `wording` and the generic patterns,
    /// strongest kind first) with `extra` (from `[limits]`, checked when the
    /// config was read) in front, so that a person's pattern wins.
    pub fn new<'a>(
        extra: &[(Kind, String)],
        wording: impl IntoIterator<Item = &'a (Kind, &'static str)>,
    ) -> Patterns {
        let mut entries: Vec<(Kind, Regex)> = (extra.iter())
            .filter_map(|(k, p)| Some((*k, Regex::new(p).ok()?)))
            .collect();
        let built_in: Vec<(Kind, &str)> = wording.into_iter().chain(GENERIC).copied().collect();
        for kind in STRONGEST_FIRST {
            entries.extend(
                (built_in.iter())
                    .filter(|(k, _)| *k == kind)
                    .map(|&(k, p)| (k, Regex::new(p).expect("built-in pattern"))),
            );
        }
        Patterns { entries }
    }

    /// What the texts say, the first text (the most specific) first.
    pub fn classify(&self, texts: &[&str], now: SystemTime) -> Option<Signal> {
        for text in texts.iter().filter(|t| !t.is_empty()) {
            for (kind, re) in &self.entries {
                if re.is_match(text) {
                    return Some(match kind {
                        Kind::Limit => Signal::Limited {
                            reset: reset_in_text(text, now),
                            window: window_in_text(text),
                        },
                        Kind::Throttled => Signal::Throttled,
                        Kind::Transient => Signal::Transient,
                        Kind::Auth => Signal::Auth,
                    });
                }
            }
        }
        None
    }
}

/// The reset time a limit message gives, in any of the CLIs' forms:
/// Claude's old `…limit reached|<epoch>`, Gemini's `reset after 2h36m24s`,
/// Codex's `Try again at 3:05 PM.` or `… at Jan 5th, 2027 3:05 PM.` (local
/// time).
pub fn reset_in_text(text: &str, now: SystemTime) -> Option<SystemTime> {
    static EPOCH: std::sync::LazyLock<Regex> =
        std::sync::LazyLock::new(|| Regex::new(r"(?i)limit reached\|(\d{9,13})").unwrap());
    static AFTER: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"(?i)reset after ((?:\d+h)?(?:\d+m)?(?:\d+s)?)").unwrap()
    });
    static AT: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(
            r"(?i)try again at (?:([A-Z][a-z]{2})[a-z]* (\d{1,2})(?:st|nd|rd|th)?,? (\d{4}),? )?(\d{1,2}):(\d{2}) ?([AP]M)",
        )
        .unwrap()
    });
    if let Some(c) = EPOCH.captures(text) {
        return Some(epoch(c[1].parse().ok()?));
    }
    if let Some(c) = AFTER.captures(text)
        && !c[1].is_empty()
    {
        return Some(now + crate::taskfile::parse_duration(&c[1])?);
    }
    let c = AT.captures(text)?;
    let hour12: u32 = c[4].parse().ok()?;
    let minute: u32 = c[5].parse().ok()?;
    let pm = c[6].eq_ignore_ascii_case("PM");
    let hour = hour12 % 12 + if pm { 12 } else { 0 };
    let date = match (c.get(1), c.get(2), c.get(3)) {
        (Some(m), Some(d), Some(y)) => Some((
            y.as_str().parse::<i32>().ok()?,
            month(m.as_str())?,
            d.as_str().parse::<u32>().ok()?,
        )),
        _ => None,
    };
    local_time(now, date, hour, minute)
}

/// A Claude `resetsAt`: seconds since the epoch, or milliseconds (one SDK
/// documents ms; payloads seen in the wild use seconds).
pub fn epoch(n: u64) -> SystemTime {
    let secs = if n >= 1_000_000_000_000 { n / 1000 } else { n };
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn window_in_text(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    [
        "session",
        "5-hour",
        "weekly",
        "daily",
        "five_hour",
        "seven_day",
    ]
    .into_iter()
    .find(|w| lower.contains(w))
    .map(|w| match w {
        "session" | "5-hour" => "five_hour".to_owned(),
        "weekly" => "seven_day".to_owned(),
        other => other.to_owned(),
    })
}

fn month(name: &str) -> Option<u32> {
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_lowercase();
    months
        .iter()
        .position(|m| lower.starts_with(m))
        .map(|i| i as u32 + 1)
}

/// How long ago a reset given to the minute may lie and still be this
/// one: the minute it was cut to, and a slow start.
const JUST_PAST: Duration = Duration::from_secs(5 * 60);

/// `hour:minute` local time on `date` (or the next such time after `now`).
fn local_time(
    now: SystemTime,
    date: Option<(i32, u32, u32)>,
    hour: u32,
    minute: u32,
) -> Option<SystemTime> {
    let now_secs = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs() as libc::time_t;
    // SAFETY: localtime_r and mktime read and write only the struct we pass.
    let at = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now_secs, &mut tm);
        if let Some((y, m, d)) = date {
            tm.tm_year = y - 1900;
            tm.tm_mon = m as i32 - 1;
            tm.tm_mday = d as i32;
        }
        tm.tm_hour = hour as i32;
        tm.tm_min = minute as i32;
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        libc::mktime(&mut tm)
    };
    if at < 0 {
        return None;
    }
    let mut t = SystemTime::UNIX_EPOCH + Duration::from_secs(at as u64);
    // "3:05 PM" with no date means the next 3:05 PM; but Codex cuts the
    // reset to the minute, so a time just past is the reset that is due
    // now, not tomorrow's (which would park the run for a day).
    if date.is_none() && t + JUST_PAST < now {
        t += Duration::from_secs(24 * 3600);
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(text: &str) -> Option<Signal> {
        Patterns::new(&[], crate::run::agents::limit_wording()).classify(&[text], SystemTime::now())
    }

    #[test]
    fn each_cli_wording_is_classified() {
        for (text, want) in [
            (
                "You've hit your limit · resets 1pm (Europe/Lisbon)",
                "limit",
            ),
            ("Claude AI usage limit reached|1771390800", "limit"),
            (
                "You've hit your usage limit. Try again at 3:05 PM.",
                "limit",
            ),
            // Codex 0.169 prints a typographic apostrophe.
            (
                "You’ve hit your usage limit. Try again at 8:31 PM.",
                "limit",
            ),
            (
                "You've hit your 5-hour limit · resets 8:29pm (UTC)",
                "limit",
            ),
            ("You've hit your weekly limit · resets Mon 9am", "limit"),
            ("You’ve hit your usage limit. Try again later.", "limit"),
            (
                "You have exhausted your daily quota on this model.",
                "limit",
            ),
            (
                "Server is temporarily limiting requests (not your usage limit)",
                "throttled",
            ),
            (
                "exceeded retry limit, last status: 429 Too Many Requests",
                "throttled",
            ),
            ("API Error: Repeated 529 Overloaded errors", "transient"),
            ("API Error: 500 Internal server error", "transient"),
            (
                "We're currently experiencing high demand, which may cause temporary errors.",
                "transient",
            ),
            ("Invalid API key · Please run /login", "auth"),
            ("Credit balance is too low", "auth"),
            (
                "Quota exceeded. Check your plan and billing details.",
                "auth",
            ),
        ] {
            let got = match classify(text) {
                Some(Signal::Limited { .. }) => "limit",
                Some(Signal::Throttled) => "throttled",
                Some(Signal::Transient) => "transient",
                Some(Signal::Auth) => "auth",
                None => "none",
            };
            assert_eq!(got, want, "{text}");
        }
        assert_eq!(classify("error: cannot find value `x` in this scope"), None);
        assert_eq!(classify("tests failed: 3 of 12"), None);
        assert_eq!(classify("src/lib.rs:429: expected `;`"), None);
    }

    #[test]
    fn reset_times_in_text() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            reset_in_text("Claude AI usage limit reached|1800003600", now),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_003_600))
        );
        assert_eq!(
            reset_in_text("Your quota will reset after 2h36m24s.", now),
            Some(now + Duration::from_secs(2 * 3600 + 36 * 60 + 24))
        );
        let at = reset_in_text("You've hit your usage limit. Try again at 3:05 PM.", now).unwrap();
        let ahead = at.duration_since(now).unwrap();
        assert!(ahead <= Duration::from_secs(24 * 3600), "{ahead:?}");
        let earlier = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let dated = reset_in_text("… or try again at Jan 5th, 2027 3:05 PM.", earlier).unwrap();
        let days = dated.duration_since(earlier).unwrap().as_secs() / 86_400;
        // 2023-11-14 to 2027-01-05, whatever the local time zone.
        assert!((1147..=1148).contains(&days), "{days}");
        assert_eq!(epoch(1_771_390_800_000), epoch(1_771_390_800));
        // Cut to the minute: a time just past is now, not tomorrow.
        let at = reset_in_text("You’ve hit your usage limit. Try again at 3:05 PM.", now).unwrap();
        let just_after = at + Duration::from_secs(40);
        assert_eq!(
            reset_in_text(
                "You’ve hit your usage limit. Try again at 3:05 PM.",
                just_after
            ),
            Some(at)
        );
        let hours_after = at + Duration::from_secs(3 * 3600);
        let next = reset_in_text("Try again at 3:05 PM.", hours_after).unwrap();
        assert_eq!(next.duration_since(at).unwrap().as_secs(), 24 * 3600);
    }

    #[test]
    fn a_persons_pattern_wins() {
        let extra = [(Kind::Limit, "(?i)slow down, friend".to_owned())];
        let p = Patterns::new(&extra, crate::run::agents::limit_wording());
        assert!(matches!(
            p.classify(&["429: slow down, friend"], SystemTime::now()),
            Some(Signal::Limited { .. })
        ));
    }
}
