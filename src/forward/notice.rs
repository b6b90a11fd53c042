//! The words a task adds to mail: the note at the top of a forward (the reference, how to
//! keep the entrepreneur in the loop, the one-click "done" link, the due time) and the
//! reminder an overdue task sends its assistant, in the account's language. Pure: the
//! reminder comes out as a [`lettre::Message`] for the caller to send. Here, beside the
//! forward, because both are mail delega writes to an assistant (the same headers, the same
//! languages); `task` keeps the task itself.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use lettre::message::Mailbox;

use super::{AutoSubmitted, DelegaForward};
use crate::config::{Account, Language};
use crate::message::one_line;
use crate::task::{Reference, TaskRow};

/// What a forward says about its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNote {
    /// The reference, also put in the forward's subject.
    pub reference: Reference,
    /// `Attività T-7K3Q` / `Task T-7K3Q`.
    pub heading: String,
    /// How to keep the entrepreneur in the loop (Cc), and what that does.
    pub keep_in_loop: String,
    /// The text of the "done" link.
    pub done_label: String,
    /// The `mailto:` URL with the reference ready.
    pub done_link: String,
    /// `Da fare entro …` / `Due by …`, when the rule gives a due time.
    pub due: Option<String>,
}

/// A `mailto:` URL (RFC 6068): `to`, with this subject, percent-encoded.
pub fn mailto(to: &str, subject: &str, body: &str) -> String {
    format!(
        "mailto:{}?subject={}&body={}",
        encode(to),
        encode(subject),
        encode(body)
    )
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The word the "done" link puts first in its subject.
pub fn done_word(language: Language) -> &'static str {
    match language {
        Language::It => "FATTO",
        Language::En => "DONE",
    }
}

/// A moment on the account's clock: `24/11/2026 14:00` or `Tue 24 Nov 2026 14:00`.
pub fn local_time(at: i64, tz: &TimeZone, language: Language) -> String {
    let Ok(t) = Timestamp::from_second(at) else {
        return at.to_string();
    };
    let z = t.to_zoned_datetime(tz.clone());
    match language {
        Language::It => z.strftime("%d/%m/%Y %H:%M").to_string(),
        Language::En => z.strftime("%a %-d %b %Y %H:%M").to_string(),
    }
}

/// The note for a forward's task. `entrepreneur` is the watched mailbox's address (where
/// the assistant's Cc and the done link go); `due_at` the due time, if any.
pub fn task_note(
    reference: &Reference,
    entrepreneur: &str,
    language: Language,
    due_at: Option<i64>,
    tz: &TimeZone,
) -> TaskNote {
    let done_subject = format!("{} {reference}", done_word(language));
    let (heading, keep, label, body, due) = match language {
        Language::It => (
            format!("Attività {reference}"),
            format!(
                "Quando rispondi, metti in Cc {entrepreneur} (o rispondi a questa email): così \
                 l'attività risulta gestita. Se rispondi solo al cliente, delega non lo vede."
            ),
            "Fatto: segna l'attività come completata (un clic, poi Invia)".to_string(),
            "Attività completata.",
            due_at.map(|d| {
                format!(
                    "Da fare entro {} (orario di lavoro)",
                    local_time(d, tz, language)
                )
            }),
        ),
        Language::En => (
            format!("Task {reference}"),
            format!(
                "When you answer, keep {entrepreneur} in Cc (or reply to this email): that \
                 marks the task as handled. An answer sent only to the client is invisible \
                 to delega."
            ),
            "Done: mark the task as completed (one click, then Send)".to_string(),
            "Task completed.",
            due_at.map(|d| format!("Due by {} (working hours)", local_time(d, tz, language))),
        ),
    };
    TaskNote {
        reference: reference.clone(),
        heading,
        keep_in_loop: keep,
        done_label: label,
        done_link: mailto(entrepreneur, &done_subject, body),
        due,
    }
}

/// The note a forward carries about its task, with its due time.
pub fn for_task(account: &Account, task: &TaskRow) -> TaskNote {
    task_note(
        &task.reference,
        &account.digest.to,
        account.digest.language,
        account.task_due(task),
        &account.digest.timezone,
    )
}

