//! A shared, hostile machine: another user who can write to the cache directory,
//! planted tokens, symlinks and FIFOs, configs others can change, files that are devices or
//! FIFOs, a PEM pasted into the config, and a helper installed under an awkward path.

use std::fs;
use std::os::unix::fs::{PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::git_env::{helper_path, run, run_with_timeout};
use crate::support::world::{Config, INSTALLATION_ID, OWNER, PREFIX, World, files_with_prefix, request};
use crate::support::{RunOutput, set_mode};

/// `nobody`: the other user of these tests.
const OTHER_UID: u32 = 65534;
/// A hung helper fails the test after this instead of blocking it.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

fn config(w: &World, cache_dir: &Path) -> PathBuf {
    w.config(
        Config::new().cache_dir(cache_dir).timeout_secs(10).app(w.test_app().installation(INSTALLATION_ID)),
    )
}

fn get(w: &World, cfg: &Path) -> RunOutput {
    let input = format!("{}\n", request(&w.fake.host(), Some("acme/web.git")));
    run_with_timeout(w.cmd(cfg, &["get"]), Some(input.as_bytes()), HELPER_TIMEOUT)
}

/// The one cached entry's path (after a served `get`).
fn the_entry(cache_dir: &Path) -> PathBuf {
    let entries = files_with_prefix(cache_dir, "token-");
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

/// Replaces the token in `entry` with `planted` (expiry, minted_at untouched unless given).
fn plant(entry: &Path, planted: &str, expires_at: Option<u64>) {
    let mut json: serde_json::Value = serde_json::from_slice(&fs::read(entry).unwrap()).unwrap();
    json["token"] = planted.into();
    if let Some(at) = expires_at {
        json["expires_at"] = at.into();
    }
    fs::write(entry, json.to_string()).unwrap();
}

#[track_caller]
fn warned_once(out: &RunOutput, needles: &[&str]) {
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with(PREFIX), "{out}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} missing: {out}");
    }
}

// ---- the cache directory and its files ----

#[test]
fn a_token_planted_in_a_cache_dir_others_can_write_is_never_served_and_the_dir_is_named_once() {
    let w = World::new();
    let cache_dir = w.env.root().join("cache");
    let cfg = config(&w, &cache_dir);
    w.served(&get(&w, &cfg));
    plant(&the_entry(&cache_dir), "ghs_PlantedByAnotherUser", None);
    set_mode(&cache_dir, 0o777);

    let out = get(&w, &cfg);
    let token = w.served(&out);
    assert_ne!(token, "ghs_PlantedByAnotherUser");
    assert_eq!(w.fake.mint_count(), 2);
    let dir = cache_dir.display().to_string();
    warned_once(&out, &[&dir, &format!("chmod 700 {dir}"), "without the cache"]);
    assert_eq!(fs::metadata(&cache_dir).unwrap().permissions().mode() & 0o777, 0o777, "not tightened");
}

#[test]
fn a_token_planted_in_an_entry_others_can_write_is_never_served() {
    let w = World::new();
    let cache_dir = w.env.root().join("cache");
    let cfg = config(&w, &cache_dir);
    w.served(&get(&w, &cfg));
    let entry = the_entry(&cache_dir);
    plant(&entry, "ghs_PlantedByAnotherUser", None);
    set_mode(&entry, 0o666);
    let token = w.served(&get(&w, &cfg));
    assert_ne!(token, "ghs_PlantedByAnotherUser");
    assert_eq!(w.fake.mint_count(), 2);
}

#[test]
fn an_entry_that_expires_later_than_github_allows_is_never_served() {
    let w = World::new();
    let cache_dir = w.env.root().join("cache");
    let cfg = config(&w, &cache_dir);
    w.served(&get(&w, &cfg));
    plant(&the_entry(&cache_dir), "ghs_PlantedForever", Some(u64::MAX));
    let token = w.served(&get(&w, &cfg));
    assert_ne!(token, "ghs_PlantedForever");
    assert_eq!(w.fake.mint_count(), 2);
}

/// The debug build's seam (src/main.rs) that fixes the suffix of the cache's temp files, so a
/// test can plant a link at the exact name the helper will create.
const TEMP_SUFFIX_ENV: &str = "GIT_CREDENTIAL_GITHUB_APP_DEBUG_TEMP_SUFFIX";
const SUFFIX: &str = "0123456789abcdef";

/// A symlink at `name` in `dir` to `victim`, owned by the other user when we can (root).
fn plant_link(dir: &Path, name: &str, victim: &Path) {
    let path = dir.join(name);
    let _ = fs::remove_file(&path);
    symlink(victim, &path).unwrap();
    if lchown(&path, Some(OTHER_UID), Some(OTHER_UID)).is_err() {
        eprintln!("skipping the other user's ownership: cannot chown as this user (not root)");
    }
}

