//! Conditions of a rule and how each one is tested against a [`Message`].
//!
//! A condition answers with the reason it matched ("from_domain bank.example matched
//! ceo@bank.example"), so that a decision can always say why. Building conditions from the
//! rules files is `config/rules.rs`'s job; this file only evaluates and describes them.

use std::fmt;

use regex::Regex;

use crate::message::{AddressField, Message};

/// A test on a message; rules hold a tree of these.
#[derive(Debug, Clone)]
pub enum Condition {
    /// Every condition matches.
    All(Vec<Condition>),
    /// At least one condition matches.
    Any(Vec<Condition>),
    /// The condition does not match.
    Not(Box<Condition>),
    /// One address of an address header matches.
    Address(AddressField, AddressMatcher),
    /// The From address is at one of these domains (or a subdomain).
    FromDomain(Vec<String>),
    /// The decoded subject matches.
    Subject(TextMatcher),
    /// The text body matches.
    Body(TextMatcher),
    /// A header of this name matches (or, with `None`, is present).
    Header(String, Option<TextMatcher>),
    /// The message is (true) or is not (false) list or bulk mail.
    List(bool),
    /// The message is (true) or is not (false) sent by a machine.
    Auto(bool),
    /// The message has (true) or has not (false) an attachment.
    HasAttachment(bool),
    /// An attachment's file name matches.
    Attachment(TextMatcher),
    /// The raw size is over and/or under these byte counts.
    Size {
        /// Matches when the size is strictly greater.
        over: Option<u64>,
        /// Matches when the size is strictly smaller.
        under: Option<u64>,
    },
    /// Every message.
    AnyMessage,
}

/// How a text (subject, body, header, file name) is tested.
#[derive(Debug, Clone)]
pub enum TextMatcher {
    /// Contains one of these, ignoring case (stored lower-cased).
    Contains(Vec<String>),
    /// Is exactly this, ignoring case and surrounding space (stored lower-cased).
    Equals(String),
    /// Matches this regular expression.
    Regex(Regex),
}

/// How an address is tested.
#[derive(Debug, Clone)]
pub enum AddressMatcher {
    /// Is one of these addresses (stored lower-cased).
    Exact(Vec<String>),
    /// Is at one of these domains or a subdomain (stored lower-cased).
    Domain(Vec<String>),
    /// The address contains this (lower-cased).
    Contains(String),
    /// The lower-cased address matches this regular expression.
    Regex(Regex),
    /// The display name contains this, ignoring case (stored lower-cased).
    Name(String),
}

impl TextMatcher {
    /// What matched in `text`, if it matches. `lower` is `text` lower-cased.
    pub fn find(&self, text: &str, lower: &str) -> Option<String> {
        match self {
            TextMatcher::Contains(needles) => needles
                .iter()
                .find(|n| lower.contains(n.as_str()))
                .map(|n| format!("contains {n:?}")),
            TextMatcher::Equals(value) => {
                (lower.trim() == value).then(|| format!("equals {value:?}"))
            }
            TextMatcher::Regex(re) => re
                .find(text)
                .map(|m| format!("matches /{}/ at {:?}", re.as_str(), clip(m.as_str()))),
        }
    }

    /// Convenience for texts not already lower-cased.
    fn find_in(&self, text: &str) -> Option<String> {
        match self {
            TextMatcher::Regex(_) => self.find(text, ""),
            _ => self.find(text, &text.to_lowercase()),
        }
    }
}

impl AddressMatcher {
    fn matches(&self, address: &str, name: Option<&str>) -> bool {
        match self {
            AddressMatcher::Exact(list) => list.iter().any(|a| a == address),
            AddressMatcher::Domain(domains) => {
                let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
                domains.iter().any(|d| domain_matches(domain, d))
            }
            AddressMatcher::Contains(part) => address.contains(part.as_str()),
            AddressMatcher::Regex(re) => re.is_match(address),
            AddressMatcher::Name(part) => {
                name.is_some_and(|n| n.to_lowercase().contains(part.as_str()))
            }
        }
    }
}

