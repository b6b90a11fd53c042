//! `auth = "oauth2"` on a server: the provider presets, the token source, and how it is read.
//!
//! Two token sources, as mail tools have them: a `token_command` that prints a fresh access
//! token, or delega's own refresh grant (client id, optional secret, refresh token from a
//! file or systemd credential). The presets fill in Google's and Microsoft's endpoints,
//! scopes and hosts; `token_url` serves any other provider. Using the tokens is `oauth2`'s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::Secret;
use super::secret::PASSWORD_KEYS;
use super::tomlread::{Table, choice};

/// The keys `auth = "oauth2"` brings to a server table.
pub(super) const KEYS: &[&str] = &[
    "auth",
    "provider",
    "tenant",
    "client_id",
    "client_secret_file",
    "client_secret_env",
    "client_secret_credential",
    "refresh_token_file",
    "refresh_token_credential",
    "token_command",
    "token_url",
    "auth_url",
    "device_url",
    "scopes",
    "sasl",
];

/// A provider whose endpoints, scopes and hosts delega knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Gmail and Google Workspace.
    Google,
    /// Microsoft 365 (Exchange Online) and Outlook.com.
    Microsoft,
}

impl Provider {
    /// The provider's word in the config.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Microsoft => "microsoft",
        }
    }

    /// The IMAP or SMTP host, port and security of its mail service.
    pub fn host(self, smtp: bool) -> (&'static str, u16, super::Security) {
        use super::Security::{StartTls, Tls};
        match (self, smtp) {
            (Provider::Google, false) => ("imap.gmail.com", 993, Tls),
            (Provider::Google, true) => ("smtp.gmail.com", 465, Tls),
            (Provider::Microsoft, false) => ("outlook.office365.com", 993, Tls),
            (Provider::Microsoft, true) => ("smtp.office365.com", 587, StartTls),
        }
    }
}

/// The SASL mechanism that carries the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sasl {
    /// Google's and Microsoft's `XOAUTH2`.
    XOAuth2,
    /// RFC 7628 `OAUTHBEARER`.
    OAuthBearer,
}

impl Sasl {
    /// The mechanism's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Sasl::XOAuth2 => "XOAUTH2",
            Sasl::OAuthBearer => "OAUTHBEARER",
        }
    }
}

/// OAuth2 sign-in for one server.
#[derive(Debug, Clone)]
pub struct OAuth2 {
    /// Which server's grant this is (`imap-ACCOUNT` or `smtp`): names its file in the state
    /// directory, and the account `delega auth` works on.
    pub key: String,
    /// The preset used, if any.
    pub provider: Option<Provider>,
    /// Where access tokens come from.
    pub source: TokenSource,
    /// The mechanism to use; `None`: chosen from what the server offers.
    pub sasl: Option<Sasl>,
}

/// Where access tokens come from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// A command printing a fresh access token (run under the server's timeout).
    Command {
        /// The shell command line.
        command: String,
        /// How long it may take.
        timeout: Duration,
    },
    /// delega's own refresh grant.
    Refresh(RefreshGrant),
}

/// What delega needs to refresh access tokens itself.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// The token endpoint.
    pub token_url: String,
    /// The authorisation endpoint, for `delega auth login` (loopback flow with PKCE).
    pub auth_url: Option<String>,
    /// The device-authorisation endpoint, for `delega auth login` (device-code flow).
    pub device_url: Option<String>,
    /// The OAuth2 client id.
    pub client_id: String,
    /// The client secret, where the provider needs one (Google's desktop clients).
    pub client_secret: Option<Secret>,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The refresh token as enrolled: a file (which `delega auth login` writes) or a
    /// systemd credential.
    pub refresh_token: Secret,
    /// delega's own file for this grant in the state directory: rotated refresh tokens,
    /// the last refresh and a "needs re-authorisation" mark (mode 0600).
    pub store: PathBuf,
    /// The CA file of the server, also trusted for the token endpoint (a private provider).
    pub ca_file: Option<PathBuf>,
}

impl RefreshGrant {
    /// Where `delega auth login` saves the refresh token: the configured file.
    pub fn login_target(&self) -> Option<&Path> {
        match &self.refresh_token {
            Secret::File(path) => Some(path),
            _ => None,
        }
    }
}

