//! Crash safety and a hostile environment: garbage on stdin, a helper killed while holding the
//! lock, a cache directory that cannot be written, that is a symlink or that belongs to someone
//! else, and config files readable by others.

use std::fs;
#[cfg(unix)]
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::Fault;
use crate::support::world::{Config, INSTALLATION_ID, MINTS, PREFIX, World, request};

/// A config for the test app with its key at `key` and `cache_dir` set to `cache_dir`.
fn config(w: &World, cache_dir: &Path, key: &Path) -> PathBuf {
    w.config(Config::new().cache_dir(cache_dir).app(w.test_app().key_file(key).installation(INSTALLATION_ID)))
}

#[test]
fn garbage_on_stdin_never_crashes_the_helper() {
    let w = World::new();
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}")));
    let host = w.fake.host();

    for input in [
        Vec::new(),
        b"\xff\xfe\x00\x80garbage without a newline".to_vec(),
        [format!("protocol=https\nhost={host}").as_bytes(), b"\xff\npath=acme/web\n"].concat(),
        b"=\n==\n\n\n".to_vec(),
    ] {
        let out = w.helper(&cfg, "get", &input);
        w.not_served(&out);
    }

    // A 2 MB wwwauth[] line and non-UTF-8 in a key the helper does not use: still served.
    let mut huge =
        format!("capability[]=authtype\ncapability[]=state\nprotocol=https\nhost={host}\n").into_bytes();
    huge.extend_from_slice(b"wwwauth[]=Basic realm=\"");
    huge.extend(std::iter::repeat_n(b'w', 2 << 20));
    huge.extend_from_slice(b"\"\nwwwauth[]=\xff\xfe\npath=acme/web.git\n");
    let token = w.served(&w.helper(&cfg, "get", &huge));

    // CRLF line ends, as some tools write them.
    let crlf = request(&host, Some("acme/web.git")).replace('\n', "\r\n");
    assert_eq!(w.served(&w.helper(&cfg, "get", crlf.as_bytes())), token);
    // Erase with the same garbage must not crash either.
    let out = w.helper(&cfg, "erase", &huge);
    out.assert_success();
    assert_eq!(out.stdout, "");
    w.assert_no_secrets(&out.stderr);
}

#[test]
fn a_helper_killed_while_holding_the_lock_leaves_the_cache_usable() {
    let w = World::new();
    let cfg = config(&w, &w.env.root().join("cache"), &w.key);
    // The first helper takes the entry's lock, then waits forever for GitHub.
    w.fake.push_fault("POST", MINTS, Fault::Hang);
    let mut first = w.cmd(&cfg, &["get"]);
    let mut first = first.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = first.stdin.take().unwrap();
        stdin.write_all(request(&w.fake.host(), Some("acme/web.git")).as_bytes()).unwrap();
    }
    assert!(w.fake.wait_for_count("POST", MINTS, 1, Duration::from_secs(20)));
    first.kill().unwrap(); // SIGKILL: no destructor runs, the kernel drops the flock.
    first.wait().unwrap();

    let started = Instant::now();
    let out = w.get(&cfg, "acme/web.git");
    let token = w.served(&out);
    assert!(started.elapsed() < Duration::from_secs(10), "the next get waited for a dead lock holder");
    assert_eq!(w.fake.mint_count(), 1);
    assert_eq!(token, w.fake.issued_tokens()[0].token);
    let again = w.get(&cfg, "acme/web.git");
    assert_eq!(w.served(&again), token);
    assert_eq!(w.fake.mint_count(), 1);
}

#[test]
fn an_unusable_cache_dir_still_answers_by_minting_and_says_so_once() {
    let w = World::new();
    // A file where a directory should be: no user can create the cache there, root included.
    let blocker = w.env.root().join("not-a-dir");
    fs::write(&blocker, "").unwrap();
    let cfg = config(&w, &blocker.join("cache"), &w.key);
    for round in 1..=2 {
        let out = w.get(&cfg, "acme/web.git");
        assert_eq!(w.served(&out), w.fake.issued_tokens()[round - 1].token);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        assert!(lines[0].starts_with(PREFIX) && lines[0].contains("without the cache"), "{out}");
        assert!(lines[0].contains("not-a-dir"), "{out}");
    }
    assert_eq!(w.fake.mint_count(), 2);
}

