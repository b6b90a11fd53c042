//! The digest's words in Italian and English, and dates, numbers and money in each locale's
//! usual form. [`Words`] is one language; its phrases are split by what they say:
//! `frame.rs` (title, subject, headings, counts), `reasons.rs` (why a message was kept or a
//! forward not sent, events, tasks) and `format.rs` (dates, numbers, money).
//!
//! Every phrase sits with both languages side by side; `compose`, `sections`, `results` and
//! `item` pick them, and none of them contains anything from a message. (The words only the
//! review of results uses live beside it, in `results.rs`.)

mod format;
mod frame;
mod reasons;

use crate::config::Language;

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
}
