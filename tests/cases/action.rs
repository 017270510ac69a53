//! The GitHub Action (`action.yml`, `action/main.js`, `action/post.js`) run the way the runner
//! runs it: `node` with the inputs as `INPUT_*`, `RUNNER_OS`, `RUNNER_ARCH`, `RUNNER_TEMP` and the
//! `GITHUB_PATH`/`GITHUB_ENV`/`GITHUB_STATE` files, the post step with `STATE_*` from the main
//! step; against a release archive of the binary under test served from loopback
//! (`support::release`), then real git through the configured helper against the fake GitHub,
//! in the hermetic env of the shared world. Later steps see what the runner would give them:
//! `PATH` with the `GITHUB_PATH` lines in front, and the `GITHUB_ENV` variables.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::support::idp::{self, TestIdp};
use crate::support::oidc::FakeActionsOidc;
use crate::support::openbao::{OpenBao, sign_policy_name};
use crate::support::release::{FakeRelease, NAME, node_bin, runner_platform};
use crate::support::world::{APP_ID, OWNER, World, code, mode_of};
use crate::support::{RunOutput, TempDir, fixture_string, run, write_file};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One job on a fake runner: the world, the release, the runner's temp dir and file commands.
struct Job {
    w: World,
    release: FakeRelease,
    runner: TempDir,
    inputs: Vec<(String, String)>,
    /// A directory put first on the steps' `PATH` (wrappers of the programs they run).
    path_front: Option<PathBuf>,
}

impl Job {
    /// A job whose action inputs name the fake's host and the fake release; the key input is
    /// added by each test.
    fn new(w: World) -> Job {
        let (_, _, target) = runner_platform();
        let release = FakeRelease::start(VERSION, target, &crate::support::git_env::helper_path());
        let runner = TempDir::new("runner");
        for sub in ["temp", "files"] {
            fs::create_dir_all(runner.path().join(sub)).expect("creating runner dirs");
        }
        for file in ["path", "env", "state"] {
            write_file(&runner.path().join("files").join(file), "", 0o644);
        }
        let mut job = Job { w, release, runner, inputs: Vec::new(), path_front: None };
        job.input("app-id", &APP_ID.to_string());
        job.input("host", &job.w.fake.host());
        job.input("repos", "acme/*");
        job.input("base-url", &job.release.base_url());
        // The runner passes every input, with action.yml's default when the workflow gives none.
        job.input("read-public-repos", "false");
        job
    }

    fn input(&mut self, name: &str, value: &str) {
        self.inputs.push((format!("INPUT_{}", name.to_uppercase()), value.to_string()));
    }

    fn runner_temp(&self) -> PathBuf {
        self.runner.path().join("temp")
    }

    /// A runner file command's file (`path`, `env`, `state`) and its contents.
    fn file(&self, which: &str) -> (PathBuf, String) {
        let path = self.runner.path().join("files").join(which);
        let text = fs::read_to_string(&path).expect("reading a runner file");
        (path, text)
    }

    /// `name=value` lines of a runner file.
    fn pairs(&self, which: &str) -> Vec<(String, String)> {
        self.file(which)
            .1
            .lines()
            .map(|l| l.split_once('=').unwrap_or_else(|| panic!("not name=value: {l:?}")))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// `node action/SCRIPT.js` as the runner starts an action's step.
    fn step(&self, script: &str) -> RunOutput {
        let mut cmd = Command::new(node_bin());
        self.w.env.apply(&mut cmd);
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("action").join(script));
        let (os, arch, _) = runner_platform();
        cmd.env("RUNNER_OS", os).env("RUNNER_ARCH", arch).env("RUNNER_TEMP", self.runner_temp());
        for which in ["path", "env", "state"] {
            cmd.env(format!("GITHUB_{}", which.to_uppercase()), self.file(which).0);
        }
        cmd.env("GITHUB_ACTION_REPOSITORY", "acme/git-credential-github-app")
            .env("GITHUB_ACTION_REF", format!("v{VERSION}"));
        cmd.envs(self.inputs.iter().map(|(k, v)| (k, v)));
        if let Some(front) = &self.path_front {
            let mut path = vec![front.clone()];
            path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
            cmd.env("PATH", std::env::join_paths(path).expect("joining PATH"));
        }
        if script == "post.js" {
            cmd.envs(self.pairs("state").into_iter().map(|(k, v)| (format!("STATE_{k}"), v)));
        }
        let out = run(cmd);
        self.assert_log_masks_the_key(&out, script == "main.js");
        out
    }

