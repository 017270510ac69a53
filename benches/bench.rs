//! The helper's benchmark: whole-process timings against the loopback fake GitHub (TLS, test
//! CA), printed as one markdown report on stdout. Run it with `scripts/bench.sh`, which
//! installs `hyperfine`, builds the release binary and then runs `cargo bench --bench bench`.
//!
//! Everything is measured from outside, as git sees it: a process started with git's request
//! on stdin, timed to its exit. The rows:
//! - cached `get` next to the glibc (dynamically linked) build of the same code when
//!   `BENCH_GLIBC_HELPER` names it, `git credential-store get` (a credential for the same host
//!   and path in a store file) and `cat` of the same input (the floor: start a process, read,
//!   write), all in one hyperfine run;
//! - a cold mint (`--prepare` deletes the cached tokens): config, key, JWT, `git config`
//!   lookup, TLS to the fake, one POST, locked write; the glibc build beside it;
//! - 32 and 128 concurrent cold `get`s, with the mints the fake saw and the distinct tokens
//!   the processes answered (both must be 1 per round);
//! - peak RSS (`/usr/bin/time -f %M`) of a cached and of a minting `get` (both builds);
//! - a cached `get` with 1, 100 and 1000 `[[app]]` entries (the served app last, every other
//!   app on the same host with its own pattern, so routing scans them all), a cached `get`
//!   of a repository that only the `read_public_repos` fallback serves (no pattern matches it:
//!   the shared read-only entry), and with 1 and 1000 token entries in the cache directory;
//! - the fleet of keyless runners: `BENCH_FLEET` (50) simulated runners, each with its own cache dir and
//!   no key, doing a cold `get` at once through a loopback OpenBao's Transit engine (with a
//!   vault token, and with a workload-identity JWT login, first fresh then kept): wall time,
//!   vault requests per mint (from OpenBao's audit log), GitHub mints; and the cold mint
//!   median via Transit next to the local-key mint, timed alike (spawn to exit, alternated).
//!   Skipped, with a note, when the `bao` binary is missing (`scripts/test.sh` installs it).
//!
//! Every process runs in a hermetic environment (`TestEnv`: temp HOME and XDG dirs, empty
//! global gitconfig, no system gitconfig, environment cleared except PATH), so nothing of the
//! machine (`SSL_CERT_*`, `GIT_SSL_CAINFO`, a user's gitconfig) changes what is measured.
//!
//! With a hyperfine that has `--input` (1.16 and later; `scripts/bench.sh` installs 1.20 with
//! cargo when the one on PATH lacks it), every command runs as `hyperfine -N --input request
//! CMD`: no shell at all, the process alone is timed. hyperfine 1.15 (Debian 12) has no
//! `--input`, so there every timed command is `sh -c 'CMD < request'`, run with `-N` (no shell
//! of hyperfine's own, so no subtraction of a calibrated shell time: that correction is noisy at
//! 1 ms and produced medians of 0.0 in trials). Every row then includes the same `sh` start,
//! shown by its own row (`sh -c ': < request'`).
//!
//! Knobs (environment): `BENCH_HELPER` (binary to measure, default the one cargo built;
//! `scripts/bench.sh` passes the static musl release build), `BENCH_GLIBC_HELPER` (the glibc
//! build to compare with, optional),
//! `BENCH_RUNS` (300), `BENCH_WARMUP` (10), `BENCH_MINT_RUNS` (100), `BENCH_ROUNDS` (10),
//! `BENCH_RSS_RUNS` (20), `BENCH_COMMAND` (the command line printed in the report),
//! `BENCH_FLEET` (50), `BENCH_FLEET_ONLY` (only the fleet section), `BENCH_SETUP_ONLY` (set up, print the paths and a `hermetic` wrapper script, and keep the
//! fake running until stdin closes: for profiling by hand). The whole run takes well under a
//! minute once built.

// The tests build scripts and git arguments from paths and compare with what the helper
// prints on this machine: `Path::display` is what they mean (clippy.toml forbids it in src/).
#![allow(clippy::disallowed_methods)]
// Unix only (it drives processes through tests/support, which uses std::os::unix); elsewhere
// it is an empty crate, so `cargo clippy --all-targets` checks the rest for Windows.
#![cfg_attr(not(unix), no_main)]
#![cfg(unix)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::idp::TestIdp;
use support::openbao::{OpenBao, sign_policy_name};
use support::{FakeGitHub, Options, TestEnv, fixture_string, run_with_stdin, write_file};

const APP_ID: u64 = 4242;
const INSTALLATION_ID: u64 = 777;
const OWNER: &str = "acme";
const REPO_PATH: &str = "acme/web.git";

// The targets docs/performance.md reports against.
const MINT_TARGET_MS: f64 = 10.0;
const RSS_TARGET_KIB: u64 = 10 * 1024;
/// A cached `get` with 100 `[[app]]` within this factor of one with 1 (no second cache allowed).
const CONFIG_GROWTH_TARGET: f64 = 1.5;
// The static build's cached `get` against git's own helper and against `cat`.
const STORE_RATIO_TARGET: f64 = 0.7;
const CAT_RATIO_TARGET: f64 = 1.2;

fn main() {
    let settings = Settings::from_env();
    let helper = std::env::var_os("BENCH_HELPER").map_or_else(support::git_env::helper_path, PathBuf::from);
    assert!(helper.is_file(), "no helper binary at {}", helper.display());
    let glibc = std::env::var_os("BENCH_GLIBC_HELPER").filter(|p| !p.is_empty()).map(PathBuf::from);
    if let Some(glibc) = &glibc {
        assert!(glibc.is_file(), "no glibc helper binary at {}", glibc.display());
    }
    for tool in ["hyperfine", "git", "sh", "cat"] {
        assert!(which(tool).is_some(), "{tool} is not on PATH (scripts/bench.sh installs hyperfine)");
    }
    assert!(Path::new("/usr/bin/time").is_file(), "/usr/bin/time (GNU time) is needed for peak RSS");

    let bench = Bench::new(helper, glibc, settings);
    if std::env::var_os("BENCH_SETUP_ONLY").is_some() {
        bench.hold();
        return;
    }
    if std::env::var_os("BENCH_FLEET_ONLY").is_some() {
        let started = Instant::now();
        let load_before = loadavg();
        let fleet = bench.fleet();
        print!("{}", fleet_report(fleet.as_ref(), (load_before, loadavg()), started.elapsed()));
        return;
    }
    let report = bench.run();
    print!("{report}");
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    runs: u32,
    warmup: u32,
    mint_runs: u32,
    rounds: u32,
    rss_runs: u32,
}

