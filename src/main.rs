//! The `delega` command: parses arguments, calls the library, maps failures to exit codes.
//!
//! Exit codes scripts can rely on: 0 success; 1 a runtime failure (a server, the state
//! database); 2 a usage error on the command line; 3 the config or a rules file is invalid.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use delega::config;
use delega::daemon::RunOptions;

mod cmd;

/// delega sorts an entrepreneur's inbox into strategic, delegable and noise, forwards what
/// an assistant can do, and sends a daily digest.
#[derive(Debug, Parser)]
#[command(
    name = "delega",
    version,
    about,
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The start of `delega --help` and delega(1)'s description.
const LONG_ABOUT: &str = "\
delega watches an entrepreneur's IMAP inbox and sorts every new message, by rules, into \
strategic (stays in the Inbox), delegable (forwarded to the assistant the rule names, with \
that rule's instructions, then filed) and noise (filed, never deleted). Once a day it sends \
a digest of what it did. It never deletes mail, never marks anything read, and never \
forwards the same message twice.

Start with `delega check` on the config, try rules with `delega explain MESSAGE.eml`, then \
run the daemon (`systemctl enable --now delega`, or `delega run`).";

/// The end of `delega --help` and of delega(1): exit codes and files, which clap cannot know.
const AFTER_LONG_HELP: &str = "\
Exit status:
  0  success
  1  a runtime failure (a server, the state database)
  2  a usage error on the command line
  3  the config or a rules file is invalid

Files:
  /etc/delega/delega.toml   the config (or --config, or DELEGA_CONFIG)
  /etc/delega/rules/        the rules files the example config names
  /var/lib/delega/          the state database under systemd

The full documentation: /usr/share/doc/delega/README.md, or the README in the source.";

