//! Prometheus metrics: what the daemon counts, and `/metrics` in the text exposition format.
//!
//! One process-wide registry, so that each stage records what happened with a one-line call
//! (`metrics::decided(account, category)`) without a handle threaded through it; recording is
//! a few atomic operations, done whether or not a listener is configured. [`http`] serves the
//! registry on `[metrics] listen`. Label values are account names, categories and outcomes:
//! never an address or a subject.

pub mod http;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::classify::Category;

pub use http::serve;

/// What happened to a forward, as `delega_forwards_total{outcome}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardOutcome {
    /// The SMTP server accepted it.
    Sent,
    /// A try failed for now (a 4xx, a lost connection): it waits for a retry.
    Waiting,
    /// Refused for good, or impossible as configured: the message stays in the Inbox.
    Failed,
    /// delega stopped while the server had it and before its reply: sent again as the same
    /// forward, so it may reach the assistant twice (the digest says so).
    InDoubt,
}

/// How a reload request ended, as `delega_reloads_total{outcome}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReloadOutcome {
    /// The new config is in force.
    Applied,
    /// The new config was invalid: the running one stays.
    Refused,
}

impl ForwardOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ForwardOutcome::Sent => "sent",
            ForwardOutcome::Waiting => "waiting",
            ForwardOutcome::Failed => "failed",
            ForwardOutcome::InDoubt => "in_doubt",
        }
    }
}

impl ReloadOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Applied => "applied",
            ReloadOutcome::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AccountLabel {
    account: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DecidedLabels {
    account: String,
    category: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ForwardLabels {
    account: String,
    outcome: &'static str,
}

/// An OAuth2 grant by its key: `imap-ACCOUNT` or `smtp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GrantLabel {
    grant: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReloadLabels {
    outcome: &'static str,
}

/// Every metric delega exports, registered once.
struct Metrics {
    registry: Registry,
    decided: Family<DecidedLabels, Counter>,
    forwards: Family<ForwardLabels, Counter>,
    outbox_queue: Family<AccountLabel, Gauge>,
    imap_connected: Family<AccountLabel, Gauge>,
    last_check: Family<AccountLabel, Gauge>,
    pass_duration: Family<AccountLabel, Histogram, fn() -> Histogram>,
    wake_to_decision: Family<AccountLabel, Histogram, fn() -> Histogram>,
    digests: Family<AccountLabel, Counter>,
    token_refreshes: Family<GrantLabel, Counter>,
    token_refresh_failures: Family<GrantLabel, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    /// When each account's IMAP wait last ended (IDLE reported a change, or a poll), until
    /// the first decision after it or the end of that pass.
    woke: Mutex<HashMap<String, Instant>>,
}

/// 5 ms … 41 s: a pass is a few ms when nothing is new, seconds for a large backlog.
fn pass_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// 10 ms … 20 s: a fetch and a classification after the server's notification.
fn wake_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 12))
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut m = Metrics {
            registry: Registry::with_prefix("delega"),
            decided: Family::default(),
            forwards: Family::default(),
            outbox_queue: Family::default(),
            imap_connected: Family::default(),
            last_check: Family::default(),
            pass_duration: Family::new_with_constructor(pass_histogram),
            wake_to_decision: Family::new_with_constructor(wake_histogram),
            digests: Family::default(),
            token_refreshes: Family::default(),
            token_refresh_failures: Family::default(),
            reloads: Family::default(),
            woke: Mutex::new(HashMap::new()),
        };
        m.register();
        m
    })
}

impl Metrics {
    /// Names and describes each metric (the registry adds `delega_`, `_total` to counters
    /// and the unit to the name, as Prometheus' naming practice asks).
    fn register(&mut self) {
        let r = &mut self.registry;
        let build = Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]);
        r.register("build", "The running delega's version (always 1)", build);
        r.register(
            "messages_decided",
            "Messages triaged, by account and category",
            self.decided.clone(),
        );
        r.register(
            "forwards",
            "Forward attempts to assistants, by outcome (sent, waiting, failed, in_doubt)",
            self.forwards.clone(),
        );
        r.register(
            "outbox_queue_length",
            "Forwards waiting to go out, at the end of the last pass",
            self.outbox_queue.clone(),
        );
        r.register(
            "imap_connected",
            "1 while the account's IMAP connection is up, 0 while delega reconnects",
            self.imap_connected.clone(),
        );
        r.register_with_unit(
            "last_check_timestamp",
            "Unix time of the account's last successful check of its Inbox",
            Unit::Seconds,
            self.last_check.clone(),
        );
        r.register_with_unit(
            "pass_duration",
            "Time of one pass over an Inbox (find, decide, record, act)",
            Unit::Seconds,
            self.pass_duration.clone(),
        );
        r.register_with_unit(
            "idle_wake_to_decision",
            "From IDLE (or a poll) reporting a change to the first message decided",
            Unit::Seconds,
            self.wake_to_decision.clone(),
        );
        r.register(
            "digests_sent",
            "Daily digests sent to the entrepreneur",
            self.digests.clone(),
        );
        r.register(
            "token_refreshes",
            "OAuth2 access token fetches (refresh grant or token_command), failed ones included",
            self.token_refreshes.clone(),
        );
        r.register(
            "token_refresh_failures",
            "OAuth2 access tokens that could not be fetched, by grant",
            self.token_refresh_failures.clone(),
        );
        r.register(
            "reloads",
            "Config reloads (SIGHUP), by outcome (applied, refused)",
            self.reloads.clone(),
        );
    }
}

