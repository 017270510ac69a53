//! Configuration without a file: one app given entirely in the helper's arguments (containers
//! and CI), through real git, `configure`, `token`, `explain` and `doctor`; the key in an
//! environment variable in the forms secret stores hand it over.

use std::fs;

use crate::support::git_env::helper_path;
use crate::support::world::{APP_ID, INSTALLATION_ID, OWNER, PREFIX, World, code, request};
use crate::support::{base64_encode, fixture_string, run, run_with_stdin};

/// The app options for the test app on the fake, with the key in `$GH_APP_PEM`.
fn app_flags(w: &World) -> Vec<String> {
    [
        "--app-id",
        &APP_ID.to_string(),
        "--private-key-env",
        "GH_APP_PEM",
        "--host",
        &w.fake.host(),
        "--ca-file",
        w.fake.ca_pem_path().to_str().unwrap(),
        "--installation-id",
        &INSTALLATION_ID.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn with(flags: &[String], more: &[&str]) -> Vec<String> {
    flags.iter().cloned().chain(more.iter().map(|s| s.to_string())).collect()
}

#[test]
fn git_clones_with_the_app_given_in_the_helper_arguments_and_no_config_file() {
    let mut w = World::new();
    w.env.set_env("GH_APP_PEM", &fixture_string("app-key-pkcs1.pem"));
    w.fake.create_repo(OWNER, "web");
    let flags = app_flags(&w);
    let out = run(w.env.helper(with(&flags, &["configure"])));
    out.assert_success();
    w.assert_output_has_no_secrets(&out);
    let gitconfig = fs::read_to_string(w.env.global_config()).unwrap();
    assert!(
        gitconfig.contains(&format!(
            "helper = {} --app-id {APP_ID} --installation-id {INSTALLATION_ID} --private-key-env GH_APP_PEM --host {}",
            helper_path().display(),
            w.fake.host()
        )),
        "{gitconfig}"
    );
    w.assert_no_secrets(&gitconfig);
    assert!(!w.env.xdg_config().join("git-credential-github-app").exists(), "no config file anywhere");

    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    assert_eq!(w.fake.mint_count(), 1);
    assert_eq!(w.fake.issued_tokens()[0].installation_id, INSTALLATION_ID);

    // The same flags serve the commands.
    let token = run(w.env.helper(with(&flags, &["token", "acme/web", "--json"])));
    token.assert_success();
    let json: serde_json::Value = serde_json::from_str(&token.stdout).expect("token --json is JSON");
    let issued = w.issued(json["token"].as_str().unwrap());
    assert_eq!(json["expires_at"], issued.expires_at);
    assert_eq!(json["installation_id"], INSTALLATION_ID);
    assert_eq!(json["app_id"], APP_ID.to_string());
    assert!(json["expires_at_utc"].as_str().unwrap().ends_with(" UTC"));
    assert_eq!(w.fake.mint_count(), 1, "token reused the cached token");

    let explain = run(w.env.helper(with(&flags, &["explain", "acme/web"])));
    explain.assert_success();
    assert!(explain.stdout.contains("config:       the app given by command-line flags"), "{explain}");
    assert!(explain.stdout.contains("served:       yes"), "{explain}");
    let doctor = run(w.env.helper(with(&flags, &["doctor"])));
    doctor.assert_success();
    w.assert_output_has_no_secrets(&doctor);
    // There is no config: the app is not "#1 in the config".
    assert!(doctor.stdout.contains(&format!("app {APP_ID} (given by command-line flags)")), "{doctor}");
    assert!(!doctor.stdout.contains("in the config"), "{doctor}");
}

#[test]
fn configure_writes_a_relative_key_path_absolute_so_git_finds_it_from_any_repository() {
    let w = World::new();
    w.fake.create_repo(OWNER, "web");
    let key_dir = w.key.parent().unwrap().to_path_buf();
    let mut configure = w.env.helper([
        "--app-id",
        &APP_ID.to_string(),
        "--private-key-path",
        "app-key-pkcs1.pem",
        "--host",
        &w.fake.host(),
        "--ca-file",
        w.fake.ca_pem_path().to_str().unwrap(),
        "--repos",
        "acme/*",
        "configure",
    ]);
    configure.current_dir(&key_dir);
    run(configure).assert_success();
    let gitconfig = fs::read_to_string(w.env.global_config()).unwrap();
    assert!(gitconfig.contains(&format!("--private-key-path {}", w.key.display())), "{gitconfig}");
    assert!(gitconfig.contains("--repos 'acme/*'"), "{gitconfig}");
    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn a_key_in_the_environment_is_accepted_escaped_quoted_or_base64_and_a_public_key_is_named() {
    let pem = fixture_string("app-key-pkcs1.pem");
    let escaped = pem.trim_end().replace('\n', "\\n");
    for form in [escaped.clone(), format!("\"{escaped}\""), base64_encode(pem.as_bytes())] {
        let mut w = World::new();
        w.env.set_env("GH_APP_PEM", &form);
        let input = request(&w.fake.host(), Some("acme/web.git"));
        let out = run_with_stdin(w.env.helper(with(&app_flags(&w), &["get"])), input.as_bytes());
        w.served(&out);
    }
    let mut w = World::new();
    w.env.set_env("GH_APP_PEM", &fixture_string("app-key.pub.pem"));
    let input = request(&w.fake.host(), Some("acme/web.git"));
    let out = run_with_stdin(w.env.helper(with(&app_flags(&w), &["get"])), input.as_bytes());
    let line = w.failed(&out);
    assert!(line.contains("private key in $GH_APP_PEM is a public key"), "{line}");
    assert!(w.fake.requests().is_empty());
}

#[test]
fn a_mistake_in_the_flags_names_the_flag_and_mixing_them_with_a_config_file_is_refused() {
    let w = World::new();
    let input = request(&w.fake.host(), Some("acme/web.git"));
    let out = run_with_stdin(w.env.helper(["--app-id", "1", "get"]), input.as_bytes());
    let line = w.failed(&out);
    assert_eq!(
        line,
        format!(
            "{PREFIX}command line: app 1 given by flags: give exactly one of --private-key-path, --private-key-env, --transit-key"
        )
    );
    let out = run(w.env.helper(["--app-id", "1", "--private-key-env", "K", "--repos", "acme", "doctor"]));
    assert!(
        w.failed(&out).contains("command line: --repos: repos pattern \"acme\" is not OWNER/REPO"),
        "{out}"
    );
    let cfg = w.config(w.app(""));
    let out = w.run(&cfg, &["--app-id", "1", "doctor"]);
    assert_eq!(code(&out), Some(2), "{out}");
    assert!(out.stderr.contains("give either --config or the app flags"), "{out}");
}
