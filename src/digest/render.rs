//! Lays a composed [`View`] out as the plain-text part and, through a minijinja template, as
//! the HTML part.
//!
//! The template's name ends in `.html`, so minijinja escapes every value it prints (rendered
//! by [`crate::html`], as the forward's note is): a subject or a sender name from a message
//! can never become markup. Nothing here adds to the view's content; what to say is
//! `compose`'s.

use std::fmt::Write;

use minijinja::context;
use minijinja::value::Value;

use super::view::{Group, Item, Section, View};

/// The HTML template; `.html` turns automatic escaping on.
const TEMPLATE_NAME: &str = "digest.html";
const TEMPLATE: &str = include_str!("templates/digest.html");

/// The view as an HTML document, readable on a phone, with nothing loaded from outside.
pub(super) fn html(view: &View) -> String {
    crate::html::render(TEMPLATE_NAME, TEMPLATE, view_value(view))
}

fn view_value(view: &View) -> Value {
    context! {
        lang => view.lang,
        title => &view.title,
        subtitle => &view.subtitle,
        sections => view.sections.iter().map(section_value).collect::<Vec<_>>(),
        footer => &view.footer,
    }
}

fn section_value(s: &Section) -> Value {
    context! {
        key => s.key,
        heading => &s.heading,
        count => &s.count,
        intro => &s.intro,
        paragraphs => &s.paragraphs,
        groups => s.groups.iter().map(group_value).collect::<Vec<_>>(),
        empty => &s.empty,
    }
}

fn group_value(g: &Group) -> Value {
    context! {
        heading => &g.heading,
        items => g.items.iter().map(item_value).collect::<Vec<_>>(),
        more => &g.more,
    }
}

fn item_value(i: &Item) -> Value {
    context! {
        lead => &i.lead,
        tone => i.tone.class(),
        title => &i.title,
        meta => &i.meta,
        detail => &i.detail,
        note => &i.note,
    }
}

/// The view as plain text: headings in capitals, each item's lines aligned after its lead.
pub(super) fn text(view: &View) -> String {
    let mut out = format!("{}\n{}\n", view.title, view.subtitle);
    for s in &view.sections {
        out.push('\n');
        section_text(&mut out, s);
    }
    // "-- " opens a signature (RFC 3676 §4.3): clients fold the footer away.
    let _ = write!(out, "\n-- \n{}\n", view.footer);
    out
}

fn section_text(out: &mut String, s: &Section) {
    let heading = match &s.count {
        Some(n) => format!("{} ({n})", s.heading.to_uppercase()),
        None => s.heading.to_uppercase(),
    };
    let _ = writeln!(out, "{heading}\n{}", "-".repeat(heading.chars().count()));
    if let Some(intro) = &s.intro {
        let _ = writeln!(out, "{intro}\n");
    }
    for p in &s.paragraphs {
        let _ = writeln!(out, "{p}");
    }
    if s.groups.is_empty() {
        if let Some(empty) = &s.empty {
            let _ = writeln!(out, "  {empty}");
        }
        return;
    }
    let width = s
        .groups
        .iter()
        .flat_map(|g| &g.items)
        .map(|i| i.lead.chars().count())
        .max()
        .unwrap_or(0);
    for (n, g) in s.groups.iter().enumerate() {
        let indent = match &g.heading {
            Some(h) => {
                let blank = if n > 0 { "\n" } else { "" };
                let _ = writeln!(out, "{blank}  {h}");
                "    "
            }
            None => "  ",
        };
        for item in &g.items {
            item_text(out, item, indent, width, s.numeric_lead);
        }
        if let Some(more) = &g.more {
            let _ = writeln!(out, "{indent}{more}");
        }
    }
}

fn item_text(out: &mut String, i: &Item, indent: &str, width: usize, right: bool) {
    let lead = if right {
        format!("{:>width$}", i.lead)
    } else {
        format!("{:<width$}", i.lead)
    };
    let _ = writeln!(out, "{indent}{lead}  {}", i.title);
    let hang = format!("{indent}{}  ", " ".repeat(width));
    if let Some(meta) = &i.meta {
        let _ = writeln!(out, "{hang}{meta}");
    }
    if let Some(detail) = &i.detail {
        let _ = writeln!(out, "{hang}“{detail}”");
    }
    if let Some(note) = &i.note {
        let _ = writeln!(out, "{hang}! {note}");
    }
}
