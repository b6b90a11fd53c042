//! The SASL messages that carry a bearer token (XOAUTH2, RFC 7628 OAUTHBEARER), and which
//! one to use with a server. Pure: no I/O.

use crate::config::Sasl;

/// The mechanism to use: the configured one, else what the server offers — XOAUTH2 first
/// (what Gmail and Microsoft 365 both take), then OAUTHBEARER. `None`: the server offers
/// neither.
pub fn choose(configured: Option<Sasl>, offers: impl Fn(Sasl) -> bool) -> Option<Sasl> {
    match configured {
        Some(sasl) => Some(sasl),
        None => [Sasl::XOAuth2, Sasl::OAuthBearer]
            .into_iter()
            .find(|&s| offers(s)),
    }
}

/// The client's first (and only) message: the user and the token.
pub fn initial_response(sasl: Sasl, user: &str, token: &str, host: &str, port: u16) -> Vec<u8> {
    match sasl {
        // https://developers.google.com/gmail/imap/xoauth2-protocol
        Sasl::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes(),
        // RFC 7628 §3.1: a GS2 header naming the user (`,` and `=` escaped), then key=value
        // pairs separated by ^A.
        Sasl::OAuthBearer => {
            let user = user.replace('=', "=3D").replace(',', "=2C");
            format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
                .into_bytes()
        }
    }
}

/// The client's answer to the server's error challenge, which ends the exchange with a
/// failure (RFC 7628 §3.2.3: a single ^A; XOAUTH2: an empty response).
pub fn answer_to_error(sasl: Sasl) -> &'static [u8] {
    match sasl {
        Sasl::XOAuth2 => b"",
        Sasl::OAuthBearer => b"\x01",
    }
}

/// The `status` of a server's JSON error challenge (`{"status":"401",...}`), for the log.
pub fn error_status(challenge: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(challenge).ok()?;
    value.get("status")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_mechanism_wins_then_xoauth2_then_oauthbearer() {
        assert_eq!(choose(None, |_| true), Some(Sasl::XOAuth2));
        assert_eq!(
            choose(None, |s| s == Sasl::OAuthBearer),
            Some(Sasl::OAuthBearer)
        );
        assert_eq!(choose(None, |_| false), None);
        assert_eq!(
            choose(Some(Sasl::OAuthBearer), |_| true),
            Some(Sasl::OAuthBearer)
        );
    }

    #[test]
    fn messages_follow_the_specifications() {
        assert_eq!(
            initial_response(Sasl::XOAuth2, "g@x.example", "tok", "imap.x", 993),
            b"user=g@x.example\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            initial_response(Sasl::OAuthBearer, "a,b=c@x", "tok", "imap.x", 993),
            b"n,a=a=2Cb=3Dc@x,\x01host=imap.x\x01port=993\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            error_status(br#"{"status":"401","schemes":"bearer"}"#).as_deref(),
            Some("401")
        );
    }
}
