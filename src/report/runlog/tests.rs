//! Reading events into a report: crashed runs, retries, blocked tasks,
//! unknown events and torn lines.

use super::*;

fn report(lines: &[&str]) -> RunReport {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    RunReport::read(&path, None).unwrap()
}

fn at(secs: u32, rest: &str) -> String {
    format!("{{\"ts\":\"2026-11-21T10:00:{secs:02}.000Z\",\"run\":\"R\",{rest}}}")
}

#[test]
fn a_crashed_run_keeps_its_open_attempts_to_its_last_event() {
    let lines = [
        at(
            0,
            r#""event":"run_started","file":"t.md","pid":1,"tasks":2,"to_run":2,"jobs":2"#,
        ),
        at(
            1,
            r#""event":"task_started","task":"a","attempt":1,"agent":"x","pid":2,"log":"a.log","command":"x""#,
        ),
        at(
            1,
            r#""event":"task_started","task":"b","attempt":1,"agent":"x","pid":3,"log":"b.log","command":"x""#,
        ),
        at(
            4,
            r#""event":"task_finished","task":"b","attempt":1,"outcome":"succeeded","duration_secs":3.0,"log":"b.log","agent":"x","cost_usd":0.5,"input_tokens":10,"output_tokens":2,"cache_read_tokens":0,"cache_write_tokens":0"#,
        ),
        at(
            9,
            r#""event":"task_progress","task":"a","line":"still going""#,
        ),
        "{\"ts\":\"2026-11-21T10:00:09.5".to_owned(),
    ];
    let r = report(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.outcome, "crashed");
    assert_eq!(r.unreadable_lines, 1);
    assert_eq!(r.lanes, 2);
    let a = r.attempts.iter().find(|a| a.task == "a").unwrap();
    assert_eq!(
        (a.outcome.as_str(), a.start_secs, a.end_secs),
        ("unfinished", 1.0, 9.0)
    );
    assert_eq!(r.spend.cost_usd, Some(0.5));
    assert_eq!(r.duration_secs, 9.0);
}

#[test]
fn retries_leave_a_wait_and_reuse_the_free_lane() {
    let lines = [
        at(
            0,
            r#""event":"run_started","file":"t.md","pid":1,"tasks":1,"to_run":1,"jobs":1"#,
        ),
        at(
            0,
            r#""event":"task_started","task":"a","attempt":1,"agent":"x","pid":2,"log":"l","command":"x""#,
        ),
        at(
            2,
            r#""event":"task_finished","task":"a","attempt":1,"outcome":"failed","reason":"exit 1","duration_secs":2.0,"log":"l","agent":"x""#,
        ),
        at(
            2,
            r#""event":"task_retrying","task":"a","next_attempt":2,"delay_secs":1.0"#,
        ),
        at(2, r#""event":"usage_limit_wait","until":"later""#),
        at(
            3,
            r#""event":"task_started","task":"a","attempt":2,"agent":"x","pid":3,"log":"l2","command":"x""#,
        ),
        at(
            5,
            r#""event":"task_finished","task":"a","attempt":2,"outcome":"succeeded","duration_secs":2.0,"log":"l2","agent":"x""#,
        ),
        at(
            5,
            r#""event":"run_finished","outcome":"succeeded","done":1,"failed":0,"remaining":0,"duration_secs":5.0,"input_tokens":0,"output_tokens":0,"cache_read_tokens":0,"cache_write_tokens":0"#,
        ),
    ];
    let r = report(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.outcome, "succeeded");
    assert_eq!(r.lanes, 1);
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.waits.len(), 1);
    assert_eq!((r.waits[0].start_secs, r.waits[0].end_secs), (2.0, 3.0));
    assert_eq!(r.unknown_events.get("usage_limit_wait"), Some(&1));
    assert_eq!(r.by_task[0].attempts, 2);
    assert_eq!(r.by_task[0].outcome, "succeeded");
    let path: Vec<&str> = r.critical_path.iter().map(|s| s.after.as_str()).collect();
    assert_eq!(path, ["start", "retry"]);
}

