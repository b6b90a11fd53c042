//! `delega completions SHELL` and `delega manpages DIR`: the generated scripts and pages cover
//! every command and option the binary takes, and the bash script is valid bash.

use std::process::Command;

fn delega(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_delega"))
        .args(args)
        .output()
        .expect("run delega");
    assert!(
        out.status.success(),
        "delega {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn manpages_are_one_per_command_and_name_their_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("man1");
    delega(&["manpages", out_dir.to_str().expect("utf-8 path")]);
    let mut pages: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("man1 written")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "delega-auth-login.1",
            "delega-auth-status.1",
            "delega-auth.1",
            "delega-backfill.1",
            "delega-check.1",
            "delega-completions.1",
            "delega-digest.1",
            "delega-doctor.1",
            "delega-explain.1",
            "delega-manpages.1",
            "delega-retry.1",
            "delega-run.1",
            "delega-status.1",
            "delega-suggest.1",
            "delega-task.1",
            "delega-tasks.1",
            "delega-undo.1",
            "delega.1",
        ]
    );
    let status = std::fs::read_to_string(out_dir.join("delega-status.1")).expect("page");
    assert!(status.starts_with(".ie"), "roff: {status}");
    assert!(status.contains(".TH delega-status 1"), "{status}");
    for option in ["\\-\\-json", "\\-\\-config", "DELEGA_CONFIG"] {
        assert!(status.contains(option), "{option} in {status}");
    }
    let main = std::fs::read_to_string(out_dir.join("delega.1")).expect("page");
    assert!(main.contains("Exit status"), "{main}");
}

#[test]
fn completions_cover_every_command_in_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let script = String::from_utf8(delega(&["completions", shell]).stdout).expect("utf-8");
        for word in [
            "check", "explain", "status", "digest", "suggest", "run", "manpages", "json", "auth",
        ] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    let bash = delega(&["completions", "bash"]).stdout;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("delega.bash");
    std::fs::write(&file, bash).expect("write");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .expect("bash");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
}
