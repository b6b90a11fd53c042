//! OAuth2 sign-in against the real Dovecot and Postfix of the OAuth2 shape, with the local
//! token service standing in for Google and Microsoft: IMAP and SMTP with XOAUTH2 and
//! OAUTHBEARER, a refused token replaced by a fresh one, rotated refresh tokens kept across
//! restarts and crashes, a revoked grant told once, and no token in any log line.

use std::time::Duration;

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::{Office, fixture, wait_until};
use crate::support::tokens::CLIENT_ID;

const DELIVERY: Duration = Duration::from_secs(20);

/// An office whose entrepreneur signs in to IMAP, and delega to SMTP, with refresh tokens
/// from the token service (`rotate`: replaced at every use, as Microsoft's are).
fn oauth2_office(ms: &MailSystem, sasl: &str, rotate: bool) -> Office {
    let mut office = Office::new(ms);
    let dir = office.dir.path();
    std::fs::write(dir.join("giulia.rt"), ms.grant(&office.giulia, rotate)).expect("write");
    std::fs::write(dir.join("sender.rt"), ms.grant(&office.sender, rotate)).expect("write");
    let url = ms.token_url();
    office.imap_login = format!(
        "auth = \"oauth2\", client_id = \"{CLIENT_ID}\", token_url = \"{url}\", \
         refresh_token_file = \"giulia.rt\", sasl = \"{sasl}\""
    );
    office.smtp_login = Some(format!(
        "auth = \"oauth2\"\nclient_id = \"{CLIENT_ID}\"\ntoken_url = \"{url}\"\n\
         refresh_token_file = \"sender.rt\"\nsasl = \"{sasl}\"\n"
    ));
    office.write_config();
    office
}

fn output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fails if `log` holds a token of the token service or a SASL message.
fn assert_no_token(log: &str, refresh_tokens: &[&str]) {
    let token = regex::Regex::new(r"\b(at|rt)-[A-Za-z0-9_-]{16,}").expect("regex");
    assert!(!token.is_match(log), "a token in the log:\n{log}");
    assert!(!log.contains("Bearer"), "a SASL message in the log:\n{log}");
    for rt in refresh_tokens {
        assert!(!log.contains(rt), "the refresh token in the log:\n{log}");
    }
}

#[tokio::test]
async fn imap_and_smtp_sign_in_with_xoauth2_and_with_oauthbearer() -> anyhow::Result<()> {
    let ms = MailSystem::shared_oauth2();
    for sasl in ["xoauth2", "oauthbearer"] {
        let office = oauth2_office(ms, sasl, false);
        // The first run starts from what is there: only later mail is triaged.
        office.run_once_ok();
        let mut giulia = TestImap::login(ms, &office.giulia).await?;
        giulia
            .append("INBOX", &fixture("012-supplier-invoice"), &[])
            .await?;
        let out = office
            .command(&["run", "--once"])
            .env("RUST_LOG", "debug")
            .output()?;
        let text = output(&out);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 forwarded"), "{text}");
        let mut marta = TestImap::login(ms, &office.marta).await?;
        marta.wait_for("INBOX", 1, DELIVERY).await?;

        let mech = sasl.to_uppercase();
        let dovecot = std::fs::read_to_string(ms.dir().join("log/dovecot.log"))?;
        let imap_login = format!("Login: user=<{}>, method={mech},", office.giulia);
        assert!(
            dovecot.contains(&imap_login),
            "no {imap_login} in the Dovecot log"
        );
        let postfix = std::fs::read_to_string(ms.dir().join("log/postfix.log"))?;
        let smtp_login = format!("sasl_method={mech}, sasl_username={}", office.sender);
        assert!(
            postfix.contains(&smtp_login),
            "no {smtp_login} in the Postfix log"
        );
        let rts: Vec<String> = ["giulia.rt", "sender.rt"]
            .iter()
            .map(|f| std::fs::read_to_string(office.dir.path().join(f)).expect("read"))
            .collect();
        assert_no_token(&text, &[&rts[0], &rts[1]]);
    }
    Ok(())
}