/// True when `domain` is `wanted` or one of its subdomains.
pub fn domain_matches(domain: &str, wanted: &str) -> bool {
    domain == wanted
        || (domain.len() > wanted.len()
            && domain.ends_with(wanted)
            && domain.as_bytes()[domain.len() - wanted.len() - 1] == b'.')
}

impl Condition {
    /// True for conditions that match by absence (`not`, `list = false`...): most mail
    /// matches them, so they say little about how close a rule came.
    pub fn is_negative(&self) -> bool {
        matches!(
            self,
            Condition::Not(_)
                | Condition::List(false)
                | Condition::Auto(false)
                | Condition::HasAttachment(false)
        )
    }

    /// Why the condition matches `msg`, or `None` when it does not.
    pub fn eval(&self, msg: &Message<'_>) -> Option<String> {
        match self {
            Condition::All(conds) => {
                let mut whys = Vec::with_capacity(conds.len());
                for c in conds {
                    whys.push(c.eval(msg)?);
                }
                Some(whys.join("; "))
            }
            Condition::Any(conds) => conds.iter().find_map(|c| c.eval(msg)),
            Condition::Not(inner) => match inner.eval(msg) {
                Some(_) => None,
                None => Some(format!("not ({inner})")),
            },
            Condition::Address(field, matcher) => msg
                .addresses(*field)
                .iter()
                .find(|a| matcher.matches(&a.address, a.name.as_deref()))
                .map(|a| format!("{} {matcher} matched {}", field.key(), a.address)),
            Condition::FromDomain(domains) => {
                let sender = msg.sender()?;
                domains
                    .iter()
                    .find(|d| domain_matches(sender.domain(), d))
                    .map(|d| format!("from_domain {d} matched {}", sender.address))
            }
            Condition::Subject(m) => m
                .find(msg.subject(), msg.subject_lower())
                .map(|w| format!("subject {w}")),
            Condition::Body(m) => m
                .find(msg.body(), msg.body_lower())
                .map(|w| format!("body {w}")),
            Condition::Header(name, None) => msg
                .has_header(name)
                .then(|| format!("header {name} is present")),
            Condition::Header(name, Some(m)) => msg
                .header_values(name)
                .find_map(|v| m.find_in(&v))
                .map(|w| format!("header {name} {w}")),
            Condition::List(expected) => {
                detector(*expected, msg.list_evidence(), "list", "not list mail")
            }
            Condition::Auto(expected) => detector(
                *expected,
                msg.auto_evidence().map(|e| e.to_string()),
                "auto",
                "not sent by a machine",
            ),
            Condition::HasAttachment(expected) => (msg.has_attachment() == *expected).then(|| {
                if *expected {
                    "has an attachment".to_string()
                } else {
                    "has no attachment".to_string()
                }
            }),
            Condition::Attachment(m) => msg
                .attachment_names()
                .find_map(|n| m.find_in(n).map(|w| format!("attachment {n:?} {w}"))),
            Condition::Size { over, under } => {
                let size = msg.size();
                let ok = over.is_none_or(|o| size > o) && under.is_none_or(|u| size < u);
                ok.then(|| format!("size {size} bytes is {self}"))
            }
            Condition::AnyMessage => Some("any message".to_string()),
        }
    }
}

fn detector(expected: bool, evidence: Option<String>, key: &str, absent: &str) -> Option<String> {
    match (expected, evidence) {
        (true, Some(why)) => Some(format!("{key}: {why}")),
        (false, None) => Some(absent.to_string()),
        _ => None,
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 40 {
        let mut out: String = s.chars().take(40).collect();
        out.push('…');
        out
    } else {
        s.to_string()
    }
}

impl fmt::Display for TextMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextMatcher::Contains(list) if list.len() == 1 => write!(f, "contains {:?}", list[0]),
            TextMatcher::Contains(list) => write!(f, "contains one of {list:?}"),
            TextMatcher::Equals(v) => write!(f, "equals {v:?}"),
            TextMatcher::Regex(re) => write!(f, "matches /{}/", re.as_str()),
        }
    }
}

