//! Composing a digest: a [`Report`] of the period in, a [`DigestMail`] out.
//!
//! Pure: no clock, no database, no sockets. The report holds each section's newest rows and
//! the period's exact counts; here they are capped to what is listed, `sections.rs` turns
//! each into a section of plain strings in the account's language, and `render` lays the
//! resulting [`View`] out as text and as HTML. The same rows give each assistant's daily list.

use crate::config::Assistant;
use crate::message::one_line;

use super::item::{clean, message_item, more_messages, newest_first};
use super::locale::Words;
use super::render;
use super::sections::{
    delegated_section, needs_you_section, noise_section, observed_section, problems_section,
    time_section,
};
use super::view::{ForwardState, Group, Item, Section, Tone, View, section};
use super::{DigestMail, Handled, Limits, Place, Report, Settings};

/// Composes the entrepreneur's digest of `report`. Each section lists at most
/// `digest.max_listed` messages (and the report need hold no more); its count, the subject
/// and the time given back cover the whole period, from the report's totals.
pub fn compose(settings: &Settings<'_>, report: &Report) -> DigestMail {
    let w = Words(settings.digest.language);
    let limits = Limits::of(settings.digest);
    let totals = &report.totals;
    let delegated: u64 = report.delegated.iter().map(|f| f.count).sum();
    let failed: u64 = report.delegated.iter().map(|f| f.failed).sum();
    // A failed forward is both delegated (with its state) and back with the entrepreneur;
    // so is a forward whose message undo moved back. Neither was handled for them, nor is
    // filing undone (`totals.filed` leaves it out).
    let needs_you = totals.strategic + failed + totals.undone;
    let handled = delegated.saturating_sub(failed + totals.undone_forwards) + totals.filed;
    // Each forward that may have gone twice is a problem of its own.
    let problems = totals.problems + report.in_doubt.len() as u64;

    let mut sections = vec![
        needs_you_section(
            settings,
            w,
            &listed_needs_you(&report.needs_you, limits),
            needs_you,
        ),
        delegated_section(settings, w, &report.delegated, limits.messages),
    ];
    sections.extend(super::results::results_section(
        settings,
        w,
        &report.tasks,
        (totals.status_mails, totals.status_copied),
        limits.messages,
        report.work_day_secs,
    ));
    if totals.observed > 0 {
        let mut observed: Vec<&Handled> = report.observed.iter().collect();
        newest_first(&mut observed);
        observed.truncate(limits.messages);
        sections.push(observed_section(settings, w, &observed, totals.observed));
    }
    sections.push(noise_section(w, &report.noise, totals, limits.groups));
    if !report.proposals.is_empty() {
        sections.push(proposals_section(w, &report.proposals));
    }
    sections.push(time_section(settings, w, handled));
    sections.push(problems_section(settings, w, report, limits.groups));

    let view = View {
        lang: w.lang(),
        title: w.title().to_string(),
        subtitle: subtitle(settings, w, report),
        sections,
        footer: w.footer(settings.account),
    };
    DigestMail {
        // The same numbers as the sections' headings.
        subject: w.subject(needs_you, delegated, totals.filed, problems),
        text: render::text(&view),
        html: render::html(&view),
        period_start: report.start,
        period_end: report.end,
        nothing_to_report: totals.messages == 0 && problems == 0,
        id: format!("digest.{}.{}", atext(settings.account), report.end),
    }
}

/// The messages "needs you" lists, newest first: the newest strategic ones and, since a
/// failure matters more, more of the failed forwards.
fn listed_needs_you(rows: &[Handled], limits: Limits) -> Vec<&Handled> {
    let mut rows: Vec<&Handled> = rows.iter().collect();
    newest_first(&mut rows);
    let (mut strategic, mut failed) = (0, 0);
    rows.retain(|h| {
        let (listed, max) = match h.place {
            Place::Delegated { failed: true } => (&mut failed, limits.failed),
            _ => (&mut strategic, limits.messages),
        };
        *listed += 1;
        *listed <= max
    });
    rows
}

fn proposals_section(w: Words, proposals: &[String]) -> Section {
    let (heading, intro) = w.proposals();
    let mut s = section(
        heading,
        Some(w.integer(proposals.len() as u64)),
        Some(intro),
    );
    s.key = "proposals";
    s.groups.push(Group {
        heading: None,
        items: proposals
            .iter()
            .map(|p| Item {
                lead: "→".into(),
                tone: Tone::Plain,
                title: clean(p),
                meta: None,
                detail: None,
                note: None,
            })
            .collect(),
        more: None,
    });
    s
}

/// Composes an assistant's daily list: what was forwarded (or is about to be) to them in the
/// period, the newest `digest.max_listed` of it. `None` when nothing was. Failed forwards
/// are left out: they never reached the assistant, and the entrepreneur's digest lists them.
pub fn compose_list(
    settings: &Settings<'_>,
    report: &Report,
    assistant: &Assistant,
) -> Option<DigestMail> {
    let w = Words(settings.digest.language);
    let forwards = report
        .delegated
        .iter()
        .find(|f| f.assistant == assistant.id);
    let count = forwards.map_or(0, |f| f.count.saturating_sub(f.failed));
    let tasks = report
        .tasks
        .iter()
        .find(|r| r.assistant == assistant.id)
        .and_then(|r| {
            let max = Limits::of(settings.digest).messages;
            super::results::list_section(settings, w, r, max, report.work_day_secs)
        });
    if count == 0 && tasks.is_none() {
        return None;
    }
    let mut mine: Vec<&Handled> = forwards
        .iter()
        .flat_map(|f| &f.rows)
        .filter(|h| h.place == Place::Delegated { failed: false })
        .collect();
    newest_first(&mut mine);
    mine.truncate(Limits::of(settings.digest).messages);
    let items = mine
        .iter()
        .map(|h| {
            let state = ForwardState::of(h);
            let mut item = message_item(settings, w, h);
            (item.lead, item.tone) = (w.state(state).to_string(), state.tone());
            item
        })
        .collect();
    let tz = &settings.digest.timezone;
    let (from, to) = (w.datetime(report.start, tz), w.datetime(report.end, tz));
    let name = one_line(&assistant.name);
    let view = View {
        lang: w.lang(),
        title: w.list_title(&name),
        subtitle: w.list_intro(settings.account, &from, &to),
        // A day with nothing new still lists what is open: the new part only when there is one.
        sections: (count > 0)
            .then_some(Section {
                key: "list",
                groups: vec![Group {
                    heading: None,
                    items,
                    more: more_messages(w, count, mine.len()),
                }],
                ..section(w.delegated().0, Some(w.integer(count)), None)
            })
            .into_iter()
            .chain(tasks)
            .collect(),
        footer: w.list_footer().to_string(),
    };
    Some(DigestMail {
        subject: w.list_subject(count),
        text: render::text(&view),
        html: render::html(&view),
        period_start: report.start,
        period_end: report.end,
        nothing_to_report: false,
        id: format!(
            "list.{}.{}.{}",
            atext(settings.account),
            atext(&assistant.id),
            report.end
        ),
    })
}

fn subtitle(settings: &Settings<'_>, w: Words, report: &Report) -> String {
    let tz = &settings.digest.timezone;
    w.period(
        settings.account,
        &w.datetime(report.start, tz),
        &w.datetime(report.end, tz),
        &settings.digest.timezone_name,
    )
}

/// A name reduced to RFC 5322 atext, for the left part of a Message-ID.
fn atext(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}
