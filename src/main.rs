//! The `delega` command: parses arguments, calls the library, maps outcomes to exit codes.
//!
//! Exit codes scripts can rely on: 0 success; 1 a runtime failure (a server, the state
//! database); 2 a usage error on the command line; 3 the config or a rules file is invalid.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use delega::classify::Category;
use delega::config::{self, ConfigError, Loaded};
use delega::daemon::{self, RunOptions};
use delega::message::Message;

/// Exit code for an invalid config or rules file.
const EXIT_INVALID_CONFIG: u8 = 3;

/// delega sorts an entrepreneur's inbox into strategic, delegable and noise, forwards what
/// an assistant can do, and sends a daily digest.
#[derive(Debug, Parser)]
#[command(name = "delega", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the config and every rules file; print each problem with file:line:col.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Show how the rules decide each message file, which condition matched, and the
    /// rules that came close.
    Explain {
        #[command(flatten)]
        config: ConfigArg,
        /// The account whose rules to use (default: the first one).
        #[arg(long, short)]
        account: Option<String>,
        /// Raw messages (.eml files).
        #[arg(required = true, value_name = "MESSAGE.eml")]
        messages: Vec<PathBuf>,
    },
    /// Per account: last successful check, today's counts, forwards waiting or failed,
    /// next digest, last error. Reads the state database; works while the daemon runs.
    Status {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the digest (--preview) or send it now (--send-now).
    Digest {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this account (default: all).
        #[arg(long, short)]
        account: Option<String>,
        /// Print the digest of the period since the last one, without sending it.
        #[arg(
            long,
            required_unless_present = "send_now",
            conflicts_with = "send_now"
        )]
        preview: bool,
        /// With --preview: print the HTML part instead of the text.
        #[arg(long, requires = "preview")]
        html: bool,
        /// Send it now (and record it as today's), whatever the schedule says.
        #[arg(long)]
        send_now: bool,
    },
    /// Propose rules learned from the entrepreneur's corrections (messages moved by hand),
    /// as ready-to-paste TOML with the evidence. Changes nothing.
    Suggest {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this account (default: all).
        #[arg(long, short)]
        account: Option<String>,
        /// Corrections of one sender or list needed before a rule is proposed.
        #[arg(long, default_value_t = 2)]
        min: usize,
    },
    /// Watch every account's inbox and triage new mail until stopped (SIGTERM/SIGINT).
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// Triage what is there now, once per account, and exit (for cron, tests, demos).
        #[arg(long)]
        once: bool,
        /// Decide and record, but move, mark and forward nothing.
        #[arg(long)]
        observe: bool,
    },
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The config file.
    #[arg(long, short, env = "DELEGA_CONFIG", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(&config.config),
        Command::Explain {
            config,
            account,
            messages,
        } => explain(&config.config, account.as_deref(), &messages),
        Command::Run {
            config,
            once,
            observe,
        } => run(&config.config, RunOptions { once, observe }),
        Command::Suggest {
            config,
            account,
            min,
        } => suggest(&config.config, account.as_deref(), min),
        Command::Status { config } => status(&config.config),
        Command::Digest {
            config,
            account,
            preview,
            html,
            send_now: _,
        } => digest(&config.config, account.as_deref(), preview, html),
    }
}

fn run(path: &std::path::Path, opts: RunOptions) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    delega::logging::init(loaded.config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let results = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let (reload_tx, reload) = tokio::sync::mpsc::channel(1);
        tokio::spawn(listen_for_signals(shutdown.clone(), reload_tx));
        let control = daemon::Control { shutdown, reload };
        daemon::run(path.to_path_buf(), loaded.config, opts, control).await
    });
    let mut failed = false;
    for (account, result) in results {
        match result {
            Ok(report) if opts.once => {
                let counts: Vec<String> = Category::ALL
                    .iter()
                    .map(|c| format!("{} {c}", report.decided.get(c).copied().unwrap_or(0)))
                    .collect();
                println!(
                    "{account}: {} new message(s): {}; {} forwarded, {} waiting",
                    report.decided.values().sum::<usize>(),
                    counts.join(", "),
                    report.forwarded,
                    report.waiting
                );
            }
            Ok(_) => {}
            Err(err) => {
                eprintln!("{account}: error: {err:#}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// SIGTERM and SIGINT cancel `shutdown`; SIGHUP asks for a reload.
async fn listen_for_signals(shutdown: CancellationToken, reload: tokio::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::warn!("cannot listen for signals: stop delega with SIGKILL");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM: finishing the work in hand");
                break;
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: finishing the work in hand");
                break;
            }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the config and rules");
                // A reload already waiting covers this one too.
                let _ = reload.try_send(());
            }
        }
    }
    shutdown.cancel();
}

