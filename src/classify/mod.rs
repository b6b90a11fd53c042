//! The pure core: a parsed message and a rule set in, a [`Decision`] out.
//!
//! No I/O, no clock: the same message and rules always give the same decision. Rules are
//! tried in order and the first match wins; no match gives the account's default category;
//! mail that cannot be parsed stays strategic. `matcher.rs` evaluates conditions; rule sets
//! are built from the rules files by [`crate::config`].

mod matcher;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

pub use matcher::{AddressMatcher, Condition, TextMatcher};

use crate::message::Message;
use crate::reason::Reason;

/// What delega does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Only the entrepreneur can handle it: it stays in the Inbox.
    Strategic,
    /// An assistant can do it: forwarded, then filed.
    Delegable,
    /// Newsletters, notifications, promotions: filed, never deleted.
    Noise,
}

impl Category {
    /// The name used in rules, config, logs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Strategic => "strategic",
            Category::Delegable => "delegable",
            Category::Noise => "noise",
        }
    }

    /// Every category, in display order.
    pub const ALL: [Category; 3] = [Category::Strategic, Category::Delegable, Category::Noise];
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(())
    }
}

/// Where a rule was written, for messages about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The rules file.
    pub path: PathBuf,
    /// 1-based line of the rule's `name`.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique within the account.
    pub name: String,
    /// What a match decides.
    pub category: Category,
    /// For delegable rules: the assistant id (checked against the config).
    pub assistant: Option<String>,
    /// For delegable rules: what the assistant must do.
    pub instructions: Option<String>,
    /// Decide and report, but do not act.
    pub observe: bool,
    /// How soon its tasks are due, in working time (else the account's `due`).
    pub due: Option<crate::task::Due>,
    /// Remind the assistant of its overdue tasks (else the account's `remind`).
    pub remind: Option<bool>,
    /// The condition; its top level is a list of conditions that must all match.
    pub when: Vec<Condition>,
    /// Where it was written.
    pub origin: Origin,
}

/// An account's ordered rules and its default.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// In evaluation order: files by name, then top to bottom. Shared by the accounts
    /// that use the same rules directory.
    pub rules: Arc<[Rule]>,
    /// The category when no rule matches.
    pub default: Category,
}

/// What delega decided for a message, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The category.
    pub category: Category,
    /// The rule that decided, or `None` for the default and fallbacks.
    pub rule: Option<String>,
    /// For delegable decisions: the assistant id.
    pub assistant: Option<String>,
    /// For delegable decisions: the rule's instructions.
    pub instructions: Option<String>,
    /// True when the rule only observes: record, do not act.
    pub observe: bool,
    /// Which condition matched, or why the default applied (English, for logs and
    /// `explain`).
    pub why: String,
    /// When the decision is not what the rules alone would say (a malformed message, a
    /// guard): why, as data, for the ledger's `reason` column and the digest's words.
    pub reason: Option<Reason>,
}

/// A rule that did not match but got part of the way, for `delega explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    /// The rule's name.
    pub rule: String,
    /// Why each matching top-level condition matched.
    pub matched: Vec<String>,
    /// The top-level conditions that did not match.
    pub missed: Vec<String>,
}

/// A decision with the rules that came close.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The decision, as `classify` gives it.
    pub decision: Decision,
    /// Rules with some but not all top-level conditions matching, closest first.
    pub near_misses: Vec<NearMiss>,
}

impl RuleSet {
    /// Decides what to do with `msg`. Never fails: malformed mail is strategic.
    pub fn classify(&self, msg: &Message<'_>) -> Decision {
        // A message without sender or headers cannot be delegated or safely filed: whatever
        // the rules would say, the entrepreneur sees it.
        if msg.malformed().is_some() {
            return fallback(msg);
        }
        for rule in self.rules.iter() {
            if let Some(why) = rule.matches(msg) {
                return Decision {
                    category: rule.category,
                    rule: Some(rule.name.clone()),
                    assistant: rule.assistant.clone(),
                    instructions: rule.instructions.clone(),
                    observe: rule.observe,
                    why,
                    reason: None,
                };
            }
        }
        Decision {
            category: self.default,
            rule: None,
            assistant: None,
            instructions: None,
            observe: false,
            why: format!("no rule matched: the default is {}", self.default),
            reason: None,
        }
    }

