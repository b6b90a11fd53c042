//! HTML from minijinja templates, the one way delega writes the HTML of a mail (the digest,
//! the forward's note to an assistant).
//!
//! A template's name must end in `.html`: minijinja then escapes every value it prints, so
//! a subject, a sender name or an instruction can never become markup. What a template says
//! is its caller's; this module owns only how it is rendered.

use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};

/// Renders the built-in template `source`, named `name` (which must end in `.html`), with
/// `context`. A built-in template that does not parse or render is a bug the tests catch,
/// hence the `expect`s: nothing in `context` can make a checked template fail.
pub(crate) fn render(name: &'static str, source: &'static str, context: Value) -> String {
    assert!(
        name.ends_with(".html"),
        "{name}: an HTML template's name ends in .html, which turns automatic escaping on"
    );
    let mut env = Environment::new();
    // A name misspelt in a template fails the tests instead of printing nothing.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template(name, source)
        .expect("a built-in template parses (checked by the tests)");
    env.get_template(name)
        .and_then(|t| t.render(context))
        .expect("a built-in template renders any context of its caller (checked by the tests)")
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    use super::*;

    #[test]
    fn every_printed_value_is_escaped() {
        let out = render(
            "t.html",
            "<p title=\"{{ v }}\">{{ v }}</p>",
            context! { v => "<b>'&\"</b>" },
        );
        assert_eq!(
            out,
            "<p title=\"&lt;b&gt;&#x27;&amp;&quot;&lt;&#x2f;b&gt;\">&lt;b&gt;&#x27;&amp;&quot;&lt;&#x2f;b&gt;</p>"
        );
    }

    #[test]
    #[should_panic(expected = "ends in .html")]
    fn a_template_not_named_html_is_refused() {
        render("t.txt", "{{ v }}", context! { v => "<b>" });
    }
}
