//! Loop and storm guards: when a delegable decision must not become a forward.
//!
//! A forward that answers a forward, an auto-reply bounced back and forth, or mail already
//! forwarded once would turn delega into a mail loop. This pure check runs after
//! classification; a guarded message becomes strategic (it stays in the Inbox) with the
//! reason, so the entrepreneur sees it in the digest.

use crate::classify::{Category, Decision};
use crate::config::Account;
use crate::message::Message;

/// The header delega puts on every message it sends, carrying the forward id.
pub const FORWARD_HEADER: &str = "X-Delega-Forward";

/// What the ledger knows about a message, for the guard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    /// A message with the same Message-ID was already forwarded by this account.
    pub already_forwarded: bool,
}

/// Why a delegable message must not be forwarded, if it must not.
pub fn refuse_forward(msg: &Message<'_>, account: &Account, history: History) -> Option<String> {
    if let Some(id) = msg.header_values(FORWARD_HEADER).next() {
        return Some(format!(
            "delega sent this message itself (forward {})",
            id.trim()
        ));
    }
    if let Some(sender) = msg.sender()
        && let Some(a) = account
            .assistants
            .iter()
            .find(|a| a.address == sender.address)
    {
        return Some(format!(
            "it comes from the assistant {} ({}): never forwarded back",
            a.name, a.address
        ));
    }
    if let Some(why) = msg.auto_evidence() {
        return Some(format!("it was sent by a machine ({why})"));
    }
    let hops = msg.received_count();
    if hops > account.forward.max_received as usize {
        return Some(format!(
            "it crossed {hops} mail servers (more than {}): probably a mail loop",
            account.forward.max_received
        ));
    }
    if history.already_forwarded {
        return Some("a message with this Message-ID was already forwarded".to_string());
    }
    None
}

/// Applies the guard to a decision: a refused delegable decision becomes strategic.
pub fn guard(
    decision: Decision,
    msg: &Message<'_>,
    account: &Account,
    history: History,
) -> Decision {
    if decision.category != Category::Delegable {
        return decision;
    }
    match refuse_forward(msg, account, history) {
        None => decision,
        Some(reason) => Decision {
            category: Category::Strategic,
            assistant: None,
            instructions: None,
            why: format!(
                "kept in the Inbox: rule {} would delegate it, but {reason}",
                decision.rule.as_deref().unwrap_or("?")
            ),
            ..decision
        },
    }
}