#[test]
fn symlinks_planted_at_the_entry_the_lock_and_the_exact_temp_name_are_refused_not_followed() {
    let w = World::new();
    let cache_dir = w.env.root().join("cache");
    let cfg = config(&w, &cache_dir);
    // Learn the entry's name, then empty the directory. It stays private (0700): the helper
    // uses it, so every open below is one the helper really makes.
    w.served(&get(&w, &cfg));
    let name = the_entry(&cache_dir).file_name().unwrap().to_str().unwrap().to_string();
    let stem = name.trim_end_matches(".json").to_string();
    let lock = format!("{stem}.lock");
    let temp = format!(".{name}.tmp.{SUFFIX}");
    fs::remove_file(cache_dir.join(&name)).unwrap();
    fs::remove_file(cache_dir.join(&lock)).unwrap();
    assert_eq!(fs::metadata(&cache_dir).unwrap().permissions().mode() & 0o777, 0o700);
    let victim = w.env.root().join("victim");
    fs::write(&victim, "untouched").unwrap();
    let get_fixed = || {
        let input = format!("{}\n", request(&w.fake.host(), Some("acme/web.git")));
        let mut cmd = w.cmd(&cfg, &["get"]);
        cmd.env(TEMP_SUFFIX_ENV, SUFFIX);
        run_with_timeout(cmd, Some(input.as_bytes()), HELPER_TIMEOUT)
    };

    // The lock: opened with O_NOFOLLOW, so the link is refused and the helper mints uncached.
    plant_link(&cache_dir, &lock, &victim);
    let out = get_fixed();
    w.served(&out);
    assert!(
        out.stderr.contains(&format!("cannot lock {}: it is a symlink", cache_dir.join(&lock).display())),
        "{out}"
    );
    fs::remove_file(cache_dir.join(&lock)).unwrap();

    // The entry and the exact temp name: the entry is read with O_NOFOLLOW (a miss), and the
    // temp file is created with O_CREAT|O_EXCL|O_NOFOLLOW, which fails on the link.
    plant_link(&cache_dir, &name, &victim);
    plant_link(&cache_dir, &temp, &victim);
    let out = get_fixed();
    w.served(&out);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched", "written through the planted temp name");
    assert!(
        out.stderr.contains(&format!("cannot write cache entry {}", cache_dir.join(&name).display())),
        "{out}"
    );
    assert!(fs::symlink_metadata(cache_dir.join(&temp)).unwrap().file_type().is_symlink());

    // With the temp name free, the new entry is renamed over the planted link, not written through it.
    fs::remove_file(cache_dir.join(&temp)).unwrap();
    w.served(&get_fixed());
    assert!(fs::symlink_metadata(cache_dir.join(&name)).unwrap().file_type().is_file());

    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
    assert_eq!(fs::metadata(&victim).unwrap().permissions().mode() & 0o777, 0o644);
    assert_eq!(w.fake.mint_count(), 4);
}

#[test]
fn fifos_at_the_lock_and_entry_paths_never_hang_a_get() {
    let w = World::new();
    let cache_dir = w.env.root().join("cache");
    let cfg = config(&w, &cache_dir);
    w.served(&get(&w, &cfg));
    let entry = the_entry(&cache_dir);
    let lock = entry.with_extension("lock");
    for path in [&entry, &lock] {
        let _ = fs::remove_file(path);
        let made = Command::new("mkfifo").arg(path).status().expect("mkfifo");
        assert!(made.success());
    }
    let started = Instant::now();
    let out = get(&w, &cfg);
    w.served(&out);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    warned_once(&out, &["FIFO", "without the cache"]);
}

// ---- files the helper reads ----

#[test]
fn a_config_others_can_change_is_refused_naming_the_file_and_the_chmod() {
    let w = World::new();
    let cfg = config(&w, &w.env.root().join("cache"));
    set_mode(&cfg, 0o666);
    let line = w.failed(&get(&w, &cfg));
    let path = cfg.display().to_string();
    assert!(line.contains(&path) && line.contains(&format!("chmod go-w {path}")), "{line}");
    assert!(w.fake.requests().is_empty());
}

#[test]
#[ignore = "needs root"]
fn a_config_of_another_user_is_refused() {
    let w = World::new();
    let cfg = config(&w, &w.env.root().join("cache"));
    lchown(&cfg, Some(OTHER_UID), None).expect("only root can give a file to another user");
    let line = w.failed(&get(&w, &cfg));
    assert!(line.contains(&cfg.display().to_string()) && line.contains("uid 65534"), "{line}");
}

