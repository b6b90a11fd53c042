//! The files ops write — the config file and the rules directory — read with positions,
//! validated, and handed out in their final form.
//!
//! Loading happens in two stages, like ripgrep's flags: `read.rs` walks the TOML and checks
//! each value where it stands (reporting `file:line:col`), with `server.rs` reading `[smtp]`
//! and each `imap` table and `account.rs` each `[[account]]`; what leaves this module is the
//! validated [`Config`], with defaults filled in, paths resolved against the config file,
//! rules compiled and timezones parsed. Secrets are only referenced here; `secret.rs`
//! resolves them when a connection needs them. `rules.rs` compiles the rules directory
//! (each file's rules in `rules/rule.rs`, their conditions in `rules/condition.rs`)
//! into the [`RuleSet`] the pure core ([`crate::classify`]) evaluates; `tomlread.rs` and
//! `diagnostic.rs` are what both files are read with: TOML with positions, and mistakes
//! reported as `file:line:col` with a `help:` line.

mod account;
pub mod diagnostic;
mod oauth2;
mod read;
mod rules;
mod secret;
mod server;
mod tasks;
mod tomlread;
mod url;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use oauth2::{OAuth2, Provider, RefreshGrant, Sasl, TokenSource};
pub use rules::{RULE_FILE_EXTENSION, load_rules_dir, parse_rules, rules_dir_problem};
pub use secret::{Password, Secret, try_command};
pub use server::is_loopback;
pub use tasks::{TaskSettings, due as read_due};
pub use url::{HttpUrl, is_loopback_http};

use crate::classify::RuleSet;
use diagnostic::{Diagnostic, Diagnostics, SourceFile, file_error};

/// Where the config lives unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/delega/delega.toml";

/// A loaded config, and the warnings worth showing.
#[derive(Debug)]
pub struct Loaded {
    /// The validated config.
    pub config: Config,
    /// Problems that do not stop delega (shown by `delega check`).
    pub warnings: Vec<Diagnostic>,
    /// Every `password_command` and `token_command`, where it is written (for `delega
    /// check` to try).
    pub commands: Vec<CommandSetting>,
}

/// A `password_command` or `token_command` as written in the config: `delega check` runs
/// each once, and
/// reports a failing one at this place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSetting {
    /// The config file, line and column of the command's value (message and help empty).
    pub at: Diagnostic,
    /// The setting: `password_command` or `token_command`.
    pub key: &'static str,
    /// The shell command.
    pub command: String,
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file it came from.
    pub path: PathBuf,
    /// The SQLite state database.
    pub state: PathBuf,
    /// How logs are written.
    pub log_format: LogFormat,
    /// Outgoing mail: forwards and digests.
    pub smtp: Smtp,
    /// The inboxes delega watches, one per entrepreneur.
    pub accounts: Vec<Account>,
    /// Where `/metrics` is served; `None` (the default) serves nothing.
    pub metrics: Option<Metrics>,
    /// New IMAP connections per second, all accounts together (`connect_rate`).
    pub connect_rate: u32,
}

/// The Prometheus metrics listener (`[metrics]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    /// The address `/metrics` is served on: loopback unless `allow_remote` was written.
    pub listen: std::net::SocketAddr,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (journald-style under systemd).
    Text,
    /// One JSON object per line.
    Json,
}

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    StartTls,
    /// No encryption at all: only when written explicitly, e.g. on loopback.
    Plain,
}

/// A server delega connects to.
#[derive(Debug, Clone)]
pub struct Server {
    /// Host name (also the name the certificate must carry).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS, STARTTLS or plain.
    pub security: Security,
    /// Login name; `None` means no authentication (SMTP only).
    pub username: Option<String>,
    /// Where the password comes from.
    pub password: Option<Secret>,
    /// Sign in with an OAuth2 access token instead (`auth = "oauth2"`).
    pub oauth2: Option<std::sync::Arc<OAuth2>>,
    /// The CA certificate (PEM) to trust instead of the system's roots (a private CA).
    pub ca_file: Option<PathBuf>,
    /// Connect and command timeout.
    pub timeout: Duration,
}

/// Outgoing mail settings.
#[derive(Debug, Clone)]
pub struct Smtp {
    /// The server.
    pub server: Server,
    /// delega's own sender, e.g. `Giulia's inbox <delega@example.com>`.
    pub from: String,
}

