//! The rules directory (`rules/*.toml`) into compiled [`Rule`]s, with every mistake reported.
//!
//! Each file is read by hand through `tomlread` so that all errors come out at once with
//! `file:line:col` and a hint. Regexes are compiled and assistant ids checked here, so a
//! rule set that loads cannot fail at classification time.

use std::path::Path;

use regex::Regex;
use toml::Spanned;

use crate::classify::{AddressMatcher, Category, Condition, Origin, Rule, TextMatcher};
use crate::config::diagnostic::{Diagnostic, SourceFile, did_you_mean, file_error};
use crate::config::tomlread::{Reader, Table, Value};
use crate::message::AddressField;

/// Rules files are the `*.toml` files of the rules directory.
pub const RULE_FILE_EXTENSION: &str = "toml";

const RULE_KEYS: &[&str] = &[
    "name",
    "category",
    "assistant",
    "instructions",
    "mode",
    "when",
    "due",
    "remind",
];

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

/// What is wrong with a rules directory as a whole, as (what, how to fix it); `None` when it
/// holds rules files. The config reports it at the `rules` setting that names the directory.
pub fn rules_dir_problem(dir: &Path) -> Option<(String, String)> {
    let fix = "set the account's `rules` to a directory of *.toml rules files";
    match std::fs::metadata(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Some((
                format!("the rules directory {} does not exist", dir.display()),
                format!(
                    "create it (`mkdir -p {}`) and add rules files, or {fix}",
                    dir.display()
                ),
            ));
        }
        Err(err) => {
            return Some((
                format!("cannot read the rules directory {}: {err}", dir.display()),
                format!("check its permissions, or {fix}"),
            ));
        }
        Ok(meta) if !meta.is_dir() => {
            return Some((
                format!(
                    "{} is a file, not a directory of rules files",
                    dir.display()
                ),
                format!("{fix}, e.g. its parent directory"),
            ));
        }
        Ok(_) => {}
    }
    let has_rules = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .any(|e| {
            let p = e.path();
            p.extension().is_some_and(|e| e == RULE_FILE_EXTENSION) && p.is_file()
        });
    (!has_rules).then(|| {
        (
            format!("no *.toml rules files in {}", dir.display()),
            "add a file such as 10-noise.toml with [[rule]] tables (see docs/rules.md)".into(),
        )
    })
}

/// Loads every `*.toml` of `dir` in file-name order. `assistants` are the account's ids.
pub fn load_rules_dir(dir: &Path, assistants: &[&str]) -> (Vec<Rule>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            let help = "set the account's `rules` to a directory of *.toml rules files".into();
            let message = format!("cannot read the rules directory: {err}");
            return (Vec::new(), vec![file_error(dir, message, Some(help))]);
        }
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == RULE_FILE_EXTENSION) && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        let help = "add a file such as 10-noise.toml with [[rule]] tables (see docs/rules.md)";
        diagnostics.push(file_error(
            dir,
            "no *.toml rules files here",
            Some(help.into()),
        ));
    }

    let mut rules: Vec<Rule> = Vec::new();
    for path in files {
        let source = match read_rules_file(&path) {
            Ok(source) => source,
            Err(diagnostic) => {
                diagnostics.push(*diagnostic);
                continue;
            }
        };
        let (file_rules, file_diags) = parse_rules(&source, assistants);
        diagnostics.extend(file_diags);
        for rule in file_rules {
            if let Some(first) = rules.iter().find(|r| r.name == rule.name) {
                diagnostics.push(Diagnostic {
                    severity: crate::config::diagnostic::Severity::Error,
                    path: rule.origin.path.clone(),
                    line: rule.origin.line,
                    column: 1,
                    message: format!("duplicate rule name `{}`", rule.name),
                    help: Some(format!(
                        "the first one is at {}; give each rule its own name",
                        first.origin
                    )),
                });
            } else {
                rules.push(rule);
            }
        }
    }
    (rules, diagnostics)
}

/// A rules file's text; a file that is not UTF-8 is reported at its first bad byte.
fn read_rules_file(path: &Path) -> Result<SourceFile, Box<Diagnostic>> {
    let bytes = std::fs::read(path).map_err(|err| {
        let help = "check that the file exists and that delega's user may read it";
        Box::new(file_error(
            path,
            format!("cannot read: {err}"),
            Some(help.into()),
        ))
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(path, text)),
        Err(err) => {
            let good = err.utf8_error().valid_up_to();
            let bytes = err.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..good]).into_owned();
            let at = prefix.len();
            let source = SourceFile::new(path, prefix);
            Err(Box::new(source.diagnostic(
                crate::config::diagnostic::Severity::Error,
                at..at,
                format!("not UTF-8 text (byte 0x{:02x})", bytes[good]),
                Some(format!(
                    "save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 {0} > {0}.new` and rename it",
                    path.display()
                )),
            )))
        }
    }
}

