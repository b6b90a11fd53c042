//! Where a task's forward stands ([`Forwarded`]), and why one never went out when delega
//! itself gave it up ([`NotSent`]): data the outbox records and a task reads. `reason`
//! names a `NotSent` among its reasons, as it names a message's evidence, and leaves the
//! type here, with the forward it describes.

use serde::{Deserialize, Serialize};

/// Where a task's forward stands: the outbox row's state, as a task reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarded {
    /// Still to go out (its turn, its backoff, a server that is down).
    Waiting,
    /// The server accepted it.
    Sent,
    /// It will never go out (`delega retry` sends only waiting forwards: a refusal for good
    /// stays one). The message stays in the Inbox.
    NotSent {
        /// delega's own reason, as data, when delega gave the forward up itself.
        reason: Option<NotSent>,
        /// The server's refusal as it came (or the reason's English form).
        error: String,
    },
}

impl Forwarded {
    /// The reason in English, for the CLI and logs (the digest says it in its language).
    pub fn why(&self) -> Option<String> {
        match self {
            Forwarded::NotSent {
                reason: Some(r), ..
            } => Some(r.to_string()),
            Forwarded::NotSent { error, .. } => Some(error.clone()),
            _ => None,
        }
    }
}

/// Why a planned forward did not go out, when delega itself is the one to say it (the
/// server's own refusals are quoted as they come). Its English form (`Display`) is what the
/// ledger and the outbox record and the log shows; [`NotSent::parse_legacy`] reads
/// the sentences older versions stored, for the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotSent {
    /// The rule's assistant was removed from the config after the decision.
    AssistantGone(String),
    /// The forward could not be built (the reason from the composer).
    Compose(String),
    /// The message was moved out of the Inbox before it could be forwarded.
    LeftInbox,
    /// The server renumbered the mailbox before the forward went out.
    Renumbered,
    /// Refused, with no reason on record.
    Refused,
}

// The fixed parts of the English forms: written by `Display`, matched by `parse_legacy`.
const ASSISTANT_GONE: (&str, &str) = (
    "assistant ",
    " of a planned forward is no longer in the config",
);
const COMPOSE: &str = "cannot compose the forward: ";
const LEFT_INBOX: &str = "the message left the Inbox before it was forwarded";
const RENUMBERED: &str = "the server renumbered the mailbox";
const REFUSED: &str = "forward refused";

impl NotSent {
    /// The reason a recorded text gives, if delega wrote it.
    pub fn parse_legacy(text: &str) -> Option<NotSent> {
        if let Some(id) = text
            .strip_prefix(ASSISTANT_GONE.0)
            .and_then(|t| t.strip_suffix(ASSISTANT_GONE.1))
        {
            return Some(NotSent::AssistantGone(id.to_string()));
        }
        if let Some(why) = text.strip_prefix(COMPOSE) {
            return Some(NotSent::Compose(why.to_string()));
        }
        match text {
            LEFT_INBOX => Some(NotSent::LeftInbox),
            RENUMBERED => Some(NotSent::Renumbered),
            REFUSED => Some(NotSent::Refused),
            _ => None,
        }
    }
}

impl std::fmt::Display for NotSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotSent::AssistantGone(id) => {
                write!(f, "{}{id}{}", ASSISTANT_GONE.0, ASSISTANT_GONE.1)
            }
            NotSent::Compose(why) => write!(f, "{COMPOSE}{why}"),
            NotSent::LeftInbox => f.write_str(LEFT_INBOX),
            NotSent::Renumbered => f.write_str(RENUMBERED),
            NotSent::Refused => f.write_str(REFUSED),
        }
    }
}
