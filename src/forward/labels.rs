//! The words of a forward, in Italian and English.

use crate::config::Language;

/// Every text of a forward in one language.
pub(super) struct Labels {
    pub(super) lang: &'static str,
    pub(super) task: &'static str,
    pub(super) no_instructions: &'static str,
    pub(super) reply_hint: &'static str,
    pub(super) no_reply_hint: &'static str,
    pub(super) from: &'static str,
    pub(super) date: &'static str,
    pub(super) subject: &'static str,
    pub(super) rule: &'static str,
    pub(super) excerpt: &'static str,
    pub(super) unknown_sender: &'static str,
    pub(super) unknown_date: &'static str,
    pub(super) no_subject: &'static str,
    pub(super) footer: &'static str,
    pub(super) attachment_name: &'static str,
    /// Monday first.
    pub(super) weekdays: [&'static str; 7],
    pub(super) months: [&'static str; 12],
}

impl Labels {
    pub(super) fn for_language(language: Language) -> &'static Labels {
        match language {
            Language::It => &IT,
            Language::En => &EN,
        }
    }
}

pub(super) const IT: Labels = Labels {
    lang: "it",
    task: "Cosa fare",
    no_instructions: "Nessuna istruzione: gestisci questo messaggio come di consueto.",
    reply_hint: "Rispondi direttamente al mittente: rispondendo a questa email, la risposta \
                 arriva a chi l'ha scritta (Reply-To impostato). Il messaggio originale è allegato.",
    no_reply_hint: "Il messaggio originale non ha un indirizzo a cui rispondere (manca, o è \
                    un indirizzo no-reply). È allegato.",
    from: "Da",
    date: "Data",
    subject: "Oggetto",
    rule: "Regola",
    excerpt: "Estratto",
    unknown_sender: "(mittente sconosciuto)",
    unknown_date: "(data sconosciuta)",
    no_subject: "(senza oggetto)",
    footer: "Inoltrato da delega",
    attachment_name: "messaggio-originale.eml",
    weekdays: [
        "lunedì",
        "martedì",
        "mercoledì",
        "giovedì",
        "venerdì",
        "sabato",
        "domenica",
    ],
    months: [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ],
};

pub(super) const EN: Labels = Labels {
    lang: "en",
    task: "What to do",
    no_instructions: "No instructions: handle this message as usual.",
    reply_hint: "Reply to the sender directly: replying to this email goes to them \
                 (Reply-To is set). The original message is attached.",
    no_reply_hint: "The original message has no address to reply to (none, or a no-reply \
                    address). It is attached.",
    from: "From",
    date: "Date",
    subject: "Subject",
    rule: "Rule",
    excerpt: "Excerpt",
    unknown_sender: "(unknown sender)",
    unknown_date: "(unknown date)",
    no_subject: "(no subject)",
    footer: "Forwarded by delega",
    attachment_name: "original-message.eml",
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
};
