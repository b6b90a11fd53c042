//! The view of a mail that rules see, built from mail-parser.
//!
//! [`Message::parse`] never fails: mail that cannot be parsed becomes a view with empty fields
//! and a [`Message::malformed`] reason, so that classification can still decide (strategic,
//! the safe fallback). Header values come decoded (RFC 2047, any charset); addresses in
//! lower case. Expensive views (body text, lower-cased text) are computed on first use.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::sync::OnceLock;

use mail_parser::{Address, HeaderName, HeaderValue, MessageParser, MimeHeaders};

/// An address from a header: its display name and the address itself in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedAddress {
    /// The display name, decoded, if any.
    pub name: Option<String>,
    /// The address, lower-cased (empty for a group name without address).
    pub address: String,
}

impl NamedAddress {
    /// The part after the last `@`, or "" when there is none.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl std::fmt::Display for NamedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) if !name.is_empty() => write!(f, "{name} <{}>", self.address),
            _ => f.write_str(&self.address),
        }
    }
}

/// Which address header a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressField {
    /// `From:`
    From,
    /// `To:`
    To,
    /// `Cc:`
    Cc,
    /// `Reply-To:`
    ReplyTo,
}

impl AddressField {
    /// The key rules use for this field.
    pub fn key(self) -> &'static str {
        match self {
            AddressField::From => "from",
            AddressField::To => "to",
            AddressField::Cc => "cc",
            AddressField::ReplyTo => "reply_to",
        }
    }
}

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

/// A message's Date header, judged against when it arrived ([`Message::date_as_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateHeader {
    /// A real time, as Unix time.
    Real(i64),
    /// There is no Date header.
    Missing,
    /// A Date that names no real time, or one after the arrival: as written.
    Impossible(String),
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

/// The parser, built once: mail-parser's default parsing of each header, except that
/// `Received:` is kept raw (delega only counts them, and tokenizing them was the parser's
/// largest single cost). A parser with any header configured parses only those, so the
/// defaults are spelled out (mail-parser 0.11, `parsers/header.rs`); a unit test checks that
/// every other header comes out as the default parser gives it.
static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    use HeaderName as H;
    let mut parser = MessageParser::new();
    for name in [
        H::Subject,
        H::Comments,
        H::ContentDescription,
        H::ContentLocation,
        H::ContentTransferEncoding,
    ] {
        parser = parser.header_text(name);
    }
    for name in [
        H::From,
        H::To,
        H::Cc,
        H::Bcc,
        H::ReplyTo,
        H::Sender,
        H::ResentTo,
        H::ResentFrom,
        H::ResentBcc,
        H::ResentCc,
        H::ResentSender,
        H::ListArchive,
        H::ListHelp,
        H::ListId,
        H::ListOwner,
        H::ListPost,
        H::ListSubscribe,
        H::ListUnsubscribe,
    ] {
        parser = parser.header_address(name);
    }
    for name in [
        H::MessageId,
        H::References,
        H::InReplyTo,
        H::ReturnPath,
        H::ContentId,
        H::ResentMessageId,
    ] {
        parser = parser.header_id(name);
    }
    parser
        .header_date(H::Date)
        .header_date(H::ResentDate)
        .header_comma_separated(H::Keywords)
        .header_comma_separated(H::ContentLanguage)
        .header_content_type(H::ContentType)
        .header_content_type(H::ContentDisposition)
        .header_raw(H::Received)
});

/// The body text kept for matching and excerpts: enough for any rule, bounded for speed.
const BODY_LIMIT: usize = 256 * 1024;

