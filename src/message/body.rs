//! The body as rules and the digest read it: the text (the first text part, or the text of
//! the HTML part), bounded for speed, lower-cased for matching, a one-line excerpt; and the
//! attachments' names.

use std::borrow::Cow;

use mail_parser::MimeHeaders;

use super::Message;

/// The body text kept for matching and excerpts: enough for any rule, bounded for speed.
const BODY_LIMIT: usize = 256 * 1024;

impl<'a> Message<'a> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_only_body_is_extracted_as_text() {
        let raw = b"From: a@x.example\r\nContent-Type: text/html\r\n\r\n<p>Please <b>translate</b> this</p>";
        assert!(Message::parse(raw).body().contains("Please translate this"));
    }

    #[test]
    fn excerpt_is_one_bounded_line() {
        let m =
            Message::parse(b"From: a@x.example\r\n\r\nHello   there,\r\nthis is a long body text");
        assert_eq!(m.excerpt(100), "Hello there, this is a long body text");
        assert_eq!(m.excerpt(12), "Hello there,…");
    }
}
