//! The review of results in the digest: per assistant, the tasks done in the period (with
//! the working time each took), those still open and those overdue (oldest first), and the
//! median time to done over 30 days; and, in an assistant's daily list, their own open and
//! overdue tasks with their age. Counts are exact; each list is capped at
//! `digest.max_listed` with the rest counted. The words live here, in both languages,
//! beside the only section that uses them.

use crate::config::Language;
use crate::review::{AssistantReview, TaskView, working_duration};

use super::Settings;
use super::item::{LINE_MAX, assistant_name, bounded, clean};
use super::locale::Words;
use super::view::{Group, Item, Section, Tone, section};

/// Words of the results section.
struct Text {
    heading: &'static str,
    intro: &'static str,
    done: &'static str,
    open: &'static str,
    answered: &'static str,
    overdue: &'static str,
    took: &'static str,
    open_for: &'static str,
    due: &'static str,
    delegated: &'static str,
    median: &'static str,
    not_sent: &'static str,
    /// After the reason a task's forward was not sent: what the entrepreneur can do (the
    /// command ends with the task's reference).
    not_sent_hint: &'static str,
    /// Plurals for the per-assistant counts: done, open, overdue, not sent.
    counts: [&'static str; 4],
    list_heading: &'static str,
    list_intro: &'static str,
}

fn text(language: Language) -> &'static Text {
    match language {
        Language::It => &Text {
            heading: "Risultati",
            intro: "Per assistente: cosa è stato fatto dall'ultimo riepilogo (e in quanto tempo, in ore \
                    lavorative), cosa è ancora aperto, cosa è in ritardo.",
            done: "fatto",
            open: "aperto",
            answered: "risposto",
            overdue: "in ritardo",
            took: "fatto in",
            open_for: "aperto da",
            due: "scadenza",
            delegated: "affidato",
            median: "tempo mediano per completare (30 giorni)",
            not_sent: "non inviato",
            not_sent_hint: " — non verrà ritentato: per affidarlo di nuovo, sposta il messaggio \
                            nella cartella delle deleghe; per chiuderlo, delega task drop",
            counts: ["fatti", "aperti", "in ritardo", "non inviati"],
            list_heading: "Le tue attività aperte",
            list_intro: "Per chiuderne una, usa il link «Fatto» nell'inoltro o rispondi con \
                         FATTO e il riferimento nell'oggetto.",
        },
        Language::En => &Text {
            heading: "Results",
            intro: "Per assistant: what was done since the last digest (how long it took, in working \
                    hours), what is still open, what is overdue.",
            done: "done",
            open: "open",
            answered: "answered",
            overdue: "overdue",
            took: "took",
            open_for: "open for",
            due: "due",
            delegated: "delegated",
            median: "median time to done (30 days)",
            not_sent: "not sent",
            not_sent_hint: " — it is not tried again: to delegate it anew, move the message \
                            into the delegation folder; to close it, delega task drop",
            counts: ["done", "open", "overdue", "not sent"],
            list_heading: "Your open tasks",
            list_intro: "To close one, use the \"Done\" link in its forward, or reply with DONE \
                         and the reference in the subject.",
        },
    }
}

