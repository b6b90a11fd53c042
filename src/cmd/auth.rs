//! `delega auth login` and `delega auth status`: enrolling an OAuth2 grant from a terminal,
//! and what is known of each grant (its source, the last refresh, the token's expiry, a
//! refusal), read from the state directory without asking the provider.

use std::path::{Path, PathBuf};

use delega::config::{Config, Server, TokenSource};
use delega::oauth2::login::{Flow, default_flow, login};
use delega::oauth2::{GrantStatus, grant_status};

use super::{CmdResult, Failed, load, runtime};

/// Which server a `delega auth` command works on.
pub(crate) enum Target<'a> {
    /// An account's IMAP sign-in.
    Account(&'a str),
    /// delega's SMTP sign-in.
    Smtp,
}

pub(crate) fn auth_login(
    path: &Path,
    target: Target<'_>,
    flow: Option<Flow>,
    output: Option<PathBuf>,
) -> CmdResult {
    let loaded = load(path)?;
    let config = &loaded.config;
    let (server, what) = match target {
        Target::Smtp => (&config.smtp.server, "[smtp]".to_string()),
        Target::Account(name) => match config.account(name) {
            Some(a) => (&a.imap, format!("account {name}")),
            None => {
                let names: Vec<_> = config.accounts.iter().map(|a| a.name.as_str()).collect();
                eprintln!("error: no account `{name}` in {}", path.display());
                eprintln!("  help: the accounts are: {}", names.join(", "));
                return Err(Failed::Usage);
            }
        },
    };
    let usage = |message: String, help: &str| {
        eprintln!("error: {message}");
        eprintln!("  help: {help}");
        Err(Failed::Usage)
    };
    let Some(oauth) = &server.oauth2 else {
        return usage(
            format!("{what} signs in with a password"),
            "write `auth = \"oauth2\"` and its settings first (see the README, \"Gmail and Microsoft 365\")",
        );
    };
    let grant = match &oauth.source {
        TokenSource::Command { .. } => {
            return usage(
                format!("{what} takes its tokens from token_command"),
                "sign in with that helper; `delega auth login` serves client_id + refresh_token_file",
            );
        }
        TokenSource::Refresh(grant) => grant,
    };
    let Some(target) = output.or_else(|| grant.login_target().map(Path::to_path_buf)) else {
        return usage(
            format!(
                "{what} reads its refresh token from a systemd credential, which delega cannot write"
            ),
            "run with `--output FILE`, then store FILE as the credential (systemd-creds encrypt)",
        );
    };
    let username = server.username.as_deref().unwrap_or_default();
    let flow = flow.unwrap_or_else(|| default_flow(oauth.provider, grant));
    let rt = runtime(false)?;
    let mut out = std::io::stdout();
    match rt.block_on(login(grant, flow, username, &target, &mut out)) {
        Ok(()) => Ok(()),
        Err(err) => {
            eprintln!("error: the sign-in did not complete: {err:#}");
            Err(Failed::Runtime)
        }
    }
}

pub(crate) fn auth_status(path: &Path) -> CmdResult {
    let loaded = load(path)?;
    out!("{}", render(&loaded.config));
    Ok(())
}

fn render(config: &Config) -> String {
    let mut out = String::new();
    let mut with_password = Vec::new();
    for account in &config.accounts {
        match &account.imap.oauth2 {
            Some(_) => out += &grant(&format!("{} (IMAP)", account.name), &account.imap),
            None => with_password.push(account.name.as_str()),
        }
    }
    if config.smtp.server.oauth2.is_some() {
        out += &grant("SMTP", &config.smtp.server);
    }
    if !with_password.is_empty() {
        out += &format!("Signing in with a password: {}\n", with_password.join(", "));
    }
    out
}

fn grant(title: &str, server: &Server) -> String {
    let Some(oauth) = &server.oauth2 else {
        return String::new();
    };
    let g: GrantStatus = grant_status(oauth);
    let tz = jiff::tz::TimeZone::system();
    let when = |t: Option<i64>| {
        t.and_then(|t| jiff::Timestamp::from_second(t).ok())
            .map_or_else(
                || "never".to_string(),
                |t| {
                    t.to_zoned_datetime(tz.clone())
                        .strftime("%Y-%m-%d %H:%M %Z")
                        .to_string()
                },
            )
    };
    let mut lines = vec![format!(
        "{title}: {} at {}:{}",
        server.username.as_deref().unwrap_or_default(),
        server.host,
        server.port
    )];
    let provider = oauth.provider.map_or("custom token endpoint", |p| p.name());
    lines.push(format!("  sign-in:       OAuth2 ({provider})"));
    lines.push(format!("  token source:  {}", g.source));
    if let TokenSource::Refresh(grant) = &oauth.source {
        if g.rotated {
            lines.push(format!(
                "  rotated token: kept in {}",
                grant.store.display()
            ));
        }
        lines.push(format!("  last refresh:  {}", when(g.last_refresh)));
        lines.push(format!("  token expires: {}", when(g.expires_at)));
    }
    lines.push(match &g.refused {
        Some((at, error, command)) => format!(
            "  state:         needs re-authorisation since {} ({error}): run `{command}`",
            when(Some(*at))
        ),
        None if g.last_refresh.is_none() && matches!(oauth.source, TokenSource::Refresh(_)) => {
            "  state:         not used yet".to_string()
        }
        None => "  state:         ok".to_string(),
    });
    lines.join("\n") + "\n"
}
