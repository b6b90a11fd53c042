//! Loop and storm guards: when a delegable decision must not become a forward.
//!
//! A forward that answers a forward, an auto-reply bounced back and forth, or mail already
//! forwarded once would turn delega into a mail loop. This pure check runs after
//! classification; a guarded message becomes strategic (it stays in the Inbox) with the
//! reason, so the entrepreneur sees it in the digest.

use std::str::FromStr;

use crate::classify::{Category, Decision};
use crate::config::Account;
use crate::message::Message;

/// The header delega puts on every message it sends, carrying the forward id.
pub const FORWARD_HEADER: &str = "X-Delega-Forward";

/// The header on delega's digests and daily lists.
pub const DIGEST_HEADER: &str = "X-Delega-Digest";

/// delega's own digest, arrived in the watched Inbox: it is for the entrepreneur to read,
/// so no rule may file it (most rules would take it for an automatic mail). `from` is
/// delega's sender address (`smtp.from`).
pub fn own_digest(msg: &Message<'_>, from: &str) -> Option<Decision> {
    msg.has_header(DIGEST_HEADER).then_some(())?;
    let sender = msg.sender()?;
    let from = lettre::message::Mailbox::from_str(from).ok()?;
    sender
        .address
        .eq_ignore_ascii_case(from.email.as_ref())
        .then(|| Decision {
            category: Category::Strategic,
            rule: None,
            assistant: None,
            instructions: None,
            observe: false,
            why: "delega's own digest: left in the Inbox for you".to_string(),
        })
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::account;

    fn delegable() -> Decision {
        Decision {
            category: Category::Delegable,
            rule: Some("invoices".into()),
            assistant: Some("marta".into()),
            instructions: Some("Pay it.".into()),
            observe: false,
            why: "subject contains \"invoice\"".into(),
        }
    }

    fn guarded(raw: &str, history: History) -> Decision {
        guard(
            delegable(),
            &Message::parse(raw.as_bytes()),
            &account(),
            history,
        )
    }

    #[test]
    fn ordinary_mail_is_forwarded() {
        let d = guarded(
            "From: a@supplier.example\r\nSubject: invoice\r\n\r\n",
            History::default(),
        );
        assert_eq!(d, delegable());
    }

    #[test]
    fn loops_and_machines_are_kept_in_the_inbox_with_the_reason() {
        let cases = [
            (
                "From: a@x.example\r\nX-Delega-Forward: g.1.2\r\n\r\n",
                "delega sent this message itself",
            ),
            (
                "From: Marta <MARTA@office.example>\r\n\r\n",
                "comes from the assistant Marta Verdi",
            ),
            (
                "From: a@x.example\r\nAuto-Submitted: auto-replied\r\n\r\n",
                "sent by a machine",
            ),
            (
                "From: MAILER-DAEMON@mx.example\r\n\r\n",
                "sent by a machine",
            ),
        ];
        for (raw, reason) in cases {
            let d = guarded(raw, History::default());
            assert_eq!(d.category, Category::Strategic, "{raw}");
            assert_eq!(d.assistant, None);
            assert!(d.why.contains(reason), "{raw}: {}", d.why);
            assert!(
                d.why.contains("rule invoices would delegate it"),
                "{}",
                d.why
            );
        }
    }

    #[test]
    fn too_many_hops_or_an_earlier_forward_stop_it() {
        let hops: String = (0..26)
            .map(|i| format!("Received: from h{i}.example\r\n"))
            .collect();
        let d = guarded(
            &format!("{hops}From: a@x.example\r\n\r\n"),
            History::default(),
        );
        assert!(d.why.contains("crossed 26 mail servers"), "{}", d.why);
        let again = History {
            already_forwarded: true,
        };
        let d = guarded("From: a@x.example\r\n\r\n", again);
        assert!(d.why.contains("already forwarded"), "{}", d.why);
    }

    #[test]
    fn delegas_own_digest_is_recognised_only_from_delegas_address() {
        let digest = "From: Giulia's inbox <delega@studio.example>\r\nX-Delega-Digest: d.1\r\n\r\n";
        let d = own_digest(
            &Message::parse(digest.as_bytes()),
            "Giulia's inbox <delega@studio.example>",
        )
        .expect("recognised");
        assert_eq!(d.category, Category::Strategic);
        let forged = "From: spam@elsewhere.example\r\nX-Delega-Digest: d.1\r\n\r\n";
        assert!(own_digest(&Message::parse(forged.as_bytes()), "delega@studio.example").is_none());
    }

    #[test]
    fn other_categories_pass_untouched() {
        let noise = Decision {
            category: Category::Noise,
            ..delegable()
        };
        let msg = Message::parse(b"From: a@x.example\r\nAuto-Submitted: auto-replied\r\n\r\n");
        assert_eq!(
            guard(noise.clone(), &msg, &account(), History::default()),
            noise
        );
    }
}
