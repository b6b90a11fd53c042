//! Walks the config TOML, checks every value where it stands, and builds the [`Config`]:
//! the top-level keys (`state`, `[log]`, `[metrics]`, `connect_rate`) here, `[smtp]` and each
//! account's `imap` in `server.rs`, each `[[account]]` in `account.rs`.
//!
//! Every mistake is reported with its position and a fix; reading goes on after one so that
//! all of them come out together. Rules directories are loaded as each account is read
//! (through `rules.rs`'s `RulesRead`, once per directory), when the account's assistants are
//! known, so that a rule naming an unknown assistant is caught.

use std::path::{Path, PathBuf};

use super::account::account;
use super::rules::RulesRead;
use super::server::{FileChecks, smtp};
use super::{CommandSetting, Config, LogFormat, Metrics};
use crate::config::diagnostic::{Diagnostic, SourceFile};
use crate::config::tomlread::{Reader, Table, choice};
use crate::pacing::DEFAULT_RATE;

const TOP_KEYS: &[&str] = &["state", "log", "smtp", "account", "metrics", "connect_rate"];

/// Reads the whole config; `None` when it is too broken to build. Also where each
/// `password_command` and `token_command` is written (for `delega check` to try them), from
/// the same parse: parsing a 10,000-account file is a quarter of its load time.
pub fn config(source: &SourceFile) -> (Option<Config>, Vec<Diagnostic>, Vec<CommandSetting>) {
    let reader = Reader::new(source);
    let mut rules = RulesRead::default();
    let mut commands = Vec::new();
    let config = reader.parse().and_then(|doc| {
        let root = reader.root(&doc);
        commands = command_settings(&root);
        build(&root, &mut rules)
    });
    let mut diagnostics = reader.into_diagnostics();
    diagnostics.extend(rules.into_diagnostics());
    (config, diagnostics, commands)
}

/// Where each `password_command` and `token_command` is written: in `[smtp]` and in each
/// account's `imap`.
fn command_settings(root: &Table<'_, '_>) -> Vec<CommandSetting> {
    let source = root.reader().source();
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
        .map(|(key, cmd)| CommandSetting {
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
    // The password and CA files named so far, each asked of the file system once.
    let files = FileChecks::default();
    let smtp = root
        .required("smtp", "the config", "[smtp] with host, security and from")
        .and_then(|v| v.table())
        .and_then(|t| smtp(&t, &base, &state_dir, &files));

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
                if let Some(account) = account(&t, &base, &state_dir, rules, &files) {
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
