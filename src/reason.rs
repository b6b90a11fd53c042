//! Why delega did not do the obvious thing, kept as data: a delegable message kept in the
//! Inbox by a guard ([`Kept`]), a hand delegation not forwarded ([`HandKept`]), a malformed
//! message ([`Malformed`]), a forward that did not go out ([`NotSent`]), an assistant's mail
//! about a task filed with it (`TaskStatus`), a server that only lets delega copy
//! (`CopyOnly`), a digest or daily list that did not go out ([`SendFailure`]), a refusal
//! that waits for a person ([`Attention`]).
//!
//! A [`Reason`] is stored as such (JSON in its own column: `ledger.reason`, `outbox.reason`,
//! `event.reason`) and put into Italian or English words only where a person reads it: the
//! digest (`digest::locale`) and the CLI. The English `Display` forms are for logs. The
//! `parse_legacy` readers exist for the migrations (`state/reasons.rs`: 7, 9, 10 and 11), which
//! turn the English sentences older versions stored into these values.
//!
//! A reason names values that belong to the stage they describe, and leaves the types there:
//! a message's evidence and malformations are `message`'s, a forward given up ([`NotSent`])
//! and a task's state are `task`'s. So `reason` sits above them and below `classify`, whose
//! decisions carry a reason.

use serde::{Deserialize, Serialize};

pub use crate::message::{AutoEvidence, Malformed};
pub use crate::task::NotSent;

/// Why a decision or a forward is not what the rules alone would say, or what a recorded
/// event (`event.reason`) reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A guard kept a delegable message in the Inbox.
    Kept(Kept),
    /// Moved into the delegation folder by hand, but not forwarded.
    HandKept(HandKept),
    /// The message could not be read as mail: strategic whatever the rules say.
    Malformed(Malformed),
    /// A planned forward did not go out.
    NotSent(NotSent),
    /// An assistant's mail about a task: filed with the task, never forwarded back.
    TaskStatus {
        /// The task's reference (`T-7K3Q`).
        reference: String,
        /// The task's state once the mail was read.
        state: crate::task::TaskState,
    },
    /// The server has neither MOVE nor UIDPLUS: delega copies what it files and leaves the
    /// originals in the Inbox (a `server` event).
    CopyOnly,
    /// The digest did not go out and its day was given up (a `digest` event): recorded for a
    /// refusal; a temporary failure is recorded as the server's words alone, and retried.
    DigestNotSent(SendFailure),
    /// An assistant's daily list did not go out (a `digest` event).
    ListNotSent {
        /// The assistant's name, as the list addressed them.
        assistant: String,
        /// Why.
        failure: SendFailure,
    },
    /// The server refused something for good: the account waits for a person (an
    /// `attention` event).
    Attention(Attention),
}

impl Reason {
    /// The stored form (JSON), for a `reason` column.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a reason is plain data and always serialises")
    }

    /// A stored reason; `None` for what this delega cannot read (a newer one wrote it).
    pub fn from_json(text: &str) -> Option<Reason> {
        serde_json::from_str(text).ok()
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Kept(k) => k.fmt(f),
            Reason::HandKept(h) => h.fmt(f),
            Reason::Malformed(m) => write!(f, "malformed message ({m}): kept in the Inbox"),
            Reason::NotSent(n) => n.fmt(f),
            Reason::TaskStatus { reference, state } => write!(
                f,
                "status mail of task {reference} from its assistant (now {}): filed with the task",
                state.as_str()
            ),
            Reason::CopyOnly => f.write_str(COPY_ONLY),
            Reason::DigestNotSent(failure) => failure.fmt(f),
            Reason::ListNotSent { assistant, failure } => {
                write!(f, "{}{assistant}: {failure}", LIST_NOT_SENT)
            }
            Reason::Attention(a) => a.fmt(f),
        }
    }
}

