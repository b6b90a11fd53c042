//! delega's integration tests: one binary (see Cargo.toml), one module per area.

mod support;

mod architecture;
mod backfill;
mod check;
mod corpus;
mod corrections;
mod delegation;
mod digest;
mod docs;
mod explain;
mod harness;
mod lifecycle;
mod metrics;
mod oauth2;
mod office_scale;
mod safety;
mod shapes;
mod tasks;
mod triage;
mod undo;
mod watching;