fn account(name: &str) -> AccountLabel {
    AccountLabel {
        account: name.to_string(),
    }
}

/// A message was decided and its decision recorded.
pub fn decided(account_name: &str, category: Category) {
    let m = metrics();
    m.decided
        .get_or_create(&DecidedLabels {
            account: account_name.to_string(),
            category: category.as_str(),
        })
        .inc();
    let woke = m.woke.lock().ok().and_then(|mut w| w.remove(account_name));
    if let Some(at) = woke {
        let latency = at.elapsed().as_secs_f64();
        m.wake_to_decision
            .get_or_create(&account(account_name))
            .observe(latency);
    }
}

/// `n` forwards of the account ended a try with `outcome`.
pub fn forwards(account_name: &str, outcome: ForwardOutcome, n: u64) {
    metrics()
        .forwards
        .get_or_create(&ForwardLabels {
            account: account_name.to_string(),
            outcome: outcome.as_str(),
        })
        .inc_by(n);
}

/// The account's IMAP connection went up (`true`) or down.
pub fn imap_connected(account_name: &str, up: bool) {
    metrics()
        .imap_connected
        .get_or_create(&account(account_name))
        .set(i64::from(up));
}

/// The account's IMAP wait ended: the next decision measures its latency from now.
pub fn woke(account_name: &str) {
    if let Ok(mut w) = metrics().woke.lock() {
        w.insert(account_name.to_string(), Instant::now());
    }
}

/// A pass over the account's Inbox succeeded at `now` (Unix time) and took `took`;
/// `queue` forwards are waiting (`None`: unknown, the gauge keeps its value).
pub fn passed(account_name: &str, now: i64, took: Duration, queue: Option<u32>) {
    let m = metrics();
    let label = account(account_name);
    m.last_check.get_or_create(&label).set(now);
    m.pass_duration
        .get_or_create(&label)
        .observe(took.as_secs_f64());
    if let Some(queue) = queue {
        m.outbox_queue.get_or_create(&label).set(i64::from(queue));
    }
    // A wake that led to no decision (a flag change, an expunge) is not a latency.
    if let Ok(mut w) = m.woke.lock() {
        w.remove(account_name);
    }
}

/// The account's daily digest was sent.
pub fn digest_sent(account_name: &str) {
    metrics()
        .digests
        .get_or_create(&account(account_name))
        .inc();
}

/// An OAuth2 access token for `grant` (`imap-ACCOUNT` or `smtp`) was fetched, or not.
pub fn token_refreshed(grant: &str, ok: bool) {
    let m = metrics();
    let label = GrantLabel {
        grant: grant.to_string(),
    };
    m.token_refreshes.get_or_create(&label).inc();
    if !ok {
        m.token_refresh_failures.get_or_create(&label).inc();
    }
}

/// A reload request ended with `outcome`.
pub fn reloaded(outcome: ReloadOutcome) {
    metrics()
        .reloads
        .get_or_create(&ReloadLabels {
            outcome: outcome.as_str(),
        })
        .inc();
}

/// Every metric in the Prometheus text exposition format (version 0.0.4).
pub fn render() -> String {
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &metrics().registry)
        .expect("writing to a String cannot fail");
    out
}

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_practice() {
        decided("giulia", Category::Noise);
        forwards("giulia", ForwardOutcome::InDoubt, 2);
        token_refreshed("smtp", false);
        passed("giulia", 1_700_000_000, Duration::from_millis(30), Some(3));
        let text = render();
        for line in [
            "# TYPE delega_build_info gauge",
            "# TYPE delega_messages_decided_total counter",
            "delega_messages_decided_total{account=\"giulia\",category=\"noise\"} 1",
            "delega_forwards_total{account=\"giulia\",outcome=\"in_doubt\"} 2",
            "delega_outbox_queue_length{account=\"giulia\"} 3",
            "delega_token_refreshes_total{grant=\"smtp\"} 1",
            "delega_token_refresh_failures_total{grant=\"smtp\"} 1",
            "delega_last_check_timestamp_seconds{account=\"giulia\"} 1700000000",
            "# TYPE delega_pass_duration_seconds histogram",
            "delega_pass_duration_seconds_count{account=\"giulia\"} 1",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(
            text.contains(&format!(
                "delega_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
    }
}
