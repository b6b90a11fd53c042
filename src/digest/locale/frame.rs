//! The digest's frame in both languages: title, period and footer, the subject with its
//! counts, each section's heading and lead, the time given back, "… and N more", rules'
//! names and the daily list's subject, title and intro.

use super::{Words, plural};
use crate::config::Language;

impl Words {
    pub(in crate::digest) fn title(self) -> &'static str {
        self.pick("Il riepilogo di delega", "Your delega digest")
    }

    pub(in crate::digest) fn period(self, account: &str, from: &str, to: &str, tz: &str) -> String {
        match self.0 {
            Language::It => format!("Casella {account} · dal {from} al {to} ({tz})"),
            Language::En => format!("The {account} inbox · {from} to {to} ({tz})"),
        }
    }

    pub(in crate::digest) fn footer(self, account: &str) -> String {
        match self.0 {
            Language::It => format!("Inviato da delega per la casella {account}."),
            Language::En => format!("Sent by delega for the {account} inbox."),
        }
    }

    /// The subject: the day at a glance, counts only.
    pub(in crate::digest) fn subject(
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

    pub(in crate::digest) fn needs_you(self) -> (&'static str, &'static str, &'static str) {
        (
            self.pick("Per te", "Needs you"),
            self.pick(
                "Solo tu puoi occupartene: sono ancora nella Posta in arrivo, dal più recente.",
                "Only you can handle these: they are still in your Inbox, newest first.",
            ),
            self.pick("Niente richiede te.", "Nothing needs you."),
        )
    }

    pub(in crate::digest) fn delegated(self) -> (&'static str, &'static str, &'static str) {
        (
            self.pick("Delegati", "Delegated"),
            self.pick(
                "Cosa è andato a ciascun assistente, con la regola e lo stato dell'inoltro.",
                "What went to each assistant, under which rule, and where each forward stands.",
            ),
            self.pick("Nessun messaggio delegato.", "Nothing was delegated."),
        )
    }

    pub(in crate::digest) fn proposals(self) -> (&'static str, &'static str) {
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

    pub(in crate::digest) fn observed(self) -> (&'static str, &'static str) {
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

    pub(in crate::digest) fn noise(self) -> (&'static str, &'static str, &'static str) {
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
    pub(in crate::digest) fn copied(self, n: u64) -> String {
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

    pub(in crate::digest) fn time_given_back(self) -> &'static str {
        self.pick("Tempo restituito", "Time given back")
    }

    pub(in crate::digest) fn problems(self) -> (&'static str, &'static str) {
        (
            self.pick("Problemi", "Problems"),
            self.pick("Nessun problema.", "No problems."),
        )
    }

    /// "An estimate: 60 messages handled for you × 2 min = 2 h."
    pub(in crate::digest) fn time_estimate(
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
    pub(in crate::digest) fn time_value(self, rate: &str, value: &str) -> String {
        match self.0 {
            Language::It => format!("Al tuo valore di {rate} l'ora, sono {value}."),
            Language::En => format!("At your {rate} an hour, that is {value}."),
        }
    }

    pub(in crate::digest) fn rule(self, name: &str) -> String {
        match self.0 {
            Language::It => format!("regola {name}"),
            Language::En => format!("rule {name}"),
        }
    }

    pub(in crate::digest) fn rules(self, names: &[String]) -> String {
        let names = names.join(", ");
        match (self.0, names.contains(',')) {
            (Language::It, false) => format!("regola {names}"),
            (Language::It, true) => format!("regole {names}"),
            (Language::En, false) => format!("rule {names}"),
            (Language::En, true) => format!("rules {names}"),
        }
    }

    /// Where an observe-mode decision would have sent the message.
    pub(in crate::digest) fn would_file(self) -> &'static str {
        self.pick("→ filtrato", "→ filed")
    }

    pub(in crate::digest) fn more_sources(self, sources: u64, messages: u64) -> String {
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
    pub(in crate::digest) fn more_messages(self, n: u64) -> String {
        let s = self.integer(n);
        match self.0 {
            Language::It if n == 1 => "… e un altro messaggio".to_string(),
            Language::It => format!("… e altri {s} messaggi"),
            Language::En => format!("… and {s} more {}", plural(n, "message", "messages")),
        }
    }

    pub(in crate::digest) fn more_problems(self, n: u64) -> String {
        let s = self.integer(n);
        match self.0 {
            Language::It => format!("… e {s} {}", plural(n, "altro", "altri")),
            Language::En => format!("… and {s} more"),
        }
    }

    pub(in crate::digest) fn times(self, n: u64) -> String {
        let s = self.integer(n);
        match self.0 {
            Language::It => format!("{s} volte"),
            Language::En => format!("{s} times"),
        }
    }

    pub(in crate::digest) fn rule_lead(self) -> &'static str {
        self.pick("regola", "rule")
    }

    /// About a rule with no match in the last 30 days; `last` is the day of its last match.
    pub(in crate::digest) fn rule_unused(self, last: Option<&str>) -> String {
        match (self.0, last) {
            (Language::It, Some(d)) => {
                format!("nessun messaggio negli ultimi 30 giorni (l'ultimo il {d})")
            }
            (Language::It, None) => "non ha mai deciso un messaggio".to_string(),
            (Language::En, Some(d)) => format!("no match in the last 30 days (last on {d})"),
            (Language::En, None) => "has never matched a message".to_string(),
        }
    }

    pub(in crate::digest) fn no_subject(self) -> &'static str {
        self.pick("(senza oggetto)", "(no subject)")
    }

    pub(in crate::digest) fn unknown_sender(self) -> &'static str {
        self.pick("(mittente sconosciuto)", "(unknown sender)")
    }

    pub(in crate::digest) fn list_subject(self, n: u64) -> String {
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

    pub(in crate::digest) fn list_title(self, name: &str) -> String {
        match self.0 {
            Language::It => format!("Delegati a te, {name}"),
            Language::En => format!("Delegated to you, {name}"),
        }
    }

    pub(in crate::digest) fn list_intro(self, account: &str, from: &str, to: &str) -> String {
        match self.0 {
            Language::It => {
                format!("Cosa ti è stato inoltrato dalla casella {account}, dal {from} al {to}.")
            }
            Language::En => {
                format!("What was forwarded to you from the {account} inbox, {from} to {to}.")
            }
        }
    }

    pub(in crate::digest) fn list_footer(self) -> &'static str {
        self.pick(
            "Ogni messaggio ti arriva come inoltro a parte, con l'originale allegato.",
            "Each message comes to you as a forward of its own, with the original attached.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IT: Words = Words(Language::It);
    const EN: Words = Words(Language::En);

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