impl Settings {
    fn from_env() -> Settings {
        let get = |name: &str, default: u32| {
            std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&v: &u32| v > 0).unwrap_or(default)
        };
        Settings {
            runs: get("BENCH_RUNS", 300),
            warmup: get("BENCH_WARMUP", 10),
            mint_runs: get("BENCH_MINT_RUNS", 100),
            rounds: get("BENCH_ROUNDS", 10),
            rss_runs: get("BENCH_RSS_RUNS", 20),
        }
    }
}

/// The fake, the hermetic environment and the files every row uses.
struct Bench {
    settings: Settings,
    helper: PathBuf,
    /// The glibc build to compare with (`BENCH_GLIBC_HELPER`).
    glibc: Option<PathBuf>,
    /// hyperfine has `--input`: commands run without a shell.
    direct: bool,
    fake: FakeGitHub,
    env: TestEnv,
    /// git's request for `get`, as git 2.47 sends it after a 401 with `useHttpPath`.
    input: PathBuf,
    /// The default cache dir (`$XDG_CACHE_HOME/git-credential-github-app`).
    cache_dir: PathBuf,
    /// `git credential-store --file` holding a credential for the same host and path.
    store: PathBuf,
    /// `--config` files with 1, 100, 1000 apps (default cache dir).
    app_configs: Vec<(usize, PathBuf)>,
    /// A `--config` file whose one app's pattern does not match the request's repository,
    /// with `read_public_repos`: the fallback serves it (default cache dir).
    fallback_config: PathBuf,
    /// `--config` files whose cache dir holds 1 and 1000 token entries.
    entry_configs: Vec<(usize, PathBuf, PathBuf)>,
}

/// hyperfine's statistics for one command, in milliseconds.
#[derive(Debug, Clone)]
struct Stat {
    median: f64,
    mean: f64,
    stddev: f64,
    min: f64,
    max: f64,
    runs: usize,
}

impl Stat {
    fn of(times: &[f64]) -> Stat {
        let n = times.len() as f64;
        let mean = times.iter().sum::<f64>() / n;
        let var = times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        Stat {
            median: median(times),
            mean,
            stddev: var.sqrt(),
            min: times.iter().copied().fold(f64::INFINITY, f64::min),
            max: times.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            runs: times.len(),
        }
    }
}

/// Peak RSS: the median and the samples, in KiB.
type Rss = (u64, Vec<u64>);

struct Row {
    name: String,
    command: String,
    stat: Stat,
    note: String,
}

/// One fleet round: every runner's cold `get` started at once.
struct FleetRound {
    wall_ms: f64,
    /// Mints GitHub (the fake) saw.
    mints: usize,
    /// Transit sign calls and JWT logins OpenBao's audit log recorded.
    signs: usize,
    logins: usize,
    failures: usize,
}

struct Fleet {
    n: usize,
    token_rounds: Vec<FleetRound>,
    /// The first round logs in afresh; the later ones reuse the kept login.
    login_rounds: Vec<FleetRound>,
    transit_mint: Stat,
    local_mint: Stat,
    bao_startup_ms: f64,
}

const FLEET_KEY: &str = "bench-app";
const FLEET_AUDIENCE: &str = "https://vault.bench.example";

/// The fleet section of the report (or why it is missing).
fn fleet_report(fleet: Option<&Fleet>, load: (String, String), elapsed: Duration) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "\n## Fleet: keyless runners minting through OpenBao Transit\n");
    let Some(f) = fleet else {
        let _ = writeln!(
            r,
            "Skipped: the OpenBao `bao` binary is not installed (`scripts/test.sh` installs it)."
        );
        return r;
    };
    let _ = writeln!(
        r,
        "{} runners, each with its own cache dir and no key: a cold `get` each, all started at once, against a loopback OpenBao dev server (in memory, started in {:.0} ms) and the loopback fake GitHub. Load average {} at start, {} at end of this section ({:.0} s).\n",
        f.n,
        f.bao_startup_ms,
        load.0,
        load.1,
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        r,
        "| fleet round | wall (ms) | GitHub mints | vault sign calls | vault logins | vault requests per mint | failed runners |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let rows = f.token_rounds.iter().map(|x| ("`$VAULT_TOKEN`", x)).chain(
        f.login_rounds.iter().enumerate().map(|(i, x)| {
            (if i == 0 { "`[vault.login]` JWT, fresh login" } else { "`[vault.login]` JWT, kept login" }, x)
        }),
    );
    for (name, x) in rows {
        let per_mint = (x.signs + x.logins) as f64 / x.mints.max(1) as f64;
        let _ = writeln!(
            r,
            "| {name} | {:.0} | {} | {} | {} | {per_mint:.2} | {} |",
            x.wall_ms, x.mints, x.signs, x.logins, x.failures
        );
    }
    let t = &f.transit_mint;
    let l = &f.local_mint;
    let _ = writeln!(
        r,
        "\n| cold mint, one process (spawn to exit) | median (ms) | mean ± σ | min | max | runs |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, st) in [("via OpenBao Transit (`$VAULT_TOKEN`)", t), ("local PEM key", l)] {
        let _ = writeln!(
            r,
            "| {name} | **{:.2}** | {:.2} ± {:.2} | {:.2} | {:.2} | {} |",
            st.median, st.mean, st.stddev, st.min, st.max, st.runs
        );
    }
    let _ = writeln!(r, "\nThe two mint rows alternate run by run, so load on the machine hits both alike.");
    r
}

struct Concurrency {
    n: usize,
    walls_ms: Vec<f64>,
    mints: Vec<usize>,
    distinct: Vec<usize>,
    failures: usize,
}

