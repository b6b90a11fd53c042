//! delega: an email-triage daemon for a busy entrepreneur.
//!
//! # Layout
//! The pipeline, in the order a message meets it; one module per stage.
//! - [`config`]: the files ops write — the config file and the rules directory — raw →
//!   validated, every mistake as `file:line:col` ([`config::diagnostic`]); secrets from file,
//!   env, command or systemd credential.
//! - [`daemon`]: one task per account — connect, a triage pass, wait for mail (IDLE or
//!   polling), again — until shutdown; SIGHUP reloads. The account tasks and the signals are
//!   `daemon/supervisor.rs`'s, a reload's restarts `daemon/reload.rs`'s, one account's
//!   reconnections `daemon/account.rs`'s, one connection's life `daemon/session.rs`'s.
//!   **The digest is scheduled in `daemon/schedule.rs`**: after each pass it asks
//!   [`digest::send_if_due`] (when is [`digest::schedule`]'s pure answer), and the account
//!   sleeps until the earlier of the next digest and the next forward due.
//! - [`imap`]: fetch — connect and log in, the one [`imap::Connection`] per session (fetch,
//!   move, flag on the selected mailbox), folders and namespaces, IDLE or polling.
//! - [`message`]: parse — the view of a mail that rules see, built from mail-parser; in
//!   `message/`, its addresses, headers, body text, and what shows a list or a machine sent it.
//! - [`classify`]: decide — the pure core, message + rules → [`classify::Decision`].
//! - [`guard`]: the loop and storm guards — when a delegable decision must not become a
//!   forward (delega's own forwards and digests, an assistant's own mail, auto-replies and
//!   bounces, a mail loop, a message already forwarded), and why it was kept instead.
//! - [`triage`]: one pass, and the order of its steps that makes a kill at any moment safe:
//!   record (pending), forward, file, settle. **The Inbox's cursor advances in
//!   `triage::filing`**, in the same transaction that marks the rows done
//!   ([`state::State::complete`]); `triage` sets it alone only at a first start or a
//!   UIDVALIDITY change. The filing folders' cursors (what the entrepreneur moved by hand)
//!   advance in `triage::corrections`, after each chunk it has recorded.
//! - [`state`]: record — SQLite, one file per table (ledger, cursor, events, outbox, tasks,
//!   corrections, undo) and numbered migrations (`state::schema`).
//! - [`delivery`]: **a message is forwarded here** — the planned forward (an outbox row)
//!   composed by [`forward`] (pure; the note a task adds to it and a task's reminder are
//!   `forward::notice`) and sent through [`smtp`] (the SMTP client), with the rate limit,
//!   backoff, in-doubt sends and the circuit.
//! - [`task`]: each forward is a task (reference, state, due time in working hours, the
//!   replies that close it, why its forward never went out); its table is `state::tasks`.
//!   What the config says of a task (when it is due, whether it reminds) is
//!   `config::Account::task_due` and `remind`; the reminders due are sent by
//!   `triage::follow_up`.
//! - [`review`]: the review of results per assistant — done, open, overdue, never sent, the
//!   median time to done in working hours — for the digest, `delega tasks` and [`status`].
//! - [`digest`]: the daily digest — a period's ledger → the entrepreneur's summary mail
//!   (pure composition, in Italian or English). **A reason is put into words in
//!   `digest::locale`**: why a message was kept, a hand delegation not forwarded, a forward
//!   not sent are [`reason`]s ([`reason::Reason`] values, stored as such, `state::reasons`
//!   converted the old sentences), translated there only; logs and the CLI show their
//!   English form.
//!
//! What ops run beside the daemon: [`status`] (what each account has been doing),
//! [`undo`] (take back delega's filings of a time window or a rule), [`suggest`] (rules
//! proposed from the entrepreneur's corrections), [`doctor`] (what each server can do, asked
//! without changing anything).
//!
//! Supporting pieces: `html` (the one way an HTML part is written, the digest's and the forward's:
//! a minijinja template whose values are escaped), [`net`] (TCP and verified TLS under IMAP and
//! SMTP), [`trust`] (which certificates are trusted; TLS failures in words), [`certificate`] (what
//! a certificate says), [`oauth2`] (access tokens for IMAP and SMTP sign-in), [`attention`]
//! (failures that will not fix themselves, retried slowly), [`pacing`] (new connections at a
//! bounded rate, with jitter) and [`limits`] (the open-file limit checked at start), [`systemd`]
//! (readiness and watchdog), [`logging`] (logs in the form the place it runs expects), [`metrics`]
//! (Prometheus counters and `/metrics`), [`failpoint`] (crash at a named point, for the recovery
//! tests). The `delega` binary's commands live in `src/cmd/`, and `src/main.rs` parses the
//! arguments, picks one, and is the one place a failure becomes an exit code (`main` →
//! `try_main`).
//!
//! Imports point one way, never round a circle: `message`, `task` and `reason` are the
//! domain, `classify` decides with them, `config` builds their values (rules, due times,
//! working hours), and what reads a validated config sits above it. `tests/architecture.rs`
//! checks that no two modules import each other, directly or round a longer circle, and that
//! every module is named on this map.
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
mod html;
pub mod imap;
pub mod limits;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod net;
pub mod oauth2;
pub mod pacing;
pub mod reason;
pub mod review;
pub mod smtp;
pub mod state;
pub mod status;
pub mod suggest;
pub mod systemd;
pub mod task;
pub mod triage;
pub mod trust;
pub mod undo;
