//! `delega suggest`: rules proposed from the entrepreneur's corrections, ready to paste.
//!
//! Learning is visible, never silent: corrections are grouped by list (List-Id) or sender,
//! and a group with enough evidence becomes a proposed rule that puts those messages where
//! the entrepreneur keeps putting them. Nothing changes until ops add the rule. Pure: the
//! corrections and the hand delegations come in, text goes out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::classify::Category;
use crate::config::Account;
use crate::state::Correction;

/// The file proposals should go in: it sorts before the usual `10-…` files, so the learned
/// rules decide before the rules they correct.
pub const LEARNED_FILE: &str = "00-learned.toml";

/// One proposed rule and its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The rule's name (unique among the account's rules).
    pub name: String,
    /// Where the entrepreneur keeps putting these messages.
    pub category: Category,
    /// For delegable proposals: the assistant they were delegated to.
    pub assistant: Option<String>,
    /// What the messages have in common, as a condition (`from = "..."`).
    pub condition: String,
    /// A one-line summary for the digest.
    pub summary: String,
    /// The corrections behind it.
    pub evidence: Vec<Correction>,
    /// The rules that had decided otherwise.
    pub overridden: Vec<String>,
}

/// Proposes rules from `corrections`: groups of at least `min_count` moves of one sender
/// or list to one place. `assistant_of` tells who got a hand delegation (by Message-ID).
pub fn suggest(
    account: &Account,
    corrections: &[Correction],
    assistant_of: &dyn Fn(&Correction) -> Option<String>,
    min_count: usize,
) -> Vec<Suggestion> {
    let mut groups: BTreeMap<(Category, String), Vec<&Correction>> = BTreeMap::new();
    for c in corrections {
        let target = target_category(account, &c.mailbox);
        if c.category == Some(target) || (c.list_id.is_none() && c.from_addr.is_empty()) {
            continue;
        }
        let key = match &c.list_id {
            Some(list) => format!("list:{list}"),
            None => format!("from:{}", c.from_addr),
        };
        groups.entry((target, key)).or_default().push(c);
    }
    let mut taken: Vec<String> = account.rules.rules.iter().map(|r| r.name.clone()).collect();
    let mut out = Vec::new();
    for ((category, key), evidence) in groups {
        if evidence.len() < min_count.max(1) {
            continue;
        }
        let (condition, who) = match key.split_once(':') {
            Some(("list", list)) => (
                format!(
                    "header = {{ name = \"List-Id\", contains = {} }}",
                    quote(list_key(list))
                ),
                format!("the list {}", list_key(list)),
            ),
            _ => {
                let from = &evidence[0].from_addr;
                (format!("from = {}", quote(from)), from.clone())
            }
        };
        let assistant = (category == Category::Delegable)
            .then(|| evidence.iter().find_map(|c| assistant_of(c)))
            .flatten()
            .or_else(|| {
                (category == Category::Delegable)
                    .then(|| account.default_assistant.clone())
                    .flatten()
            });
        if category == Category::Delegable && assistant.is_none() {
            continue; // a delegable rule needs an assistant; nobody to name
        }
        let name = unique_name(&mut taken, category, &who);
        let mut overridden: Vec<String> = evidence.iter().filter_map(|c| c.rule.clone()).collect();
        overridden.sort();
        overridden.dedup();
        let place = match category {
            Category::Strategic => "the Inbox",
            Category::Delegable => "the delegation folder",
            Category::Noise => "the noise folder",
        };
        out.push(Suggestion {
            summary: format!(
                "{} messages from {who} moved to {place}: make it {category}",
                evidence.len()
            ),
            name,
            category,
            assistant,
            condition,
            evidence: evidence.into_iter().cloned().collect(),
            overridden,
        });
    }
    out.sort_by(|a, b| {
        b.evidence
            .len()
            .cmp(&a.evidence.len())
            .then(a.name.cmp(&b.name))
    });
    out
}

fn target_category(account: &Account, mailbox: &str) -> Category {
    if same_folder(&account.folders.noise, mailbox) {
        Category::Noise
    } else if same_folder(&account.folders.delegated, mailbox) {
        Category::Delegable
    } else {
        Category::Strategic
    }
}

/// True when `mailbox`, a server's folder name, is the configured folder `configured` as
/// `imap::namespace::resolve` places it on some server (an `INBOX.` prefix, `.` levels).
fn same_folder(configured: &str, mailbox: &str) -> bool {
    let plain = |name: &str| {
        let name = match name.get(..6) {
            Some(head) if head.eq_ignore_ascii_case("INBOX.") => &name[6..],
            _ => name,
        };
        name.replace('.', "/")
    };
    mailbox == configured || plain(mailbox) == plain(configured)
}

/// The stable part of a List-Id: the `<id>` when there is one.
fn list_key(list: &str) -> &str {
    match (list.rfind('<'), list.rfind('>')) {
        (Some(a), Some(b)) if a < b => &list[a + 1..b],
        _ => list.trim(),
    }
}