#[test]
fn blocked_tasks_are_listed_with_what_they_wait_for() {
    let lines = [
        at(
            0,
            r#""event":"task_started","task":"a","attempt":1,"agent":"x","pid":2,"log":"l","command":"x""#,
        ),
        at(
            1,
            r#""event":"task_finished","task":"a","attempt":1,"outcome":"blocked","reason":"db down","duration_secs":1.0,"log":"l","agent":"x""#,
        ),
        at(1, r#""event":"task_blocked","task":"b","by":"a""#),
    ];
    let r = report(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    let b = r.by_task.iter().find(|t| t.id == "b").unwrap();
    assert_eq!(b.outcome, "blocked_by_failure");
    assert_eq!(b.blocked_by.as_deref(), Some("a"));
    assert_eq!(r.attempts[0].outcome, "blocked");
}

#[test]
fn an_empty_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, "").unwrap();
    let e = RunReport::read(&path, None).unwrap_err();
    assert!(e.contains("holds no events"), "{e}");
}

#[test]
fn the_critical_path_follows_what_each_start_waited_for() {
    // -j 2: `c` ends first, `a` ends at 2 and `b` starts then; `b` ends last.
    let lines = [
        at(
            0,
            r#""event":"task_started","task":"a","attempt":1,"agent":"x","pid":2,"log":"l","command":"x""#,
        ),
        at(
            0,
            r#""event":"task_started","task":"c","attempt":1,"agent":"x","pid":3,"log":"l","command":"x""#,
        ),
        at(
            1,
            r#""event":"task_finished","task":"c","attempt":1,"outcome":"succeeded","duration_secs":1.0,"log":"l","agent":"x""#,
        ),
        at(
            2,
            r#""event":"task_finished","task":"a","attempt":1,"outcome":"succeeded","duration_secs":2.0,"log":"l","agent":"x""#,
        ),
        at(
            2,
            r#""event":"task_started","task":"b","attempt":1,"agent":"x","pid":4,"log":"l","command":"x""#,
        ),
        at(
            5,
            r#""event":"task_finished","task":"b","attempt":1,"outcome":"failed","duration_secs":3.0,"log":"l","agent":"x""#,
        ),
    ];
    let r = report(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    let path: Vec<(&str, &str)> = (r.critical_path.iter())
        .map(|s| (s.task.as_str(), s.after.as_str()))
        .collect();
    // Without the plan the reason is a slot; `c` ended long before.
    assert_eq!(path, [("a", "start"), ("b", "slot")]);
    assert_eq!(r.lanes, 2);
    let b = r.attempts.iter().find(|a| a.task == "b").unwrap();
    assert_eq!(b.lane, 1, "b takes the lowest free lane, a's");
}

#[test]
fn usage_limit_waits_are_spans_of_their_provider() {
    let lines = [
        at(
            0,
            r#""event":"task_started","task":"a","attempt":1,"agent":"claude","pid":2,"log":"l","command":"x""#,
        ),
        at(
            1,
            r#""event":"task_finished","task":"a","attempt":1,"outcome":"failed","class":"limit_exhausted","duration_secs":1.0,"log":"l","agent":"claude""#,
        ),
        at(
            1,
            r#""event":"limit_wait","provider":"claude","until":"2026-11-21T10:00:30.000Z","reset_known":true"#,
        ),
        at(
            20,
            r#""event":"limit_wait_over","provider":"claude","waited_secs":19.0"#,
        ),
        at(
            20,
            r#""event":"task_started","task":"a","attempt":2,"agent":"claude","pid":3,"log":"l","command":"x""#,
        ),
        at(
            22,
            r#""event":"task_finished","task":"a","attempt":2,"outcome":"succeeded","class":"succeeded","duration_secs":2.0,"log":"l","agent":"claude""#,
        ),
        at(
            22,
            r#""event":"limit_wait","provider":"codex","until":"2026-11-21T11:00:00.000Z","reset_known":false"#,
        ),
        at(
            25,
            r#""event":"provider_throttled","provider":"codex","concurrency":1,"pause_secs":5.0"#,
        ),
    ];
    let r = report(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    let waits: Vec<(Option<&str>, &str, f64, f64)> = (r.waits.iter())
        .map(|w| {
            (
                w.provider.as_deref(),
                w.kind.as_str(),
                w.start_secs,
                w.end_secs,
            )
        })
        .collect();
    // The second is still on when the events end (a crash): it ends there.
    assert_eq!(
        waits,
        [
            (Some("claude"), "usage_limit", 1.0, 20.0),
            (Some("codex"), "usage_limit", 22.0, 25.0)
        ]
    );
    assert_eq!(r.attempts[0].class.as_deref(), Some("limit_exhausted"));
    assert!(r.unknown_events.is_empty(), "{:?}", r.unknown_events);
}
