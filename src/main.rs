//! The process boundary: arguments, environment, clock and stdio are read
//! here and nowhere else; errors are printed once, as one line.

use git_credential_github_app::{
    CONFIG_ENV, Clock, Defaults, Environment, Error, NetworkEnv, Stdio, TRACE_ENV, run, trace_enabled,
};
use std::env;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn main() -> ExitCode {
    let started = Instant::now();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let args: Vec<_> = env::args_os().skip(1).collect();
    let environment = Environment {
        config_file: env::var_os(CONFIG_ENV),
        user_config_dir: dirs::config_dir(),
        defaults: Defaults { home: dirs::home_dir(), user_cache_dir: dirs::cache_dir() },
        network: NetworkEnv {
            proxy: first_var(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]),
            no_proxy: first_var(&["no_proxy", "NO_PROXY"]),
            git_ssl_cainfo: env::var_os("GIT_SSL_CAINFO").filter(|v| !v.is_empty()).map(Into::into),
            use_git_config: true,
        },
        var: Some(|name| env::var(name).ok()),
        trace: trace_enabled(env::var(TRACE_ENV).ok().as_deref()),
        exe: env::current_exe().ok(),
        cwd: env::current_dir().ok(),
        uid: own_uid(),
        interactive: io::stdin().is_terminal(),
    };
    let mut stderr = io::stderr().lock();
    let stdio = Stdio { stdin: io::stdin().lock(), stdout: io::stdout().lock(), stderr: &mut stderr };
    match run(&args, &environment, Clock { now, started }, stdio) {
        Ok(()) => ExitCode::SUCCESS,
        // git closed our stdout: nobody is listening, nothing to report.
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(stderr, "git-credential-github-app: {e}");
            ExitCode::from(if matches!(e, Error::Usage(_)) { 2 } else { 1 })
        }
    }
}

/// `/proc/self` belongs to the process's user (Linux); elsewhere the cache
/// directory's owner is not checked.
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

fn first_var(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| env::var(n).ok().filter(|v| !v.is_empty()))
}
