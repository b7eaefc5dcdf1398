//! What people see: diagnostics, and the plan as text, JSON, Mermaid or DOT.

pub mod diagnostic;
pub mod live;
pub mod plan_graph;
pub mod plan_json;
pub mod plan_text;
pub mod summary;