/// What the server table says about the provider, for defaults of host and port.
pub(super) fn provider(t: &Table<'_, '_>) -> Option<Provider> {
    let p = t.str("provider")?;
    choice(
        t,
        &p,
        &[
            ("google", Provider::Google),
            ("microsoft", Provider::Microsoft),
        ],
    )
}

/// `auth = "password" | "oauth2"`: true for OAuth2.
pub(super) fn wants_oauth2(t: &Table<'_, '_>) -> bool {
    match t.str("auth") {
        None => {
            if let Some(key) = KEYS[1..].iter().find(|k| t.get(k).is_some()) {
                let span = t.get(key).map(|v| v.span()).unwrap_or(t.span());
                t.reader().error(
                    span,
                    format!(
                        "`{key}` is an OAuth2 setting, but this server signs in with a password"
                    ),
                    Some("add `auth = \"oauth2\"` to sign in with OAuth2".into()),
                );
            }
            false
        }
        Some(a) => choice(t, &a, &[("password", false), ("oauth2", true)]).unwrap_or(false),
    }
}

/// Which server the settings are for.
pub(super) struct Role<'a> {
    /// The grant's key (`imap-ACCOUNT` or `smtp`).
    pub key: &'a str,
    /// Where the grant's file goes.
    pub state_dir: &'a Path,
    /// SMTP (its own scopes and hosts).
    pub smtp: bool,
    /// The preset, read once by the server table.
    pub provider: Option<Provider>,
}

/// Reads the OAuth2 settings of a server table (`auth = "oauth2"` already seen).
pub(super) fn read(t: &Table<'_, '_>, base: &Path, what: &str, role: &Role<'_>) -> Option<OAuth2> {
    let reader = t.reader();
    let (key, provider) = (role.key, role.provider);
    if t.get("username").is_none() {
        reader.error(
            t.span(),
            format!("{what} signs in with OAuth2 but has no `username`"),
            Some("add `username = \"giulia@example.com\"` (the mailbox's address)".into()),
        );
    }
    for k in PASSWORD_KEYS {
        if let Some(v) = t.get(k) {
            reader.error(
                v.span(),
                format!("{what} signs in with OAuth2: `{k}` is not used"),
                Some("remove it, or write `auth = \"password\"`".into()),
            );
        }
    }
    let sasl = t.str("sasl").and_then(|s| {
        choice(
            t,
            &s,
            &[
                ("xoauth2", Sasl::XOAuth2),
                ("oauthbearer", Sasl::OAuthBearer),
            ],
        )
    });
    let command = t.str("token_command");
    let refresh_keys = [
        "client_id",
        "refresh_token_file",
        "refresh_token_credential",
    ];
    if let Some(c) = &command {
        if let Some(k) = refresh_keys.iter().find(|k| t.get(k).is_some()) {
            reader.error(
                t.get(k).map(|v| v.span()).unwrap_or(c.span()),
                format!("{what} has both `token_command` and `{k}`"),
                Some("keep one token source: token_command, or delega's own refresh".into()),
            );
        }
        return Some(OAuth2 {
            key: key.to_string(),
            provider,
            source: TokenSource::Command {
                command: c.get_ref().clone(),
                timeout: Duration::from_secs(
                    t.uint("timeout_secs").map_or(30, |s| s.into_inner().max(1)),
                ),
            },
            sasl,
        });
    }
    let grant = refresh_grant(t, base, what, role)?;
    Some(OAuth2 {
        key: key.to_string(),
        provider,
        source: TokenSource::Refresh(grant),
        sasl,
    })
}

