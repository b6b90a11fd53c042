//! Headers read by name: their decoded values (RFC 2047, any charset; a value mail-parser
//! does not decode, unfolded as written), the Message-ID, the Date judged against the
//! arrival, the `Received:` hops, the top-level content type.

use std::borrow::Cow;

use mail_parser::{HeaderName, HeaderValue, MimeHeaders};

use super::{Message, one_line};

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

impl<'a> Message<'a> {
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