#[tokio::test]
async fn a_token_command_signs_in_and_its_failure_says_why_without_its_output() -> anyhow::Result<()>
{
    let ms = MailSystem::shared_oauth2();
    let mut office = oauth2_office(ms, "xoauth2", false);
    let rt = ms.grant(&office.giulia, false);
    std::fs::write(office.dir.path().join("token"), ms.access_token(&rt))?;
    office.imap_login = "auth = \"oauth2\", token_command = \"cat token\"".into();
    office.write_config();
    // The command runs in delega's working directory: the office's.
    let out = office
        .command(&["run", "--once"])
        .current_dir(office.dir.path())
        .output()?;
    assert!(out.status.success(), "{}", output(&out));

    office.imap_login =
        "auth = \"oauth2\", token_command = \"echo at-printed-but-private; echo helper locked >&2; exit 2\"".into();
    office.write_config();
    let out = office.run_once(&[]);
    let text = output(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("token_command failed") && text.contains("helper locked"),
        "{text}"
    );
    assert!(!text.contains("at-printed-but-private"), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_token_refused_mid_run_is_replaced_once_and_triage_goes_on() -> anyhow::Result<()> {
    let ms = MailSystem::start_dedicated_oauth2();
    let office = oauth2_office(&ms, "xoauth2", false);
    office.run_once_ok();
    let mut giulia = office.deliver(&ms, &["012-supplier-invoice"]).await?;
    let mut daemon = office.spawn();
    let triaged = |n: usize| wait_until(DELIVERY, || office.ledger().len() >= n).is_some();
    assert!(triaged(1), "{}", office.daemon_log());
    assert_eq!(
        ms.token_requests(&office.giulia),
        2,
        "one per process start"
    );

    // The provider ends the token's life early; the server then refuses it at the next
    // login, which a Dovecot restart forces.
    ms.expire(&office.giulia);
    ms.stop_dovecot();
    ms.start_dovecot();
    giulia = TestImap::login(&ms, &office.giulia).await.unwrap_or(giulia);
    giulia.append("INBOX", &fixture("001-"), &[]).await?;
    assert!(triaged(2), "{}", office.daemon_log());
    let log = office.daemon_log();
    assert!(
        log.contains("the server refused the access token; trying once more with a fresh one"),
        "{log}"
    );
    assert_eq!(
        ms.token_requests(&office.giulia),
        3,
        "one refresh for the refusal"
    );
    daemon.terminate(Duration::from_secs(10));
    Ok(())
}

#[tokio::test]
async fn a_rotated_refresh_token_is_kept_across_restarts_and_a_crash() -> anyhow::Result<()> {
    let ms = MailSystem::shared_oauth2();
    let office = oauth2_office(ms, "xoauth2", true);
    let seed = std::fs::read_to_string(office.dir.path().join("giulia.rt"))?;
    // Right after the rotated token is saved, the process dies as by kill -9.
    let out = office
        .command(&["run", "--once"])
        .env("DELEGA_FAILPOINT", "after-token-saved")
        .output()?;
    assert!(
        !out.status.success(),
        "the failpoint aborts: {}",
        output(&out)
    );
    let store = office.dir.path().join("oauth2/imap-giulia.json");
    let saved = std::fs::read_to_string(&store)?;
    assert!(!saved.contains(&seed), "the seed was replaced");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&store)?.permissions().mode() & 0o777,
        0o600
    );

    // Two restarts: each uses the token the one before saved (the old ones are void now).
    office.run_once_ok();
    office.run_once_ok();
    assert_eq!(ms.token_requests(&office.giulia), 3);
    assert_eq!(
        std::fs::read_to_string(office.dir.path().join("giulia.rt"))?,
        seed,
        "the enrolled file is left as it was"
    );
    Ok(())
}

#[tokio::test]
async fn a_revoked_grant_needs_reauthorisation_told_once_and_not_asked_again() -> anyhow::Result<()>
{
    let ms = MailSystem::shared_oauth2();
    let office = oauth2_office(ms, "xoauth2", false);
    ms.revoke(&office.giulia);
    for _ in 0..2 {
        let out = office.run_once(&[]);
        let text = output(&out);
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains("needs re-authorisation")
                && text.contains("run `delega auth login --account giulia`"),
            "{text}"
        );
    }
    assert_eq!(
        ms.token_requests(&office.giulia),
        1,
        "a refused grant is not asked again"
    );
    let status = output(&office.command(&["status"]).output()?);
    assert!(status.contains("needs re-authorisation"), "{status}");
    let doctor = office.command(&["doctor"]).output()?;
    let text = output(&doctor);
    assert!(!doctor.status.success(), "{text}");
    assert!(
        text.contains("needs re-authorisation since")
            && text.contains("run `delega auth login --account giulia`"),
        "{text}"
    );
    assert_eq!(
        ms.token_requests(&office.giulia),
        1,
        "doctor asks no more either"
    );
    let digest = output(&office.command(&["digest", "--preview"]).output()?);
    assert!(
        digest.contains("needs re-authorisation")
            && digest.contains("run `delega auth login --account giulia`"),
        "{digest}"
    );
    Ok(())
}

