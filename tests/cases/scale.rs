//! Large configs: a cached `get` parses the config, routes and reads one
//! cache entry, whatever the config's size, and any edit decides at once.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{FakeGitHub, Options, TestEnv, fixture_string, run_with_stdin};

const APP_ID: u64 = 7070;
const INSTALLATION_ID: u64 = 707;

/// 400 apps for other owners, then the one that serves `acme/*` on the fake.
fn big_config(fake: &FakeGitHub, key: &Path, tokens: &Path, acme_pattern: &str) -> String {
    let mut text = format!("cache_dir = {:?}\n", tokens.display().to_string());
    for i in 1..=400 {
        text.push_str(&format!(
            "\n[[app]]\napp_id = {i}\nprivate_key_path = \"/nonexistent/k{i}.pem\"\nhost = {host:?}\nrepos = [\"filler{i}/*\"]\ninstallation_id = {i}\n",
            host = fake.host()
        ));
    }
    text.push_str(&format!(
        "\n[[app]]\napp_id = {APP_ID}\nprivate_key_path = {key:?}\nhost = {host:?}\nrepos = [{acme_pattern:?}]\ninstallation_id = {INSTALLATION_ID}\nca_file = {ca:?}\n",
        key = key.display().to_string(),
        host = fake.host(),
        ca = fake.ca_pem_path().display().to_string(),
    ));
    assert!(text.len() > 32 * 1024, "the config must be large");
    text
}

/// Every file name under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(all_files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_large_config_is_served_from_the_one_cache_entry_and_an_edit_takes_effect_at_once() {
    let fake = FakeGitHub::start(Options::default());
    fake.add_app(APP_ID, "Iv23liScale", "scale", &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, "acme", None);
    let mut env = TestEnv::new();
    let key = env.copy_key("app-key-pkcs1.pem");
    let tokens = env.root().join("tokens");
    let config = env.write_config(&big_config(&fake, &key, &tokens, "acme/*"));
    let request = format!("protocol=https\nhost={}\npath=acme/web.git\n", fake.host());
    let get = |env: &TestEnv| {
        run_with_stdin(env.helper(["--config", config.to_str().unwrap(), "get"]), request.as_bytes())
    };

    let first = get(&env);
    first.assert_success();
    assert_eq!(fake.mint_count(), 1);
    // Nothing is written outside cache_dir: no second cache of routing decisions.
    assert!(all_files(&env.xdg_cache()).is_empty(), "{:?}", all_files(&env.xdg_cache()));
    let token = fake.issued_tokens()[0].token.clone();

    env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let cached = get(&env);
    cached.assert_success();
    assert_eq!(cached.stdout, first.stdout);
    assert!(cached.stderr.contains("cache: hit"), "{cached}");
    assert!(!cached.stderr.contains(&token), "{cached}");
    assert_eq!(fake.mint_count(), 1);

    // Same size, other bytes: the new config decides at once.
    fs::write(&config, big_config(&fake, &key, &tokens, "acmf/*")).unwrap();
    let after_edit = get(&env);
    after_edit.assert_success();
    assert_eq!(after_edit.stdout, "", "the edited config no longer serves acme/web:\n{after_edit}");
    let mode = fs::metadata(&tokens).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}
