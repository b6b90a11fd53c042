//! Compose the forward of a delegable message to an assistant.
//!
//! Pure: a message, an assistant, the rule's instructions, `now` and an id in; a
//! [`lettre::Message`] out, ready for the outbox to send. The forward comes from delega's own
//! address (resending with the original sender's From would break SPF and DMARC), puts the
//! instructions first, and carries the original unaltered as a `message/rfc822` attachment.
//! Sending, retrying and recording are left to the outbox.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use lettre::address::AddressError;
use lettre::message::header::{
    ContentDisposition, ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox as LettreMailbox, MultiPart, SinglePart};

use crate::config::{Assistant, Language};
use crate::message::{AddressField, Mailbox, Message, one_line};

/// Everything a forward is made of.
pub struct ForwardRequest<'a> {
    /// The message to forward; its raw bytes become the attachment.
    pub original: &'a Message<'a>,
    /// Who receives the forward.
    pub assistant: &'a Assistant,
    /// delega's own sender (`smtp.from`), e.g. `Giulia's inbox <delega@example.com>`.
    pub from: &'a str,
    /// What the assistant must do: the rule's instructions, shown first.
    pub instructions: Option<&'a str>,
    /// The name of the rule that delegated the message, so the assistant can report it.
    pub rule: &'a str,
    /// Put before the original subject, e.g. `[delega]`.
    pub subject_prefix: &'a str,
    /// Language of every label in the forward.
    pub language: Language,
    /// Unique per forward (RFC 5322 atext and dots), e.g. `giulia-1732460000-42`: it names
    /// the `Message-ID` and `X-Delega-Forward`, so a resend of the same forward is recognisable.
    pub forward_id: &'a str,
    /// The account's timezone, to show when the original was sent in local time.
    pub timezone: &'a TimeZone,
    /// The forward's `Date`.
    pub now: Timestamp,
}

/// Why a forward could not be composed. Each is a configuration or caller problem: retrying
/// the same request gives the same error.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The assistant's address is not a valid mail address.
    #[error("invalid address `{address}` for assistant `{id}`")]
    AssistantAddress {
        /// The assistant's id.
        id: String,
        /// The address as configured.
        address: String,
        /// Why lettre refused it.
        source: AddressError,
    },
    /// delega's sender (`smtp.from`) is not a valid mailbox.
    #[error("invalid sender `{from}` (smtp.from)")]
    From {
        /// The sender as configured.
        from: String,
        /// Why lettre refused it.
        source: AddressError,
    },
    /// The forward id cannot go into a Message-ID.
    #[error("invalid forward id `{0}`: expected 1 to 200 letters, digits, dots or RFC 5322 atext")]
    ForwardId(String),
    /// `now` cannot be written as a `Date` header (before 1970).
    #[error("cannot date a forward at {0}: before 1970")]
    Now(Timestamp),
    /// lettre refused to assemble the message.
    #[error("cannot assemble the forward")]
    Build(#[from] lettre::error::Error),
}

/// Composes the forward described by `req`.
pub fn compose(req: &ForwardRequest<'_>) -> Result<lettre::Message, ForwardError> {
    let labels = Labels::for_language(req.language);
    let from: LettreMailbox = req.from.parse().map_err(|source| ForwardError::From {
        from: req.from.to_string(),
        source,
    })?;
    let to = assistant_mailbox(req.assistant)?;
    if !valid_forward_id(req.forward_id) {
        return Err(ForwardError::ForwardId(req.forward_id.to_string()));
    }
    let date = SystemTime::try_from(req.now)
        .ok()
        .filter(|t| *t >= SystemTime::UNIX_EPOCH)
        .ok_or(ForwardError::Now(req.now))?;
    // A domain-less or internationalised sender domain cannot go into a Message-ID as is.
    let domain = Some(from.email.domain())
        .filter(|d| !d.is_empty() && d.is_ascii())
        .unwrap_or("delega.invalid")
        .to_string();

    let reply_to = reply_to(req.original);
    let summary = Summary::new(req, labels, !reply_to.is_empty());
    let body = body(req.original.raw(), &summary, labels, req.forward_id);

    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject(req.subject_prefix, req.original.subject(), labels))
        .date(date)
        .message_id(Some(format!("<{}@{domain}>", req.forward_id)))
        .header(AutoSubmitted)
        .header(DelegaForward(req.forward_id.to_string()));
    for mailbox in reply_to {
        builder = builder.reply_to(mailbox);
    }
    if let Some(id) = req.original.message_id().filter(|id| valid_message_id(id)) {
        builder = builder
            .in_reply_to(format!("<{id}>"))
            .references(format!("<{id}>"));
    }
    Ok(builder.multipart(body)?)
}