    /// A later step's command: `PATH` with the `GITHUB_PATH` lines in front, the `GITHUB_ENV`
    /// variables set.
    fn later_step(&self, mut cmd: Command) -> Command {
        let mut path: Vec<PathBuf> = self.file("path").1.lines().rev().map(PathBuf::from).collect();
        path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        cmd.env("PATH", std::env::join_paths(path).expect("joining PATH"));
        cmd.envs(self.pairs("env"));
        cmd
    }

    /// The key reaches the log only inside `::add-mask::` commands (which the runner never
    /// shows), and (by the main step, which reads the key) each line of its body is masked.
    #[track_caller]
    fn assert_log_masks_the_key(&self, out: &RunOutput, masks: bool) {
        let shown: Vec<&str> = out.stdout.lines().filter(|l| !l.starts_with("::add-mask::")).collect();
        self.w.assert_no_secrets(&shown.join("\n"));
        self.w.assert_no_secrets(&out.stderr);
        let key = self.inputs.iter().find(|(k, _)| masks && k == "INPUT_PRIVATE-KEY");
        for line in key.map_or("", |(_, v)| v.as_str()).lines().filter(|l| !l.starts_with("-----")) {
            assert!(
                out.stdout.contains(&format!("::add-mask::{line}\n")),
                "a key line is not masked:\n{out}"
            );
        }
    }

    /// What `git config --global --list` shows.
    fn global_git_config(&self) -> String {
        let out = run(self.w.env.git(["config", "--global", "--list"]));
        out.stdout
    }

    /// Every file under RUNNER_TEMP.
    fn files_in_runner_temp(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.runner_temp(), &mut found);
        found
    }

    /// The main step succeeded and left the job's directory: (binary, key file or None, config).
    #[track_caller]
    fn installed(&self, main: &RunOutput) -> (PathBuf, Option<PathBuf>, PathBuf) {
        main.assert_success();
        assert!(main.stdout.contains("matches SHA256SUMS"), "{main}");
        let path_lines: Vec<String> = self.file("path").1.lines().map(str::to_string).collect();
        assert_eq!(path_lines.len(), 1, "GITHUB_PATH: {path_lines:?}");
        let bin_dir = PathBuf::from(&path_lines[0]);
        assert!(bin_dir.starts_with(self.runner_temp()), "{bin_dir:?}");
        let bin = bin_dir.join(NAME);
        assert!(bin.is_file(), "{bin:?}");
        let job_dir = bin_dir.parent().expect("job dir").to_path_buf();
        assert_eq!(mode_of(&job_dir), 0o700);
        let config = job_dir.join("config.toml");
        assert_eq!(mode_of(&config), 0o600);
        // GITHUB_ENV carries the config's path for later steps, and nothing else.
        let (_, env) = self.file("env");
        assert_eq!(env, format!("GIT_CREDENTIAL_GITHUB_APP_CONFIG={}\n", config.display()));
        for which in ["path", "env", "state"] {
            self.w.assert_no_secrets(&self.file(which).1);
        }
        let key = job_dir.join("app.pem");
        let key = key.exists().then_some(key);
        let mut asked = self.release.requests();
        asked.sort();
        let base = format!("/releases/download/v{VERSION}");
        assert_eq!(asked, [format!("{base}/SHA256SUMS"), format!("{base}/{}", self.release.archive_name())]);
        (bin, key, config)
    }

    /// The post step succeeded and left nothing: no git config, no file under RUNNER_TEMP.
    #[track_caller]
    fn cleaned_up(&self, post: &RunOutput) {
        post.assert_success();
        let config = self.global_git_config();
        assert!(!config.contains("credential"), "git config left behind:\n{config}");
        assert!(!config.contains(NAME), "git config left behind:\n{config}");
        assert_eq!(self.files_in_runner_temp(), Vec::<PathBuf>::new());
        let left: Vec<_> = fs::read_dir(self.runner_temp()).expect("reading RUNNER_TEMP").collect();
        assert!(left.is_empty(), "RUNNER_TEMP: {left:?}");
    }

    /// `git clone` of acme/web in a later step; must succeed.
    #[track_caller]
    fn clone(&self) {
        run(self.later_step(self.w.env.git(["clone", &self.w.fake.repo_url(OWNER, "web"), "web"])))
            .assert_success();
    }
}

