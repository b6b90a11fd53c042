//! delega: an email-triage daemon for a busy entrepreneur.
//!
//! # Layout
//! The pipeline, one module per stage:
//! - [`config`]: the config file, raw → validated; secrets from file, env, command or
//!   systemd credential.
//! - [`message`]: the view of a mail that rules see, built from mail-parser.
//! - [`classify`]: the pure core — message + rules → [`classify::Decision`].
//! - [`forward`]: compose the forward of a delegable message to an assistant (pure).
//! - [`delivery`]: send a planned forward — when it is due, what each outcome records, the
//!   circuit, interrupted sends — through [`smtp`], the SMTP client.
//! - [`digest`]: the daily digest — a period's ledger → the entrepreneur's summary mail
//!   (pure composition, in Italian or English) and when it is due ([`digest::schedule`]).
//! - [`undo`]: take back delega's filings of a time window or a rule.
//! - [`task`]: each forward is a task (reference, state, due time in working hours, the
//!   replies that close it, reminders); its table is `state::tasks`.
//!
//! Supporting pieces: [`config::diagnostic`] (errors with `file:line:col`), [`net`] (TCP
//! and verified TLS under IMAP and SMTP), [`attention`] (failures that will not fix themselves, retried slowly),
//! [`trust`] (which certificates are trusted; TLS failures in words), [`doctor`] (what
//! each server can do, asked without changing anything) and
//! [`certificate`] (what a certificate says). For many accounts in one process:
//! [`pacing`] (new connections at a bounded rate, with jitter) and [`limits`] (the
//! open-file limit checked at start).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attention;
pub mod certificate;
pub mod classify;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod digest;
pub mod doctor;
pub mod failpoint;
pub mod forward;
pub mod guard;
pub mod imap;
pub mod limits;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod net;
pub mod oauth2;
pub mod pacing;
pub mod smtp;
pub mod state;
pub mod status;
pub mod suggest;
pub mod systemd;
pub mod task;
pub mod triage;
pub mod trust;
pub mod undo;