#[test]
fn a_config_key_or_ca_file_that_is_a_device_or_fifo_fails_at_once_naming_it() {
    let w = World::new();
    let fifo = w.env.root().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    set_mode(&fifo, 0o600);
    let started = Instant::now();
    for config in [Path::new("/dev/zero"), &fifo] {
        let line = w.failed(&get(&w, config));
        assert!(
            line.contains(&config.display().to_string()) && line.contains("not a regular file"),
            "{line}"
        );
    }
    let with_key = w.config(Config::new().app(w.test_app().key_file(&fifo).installation(INSTALLATION_ID)));
    let line = w.failed(&get(&w, &with_key));
    assert!(line.contains("private key file") && line.contains("is a FIFO"), "{line}");
    let with_ca = w.config(Config::new().app(w.test_app().ca_file(&fifo).installation(INSTALLATION_ID)));
    let line = w.failed(&get(&w, &with_ca));
    assert!(line.contains("ca_file") && line.contains("is a FIFO"), "{line}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn an_ssl_cert_file_that_is_a_fifo_fails_within_timeout_secs_naming_it() {
    let mut w = World::builder().no_trust_in_env().start();
    let fifo = w.env.root().join("certs-fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    // No ca_file, no GIT_SSL_CAINFO, no http.sslCAInfo: the system store, which reads SSL_CERT_FILE.
    w.env.set_env("SSL_CERT_FILE", fifo.to_str().unwrap());
    let cfg =
        w.config(Config::new().timeout_secs(3).app(w.test_app().no_ca_file().installation(INSTALLATION_ID)));
    let started = Instant::now();
    let line = w.failed(&get(&w, &cfg));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(
        line.contains("SSL_CERT_FILE") && line.contains(&format!("{} is a FIFO", fifo.display())),
        "{line}"
    );
    assert_eq!(w.fake.mint_count(), 0);
}

#[test]
fn configure_ends_within_timeout_secs_when_git_hangs_on_a_fifo_its_config_includes() {
    let w = World::new();
    let fifo = w.env.root().join("included-fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    // Every git command reads the global config at start-up, and blocks opening the FIFO.
    fs::write(w.env.global_config(), format!("[include]\n\tpath = {}\n", fifo.display())).unwrap();
    let cfg = w.config(Config::new().timeout_secs(3).app(w.test_app().installation(INSTALLATION_ID)));
    for args in [&["configure", "--dry-run"][..], &["configure"], &["unconfigure"]] {
        let started = Instant::now();
        let out = run_with_timeout(w.cmd(&cfg, args), None, HELPER_TIMEOUT);
        assert!(started.elapsed() < Duration::from_secs(10), "{args:?} took {:?}", started.elapsed());
        let line = w.failed(&out);
        assert!(line.contains("git config") && line.contains("did not finish within timeout_secs"), "{line}");
    }
}

#[test]
fn a_get_whose_git_config_query_hangs_names_git_not_github() {
    let w = World::new();
    let fifo = w.env.root().join("included-fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    fs::write(w.env.global_config(), format!("[include]\n\tpath = {}\n", fifo.display())).unwrap();
    // No proxy in the environment: git's http.proxy could matter, so git is asked.
    let cfg = w.config(Config::new().timeout_secs(3).app(w.test_app().installation(INSTALLATION_ID)));
    let started = Instant::now();
    let line = w.failed(&get(&w, &cfg));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(line.contains("git config --get-urlmatch http") && line.contains("timeout_secs"), "{line}");
    assert!(!line.contains("POST"), "{line}");
    assert_eq!(w.fake.mint_count(), 0);
}

#[test]
fn a_config_or_ca_file_over_its_size_cap_is_refused_naming_it() {
    let w = World::new();
    let big = w.env.root().join("big.toml");
    let mut text = String::from("# padding\n");
    text.push_str(&"#".repeat(1024 * 1024 + 1));
    fs::write(&big, text).unwrap();
    set_mode(&big, 0o600);
    let line = w.failed(&get(&w, &big));
    assert!(line.contains("big.toml") && line.contains("larger than 1 MiB"), "{line}");

    let bundle = w.env.root().join("huge-ca.pem");
    fs::write(&bundle, vec![b'A'; 5 * 1024 * 1024]).unwrap();
    let cfg = w.config(Config::new().app(w.test_app().ca_file(&bundle).installation(INSTALLATION_ID)));
    let line = w.failed(&get(&w, &cfg));
    assert!(line.contains("huge-ca.pem") && line.contains("larger than 4 MiB"), "{line}");
}

// ---- secrets never echoed ----

#[test]
fn a_pem_pasted_into_the_config_is_never_echoed_by_any_command() {
    let w = World::new();
    let pem = fs::read_to_string(&w.key).unwrap();
    let body = pem.trim().replace('\n', "\\n");
    let installation = format!("installation_id = {INSTALLATION_ID}");
    for (key, pasted) in [
        ("app_id", format!("app_id = \"{body}\"")),
        ("name", format!("{}\nname = \"\"\"\n{pem}\"\"\"", w.app(&installation))),
        ("repos", format!("{}\nrepos = [\"{body}\"]", w.app(&installation))),
        ("permissions", format!("{}\npermissions = {{ contents = \"{body}\" }}", w.app(&installation))),
        ("a key name", format!("{}\n{} = 1", w.app(&installation), pem.lines().nth(1).unwrap())),
        ("bare lines", format!("{}\n{pem}", w.app(&installation))),
    ] {
        let cfg = w.config(if key == "app_id" { format!("[[app]]\n{pasted}\n") } else { pasted });
        for args in
            [&["get"][..], &["token", "acme/web"], &["doctor"], &["explain", "acme/web"], &["cache", "list"]]
        {
            let out = if args == ["get"] { get(&w, &cfg) } else { w.run(&cfg, args) };
            for line in pem.lines().filter(|l| !l.is_empty()) {
                assert!(!out.stderr.contains(line) && !out.stdout.contains(line), "{key} {args:?}: {out}");
            }
        }
    }
}

#[test]
fn control_characters_in_a_host_from_git_are_escaped_in_trace_lines() {
    let mut w = World::new();
    let cfg = config(&w, &w.env.root().join("cache"));
    w.env.set_env("GIT_CREDENTIAL_GITHUB_APP_TRACE", "1");
    let input = "protocol=https\nhost=evil\u{1b}]0;owned\u{7}.example\npath=acme/web.git\n\n";
    let out = run_with_timeout(w.cmd(&cfg, &["get"]), Some(input.as_bytes()), HELPER_TIMEOUT);
    out.assert_success();
    assert!(out.stderr.contains("evil\\u{1b}]0;owned\\u{7}.example"), "{out}");
    assert!(!out.stderr.contains(['\u{1b}', '\u{7}']), "{out}");
}

#[test]
fn control_characters_in_a_path_from_git_are_escaped_in_the_declined_and_erase_lines() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    let host = w.fake.host();
    let line =
        w.declined(&w.helper(&cfg, "get", request(&host, Some("other/we\u{1b}]0;owned\u{7}b")).as_bytes()));
    assert!(!line.contains(['\u{1b}', '\u{7}']), "{line:?}");
    assert!(line.contains("other/we\\u{1b}]0;owned\\u{7}b"), "{line:?}");

    // An lfs path routes to the app, so erase names it.
    let input = format!(
        "{}username=x-access-token\npassword=ghs_notCached\n",
        request(&host, Some("acme/web/info/lfs/\u{1b}[31m"))
    );
    let out = w.helper(&cfg, "erase", input.as_bytes());
    out.assert_success();
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(!out.stderr.contains('\u{1b}'), "{out}");
    assert!(out.stderr.contains("acme/web/info/lfs/\\u{1b}[31m"), "{out}");
}

// ---- configure for any binary path ----

#[test]
fn configure_from_a_path_with_spaces_quotes_and_non_ascii_writes_a_helper_git_can_run() {
    let w = World::new();
    w.fake.create_repo(OWNER, "widgets");
    let dir = w.env.root().join("my tools").join("Übung \"q\" it's $HOME");
    fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("git-credential-github-app");
    // A hard link: a copy's write handle, inherited by a process another test forks at that
    // moment, can make running the copy fail with ETXTBSY.
    if fs::hard_link(helper_path(), &copy).is_err() {
        fs::copy(helper_path(), &copy).unwrap();
        // Retry while such a handle may still be open elsewhere (ETXTBSY is error 26).
        let probe = || Command::new(&copy).arg("--version").output();
        for _ in 0..100 {
            match probe() {
                Err(e) if e.raw_os_error() == Some(26) => std::thread::yield_now(),
                _ => break,
            }
        }
    }
    let cfg = config(&w, &w.env.root().join("cache"));

    let mut configure = Command::new(&copy);
    w.env.apply(&mut configure);
    configure.args([Path::new("--config"), &cfg, Path::new("configure")]);
    run(configure).assert_success();

    let out =
        run_with_timeout(w.env.git(["ls-remote", &w.fake.repo_url(OWNER, "widgets")]), None, HELPER_TIMEOUT);
    assert!(out.stdout.contains("refs/heads/main"), "{out}");
    assert_eq!(w.fake.mint_count(), 1, "the copy under the awkward path minted: {out}");
}
