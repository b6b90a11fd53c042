//! Reads a server table — an account's `imap` or the `[smtp]` table — into a [`Server`]:
//! host, port and security (or a provider's preset), the password source or OAuth2 grant,
//! the CA file and the timeout. Warns when a password would cross the network in clear.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use toml::Spanned;

use super::secret::PASSWORD_KEYS;
use super::tomlread::{Table, choice};
use super::{Secret, Security, Server, Smtp};

pub(super) const SERVER_KEYS: &[&str] = &[
    "host",
    // Refused with its own message (see `password`), not as an unknown key.
    "password",
    "port",
    "security",
    "username",
    "password_file",
    "password_env",
    "password_command",
    "password_credential",
    "ca_file",
    "timeout_secs",
];
const SMTP_EXTRA: &[&str] = &["from"];

/// Which server a table describes: the name of its OAuth2 grant, and whether it is SMTP.
pub(super) struct ServerRole<'p> {
    pub(super) key: String,
    pub(super) state_dir: &'p Path,
    pub(super) smtp: bool,
    /// What the file system said about the files named so far.
    pub(super) files: &'p FileChecks,
}

/// What the file system said about each password file and CA file, asked once per path
/// while a config is read: when the accounts of an office share one CA file (or one
/// password file), 10,000 accounts asked the same questions 10,000 times. Every setting
/// naming a file still hears of its problem at its own place.
#[derive(Default)]
pub(super) struct FileChecks {
    /// Password files: their permission bits (where the platform has them), or why they
    /// cannot be opened.
    opened: RefCell<HashMap<PathBuf, Result<Option<u32>, String>>>,
    /// CA files: why their metadata cannot be read, if it cannot.
    found: RefCell<HashMap<PathBuf, Result<(), String>>>,
}

impl FileChecks {
    fn password_file(&self, path: &Path) -> Result<Option<u32>, String> {
        self.opened
            .borrow_mut()
            .entry(path.to_path_buf())
            .or_insert_with(|| match std::fs::File::open(path) {
                Err(err) => Err(err.to_string()),
                Ok(file) => Ok(mode(&file)),
            })
            .clone()
    }

    fn ca_file(&self, path: &Path) -> Result<(), String> {
        self.found
            .borrow_mut()
            .entry(path.to_path_buf())
            .or_insert_with(|| std::fs::metadata(path).map(drop).map_err(|e| e.to_string()))
            .clone()
    }
}

#[cfg(unix)]
fn mode(file: &std::fs::File) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    file.metadata().ok().map(|meta| meta.permissions().mode())
}

#[cfg(not(unix))]
fn mode(_: &std::fs::File) -> Option<u32> {
    None
}

pub(super) fn server(
    t: &Table<'_, '_>,
    base: &Path,
    what: &str,
    ports: [u16; 3],
    role: &ServerRole<'_>,
) -> Option<Server> {
    let reader = t.reader();
    let oauth2 = super::oauth2::wants_oauth2(t);
    let provider = super::oauth2::provider(t);
    let preset = provider.map(|p| p.host(role.smtp));
    let host = match (t.get("host"), preset) {
        (None, Some((host, _, _))) => Some(Spanned::new(0..0, host.to_string())),
        _ => t
            .required("host", what, "host = \"mail.example.com\"")
            .and_then(|v| v.str()),
    };
    let security = match t.str("security") {
        None if t.get("host").is_none() && preset.is_some() => preset.map(|(_, _, s)| s),
        None => Some(Security::Tls),
        Some(s) => choice(
            t,
            &s,
            &[
                ("tls", Security::Tls),
                ("starttls", Security::StartTls),
                ("plain", Security::Plain),
            ],
        ),
    };
    let written_port = t.get("port");
    let port = match written_port.filter(|p| !p.is_str()).and_then(|p| p.uint()) {
        None if written_port.is_some() => {
            if let Some(word) = written_port.and_then(|p| p.str()) {
                reader.error(
                    word.span(),
                    format!("`port` is a number, not `{}`", word.get_ref()),
                    Some(format!(
                        "write the port number without quotes ({} with tls, {} with starttls), \
                         or leave `port` out for the default of `security`",
                        ports[0], ports[1]
                    )),
                );
            }
            None
        }
        None if t.get("host").is_none() && preset.is_some() => preset.map(|(_, p, _)| p),
        None => security.map(|s| match s {
            Security::Tls => ports[0],
            Security::StartTls => ports[1],
            Security::Plain => ports[2],
        }),
        Some(p) => match u16::try_from(*p.get_ref()) {
            Ok(port) if port > 0 => Some(port),
            _ => {
                reader.error(p.span(), "not a TCP port", Some("use 1 to 65535".into()));
                None
            }
        },
    };
    if let (Some(Security::Plain), Some(h)) = (security, &host)
        && !is_loopback(h.get_ref())
    {
        let span = t.get("security").map(|v| v.span()).unwrap_or(t.span());
        reader.warning(
            span,
            format!("{what} uses no encryption: the password crosses the network in clear"),
            Some("use `security = \"tls\"` or `\"starttls\"` unless the server is local".into()),
        );
    }
    let username = t.str("username").map(Spanned::into_inner);
    let oauth2 = oauth2
        .then(|| {
            let role = super::oauth2::Role {
                key: &role.key,
                state_dir: role.state_dir,
                smtp: role.smtp,
                provider,
            };
            super::oauth2::read(t, base, what, &role)
        })
        .flatten()
        .map(std::sync::Arc::new);
    let password = if oauth2.is_some() {
        None
    } else {
        password(t, base, what, role.files)
    };
    if username.is_some() && password.is_none() && oauth2.is_none() && !reader.has_errors() {
        reader.error(
            t.span(),
            format!("{what} has a username but no password source"),
            Some(
                "add one of password_file, password_env, password_command, password_credential"
                    .into(),
            ),
        );
    }
    let ca_file = t.str("ca_file").map(|p| {
        let path = base.join(p.get_ref());
        if let Err(err) = role.files.ca_file(&path) {
            reader.error(
                p.span(),
                format!("cannot read CA file {}: {err}", path.display()),
                Some("give the path of a PEM certificate, or remove ca_file".into()),
            );
        }
        path
    });
    let timeout = t.uint("timeout_secs").map_or(30, |s| s.into_inner().max(1));
    Some(Server {
        host: host?.into_inner(),
        port: port?,
        security: security?,
        username,
        password,
        oauth2,
        ca_file,
        timeout: Duration::from_secs(timeout),
    })
}

