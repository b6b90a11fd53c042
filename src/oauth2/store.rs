//! delega's own file per OAuth2 grant, in the state directory: the refresh token in use
//! (Microsoft replaces it at every refresh), when it was last refreshed and until when the
//! access token holds, and a "needs re-authorisation" mark.
//!
//! The enrolled refresh token (the configured file or credential) is the seed; the file here
//! records the SHA-256 of the seed it descends from, so a new `delega auth login` (a new
//! seed) takes over from older rotations by itself. Writes are atomic: a new file (0600),
//! fsync, rename, fsync of the directory; a crash leaves the old file or the new one whole.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

/// What the file holds. The refresh token is a secret: `Debug` hides it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// SHA-256 (hex) of the enrolled refresh token this one descends from.
    pub seed: String,
    /// The refresh token to use next, if the provider replaced the seed.
    pub refresh_token: Option<String>,
    /// The last successful refresh (Unix time).
    pub last_refresh: Option<i64>,
    /// When the last access token expires (Unix time).
    pub expires_at: Option<i64>,
    /// The provider refused the grant (`invalid_grant`): when, with its words, and the
    /// SHA-256 of the refresh token it refused (a new one is tried again).
    pub refused: Option<Refused>,
}

/// A refusal of the grant by the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// When (Unix time).
    pub at: i64,
    /// The provider's description.
    pub error: String,
    /// SHA-256 (hex) of the refused refresh token.
    pub token: String,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("seed", &self.seed)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("last_refresh", &self.last_refresh)
            .field("expires_at", &self.expires_at)
            .field("refused", &self.refused)
            .finish()
    }
}

/// SHA-256 of a token, in hex: names a token without revealing it.
pub fn fingerprint(token: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the file; `None` when there is none yet.
pub fn load(path: &Path) -> anyhow::Result<Option<Stored>> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    let v: Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a delega token file", path.display()))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let n = |k: &str| v.get(k).and_then(Value::as_i64);
    let refused = v.get("refused").and_then(|r| {
        Some(Refused {
            at: r.get("at")?.as_i64()?,
            error: r.get("error")?.as_str()?.to_string(),
            token: r.get("token")?.as_str()?.to_string(),
        })
    });
    Ok(Some(Stored {
        seed: s("seed").unwrap_or_default(),
        refresh_token: s("refresh_token"),
        last_refresh: n("last_refresh"),
        expires_at: n("expires_at"),
        refused,
    }))
}

/// Replaces the file atomically (mode 0600, in a 0700 directory).
pub fn save(path: &Path, stored: &Stored) -> anyhow::Result<()> {
    let dir = path.parent().context("a token file has a directory")?;
    create_private_dir(dir)?;
    let body = json!({
        "seed": stored.seed,
        "refresh_token": stored.refresh_token,
        "last_refresh": stored.last_refresh,
        "expires_at": stored.expires_at,
        "refused": stored.refused.as_ref().map(|r| json!({
            "at": r.at, "error": r.error, "token": r.token,
        })),
    });
    write_atomically(path, body.to_string().as_bytes())
        .with_context(|| format!("cannot save {}", path.display()))
}

/// Writes `bytes` to `path` by way of a new file: write, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".new-{}", std::process::id()));
    let tmp = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(err) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    std::fs::rename(&tmp, path)?;
    // The rename itself is durable once the directory is.
    std::fs::File::open(dir)?.sync_all()
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_grant_reads_back_private_and_never_prints_its_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("oauth2/imap-giulia.json");
        assert_eq!(load(&path).expect("no file yet"), None);
        let stored = Stored {
            seed: fingerprint("seed"),
            refresh_token: Some("rt-rotated".into()),
            last_refresh: Some(10),
            expires_at: Some(3610),
            refused: Some(Refused {
                at: 20,
                error: "invalid_grant: revoked".into(),
                token: fingerprint("rt-rotated"),
            }),
        };
        save(&path, &stored).expect("saves");
        assert_eq!(load(&path).expect("reads"), Some(stored.clone()));
        assert!(!format!("{stored:?}").contains("rt-rotated"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let leftovers = std::fs::read_dir(path.parent().expect("dir"))
            .expect("lists")
            .count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
    }
}
