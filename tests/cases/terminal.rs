//! No value from outside drives the terminal: control bytes put in every source the helper
//! reads (the TOML config and its file name, git config, the environment, GitHub's and the
//! vault's answers) never reach stdout or stderr raw, whichever command runs. A property test:
//! proptest picks the control characters, every command runs against each source.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use crate::support::echo_vault::EchoVault;
use crate::support::http::Response;
use crate::support::world::{App, Config, INSTALLATION_ID, MINTS, World, request};
use crate::support::{Fault, RunOutput, run, run_with_stdin, write_file};

/// Every command, as `(arguments, stdin)`; `git`'s operations get a request for `acme/web`.
fn commands(host: &str) -> Vec<(Vec<String>, Option<String>)> {
    let url = format!("https://{host}/acme/web");
    let words: &[&[&str]] = &[
        &["token", "acme/web"],
        &["token", "acme/web", "--json"],
        &["explain", &url],
        &["explain", &url, "--json"],
        &["doctor"],
        &["doctor", "--json"],
        &["cache", "list"],
        &["cache", "list", "--json"],
        &["revoke"],
        &["configure", "--dry-run"],
        &["unconfigure", "--dry-run"],
        &["unconfigure", "--all", "--dry-run"],
        // The helper's own lines only: the command it runs prints nothing.
        &["exec", "acme/web", "--", "true"],
        &["cache", "clear"],
    ];
    let mut all: Vec<_> = words.iter().map(|w| (w.iter().map(|s| s.to_string()).collect(), None)).collect();
    let input = format!("{}\n", request(host, Some("acme/web.git")));
    for op in ["get", "erase", "store"] {
        all.push((vec![op.to_string()], Some(input.clone())));
    }
    all
}

/// Panics if `text` holds a control character other than a line break.
#[track_caller]
fn assert_no_raw_control(text: &str, out: &RunOutput, source: &str) {
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        panic!("raw {c:?} from the {source} reached the terminal:\n{out:?}");
    }
}

/// A TOML basic string holding anything (control characters as `\uXXXX`).
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => out.extend(['\\', c]),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs every command with `--config PATH` (or none) and checks both streams; returns
/// everything they printed.
fn run_all(w: &World, config: Option<&Path>, source: &str, before_each: &dyn Fn()) -> String {
    let mut printed = String::new();
    for (args, stdin) in commands(&w.fake.host()) {
        before_each();
        let mut cmd = w.env.helper(Vec::<String>::new());
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        cmd.args(&args);
        let out = match stdin {
            Some(input) => run_with_stdin(cmd, input.as_bytes()),
            None => run(cmd),
        };
        assert!(!out.timed_out, "{out}");
        assert_no_raw_control(&out.stdout, &out, source);
        assert_no_raw_control(&out.stderr, &out, source);
        printed.push_str(&out.stdout);
        printed.push_str(&out.stderr);
    }
    printed
}

/// The TOML config: a key path, a cache directory and the config's own file name.
fn from_toml(payload: &str) {
    let mut w = World::new();
    let cache = toml_str(&w.env.root().join(format!("cache{payload}")).to_string_lossy());
    let key = toml_str(&format!("/nonexistent/k{payload}.pem"));
    let app = w.test_app().installation(INSTALLATION_ID).key_lines(&format!("private_key_path = {key}"));
    let config = w.env.root().join(format!("config{payload}.toml"));
    write_file(&config, Config::new().top(&format!("cache_dir = {cache}")).app(app).to_string(), 0o600);
    run_all(&w, Some(&config), "TOML config", &|| {});
    // The config found through the environment, under that name, with a valid key.
    let good = w.env.root().join(format!("good{payload}.toml"));
    write_file(
        &good,
        Config::new().top(&format!("cache_dir = {cache}")).app(w.test_app()).to_string(),
        0o600,
    );
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_CONFIG", good.to_str().expect("UTF-8"));
    run_all(&w, None, "config file name", &|| {});
}

/// git config: the CA file, a helper value, an `insteadOf` key and a URL-scoped helper.
fn from_git_config(payload: &str) {
    let one_line: String = payload.chars().filter(|&c| c != '\n').collect();
    let w = World::builder().no_trust_in_env().start();
    let base = w.fake.base_url();
    w.env.git_config_global(&format!("http.{base}.sslCAInfo"), &format!("/nonexistent/ca{one_line}.pem"));
    w.env.git_config_global_add("credential.helper", &format!("store {one_line}"));
    w.env.git_config_global_add(&format!("credential.{base}.helper"), &format!("/x{one_line}/helper"));
    w.env.git_config_global(&format!("url.https://m{one_line}.example/.insteadOf"), &format!("{base}/"));
    let config = w.config(Config::new().app(App::no_ca_file(w.test_app())));
    run_all(&w, Some(&config), "git config", &|| {});
}

