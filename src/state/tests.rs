//! Tests of the state database as a whole (migrations, ledger, cursor, events), and the
//! ledger row other modules' tests start from.

use super::schema::MIGRATIONS;
use super::*;
use crate::classify::Category;

pub(crate) fn entry(uid: u32, category: Category, action: Action) -> NewEntry {
    NewEntry {
        uid,
        message_id: Some(format!("m{uid}@x.example")),
        date: Some(1_700_000_000),
        date_written: None,
        from_addr: "a@x.example".into(),
        from_name: Some("A".into()),
        subject: format!("subject {uid}"),
        excerpt: "hello".into(),
        list_id: None,
        category,
        rule: Some("r".into()),
        why: "because".into(),
        reason: None,
        observe: false,
        assistant: None,
        action,
    }
}

#[test]
fn migrations_run_once_and_reopen_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/state.db");
    State::open(&path).expect("creates");
    let state = State::open(&path).expect("reopens");
    let version: usize = state
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, MIGRATIONS.len());
}

#[test]
fn a_newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.db");
    let conn = Connection::open(&path).expect("open");
    conn.pragma_update(None, "user_version", 999).expect("set");
    drop(conn);
    let err = State::open(&path).err().expect("refused");
    assert!(format!("{err:#}").contains("upgrade delega"));
}

#[test]
fn a_decision_with_nothing_to_do_is_recorded_done() {
    let mut s = State::in_memory().expect("db");
    s.record(
        "g",
        "INBOX",
        7,
        &[
            entry(1, Category::Delegable, Action::Nothing),
            entry(2, Category::Strategic, Action::Keep),
        ],
        &|_| None,
        100,
    )
    .expect("recorded");
    let pending: Vec<u32> = s
        .pending("g")
        .expect("pending")
        .iter()
        .map(|e| e.decision.uid)
        .collect();
    assert_eq!(pending, [2]);
    let rows = s.entries_between("g", 0, 1000).expect("rows");
    assert_eq!(rows[0].status, Status::Done);
}

#[test]
fn completing_sets_each_rows_own_status_and_detail() {
    let mut s = State::in_memory().expect("db");
    let entries: Vec<NewEntry> = (1..=5)
        .map(|uid| entry(uid, Category::Noise, Action::File("Noise".into())))
        .collect();
    let ids = s
        .record("g", "INBOX", 7, &entries, &|_| None, 100)
        .expect("recorded")
        .into_iter()
        .map(|r| r.id)
        .collect::<Vec<i64>>();
    s.complete(
        "g",
        &[
            (ids[0], Status::Done, None),
            (ids[1], Status::Failed, Some("550 refused".into())),
            (ids[2], Status::Done, None),
            (ids[3], Status::Failed, None),
        ],
        None,
        101,
    )
    .expect("completed");
    let rows = s.entries_between("g", 0, 1000).expect("rows");
    let got: Vec<(Status, Option<&str>)> = rows
        .iter()
        .map(|r| (r.status, r.detail.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Status::Done, None),
            (Status::Failed, Some("550 refused")),
            (Status::Done, None),
            (Status::Failed, None),
            (Status::Pending, None),
        ]
    );
}

#[test]
fn recorded_rows_are_pending_until_completed_with_the_cursor() {
    let mut s = State::in_memory().expect("db");
    let ids = s
        .record(
            "g",
            "INBOX",
            7,
            &[
                entry(10, Category::Noise, Action::File("Noise".into())),
                entry(11, Category::Strategic, Action::Keep),
            ],
            &|_| None,
            100,
        )
        .expect("recorded")
        .into_iter()
        .map(|r| r.id)
        .collect::<Vec<i64>>();
    assert_eq!(s.pending("g").expect("pending").len(), 2);
    assert_eq!(s.cursor("g", "INBOX").expect("cursor"), None);

    let cursor = Cursor {
        uidvalidity: 7,
        last_uid: 11,
        since: 50,
    };
    s.complete(
        "g",
        &[(ids[0], Status::Done, None), (ids[1], Status::Done, None)],
        Some(("INBOX", cursor)),
        101,
    )
    .expect("completed");
    assert!(s.pending("g").expect("pending").is_empty());
    assert_eq!(s.cursor("g", "INBOX").expect("cursor"), Some(cursor));

    let recorded = |uidvalidity, uids: &[u32]| {
        let mut found: Vec<u32> = s
            .recorded_uids("g", "INBOX", uidvalidity, uids)
            .expect("query")
            .into_iter()
            .collect();
        found.sort_unstable();
        found
    };
    assert_eq!(recorded(7, &[9, 10, 11, 12]), [10, 11]);
    assert_eq!(recorded(7, &[10, 12]), [10], "only the UIDs asked about");
    assert!(recorded(8, &[10, 11]).is_empty(), "another numbering");
    assert!(recorded(7, &[]).is_empty());
    let row = s
        .entry_by_uid("g", "INBOX", 7, 10)
        .expect("query")
        .expect("row");
    assert_eq!(row.decision.action, Action::File("Noise".into()));
    assert_eq!(row.status, Status::Done);
    let by_id = s
        .entry_by_message_id("g", "m11@x.example")
        .expect("query")
        .expect("row");
    assert_eq!(by_id.decision.category, Category::Strategic);
    assert_eq!(s.entries_between("g", 100, 101).expect("range").len(), 2);
    let counts = s.decided_counts("g", 100, 101).expect("counts");
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [(Category::Strategic, 1), (Category::Noise, 1)]
    );
    assert!(s.decided_counts("g", 101, 200).expect("counts").is_empty());
    assert!(
        s.entries_between("other", 0, 1000)
            .expect("range")
            .is_empty()
    );
}

#[test]
fn the_same_uid_cannot_be_recorded_twice() {
    let mut s = State::in_memory().expect("db");
    let e = entry(10, Category::Noise, Action::File("Noise".into()));
    s.record("g", "INBOX", 7, std::slice::from_ref(&e), &|_| None, 1)
        .expect("first");
    assert!(s.record("g", "INBOX", 7, &[e], &|_| None, 2).is_err());
}

#[test]
fn events_update_the_account_status() {
    let s = State::in_memory().expect("db");
    s.record_check("g", 10).expect("check");
    s.record_event("g", "imap", "connection refused", 20)
        .expect("event");
    assert_eq!(
        s.account_status("g").expect("status"),
        (Some(10), Some("imap: connection refused".into()), Some(20))
    );
    assert_eq!(s.events_between("g", 0, 30).expect("events").len(), 1);
}
