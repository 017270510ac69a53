//! Clients other than git that take git's credentials: git-lfs asks `git credential fill` for
//! the LFS endpoint of the repository, and gets the same token through the helper.

use std::fs;

use crate::support::world::{INSTALLATION_ID, OWNER, World};
use crate::support::{RunOutput, run};

/// The sha256 of `bytes`, as git-lfs names the object.
fn oid(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn git(w: &World, args: &[&str]) -> RunOutput {
    let out = run(w.env.git(args));
    out.assert_success();
    out
}

/// git with `args`, which must succeed; its output is not needed.
fn git_ok(w: &World, args: &[&str]) {
    run(w.env.git(args)).assert_success();
}

#[test]
fn git_lfs_pushes_and_pulls_objects_with_the_helpers_token() {
    let w = World::new();
    w.fake.create_repo(OWNER, "assets");
    let cfg = w.config(w.app(&format!("installation_id = {INSTALLATION_ID}\nrepos = [\"acme/*\"]")));
    w.use_helper_in_git_for_host(&cfg);
    git_ok(&w, &["lfs", "install", "--skip-repo"]);

    let url = w.fake.repo_url(OWNER, "assets");
    git_ok(&w, &["clone", &url, "assets"]);
    git_ok(&w, &["-C", "assets", "lfs", "track", "*.bin"]);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    fs::write(w.env.work().join("assets/big.bin"), &data).unwrap();
    git_ok(&w, &["-C", "assets", "add", ".gitattributes", "big.bin"]);
    git_ok(&w, &["-C", "assets", "commit", "-q", "-m", "an LFS object"]);
    let out = git(&w, &["-C", "assets", "push", "origin", "main"]);
    w.assert_output_has_no_secrets(&out);
    assert_eq!(w.fake.lfs_objects(OWNER, "assets"), [oid(&data)], "{out}");

    // A fresh clone smudges the object back through the batch API's download action.
    let out = git(&w, &["clone", &url, "again"]);
    w.assert_output_has_no_secrets(&out);
    assert_eq!(fs::read(w.env.work().join("again/big.bin")).unwrap(), data);
    let batches: Vec<_> =
        w.fake.requests().into_iter().filter(|r| r.path.ends_with("/info/lfs/objects/batch")).collect();
    let authorized = batches.iter().filter(|r| r.header("authorization").is_some()).count();
    assert!(authorized >= 2, "an upload and a download batch carried the token: {batches:?}");
    assert!(batches.iter().all(|r| r.status != Some(403)), "{batches:?}");
    assert_eq!(w.fake.mint_count(), 1, "git and git-lfs shared one cached token");
}
