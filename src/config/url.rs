//! An http(s) URL split into what a request needs, and the rule the config and the token
//! client both apply: tokens travel over TLS, plain `http://` only to a loopback address (a
//! local test service). Here, below both, so that `oauth2` reads the config and never the
//! other way round.

use super::is_loopback;

/// The parts of a URL delega needs.
#[derive(Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https://`.
    pub tls: bool,
    /// The host, without brackets for an IPv6 address.
    pub host: String,
    /// The port given, else 443 or 80.
    pub port: u16,
    /// The path, `/` when none.
    pub path: String,
}

impl HttpUrl {
    /// The parts of an `http://` or `https://` URL; `None` for anything else.
    pub fn parse(url: &str) -> Option<HttpUrl> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            (false, url.strip_prefix("http://")?)
        };
        let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (h, p.parse().ok()?),
            _ => (authority, if tls { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return None;
        }
        Some(HttpUrl {
            tls,
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// Plain http to a loopback address: the one case tokens may travel without TLS.
    pub fn is_loopback_http(&self) -> bool {
        !self.tls && is_loopback(&self.host)
    }
}

/// True for `http://127.0.0.1…`, `http://localhost…` and `http://[::1]…`.
pub fn is_loopback_http(url: &str) -> bool {
    HttpUrl::parse(url).is_some_and(|u| u.is_loopback_http())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_what_a_request_needs() {
        let u = HttpUrl::parse("https://login.microsoftonline.com/common/oauth2/v2.0/token")
            .expect("valid");
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (
                true,
                "login.microsoftonline.com",
                443,
                "/common/oauth2/v2.0/token"
            )
        );
        let u = HttpUrl::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!((u.port, u.path.as_str()), (8080, "/"));
        assert!(is_loopback_http("http://localhost:1/token"));
        assert!(!is_loopback_http("http://oauth2.example.com/token"));
        assert!(!is_loopback_http("https://127.0.0.1/token"));
        assert!(HttpUrl::parse("ftp://x").is_none());
    }
}
