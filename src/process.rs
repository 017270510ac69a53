//! Child processes the helper runs (a `private_key_command`, a `sign_command`,
//! `git config`): no shell, stdin closed (or given the bytes to sign), stderr
//! discarded (or kept for `git config`'s messages), stdout captured up to a limit,
//! and never waited for past a deadline, so a stuck child cannot hold git.
//!
//! Every start names the directory the child runs in: a program named in the
//! config runs in the config file's directory ([`crate::config::Config::command_dir`]),
//! never in git's working directory, the repository's worktree, where a
//! relative argument (`["sh", "fetch-key.sh"]`) would open a file the
//! repository committed. Only git itself keeps our working directory (`None`),
//! so that `git config` sees the repository's settings.
//!
//! Each child runs in a group of its own ([`os::Group`]: a process group on
//! Unix, a job object on Windows). When the child exits, or at the deadline,
//! the whole group is ended: nothing it started in the background outlives
//! it, and a background process still holding its stdout cannot keep us
//! waiting for an end of file.

use crate::os;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Why a child gave no usable output.
#[derive(Debug)]
pub(crate) enum Failure {
    Start(io::Error),
    Read(io::Error),
    /// It neither exited nor closed its stdout by the deadline; it was killed.
    NoOutput,
    /// It closed stdout but did not exit by the deadline; it was killed.
    NoExit,
    Status(ExitStatus),
    /// It printed more than the limit.
    TooLarge,
}

impl Failure {
    /// In words, after the command's name: `product` is what it should have
    /// printed (`key`, `signature`), `secs` how long it was given, and
    /// `too_large` what to say when it printed more than the limit.
    pub(crate) fn describe(self, product: &str, secs: f64, too_large: &str) -> String {
        match self {
            Failure::Start(e) => format!("cannot start: {e}"),
            Failure::Read(e) => format!("could not be read: {e}"),
            Failure::NoOutput => format!("gave no {product} within {secs:.1} s and was stopped"),
            Failure::NoExit => format!("did not exit within {secs:.1} s and was stopped"),
            Failure::Status(status) => format!("failed ({status})"),
            Failure::TooLarge => too_large.to_string(),
        }
    }
}

/// A started child whose stdout (and, when asked, stderr) is being collected in threads.
pub(crate) struct Running {
    child: Child,
    group: os::Group,
    stdout: mpsc::Receiver<io::Result<Vec<u8>>>,
    stderr: Option<mpsc::Receiver<io::Result<Vec<u8>>>>,
    limit: u64,
}

/// What a child that exited (successfully or not) printed.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
    /// Empty unless started with [`Running::start_keeping_stderr`].
    pub(crate) stderr: Vec<u8>,
}

/// Reads at most `limit` + 1 bytes of `from` in a thread.
fn collect(mut from: impl Read + Send + 'static, limit: u64) -> mpsc::Receiver<io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::with_capacity(4096);
        let result = (&mut from).take(limit + 1).read_to_end(&mut bytes).map(|_| bytes);
        // The receiver is gone only when the caller gave up; nothing to do.
        let _ = tx.send(result);
    });
    rx
}

impl Running {
    /// Starts `program` with `args` in `dir` (`None`: our own working
    /// directory, git's; for git only), keeping at most `limit` bytes of its stdout.
    pub(crate) fn start(
        program: &str,
        args: &[String],
        dir: Option<&Path>,
        limit: u64,
    ) -> Result<Running, Failure> {
        Running::spawn(program, args, dir, None, limit, false)
    }

    /// Like [`Running::start`], with `input` written to its stdin (then closed)
    /// from a thread, so a child that prints before it reads cannot deadlock us.
    pub(crate) fn start_with_input(
        program: &str,
        args: &[String],
        dir: Option<&Path>,
        input: &[u8],
        limit: u64,
    ) -> Result<Running, Failure> {
        Running::spawn(program, args, dir, Some(input.to_vec()), limit, false)
    }

