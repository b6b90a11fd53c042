//! The daily digest: the entrepreneur's ten-minute review of what delega did.
//!
//! [`load`] reads a period's counts, the rows it lists (at most `digest.max_listed` per
//! section: [`Limits`]), problems and rule activity from the state into a [`Report`];
//! [`compose()`] turns it into a [`DigestMail`] (pure: `compose.rs`, `sections.rs` and
//! `results.rs` build a `view.rs` of plain strings from `item.rs`'s pieces, with words and
//! formats from `locale.rs`; `render.rs` and `templates/` lay it out); [`message`] wraps that
//! in a multipart/alternative mail. [`schedule::next_due`] says when the next one is due;
//! [`send_if_due`] (`deliver.rs`) sends it when it is (`Delivery::send`) and records it
//! (`State::record_digest`). When to ask is the daemon's (`daemon/schedule.rs`) or the
//! CLI's (`delega digest --send-now`).

mod compose;
mod deliver;
mod item;
mod locale;
mod render;
mod results;
pub mod schedule;
mod sections;
mod view;

use anyhow::Context;
use jiff::Timestamp;
use lettre::message::{Mailbox, MultiPart};

use crate::config::{Account, Assistant, Digest};
use crate::forward::{AutoSubmitted, DelegaDigest};
use crate::message::one_line;
use crate::state::State;

pub use crate::state::report::{
    Forwards, Handled, Limits, NoiseSource, Place, Problem, Report, RuleUse, Totals,
};
pub use compose::{compose, compose_list};
pub use deliver::{DigestOutcome, send_if_due};
pub use schedule::{Due, next_due};

/// A period with nothing before it (no digest yet) covers this much.
const FIRST_PERIOD_SECS: i64 = 86_400;

/// What composing needs from the account's configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// The account's name, shown in the digest.
    pub account: &'a str,
    /// Language, timezone, minutes per message, hourly value, messages listed.
    pub digest: &'a Digest,
    /// The assistants, for their names.
    pub assistants: &'a [Assistant],
}

impl<'a> Settings<'a> {
    /// The settings of `account`.
    pub fn of(account: &'a Account) -> Settings<'a> {
        Settings {
            account: &account.name,
            digest: &account.digest,
            assistants: &account.assistants,
        }
    }
}

/// A composed digest (or assistant's list), ready to be wrapped by [`message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMail {
    /// One line, counts only: nothing from a message.
    pub subject: String,
    /// The text/plain part.
    pub text: String,
    /// The text/html part.
    pub html: String,
    /// Start of the period reported (Unix time), for `State::record_digest`.
    pub period_start: i64,
    /// End of the period reported (Unix time), for `State::record_digest`; also the `Date`.
    pub period_end: i64,
    /// No message and no problem in the period: with `skip_empty` it need not be sent.
    pub nothing_to_report: bool,
    /// Unique per digest, RFC 5322 atext and dots: the left part of its Message-ID.
    pub id: String,
}

/// Reads what happened in `account` since the end of its last digest (or in the last 24
/// hours, when there is none) up to `now`: counts of everything, and the rows listed.
pub fn load(state: &State, account: &Account, now: Timestamp) -> anyhow::Result<Report> {
    let name = &account.name;
    // Up to and including the current second: a run and its digest often share it. Only
    // the account's own task records its rows, and it does not triage while the digest is
    // prepared, so no row of this second can arrive after the period is closed.
    let end = now.as_second() + 1;
    let start = state
        .last_digest_period_end(name)?
        .filter(|&s| s < end)
        .unwrap_or(end - FIRST_PERIOD_SECS);
    let mut report = state.digest_period(name, start, end, Limits::of(&account.digest))?;
    let last = state.last_rule_matches(name)?;
    let first_decision = state.first_decision(name)?;
    let changed = |path: &std::path::Path| {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
        let since_epoch = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
        i64::try_from(since_epoch.as_secs()).ok()
    };
    report.rules = account
        .rules
        .rules
        .iter()
        .map(|r| RuleUse {
            name: r.name.clone(),
            last_match: last.iter().find(|(n, _)| *n == r.name).map(|(_, t)| *t),
            deciding_since: first_decision
                .map(|first| changed(&r.origin.path).map_or(first, |c| c.max(first))),
        })
        .collect();
    let corrections = state.corrections(name)?;
    let assistant_of = |c: &crate::state::Correction| {
        let id = c.message_id.as_deref()?;
        state
            .entry_by_message_id(name, id)
            .ok()??
            .decision
            .assistant
    };
    // Every task of the account: the open ones whatever their age, the done ones for the
    // period and the 30-day median.
    let tasks = state.tasks(name, &crate::state::TaskFilter::default())?;
    report.tasks = crate::review::review(account, &tasks, start, end);
    report.work_day_secs = account.tasks.work_hours.day_secs();
    report.proposals = crate::suggest::suggest(account, &corrections, &assistant_of, 2)
        .into_iter()
        .take(3)
        .map(|s| s.summary)
        .collect();
    Ok(report)
}

/// Loads and composes the digest of `account` as of `now`.
pub fn prepare(state: &State, account: &Account, now: Timestamp) -> anyhow::Result<DigestMail> {
    let report = load(state, account, now)
        .with_context(|| format!("reading the digest of account {}", account.name))?;
    Ok(compose(&Settings::of(account), &report))
}

/// The digest as a mail from `from` (`smtp.from`) to the entrepreneur (`digest.to`).
pub fn message(
    from: &str,
    account: &Account,
    mail: &DigestMail,
) -> anyhow::Result<lettre::Message> {
    let to = account
        .digest
        .to
        .parse()
        .with_context(|| format!("invalid digest address `{}`", account.digest.to))?;
    build(from, to, mail)
}

/// An assistant's daily list (from [`compose_list`]) as a mail from `from` to the assistant.
pub fn list_message(
    from: &str,
    assistant: &Assistant,
    mail: &DigestMail,
) -> anyhow::Result<lettre::Message> {
    let address = assistant.address.parse().with_context(|| {
        format!(
            "invalid address `{}` for assistant `{}`",
            assistant.address, assistant.id
        )
    })?;
    let name = one_line(&assistant.name);
    build(
        from,
        Mailbox::new((!name.is_empty()).then_some(name), address),
        mail,
    )
}

fn build(from: &str, to: Mailbox, mail: &DigestMail) -> anyhow::Result<lettre::Message> {
    let from: Mailbox = from
        .parse()
        .with_context(|| format!("invalid sender `{from}` (smtp.from)"))?;
    let date = Timestamp::from_second(mail.period_end)
        .ok()
        .and_then(|t| std::time::SystemTime::try_from(t).ok())
        .context("the digest's period ends outside the representable range")?;
    // As in forward.rs: a Message-ID needs an ASCII domain.
    let domain = Some(from.email.domain())
        .filter(|d| !d.is_empty() && d.is_ascii())
        .unwrap_or("delega.invalid")
        .to_string();
    lettre::Message::builder()
        .from(from)
        .to(to)
        // Made of counts and fixed words; one_line all the same, so no CR/LF can get in.
        .subject(one_line(&mail.subject))
        .date(date)
        .message_id(Some(format!("<{}@{domain}>", mail.id)))
        .header(AutoSubmitted)
        .header(DelegaDigest(mail.id.clone()))
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .context("assembling the digest")
}

#[cfg(test)]
mod tests;
