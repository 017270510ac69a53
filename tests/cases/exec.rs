//! `exec`: a program that is not git (gh, curl, Terraform) run with the token in its
//! environment, by real processes: which variables it gets, that the helper prints no token,
//! that the program's exit status is its own, the helper's 125/126/127, arguments passed byte
//! for byte, and that the program never runs without a token.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use crate::support::fake_github::Fault;
use crate::support::world::{INSTALLATION_ID, MINTS, PREFIX, World, code};
use crate::support::{run, write_file};

/// A shell script for `sh -c` that writes each of `names`' value (or `unset`) on a line of `$1`.
fn dump_env(names: &[&str]) -> String {
    names.iter().map(|n| format!("printf '%s\\n' \"${{{n}-unset}}\" >> \"$1\"; ")).collect()
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// The one stderr line of a failed exec, with its exit code; nothing on stdout, no secret.
#[track_caller]
fn failed_with(w: &World, out: &crate::support::RunOutput, status: i32) -> String {
    assert_eq!(code(out), Some(status), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    w.assert_output_has_no_secrets(out);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line:\n{out}");
    assert!(lines[0].starts_with(PREFIX), "{out}");
    lines[0].to_string()
}

#[test]
fn exec_runs_the_command_with_the_token_in_gh_token_and_github_token_and_prints_no_token() {
    let w = World::new();
    let cfg = w.config(w.test_app().installation(INSTALLATION_ID));
    let dump = w.env.root().join("env.txt");
    let vars = ["GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GH_HOST"];
    let script = dump_env(&vars);
    let out = w.run(&cfg, &["exec", "acme/web", "--", "sh", "-c", &script, "sh", dump.to_str().unwrap()]);
    out.assert_success();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""), "{out}");
    let seen = lines(&dump);
    let token = &seen[0];
    w.issued(token);
    // The fake's host is not github.com: gh reads GH_ENTERPRISE_TOKEN and GH_HOST there.
    assert_eq!(seen, [token.clone(), token.clone(), token.clone(), w.fake.host()]);

    // A second exec is served from the cache: the same token, no second mint.
    fs::remove_file(&dump).unwrap();
    let out = w.run(&cfg, &["exec", "acme/web", "--", "sh", "-c", &script, "sh", dump.to_str().unwrap()]);
    out.assert_success();
    assert_eq!(lines(&dump)[0], *token);
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn exec_for_github_com_sets_no_enterprise_variables() {
    let w = World::new();
    let app = w.test_app().host("github.com").api_url(&w.fake.api_url()).installation(INSTALLATION_ID);
    let cfg = w.config(app);
    let dump = w.env.root().join("env.txt");
    let script = dump_env(&["GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GH_HOST"]);
    let out = w.run(&cfg, &["exec", "acme/web", "--", "sh", "-c", &script, "sh", dump.to_str().unwrap()]);
    out.assert_success();
    let seen = lines(&dump);
    w.issued(&seen[0]);
    assert_eq!(seen[1], seen[0]);
    assert_eq!(&seen[2..], ["unset", "unset"]);
}

#[test]
fn the_helper_becomes_the_command_whose_exit_status_is_passed_through() {
    let w = World::new();
    let cfg = w.config(w.test_app().installation(INSTALLATION_ID));
    let out = w.run(&cfg, &["exec", "acme/web", "--", "sh", "-c", "exit 7"]);
    assert_eq!(code(&out), Some(7), "{out}");
    assert_eq!(out.stderr, "", "{out}");
    // Replaced, not a child: the command has the helper's process id.
    let mut child = w.cmd(&cfg, &["exec", "acme/web", "--", "sh", "-c", "echo $$"]);
    let child = child.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), pid.to_string());
}

#[test]
fn arguments_reach_the_command_byte_for_byte() {
    let w = World::new();
    let cfg = w.config(w.test_app().installation(INSTALLATION_ID));
    let dump = w.env.root().join("args.bin");
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9 \xff--x");
    let mut cmd = w.cmd(
        &cfg,
        &["exec", "acme/web", "--", "sh", "-c", "printf '%s|%s|%s' \"$1\" \"$2\" \"$3\" > \"$4\"", "sh"],
    );
    cmd.arg(odd).arg("--").arg("").arg(&dump);
    run(cmd).assert_success();
    let mut expected = b"caf\xe9 \xff--x".to_vec();
    expected.extend_from_slice(b"|--|");
    assert_eq!(fs::read(&dump).unwrap(), expected);
}

