//! Corrections: the entrepreneur moved a message delega had filed (or kept) somewhere else.
//!
//! Each is recorded once — which message, what delega had decided and by which rule, and
//! where the entrepreneur put it — so that delega never files it again and `suggest` can
//! learn from the pattern. Only explicit moves between delega's folders and the Inbox are
//! recorded; reading, deleting or junk actions never are.

use rusqlite::params;

use super::State;
use crate::classify::Category;

/// One move by the entrepreneur against delega's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    /// The mailbox the entrepreneur put the message in.
    pub mailbox: String,
    /// Its UID there.
    pub uid: u32,
    /// Its Message-ID.
    pub message_id: Option<String>,
    /// The sender's address.
    pub from_addr: String,
    /// Its List-Id, if it came from a list.
    pub list_id: Option<String>,
    /// Its subject.
    pub subject: String,
    /// The ledger row of delega's decision, when known.
    pub ledger_id: Option<i64>,
    /// What delega had decided.
    pub category: Option<Category>,
    /// The rule that had decided.
    pub rule: Option<String>,
    /// When the move was noticed (Unix time).
    pub at: i64,
}

impl State {
    /// Records a correction; returns false when this arrival was already recorded.
    pub fn record_correction(
        &self,
        account: &str,
        uidvalidity: u32,
        c: &Correction,
    ) -> anyhow::Result<bool> {
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO correction (account, mailbox, uidvalidity, uid, message_id,
                from_addr, list_id, subject, ledger_id, category, rule, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                account,
                c.mailbox,
                uidvalidity,
                c.uid,
                c.message_id,
                c.from_addr,
                c.list_id,
                c.subject,
                c.ledger_id,
                c.category.map(Category::as_str),
                c.rule,
                c.at
            ],
        )?;
        Ok(inserted == 1)
    }

    /// Every correction of the account, oldest first.
    pub fn corrections(&self, account: &str) -> anyhow::Result<Vec<Correction>> {
        let mut stmt = self.conn.prepare(
            "SELECT mailbox, uid, message_id, from_addr, list_id, subject, ledger_id, category,
                rule, at
             FROM correction WHERE account = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![account], |r| {
            let category: Option<String> = r.get(7)?;
            Ok(Correction {
                mailbox: r.get(0)?,
                uid: r.get(1)?,
                message_id: r.get(2)?,
                from_addr: r.get(3)?,
                list_id: r.get(4)?,
                subject: r.get(5)?,
                ledger_id: r.get(6)?,
                category: category.and_then(|c| c.parse().ok()),
                rule: r.get(8)?,
                at: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_correction_is_recorded_once_per_arrival() {
        let s = State::in_memory().expect("db");
        let c = Correction {
            mailbox: "INBOX".into(),
            uid: 40,
            message_id: Some("m@x".into()),
            from_addr: "news@shop.example".into(),
            list_id: None,
            subject: "Offerte".into(),
            ledger_id: None,
            category: Some(Category::Noise),
            rule: Some("newsletters".into()),
            at: 5,
        };
        assert!(s.record_correction("g", 1, &c).expect("first"));
        assert!(!s.record_correction("g", 1, &c).expect("again"));
        assert_eq!(s.corrections("g").expect("list"), [c]);
        assert!(s.corrections("other").expect("list").is_empty());
    }
}
