//! How numbers, times and sizes read in run-batch's output: one place for
//! the words the live view, the summary and the reports share. Takes values;
//! hands on strings. Never prints.

use std::time::Duration;

use crate::report::plan_text::humanize;

/// `$0.0123`, or `-` when unknown.
pub fn usd(cost: Option<f64>) -> String {
    match cost {
        Some(c) if c >= 100.0 => format!("${c:.0}"),
        Some(c) if c >= 1.0 => format!("${c:.2}"),
        Some(c) => format!("${c:.4}"),
        None => "-".to_owned(),
    }
}

/// A spend's cost, `~$1.20` when part of it is an estimate (an attempt
/// stopped before its agent reported its spend).
pub fn spend_usd(s: &crate::record::events::Spend) -> String {
    match s.cost_usd {
        Some(_) if s.estimated => format!("~{}", usd(s.cost_usd)),
        _ => usd(s.cost_usd),
    }
}

/// `512 B`, `3.4 KB`, `1.2 MB`, `5.0 GB`.
pub fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

/// `950`, `12.3k`, `4.5M`.
pub fn count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `15:04` in the local time zone (with the date when it is not today).
pub fn local_time(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as libc::time_t;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as libc::time_t;
    // SAFETY: localtime_r writes into the struct we pass and reads the time.
    let (at, today) = unsafe {
        let mut at: libc::tm = std::mem::zeroed();
        let mut today: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut at);
        libc::localtime_r(&now, &mut today);
        (at, today)
    };
    let hm = format!("{:02}:{:02}", at.tm_hour, at.tm_min);
    if (at.tm_year, at.tm_yday) == (today.tm_year, today.tm_yday) {
        hm
    } else {
        format!(
            "{}-{:02}-{:02} {hm}",
            at.tm_year + 1900,
            at.tm_mon + 1,
            at.tm_mday
        )
    }
}

pub fn humanize_secs(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else {
        humanize(Duration::from_secs(secs.round() as u64))
    }
}
