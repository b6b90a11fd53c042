//! Where the configured folder names live on this server: the personal namespace (RFC 2342
//! NAMESPACE) and the hierarchy delimiter (LIST), and the pure resolution of a configured
//! name such as `"Noise"` or `"Triage/Noise"` into the server's own (`INBOX.Noise`).
//!
//! async-imap cannot parse a NAMESPACE response (imap-proto has no grammar for it), so the
//! command is written and its answer read on the raw connection, right after login, while
//! async-imap's buffer is empty; the parsing here is pure and unit-tested.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Session;

/// The server's personal namespace: what folder names start with, and what separates levels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hierarchy {
    /// The personal namespace's prefix: `""` on most servers, `"INBOX."` on Cyrus, Courier
    /// and many hosting providers.
    pub prefix: String,
    /// The hierarchy delimiter (`/` or `.`), `None` on a flat server.
    pub delimiter: Option<char>,
}

/// The server's name for the configured folder name `configured`: levels written with `/`
/// use the server's delimiter, and the name goes inside the personal namespace unless it
/// already is there (or is the Inbox).
pub fn resolve(configured: &str, h: &Hierarchy) -> String {
    let name = match h.delimiter {
        Some(d) if d != '/' => configured
            .split('/')
            .collect::<Vec<_>>()
            .join(d.encode_utf8(&mut [0; 4])),
        _ => configured.to_string(),
    };
    if name.eq_ignore_ascii_case("INBOX") || h.prefix.is_empty() || has_prefix(&name, &h.prefix) {
        return name;
    }
    format!("{}{name}", h.prefix)
}

/// True when `name` starts with `prefix`; `INBOX` is matched in any case (RFC 3501 5.1).
fn has_prefix(name: &str, prefix: &str) -> bool {
    let Some(head) = name.get(..prefix.len()) else {
        return false;
    };
    match (head.get(..5), prefix.get(..5)) {
        (Some(a), Some(b)) if b.eq_ignore_ascii_case("INBOX") => {
            a.eq_ignore_ascii_case("INBOX") && head[5..] == prefix[5..]
        }
        _ => head == prefix,
    }
}

/// Parses the personal namespace out of a `* NAMESPACE` line; `None` when it is `NIL` or
/// cannot be read (then the server is treated as having no prefix).
pub fn parse_namespace(line: &str) -> Option<Hierarchy> {
    let rest = line.trim_end().strip_prefix("* ")?;
    let (word, rest) = rest.split_once(' ')?;
    if !word.eq_ignore_ascii_case("NAMESPACE") {
        return None;
    }
    let mut tokens = Tokens { rest };
    // personal = "(" "(" prefix SP delimiter *(extension) ")" *(...) ")" / "NIL"
    if tokens.next()? != Token::Open || tokens.next()? != Token::Open {
        return None;
    }
    let Token::Str(prefix) = tokens.next()? else {
        return None;
    };
    let delimiter = match tokens.next()? {
        Token::Str(d) => d.chars().next(),
        Token::Nil => None,
        _ => return None,
    };
    Some(Hierarchy { prefix, delimiter })
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Nil,
    Str(String),
}

/// The few IMAP tokens a NAMESPACE response is made of.
struct Tokens<'a> {
    rest: &'a str,
}

impl Tokens<'_> {
    fn next(&mut self) -> Option<Token> {
        self.rest = self.rest.trim_start();
        let mut chars = self.rest.char_indices();
        let (_, c) = chars.next()?;
        match c {
            '(' => {
                self.rest = &self.rest[1..];
                Some(Token::Open)
            }
            ')' => {
                self.rest = &self.rest[1..];
                Some(Token::Close)
            }
            '"' => {
                let mut out = String::new();
                let mut escaped = false;
                for (i, c) in chars {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            self.rest = &self.rest[i + 1..];
                            return Some(Token::Str(out));
                        }
                        _ => {
                            out.push(c);
                            escaped = false;
                        }
                    }
                }
                None
            }
            _ if self
                .rest
                .get(..3)
                .is_some_and(|w| w.eq_ignore_ascii_case("NIL")) =>
            {
                self.rest = &self.rest[3..];
                Some(Token::Nil)
            }
            // A literal or anything else: not worth guessing.
            _ => None,
        }
    }
}

