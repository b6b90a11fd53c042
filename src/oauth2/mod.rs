//! OAuth2 access tokens for IMAP and SMTP sign-in (`auth = "oauth2"`).
//!
//! A [`Tokens`] keeper per grant, shared by every task of the process, hands out access
//! tokens: from a `token_command`, or from delega's own refresh grant — kept in memory until
//! a minute before expiry, refreshed then, and once more when a server refuses one. Rotated
//! refresh tokens go to the grant's file in the state directory (`store`). An `invalid_grant`
//! is remembered there, so the endpoint is not asked again with the refused token: the
//! account "needs re-authorisation" until `delega auth login` enrols a new one. Tokens are
//! [`AccessToken`]s, which never print.
//!
//! `sasl` builds the messages that carry a token, `endpoint` talks to the token endpoint
//! over the small client in `http`, and `login` is `delega auth login`.

pub mod endpoint;
pub mod http;
pub mod login;
pub mod sasl;
pub mod store;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::config::{OAuth2, RefreshGrant, TokenSource};
use endpoint::EndpointError;
use store::{Refused, Stored, fingerprint};

/// An access (or refresh) token in memory. Prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(pub(crate) String);

impl AccessToken {
    /// The token itself, for the SASL message only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why no access token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The provider refused the grant: only a new sign-in helps.
    #[error(
        "{what} needs re-authorisation: the provider refused the sign-in ({error}); run `{command}`"
    )]
    NeedsReauth {
        /// Which server, in words.
        what: String,
        /// The provider's words.
        error: String,
        /// The command that fixes it.
        command: String,
    },
    /// Worth trying again later (the endpoint unreachable, a timeout, a 5xx).
    #[error("no OAuth2 token for {what} now: {detail}")]
    Transient {
        /// Which server, in words.
        what: String,
        /// What went wrong.
        detail: String,
    },
    /// The settings or the token source are wrong (a refused client, a failing command).
    #[error("no OAuth2 token for {what}: {detail}")]
    Failed {
        /// Which server, in words.
        what: String,
        /// What went wrong.
        detail: String,
    },
}

/// A minute of margin: a token about to expire is not sent.
const MARGIN_SECS: i64 = 60;

/// Hands out access tokens for one grant.
pub struct Tokens {
    oauth: Arc<OAuth2>,
    /// The cached access token and its expiry (Unix time); also serialises refreshes, so a
    /// rotated refresh token is never used twice.
    cached: tokio::sync::Mutex<Option<(AccessToken, i64)>>,
}

/// The keeper for these settings, shared process-wide: every account task sending through
/// the same SMTP grant must use (and rotate) one refresh token, not one each.
pub fn tokens(oauth: &Arc<OAuth2>) -> Arc<Tokens> {
    static ALL: Mutex<Vec<(String, Arc<Tokens>)>> = Mutex::new(Vec::new());
    // The settings' debug form names files and commands, never a secret.
    let key = format!("{oauth:?}");
    let mut all = ALL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, t)) = all.iter().find(|(k, _)| *k == key) {
        return Arc::clone(t);
    }
    let t = Arc::new(Tokens {
        oauth: Arc::clone(oauth),
        cached: tokio::sync::Mutex::new(None),
    });
    all.push((key, Arc::clone(&t)));
    t
}

/// The server a grant key names, in words: `imap-giulia` → "the IMAP sign-in of giulia".
pub fn describe(key: &str) -> String {
    match key.strip_prefix("imap-") {
        Some(account) => format!("the IMAP sign-in of account {account}"),
        None => "the SMTP sign-in".to_string(),
    }
}

/// The command that enrols the grant `key` again.
pub fn login_command(key: &str) -> String {
    match key.strip_prefix("imap-") {
        Some(account) => format!("delega auth login --account {account}"),
        None => "delega auth login --smtp".to_string(),
    }
}

impl Tokens {
    /// The settings.
    pub fn settings(&self) -> &OAuth2 {
        &self.oauth
    }

