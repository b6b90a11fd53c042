//! Failures that will not fix themselves: a folder the server refuses to create, a login or
//! command the server refuses, a certificate that does not verify. Telling them from the
//! transient ones (a connection lost, a server restarting) is what keeps the daemon from
//! retrying them every few seconds: the account is marked "needs attention" with the reason
//! (a refusal as data, [`Reason::Attention`], with the server's answer as it came; a
//! certificate's failure in words), and retried on a slow schedule (and at once on a reload).

use std::time::Duration;

use crate::imap::FolderRefused;
use crate::reason::{Attention, Reason};
use crate::trust::{TlsError, TlsFailure};

/// How long an account that needs attention waits before it tries again by itself.
pub const SLOW_RETRY: Duration = Duration::from_secs(10 * 60);

/// The event kind of a failure that needs attention (worded in the digest's language).
pub const KIND: &str = "attention";

/// Response codes of a NO that says "try again later" (RFC 5530).
const TRANSIENT_CODES: &[&str] = &["[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[SERVERBUG]"];

/// Why an account needs attention: a refusal kept as data, or a certificate that does not
/// verify, in words. Its `Display` is the English the log, `status` and `doctor` show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeedsAttention {
    /// The server refused something for good (recorded as a [`Reason::Attention`]).
    Refused(Attention),
    /// The TLS handshake failed in a way that will not pass by itself (as `TlsError` words
    /// it, with its fix).
    Tls(String),
}

impl NeedsAttention {
    /// The reason an event records, when it is kept as data.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            NeedsAttention::Refused(a) => Some(Reason::Attention(a.clone())),
            NeedsAttention::Tls(_) => None,
        }
    }
}

impl std::fmt::Display for NeedsAttention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NeedsAttention::Refused(a) => a.fmt(f),
            NeedsAttention::Tls(words) => f.write_str(words),
        }
    }
}

/// Why `err` will not fix itself; `None` when it is worth a quick retry.
pub fn needs_attention(err: &anyhow::Error) -> Option<NeedsAttention> {
    for cause in err.chain() {
        if let Some(refused) = cause.downcast_ref::<FolderRefused>() {
            return Some(NeedsAttention::Refused(Attention::FolderRefused {
                folder: refused.folder.clone(),
                answer: refused.reason.clone(),
            }));
        }
        if let Some(tls) = cause.downcast_ref::<TlsError>() {
            return (!matches!(tls.failure, TlsFailure::Other(_)))
                .then(|| NeedsAttention::Tls(tls.to_string()));
        }
        if let Some(async_imap::error::Error::No(text)) = cause.downcast_ref() {
            let text = crate::imap::refusal_words(text);
            if TRANSIENT_CODES.iter().any(|code| text.starts_with(code)) {
                return None;
            }
            if let Some(login) = err.downcast_ref::<crate::imap::LoginRefused>() {
                return Some(NeedsAttention::Refused(Attention::LoginRefused {
                    username: login.username.clone(),
                    answer: text,
                }));
            }
            // The outermost context says what delega was doing (`UID FETCH`).
            return Some(NeedsAttention::Refused(Attention::Refused {
                doing: err.to_string(),
                answer: text,
            }));
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
        .context(crate::imap::LoginRefused {
            username: "giulia".into(),
        })
        .unwrap_err();
        assert_eq!(
            needs_attention(&login).map(|a| a.to_string()).as_deref(),
            Some(
                "login as giulia failed (check username and password): the server answered \
                 \"[AUTHENTICATIONFAILED] Authentication failed.\""
            )
        );

        let folder = anyhow::Error::new(FolderRefused {
            folder: "Noise".into(),
            reason: "Permission denied".into(),
        });
        let reason = needs_attention(&folder)
            .expect("needs attention")
            .to_string();
        assert!(
            reason.starts_with("the server refused to create the folder Noise: Permission denied")
        );

        // async-imap writes the server's words as debug output: the reason is in words.
        let login: anyhow::Error = Err::<(), _>(async_imap::error::Error::No(
            "code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication failed.\")".into(),
        ))
        .context(crate::imap::LoginRefused {
            username: "giulia".into(),
        })
        .unwrap_err();
        assert_eq!(
            needs_attention(&login).map(|a| a.to_string()).as_deref(),
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
        assert!(needs_attention(&cert).is_some_and(|r| r.to_string().contains("ca_file")));
        // A certificate's failure stays words; a refusal is recorded as data.
        assert_eq!(needs_attention(&cert).and_then(|a| a.reason()), None);
        assert_eq!(
            needs_attention(&login).and_then(|a| a.reason()),
            Some(Reason::Attention(Attention::LoginRefused {
                username: "giulia".into(),
                answer: "[AUTHENTICATIONFAILED] Authentication failed.".into(),
            }))
        );
    }
}