/// One watched inbox.
#[derive(Debug, Clone)]
pub struct Account {
    /// Short name, unique, used in logs, the database and `--account`.
    pub name: String,
    /// IMAP server and login.
    pub imap: Server,
    /// The mailbox to watch (usually INBOX).
    pub mailbox: String,
    /// Poll interval when the server has no IDLE.
    pub poll: Duration,
    /// In IDLE, look for mail the server did not announce this often (`None`: only at the
    /// 25-minute renewal). Dovecot with `imap_hibernate_timeout` loses a change that comes
    /// in the half second before it hibernates a session (see `imap::watch`).
    pub recheck: Option<Duration>,
    /// Where the rules came from.
    pub rules_dir: PathBuf,
    /// The compiled rules.
    pub rules: RuleSet,
    /// The assistant for hand-made delegations (moved into the delegation folder).
    pub default_assistant: Option<String>,
    /// Decide and record, but act on nothing.
    pub observe: bool,
    /// On first start, also triage mail this many days old.
    pub backfill_days: u32,
    /// Where filed mail goes.
    pub folders: Folders,
    /// The daily summary.
    pub digest: Digest,
    /// Forwarding limits and form.
    pub forward: Forwarding,
    /// The people work can be delegated to.
    pub assistants: Vec<Assistant>,
    /// Tasks: working hours, due times, reminders.
    pub tasks: TaskSettings,
}

impl Account {
    /// The assistant with this id.
    pub fn assistant(&self, id: &str) -> Option<&Assistant> {
        self.assistants.iter().find(|a| a.id == id)
    }
}

/// Folders delega files messages into (created when missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folders {
    /// For noise.
    pub noise: String,
    /// For delegated mail, once forwarded.
    pub delegated: String,
}

/// The language of the digest and of forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Italiano.
    It,
    /// English.
    En,
}

/// When, to whom and how the daily digest is sent.
#[derive(Debug, Clone)]
pub struct Digest {
    /// The entrepreneur's address.
    pub to: String,
    /// Local time of day.
    pub at: jiff::civil::Time,
    /// The IANA timezone name, as written.
    pub timezone_name: String,
    /// The timezone itself.
    pub timezone: jiff::tz::TimeZone,
    /// Language of the digest and forwards.
    pub language: Language,
    /// Estimated minutes of the entrepreneur's time per message handled.
    pub minutes_per_message: u32,
    /// The entrepreneur's hourly value, to show what the time saved is worth.
    pub hourly_value: Option<f64>,
    /// Currency of `hourly_value` (ISO code or symbol).
    pub currency: String,
    /// Send nothing on a day with nothing to report.
    pub skip_empty: bool,
    /// At most this many messages listed per section (and per assistant): a huge day
    /// still makes a digest one can read. Counts and totals always cover every message.
    pub max_listed: u32,
}

/// How forwards are made and limited.
#[derive(Debug, Clone)]
pub struct Forwarding {
    /// Put before the original subject.
    pub subject_prefix: String,
    /// At most this many forwards and reminders per hour, counted together
    /// (`delivery::hourly_limit`); the rest wait.
    pub max_per_hour: u32,
    /// Mail with more `Received:` headers than this is a loop: never forwarded.
    pub max_received: u32,
}

/// Someone work is delegated to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assistant {
    /// The id rules use.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Where forwards go.
    pub address: String,
    /// What they do (free text).
    pub role: Option<String>,
    /// Send them a daily list of what was delegated to them.
    pub daily_list: bool,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The config path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file (or a rules file) has errors; warnings come along.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Reads and validates the config at `path`, with every account's rules.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_config(&SourceFile::new(path, text))
}

/// Validates config text (rules directories are still read from disk).
pub fn parse_config(source: &SourceFile) -> Result<Loaded, ConfigError> {
    let (config, diagnostics, commands) = read::config(source);
    let all = Diagnostics(diagnostics);
    match config {
        Some(config) if !all.has_errors() => Ok(Loaded {
            config,
            warnings: all.0,
            commands,
        }),
        _ => {
            let mut all = all;
            if !all.has_errors() {
                all.0
                    .push(file_error(source.path(), "invalid config", None));
            }
            Err(ConfigError::Invalid(all))
        }
    }
}

impl Config {
    /// The account called `name`.
    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::classify::Category;

    /// An account with two assistants and no rules, for unit tests of other modules.
    pub(crate) fn account() -> Account {
        Account {
            name: "giulia".into(),
            imap: Server {
                host: "imap.example".into(),
                port: 993,
                security: Security::Tls,
                username: Some("giulia@studio.example".into()),
                password: Some(Secret::Env("UNUSED".into())),
                oauth2: None,
                ca_file: None,
                timeout: Duration::from_secs(30),
            },
            mailbox: "INBOX".into(),
            poll: Duration::from_secs(60),
            recheck: None,
            rules_dir: PathBuf::from("rules"),
            rules: RuleSet {
                rules: std::sync::Arc::from([]),
                default: Category::Strategic,
            },
            default_assistant: None,
            observe: false,
            backfill_days: 0,
            folders: Folders {
                noise: "Noise".into(),
                delegated: "Delegated".into(),
            },
            digest: Digest {
                to: "giulia@studio.example".into(),
                at: jiff::civil::time(18, 0, 0, 0),
                timezone_name: "Europe/Rome".into(),
                timezone: jiff::tz::TimeZone::get("Europe/Rome").expect("bundled tzdb"),
                language: Language::En,
                minutes_per_message: 2,
                hourly_value: Some(100.0),
                currency: "EUR".into(),
                skip_empty: false,
                max_listed: 50,
            },
            forward: Forwarding {
                subject_prefix: "[delega]".into(),
                max_per_hour: 30,
                max_received: 25,
            },
            tasks: TaskSettings::default(),
            assistants: vec![
                Assistant {
                    id: "marta".into(),
                    name: "Marta Verdi".into(),
                    address: "marta@office.example".into(),
                    role: None,
                    daily_list: false,
                },
                Assistant {
                    id: "luca".into(),
                    name: "Luca Bianchi".into(),
                    address: "luca@office.example".into(),
                    role: None,
                    daily_list: false,
                },
            ],
        }
    }