impl Bench {
    fn new(helper: PathBuf, glibc: Option<PathBuf>, settings: Settings) -> Bench {
        let fake = FakeGitHub::start(Options::default());
        fake.add_app(APP_ID, "Iv23liBench", "bench-app", &fixture_string("app-key.pub.pem"));
        fake.add_installation(INSTALLATION_ID, APP_ID, OWNER, None);
        let env = TestEnv::new();
        let key = env.copy_key("app-key-pkcs1.pem");
        let root = env.root().to_path_buf();
        let host = fake.host();
        let ca = fake.ca_pem_path().to_path_buf();

        let served = served_app(&key, &host, &ca);
        // The default location, as git runs the helper: no --config, no environment variable.
        write_file(&env.xdg_config().join("git-credential-github-app").join("config.toml"), &served, 0o600);
        let cache_dir = env.xdg_cache().join("git-credential-github-app");

        let input = root.join("request.txt");
        let request = format!(
            "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost={host}\npath={REPO_PATH}\nwwwauth[]=Basic realm=\"GitHub\"\n"
        );
        write_file(&input, request, 0o600);

        let store = root.join("git-credentials");
        // Same shape and length as a real installation token.
        let stored_token = format!("ghs_{}", "A1b2C3d4E5f6G7h8I9j0".repeat(2).get(..36).unwrap_or_default());
        write_file(&store, format!("https://x-access-token:{stored_token}@{host}/{REPO_PATH}\n"), 0o600);

        let app_configs = [1usize, 100, 1000]
            .into_iter()
            .map(|n| {
                let path = root.join(format!("config-{n}-apps.toml"));
                let mut text = String::new();
                for i in 1..n {
                    // Same host, another owner: routing must look at each and reject it.
                    let _ = write!(
                        text,
                        "[[app]]\napp_id = {}\nprivate_key_path = {}\nhost = {}\nrepos = [\"org-{i}/*\"]\ninstallation_id = {}\nca_file = {}\n\n",
                        100_000 + i,
                        toml_str(&key),
                        toml_str(&host),
                        500_000 + i,
                        toml_str(&ca),
                    );
                }
                text.push_str(&served);
                write_file(&path, text, 0o600);
                (n, path)
            })
            .collect();

        let fallback_config = root.join("config-fallback.toml");
        let fallback = served.replace(&format!("repos = [\"{OWNER}/*\"]"), "repos = [\"someone-else/*\"]");
        assert_ne!(fallback, served, "the served app's pattern moved");
        write_file(&fallback_config, format!("{fallback}read_public_repos = true\n"), 0o600);

        let entry_configs = [1usize, 1000]
            .into_iter()
            .map(|n| {
                let dir = root.join(format!("cache-{n}-entries"));
                let path = root.join(format!("config-cache-{n}.toml"));
                write_file(&path, format!("cache_dir = {}\n\n{served}", toml_str(&dir)), 0o600);
                fs::create_dir_all(&dir).expect("creating cache dir");
                support::set_mode(&dir, 0o700);
                // Entries for other apps and installations; the helper's own is minted later.
                let expires = support::unix_now() + 3600;
                for i in 1..n {
                    let name = format!(
                        "token-{:032x}.json",
                        (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
                    );
                    let body = serde_json::json!({
                        "version": 1,
                        "api_url": format!("https://ghe-{i}.example.com/api/v3"),
                        "app_id": (100_000 + i).to_string(),
                        "installation": (500_000 + i).to_string(),
                        "scope": "installation",
                        "installation_id": 500_000 + i,
                        "token": format!("ghs_{i:036}"),
                        "expires_at": expires,
                    });
                    write_file(&dir.join(name), body.to_string(), 0o600);
                }
                (n, path, dir)
            })
            .collect();

        let help = Command::new("hyperfine").arg("--help").output().expect("running hyperfine --help");
        let direct = String::from_utf8_lossy(&help.stdout).contains("--input");
        Bench {
            settings,
            helper,
            glibc,
            direct,
            fake,
            env,
            input,
            cache_dir,
            store,
            app_configs,
            fallback_config,
            entry_configs,
        }
    }

    fn run(&self) -> String {
        let started = Instant::now();
        let load_before = loadavg();
        let s = self.settings;
        let helper = sh_quote(&self.helper);
        let input = sh_quote(&self.input);
        let get = format!("{helper} get < {input}");
        let glibc_get = self.glibc.as_ref().map(|g| format!("{} get < {input}", sh_quote(g)));

        // 1. Cached get (static and glibc builds) vs git credential-store vs cat.
        self.prime(&[]);
        let store_cmd = format!("git credential-store --file {} get < {input}", sh_quote(&self.store));
        let cat_cmd = format!("cat < {input}");
        let sh_cmd = format!(": < {input}");
        let out = run_with_stdin(self.shell(&store_cmd), b"");
        assert!(out.stdout.contains("password=ghs_"), "credential-store does not answer:\n{out}");
        let mut single = vec![("cached `get`", get.clone(), true)];
        if let Some(glibc_get) = &glibc_get {
            single.push(("cached `get`, glibc build", glibc_get.clone(), true));
        }
        single.extend([
            ("`git credential-store get`", store_cmd, false),
            ("`cat` of the request (floor)", cat_cmd, false),
        ]);
        if !self.direct {
            single.push(("`sh` alone (in every row)", sh_cmd, false));
        }
        let (mut rows, _, _) = self.hyperfine_rows(&single, s.warmup, s.runs, None);

        // 2. Cold mint (each build mints on every run: `--prepare` empties the cache).
        let clear = format!("rm -f {}/token-*.json", sh_quote(&self.cache_dir));
        let mut minting = vec![("cold mint (empty cache)", get.clone(), false)];
        if let Some(glibc_get) = &glibc_get {
            minting.push(("cold mint, glibc build", glibc_get.clone(), false));
        }
        let (mut mint, minted, warmups) = self.hyperfine_rows(&minting, 3, s.mint_runs, Some(&clear));
        let expected = minting.len() * (warmups + s.mint_runs) as usize;
        mint[0].note =
            format!("{minted} mints for {expected} runs of {} build(s) (incl. warmup)", minting.len());
        assert_eq!(minted, expected, "every cold-mint run must mint exactly once");
        rows.append(&mut mint);

        // 3. Config size, the public-read fallback and cache size.
        self.prime(&[&self.fallback_config]);
        let mut config_rows: Vec<_> = self
            .app_configs
            .iter()
            .map(|(n, path)| {
                let name = format!("cached `get`, {n} `[[app]]`");
                (name, format!("{helper} --config {} get < {input}", sh_quote(path)), true)
            })
            .collect();
        let read_only = |t: &support::IssuedToken| {
            t.repositories.is_none()
                && t.permissions.iter().map(|(k, v)| (k.as_str(), v.as_str())).eq([("contents", "read")])
        };
        assert!(
            self.fake.issued_tokens().iter().any(read_only),
            "the fallback did not mint a read-only token"
        );
        config_rows.push((
            "cached `get`, a repository only `read_public_repos` serves".to_string(),
            format!("{helper} --config {} get < {input}", sh_quote(&self.fallback_config)),
            true,
        ));
        let config_rows: Vec<(&str, String, bool)> =
            config_rows.iter().map(|(n, c, cached)| (n.as_str(), c.clone(), *cached)).collect();
        let (mut sized, _, _) = self.hyperfine_rows(&config_rows, s.warmup, s.runs, None);
        let entry_paths: Vec<&Path> = self.entry_configs.iter().map(|(_, p, _)| p.as_path()).collect();
        self.prime(&entry_paths);
        for (n, _, dir) in &self.entry_configs {
            let files = fs::read_dir(dir)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .filter(|e| {
                            let name = e.file_name().to_string_lossy().into_owned();
                            name.starts_with("token-") && name.ends_with(".json")
                        })
                        .count()
                })
                .unwrap_or(0);
            assert_eq!(files, *n, "cache dir {} should hold {n} token entries", dir.display());
        }
        let entry_rows: Vec<_> = self
            .entry_configs
            .iter()
            .map(|(n, path, _)| {
                let name = format!(
                    "cached `get`, {n} token entr{} in the cache dir",
                    if *n == 1 { "y" } else { "ies" }
                );
                (name, format!("{helper} --config {} get < {input}", sh_quote(path)), true)
            })
            .collect();
        let entry_rows: Vec<(&str, String, bool)> =
            entry_rows.iter().map(|(n, c, cached)| (n.as_str(), c.clone(), *cached)).collect();
        sized.append(&mut self.hyperfine_rows(&entry_rows, s.warmup, s.runs, None).0);

