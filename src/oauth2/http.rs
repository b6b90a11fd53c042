//! A form POST over HTTPS, and its JSON answer: all delega ever asks of a token endpoint.
//!
//! One request per connection (`Connection: close`), over delega's own TCP and verified TLS
//! ([`crate::net`]); plain `http://` only to a loopback address (a local test service). A
//! full HTTP client stack would bring far more than these hundred lines need.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{HttpUrl, Security, Server};
use crate::net::{Stream, connect_tcp, tls_wrap};

/// The largest answer read: token responses are a few kB.
const MAX_RESPONSE: usize = 256 * 1024;

/// An HTTP answer: its status and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

/// Posts `form` (URL-encoded) to `url` and reads the answer, all within `timeout`.
pub async fn post_form(
    url: &str,
    form: &[(&str, &str)],
    ca_file: Option<&Path>,
    timeout: Duration,
) -> anyhow::Result<Response> {
    let Some(u) = HttpUrl::parse(url) else {
        bail!("`{url}` is not an http(s) URL");
    };
    if !(u.tls || u.is_loopback_http()) {
        bail!("`{url}`: tokens only travel over https");
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let server = Server {
        host: u.host.clone(),
        port: u.port,
        security: if u.tls {
            Security::Tls
        } else {
            Security::Plain
        },
        username: None,
        password: None,
        oauth2: None,
        ca_file: ca_file.map(Path::to_path_buf),
        timeout,
    };
    let work = async {
        let tcp = connect_tcp(&server).await?;
        let mut stream = if u.tls {
            tls_wrap(tcp, &server).await?
        } else {
            Stream::Plain(tcp)
        };
        // RFC 9110 §7.2: the port is part of Host unless it is the scheme's default.
        let host = match (u.tls, u.port) {
            (true, 443) | (false, 80) => u.host.clone(),
            _ => format!("{}:{}", u.host, u.port),
        };
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: delega/{}\r\nAccept: application/json\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            u.path,
            host,
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        stream.flush().await?;
        read_response(&mut stream).await
    };
    tokio::time::timeout(timeout, work)
        .await
        .with_context(|| format!("no answer from {}:{} within {timeout:?}", u.host, u.port))?
        .with_context(|| format!("cannot reach {}:{}", u.host, u.port))
}

async fn read_response(stream: &mut Stream) -> anyhow::Result<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(done) = complete(&buf)? {
            return Ok(done);
        }
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // Servers often close TLS without close_notify after `Connection: close`.
            Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(err) => return Err(err.into()),
        };
        if n == 0 {
            return match complete_at_eof(&buf)? {
                Some(done) => Ok(done),
                None => bail!("the connection closed in the middle of the answer"),
            };
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            bail!("the answer is larger than {MAX_RESPONSE} bytes");
        }
    }
}

/// The head's status and framing, once the whole head is in `buf`.
fn head(buf: &[u8]) -> anyhow::Result<Option<(u16, Framing, usize)>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP answer: {status_line:?}"))?;
    let mut framing = Framing::Close;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            framing = Framing::Length(value.parse().context("a bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            framing = Framing::Chunked;
        }
    }
    Ok(Some((status, framing, end + 4)))
}

#[derive(Debug, Clone, Copy)]
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

fn complete(buf: &[u8]) -> anyhow::Result<Option<Response>> {
    let Some((status, framing, start)) = head(buf)? else {
        return Ok(None);
    };
    let rest = &buf[start..];
    Ok(match framing {
        Framing::Length(n) if rest.len() >= n => Some(Response {
            status,
            body: rest[..n].to_vec(),
        }),
        Framing::Chunked => dechunk(rest).map(|body| Response { status, body }),
        _ => None,
    })
}

fn complete_at_eof(buf: &[u8]) -> anyhow::Result<Option<Response>> {
    if let Some(done) = complete(buf)? {
        return Ok(Some(done));
    }
    Ok(match head(buf)? {
        Some((status, Framing::Close, start)) => Some(Response {
            status,
            body: buf[start..].to_vec(),
        }),
        _ => None,
    })
}

/// The body of a complete chunked encoding; `None` while chunks are missing.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_length_or_chunks() {
        let r = complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            .expect("parses")
            .expect("complete");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let partial = b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
        assert!(complete(partial).expect("parses").is_none());
        let whole = [&partial[..], b"2\r\nde\r\n0\r\n\r\n"].concat();
        let r = complete(&whole).expect("parses").expect("complete");
        assert_eq!((r.status, r.body.as_slice()), (400, &b"abcde"[..]));
        assert!(complete(b"garbage\r\n\r\n").is_err());
    }
}