    fn parse_digest(digest: &str) -> Result<Loaded, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path();
        std::fs::write(
            rules.join("10.toml"),
            "[[rule]]\nname = \"all\"\ncategory = \"noise\"\n[rule.when]\nlist = true\n",
        )
        .expect("a rules file");
        let text = format!(
            "[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nfrom = \"d@studio.example\"\n\
             [[account]]\nname = \"g\"\nrules = {rules:?}\n\
             [account.imap]\nhost = \"127.0.0.1\"\nusername = \"g\"\npassword_env = \"PATH\"\n\
             [account.digest]\nto = \"g@studio.example\"\n{digest}\n\
             [[account.assistant]]\nid = \"marta\"\nname = \"Marta\"\naddress = \"m@x.example\"\n"
        );
        parse_config(&SourceFile::new("delega.toml", text))
    }

    #[test]
    fn recheck_defaults_to_two_minutes_and_0_turns_it_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("10.toml"), "").expect("a rules file");
        let recheck = |line: &str| {
            let text = format!(
                "[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nfrom = \"d@s.example\"\n\
                 [[account]]\nname = \"g\"\nrules = {:?}\n\
                 [account.imap]\nhost = \"127.0.0.1\"\nusername = \"g\"\npassword_env = \"PATH\"\n\
                 {line}\n[account.digest]\nto = \"g@s.example\"\n\
                 [[account.assistant]]\nid = \"marta\"\nname = \"M\"\naddress = \"m@x.example\"\n",
                dir.path()
            );
            parse_config(&SourceFile::new("delega.toml", text))
                .map(|l| l.config.accounts[0].recheck)
        };
        assert_eq!(recheck("").expect("valid"), Some(Duration::from_secs(120)));
        assert_eq!(
            recheck("recheck_secs = 5").expect("valid"),
            Some(Duration::from_secs(5))
        );
        assert_eq!(recheck("recheck_secs = 0").expect("valid"), None);
        assert!(recheck("recheck_secs = \"often\"").is_err());
    }

    #[test]
    fn max_listed_defaults_to_50_and_must_be_a_whole_number() {
        let listed =
            |digest: &str| parse_digest(digest).map(|l| l.config.accounts[0].digest.max_listed);
        assert_eq!(listed("").expect("valid"), 50);
        assert_eq!(listed("max_listed = 200").expect("valid"), 200);
        let Err(ConfigError::Invalid(errors)) = listed("max_listed = \"all\"") else {
            panic!("a string is refused");
        };
        assert!(
            errors
                .to_string()
                .contains("delega.toml:14:14: error: expected a whole number"),
            "{errors}"
        );
    }

    #[test]
    fn accounts_on_one_rules_directory_share_its_rules_and_hear_of_its_errors_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path();
        let account = |name: &str, assistant: &str| {
            format!(
                "[[account]]\nname = \"{name}\"\nrules = {rules:?}\n\
                 [account.imap]\nhost = \"127.0.0.1\"\nusername = \"{name}\"\n\
                 password_env = \"PATH\"\n\
                 [account.digest]\nto = \"{name}@studio.example\"\n\
                 [[account.assistant]]\nid = \"{assistant}\"\nname = \"A\"\n\
                 address = \"a@x.example\"\n"
            )
        };
        let smtp = "[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nfrom = \"d@s.example\"\n";
        let text = format!(
            "{smtp}{}{}{}",
            account("g", "marta"),
            account("h", "marta"),
            account("k", "luca")
        );
        std::fs::write(
            rules.join("10.toml"),
            "[[rule]]\nname = \"all\"\ncategory = \"noise\"\n[rule.when]\nlist = true\n",
        )
        .expect("a rules file");
        let loaded = parse_config(&SourceFile::new("delega.toml", text.clone())).expect("valid");
        let [g, h, k] = &loaded.config.accounts[..] else {
            panic!("three accounts");
        };
        assert!(std::sync::Arc::ptr_eq(&g.rules.rules, &h.rules.rules));
        assert!(
            !std::sync::Arc::ptr_eq(&g.rules.rules, &k.rules.rules),
            "other assistants: checked and compiled on their own"
        );

        std::fs::write(
            rules.join("20.toml"),
            "[[rule]]\nname = \"x\"\ncategory = \"nois\"\n",
        )
        .expect("a broken rules file");
        let Err(ConfigError::Invalid(errors)) = parse_config(&SourceFile::new("delega.toml", text))
        else {
            panic!("a broken rule is refused");
        };
        let errors = errors.to_string();
        assert_eq!(errors.matches("20.toml:3:").count(), 2, "{errors}");
    }

    #[test]
    fn accounts_naming_one_missing_rules_directory_each_hear_of_it_at_their_setting() {
        let account = |name: &str| {
            format!(
                "[[account]]\nname = \"{name}\"\nrules = \"no-such-rules\"\n\
                 [account.imap]\nhost = \"127.0.0.1\"\nusername = \"{name}\"\n\
                 password_env = \"PATH\"\n\
                 [account.digest]\nto = \"{name}@studio.example\"\n"
            )
        };
        let smtp = "[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nfrom = \"d@s.example\"\n";
        let text = format!("{smtp}{}{}", account("g"), account("h"));
        let Err(ConfigError::Invalid(errors)) = parse_config(&SourceFile::new("delega.toml", text))
        else {
            panic!("a missing rules directory is refused");
        };
        let errors = errors.to_string();
        for line in [7, 16] {
            assert!(
                errors.contains(&format!(
                    "delega.toml:{line}:9: error: the rules directory ./no-such-rules does not exist"
                )),
                "{errors}"
            );
        }
    }

    #[test]
    fn every_password_and_token_command_is_listed_where_it_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path();
        std::fs::write(
            rules.join("10.toml"),
            "[[rule]]\nname = \"all\"\ncategory = \"noise\"\n[rule.when]\nlist = true\n",
        )
        .expect("a rules file");
        let account = |name: &str, login: &str| {
            format!(
                "[[account]]\nname = \"{name}\"\nrules = {rules:?}\n\
                 [account.imap]\nhost = \"127.0.0.1\"\nusername = \"{name}\"\n{login}\n\
                 [account.digest]\nto = \"{name}@studio.example\"\n"
            )
        };
        let text = format!(
            "[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nfrom = \"d@s.example\"\n\
             username = \"d\"\npassword_command = \"pass smtp\"\n{}{}{}",
            account("g", "password_command = \"pass g\""),
            account("h", "password_env = \"PATH\""),
            account("k", "password_command = \"pass k\""),
        );
        let loaded = parse_config(&SourceFile::new("delega.toml", text)).expect("valid");
        let listed: Vec<_> = loaded
            .commands
            .iter()
            .map(|c| (c.key, c.command.as_str(), c.at.line, c.at.column))
            .collect();
        assert_eq!(
            listed,
            [
                ("password_command", "pass smtp", 6, 20),
                ("password_command", "pass g", 13, 20),
                ("password_command", "pass k", 31, 20),
            ]
        );
    }

    #[test]
    fn accounts_sharing_a_password_file_and_a_ca_file_each_hear_of_their_problems() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).expect("rules dir");
        std::fs::write(
            rules.join("10.toml"),
            "[[rule]]\nname = \"all\"\ncategory = \"noise\"\n[rule.when]\nlist = true\n",
        )
        .expect("a rules file");
        let password = dir.path().join("password");
        std::fs::write(&password, "secret\n").expect("a password file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        }
        let account = |name: &str| {
            format!(
                "[[account]]\nname = \"{name}\"\nrules = {rules:?}\n\
                 [account.imap]\nhost = \"127.0.0.1\"\nusername = \"{name}\"\n\
                 password_file = {password:?}\nca_file = \"no-such-ca.pem\"\n\
                 [account.digest]\nto = \"{name}@studio.example\"\n"
            )
        };
        let smtp = "[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nfrom = \"d@s.example\"\n";
        let text = format!("{smtp}{}{}", account("g"), account("h"));
        let Err(ConfigError::Invalid(errors)) = parse_config(&SourceFile::new("delega.toml", text))
        else {
            panic!("a missing CA file is refused");
        };
        let errors = errors.to_string();
        for line in [12, 22] {
            assert!(
                errors.contains(&format!(
                    "delega.toml:{line}:11: error: cannot read CA file ./no-such-ca.pem"
                )),
                "{errors}"
            );
        }
        #[cfg(unix)]
        for line in [11, 21] {
            assert!(
                errors.contains(&format!(
                    "delega.toml:{line}:17: warning: password file {} is readable by every user",
                    password.display()
                )),
                "{errors}"
            );
        }
    }
}