impl fmt::Display for AddressMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressMatcher::Exact(list) if list.len() == 1 => write!(f, "is {}", list[0]),
            AddressMatcher::Exact(list) => write!(f, "is one of {}", list.join(", ")),
            AddressMatcher::Domain(list) => write!(f, "domain {}", list.join(", ")),
            AddressMatcher::Contains(s) => write!(f, "contains {s:?}"),
            AddressMatcher::Regex(re) => write!(f, "matches /{}/", re.as_str()),
            AddressMatcher::Name(s) => write!(f, "name contains {s:?}"),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, sep: &str, conds: &[Condition]| {
            for (i, c) in conds.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{c}")?;
            }
            Ok(())
        };
        match self {
            Condition::All(conds) => list(f, " and ", conds),
            Condition::Any(conds) => {
                f.write_str("any of (")?;
                list(f, ", ", conds)?;
                f.write_str(")")
            }
            Condition::Not(c) => write!(f, "not ({c})"),
            Condition::Address(field, m) => write!(f, "{} {m}", field.key()),
            Condition::FromDomain(d) => write!(f, "from_domain {}", d.join(", ")),
            Condition::Subject(m) => write!(f, "subject {m}"),
            Condition::Body(m) => write!(f, "body {m}"),
            Condition::Header(name, None) => write!(f, "header {name} present"),
            Condition::Header(name, Some(m)) => write!(f, "header {name} {m}"),
            Condition::List(b) => write!(f, "list = {b}"),
            Condition::Auto(b) => write!(f, "auto = {b}"),
            Condition::HasAttachment(b) => write!(f, "has_attachment = {b}"),
            Condition::Attachment(m) => write!(f, "attachment {m}"),
            Condition::Size { over, under } => match (over, under) {
                (Some(o), Some(u)) => write!(f, "over {o} and under {u} bytes"),
                (Some(o), None) => write!(f, "over {o} bytes"),
                (None, Some(u)) => write!(f, "under {u} bytes"),
                (None, None) => write!(f, "any size"),
            },
            Condition::AnyMessage => f.write_str("any message"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(s: &str) -> TextMatcher {
        TextMatcher::Contains(vec![s.to_lowercase()])
    }

    const INVOICE: &[u8] = b"From: Billing Team <Billing@Supplier.Example>\r\n\
To: giulia@studio.example\r\n\
Cc: Marta <marta@office.example>\r\n\
Reply-To: accounts@supplier.example\r\n\
Subject: Invoice 2026/114\r\n\
X-Mailer: BillingBot 2.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
Please find the invoice attached. Due by 30 November.\r\n\
--b\r\n\
Content-Type: application/pdf; name=\"fattura_114.pdf\"\r\n\
Content-Disposition: attachment; filename=\"fattura_114.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b--\r\n";

    fn eval(c: &Condition) -> Option<String> {
        c.eval(&Message::parse(INVOICE))
    }

    #[test]
    fn address_matchers_compare_lower_cased_addresses() {
        use AddressField::*;
        let exact = AddressMatcher::Exact(vec!["billing@supplier.example".into()]);
        assert!(eval(&Condition::Address(From, exact.clone())).is_some());
        assert!(eval(&Condition::Address(To, exact)).is_none());
        let domain = AddressMatcher::Domain(vec!["office.example".into()]);
        assert_eq!(
            eval(&Condition::Address(Cc, domain)).as_deref(),
            Some("cc domain office.example matched marta@office.example")
        );
        let contains = AddressMatcher::Contains("accounts".into());
        assert!(eval(&Condition::Address(ReplyTo, contains)).is_some());
        let re = AddressMatcher::Regex(Regex::new("^giulia@").expect("valid"));
        assert!(eval(&Condition::Address(To, re)).is_some());
        let name = AddressMatcher::Name("billing team".into());
        assert!(eval(&Condition::Address(From, name)).is_some());
        let other_name = AddressMatcher::Name("marta".into());
        assert!(eval(&Condition::Address(From, other_name)).is_none());
    }

    #[test]
    fn from_domain_matches_subdomains_but_not_lookalikes() {
        assert!(eval(&Condition::FromDomain(vec!["supplier.example".into()])).is_some());
        assert!(eval(&Condition::FromDomain(vec!["example".into()])).is_some());
        assert!(eval(&Condition::FromDomain(vec!["plier.example".into()])).is_none());
        assert!(domain_matches("mail.bank.example", "bank.example"));
        assert!(!domain_matches("evilbank.example", "bank.example"));
    }

    #[test]
    fn text_matchers_on_subject_body_and_headers() {
        assert!(eval(&Condition::Subject(contains("INVOICE"))).is_some());
        assert!(
            eval(&Condition::Subject(TextMatcher::Equals(
                "invoice 2026/114".into()
            )))
            .is_some()
        );
        assert!(eval(&Condition::Subject(TextMatcher::Equals("invoice".into()))).is_none());
        let re = TextMatcher::Regex(Regex::new(r"^Invoice \d+/\d+$").expect("valid"));
        assert!(eval(&Condition::Subject(re)).is_some());
        let case_sensitive = TextMatcher::Regex(Regex::new("^invoice").expect("valid"));
        assert!(eval(&Condition::Subject(case_sensitive)).is_none());
        assert!(eval(&Condition::Body(contains("due by"))).is_some());
        assert!(eval(&Condition::Body(contains("overdue"))).is_none());
        assert!(
            eval(&Condition::Header(
                "x-mailer".into(),
                Some(contains("billingbot"))
            ))
            .is_some()
        );
        assert!(eval(&Condition::Header("X-Mailer".into(), None)).is_some());
        assert!(eval(&Condition::Header("X-Spam".into(), None)).is_none());
    }

    #[test]
    fn attachments_and_size() {
        assert!(eval(&Condition::HasAttachment(true)).is_some());
        assert!(eval(&Condition::HasAttachment(false)).is_none());
        assert!(eval(&Condition::Attachment(contains(".pdf"))).is_some());
        assert!(eval(&Condition::Attachment(contains(".docx"))).is_none());
        let size = INVOICE.len() as u64;
        let between = Condition::Size {
            over: Some(size - 1),
            under: Some(size + 1),
        };
        assert!(eval(&between).is_some());
        assert!(
            eval(&Condition::Size {
                over: Some(size),
                under: None
            })
            .is_none()
        );
    }

    #[test]
    fn detectors_match_either_way() {
        assert!(eval(&Condition::List(false)).is_some());
        assert!(eval(&Condition::List(true)).is_none());
        assert!(eval(&Condition::Auto(false)).is_some());
        assert!(eval(&Condition::Auto(true)).is_none());
    }

    #[test]
    fn combinators_all_any_not() {
        let yes = || Condition::Subject(contains("invoice"));
        let no = || Condition::Subject(contains("newsletter"));
        assert!(eval(&Condition::All(vec![yes(), yes()])).is_some());
        assert!(eval(&Condition::All(vec![yes(), no()])).is_none());
        assert!(eval(&Condition::Any(vec![no(), yes()])).is_some());
        assert!(eval(&Condition::Any(vec![no(), no()])).is_none());
        assert_eq!(
            eval(&Condition::Not(Box::new(no()))).as_deref(),
            Some("not (subject contains \"newsletter\")")
        );
        assert!(eval(&Condition::Not(Box::new(yes()))).is_none());
        assert!(eval(&Condition::AnyMessage).is_some());
    }
}
