//! Migration 7: reasons become data. Adds a `reason` column (a [`Reason`] as JSON) to the
//! ledger, the outbox and the event table, and converts the rows older versions wrote, whose
//! reasons were English sentences (`ledger.why`, `outbox.last_error`, an event's `detail`).
//! Migration 9 does the same for a failed forward's ledger `detail` ([`NotSent`]), which
//! older versions recorded only as a sentence; migration 10 for the events of a server that
//! only lets delega copy and of a digest or daily list not sent, migration 11 for an
//! account's refusals that wait for a person (`attention` events): both read by
//! [`Reason::parse_legacy_event`].
//!
//! This is the only place those sentences are ever read back; from here on the digest and
//! the CLI put the stored reason into words. A sentence that is not one of delega's (a
//! server's refusal) is left as it is, with no reason.

use rusqlite::{Transaction, params};

use crate::reason::{HandKept, Kept, Malformed, NotSent, Reason};

/// The schema change; [`convert`] runs right after it, in the same transaction.
pub(super) const MIGRATION: &str = "ALTER TABLE ledger ADD COLUMN reason TEXT;
    ALTER TABLE outbox ADD COLUMN reason TEXT;
    ALTER TABLE event ADD COLUMN reason TEXT;";

/// Migration 9: no schema change; [`convert_not_sent`] runs in its place.
pub(super) const NOT_SENT_MIGRATION: &str =
    "-- 9: a failed forward's reason, from its ledger row's detail (reasons::convert_not_sent)";

/// Migration 10: no schema change; [`convert_events`] runs in its place.
pub(super) const EVENTS_MIGRATION: &str =
    "-- 10: a server's and a digest's event reasons, from their detail (reasons::convert_events)";

/// Migration 11: no schema change; [`convert_attention`] runs in its place.
pub(super) const ATTENTION_MIGRATION: &str =
    "-- 11: an account's refusals, from their detail (reasons::convert_attention)";

/// Migration 12: no schema change; [`convert_login`] runs in its place.
pub(super) const LOGIN_MIGRATION: &str =
    "-- 12: a refused login's user name, from migration 11's reasons (reasons::convert_login)";

/// The fixed parts of a malformed message's old `why`, around its [`Malformed`] reason.
const MALFORMED_WHY: (&str, &str) = ("malformed message (", "): kept in the Inbox");

/// The separator between an old hand-delegation event's subject and its reason.
const HAND_EVENT: &str = "\": moved into ";

/// Converts the rows written before migration 7.
pub(super) fn convert(tx: &Transaction<'_>) -> anyhow::Result<()> {
    let mut set = tx.prepare("UPDATE ledger SET reason = ?2 WHERE id = ?1")?;
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT id, why FROM ledger")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, why) in rows {
        if let Some(reason) = ledger_reason(&why) {
            set.execute(params![id, reason.to_json()])?;
        }
    }
    let mut set = tx.prepare("UPDATE outbox SET reason = ?2 WHERE id = ?1")?;
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT id, last_error FROM outbox WHERE last_error IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, error) in rows {
        if let Some(why) = NotSent::parse_legacy(&error) {
            set.execute(params![id, Reason::NotSent(why).to_json()])?;
        }
    }
    let mut set = tx.prepare("UPDATE event SET detail = ?2, reason = ?3 WHERE id = ?1")?;
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT id, detail FROM event WHERE kind = 'delegation'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, detail) in rows {
        if let Some(at) = detail.find(HAND_EVENT)
            && let Some(hand) = HandKept::parse_legacy(&detail[at + 3..])
        {
            let subject = &detail[..=at];
            set.execute(params![id, subject, Reason::HandKept(hand).to_json()])?;
        }
    }
    Ok(())
}

/// Converts the ledger rows of forwards given up, or refused with no error on record, before
/// their reason was stored as data (`delivery::give_up` writes it since): the `detail` is
/// the English sentence the digest would otherwise quote untranslated. A row that already
/// has a reason, or whose detail is a server's words, is left as it is.
pub(super) fn convert_not_sent(tx: &Transaction<'_>) -> anyhow::Result<()> {
    let mut set = tx.prepare("UPDATE ledger SET reason = ?2 WHERE id = ?1")?;
    let rows: Vec<(i64, String)> = tx
        .prepare(
            "SELECT id, detail FROM ledger WHERE status = 'failed' AND action GLOB 'forward:*'
                AND reason IS NULL AND detail IS NOT NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, detail) in rows {
        if let Some(why) = NotSent::parse_legacy(&detail) {
            set.execute(params![id, Reason::NotSent(why).to_json()])?;
        }
    }
    Ok(())
}

