//! The `/metrics` listener: a deliberately small HTTP/1.x responder on tokio, enough for a
//! Prometheus scrape (`GET /metrics`) and nothing else. One request per connection, answered
//! then closed; a bad or slow client gets a 4xx or is dropped, never a panic. Runs under the
//! daemon's shutdown token like every other task. (A full HTTP stack would be most of
//! delega's dependencies for one fixed page.)

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// The longest request head read; a scrape's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;

/// How long a client may take to send its request and read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 8;

/// What a request head asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /metrics` (`head`: `HEAD`, the same without the body).
    Metrics {
        /// A `HEAD` request: headers only.
        head: bool,
    },
    /// Another path: 404.
    NotFound,
    /// Another method: 405.
    MethodNotAllowed,
    /// Not an HTTP/1.x request line: 400.
    BadRequest,
}

/// Reads the request line of `head` (the bytes up to the blank line).
pub fn route(head: &[u8]) -> Route {
    let Some(line) = head
        .split(|&b| b == b'\n')
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
    else {
        return Route::BadRequest;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Route::BadRequest;
    }
    let path = target.split('?').next().unwrap_or(target);
    match (method, path) {
        ("GET", "/metrics") => Route::Metrics { head: false },
        ("HEAD", "/metrics") => Route::Metrics { head: true },
        ("GET" | "HEAD", _) => Route::NotFound,
        _ => Route::MethodNotAllowed,
    }
}

/// Serves `/metrics` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => return,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    // Out of file descriptors and the like: wait a little, do not spin.
                    warn!(%err, "metrics: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                done = tokio::time::timeout(CLIENT_TIMEOUT, answer(stream)) => {
                    if let Ok(Err(err)) = done {
                        debug!(%peer, %err, "metrics: client went away");
                    }
                }
            }
            drop(permit);
        });
    }
}

/// Reads one request head and writes the answer.
async fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let too_large = loop {
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            break false;
        }
        if head.len() >= MAX_HEAD {
            break true;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            // Closed before a whole head: nothing to answer.
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    };
    let response = if too_large {
        plain(
            431,
            "Request Header Fields Too Large",
            "request head too large\n",
        )
    } else {
        match route(&head) {
            Route::Metrics { head } => {
                let body = super::render();
                let mut r = response(200, "OK", super::CONTENT_TYPE, body.len(), "");
                if !head {
                    r.push_str(&body);
                }
                r
            }
            Route::NotFound => plain(404, "Not Found", "not found: delega serves /metrics\n"),
            Route::MethodNotAllowed => {
                let body = "only GET and HEAD\n";
                let extra = "Allow: GET, HEAD\r\n";
                let mut r = response(405, "Method Not Allowed", TEXT, body.len(), extra);
                r.push_str(body);
                r
            }
            Route::BadRequest => plain(400, "Bad Request", "not an HTTP/1.x request\n"),
        }
    };
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

const TEXT: &str = "text/plain; charset=utf-8";

fn plain(code: u16, reason: &str, body: &str) -> String {
    let mut r = response(code, reason, TEXT, body.len(), "");
    r.push_str(body);
    r
}

fn response(code: u16, reason: &str, content_type: &str, length: usize, extra: &str) -> String {
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n{extra}Connection: close\r\n\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_is_routed_to_the_metrics() {
        let scrape = b"GET /metrics HTTP/1.1\r\nHost: localhost:9464\r\nAccept: */*\r\n\r\n";
        assert_eq!(route(scrape), Route::Metrics { head: false });
        assert_eq!(
            route(b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Route::Metrics { head: true }
        );
    }

    #[test]
    fn anything_else_gets_a_4xx_route() {
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"GET /metricsx HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(
            route(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Route::MethodNotAllowed
        );
        for bad in [
            &b""[..],
            b"\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET /metrics SPDY/3\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 extra\r\n\r\n",
            b"\xff\xfe /metrics HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                route(bad),
                Route::BadRequest,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