/// Parses one rules file. Rules with errors are left out; every error is reported.
pub fn parse_rules(source: &SourceFile, assistants: &[&str]) -> (Vec<Rule>, Vec<Diagnostic>) {
    let reader = Reader::new(source);
    let mut rules = Vec::new();
    if let Some(doc) = reader.parse() {
        let root = reader.root(&doc);
        root.check_keys("a rules file", &["rule"]);
        match root.get("rule") {
            None => reader.warning(
                0..0,
                "this file has no rules",
                Some("add rules as [[rule]] tables, or remove the file".into()),
            ),
            Some(list) => {
                for item in list.array().unwrap_or_default() {
                    if let Some(rule) = item.table().and_then(|t| rule(&t, assistants)) {
                        rules.push(rule);
                    }
                }
            }
        }
    }
    (rules, reader.into_diagnostics())
}

fn rule(t: &Table<'_, '_>, assistants: &[&str]) -> Option<Rule> {
    let reader = t.reader();
    let errors_before = reader.has_errors();
    t.check_keys("a rule", RULE_KEYS);

    let name = t.required("name", "this rule", "name = \"invoices\"");
    let name = name.and_then(|n| n.str());
    if let Some(n) = &name
        && n.get_ref().trim().is_empty()
    {
        reader.error(n.span(), "empty rule name", Some("name each rule".into()));
    }
    let category = t
        .required("category", "this rule", "category = \"noise\"")
        .and_then(|v| category(&v));
    let observe = match t.str("mode") {
        None => false,
        Some(m) if m.get_ref() == "act" => false,
        Some(m) if m.get_ref() == "observe" => true,
        Some(m) => {
            let help = "use `mode = \"observe\"` to only report, or leave `mode` out to act";
            reader.error(
                m.span(),
                format!("unknown mode `{}`", m.get_ref()),
                Some(help.into()),
            );
            false
        }
    };
    let assistant = t.str("assistant");
    let instructions = t.str("instructions");
    // Task settings: how soon its tasks are due, whether to remind (`config::tasks`).
    let due = crate::config::read_due(t);
    let remind = t.bool("remind");
    check_delegation(
        t,
        category,
        assistant.as_ref(),
        instructions.as_ref(),
        assistants,
    );

    let when = match t.get("when") {
        Some(v) => top_condition(&v),
        None => {
            reader.error(
                t.span(),
                "this rule has no `when`",
                Some("add a condition, e.g. `when = { list = true }`".into()),
            );
            None
        }
    };

    let name = name?;
    if reader.has_errors() && !errors_before {
        return None;
    }
    let (line, _) = reader.source().position(name.span().start);
    Some(Rule {
        name: name.into_inner().trim().to_string(),
        category: category?,
        assistant: assistant.map(Spanned::into_inner),
        instructions: instructions.map(|i| i.into_inner().trim().to_string()),
        observe,
        due: due?,
        remind,
        when: when?,
        origin: Origin {
            path: reader.source().path().to_path_buf(),
            line,
        },
    })
}

fn category(v: &Value<'_, '_>) -> Option<Category> {
    let s = v.str()?;
    let parsed = s.get_ref().parse::<Category>().ok();
    if parsed.is_none() {
        let names = ["strategic", "delegable", "noise"];
        let help = match did_you_mean(s.get_ref(), &names) {
            Some(close) => format!("did you mean `{close}`?"),
            None => "use one of: strategic, delegable, noise".to_string(),
        };
        v.reader().error(
            v.span(),
            format!("unknown category `{}`", s.get_ref()),
            Some(help),
        );
    }
    parsed
}