/// Converts the events older versions recorded as English sentences of delega's own: a
/// server that only lets delega copy (`server`), a digest refused or a daily list not sent
/// (`digest`). The reason becomes data and the detail empty, as they are recorded since; the
/// server's words stay as they came, inside the reason. Any other detail is left alone.
pub(super) fn convert_events(tx: &Transaction<'_>) -> anyhow::Result<()> {
    convert_event_kinds(tx, &["server", "digest"])
}

/// Converts the refusals older versions recorded as English sentences in `attention` events
/// (a folder the server refused to create, a command it refused): the server's answer stays
/// as it came, inside the reason. A certificate's failure is left as its words.
pub(super) fn convert_attention(tx: &Transaction<'_>) -> anyhow::Result<()> {
    convert_event_kinds(tx, &["attention"])
}

/// Turns the login refusals migration 11 stored as a `Refused` with delega's sentence as its
/// context into a `LoginRefused`, the user name kept as data.
pub(super) fn convert_login(tx: &Transaction<'_>) -> anyhow::Result<()> {
    let mut set = tx.prepare("UPDATE event SET reason = ?2 WHERE id = ?1")?;
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT id, reason FROM event WHERE kind = 'attention' AND reason IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, stored) in rows {
        if let Some(Reason::Attention(attention)) = Reason::from_json(&stored) {
            let typed = attention.clone().typed();
            if typed != attention {
                set.execute(params![id, Reason::Attention(typed).to_json()])?;
            }
        }
    }
    Ok(())
}

fn convert_event_kinds(tx: &Transaction<'_>, kinds: &[&str]) -> anyhow::Result<()> {
    let mut set = tx.prepare("UPDATE event SET detail = '', reason = ?2 WHERE id = ?1")?;
    let mut select =
        tx.prepare("SELECT id, detail FROM event WHERE kind = ?1 AND reason IS NULL")?;
    for kind in kinds {
        let rows: Vec<(i64, String)> = select
            .query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, detail) in rows {
            if let Some(reason) = Reason::parse_legacy_event(kind, &detail) {
                set.execute(params![id, reason.to_json()])?;
            }
        }
    }
    Ok(())
}

