//! Walks the config TOML, checks every value where it stands, and builds the [`Config`].
//!
//! Every mistake is reported with its position and a fix; reading goes on after one so that
//! all of them come out together. Rules directories are loaded here too, once the account's
//! assistants are known, so that a rule naming an unknown assistant is caught.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::rules::{load_rules_dir, rules_dir_problem};
use super::{
    Account, Assistant, Config, Digest, Folders, Forwarding, Language, LogFormat, Metrics, Secret,
    Security, Server, Smtp,
};
use crate::classify::{Category, Rule, RuleSet};
use crate::config::diagnostic::{Diagnostic, SourceFile, did_you_mean};
use crate::config::tomlread::{Reader, Table};
use crate::pacing::DEFAULT_RATE;

const TOP_KEYS: &[&str] = &["state", "log", "smtp", "account", "metrics", "connect_rate"];
const SERVER_KEYS: &[&str] = &[
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
const IMAP_EXTRA: &[&str] = &["mailbox", "poll_secs"];
const ACCOUNT_KEYS: &[&str] = &[
    "name",
    "imap",
    "rules",
    "default_category",
    "default_assistant",
    "mode",
    "backfill_days",
    "folders",
    "digest",
    "forward",
    "assistant",
];
pub(super) const PASSWORD_KEYS: [&str; 4] = [
    "password_file",
    "password_env",
    "password_command",
    "password_credential",
];

/// Reads the whole config; `None` when it is too broken to build.
pub fn config(source: &SourceFile) -> (Option<Config>, Vec<Diagnostic>) {
    let reader = Reader::new(source);
    let mut rules = RulesRead::default();
    let config = reader.parse().and_then(|doc| {
        let root = reader.root(&doc);
        build(&root, &mut rules)
    });
    let mut diagnostics = reader.into_diagnostics();
    diagnostics.extend(rules.diagnostics);
    (config, diagnostics)
}

/// Where each `password_command` and `token_command` is written: in `[smtp]` and in each
/// account's `imap`.
pub fn commands(source: &SourceFile) -> Vec<super::CommandSetting> {
    let reader = Reader::new(source);
    let Some(doc) = reader.parse() else {
        return Vec::new();
    };
    let root = reader.root(&doc);
    let mut servers: Vec<Table<'_, '_>> = root
        .get("smtp")
        .and_then(|v| v.table())
        .into_iter()
        .collect();
    for account in root
        .get("account")
        .and_then(|v| v.array())
        .unwrap_or_default()
    {
        if let Some(imap) = account
            .table()
            .and_then(|a| a.get("imap"))
            .and_then(|v| v.table())
        {
            servers.push(imap);
        }
    }
    let keys = ["password_command", "token_command"];
    servers
        .iter()
        .flat_map(|t| keys.iter().filter_map(|&k| Some((k, t.str(k)?))))
        .map(|(key, cmd)| super::CommandSetting {
            at: source.diagnostic(
                crate::config::diagnostic::Severity::Error,
                cmd.span(),
                "",
                None,
            ),
            key,
            command: cmd.into_inner(),
        })
        .collect()
}

/// The rules directories read so far. Accounts naming the same directory with the same
/// assistants share one compiled copy (a few hundred kB each, for a hundred accounts), and
/// its errors are told once.
#[derive(Default)]
struct RulesRead {
    diagnostics: Vec<Diagnostic>,
    loaded: HashMap<(PathBuf, Vec<String>), Arc<[Rule]>>,
}

impl RulesRead {
    fn load(&mut self, dir: &Path, assistants: &[&str]) -> Arc<[Rule]> {
        let mut ids: Vec<String> = assistants.iter().map(|id| id.to_string()).collect();
        ids.sort_unstable();
        let key = (dir.to_path_buf(), ids);
        if let Some(rules) = self.loaded.get(&key) {
            return Arc::clone(rules);
        }
        let (rules, diagnostics) = load_rules_dir(dir, assistants);
        self.diagnostics.extend(diagnostics);
        let rules: Arc<[Rule]> = rules.into();
        self.loaded.insert(key, Arc::clone(&rules));
        rules
    }
}

fn build(root: &Table<'_, '_>, rules: &mut RulesRead) -> Option<Config> {
    let reader = root.reader();
    let base = base_dir(reader.source().path());
    root.check_keys("the config", TOP_KEYS);

    let state = root
        .str("state")
        .map(|s| base.join(s.get_ref()))
        .unwrap_or_else(|| default_state(&base));
    let log_format = root.table("log").map_or(Some(LogFormat::Text), |t| {
        t.check_keys("[log]", &["format"]);
        match t.str("format") {
            None => Some(LogFormat::Text),
            Some(f) => choice(
                &t,
                &f,
                &[("text", LogFormat::Text), ("json", LogFormat::Json)],
            ),
        }
    });
    let state_dir = base_dir(&state);
    let metrics = root.table("metrics").map(|t| metrics(&t));
    let connect_rate = root.uint("connect_rate").map_or(DEFAULT_RATE, |n| {
        match u32::try_from(*n.get_ref()) {
            Ok(rate) if rate > 0 => rate,
            _ => {
                reader.error(
                    n.span(),
                    "`connect_rate` must be from 1 to 4294967295 connections a second",
                    Some(format!(
                        "write how many IMAP connections delega may open each second, e.g. {DEFAULT_RATE}"
                    )),
                );
                DEFAULT_RATE
            }
        }
    });
    let smtp = root
        .required("smtp", "the config", "[smtp] with host, security and from")
        .and_then(|v| v.table())
        .and_then(|t| smtp(&t, &base, &state_dir));

    let mut accounts = Vec::new();
    // A set, not a scan of the accounts read so far: an office of 10,000 accounts would
    // take 50 million comparisons (seconds) to be checked.
    let mut names = std::collections::HashSet::new();
    match root.array("account") {
        None if root.get("account").is_none() => reader.error(
            0..0,
            "no account is configured",
            Some("add an [[account]] table for each inbox delega should watch".into()),
        ),
        None => {}
        Some(items) => {
            for item in items {
                let Some(t) = item.table() else { continue };
                if let Some(account) = account(&t, &base, &state_dir, rules) {
                    if !names.insert(account.name.clone()) {
                        let span = t.get("name").map(|v| v.span()).unwrap_or(t.span());
                        reader.error(
                            span,
                            format!("duplicate account name `{}`", account.name),
                            Some("give each account its own name".into()),
                        );
                    }
                    accounts.push(account);
                }
            }
        }
    }
    if accounts.is_empty() && root.get("account").is_some() && !reader.has_errors() {
        reader.error(
            root.get("account").map(|v| v.span()).unwrap_or_default(),
            "no account is configured",
            Some("add an [[account]] table for each inbox delega should watch".into()),
        );
    }
    Some(Config {
        path: reader.source().path().to_path_buf(),
        state,
        log_format: log_format?,
        smtp: smtp?,
        accounts,
        metrics: metrics.unwrap_or(Some(None))?,
        connect_rate,
    })
}

/// `[metrics]`: `listen` must be a loopback address unless `allow_remote = true` says the
/// account names and counts may be read from the network. `Some(None)`: nothing to serve.
fn metrics(t: &Table<'_, '_>) -> Option<Option<Metrics>> {
    let reader = t.reader();
    t.check_keys("[metrics]", &["listen", "allow_remote"]);
    let allow_remote = t.bool("allow_remote").unwrap_or(false);
    let listen = t.required("listen", "[metrics]", "listen = \"127.0.0.1:9464\"")?;
    let listen = listen.str()?;
    let Ok(addr) = listen.get_ref().parse::<std::net::SocketAddr>() else {
        reader.error(
            listen.span(),
            format!("`{}` is not an address and port", listen.get_ref()),
            Some(
                "write an IP address and a port, e.g. \"127.0.0.1:9464\" or \"[::1]:9464\"".into(),
            ),
        );
        return None;
    };
    if !addr.ip().is_loopback() && !allow_remote {
        reader.error(
            listen.span(),
            format!("`{addr}` is not a loopback address: anyone who reaches it reads account names and counts"),
            Some("listen on 127.0.0.1 and let a local Prometheus or a tunnel scrape it, or add `allow_remote = true` under [metrics] if the network is trusted".into()),
        );
        return None;
    }
    Some(Some(Metrics { listen: addr }))
}

fn base_dir(config_path: &Path) -> PathBuf {
    config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `$STATE_DIRECTORY/state.db` under systemd, else beside the config file.
fn default_state(base: &Path) -> PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        // systemd may list several directories separated by ':'; the first is ours.
        Some(dirs) => {
            let dirs = dirs.to_string_lossy().into_owned();
            let first = dirs.split(':').next().unwrap_or(".");
            PathBuf::from(first).join("state.db")
        }
        None => base.join("delega-state.db"),
    }
}

