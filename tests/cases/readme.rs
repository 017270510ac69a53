//! Documented examples are what the helper prints: the `explain` example of README.md and of
//! docs/commands.md is compared, line by line, with a real run against the fake GitHub, after the
//! run's test-specific values (host, API URL, IDs, paths, times) are replaced by the example's.

use std::path::Path;

use crate::support::git_env::helper_path;
use crate::support::run;
use crate::support::world::{APP_ID, INSTALLATION_ID, OWNER, World};

/// The fenced block that follows the text `marker` in the file `doc` of the repository.
fn doc_block(doc: &str, marker: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(doc))
        .unwrap_or_else(|e| panic!("reading {doc}: {e}"));
    let after = text.split_once(marker).unwrap_or_else(|| panic!("{doc} has no {marker:?}")).1;
    let block = after.split_once("```\n").expect("a fenced block after the marker").1;
    block.split_once("```\n").expect("the block's end").0.to_string()
}

/// `YYYY-MM-DD HH:MM:SS UTC` and `N min left` become placeholders (they are the run's times).
fn without_times(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut words: Vec<String> = Vec::new();
        let mut tokens = line.split(' ').peekable();
        while let Some(t) = tokens.next() {
            let is_date =
                t.len() == 10 && t.as_bytes().get(4) == Some(&b'-') && t.as_bytes().get(7) == Some(&b'-');
            if is_date {
                let _time = tokens.next();
                words.push("DATE TIME".to_string());
            } else if t.trim_start_matches('(').parse::<u64>().is_ok() && tokens.peek() == Some(&"min") {
                words.push(format!("{}N", if t.starts_with('(') { "(" } else { "" }));
            } else {
                words.push(t.to_string());
            }
        }
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

#[test]
fn the_explain_examples_of_the_readme_and_commands_md_are_what_explain_prints_after_configure_and_a_clone() {
    let w = World::new();
    w.fake.create_repo(OWNER, "web");
    let cfg = w.config(
        w.app(&format!("name = \"acme-ci\"\ninstallation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")),
    );
    w.run(&cfg, &["configure"]).assert_success();
    run(w.env.git(["clone", "-q", &w.fake.repo_url(OWNER, "web"), "web"])).assert_success();

    let url = format!("{}/acme/web.git", w.fake.base_url());
    let out = w.run(&cfg, &["explain", &url]);
    out.assert_success();
    let shown = format!("$ git-credential-github-app explain {url}\n{}", out.stdout)
        .replace(&format!("{}/api/v3", w.fake.base_url()), "https://api.github.com")
        .replace(&w.fake.host(), "github.com")
        .replace(&cfg.display().to_string(), "/home/ci/.config/git-credential-github-app/config.toml")
        .replace(&w.key.display().to_string(), "/home/ci/.config/git-credential-github-app/acme-ci.pem")
        .replace(&w.env.global_config().display().to_string(), "/home/ci/.gitconfig")
        .replace(&helper_path().display().to_string(), "/home/ci/.cargo/bin/git-credential-github-app")
        .replace(&w.fake.ca_pem_path().display().to_string(), "/etc/ssl/acme-ca.pem")
        .replace(&format!("({APP_ID}, "), "(123456, ")
        .replace(&format!("{INSTALLATION_ID} ("), "987654 (");
    for (doc, marker) in [
        ("README.md", "checks this example against a real run):"),
        ("docs/commands.md", "but does not lock or change them."),
    ] {
        let example = doc_block(doc, marker);
        assert_eq!(
            without_times(&example),
            without_times(&shown),
            "{doc}'s explain example differs from a real run:\n{shown}"
        );
    }
}