impl<'a> Message<'a> {
    /// Parses raw RFC 5322 bytes. Never fails and never panics: see [`Message::malformed`].
    pub fn parse(raw: &'a [u8]) -> Self {
        let parsed = PARSER.parse(raw);
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
                    .map(mailboxes)
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

    /// The addresses of one address header.
    pub fn addresses(&self, field: AddressField) -> &[NamedAddress] {
        match field {
            AddressField::From => &self.from,
            AddressField::To => &self.to,
            AddressField::Cc => &self.cc,
            AddressField::ReplyTo => &self.reply_to,
        }
    }

    /// The first From address, if any.
    pub fn sender(&self) -> Option<&NamedAddress> {
        self.from.first()
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

    /// The Message-ID without angle brackets.
    pub fn message_id(&self) -> Option<&str> {
        self.parsed.as_ref().and_then(|m| m.message_id())
    }

    /// The Date header as a Unix timestamp, when it names a real time: a day that exists,
    /// hours, minutes and seconds in range (mail-parser would carry `32 Nov 25:61` over
    /// into December).
    pub fn date(&self) -> Option<i64> {
        let d = self.parsed.as_ref()?.date()?;
        let real = jiff::civil::Date::new(d.year as i16, d.month as i8, d.day as i8).is_ok()
            && d.year <= 9999
            && d.hour < 24
            && d.minute < 60
            && d.second < 61
            && d.tz_hour < 24
            && d.tz_minute < 60;
        real.then(|| d.to_timestamp())
    }

    /// The Date header of a message that arrived at `arrived` (Unix time), as the ledger
    /// keeps it: the time it names, or, when it names none or one more than a day after the
    /// arrival (no clock is that wrong; such a date would list the message first for
    /// days), the header as written.
    pub fn date_as_of(&self, arrived: i64) -> DateHeader {
        const SKEW: i64 = 86_400;
        match self.date() {
            Some(t) if t <= arrived.saturating_add(SKEW) => DateHeader::Real(t),
            _ => match self.header_values("Date").next() {
                None => DateHeader::Missing,
                Some(written) => DateHeader::Impossible(one_line(written.trim())),
            },
        }
    }

    /// The text body: the first text part, or the text extracted from the HTML part.
    pub fn body(&self) -> &str {
        self.body.get_or_init(|| {
            let Some(m) = &self.parsed else {
                return String::new();
            };
            let mut text = m.body_text(0).map(Cow::into_owned).unwrap_or_default();
            if text.len() > BODY_LIMIT {
                let mut end = BODY_LIMIT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            text
        })
    }

    /// The body in lower case, for case-insensitive matching.
    pub fn body_lower(&self) -> &str {
        self.body_lower.get_or_init(|| self.body().to_lowercase())
    }

    /// The first `chars` characters of the body on one line, for logs and the digest.
    pub fn excerpt(&self, chars: usize) -> String {
        let words = self.body().split_whitespace();
        let (mut out, mut count) = (String::new(), 0);
        for word in words {
            let len = word.chars().count();
            if count + len + 1 > chars {
                if out.is_empty() {
                    out.extend(word.chars().take(chars));
                }
                out.push('…');
                break;
            }
            if !out.is_empty() {
                out.push(' ');
                count += 1;
            }
            out.push_str(word);
            count += len;
        }
        out
    }

    /// Decoded values of every header called `name` (any case).
    pub fn header_values<'m>(&'m self, name: &'m str) -> impl Iterator<Item = Cow<'m, str>> + 'm {
        self.parsed
            .iter()
            .flat_map(|m| m.headers().iter().map(move |h| (m, h)))
            .filter(move |(_, h)| h.name.as_str().eq_ignore_ascii_case(name))
            .map(|(m, h)| header_text(m.raw_message(), h))
    }

    /// True when a header called `name` is present.
    pub fn has_header(&self, name: &str) -> bool {
        self.header_values(name).next().is_some()
    }

    /// Number of `Received:` headers (hops), for loop detection.
    pub fn received_count(&self) -> usize {
        self.parsed.as_ref().map_or(0, |m| {
            m.headers()
                .iter()
                .filter(|h| h.name == HeaderName::Received)
                .count()
        })
    }

    /// The file names of the attachments (unnamed ones are left out).
    pub fn attachment_names(&self) -> impl Iterator<Item = &str> {
        self.parsed
            .iter()
            .flat_map(|m| m.attachments())
            .filter_map(|part| part.attachment_name())
    }

    /// True when the message has at least one attachment.
    pub fn has_attachment(&self) -> bool {
        self.parsed
            .as_ref()
            .is_some_and(|m| m.attachment_count() > 0)
    }

    /// `type/subtype` of the top-level part, lower-cased ("text/plain" when absent).
    pub fn content_type(&self) -> String {
        let ct = self.parsed.as_ref().and_then(|m| m.content_type());
        match ct {
            Some(ct) => match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                None => ct.ctype().to_ascii_lowercase(),
            },
            None => "text/plain".to_string(),
        }
    }

    /// Why this looks like mailing-list or bulk mail, if it does.
    pub fn list_evidence(&self) -> Option<String> {
        for name in ["List-Id", "List-Unsubscribe"] {
            if let Some(v) = self.header_values(name).next() {
                return Some(format!("{name}: {}", shorten(&v, 60)));
            }
        }
        self.header_values("Precedence")
            .find(|v| {
                let v = v.trim().to_ascii_lowercase();
                matches!(v.as_str(), "bulk" | "list" | "junk")
            })
            .map(|v| format!("Precedence: {}", v.trim()))
    }

    /// Why this looks sent by a machine (auto-reply, bounce, report), if it does.
    pub fn auto_evidence(&self) -> Option<AutoEvidence> {
        if let Some(v) = self
            .header_values("Auto-Submitted")
            .find(|v| !v.trim().eq_ignore_ascii_case("no"))
        {
            return Some(AutoEvidence::AutoSubmitted(v.trim().to_string()));
        }
        for name in AUTO_HEADERS {
            if self.has_header(name) {
                return Some(AutoEvidence::Header(name.to_string()));
            }
        }
        if self.content_type() == "multipart/report" {
            return Some(AutoEvidence::Report);
        }
        if let Some(rp) = self.header_values("Return-Path").next() {
            let rp = rp.trim();
            if rp == "<>" || rp.is_empty() {
                return Some(AutoEvidence::NullReturnPath);
            }
        }
        let daemon = self.sender().is_some_and(|s| {
            let local = s.address.split('@').next().unwrap_or("");
            local == "mailer-daemon" || local == "postmaster"
        });
        daemon.then_some(AutoEvidence::MailerDaemon)
    }
}

/// Headers auto-responders add.
const AUTO_HEADERS: [&str; 3] = ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"];

/// What shows that a machine sent a message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AutoEvidence {
    /// `Auto-Submitted` with a value other than `no` (RFC 3834): its value.
    AutoSubmitted(String),
    /// A header auto-responders add (`X-Autoreply`, …).
    Header(String),
    /// A `multipart/report`: a delivery or read report (RFC 6522).
    Report,
    /// An empty `Return-Path`: a bounce (RFC 5321 §4.5.5).
    NullReturnPath,
    /// From MAILER-DAEMON or postmaster: a bounce.
    MailerDaemon,
}