/// A string that must be one of a few words.
pub(super) fn choice<T: Copy>(
    t: &Table<'_, '_>,
    value: &Spanned<String>,
    options: &[(&str, T)],
) -> Option<T> {
    let found = options.iter().find(|(name, _)| name == value.get_ref());
    if found.is_none() {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let help = match did_you_mean(value.get_ref(), &names) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("use one of: {}", names.join(", ")),
        };
        t.reader().error(
            value.span(),
            format!("unknown value `{}`", value.get_ref()),
            Some(help),
        );
    }
    found.map(|(_, v)| *v)
}

/// Which server a table describes: the name of its OAuth2 grant, and whether it is SMTP.
struct ServerRole<'p> {
    key: String,
    state_dir: &'p Path,
    smtp: bool,
}

fn server(
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
        password(t, base, what)
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
        if let Err(err) = std::fs::metadata(&path) {
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

fn password(t: &Table<'_, '_>, base: &Path, what: &str) -> Option<Secret> {
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
            match std::fs::File::open(&path) {
                Err(err) => reader.error(
                    span,
                    format!("cannot read password file {}: {err}", path.display()),
                    Some("create it with the password alone on its first line, mode 0600".into()),
                ),
                Ok(file) => warn_if_world_readable(t, span, &path, &file),
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

#[cfg(unix)]
fn warn_if_world_readable(
    t: &Table<'_, '_>,
    span: std::ops::Range<usize>,
    path: &Path,
    file: &std::fs::File,
) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = file.metadata()
        && meta.permissions().mode() & 0o004 != 0
    {
        t.reader().warning(
            span,
            format!("password file {} is readable by every user", path.display()),
            Some(format!("chmod 600 {}", path.display())),
        );
    }
}

#[cfg(not(unix))]
fn warn_if_world_readable(
    _: &Table<'_, '_>,
    _: std::ops::Range<usize>,
    _: &Path,
    _: &std::fs::File,
) {
}

fn smtp(t: &Table<'_, '_>, base: &Path, state_dir: &Path) -> Option<Smtp> {
    t.check_keys(
        "[smtp]",
        &[SERVER_KEYS, SMTP_EXTRA, super::oauth2::KEYS].concat(),
    );
    let role = ServerRole {
        key: "smtp".into(),
        state_dir,
        smtp: true,
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

fn account(
    t: &Table<'_, '_>,
    base: &Path,
    state_dir: &Path,
    rules_read: &mut RulesRead,
) -> Option<Account> {
    let reader = t.reader();
    t.check_keys(
        "an [[account]]",
        &[ACCOUNT_KEYS, &super::tasks::KEYS].concat(),
    );
    let name = t
        .required("name", "this [[account]]", "name = \"giulia\"")
        .and_then(|v| v.str());
    if let Some(n) = &name {
        let ok = !n.get_ref().is_empty()
            && n.get_ref()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            reader.error(
                n.span(),
                format!(
                    "account name `{}` has characters that cannot be used",
                    n.get_ref()
                ),
                Some("use letters, digits, `-` and `_` (it appears in logs and unit names)".into()),
            );
        }
    }
    let imap_table = t
        .required(
            "imap",
            "this [[account]]",
            "imap = { host = \"...\", username = \"...\", password_file = \"...\" }",
        )
        .and_then(|v| v.table());
    let (imap, mailbox, poll) = match &imap_table {
        Some(i) => {
            i.check_keys(
                "`imap`",
                &[SERVER_KEYS, IMAP_EXTRA, super::oauth2::KEYS].concat(),
            );
            let role = ServerRole {
                key: format!(
                    "imap-{}",
                    name.as_ref().map_or("", |n| n.get_ref().as_str())
                ),
                state_dir,
                smtp: false,
            };
            if i.get("username").is_none() {
                i.reader().error(
                    i.span(),
                    "`imap` has no `username`",
                    Some("add `username = \"giulia@example.com\"`".into()),
                );
            }
            (
                server(i, base, "`imap`", [993, 143, 143], &role),
                i.str("mailbox")
                    .map_or_else(|| "INBOX".to_string(), Spanned::into_inner),
                Duration::from_secs(i.uint("poll_secs").map_or(60, |s| s.into_inner().max(5))),
            )
        }
        None => (None, String::new(), Duration::ZERO),
    };

    let assistants = assistants(t);
    let ids: Vec<&str> = assistants.iter().map(|a| a.id.as_str()).collect();
    let default_category = match t.get("default_category") {
        None => Some(Category::Strategic),
        Some(v) => v.str().and_then(|s| {
            choice(
                t,
                &s,
                &[
                    ("strategic", Category::Strategic),
                    ("delegable", Category::Delegable),
                    ("noise", Category::Noise),
                ],
            )
        }),
    };
    if default_category == Some(Category::Delegable) {
        let span = t
            .get("default_category")
            .map(|v| v.span())
            .unwrap_or(t.span());
        reader.error(
            span,
            "the default cannot be `delegable`: it would name no assistant",
            Some("use `strategic` (the safe default) or `noise`".into()),
        );
    }
    let default_assistant = t.str("default_assistant").and_then(|a| {
        if ids.contains(&a.get_ref().as_str()) {
            Some(a.into_inner())
        } else {
            reader.error(
                a.span(),
                format!("unknown assistant `{}`", a.get_ref()),
                Some(format!("this account's assistants are: {}", ids.join(", "))),
            );
            None
        }
    });
    let observe = match t.str("mode") {
        None => Some(false),
        Some(m) => choice(t, &m, &[("act", false), ("observe", true)]),
    };

    let rules_setting = t
        .required("rules", "this [[account]]", "rules = \"rules/giulia\"")
        .and_then(|v| v.str());
    let rules_dir = rules_setting.as_ref().map(|r| base.join(r.get_ref()));
    // A missing or empty directory is the setting's mistake: reported where it is written.
    let rules =
        rules_setting
            .zip(rules_dir.as_ref())
            .and_then(|(at, dir)| match rules_dir_problem(dir) {
                Some((message, help)) => {
                    reader.error(at.span(), message, Some(help));
                    None
                }
                None => Some(rules_read.load(dir, &ids)),
            });

    let folders = folders(t);
    let digest = t
        .required(
            "digest",
            "this [[account]]",
            "digest = { to = \"giulia@example.com\" }",
        )
        .and_then(|v| v.table())
        .and_then(|d| digest(&d));
    let forward = forwarding(t);
    let tasks = super::tasks::account(t);

    Some(Account {
        name: name?.into_inner(),
        imap: imap?,
        mailbox,
        poll,
        rules: RuleSet {
            rules: rules?,
            default: default_category?,
        },
        rules_dir: rules_dir?,
        default_assistant,
        observe: observe?,
        backfill_days: t
            .uint("backfill_days")
            .map_or(0, |d| u32::try_from(d.into_inner()).unwrap_or(u32::MAX)),
        folders: folders?,
        digest: digest?,
        forward: forward?,
        tasks: tasks?,
        assistants,
    })
}

fn assistants(t: &Table<'_, '_>) -> Vec<Assistant> {
    let mut out: Vec<Assistant> = Vec::new();
    for item in t.array("assistant").unwrap_or_default() {
        let Some(a) = item.table() else { continue };
        a.check_keys(
            "an [[account.assistant]]",
            &["id", "name", "address", "role", "daily_list"],
        );
        let what = "this [[account.assistant]]";
        let id = a
            .required("id", what, "id = \"marta\"")
            .and_then(|v| v.str());
        let name = a
            .required("name", what, "name = \"Marta Verdi\"")
            .and_then(|v| v.str());
        let address = a
            .required("address", what, "address = \"marta@office.example\"")
            .and_then(|v| v.str())
            .and_then(|v| address(&a, v));
        if let Some(id) = &id
            && out.iter().any(|o| &o.id == id.get_ref())
        {
            a.reader().error(
                id.span(),
                format!("duplicate assistant id `{}`", id.get_ref()),
                Some("give each assistant its own id".into()),
            );
        }
        if let (Some(id), Some(name), Some(address)) = (id, name, address) {
            out.push(Assistant {
                id: id.into_inner(),
                name: name.into_inner(),
                address,
                role: a.str("role").map(Spanned::into_inner),
                daily_list: a.bool("daily_list").unwrap_or(false),
            });
        }
    }
    out
}

/// A bare email address, lower-cased.
fn address(t: &Table<'_, '_>, v: Spanned<String>) -> Option<String> {
    match lettre::Address::from_str(v.get_ref().trim()) {
        Ok(a) => Some(a.to_string().to_lowercase()),
        Err(err) => {
            t.reader().error(
                v.span(),
                format!("`{}` is not an email address: {err}", v.get_ref()),
                Some("write the bare address, e.g. \"marta@office.example\"".into()),
            );
            None
        }
    }
}

fn folders(t: &Table<'_, '_>) -> Option<Folders> {
    let defaults = Folders {
        noise: "Noise".into(),
        delegated: "Delegated".into(),
    };
    let Some(f) = t.get("folders") else {
        return Some(defaults);
    };
    let f = f.table()?;
    f.check_keys("`folders`", &["noise", "delegated"]);
    let folders = Folders {
        noise: f.str("noise").map_or(defaults.noise, Spanned::into_inner),
        delegated: f
            .str("delegated")
            .map_or(defaults.delegated, Spanned::into_inner),
    };
    for name in [&folders.noise, &folders.delegated] {
        if name.eq_ignore_ascii_case("inbox") || name.is_empty() {
            f.reader().error(
                f.span(),
                format!("`{name}` cannot be a filing folder"),
                Some("name folders other than the Inbox, e.g. \"Noise\"".into()),
            );
        }
    }
    Some(folders)
}

fn digest(d: &Table<'_, '_>) -> Option<Digest> {
    let reader = d.reader();
    d.check_keys(
        "`digest`",
        &[
            "to",
            "at",
            "timezone",
            "language",
            "minutes_per_message",
            "hourly_value",
            "currency",
            "skip_empty",
            "max_listed",
        ],
    );
    let to = d
        .required("to", "`digest`", "to = \"giulia@example.com\"")
        .and_then(|v| v.str())
        .and_then(|v| address(d, v));
    let at = match d.str("at") {
        None => Some(jiff::civil::time(18, 0, 0, 0)),
        Some(s) => match jiff::civil::Time::strptime("%H:%M", s.get_ref()) {
            Ok(t) => Some(t),
            Err(_) => {
                reader.error(
                    s.span(),
                    format!("`{}` is not a time of day", s.get_ref()),
                    Some("write hours and minutes, 24-hour clock: \"18:00\"".into()),
                );
                None
            }
        },
    };
    let (timezone_name, timezone) = match d.str("timezone") {
        None => {
            let tz = jiff::tz::TimeZone::system();
            let name = tz.iana_name().unwrap_or("UTC").to_string();
            (Some(name), Some(tz))
        }
        Some(s) => match jiff::tz::TimeZone::get(s.get_ref()) {
            Ok(tz) => (Some(s.into_inner()), Some(tz)),
            Err(_) => {
                reader.error(
                    s.span(),
                    format!("unknown timezone `{}`", s.get_ref()),
                    Some("use an IANA name such as \"Europe/Rome\" or \"America/New_York\"".into()),
                );
                (None, None)
            }
        },
    };
    let language = match d.str("language") {
        None => Some(Language::It),
        Some(l) => choice(d, &l, &[("it", Language::It), ("en", Language::En)]),
    };
    let hourly_value = d.number("hourly_value").and_then(|v| {
        if *v.get_ref() < 0.0 {
            reader.error(
                v.span(),
                "a negative hourly value",
                Some("write the value of one hour of your time, e.g. `120`".into()),
            );
            None
        } else {
            Some(v.into_inner())
        }
    });
    Some(Digest {
        to: to?,
        at: at?,
        timezone_name: timezone_name?,
        timezone: timezone?,
        language: language?,
        minutes_per_message: d
            .uint("minutes_per_message")
            .map_or(2, |m| u32::try_from(m.into_inner()).unwrap_or(u32::MAX)),
        hourly_value,
        currency: d
            .str("currency")
            .map_or_else(|| "EUR".to_string(), Spanned::into_inner),
        skip_empty: d.bool("skip_empty").unwrap_or(false),
        max_listed: d.uint("max_listed").map_or(50, |n| {
            u32::try_from(n.into_inner()).unwrap_or(u32::MAX).max(1)
        }),
    })
}

fn forwarding(t: &Table<'_, '_>) -> Option<Forwarding> {
    let defaults = Forwarding {
        subject_prefix: "[delega]".into(),
        max_per_hour: 30,
        max_received: 25,
    };
    let Some(f) = t.get("forward") else {
        return Some(defaults);
    };
    let f = f.table()?;
    f.check_keys(
        "`forward`",
        &["subject_prefix", "max_per_hour", "max_received"],
    );
    // 0 would be read as "never forward" by one reader and "no limit" by another: neither
    // is what a limit means, so it is refused with the two settings that say those things.
    let count = |key: &str, default: u32| {
        f.uint(key).map_or(default, |n| match *n.get_ref() {
            0 => {
                f.reader().error(
                    n.span(),
                    format!("`{key}` must be at least 1"),
                    Some(if key == "max_per_hour" {
                        "to forward nothing for now, set the account's `mode = \"observe\"`; \
                         otherwise write a limit, e.g. 30"
                            .into()
                    } else {
                        format!("write a limit, e.g. {default}")
                    }),
                );
                default
            }
            n => u32::try_from(n).unwrap_or(u32::MAX),
        })
    };
    Some(Forwarding {
        subject_prefix: f
            .str("subject_prefix")
            .map_or(defaults.subject_prefix, Spanned::into_inner),
        max_per_hour: count("max_per_hour", defaults.max_per_hour),
        max_received: count("max_received", defaults.max_received),
    })
}