/// The environment: the CA file, the proxy and the trace switch.
fn from_environment(payload: &str) {
    let mut w = World::builder().no_trust_in_env().start();
    let ca = w.env.root().join(format!("ca{payload}.pem"));
    w.env.set_env("GIT_SSL_CAINFO", ca.to_str().expect("UTF-8"));
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let config = w.config(Config::new().app(App::no_ca_file(w.test_app())));
    run_all(&w, Some(&config), "environment (GIT_SSL_CAINFO)", &|| {});
    let mut w = World::new();
    w.env.set_env("https_proxy", &format!("http://proxy{payload}.invalid:1"));
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let config = w.config(Config::new().app(w.test_app()));
    run_all(&w, Some(&config), "environment (https_proxy)", &|| {});
}

/// GitHub's answers: a JSON message, then a body that is not JSON, holding the payload.
fn from_server_bodies(payload: &str) {
    let message = format!("no{payload}way");
    let raw = format!(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nproxy{payload}said no"
    );
    for (fault, seen) in
        [(Fault::json_error(403, &message), "way"), (Fault::Raw(raw.into_bytes()), "said no")]
    {
        let w = World::new();
        let config: PathBuf = w.config(Config::new().app(w.test_app()));
        let faults = || {
            for (method, path) in
                [("GET", "/app"), ("POST", MINTS), ("GET", "/repos/"), ("DELETE", "/installation")]
            {
                w.fake.push_fault(method, path, fault.clone());
            }
        };
        let printed = run_all(&w, Some(&config), "server bodies", &faults);
        // The answers were read and quoted (on one line), not just refused unread.
        assert!(printed.contains(seen), "{printed}");
    }
}

/// The vault's answers: an `errors` list, then a body that is not JSON, holding the payload,
/// for an app that signs with `transit_key`.
fn from_vault_bodies(payload: &str) {
    let w = World::new();
    let token = w.env.root().join("vault-token");
    write_file(&token, "PlainAgentToken0123456789", 0o600);
    for json in [true, false] {
        let message = format!("no{payload}way");
        let vault = EchoVault::start(move |_| match json {
            true => Response::json(400, &serde_json::json!({ "errors": [message] })),
            false => Response::new(400).header("Content-Type", "text/plain").body(message.clone()),
        });
        let vault_table = format!(
            "[vault]\naddress = {}\ntoken_path = {}",
            toml_str(&vault.addr()),
            toml_str(&token.to_string_lossy())
        );
        let app = w.test_app().key_lines("transit_key = \"k\"").installation(INSTALLATION_ID);
        let config = w.config(Config::new().top(&vault_table).app(app));
        let printed = run_all(&w, Some(&config), "vault bodies", &|| {});
        assert!(printed.contains("way"), "{printed}");
    }
}

/// Control characters (C0 but NUL, DEL, C1), one to eight of them.
fn control_chars() -> impl Strategy<Value = String> {
    let control = prop_oneof![(1u32..0x20), Just(0x7f), (0x80u32..0xa0)]
        .prop_map(|c| char::from_u32(c).expect("a valid control character"));
    proptest::collection::vec(control, 1..8).prop_map(|cs| cs.into_iter().collect())
}

/// Every control character at once: the first case, whatever proptest picks next.
fn all_controls() -> String {
    (1u32..0x20).chain([0x7f]).chain(0x80..0xa0).filter_map(char::from_u32).collect()
}

#[test]
fn every_control_character_in_the_toml_config_or_its_file_name_is_escaped_by_every_command() {
    from_toml(&all_controls());
}

#[test]
fn every_control_character_in_git_config_is_escaped_by_every_command() {
    from_git_config(&all_controls());
}

#[test]
fn every_control_character_in_the_environment_is_escaped_by_every_command() {
    from_environment(&all_controls());
}

#[test]
fn every_control_character_in_githubs_answers_is_escaped_by_every_command() {
    from_server_bodies(&all_controls());
}

#[test]
fn every_control_character_in_the_vaults_answers_is_escaped_by_every_command() {
    from_vault_bodies(&all_controls());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn control_characters_from_any_source_never_reach_the_terminal_raw(payload in control_chars()) {
        from_toml(&payload);
        from_git_config(&payload);
        from_environment(&payload);
        from_server_bodies(&payload);
        from_vault_bodies(&payload);
    }
}

#[test]
fn the_ca_file_from_git_config_is_named_with_its_control_characters_escaped() {
    let w = World::builder().no_trust_in_env().start();
    w.env.git_config_global("http.sslCAInfo", "/nonexistent/ca\u{1b}]0;owned\u{7}.pem");
    let config = w.config(Config::new().app(App::no_ca_file(w.test_app())));
    let line = w.failed(&w.get(&config, "acme/web.git"));
    assert!(line.contains("/nonexistent/ca\\u{1b}]0;owned\\u{7}.pem"), "{line}");
}
