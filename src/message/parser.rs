//! The one mail-parser parser delega uses, set up once: its defaults, except that
//! `Received:` headers are kept raw.

use std::sync::LazyLock;

use mail_parser::{HeaderName, MessageParser};

/// The parser, built once: mail-parser's default parsing of each header, except that
/// `Received:` is kept raw (delega only counts them, and tokenizing them was the parser's
/// largest single cost). A parser with any header configured parses only those, so the
/// defaults are spelled out (mail-parser 0.11, `parsers/header.rs`); a unit test checks that
/// every other header comes out as the default parser gives it.
pub(super) static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
