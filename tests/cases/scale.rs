//! Large configs: past 32 KiB a cached `get` answers through the route memo
//! instead of parsing every `[[app]]`, and any change to the config's bytes
//! sends it back to a full parse.

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
    assert!(text.len() > git_credential_github_app::memo::THRESHOLD, "the config must be large");
    text
}

fn route_files(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).expect("the default cache dir exists");
    let paths = entries.filter_map(Result::ok).map(|e| e.path());
    paths.filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("route-"))).collect()
}

#[test]
fn a_large_config_is_answered_through_the_route_memo_until_its_bytes_change() {
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
    let memo_dir = env.xdg_cache().join("git-credential-github-app");
    let memos = route_files(&memo_dir);
    assert_eq!(memos.len(), 1, "one memo in the default cache dir, beside a custom cache_dir");
    let memo_text = fs::read_to_string(&memos[0]).unwrap();
    let token = fake.issued_tokens()[0].token.clone();
    assert!(!memo_text.contains(&token), "a memo never holds the token");
    assert_eq!(fs::metadata(&memos[0]).unwrap().permissions().mode() & 0o777, 0o600);

    env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let cached = get(&env);
    cached.assert_success();
    assert_eq!(cached.stdout, first.stdout);
    assert!(cached.stderr.contains("route memo"), "{cached}");
    assert!(!cached.stderr.contains(&token), "{cached}");
    assert_eq!(fake.mint_count(), 1);

    // Same size, other bytes: the memo no longer applies and the new config decides.
    fs::write(&config, big_config(&fake, &key, &tokens, "acmf/*")).unwrap();
    let after_edit = get(&env);
    after_edit.assert_success();
    assert_eq!(after_edit.stdout, "", "the edited config no longer serves acme/web:\n{after_edit}");
    assert!(!after_edit.stderr.contains("route memo"), "{after_edit}");
}
