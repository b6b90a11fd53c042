//! Why, in both languages: a forward's state and why it did not go out or may have gone
//! twice, why a message was kept in the Inbox (guard, malformed, by hand), an undo, a task's
//! status mail, and each recorded event. The [`Reason`] values are put into words here only.

use super::Words;
use crate::config::Language;
use crate::reason::{
    Attention, AutoEvidence, HandKept, Kept, Malformed, NotSent, Reason, Refusal, SendFailure,
};

impl Words {
    pub(in crate::digest) fn state(self, state: crate::digest::view::ForwardState) -> &'static str {
        use crate::digest::view::ForwardState::*;
        match state {
            Sent => self.pick("inviato", "sent"),
            MaybeTwice => self.pick("forse doppio", "maybe twice"),
            Waiting => self.pick("in attesa", "waiting"),
            Failed => self.pick("non riuscito", "failed"),
        }
    }

    pub(in crate::digest) fn maybe_twice_note(self) -> &'static str {
        self.pick(
            "L'invio si è interrotto dopo che il messaggio era partito ed è stato ripetuto \
             identico: l'assistente potrebbe averlo ricevuto due volte.",
            "A send was cut off after the message went out and was repeated as the same \
             message: the assistant may have received it twice.",
        )
    }

    /// A forward that may have gone twice, in the problems: "sent again" or "to be sent
    /// again", and to whom.
    pub(in crate::digest) fn in_doubt(self, sent: bool, assistant: &str) -> String {
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

    pub(in crate::digest) fn in_doubt_kind(self) -> &'static str {
        self.pick("inoltro forse doppio", "forward maybe twice")
    }

    pub(in crate::digest) fn last_attempt(self, error: &str) -> String {
        match self.0 {
            Language::It => format!("Ultimo tentativo: {error}"),
            Language::En => format!("Last attempt: {error}"),
        }
    }

    /// Why a forward did not go out: delega's own reason (`reason`, data) in the digest's
    /// language, else the server's refusal (`error`) as it came.
    pub(in crate::digest) fn send_error(self, reason: Option<&NotSent>, error: &str) -> String {
        match reason {
            Some(reason) => self.not_sent(reason),
            None => error.to_string(),
        }
    }

    /// delega's own reason a forward did not go out, in the digest's language.
    pub(in crate::digest) fn not_sent(self, reason: &NotSent) -> String {
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

    pub(in crate::digest) fn forward_failed(self, assistant: &str, error: &str) -> String {
        match self.0 {
            Language::It => format!("Inoltro a {assistant} non riuscito: {error}"),
            Language::En => format!("Forward to {assistant} failed: {error}"),
        }
    }

    /// A message `delega undo` moved back into the Inbox from `folder`; `forwarded_to`
    /// the assistant its forward had already reached, if it had.
    pub(in crate::digest) fn undone(self, folder: &str, forwarded_to: Option<&str>) -> String {
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

    pub(in crate::digest) fn not_forwarded(self, why: &str) -> String {
        match self.0 {
            Language::It => format!("Non inoltrato — {why}"),
            Language::En => format!("Not forwarded — {why}"),
        }
    }

    /// Why a malformed message was kept in the Inbox whatever the rules say.
    pub(in crate::digest) fn malformed(self, why: Malformed) -> String {
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
    pub(in crate::digest) fn undated(self, written: Option<&str>) -> String {
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
    pub(in crate::digest) fn kept(self, kept: &Kept) -> String {
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
    pub(in crate::digest) fn hand_kept(self, hand: &HandKept) -> String {
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

    /// An assistant's mail about a task, filed with it.
    pub(in crate::digest) fn task_status(
        self,
        reference: &str,
        state: crate::task::TaskState,
    ) -> String {
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
    pub(in crate::digest) fn event_detail(
        self,
        kind: &str,
        detail: &str,
        reason: Option<&Reason>,
    ) -> String {
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
            Some(Reason::CopyOnly) => {
                return self
                    .pick(
                        "non ha né MOVE né UIDPLUS: delega copia i messaggi nelle cartelle e \
                         lascia gli originali nella posta in arrivo",
                        "it has neither MOVE nor UIDPLUS: delega copies messages to their \
                         folders and leaves the originals in the Inbox",
                    )
                    .to_string();
            }
            Some(Reason::DigestNotSent(failure)) => return self.send_failure(failure),
            Some(Reason::ListNotSent { assistant, failure }) => {
                let failure = self.send_failure(failure);
                return match self.0 {
                    Language::It => format!("lista del giorno per {assistant}: {failure}"),
                    Language::En => format!("daily list for {assistant}: {failure}"),
                };
            }
            Some(Reason::Attention(attention)) => return self.attention(attention),
            None => {}
        }
        // The command that enrols the account again.
        if kind == "reauth" {
            return match self.0 {
                Language::It => format!("per autorizzare di nuovo delega, esegui `{detail}`"),
                Language::En => format!("to authorise delega again, run `{detail}`"),
            };
        }
        detail.to_string()
    }

    /// A refusal that waits for a person: delega's frame in the digest's language, what
    /// delega was doing and the server's answer as they came.
    fn attention(self, attention: &Attention) -> String {
        match (self.0, attention) {
            (Language::It, Attention::FolderRefused { folder, answer }) => format!(
                "il server ha rifiutato di creare la cartella {folder}: {answer}; controlla \
                 folders.noise e folders.delegated (`delega doctor` mostra dove il server tiene \
                 le sue cartelle)"
            ),
            (Language::It, Attention::LoginRefused { username, answer }) => format!(
                "accesso come {username} rifiutato (controlla nome utente e password): il \
                 server ha risposto «{answer}»"
            ),
            (Language::It, Attention::Refused { doing, answer }) => {
                format!("{doing}: il server ha risposto «{answer}»")
            }
            // The English form is the one the log and `delega status` show.
            (Language::En, attention) => attention.to_string(),
        }
    }

    /// Why a mail of delega's own did not go out: delega's frame in the digest's language,
    /// the server's words as they came.
    fn send_failure(self, failure: &SendFailure) -> String {
        match (self.0, failure) {
            (Language::It, SendFailure::Temporary(w)) => format!("errore temporaneo: {w}"),
            (Language::It, SendFailure::Refused(w)) => format!("rifiutato dal server: {w}"),
            (Language::It, SendFailure::NoReply(w)) => {
                format!("nessuna risposta dopo l'invio: {w}")
            }
            (Language::It, SendFailure::Stopped) => {
                "non inviato: delega si stava fermando".to_string()
            }
            // The English form is the one the log and `delega status` show.
            (Language::En, failure) => failure.to_string(),
        }
    }

    /// What a kind of recorded event is, for people.
    pub(in crate::digest) fn event_kind(self, kind: &str) -> String {
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
}
