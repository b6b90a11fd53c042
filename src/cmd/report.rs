//! `delega status`, `delega digest` and `delega suggest`: what delega did and learned,
//! read from the state database.

use delega::config::{Account, Config};
use delega::state::State;

use super::{CmdResult, Failed, load, select_accounts};

/// The accounts a command works on, and the state database, or the exit code of failing.
fn accounts_and_state<'c>(
    config: &'c Config,
    only: Option<&str>,
    path: &std::path::Path,
) -> Result<(Vec<&'c Account>, State), Failed> {
    let accounts = select_accounts(config, only, path)?;
    match State::open(&config.state) {
        Ok(state) => Ok((accounts, state)),
        Err(err) => {
            eprintln!("error: {err:#}");
            Err(Failed::Runtime)
        }
    }
}

pub(crate) fn status(path: &std::path::Path, json: bool) -> CmdResult {
    let loaded = load(path)?;
    let config = &loaded.config;
    let result = State::open(&config.state).and_then(|state| {
        let now = jiff::Timestamp::now().as_second();
        delega::status::collect(config, &state, now)
    });
    match result {
        Ok(statuses) if json => {
            outln!("{}", delega::status::to_json(&statuses));
            Ok(())
        }
        Ok(statuses) => {
            out!("{}", delega::status::render(config, &statuses));
            Ok(())
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            Err(Failed::Runtime)
        }
    }
}

pub(crate) fn digest(
    path: &std::path::Path,
    only: Option<&str>,
    preview: bool,
    html: bool,
) -> CmdResult {
    let loaded = load(path)?;
    let config = &loaded.config;
    let (accounts, mut state) = accounts_and_state(config, only, path)?;
    let now = jiff::Timestamp::now();
    if preview {
        for account in accounts {
            match delega::digest::prepare(&state, account, now) {
                Ok(mail) if html => out!("{}", mail.html),
                Ok(mail) => outln!("Subject: {}\n\n{}", mail.subject, mail.text),
                Err(err) => {
                    eprintln!("{}: error: {err:#}", account.name);
                    return Err(Failed::Runtime);
                }
            }
        }
        return Ok(());
    }
    // Sending writes what the daemon writes (today's digest, its events): one writer per
    // state database, as for `run`. Readers (`--preview`) need no lock.
    let _lock = match delega::state::InstanceLock::acquire(&config.state) {
        Ok(lock) => lock,
        Err(err) => {
            eprintln!("error: {err}");
            if let delega::state::LockError::Held { .. } = err {
                eprintln!(
                    "  help: the running delega sends the digest at digest.at; to send it \
                     now, stop it (`systemctl stop delega`), run `delega digest --send-now`, \
                     and start it again (`delega digest --preview` shows it meanwhile)"
                );
            }
            return Err(Failed::Runtime);
        }
    };
    let runtime = super::runtime(false)?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let delivery = delega::delivery::Delivery::new(&config.smtp, true, shutdown);
    if let Some(err) = delivery.unusable() {
        eprintln!("error: {err}");
        return Err(Failed::Runtime);
    }
    let mut failed = false;
    for account in accounts {
        let sent = runtime.block_on(delega::digest::send_if_due(
            &mut state,
            account,
            &config.smtp.from,
            &delivery,
            now,
            true,
        ));
        match sent {
            Ok(delega::digest::DigestOutcome::Sent) => {
                outln!("{}: digest sent to {}", account.name, account.digest.to);
            }
            Ok(other) => {
                eprintln!(
                    "{}: digest not sent ({other:?}); see delega status",
                    account.name
                );
                failed = true;
            }
            Err(err) => {
                eprintln!("{}: error: {err:#}", account.name);
                failed = true;
            }
        }
    }
    runtime.block_on(delivery.end_pass());
    if failed { Err(Failed::Runtime) } else { Ok(()) }
}

pub(crate) fn suggest(path: &std::path::Path, only: Option<&str>, min: usize) -> CmdResult {
    let loaded = load(path)?;
    let config = &loaded.config;
    let (accounts, state) = accounts_and_state(config, only, path)?;
    for account in accounts {
        let corrections = match state.corrections(&account.name) {
            Ok(c) => c,
            Err(err) => {
                eprintln!("{}: error: {err:#}", account.name);
                return Err(Failed::Runtime);
            }
        };
        let assistant_of = |c: &delega::state::Correction| {
            let id = c.message_id.as_deref()?;
            let entry = state.entry_by_message_id(&account.name, id).ok()??;
            entry.decision.assistant
        };
        let proposals = delega::suggest::suggest(account, &corrections, &assistant_of, min);
        out!(
            "{}",
            delega::suggest::render(account, &proposals, &account.digest.timezone)
        );
    }
    Ok(())
}
