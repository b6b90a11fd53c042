//! The real mail system the integration tests run against: Dovecot and Postfix on free
//! 127.0.0.1 ports, started by `scripts/mailsystem`, which owns every server setting (see its
//! header). This module starts and stops instances and hands out users; [`imap`] is a small
//! IMAP client for setting up mailboxes and checking what the daemon did to them.
#![allow(
    dead_code,
    reason = "each test module uses its own subset of the harness"
)]

pub mod imap;
pub mod office;
pub mod tokens;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Once, OnceLock};

use tempfile::TempDir;

/// Instance directories are named `PREFIX<pid>-…` after the test binary that made them, so a
/// later run can tell which ones were left behind by a binary that has exited.
const DIR_PREFIX: &str = "delega-mailsystem-";

/// The server shapes `scripts/mailsystem start --shape` offers besides Dovecot's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Personal namespace `INBOX.` with separator `.` (Cyrus, Courier, many hosting providers).
    InboxPrefix,
    /// No MOVE announced; UIDPLUS kept.
    NoMove,
    /// Neither MOVE nor UIDPLUS announced.
    NoMoveNoUidplus,
    /// A self-signed CA:TRUE certificate, which [`MailSystem::ca_file`] is.
    SelfSigned,
    /// Sessions idle in IDLE for 1 s hibernate (`imap_hibernate_timeout`).
    Hibernate,
}

impl Shape {
    /// The script's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Shape::InboxPrefix => "inbox-prefix",
            Shape::NoMove => "no-move",
            Shape::NoMoveNoUidplus => "no-move-no-uidplus",
            Shape::SelfSigned => "selfsigned",
            Shape::Hibernate => "hibernate",
        }
    }
}

/// One running Dovecot + Postfix pair, and the settings `scripts/mailsystem` chose for it.
#[derive(Debug)]
pub struct MailSystem {
    /// Config, state, logs and mail of this instance (the script's DIR).
    dir: PathBuf,
    /// The `KEY=value` pairs of `DIR/env`: ports, CA file, domain, password.
    env: HashMap<String, String>,
    /// Removes a dedicated instance's directory on drop; `None` for the shared instance, which
    /// lives as long as the test binary (statics are never dropped) and is swept by a later run.
    tempdir: Option<TempDir>,
}

