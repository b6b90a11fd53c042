//! A rule's `when` into [`Condition`]s: addresses, domains, subject, body, headers, list and
//! auto flags, attachments, size, and `all` / `any` / `not` nesting; regexes compiled here,
//! each mistake reported at its position. The rule around it is `rule.rs`'s.

use regex::Regex;
use toml::Spanned;

use crate::classify::{AddressMatcher, Condition, TextMatcher};
use crate::config::tomlread::{Table, Value};
use crate::message::AddressField;

const CONDITION_KEYS: &[&str] = &[
    "from",
    "to",
    "cc",
    "reply_to",
    "from_domain",
    "subject",
    "body",
    "header",
    "list",
    "auto",
    "has_attachment",
    "attachment",
    "size",
    "all",
    "any",
    "not",
    "any_message",
];

const REGEX_HELP: &str = "write regexes in single quotes ('...') so backslashes stay as \
                          written; the syntax is Rust's regex crate (no look-around)";

/// The rule's `when`: a table whose conditions must all match.
pub(super) fn top_condition(v: &Value<'_, '_>) -> Option<Vec<Condition>> {
    let t = v.table()?;
    let conditions = conditions(&t);
    if t.is_empty() {
        t.reader().error(
            v.span(),
            "empty condition",
            Some("add a condition; `{ any_message = true }` matches everything".into()),
        );
    }
    Some(conditions)
}

/// One condition from a table; several keys mean all of them.
fn condition(v: &Value<'_, '_>) -> Option<Condition> {
    let t = v.table()?;
    let mut conditions = conditions(&t);
    match conditions.len() {
        0 => {
            t.reader().error(
                v.span(),
                "empty condition",
                Some(
                    "give a condition, e.g. `{ subject = \"invoice\" }` (see docs/rules.md)".into(),
                ),
            );
            None
        }
        1 => conditions.pop(),
        _ => Some(Condition::All(conditions)),
    }
}

fn conditions(t: &Table<'_, '_>) -> Vec<Condition> {
    t.check_keys("a condition", CONDITION_KEYS);
    let mut out = Vec::new();
    for (key, field) in [
        ("from", AddressField::From),
        ("to", AddressField::To),
        ("cc", AddressField::Cc),
        ("reply_to", AddressField::ReplyTo),
    ] {
        if let Some(m) = t.get(key).and_then(|v| address_matcher(&v, key)) {
            out.push(Condition::Address(field, m));
        }
    }
    if let Some(domains) = t.get("from_domain").and_then(|v| domain_list(&v)) {
        out.push(Condition::FromDomain(domains));
    }
    if let Some(m) = t.get("subject").and_then(|v| text_matcher(&v, "subject")) {
        out.push(Condition::Subject(m));
    }
    if let Some(m) = t.get("body").and_then(|v| text_matcher(&v, "body")) {
        out.push(Condition::Body(m));
    }
    if let Some(v) = t.get("header") {
        out.extend(header_conditions(&v));
    }
    for (key, make) in [
        ("list", Condition::List as fn(bool) -> Condition),
        ("auto", Condition::Auto),
        ("has_attachment", Condition::HasAttachment),
    ] {
        if let Some(b) = t.bool(key) {
            out.push(make(b));
        }
    }
    if let Some(m) = t
        .get("attachment")
        .and_then(|v| text_matcher(&v, "attachment"))
    {
        out.push(Condition::Attachment(m));
    }
    if let Some(size) = t.get("size").and_then(|v| size(&v)) {
        out.push(size);
    }
    for (key, make) in [
        ("all", Condition::All as fn(Vec<Condition>) -> Condition),
        ("any", Condition::Any),
    ] {
        if let Some(items) = t.array(key) {
            let list: Vec<_> = items.iter().filter_map(condition).collect();
            if items.is_empty() {
                let span = t.get(key).map(|v| v.span()).unwrap_or_default();
                t.reader().error(
                    span,
                    format!("`{key}` needs at least one condition"),
                    Some(format!("write `{key} = [ {{ subject = \"...\" }}, ... ]`")),
                );
            } else if list.len() == items.len() {
                out.push(make(list));
            }
        }
    }
    if let Some(inner) = t.get("not").and_then(|v| condition(&v)) {
        out.push(Condition::Not(Box::new(inner)));
    }
    if let Some(b) = t.get("any_message") {
        match b.bool() {
            Some(true) => out.push(Condition::AnyMessage),
            Some(false) => b.reader().error(
                b.span(),
                "`any_message = false` never matches",
                Some("remove the rule, or write `any_message = true`".into()),
            ),
            None => {}
        }
    }
    out
}

