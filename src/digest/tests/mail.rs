//! The digest as mail: the text part's columns, escaping in the HTML, nothing loaded from
//! outside, headers safe from a subject's CR LF, multipart/alternative, an assistant's list.

use mail_parser::{MessageParser, MimeHeaders};

use super::*;

#[test]
fn the_text_part_aligns_each_item_under_its_lead() {
    let mail = compose_in(Language::En, &fixture());
    let lines: Vec<&str> = mail.text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with("Shop news <news.shop.example>"))
        .expect("the list line");
    // Counts right-aligned in one column; what follows starts in one column.
    assert_eq!(lines[at], "  3  Shop news <news.shop.example>");
    assert_eq!(lines[at + 1], "     rule newsletters");
    assert_eq!(lines[at + 2], "  2  promo@deals.example");
    let title = lines
        .iter()
        .position(|l| l.contains("Subject 1") && l.starts_with("  "))
        .expect("a message line");
    let column = lines[title].find("Subject 1").expect("the subject");
    assert_eq!(&lines[title][..column], "  24 Nov 17:00  ");
    assert!(lines[title + 1][..column].trim().is_empty());
    assert_eq!(
        lines[title + 1][column..].trim_end(),
        "Sender 1 <sender1@x.example>"
    );
}

fn hostile() -> Report {
    let mut h = keep(1, 10);
    h.entry.decision.subject = "<script>alert(1)</script>".into();
    h.entry.decision.from_name = Some("\"><img src=x onerror=alert(1)>".into());
    h.entry.decision.excerpt = "<a href=\"https://evil.example\">click</a> & more\u{202e}".into();
    let n = noise(2, "x@y.example", Some("<b>list</b>"), "r<i>");
    let events = [(
        END - HOUR,
        "forward",
        "forward of \"<script>x</script>\" refused",
    )];
    Report {
        // A proposal names a sender taken from mail: escaped like the rest.
        proposals: vec!["2 messages from <script>@x moved to the Inbox".into()],
        ..report(vec![h, n], &events)
    }
}

#[test]
fn strings_from_mail_are_escaped_in_the_html() {
    for language in [Language::En, Language::It] {
        let html = compose_in(language, &hostile()).html;
        for raw in ["<script", "<img", "<a ", "<b>", "<i>", "\u{202e}"] {
            assert!(!html.contains(raw), "{raw:?} unescaped in:\n{html}");
        }
        for escaped in [
            "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;",
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
            "&lt;a href=&quot;https:&#x2f;&#x2f;evil.example&quot;&gt;click&lt;&#x2f;a&gt; &amp; more",
            "&lt;b&gt;list&lt;&#x2f;b&gt;",
            "forward of &quot;&lt;script&gt;x&lt;&#x2f;script&gt;&quot; refused",
        ] {
            assert!(html.contains(escaped), "{escaped:?} missing from:\n{html}");
        }
    }
}

#[test]
fn the_html_loads_nothing_from_outside_and_fits_a_phone() {
    let html = compose_in(Language::En, &fixture()).html;
    for outside in [
        "<img", "<script", "<link", "<a ", "src=", "href=", "url(", "http", "@import",
    ] {
        assert!(!html.contains(outside), "{outside:?} in:\n{html}");
    }
    for phone in [
        "name=\"viewport\"",
        "max-width: 640px",
        "-apple-system",
        "<style>",
    ] {
        assert!(html.contains(phone), "{phone:?} missing");
    }
}

#[test]
fn cr_lf_in_a_mail_subject_cannot_reach_the_digest_headers() {
    let mut report = fixture();
    let first = report
        .needs_you
        .iter_mut()
        .find(|h| h.entry.id == 1)
        .expect("message 1 needs you");
    first.entry.decision.subject = "Hello\r\nBcc: evil@x.example".into();
    first.entry.decision.from_name = Some("Eve\r\nX-Evil: 1".into());
    let account = account();
    let mail = compose(&Settings::of(&account), &report);
    assert!(!mail.subject.contains(['\r', '\n']));
    let bytes = message("delega <delega@studio.example>", &account, &mail)
        .expect("builds")
        .formatted();
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    for line in head.split("\r\n") {
        assert!(
            !line.starts_with("bcc:") && !line.starts_with("x-evil:"),
            "{head}"
        );
    }
    // The text part shows the subject on one line.
    assert!(mail.text.contains("Hello Bcc: evil@x.example"));
    assert!(mail.text.contains("Eve X-Evil: 1 <sender1@x.example>"));
}

#[test]
fn the_digest_is_multipart_alternative_from_delega_to_the_entrepreneur() {
    let account = account();
    let mail = compose(&Settings::of(&account), &fixture());
    let bytes = message("Giulia's inbox <delega@studio.example>", &account, &mail)
        .expect("builds")
        .formatted();
    let m = MessageParser::default().parse(&bytes).expect("parses");
    let address = |a: Option<&mail_parser::Address<'_>>| {
        a.and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_string)
    };
    assert_eq!(address(m.from()).as_deref(), Some("delega@studio.example"));
    assert_eq!(address(m.to()).as_deref(), Some("giulia@studio.example"));
    assert_eq!(m.subject(), Some(mail.subject.as_str()));
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert_eq!(
        m.message_id(),
        Some(format!("digest.giulia.{END}@studio.example").as_str())
    );
    assert_eq!(m.date().map(|d| d.to_timestamp()), Some(END));
    let ct = m.content_type().expect("a content type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let text = m.body_text(0).expect("a text part");
    assert!(text.contains("NEEDS YOU (3)"), "{text}");
    let html = m.body_html(0).expect("an HTML part");
    assert!(html.contains("Marta Verdi (4)"), "{html}");
}

#[test]
fn an_assistant_list_has_their_forwards_and_nothing_else() {
    let account = account();
    let settings = Settings::of(&account);
    let marta = account.assistant("marta").expect("marta");
    let list = compose_list(&settings, &fixture(), marta).expect("marta has forwards");
    assert_eq!(list.subject, "delega · 3 messages delegated to you");
    assert_in_order(
        &list.text,
        &[
            "Delegated to you, Marta Verdi",
            "from the giulia inbox, 23 Nov 2026 18:00 to 24 Nov 2026 18:00",
            "sent         Subject 10",
            "Sender 10 <sender10@x.example> · rule quotes",
            "“Excerpt 10”",
            "waiting      Subject 11",
            "maybe twice  Subject 12",
        ],
    );
    for absent in [
        "Subject 13",
        "Subject 14",
        "Subject 1\n",
        "Subject 20",
        "Problems",
    ] {
        assert!(!list.text.contains(absent), "{absent:?} in:\n{}", list.text);
    }
    assert_eq!(list.id, format!("list.giulia.marta.{END}"));
    let bytes = list_message("delega <delega@studio.example>", marta, &list)
        .expect("builds")
        .formatted();
    let m = MessageParser::default().parse(&bytes).expect("parses");
    let to = m.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some("marta@office.example"));
    assert!(
        m.body_html(0)
            .expect("HTML")
            .contains("Delegated to you, Marta Verdi")
    );

    let mut italian = account.clone();
    italian.digest.language = Language::It;
    let list = compose_list(&Settings::of(&italian), &fixture(), marta).expect("a list");
    assert_eq!(list.subject, "delega · 3 messaggi delegati a te");

    let report = Report {
        rules: fixture().rules,
        ..report(
            vec![forward(13, "luca", OutboxState::Failed, Some("550"))],
            &[],
        )
    };
    let luca = account.assistant("luca").expect("luca");
    assert_eq!(compose_list(&settings, &report, luca), None);
}