impl MailSystem {
    /// The instance shared by every test of this binary run, started on first use. Tests
    /// sharing it must not stop its servers, and should use their own users ([`Self::new_user`]).
    pub fn shared() -> &'static MailSystem {
        static SHARED: OnceLock<MailSystem> = OnceLock::new();
        SHARED.get_or_init(|| {
            sweep_leftovers();
            let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
            MailSystem::start_in(dir, None, &[])
        })
    }

    /// The instance of `shape` shared by every test of this binary run, started on first use
    /// (see [`Self::shared`]): Dovecot configured like another server people have.
    pub fn shaped(shape: Shape) -> &'static MailSystem {
        static SHAPED: [OnceLock<MailSystem>; 5] = [const { OnceLock::new() }; 5];
        SHAPED[shape as usize].get_or_init(|| {
            sweep_leftovers();
            let name = shape.name();
            let dir =
                std::env::temp_dir().join(format!("{DIR_PREFIX}{}-{name}", std::process::id()));
            MailSystem::start_in(dir, None, &["--shape", name])
        })
    }

    /// An instance of its own, for a test that stops and restarts servers. Dropping it stops
    /// the servers and removes its directory.
    pub fn start_dedicated() -> MailSystem {
        MailSystem::dedicated(&[])
    }

    /// The shared instance of the OAuth2 shape (`mailsystem start --oauth2`): Dovecot and
    /// Postfix also take bearer tokens from the local token service ([`tokens`]).
    pub fn shared_oauth2() -> &'static MailSystem {
        static SHARED: OnceLock<MailSystem> = OnceLock::new();
        SHARED.get_or_init(|| {
            sweep_leftovers();
            let dir =
                std::env::temp_dir().join(format!("{DIR_PREFIX}{}-oauth2", std::process::id()));
            MailSystem::start_in(dir, None, &["--oauth2"])
        })
    }

    /// A dedicated instance of the OAuth2 shape.
    pub fn start_dedicated_oauth2() -> MailSystem {
        MailSystem::dedicated(&["--oauth2"])
    }

    fn dedicated(options: &[&str]) -> MailSystem {
        sweep_leftovers();
        let tempdir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .expect("a temporary directory can be created");
        let dir = tempdir.path().to_owned();
        MailSystem::start_in(dir, Some(tempdir), options)
    }

    /// Starts the servers in `dir`. The script's reaper watches this process, so the servers
    /// stop when the test binary exits, even if it panics or is killed.
    fn start_in(dir: PathBuf, tempdir: Option<TempDir>, options: &[&str]) -> MailSystem {
        let pid = std::process::id().to_string();
        let mut args = vec!["start", path_str(&dir), "--watch-pid", &pid];
        args.extend_from_slice(options);
        run_script(&args);
        let env_file = dir.join("env");
        let text = std::fs::read_to_string(&env_file)
            .unwrap_or_else(|err| panic!("reading {}: {err}", env_file.display()));
        MailSystem {
            dir,
            env: parse_env(&text),
            tempdir,
        }
    }

    /// The directory holding this instance's config, logs (`log/`) and mail (`mail/USER/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Plaintext IMAP (STARTTLS offered).
    pub fn imap_port(&self) -> u16 {
        self.port("IMAP_PORT")
    }

    /// IMAP over implicit TLS; the certificate verifies with [`Self::ca_file`].
    pub fn imaps_port(&self) -> u16 {
        self.port("IMAPS_PORT")
    }

    /// Postfix's SMTP port: no authentication, accepts mail for any `…@delega.test`.
    pub fn smtp_port(&self) -> u16 {
        self.port("SMTP_PORT")
    }

    /// Postfix's submission port: STARTTLS required, then AUTH with a user's password.
    pub fn submission_port(&self) -> u16 {
        self.port("SUBMISSION_PORT")
    }

    /// Postfix's SMTPS port: implicit TLS, then AUTH with a user's password.
    pub fn smtps_port(&self) -> u16 {
        self.port("SMTPS_PORT")
    }

    /// Dovecot's LMTP port, where Postfix delivers.
    pub fn lmtp_port(&self) -> u16 {
        self.port("LMTP_PORT")
    }

    /// The PEM file of the test CA that signed the servers' certificate (for `localhost` and
    /// `127.0.0.1`).
    pub fn ca_file(&self) -> PathBuf {
        PathBuf::from(self.var("CA_FILE"))
    }

    /// The mail domain, `delega.test`.
    pub fn domain(&self) -> &str {
        self.var("DOMAIN")
    }

    /// Every user's password.
    pub fn password(&self) -> &str {
        self.var("PASSWORD")
    }

    /// Creates a user no other test uses, such as `giulia-7@delega.test`, and returns its
    /// address. It can log in at once: each user has a passwd-file of its own, which Dovecot
    /// reads on first use (it re-checks a file it has read at most once a second).
    pub fn new_user(&self, prefix: &str) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        run_script(&["adduser", path_str(&self.dir), &name]);
        format!("{name}@{}", self.domain())
    }

    /// Creates the user `name` (`NAME@domain`, the common password) and returns its address:
    /// for a test that needs a user to appear later, under a name it chose.
    pub fn add_user(&self, name: &str) -> String {
        run_script(&["adduser", path_str(&self.dir), name]);
        format!("{name}@{}", self.domain())
    }

    /// Sends `raw` to `rcpt` through Postfix's SMTP port, as mail from outside arrives: it is
    /// queued there while Dovecot is down, and delivered when it is back.
    pub fn send(&self, raw: &[u8], rcpt: &str) {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), raw).expect("the message");
        run_script(&["deliver", path_str(&self.dir), path_str(file.path()), rcpt]);
    }

    /// Stops Dovecot (IMAP and LMTP). Takes about a second: Dovecot's shutdown waits for its
    /// log process.
    pub fn stop_dovecot(&self) {
        run_script(&["stop", path_str(&self.dir), "dovecot"]);
    }

    /// Starts Dovecot again, on the same ports, with the mail it had.
    pub fn start_dovecot(&self) {
        run_script(&["start", path_str(&self.dir), "dovecot"]);
    }

    /// Stops Postfix (SMTP and submission). Mail already queued stays queued.
    pub fn stop_postfix(&self) {
        run_script(&["stop", path_str(&self.dir), "postfix"]);
    }

    /// Gives `user`'s Inbox a new UIDVALIDITY, as a server does after a restore.
    pub fn renumber_inbox(&self, user: &str, uidvalidity: u32) {
        let status = std::process::Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .args(["mailbox", "update", "-u", user])
            .args(["--uid-validity", &uidvalidity.to_string(), "INBOX"])
            .status()
            .expect("run doveadm");
        assert!(status.success(), "doveadm mailbox update failed");
    }

    /// Starts Postfix again, on the same ports.
    pub fn start_postfix(&self) {
        run_script(&["start", path_str(&self.dir), "postfix"]);
    }

    /// The token service's port (OAuth2 shape only).
    pub fn token_port(&self) -> u16 {
        self.port("TOKEN_PORT")
    }

    fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{}/env has no {key}", self.dir.display()))
    }

    fn port(&self, key: &str) -> u16 {
        let value = self.var(key);
        value
            .parse()
            .unwrap_or_else(|err| panic!("{key}={value} in {}/env: {err}", self.dir.display()))
    }
}

impl Drop for MailSystem {
    fn drop(&mut self) {
        // Only dedicated instances own their servers; the shared one is never dropped anyway.
        if self.tempdir.is_some() {
            stop_quietly(&self.dir);
        }
    }
}

/// `scripts/mailsystem`, found from the crate root whatever the test's working directory.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mailsystem")
}

/// Runs the script and panics with its output if it fails: a test cannot go on without its
/// mail system, and the script's message (with log tails) says why.
fn run_script(args: &[&str]) {
    let output = Command::new(script())
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("running {} {args:?}: {err}", script().display()));
    if !output.status.success() {
        panic!(
            "{} {args:?} failed ({}):\n{}{}",
            script().display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
}

/// Stops the servers in `dir` without panicking: used on drop, possibly during a panic.
fn stop_quietly(dir: &Path) {
    match Command::new(script()).arg("stop").arg(dir).output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => eprintln!(
            "stopping the mail system in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(err) => eprintln!("stopping the mail system in {}: {err}", dir.display()),
    }
}

/// Removes instance directories left by test binaries that have exited (their reaper has
/// stopped the servers; stopping again is harmless). Once per binary run.
fn sweep_leftovers() {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
                continue;
            };
            let Ok(pid) = rest.split('-').next().unwrap_or_default().parse::<u32>() else {
                continue;
            };
            if Path::new("/proc").join(pid.to_string()).exists() {
                continue;
            }
            stop_quietly(&entry.path());
            // Another binary may be sweeping the same directory: losing that race is fine.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    });
}

/// Parses the script's `DIR/env`: `KEY=value` lines (values need no unquoting: the script
/// writes only ports, plain words and temp paths).
fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}
