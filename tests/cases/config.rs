//! The config file and the key: where the config is found, what an invalid one says, and the
//! key sources (a file, an environment variable, a command) with their errors.

use std::fs;

use crate::support::world::{APP_ID, INSTALLATION_ID, World, request};
use crate::support::{fixture_string, run_with_stdin, set_mode};
use crate::support::{toml_path as qp, toml_string as q};

#[test]
fn a_config_with_an_unknown_key_is_an_error_naming_the_key_and_the_file() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\ncolour = \"blue\"")));
    let line = w.failed(&w.get(&cfg, "acme/web"));
    assert!(line.contains("colour"), "{line}");
    assert!(line.contains(cfg.to_str().unwrap()), "{line}");

    let cfg = w.config(format!("cache_directory = \"/tmp\"\n{}", w.app("installation_id = 1")));
    let line = w.failed(&w.get(&cfg, "acme/web"));
    assert!(line.contains("cache_directory") && line.contains(cfg.to_str().unwrap()), "{line}");
    assert_eq!(w.fake.requests().len(), 0);
}

#[test]
fn a_missing_default_config_file_serves_nothing_silently() {
    let w = World::new();
    let out = run_with_stdin(w.env.helper(["get"]), request(&w.fake.host(), Some("acme/web")).as_bytes());
    w.not_served(&out);
    assert_eq!(w.fake.requests().len(), 0);
}

#[test]
fn a_missing_config_file_named_with_the_flag_is_an_error() {
    let w = World::new();
    let missing = w.env.root().join("no-such-config.toml");
    let line = w.failed(&w.get(&missing, "acme/web"));
    assert!(line.contains(missing.to_str().unwrap()), "{line}");
}