// The English forms of the events: written by `Display`, matched by `parse_legacy`.
const COPY_ONLY: &str = "it has neither MOVE nor UIDPLUS: delega copies messages to their \
                         folders and leaves the originals in the Inbox";
const LIST_NOT_SENT: &str = "daily list for ";

impl Reason {
    /// The reason an old event's `detail` of this `kind` states, if it is one of delega's:
    /// the server's and the digest's sentences older versions recorded, for migration 10, and
    /// an account's refusals (`attention`), for migration 11.
    pub fn parse_legacy_event(kind: &str, detail: &str) -> Option<Reason> {
        match kind {
            "server" => (detail == COPY_ONLY).then_some(Reason::CopyOnly),
            "attention" => Attention::parse_legacy(detail).map(Reason::Attention),
            "digest" => {
                // Only a refusal was recorded with its frame; a temporary failure as it came.
                if let Some(SendFailure::Refused(answer)) = SendFailure::parse_legacy(detail) {
                    return Some(Reason::DigestNotSent(SendFailure::Refused(answer)));
                }
                let rest = detail.strip_prefix(LIST_NOT_SENT)?;
                // A name may hold ": ": the failure is the first tail that reads as one.
                rest.match_indices(": ").find_map(|(at, sep)| {
                    let failure = SendFailure::parse_legacy(&rest[at + sep.len()..])?;
                    Some(Reason::ListNotSent {
                        assistant: rest[..at].to_string(),
                        failure,
                    })
                })
            }
            _ => None,
        }
    }
}

/// A refusal that will not fix itself (`crate::attention`): the server's answer as it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attention {
    /// The server refused to create a folder delega files into.
    FolderRefused {
        /// The server's name for the folder.
        folder: String,
        /// What the server said.
        answer: String,
    },
    /// The server refused the login: the user name or the password is wrong.
    LoginRefused {
        /// The user name delega logged in as.
        username: String,
        /// What the server said.
        answer: String,
    },
    /// The server refused a command.
    Refused {
        /// What delega was doing: the failure's outermost context (`UID FETCH`).
        doing: String,
        /// What the server said.
        answer: String,
    },
}

const FOLDER_REFUSED: (&str, &str, &str) = (
    "the server refused to create the folder ",
    ": ",
    "; check folders.noise and folders.delegated (`delega doctor` shows where the server \
     keeps its folders)",
);
const ANSWERED: (&str, &str) = (": the server answered \"", "\"");
const LOGIN_REFUSED: (&str, &str) = ("login as ", " failed (check username and password)");

impl Attention {
    fn parse_legacy(s: &str) -> Option<Attention> {
        if let Some(rest) = s
            .strip_prefix(FOLDER_REFUSED.0)
            .and_then(|r| r.strip_suffix(FOLDER_REFUSED.2))
        {
            // A folder's name may hold ": " less often than a server's answer does.
            let (folder, answer) = rest.split_once(FOLDER_REFUSED.1)?;
            return Some(Attention::FolderRefused {
                folder: folder.to_string(),
                answer: answer.to_string(),
            });
        }
        // The context is delega's and holds no quote; the answer may.
        let (doing, answer) = s.strip_suffix(ANSWERED.1)?.split_once(ANSWERED.0)?;
        Some(
            Attention::Refused {
                doing: doing.to_string(),
                answer: answer.to_string(),
            }
            .typed(),
        )
    }

    /// A refusal of the login as the login's own variant: older versions (and migration 11)
    /// kept its context as a sentence in `Refused::doing`.
    pub fn typed(self) -> Attention {
        if let Attention::Refused { doing, answer } = &self
            && let Some(username) = doing
                .strip_prefix(LOGIN_REFUSED.0)
                .and_then(|rest| rest.strip_suffix(LOGIN_REFUSED.1))
        {
            return Attention::LoginRefused {
                username: username.to_string(),
                answer: answer.clone(),
            };
        }
        self
    }
}

