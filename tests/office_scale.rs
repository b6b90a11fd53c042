//! Many accounts in one daemon, as a virtual office runs it: new connections are paced
//! (never faster than `connect_rate`), and a SIGHUP that changes one account restarts that
//! account alone — the server sees no new login for the others.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::{Office, wait_until};

const PATIENCE: Duration = Duration::from_secs(30);

/// An office of giulia and three more entrepreneurs, with these lines at the top of the
/// config and the daemon's log in JSON (timestamps to the microsecond).
fn office_of_four(ms: &MailSystem, top: &str) -> (Office, Vec<(String, String)>) {
    let mut office = Office::new(ms);
    for name in ["anna", "bruno", "carla"] {
        office.more_accounts.push((name.into(), ms.new_user(name)));
    }
    office.write_config();
    let config = std::fs::read_to_string(office.config_path()).expect("config");
    let config = format!("{top}{config}\n[log]\nformat = \"json\"\n");
    std::fs::write(office.config_path(), config).expect("config");
    let mut accounts = vec![("giulia".to_string(), office.giulia.clone())];
    accounts.extend(office.more_accounts.iter().cloned());
    (office, accounts)
}

/// Waits until every account has triaged its Inbox once (its cursor exists).
fn wait_all_connected(office: &Office, accounts: &[(String, String)]) {
    let all = wait_until(PATIENCE, || {
        let state = office.state();
        accounts
            .iter()
            .all(|(name, _)| state.cursor(name, "INBOX").is_ok_and(|c| c.is_some()))
    });
    assert!(
        all.is_some(),
        "not every account connected:\n{}",
        office.daemon_log()
    );
}

/// Successful IMAP logins per user, as Dovecot logged them.
fn logins(ms: &MailSystem, accounts: &[(String, String)]) -> HashMap<String, usize> {
    let log = std::fs::read_to_string(ms.dir().join("log/dovecot.log")).unwrap_or_default();
    accounts
        .iter()
        .map(|(name, address)| {
            let line = format!("Login: user=<{address}>");
            (name.clone(), log.matches(&line).count())
        })
        .collect()
}

/// When each `connected` line of the daemon's JSON log was written.
fn connected_at(office: &Office) -> Vec<jiff::Timestamp> {
    office
        .daemon_log()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["message"] == "connected")
        .filter_map(|v| v["timestamp"].as_str()?.parse().ok())
        .collect()
}

#[tokio::test]
async fn accounts_starting_together_connect_no_faster_than_connect_rate() {
    let ms = MailSystem::shared();
    let (office, accounts) = office_of_four(ms, "connect_rate = 2\n");
    let spawned = jiff::Timestamp::now();
    let _daemon = office.spawn();
    wait_all_connected(&office, &accounts);

    // Four accounts at two a second: the k-th connection's turn comes k half-seconds after
    // the start at the earliest, whatever the machine's load (a slow machine only delays).
    let mut times = connected_at(&office);
    times.sort();
    assert_eq!(times.len(), 4, "{}", office.daemon_log());
    for (k, at) in times.iter().enumerate() {
        let earliest = spawned + jiff::SignedDuration::from_millis(500 * k as i64);
        assert!(
            *at >= earliest,
            "connection {k} at {at}, before its turn at {earliest}:\n{}",
            office.daemon_log()
        );
    }
}

#[tokio::test]
async fn a_sighup_that_changes_one_account_logs_in_again_for_that_account_only()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let (office, accounts) = office_of_four(ms, "");
    let daemon = office.spawn();
    wait_all_connected(&office, &accounts);
    let before = logins(ms, &accounts);
    assert!(before.values().all(|&n| n == 1), "{before:?}");

    // bruno's settings change (observe mode); the others' do not.
    let config = std::fs::read_to_string(office.config_path())?;
    let changed = config.replace(
        "name = \"bruno\"\n",
        "name = \"bruno\"\nmode = \"observe\"\n",
    );
    assert_ne!(config, changed);
    std::fs::write(office.config_path(), changed)?;
    daemon.signal("HUP");
    let relogged = wait_until(PATIENCE, || logins(ms, &accounts)["bruno"] == 2);
    assert!(relogged.is_some(), "{}", office.daemon_log());
    let log = office.daemon_log();
    assert!(log.contains("reloaded the config"), "{log}");
    assert!(log.contains("\"restarted\":1"), "{log}");

    let after = logins(ms, &accounts);
    for name in ["giulia", "anna", "carla"] {
        assert_eq!(after[name], 1, "{name} logged in again: {after:?}\n{log}");
    }

    // The kept connections still watch their Inbox: new mail is triaged at once.
    let anna = &accounts[1].1;
    let mut imap = TestImap::login(ms, anna).await?;
    let news = "From: News <news@shop.example>\r\nTo: anna@delega.test\r\nSubject: Offerte\r\n\
                List-Id: <offers.shop.example>\r\nMessage-ID: <scale-1@shop.example>\r\n\r\nSconti.\r\n";
    imap.append("INBOX", news.as_bytes(), &[]).await?;
    imap.wait_for("Noise", 1, PATIENCE).await?;
    Ok(())
}