    /// An access token: the cached one if it holds for another minute, else a new one.
    /// With `fresh`, the cached one is not used (the server has just refused it).
    pub async fn access(&self, now: i64, fresh: bool) -> Result<AccessToken, TokenError> {
        let what = describe(&self.oauth.key);
        match &self.oauth.source {
            TokenSource::Command { command, timeout } => {
                let fetched = run_token_command(command, *timeout).await;
                crate::metrics::token_refreshed(&self.oauth.key, fetched.is_ok());
                fetched.map_err(|detail| TokenError::Failed { what, detail })
            }
            TokenSource::Refresh(grant) => {
                let mut cached = self.cached.lock().await;
                if let Some((token, expires)) = &*cached
                    && !fresh
                    && *expires - MARGIN_SECS > now
                {
                    return Ok(token.clone());
                }
                *cached = None;
                let refreshed = refresh(grant, &self.oauth.key, now).await;
                crate::metrics::token_refreshed(&self.oauth.key, refreshed.is_ok());
                let (token, expires) = refreshed?;
                *cached = Some((token.clone(), expires));
                Ok(token)
            }
        }
    }
}

/// The refresh token to use: the stored (rotated) one if it descends from the enrolled
/// seed, else the seed.
fn current_refresh_token(
    grant: &RefreshGrant,
    seed: anyhow::Result<crate::config::Password>,
) -> Result<(String, Stored), String> {
    let seed = seed.map_err(|err| format!("{err:#}"))?;
    let seed_fp = fingerprint(seed.expose());
    let stored = store::load(&grant.store).map_err(|err| format!("{err:#}"))?;
    Ok(match stored {
        Some(s) if s.seed == seed_fp => {
            let token = s
                .refresh_token
                .clone()
                .unwrap_or_else(|| seed.expose().to_string());
            (token, s)
        }
        _ => (
            seed.expose().to_string(),
            Stored {
                seed: seed_fp,
                ..Stored::default()
            },
        ),
    })
}

async fn refresh(
    grant: &RefreshGrant,
    key: &str,
    now: i64,
) -> Result<(AccessToken, i64), TokenError> {
    let what = describe(key);
    let failed = |detail: String| TokenError::Failed {
        what: what.clone(),
        detail,
    };
    let timeout = Duration::from_secs(30);
    // A seed from a command runs under the timeout, and stops with delega.
    let seed = grant.refresh_token.resolve_within(timeout).await;
    let (refresh_token, mut stored) = current_refresh_token(grant, seed).map_err(failed)?;
    let token_fp = fingerprint(&refresh_token);
    if let Some(refused) = &stored.refused
        && refused.token == token_fp
    {
        // Asked once and refused: asking again with the same token cannot succeed.
        return Err(TokenError::NeedsReauth {
            what,
            error: refused.error.clone(),
            command: login_command(key),
        });
    }
    let secret = match &grant.client_secret {
        Some(s) => Some(
            s.resolve_within(timeout)
                .await
                .map_err(|err| failed(format!("client secret: {err:#}")))?,
        ),
        None => None,
    };
    debug!(grant = key, "asking the token endpoint for an access token");
    match endpoint::refresh(grant, &refresh_token, secret.as_ref(), timeout).await {
        Ok(issued) => {
            let expires = now + issued.expires_in.map_or(3600, |s| s as i64);
            let rotated = issued.refresh.is_some();
            if let Some(new) = issued.refresh {
                stored.refresh_token = Some(new.0);
            }
            stored.last_refresh = Some(now);
            stored.expires_at = Some(expires);
            stored.refused = None;
            // Saved before the token is used: if the provider rotated the refresh token,
            // the old one is void already, and the new one must survive a crash.
            store::save(&grant.store, &stored).map_err(|err| failed(format!("{err:#}")))?;
            if rotated {
                crate::failpoint::hit(crate::failpoint::AFTER_TOKEN_SAVED);
            }
            info!(
                grant = key,
                expires_in_secs = expires - now,
                rotated,
                "new OAuth2 access token"
            );
            Ok((issued.access, expires))
        }
        Err(EndpointError::InvalidGrant(error)) => {
            stored.refused = Some(Refused {
                at: now,
                error: error.clone(),
                token: token_fp,
            });
            if let Err(err) = store::save(&grant.store, &stored) {
                warn!(grant = key, error = %format!("{err:#}"), "cannot record the refusal");
            }
            Err(TokenError::NeedsReauth {
                what,
                error,
                command: login_command(key),
            })
        }
        Err(EndpointError::Transient(detail)) => Err(TokenError::Transient { what, detail }),
        Err(other) => Err(failed(other.to_string())),
    }
}