#[test]
fn the_action_installs_the_release_configures_git_and_its_post_step_revokes_and_removes_everything() {
    let w = World::new();
    w.fake.create_repo(OWNER, "web");
    let mut job = Job::new(w);
    let pem = fixture_string("app-key-pkcs1.pem");
    job.input("private-key", &pem);

    let main = job.step("main.js");
    let (bin, key, config) = job.installed(&main);
    let key = key.expect("the key file");
    assert_eq!(mode_of(&key), 0o600);
    assert_eq!(fs::read_to_string(&key).expect("reading the key file"), pem);
    let toml = fs::read_to_string(&config).expect("reading the config");
    assert!(toml.contains(&format!("private_key_path = \"{}\"", key.display())), "{toml}");
    assert!(toml.contains("repos = [\"acme/*\"]"), "{toml}");
    assert!(!toml.contains("read_public_repos"), "{toml}");
    let git_config = job.global_git_config();
    assert!(
        git_config.contains(&format!(
            "{}.helper={} --config {}",
            job.w.fake.base_url(),
            bin.display(),
            config.display()
        )),
        "{git_config}"
    );

    // Later steps: git clones and pushes through the helper; `token` finds the binary on PATH
    // and the config through GITHUB_ENV.
    job.clone();
    fs::write(job.w.env.work().join("web/CHANGE.md"), "changed in CI\n").expect("writing a change");
    run(job.later_step(job.w.env.git(["-C", "web", "add", "CHANGE.md"]))).assert_success();
    run(job.later_step(job.w.env.git(["-C", "web", "commit", "-q", "-m", "change"]))).assert_success();
    run(job.later_step(job.w.env.git(["-C", "web", "push", "origin", "main"]))).assert_success();
    let mut token_cmd = Command::new(NAME);
    job.w.env.apply(&mut token_cmd);
    let mut token_cmd = job.later_step(token_cmd);
    token_cmd.args(["token", "acme/web"]);
    let out = run(token_cmd);
    out.assert_success();
    let token = out.stdout.trim().to_string();
    assert!(!job.w.issued(&token).revoked);
    assert_eq!(job.w.fake.mint_count(), 1, "one mint for clone, push and token");

    let post = job.step("post.js");
    job.cleaned_up(&post);
    assert!(job.w.issued(&token).revoked, "the post step revokes the job's token:\n{post}");
    // Git has no helper left for the host: it cannot authenticate, and does not prompt.
    let ls = run(job.w.env.git(["ls-remote", &job.w.fake.repo_url(OWNER, "web")]));
    assert!(!ls.success(), "{ls}");
}

