//! The schema: numbered migrations, run in order when the database is opened.
//!
//! `PRAGMA user_version` says how many have run; a database from a newer delega is refused
//! rather than misread. Each table's queries live beside it (ledger, cursor, events, outbox,
//! tasks, corrections, undo); only the `CREATE`s and the conversions of old rows live here.

use anyhow::Context;
use rusqlite::Connection;

use super::{reasons, tasks};

/// Schema migrations; `PRAGMA user_version` says how many have run. Append, never edit.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the first release.
    "CREATE TABLE cursor (
        account     TEXT NOT NULL,
        mailbox     TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        last_uid    INTEGER NOT NULL,
        since       INTEGER NOT NULL,
        PRIMARY KEY (account, mailbox)
    );
    CREATE TABLE ledger (
        id          INTEGER PRIMARY KEY,
        account     TEXT NOT NULL,
        mailbox     TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid         INTEGER NOT NULL,
        message_id  TEXT,
        date        INTEGER,
        from_addr   TEXT NOT NULL,
        from_name   TEXT,
        subject     TEXT NOT NULL,
        excerpt     TEXT NOT NULL,
        list_id     TEXT,
        category    TEXT NOT NULL,
        rule        TEXT,
        why         TEXT NOT NULL,
        observe     INTEGER NOT NULL,
        assistant   TEXT,
        action      TEXT NOT NULL,
        status      TEXT NOT NULL,
        detail      TEXT,
        decided_at  INTEGER NOT NULL,
        done_at     INTEGER,
        UNIQUE (account, mailbox, uidvalidity, uid)
    );
    CREATE INDEX ledger_message_id ON ledger (account, message_id);
    CREATE INDEX ledger_decided ON ledger (account, decided_at);
    CREATE TABLE event (
        id      INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        at      INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        detail  TEXT NOT NULL
    );
    CREATE INDEX event_account_at ON event (account, at);
    CREATE TABLE account_status (
        account        TEXT PRIMARY KEY,
        last_check_at  INTEGER,
        last_error     TEXT,
        last_error_at  INTEGER
    );
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        ledger_id       INTEGER NOT NULL UNIQUE REFERENCES ledger (id),
        account         TEXT NOT NULL,
        forward_id      TEXT NOT NULL UNIQUE,
        assistant       TEXT NOT NULL,
        address         TEXT NOT NULL,
        state           TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER
    );
    CREATE INDEX outbox_account_state ON outbox (account, state);
    CREATE TABLE digest (
        account      TEXT NOT NULL,
        day          TEXT NOT NULL,
        period_start INTEGER NOT NULL,
        period_end   INTEGER NOT NULL,
        sent_at      INTEGER NOT NULL,
        PRIMARY KEY (account, day)
    );
    CREATE TABLE correction (
        id          INTEGER PRIMARY KEY,
        account     TEXT NOT NULL,
        mailbox     TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid         INTEGER NOT NULL,
        message_id  TEXT,
        from_addr   TEXT NOT NULL,
        list_id     TEXT,
        subject     TEXT NOT NULL,
        ledger_id   INTEGER REFERENCES ledger (id),
        category    TEXT,
        rule        TEXT,
        at          INTEGER NOT NULL,
        UNIQUE (account, mailbox, uidvalidity, uid)
    );
    CREATE INDEX correction_account ON correction (account, at);",
    // 2: the hourly forward limit counts recent sends without reading the whole outbox.
    "CREATE INDEX outbox_account_sent ON outbox (account, sent_at);",
    // 3: a send that may have reached the assistant is a state (`in_doubt` while unsettled)
    // and a count (`interrupted`), no longer an "unconfirmed" note. A row left `sending` by
    // an older delega may or may not have gone: it is sent again, counted as interrupted.
    "ALTER TABLE outbox ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
    UPDATE outbox SET interrupted = 1, last_error = NULL
        WHERE state = 'sent' AND last_error LIKE 'unconfirmed%';
    UPDATE outbox SET state = 'pending', interrupted = 1, next_attempt_at = 0
        WHERE state = 'sending';",
    // 4: a Date header that names no real time is kept as written, for the digest to show.
    "ALTER TABLE ledger ADD COLUMN date_written TEXT;",
    // 5: `delega undo`: what it moved back (never a correction, never filed again) and
    // what it could not.
    "CREATE TABLE undo (
        id         INTEGER PRIMARY KEY,
        account    TEXT NOT NULL,
        ledger_id  INTEGER NOT NULL REFERENCES ledger (id),
        message_id TEXT,
        outcome    TEXT NOT NULL,
        at         INTEGER NOT NULL
    );
    CREATE INDEX undo_ledger ON undo (ledger_id);
    CREATE INDEX undo_message_id ON undo (account, message_id);",
    // 6: each forward is a task (`state/tasks.rs`), every forward already made included.
    tasks::MIGRATION,
    // 7: reasons are data (`crate::reason`), each in its own column; the English sentences
    // older versions stored are turned into them by `reasons::convert` right after.
    reasons::MIGRATION,
    // 8: a task's due time is stored when it is made, not worked out from the config at
    // each reading (`state/tasks.rs`).
    tasks::DUE_MIGRATION,
    // 9: a forward given up (or refused with no error on record) keeps its reason as data on
    // its ledger row; the English detail older versions stored there is turned into it.
    reasons::NOT_SENT_MIGRATION,
    // 10: the events of a server that only lets delega copy, and of a digest or daily list
    // not sent, keep their reason as data; the English details older versions stored are
    // turned into it.
    reasons::EVENTS_MIGRATION,
    // 11: an account's refusals (a folder the server will not create, a command it refuses)
    // keep the server's answer as data in a reason; the English details are turned into it.
    reasons::ATTENTION_MIGRATION,
    // 12: a refused login keeps its user name as data; migration 11 stored it inside a
    // sentence of delega's.
    reasons::LOGIN_MIGRATION,
];

/// Sets the connection's pragmas and runs the migrations it has not run yet.
pub(super) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // IMMEDIATE takes the write lock before reading the version, so two processes (or
    // account tasks) opening a new database migrate it once, one after the other.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        anyhow::bail!(
            "the database was written by a newer delega (schema {version}, this one knows {}): upgrade delega",
            MIGRATIONS.len()
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)
            .with_context(|| format!("migration {}", i + 1))?;
        // The migrations SQL alone cannot do: reading old sentences back into reasons.
        if *sql == reasons::MIGRATION {
            reasons::convert(&tx).with_context(|| format!("migration {}", i + 1))?;
        }
        if *sql == reasons::NOT_SENT_MIGRATION {
            reasons::convert_not_sent(&tx).with_context(|| format!("migration {}", i + 1))?;
        }
        if *sql == reasons::EVENTS_MIGRATION {
            reasons::convert_events(&tx).with_context(|| format!("migration {}", i + 1))?;
        }
        if *sql == reasons::ATTENTION_MIGRATION {
            reasons::convert_attention(&tx).with_context(|| format!("migration {}", i + 1))?;
        }
        if *sql == reasons::LOGIN_MIGRATION {
            reasons::convert_login(&tx).with_context(|| format!("migration {}", i + 1))?;
        }
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()?;
    Ok(())
}
