//! An entrepreneur's office for a test: unique users on the real mail system (the
//! entrepreneur, two assistants, delega's sender), a config pointing at them, and helpers to
//! run the real `delega` binary and read its state database.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use delega::state::report::{Limits, Problem};
use delega::state::{Entry, State};

use super::MailSystem;
use super::imap::TestImap;

/// One account's worth of users and a config file for them.
pub struct Office {
    /// The entrepreneur's address.
    pub giulia: String,
    /// The generalist assistant (`marta` in the rules).
    pub marta: String,
    /// The translator (`luca` in the rules).
    pub luca: String,
    /// delega's sender.
    pub sender: String,
    /// Holds config, password and state.
    pub dir: tempfile::TempDir,
    /// Extra `[[account]]` settings (written after `name`).
    pub account_extra: String,
    /// The rules directory (the repo's example rules unless a test sets its own).
    pub rules_dir: PathBuf,
    /// More entrepreneurs in the same config: (account name, address).
    pub more_accounts: Vec<(String, String)>,
    /// The digest's `at` (local time, Europe/Rome); the default 18:00 when `None`.
    pub digest_at: Option<String>,
    /// Let a spawned daemon send today's digest. Off by default: a test about something
    /// else would otherwise see a digest arrive in the Inbox whenever it runs after 18:00.
    pub send_digests: bool,
    /// How delega reaches Postfix; STARTTLS on the submission port by default.
    pub smtp: SmtpRoute,
    /// Trust the test CA for SMTP (`ca_file`); without it the server's certificate must fail.
    pub smtp_trusts_test_ca: bool,
    /// How the accounts sign in to IMAP: inline-table keys (a password file by default).
    pub imap_login: String,
    /// How delega signs in to SMTP, if not with the password file: TOML lines.
    pub smtp_login: Option<String>,
    /// Extra `[smtp]` settings (e.g. `timeout_secs = 1`).
    pub smtp_extra: String,
    /// The daemon's `RUST_LOG` ("info" unless a test needs more).
    pub log_filter: String,
    imap_port: u16,
    ca_file: PathBuf,
}

/// The ways to Postfix that the test mail system offers, with the port of each.
#[derive(Debug, Clone, Copy)]
pub enum SmtpRoute {
    /// `security = "starttls"` on the submission port, with AUTH.
    Submission(u16),
    /// `security = "tls"` (implicit TLS) on the SMTPS port, with AUTH.
    Smtps(u16),
    /// `security = "plain"` on the SMTP port, no AUTH.
    Plain(u16),
}

impl Office {
    /// Creates fresh users on `ms` and writes the config.
    pub fn new(ms: &MailSystem) -> Office {
        let dir = tempfile::tempdir().expect("tempdir");
        let password = dir.path().join("password");
        std::fs::write(&password, format!("{}\n", ms.password())).expect("password file");
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(&password, private).expect("chmod 600");
        let office = Office {
            giulia: ms.new_user("giulia"),
            marta: ms.new_user("marta"),
            luca: ms.new_user("luca"),
            sender: ms.new_user("delega"),
            dir,
            account_extra: String::new(),
            rules_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
            more_accounts: Vec::new(),
            digest_at: None,
            send_digests: false,
            smtp: SmtpRoute::Submission(ms.submission_port()),
            smtp_trusts_test_ca: true,
            imap_login: "password_file = \"password\"".into(),
            smtp_login: None,
            smtp_extra: String::new(),
            log_filter: "info".into(),
            imap_port: ms.imaps_port(),
            ca_file: ms.ca_file().to_path_buf(),
        };
        office.write_config();
        office
    }

    /// Logs in as the entrepreneur and puts these fixtures in the Inbox, as if delivered;
    /// returns the session, to look at the folders afterwards.
    pub async fn deliver(&self, ms: &MailSystem, fixtures: &[&str]) -> anyhow::Result<TestImap> {
        let mut giulia = TestImap::login(ms, &self.giulia).await?;
        for name in fixtures {
            giulia.append("INBOX", &fixture(name), &[]).await?;
        }
        Ok(giulia)
    }

    /// Rewrites the config (after changing `account_extra`, `rules_dir`...).
    pub fn write_config(&self) {
        let mut accounts = self.account_block("giulia", &self.giulia, &self.rules_dir);
        for (name, address) in &self.more_accounts {
            accounts.push('\n');
            accounts.push_str(&self.account_block(name, address, &self.rules_dir));
        }
        let (port, security, login) = match self.smtp {
            SmtpRoute::Submission(port) => (port, "starttls", true),
            SmtpRoute::Smtps(port) => (port, "tls", true),
            SmtpRoute::Plain(port) => (port, "plain", false),
        };
        let mut smtp = format!(
            "port = {port}\nsecurity = \"{security}\"\n{}\n",
            self.smtp_extra
        );
        if login {
            let with = self
                .smtp_login
                .clone()
                .unwrap_or_else(|| "password_file = \"password\"\n".into());
            smtp += &format!("username = \"{}\"\n{with}", self.sender);
        }
        if self.smtp_trusts_test_ca {
            smtp += &format!("ca_file = \"{}\"\n", self.ca_file.display());
        }
        let config = format!(
            r#"state = "state.db"
[smtp]
host = "localhost"
{smtp}from = "Giulia's inbox <{sender}>"

{account}
"#,
            sender = self.sender,
            account = accounts,
        );
        std::fs::write(self.config_path(), config).expect("write config");
    }