fn unique_name(taken: &mut Vec<String>, category: Category, who: &str) -> String {
    let verb = match category {
        Category::Strategic => "keep",
        Category::Delegable => "delegate",
        Category::Noise => "file",
    };
    let slug: String = who
        .trim_start_matches("the list ")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let base = format!("learned-{verb}-{slug}");
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The proposals as a rules file with the evidence in comments.
pub fn render(
    account: &Account,
    suggestions: &[Suggestion],
    timezone: &jiff::tz::TimeZone,
) -> String {
    let mut out = String::new();
    if suggestions.is_empty() {
        let _ = writeln!(
            out,
            "# account {}: no proposals yet. delega learns from messages moved by hand between the \
             Inbox and its folders, once the same sender or list has been moved at least twice.",
            account.name
        );
        return out;
    }
    let _ = writeln!(
        out,
        "# account {}: {} proposed rule(s), from the entrepreneur's corrections.\n\
         # Save them as {}/{LEARNED_FILE} (it sorts first, so these rules decide before the\n\
         # ones they correct), run `delega check`, then reload delega. Nothing changes until then.",
        account.name,
        suggestions.len(),
        account.rules_dir.display()
    );
    for s in suggestions {
        let _ = writeln!(out);
        let _ = writeln!(out, "# {}", s.summary);
        if !s.overridden.is_empty() {
            let _ = writeln!(
                out,
                "# (decided by rule {} before)",
                s.overridden.join(", ")
            );
        }
        for c in &s.evidence {
            let day = jiff::Timestamp::from_second(c.at)
                .map(|t| {
                    t.to_zoned_datetime(timezone.clone())
                        .strftime("%Y-%m-%d")
                        .to_string()
                })
                .unwrap_or_default();
            let subject: String = c
                .subject
                .chars()
                .filter(|c| !c.is_control())
                .take(70)
                .collect();
            let _ = writeln!(out, "#   {day}  {subject}");
        }
        let _ = writeln!(out, "[[rule]]");
        let _ = writeln!(out, "name = {}", quote(&s.name));
        let _ = writeln!(out, "category = \"{}\"", s.category);
        if let Some(a) = &s.assistant {
            let _ = writeln!(out, "assistant = {}", quote(a));
            let _ = writeln!(
                out,
                "instructions = \"Handle it as you did the last ones from this sender; tell me when it is done.\""
            );
        }
        let _ = writeln!(out, "when = {{ {} }}", s.condition);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn correction(
        mailbox: &str,
        from: &str,
        list: Option<&str>,
        category: Category,
        rule: &str,
    ) -> Correction {
        Correction {
            mailbox: mailbox.into(),
            uid: 1,
            message_id: Some(format!("{from}-{mailbox}")),
            from_addr: from.into(),
            list_id: list.map(Into::into),
            subject: "Hello \"there\"".into(),
            ledger_id: Some(1),
            category: Some(category),
            rule: Some(rule.into()),
            at: 1_795_000_000,
        }
    }

    #[test]
    fn repeated_moves_out_of_noise_propose_a_strategic_rule_for_that_list() {
        let account = crate::config::tests::account();
        let corrections = vec![
            correction(
                "INBOX",
                "news@shop.example",
                Some("Shop news <news.shop.example>"),
                Category::Noise,
                "newsletters",
            ),
            correction(
                "INBOX",
                "news@shop.example",
                Some("Shop news <news.shop.example>"),
                Category::Noise,
                "newsletters",
            ),
            correction(
                "INBOX",
                "once@other.example",
                None,
                Category::Noise,
                "newsletters",
            ),
        ];
        let s = suggest(&account, &corrections, &|_| None, 2);
        assert_eq!(s.len(), 1, "one sender moved once is not enough evidence");
        assert_eq!(s[0].category, Category::Strategic);
        assert_eq!(
            s[0].condition,
            "header = { name = \"List-Id\", contains = \"news.shop.example\" }"
        );
        assert_eq!(s[0].name, "learned-keep-news-shop-example");
        assert_eq!(s[0].overridden, ["newsletters"]);
    }

    #[test]
    fn hand_delegations_propose_a_delegable_rule_naming_the_assistant() {
        let account = crate::config::tests::account();
        let corrections = vec![
            correction(
                "Delegated",
                "billing@printer.example",
                None,
                Category::Strategic,
                "x",
            ),
            correction(
                "Delegated",
                "billing@printer.example",
                None,
                Category::Strategic,
                "x",
            ),
        ];
        let s = suggest(&account, &corrections, &|_| Some("marta".into()), 2);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].category, Category::Delegable);
        assert_eq!(s[0].assistant.as_deref(), Some("marta"));
        let text = render(&account, &s, &jiff::tz::TimeZone::UTC);
        assert!(text.contains("assistant = \"marta\""), "{text}");
        assert!(
            text.contains("when = { from = \"billing@printer.example\" }"),
            "{text}"
        );
        assert!(
            text.contains("Hello \"there\""),
            "evidence in comments: {text}"
        );
    }

    #[test]
    fn moves_to_where_delega_had_put_it_are_not_evidence() {
        let account = crate::config::tests::account();
        let same = correction("Noise", "a@x.example", None, Category::Noise, "n");
        assert!(suggest(&account, &[same.clone(), same], &|_| None, 1).is_empty());
    }
}
