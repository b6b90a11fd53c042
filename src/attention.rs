//! Failures that will not fix themselves: a folder the server refuses to create, a login or
//! command the server refuses, a certificate that does not verify. Telling them from the
//! transient ones (a connection lost, a server restarting) is what keeps the daemon from
//! retrying them every few seconds: the account is marked "needs attention" with the reason
//! in plain words, and retried on a slow schedule (and at once on a reload).

use std::time::Duration;

use crate::imap::FolderRefused;
use crate::trust::{TlsError, TlsFailure};

/// How long an account that needs attention waits before it tries again by itself.
pub const SLOW_RETRY: Duration = Duration::from_secs(10 * 60);

/// The event kind of a failure that needs attention (worded in the digest's language).
pub const KIND: &str = "attention";

/// Response codes of a NO that says "try again later" (RFC 5530).
const TRANSIENT_CODES: &[&str] = &["[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[SERVERBUG]"];

/// The reason, in plain words, when `err` will not fix itself; `None` when it is worth a
/// quick retry.
pub fn needs_attention(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        if let Some(refused) = cause.downcast_ref::<FolderRefused>() {
            return Some(format!(
                "{refused}; check folders.noise and folders.delegated (`delega doctor` shows \
                 where the server keeps its folders)"
            ));
        }
        if let Some(tls) = cause.downcast_ref::<TlsError>() {
            return (!matches!(tls.failure, TlsFailure::Other(_))).then(|| tls.to_string());
        }
        if let Some(async_imap::error::Error::No(text)) = cause.downcast_ref() {
            let text = crate::imap::refusal_words(text);
            if TRANSIENT_CODES.iter().any(|code| text.starts_with(code)) {
                return None;
            }
            // The outermost context says what delega was doing (`login as … failed`).
            return Some(format!("{err}: the server answered \"{text}\""));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    #[test]
    fn refusals_need_attention_and_outages_do_not() {
        let login: anyhow::Error = Err::<(), _>(async_imap::error::Error::No(
            "[AUTHENTICATIONFAILED] Authentication failed.".into(),
        ))
        .context("login as giulia failed (check username and password)")
        .unwrap_err();
        assert_eq!(
            needs_attention(&login).as_deref(),
            Some(
                "login as giulia failed (check username and password): the server answered \
                 \"[AUTHENTICATIONFAILED] Authentication failed.\""
            )
        );

        let folder = anyhow::Error::new(FolderRefused {
            folder: "Noise".into(),
            reason: "Permission denied".into(),
        });
        let reason = needs_attention(&folder).expect("needs attention");
        assert!(
            reason.starts_with("the server refused to create the folder Noise: Permission denied")
        );

        // async-imap writes the server's words as debug output: the reason is in words.
        let login: anyhow::Error = Err::<(), _>(async_imap::error::Error::No(
            "code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication failed.\")".into(),
        ))
        .context("login as giulia failed (check username and password)")
        .unwrap_err();
        assert_eq!(
            needs_attention(&login).as_deref(),
            Some(
                "login as giulia failed (check username and password): the server answered \
                 \"[AUTHENTICATIONFAILED] Authentication failed.\""
            )
        );
        let busy: anyhow::Error = Err::<(), _>(async_imap::error::Error::No(
            "code: None, info: Some(\"[UNAVAILABLE] Try again later\")".into(),
        ))
        .context("login")
        .unwrap_err();
        assert_eq!(needs_attention(&busy), None);

        let busy: anyhow::Error = Err::<(), _>(async_imap::error::Error::No(
            "[UNAVAILABLE] Try again later".into(),
        ))
        .context("login")
        .unwrap_err();
        assert_eq!(needs_attention(&busy), None);

        let lost = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
            .context("cannot connect to localhost:993");
        assert_eq!(needs_attention(&lost), None);

        let cert = anyhow::Error::new(TlsError {
            host: "h".into(),
            port: 993,
            failure: TlsFailure::UnknownIssuer,
        });
        assert!(needs_attention(&cert).is_some_and(|r| r.contains("ca_file")));
    }
}
