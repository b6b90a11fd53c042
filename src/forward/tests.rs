//! Tests of the forward: each composes a message and parses it back with mail-parser; the
//! note's two parts are also compared with golden files in tests/fixtures/forward (on a
//! mismatch the actual part is written beside its file as `.failed`, to inspect or accept).

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::labels::EN;
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
        task: None,
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
fn html_escapes_everything_taken_from_the_message_the_rule_and_the_task() {
    let (original, assistant, tz) = (Message::parse(HOSTILE), anna(), rome());
    let task = golden_task("hostile");
    let mut req = request(&original, &assistant, &tz);
    req.task = task.as_ref();
    req.instructions = Some("Check <b>this</b> & \"that\"");
    req.rule = "quotes<i>";
    let bytes = compose(&req).expect("composes").formatted();
    let m = parse(&bytes);
    let html = m.body_html(0).expect("an HTML part");
    for markup in [
        "<script",
        "<img",
        "<b>",
        "<i>",
        "</b>",
        "</i>",
        "onerror=\"",
        "x=\"",
    ] {
        assert!(!html.contains(markup), "{markup} in:\n{html}");
    }
    for escaped in [
        // the sender's name, the subject, the excerpt (from the message)
        "&lt;script&gt;alert(&#x27;n&#x27;)&lt;&#x2f;script&gt; &amp; Co &quot;Ltd&quot; &lt;evil@x.example&gt;",
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; &quot;more&quot;",
        "&lt;img src=x onerror=&quot;y(&#x27;z&#x27;)&quot;&gt; &amp;amp; a &lt; b &gt; c",
        // the rule's instructions and name
        "Check &lt;b&gt;this&lt;&#x2f;b&gt; &amp; &quot;that&quot;",
        "quotes&lt;i&gt;",
        // the task note, and the done link inside its attribute
        "Task &lt;script&gt;&#x27;&amp;&quot;&lt;&#x2f;script&gt;",
        "Due &lt;i&gt;now&lt;&#x2f;i&gt;",
        "&amp;x=&quot;&#x27;&gt;&lt;script&gt;\"",
        "&quot;g&amp;&lt;b&gt;&quot; &lt;giulia@example.com&gt;",
    ] {
        assert!(html.contains(escaped), "{escaped} missing from:\n{html}");
    }
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
fn no_reply_senders_get_no_reply_to() {
    for from in [
        "no-reply@shop.example",
        "NoReply@x.example",
        "do_not_reply@y.example",
    ] {
        let raw = format!("From: Shop <{from}>\r\nSubject: Receipt\r\n\r\nThanks\r\n");
        let bytes = forward(raw.as_bytes(), |_| {});
        assert!(
            !header_names(&bytes).contains(&"reply-to".to_string()),
            "{from}"
        );
        let text = parse(&bytes).body_text(0).expect("text").into_owned();
        assert!(text.contains("no-reply address"), "{text}");
    }
    assert!(!is_no_reply("norah@x.example"));
}

/// The note of `req` as the forward carries it: the plain-text part and the HTML part.
fn note_parts(req: &ForwardRequest<'_>) -> (String, String) {
    let labels = Labels::for_language(req.language);
    let summary = Summary::new(req, labels, !reply_to(req.original).is_empty());
    (
        plain_text(&summary, labels, req.forward_id),
        html_text(&summary, labels, req.forward_id),
    )
}

/// A message whose every field a sender controls tries to be markup or to break a line.
const HOSTILE: &[u8] =
    b"From: \"<script>alert('n')</script> & Co \\\"Ltd\\\"\" <evil@x.example>\r\n\
    Reply-To: <desk@x.example>\r\n\
    Subject: <script>alert('x')</script> & \"more\" =?UTF-8?B?YQ1i?= </b>\r\n\
    Date: Tue, 25 Nov 2025 23:59:00 +0000\r\n\
    \r\n\
    <img src=x onerror=\"y('z')\"> &amp; a < b > c\r\n";

/// How a golden case's request differs from [`request`]'s.
type Edit = Box<dyn Fn(&mut ForwardRequest<'_>)>;

/// Every case of the golden files: name, original, and how the request differs.
fn golden_cases() -> Vec<(&'static str, &'static [u8], Edit)> {
    vec![
        ("plain-en", ORIGINAL, Box::new(|_| {})),
        (
            "task-it",
            ORIGINAL,
            Box::new(|r| {
                r.language = Language::It;
                r.instructions =
                    Some("  Prepara il preventivo.\nPoi invialo entro due giorni.\r\nGrazie  ");
            }),
        ),
        (
            "no-sender-no-instructions",
            b"Subject: who sent this?\r\n\r\n",
            Box::new(|r| r.instructions = None),
        ),
        (
            "hostile",
            HOSTILE,
            Box::new(|r| {
                r.instructions = Some(
                    "Check <b>this</b> & \"that\" isn't <script>x()</script>\r\nX-Evil: 1\nthen reply",
                );
                r.rule = "quotes<script>\r\n&\"'";
                r.forward_id = "a&b'c/d<e";
            }),
        ),
    ]
}

fn golden_task(case: &str) -> Option<TaskNote> {
    let tz = rome();
    let reference = crate::task::reference::Reference::of(7);
    match case {
        "task-it" => Some(super::notice::task_note(
            &reference,
            "giulia@example.com",
            Language::It,
            Some(1_764_100_000),
            &tz,
        )),
        "hostile" => {
            let mut note = super::notice::task_note(
                &reference,
                "\"g&<b>\" <giulia@example.com>",
                Language::En,
                None,
                &tz,
            );
            note.heading = "Task <script>'&\"</script>".into();
            note.due = Some("Due <i>now</i> & \"then\"\r\nX: y".into());
            note.done_label = "Done <b>'&\"</b>".into();
            note.done_link.push_str("&x=\"'><script>");
            Some(note)
        }
        _ => None,
    }
}

#[test]
fn the_note_matches_its_golden_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forward");
    let mut failures = Vec::new();
    let cases = golden_cases();
    for (name, raw, edit) in &cases {
        let (original, assistant, tz) = (Message::parse(raw), anna(), rome());
        let task = golden_task(name);
        let mut req = request(&original, &assistant, &tz);
        req.task = task.as_ref();
        edit(&mut req);
        let (text, html) = note_parts(&req);
        for (ext, actual) in [("txt", text), ("html", html)] {
            let path = dir.join(format!("{name}.{ext}"));
            let failed = dir.join(format!("{name}.{ext}.failed"));
            if std::fs::read_to_string(&path).is_ok_and(|expected| expected == actual) {
                let _ = std::fs::remove_file(&failed);
            } else {
                std::fs::write(&failed, &actual).expect("write .failed");
                failures.push(format!(
                    "{} (actual in {})",
                    path.display(),
                    failed.display()
                ));
            }
        }
    }
    assert!(cases.len() >= 4, "the golden cases did not run");
    assert!(
        failures.is_empty(),
        "differs from its golden file:\n{}",
        failures.join("\n")
    );
}