// The English forms, written in the ledger (within a guard's reason) and read back.
const REPORT: &str = "a multipart/report (delivery or read report)";
const NULL_RETURN_PATH: &str = "an empty Return-Path (a bounce)";
const MAILER_DAEMON: &str = "sent by MAILER-DAEMON (a bounce)";

impl AutoEvidence {
    /// The evidence its English form (`Display`) describes.
    pub fn parse_legacy(s: &str) -> Option<AutoEvidence> {
        if let Some(v) = s.strip_prefix("Auto-Submitted: ") {
            return Some(AutoEvidence::AutoSubmitted(v.to_string()));
        }
        if let Some(name) = s.strip_suffix(" header") {
            return AUTO_HEADERS
                .into_iter()
                .find(|h| *h == name)
                .map(|h| AutoEvidence::Header(h.to_string()));
        }
        match s {
            REPORT => Some(AutoEvidence::Report),
            NULL_RETURN_PATH => Some(AutoEvidence::NullReturnPath),
            MAILER_DAEMON => Some(AutoEvidence::MailerDaemon),
            _ => None,
        }
    }
}

impl std::fmt::Display for AutoEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AutoEvidence::AutoSubmitted(v) => write!(f, "Auto-Submitted: {v}"),
            AutoEvidence::Header(name) => write!(f, "{name} header"),
            AutoEvidence::Report => f.write_str(REPORT),
            AutoEvidence::NullReturnPath => f.write_str(NULL_RETURN_PATH),
            AutoEvidence::MailerDaemon => f.write_str(MAILER_DAEMON),
        }
    }
}

fn mailboxes(address: &Address<'_>) -> Vec<NamedAddress> {
    address
        .iter()
        .map(|a| NamedAddress {
            name: a.name().map(one_line).filter(|n| !n.is_empty()),
            address: a.address().unwrap_or("").trim().to_lowercase(),
        })
        .collect()
}

/// A header value as text: decoded where mail-parser decoded it, else the raw value unfolded.
fn header_text<'m>(raw: &'m [u8], header: &'m mail_parser::Header<'m>) -> Cow<'m, str> {
    match &header.value {
        HeaderValue::Text(text) => Cow::Borrowed(text.as_ref()),
        HeaderValue::TextList(list) => Cow::Owned(list.join(", ")),
        _ => {
            let bytes = raw
                .get(header.offset_start as usize..header.offset_end as usize)
                .unwrap_or_default();
            Cow::Owned(one_line(&String::from_utf8_lossy(bytes)))
        }
    }
}