/// True for `localhost` and loopback addresses.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn password(t: &Table<'_, '_>, base: &Path, what: &str, files: &FileChecks) -> Option<Secret> {
    let reader = t.reader();
    if let Some(inline) = t.get("password") {
        reader.error(
            inline.span(),
            "passwords are never written in the config",
            Some(
                "put it in a file (mode 0600) and write `password_file = \"...\"`, or use \
                 password_env, password_command or password_credential"
                    .into(),
            ),
        );
    }
    let given: Vec<_> = PASSWORD_KEYS
        .iter()
        .filter_map(|k| t.str(k).map(|v| (*k, v)))
        .collect();
    if given.len() > 1 {
        reader.error(
            given[1].1.span(),
            format!("{what} has more than one password source"),
            Some("keep only one of password_file, password_env, password_command, password_credential".into()),
        );
    }
    let (key, value) = given.into_iter().next()?;
    let span = value.span();
    let value = value.into_inner();
    Some(match key {
        "password_file" => {
            let path = base.join(&value);
            match files.password_file(&path) {
                Err(err) => reader.error(
                    span,
                    format!("cannot read password file {}: {err}", path.display()),
                    Some("create it with the password alone on its first line, mode 0600".into()),
                ),
                Ok(mode) => warn_if_world_readable(t, span, &path, mode),
            }
            Secret::File(path)
        }
        "password_env" => {
            if std::env::var_os(&value).is_none() {
                reader.warning(
                    span,
                    format!("environment variable {value} is not set here"),
                    Some("make sure the service's environment sets it".into()),
                );
            }
            Secret::Env(value)
        }
        "password_command" => Secret::Command(value),
        _ => {
            if let Ok(path) = super::secret::credential_path(&value)
                && !path.exists()
            {
                reader.error(
                    span,
                    format!("credential {} does not exist", path.display()),
                    Some(format!(
                        "add `LoadCredential={value}:/path/to/secret` to the unit"
                    )),
                );
            }
            Secret::Credential(value)
        }
    })
}

/// Warns when `mode` (a password file's permission bits) lets every user read it.
fn warn_if_world_readable(
    t: &Table<'_, '_>,
    span: std::ops::Range<usize>,
    path: &Path,
    mode: Option<u32>,
) {
    if mode.is_some_and(|mode| mode & 0o004 != 0) {
        t.reader().warning(
            span,
            format!("password file {} is readable by every user", path.display()),
            Some(format!("chmod 600 {}", path.display())),
        );
    }
}

pub(super) fn smtp(
    t: &Table<'_, '_>,
    base: &Path,
    state_dir: &Path,
    files: &FileChecks,
) -> Option<Smtp> {
    t.check_keys(
        "[smtp]",
        &[SERVER_KEYS, SMTP_EXTRA, super::oauth2::KEYS].concat(),
    );
    let role = ServerRole {
        key: "smtp".into(),
        state_dir,
        smtp: true,
        files,
    };
    let server = server(t, base, "[smtp]", [465, 587, 25], &role);
    let from = t
        .required(
            "from",
            "[smtp]",
            "from = \"Giulia's inbox <delega@example.com>\"",
        )
        .and_then(|v| v.str());
    if let Some(f) = &from
        && lettre::message::Mailbox::from_str(f.get_ref()).is_err()
    {
        t.reader().error(
            f.span(),
            format!("`{}` is not a valid sender", f.get_ref()),
            Some("write `Name <address@domain>` or just `address@domain`".into()),
        );
        return None;
    }
    Some(Smtp {
        server: server?,
        from: from?.into_inner(),
    })
}