#[test]
fn the_config_is_found_through_the_environment_variable_or_at_the_xdg_default() {
    let mut w = World::new();
    let toml = w.app(&format!("installation_id = {INSTALLATION_ID}"));
    let input = request(&w.fake.host(), Some("acme/web"));

    let default = w.env.xdg_config().join("git-credential-github-app").join("config.toml");
    crate::support::write_file(&default, &toml, 0o600);
    let token = w.served(&run_with_stdin(w.env.helper(["get"]), input.as_bytes()));
    // `explain` says which user config directory the file was found in.
    let url = format!("https://{}/acme/web", w.fake.host());
    let explained = crate::support::run(w.env.helper(["explain", url.as_str()]));
    let line = format!("config file {} (in $XDG_CONFIG_HOME)", default.display());
    assert!(explained.stdout.contains(&line), "{explained}");

    // The variable wins over the default file; a missing named file is an error.
    let named = w.env.root().join("named.toml");
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_CONFIG", named.to_str().unwrap());
    let line = w.failed(&run_with_stdin(w.env.helper(["get"]), input.as_bytes()));
    assert!(line.contains(named.to_str().unwrap()), "{line}");
    crate::support::write_file(&named, &toml, 0o600);
    assert_eq!(w.served(&run_with_stdin(w.env.helper(["get"]), input.as_bytes())), token);
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn a_key_file_readable_by_others_is_refused_with_a_chmod_hint() {
    let w = World::new();
    set_mode(&w.key, 0o644);
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let line = w.failed(&w.get(&cfg, "acme/web"));
    assert!(line.contains("chmod"), "{line}");
    assert!(line.contains(w.key.to_str().unwrap()), "{line}");
    assert_eq!(w.fake.requests().len(), 0, "nothing is sent without a usable key");
}

#[test]
fn a_key_from_an_environment_variable_signs_the_jwt() {
    let mut w = World::new();
    w.env.set_env("ACME_CI_PEM", &fixture_string("app-key-pkcs1.pem"));
    let cfg =
        w.config(w.test_app().key_lines("private_key_env = \"ACME_CI_PEM\"").installation(INSTALLATION_ID));
    let token = w.served(&w.get(&cfg, "acme/web"));
    assert_eq!(w.issued(&token).app_id, APP_ID);
}

#[test]
fn a_key_from_a_command_signs_the_jwt() {
    let w = World::new();
    let command = format!("private_key_command = [\"cat\", {}]", qp(&w.key));
    let cfg = w.config(w.test_app().key_lines(&command).installation(INSTALLATION_ID));
    let token = w.served(&w.get(&cfg, "acme/web"));
    assert_eq!(w.issued(&token).app_id, APP_ID);
}

#[test]
fn zero_or_two_key_sources_are_a_config_error_naming_the_app() {
    let w = World::new();
    let two = format!("private_key_path = {}\nprivate_key_env = \"PEM\"", qp(&w.key));
    let zero = String::new();
    for key_lines in [two, zero] {
        let cfg = w.config(w.test_app().key_lines(&key_lines).installation(INSTALLATION_ID));
        let line = w.failed(&w.get(&cfg, "acme/web"));
        assert!(line.contains(&APP_ID.to_string()) && line.contains("#1"), "{line}");
        assert!(line.contains(cfg.to_str().unwrap()), "{line}");
        assert!(line.contains("private_key_command"), "the line lists the sources: {line}");
    }
    assert_eq!(w.fake.requests().len(), 0);
}

#[test]
fn a_failing_key_command_is_named_without_its_output() {
    let w = World::new();
    let command = "private_key_command = [\"sh\", \"-c\", \"echo LEAK; echo LEAK >&2; exit 3\"]";
    let cfg = w.config(w.test_app().key_lines(command).installation(INSTALLATION_ID));
    let out = w.get(&cfg, "acme/web");
    let line = w.failed(&out);
    assert!(line.contains("\"sh\""), "{line}");
    assert!(!out.stderr.contains("LEAK"), "{out}");
    assert_eq!(w.fake.requests().len(), 0);
}

#[test]
fn a_cached_get_does_not_run_the_key_command() {
    let w = World::new();
    let counter = w.env.root().join("key-command-runs");
    let script = format!("echo run >> {}; cat {}", counter.display(), w.key.display());
    let command = format!("private_key_command = [\"sh\", \"-c\", {}]", q(&script));
    let cfg = w.config(w.test_app().key_lines(&command).installation(INSTALLATION_ID));
    let token = w.served(&w.get(&cfg, "acme/web"));
    for _ in 0..3 {
        assert_eq!(w.served(&w.get(&cfg, "acme/web")), token);
    }
    assert_eq!(fs::read_to_string(&counter).unwrap(), "run\n", "the command ran once, to mint");
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn common_config_mistakes_are_named_in_the_users_terms_with_their_line() {
    let w = World::new();
    let app = w.app(&format!("installation_id = {INSTALLATION_ID}"));
    let cases: Vec<(String, &str)> = vec![
        (app.replace("[[app]]", "[app]"), "line 1: [app] must be written [[app]] (double brackets)"),
        (
            format!("{app}timeout_secs = 5\n"),
            "timeout_secs is a top-level key but is written under [[app]] #1: move it above the first [[app]]",
        ),
        (
            app.replace(
                &format!("private_key_path = {}", qp(&w.key)),
                "private_key_command = \"vault read -field=pem secret/app\"",
            ),
            "private_key_command in [[app]] #1 must be a list, [\"program\", \"arg\", ...], not one string",
        ),
        (format!("{app}zeta_key = 1\nalpha_key = 2\n"), "unknown key \"zeta_key\" in [[app]] #1"),
        (format!("{app}instalation_id = 3\n"), "(did you mean installation_id?)"),
    ];
    for (toml, expected) in cases {
        let cfg = w.config(&toml);
        let line = w.failed(&w.get(&cfg, "acme/web"));
        assert!(line.contains(cfg.to_str().unwrap()) && line.contains(expected), "{expected}: {line}");
        assert!(!line.contains("vault read"), "{line}");
    }
    // The first unknown key in file order, with its line.
    let cfg = w.config(format!("{app}zeta_key = 1\nalpha_key = 2\n"));
    let zeta_line =
        fs::read_to_string(&cfg).unwrap().lines().position(|l| l.starts_with("zeta_key")).unwrap() + 1;
    assert!(w.failed(&w.get(&cfg, "acme/web")).contains(&format!("line {zeta_line}:")));
    assert_eq!(w.fake.requests().len(), 0);
}

#[test]
fn a_repos_pattern_written_like_a_clone_url_serves_that_repository() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/web.git\"]")));
    w.served(&w.get(&cfg, "acme/web.git"));
    w.served(&w.get(&cfg, "acme/web"));
    assert!(w.declined(&w.get(&cfg, "acme/web2")).contains("no repos pattern"));
}
