//! The daily digest: the entrepreneur's ten-minute review of what delega did.
//!
//! [`load`] reads a period's counts, the rows it lists (at most `digest.max_listed` per
//! section: [`Limits`]), problems and rule activity from the state into a [`Report`];
//! [`compose()`] turns it into a [`DigestMail`] (pure: `compose.rs` and
//! `sections.rs` build a `view.rs` of plain strings, with words and formats from `locale.rs`;
//! `render.rs` and `templates/` lay it out); [`message`] wraps that in a
//! multipart/alternative mail. [`schedule::next_due`] says when the next one is
//! due. Waiting, sending (`Delivery::send`) and recording (`State::record_digest`) are the
//! daemon's and the CLI's.

mod compose;
mod deliver;
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
use crate::state::{Entry, InDoubt, OutboxRow, State};

pub use compose::{compose, compose_list};
pub use deliver::{DigestOutcome, send_if_due};
pub use schedule::{Due, next_due};

/// A period with nothing before it (no digest yet) covers this much.
const FIRST_PERIOD_SECS: i64 = 86_400;
/// Noise sources and problems listed; the rest are counted in one line.
const GROUPS_MAX: usize = 20;
/// Failed forwards matter more than the rest: this many times `max_listed` are listed.
const FAILED_FACTOR: usize = 4;

/// What happened in an account during a period: the digest's raw material. Counts cover
/// the whole period; of the messages, only the newest of each section are here, as many as
/// the digest lists ([`Limits`]), so a day of 10,000 messages is read and composed in
/// bounded memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Start of the period (Unix time, inclusive): the end of the previous digest's.
    pub start: i64,
    /// End of the period (Unix time, exclusive): when the digest was prepared.
    pub end: i64,
    /// How many messages went where, and how many problems there were, in the period.
    pub totals: Totals,
    /// Strategic messages, delegated ones whose forward failed, and messages `delega undo`
    /// moved back into the Inbox, newest first.
    pub needs_you: Vec<Handled>,
    /// For each assistant with forwards in the period: how many, and the newest.
    pub delegated: Vec<Forwards>,
    /// Delegable and noise messages decided by observe-only rules, newest first.
    pub observed: Vec<Handled>,
    /// The largest sources of the noise filed, largest first.
    pub noise: Vec<NoiseSource>,
    /// Problems recorded in the period, the same ones counted together, latest first.
    pub problems: Vec<Problem>,
    /// Every forward that may have reached its assistant twice: still waiting to be sent
    /// again, or sent again in the period. All of them, never capped.
    pub in_doubt: Vec<InDoubt>,
    /// Every configured rule with its last match, to spot the unused ones.
    pub rules: Vec<RuleUse>,
    /// One-line summaries of the rules `delega suggest` proposes, most evidence first.
    pub proposals: Vec<String>,
    /// The review of results: per assistant, tasks done in the period, open and overdue
    /// now, and the median time to done (`task::review`).
    pub tasks: Vec<crate::task::review::AssistantReview>,
    /// The length of one working day (seconds), to say durations in working days.
    pub work_day_secs: i64,
}

/// Exact counts of a period, however few of its messages are listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Messages decided.
    pub messages: u64,
    /// Strategic: left in the Inbox for the entrepreneur.
    pub strategic: u64,
    /// Delegable or noise, decided by observe-only rules: nothing was done.
    pub observed: u64,
    /// Filed as noise (moved out of the Inbox).
    pub filed: u64,
    /// Noise copied to its folder, the original left in the Inbox (a server that cannot
    /// move mail safely).
    pub copied: u64,
    /// Filed or delegated, then moved back into the Inbox by `delega undo`: with the
    /// entrepreneur again, neither filed nor handled.
    pub undone: u64,
    /// Of those, delegated ones (their forward went out all the same).
    pub undone_forwards: u64,
    /// Distinct sources (list or sender) of the noise filed.
    pub noise_sources: u64,
    /// Distinct problems (kind and detail).
    pub problems: u64,
}

/// The forwards to one assistant in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwards {
    /// The assistant's id, as recorded ("" when none was).
    pub assistant: String,
    /// Forwards in the period, whatever their state.
    pub count: u64,
    /// Of those, refused for good.
    pub failed: u64,
    /// The newest of them, newest first.
    pub rows: Vec<Handled>,
}

/// Where noise came from: a mailing list, or a sender outside any list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoiseSource {
    /// The List-Id, for list mail.
    pub list_id: Option<String>,
    /// The sender's address in lower case, for mail from no list ("" when unknown).
    pub sender: String,
    /// Messages filed from it in the period.
    pub messages: u64,
    /// The rules that filed them, in the order they first did.
    pub rules: Vec<String>,
}

/// Problems with the same kind and detail (`State::record_event`), counted together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What kind: `imap` (connection), `smtp` (sending), `forward` (refused), …
    pub kind: String,
    /// What happened.
    pub detail: String,
    /// How many times, in the period.
    pub count: u64,
    /// The last time (Unix time).
    pub last: i64,
    /// Why, when it is one of delega's own reasons (then `detail` says what it concerns).
    pub reason: Option<crate::reason::Reason>,
}

/// How many of each kind the digest lists: the newest messages of each section, the
/// largest noise sources, the latest problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Messages per section, and per assistant among the delegated.
    pub messages: usize,
    /// Failed forwards, among the messages that need the entrepreneur.
    pub failed: usize,
    /// Noise sources; problems.
    pub groups: usize,
}

impl Limits {
    /// The limits `digest` configures.
    pub fn of(digest: &Digest) -> Limits {
        let messages = usize::try_from(digest.max_listed).unwrap_or(usize::MAX);
        Limits {
            messages,
            failed: messages.saturating_mul(FAILED_FACTOR),
            groups: GROUPS_MAX,
        }
    }
}

/// A decision from the ledger, with its forward if it was delegated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The ledger row.
    pub entry: Entry,
    /// Its outbox row, for a forward.
    pub forward: Option<OutboxRow>,
    /// Moved back into the Inbox by `delega undo`.
    pub undone: bool,
}

/// A configured rule and the last time it decided a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleUse {
    /// The rule's name.
    pub name: String,
    /// When it last matched (Unix time), if ever.
    pub last_match: Option<i64>,
    /// Since when it has been deciding mail, as far as is known (Unix time): the later of
    /// the account's first decision and the last change of its rules file. A rule that
    /// never matched is reported only after two weeks of mail.
    pub deciding_since: Option<i64>,
}

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
    report.tasks = crate::task::review::review(account, &tasks, start, end);
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
