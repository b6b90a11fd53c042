//! IMAP: connecting and logging in (`session.rs`), reading and filing messages
//! (`mailbox.rs`), and waiting for new mail with IDLE or polling (`watch.rs`).
//!
//! This is the I/O edge towards the mail server; what to do with each message is decided
//! elsewhere (`triage`). Nothing here marks a message seen (fetches use `BODY.PEEK`) or
//! deletes one, except the `\Deleted` + `UID EXPUNGE` of a COPY-based move on servers
//! without MOVE, restricted to the UIDs just copied.

mod mailbox;
mod session;
mod watch;

pub use mailbox::{Fetched, MailboxInfo, Mailboxes, uid_set};
pub use session::{Session, connect};
pub use watch::{Wake, wait_for_mail};

/// The keyword delega sets on every message it has triaged (kept across moves).
pub const KEYWORD: &str = "$delega";