        // 4. Concurrent cold gets.
        let concurrency: Vec<Concurrency> = [32usize, 128].iter().map(|&n| self.concurrent(n)).collect();

        // 5. Peak RSS.
        self.prime(&[]);
        let rss_cached = self.peak_rss(&[self.helper.to_str().expect("utf-8 path"), "get"], false);
        let rss_mint = self.peak_rss(&[self.helper.to_str().expect("utf-8 path"), "get"], true);
        let store_path = self.store.to_str().expect("utf-8 path");
        let rss_store = self.peak_rss(&["git", "credential-store", "--file", store_path, "get"], false);
        let rss_cat = self.peak_rss(&["cat"], false);
        let rss_glibc = self.glibc.as_ref().map(|g| {
            let g = g.to_str().expect("utf-8 path");
            [self.peak_rss(&[g, "get"], false), self.peak_rss(&[g, "get"], true)]
        });

        // 6. The fleet through OpenBao Transit.
        let fleet_started = Instant::now();
        let fleet_load = loadavg();
        let fleet = self.fleet();
        let fleet_section = fleet_report(fleet.as_ref(), (fleet_load, loadavg()), fleet_started.elapsed());

        let load = (load_before, loadavg());
        let mut report = self.report(
            &rows,
            &sized,
            &concurrency,
            ([rss_cached, rss_mint, rss_store, rss_cat], rss_glibc),
            load,
            started.elapsed(),
        );
        report.push_str(&fleet_section);
        report
    }

    /// The fleet rows: `BENCH_FLEET` runners (own cache dir each, no key, only the vault's
    /// address and a vault token or a JWT file) minting at once through a real OpenBao.
    /// `None` when `bao` is not installed.
    fn fleet(&self) -> Option<Fleet> {
        support::openbao::bao_bin()?;
        let n: usize = std::env::var("BENCH_FLEET").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
        let bao = OpenBao::start_with_transit_key(FLEET_KEY, &fixture_string("app-key-pkcs1.pem"));
        let policy = sign_policy_name(FLEET_KEY);
        let token = bao.create_token(&[&policy], "1h");
        let idp = TestIdp::github_actions();
        bao.enable_jwt_login(
            "jwt",
            &idp,
            "fleet",
            FLEET_AUDIENCE,
            serde_json::json!({"repository": "acme/*"}),
            &[&policy],
        );
        let root = self.env.root().join("fleet");
        fs::create_dir_all(&root).expect("creating fleet dir");
        let jwt_file = root.join("identity.jwt");
        let claims = support::idp::github_actions_claims("acme/web", "main");
        let sub = support::idp::github_actions_sub("acme/web", "main");
        write_file(&jwt_file, idp.jwt(FLEET_AUDIENCE, &sub, &claims, 3600), 0o600);
        let host = self.fake.host();
        let ca = self.fake.ca_pem_path().to_path_buf();
        let app = format!(
            "[[app]]\napp_id = {APP_ID}\ntransit_key = \"{FLEET_KEY}\"\nhost = {}\nrepos = [\"{OWNER}/*\"]\ninstallation_id = {INSTALLATION_ID}\nca_file = {}\n\n[vault]\naddress = {}\n",
            toml_str(&host),
            toml_str(&ca),
            toml_str(bao.addr()),
        );
        let runners = |kind: &str, extra: &str| -> Vec<(PathBuf, PathBuf)> {
            (0..n)
                .map(|i| {
                    let dir = root.join(format!("{kind}-{i}"));
                    let config = root.join(format!("{kind}-{i}.toml"));
                    write_file(&config, format!("cache_dir = {}\n{app}{extra}", toml_str(&dir)), 0o600);
                    (config, dir)
                })
                .collect()
        };
        let with_token = runners("token", "");
        let with_login = runners(
            "login",
            &format!("[vault.login]\nrole = \"fleet\"\njwt_path = {}\n", toml_str(&jwt_file)),
        );
        let counts = || {
            let audit = bao.audit_requests();
            let signs =
                audit.iter().filter(|(_, p)| p.starts_with(&format!("transit/sign/{FLEET_KEY}"))).count();
            let logins = audit.iter().filter(|(_, p)| p == "auth/jwt/login").count();
            (self.fake.mint_count(), signs, logins)
        };
        let round =
            |fleet: &[(PathBuf, PathBuf)], vault_token: Option<&str>, forget_logins: bool| -> FleetRound {
                for (_, dir) in fleet {
                    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let login = name.starts_with("vault-login-");
                        if name.ends_with(".json") && (name.starts_with("token-") || (forget_logins && login))
                        {
                            fs::remove_file(e.path()).expect("clearing a runner's cache");
                        }
                    }
                }
                let before = counts();
                let t0 = Instant::now();
                let children: Vec<_> = fleet
                    .iter()
                    .map(|(config, _)| {
                        let mut cmd = self.helper_cmd(Some(config));
                        if let Some(token) = vault_token {
                            cmd.env("VAULT_TOKEN", token);
                        }
                        cmd.stdin(File::open(&self.input).expect("opening request"))
                            .stdout(Stdio::piped())
                            .stderr(Stdio::piped())
                            .spawn()
                            .expect("spawning a runner")
                    })
                    .collect();
                let outputs: Vec<_> =
                    children.into_iter().map(|c| c.wait_with_output().expect("waiting")).collect();
                let wall_ms = t0.elapsed().as_secs_f64() * 1000.0;
                let failures = outputs
                    .iter()
                    .filter(|o| {
                        let ok = o.status.success()
                            && String::from_utf8_lossy(&o.stdout).contains("password=ghs_");
                        if !ok {
                            eprintln!(
                                "fleet runner failed: {:?}\n{}",
                                o.status,
                                String::from_utf8_lossy(&o.stderr)
                            );
                        }
                        !ok
                    })
                    .count();
                let after = counts();
                FleetRound {
                    wall_ms,
                    mints: after.0 - before.0,
                    signs: after.1 - before.1,
                    logins: after.2 - before.2,
                    failures,
                }
            };
        // One untimed round warms the page cache and both servers.
        round(&with_token, Some(&token), true);
        let rounds = 3;
        let token_rounds: Vec<FleetRound> =
            (0..rounds).map(|_| round(&with_token, Some(&token), true)).collect();
        let mut login_rounds = vec![round(&with_login, None, true)];
        login_rounds.extend((1..rounds).map(|_| round(&with_login, None, false)));

        // Cold mints one at a time, Transit and local key alternated so load hits both alike.
        let runs = self.settings.mint_runs.min(60) as usize;
        let (transit_config, transit_dir) = &with_token[0];
        let time_one = |config: Option<&Path>, dir: &Path, vault_token: Option<&str>| -> f64 {
            for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("token-") && name.ends_with(".json") {
                    fs::remove_file(e.path()).expect("clearing tokens");
                }
            }
            let mut cmd = self.helper_cmd(config);
            if let Some(token) = vault_token {
                cmd.env("VAULT_TOKEN", token);
            }
            cmd.stdin(File::open(&self.input).expect("opening request"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let t0 = Instant::now();
            let out = cmd.output().expect("running a mint");
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            assert!(out.status.success(), "a timed mint failed: {}", String::from_utf8_lossy(&out.stderr));
            ms
        };
        let (mut transit_ms, mut local_ms) = (Vec::new(), Vec::new());
        let before = self.fake.mint_count();
        for _ in 0..runs {
            transit_ms.push(time_one(Some(transit_config), transit_dir, Some(&token)));
            local_ms.push(time_one(None, &self.cache_dir, None));
        }
        assert_eq!(self.fake.mint_count() - before, 2 * runs, "every timed run must mint once");
        Some(Fleet {
            n,
            token_rounds,
            login_rounds,
            transit_mint: Stat::of(&transit_ms),
            local_mint: Stat::of(&local_ms),
            bao_startup_ms: bao.startup_time().as_secs_f64() * 1000.0,
        })
    }

    /// For profiling by hand: primes the caches, writes `<root>/hermetic` (runs its arguments
    /// in the benchmark's environment), prints the paths as shell assignments, and keeps the
    /// fake running until stdin closes.
    fn hold(&self) {
        self.prime(&[]);
        let entry_paths: Vec<&Path> = self.entry_configs.iter().map(|(_, p, _)| p.as_path()).collect();
        self.prime(&entry_paths);
        let mut probe = Command::new("true");
        self.env.apply(&mut probe);
        let mut script = format!("#!/bin/sh\ncd {} || exit 1\nexec env -i", sh_quote(&self.env.work()));
        for (k, v) in probe.get_envs() {
            if let (Some(k), Some(v)) = (k.to_str(), v.and_then(|v| v.to_str())) {
                let _ = write!(script, " {k}={}", sh_quote(Path::new(v)));
            }
        }
        script.push_str(" \"$@\"\n");
        let hermetic = self.env.root().join("hermetic");
        write_file(&hermetic, script, 0o700);
        println!("BENCH_HERMETIC={}", sh_quote(&hermetic));
        println!("BENCH_HELPER={}", sh_quote(&self.helper));
        println!("BENCH_INPUT={}", sh_quote(&self.input));
        println!("BENCH_CACHE_DIR={}", sh_quote(&self.cache_dir));
        println!("BENCH_STORE={}", sh_quote(&self.store));
        for (n, path) in &self.app_configs {
            println!("BENCH_CONFIG_{n}_APPS={}", sh_quote(path));
        }
        for (n, path, _) in &self.entry_configs {
            println!("BENCH_CONFIG_CACHE_{n}={}", sh_quote(path));
        }
        println!("# the fake GitHub runs until stdin closes");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    }

    /// A hermetic `sh -c SCRIPT`.
    fn shell(&self, script: &str) -> Command {
        let mut cmd = Command::new("sh");
        self.env.apply(&mut cmd);
        cmd.arg("-c").arg(script);
        cmd
    }

    /// Makes sure the served entry is cached (default cache dir plus the given configs').
    fn prime(&self, configs: &[&Path]) {
        let request = fs::read(&self.input).expect("reading request");
        let mut cmds = vec![self.helper_cmd(None)];
        cmds.extend(configs.iter().map(|c| self.helper_cmd(Some(c))));
        for cmd in cmds {
            let out = run_with_stdin(cmd, &request);
            out.assert_success();
            assert!(out.stdout.contains("password=ghs_"), "the helper does not answer:\n{out}");
        }
    }

    /// The command line hyperfine runs for `command` (`CMD < request`): `CMD` itself when
    /// hyperfine feeds the request (`--input`), else `sh -c "CMD < request"`.
    fn timed(&self, command: &str) -> String {
        let suffix = format!(" < {}", sh_quote(&self.input));
        match command.strip_suffix(&suffix) {
            Some(direct) if self.direct => direct.to_string(),
            _ => sh_c(command),
        }
    }

    fn helper_cmd(&self, config: Option<&Path>) -> Command {
        let mut cmd = Command::new(&self.helper);
        self.env.apply(&mut cmd);
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        cmd.arg("get");
        cmd
    }

    /// Times `commands` (name, shell command, must not mint) with hyperfine and returns their
    /// statistics and the mints the fake saw during the timed runs. The runs are split over
    /// `CHUNKS` hyperfine invocations with the command order rotated each time, and the raw
    /// times pooled, so a burst of other load on the machine hits every row alike rather than
    /// one row's consecutive runs. Each command is first run once to check it answers.
    fn hyperfine_rows(
        &self,
        commands: &[(&str, String, bool)],
        warmup: u32,
        runs: u32,
        prepare: Option<&str>,
    ) -> (Vec<Row>, usize, u32) {
        const CHUNKS: u32 = 10;
        for (name, command, _) in commands {
            if let Some(prepare) = prepare {
                run_with_stdin(self.shell(prepare), b"").assert_success();
            }
            let out = run_with_stdin(self.shell(command), b"");
            out.assert_success();
            let answers = out.stdout.contains("password=")
                || out.stdout.contains("protocol=")
                || command.starts_with(": ");
            assert!(answers, "{name}: no answer on stdout:\n{out}");
        }
        let json = self.env.root().join("hyperfine.json");
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); commands.len()];
        let mints_before = self.fake.mint_count();
        let chunks = CHUNKS.min(runs);
        let mut warmups = 0;
        for chunk in 0..chunks {
            let chunk_runs = runs / chunks + u32::from(chunk < runs % chunks);
            let chunk_warmup = if chunk == 0 { warmup } else { warmup.div_ceil(chunks) };
            warmups += chunk_warmup;
            let order: Vec<usize> =
                (0..commands.len()).map(|i| (i + chunk as usize) % commands.len()).collect();
            let mut cmd = Command::new("hyperfine");
            self.env.apply(&mut cmd);
            cmd.args(["-N", "--style", "basic", "--time-unit", "millisecond"])
                .args(["--warmup", &chunk_warmup.to_string(), "--runs", &chunk_runs.to_string()])
                .arg("--export-json")
                .arg(&json);
            if let Some(prepare) = prepare {
                cmd.args(["--prepare", &sh_c(prepare)]);
            }
            if self.direct {
                cmd.arg("--input").arg(&self.input);
            }
            for &i in &order {
                let (name, command, _) = &commands[i];
                cmd.args(["--command-name", name]).arg(self.timed(command));
            }
            // hyperfine's own progress goes to our stderr; stdout carries only the report.
            let status = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::from(std::io::stderr()))
                .stderr(Stdio::from(std::io::stderr()))
                .status()
                .expect("running hyperfine");
            assert!(status.success(), "hyperfine failed: {status}");
            let parsed: serde_json::Value =
                serde_json::from_slice(&fs::read(&json).expect("reading hyperfine json"))
                    .expect("hyperfine json");
            let results = parsed["results"].as_array().expect("hyperfine results");
            assert_eq!(results.len(), commands.len());
            for (&i, r) in order.iter().zip(results) {
                let raw = r["times"].as_array().expect("hyperfine times");
                times[i].extend(raw.iter().filter_map(serde_json::Value::as_f64).map(|t| t * 1000.0));
            }
        }
        let minted = self.fake.mint_count() - mints_before;
        if commands.iter().all(|(_, _, cached)| *cached) {
            assert_eq!(minted, 0, "a cached row minted: the cache was not used");
        }
        let rows = commands
            .iter()
            .zip(times)
            .map(|((name, command, cached), t)| Row {
                name: (*name).to_string(),
                command: command.clone(),
                stat: Stat::of(&t),
                note: if *cached { "0 mints during the runs".into() } else { String::new() },
            })
            .collect();
        (rows, minted, warmups)
    }

    /// `n` cold `get`s started together, `rounds` times (after one untimed round).
    fn concurrent(&self, n: usize) -> Concurrency {
        let mut result = Concurrency { n, walls_ms: vec![], mints: vec![], distinct: vec![], failures: 0 };
        for round in 0..=self.settings.rounds {
            self.clear_tokens();
            let before = self.fake.mint_count();
            let t0 = Instant::now();
            let children: Vec<_> = (0..n)
                .map(|_| {
                    self.helper_cmd(None)
                        .stdin(File::open(&self.input).expect("opening request"))
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("spawning helper")
                })
                .collect();
            let outputs: Vec<_> =
                children.into_iter().map(|c| c.wait_with_output().expect("waiting")).collect();
            let wall = t0.elapsed();
            let mut tokens = BTreeSet::new();
            let mut failures = 0;
            for out in &outputs {
                let stdout = String::from_utf8_lossy(&out.stdout);
                match stdout.lines().find_map(|l| l.strip_prefix("password=")) {
                    Some(token) if out.status.success() => {
                        tokens.insert(token.to_string());
                    }
                    _ => {
                        failures += 1;
                        eprintln!(
                            "concurrent get failed: {:?}\n{stdout}\n{}",
                            out.status,
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                }
            }
            if round == 0 {
                continue; // warm-up: page cache, fake's first connection
            }
            result.walls_ms.push(wall.as_secs_f64() * 1000.0);
            result.mints.push(self.fake.mint_count() - before);
            result.distinct.push(tokens.len());
            result.failures += failures;
        }
        result
    }

    fn clear_tokens(&self) {
        if let Ok(dir) = fs::read_dir(&self.cache_dir) {
            for e in dir.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("token-") && name.ends_with(".json") {
                    fs::remove_file(e.path()).expect("removing cached token");
                }
            }
        }
    }

    /// Median max RSS in KiB over `rss_runs` runs of `argv` with the request on stdin.
    fn peak_rss(&self, argv: &[&str], mint: bool) -> (u64, Vec<u64>) {
        let mut samples = Vec::new();
        for _ in 0..self.settings.rss_runs {
            if mint {
                self.clear_tokens();
            }
            let before = self.fake.mint_count();
            let mut cmd = Command::new("/usr/bin/time");
            self.env.apply(&mut cmd);
            let out = cmd
                .args(["-f", "%M"])
                .args(argv)
                .stdin(File::open(&self.input).expect("opening request"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()
                .expect("running /usr/bin/time");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{argv:?} failed under /usr/bin/time: {stderr}");
            let helpers = std::iter::once(&self.helper).chain(self.glibc.as_ref());
            if helpers.filter_map(|h| h.to_str()).any(|h| h == argv[0]) {
                assert_eq!(
                    self.fake.mint_count() - before,
                    usize::from(mint),
                    "{argv:?}: unexpected mint count"
                );
            }
            let kib = stderr.lines().last().and_then(|l| l.trim().parse().ok()).expect("parsing %M");
            samples.push(kib);
        }
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        (sorted[sorted.len() / 2], samples)
    }

    fn report(
        &self,
        rows: &[Row],
        sized: &[Row],
        concurrency: &[Concurrency],
        (rss, rss_glibc): ([Rss; 4], Option<[Rss; 2]>),
        load: (String, String),
        elapsed: Duration,
    ) -> String {
        let s = self.settings;
        let mut r = String::new();
        let command = std::env::var("BENCH_COMMAND").unwrap_or_else(|_| "cargo bench --bench bench".into());
        let _ = writeln!(r, "# git-credential-github-app benchmark\n");
        let _ = writeln!(r, "Command: `{command}`\n");
        let _ = writeln!(r, "| machine | |\n| --- | --- |");
        let _ =
            writeln!(r, "| CPUs (nproc) | {} |", std::thread::available_parallelism().map_or(0, |n| n.get()));
        let _ = writeln!(r, "| CPU model | {} |", cpu_model());
        let _ = writeln!(
            r,
            "| kernel | {} |",
            first_line(&fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default())
        );
        let _ = writeln!(r, "| rustc | {} |", tool_version("rustc", "--version"));
        let _ = writeln!(r, "| hyperfine | {} |", tool_version("hyperfine", "--version"));
        let _ = writeln!(r, "| git | {} |", tool_version("git", "--version"));
        let size = fs::metadata(&self.helper).map_or(0, |m| m.len());
        let _ = writeln!(
            r,
            "| helper binary | `{}`, {} bytes ({:.2} MiB) |",
            self.helper.display(),
            size,
            size as f64 / 1048576.0
        );
        let _ = writeln!(r, "| linkage | {} |", linkage(&self.helper));
        if let Some(glibc) = &self.glibc {
            let size = fs::metadata(glibc).map_or(0, |m| m.len());
            let _ = writeln!(
                r,
                "| glibc build | `{}`, {} bytes ({:.2} MiB), {} |",
                glibc.display(),
                size,
                size as f64 / 1048576.0,
                linkage(glibc)
            );
        }
        let _ = writeln!(r, "| release profile | {} |", release_profile(&self.helper));
        let _ = writeln!(r, "| load average (1/5/15 min) | {} at start, {} at end |", load.0, load.1);
        let how = if self.direct {
            "every command runs as `hyperfine -N --input request CMD`: no shell, the process alone is timed"
        } else {
            "every command runs as `hyperfine -N \"sh -c 'CMD < request'\"` (this hyperfine has no `--input`), \
             so every row includes one `sh` start (its own row shows how much) and nothing is subtracted"
        };
        let _ = writeln!(
            r,
            "\nhyperfine: `--warmup {} --runs {}` for cached rows, `--warmup 3 --runs {}` with `--prepare` for the mint, \
             each split over 10 hyperfine invocations with the command order rotated and the times pooled; \
             {how}. Times in ms.\n",
            s.warmup, s.runs, s.mint_runs
        );

        let _ = writeln!(r, "## Single process\n");
        let _ = writeln!(
            r,
            "| row | median | mean ± σ | min | max | runs | check |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |"
        );
        for row in rows.iter().chain(sized) {
            let st = &row.stat;
            let _ = writeln!(
                r,
                "| {} | **{:.2}** | {:.2} ± {:.2} | {:.2} | {:.2} | {} | {} |",
                row.name, st.median, st.mean, st.stddev, st.min, st.max, st.runs, row.note
            );
        }

        let _ = writeln!(
            r,
            "\n## Concurrent cold `get`s (empty cache each round, {} rounds after 1 warm-up)\n",
            s.rounds
        );
        let _ = writeln!(
            r,
            "| processes | wall median (ms) | wall per round (ms) | mints per round | distinct tokens per round | failed processes |\n| ---: | ---: | --- | --- | --- | ---: |"
        );
        for c in concurrency {
            let walls: Vec<String> = c.walls_ms.iter().map(|w| format!("{w:.1}")).collect();
            let _ = writeln!(
                r,
                "| {} | **{:.1}** | {} | {:?} | {:?} | {} |",
                c.n,
                median(&c.walls_ms),
                walls.join(", "),
                c.mints,
                c.distinct,
                c.failures
            );
        }
        let _ = writeln!(
            r,
            "\nWall time runs from the first spawn to the last exit (spawned from the bench process, stdin from the request file).\n"
        );

        let [cached, minting, store, cat] = &rss;
        let _ =
            writeln!(r, "## Peak memory (max RSS, `/usr/bin/time -f %M`, median of {} runs)\n", s.rss_runs);
        let _ =
            writeln!(r, "| process | median KiB | median MiB | samples (KiB) |\n| --- | ---: | ---: | --- |");
        let mut rss_rows = vec![("cached `get`", cached), ("minting `get`", minting)];
        if let Some([glibc_cached, glibc_minting]) = &rss_glibc {
            rss_rows.extend([
                ("cached `get`, glibc build", glibc_cached),
                ("minting `get`, glibc build", glibc_minting),
            ]);
        }
        rss_rows.extend([("`git credential-store get`", store), ("`cat`", cat)]);
        for (name, (m, samples)) in rss_rows {
            let list: Vec<String> = samples.iter().map(u64::to_string).collect();
            let _ = writeln!(r, "| {name} | {m} | {:.2} | {} |", *m as f64 / 1024.0, list.join(" "));
        }

        let find = |rows: &[Row], prefix: &str| {
            rows.iter().find(|x| x.name.starts_with(prefix)).map_or(f64::NAN, |x| x.stat.median)
        };
        let cached_ms = find(rows, "cached `get`");
        let store_ms = find(rows, "`git credential-store");
        let cat_ms = find(rows, "`cat`");
        let mint_ms = find(rows, "cold mint (");
        let glibc_cached_ms = find(rows, "cached `get`, glibc");
        let glibc_mint_ms = find(rows, "cold mint, glibc");
        let one_app = find(sized, "cached `get`, 1 `");
        let hundred = find(sized, "cached `get`, 100 `");
        let conc_ok = concurrency.iter().all(|c| {
            c.failures == 0 && c.mints.iter().all(|&m| m == 1) && c.distinct.iter().all(|&d| d == 1)
        });
        let pass = |ok: bool| if ok { "PASS" } else { "FAIL" };
        let _ = writeln!(r, "\n## Targets\n");
        let _ = writeln!(r, "| target | measured | result |\n| --- | --- | --- |");
        let _ = writeln!(
            r,
            "| cached `get` <= {STORE_RATIO_TARGET}x `git credential-store get` | {cached_ms:.2} ms vs {store_ms:.2} ms ({:.2}x) | {} |",
            cached_ms / store_ms,
            pass(cached_ms <= STORE_RATIO_TARGET * store_ms)
        );
        let _ = writeln!(
            r,
            "| cached `get` <= {CAT_RATIO_TARGET}x `cat` | {cached_ms:.2} ms vs {cat_ms:.2} ms ({:.2}x) | {} |",
            cached_ms / cat_ms,
            pass(cached_ms <= CAT_RATIO_TARGET * cat_ms)
        );
        if self.glibc.is_some() {
            let _ = writeln!(
                r,
                "| (for comparison) cached `get` of the glibc build | {glibc_cached_ms:.2} ms ({:.2}x `git credential-store get`, {:.2}x `cat`) | |",
                glibc_cached_ms / store_ms,
                glibc_cached_ms / cat_ms
            );
            let _ = writeln!(
                r,
                "| cold mint no slower than the glibc build | {mint_ms:.2} ms vs {glibc_mint_ms:.2} ms ({:.2}x) | {} |",
                mint_ms / glibc_mint_ms,
                pass(mint_ms <= glibc_mint_ms)
            );
        }
        let _ = writeln!(
            r,
            "| cold mint <= {MINT_TARGET_MS} ms | {mint_ms:.2} ms | {} |",
            pass(mint_ms <= MINT_TARGET_MS)
        );
        let _ = writeln!(
            r,
            "| peak RSS <= 10 MiB | cached {:.2} MiB, minting {:.2} MiB | {} |",
            cached.0 as f64 / 1024.0,
            minting.0 as f64 / 1024.0,
            pass(cached.0 <= RSS_TARGET_KIB && minting.0 <= RSS_TARGET_KIB)
        );
        let _ = writeln!(
            r,
            "| 100 `[[app]]` within {CONFIG_GROWTH_TARGET}x of 1 | {hundred:.2} ms vs {one_app:.2} ms ({:.2}x) | {} |",
            hundred / one_app,
            pass(hundred <= CONFIG_GROWTH_TARGET * one_app)
        );
        let _ = writeln!(
            r,
            "| concurrent cold `get`s: 1 mint, 1 token per round | see above | {} |",
            pass(conc_ok)
        );

        let _ = writeln!(r, "\n<details><summary>Exact timed commands</summary>\n");
        for row in rows.iter().chain(sized) {
            let _ = writeln!(r, "- {}: `{}`", row.name, self.timed(&row.command));
        }
        let clear = format!("rm -f {}/token-*.json", sh_quote(&self.cache_dir));
        let _ = writeln!(r, "- cold mint `--prepare`: `{}`", sh_c(&clear));
        let _ = writeln!(r, "- concurrent: `{} get` x N, stdin from the request file", self.helper.display());
        let _ = writeln!(r, "- peak RSS: `/usr/bin/time -f %M CMD < request`");
        let _ = writeln!(
            r,
            "\nRequest (stdin):\n\n```\n{}```\n",
            fs::read_to_string(&self.input).unwrap_or_default()
        );
        let _ = writeln!(r, "</details>\n");
        let _ = writeln!(r, "Benchmark wall time: {:.0} s.", elapsed.as_secs_f64());
        r
    }
}

/// The served app: the fixture key, the fake's host (default API URL `https://HOST/api/v3`),
/// a configured installation, and the fake's CA.
fn served_app(key: &Path, host: &str, ca: &Path) -> String {
    format!(
        "[[app]]\napp_id = {APP_ID}\nprivate_key_path = {}\nhost = {}\nrepos = [\"{OWNER}/*\"]\ninstallation_id = {INSTALLATION_ID}\nca_file = {}\n",
        toml_str(key),
        toml_str(host),
        toml_str(ca)
    )
}

fn toml_str(value: impl AsRef<std::ffi::OsStr>) -> String {
    let text = value.as_ref().to_str().expect("utf-8 path");
    serde_json::Value::String(text.to_string()).to_string()
}

/// `sh -c "SCRIPT"` for hyperfine `-N`, which splits its commands like a shell would.
fn sh_c(script: &str) -> String {
    assert!(!script.contains(['"', '\\', '$', '`']), "cannot quote {script:?}");
    format!("sh -c \"{script}\"")
}

fn sh_quote(path: &Path) -> String {
    let text = path.to_str().expect("utf-8 path");
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(tool)).find(|p| p.is_file()))
}

