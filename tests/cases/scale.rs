//! Large configs: past 32 KiB a cached `get` answers through the route memo
//! instead of parsing every `[[app]]`, and any change to the config's bytes
//! sends it back to a full parse.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::world::{Config, INSTALLATION_ID, World, mode_of};

/// The size past which a config counts as large.
const LARGE: usize = 32 * 1024;

/// 400 apps for other owners, then the test app serving `acme_pattern` on the fake.
fn big_config(w: &World, tokens: &Path, acme_pattern: &str) -> String {
    let mut config = Config::new().cache_dir(tokens);
    for i in 1..=400 {
        let filler = w
            .test_app()
            .id(i)
            .key_file(Path::new(&format!("/nonexistent/k{i}.pem")))
            .no_ca_file()
            .line(&format!("repos = [\"filler{i}/*\"]"))
            .installation(i);
        config = config.app(filler);
    }
    let acme = w.test_app().line(&format!("repos = [{acme_pattern:?}]")).installation(INSTALLATION_ID);
    let text = config.app(acme).to_string();
    assert!(text.len() > LARGE, "the config must be large: {} bytes", text.len());
    text
}

fn route_files(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).expect("the default cache dir exists");
    let paths = entries.filter_map(Result::ok).map(|e| e.path());
    paths.filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("route-"))).collect()
}

#[test]
fn a_large_config_is_answered_through_the_route_memo_until_its_bytes_change() {
    let mut w = World::new();
    let tokens = w.env.root().join("tokens");
    let cfg = w.config(big_config(&w, &tokens, "acme/*"));

    let first = w.get(&cfg, "acme/web.git");
    let token = w.served(&first);
    assert_eq!(w.fake.mint_count(), 1);
    let memos = route_files(&w.cache_dir());
    assert_eq!(memos.len(), 1, "one memo in the default cache dir, beside a custom cache_dir");
    let memo_text = fs::read_to_string(&memos[0]).unwrap();
    assert!(!memo_text.contains(&token), "a memo never holds the token");
    assert_eq!(mode_of(&memos[0]), 0o600);

    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let cached = w.get(&cfg, "acme/web.git");
    cached.assert_success();
    assert_eq!(cached.stdout, first.stdout);
    assert!(cached.stderr.contains("route memo"), "{cached}");
    assert!(!cached.stderr.contains(&token), "{cached}");
    assert_eq!(w.fake.mint_count(), 1);

    // Same size, other bytes: the memo no longer applies and the new config decides.
    fs::write(&cfg, big_config(&w, &tokens, "acmf/*")).unwrap();
    let after_edit = w.get(&cfg, "acme/web.git");
    after_edit.assert_success();
    assert_eq!(after_edit.stdout, "", "the edited config no longer serves acme/web:\n{after_edit}");
    assert!(!after_edit.stderr.contains("route memo"), "{after_edit}");
}
