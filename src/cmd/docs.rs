//! `delega completions SHELL` and `delega manpages DIR`: shell completion scripts and man
//! pages generated from the clap definitions in main.rs, so they list exactly the options
//! the binary takes. Generated on demand (by the user, or by scripts/package for the .deb),
//! never at build time, so the normal build does not pay for them.

use std::io::Write as _;
use std::path::Path;

use super::{CmdResult, Failed};

/// Prints the completion script for `shell` to standard output.
pub(crate) fn completions(mut command: clap::Command, shell: clap_complete::Shell) -> CmdResult {
    let name = command.get_name().to_string();
    // Into memory first: clap_complete panics on a failed write, and stdout can be a closed
    // pipe (`delega completions bash | head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    match std::io::stdout().write_all(&script) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => {
            eprintln!("error: cannot write the completion script: {err}");
            Err(Failed::Runtime)
        }
    }
}

/// Writes delega.1 and one page per visible subcommand (delega-check.1, …) into `dir`.
pub(crate) fn manpages(command: clap::Command, dir: &Path) -> CmdResult {
    let result = std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(command, dir));
    match result {
        Ok(()) => Ok(()),
        Err(err) => {
            eprintln!(
                "error: cannot write the man pages into {}: {err}",
                dir.display()
            );
            Err(Failed::Runtime)
        }
    }
}
