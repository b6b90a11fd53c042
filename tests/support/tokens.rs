//! The test side of `scripts/tokenservice`, the local stand-in for Google's and Microsoft's
//! token endpoints: enrol a user (a refresh token), revoke or expire their tokens, and count
//! the token requests delega made.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::MailSystem;

/// The client id the token service's grants are made for.
pub const CLIENT_ID: &str = "delega-test";

impl MailSystem {
    /// The token endpoint, as delega's `token_url`.
    pub fn token_url(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.token_port())
    }

    /// A new refresh token for `user`; with `rotate`, each use replaces it (as Microsoft's).
    pub fn grant(&self, user: &str, rotate: bool) -> String {
        let body = self.token_admin(
            "POST",
            "/admin/grant",
            &format!(
                "user={user}&client_id={CLIENT_ID}&rotate={}",
                u8::from(rotate)
            ),
        );
        json_str(&body, "refresh_token")
    }

    /// Revokes every grant of `user`: the endpoint answers `invalid_grant` from now on.
    pub fn revoke(&self, user: &str) {
        self.token_admin("POST", "/admin/revoke", &format!("user={user}"));
    }

    /// Makes `user`'s access tokens expire now (Dovecot refuses them from now on).
    pub fn expire(&self, user: &str) {
        self.token_admin("POST", "/admin/expire", &format!("user={user}"));
    }

    /// How many token requests were made for `user`'s grants.
    pub fn token_requests(&self, user: &str) -> u64 {
        let body = self.token_admin("GET", &format!("/admin/stats?user={user}"), "");
        let value: serde_json::Value = serde_json::from_str(&body).expect("stats are JSON");
        value["token_requests"].as_u64().unwrap_or(0)
    }

    /// An access token for `user` now, from a refresh token (as a token helper would print).
    pub fn access_token(&self, refresh_token: &str) -> String {
        let body = self.token_admin(
            "POST",
            "/token",
            &format!(
                "grant_type=refresh_token&client_id={CLIENT_ID}&refresh_token={refresh_token}"
            ),
        );
        json_str(&body, "access_token")
    }

    /// One HTTP/1.1 request to the token service; returns the body.
    fn token_admin(&self, method: &str, path: &str, form: &str) -> String {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.token_port())).expect("token service");
        write!(
            tcp,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        )
        .expect("request");
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).expect("answer");
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "{head}\n{body}"
        );
        body.to_string()
    }
}

fn json_str(body: &str, key: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).expect("JSON");
    value[key].as_str().expect("a string").to_string()
}

/// A GET of `url` (`http://127.0.0.1:PORT/...`): the answer's head and body. The request goes
/// out in three writes 50 ms apart, as a slow client would send it: a server that answers
/// after the first line and closes with the rest unread resets the connection, and the last
/// write fails.
pub fn http_get(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut tcp = TcpStream::connect(authority).expect("connect");
    // A server that never answers fails the test instead of hanging it.
    tcp.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a read timeout");
    let path = if path.is_empty() { "/" } else { path };
    let parts = [
        format!("GET {path} HTTP/1.1\r\n"),
        format!("Host: {authority}\r\n"),
        "Connection: close\r\n\r\n".to_string(),
    ];
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        tcp.write_all(part.as_bytes()).expect("request");
    }
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).expect("answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.to_string(), body.to_string())
}
