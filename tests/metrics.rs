//! `/metrics` during a real triage run: the daemon serves Prometheus' text format on the
//! configured loopback port, its counts match what happened to the mail, `promtool check
//! metrics` accepts it, bad HTTP gets a 4xx and does not stop the listener, and SIGTERM
//! stops it with the rest.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use delega::classify::Category;
use delega::state::Status;

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::{Office, fixture, wait_until};

const PATIENCE: Duration = Duration::from_secs(20);

/// Sends `request` as is and returns the whole answer (the server closes after one).
fn http(port: u16, request: &[u8]) -> String {
    try_http(port, request).expect("an answer from the metrics listener")
}

fn try_http(port: u16, request: &[u8]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.write_all(request)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// The body of `GET /metrics`, after checking the status line and the content type.
fn scrape(port: u16) -> String {
    let answer = http(port, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    body.to_string()
}

/// The value of the sample `series` (name and labels, exactly as exposed).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    probe.local_addr().expect("address").port()
}

#[tokio::test]
async fn metrics_count_what_a_real_triage_run_did() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    let port = free_port();
    let mut config = std::fs::read_to_string(office.config_path())?;
    config.push_str(&format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(office.config_path(), config)?;
    let mut daemon = office.spawn();

    // The first pass is over once the last check is exported.
    let first = "delega_last_check_timestamp_seconds{account=\"giulia\"}";
    let mut text = String::new();
    let ready = wait_until(PATIENCE, || {
        // Not listening yet while the daemon starts.
        try_http(port, b"GET /metrics HTTP/1.0\r\n\r\n").is_ok_and(|_| {
            text = scrape(port);
            value(&text, first).is_some()
        })
    });
    assert!(
        ready.is_some(),
        "no first pass in /metrics:\n{text}\n{}",
        office.daemon_log()
    );
    let before = value(&text, first).expect("first check");
    assert_eq!(
        value(&text, "delega_imap_connected{account=\"giulia\"}"),
        Some(1.0)
    );
    let build = format!(
        "delega_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&text, &build), Some(1.0), "{text}");
    // As the IDLE test does: let the daemon enter IDLE, so the arrivals wake it.
    std::thread::sleep(Duration::from_millis(500));

    let mut giulia = TestImap::login(ms, &office.giulia).await?;
    for name in [
        "001-investor",
        "012-supplier-invoice",
        "004-bank-newsletter",
    ] {
        giulia.append("INBOX", &fixture(name), &[]).await?;
    }
    let mut marta = TestImap::login(ms, &office.marta).await?;
    marta.wait_for("INBOX", 1, PATIENCE).await?;
    let settled = wait_until(PATIENCE, || {
        let ledger = office.ledger();
        ledger.len() == 3 && ledger.iter().all(|e| e.status == Status::Done)
    });
    assert!(settled.is_some(), "{:?}", office.ledger());
    // The pass that filed them is counted when it ends, just after the ledger says done.
    let passes = "delega_pass_duration_seconds_count{account=\"giulia\"}";
    let done = wait_until(PATIENCE, || {
        text = scrape(port);
        value(&text, passes).is_some_and(|n| n >= 2.0)
    });
    assert!(done.is_some(), "{text}");
    assert!(value(&text, first).is_some_and(|t| t >= before), "{text}");
    let queue = "delega_outbox_queue_length{account=\"giulia\"}";
    assert_eq!(value(&text, queue), Some(0.0), "{text}");

    let ledger = office.ledger();
    for category in Category::ALL {
        let recorded = ledger
            .iter()
            .filter(|e| e.decision.category == category)
            .count();
        let series =
            format!("delega_messages_decided_total{{account=\"giulia\",category=\"{category}\"}}");
        assert_eq!(
            value(&text, &series),
            Some(recorded as f64),
            "{series}\n{text}"
        );
    }
    let sent = "delega_forwards_total{account=\"giulia\",outcome=\"sent\"}";
    assert_eq!(
        value(&text, sent),
        Some(1.0),
        "marta got one forward:\n{text}"
    );
    for outcome in ["waiting", "failed", "in_doubt"] {
        let series = format!("delega_forwards_total{{account=\"giulia\",outcome=\"{outcome}\"}}");
        assert_eq!(value(&text, &series), None, "{series}\n{text}");
    }
    let passes = value(
        &text,
        "delega_pass_duration_seconds_count{account=\"giulia\"}",
    );
    assert!(passes.is_some_and(|n| n >= 2.0), "{text}");
    // The arrivals woke IDLE at least once, and each wake is measured once at most.
    let wakes = value(
        &text,
        "delega_idle_wake_to_decision_seconds_count{account=\"giulia\"}",
    );
    assert!(wakes.is_some_and(|n| (1.0..=3.0).contains(&n)), "{text}");
    // Label values are account names and categories: no address, no subject.
    assert!(!text.contains('@'), "{text}");
    assert!(!text.to_lowercase().contains("invoice"), "{text}");

    promtool_accepts(&text);

    // Bad HTTP: each gets its 4xx, and the listener goes on serving.
    let cases: [(&[u8], &str); 5] = [
        (b"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "),
        (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            "HTTP/1.1 400 ",
        ),
        (b"GET /metrics\r\n\r\n", "HTTP/1.1 400 "),
        (&[b'A'; 9000], "HTTP/1.1 431 "),
    ];
    for (request, status) in cases {
        let answer = http(port, request);
        assert!(answer.starts_with(status), "{status}: {answer}");
    }
    // A client that connects and says nothing, and one that leaves mid-request.
    let silent = TcpStream::connect(("127.0.0.1", port))?;
    let mut partial = TcpStream::connect(("127.0.0.1", port))?;
    partial.write_all(b"GET /metr")?;
    drop(partial);
    assert!(scrape(port).contains("delega_messages_decided_total"));
    drop(silent);

    let status = daemon.terminate(PATIENCE).expect("exits after SIGTERM");
    assert!(status.success(), "{status}\n{}", office.daemon_log());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the listener stops with the daemon"
    );
    Ok(())
}

/// `promtool check metrics` (Debian's prometheus package) reads the exposition. CI must
/// have it (scripts/test installs it); elsewhere its absence skips only this check.
fn promtool_accepts(text: &str) {
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIPPED promtool check metrics: promtool not found ({err}); apt-get install prometheus"
            );
            return;
        }
        Err(err) => panic!("promtool is needed in CI: {err}"),
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
