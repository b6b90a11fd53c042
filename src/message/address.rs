//! Who a message is from and to: the addresses of From, To, Cc and Reply-To, each with its
//! decoded display name and the address in lower case, and which of those fields a rule
//! names.

use mail_parser::Address;

use super::{Message, one_line};

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

impl<'a> Message<'a> {
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
}

/// The addresses of one header as mail-parser read it: names decoded on one line (none when
/// empty), addresses trimmed and lower-cased.
pub(super) fn mailboxes(address: &Address<'_>) -> Vec<NamedAddress> {
    address
        .iter()
        .map(|a| NamedAddress {
            name: a.name().map(one_line).filter(|n| !n.is_empty()),
            address: a.address().unwrap_or("").trim().to_lowercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