/// The reason an old ledger `why` states, if it is one of delega's.
fn ledger_reason(why: &str) -> Option<Reason> {
    if let Some(hand) = HandKept::parse_legacy(why) {
        return Some(Reason::HandKept(hand));
    }
    if let Some(kept) = Kept::parse_legacy(why) {
        return Some(Reason::Kept(kept));
    }
    let malformed = why
        .strip_prefix(MALFORMED_WHY.0)?
        .strip_suffix(MALFORMED_WHY.1)?;
    Malformed::parse_legacy(malformed).map(Reason::Malformed)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::schema::{MIGRATIONS, migrate};
    use crate::reason::{
        Attention, AutoEvidence, HandKept, Kept, Malformed, NotSent, Reason, Refusal, SendFailure,
    };

    /// A database as an older delega left it: every migration before `migration` applied.
    fn just_before(migration: &str) -> Connection {
        let conn = Connection::open_in_memory().expect("db");
        let before = MIGRATIONS
            .iter()
            .position(|m| *m == migration)
            .expect("the migration is listed");
        for sql in &MIGRATIONS[..before] {
            conn.execute_batch(sql).expect("an older migration");
        }
        conn.pragma_update(None, "user_version", before)
            .expect("version");
        conn
    }

    /// The database has been brought to the latest schema.
    fn assert_at_latest(conn: &Connection) {
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, MIGRATIONS.len());
    }

    /// A database as delega left it before reasons were data (schema 6), holding the
    /// sentences it used to write; then opened by this delega.
    #[test]
    fn migration_7_turns_old_sentences_into_reasons_and_leaves_the_rest_alone() {
        let mut conn = just_before(super::MIGRATION);
        let kept = Kept {
            rule: Some("quotes".into()),
            refusal: Refusal::Machine(AutoEvidence::AutoSubmitted("auto-replied".into())),
        };
        let hand = HandKept {
            folder: "Delegated".into(),
            refusal: None,
        };
        let whys = [
            // The exact sentences older versions wrote.
            "kept in the Inbox: rule quotes would delegate it, but it was sent by a machine \
             (Auto-Submitted: auto-replied)",
            "moved into Delegated by hand, but no rule or default_assistant names an assistant",
            "malformed message (no From address): kept in the Inbox",
            "subject contains \"invoice\"",
        ];
        for (i, why) in whys.iter().enumerate() {
            conn.execute(
                "INSERT INTO ledger (id, account, mailbox, uidvalidity, uid, from_addr, subject,
                    excerpt, category, why, observe, action, status, decided_at)
                 VALUES (?1, 'g', 'INBOX', 1, ?1, 'a@x.example', 's', '', 'strategic', ?2, 0,
                    'keep', 'done', 0)",
                rusqlite::params![i as i64 + 1, why],
            )
            .expect("old ledger row");
        }
        for (id, error) in [
            (1, "the message left the Inbox before it was forwarded"),
            (2, "550 5.1.1 no such user"),
        ] {
            conn.execute(
                "INSERT INTO outbox (id, ledger_id, account, forward_id, assistant, address,
                    state, next_attempt_at, last_error, created_at)
                 VALUES (?1, ?1, 'g', 'g.' || ?1, 'marta', 'm@x.example', 'failed', 0, ?2, 0)",
                rusqlite::params![id, error],
            )
            .expect("old outbox row");
        }
        conn.execute_batch(
            "INSERT INTO event (account, at, kind, detail) VALUES
                ('g', 1, 'delegation', '\"Hi\": moved into Delegated by hand, but no rule or \
                    default_assistant names an assistant'),
                ('g', 2, 'imap', 'connection refused');",
        )
        .expect("old events");

        migrate(&mut conn).expect("migrated");

        let reason = |sql: &str| -> Vec<Option<Reason>> {
            let mut stmt = conn.prepare(sql).expect("query");
            stmt.query_map([], |r| r.get::<_, Option<String>>(0))
                .expect("rows")
                .map(|r| r.expect("row").as_deref().and_then(Reason::from_json))
                .collect()
        };
        assert_eq!(
            reason("SELECT reason FROM ledger ORDER BY id"),
            [
                Some(Reason::Kept(kept)),
                Some(Reason::HandKept(hand.clone())),
                Some(Reason::Malformed(Malformed::NoFrom)),
                None,
            ]
        );
        assert_eq!(
            reason("SELECT reason FROM outbox ORDER BY id"),
            [Some(Reason::NotSent(NotSent::LeftInbox)), None]
        );
        assert_eq!(
            reason("SELECT reason FROM event ORDER BY id"),
            [Some(Reason::HandKept(hand)), None]
        );
        let details: Vec<String> = conn
            .prepare("SELECT detail FROM event ORDER BY id")
            .expect("query")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect();
        assert_eq!(details, ["\"Hi\"", "connection refused"]);
    }

    /// A database as delega left it before a given-up forward's reason was stored on its
    /// ledger row (schema 8): the failed forwards' details are the exact sentences it wrote.
    #[test]
    fn migration_9_turns_a_failed_forwards_detail_into_its_reason() {
        let mut conn = just_before(super::NOT_SENT_MIGRATION);
        let delegated = Reason::NotSent(NotSent::LeftInbox).to_json();
        let rows: [(&str, &str, Option<&str>, Option<&str>); 8] = [
            // The exact sentences older versions wrote on a failed forward's row.
            (
                "forward:Delegated",
                "failed",
                Some("the server renumbered the mailbox"),
                None,
            ),
            (
                "forward:Delegated",
                "failed",
                Some("the message left the Inbox before it was forwarded"),
                None,
            ),
            ("forward:Delegated", "failed", Some("forward refused"), None),
            (
                "forward:Delegated",
                "failed",
                Some("assistant luca of a planned forward is no longer in the config"),
                None,
            ),
            // A server's words, a reason already stored, a row that is no forward, a
            // forward that went out: left alone.
            (
                "forward:Delegated",
                "failed",
                Some("550 5.1.1 no such user"),
                None,
            ),
            (
                "forward:Delegated",
                "failed",
                Some("the server renumbered the mailbox"),
                Some(&delegated),
            ),
            (
                "file:Noise",
                "failed",
                Some("the server renumbered the mailbox"),
                None,
            ),
            ("forward:Delegated", "done", None, None),
        ];
        for (i, (action, status, detail, reason)) in rows.iter().enumerate() {
            conn.execute(
                "INSERT INTO ledger (id, account, mailbox, uidvalidity, uid, from_addr, subject,
                    excerpt, category, why, observe, action, status, detail, decided_at, reason)
                 VALUES (?1, 'g', 'INBOX', 1, ?1, 'a@x.example', 's', '', 'delegable', 'r', 0,
                    ?2, ?3, ?4, 0, ?5)",
                rusqlite::params![i as i64 + 1, action, status, detail, reason],
            )
            .expect("old ledger row");
        }

        migrate(&mut conn).expect("migrated");

        let reasons: Vec<Option<Reason>> = conn
            .prepare("SELECT reason FROM ledger ORDER BY id")
            .expect("query")
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .expect("rows")
            .map(|r| r.expect("row").as_deref().and_then(Reason::from_json))
            .collect();
        let not_sent = |why| Some(Reason::NotSent(why));
        assert_eq!(
            reasons,
            [
                not_sent(NotSent::Renumbered),
                not_sent(NotSent::LeftInbox),
                not_sent(NotSent::Refused),
                not_sent(NotSent::AssistantGone("luca".into())),
                None,
                not_sent(NotSent::LeftInbox),
                None,
                None,
            ]
        );
        assert_at_latest(&conn);
    }

    /// A database as delega left it before its server and digest events kept their reason
    /// as data (schema 9), holding the exact sentences it wrote; then opened by this delega.
    #[test]
    fn migration_10_turns_old_event_sentences_into_reasons_and_leaves_the_rest_alone() {
        let mut conn = just_before(super::EVENTS_MIGRATION);
        let events = [
            // The exact sentences older versions wrote.
            (
                "server",
                "it has neither MOVE nor UIDPLUS: delega copies messages to their folders and \
                 leaves the originals in the Inbox",
            ),
            ("digest", "refused: 554 5.7.1 message rejected"),
            (
                "digest",
                "daily list for Marta: the boss: temporary failure: 421 4.3.2 busy",
            ),
            ("digest", "daily list for Luca: refused: 550 no such user"),
            (
                "digest",
                "daily list for Sara: no reply after the message was sent: timed out",
            ),
            (
                "digest",
                "daily list for Sara: not sent: delega is stopping",
            ),
            // A server's words, an error of delega's own, another kind: left alone.
            ("digest", "Connection refused (os error 111)"),
            ("digest", "cannot prepare the digest: disk full"),
            ("server", "something else"),
            ("imap", "refused: 554 5.7.1 message rejected"),
        ];
        for (i, (kind, detail)) in events.iter().enumerate() {
            conn.execute(
                "INSERT INTO event (id, account, at, kind, detail) VALUES (?1, 'g', ?1, ?2, ?3)",
                rusqlite::params![i as i64 + 1, kind, detail],
            )
            .expect("old event");
        }

        migrate(&mut conn).expect("migrated");

        let rows: Vec<(String, Option<Reason>)> = conn
            .prepare("SELECT detail, reason FROM event ORDER BY id")
            .expect("query")
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?)))
            .expect("rows")
            .map(|r| {
                let (detail, reason) = r.expect("row");
                (detail, reason.as_deref().and_then(Reason::from_json))
            })
            .collect();
        let list = |name: &str, failure| {
            Some(Reason::ListNotSent {
                assistant: name.into(),
                failure,
            })
        };
        let reasons: Vec<Option<Reason>> = rows.iter().map(|(_, r)| r.clone()).collect();
        assert_eq!(
            reasons,
            [
                Some(Reason::CopyOnly),
                Some(Reason::DigestNotSent(SendFailure::Refused(
                    "554 5.7.1 message rejected".into()
                ))),
                list(
                    "Marta: the boss",
                    SendFailure::Temporary("421 4.3.2 busy".into())
                ),
                list("Luca", SendFailure::Refused("550 no such user".into())),
                list("Sara", SendFailure::NoReply("timed out".into())),
                list("Sara", SendFailure::Stopped),
                None,
                None,
                None,
                None,
            ]
        );
        for ((detail, reason), (_, old)) in rows.iter().zip(events) {
            match reason {
                // The detail is now empty, and the English form (`delega status`, the log)
                // says what the old sentence said.
                Some(reason) => {
                    assert_eq!(detail, "");
                    assert_eq!(reason.to_string(), old);
                }
                None => assert_eq!(detail, old),
            }
        }
        assert_at_latest(&conn);
    }

    /// A database as delega left it before an account's refusals kept the server's answer
    /// as data (schema 10), holding the exact sentences it wrote; then opened by this delega.
    #[test]
    fn migration_11_turns_old_refusals_into_reasons_with_the_servers_answer() {
        let mut conn = just_before(super::ATTENTION_MIGRATION);
        let tls = "the certificate of localhost:993 is self-signed, and this machine does not \
                   trust it: add it to ca_file";
        let events = [
            // The exact sentences older versions wrote.
            (
                "attention",
                "the server refused to create the folder Bad.Noise: Permission denied: \
                 invalid name; check folders.noise and folders.delegated (`delega doctor` \
                 shows where the server keeps its folders)",
            ),
            (
                "attention",
                "login as giulia failed (check username and password): the server answered \
                 \"[AUTHENTICATIONFAILED] Authentication \"failed\".\"",
            ),
            (
                "attention",
                "UID FETCH: the server answered \"[SERVERBUG] Internal error\"",
            ),
            // A certificate's words, another kind: left alone.
            ("attention", tls),
            ("imap", "UID FETCH: the server answered \"BYE\""),
        ];
        for (i, (kind, detail)) in events.iter().enumerate() {
            conn.execute(
                "INSERT INTO event (id, account, at, kind, detail) VALUES (?1, 'g', ?1, ?2, ?3)",
                rusqlite::params![i as i64 + 1, kind, detail],
            )
            .expect("old event");
        }

        migrate(&mut conn).expect("migrated");

        let rows: Vec<(String, Option<Reason>)> = conn
            .prepare("SELECT detail, reason FROM event ORDER BY id")
            .expect("query")
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?)))
            .expect("rows")
            .map(|r| {
                let (detail, reason) = r.expect("row");
                (detail, reason.as_deref().and_then(Reason::from_json))
            })
            .collect();
        let reasons: Vec<Option<Reason>> = rows.iter().map(|(_, r)| r.clone()).collect();
        assert_eq!(
            reasons,
            [
                Some(Reason::Attention(Attention::FolderRefused {
                    folder: "Bad.Noise".into(),
                    answer: "Permission denied: invalid name".into(),
                })),
                Some(Reason::Attention(Attention::LoginRefused {
                    username: "giulia".into(),
                    answer: "[AUTHENTICATIONFAILED] Authentication \"failed\".".into(),
                })),
                Some(Reason::Attention(Attention::Refused {
                    doing: "UID FETCH".into(),
                    answer: "[SERVERBUG] Internal error".into(),
                })),
                None,
                None,
            ]
        );
        for ((detail, reason), (_, old)) in rows.iter().zip(events) {
            match reason {
                // The English form (`delega status`, the log) says what the old sentence said.
                Some(reason) => {
                    assert_eq!(detail, "");
                    assert_eq!(reason.to_string(), old);
                }
                None => assert_eq!(detail, old),
            }
        }
        assert_at_latest(&conn);
    }

    /// A database migrated to schema 11, where a refused login's reason held delega's
    /// sentence as its context: migration 12 keeps the user name as data instead.
    #[test]
    fn migration_12_turns_a_refused_logins_sentence_into_its_user_name() {
        let mut conn = just_before(super::LOGIN_MIGRATION);
        // As migration 11 stored them (Attention::Refused's JSON).
        let login = concat!(
            r#"{"attention":{"refused":{"doing":"login as g@x.example failed "#,
            r#"(check username and password)","answer":"[AUTHENTICATIONFAILED] no"}}}"#
        );
        let fetch =
            r#"{"attention":{"refused":{"doing":"UID FETCH","answer":"[SERVERBUG] oops"}}}"#;
        for (i, reason) in [login, fetch].iter().enumerate() {
            conn.execute(
                "INSERT INTO event (id, account, at, kind, detail, reason)
                 VALUES (?1, 'g', ?1, 'attention', '', ?2)",
                rusqlite::params![i as i64 + 1, reason],
            )
            .expect("event at schema 11");
        }

        migrate(&mut conn).expect("migrated");

        let reasons: Vec<Option<Reason>> = conn
            .prepare("SELECT reason FROM event ORDER BY id")
            .expect("query")
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .expect("rows")
            .map(|r| r.expect("row").as_deref().and_then(Reason::from_json))
            .collect();
        assert_eq!(
            reasons,
            [
                Some(Reason::Attention(Attention::LoginRefused {
                    username: "g@x.example".into(),
                    answer: "[AUTHENTICATIONFAILED] no".into(),
                })),
                Some(Reason::Attention(Attention::Refused {
                    doing: "UID FETCH".into(),
                    answer: "[SERVERBUG] oops".into(),
                })),
            ]
        );
    }
}