#[cfg(unix)]
#[test]
fn a_cache_dir_that_is_a_symlink_is_refused_and_nothing_is_written_through_it() {
    let w = World::new();
    let elsewhere = w.env.root().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o700)).unwrap();
    let link = w.env.root().join("cache-link");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let cfg = config(&w, &link, &w.key);
    let out = w.get(&cfg, "acme/web.git");
    w.served(&out);
    assert!(out.stderr.contains("symlink") && out.stderr.contains("cache-link"), "{out}");
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0, "something was written through the symlink");
}

#[cfg(unix)]
#[test]
#[ignore = "needs root"]
fn a_cache_dir_owned_by_another_user_is_refused_and_its_planted_token_ignored() {
    let w = World::new();
    let cache_dir = w.env.root().join("cache");
    let cfg = config(&w, &cache_dir, &w.key);
    // A real entry, then the directory handed to another user.
    w.served(&w.get(&cfg, "acme/web.git"));
    let me = fs::metadata(&cache_dir).unwrap().uid();
    let other = me + 4242;
    // Only root can give a directory away; a unit test of the cache covers the rule itself.
    std::os::unix::fs::chown(&cache_dir, Some(other), None).expect("only root can give a directory away");
    let out = w.get(&cfg, "acme/web.git");
    let token = w.served(&out);
    assert!(out.stderr.contains(&format!("belongs to uid {other}")), "{out}");
    assert_eq!(w.fake.mint_count(), 2, "the entry in a foreign directory was trusted");
    assert_eq!(token, w.fake.issued_tokens()[1].token);
}

#[cfg(unix)]
#[test]
fn a_config_readable_by_others_is_fine_but_a_key_readable_by_others_is_refused() {
    let w = World::new();
    let cfg = config(&w, &w.env.root().join("cache"), &w.key);
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o644)).unwrap();
    w.served(&w.get(&cfg, "acme/web.git"));

    let shared_key = w.env.root().join("shared.pem");
    fs::copy(&w.key, &shared_key).unwrap();
    fs::set_permissions(&shared_key, fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = config(&w, &w.env.root().join("fresh-cache"), &shared_key);
    let out = w.get(&cfg, "acme/web.git");
    let line = w.failed(&out);
    assert!(line.contains("chmod 600"), "{out}");
    assert!(!out.stderr.contains("BEGIN"), "{out}");
}

/// Whether process `pid` is gone (no longer listed, or a zombie waiting for init, which in a
/// container may never reap it) within 5 s: SIGKILL is delivered asynchronously, and the stdout
/// it held closes before it is a zombie. Linux's `/proc`.
#[cfg(target_os = "linux")]
fn gone(pid: &str) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let dead = match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with(['Z', 'X'])),
        };
        if dead || Instant::now() > until {
            return dead;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_key_or_sign_command_that_leaves_a_child_holding_stdout_neither_stalls_the_mint_nor_outlives_it() {
    use crate::support::toml_string as q;
    let w = World::new();
    let pid_file = w.env.root().join("background-pid");
    let leave = format!("sleep 100 & echo $! > {}", pid_file.display());
    let key_command = format!("cat {}; {leave}", w.key.display());
    let sign_command = format!("openssl dgst -sha256 -sign {}; {leave}", w.key.display());
    for (n, lines) in [
        format!("private_key_command = [\"sh\", \"-c\", {}]", q(&key_command)),
        format!("sign_command = [\"sh\", \"-c\", {}]", q(&sign_command)),
    ]
    .iter()
    .enumerate()
    {
        let cache = w.env.root().join(format!("cache-{n}"));
        let cfg = w.config(
            Config::new()
                .timeout_secs(30)
                .cache_dir(&cache)
                .app(w.test_app().key_lines(lines).installation(INSTALLATION_ID)),
        );
        let started = Instant::now();
        let out = w.get(&cfg, "acme/web");
        // The `sleep` holds the command's stdout: waiting for its end would take all 30 s.
        assert!(started.elapsed() < Duration::from_secs(15), "{lines}: took {:?}", started.elapsed());
        w.served(&out);
        let pid = fs::read_to_string(&pid_file).unwrap();
        assert!(gone(pid.trim()), "{lines}: its background sleep {} outlived it", pid.trim());
    }
    assert_eq!(w.fake.mint_count(), 2);
}
