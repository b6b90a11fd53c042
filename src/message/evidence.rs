//! What shows that a message came from a mailing list (List-Id, List-Unsubscribe,
//! Precedence) or from a machine (Auto-Submitted, auto-responders' headers, a report, a
//! bounce): the evidence the guard and the rules weigh, and its English form as the ledger
//! keeps it.

use super::{Message, one_line};

impl<'a> Message<'a> {
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
}
