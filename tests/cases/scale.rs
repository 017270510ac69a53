//! Large configs: a cached `get` parses the config, routes and reads one
//! cache entry, whatever the config's size; nothing is cached beside the
//! entries, and any edit to the config decides at once.

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

/// Every file under `dir`, recursively.
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
    let mut w = World::new();
    let tokens = w.env.root().join("tokens");
    let cfg = w.config(big_config(&w, &tokens, "acme/*"));

    let first = w.get(&cfg, "acme/web.git");
    let token = w.served(&first);
    assert_eq!(w.fake.mint_count(), 1);
    // Nothing is written outside cache_dir: no second cache of routing decisions.
    let elsewhere = all_files(&w.env.xdg_cache());
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
    assert_eq!(mode_of(&tokens), 0o700);

    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let cached = w.get(&cfg, "acme/web.git");
    cached.assert_success();
    assert_eq!(cached.stdout, first.stdout);
    assert!(cached.stderr.contains("cache: hit"), "{cached}");
    assert!(!cached.stderr.contains(&token), "{cached}");
    assert_eq!(w.fake.mint_count(), 1);

    // Same size, other bytes: the new config decides at once.
    fs::write(&cfg, big_config(&w, &tokens, "acmf/*")).unwrap();
    let after_edit = w.get(&cfg, "acme/web.git");
    after_edit.assert_success();
    assert_eq!(after_edit.stdout, "", "the edited config no longer serves acme/web:\n{after_edit}");
}
