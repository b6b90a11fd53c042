//! The view of a mail that rules see, built from mail-parser.
//!
//! [`Message::parse`] never fails: mail that cannot be parsed becomes a view with empty fields
//! and a [`Message::malformed`] reason, so that classification can still decide (strategic,
//! the safe fallback). Header values come decoded (RFC 2047, any charset); addresses in
//! lower case. Expensive views (body text, lower-cased text) are computed on first use.
//!
//! This file owns the [`Message`] itself: parsing, why a mail is malformed, the subject. The
//! rest of the view, each in its file: `parser.rs` (how mail-parser is set up), `address.rs`
//! (who: From, To, Cc, Reply-To), `headers.rs` (any header by name, the Date, the
//! Message-ID, the content type), `body.rs` (the body text, its excerpt, the attachments),
//! `evidence.rs` (what shows a list or a machine sent it).

mod address;
mod body;
mod evidence;
mod headers;
mod parser;

use std::borrow::Cow;
use std::sync::OnceLock;

use mail_parser::Address;

pub use address::{AddressField, NamedAddress};
pub use evidence::AutoEvidence;
pub use headers::DateHeader;

/// Why a message cannot be read as a mail: it is kept in the Inbox whatever the rules say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Malformed {
    /// Not parseable at all.
    Unparseable,
    /// It has no header.
    NoHeaders,
    /// It has no sender address.
    NoFrom,
}

const MALFORMED: [(Malformed, &str); 3] = [
    (Malformed::Unparseable, "not parseable as an email message"),
    (Malformed::NoHeaders, "no headers"),
    (Malformed::NoFrom, "no From address"),
];

impl Malformed {
    /// The reason its English form (`Display`, as recorded in the ledger) names.
    pub fn parse_legacy(s: &str) -> Option<Malformed> {
        MALFORMED.iter().find(|(_, t)| *t == s).map(|(m, _)| *m)
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = MALFORMED
            .iter()
            .find(|(m, _)| m == self)
            .map_or("?", |(_, t)| t);
        f.write_str(text)
    }
}

/// A parsed message, as rules and the rest of delega see it.
pub struct Message<'a> {
    raw: Cow<'a, [u8]>,
    parsed: Option<mail_parser::Message<'a>>,
    malformed: Option<Malformed>,
    from: Vec<NamedAddress>,
    to: Vec<NamedAddress>,
    cc: Vec<NamedAddress>,
    reply_to: Vec<NamedAddress>,
    subject: String,
    subject_lower: OnceLock<String>,
    body: OnceLock<String>,
    body_lower: OnceLock<String>,
}

impl<'a> Message<'a> {
    /// Parses raw RFC 5322 bytes. Never fails and never panics: see [`Message::malformed`].
    pub fn parse(raw: &'a [u8]) -> Self {
        let parsed = parser::PARSER.parse(raw);
        let malformed = match &parsed {
            None => Some(Malformed::Unparseable),
            Some(m) if m.headers().is_empty() => Some(Malformed::NoHeaders),
            Some(m) if m.from().is_none() => Some(Malformed::NoFrom),
            Some(_) => None,
        };
        let addresses =
            |get: for<'m> fn(&'m mail_parser::Message<'a>) -> Option<&'m Address<'a>>| {
                parsed
                    .as_ref()
                    .and_then(get)
                    .map(address::mailboxes)
                    .unwrap_or_default()
            };
        Self {
            raw: Cow::Borrowed(raw),
            from: addresses(|m| m.from()),
            to: addresses(|m| m.to()),
            cc: addresses(|m| m.cc()),
            reply_to: addresses(|m| m.reply_to()),
            subject: parsed
                .as_ref()
                .and_then(|m| m.subject())
                .map(one_line)
                .unwrap_or_default(),
            parsed,
            malformed,
            subject_lower: OnceLock::new(),
            body: OnceLock::new(),
            body_lower: OnceLock::new(),
        }
    }

    /// Why the message is malformed, when it is: it will be kept in the Inbox.
    pub fn malformed(&self) -> Option<Malformed> {
        self.malformed
    }

    /// The raw bytes, unaltered.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The same message, owning its bytes: kept after the fetched bytes are gone (a
    /// forward is composed from the parse its decision was made on, not parsed again).
    pub fn into_owned(self) -> Message<'static> {
        Message {
            raw: Cow::Owned(self.raw.into_owned()),
            parsed: self.parsed.map(mail_parser::Message::into_owned),
            malformed: self.malformed,
            from: self.from,
            to: self.to,
            cc: self.cc,
            reply_to: self.reply_to,
            subject: self.subject,
            subject_lower: self.subject_lower,
            body: self.body,
            body_lower: self.body_lower,
        }
    }

    /// Size of the raw message in bytes.
    pub fn size(&self) -> u64 {
        self.raw.len() as u64
    }

    /// The decoded subject on one line ("" when there is none).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The subject in lower case, for case-insensitive matching.
    pub fn subject_lower(&self) -> &str {
        self.subject_lower
            .get_or_init(|| self.subject.to_lowercase())
    }
}

/// Collapses folding and control characters into single spaces.
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_encoded_words_in_several_charsets() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"From: a@x.example\r\nSubject: =?UTF-8?B?Q2lhbyDDqCBmYXR0dXJh?=\r\n\r\nx",
                "Ciao è fattura",
            ),
            (
                b"From: a@x.example\r\nSubject: =?ISO-8859-1?Q?Richiesta_di_traduzione_=E0?=\r\n\r\nx",
                "Richiesta di traduzione à",
            ),
            (
                b"From: a@x.example\r\nSubject: =?windows-1252?Q?Preventivo_=80_500?=\r\n\r\nx",
                "Preventivo € 500",
            ),
            (
                b"From: a@x.example\r\nSubject: =?KOI8-R?B?8NLJ18XU?=\r\n\r\nx",
                "Привет",
            ),
            (
                b"From: a@x.example\r\nSubject: =?Shift_JIS?B?k/qWe4zq?=\r\n\r\nx",
                "日本語",
            ),
        ];
        for (raw, subject) in cases {
            assert_eq!(Message::parse(raw).subject(), subject);
        }
    }

    #[test]
    fn garbage_and_empty_input_are_marked_malformed_not_panicking() {
        for raw in [
            &b""[..],
            b"\x00\xff\xfe garbage",
            b"no colon here\r\n\r\nbody",
        ] {
            let m = Message::parse(raw);
            assert!(m.malformed().is_some(), "{raw:?}");
            assert_eq!(m.subject(), "");
            let _ = m.body();
        }
    }
}