/// A reminder of an overdue task.
pub struct Reminder<'a> {
    /// delega's sender (`smtp.from`).
    pub from: &'a str,
    /// The assistant's name and address.
    pub to: (&'a str, &'a str),
    /// The entrepreneur's address (the done link's).
    pub entrepreneur: &'a str,
    /// The task.
    pub reference: &'a Reference,
    /// Its forward id: the reminder answers the forward, and carries the id as delega's
    /// own mail (never triaged as new work if it comes back).
    pub forward_id: &'a str,
    /// The delegated message's subject.
    pub subject: &'a str,
    /// When it was delegated and when it was due.
    pub created_at: i64,
    /// When it was due.
    pub due_at: i64,
    /// The account's language and clock.
    pub language: Language,
    /// The account's timezone.
    pub tz: &'a TimeZone,
    /// The reminder's Date.
    pub now: i64,
}

/// Composes a reminder.
pub fn reminder(r: &Reminder<'_>) -> anyhow::Result<lettre::Message> {
    use anyhow::Context;
    let from: Mailbox = r.from.parse().context("invalid sender (smtp.from)")?;
    let to = Mailbox::new(
        Some(one_line(r.to.0)).filter(|n| !n.is_empty()),
        r.to.1
            .parse()
            .with_context(|| format!("invalid assistant address `{}`", r.to.1))?,
    );
    let note = task_note(
        r.reference,
        r.entrepreneur,
        r.language,
        Some(r.due_at),
        r.tz,
    );
    let subject = one_line(r.subject);
    let (title, intro) = match r.language {
        Language::It => (
            format!("Promemoria {}: {subject}", r.reference),
            format!(
                "L'attività {} («{subject}», affidata il {}) era da fare entro il {} e non \
                 risulta ancora completata.",
                r.reference,
                local_time(r.created_at, r.tz, r.language),
                local_time(r.due_at, r.tz, r.language)
            ),
        ),
        Language::En => (
            format!("Reminder {}: {subject}", r.reference),
            format!(
                "Task {} (\"{subject}\", delegated {}) was due by {} and is not marked done yet.",
                r.reference,
                local_time(r.created_at, r.tz, r.language),
                local_time(r.due_at, r.tz, r.language)
            ),
        ),
    };
    let body = format!(
        "{intro}\n\n{}\n\n{}:\n{}\n\n-- \ndelega ({})\n",
        note.keep_in_loop, note.done_label, note.done_link, r.forward_id
    );
    let domain = from.email.domain().to_string();
    let date = std::time::SystemTime::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(r.now).unwrap_or(0));
    let forward_msg = format!("<{}@{domain}>", r.forward_id);
    Ok(lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(format!("[delega] {title}"))
        .date(date)
        .in_reply_to(forward_msg.clone())
        .references(forward_msg)
        .header(AutoSubmitted)
        .header(DelegaForward(r.forward_id.to_string()))
        .body(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_done_link_carries_the_reference_ready_to_send() {
        let r = Reference::of(1);
        let tz = TimeZone::get("Europe/Rome").expect("tz");
        let note = task_note(
            &r,
            "giulia@studio.example",
            Language::It,
            Some(1_764_000_000),
            &tz,
        );
        assert_eq!(
            note.done_link,
            format!(
                "mailto:giulia@studio.example?subject=FATTO%20{r}&body=Attivit%C3%A0%20completata."
            )
        );
        assert!(note.keep_in_loop.contains("Cc giulia@studio.example"));
        assert_eq!(
            note.due.as_deref(),
            Some("Da fare entro 24/11/2025 17:00 (orario di lavoro)")
        );
        let en = task_note(&r, "g@x.example", Language::En, None, &tz);
        assert!(en.done_link.contains("subject=DONE%20T-"));
        assert_eq!(en.due, None);
    }

    #[test]
    fn a_reminder_answers_the_forward_as_delegas_own_mail() {
        let r = Reference::of(3);
        let tz = TimeZone::get("Europe/Rome").expect("tz");
        let mail = reminder(&Reminder {
            from: "Giulia's inbox <delega@studio.example>",
            to: ("Marta Verdi", "marta@office.example"),
            entrepreneur: "giulia@studio.example",
            reference: &r,
            forward_id: "giulia.12.abc",
            subject: "Fattura\r\nBcc: x@evil",
            created_at: 1_764_000_000,
            due_at: 1_764_010_000,
            language: Language::It,
            tz: &tz,
            now: 1_764_100_000,
        })
        .expect("composed");
        let text = String::from_utf8(mail.formatted()).expect("utf8");
        assert!(
            text.contains(&format!(
                "Subject: [delega] Promemoria {r}: Fattura Bcc: x@evil"
            )),
            "{text}"
        );
        assert!(text.contains("In-Reply-To: <giulia.12.abc@studio.example>"));
        assert!(text.contains("X-Delega-Forward: giulia.12.abc"));
        assert!(text.contains("Auto-Submitted: auto-generated"));
        assert!(!text.contains("\nBcc:"));
    }
}