/// Longest NAMESPACE answer line read; anything longer is not a namespace we can use.
const MAX_LINE: usize = 16 * 1024;

/// Asks a logged-in session for its personal namespace (the server must announce
/// NAMESPACE). `Ok(None)` when the answer has none or cannot be read.
pub async fn namespace(session: &mut Session) -> anyhow::Result<Option<Hierarchy>> {
    const TAG: &str = "dlgns";
    let stream = session.get_mut();
    stream
        .write_all(format!("{TAG} NAMESPACE\r\n").as_bytes())
        .await
        .context("NAMESPACE")?;
    stream.flush().await.context("NAMESPACE")?;
    let mut found = None;
    loop {
        let line = read_line(stream).await.context("NAMESPACE")?;
        if let Some(status) = line.strip_prefix(TAG) {
            let status = status.trim_start();
            if !status
                .get(..2)
                .is_some_and(|s| s.eq_ignore_ascii_case("OK"))
            {
                bail!("the server refused NAMESPACE: {}", status.trim_end());
            }
            return Ok(found);
        }
        if found.is_none() {
            found = parse_namespace(&line);
        }
    }
}

/// Reads one CRLF-terminated line, a byte at a time so nothing after it is consumed (the
/// rest of the connection belongs to async-imap).
async fn read_line(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> anyhow::Result<String> {
    let mut line = Vec::new();
    loop {
        let byte = stream.read_u8().await?;
        line.push(byte);
        if line.ends_with(b"\r\n") {
            return Ok(String::from_utf8_lossy(&line).into_owned());
        }
        if line.len() > MAX_LINE {
            bail!("an answer line longer than {MAX_LINE} bytes");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(prefix: &str, delimiter: Option<char>) -> Hierarchy {
        Hierarchy {
            prefix: prefix.into(),
            delimiter,
        }
    }

    #[test]
    fn names_go_inside_an_inbox_prefix_namespace() {
        let cyrus = h("INBOX.", Some('.'));
        assert_eq!(resolve("Noise", &cyrus), "INBOX.Noise");
        assert_eq!(resolve("Triage/Noise", &cyrus), "INBOX.Triage.Noise");
        assert_eq!(resolve("INBOX.Noise", &cyrus), "INBOX.Noise");
        assert_eq!(resolve("inbox.Noise", &cyrus), "inbox.Noise");
        assert_eq!(resolve("INBOX/Noise", &cyrus), "INBOX.Noise");
        assert_eq!(resolve("INBOX", &cyrus), "INBOX");
    }

    #[test]
    fn names_stay_as_written_without_a_prefix() {
        let dovecot = h("", Some('/'));
        assert_eq!(resolve("Noise", &dovecot), "Noise");
        assert_eq!(resolve("Triage/Noise", &dovecot), "Triage/Noise");
        assert_eq!(resolve("[Gmail]/Spam", &dovecot), "[Gmail]/Spam");
        // A server without NAMESPACE, or a flat one.
        assert_eq!(
            resolve("Triage/Noise", &Hierarchy::default()),
            "Triage/Noise"
        );
        // A "." server without prefix: levels use its delimiter.
        assert_eq!(resolve("Triage/Noise", &h("", Some('.'))), "Triage.Noise");
    }

    #[test]
    fn namespace_lines_are_read() {
        assert_eq!(
            parse_namespace("* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n"),
            Some(h("INBOX.", Some('.')))
        );
        assert_eq!(
            parse_namespace("* NAMESPACE ((\"\" \"/\")) NIL ((\"shared/\" \"/\"))\r\n"),
            Some(h("", Some('/')))
        );
        assert_eq!(
            parse_namespace("* Namespace ((\"\" NIL)) NIL NIL"),
            Some(h("", None))
        );
        assert_eq!(
            parse_namespace("* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"FLAG1\"))) NIL NIL"),
            Some(h("", Some('/')))
        );
        assert_eq!(parse_namespace("* NAMESPACE NIL NIL NIL"), None);
        assert_eq!(parse_namespace("* OK still here"), None);
        assert_eq!(parse_namespace("* NAMESPACE (({6}\r\n"), None);
    }
}