#[test]
fn a_release_archive_that_does_not_match_sha256sums_is_not_installed() {
    let w = World::new();
    let mut job = Job::new(w);
    job.input("private-key", &fixture_string("app-key-pkcs1.pem"));
    job.release.tamper_with_archive();

    let main = job.step("main.js");
    assert_eq!(code(&main), Some(1), "{main}");
    let archive = job.release.archive_name();
    let error = format!("::error::{NAME}: {archive} does not match SHA256SUMS (sha256 ");
    assert!(main.stdout.contains(&error), "{main}");
    assert!(main.stdout.contains("refusing to install it"), "{main}");
    assert_eq!(job.file("path").1, "", "nothing on PATH");
    assert_eq!(job.file("env").1, "");
    assert_eq!(job.global_git_config(), "");
    let files = job.files_in_runner_temp();
    assert!(
        files.iter().all(|f| f.file_name().is_some_and(|n| n != NAME)),
        "a binary was extracted: {files:?}"
    );

    let post = job.step("post.js");
    job.cleaned_up(&post);
}

#[test]
fn with_the_vault_inputs_the_action_signs_in_openbao_with_the_jobs_oidc_token_and_writes_no_key() {
    const KEY: &str = "github-app-acme";
    const AUDIENCE: &str = "https://vault.example";
    let mut w = World::new();
    fs::remove_file(&w.key).expect("removing the world's key file");
    w.fake.create_repo(OWNER, "web");
    let bao = OpenBao::start_with_transit_key(KEY, &fixture_string("app-key-pkcs1.pem"));
    let idp = TestIdp::github_actions();
    bao.enable_jwt_login(
        "jwt",
        &idp,
        "actions",
        AUDIENCE,
        json!({"repository": "acme/*"}),
        &[&sign_policy_name(KEY)],
    );
    let oidc = FakeActionsOidc::start(
        idp.clone(),
        "runner-request-token",
        &idp::github_actions_sub("acme/web", "main"),
        idp::github_actions_claims("acme/web", "main"),
    );
    // The runner gives every step of a job with `id-token: write` these two variables.
    w.env.set_env("ACTIONS_ID_TOKEN_REQUEST_URL", &oidc.request_url());
    w.env.set_env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc.request_token());
    let mut job = Job::new(w);
    job.input("vault-addr", &bao.addr());
    job.input("transit-key", KEY);
    job.input("vault-role", "actions");
    job.input("audience", AUDIENCE);

    let main = job.step("main.js");
    let (_, key, config) = job.installed(&main);
    assert_eq!(key, None, "no key file for a vault-backed app");
    let toml = fs::read_to_string(&config).expect("reading the config");
    assert!(toml.contains(&format!("transit_key = \"{KEY}\"")), "{toml}");
    assert!(toml.contains("github_actions_audience = \"https://vault.example\""), "{toml}");
    assert!(!toml.contains("private_key"), "{toml}");

    job.clone();
    let asked = oidc.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].audience.as_deref(), Some(AUDIENCE));
    assert_eq!(job.w.fake.mint_count(), 1);
    let token = job.w.fake.issued_tokens()[0].token.clone();

    let post = job.step("post.js");
    job.cleaned_up(&post);
    assert!(job.w.issued(&token).revoked, "{post}");
}

/// The absolute path of `program` in this process's `PATH`.
fn in_path(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} not found in PATH"))
}

#[test]
fn the_key_reaches_no_program_the_action_runs_not_tar_nor_the_helper_nor_git() {
    let w = World::new();
    w.fake.create_repo(OWNER, "web");
    let mut job = Job::new(w);
    let pem = fixture_string("app-key-pkcs1.pem");
    job.input("private-key", &pem);
    // `tar` (run by the main step) and `git` (run by the helper, which passes its environment
    // on) append the environment they were given to a file, then run the real program.
    let wrappers = job.runner.path().join("wrappers");
    fs::create_dir_all(&wrappers).expect("creating the wrappers' dir");
    let seen = job.runner.path().join("seen-env");
    for program in ["tar", "git"] {
        // Perl, not sh: dash drops the variables whose names are not shell names, such as the
        // runner's INPUT_PRIVATE-KEY, before anything it runs could see them.
        let script = format!(
            "#!/usr/bin/perl\nopen(my $f, '>>', '{}') or die;\nprint $f \"$_=$ENV{{$_}}\\n\" for sort keys %ENV;\nclose $f;\nexec {{'{real}'}} '{real}', @ARGV or die;\n",
            seen.display(),
            real = in_path(program).display()
        );
        write_file(&wrappers.join(program), &script, 0o755);
    }
    job.path_front = Some(wrappers);

    let main = job.step("main.js");
    job.installed(&main);
    let post = job.step("post.js");
    job.cleaned_up(&post);
    let env = fs::read_to_string(&seen).expect("the wrappers ran");
    assert!(env.contains("GIT_CONFIG_GLOBAL="), "git ran: {env}");
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!env.contains(line), "a child of the action got the key in its environment");
    }
    assert!(!env.contains("INPUT_"), "a child of the action got the step's inputs");
}