#[test]
fn the_command_never_runs_when_no_token_can_be_had_and_the_helper_exits_125() {
    let w = World::new();
    let marker = w.env.root().join("ran");
    let touch = ["--", "touch", marker.to_str().unwrap()];
    fn with<'a>(first: &[&'a str], touch: &[&'a str]) -> Vec<&'a str> {
        first.iter().chain(touch).copied().collect()
    }

    // A repository outside the patterns.
    let cfg = w.config(w.test_app().installation(INSTALLATION_ID).line("repos = [\"acme/*\"]"));
    let line = failed_with(&w, &w.run(&cfg, &with(&["exec", "other/x"], &touch)), 125);
    assert!(line.contains("no app serves") && line.contains("the command was not run"), "{line}");

    // The mint fails.
    let cfg = w.config(w.test_app().installation(INSTALLATION_ID));
    w.fake.push_fault("POST", MINTS, Fault::json_error(403, "Resource not accessible by integration"));
    let line = failed_with(&w, &w.run(&cfg, &with(&["exec", "acme/web"], &touch)), 125);
    assert!(line.contains("the command was not run"), "{line}");
    assert_eq!(w.fake.count("POST", MINTS), 1);

    // No config, and a usage mistake.
    let missing = w.env.root().join("missing.toml");
    failed_with(&w, &w.run(&missing, &with(&["exec", "acme/web"], &touch)), 125);
    failed_with(&w, &w.run(&cfg, &["exec", "acme/web", "--json", "--", "true"]), 125);
    failed_with(&w, &w.run(&cfg, &["exec", "acme/web"]), 125);
    assert!(!marker.exists(), "the command ran without a token");
}

#[test]
fn a_command_that_cannot_run_exits_126_and_one_that_is_not_found_127() {
    let w = World::new();
    let cfg = w.config(w.test_app().installation(INSTALLATION_ID));
    let not_executable = w.env.root().join("script.sh");
    write_file(&not_executable, "#!/bin/sh\nexit 0\n", 0o600);
    assert_eq!(fs::metadata(&not_executable).unwrap().permissions().mode() & 0o111, 0);
    let line =
        failed_with(&w, &w.run(&cfg, &["exec", "acme/web", "--", not_executable.to_str().unwrap()]), 126);
    assert!(line.contains("exec: cannot run") && line.contains("script.sh"), "{line}");
    let dir = w.env.root().to_str().unwrap().to_string();
    failed_with(&w, &w.run(&cfg, &["exec", "acme/web", "--", &dir]), 126);
    let line = failed_with(&w, &w.run(&cfg, &["exec", "acme/web", "--", "no-such-program-gcga"]), 127);
    assert!(line.contains("\"no-such-program-gcga\" not found"), "{line}");
    let missing = w.env.root().join("nope/prog");
    failed_with(&w, &w.run(&cfg, &["exec", "acme/web", "--", missing.to_str().unwrap()]), 127);
}

#[test]
fn the_command_gets_the_token_but_not_the_private_key_the_helper_read_from_the_environment() {
    let mut w = World::new();
    w.env.set_env("ACME_CI_PEM", &crate::support::fixture_string("app-key-pkcs1.pem"));
    w.env.set_env("UNRELATED", "kept");
    let cfg =
        w.config(w.test_app().key_lines("private_key_env = \"ACME_CI_PEM\"").installation(INSTALLATION_ID));
    let dump = w.env.root().join("env.txt");
    let script = dump_env(&["GH_TOKEN", "ACME_CI_PEM", "UNRELATED"]);
    let out = w.run(&cfg, &["exec", "acme/web", "--", "sh", "-c", &script, "sh", dump.to_str().unwrap()]);
    out.assert_success();
    let seen = lines(&dump);
    w.issued(&seen[0]);
    // Compared without printing: a failure must not show the key.
    assert!(seen.len() == 3 && seen[1] == "unset", "the command got the app's private key");
    assert_eq!(seen[2], "kept");
}
