//! Recording outcomes: ticks in the task file (and, for runs, the journal and
//! event log). Ticking is reporting, not execution: it never starts anything.

pub mod atomic;
pub mod commit;
pub mod events;
pub mod journal;
pub mod keeper;
pub mod lease;
pub mod state;
pub mod tick;
pub mod writable;
