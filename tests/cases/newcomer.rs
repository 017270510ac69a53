//! What a newcomer trips over: each of these messages says how to fix it, in terms of what the
//! user has (the setting and its line, the app and the file, a web page for a release binary).

use std::fs;

use crate::support::world::{APP_ID, INSTALLATION_ID, OWNER, PREFIX, World, code, request};
use crate::support::{run, toml_path, toml_string};

#[test]
fn a_repository_outside_every_pattern_says_which_apps_repos_to_add_it_to() {
    let w = World::new();
    let cfg = w.config(w.app("repos = [\"acme/*\"]"));
    let line = w.declined(&w.helper(&cfg, "get", request(&w.fake.host(), Some("other/web.git")).as_bytes()));
    assert!(
        line.ends_with(&format!(
            ": to serve it, add \"other/web\" (or \"other/*\") to `repos` of app {APP_ID} (#1 in the config) in config file {}",
            cfg.display()
        )),
        "{line}"
    );

    // Two apps for the host: either may take it.
    let two =
        w.config(format!("{}\n{}", w.app("repos = [\"acme/*\"]"), w.other_app("repos = [\"acme/web\"]")));
    let out = w.run(&two, &["token", &format!("https://{}/other/web", w.fake.host())]);
    let line = w.failed(&out);
    assert!(
        line.ends_with(&format!(
            "to `repos` of one of the apps for {} in config file {}",
            w.fake.host(),
            two.display()
        )),
        "{line}"
    );

    // An app given by flags: the flag to add.
    let mut flags = w.env.helper(["--app-id", &APP_ID.to_string(), "--private-key-path"]);
    flags.arg(&w.key).args(["--repos", "acme/*", "--host", &w.fake.host(), "token", "other/web"]);
    let line = w.failed(&run(flags));
    assert!(
        line.ends_with(
            ": to serve it, add --repos other/web (or --repos 'other/*') to the app's options, here and in git's helper command"
        ),
        "{line}"
    );
    assert_eq!(w.fake.requests().len(), 0);
}

#[test]
fn a_missing_key_file_names_private_key_path_its_line_and_the_app() {
    let w = World::new();
    let missing = w.env.root().join("keys").join("acme-ci.pem");
    let cfg = w.config(format!(
        "# the CI app\n\n[[app]]\nname = \"acme-ci\"\napp_id = {APP_ID}\nprivate_key_path = {}\ninstallation_id = {INSTALLATION_ID}\nhost = {}\nca_file = {}\n",
        toml_path(&missing),
        toml_string(&w.fake.host()),
        toml_path(w.fake.ca_pem_path())
    ));
    let line = w.failed(&w.get(&cfg, "acme/web.git"));
    assert_eq!(
        line,
        format!(
            "{PREFIX}app \"acme-ci\" ({APP_ID}, #1 in the config): cannot read private key file {} (set by private_key_path on line 6 of config file {}): No such file or directory (os error 2)",
            missing.display(),
            cfg.display()
        )
    );

    // The same app on the command line: the flag.
    let mut cmd = w.env.helper(["--app-id", &APP_ID.to_string(), "--private-key-path"]);
    cmd.arg(&missing).args(["--installation-id", &INSTALLATION_ID.to_string(), "--host", &w.fake.host()]);
    cmd.args(["token", &format!("{OWNER}/web")]);
    let line = w.failed(&run(cmd));
    assert!(line.contains(&format!("{} (set by --private-key-path): ", missing.display())), "{line}");
}

#[test]
fn an_operator_command_without_a_config_names_the_web_page_of_the_config_format_for_this_version() {
    let w = World::new();
    let out = run(w.env.helper(["doctor"]));
    assert_eq!(code(&out), Some(1), "{out}");
    let default = w.env.xdg_config().join("git-credential-github-app").join("config.toml");
    assert!(!default.exists());
    assert_eq!(
        out.stderr,
        format!(
            "{PREFIX}no config file at {}: create it (the format is at {}/blob/v{}/docs/configuration.md) or pass --config PATH\n",
            default.display(),
            env!("CARGO_PKG_REPOSITORY"),
            env!("CARGO_PKG_VERSION")
        )
    );
    // The page it names is the one in this repository.
    assert!(
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md"))
            .expect("reading docs/configuration.md")
            .contains("## Where the config file is")
    );
}
