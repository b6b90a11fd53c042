//! One rules file's `[[rule]]` tables into [`Rule`]s: the keys a rule takes, its name,
//! category and mode, its task settings, and whether its assistant and instructions fit its
//! category. The `when` table is left to `condition.rs`; reading the directory to `rules.rs`.

use toml::Spanned;

use super::condition::top_condition;
use crate::classify::{Category, Origin, Rule};
use crate::config::diagnostic::{Diagnostic, SourceFile, did_you_mean};
use crate::config::tomlread::{Reader, Table, Value};

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

#[cfg(test)]
pub(in crate::config::rules) mod tests {
    use super::*;

    pub(in crate::config::rules) fn errors(text: &str) -> Vec<String> {
        let src = SourceFile::new("r.toml", text.to_string());
        let (_, diags) = parse_rules(&src, &["marta", "luca"]);
        diags.iter().map(ToString::to_string).collect()
    }

    pub(in crate::config::rules) fn parsed(text: &str) -> Vec<Rule> {
        let src = SourceFile::new("r.toml", text.to_string());
        let (rules, diags) = parse_rules(&src, &["marta", "luca"]);
        assert!(diags.is_empty(), "{diags:?}");
        rules
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
