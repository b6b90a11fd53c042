//! delega's integration tests: one binary (see Cargo.toml), one module per area.

mod check;
mod corpus;
