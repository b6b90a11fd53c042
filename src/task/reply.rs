//! Which task an incoming mail refers to, and whether it says the task is done.
//!
//! A mail refers to a task by its reference in the subject (`Re: [delega] [T-7K3Q] …`, or
//! the "done" link's `FATTO T-7K3Q`), or by the forward's Message-ID in `In-Reply-To` or
//! `References` (a reply to the forward, or the assistant's answer to the client written as
//! a reply to it). It says "done" with a done word in the subject, or as the whole of a
//! short first line of the body (`Fatto, grazie.`); "not done" / "non ancora fatto" does
//! not count. Pure: the caller checks that the sender is an assistant and looks the task
//! up.

use super::Reference;
use crate::message::Message;

/// What a mail about a task says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// It is about the task (an answer, a question, progress).
    Replied,
    /// It says the task is done.
    Done,
}

/// Words that close a task, Italian and English (compared in lower case, whole words).
const DONE_WORDS: &[&str] = &[
    "fatto",
    "fatta",
    "fatti",
    "completato",
    "completata",
    "concluso",
    "conclusa",
    "risolto",
    "risolta",
    "evaso",
    "evasa",
    "done",
    "completed",
    "finished",
    "resolved",
];

/// Words that turn a done word around just before it.
const NEGATIONS: &[&str] = &[
    "not", "non", "isn't", "not yet", "ancora", "yet", "never", "mai",
];

/// What the mail refers to: task references in its subject, and the left parts of the
/// Message-IDs it answers (a forward's is its forward id).
pub fn refers(msg: &Message<'_>) -> (Vec<Reference>, Vec<String>) {
    let references = Reference::find_all(msg.subject());
    let mut answered = Vec::new();
    for header in ["In-Reply-To", "References"] {
        for value in msg.header_values(header) {
            for id in message_ids(&value) {
                let left = id.split('@').next().unwrap_or_default().to_string();
                if !left.is_empty() && !answered.contains(&left) {
                    answered.push(left);
                }
            }
        }
    }
    (references, answered)
}

/// The ids in a header value: `<a@x> <b@y>` as written, or `a@x, b@y` as parsed.
fn message_ids(value: &str) -> Vec<&str> {
    if !value.contains('<') {
        return value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|id| !id.is_empty())
            .collect();
    }
    value
        .split('<')
        .skip(1)
        .filter_map(|part| part.split_once('>').map(|(id, _)| id.trim()))
        .filter(|id| !id.is_empty())
        .collect()
}

/// Whether the mail says the task is done.
pub fn signal(subject: &str, body: &str) -> Signal {
    if says_done(&strip_reply_prefixes(subject)) {
        return Signal::Done;
    }
    let first = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('>'))
        .unwrap_or_default();
    // Only a short line that is the message ("Fatto.", "Done, thanks"): a done word in
    // a long answer to the client ("once this is done…") is not the task closed.
    if first.split_whitespace().count() <= 4 && says_done(first) {
        return Signal::Done;
    }
    Signal::Replied
}

fn strip_reply_prefixes(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let Some(p) = ["re:", "r:", "aw:", "fwd:", "fw:", "i:"]
            .iter()
            .find(|p| lower.starts_with(**p))
        else {
            return s.to_string();
        };
        s = s[p.len()..].trim_start();
    }
}

fn says_done(text: &str) -> bool {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        DONE_WORDS.contains(w)
            && !words[i.saturating_sub(2)..i]
                .iter()
                .any(|before| NEGATIONS.contains(before))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_done_link_and_done_words_close_a_task() {
        assert_eq!(signal("FATTO T-7K3Q", ""), Signal::Done);
        assert_eq!(signal("Re: DONE T-7K3Q Invoice", ""), Signal::Done);
        assert_eq!(
            signal("Re: [delega] [T-7K3Q] Fattura", "Fatto, grazie.\n\n> sotto"),
            Signal::Done
        );
        assert_eq!(signal("Re: [T-7K3Q] Invoice", "Done!"), Signal::Done);
        assert_eq!(
            signal("R: [T-7K3Q] Traduzione", "Completata.\nCiao"),
            Signal::Done
        );
    }

    #[test]
    fn an_answer_that_only_mentions_doing_is_not_done() {
        assert_eq!(
            signal(
                "Re: Invoice 114",
                "Dear client, once the payment is done we will confirm it.\n"
            ),
            Signal::Replied
        );
        assert_eq!(
            signal("Re: [T-7K3Q] Fattura", "Non ancora fatto"),
            Signal::Replied
        );
        assert_eq!(signal("Not done yet: T-7K3Q", ""), Signal::Replied);
        assert_eq!(
            signal("Re: Fattura", "> Fatto\nCi sto lavorando"),
            Signal::Replied
        );
    }

    #[test]
    fn a_reply_refers_to_the_forward_it_answers() {
        let raw = b"From: Marta <marta@office.example>\r\n\
            To: client@x.example\r\nCc: giulia@studio.example\r\n\
            Subject: Re: [delega] [T-7K3Q] Invoice\r\n\
            In-Reply-To: <giulia.12.a1b2c3@studio.example>\r\n\
            References: <orig@x.example> <giulia.12.a1b2c3@studio.example>\r\n\r\nOk\r\n";
        let msg = Message::parse(raw);
        let (refs, answered) = refers(&msg);
        assert_eq!(refs, [Reference::parse("T-7K3Q").expect("ref")]);
        assert_eq!(answered, ["giulia.12.a1b2c3", "orig"]);
    }
}