/// The `Auto-Submitted: auto-generated` header (RFC 3834 §5), so that vacation responders
/// and other robots do not answer the forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if s.trim().eq_ignore_ascii_case("auto-generated") {
            Ok(AutoSubmitted)
        } else {
            Err(format!("not auto-generated: {s}").into())
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_string())
    }
}

/// The `X-Delega-Forward: <forward id>` header: which forward this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegaForward(pub String);

impl Header for DelegaForward {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Delega-Forward")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(DelegaForward(s.trim().to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `X-Delega-Digest: <digest id>`: marks delega's own digests and daily lists, so that a
/// digest arriving in a watched Inbox is left there for the entrepreneur, never filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegaDigest(pub String);

impl Header for DelegaDigest {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(crate::guard::DIGEST_HEADER)
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(DelegaDigest(s.trim().to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

fn assistant_mailbox(assistant: &Assistant) -> Result<LettreMailbox, ForwardError> {
    let address = assistant
        .address
        .parse()
        .map_err(|source| ForwardError::AssistantAddress {
            id: assistant.id.clone(),
            address: assistant.address.clone(),
            source,
        })?;
    let name = one_line(&assistant.name);
    Ok(LettreMailbox::new(
        (!name.is_empty()).then_some(name),
        address,
    ))
}

/// Where the assistant's reply goes: the original's Reply-To, else its From; addresses lettre
/// cannot write are left out, and none at all means no Reply-To.
fn reply_to(original: &Message<'_>) -> Vec<LettreMailbox> {
    let usable = |field| -> Vec<LettreMailbox> {
        original
            .addresses(field)
            .iter()
            .filter_map(|m| {
                let address = m.address.parse().ok()?;
                Some(LettreMailbox::new(m.name.clone(), address))
            })
            .collect()
    };
    let reply_to = usable(AddressField::ReplyTo);
    if reply_to.is_empty() {
        usable(AddressField::From)
    } else {
        reply_to
    }
}

/// Longest subject shown, in characters: the full one is in the attachment.
const SUBJECT_MAX: usize = 300;

/// `prefix subject` on one line: control characters and line breaks from the message become
/// spaces, so nothing in a subject can start a header of its own.
fn subject(prefix: &str, original: &str, labels: &Labels) -> String {
    let original = one_line(original);
    let original = if original.is_empty() {
        labels.no_subject
    } else {
        &original
    };
    bounded(one_line(&format!("{prefix} {original}")), SUBJECT_MAX)
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn bounded(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s,
    }
}

/// RFC 5322 `dot-atom-text`-ish: atext and dots, so it can be the left of a Message-ID.
fn valid_forward_id(id: &str) -> bool {
    (1..=200).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
}

/// A Message-ID that can be written back between angle brackets as is.
fn valid_message_id(id: &str) -> bool {
    (1..=900).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
}

/// What the forward says about the original, as plain strings (escaped later for HTML).
struct Summary<'a> {
    instructions: Option<&'a str>,
    reply_hint: &'static str,
    sender: String,
    date: String,
    subject: String,
    rule: String,
    excerpt: String,
}

impl<'a> Summary<'a> {
    fn new(req: &ForwardRequest<'a>, labels: &Labels, can_reply: bool) -> Self {
        let original = req.original;
        let sender = match original.sender() {
            Some(Mailbox { name, address }) if !address.is_empty() => match name {
                Some(name) => format!("{name} <{address}>"),
                None => address.clone(),
            },
            // A group name without an address still says who it claims to be.
            Some(Mailbox {
                name: Some(name), ..
            }) => name.clone(),
            _ => labels.unknown_sender.to_string(),
        };
        let date = original
            .date()
            .and_then(|ts| local_date(ts, req.timezone, labels))
            .unwrap_or_else(|| labels.unknown_date.to_string());
        let subject = match original.subject() {
            "" => labels.no_subject.to_string(),
            s => bounded(s.to_string(), SUBJECT_MAX),
        };
        Summary {
            instructions: req.instructions.map(str::trim).filter(|i| !i.is_empty()),
            reply_hint: if can_reply {
                labels.reply_hint
            } else {
                labels.no_reply_hint
            },
            sender: one_line(&sender),
            date,
            subject,
            rule: one_line(req.rule),
            excerpt: one_line(&original.excerpt(300)),
        }
    }

    /// `(label, value)` rows about the original, in display order.
    fn rows(&self, labels: &Labels) -> [(&'static str, &str); 4] {
        [
            (labels.from, &self.sender),
            (labels.date, &self.date),
            (labels.subject, &self.subject),
            (labels.rule, &self.rule),
        ]
    }
}

/// `lunedì 24 novembre 2026, 09:30` or `Monday 24 November 2026, 09:30`.
fn local_date(unix: i64, tz: &TimeZone, labels: &Labels) -> Option<String> {
    let t = Timestamp::from_second(unix)
        .ok()?
        .to_zoned_datetime(tz.clone());
    let weekday = labels
        .weekdays
        .get(usize::try_from(t.weekday().to_monday_zero_offset()).ok()?)?;
    let month = labels.months.get(usize::try_from(t.month() - 1).ok()?)?;
    Some(format!(
        "{weekday} {} {month} {}, {:02}:{:02}",
        t.day(),
        t.year(),
        t.hour(),
        t.minute()
    ))
}

/// multipart/mixed: the note (plain and HTML alternatives), then the original.
fn body(raw: &[u8], summary: &Summary<'_>, labels: &Labels, forward_id: &str) -> MultiPart {
    let plain = SinglePart::plain(plain_text(summary, labels, forward_id));
    let html = SinglePart::html(html_text(summary, labels, forward_id));
    let (original, encoding) = rfc822_part(raw, labels);

    let seed = {
        let mut h = DefaultHasher::new();
        (forward_id, raw).hash(&mut h);
        h.finish()
    };
    let contents = [plain.raw_body(), html.raw_body(), raw];
    let (inner, outer) = (
        boundary(seed, "alternative", &contents),
        boundary(seed, "mixed", &contents),
    );
    let note = MultiPart::alternative()
        .boundary(inner)
        .singlepart(plain)
        .singlepart(html);
    let mut mixed = MultiPart::mixed().boundary(outer);
    // RFC 2045 §6.4: a multipart is labelled with the widest encoding of what it contains.
    if encoding != ContentTransferEncoding::SevenBit {
        mixed = mixed.header(encoding);
    }
    mixed.multipart(note).singlepart(original)
}

/// The original as a `message/rfc822` part whose body is exactly `raw`.
///
/// RFC 2046 §5.2.1 allows only 7bit, 8bit or binary here (never base64 or quoted-printable),
/// so the bytes are never re-encoded: the label is chosen from what they are (RFC 2045
/// §2.7–2.9). lettre's own check for 7bit/8bit is stricter (76-char lines, UTF-8 only) and
/// would refuse most real mail, hence `Body::dangerous_pre_encoded`, which lettre writes
/// verbatim, followed by the CRLF that belongs to the next boundary.
fn rfc822_part(raw: &[u8], labels: &Labels) -> (SinglePart, ContentTransferEncoding) {
    let encoding = transfer_encoding(raw);
    let part = SinglePart::builder()
        .header(ContentType::parse("message/rfc822").expect("a valid MIME type"))
        .header(ContentDisposition::attachment(labels.attachment_name))
        .body(Body::dangerous_pre_encoded(raw.to_vec(), encoding));
    (part, encoding)
}

/// The narrowest of 7bit, 8bit and binary that describes `raw` truthfully: 7bit and 8bit need
/// lines of at most 998 octets, no NUL, and CR and LF only as CRLF pairs (RFC 2045 §2.7–2.8);
/// 7bit also needs every octet below 128.
fn transfer_encoding(raw: &[u8]) -> ContentTransferEncoding {
    let mut eight_bit = false;
    let mut line = 0usize;
    let mut bytes = raw.iter().peekable();
    while let Some(&b) = bytes.next() {
        match b {
            b'\r' if bytes.peek() == Some(&&b'\n') => {
                bytes.next();
                line = 0;
                continue;
            }
            b'\r' | b'\n' | 0 => return ContentTransferEncoding::Binary,
            128.. => eight_bit = true,
            _ => {}
        }
        line += 1;
        if line > 998 {
            return ContentTransferEncoding::Binary;
        }
    }
    if eight_bit {
        ContentTransferEncoding::EightBit
    } else {
        ContentTransferEncoding::SevenBit
    }
}

/// A boundary that occurs in none of `contents` (RFC 2046 §5.1.1). It is derived from a hash
/// of the forward id and the original, so the same forward always gets the same bytes and a
/// sender cannot plant the boundary in a message to break the forward's structure.
fn boundary(seed: u64, kind: &str, contents: &[&[u8]]) -> String {
    let mut attempt = 0u64;
    loop {
        let mut h = DefaultHasher::new();
        (seed, kind, attempt).hash(&mut h);
        let candidate = format!("=_delega.{:016x}", h.finish());
        let needle = candidate.as_bytes();
        if !contents
            .iter()
            .any(|c| c.windows(needle.len()).any(|w| w == needle))
        {
            return candidate;
        }
        attempt += 1;
    }
}

fn plain_text(s: &Summary<'_>, labels: &Labels, forward_id: &str) -> String {
    let mut out = format!(
        "{}\n\n{}\n\n{}\n\n",
        labels.task,
        s.instructions.unwrap_or(labels.no_instructions),
        s.reply_hint
    );
    for (label, value) in s.rows(labels) {
        out.push_str(&format!("{label}: {value}\n"));
    }
    if !s.excerpt.is_empty() {
        out.push_str(&format!("\n{}:\n{}\n", labels.excerpt, s.excerpt));
    }
    out.push_str(&format!("\n-- \n{} ({forward_id})\n", labels.footer));
    out
}

fn html_text(s: &Summary<'_>, labels: &Labels, forward_id: &str) -> String {
    let instructions = match s.instructions {
        Some(text) => escape_html(text).replace('\n', "<br>\n"),
        None => escape_html(labels.no_instructions),
    };
    let mut rows = String::new();
    for (label, value) in s.rows(labels) {
        rows.push_str(&format!(
            "<tr><th style=\"text-align:left;padding:2px 12px 2px 0;color:#555\">{}</th>\
             <td>{}</td></tr>\n",
            escape_html(label),
            escape_html(value)
        ));
    }
    let excerpt = if s.excerpt.is_empty() {
        String::new()
    } else {
        format!(
            "<p style=\"color:#555;margin-bottom:4px\">{}</p>\n\
             <blockquote style=\"margin:0;padding-left:12px;border-left:2px solid #ccc;color:#444\">{}</blockquote>\n",
            escape_html(labels.excerpt),
            escape_html(&s.excerpt)
        )
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family:sans-serif;line-height:1.4;color:#222\">\n\
         <div style=\"border-left:4px solid #2b6cb0;background:#eef4fb;padding:8px 12px;margin-bottom:16px\">\n\
         <div style=\"font-size:0.85em;color:#2b6cb0\">{task}</div>\n\
         <div style=\"font-size:1.15em;font-weight:bold\">{instructions}</div>\n</div>\n\
         <p>{hint}</p>\n<table style=\"border-collapse:collapse\">\n{rows}</table>\n{excerpt}\
         <p style=\"font-size:0.8em;color:#888\">{footer} ({id})</p>\n</body></html>\n",
        lang = labels.lang,
        title = escape_html(&s.subject),
        task = escape_html(labels.task),
        hint = escape_html(s.reply_hint),
        footer = escape_html(labels.footer),
        id = escape_html(forward_id),
    )
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Every text of a forward in one language.
struct Labels {
    lang: &'static str,
    task: &'static str,
    no_instructions: &'static str,
    reply_hint: &'static str,
    no_reply_hint: &'static str,
    from: &'static str,
    date: &'static str,
    subject: &'static str,
    rule: &'static str,
    excerpt: &'static str,
    unknown_sender: &'static str,
    unknown_date: &'static str,
    no_subject: &'static str,
    footer: &'static str,
    attachment_name: &'static str,
    /// Monday first.
    weekdays: [&'static str; 7],
    months: [&'static str; 12],
}

impl Labels {
    fn for_language(language: Language) -> &'static Labels {
        match language {
            Language::It => &IT,
            Language::En => &EN,
        }
    }
}

const IT: Labels = Labels {
    lang: "it",
    task: "Cosa fare",
    no_instructions: "Nessuna istruzione: gestisci questo messaggio come di consueto.",
    reply_hint: "Rispondi direttamente al mittente: la risposta a questa email va a lui \
                 (Reply-To impostato). Il messaggio originale è allegato.",
    no_reply_hint: "Il messaggio originale non ha un indirizzo a cui rispondere. \
                    È allegato.",
    from: "Da",
    date: "Data",
    subject: "Oggetto",
    rule: "Regola",
    excerpt: "Estratto",
    unknown_sender: "(mittente sconosciuto)",
    unknown_date: "(data sconosciuta)",
    no_subject: "(senza oggetto)",
    footer: "Inoltrato da delega",
    attachment_name: "messaggio-originale.eml",
    weekdays: [
        "lunedì",
        "martedì",
        "mercoledì",
        "giovedì",
        "venerdì",
        "sabato",
        "domenica",
    ],
    months: [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
};

const EN: Labels = Labels {
    lang: "en",
    task: "What to do",
    no_instructions: "No instructions: handle this message as usual.",
    reply_hint: "Reply to the sender directly: replying to this email goes to them \
                 (Reply-To is set). The original message is attached.",
    no_reply_hint: "The original message has no address to reply to. It is attached.",
    from: "From",
    date: "Date",
    subject: "Subject",
    rule: "Rule",
    excerpt: "Excerpt",
    unknown_sender: "(unknown sender)",
    unknown_date: "(unknown date)",
    no_subject: "(no subject)",
    footer: "Forwarded by delega",
    attachment_name: "original-message.eml",
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
};

#[cfg(test)]
mod tests {
    use mail_parser::{MessageParser, MimeHeaders, PartType};

    use super::*;

    const ORIGINAL: &[u8] = b"From: Mario Rossi <Mario@Cliente.example>\r\n\
        To: giulia@example.com\r\n\
        Subject: Richiesta preventivo\r\n\
        Date: Mon, 24 Nov 2025 08:30:00 +0000\r\n\
        Message-ID: <abc.123@cliente.example>\r\n\
        \r\n\
        Buongiorno, vorrei un preventivo per la traduzione del contratto.\r\n";

    fn anna() -> Assistant {
        Assistant {
            id: "anna".into(),
            name: "Anna Bianchi".into(),
            address: "anna@studio.example".into(),
            role: None,
            daily_list: false,
        }
    }

    fn rome() -> TimeZone {
        TimeZone::get("Europe/Rome").expect("the bundled tzdb has Europe/Rome")
    }

    fn request<'a>(
        original: &'a Message<'a>,
        assistant: &'a Assistant,
        timezone: &'a TimeZone,
    ) -> ForwardRequest<'a> {
        ForwardRequest {
            original,
            assistant,
            from: "Giulia's inbox <delega@example.com>",
            instructions: Some("Prepare the quote and send it within two days."),
            rule: "quotes",
            subject_prefix: "[delega]",
            language: Language::En,
            forward_id: "giulia-1732460000-42",
            timezone,
            now: Timestamp::from_second(1_764_000_000).expect("in range"),
        }
    }

    /// Composes the forward of `raw` (tweaked by `edit`) and returns its bytes.
    fn forward(raw: &[u8], edit: impl FnOnce(&mut ForwardRequest<'_>)) -> Vec<u8> {
        let (original, assistant, tz) = (Message::parse(raw), anna(), rome());
        let mut req = request(&original, &assistant, &tz);
        edit(&mut req);
        compose(&req).expect("composes").formatted()
    }

    fn parse(bytes: &[u8]) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(bytes)
            .expect("the forward parses")
    }

    /// The bytes of the attached message/rfc822 body, located by mail-parser's offsets.
    fn attached<'b>(forward: &'b [u8], parsed: &mail_parser::Message<'_>) -> &'b [u8] {
        let part = parsed
            .parts
            .iter()
            .find(|p| p.content_type().is_some_and(|ct| ct.c_type == "message"))
            .expect("a message/rfc822 part");
        assert_eq!(
            part.content_type().and_then(|ct| ct.subtype()),
            Some("rfc822")
        );
        &forward[part.offset_body as usize..part.offset_end as usize]
    }

    /// Independently of mail-parser: `raw` sits between a blank line ending the part's headers
    /// and the CRLF that belongs to the next boundary.
    fn assert_attached_verbatim(forward: &[u8], raw: &[u8], what: &str) {
        let needle = [&b"\r\n\r\n"[..], raw, b"\r\n--=_delega."].concat();
        assert!(
            forward.windows(needle.len()).any(|w| w == needle),
            "{what}: the original is not attached verbatim"
        );
    }

    fn header_names(bytes: &[u8]) -> Vec<String> {
        let head = &bytes[..bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a header block")];
        String::from_utf8_lossy(head)
            .split("\r\n")
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
            .collect()
    }

    #[test]
    fn forward_goes_from_delega_to_the_assistant_with_its_headers() {
        let bytes = forward(ORIGINAL, |_| {});
        let m = parse(&bytes);
        let first = |a: Option<&mail_parser::Address<'_>>| {
            let a = a.and_then(|a| a.first()).expect("an address");
            (
                a.name().map(str::to_string),
                a.address().map(str::to_string),
            )
        };
        assert_eq!(
            first(m.from()),
            (
                Some("Giulia's inbox".into()),
                Some("delega@example.com".into())
            )
        );
        assert_eq!(
            first(m.to()),
            (
                Some("Anna Bianchi".into()),
                Some("anna@studio.example".into())
            )
        );
        assert_eq!(
            first(m.reply_to()),
            (
                Some("Mario Rossi".into()),
                Some("mario@cliente.example".into())
            )
        );
        assert_eq!(m.subject(), Some("[delega] Richiesta preventivo"));
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        assert_eq!(
            m.header_raw("X-Delega-Forward").map(str::trim),
            Some("giulia-1732460000-42")
        );
        assert_eq!(m.message_id(), Some("giulia-1732460000-42@example.com"));
        assert_eq!(m.references().as_text(), Some("abc.123@cliente.example"));
        assert_eq!(m.in_reply_to().as_text(), Some("abc.123@cliente.example"));
        assert_eq!(
            m.date().map(|d| d.to_timestamp()),
            Some(1_764_000_000),
            "Date is the `now` passed in"
        );
    }

    #[test]
    fn reply_to_prefers_the_original_reply_to() {
        let raw = b"From: a@x.example\r\nReply-To: Desk <desk@x.example>\r\n\r\nhi\r\n";
        let bytes = forward(raw, |_| {});
        let m = parse(&bytes);
        let reply_to = m.reply_to().and_then(|a| a.first()).expect("Reply-To");
        assert_eq!(reply_to.address(), Some("desk@x.example"));
    }

    #[test]
    fn text_part_puts_instructions_first_then_the_sender() {
        let bytes = forward(ORIGINAL, |_| {});
        let m = parse(&bytes);
        let text = m.body_text(0).expect("a text part");
        let instructions = text
            .find("Prepare the quote and send it within two days.")
            .expect("instructions in the text");
        let sender = text
            .find("From: Mario Rossi <mario@cliente.example>")
            .expect("the sender in the text");
        assert!(instructions < sender, "{text}");
        for line in [
            "Date: Monday 24 November 2025, 09:30",
            "Subject: Richiesta preventivo",
            "Rule: quotes",
            "vorrei un preventivo per la traduzione",
            "Reply to the sender directly",
            "The original message is attached.",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        let html = m.body_html(0).expect("an HTML part");
        assert!(html.contains("Prepare the quote and send it within two days."));
        assert!(html.contains("Mario Rossi &lt;mario@cliente.example&gt;"));
    }

    #[test]
    fn labels_and_dates_follow_the_language() {
        let bytes = forward(ORIGINAL, |r| r.language = Language::It);
        let m = parse(&bytes);
        let text = m.body_text(0).expect("a text part");
        for line in [
            "Cosa fare",
            "Da: Mario Rossi <mario@cliente.example>",
            "Data: lunedì 24 novembre 2025, 09:30",
            "Oggetto: Richiesta preventivo",
            "Regola: quotes",
            "Rispondi direttamente al mittente",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        assert!(!text.contains("Subject:"), "{text}");
        assert!(m.body_html(0).expect("HTML").contains("<html lang=\"it\">"));
    }

    #[test]
    fn html_escapes_a_hostile_subject_and_sender_name() {
        let raw = b"From: \"<script>alert(1)</script>\" <evil@x.example>\r\n\
            Subject: <script>alert('x')</script> & \"more\"\r\n\r\n<img src=x onerror=y>\r\n";
        let bytes = forward(raw, |r| r.instructions = Some("Check <b>this</b>"));
        let m = parse(&bytes);
        let html = m.body_html(0).expect("an HTML part");
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>this"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;")
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &lt;evil@x.example&gt;"));
    }

    #[test]
    fn a_subject_cannot_inject_headers() {
        // mail-parser would unfold a folded Subject; an encoded word can still carry CR LF.
        let raw = b"From: a@x.example\r\n\
            Subject: =?UTF-8?B?SGVsbG8NCkJjYzogZXZpbEB4LmV4YW1wbGU=?=\r\n\r\nhi\r\n";
        let original = Message::parse(raw);
        assert!(original.subject().contains("Bcc: evil@x.example"));
        let bytes = forward(raw, |r| r.subject_prefix = "[delega]\r\nX-Evil: 1");
        let names = header_names(&bytes);
        assert!(
            !names.iter().any(|n| n == "bcc" || n == "x-evil"),
            "{names:?}"
        );
        let m = parse(&bytes);
        assert_eq!(
            m.subject(),
            Some("[delega] X-Evil: 1 Hello Bcc: evil@x.example")
        );

        let subject = subject("[delega]", "Hello\r\nBcc: evil@x.example\u{0}", &EN);
        assert_eq!(subject, "[delega] Hello Bcc: evil@x.example");
    }

    #[test]
    fn the_original_is_attached_byte_for_byte() {
        let long_line = [b'x'; 1200];
        let originals: [(&str, Vec<u8>, &str); 5] = [
            ("ascii with CRLF", ORIGINAL.to_vec(), "7bit"),
            (
                "latin-1, not UTF-8",
                b"From: a@x.example\r\nSubject: caff\xe8\r\n\r\nperch\xe9 \xe0 posto\r\n".to_vec(),
                "8bit",
            ),
            (
                "bare LF line endings",
                b"From: a@x.example\nSubject: lf\n\nline one\nline two\n".to_vec(),
                "binary",
            ),
            (
                "a line over 998 octets",
                [&b"From: a@x.example\r\n\r\n"[..], &long_line, b"\r\n"].concat(),
                "binary",
            ),
            (
                "no final newline, a NUL and a dot line",
                b"From: a@x.example\r\n\r\n.\r\nnul\x00here".to_vec(),
                "binary",
            ),
        ];
        for (what, raw, encoding) in originals {
            let bytes = forward(&raw, |_| {});
            let m = parse(&bytes);
            assert_eq!(attached(&bytes, &m), raw.as_slice(), "{what}");
            let part = m
                .parts
                .iter()
                .find(|p| p.content_type().is_some_and(|ct| ct.c_type == "message"))
                .expect("the attachment");
            assert_eq!(part.content_transfer_encoding(), Some(encoding), "{what}");
            let PartType::Message(inner) = &part.body else {
                panic!("{what}: the attachment is not parsed as a message");
            };
            assert_eq!(inner.raw_message(), raw.as_slice(), "{what}");
            assert_attached_verbatim(&bytes, &raw, what);
        }
    }

    #[test]
    fn transfer_encoding_follows_rfc_2045() {
        use ContentTransferEncoding::*;
        assert_eq!(transfer_encoding(b""), SevenBit);
        assert_eq!(transfer_encoding(b"a\r\nb"), SevenBit);
        assert_eq!(transfer_encoding("è\r\n".as_bytes()), EightBit);
        assert_eq!(transfer_encoding(b"a\nb"), Binary);
        assert_eq!(transfer_encoding(b"a\rb"), Binary);
        assert_eq!(transfer_encoding(b"a\x00b"), Binary);
        assert_eq!(transfer_encoding(&[b'a'; 998]), SevenBit);
        assert_eq!(transfer_encoding(&[b'a'; 999]), Binary);
    }

    #[test]
    fn a_planted_boundary_does_not_split_the_forward() {
        let seed = 7;
        let planted = boundary(seed, "mixed", &[]);
        let chosen = boundary(seed, "mixed", &[planted.as_bytes()]);
        assert_ne!(planted, chosen);
    }

    #[test]
    fn the_same_forward_composes_to_the_same_bytes() {
        assert_eq!(forward(ORIGINAL, |_| {}), forward(ORIGINAL, |_| {}));
    }

    #[test]
    fn no_reply_to_when_the_original_has_no_address() {
        for raw in [
            &b"Subject: who sent this?\r\n\r\nno sender\r\n"[..],
            b"From: undisclosed-recipients:;\r\n\r\ngroup without address\r\n",
            b"",
            b"\x00\xff\xfe garbage",
        ] {
            let bytes = forward(raw, |_| {});
            assert!(
                !header_names(&bytes).contains(&"reply-to".to_string()),
                "{raw:?}"
            );
            let m = parse(&bytes);
            let text = m.body_text(0).expect("a text part");
            assert!(text.contains("From: (unknown sender)"), "{text}");
            assert!(text.contains("no address to reply to"), "{text}");
            // Not via mail-parser's offsets: it runs a nested "message" with no header block
            // on to the end of the enclosing one.
            assert_attached_verbatim(&bytes, raw, &format!("{raw:?}"));
        }
    }

    #[test]
    fn missing_subject_date_and_instructions_have_placeholders() {
        let raw = b"From: a@x.example\r\n\r\nhi\r\n";
        let bytes = forward(raw, |r| r.instructions = None);
        let m = parse(&bytes);
        assert_eq!(m.subject(), Some("[delega] (no subject)"));
        let text = m.body_text(0).expect("a text part");
        assert!(text.contains("No instructions"), "{text}");
        assert!(text.contains("Date: (unknown date)"), "{text}");
        assert!(m.references().is_empty());
    }

    #[test]
    fn a_huge_message_and_subject_are_forwarded_bounded() {
        let subject = "word ".repeat(50_000);
        let body = "lorem ipsum ".repeat(200_000);
        let raw = format!("From: a@x.example\r\nSubject: {subject}\r\n\r\n{body}\r\n");
        let bytes = forward(raw.as_bytes(), |_| {});
        let m = parse(&bytes);
        assert!(m.subject().expect("subject").chars().count() <= SUBJECT_MAX + 1);
        assert!(m.body_text(0).expect("text").len() < 4_000);
        assert_eq!(attached(&bytes, &m), raw.as_bytes());
    }

    #[test]
    fn invalid_configuration_is_a_typed_error() {
        let (original, tz) = (Message::parse(ORIGINAL), rome());
        let bad = Assistant {
            address: "not an address".into(),
            ..anna()
        };
        let good = anna();
        let err = compose(&request(&original, &bad, &tz)).expect_err("bad assistant");
        assert!(matches!(err, ForwardError::AssistantAddress { ref id, .. } if id == "anna"));

        let err = compose(&ForwardRequest {
            from: "delega at example",
            ..request(&original, &good, &tz)
        })
        .expect_err("bad from");
        assert!(matches!(err, ForwardError::From { .. }));

        let err = compose(&ForwardRequest {
            forward_id: "a b\r\nX: y",
            ..request(&original, &good, &tz)
        })
        .expect_err("bad id");
        assert!(matches!(err, ForwardError::ForwardId(_)));

        let err = compose(&ForwardRequest {
            now: Timestamp::from_second(-1).expect("in range"),
            ..request(&original, &good, &tz)
        })
        .expect_err("before 1970");
        assert!(matches!(err, ForwardError::Now(_)));
    }

    #[test]
    fn escape_html_escapes_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
    }
}