/// One task as an item.
fn item(settings: &Settings<'_>, w: Words, t: &Text, v: &TaskView, day: i64) -> Item {
    let task = &v.task;
    let tz = &settings.digest.timezone;
    if let Some(crate::task::Forwarded::NotSent { reason, error }) = task.not_sent() {
        // It never reached the assistant: no age, nothing due; the reason instead.
        let why = clean(&w.send_error(reason.as_ref(), error));
        return Item {
            lead: t.not_sent.to_string(),
            tone: Tone::Bad,
            title: subject(w, task),
            meta: Some(format!(
                "{} · {} {}",
                task.reference,
                t.delegated,
                w.datetime(task.created_at, tz)
            )),
            detail: None,
            note: Some(format!(
                "{}{} {}.",
                bounded(&why, LINE_MAX),
                t.not_sent_hint,
                task.reference
            )),
        };
    }
    let (lead, tone) = match task.state {
        crate::task::TaskState::Done => (t.done, Tone::Good),
        _ if v.overdue => (t.overdue, Tone::Bad),
        crate::task::TaskState::Answered => (t.answered, Tone::Wait),
        _ => (t.open, Tone::Wait),
    };
    let spent = working_duration(v.working_secs, day);
    let mut meta = format!(
        "{} · {} {}",
        task.reference,
        t.delegated,
        w.datetime(task.created_at, tz)
    );
    match task.state {
        crate::task::TaskState::Done => meta.push_str(&format!(" · {} {spent}", t.took)),
        _ => meta.push_str(&format!(" · {} {spent}", t.open_for)),
    }
    if let (Some(due), false) = (v.due_at, task.state == crate::task::TaskState::Done) {
        meta.push_str(&format!(" · {} {}", t.due, w.datetime(due, tz)));
    }
    Item {
        lead: lead.to_string(),
        tone,
        title: subject(w, task),
        meta: Some(meta),
        detail: None,
        note: None,
    }
}

fn subject(w: Words, task: &crate::task::TaskRow) -> String {
    match clean(&task.subject) {
        s if s.is_empty() => w.no_subject().to_string(),
        s => bounded(&s, 200),
    }
}

/// Which of an assistant's lists a "… and N more" line counts the rest of.
#[derive(Debug, Clone, Copy)]
enum Kind {
    NotSent,
    Overdue,
    Done,
    Open,
}

/// "… and 2 more overdue tasks" / "… e altre 2 attività in ritardo", when fewer than
/// `total` tasks of that list are shown.
fn more_tasks(w: Words, kind: Kind, total: usize, listed: usize) -> Option<String> {
    let n = total.saturating_sub(listed) as u64;
    if n == 0 {
        return None;
    }
    let s = w.integer(n);
    let one = n == 1;
    Some(match w.0 {
        Language::It => {
            let which = match (kind, one) {
                (Kind::NotSent, true) => "non inviata",
                (Kind::NotSent, false) => "non inviate",
                (Kind::Overdue, _) => "in ritardo",
                (Kind::Done, true) => "fatta",
                (Kind::Done, false) => "fatte",
                (Kind::Open, true) => "aperta",
                (Kind::Open, false) => "aperte",
            };
            match one {
                true => format!("… e un'altra attività {which}"),
                false => format!("… e altre {s} attività {which}"),
            }
        }
        Language::En => {
            let tasks = if one { "task" } else { "tasks" };
            match kind {
                Kind::NotSent => format!("… and {s} more {tasks} not sent"),
                Kind::Overdue => format!("… and {s} more overdue {tasks}"),
                Kind::Done => format!("… and {s} more {tasks} done"),
                Kind::Open => format!("… and {s} more open {tasks}"),
            }
        }
    })
}

/// How an assistant's lists are laid out: at most `max` tasks each.
struct Lists<'a> {
    settings: &'a Settings<'a>,
    w: Words,
    t: &'a Text,
    max: usize,
    /// A working day's length, for durations.
    day: i64,
}

impl Lists<'_> {
    /// The listed part of `views` (at most `max`) as items, and the "… and N more" line.
    fn capped(&self, views: &[TaskView], kind: Kind, items: &mut Vec<Item>) -> Option<String> {
        let (w, t) = (self.w, self.t);
        items.extend(
            views
                .iter()
                .take(self.max)
                .map(|v| item(self.settings, w, t, v, self.day)),
        );
        more_tasks(w, kind, views.len(), views.len().min(self.max))
    }
}

