//! run-batch: run a Markdown plan of tasks with coding agents, ticking each
//! checkbox in the file the moment its task is proven done.
//!
//! The modules follow the data: `taskfile` (bytes → document) → `plan`
//! (tasks, dependencies, limits) → `run` (scheduler, agents) → `record`
//! (ticks, journal) → `report` (what people see).

pub mod cli;
pub mod config;
pub mod cpus;
pub mod error;
pub mod git;
pub mod handoff_cli;
pub mod location;
pub mod memory;
pub mod plan;
pub mod record;
pub mod report;
pub mod run;
pub mod taskfile;

pub use error::Error;