impl std::fmt::Display for Attention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Attention::FolderRefused { folder, answer } => {
                let (a, b, c) = FOLDER_REFUSED;
                write!(f, "{a}{folder}{b}{answer}{c}")
            }
            Attention::LoginRefused { username, answer } => {
                let (a, b) = LOGIN_REFUSED;
                write!(f, "{a}{username}{b}{}{answer}{}", ANSWERED.0, ANSWERED.1)
            }
            Attention::Refused { doing, answer } => {
                write!(f, "{doing}{}{answer}{}", ANSWERED.0, ANSWERED.1)
            }
        }
    }
}

/// Why a mail of delega's own (the digest, a daily list) did not go out: how it failed, and
/// the server's (or the connection's) words. Its English form is `smtp::SendError`'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendFailure {
    /// It may pass later: the server was unreachable or said 4xx.
    Temporary(String),
    /// Refused for good: the server said 5xx.
    Refused(String),
    /// It went out and no reply came: the server may have taken it.
    NoReply(String),
    /// delega was stopping and it had not gone out.
    Stopped,
}

const TEMPORARY: &str = "temporary failure: ";
const REFUSED: &str = "refused: ";
const NO_REPLY: &str = "no reply after the message was sent: ";
const STOPPED: &str = "not sent: delega is stopping";

impl SendFailure {
    fn parse_legacy(s: &str) -> Option<SendFailure> {
        let words = |prefix: &str| s.strip_prefix(prefix).map(str::to_string);
        if let Some(w) = words(TEMPORARY) {
            return Some(SendFailure::Temporary(w));
        }
        if let Some(w) = words(REFUSED) {
            return Some(SendFailure::Refused(w));
        }
        if let Some(w) = words(NO_REPLY) {
            return Some(SendFailure::NoReply(w));
        }
        (s == STOPPED).then_some(SendFailure::Stopped)
    }
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendFailure::Temporary(w) => write!(f, "{TEMPORARY}{w}"),
            SendFailure::Refused(w) => write!(f, "{REFUSED}{w}"),
            SendFailure::NoReply(w) => write!(f, "{NO_REPLY}{w}"),
            SendFailure::Stopped => f.write_str(STOPPED),
        }
    }
}

/// Why a delegable message must not be forwarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// delega sent it itself: its `X-Delega-Forward` header, with this forward id.
    OwnForward(String),
    /// It comes from one of the account's assistants.
    FromAssistant {
        /// The assistant's name.
        name: String,
        /// The assistant's address.
        address: String,
    },
    /// A machine sent it: an auto-reply, a bounce, a report.
    Machine(AutoEvidence),
    /// More `Received:` headers than `forward.max_received`: a mail loop.
    Loop {
        /// How many it has.
        hops: usize,
        /// The account's `max_received`.
        max: u32,
    },
    /// A message with the same Message-ID was already forwarded.
    AlreadyForwarded,
}

/// A delegable decision the guard kept in the Inbox: the rule that would have delegated it,
/// and why it was not. Its English form (`Display`) is the decision's `why`, as recorded in
/// the ledger and logged; [`Kept::parse_legacy`] reads
/// the sentences older versions stored, for the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// The rule, if a rule decided.
    pub rule: Option<String>,
    /// Why it was not forwarded.
    pub refusal: Refusal,
}

// The fixed parts of the English forms: written by `Display`, matched by `parse_legacy`.
const KEPT: (&str, &str) = ("kept in the Inbox: rule ", " would delegate it, but ");
const NO_RULE: &str = "?";
const OWN_FORWARD: (&str, &str) = ("delega sent this message itself (forward ", ")");
const FROM_ASSISTANT: (&str, &str, &str) = (
    "it comes from the assistant ",
    " (",
    "): never forwarded back",
);
const MACHINE: (&str, &str) = ("it was sent by a machine (", ")");
const LOOP: (&str, &str, &str) = (
    "it crossed ",
    " mail servers (more than ",
    "): probably a mail loop",
);
const ALREADY_FORWARDED: &str = "a message with this Message-ID was already forwarded";

