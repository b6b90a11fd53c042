//! Passwords: where they come from, and a type that never prints them.
//!
//! The config only names a source (a file, an environment variable, a command, or a systemd
//! credential); the password itself is read when a connection needs it and lives in a
//! [`Password`], whose `Debug` and `Display` print `***`, so it cannot reach a log by accident.

use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// The keys a password source is written under, one per [`Secret`] a config can name.
pub(super) const PASSWORD_KEYS: [&str; 4] = [
    "password_file",
    "password_env",
    "password_command",
    "password_credential",
];

/// Where a password is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// The first line of this file.
    File(PathBuf),
    /// This environment variable.
    Env(String),
    /// The first line printed by this shell command (e.g. `pass show mail/giulia`).
    Command(String),
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/<name>` (`LoadCredential=`).
    Credential(String),
}

/// A password in memory. Prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password itself, for the login command only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::File(path) => write!(f, "password_file {}", path.display()),
            Secret::Env(var) => write!(f, "password_env {var}"),
            Secret::Command(_) => f.write_str("password_command"),
            Secret::Credential(name) => write!(f, "password_credential {name}"),
        }
    }
}

impl Secret {
    /// Reads the password now.
    pub fn resolve(&self) -> anyhow::Result<Password> {
        let raw = match self {
            Secret::File(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read password file {}", path.display()))?,
            Secret::Env(var) => std::env::var(var)
                .with_context(|| format!("environment variable {var} is not set"))?,
            Secret::Command(cmd) => {
                let out = Command::new("/bin/sh")
                    .arg("-c")
                    .arg(cmd)
                    .output()
                    .context("cannot run password_command")?;
                command_output(out)?
            }
            Secret::Credential(name) => {
                let path = credential_path(name)?;
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read credential {}", path.display()))?
            }
        };
        self.first_line(&raw)
    }

    /// Reads the password now, from a connection's task: a `password_command` runs at most
    /// `timeout`, and is killed if the wait is dropped (delega stopping), so neither a hung
    /// command nor a stop waits on it.
    pub async fn resolve_within(&self, timeout: std::time::Duration) -> anyhow::Result<Password> {
        let Secret::Command(cmd) = self else {
            return self.resolve();
        };
        let run = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = match tokio::time::timeout(timeout, run).await {
            Err(_) => bail!("password_command did not finish within {timeout:?}"),
            Ok(out) => out.context("cannot run password_command")?,
        };
        self.first_line(&command_output(out)?)
    }

    fn first_line(&self, raw: &str) -> anyhow::Result<Password> {
        let password = raw.lines().next().unwrap_or("").to_string();
        if password.is_empty() {
            bail!("the password from {self} is empty");
        }
        Ok(Password(password))
    }
}

/// What a password command printed, or why it failed: stderr may say why; stdout might
/// hold a secret, so it is never shown.
fn command_output(out: std::process::Output) -> anyhow::Result<String> {
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "password_command failed ({}): {}",
            out.status,
            err.lines().next().unwrap_or("")
        );
    }
    String::from_utf8(out.stdout).context("password_command printed non-UTF-8")
}

/// Runs a password command once, as `delega check` does, with a time limit: `Ok` when it
/// exits 0 with a non-empty first line. Its output is read and dropped, never shown; only
/// the first line of its stderr may appear in the error.
pub fn try_command(key: &str, command: &str, timeout: std::time::Duration) -> anyhow::Result<()> {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {key}"))?;
    // Pipes are drained by threads so that a chatty command cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("waiting for {key}"))?
        {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{key} did not finish within {} s", timeout.as_secs_f32());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    if !status.success() {
        let err = String::from_utf8_lossy(&err);
        bail!(
            "{key} failed ({status}): {}",
            err.lines().next().unwrap_or("")
        );
    }
    let first = out.split(|b| *b == b'\n').next().unwrap_or_default();
    if first.iter().all(u8::is_ascii_whitespace) {
        bail!("{key} printed nothing on its first line");
    }
    Ok(())
}

/// `$CREDENTIALS_DIRECTORY/<name>`, as systemd's `LoadCredential=` provides it.
pub fn credential_path(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").context(
        "CREDENTIALS_DIRECTORY is not set: password_credential works under systemd \
         with LoadCredential= in the unit",
    )?;
    Ok(PathBuf::from(dir).join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        let p = Password("hunter2".into());
        assert_eq!(format!("{p} {p:?}"), "*** Password(***)");
    }

    #[test]
    fn reads_the_first_line_of_a_file_or_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\nignored\n").expect("write");
        let p = Secret::File(path).resolve().expect("resolves");
        assert_eq!(p.expose(), "s3cret");
        let p = Secret::Command("printf 'from-cmd\\n'".into())
            .resolve()
            .expect("resolves");
        assert_eq!(p.expose(), "from-cmd");
    }

    #[test]
    fn trying_a_command_reports_failure_emptiness_and_hangs_but_never_its_output() {
        let quick = std::time::Duration::from_secs(5);
        try_command("password_command", "echo s3cret", quick).expect("works");
        let err = try_command(
            "password_command",
            "echo s3cret; echo 'not in the store' >&2; exit 1",
            quick,
        )
        .expect_err("fails");
        let msg = format!("{err:#}");
        assert!(msg.contains("not in the store"), "{msg}");
        assert!(!msg.contains("s3cret"), "{msg}");
        let err = try_command("token_command", "true", quick).expect_err("empty");
        assert!(format!("{err:#}").contains("nothing"), "{err:#}");
        let err = try_command(
            "password_command",
            "exec sleep 30",
            std::time::Duration::from_millis(100),
        )
        .expect_err("hangs");
        assert!(format!("{err:#}").contains("did not finish"), "{err:#}");
    }

    #[test]
    fn failures_say_what_and_never_the_secret() {
        let err = Secret::Command("echo leaked; echo oops >&2; exit 3".into())
            .resolve()
            .expect_err("fails");
        let msg = format!("{err:#}");
        assert!(msg.contains("oops"), "{msg}");
        assert!(!msg.contains("leaked"), "{msg}");
        let err = Secret::File("/nonexistent/pw".into())
            .resolve()
            .expect_err("fails");
        assert!(format!("{err:#}").contains("/nonexistent/pw"));
    }
}