/// Runs `token_command` and returns the first line it printed. Its output is never shown;
/// its stderr's first line is, when it fails.
async fn run_token_command(command: &str, timeout: Duration) -> Result<AccessToken, String> {
    let child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(timeout, child).await {
        Err(_) => return Err(format!("token_command did not finish within {timeout:?}")),
        Ok(Err(err)) => return Err(format!("cannot run token_command: {err}")),
        Ok(Ok(out)) => out,
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "token_command failed ({}): {}",
            out.status,
            err.lines().next().unwrap_or("")
        ));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| "token_command printed non-UTF-8")?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err("token_command printed no token".into());
    }
    Ok(AccessToken(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_command_is_read_and_its_failures_never_show_its_output() {
        let t = run_token_command("printf 'at-1\\nignored\\n'", Duration::from_secs(5))
            .await
            .expect("a token");
        assert_eq!(
            (t.expose(), format!("{t} {t:?}").as_str()),
            ("at-1", "*** AccessToken(***)")
        );
        let err = run_token_command(
            "echo at-leaked; echo denied >&2; exit 1",
            Duration::from_secs(5),
        )
        .await
        .expect_err("fails");
        assert!(err.contains("denied") && !err.contains("leaked"), "{err}");
        let err = run_token_command("sleep 5", Duration::from_millis(50))
            .await
            .expect_err("times out");
        assert!(err.contains("did not finish"), "{err}");
    }
}

/// What is known of a grant without asking anyone: for `delega status` and `auth status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GrantStatus {
    /// Where tokens come from, in words (no secret).
    pub source: String,
    /// The last refresh (Unix time).
    pub last_refresh: Option<i64>,
    /// When the last access token expires (Unix time).
    pub expires_at: Option<i64>,
    /// The provider replaced the enrolled refresh token (kept in the state directory).
    pub rotated: bool,
    /// Refused by the provider: when, its words, and the command that enrols again.
    pub refused: Option<(i64, String, String)>,
}

/// Reads the grant's state file (no network).
pub fn grant_status(oauth: &OAuth2) -> GrantStatus {
    let grant = match &oauth.source {
        TokenSource::Command { .. } => {
            return GrantStatus {
                source: "token_command".into(),
                last_refresh: None,
                expires_at: None,
                rotated: false,
                refused: None,
            };
        }
        TokenSource::Refresh(grant) => grant,
    };
    let source = format!("refresh token from {}", secret_source(&grant.refresh_token));
    let (current, stored) = match current_refresh_token(grant, grant.refresh_token.resolve()) {
        Ok((token, stored)) => (Some(fingerprint(&token)), stored),
        // The seed cannot be read here (a systemd credential outside the unit): what the
        // state file says is all there is.
        Err(_) => (
            None,
            store::load(&grant.store).ok().flatten().unwrap_or_default(),
        ),
    };
    let refused = stored
        .refused
        .as_ref()
        .filter(|r| current.as_ref().is_none_or(|c| *c == r.token))
        .map(|r| (r.at, r.error.clone(), login_command(&oauth.key)));
    GrantStatus {
        source,
        last_refresh: stored.last_refresh,
        expires_at: stored.expires_at,
        rotated: stored.refresh_token.is_some(),
        refused,
    }
}

fn secret_source(secret: &crate::config::Secret) -> String {
    match secret {
        crate::config::Secret::File(path) => path.display().to_string(),
        crate::config::Secret::Credential(name) => format!("systemd credential {name}"),
        other => other.to_string(),
    }
}