impl Kept {
    /// The guard's decision a `why` describes, if it is one.
    pub fn parse_legacy(why: &str) -> Option<Kept> {
        let (rule, reason) = why.strip_prefix(KEPT.0)?.split_once(KEPT.1)?;
        Some(Kept {
            rule: (rule != NO_RULE).then(|| rule.to_string()),
            refusal: Refusal::parse_legacy(reason)?,
        })
    }
}

/// A message the entrepreneur moved into the delegation folder that delega could not
/// forward: it stays in that folder. Its English form (`Display`) is the decision's `why`;
/// [`HandKept::parse_legacy`] reads older rows, for the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandKept {
    /// The folder it was moved into.
    pub folder: String,
    /// Why not: the guard's refusal, or `None` when no rule and no default assistant name
    /// an assistant for it.
    pub refusal: Option<Refusal>,
}

const HAND_KEPT: (&str, &str) = ("moved into ", " by hand, but ");
const NO_ASSISTANT: &str = "no rule or default_assistant names an assistant";

impl HandKept {
    /// The hand delegation a `why` describes, if it is one.
    pub fn parse_legacy(why: &str) -> Option<HandKept> {
        let (folder, reason) = why.strip_prefix(HAND_KEPT.0)?.split_once(HAND_KEPT.1)?;
        let refusal = match reason {
            NO_ASSISTANT => None,
            other => Some(Refusal::parse_legacy(other)?),
        };
        Some(HandKept {
            folder: folder.to_string(),
            refusal,
        })
    }
}

impl std::fmt::Display for HandKept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{}", HAND_KEPT.0, self.folder, HAND_KEPT.1)?;
        match &self.refusal {
            Some(refusal) => write!(f, "{refusal}"),
            None => f.write_str(NO_ASSISTANT),
        }
    }
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = self.rule.as_deref().unwrap_or(NO_RULE);
        write!(f, "{}{rule}{}{}", KEPT.0, KEPT.1, self.refusal)
    }
}

impl Refusal {
    fn parse_legacy(s: &str) -> Option<Refusal> {
        let between = |(open, close): (&str, &str)| s.strip_prefix(open)?.strip_suffix(close);
        if let Some(id) = between(OWN_FORWARD) {
            return Some(Refusal::OwnForward(id.to_string()));
        }
        if let Some(who) = between((FROM_ASSISTANT.0, FROM_ASSISTANT.2)) {
            // A name may hold " (", an address never does.
            let (name, address) = who.rsplit_once(FROM_ASSISTANT.1)?;
            return Some(Refusal::FromAssistant {
                name: name.to_string(),
                address: address.to_string(),
            });
        }
        if let Some(evidence) = between(MACHINE) {
            return AutoEvidence::parse_legacy(evidence).map(Refusal::Machine);
        }
        if let Some(counts) = between((LOOP.0, LOOP.2)) {
            let (hops, max) = counts.split_once(LOOP.1)?;
            return Some(Refusal::Loop {
                hops: hops.parse().ok()?,
                max: max.parse().ok()?,
            });
        }
        (s == ALREADY_FORWARDED).then_some(Refusal::AlreadyForwarded)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::OwnForward(id) => write!(f, "{}{id}{}", OWN_FORWARD.0, OWN_FORWARD.1),
            Refusal::FromAssistant { name, address } => {
                let (a, b, c) = FROM_ASSISTANT;
                write!(f, "{a}{name}{b}{address}{c}")
            }
            Refusal::Machine(evidence) => write!(f, "{}{evidence}{}", MACHINE.0, MACHINE.1),
            Refusal::Loop { hops, max } => write!(f, "{}{hops}{}{max}{}", LOOP.0, LOOP.1, LOOP.2),
            Refusal::AlreadyForwarded => f.write_str(ALREADY_FORWARDED),
        }
    }
}