fn status(path: &std::path::Path) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &loaded.config;
    let result = delega::state::State::open(&config.state).and_then(|state| {
        let now = jiff::Timestamp::now().as_second();
        delega::status::collect(config, &state, now)
    });
    match result {
        Ok(statuses) => {
            print!("{}", delega::status::render(config, &statuses));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn digest(path: &std::path::Path, only: Option<&str>, preview: bool, html: bool) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &loaded.config;
    let accounts = match select_accounts(config, only, path) {
        Ok(accounts) => accounts,
        Err(code) => return code,
    };
    let mut state = match delega::state::State::open(&config.state) {
        Ok(state) => state,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let now = jiff::Timestamp::now();
    if preview {
        for account in accounts {
            match delega::digest::prepare(&state, account, now) {
                Ok(mail) if html => print!("{}", mail.html),
                Ok(mail) => println!("Subject: {}\n\n{}", mail.subject, mail.text),
                Err(err) => {
                    eprintln!("{}: error: {err:#}", account.name);
                    return ExitCode::FAILURE;
                }
            }
        }
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // lettre's connection pool lives on the runtime: build the mailer inside it.
    let _guard = runtime.enter();
    let mailer = match delega::outbox::Mailer::new(&config.smtp) {
        Ok(m) => m,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for account in accounts {
        let sent = runtime.block_on(delega::digest::send_if_due(
            &mut state,
            account,
            &config.smtp.from,
            &mailer,
            now,
            true,
        ));
        match sent {
            Ok(delega::digest::Outcome::Sent) => {
                println!("{}: digest sent to {}", account.name, account.digest.to);
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
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn suggest(path: &std::path::Path, only: Option<&str>, min: usize) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &loaded.config;
    let accounts = match select_accounts(config, only, path) {
        Ok(accounts) => accounts,
        Err(code) => return code,
    };
    let state = match delega::state::State::open(&config.state) {
        Ok(state) => state,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    for account in accounts {
        let corrections = match state.corrections(&account.name) {
            Ok(c) => c,
            Err(err) => {
                eprintln!("{}: error: {err:#}", account.name);
                return ExitCode::FAILURE;
            }
        };
        let assistant_of = |c: &delega::state::Correction| {
            let id = c.message_id.as_deref()?;
            let entry = state.entry_by_message_id(&account.name, id).ok()??;
            entry.entry.assistant
        };
        let proposals = delega::suggest::suggest(account, &corrections, &assistant_of, min);
        print!(
            "{}",
            delega::suggest::render(account, &proposals, &account.digest.timezone)
        );
    }
    ExitCode::SUCCESS
}

/// The accounts a command works on: all, or the one named with `--account`.
fn select_accounts<'c>(
    config: &'c delega::config::Config,
    only: Option<&str>,
    path: &std::path::Path,
) -> Result<Vec<&'c delega::config::Account>, ExitCode> {
    match only {
        None => Ok(config.accounts.iter().collect()),
        Some(name) => match config.account(name) {
            Some(a) => Ok(vec![a]),
            None => {
                let names: Vec<_> = config.accounts.iter().map(|a| a.name.as_str()).collect();
                eprintln!("error: no account `{name}` in {}", path.display());
                eprintln!("  help: the accounts are: {}", names.join(", "));
                Err(ExitCode::from(2))
            }
        },
    }
}

/// Loads the config, printing warnings; on failure prints the errors and gives the exit code.
fn load(path: &std::path::Path) -> Result<Loaded, ExitCode> {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok(loaded)
        }
        Err(ConfigError::Invalid(diags)) => {
            eprintln!("{diags}");
            let n = diags.error_count();
            eprintln!(
                "\n{n} error{} in {} and its rules: delega cannot start until {} fixed",
                if n == 1 { "" } else { "s" },
                path.display(),
                if n == 1 { "it is" } else { "they are" }
            );
            Err(ExitCode::from(EXIT_INVALID_CONFIG))
        }
        Err(err @ ConfigError::Read { .. }) => {
            eprintln!("error: {err}");
            eprintln!("  help: pass the config with --config FILE (or DELEGA_CONFIG)");
            Err(ExitCode::from(EXIT_INVALID_CONFIG))
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &loaded.config;
    println!("{}: OK", path.display());
    for account in &config.accounts {
        let count = |c: Category| {
            account
                .rules
                .rules
                .iter()
                .filter(|r| r.category == c)
                .count()
        };
        println!(
            "  account {}: {} rules from {} ({} strategic, {} delegable, {} noise; {} observe-only), {} assistants, default {}",
            account.name,
            account.rules.rules.len(),
            account.rules_dir.display(),
            count(Category::Strategic),
            count(Category::Delegable),
            count(Category::Noise),
            account.rules.rules.iter().filter(|r| r.observe).count(),
            account.assistants.len(),
            account.rules.default,
        );
    }
    ExitCode::SUCCESS
}

fn explain(path: &std::path::Path, account: Option<&str>, messages: &[PathBuf]) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = &loaded.config;
    let account = match select_accounts(config, account, path) {
        Ok(accounts) => accounts[0],
        Err(code) => return code,
    };
    let mut failed = false;
    for file in messages {
        let raw = match std::fs::read(file) {
            Ok(raw) => raw,
            Err(err) => {
                eprintln!("{}: error: cannot read: {err}", file.display());
                failed = true;
                continue;
            }
        };
        let msg = Message::parse(&raw);
        let e = account.rules.explain(&msg);
        let d = &e.decision;
        println!("{}", file.display());
        let from = msg
            .sender()
            .map_or_else(|| "(none)".to_string(), ToString::to_string);
        println!("  from:     {from}");
        println!("  subject:  {}", msg.subject());
        let mut category = d.category.to_string();
        if let Some(a) = &d.assistant {
            category.push_str(&format!(" → {a}"));
        }
        if d.observe {
            category.push_str(" (observe only: nothing is done)");
        }
        println!("  decision: {category}");
        match &d.rule {
            Some(rule) => {
                let origin = account.rules.rule(rule).map(|r| r.origin.to_string());
                println!("  rule:     {rule} ({})", origin.unwrap_or_default());
            }
            None => println!("  rule:     (none)"),
        }
        println!("  why:      {}", d.why);
        for near in &e.near_misses {
            println!(
                "  close:    {}: {}; failed: {}",
                near.rule,
                near.matched.join("; "),
                near.missed.join("; ")
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