    /// Like [`Running::start`], also keeping at most `limit` bytes of its
    /// stderr (for `git config`'s messages).
    pub(crate) fn start_keeping_stderr(
        program: &str,
        args: &[String],
        dir: Option<&Path>,
        limit: u64,
    ) -> Result<Running, Failure> {
        Running::spawn(program, args, dir, None, limit, true)
    }

    fn spawn(
        program: &str,
        args: &[String],
        dir: Option<&Path>,
        input: Option<Vec<u8>>,
        limit: u64,
        keep_stderr: bool,
    ) -> Result<Running, Failure> {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(if keep_stderr { Stdio::piped() } else { Stdio::null() });
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        os::Group::prepare(&mut command);
        let mut child = command.spawn().map_err(Failure::Start)?;
        let group = match os::Group::of(&child) {
            Ok(group) => group,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failure::Start(e));
            }
        };
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            std::thread::spawn(move || {
                // A child that exits without reading closes the pipe: its exit status tells.
                let _ = stdin.write_all(&input);
            });
        }
        let Some(out) = child.stdout.take() else {
            return Err(Failure::Read(io::Error::other("no stdout pipe")));
        };
        let stderr = child.stderr.take().map(|err| collect(err, limit));
        Ok(Running { child, group, stdout: collect(out, limit), stderr, limit })
    }

    /// Its stdout once it has exited successfully, waiting at most until `deadline`.
    pub(crate) fn finish(self, deadline: Instant) -> Result<Vec<u8>, Failure> {
        let output = self.finish_output(deadline)?;
        if !output.status.success() {
            return Err(Failure::Status(output.status));
        }
        Ok(output.stdout)
    }

    /// What it printed once it has exited, whatever its status, waiting at most until `deadline`.
    ///
    /// Done when the child has exited and its stdout has reached its end. The
    /// moment the child exits its group is ended, so a background process it
    /// left holding stdout (or stderr) is killed and the end follows at once.
    pub(crate) fn finish_output(mut self, deadline: Instant) -> Result<Output, Failure> {
        let mut stdout = None;
        let mut exited = false;
        let stdout = loop {
            if !exited {
                match self.group.child_exited(&mut self.child) {
                    Ok(true) => {
                        exited = true;
                        self.group.end();
                    }
                    Ok(false) => {}
                    Err(e) => return Err(self.stop(Failure::Read(e))),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.stop(if stdout.is_some() { Failure::NoExit } else { Failure::NoOutput }));
            }
            let wait = match (exited, stdout.take()) {
                (true, Some(bytes)) => break bytes,
                // stdout is closed; the exit follows at once unless the child misbehaves.
                (false, Some(bytes)) => {
                    stdout = Some(bytes);
                    std::thread::sleep(left.min(Duration::from_millis(1)));
                    continue;
                }
                // Its group was ended: stdout reaches its end at once.
                (true, None) => left,
                // Look at the exit again every 5 ms: a background process may hold stdout.
                (false, None) => left.min(Duration::from_millis(5)),
            };
            match self.stdout.recv_timeout(wait) {
                Ok(Ok(bytes)) => stdout = Some(bytes),
                Ok(Err(e)) => return Err(self.stop(Failure::Read(e))),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(self.stop(Failure::Read(io::Error::other("its output could not be read"))));
                }
            }
        };
        // Reap it: its group is gone, so its id may be reused from here on.
        let status = match self.child.wait() {
            Ok(status) => status,
            Err(e) => return Err(Failure::Read(e)),
        };
        if stdout.len() as u64 > self.limit {
            return Err(Failure::TooLarge);
        }
        // Its group was ended, so stderr reaches its end at once; still, no waiting past the deadline.
        let wait = deadline.saturating_duration_since(Instant::now());
        let stderr = match self.stderr.as_ref().map(|rx| rx.recv_timeout(wait)) {
            Some(Ok(Ok(mut bytes))) => {
                bytes.truncate(usize::try_from(self.limit).unwrap_or(usize::MAX));
                bytes
            }
            _ => Vec::new(),
        };
        Ok(Output { status, stdout, stderr })
    }

    /// Ends the child's group (the child with it) and reaps the child.
    fn stop(&mut self, failure: Failure) -> Failure {
        self.group.end();
        let _ = self.child.kill();
        let _ = self.child.wait();
        failure
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[test]
    fn stdout_of_a_successful_child_is_returned() {
        let out =
            Running::start("printf", &args(&["hello"]), None, 64).unwrap().finish(soon(10_000)).unwrap();
        assert_eq!(out, b"hello");
    }

    #[test]
    fn failures_are_told_apart() {
        let failed = Running::start("sh", &args(&["-c", "exit 3"]), None, 64).unwrap().finish(soon(10_000));
        assert!(matches!(failed, Err(Failure::Status(s)) if s.code() == Some(3)));
        let big =
            Running::start("sh", &args(&["-c", "printf 0123456789"]), None, 4).unwrap().finish(soon(10_000));
        assert!(matches!(big, Err(Failure::TooLarge)));
        assert!(matches!(Running::start("/nonexistent/program", &[], None, 4), Err(Failure::Start(_))));
    }

    #[test]
    fn a_child_runs_in_the_directory_it_is_given() {
        let dir = std::env::temp_dir().canonicalize().unwrap();
        let out = Running::start("pwd", &[], Some(&dir), 4096).unwrap().finish(soon(10_000)).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().trim_end(), dir.to_str().unwrap());
    }

    #[test]
    fn input_reaches_the_childs_stdin() {
        let out = Running::start_with_input("tr", &args(&["a-z", "A-Z"]), None, b"signing.input", 64)
            .unwrap()
            .finish(soon(10_000));
        assert_eq!(out.unwrap(), b"SIGNING.INPUT");
    }

    #[test]
    fn stderr_and_the_status_are_kept_when_asked() {
        let out = Running::start_keeping_stderr("sh", &args(&["-c", "echo oops >&2; exit 3"]), None, 64)
            .unwrap()
            .finish_output(soon(10_000))
            .unwrap();
        assert_eq!((out.status.code(), out.stderr.as_slice()), (Some(3), &b"oops\n"[..]));
    }

    #[test]
    fn a_child_that_hangs_is_killed_at_the_deadline() {
        let started = Instant::now();
        let hung = Running::start("sleep", &args(&["30"]), None, 64).unwrap().finish(soon(200));
        assert!(matches!(hung, Err(Failure::NoOutput)));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// Whether process `pid` is gone (no longer listed, or a zombie waiting for init, which in
    /// a container may never reap it) within 5 s: SIGKILL is delivered asynchronously, and the
    /// stdout it held closes before it is a zombie. Linux's `/proc`; macOS has none.
    #[cfg(target_os = "linux")]
    fn gone(pid: &str) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let dead = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => true,
                // The state follows the command name in parentheses.
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
    fn a_background_process_left_holding_stdout_is_ended_when_the_child_exits() {
        let started = Instant::now();
        let out = Running::start("sh", &args(&["-c", "sleep 100 & echo $!"]), None, 64)
            .unwrap()
            .finish(soon(30_000))
            .unwrap();
        // The `sleep` held stdout open: without its group ended, this waits the whole 30 s.
        assert!(started.elapsed() < Duration::from_secs(15), "waited {:?}", started.elapsed());
        let pid = String::from_utf8(out).unwrap();
        assert!(gone(pid.trim()), "sleep {} outlived its parent", pid.trim());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn at_the_deadline_the_child_and_what_it_started_are_ended() {
        let dir = std::env::temp_dir().join(format!("gcga-process-group-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("pid");
        #[allow(clippy::disallowed_methods)] // a shell script, not a message
        let script = format!("sleep 100 & echo $! > {}; sleep 100", pid_file.display());
        let hung = Running::start("sh", &args(&["-c", &script]), None, 64).unwrap().finish(soon(2_000));
        assert!(matches!(hung, Err(Failure::NoOutput)));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(gone(pid.trim()), "sleep {} outlived the deadline", pid.trim());
    }
}