    /// The `[[account]]` table for an entrepreneur with this office's assistants.
    pub fn account_block(&self, name: &str, address: &str, rules: &Path) -> String {
        format!(
            r#"[[account]]
name = "{name}"
{extra}
rules = "{rules}"
imap = {{ host = "localhost", port = {imap}, security = "tls", username = "{address}", {login}, ca_file = "{ca}", poll_secs = 5 }}
digest = {{ to = "{address}", timezone = "Europe/Rome", language = "en", at = "{at}" }}
[[account.assistant]]
id = "marta"
name = "Marta Verdi"
address = "{marta}"
[[account.assistant]]
id = "luca"
name = "Luca Bianchi"
address = "{luca}"
"#,
            extra = self.account_extra,
            login = self.imap_login,
            at = self.digest_at.as_deref().unwrap_or("18:00"),
            rules = rules.display(),
            imap = self.imap_port,
            ca = self.ca_file.display(),
            marta = self.marta,
            luca = self.luca,
        )
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("delega.toml")
    }

    /// A `delega` command with this config.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_delega"));
        cmd.args(args)
            .arg("--config")
            .arg(self.config_path())
            .env_remove("DELEGA_FAILPOINT")
            .env("RUST_LOG", &self.log_filter);
        cmd
    }

    /// Runs `delega run --once` (plus `extra` args) and returns its output.
    pub fn run_once(&self, extra: &[&str]) -> Output {
        let mut args = vec!["run", "--once"];
        args.extend_from_slice(extra);
        self.command(&args).output().expect("run delega")
    }

    /// Runs `delega run --once` and asserts it succeeded.
    pub fn run_once_ok(&self) -> String {
        let out = self.run_once(&[]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "delega run --once failed:\n{text}");
        text
    }

    /// Starts the daemon (`delega run`); its log goes to `daemon.log` in the office dir.
    pub fn spawn(&self) -> Daemon {
        if !self.send_digests {
            let rome = jiff::tz::TimeZone::get("Europe/Rome").expect("tzdb");
            let now = jiff::Timestamp::now();
            let today = now.to_zoned_datetime(rome).date();
            let t = now.as_second();
            let state = self.state();
            let more = self.more_accounts.iter().map(|(name, _)| name.as_str());
            for name in std::iter::once("giulia").chain(more) {
                state
                    .record_digest(name, today, t, t, t)
                    .expect("record digest");
            }
        }
        let log = std::fs::File::create(self.dir.path().join("daemon.log")).expect("log file");
        let child = self
            .command(&["run"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn delega run");
        Daemon(child)
    }

    /// What the daemon logged so far.
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// The ledger rows recorded so far for the first account.
    pub fn ledger(&self) -> Vec<Entry> {
        self.ledger_of("giulia")
    }

    /// The ledger rows recorded so far for an account.
    pub fn ledger_of(&self, account: &str) -> Vec<Entry> {
        self.state()
            .entries_between(account, 0, i64::MAX)
            .expect("ledger")
    }

    /// The state database.
    pub fn state(&self) -> State {
        State::open(&self.dir.path().join("state.db")).expect("state")
    }

    /// Every problem `account` has on record (events of one kind and detail counted
    /// together), latest first: what the digest's problems section is read from.
    pub fn problems(&self, account: &str) -> Vec<Problem> {
        let limits = Limits {
            messages: 10,
            failed: 10,
            groups: 10,
        };
        self.state()
            .digest_period(account, 0, i64::MAX, limits)
            .expect("the problems on record")
            .problems
    }
}

/// Polls `check` every 100 ms until it returns true or `timeout` passes; returns the time
/// it took, or `None` on timeout.
pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// A running `delega run`, killed when dropped so a failing test leaves no daemon behind.
pub struct Daemon(Child);

impl Daemon {
    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends `signal` (e.g. "TERM", "HUP") to the daemon.
    pub fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.0.id().to_string()])
            .status()
            .expect("kill");
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the daemon to exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.signal("TERM");
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// A fixture message from the corpus.
pub fn fixture(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let entry = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().contains(name) && p.extension().is_some_and(|e| e == "eml")
            })
        })
        .unwrap_or_else(|| panic!("no fixture named like {name}"));
    std::fs::read(entry).expect("fixture")
}