    /// Decides like [`RuleSet::classify`] and lists the rules that came close.
    pub fn explain(&self, msg: &Message<'_>) -> Explanation {
        let decision = self.classify(msg);
        let mut near_misses: Vec<NearMiss> = self
            .rules
            .iter()
            .filter(|r| Some(&r.name) != decision.rule.as_ref())
            .filter_map(|r| r.near_miss(msg))
            .collect();
        near_misses.sort_by(|a, b| {
            let score = |n: &NearMiss| n.matched.len() * 100 / (n.matched.len() + n.missed.len());
            score(b).cmp(&score(a))
        });
        near_misses.truncate(3);
        Explanation {
            decision,
            near_misses,
        }
    }

    /// The delegable rule that fits `msg` best: the one that decides it, or else the one
    /// with the largest share of its conditions matching (at least one positive). Used when
    /// the entrepreneur delegates a message by hand and delega must pick the assistant.
    pub fn closest_delegable(&self, msg: &Message<'_>) -> Option<&Rule> {
        let delegable = |r: &&Rule| r.category == Category::Delegable;
        if let Some(rule) = self
            .rules
            .iter()
            .filter(delegable)
            .find(|r| r.matches(msg).is_some())
        {
            return Some(rule);
        }
        self.rules
            .iter()
            .filter(delegable)
            .filter_map(|r| {
                let near = r.near_miss(msg)?;
                let score = near.matched.len() * 1000 / (near.matched.len() + near.missed.len());
                Some((score, r))
            })
            .max_by_key(|(score, r)| (*score, std::cmp::Reverse(r.origin.line)))
            .map(|(_, r)| r)
    }

    /// The rule called `name`.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }
}

impl Rule {
    /// Why every top-level condition matches, or `None`.
    pub fn matches(&self, msg: &Message<'_>) -> Option<String> {
        let mut whys = Vec::with_capacity(self.when.len());
        for c in &self.when {
            whys.push(c.eval(msg)?);
        }
        Some(whys.join("; "))
    }

    fn near_miss(&self, msg: &Message<'_>) -> Option<NearMiss> {
        let (mut matched, mut missed) = (Vec::new(), Vec::new());
        let mut positive = false;
        for c in &self.when {
            match c.eval(msg) {
                Some(why) => {
                    // "not a list" matches most mail: only a positive match makes a rule close.
                    positive |= !c.is_negative();
                    matched.push(why);
                }
                None => missed.push(c.to_string()),
            }
        }
        (positive && !missed.is_empty()).then(|| NearMiss {
            rule: self.name.clone(),
            matched,
            missed,
        })
    }
}