fn check_delegation(
    t: &Table<'_, '_>,
    category: Option<Category>,
    assistant: Option<&Spanned<String>>,
    instructions: Option<&Spanned<String>>,
    assistants: &[&str],
) {
    let reader = t.reader();
    let known = if assistants.is_empty() {
        "this account has no assistants: add [[account.assistant]] tables to the config".into()
    } else {
        format!("this account's assistants are: {}", assistants.join(", "))
    };
    match (category, assistant) {
        (Some(Category::Delegable), None) => reader.error(
            t.span(),
            "a delegable rule must name the assistant who does the task",
            Some(format!("add `assistant = \"...\"`; {known}")),
        ),
        (Some(Category::Delegable), Some(a)) if !assistants.contains(&a.get_ref().as_str()) => {
            let help = match did_you_mean(a.get_ref(), assistants) {
                Some(close) => format!("did you mean `{close}`? {known}"),
                None => known,
            };
            reader.error(
                a.span(),
                format!("unknown assistant `{}`", a.get_ref()),
                Some(help),
            );
        }
        (Some(Category::Strategic | Category::Noise), Some(a)) => reader.error(
            a.span(),
            "only delegable rules name an assistant",
            Some("remove `assistant`, or set `category = \"delegable\"`".into()),
        ),
        _ => {}
    }
    match (category, instructions) {
        (Some(Category::Delegable), None) => reader.warning(
            t.span(),
            "this delegable rule gives the assistant no instructions",
            Some("add `instructions = \"...\"`: what to do, by when, what to report".into()),
        ),
        (Some(Category::Strategic | Category::Noise), Some(i)) => reader.warning(
            i.span(),
            "instructions are only used by delegable rules",
            None,
        ),
        _ => {}
    }
}

/// The rule's `when`: a table whose conditions must all match.
fn top_condition(v: &Value<'_, '_>) -> Option<Vec<Condition>> {
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
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        let src = SourceFile::new("r.toml", text.to_string());
        let (_, diags) = parse_rules(&src, &["marta", "luca"]);
        diags.iter().map(ToString::to_string).collect()
    }

    fn parsed(text: &str) -> Vec<Rule> {
        let src = SourceFile::new("r.toml", text.to_string());
        let (rules, diags) = parse_rules(&src, &["marta", "luca"]);
        assert!(diags.is_empty(), "{diags:?}");
        rules
    }

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

    #[test]
    fn reports_every_error_with_its_position() {
        let diags = errors(
            r#"[[rule]]
name = "a"
category = "noyse"
when = { list = true }

[[rule]]
name = "b"
category = "delegable"
assistant = "mrta"
instructions = "x"
when = { subject = { regex = '(unclosed' } }

[[rule]]
name = "c"
category = "noise"
when = { from = "bank.example", colour = "red" }
"#,
        );
        assert_eq!(diags.len(), 5, "{diags:#?}");
        assert!(diags[0].starts_with("r.toml:3:12: error: unknown category `noyse`"));
        assert!(diags[0].contains("did you mean `noise`?"));
        assert!(diags[1].starts_with("r.toml:9:13: error: unknown assistant `mrta`"));
        assert!(diags[1].contains("did you mean `marta`?"));
        assert!(diags[2].starts_with("r.toml:11:30: error: invalid regex"));
        assert!(
            diags[3].starts_with("r.toml:16:17: error: `bank.example` is not an email address")
        );
        assert!(diags[3].contains("from = { domain = \"bank.example\" }"));
        assert!(diags[4].starts_with("r.toml:16:33: error: unknown key `colour` in a condition"));
    }

    #[test]
    fn delegable_rules_need_an_assistant_and_get_a_warning_without_instructions() {
        let diags =
            errors("[[rule]]\nname = \"x\"\ncategory = \"delegable\"\nwhen = { list = true }\n");
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert!(diags[0].contains("error: a delegable rule must name the assistant"));
        assert!(diags[0].contains("marta, luca"));
        assert!(
            diags[1].contains("warning: this delegable rule gives the assistant no instructions")
        );
    }

    #[test]
    fn missing_keys_and_empty_conditions_are_errors() {
        let diags = errors(
            "[[rule]]\ncategory = \"noise\"\n\n[[rule]]\nname = \"y\"\ncategory = \"noise\"\nwhen = {}\n",
        );
        assert_eq!(diags.len(), 3, "{diags:?}");
        assert!(diags[0].contains("this rule has no `name`"));
        assert!(diags[1].contains("this rule has no `when`"));
        assert!(diags[2].starts_with("r.toml:7:8: error: empty condition"));
    }

    #[test]
    fn bad_sizes_and_modes_are_explained() {
        let diags = errors(
            "[[rule]]\nname = \"x\"\ncategory = \"noise\"\nmode = \"watch\"\nwhen = { size = { over = \"big\" } }\n",
        );
        assert_eq!(diags.len(), 2, "{diags:?}");
        assert!(diags[0].contains("unknown mode `watch`"));
        assert!(diags[1].contains("`big` is not a size"));
    }
}