/// Collapses folding and control characters into single spaces.
pub fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn shorten(s: &str, max: usize) -> String {
    let s = one_line(s);
    if s.chars().count() <= max {
        s
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
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
    fn addresses_are_lower_cased_and_names_decoded() {
        let raw = b"From: =?UTF-8?Q?Jos=C3=A9?= <Jose@Example.COM>\r\nTo: a@b.example, C@D.example\r\n\r\n";
        let m = Message::parse(raw);
        let from = m.sender().expect("has a sender");
        assert_eq!(from.address, "jose@example.com");
        assert_eq!(from.name.as_deref(), Some("José"));
        assert_eq!(from.domain(), "example.com");
        let to: Vec<_> = m
            .addresses(AddressField::To)
            .iter()
            .map(|a| a.address.as_str())
            .collect();
        assert_eq!(to, ["a@b.example", "c@d.example"]);
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

    #[test]
    fn html_only_body_is_extracted_as_text() {
        let raw = b"From: a@x.example\r\nContent-Type: text/html\r\n\r\n<p>Please <b>translate</b> this</p>";
        assert!(Message::parse(raw).body().contains("Please translate this"));
    }

    #[test]
    fn detects_lists_and_machines() {
        let list = Message::parse(b"From: n@x.example\r\nList-Id: <news.x.example>\r\n\r\n");
        assert_eq!(
            list.list_evidence().as_deref(),
            Some("List-Id: <news.x.example>")
        );
        let bulk = Message::parse(b"From: n@x.example\r\nPrecedence: Bulk\r\n\r\n");
        assert!(bulk.list_evidence().is_some());
        let plain = Message::parse(b"From: n@x.example\r\nPrecedence: first-class\r\n\r\n");
        assert!(plain.list_evidence().is_none());

        let ooo = Message::parse(b"From: n@x.example\r\nAuto-Submitted: auto-replied\r\n\r\n");
        assert_eq!(
            ooo.auto_evidence(),
            Some(AutoEvidence::AutoSubmitted("auto-replied".into()))
        );
        let human = Message::parse(b"From: n@x.example\r\nAuto-Submitted: no\r\n\r\n");
        assert!(human.auto_evidence().is_none());
        let bounce = Message::parse(b"From: MAILER-DAEMON@mx.example\r\n\r\nundeliverable");
        assert_eq!(bounce.auto_evidence(), Some(AutoEvidence::MailerDaemon));
    }

    #[test]
    fn auto_evidence_reads_back_from_its_english_form() {
        let all = [
            AutoEvidence::AutoSubmitted("auto-replied (vacation)".into()),
            AutoEvidence::Header("X-Autorespond".into()),
            AutoEvidence::Report,
            AutoEvidence::NullReturnPath,
            AutoEvidence::MailerDaemon,
        ];
        for e in all {
            assert_eq!(
                AutoEvidence::parse_legacy(&e.to_string()),
                Some(e.clone()),
                "{e}"
            );
        }
        assert_eq!(
            AutoEvidence::MailerDaemon.to_string(),
            "sent by MAILER-DAEMON (a bounce)"
        );
        assert_eq!(AutoEvidence::parse_legacy("X-Mailer header"), None);
        assert_eq!(AutoEvidence::parse_legacy("a fax"), None);
    }

    #[test]
    fn every_header_but_received_parses_as_mail_parsers_defaults() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
        let mut checked = 0;
        for file in std::fs::read_dir(corpus).expect("corpus") {
            let path = file.expect("entry").path();
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let raw = std::fs::read(&path).expect("fixture");
            let ours = PARSER.parse(&raw);
            let default = MessageParser::default().parse(&raw);
            let (Some(ours), Some(default)) = (ours, default) else {
                continue;
            };
            let ours_parts = ours.parts.iter().flat_map(|p| p.headers.iter());
            let default_parts = default.parts.iter().flat_map(|p| p.headers.iter());
            for (a, b) in ours_parts.zip(default_parts) {
                assert_eq!(a.name, b.name, "{}", path.display());
                if a.name != HeaderName::Received {
                    assert_eq!(a.value, b.value, "{}: {}", path.display(), a.name.as_str());
                    checked += 1;
                }
            }
            assert_eq!(ours.parts.len(), default.parts.len(), "{}", path.display());
        }
        assert!(checked > 300, "only {checked} headers compared");
    }

    #[test]
    fn excerpt_is_one_bounded_line() {
        let m =
            Message::parse(b"From: a@x.example\r\n\r\nHello   there,\r\nthis is a long body text");
        assert_eq!(m.excerpt(100), "Hello there, this is a long body text");
        assert_eq!(m.excerpt(12), "Hello there,…");
    }
}