#[test]
fn read_public_repos_true_writes_the_config_key_that_configure_accepts() {
    let w = World::new();
    let mut job = Job::new(w);
    job.input("private-key", &fixture_string("app-key-pkcs1.pem"));
    job.inputs.retain(|(k, _)| k != "INPUT_READ-PUBLIC-REPOS");
    job.input("read-public-repos", "true");

    let main = job.step("main.js");
    let (_, _, config) = job.installed(&main);
    let toml = fs::read_to_string(&config).expect("reading the config");
    assert!(toml.contains("\nrepos = [\"acme/*\"]\nread_public_repos = true\n"), "{toml}");
    let post = job.step("post.js");
    job.cleaned_up(&post);
}

#[test]
fn a_read_public_repos_value_other_than_true_or_false_is_refused_before_anything_is_installed() {
    let w = World::new();
    let mut job = Job::new(w);
    job.input("private-key", &fixture_string("app-key-pkcs1.pem"));
    job.inputs.retain(|(k, _)| k != "INPUT_READ-PUBLIC-REPOS");
    job.input("read-public-repos", "yes");
    let main = job.step("main.js");
    assert_eq!(code(&main), Some(1), "{main}");
    assert!(
        main.stdout
            .contains(&format!("::error::{NAME}: input read-public-repos is \"yes\": use true or false")),
        "{main}"
    );
    assert_eq!(job.file("path").1, "");
    assert_eq!(job.file("state").1, "", "no directory to clean up");
    assert_eq!(job.global_git_config(), "");
    assert_eq!(job.release.requests(), Vec::<String>::new(), "nothing was downloaded");
    assert_eq!(fs::read_dir(job.runner_temp()).expect("reading RUNNER_TEMP").count(), 0);
}

#[test]
fn action_yml_declares_exactly_the_inputs_the_scripts_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let yml = fs::read_to_string(root.join("action.yml")).expect("reading action.yml");
    assert!(yml.contains("\n  using: node24\n  main: action/main.js\n  post: action/post.js\n"), "{yml}");
    let inputs_block =
        yml.split("\ninputs:\n").nth(1).and_then(|s| s.split("\nruns:\n").next()).expect("inputs:");
    let declared: BTreeSet<&str> = inputs_block
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(':'))
        .filter(|name| !name.starts_with(' '))
        .collect();
    let script = fs::read_to_string(root.join("action/main.js")).expect("reading main.js");
    let read: BTreeSet<&str> = script.split("input('").skip(1).filter_map(|s| s.split('\'').next()).collect();
    let vault: BTreeSet<&str> = ["vault-addr", "transit-key", "vault-role", "audience"].into();
    let read: BTreeSet<&str> = read.union(&vault).copied().collect();
    let issue: BTreeSet<&str> = [
        "app-id",
        "private-key",
        "vault-addr",
        "transit-key",
        "vault-role",
        "audience",
        "repos",
        "host",
        "api-url",
        "read-public-repos",
        "version",
        "base-url",
    ]
    .into();
    assert_eq!(declared, issue);
    assert_eq!(read, issue);
}
