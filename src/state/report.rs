//! The digest's raw material, as the state database yields it: a period's [`Report`] (exact
//! counts, the newest rows of each section within [`Limits`], problems, rules' last use).
//!
//! These types live beside the queries that fill them (`state/digest/`), so that `state`
//! never reaches up into `digest`; `crate::digest` composes them into words and re-exports
//! them for its callers.

use super::{Entry, InDoubt, OutboxRow};
use crate::config::Digest;

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
    /// now, and the median time to done ([`crate::review`]).
    pub tasks: Vec<crate::review::AssistantReview>,
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
    /// Assistants' mails about their tasks, filed with the tasks (out of the Inbox): neither
    /// noise nor time given back.
    pub status_mails: u64,
    /// Assistants' mails about their tasks copied to the delegation folder with the tasks on
    /// a server that cannot move mail: the original is still in the Inbox.
    pub status_copied: u64,
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
    /// Where the digest places it, as the query decided (`state/digest/`).
    pub place: Place,
    /// Its outbox row, for a forward.
    pub forward: Option<OutboxRow>,
    /// Moved back into the Inbox by `delega undo`.
    pub undone: bool,
}

/// Which part of the digest a ledger row belongs to. Decided once, by the query that reads
/// the period (`PLACE` in `state/digest/`, which every count and list there selects by),
/// and carried on each row read; the digest's sections only read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Strategic (or of a category this delega does not know): left for the entrepreneur.
    NeedsYou,
    /// Delegable, for an assistant. `failed`: its forward was refused for good (its row
    /// failed, or its outbox row did), so it is back with the entrepreneur too.
    Delegated {
        /// Refused for good.
        failed: bool,
    },
    /// Delegable or noise, decided by an observe-only rule: nothing was done.
    Observed,
    /// Noise, for its folder.
    Filed,
    /// An assistant's mail about one of their tasks, filed with the task: not noise.
    TaskStatus,
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