fn compile(v: &Value<'_, '_>, pattern: &Spanned<String>) -> Option<Regex> {
    match Regex::new(pattern.get_ref()) {
        Ok(re) => Some(re),
        Err(err) => {
            let detail = err.to_string();
            let last = detail.lines().last().unwrap_or("invalid").trim();
            let last = last.strip_prefix("error: ").unwrap_or(last);
            v.reader().error(
                pattern.span(),
                format!("invalid regex: {last}"),
                Some(REGEX_HELP.into()),
            );
            None
        }
    }
}

/// Exactly one of `keys` in the table `t`, with its value.
fn one_of<'a, 's>(
    t: &Table<'a, 's>,
    key: &str,
    keys: &[&'static str],
) -> Option<(&'static str, Value<'a, 's>)> {
    let present: Vec<_> = keys
        .iter()
        .filter_map(|k| t.get(k).map(|v| (*k, v)))
        .collect();
    if present.len() == 1 {
        return present.into_iter().next();
    }
    let message = if present.is_empty() {
        format!("`{key}` needs one of: {}", keys.join(", "))
    } else {
        format!("`{key}` takes only one of: {}", keys.join(", "))
    };
    let help = format!("for example `{key} = {{ {} = \"...\" }}`", keys[0]);
    t.reader().error(t.span(), message, Some(help));
    None
}

fn text_matcher(v: &Value<'_, '_>, key: &str) -> Option<TextMatcher> {
    if !v.is_table() {
        let items = v.str_or_list()?;
        return Some(TextMatcher::Contains(
            items.iter().map(|s| s.get_ref().to_lowercase()).collect(),
        ));
    }
    let t = v.table()?;
    t.check_keys(&format!("`{key}`"), &["contains", "equals", "regex"]);
    let (kind, value) = one_of(&t, key, &["contains", "equals", "regex"])?;
    text_matcher_of(kind, &value)
}

fn text_matcher_of(kind: &str, value: &Value<'_, '_>) -> Option<TextMatcher> {
    match kind {
        "contains" => Some(TextMatcher::Contains(
            value
                .str_or_list()?
                .iter()
                .map(|s| s.get_ref().to_lowercase())
                .collect(),
        )),
        "equals" => Some(TextMatcher::Equals(
            value.str()?.get_ref().trim().to_lowercase(),
        )),
        _ => {
            let pattern = value.str()?;
            compile(value, &pattern).map(TextMatcher::Regex)
        }
    }
}

fn address_matcher(v: &Value<'_, '_>, key: &str) -> Option<AddressMatcher> {
    if !v.is_table() {
        let items = v.str_or_list()?;
        let mut addresses = Vec::new();
        for item in &items {
            let a = item.get_ref().trim().to_lowercase();
            if a.contains('@') && !a.starts_with('@') {
                addresses.push(a);
            } else {
                v.reader().error(
                    item.span(),
                    format!("`{}` is not an email address", item.get_ref()),
                    Some(format!(
                        "for a whole domain write `{key} = {{ domain = \"{}\" }}`",
                        a.trim_start_matches('@')
                    )),
                );
            }
        }
        return (addresses.len() == items.len()).then_some(AddressMatcher::Exact(addresses));
    }
    let t = v.table()?;
    let kinds = ["address", "domain", "contains", "regex", "name"];
    t.check_keys(&format!("`{key}`"), &kinds);
    let (kind, value) = one_of(&t, key, &kinds)?;
    match kind {
        "address" => address_matcher(&value, key),
        "domain" => domain_list(&value).map(AddressMatcher::Domain),
        "contains" => Some(AddressMatcher::Contains(
            value.str()?.get_ref().to_lowercase(),
        )),
        "name" => Some(AddressMatcher::Name(value.str()?.get_ref().to_lowercase())),
        _ => {
            let pattern = value.str()?;
            compile(&value, &pattern).map(AddressMatcher::Regex)
        }
    }
}

fn domain_list(v: &Value<'_, '_>) -> Option<Vec<String>> {
    let items = v.str_or_list()?;
    let mut domains = Vec::new();
    for item in &items {
        let d = item.get_ref().trim().trim_start_matches('@').to_lowercase();
        if d.is_empty() || d.contains('@') || d.contains(char::is_whitespace) {
            v.reader().error(
                item.span(),
                format!("`{}` is not a domain", item.get_ref()),
                Some("write the domain alone, e.g. \"bank.example\"".into()),
            );
        } else {
            domains.push(d);
        }
    }
    (domains.len() == items.len()).then_some(domains)
}

fn header_conditions(v: &Value<'_, '_>) -> Vec<Condition> {
    let tables = if v.is_array() {
        v.array().unwrap_or_default()
    } else {
        vec![*v]
    };
    let mut out = Vec::new();
    for item in tables {
        let Some(t) = item.table() else { continue };
        t.check_keys(
            "`header`",
            &["name", "contains", "equals", "regex", "exists"],
        );
        let Some(name) = t
            .required("name", "`header`", "name = \"X-Mailer\"")
            .and_then(|n| n.str())
        else {
            continue;
        };
        let name = name.into_inner();
        if t.bool("exists") == Some(true) {
            out.push(Condition::Header(name, None));
        } else if t.get("exists").is_some() {
            let cond = Condition::Not(Box::new(Condition::Header(name, None)));
            out.push(cond);
        } else if let Some((kind, value)) = one_of(&t, "header", &["contains", "equals", "regex"])
            && let Some(m) = text_matcher_of(kind, &value)
        {
            out.push(Condition::Header(name, Some(m)));
        }
    }
    out
}

fn size(v: &Value<'_, '_>) -> Option<Condition> {
    let t = v.table()?;
    t.check_keys("`size`", &["over", "under"]);
    if t.get("over").is_none() && t.get("under").is_none() {
        t.reader().error(
            v.span(),
            "`size` needs `over` and/or `under`",
            Some("for example `size = { over = \"5 MB\" }`".into()),
        );
        return None;
    }
    let over = t.get("over").map(|v| bytes(&v));
    let under = t.get("under").map(|v| bytes(&v));
    if over.is_some_and(|o| o.is_none()) || under.is_some_and(|u| u.is_none()) {
        return None;
    }
    Some(Condition::Size {
        over: over.flatten(),
        under: under.flatten(),
    })
}

/// "2 MB", "500kB", "1024" (bytes) or an integer; units are powers of 1000.
fn bytes(v: &Value<'_, '_>) -> Option<u64> {
    if !v.is_str() {
        return v.uint().map(Spanned::into_inner);
    }
    let s = v.str()?;
    let text = s.get_ref().trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => Some(1.0),
        "kb" | "k" => Some(1e3),
        "mb" | "m" => Some(1e6),
        "gb" | "g" => Some(1e9),
        _ => None,
    };
    match (number.parse::<f64>(), multiplier) {
        (Ok(n), Some(m)) if n >= 0.0 => Some((n * m) as u64),
        _ => {
            v.reader().error(
                s.span(),
                format!("`{text}` is not a size"),
                Some("write a number and a unit: \"500 kB\", \"2 MB\"".into()),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rule::tests::parsed;
    use super::*;

    #[test]
    fn reads_every_kind_of_condition() {
        let rules = parsed(
            r#"
[[rule]]
name = "everything"
category = "noise"
[rule.when]
from = ["A@x.example", "b@y.example"]
to = { domain = "studio.example" }
cc = { regex = '^m' }
reply_to = { contains = "billing" }
from_domain = ["news.example", "@promo.example"]
subject = { regex = '(?i)sale' }
body = ["unsubscribe", "opt out"]
header = [{ name = "X-Mailer", contains = "Mailchimp" }, { name = "X-Campaign", exists = true }]
list = true
auto = false
has_attachment = false
attachment = { equals = "a.pdf" }
size = { over = "1.5 kB", under = 2000000 }
any = [{ subject = "a" }, { subject = "b" }]
all = [{ subject = "c" }]
not = { from = { name = "Giulia" } }
"#,
        );
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].when.len(), 17);
        let size = rules[0].when.iter().find_map(|c| match c {
            Condition::Size { over, under } => Some((*over, *under)),
            _ => None,
        });
        assert_eq!(size, Some((Some(1500), Some(2_000_000))));
    }
}
