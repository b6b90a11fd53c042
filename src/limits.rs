//! The open-file limit, checked at start against what the configured accounts need.
//!
//! Each watched account holds one IMAP connection for as long as delega runs; the state
//! database and SMTP connections come from small shared pools. With more accounts than the
//! limit allows, accounts would fail one by one with "too many open files" in the middle
//! of the run. So the daemon raises its soft limit to the hard one (as well-behaved daemons
//! do: the soft limit stays low only for programs that use `select(2)`), and if even the
//! hard limit is too low, refuses to start with the number it needs.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

use crate::state::StatePool;

/// Files open whatever the accounts: standard streams, the log, the lock file, the
/// runtime's epoll and wakers, the metrics listener and its scrapes, token fetches.
const BASE: u64 = 64;

/// The open files `accounts` accounts need: one IMAP connection each, the state pool's
/// connections (three files each), and an SMTP connection per pass running at once.
pub fn needed(accounts: usize) -> u64 {
    accounts as u64 + StatePool::MAX as u64 * 4 + BASE
}

/// What [`ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raised {
    /// The soft limit was already enough.
    Enough,
    /// The soft limit was raised from the first number to the second (the hard limit).
    From(u64, u64),
}

/// The hard limit is below what the accounts need.
#[derive(Debug, thiserror::Error)]
#[error(
    "{accounts} account(s) need {needed} open files, but the limit is {hard} (LimitNOFILE): \
     raise it to at least {needed} (LimitNOFILE={needed} in the unit, or `ulimit -n {needed}`), \
     or split the accounts between instances"
)]
pub struct TooFewFiles {
    /// The accounts configured.
    pub accounts: usize,
    /// What they need.
    pub needed: u64,
    /// The hard limit.
    pub hard: u64,
}

/// Makes sure `accounts` accounts can open their files: raises the soft limit to the hard
/// limit if it is below what they need, or says how many are needed.
pub fn ensure(accounts: usize) -> Result<Raised, TooFewFiles> {
    let needed = needed(accounts);
    let limit = getrlimit(Resource::Nofile);
    let (soft, hard) = (
        limit.current.unwrap_or(u64::MAX),
        limit.maximum.unwrap_or(u64::MAX),
    );
    match decide(needed, soft, hard) {
        Decision::Enough => Ok(Raised::Enough),
        Decision::TooFew => Err(TooFewFiles {
            accounts,
            needed,
            hard,
        }),
        Decision::Raise => {
            let raised = Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => Ok(Raised::From(soft, hard)),
                // Refused (a sandbox): the soft limit is what there is.
                Err(_) => Err(TooFewFiles {
                    accounts,
                    needed,
                    hard: soft,
                }),
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Enough,
    Raise,
    TooFew,
}

fn decide(needed: u64, soft: u64, hard: u64) -> Decision {
    if soft >= needed {
        Decision::Enough
    } else if hard >= needed {
        Decision::Raise
    } else {
        Decision::TooFew
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_only_when_needed_and_enough() {
        assert_eq!(decide(500, 1024, 524_288), Decision::Enough);
        assert_eq!(decide(10_192, 1024, 524_288), Decision::Raise);
        assert_eq!(decide(10_192, 1024, 4096), Decision::TooFew);
    }

    #[test]
    fn ten_thousand_accounts_need_about_one_file_each() {
        assert_eq!(needed(10_000), 10_000 + 32 * 4 + 64);
        let err = TooFewFiles {
            accounts: 1000,
            needed: needed(1000),
            hard: 1024,
        };
        assert_eq!(
            err.to_string(),
            "1000 account(s) need 1192 open files, but the limit is 1024 (LimitNOFILE): raise \
             it to at least 1192 (LimitNOFILE=1192 in the unit, or `ulimit -n 1192`), or split \
             the accounts between instances"
        );
    }
}