fn refresh_grant(
    t: &Table<'_, '_>,
    base: &Path,
    what: &str,
    role: &Role<'_>,
) -> Option<RefreshGrant> {
    let reader = t.reader();
    let (key, provider, smtp) = (role.key, role.provider, role.smtp);
    let client_id = t
        .required(
            "client_id",
            what,
            "client_id = \"...\" (from the app registration), or token_command = \"...\"",
        )
        .and_then(|v| v.str());
    let tenant = t
        .str("tenant")
        .map_or_else(|| "common".to_string(), Spanned::into_inner);
    if let (Some(v), false) = (t.get("tenant"), provider == Some(Provider::Microsoft)) {
        reader.error(
            v.span(),
            "`tenant` is a Microsoft setting",
            Some("remove it, or write `provider = \"microsoft\"`".into()),
        );
    }
    let ms = |path: &str| format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/{path}");
    let (token_url, auth_url, device_url, scopes): (_, _, _, Vec<String>) = match provider {
        Some(Provider::Google) => (
            Some("https://oauth2.googleapis.com/token".to_string()),
            Some("https://accounts.google.com/o/oauth2/v2/auth".to_string()),
            None,
            vec!["https://mail.google.com/".into()],
        ),
        Some(Provider::Microsoft) => (
            Some(ms("token")),
            Some(ms("authorize")),
            Some(ms("devicecode")),
            vec![
                if smtp {
                    "https://outlook.office.com/SMTP.Send".into()
                } else {
                    "https://outlook.office.com/IMAP.AccessAsUser.All".into()
                },
                "offline_access".into(),
            ],
        ),
        None => (None, None, None, Vec::new()),
    };
    let url = |k: &str, preset: Option<String>| match t.str(k) {
        Some(u) => {
            let ok = u.get_ref().starts_with("https://") || super::is_loopback_http(u.get_ref());
            if !ok {
                reader.error(
                    u.span(),
                    format!("`{}` is not an https:// URL", u.get_ref()),
                    Some("tokens only travel over TLS (plain http only to 127.0.0.1)".into()),
                );
            }
            Some(u.into_inner())
        }
        None => preset,
    };
    let token_url = url("token_url", token_url);
    let auth_url = url("auth_url", auth_url);
    let device_url = url("device_url", device_url);
    if token_url.is_none() && !reader.has_errors() {
        reader.error(
            t.span(),
            format!("{what} has no token endpoint"),
            Some(
                "write `provider = \"google\"` or `\"microsoft\"`, or `token_url = \"https://...\"`"
                    .into(),
            ),
        );
    }
    let scopes = match t.get("scopes") {
        None => scopes,
        Some(v) => v
            .str_or_list()
            .map(|l| l.into_iter().map(Spanned::into_inner).collect())
            .unwrap_or_default(),
    };
    let client_secret = secret(
        t,
        base,
        &[
            ("client_secret_file", SecretKind::File),
            ("client_secret_env", SecretKind::Env),
            ("client_secret_credential", SecretKind::Credential),
        ],
    );
    if provider == Some(Provider::Google) && client_secret.is_none() && !reader.has_errors() {
        reader.error(
            t.span(),
            "Google needs the client secret of the OAuth client",
            Some("add `client_secret_file = \"...\"` (the file holding the secret from the Google Cloud console)".into()),
        );
    }
    let refresh_token = secret(
        t,
        base,
        &[
            ("refresh_token_file", SecretKind::File),
            ("refresh_token_credential", SecretKind::Credential),
        ],
    );
    if refresh_token.is_none() && !reader.has_errors() {
        reader.error(
            t.span(),
            format!("{what} has no refresh token source"),
            Some(
                "add `refresh_token_file = \"...\"` (written by `delega auth login`) or \
                 `refresh_token_credential = \"...\"`"
                    .into(),
            ),
        );
    }
    Some(RefreshGrant {
        token_url: token_url?,
        auth_url,
        device_url,
        client_id: client_id?.into_inner(),
        client_secret,
        scopes,
        refresh_token: refresh_token?,
        store: role.state_dir.join("oauth2").join(format!("{key}.json")),
        ca_file: t.str("ca_file").map(|p| base.join(p.get_ref())),
    })
}

#[derive(Clone, Copy)]
enum SecretKind {
    File,
    Env,
    Credential,
}

