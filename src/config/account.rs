//! Reads one `[[account]]`: its name, `imap` server, mailbox and polling, assistants,
//! default category and assistant, mode, rules directory (loaded once per directory and
//! assistants through [`RulesRead`]), filing folders, digest and forwarding limits.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use toml::Spanned;

use super::rules::RulesRead;
use super::server::{FileChecks, SERVER_KEYS, ServerRole, server};
use super::tomlread::{Table, choice};
use super::{Account, Assistant, Digest, Folders, Forwarding, Language};
use crate::classify::{Category, RuleSet};

const IMAP_EXTRA: &[&str] = &["mailbox", "poll_secs", "recheck_secs"];
/// `recheck_secs` by default: a lost IDLE notification costs at most two minutes, and a
/// look costs Dovecot one unhibernation (10,000 accounts: ~83 a second).
const RECHECK_SECS: u64 = 120;
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

pub(super) fn account(
    t: &Table<'_, '_>,
    base: &Path,
    state_dir: &Path,
    rules_read: &mut RulesRead,
    files: &FileChecks,
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
    let (imap, mailbox, poll, recheck) = match &imap_table {
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
                files,
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
                // 0 turns the look off; otherwise at least a second.
                match i
                    .uint("recheck_secs")
                    .map_or(RECHECK_SECS, Spanned::into_inner)
                {
                    0 => None,
                    s => Some(Duration::from_secs(s)),
                },
            )
        }
        None => (None, String::new(), Duration::ZERO, None),
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
            .and_then(|(at, dir)| match rules_read.problem(dir) {
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
        recheck,
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
