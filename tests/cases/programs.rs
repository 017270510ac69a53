//! Programs named in the config run from where the config says, never from the repository
//! git is working in: git runs the helper in the repository's worktree, and a repository can
//! commit any file it likes there (`bin/fetch-key`, a directory named `~`, a `fetch-key` for a
//! `PATH` with `.` in it).

use std::path::{Path, PathBuf};

use crate::support::world::{Config, INSTALLATION_ID, OWNER, World};
use crate::support::{run, toml_string, write_file};

/// A key command that leaves `marker` behind, then prints the test app's key.
fn key_script(marker: &Path, key: &Path) -> String {
    format!("#!/bin/sh\ntouch '{}'\nexec cat '{}'\n", marker.display(), key.display())
}

/// A clone of `acme/web` whose worktree holds the repository's own `bin/fetch-key`,
/// `~/bin/fetch-key` and `fetch-key`, each leaving `marker` if run.
fn hostile_clone(w: &World, marker: &Path) -> PathBuf {
    w.fake.create_repo(OWNER, "web");
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    w.use_helper_in_git(&cfg);
    run(w.env.git(["clone", &w.fake.repo_url(OWNER, "web"), "web"])).assert_success();
    let clone = w.env.work().join("web");
    let script = key_script(marker, &w.key);
    for planted in ["bin/fetch-key", "~/bin/fetch-key", "fetch-key"] {
        write_file(&clone.join(planted), &script, 0o755);
    }
    run(w.env.git(["-C", "web", "add", "."])).assert_success();
    run(w.env.git(["-C", "web", "commit", "-q", "-m", "a key command of our own"])).assert_success();
    clone
}

/// A config in its own directory (with its own cache, so each fetch mints) whose key is
/// `private_key_command = [program]`; git uses it from now on.
fn use_key_command(w: &World, name: &str, program: &str) -> PathBuf {
    use_command(w, name, "private_key_command", program)
}

/// The same with `key` (`private_key_command` or `sign_command`) naming `program`.
fn use_command(w: &World, name: &str, key: &str, program: &str) -> PathBuf {
    let dir = w.env.root().join(name);
    let app =
        w.test_app().installation(INSTALLATION_ID).key_lines(&format!("{key} = [{}]", toml_string(program)));
    let config = dir.join("config.toml");
    write_file(&config, Config::new().cache_dir(&dir.join("cache")).app(app).to_string(), 0o600);
    w.use_helper_in_git(&config);
    dir
}

#[test]
fn a_key_command_the_repository_commits_is_never_run_by_git_fetch() {
    let mut w = World::new();
    let marker = w.env.root().join("the-repository-program-ran");
    let clone = hostile_clone(&w, &marker);
    assert!(clone.join("~/bin/fetch-key").exists() && clone.join("bin/fetch-key").exists());
    for (name, program) in [("relative", "bin/fetch-key"), ("tilde", "~/bin/fetch-key")] {
        use_key_command(&w, name, program);
        let fetch = run(w.env.git(["-C", "web", "fetch", "origin"]));
        assert!(!marker.exists(), "git fetch ran the repository's {program}:\n{fetch}");
        assert!(!fetch.success(), "{fetch}");
    }
    // A PATH that would search the working directory: only its absolute entries count.
    let path = std::env::var("PATH").unwrap_or_default();
    w.env.set_env("PATH", &format!(".::bin:{path}"));
    use_key_command(&w, "bare", "fetch-key");
    let fetch = run(w.env.git(["-C", "web", "fetch", "origin"]));
    assert!(!marker.exists(), "git fetch ran the repository's fetch-key through PATH:\n{fetch}");
    assert!(!fetch.success(), "{fetch}");
    assert!(fetch.stderr.contains("not found in PATH"), "{fetch}");
}

#[test]
fn a_relative_key_command_runs_from_the_config_files_directory() {
    let w = World::new();
    let marker = w.env.root().join("the-repository-program-ran");
    hostile_clone(&w, &marker);
    let ours = w.env.root().join("our-program-ran");
    let dir = use_key_command(&w, "configured", "bin/fetch-key");
    write_file(&dir.join("bin/fetch-key"), key_script(&ours, &w.key), 0o755);
    let fetch = run(w.env.git(["-C", "web", "fetch", "origin"]));
    fetch.assert_success();
    assert!(ours.exists() && !marker.exists(), "{fetch}");
}

#[test]
fn a_sign_command_the_repository_commits_is_never_run_by_git_fetch() {
    let w = World::new();
    let marker = w.env.root().join("the-repository-program-ran");
    hostile_clone(&w, &marker);
    for (name, program) in [("relative", "bin/fetch-key"), ("tilde", "~/bin/fetch-key")] {
        use_command(&w, name, "sign_command", program);
        let fetch = run(w.env.git(["-C", "web", "fetch", "origin"]));
        assert!(!marker.exists(), "git fetch ran the repository's {program} as sign_command:\n{fetch}");
        assert!(!fetch.success(), "{fetch}");
    }
}
