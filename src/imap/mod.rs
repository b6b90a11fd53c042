//! IMAP: connecting and logging in (`session.rs`), every wait on the server after that
//! bounded by the timeout (`deadline.rs`), reading and filing messages
//! (`mailbox.rs`), where folders live (`namespace.rs`), and waiting for new mail with IDLE
//! or polling (`watch.rs`).
//!
//! This is the I/O edge towards the mail server; what to do with each message is decided
//! elsewhere (`triage`). Nothing here marks a message seen (fetches use `BODY.PEEK`) or
//! deletes one, except the `\Deleted` + `UID EXPUNGE` of a COPY-based move on servers
//! without MOVE but with UIDPLUS, restricted to the UIDs just copied.

mod deadline;
mod mailbox;
pub mod namespace;
mod session;
mod watch;

pub use mailbox::{
    Connection, Fetched, FilingMode, FolderRefused, MailboxInfo, ServerInfo, keeps_keywords,
    refusal_words, server_text, uid_set,
};
pub use session::{LoginRefused, Session, connect};
pub use watch::{Wake, wait_for_mail};

/// The keyword delega sets on every message it has triaged (kept across moves).
pub const KEYWORD: &str = "$delega";
