//! Arguments keep their bytes: a path that is not UTF-8, given to each path option, is the
//! file the helper opens, never its look-alike with U+FFFD in place of the odd bytes (which
//! another user could create in a shared directory). Each look-alike here holds something
//! that would make the run fail if it were read.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use crate::support::world::{APP_ID, INSTALLATION_ID, World, code, request};
use crate::support::{fixture_string, run_with_stdin, write_file};

/// `DIR/STEM\xffSUFFIX`, and its look-alike `DIR/STEM\u{FFFD}SUFFIX` (what a lossy reading makes of it).
fn odd_and_look_alike(dir: &Path, stem: &str, suffix: &str) -> (PathBuf, PathBuf) {
    let mut odd = stem.as_bytes().to_vec();
    odd.push(0xff);
    odd.extend_from_slice(suffix.as_bytes());
    let odd = dir.join(OsString::from_vec(odd));
    let look_alike = dir.join(format!("{stem}\u{FFFD}{suffix}"));
    assert_eq!(odd.to_string_lossy(), look_alike.to_string_lossy());
    (odd, look_alike)
}

/// `--flag=VALUE` with VALUE's bytes.
fn joined(flag: &str, value: &Path) -> OsString {
    let mut arg = OsString::from(format!("{flag}="));
    arg.push(value.as_os_str());
    arg
}

fn app_options(w: &World) -> Vec<OsString> {
    [
        "--app-id",
        &APP_ID.to_string(),
        "--host",
        &w.fake.host(),
        "--installation-id",
        &INSTALLATION_ID.to_string(),
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

#[test]
fn a_private_key_path_that_is_not_utf8_is_the_file_read() {
    let w = World::new();
    let (odd, look_alike) = odd_and_look_alike(w.key.parent().unwrap(), "app-key", ".pem");
    fs::rename(&w.key, &odd).unwrap();
    // Another app's key: a JWT signed with it is refused by the fake.
    write_file(&look_alike, fixture_string("other-key-pkcs1.pem"), 0o600);
    let ca = w.fake.ca_pem_path().as_os_str().to_owned();
    for key in [
        vec![OsString::from("--private-key-path"), odd.clone().into()],
        vec![joined("--private-key-path", &odd)],
    ] {
        let mut cmd = w.env.helper(app_options(&w));
        cmd.args(&key).arg("--ca-file").arg(&ca).arg("get");
        let out = run_with_stdin(cmd, request(&w.fake.host(), Some("acme/web.git")).as_bytes());
        w.served(&out);
    }
}

#[test]
fn a_ca_file_that_is_not_utf8_is_the_only_file_trusted() {
    // Nothing trusted from the environment: only the file named can make the fake trusted.
    let w = World::builder().no_trust_in_env().start();
    let (odd, look_alike) = odd_and_look_alike(w.env.root(), "ca", ".pem");
    fs::copy(w.fake.ca_pem_path(), &odd).unwrap();
    write_file(&look_alike, "not a certificate\n", 0o644);
    let mut cmd = w.env.helper(app_options(&w));
    cmd.arg("--private-key-path").arg(&w.key).arg(joined("--ca-file", &odd)).arg("get");
    let out = run_with_stdin(cmd, request(&w.fake.host(), Some("acme/web.git")).as_bytes());
    w.served(&out);
}

#[test]
fn a_config_path_that_is_not_utf8_is_the_file_read() {
    let w = World::new();
    let cfg = w.config(w.test_app().installation(INSTALLATION_ID));
    let (odd, look_alike) = odd_and_look_alike(w.env.root(), "config", ".toml");
    fs::rename(&cfg, &odd).unwrap();
    write_file(&look_alike, "this is not TOML\n", 0o600);
    for args in [vec![OsString::from("--config"), odd.clone().into()], vec![joined("--config", &odd)]] {
        let mut cmd = w.env.helper(&args);
        cmd.arg("get");
        let out = run_with_stdin(cmd, request(&w.fake.host(), Some("acme/web.git")).as_bytes());
        w.served(&out);
    }
}

#[test]
fn configure_refuses_a_path_it_cannot_write_into_git_config_unchanged() {
    let w = World::new();
    let cfg = w.config(w.test_app().installation(INSTALLATION_ID));
    let root = w.env.root().to_path_buf();
    // `--file`: git is run with text arguments, so a path that is not UTF-8 is refused
    // rather than handed to git as its look-alike.
    let (odd, look_alike) = odd_and_look_alike(&root, "gitconfig", "");
    let mut cmd = w.cmd(&cfg, &["configure", "--file"]);
    cmd.arg(&odd);
    let out = crate::support::run(cmd);
    assert_eq!(code(&out), Some(2), "{out}");
    assert!(out.stderr.contains("--file") && out.stderr.contains("not UTF-8"), "{out}");
    assert!(!odd.exists() && !look_alike.exists());
    // A key path that git config would have to carry.
    let (key, key_look_alike) = odd_and_look_alike(w.key.parent().unwrap(), "app-key", ".pem");
    fs::rename(&w.key, &key).unwrap();
    let mut cmd = w.env.helper(app_options(&w));
    cmd.arg("--private-key-path").arg(&key).arg("configure");
    let out = crate::support::run(cmd);
    assert_eq!(code(&out), Some(2), "{out}");
    assert!(out.stderr.contains("--private-key-path") && out.stderr.contains("not UTF-8"), "{out}");
    let gitconfig = fs::read(w.env.global_config()).unwrap_or_default();
    assert!(!gitconfig.windows(3).any(|b| b == "\u{FFFD}".as_bytes()), "a look-alike was written");
    assert!(!key_look_alike.exists());
}