/// Spawns `delega auth login` with `args`; returns the child and the first stdout line
/// containing `marker`.
fn start_login(office: &Office, args: &[&str], marker: &str) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut all = vec!["auth", "login", "--account", "giulia"];
    all.extend_from_slice(args);
    let mut child = office
        .command(&all)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn delega auth login");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("delega auth login never printed {marker:?}"));
    // The rest of its output is read on, so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, line)
}

#[tokio::test]
async fn auth_login_enrols_by_device_code_and_by_browser_and_auth_status_tells_the_grant()
-> anyhow::Result<()> {
    let ms = MailSystem::shared_oauth2();
    let mut office = oauth2_office(ms, "xoauth2", false);
    let base = format!("http://127.0.0.1:{}", ms.token_port());
    office.imap_login = format!(
        "auth = \"oauth2\", client_id = \"{CLIENT_ID}\", token_url = \"{base}/token\", \
         device_url = \"{base}/devicecode\", auth_url = \"{base}/authorize\", \
         refresh_token_file = \"tokens/giulia.rt\""
    );
    office.write_config();
    let status = output(&office.command(&["auth", "status"]).output()?);
    assert!(status.contains("state:         not used yet"), "{status}");

    // Device code: the user opens the page and types the code (here: the token service's
    // approval page, with the user it signs in as).
    let (mut child, line) = start_login(&office, &["--device"], "enter the code");
    let code = line
        .split("enter the code ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("a code");
    assert!(line.contains(&format!("{base}/device")), "{line}");
    let (head, _) = crate::support::tokens::http_get(&format!(
        "{base}/device?user_code={code}&user={}",
        office.giulia
    ));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(child.wait()?.success(), "the device-code login failed");
    office.run_once_ok();

    // Browser: the provider's page redirects back to delega's loopback port.
    let (mut child, line) = start_login(&office, &["--browser"], "/authorize?");
    let url = line.trim();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let (head, _) = crate::support::tokens::http_get(url);
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .expect("a redirect to delega");
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    // A browser may open a connection it sends nothing on (a preconnect): it must not hold
    // up the one that brings the code back.
    let port = location["http://".len()..]
        .split('/')
        .next()
        .expect("host:port");
    let _preconnect = std::net::TcpStream::connect(port)?;
    let (_, page) = crate::support::tokens::http_get(location);
    assert!(page.contains("delega is signed in"), "{page}");
    assert!(child.wait()?.success(), "the browser login failed");
    let saved = office.dir.path().join("tokens/giulia.rt");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&saved)?.permissions().mode() & 0o777,
        0o600
    );
    office.run_once_ok();

    let status = output(&office.command(&["auth", "status"]).output()?);
    assert!(status.contains("giulia (IMAP)"), "{status}");
    assert!(status.contains("state:         ok"), "{status}");
    assert!(status.contains("token expires: 20"), "{status}");
    assert_no_token(&status, &[&std::fs::read_to_string(&saved)?]);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_transient_and_marks_nothing() -> anyhow::Result<()> {
    let ms = MailSystem::shared_oauth2();
    let mut office = oauth2_office(ms, "xoauth2", false);
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    office.imap_login = format!(
        "auth = \"oauth2\", client_id = \"{CLIENT_ID}\", \
         token_url = \"http://127.0.0.1:{port}/token\", refresh_token_file = \"giulia.rt\""
    );
    office.write_config();
    let out = office.run_once(&[]);
    let text = output(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("no OAuth2 token for the IMAP sign-in of account giulia now"),
        "{text}"
    );
    assert!(!text.contains("re-authorisation"), "{text}");
    let status = output(&office.command(&["auth", "status"]).output()?);
    assert!(status.contains("state:         not used yet"), "{status}");
    Ok(())
}
