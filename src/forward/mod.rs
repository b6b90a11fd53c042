//! Compose the forward of a delegable message to an assistant; the words a task adds to it,
//! and the reminder of an overdue task, are [`notice`]'s.
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
use minijinja::context;
use minijinja::value::Value;

use crate::config::{Assistant, Language};
use crate::message::{AddressField, Message, NamedAddress, one_line};
use notice::TaskNote;

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
    /// The task this forward is: its reference goes into the subject and, with how to
    /// close it, at the top of the note.
    pub task: Option<&'a TaskNote>,
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
    let prefix = match req.task {
        Some(task) => format!("{} [{}]", req.subject_prefix, task.reference),
        None => req.subject_prefix.to_string(),
    };

    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject(prefix.trim_start(), req.original.subject(), labels))
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
        HeaderName::new_from_ascii_str(crate::guard::FORWARD_HEADER)
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
/// True for addresses that say nobody reads replies (`no-reply@`, `donotreply@`…): the
/// assistant is told there is no address to answer instead of writing into the void.
fn is_no_reply(address: &str) -> bool {
    let local: String = address
        .split('@')
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    local.contains("noreply") || local.contains("donotreply")
}

fn reply_to(original: &Message<'_>) -> Vec<LettreMailbox> {
    let usable = |field| -> Vec<LettreMailbox> {
        original
            .addresses(field)
            .iter()
            .filter(|m| !is_no_reply(&m.address))
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

/// What the forward says about the original, as plain strings (the HTML template escapes them).
struct Summary<'a> {
    task: Option<&'a TaskNote>,
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
            Some(NamedAddress { name, address }) if !address.is_empty() => match name {
                Some(name) => format!("{name} <{address}>"),
                None => address.clone(),
            },
            // A group name without an address still says who it claims to be.
            Some(NamedAddress {
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
            task: req.task,
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
    let mut out = String::new();
    if let Some(task) = s.task {
        out.push_str(&format!("{}\n", task.heading));
        if let Some(due) = &task.due {
            out.push_str(&format!("{due}\n"));
        }
        out.push_str(&format!(
            "{}\n{}:\n{}\n\n",
            task.keep_in_loop, task.done_label, task.done_link
        ));
    }
    out.push_str(&format!(
        "{}\n\n{}\n\n{}\n\n",
        labels.task,
        s.instructions.unwrap_or(labels.no_instructions),
        s.reply_hint
    ));
    for (label, value) in s.rows(labels) {
        out.push_str(&format!("{label}: {value}\n"));
    }
    if !s.excerpt.is_empty() {
        out.push_str(&format!("\n{}:\n{}\n", labels.excerpt, s.excerpt));
    }
    out.push_str(&format!("\n-- \n{} ({forward_id})\n", labels.footer));
    out
}

/// The HTML template of the note; its `.html` name turns minijinja's escaping on, so nothing
/// taken from the message, the rule or the task can become markup.
const TEMPLATE_NAME: &str = "forward.html";
const TEMPLATE: &str = include_str!("templates/forward.html");

fn html_text(s: &Summary<'_>, labels: &Labels, forward_id: &str) -> String {
    let instructions: Vec<String> = s
        .instructions
        .unwrap_or(labels.no_instructions)
        .split('\n')
        .map(str::to_string)
        .collect();
    let rows: Vec<Value> = s
        .rows(labels)
        .into_iter()
        .map(|(label, value)| context! { label, value })
        .collect();
    let task = s.task.map(|task| {
        context! {
            heading => &task.heading,
            due => &task.due,
            keep_in_loop => &task.keep_in_loop,
            done_link => &task.done_link,
            done_label => &task.done_label,
        }
    });
    crate::html::render(
        TEMPLATE_NAME,
        TEMPLATE,
        context! {
            lang => labels.lang,
            subject => &s.subject,
            task,
            what_to_do => labels.task,
            instructions,
            reply_hint => s.reply_hint,
            rows,
            excerpt_label => labels.excerpt,
            excerpt => &s.excerpt,
            footer => labels.footer,
            forward_id,
        },
    )
}

mod labels;
pub mod notice;

use labels::Labels;

#[cfg(test)]
mod tests;
