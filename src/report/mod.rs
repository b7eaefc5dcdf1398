//! What people see: diagnostics, the plan as text, JSON, Mermaid or DOT,
//! the live view and summary of a run, and reports of finished runs.

pub mod check_lines;
pub mod diagnostic;
pub mod event_lines;
pub mod format;
pub mod in_order;
pub mod json_out;
pub mod live;
pub mod output;
pub mod plan_graph;
pub mod plan_json;
pub mod plan_text;
pub mod runlog;
pub mod style;
pub mod summary;

/// `s` for any count but one: `3 tasks`, `1 task`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
