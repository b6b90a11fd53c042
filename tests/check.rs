//! `delega check` on broken configs and rules: each case under tests/fixtures/bad/ holds a
//! config (and its rules) with a mistake, and `expected.txt`, the exact output and exit
//! code `delega check` must give — file:line:col, what is wrong and how to fix it.

use std::path::Path;
use std::process::Command;

#[test]
fn each_broken_config_gets_its_exact_error_and_exit_code_3() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("bad fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "expected the table of bad configs, found {}",
        cases.len()
    );
    for case in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_delega"))
            .args(["check", "-c", "delega.toml"])
            .current_dir(&case)
            .env_remove("DELEGA_CONFIG")
            .output()
            .expect("run delega check");
        let actual = format!(
            "{}exit {}\n",
            String::from_utf8_lossy(&out.stderr),
            out.status.code().unwrap_or(-1)
        );
        let expected = std::fs::read_to_string(case.join("expected.txt")).expect("expected.txt");
        assert_eq!(actual, expected, "case {}", case.display());
        assert!(
            out.stdout.is_empty(),
            "nothing on stdout for a failed check"
        );
    }
}

#[test]
fn the_example_config_and_rules_pass_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The sample config names /etc paths; point them at the repo's files instead.
    let config = std::fs::read_to_string(manifest.join("deploy/delega.toml"))
        .expect("sample config")
        .replace(
            "/etc/delega/rules",
            &manifest.join("rules").display().to_string(),
        );
    for credential in ["smtp-password", "imap-password"] {
        std::fs::write(dir.path().join(credential), "secret\n").expect("credential");
    }
    let path = dir.path().join("delega.toml");
    std::fs::write(&path, config).expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_delega"))
        .args(["check", "-c"])
        .arg(&path)
        .env("CREDENTIALS_DIRECTORY", dir.path())
        .output()
        .expect("run delega check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("rules from"), "{stdout}");
}
