//! Talking to a provider's token endpoint (RFC 6749): the refresh grant, the code exchange
//! of the loopback flow (with PKCE, RFC 7636), and the device-code flow (RFC 8628).
//!
//! Answers are read into [`Issued`] tokens or a typed [`EndpointError`], whose kind decides
//! what happens next: `invalid_grant` needs the user, a transport failure is retried.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::AccessToken;
use super::http::{Response, post_form};
use crate::config::{Password, RefreshGrant};

/// Tokens handed out by the endpoint.
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub access: AccessToken,
    /// Its lifetime in seconds, if the provider said.
    pub expires_in: Option<u64>,
    /// A new refresh token (the old one is now void), if the provider rotated it.
    pub refresh: Option<AccessToken>,
}

/// Why the endpoint gave no tokens.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// `invalid_grant`: consent revoked or expired, or the refresh token replaced. Only a
    /// new sign-in helps.
    #[error("the provider refused the grant (invalid_grant): {0}")]
    InvalidGrant(String),
    /// Another refusal (`invalid_client`, `invalid_scope`…): the config needs fixing.
    #[error("the provider refused the request ({0}): {1}")]
    Refused(String, String),
    /// Device flow: the user has not finished signing in yet.
    #[error("waiting for the sign-in")]
    Pending,
    /// Device flow: poll less often.
    #[error("asked to poll more slowly")]
    SlowDown,
    /// Unreachable, a timeout, a 5xx, or an answer that is not JSON: try again later.
    #[error("the token endpoint is not usable now: {0}")]
    Transient(String),
}

/// Reads a token endpoint's answer.
pub fn parse(response: &Response) -> Result<Issued, EndpointError> {
    let json: Option<Value> = serde_json::from_slice(&response.body).ok();
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    if response.status >= 500 {
        return Err(EndpointError::Transient(format!(
            "HTTP {} from the token endpoint",
            response.status
        )));
    }
    let Some(json) = json else {
        return Err(EndpointError::Transient(format!(
            "HTTP {} from the token endpoint, and not JSON",
            response.status
        )));
    };
    if let Some(code) = text(&json, "error") {
        let description = text(&json, "error_description")
            .map(|d| d.lines().next().unwrap_or_default().to_string())
            .unwrap_or_default();
        return Err(match code.as_str() {
            "invalid_grant" => EndpointError::InvalidGrant(description),
            "authorization_pending" => EndpointError::Pending,
            "slow_down" => EndpointError::SlowDown,
            _ => EndpointError::Refused(code, description),
        });
    }
    let Some(access) = text(&json, "access_token") else {
        return Err(EndpointError::Transient(format!(
            "HTTP {} from the token endpoint without an access token",
            response.status
        )));
    };
    // Some providers send expires_in as a string.
    let expires_in = json.get("expires_in").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    Ok(Issued {
        access: AccessToken(access),
        expires_in,
        refresh: text(&json, "refresh_token").map(AccessToken),
    })
}

async fn post(
    url: &str,
    form: &[(&str, &str)],
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<Response, EndpointError> {
    post_form(url, form, ca_file, timeout)
        .await
        .map_err(|err| EndpointError::Transient(format!("{err:#}")))
}

fn with_client<'a>(
    grant: &'a RefreshGrant,
    secret: Option<&'a Password>,
    mut form: Vec<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    form.push(("client_id", &grant.client_id));
    if let Some(secret) = secret {
        form.push(("client_secret", secret.expose()));
    }
    form
}

/// The refresh grant: a new access token (and maybe a new refresh token).
pub async fn refresh(
    grant: &RefreshGrant,
    refresh_token: &str,
    secret: Option<&Password>,
    timeout: Duration,
) -> Result<Issued, EndpointError> {
    let scope = grant.scopes.join(" ");
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    let form = with_client(grant, secret, form);
    parse(&post(&grant.token_url, &form, grant.ca_file.as_deref(), timeout).await?)
}

/// The loopback flow's last step: the code from the redirect, for tokens.
pub async fn exchange_code(
    grant: &RefreshGrant,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    secret: Option<&Password>,
    timeout: Duration,
) -> Result<Issued, EndpointError> {
    let form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", redirect_uri),
    ];
    let form = with_client(grant, secret, form);
    parse(&post(&grant.token_url, &form, grant.ca_file.as_deref(), timeout).await?)
}

/// What the device-authorisation endpoint hands out.
#[derive(Debug)]
pub struct DeviceCode {
    /// Polled for with the token endpoint.
    pub device_code: String,
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// Seconds between polls.
    pub interval: u64,
    /// Seconds the code is good for.
    pub expires_in: u64,
}

/// Starts the device-code flow.
pub async fn device_start(
    grant: &RefreshGrant,
    url: &str,
    timeout: Duration,
) -> Result<DeviceCode, EndpointError> {
    let scope = grant.scopes.join(" ");
    let form = [("client_id", grant.client_id.as_str()), ("scope", &scope)];
    let response = post(url, &form, grant.ca_file.as_deref(), timeout).await?;
    let json: Value = serde_json::from_slice(&response.body)
        .map_err(|_| EndpointError::Transient(format!("HTTP {} and not JSON", response.status)))?;
    let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(code) = text("error") {
        return Err(EndpointError::Refused(
            code,
            text("error_description").unwrap_or_default(),
        ));
    }
    let number = |k: &str, default: u64| json.get(k).and_then(Value::as_u64).unwrap_or(default);
    match (
        text("device_code"),
        text("user_code"),
        text("verification_uri").or_else(|| text("verification_url")),
    ) {
        (Some(device_code), Some(user_code), Some(verification_uri)) => Ok(DeviceCode {
            device_code,
            user_code,
            verification_uri,
            interval: number("interval", 5).max(1),
            expires_in: number("expires_in", 900),
        }),
        _ => Err(EndpointError::Transient(
            "the device-code answer lacks device_code, user_code or verification_uri".into(),
        )),
    }
}

/// One poll of the device-code flow.
pub async fn device_poll(
    grant: &RefreshGrant,
    device_code: &str,
    secret: Option<&Password>,
    timeout: Duration,
) -> Result<Issued, EndpointError> {
    let form = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code),
    ];
    let form = with_client(grant, secret, form);
    parse(&post(&grant.token_url, &form, grant.ca_file.as_deref(), timeout).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<Issued, EndpointError> {
        parse(&Response {
            status,
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn answers_become_tokens_or_a_kind_of_refusal() {
        let ok = answer(
            200,
            r#"{"access_token":"at","expires_in":"3599","refresh_token":"rt2"}"#,
        )
        .expect("tokens");
        assert_eq!(ok.access.expose(), "at");
        assert_eq!(ok.expires_in, Some(3599));
        assert_eq!(ok.refresh.map(|r| r.0), Some("rt2".to_string()));
        assert_eq!(
            answer(
                400,
                r#"{"error":"invalid_grant","error_description":"revoked\nTrace"}"#
            )
            .expect_err("refused"),
            EndpointError::InvalidGrant("revoked".into())
        );
        assert!(matches!(
            answer(401, r#"{"error":"invalid_client"}"#),
            Err(EndpointError::Refused(code, _)) if code == "invalid_client"
        ));
        assert!(matches!(
            answer(503, "down"),
            Err(EndpointError::Transient(_))
        ));
        assert!(matches!(
            answer(200, "<html>"),
            Err(EndpointError::Transient(_))
        ));
    }
}