/// `n` mails from assistants about their tasks, filed with the tasks.
fn status_mails_filed(language: Language, n: u64, count: &str) -> String {
    match (language, n) {
        (Language::It, 1) => format!(
            "{count} messaggio di un assistente su un'attività è stato archiviato con \
             l'attività, fuori dalla Posta in arrivo."
        ),
        (Language::It, _) => format!(
            "{count} messaggi degli assistenti sulle loro attività sono stati archiviati con \
             le attività, fuori dalla Posta in arrivo."
        ),
        (Language::En, 1) => format!(
            "{count} mail from an assistant about a task was filed with the task, out of your \
             Inbox."
        ),
        (Language::En, _) => format!(
            "{count} mails from assistants about their tasks were filed with the tasks, out of \
             your Inbox."
        ),
    }
}

/// `n` mails from assistants about their tasks, copied to the delegation folder with the
/// tasks on a server that cannot move mail: the originals are still in the Inbox.
fn status_mails_copied(language: Language, n: u64, count: &str) -> String {
    match (language, n) {
        (Language::It, 1) => format!(
            "{count} messaggio di un assistente su un'attività è stato copiato con l'attività \
             nella cartella delle deleghe ma resta anche nella Posta in arrivo: questo server \
             non sa spostare i messaggi."
        ),
        (Language::It, _) => format!(
            "{count} messaggi degli assistenti sulle loro attività sono stati copiati con le \
             attività nella cartella delle deleghe ma restano anche nella Posta in arrivo: \
             questo server non sa spostare i messaggi."
        ),
        (Language::En, 1) => format!(
            "{count} mail from an assistant about a task was copied to the delegation folder \
             with the task but is also still in your Inbox: this server cannot move messages."
        ),
        (Language::En, _) => format!(
            "{count} mails from assistants about their tasks were copied to the delegation \
             folder with the tasks but are also still in your Inbox: this server cannot move \
             messages."
        ),
    }
}

/// The results section of the entrepreneur's digest, with the assistants' mails about
/// their tasks in the period, `(filed, copied)`: filed with the tasks, or only copied there
/// (a server that cannot move); `None` when no assistant has a task to show and no such
/// mail came.
pub(super) fn results_section(
    settings: &Settings<'_>,
    w: Words,
    reviews: &[AssistantReview],
    (status_mails, status_copied): (u64, u64),
    max: usize,
    day: i64,
) -> Option<Section> {
    if reviews.is_empty() && status_mails == 0 && status_copied == 0 {
        return None;
    }
    let t = text(w.0);
    let total: usize = reviews
        .iter()
        .map(|r| r.done.len() + r.open.len() + r.overdue.len() + r.not_sent.len())
        .sum();
    let mut s = section(t.heading, Some(w.integer(total as u64)), Some(t.intro));
    s.key = "results";
    if status_mails > 0 {
        let mails = status_mails_filed(w.0, status_mails, &w.integer(status_mails));
        s.paragraphs.push(mails);
    }
    if status_copied > 0 {
        let copied = status_mails_copied(w.0, status_copied, &w.integer(status_copied));
        s.paragraphs.push(copied);
    }
    let lists = Lists {
        settings,
        w,
        t,
        max,
        day,
    };
    for r in reviews {
        let name = assistant_name(settings, Some(&r.assistant));
        let median = r
            .median_done_secs
            .map(|m| format!(" · {} {}", t.median, working_duration(m, day)))
            .unwrap_or_default();
        let [done, open, overdue, not_sent] = t.counts;
        let not_sent = match r.not_sent.len() {
            0 => String::new(),
            n => format!(", {not_sent} {}", w.integer(n as u64)),
        };
        let heading = format!(
            "{name}: {done} {}, {open} {}, {overdue} {}{not_sent}{median}",
            w.integer(r.done.len() as u64),
            w.integer((r.open.len() + r.overdue.len()) as u64),
            w.integer(r.overdue.len() as u64),
        );
        let mut items = Vec::new();
        // Not sent and overdue first, oldest first: never hidden behind the others.
        let mut more = Vec::new();
        more.extend(lists.capped(&r.not_sent, Kind::NotSent, &mut items));
        more.extend(lists.capped(&r.overdue, Kind::Overdue, &mut items));
        more.extend(lists.capped(&r.done, Kind::Done, &mut items));
        more.extend(lists.capped(&r.open, Kind::Open, &mut items));
        s.groups.push(Group {
            heading: Some(heading),
            items,
            more: (!more.is_empty()).then(|| more.join(" · ")),
        });
    }
    Some(s)
}

