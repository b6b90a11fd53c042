//! The digest's words in Italian and English, and dates, numbers and money in each locale's
//! usual form (it: `24/11/2026 18:00`, `1.234,50 €`; en: `24 Nov 2026 18:00`, `€1,234.50`).
//!
//! Every phrase sits here with both languages side by side; `compose` picks them, and none
//! of them contains anything from a message.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::config::Language;
use crate::reason::{AutoEvidence, HandKept, Kept, Malformed, NotSent, Reason, Refusal};

/// The words of one language.
#[derive(Debug, Clone, Copy)]
pub(super) struct Words(pub(super) Language);

/// `one` or `many` after `n`.
fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

impl Words {
    fn pick(self, it: &'static str, en: &'static str) -> &'static str {
        match self.0 {
            Language::It => it,
            Language::En => en,
        }
    }

    pub(super) fn lang(self) -> &'static str {
        self.pick("it", "en")
    }

    pub(super) fn title(self) -> &'static str {
        self.pick("Il riepilogo di delega", "Your delega digest")
    }

    pub(super) fn period(self, account: &str, from: &str, to: &str, tz: &str) -> String {
        match self.0 {
            Language::It => format!("Casella {account} · dal {from} al {to} ({tz})"),
            Language::En => format!("The {account} inbox · {from} to {to} ({tz})"),
        }
    }

    pub(super) fn footer(self, account: &str) -> String {
        match self.0 {
            Language::It => format!("Inviato da delega per la casella {account}."),
            Language::En => format!("Sent by delega for the {account} inbox."),
        }
    }

    /// The subject: the day at a glance, counts only.
    pub(super) fn subject(
        self,
        needs_you: u64,
        delegated: u64,
        filed: u64,
        problems: u64,
    ) -> String {
        let (n, d, f) = (
            self.integer(needs_you),
            self.integer(delegated),
            self.integer(filed),
        );
        let mut s = match self.0 {
            Language::It => format!(
                "delega · {n} per te, {d} {}, {f} {}",
                plural(delegated, "delegato", "delegati"),
                plural(filed, "filtrato", "filtrati")
            ),
            Language::En => format!(
                "delega · {n} {}, {d} delegated, {f} filed",
                plural(needs_you, "needs you", "need you")
            ),
        };
        if problems > 0 {
            let p = self.integer(problems);
            s.push_str(&match self.0 {
                Language::It => format!(", {p} {}", plural(problems, "problema", "problemi")),
                Language::En => format!(", {p} {}", plural(problems, "problem", "problems")),
            });
        }
        s
    }

    pub(super) fn needs_you(self) -> (&'static str, &'static str, &'static str) {
        (
            self.pick("Per te", "Needs you"),
            self.pick(
                "Solo tu puoi occupartene: sono ancora nella Posta in arrivo, dal più recente.",
                "Only you can handle these: they are still in your Inbox, newest first.",
            ),
            self.pick("Niente richiede te.", "Nothing needs you."),
        )
    }

    pub(super) fn delegated(self) -> (&'static str, &'static str, &'static str) {
        (
            self.pick("Delegati", "Delegated"),
            self.pick(
                "Cosa è andato a ciascun assistente, con la regola e lo stato dell'inoltro.",
                "What went to each assistant, under which rule, and where each forward stands.",
            ),
            self.pick("Nessun messaggio delegato.", "Nothing was delegated."),
        )
    }

    pub(super) fn proposals(self) -> (&'static str, &'static str) {
        (
            self.pick("Regole da valutare", "Rules to consider"),
            self.pick(
                "Hai spostato a mano più volte messaggi come questi: `delega suggest` scrive la \
                 regola pronta da aggiungere. Nulla cambia finché non la aggiungi.",
                "You moved messages like these by hand more than once: `delega suggest` writes \
                 the rule, ready to add. Nothing changes until it is added.",
            ),
        )
    }

    pub(super) fn observed(self) -> (&'static str, &'static str) {
        (
            self.pick(
                "Avrei delegato o filtrato",
                "Would have been delegated or filed",
            ),
            self.pick(
                "Regole in sola osservazione: non ho fatto nulla. Se le decisioni sono giuste, \
                 puoi lasciarle agire.",
                "Rules in observe mode decided these, and nothing was done. If the decisions \
                 are right, you can let the rules act.",
            ),
        )
    }

    pub(super) fn noise(self) -> (&'static str, &'static str, &'static str) {
        (
            self.pick("Filtrati come rumore", "Filed as noise"),
            self.pick(
                "Per lista o mittente, i più numerosi prima: se qualcuno non doveva finire qui, \
                 correggi la sua regola.",
                "By list or sender, largest first: if one does not belong here, correct its rule.",
            ),
            self.pick("Nessun messaggio filtrato.", "Nothing was filed."),
        )
    }

    /// Noise only copied to its folder, the originals left in the Inbox.
    pub(super) fn copied(self, n: u64) -> String {
        let count = self.integer(n);
        match self.0 {
            Language::It => format!(
                "{count} {} nella cartella del rumore ma {} ancora nella posta in arrivo: \
                 questo server non sa spostare i messaggi.",
                plural(n, "copiato", "copiati"),
                plural(n, "resta", "restano"),
            ),
            Language::En => format!(
                "{count} {} copied to the noise folder but also still in your Inbox: this \
                 server cannot move messages.",
                plural(n, "was", "were"),
            ),
        }
    }

    pub(super) fn time_given_back(self) -> &'static str {
        self.pick("Tempo restituito", "Time given back")
    }

    pub(super) fn problems(self) -> (&'static str, &'static str) {
        (
            self.pick("Problemi", "Problems"),
            self.pick("Nessun problema.", "No problems."),
        )
    }

    /// "An estimate: 60 messages handled for you × 2 min = 2 h."
    pub(super) fn time_estimate(
        self,
        handled: u64,
        minutes_each: u32,
        total_minutes: u64,
    ) -> String {
        let (n, d) = (self.integer(handled), self.duration(total_minutes));
        match self.0 {
            Language::It => format!(
                "Stima: {n} {} al posto tuo × {minutes_each} min = {d}.",
                plural(handled, "messaggio gestito", "messaggi gestiti")
            ),
            Language::En => format!(
                "An estimate: {n} {} for you × {minutes_each} min = {d}.",
                plural(handled, "message handled", "messages handled")
            ),
        }
    }

    /// "At your €100.00 an hour, that is €200.00."
    pub(super) fn time_value(self, rate: &str, value: &str) -> String {
        match self.0 {
            Language::It => format!("Al tuo valore di {rate} l'ora, sono {value}."),
            Language::En => format!("At your {rate} an hour, that is {value}."),
        }
    }

    pub(super) fn state(self, state: super::view::ForwardState) -> &'static str {
        use super::view::ForwardState::*;
        match state {
            Sent => self.pick("inviato", "sent"),
            MaybeTwice => self.pick("forse doppio", "maybe twice"),
            Waiting => self.pick("in attesa", "waiting"),
            Failed => self.pick("non riuscito", "failed"),
        }
    }

    pub(super) fn maybe_twice_note(self) -> &'static str {
        self.pick(
            "L'invio si è interrotto dopo che il messaggio era partito ed è stato ripetuto \
             identico: l'assistente potrebbe averlo ricevuto due volte.",
            "A send was cut off after the message went out and was repeated as the same \
             message: the assistant may have received it twice.",
        )
    }

    /// A forward that may have gone twice, in the problems: "sent again" or "to be sent
    /// again", and to whom.
    pub(super) fn in_doubt(self, sent: bool, assistant: &str) -> String {
        match (self.0, sent) {
            (Language::It, true) => format!(
                "inoltro a {assistant} ripetuto dopo un invio interrotto: potrebbe essere arrivato due volte"
            ),
            (Language::It, false) => format!(
                "inoltro a {assistant} interrotto dopo la partenza: sarà ripetuto, potrebbe arrivare due volte"
            ),
            (Language::En, true) => format!(
                "forward to {assistant} sent again after a cut-off send: it may have arrived twice"
            ),
            (Language::En, false) => format!(
                "forward to {assistant} cut off after it went out: it will be sent again and may arrive twice"
            ),
        }
    }

    pub(super) fn in_doubt_kind(self) -> &'static str {
        self.pick("inoltro forse doppio", "forward maybe twice")
    }

    pub(super) fn last_attempt(self, error: &str) -> String {
        match self.0 {
            Language::It => format!("Ultimo tentativo: {error}"),
            Language::En => format!("Last attempt: {error}"),
        }
    }

    /// Why a forward did not go out: delega's own reason (`reason`, data) in the digest's
    /// language, else the server's refusal (`error`) as it came.
    pub(super) fn send_error(self, reason: Option<&NotSent>, error: &str) -> String {
        match reason {
            Some(reason) => self.not_sent(reason),
            None => error.to_string(),
        }
    }

    /// delega's own reason a forward did not go out, in the digest's language.
    pub(super) fn not_sent(self, reason: &NotSent) -> String {
        match (self.0, reason) {
            (Language::It, NotSent::AssistantGone(id)) => {
                format!("l'assistente {id} non è più nella configurazione")
            }
            (Language::It, NotSent::Compose(why)) => {
                format!("impossibile preparare l'inoltro: {why}")
            }
            (Language::It, NotSent::LeftInbox) => {
                "il messaggio è uscito dalla Posta in arrivo prima dell'inoltro".to_string()
            }
            (Language::It, NotSent::Renumbered) => {
                "il server ha rinumerato la casella di posta".to_string()
            }
            (Language::It, NotSent::Refused) => "inoltro rifiutato".to_string(),
            // The English form is the one the log shows.
            (Language::En, reason) => reason.to_string(),
        }
    }

    pub(super) fn forward_failed(self, assistant: &str, error: &str) -> String {
        match self.0 {
            Language::It => format!("Inoltro a {assistant} non riuscito: {error}"),
            Language::En => format!("Forward to {assistant} failed: {error}"),
        }
    }

    /// A message `delega undo` moved back into the Inbox from `folder`; `forwarded_to`
    /// the assistant its forward had already reached, if it had.
    pub(super) fn undone(self, folder: &str, forwarded_to: Option<&str>) -> String {
        match (self.0, forwarded_to) {
            (Language::It, None) => {
                format!("Riportato nella Posta in arrivo da `delega undo` (era in {folder})")
            }
            (Language::It, Some(a)) => format!(
                "Riportato nella Posta in arrivo da `delega undo` (era in {folder}); \
                 l'inoltro a {a} era già partito"
            ),
            (Language::En, None) => {
                format!("Moved back to the Inbox by `delega undo` (it was in {folder})")
            }
            (Language::En, Some(a)) => format!(
                "Moved back to the Inbox by `delega undo` (it was in {folder}); the forward \
                 to {a} had already gone out"
            ),
        }
    }

    pub(super) fn not_forwarded(self, why: &str) -> String {
        match self.0 {
            Language::It => format!("Non inoltrato — {why}"),
            Language::En => format!("Not forwarded — {why}"),
        }
    }

    /// Why a malformed message was kept in the Inbox whatever the rules say.
    pub(super) fn malformed(self, why: Malformed) -> String {
        let reason = match (self.0, why) {
            (Language::It, Malformed::Unparseable) => "illeggibile come messaggio email",
            (Language::It, Malformed::NoHeaders) => "senza intestazioni",
            (Language::It, Malformed::NoFrom) => "senza indirizzo del mittente",
            (Language::En, Malformed::Unparseable) => "not parseable as an email message",
            (Language::En, Malformed::NoHeaders) => "no headers",
            (Language::En, Malformed::NoFrom) => "no From address",
        };
        match self.0 {
            Language::It => format!(
                "Messaggio malformato ({reason}): tenuto nella Posta in arrivo, nessuna regola \
                 è stata applicata"
            ),
            Language::En => {
                format!("Malformed message ({reason}): kept in the Inbox, no rule was applied")
            }
        }
    }

    /// Beside a message whose Date is missing or names no real time (`written`): the time
    /// shown is its arrival.
    pub(super) fn undated(self, written: Option<&str>) -> String {
        match (self.0, written) {
            (Language::It, None) => "senza data: l'ora è quella di arrivo".to_string(),
            (Language::It, Some(w)) => {
                format!("data impossibile «{w}»: l'ora è quella di arrivo")
            }
            (Language::En, None) => "no Date: the time shown is its arrival".to_string(),
            (Language::En, Some(w)) => {
                format!("impossible Date “{w}”: the time shown is its arrival")
            }
        }
    }

    /// Why a message a rule would delegate was kept in the Inbox (`guard`).
    pub(super) fn kept(self, kept: &Kept) -> String {
        let reason = self.refusal(&kept.refusal);
        match (self.0, kept.rule.as_deref()) {
            (Language::It, Some(rule)) => format!(
                "tenuto nella Posta in arrivo: la regola {rule} lo delegherebbe, ma {reason}"
            ),
            (Language::It, None) => {
                format!("tenuto nella Posta in arrivo: sarebbe da delegare, ma {reason}")
            }
            (Language::En, Some(rule)) => {
                format!("kept in the Inbox: rule {rule} would delegate it, but {reason}")
            }
            (Language::En, None) => {
                format!("kept in the Inbox: it would be delegated, but {reason}")
            }
        }
    }

    /// Why a message moved into the delegation folder by hand was not forwarded: it is
    /// still in that folder.
    pub(super) fn hand_kept(self, hand: &HandKept) -> String {
        let folder = &hand.folder;
        let reason = match (self.0, &hand.refusal) {
            (_, Some(refusal)) => self.refusal(refusal),
            (Language::It, None) => {
                "nessuna regola e nessun default_assistant indicano un assistente".to_string()
            }
            (Language::En, None) => "no rule or default_assistant names an assistant".to_string(),
        };
        match self.0 {
            Language::It => format!("Spostato a mano in {folder}, non inoltrato: {reason}"),
            Language::En => format!("Moved into {folder} by hand, not forwarded: {reason}"),
        }
    }

    fn refusal(self, refusal: &Refusal) -> String {
        match (self.0, refusal) {
            (Language::It, Refusal::OwnForward(id)) => {
                format!("l'ha inviato delega stesso (inoltro {id})")
            }
            (Language::It, Refusal::FromAssistant { name, address }) => {
                format!("viene dall'assistente {name} ({address}): non si rimanda mai indietro")
            }
            (Language::It, Refusal::Machine(e)) => {
                format!("l'ha inviato un sistema automatico ({})", self.machine(e))
            }
            (Language::It, Refusal::Loop { hops, max }) => format!(
                "è passato per {hops} server di posta (più di {max}): probabilmente un ciclo \
                 di inoltri"
            ),
            (Language::It, Refusal::AlreadyForwarded) => {
                "un messaggio con lo stesso Message-ID è già stato inoltrato".to_string()
            }
            // The English form is the one the guard records.
            (Language::En, refusal) => refusal.to_string(),
        }
    }

    fn machine(self, evidence: &AutoEvidence) -> String {
        match (self.0, evidence) {
            (Language::It, AutoEvidence::AutoSubmitted(v)) => format!("Auto-Submitted: {v}"),
            (Language::It, AutoEvidence::Header(name)) => format!("intestazione {name}"),
            (Language::It, AutoEvidence::Report) => {
                "un multipart/report, avviso di consegna o di lettura".to_string()
            }
            (Language::It, AutoEvidence::NullReturnPath) => {
                "Return-Path vuoto, un avviso di mancato recapito".to_string()
            }
            (Language::It, AutoEvidence::MailerDaemon) => {
                "mittente MAILER-DAEMON, un avviso di mancato recapito".to_string()
            }
            (Language::En, evidence) => evidence.to_string(),
        }
    }

    pub(super) fn rule(self, name: &str) -> String {
        match self.0 {
            Language::It => format!("regola {name}"),
            Language::En => format!("rule {name}"),
        }
    }

    pub(super) fn rules(self, names: &[String]) -> String {
        let names = names.join(", ");
        match (self.0, names.contains(',')) {
            (Language::It, false) => format!("regola {names}"),
            (Language::It, true) => format!("regole {names}"),
            (Language::En, false) => format!("rule {names}"),
            (Language::En, true) => format!("rules {names}"),
        }
    }

    /// Where an observe-mode decision would have sent the message.
    pub(super) fn would_file(self) -> &'static str {
        self.pick("→ filtrato", "→ filed")
    }

    pub(super) fn more_sources(self, sources: u64, messages: u64) -> String {
        let (s, m) = (self.integer(sources), self.integer(messages));
        match self.0 {
            Language::It => format!(
                "… e {s} {} ({m} {})",
                plural(sources, "altra fonte", "altre fonti"),
                plural(messages, "messaggio", "messaggi")
            ),
            Language::En => format!(
                "… and {s} more {} ({m} {})",
                plural(sources, "source", "sources"),
                plural(messages, "message", "messages")
            ),
        }
    }

    /// After the messages listed: how many more there are.
    pub(super) fn more_messages(self, n: u64) -> String {
        let s = self.integer(n);
        match self.0 {
            Language::It if n == 1 => "… e un altro messaggio".to_string(),
            Language::It => format!("… e altri {s} messaggi"),
            Language::En => format!("… and {s} more {}", plural(n, "message", "messages")),
        }
    }

    pub(super) fn more_problems(self, n: u64) -> String {
        let s = self.integer(n);
        match self.0 {
            Language::It => format!("… e {s} {}", plural(n, "altro", "altri")),
            Language::En => format!("… and {s} more"),
        }
    }

    /// An assistant's mail about a task, filed with it.
    pub(super) fn task_status(self, reference: &str, state: crate::task::TaskState) -> String {
        use crate::task::TaskState as S;
        match self.0 {
            Language::It => {
                let state = match state {
                    S::Open => "aperta",
                    S::Answered => "risposta",
                    S::Done => "fatta",
                    S::Dropped => "annullata",
                    S::Unknown => "stato sconosciuto",
                };
                format!(
                    "aggiornamento dell'attività {reference} dall'assistente (ora {state}): archiviato con l'attività"
                )
            }
            Language::En => format!(
                "update on task {reference} from its assistant (now {}): filed with the task",
                match state {
                    S::Open => "open",
                    S::Answered => "answered",
                    S::Done => "done",
                    S::Dropped => "dropped",
                    S::Unknown => "state unknown",
                }
            ),
        }
    }

    /// A recorded event: delega's own reason (`reason`, data) in the digest's language, the
    /// rest (a server's words, an error) as recorded.
    pub(super) fn event_detail(self, kind: &str, detail: &str, reason: Option<&Reason>) -> String {
        match reason {
            // A hand delegation not forwarded: `detail` is the quoted subject.
            Some(Reason::HandKept(hand)) => {
                return format!("{detail}: {}", self.hand_kept(hand));
            }
            Some(Reason::NotSent(why)) => return self.not_sent(why),
            Some(Reason::Kept(kept)) => return self.kept(kept),
            Some(Reason::Malformed(why)) => return self.malformed(*why),
            Some(Reason::TaskStatus { reference, state }) => {
                return self.task_status(reference, *state);
            }
            None => {}
        }
        // The command that enrols the account again.
        if kind == "reauth" {
            return match self.0 {
                Language::It => format!("per autorizzare di nuovo delega, esegui `{detail}`"),
                Language::En => format!("to authorise delega again, run `{detail}`"),
            };
        }
        if kind == "server" && detail == crate::daemon::COPY_ONLY {
            return self
                .pick(
                    "non ha né MOVE né UIDPLUS: delega copia i messaggi nelle cartelle e \
                     lascia gli originali nella posta in arrivo",
                    "it has neither MOVE nor UIDPLUS: delega copies messages to their folders \
                     and leaves the originals in the Inbox",
                )
                .to_string();
        }
        detail.to_string()
    }

    /// What a kind of recorded event is, for people.
    pub(super) fn event_kind(self, kind: &str) -> String {
        match kind {
            "imap" => self.pick("connessione alla casella", "mailbox connection"),
            "smtp" => self.pick("invio (SMTP)", "sending (SMTP)"),
            "forward" => self.pick("inoltro rifiutato", "forward refused"),
            "delegation" => self.pick(
                "delegato a mano, non inoltrato",
                "hand delegation not forwarded",
            ),
            "digest" => self.pick("invio del riepilogo", "sending the digest"),
            "server" => self.pick("server di posta", "mail server"),
            "attention" => self.pick("da sistemare", "needs attention"),
            "reauth" => self.pick(
                "l'accesso OAuth2 alla casella va autorizzato di nuovo",
                "the mailbox's OAuth2 sign-in needs re-authorisation",
            ),
            other => return other.to_string(),
        }
        .to_string()
    }

    pub(super) fn times(self, n: u64) -> String {
        let s = self.integer(n);
        match self.0 {
            Language::It => format!("{s} volte"),
            Language::En => format!("{s} times"),
        }
    }

    pub(super) fn rule_lead(self) -> &'static str {
        self.pick("regola", "rule")
    }

    /// About a rule with no match in the last 30 days; `last` is the day of its last match.
    pub(super) fn rule_unused(self, last: Option<&str>) -> String {
        match (self.0, last) {
            (Language::It, Some(d)) => {
                format!("nessun messaggio negli ultimi 30 giorni (l'ultimo il {d})")
            }
            (Language::It, None) => "non ha mai deciso un messaggio".to_string(),
            (Language::En, Some(d)) => format!("no match in the last 30 days (last on {d})"),
            (Language::En, None) => "has never matched a message".to_string(),
        }
    }

    pub(super) fn no_subject(self) -> &'static str {
        self.pick("(senza oggetto)", "(no subject)")
    }

    pub(super) fn unknown_sender(self) -> &'static str {
        self.pick("(mittente sconosciuto)", "(unknown sender)")
    }

    pub(super) fn list_subject(self, n: u64) -> String {
        let s = self.integer(n);
        match self.0 {
            Language::It => format!(
                "delega · {s} {} a te",
                plural(n, "messaggio delegato", "messaggi delegati")
            ),
            Language::En => format!(
                "delega · {s} {} to you",
                plural(n, "message delegated", "messages delegated")
            ),
        }
    }

    pub(super) fn list_title(self, name: &str) -> String {
        match self.0 {
            Language::It => format!("Delegati a te, {name}"),
            Language::En => format!("Delegated to you, {name}"),
        }
    }

    pub(super) fn list_intro(self, account: &str, from: &str, to: &str) -> String {
        match self.0 {
            Language::It => {
                format!("Cosa ti è stato inoltrato dalla casella {account}, dal {from} al {to}.")
            }
            Language::En => {
                format!("What was forwarded to you from the {account} inbox, {from} to {to}.")
            }
        }
    }

    pub(super) fn list_footer(self) -> &'static str {
        self.pick(
            "Ogni messaggio ti arriva come inoltro a parte, con l'originale allegato.",
            "Each message comes to you as a forward of its own, with the original attached.",
        )
    }

    /// `24/11/2026 18:00` or `24 Nov 2026 18:00`.
    pub(super) fn datetime(self, unix: i64, tz: &TimeZone) -> String {
        self.strftime(unix, tz, self.pick("%d/%m/%Y %H:%M", "%-d %b %Y %H:%M"))
    }

    /// `24/11 18:00` or `24 Nov 18:00`: inside a period of a day or so, the year is noise.
    pub(super) fn short_datetime(self, unix: i64, tz: &TimeZone) -> String {
        self.strftime(unix, tz, self.pick("%d/%m %H:%M", "%-d %b %H:%M"))
    }

    /// As [`Words::short_datetime`], with the year when it is not the year of `now`.
    pub(super) fn datetime_near(self, unix: i64, now: i64, tz: &TimeZone) -> String {
        let year = |t: i64| Timestamp::from_second(t).map(|t| tz.to_datetime(t).year());
        match (year(unix), year(now)) {
            (Ok(a), Ok(b)) if a == b => self.short_datetime(unix, tz),
            _ => self.datetime(unix, tz),
        }
    }

    /// `24/11/2026` or `24 Nov 2026`.
    pub(super) fn date(self, unix: i64, tz: &TimeZone) -> String {
        self.strftime(unix, tz, self.pick("%d/%m/%Y", "%-d %b %Y"))
    }

    fn strftime(self, unix: i64, tz: &TimeZone, format: &str) -> String {
        match Timestamp::from_second(unix) {
            Ok(t) => t.to_zoned_datetime(tz.clone()).strftime(format).to_string(),
            // Out of jiff's range: not a real time; show the number rather than lie.
            Err(_) => unix.to_string(),
        }
    }

    /// `1.234` or `1,234`.
    pub(super) fn integer(self, n: u64) -> String {
        group(&n.to_string(), self.pick(".", ","))
    }

    /// `2 h`, `1 h 30 min`, `45 min`.
    pub(super) fn duration(self, minutes: u64) -> String {
        let (h, m) = (minutes / 60, minutes % 60);
        match (h, m) {
            (0, m) => format!("{m} min"),
            (h, 0) => format!("{} h", self.integer(h)),
            (h, m) => format!("{} h {m} min", self.integer(h)),
        }
    }

    /// `1.234,50 €` or `€1,234.50`; an ISO code without a common symbol stays a code
    /// (`1.234,50 CHF`, `CHF 1,234.50`).
    pub(super) fn money(self, amount: f64, currency: &str) -> String {
        // Whole cents: `as` saturates, and the config refuses negative values.
        let cents = (amount * 100.0).round().max(0.0) as u64;
        let (units, cents) = (cents / 100, cents % 100);
        let (thousands, decimal) = (self.pick(".", ","), self.pick(",", "."));
        let number = format!(
            "{}{decimal}{cents:02}",
            group(&units.to_string(), thousands)
        );
        let symbol = symbol(currency);
        match self.0 {
            Language::It => format!("{number} {symbol}"),
            Language::En if symbol.chars().count() == 1 => format!("{symbol}{number}"),
            Language::En => format!("{symbol} {number}"),
        }
    }
}