fn fallback(msg: &Message<'_>) -> Decision {
    Decision {
        category: Category::Strategic,
        rule: None,
        assistant: None,
        instructions: None,
        observe: false,
        why: match msg.malformed() {
            Some(m) => Reason::Malformed(m).to_string(),
            None => "malformed message (?): kept in the Inbox".to_string(),
        },
        reason: msg.malformed().map(Reason::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::SourceFile;
    use crate::config::parse_rules;

    fn rules(text: &str, default: Category) -> RuleSet {
        let src = SourceFile::new("t.toml", text.to_string());
        let (rules, diags) = parse_rules(&src, &["marta"]);
        assert!(diags.is_empty(), "{diags:?}");
        RuleSet {
            rules: rules.into(),
            default,
        }
    }

    const TWO_RULES: &str = r#"
[[rule]]
name = "bank"
category = "strategic"
when = { from_domain = "bank.example" }

[[rule]]
name = "invoices"
category = "delegable"
assistant = "marta"
instructions = "Pay it."
when = { subject = "invoice" }
"#;

    #[test]
    fn first_matching_rule_wins() {
        let set = rules(TWO_RULES, Category::Strategic);
        let bank_invoice = Message::parse(b"From: ceo@bank.example\r\nSubject: Invoice\r\n\r\n");
        let d = set.classify(&bank_invoice);
        assert_eq!(d.category, Category::Strategic);
        assert_eq!(d.rule.as_deref(), Some("bank"));
        assert_eq!(d.why, "from_domain bank.example matched ceo@bank.example");

        let supplier = Message::parse(b"From: a@supplier.example\r\nSubject: Invoice\r\n\r\n");
        let d = set.classify(&supplier);
        assert_eq!(d.category, Category::Delegable);
        assert_eq!(d.rule.as_deref(), Some("invoices"));
        assert_eq!(d.assistant.as_deref(), Some("marta"));
        assert_eq!(d.instructions.as_deref(), Some("Pay it."));
    }

    #[test]
    fn no_match_gives_the_account_default() {
        let msg = Message::parse(b"From: friend@x.example\r\nSubject: Hi\r\n\r\n");
        let d = rules(TWO_RULES, Category::Strategic).classify(&msg);
        assert_eq!((d.category, d.rule), (Category::Strategic, None));
        let d = rules(TWO_RULES, Category::Noise).classify(&msg);
        assert_eq!(d.category, Category::Noise);
        assert!(d.why.contains("default is noise"));
    }

    #[test]
    fn malformed_mail_is_strategic_even_when_the_default_is_not() {
        let set = rules(TWO_RULES, Category::Noise);
        for raw in [
            &b""[..],
            b"\xff\xfe\x00junk",
            b"Subject: invoice without sender\r\n\r\n",
        ] {
            let d = set.classify(&Message::parse(raw));
            assert_eq!(d.category, Category::Strategic, "{raw:?}");
            assert!(d.why.contains("malformed"), "{}", d.why);
        }
    }

    #[test]
    fn observe_rules_decide_but_are_flagged() {
        let set = rules(
            "[[rule]]\nname = \"n\"\ncategory = \"noise\"\nmode = \"observe\"\nwhen = { list = true }\n",
            Category::Strategic,
        );
        let d = set.classify(&Message::parse(
            b"From: n@x.example\r\nList-Id: <l.x>\r\n\r\n",
        ));
        assert_eq!(d.category, Category::Noise);
        assert!(d.observe);
    }

    #[test]
    fn the_closest_delegable_rule_is_the_matching_one_or_the_nearest() {
        let set = rules(
            r#"
[[rule]]
name = "invoices"
category = "delegable"
assistant = "marta"
instructions = "Pay it."
[rule.when]
from_domain = "supplier.example"
subject = "invoice"

[[rule]]
name = "lists"
category = "noise"
when = { from_domain = "supplier.example" }
"#,
            Category::Strategic,
        );
        let near = Message::parse(b"From: a@supplier.example\r\nSubject: Hello\r\n\r\n");
        assert_eq!(set.classify(&near).rule.as_deref(), Some("lists"));
        assert_eq!(
            set.closest_delegable(&near).map(|r| r.name.as_str()),
            Some("invoices")
        );
        let far = Message::parse(b"From: a@elsewhere.example\r\nSubject: Hello\r\n\r\n");
        assert!(set.closest_delegable(&far).is_none());
    }

    #[test]
    fn explain_names_rules_that_came_close() {
        let set = rules(
            r#"
[[rule]]
name = "supplier-invoices"
category = "noise"
[rule.when]
from_domain = "supplier.example"
subject = "invoice"
"#,
            Category::Strategic,
        );
        let msg = Message::parse(b"From: a@supplier.example\r\nSubject: Hello\r\n\r\n");
        let e = set.explain(&msg);
        assert_eq!(e.decision.rule, None);
        assert_eq!(e.near_misses.len(), 1);
        assert_eq!(e.near_misses[0].rule, "supplier-invoices");
        assert_eq!(e.near_misses[0].missed, ["subject contains \"invoice\""]);
    }
}