/// An assistant's open and overdue tasks, with their age, for their daily list.
pub(super) fn list_section(
    settings: &Settings<'_>,
    w: Words,
    review: &AssistantReview,
    max: usize,
    day: i64,
) -> Option<Section> {
    let open = review.open.len() + review.overdue.len();
    if open == 0 {
        return None;
    }
    let t = text(w.0);
    let mut s = section(
        t.list_heading,
        Some(w.integer(open as u64)),
        Some(t.list_intro),
    );
    s.key = "tasks";
    let lists = Lists {
        settings,
        w,
        t,
        max,
        day,
    };
    let mut items = Vec::new();
    let mut more = Vec::new();
    more.extend(lists.capped(&review.overdue, Kind::Overdue, &mut items));
    more.extend(lists.capped(&review.open, Kind::Open, &mut items));
    s.groups.push(Group {
        heading: None,
        items,
        more: (!more.is_empty()).then(|| more.join(" · ")),
    });
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::super::{Report, Settings, compose, compose_list};
    use crate::config::Language;
    use crate::review::review;
    use crate::task::fixtures::{TUE_9, task};
    use crate::task::{Due, Reference, TaskState};

    const H: i64 = 3600;

    #[test]
    fn the_digest_reviews_results_per_assistant_overdue_never_hidden() {
        let mut account = crate::config::tests::account();
        account.digest.language = Language::En;
        account.digest.max_listed = 2;
        account.tasks.due = Some(Due {
            days: 0,
            minutes: 120,
        });
        let mut tasks = vec![
            task(1, "marta", TaskState::Done, TUE_9, Some(TUE_9 + 90 * 60)),
            task(2, "marta", TaskState::Open, TUE_9 + 7 * H, None),
        ];
        // Three overdue: two listed (the cap), the third counted.
        for id in 3..=5 {
            tasks.push(task(
                id,
                "marta",
                TaskState::Open,
                TUE_9 + (id - 3) * 60,
                None,
            ));
        }
        let now = TUE_9 + 8 * H;
        let report = Report {
            start: TUE_9 - H,
            end: now,
            tasks: review(&account, &tasks, TUE_9 - H, now),
            work_day_secs: account.tasks.work_hours.day_secs(),
            ..Report::default()
        };
        let mail = compose(&Settings::of(&account), &report);
        let text = &mail.text;
        assert!(text.contains("RESULTS (5)"), "{text}");
        assert!(
            text.contains(
                "Marta Verdi: done 1, open 4, overdue 3 · median time to done (30 days) 1h 30m"
            ),
            "{text}"
        );
        let overdue = text
            .find("overdue  Fattura 3")
            .expect("oldest overdue first");
        let next = text.find("overdue  Fattura 4").expect("then the next");
        assert!(overdue < next);
        assert!(!text.contains("Fattura 5"), "capped at max_listed");
        assert!(text.contains("… and 1 more overdue task"), "{text}");
        assert!(text.contains(&format!(
            "{} · delegated 24 Nov 2026 09:00 · took 1h 30m",
            Reference::of(1)
        )));
        assert!(text.contains("open     Fattura 2"), "{text}");
        assert!(mail.html.contains("Marta Verdi: done 1, open 4, overdue 3"));

        // Marta's own list: her open and overdue tasks with their age, even on a day
        // when nothing new was delegated to her.
        let marta = &account.assistants[0];
        let list = compose_list(&Settings::of(&account), &report, marta).expect("a list");
        assert!(list.text.contains("YOUR OPEN TASKS (4)"), "{}", list.text);
        assert!(
            list.text.contains("open for 8h · due 24 Nov 2026 11:00"),
            "{}",
            list.text
        );
        assert!(!list.text.contains("DELEGATED"), "{}", list.text);
    }

    #[test]
    fn a_task_whose_forward_was_refused_is_listed_as_not_sent_with_the_reason() {
        let mut account = crate::config::tests::account();
        let mut refused = task(1, "luca", TaskState::Open, TUE_9, None);
        refused.forward = crate::task::Forwarded::NotSent {
            reason: None,
            error: "550 5.1.1 <luca@elsewhere.example>: Recipient address rejected".into(),
        };
        let mut gone = task(2, "luca", TaskState::Open, TUE_9, None);
        gone.forward = crate::task::Forwarded::NotSent {
            reason: Some(crate::reason::NotSent::LeftInbox),
            error: crate::reason::NotSent::LeftInbox.to_string(),
        };
        let tasks = [refused, gone];
        let now = TUE_9 + 2 * H;
        for (language, heading, lead, reason) in [
            (
                Language::En,
                "Luca Bianchi: done 0, open 0, overdue 0, not sent 2",
                "not sent  Fattura 1",
                "the message left the Inbox before it was forwarded — it is not tried again",
            ),
            (
                Language::It,
                "Luca Bianchi: fatti 0, aperti 0, in ritardo 0, non inviati 2",
                "non inviato  Fattura 1",
                "il messaggio è uscito dalla Posta in arrivo prima dell'inoltro — non verrà ritentato",
            ),
        ] {
            account.digest.language = language;
            let report = Report {
                start: TUE_9 - H,
                end: now,
                tasks: review(&account, &tasks, TUE_9 - H, now),
                work_day_secs: account.tasks.work_hours.day_secs(),
                ..Report::default()
            };
            let mail = compose(&Settings::of(&account), &report);
            let text = &mail.text;
            assert!(text.contains(heading), "{text}");
            assert!(text.contains(lead), "{text}");
            assert!(
                text.contains("550 5.1.1 <luca@elsewhere.example>: Recipient address rejected"),
                "the server's words as they came: {text}"
            );
            assert!(text.contains(reason), "{text}");
            assert!(
                text.contains(&format!("delega task drop {}.", Reference::of(1))),
                "{text}"
            );
            assert!(mail.html.contains(heading));
            // Luca never got them: not in his own list.
            let luca = &account.assistants[1];
            assert!(compose_list(&Settings::of(&account), &report, luca).is_none());
        }
    }

    #[test]
    fn the_rest_of_a_list_is_counted_in_tasks_in_both_languages() {
        use super::super::locale::Words;
        use super::{Kind, more_tasks};
        let (it, en) = (Words(Language::It), Words(Language::En));
        let said = |w, kind, total| more_tasks(w, kind, total, 2);
        assert_eq!(
            said(en, Kind::Overdue, 3).as_deref(),
            Some("… and 1 more overdue task")
        );
        assert_eq!(
            said(en, Kind::Open, 2_952).as_deref(),
            Some("… and 2,950 more open tasks")
        );
        assert_eq!(
            said(en, Kind::NotSent, 4).as_deref(),
            Some("… and 2 more tasks not sent")
        );
        assert_eq!(
            said(it, Kind::Open, 3).as_deref(),
            Some("… e un'altra attività aperta")
        );
        assert_eq!(
            said(it, Kind::Done, 5).as_deref(),
            Some("… e altre 3 attività fatte")
        );
        assert_eq!(
            said(it, Kind::Overdue, 2_002).as_deref(),
            Some("… e altre 2.000 attività in ritardo")
        );
        assert_eq!(said(it, Kind::NotSent, 2), None, "all listed");
    }
}
