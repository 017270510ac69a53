//! Crash safety and a hostile environment: a helper killed while holding the
//! lock, a cache directory that cannot be written, that is a symlink or that
//! belongs to someone else, and config files readable by others.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{FakeGitHub, Fault, Options, TestEnv, fixture_string, run_with_stdin};

const APP_ID: u64 = 5151;
const INSTALLATION_ID: u64 = 616;
const PREFIX: &str = "git-credential-github-app: ";

fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start(Options::default());
    fake.add_app(APP_ID, "Iv23liRobust", "robust", &fixture_string("app-key.pub.pem"));
    fake.add_installation(INSTALLATION_ID, APP_ID, "acme", None);
    fake
}

/// A config for the fake with `cache_dir` set to `cache_dir`.
fn config(env: &TestEnv, fake: &FakeGitHub, cache_dir: &Path) -> PathBuf {
    config_with_key(env, fake, cache_dir, &env.copy_key("app-key-pkcs1.pem"))
}

fn config_with_key(env: &TestEnv, fake: &FakeGitHub, cache_dir: &Path, key: &Path) -> PathBuf {
    env.write_config(&format!(
        "cache_dir = {cache:?}\n\n[[app]]\napp_id = {APP_ID}\nprivate_key_path = {key:?}\nhost = {host:?}\ninstallation_id = {INSTALLATION_ID}\nca_file = {ca:?}\n",
        cache = cache_dir.display().to_string(),
        key = key.display().to_string(),
        host = fake.host(),
        ca = fake.ca_pem_path().display().to_string(),
    ))
}

fn request(fake: &FakeGitHub) -> Vec<u8> {
    format!("protocol=https\nhost={}\npath=acme/web.git\n", fake.host()).into_bytes()
}

fn token_of(stdout: &str) -> &str {
    stdout.lines().find_map(|l| l.strip_prefix("password=")).expect("a password line")
}

#[test]
fn a_helper_killed_while_holding_the_lock_leaves_the_cache_usable() {
    let fake = fake();
    let env = TestEnv::new();
    let cache_dir = env.root().join("cache");
    let config = config(&env, &fake, &cache_dir);
    // The first helper takes the entry's lock, then waits forever for GitHub.
    fake.push_fault("POST", "/app/installations/", Fault::Hang);
    let mut first = env.helper(["--config", config.to_str().unwrap(), "get"]);
    let mut first = first.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = first.stdin.take().unwrap();
        stdin.write_all(&request(&fake)).unwrap();
    }
    assert!(fake.wait_for_count("POST", "/app/installations/", 1, Duration::from_secs(20)));
    first.kill().unwrap(); // SIGKILL: no destructor runs, the kernel drops the flock.
    first.wait().unwrap();

    let started = Instant::now();
    let out = run_with_stdin(env.helper(["--config", config.to_str().unwrap(), "get"]), &request(&fake));
    out.assert_success();
    assert!(started.elapsed() < Duration::from_secs(10), "the next get waited for a dead lock holder");
    assert_eq!(fake.mint_count(), 1);
    assert_eq!(token_of(&out.stdout), fake.issued_tokens()[0].token);
    let again = run_with_stdin(env.helper(["--config", config.to_str().unwrap(), "get"]), &request(&fake));
    assert_eq!(token_of(&again.stdout), token_of(&out.stdout));
    assert_eq!(fake.mint_count(), 1);
}

#[test]
fn an_unusable_cache_dir_still_answers_by_minting_and_says_so_once() {
    let fake = fake();
    let env = TestEnv::new();
    // A file where a directory should be: no user can create the cache there, root included.
    let blocker = env.root().join("not-a-dir");
    fs::write(&blocker, "").unwrap();
    let config = config(&env, &fake, &blocker.join("cache"));
    for round in 1..=2 {
        let out = run_with_stdin(env.helper(["--config", config.to_str().unwrap(), "get"]), &request(&fake));
        out.assert_success();
        assert_eq!(token_of(&out.stdout), fake.issued_tokens()[round - 1].token);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        assert!(lines[0].starts_with(PREFIX) && lines[0].contains("without the cache"), "{out}");
        assert!(lines[0].contains("not-a-dir"), "{out}");
    }
    assert_eq!(fake.mint_count(), 2);
}

#[test]
fn a_cache_dir_that_is_a_symlink_is_refused_and_nothing_is_written_through_it() {
    let fake = fake();
    let env = TestEnv::new();
    let elsewhere = env.root().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o700)).unwrap();
    let link = env.root().join("cache-link");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let config = config(&env, &fake, &link);
    let out = run_with_stdin(env.helper(["--config", config.to_str().unwrap(), "get"]), &request(&fake));
    out.assert_success();
    assert!(out.stderr.contains("symlink") && out.stderr.contains("cache-link"), "{out}");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0, "something was written through the symlink");
}

#[test]
fn a_cache_dir_owned_by_another_user_is_refused_and_its_planted_token_ignored() {
    let fake = fake();
    let env = TestEnv::new();
    let cache_dir = env.root().join("cache");
    let config = config(&env, &fake, &cache_dir);
    // A real entry, then the directory handed to another user.
    let out = run_with_stdin(env.helper(["--config", config.to_str().unwrap(), "get"]), &request(&fake));
    out.assert_success();
    let me = fs::metadata(&cache_dir).unwrap().uid();
    let other = me + 4242;
    if std::os::unix::fs::chown(&cache_dir, Some(other), None).is_err() {
        // Only root can give a directory away; the unit test in src/cache.rs covers the rule itself.
        eprintln!("skipping: cannot chown as uid {me}");
        return;
    }
    let out = run_with_stdin(env.helper(["--config", config.to_str().unwrap(), "get"]), &request(&fake));
    out.assert_success();
    assert!(out.stderr.contains(&format!("belongs to uid {other}")), "{out}");
    assert_eq!(fake.mint_count(), 2, "the entry in a foreign directory was trusted");
    assert_eq!(token_of(&out.stdout), fake.issued_tokens()[1].token);
}

#[test]
fn a_config_readable_by_others_is_fine_but_a_key_readable_by_others_is_refused() {
    let fake = fake();
    let env = TestEnv::new();
    let cache_dir = env.root().join("cache");
    let config = config(&env, &fake, &cache_dir);
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_with_stdin(env.helper(["--config", config.to_str().unwrap(), "get"]), &request(&fake));
    out.assert_success();

    let shared_key = env.root().join("shared.pem");
    fs::copy(env.copy_key("app-key-pkcs1.pem"), &shared_key).unwrap();
    fs::set_permissions(&shared_key, fs::Permissions::from_mode(0o644)).unwrap();
    let config = config_with_key(&env, &fake, &env.root().join("fresh-cache"), &shared_key);
    let out = run_with_stdin(env.helper(["--config", config.to_str().unwrap(), "get"]), &request(&fake));
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.stdout.is_empty());
    assert!(out.stderr.starts_with(PREFIX) && out.stderr.contains("chmod 600"), "{out}");
    assert!(!out.stderr.contains("BEGIN"), "{out}");
}
