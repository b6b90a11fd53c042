//! Logs: tracing to stderr, in the form the place it runs expects.
//!
//! Under systemd (journald sets `JOURNAL_STREAM`) lines carry no timestamp or colour of
//! their own, since the journal adds both; in a terminal they do. `RUST_LOG` overrides the
//! default level (info). Nothing logged anywhere includes a password: secrets are only
//! held in `config::Password`, which prints as `***`.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; call once at start.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match (format, journald) {
        (LogFormat::Json, _) => builder.json().flatten_event(true).init(),
        (LogFormat::Text, true) => builder.without_time().with_ansi(false).init(),
        (LogFormat::Text, false) => builder.with_ansi(false).init(),
    }
}