fn tool_version(tool: &str, arg: &str) -> String {
    Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| first_line(&String::from_utf8_lossy(&o.stdout)).to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews every row.
fn loadavg() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

fn cpu_model() -> String {
    let info = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// Static or dynamic, from the ELF program headers: a `PT_INTERP` header names the dynamic
/// loader (`file` says the same, but need not be installed).
fn linkage(binary: &Path) -> String {
    match Command::new("readelf").args(["-lW"]).arg(binary).output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            match text.lines().find_map(|l| l.split_once("program interpreter: ")) {
                Some((_, interp)) => format!("dynamically linked ({})", interp.trim_end_matches(']')),
                None if text.contains("DYN (") => "static-pie".into(),
                None => "statically linked".into(),
            }
        }
        _ => "linkage unknown (no readelf)".into(),
    }
}

/// The `[profile.release]` settings of the manifest the helper was built from (the nearest
/// `Cargo.toml` above `<dir>/target/[TARGET/]release/<bin>`), on one line.
fn release_profile(helper: &Path) -> String {
    let dir = helper
        .ancestors()
        .skip(1)
        .find(|d| d.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let Ok(manifest) = fs::read_to_string(dir.join("Cargo.toml")) else {
        return format!("unknown (no Cargo.toml at {})", dir.display());
    };
    let mut inside = false;
    let mut settings = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[profile.release]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            settings.push(format!("`{line}`"));
        }
    }
    if settings.is_empty() { "defaults".into() } else { settings.join(", ") }
}
