//! `report --format trace`: takes a `RunReport`; hands on Chrome Trace Event
//! JSON (the "JSON Object Format") that Perfetto and `chrome://tracing`
//! open: one thread per slot, a complete (`X`) event per attempt with its
//! task, outcome and cost in `args`, and waits on threads of their own.

use serde_json::{Value, json};

use super::RunReport;

/// Slots are threads 1…n; wait rows follow them.
pub fn render(r: &RunReport) -> String {
    let t0 = humantime::parse_rfc3339_weak(&r.started)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_micros() as u64);
    let us = |s: f64| t0 + (s * 1e6).round() as u64;
    let mut events: Vec<Value> = vec![json!({
        "ph": "M", "name": "process_name", "pid": 1, "tid": 0,
        "args": {"name": format!("run-batch run {}", r.run)}
    })];
    for lane in 1..=r.lanes {
        events.push(json!({
            "ph": "M", "name": "thread_name", "pid": 1, "tid": lane,
            "args": {"name": format!("slot {lane}")}
        }));
        events.push(json!({
            "ph": "M", "name": "thread_sort_index", "pid": 1, "tid": lane,
            "args": {"sort_index": lane}
        }));
    }
    for a in &r.attempts {
        let mut args = json!({
            "task": a.task,
            "attempt": a.attempt,
            "outcome": a.outcome,
        });
        let obj = args.as_object_mut().expect("an object");
        if let Some(reason) = &a.reason {
            obj.insert("reason".into(), json!(reason));
        }
        if let Some(class) = &a.class {
            obj.insert("class".into(), json!(class));
        }
        if let Some(agent) = &a.agent {
            obj.insert("agent".into(), json!(agent));
        }
        if let Some(s) = &a.spend {
            if let Some(c) = s.cost_usd {
                obj.insert("cost_usd".into(), json!(c));
            }
            obj.insert("input_tokens".into(), json!(s.input_tokens));
            obj.insert("output_tokens".into(), json!(s.output_tokens));
            obj.insert("cache_read_tokens".into(), json!(s.cache_read_tokens));
            obj.insert("cache_write_tokens".into(), json!(s.cache_write_tokens));
        }
        if let Some(log) = &a.log {
            obj.insert("log".into(), json!(log));
        }
        let name = if a.attempt > 1 {
            format!("{} (attempt {})", a.task, a.attempt)
        } else {
            a.task.clone()
        };
        events.push(json!({
            "ph": "X", "name": name, "cat": a.outcome, "pid": 1, "tid": a.lane,
            "ts": us(a.start_secs), "dur": us(a.end_secs) - us(a.start_secs),
            "args": args,
        }));
    }
    // Waits overlap freely: packed into rows so that none nest by accident.
    let mut rows: Vec<f64> = Vec::new();
    for w in &r.waits {
        let row = match rows.iter().position(|&end| end <= w.start_secs) {
            Some(i) => i,
            None => {
                rows.push(0.0);
                let tid = r.lanes + rows.len();
                events.push(json!({
                    "ph": "M", "name": "thread_name", "pid": 1, "tid": tid,
                    "args": {"name": format!("waiting {}", rows.len())}
                }));
                events.push(json!({
                    "ph": "M", "name": "thread_sort_index", "pid": 1, "tid": tid,
                    "args": {"sort_index": tid}
                }));
                rows.len() - 1
            }
        };
        rows[row] = w.end_secs;
        let task = (w.task.as_deref())
            .or(w.provider.as_deref())
            .unwrap_or("run");
        events.push(json!({
            "ph": "X", "name": format!("{task} waits ({})", w.kind), "cat": "wait",
            "pid": 1, "tid": r.lanes + row + 1,
            "ts": us(w.start_secs), "dur": us(w.end_secs.max(w.start_secs)) - us(w.start_secs),
            "args": {"task": w.task, "provider": w.provider, "kind": w.kind},
        }));
    }
    let doc = json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "run": r.run,
            "file": r.file,
            "outcome": r.outcome,
            "cost_usd": r.spend.cost_usd,
        },
    });
    let mut out = serde_json::to_string(&doc).expect("a trace serialises");
    out.push('\n');
    out
}