/// The usual symbol of an ISO 4217 code, or the text as configured.
fn symbol(currency: &str) -> &str {
    match currency.trim() {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" => "¥",
        other => other,
    }
}

/// Digits with `sep` between groups of three.
fn group(digits: &str, sep: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IT: Words = Words(Language::It);
    const EN: Words = Words(Language::En);

    #[test]
    fn dates_follow_each_locale_in_the_account_timezone() {
        let tz = TimeZone::get("Europe/Rome").expect("the bundled tzdb has Europe/Rome");
        let t = 1_795_539_600; // 2026-11-24T17:00:00Z, 18:00 in Rome
        assert_eq!(IT.datetime(t, &tz), "24/11/2026 18:00");
        assert_eq!(EN.datetime(t, &tz), "24 Nov 2026 18:00");
        assert_eq!(IT.short_datetime(t, &tz), "24/11 18:00");
        assert_eq!(EN.short_datetime(t, &tz), "24 Nov 18:00");
        assert_eq!(IT.date(t - 23 * 86_400, &tz), "01/11/2026");
        assert_eq!(EN.date(t - 23 * 86_400, &tz), "1 Nov 2026");
    }

    #[test]
    fn numbers_and_money_follow_each_locale() {
        assert_eq!(IT.integer(1_234_567), "1.234.567");
        assert_eq!(EN.integer(1_234), "1,234");
        assert_eq!(EN.integer(999), "999");
        assert_eq!(IT.money(1234.5, "EUR"), "1.234,50 €");
        assert_eq!(EN.money(1234.5, "EUR"), "€1,234.50");
        assert_eq!(IT.money(200.0, "€"), "200,00 €");
        assert_eq!(EN.money(0.005, "USD"), "$0.01");
        assert_eq!(IT.money(80.0, "CHF"), "80,00 CHF");
        assert_eq!(EN.money(1_000_000.0, "CHF"), "CHF 1,000,000.00");
    }

    #[test]
    fn durations_read_as_hours_and_minutes() {
        assert_eq!(EN.duration(0), "0 min");
        assert_eq!(EN.duration(45), "45 min");
        assert_eq!(IT.duration(120), "2 h");
        assert_eq!(IT.duration(90), "1 h 30 min");
        assert_eq!(IT.duration(60 * 1500), "1.500 h");
    }

    #[test]
    fn subjects_count_with_plurals() {
        assert_eq!(
            IT.subject(3, 5, 12, 0),
            "delega · 3 per te, 5 delegati, 12 filtrati"
        );
        assert_eq!(
            EN.subject(3, 5, 12, 0),
            "delega · 3 need you, 5 delegated, 12 filed"
        );
        assert_eq!(
            IT.subject(1, 1, 1, 1),
            "delega · 1 per te, 1 delegato, 1 filtrato, 1 problema"
        );
        assert_eq!(
            EN.subject(1, 0, 1_500, 2),
            "delega · 1 needs you, 0 delegated, 1,500 filed, 2 problems"
        );
    }
}
