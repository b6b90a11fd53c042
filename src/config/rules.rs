//! The rules directory (`rules/*.toml`) into compiled [`Rule`]s, with every mistake reported.
//!
//! This file owns the directory and its files: whether the directory is usable, which files
//! are read and in what order, text that is not UTF-8, rule names repeated across files.
//! Each file is read by hand through `tomlread` so that all errors come out at once with
//! `file:line:col` and a hint: a file's `[[rule]]` tables in `rules/rule.rs`, their `when`
//! conditions in `rules/condition.rs`. Regexes are compiled and assistant ids checked there,
//! so a rule set that loads cannot fail at classification time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::classify::Rule;
use crate::config::diagnostic::{Diagnostic, SourceFile, file_error};

mod condition;
mod rule;

pub use rule::parse_rules;

/// Rules files are the `*.toml` files of the rules directory.
pub const RULE_FILE_EXTENSION: &str = "toml";

/// What is wrong with a rules directory as a whole, as (what, how to fix it); `None` when it
/// holds rules files. The config reports it at the `rules` setting that names the directory.
pub fn rules_dir_problem(dir: &Path) -> Option<(String, String)> {
    let fix = "set the account's `rules` to a directory of *.toml rules files";
    match std::fs::metadata(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Some((
                format!("the rules directory {} does not exist", dir.display()),
                format!(
                    "create it (`mkdir -p {}`) and add rules files, or {fix}",
                    dir.display()
                ),
            ));
        }
        Err(err) => {
            return Some((
                format!("cannot read the rules directory {}: {err}", dir.display()),
                format!("check its permissions, or {fix}"),
            ));
        }
        Ok(meta) if !meta.is_dir() => {
            return Some((
                format!(
                    "{} is a file, not a directory of rules files",
                    dir.display()
                ),
                format!("{fix}, e.g. its parent directory"),
            ));
        }
        Ok(_) => {}
    }
    let has_rules = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .any(|e| {
            let p = e.path();
            p.extension().is_some_and(|e| e == RULE_FILE_EXTENSION) && p.is_file()
        });
    (!has_rules).then(|| {
        (
            format!("no *.toml rules files in {}", dir.display()),
            "add a file such as 10-noise.toml with [[rule]] tables (see docs/rules.md)".into(),
        )
    })
}

/// Loads every `*.toml` of `dir` in file-name order. `assistants` are the account's ids.
pub fn load_rules_dir(dir: &Path, assistants: &[&str]) -> (Vec<Rule>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            let help = "set the account's `rules` to a directory of *.toml rules files".into();
            let message = format!("cannot read the rules directory: {err}");
            return (Vec::new(), vec![file_error(dir, message, Some(help))]);
        }
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == RULE_FILE_EXTENSION) && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        let help = "add a file such as 10-noise.toml with [[rule]] tables (see docs/rules.md)";
        diagnostics.push(file_error(
            dir,
            "no *.toml rules files here",
            Some(help.into()),
        ));
    }

    let mut rules: Vec<Rule> = Vec::new();
    for path in files {
        let source = match read_rules_file(&path) {
            Ok(source) => source,
            Err(diagnostic) => {
                diagnostics.push(*diagnostic);
                continue;
            }
        };
        let (file_rules, file_diags) = parse_rules(&source, assistants);
        diagnostics.extend(file_diags);
        for rule in file_rules {
            if let Some(first) = rules.iter().find(|r| r.name == rule.name) {
                diagnostics.push(Diagnostic {
                    severity: crate::config::diagnostic::Severity::Error,
                    path: rule.origin.path.clone(),
                    line: rule.origin.line,
                    column: 1,
                    message: format!("duplicate rule name `{}`", rule.name),
                    help: Some(format!(
                        "the first one is at {}; give each rule its own name",
                        first.origin
                    )),
                });
            } else {
                rules.push(rule);
            }
        }
    }
    (rules, diagnostics)
}

/// A rules file's text; a file that is not UTF-8 is reported at its first bad byte.
fn read_rules_file(path: &Path) -> Result<SourceFile, Box<Diagnostic>> {
    let bytes = std::fs::read(path).map_err(|err| {
        let help = "check that the file exists and that delega's user may read it";
        Box::new(file_error(
            path,
            format!("cannot read: {err}"),
            Some(help.into()),
        ))
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(path, text)),
        Err(err) => {
            let good = err.utf8_error().valid_up_to();
            let bytes = err.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..good]).into_owned();
            let at = prefix.len();
            let source = SourceFile::new(path, prefix);
            Err(Box::new(source.diagnostic(
                crate::config::diagnostic::Severity::Error,
                at..at,
                format!("not UTF-8 text (byte 0x{:02x})", bytes[good]),
                Some(format!(
                    "save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 {0} > {0}.new` and rename it",
                    path.display()
                )),
            )))
        }
    }
}

/// The rules directories read so far. Accounts naming the same directory with the same
/// assistants share one compiled copy (a few hundred kB each, for a hundred accounts), and
/// its errors are told once; whether a directory is usable is asked of the file system once
/// too (for 10,000 accounts sharing one directory, 10,000 `read_dir`s were a sixth of the
/// load).
#[derive(Default)]
pub(super) struct RulesRead {
    diagnostics: Vec<Diagnostic>,
    loaded: HashMap<(PathBuf, Vec<String>), Arc<[Rule]>>,
    problems: HashMap<PathBuf, Option<(String, String)>>,
}

impl RulesRead {
    /// The mistakes found in the directories read, each told once.
    pub(super) fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    pub(super) fn load(&mut self, dir: &Path, assistants: &[&str]) -> Arc<[Rule]> {
        let mut ids: Vec<String> = assistants.iter().map(|id| id.to_string()).collect();
        ids.sort_unstable();
        let key = (dir.to_path_buf(), ids);
        if let Some(rules) = self.loaded.get(&key) {
            return Arc::clone(rules);
        }
        let (rules, diagnostics) = load_rules_dir(dir, assistants);
        self.diagnostics.extend(diagnostics);
        let rules: Arc<[Rule]> = rules.into();
        self.loaded.insert(key, Arc::clone(&rules));
        rules
    }

    /// What is wrong with `dir` as a whole ([`rules_dir_problem`]), asked once per
    /// directory; each account naming it still gets the error at its own setting.
    pub(super) fn problem(&mut self, dir: &Path) -> Option<(String, String)> {
        self.problems
            .entry(dir.to_path_buf())
            .or_insert_with(|| rules_dir_problem(dir))
            .clone()
    }
}