/// At most one of the keys; a file need not exist yet (`delega auth login` writes it).
fn secret(t: &Table<'_, '_>, base: &Path, keys: &[(&str, SecretKind)]) -> Option<Secret> {
    let given: Vec<_> = keys
        .iter()
        .filter_map(|(k, kind)| t.str(k).map(|v| (*k, *kind, v)))
        .collect();
    if given.len() > 1 {
        let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
        t.reader().error(
            given[1].2.span(),
            format!("`{}` and `{}` both given", given[0].0, given[1].0),
            Some(format!("keep only one of {}", names.join(", "))),
        );
    }
    let (_, kind, value) = given.into_iter().next()?;
    Some(match kind {
        SecretKind::File => Secret::File(base.join(value.get_ref())),
        SecretKind::Env => Secret::Env(value.into_inner()),
        SecretKind::Credential => Secret::Credential(value.into_inner()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::SourceFile;
    use crate::config::{ConfigError, Loaded, Security, parse_config};

    fn parse(imap: &str, smtp: &str) -> Result<Loaded, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path();
        std::fs::write(
            rules.join("10.toml"),
            "[[rule]]\nname = \"all\"\ncategory = \"noise\"\n[rule.when]\nlist = true\n",
        )
        .expect("a rules file");
        let text = format!(
            "state = \"/var/lib/delega/state.db\"\n\
             [smtp]\n{smtp}\nfrom = \"d@studio.example\"\n\
             [[account]]\nname = \"g\"\nrules = {rules:?}\n\
             [account.imap]\n{imap}\n\
             [account.digest]\nto = \"g@studio.example\"\n"
        );
        parse_config(&SourceFile::new("delega.toml", text))
    }

    fn errors(result: Result<Loaded, ConfigError>) -> String {
        match result {
            Err(ConfigError::Invalid(d)) => d.to_string(),
            Ok(_) => panic!("the config should be refused"),
            Err(other) => panic!("{other}"),
        }
    }

    const MS_IMAP: &str = "username = \"g@studio.example\"\nauth = \"oauth2\"\n\
        provider = \"microsoft\"\nclient_id = \"c1\"\nrefresh_token_file = \"g.token\"";

    #[test]
    fn the_microsoft_preset_fills_hosts_endpoints_and_scopes() {
        let smtp = "username = \"d@studio.example\"\nauth = \"oauth2\"\nprovider = \"microsoft\"\n\
                    tenant = \"contoso.example\"\nclient_id = \"c1\"\n\
                    refresh_token_file = \"d.token\"";
        let config = parse(MS_IMAP, smtp).expect("valid").config;
        let imap = &config.accounts[0].imap;
        assert_eq!(
            (imap.host.as_str(), imap.port, imap.security),
            ("outlook.office365.com", 993, Security::Tls)
        );
        let o = imap.oauth2.as_deref().expect("oauth2");
        let TokenSource::Refresh(g) = &o.source else {
            panic!("a refresh grant")
        };
        assert_eq!(
            g.token_url,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert_eq!(
            g.scopes,
            [
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "offline_access"
            ]
        );
        assert_eq!(
            g.store,
            Path::new("/var/lib/delega/oauth2/imap-g.json"),
            "rotated tokens live in the state directory"
        );
        let s = &config.smtp.server;
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("smtp.office365.com", 587, Security::StartTls)
        );
        let TokenSource::Refresh(g) = &s.oauth2.as_deref().expect("oauth2").source else {
            panic!("a refresh grant")
        };
        assert!(g.token_url.contains("/contoso.example/"), "{}", g.token_url);
        assert_eq!(g.scopes[0], "https://outlook.office.com/SMTP.Send");
    }

    #[test]
    fn oauth2_mistakes_are_told_where_they_are_with_a_fix() {
        let smtp = "host = \"127.0.0.1\"\nsecurity = \"plain\"";
        let e = errors(parse(
            "username = \"g@x.example\"\nauth = \"oauth2\"\nprovider = \"gogle\"",
            smtp,
        ));
        assert!(
            e.contains("delega.toml:12:12: error: unknown value `gogle`"),
            "{e}"
        );
        assert!(e.contains("help: did you mean `google`?"), "{e}");

        let e = errors(parse(
            "host = \"h.example\"\nusername = \"g@x.example\"\nauth = \"oauth2\"",
            smtp,
        ));
        assert!(e.contains("`imap` has no `client_id`"), "{e}");
        assert!(e.contains("token_command"), "{e}");

        let e = errors(parse(
            "host = \"h.example\"\nusername = \"g\"\npassword_env = \"PATH\"\nclient_id = \"c\"",
            smtp,
        ));
        assert!(
            e.contains("delega.toml:13:13: error: `client_id` is an OAuth2 setting"),
            "{e}"
        );
        assert!(e.contains("help: add `auth = \"oauth2\"`"), "{e}");

        let e = errors(parse(&format!("{MS_IMAP}\npassword_file = \"pw\""), smtp));
        assert!(e.contains("`password_file` is not used"), "{e}");

        let e = errors(parse(
            "host = \"h.example\"\nusername = \"g\"\nauth = \"oauth2\"\nclient_id = \"c\"\n\
             refresh_token_file = \"t\"\ntoken_url = \"http://idp.example/token\"",
            smtp,
        ));
        assert!(e.contains("is not an https:// URL"), "{e}");
    }
}
