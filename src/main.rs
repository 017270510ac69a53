//! The process boundary: arguments, environment, clock and stdio are read
//! here and nowhere else; errors are printed once, as one line.

use git_credential_github_app::{
    CONFIG_ENV, Clock, Defaults, Environment, Error, NetworkEnv, PLATFORM, Secret, Stdio, TRACE_ENV,
    VaultDefaults, VaultEnv, config_dirs, current_user, no_core_dumps, run, trace_enabled,
};
use std::env;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Set in debug builds only (tests): panics on purpose, to prove what a bug looks like.
#[cfg(debug_assertions)]
const FORCE_PANIC_ENV: &str = "GIT_CREDENTIAL_GITHUB_APP_DEBUG_FORCE_PANIC";
/// Set in debug builds only (tests): the suffix of the next cache temp file
/// instead of a random one, so a test can plant a symlink at that exact name.
#[cfg(debug_assertions)]
const TEMP_SUFFIX_ENV: &str = "GIT_CREDENTIAL_GITHUB_APP_DEBUG_TEMP_SUFFIX";

fn main() -> ExitCode {
    let started = Instant::now();
    no_core_dumps();
    std::panic::set_hook(Box::new(report_panic));
    #[cfg(debug_assertions)]
    if env::var_os(FORCE_PANIC_ENV).is_some() {
        panic!("forced by {FORCE_PANIC_ENV}: ghs_ThisPayloadMustNeverBePrinted");
    }
    #[cfg(debug_assertions)]
    if let Ok(suffix) = env::var(TEMP_SUFFIX_ENV) {
        git_credential_github_app::fix_temp_suffix(suffix);
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let args: Vec<_> = env::args_os().skip(1).collect();
    let environment = Environment {
        config_file: env::var_os(CONFIG_ENV),
        config_dirs: config_dirs(
            PLATFORM,
            env::var_os("XDG_CONFIG_HOME").as_deref(),
            dirs::home_dir().as_deref(),
            dirs::config_dir().as_deref(),
        ),
        defaults: Defaults {
            home: dirs::home_dir(),
            path: env::var_os("PATH"),
            user_cache_dir: dirs::cache_dir(),
            vault: VaultDefaults {
                address: first_named(&["$VAULT_ADDR", "$BAO_ADDR"]),
                namespace: first_named(&["$VAULT_NAMESPACE", "$BAO_NAMESPACE"]),
                ca_cert: first_named(&["$VAULT_CACERT", "$BAO_CACERT"])
                    .map(|(name, path)| (name, path.into())),
            },
        },
        network: NetworkEnv {
            proxy: first_var(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]).map(Secret::new),
            no_proxy: first_var(&["no_proxy", "NO_PROXY"]),
            git_ssl_cainfo: env::var_os("GIT_SSL_CAINFO").filter(|v| !v.is_empty()).map(Into::into),
            ssl_cert_file: env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()).map(Into::into),
            use_git_config: true,
        },
        var: Some(|name| env::var(name).ok()),
        trace: trace_enabled(env::var(TRACE_ENV).ok().as_deref()),
        exe: env::current_exe().ok(),
        cwd: env::current_dir().ok(),
        uid: current_user(),
        interactive: io::stdin().is_terminal(),
        vault: VaultEnv {
            token: first_named(&["$VAULT_TOKEN", "$BAO_TOKEN"])
                .map(|(name, value)| (name, Secret::new(value))),
            token_file: dirs::home_dir().map(|home| home.join(".vault-token")),
            actions_request_url: env::var("ACTIONS_ID_TOKEN_REQUEST_URL").ok(),
            actions_request_token: env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").ok().map(Secret::new),
        },
    };
    // Not locked for the whole run: a panic on another thread must still be able to print.
    let mut stderr = io::stderr();
    let stdio = Stdio { stdin: io::stdin().lock(), stdout: io::stdout().lock(), stderr: &mut stderr };
    match run(&args, &environment, Clock { now, started }, stdio) {
        Ok(()) => ExitCode::SUCCESS,
        // git closed our stdout: nobody is listening, nothing to report.
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(stderr, "git-credential-github-app: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// A bug must not reach the user as an abort (exit 134, "Aborted" under git)
/// or a message: a panic's payload or a core file could hold the key, the JWT
/// or a token. One line, with where in the source, then exit 1.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let place = info.location().map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
    let line = format!(
        "git-credential-github-app: internal error{place}: the helper stopped on a bug; please report it (details withheld: they could hold a secret)\n"
    );
    let _ = io::stderr().write_all(line.as_bytes());
    std::process::exit(1);
}

/// The first of `names` (`"$NAME"`, as messages show them) that is set and not empty.
fn first_named(names: &[&'static str]) -> Option<(&'static str, String)> {
    names.iter().find_map(|&n| {
        let value = env::var(n.trim_start_matches('$')).ok().filter(|v| !v.is_empty())?;
        Some((n, value))
    })
}

fn first_var(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| env::var(n).ok().filter(|v| !v.is_empty()))
}