/// What `delega task` does to a task.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TaskAction {
    /// Mark it done.
    Done,
    /// Open it again.
    Reopen,
    /// Nothing more is expected of the assistant.
    Drop,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// OAuth2 sign-in (Gmail, Microsoft 365): enrol with `login`, look with `status`.
    Auth {
        #[command(subcommand)]
        action: AuthCommand,
    },
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
    /// Per account: last successful check, today's counts, forwards waiting or failed, the
    /// hourly limit (forwards and reminders sent in the last hour; when full, when the next
    /// may go), next digest, last error. Reads the state database; works while the daemon
    /// runs.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// Print the same facts as JSON, for scripts (times as Unix seconds).
        #[arg(long)]
        json: bool,
    },
    /// Check each account's IMAP server and the SMTP server as a support engineer would:
    /// TLS and certificate, login, capabilities, namespace, where each folder will be, and
    /// whether each assistant's address is accepted. Changes nothing and sends nothing.
    Doctor {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this account (default: all).
        #[arg(long, short)]
        account: Option<String>,
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
    /// Send the waiting forwards now: asks the running delega (SIGUSR1), or, with none
    /// running on this state database, does one pass itself.
    Retry {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Move back into the Inbox what delega filed in a time window or by one rule (only
    /// messages still where delega put them), and list the forwards that already went out.
    Undo {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this account (default: all).
        #[arg(long, short)]
        account: Option<String>,
        /// What was filed in this last while: 90m, 2h, 1d, 1w…
        #[arg(
            long,
            value_name = "DURATION",
            required_unless_present = "rule",
            conflicts_with = "rule"
        )]
        since: Option<String>,
        /// What this rule filed.
        #[arg(long, value_name = "NAME")]
        rule: Option<String>,
        /// Print what would be done; move and record nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The tasks (each forward is one): per assistant, open, overdue (oldest first), done
    /// in the last 30 days, with the median time to done in working hours, and those whose
    /// forward was refused for good (not sent, with the reason).
    Tasks {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this account (default: all).
        #[arg(long, short)]
        account: Option<String>,
        /// Only open ones (overdue included).
        #[arg(long, conflicts_with_all = ["overdue", "done", "not_sent"])]
        open: bool,
        /// Only overdue ones.
        #[arg(long, conflicts_with_all = ["done", "not_sent"])]
        overdue: bool,
        /// Only those done in the last 30 days.
        #[arg(long, conflicts_with = "not_sent")]
        done: bool,
        /// Only those whose forward was refused for good, with the reason.
        #[arg(long)]
        not_sent: bool,
        /// Only this assistant's (its id).
        #[arg(long, value_name = "ID")]
        assistant: Option<String>,
    },
    /// Change a task by hand: done, reopen or drop (the entrepreneur's own corrections).
    Task {
        #[command(flatten)]
        config: ConfigArg,
        /// The account, when a reference is in several.
        #[arg(long, short)]
        account: Option<String>,
        /// done: it is done; reopen: it is open again; drop: nothing more is expected.
        #[arg(value_enum)]
        action: TaskAction,
        /// The task's reference, e.g. T-7K3Q.
        #[arg(value_name = "REF")]
        reference: String,
    },
    /// Triage the mail already in the Inbox that arrived in the last N days, once, and
    /// exit: on an existing state too, never deciding a message twice.
    Backfill {
        #[command(flatten)]
        config: ConfigArg,
        /// How many days back (IMAP dates are whole days: from the start of that day).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36_500))]
        days: u32,
        /// Only this account (default: all).
        #[arg(long, short)]
        account: Option<String>,
        /// Decide and record, but move, mark and forward nothing.
        #[arg(long)]
        observe: bool,
    },
    /// Print a shell completion script, e.g. `delega completions bash >
    /// /usr/share/bash-completion/completions/delega`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (delega.1 and one per command) into DIR, e.g.
    /// /usr/local/share/man/man1 after `cargo install`.
    Manpages {
        /// Where to write them (created if missing).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// `delega auth …`.
#[derive(Debug, Subcommand)]
enum AuthCommand {
    /// Sign in to Gmail, Microsoft 365 or another OAuth2 provider once, and save the refresh
    /// token where the config says (`refresh_token_file`).
    Login {
        #[command(flatten)]
        config: ConfigArg,
        /// The account whose IMAP sign-in to enrol.
        #[arg(long, short, required_unless_present = "smtp", conflicts_with = "smtp")]
        account: Option<String>,
        /// Enrol delega's own SMTP sign-in ([smtp]) instead.
        #[arg(long)]
        smtp: bool,
        /// Use the device-code flow: open a page on any device and type a code (Microsoft's
        /// default).
        #[arg(long, conflicts_with = "browser")]
        device: bool,
        /// Use a browser on this machine, redirected back to delega (Google's default).
        #[arg(long)]
        browser: bool,
        /// Save the refresh token here instead (e.g. to make a systemd credential of it).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Per OAuth2 sign-in: where tokens come from, the last refresh, when the access token
    /// expires, and whether the provider asks for a new sign-in. Asks no server.
    Status {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The config file.
    #[arg(long, short, env = "DELEGA_CONFIG", default_value = config::DEFAULT_PATH)]
    config: PathBuf,
}

/// Exit code for a runtime failure (a server, the state database).
const EXIT_RUNTIME: u8 = 1;

/// Exit code for a usage error, as clap's own.
const EXIT_USAGE: u8 = 2;

/// Exit code for an invalid config or rules file.
const EXIT_INVALID_CONFIG: u8 = 3;

/// The one place a command's failure becomes an exit code.
fn main() -> ExitCode {
    match try_main(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(cmd::Failed::Runtime) => ExitCode::from(EXIT_RUNTIME),
        Err(cmd::Failed::Usage) => ExitCode::from(EXIT_USAGE),
        Err(cmd::Failed::InvalidConfig) => ExitCode::from(EXIT_INVALID_CONFIG),
    }
}

/// Runs the command the arguments name.
fn try_main(cli: Cli) -> cmd::CmdResult {
    match cli.command {
        Command::Check { config } => cmd::check(&config.config),
        Command::Auth { action } => match action {
            AuthCommand::Login {
                config,
                account,
                smtp: _,
                device,
                browser,
                output,
            } => {
                let target = match &account {
                    Some(name) => cmd::AuthTarget::Account(name),
                    None => cmd::AuthTarget::Smtp,
                };
                let flow = match (device, browser) {
                    (true, _) => Some(delega::oauth2::login::Flow::DeviceCode),
                    (_, true) => Some(delega::oauth2::login::Flow::Loopback),
                    _ => None,
                };
                cmd::auth_login(&config.config, target, flow, output)
            }
            AuthCommand::Status { config } => cmd::auth_status(&config.config),
        },
        Command::Explain {
            config,
            account,
            messages,
        } => cmd::explain(&config.config, account.as_deref(), &messages),
        Command::Run {
            config,
            once,
            observe,
        } => cmd::run(
            &config.config,
            RunOptions {
                once,
                observe,
                ..RunOptions::default()
            },
        ),
        Command::Retry { config } => cmd::retry(&config.config),
        Command::Tasks {
            config,
            account,
            open,
            overdue,
            done,
            not_sent,
            assistant,
        } => {
            let show = match (open, overdue, done, not_sent) {
                (true, ..) => cmd::TaskShow::Open,
                (_, true, ..) => cmd::TaskShow::Overdue,
                (_, _, true, _) => cmd::TaskShow::Done,
                (.., true) => cmd::TaskShow::NotSent,
                _ => cmd::TaskShow::All,
            };
            cmd::tasks(
                &config.config,
                account.as_deref(),
                show,
                assistant.as_deref(),
            )
        }
        Command::Task {
            config,
            account,
            action,
            reference,
        } => {
            let change = match action {
                TaskAction::Done => cmd::TaskChange::Done,
                TaskAction::Reopen => cmd::TaskChange::Reopen,
                TaskAction::Drop => cmd::TaskChange::Drop,
            };
            cmd::task(&config.config, account.as_deref(), change, &reference)
        }
        Command::Undo {
            config,
            account,
            since,
            rule,
            dry_run,
        } => cmd::undo(
            &config.config,
            cmd::UndoArgs {
                account: account.as_deref(),
                since: since.as_deref(),
                rule: rule.as_deref(),
                dry_run,
            },
        ),
        Command::Backfill {
            config,
            days,
            account,
            observe,
        } => cmd::backfill(&config.config, account.as_deref(), days, observe),
        Command::Suggest {
            config,
            account,
            min,
        } => cmd::suggest(&config.config, account.as_deref(), min),
        Command::Status { config, json } => cmd::status(&config.config, json),
        Command::Doctor { config, account } => cmd::doctor(&config.config, account.as_deref()),
        Command::Digest {
            config,
            account,
            preview,
            html,
            send_now: _,
        } => cmd::digest(&config.config, account.as_deref(), preview, html),
        Command::Completions { shell } => cmd::completions(Cli::command(), shell),
        Command::Manpages { dir } => cmd::manpages(Cli::command(), &dir),
    }
}
