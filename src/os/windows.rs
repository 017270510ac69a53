//! The Windows side of [`crate::os`], through std and `windows-sys`: files
//! opened without following reparse points (`FILE_FLAG_OPEN_REPARSE_POINT`),
//! the cache directory held open and checked (not a reparse point, owned by
//! this user according to its security descriptor), `CREATE_NEW` temp files,
//! and a job object per child process.
//!
//! The only `unsafe` code of the crate is here, each block with its `SAFETY`.
//! Windows has no file modes and no uid: [`mode_of`] and [`owner_of`] are
//! `None`, so the Unix mode and uid rules do not apply; the user's profile
//! (`%LOCALAPPDATA%`, `%APPDATA%`), whose ACL admits only the user, SYSTEM
//! and Administrators, is what keeps other users out.

use super::{DirRefusal, Open, symlink_refused};
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation::{ERROR_SUCCESS, HANDLE, INVALID_HANDLE_VALUE, LocalFree};
use windows_sys::Win32::Security::Authorization::{GetSecurityInfo, SE_FILE_OBJECT};
use windows_sys::Win32::Security::{
    EqualSid, GetTokenInformation, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, TOKEN_QUERY,
    TOKEN_USER, TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_READ,
    FILE_SHARE_WRITE,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, TH32CS_SNAPTHREAD, THREADENTRY32, Thread32First, Thread32Next,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation, SetInformationJobObject,
    TerminateJobObject,
};
use windows_sys::Win32::System::Threading::{
    CREATE_SUSPENDED, GetCurrentProcess, GetProcessIdOfThread, OpenProcessToken, OpenThread, ResumeThread,
    THREAD_QUERY_LIMITED_INFORMATION, THREAD_SUSPEND_RESUME,
};

/// Opens `path` for reading, following symlinks (a config, key or CA bundle
/// may be one: the checks are made on what was opened). With backup
/// semantics a directory opens too (plain `CreateFileW` answers "access
/// denied" for one), so the caller's check names it as a directory.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new().read(true).custom_flags(FILE_FLAG_BACKUP_SEMANTICS).open(path)
}

fn is_reparse_point(meta: &Metadata) -> bool {
    meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0
}

/// What a file is, in words, when it is not a regular file.
pub(crate) fn file_kind(meta: &Metadata) -> Option<&'static str> {
    match () {
        () if is_reparse_point(meta) => Some("a symlink or another reparse point"),
        () if meta.is_dir() => Some("a directory"),
        () if meta.is_file() => None,
        () => Some("not a file"),
    }
}

/// Windows has no permission bits.
pub(crate) fn mode_of(_: &Metadata) -> Option<u32> {
    None
}

/// Windows has no uid (owners are SIDs, checked by [`Dir::open`]).
pub(crate) fn owner_of(_: &Metadata) -> Option<u32> {
    None
}

/// A regular file (after symlinks): Windows has no execute bit; what runs is
/// decided by the name (`.exe`), which the caller gives.
pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Windows has no uid.
pub fn current_user() -> Option<u32> {
    None
}

/// Nothing to do: Windows writes no core files. (Windows Error Reporting
/// can keep a crash dump; the release build aborts on panic only after the
/// panic hook printed one line, and its dumps go to the user's profile.)
pub fn no_core_dumps() {}

/// Creates `path` (one level); an existing one is fine. It inherits the ACL
/// of its parent, the user's profile for the default `%LOCALAPPDATA%` place.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    match std::fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// A directory opened once, not through a reparse point, and checked. It is
/// held open without delete sharing, so it cannot be renamed or replaced
/// while in use; files in it are opened by path under it, each without
/// following a reparse point.
#[derive(Debug)]
pub(crate) struct Dir {
    path: PathBuf,
    _held: File,
}

impl Dir {
    /// Opens `path` and checks that it is a directory (not a junction or
    /// symlink) owned by this user. `_owner` is the Unix uid, unknown here.
    pub(crate) fn open(path: &Path, _owner: Option<u32>) -> Result<Dir, DirRefusal> {
        let held = OpenOptions::new()
            .read(true)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
            .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)
            .map_err(DirRefusal::Io)?;
        let meta = held.metadata().map_err(DirRefusal::Io)?;
        if is_reparse_point(&meta) || !meta.is_dir() {
            return Err(DirRefusal::NotADirectory);
        }
        if !owned_by_this_user(&held).map_err(DirRefusal::Io)? {
            return Err(DirRefusal::Io(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "its owner (in its security descriptor) is not this user: use a directory of your own",
            )));
        }
        Ok(Dir { path: path.to_path_buf(), _held: held })
    }

    /// Nothing to take away: the directory has its parent's ACL.
    pub(crate) fn make_private(&self) -> io::Result<()> {
        Ok(())
    }

    /// Opens `name` in the directory; a reparse point there is refused
    /// ([`symlink_refused`]), never followed.
    pub(crate) fn open_file(&self, name: &str, how: Open) -> io::Result<File> {
        let mut options = OpenOptions::new();
        match how {
            Open::Read => options.read(true),
            Open::Lock => options.read(true).write(true).create(true),
            // CREATE_NEW: fails on any existing name, a symlink included.
            Open::CreateNew => options.write(true).create_new(true),
        };
        let file = options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT).open(self.path.join(name))?;
        if is_reparse_point(&file.metadata()?) {
            return Err(symlink_refused());
        }
        Ok(file)
    }

    /// Renames `from` over `to`. std's rename replaces the target while
    /// another process has it open (std opens files with `FILE_SHARE_DELETE`
    /// and renames with POSIX semantics) where the file system allows it. Where
    /// it does not (Wine; file systems without POSIX renames) the rename is
    /// refused while a reader has the entry open: it is retried for up to 2 s,
    /// as readers hold an entry only while they read it (at most 64 KiB).
    pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (self.path.join(from), self.path.join(to));
        let give_up = Instant::now() + Duration::from_secs(2);
        loop {
            match std::fs::rename(&from, &to) {
                // Often: a reader closes within microseconds; try again at once, then every ms.
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied && Instant::now() < give_up => {
                    std::thread::yield_now();
                    std::thread::sleep(Duration::from_millis(1));
                }
                done => return done,
            }
        }
    }

    /// Deletes `name`; `Ok(false)` when it was not there.
    pub(crate) fn remove(&self, name: &str) -> io::Result<bool> {
        match std::fs::remove_file(self.path.join(name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The names in the directory (UTF-8 ones; ours all are).
    pub(crate) fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return Vec::new();
        };
        entries.filter_map(Result::ok).filter_map(|e| e.file_name().into_string().ok()).collect()
    }
}

/// Whether the owner in `file`'s security descriptor is this process's user.
fn owned_by_this_user(file: &File) -> io::Result<bool> {
    let user = TokenUserSid::of_this_process()?;
    let mut owner: PSID = std::ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `file` is an open handle for the duration of the call; `owner` and
    // `descriptor` are valid out-pointers; the other out-pointers may be null
    // because only OWNER_SECURITY_INFORMATION is asked for.
    let status = unsafe {
        GetSecurityInfo(
            file.as_raw_handle() as HANDLE,
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut descriptor,
        )
    };
    if status != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    // SAFETY: on success `owner` points into `descriptor`, which stays allocated
    // until the `LocalFree` below; `user.sid()` points into `user`'s buffer.
    let same = !owner.is_null() && unsafe { EqualSid(owner, user.sid()) } != 0;
    // SAFETY: `descriptor` was allocated by GetSecurityInfo for us to free with
    // LocalFree, once; `owner` is not used after this.
    unsafe { LocalFree(descriptor) };
    Ok(same)
}

/// The `TOKEN_USER` of this process's token, in a buffer that keeps its SID alive.
struct TokenUserSid {
    /// `u64`s so the `TOKEN_USER` at its start is aligned.
    buffer: Vec<u64>,
}

impl TokenUserSid {
    fn of_this_process() -> io::Result<TokenUserSid> {
        let mut raw: HANDLE = std::ptr::null_mut();
        // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing;
        // `raw` is a valid out-pointer.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut raw) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: OpenProcessToken succeeded, so `raw` is a token handle we own
        // and close once, through OwnedHandle's drop.
        let token = unsafe { OwnedHandle::from_raw_handle(raw as _) };
        let mut needed = 0u32;
        // SAFETY: a null buffer of length 0 asks for the size, written to `needed`.
        unsafe {
            GetTokenInformation(
                token.as_raw_handle() as HANDLE,
                TokenUser,
                std::ptr::null_mut(),
                0,
                &mut needed,
            )
        };
        let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
        let length = u32::try_from(buffer.len() * 8).map_err(io::Error::other)?;
        // SAFETY: `buffer` is writable for `length` bytes and aligned for TOKEN_USER;
        // `token` is open.
        let ok = unsafe {
            GetTokenInformation(
                token.as_raw_handle() as HANDLE,
                TokenUser,
                buffer.as_mut_ptr().cast(),
                length,
                &mut needed,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(TokenUserSid { buffer })
    }

    fn sid(&self) -> PSID {
        // SAFETY: GetTokenInformation(TokenUser) filled the buffer with a TOKEN_USER
        // whose SID points into the same buffer, which lives as long as `self`.
        unsafe { (*self.buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid }
    }
}

/// Windows cannot replace a process: runs `cmd`, waits for it and exits with
/// its exit status; returns only the error when it cannot start.
pub(crate) fn exec_replace(cmd: &mut Command) -> io::Error {
    match cmd.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(e) => e,
    }
}

/// A child and everything it starts, as one job object that is terminated
/// when the child exits, at the deadline, or when the job is dropped
/// (`JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`). The child is started suspended
/// (`CREATE_SUSPENDED`), put in its job, and only then resumed: nothing it
/// starts, however early, is outside the job. Should the job not be made
/// (Windows before 8 refuses a job inside the job an agent may run us in),
/// the child still runs, and only it is ended.
#[derive(Debug)]
pub(crate) struct Group {
    job: Option<OwnedHandle>,
}

impl Group {
    /// The child starts suspended: [`Group::of`] resumes it once it is in its job.
    pub(crate) fn prepare(command: &mut Command) {
        command.creation_flags(CREATE_SUSPENDED);
    }

    /// A new job with `child` (started from a prepared command, so
    /// suspended) in it, then the child resumed. Without a job (it could not
    /// be made) only the child itself is ended. An error: the child could not
    /// be resumed; the caller kills it.
    pub(crate) fn of(child: &Child) -> io::Result<Group> {
        let job = new_job().and_then(|job| assign(&job, child).then_some(job));
        resume(child.id())?;
        Ok(Group { job })
    }

    /// Whether the child has exited (std keeps its handle open, so its
    /// process id cannot be reused before it is reaped).
    pub(crate) fn child_exited(&self, child: &mut Child) -> io::Result<bool> {
        child.try_wait().map(|status| status.is_some())
    }

    /// Terminates every process in the job.
    pub(crate) fn end(&self) {
        if let Some(job) = &self.job {
            // SAFETY: `job` is an open job handle owned by `self`.
            unsafe { TerminateJobObject(job.as_raw_handle() as HANDLE, 1) };
        }
    }
}

/// Resumes the threads of process `pid`, which was started suspended: a new
/// process has one, its main thread. std gives no handle to it, so it is
/// found in a snapshot of the system's threads (ToolHelp), and checked to
/// still be that process's when opened. (`pid` itself cannot be reused: std
/// holds the child's process handle.)
fn resume(pid: u32) -> io::Result<()> {
    // SAFETY: no pointers; the result is checked before use.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if raw == INVALID_HANDLE_VALUE || raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the snapshot handle is valid (checked above), ours, closed once by OwnedHandle.
    let snapshot = unsafe { OwnedHandle::from_raw_handle(raw as _) };
    let size = u32::try_from(std::mem::size_of::<THREADENTRY32>()).map_err(io::Error::other)?;
    let mut entry = THREADENTRY32 { dwSize: size, ..THREADENTRY32::default() };
    let mut resumed = 0;
    // SAFETY: the snapshot is open and `entry` is a THREADENTRY32 whose dwSize is set.
    let mut more = unsafe { Thread32First(snapshot.as_raw_handle() as HANDLE, &mut entry) } != 0;
    while more {
        if entry.th32OwnerProcessID == pid && resume_thread(entry.th32ThreadID, pid)? {
            resumed += 1;
        }
        // SAFETY: as for Thread32First.
        more = unsafe { Thread32Next(snapshot.as_raw_handle() as HANDLE, &mut entry) } != 0;
    }
    if resumed == 0 {
        return Err(io::Error::other("its main thread was not found to resume it"));
    }
    Ok(())
}

/// Resumes thread `id` if it still belongs to process `pid`: `Ok(false)` when
/// the id, taken from the snapshot, names another process's thread by now.
fn resume_thread(id: u32, pid: u32) -> io::Result<bool> {
    // SAFETY: no pointers; a null result is checked.
    let raw = unsafe { OpenThread(THREAD_SUSPEND_RESUME | THREAD_QUERY_LIMITED_INFORMATION, 0, id) };
    if raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: OpenThread succeeded: a thread handle we own and close once.
    let thread = unsafe { OwnedHandle::from_raw_handle(raw as _) };
    // SAFETY: `thread` is open with THREAD_QUERY_LIMITED_INFORMATION access.
    if unsafe { GetProcessIdOfThread(thread.as_raw_handle() as HANDLE) } != pid {
        return Ok(false);
    }
    // SAFETY: `thread` is open with THREAD_SUSPEND_RESUME access.
    if unsafe { ResumeThread(thread.as_raw_handle() as HANDLE) } == u32::MAX {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// A job whose processes are all killed when its last handle closes.
fn new_job() -> Option<OwnedHandle> {
    // SAFETY: null attributes and a null name make an unnamed job with default security.
    let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if raw.is_null() {
        return None;
    }
    // SAFETY: CreateJobObjectW succeeded, so `raw` is a handle we own and close once.
    let job = unsafe { OwnedHandle::from_raw_handle(raw as _) };
    // SAFETY: an all-zero JOBOBJECT_EXTENDED_LIMIT_INFORMATION is valid (no limits).
    let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    let size = u32::try_from(std::mem::size_of_val(&info)).ok()?;
    // SAFETY: `info` is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION of `size` bytes
    // and `job` is open.
    let ok = unsafe {
        SetInformationJobObject(
            job.as_raw_handle() as HANDLE,
            JobObjectExtendedLimitInformation,
            (&raw const info).cast(),
            size,
        )
    };
    (ok != 0).then_some(job)
}

fn assign(job: &OwnedHandle, child: &Child) -> bool {
    // SAFETY: both handles are open: `job` is owned by the caller, and `child`'s
    // process handle is kept open by std until the `Child` is dropped.
    unsafe { AssignProcessToJobObject(job.as_raw_handle() as HANDLE, child.as_raw_handle() as HANDLE) != 0 }
}

#[cfg(test)]
mod tests {
    //! Run under Wine in CI (`cargo test --target x86_64-pc-windows-gnu --lib`).
    use super::*;
    use crate::files::PrivateDir;
    use crate::process::Running;
    use crate::testing::TempDir;
    use std::io::{Read, Write};

    #[test]
    fn a_directory_of_this_user_is_accepted_and_a_file_is_not_a_directory() {
        let tmp = TempDir::new("dir");
        assert!(Dir::open(&tmp.0, None).is_ok());
        std::fs::write(tmp.0.join("file"), "x").unwrap();
        assert!(matches!(Dir::open(&tmp.0.join("file"), None), Err(DirRefusal::NotADirectory)));
        assert!(matches!(Dir::open(&tmp.0.join("missing"), None), Err(DirRefusal::Io(_))));
    }

    #[test]
    fn a_temp_file_is_created_new_and_never_opened_when_the_name_exists() {
        let tmp = TempDir::new("create-new");
        let dir = Dir::open(&tmp.0, None).unwrap();
        dir.open_file("t", Open::CreateNew).unwrap().write_all(b"first").unwrap();
        let e = dir.open_file("t", Open::CreateNew).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
        assert_eq!(std::fs::read(tmp.0.join("t")).unwrap(), b"first");
    }

    #[test]
    fn an_entry_held_open_by_a_reader_is_replaced_once_the_reader_closes_it() {
        let tmp = TempDir::new("replace");
        let dir = std::sync::Arc::new(PrivateDir::open(&tmp.0, None).unwrap());
        dir.replace("entry", b"old").unwrap();
        let mut held = File::open(tmp.0.join("entry")).unwrap();
        let (started, start) = std::sync::mpsc::channel();
        let writer = {
            let dir = dir.clone();
            std::thread::spawn(move || {
                started.send(()).unwrap();
                // Where renaming over an open file is refused (Wine), this waits for the close.
                dir.replace("entry", b"new")
            })
        };
        start.recv().unwrap();
        let mut old = String::new();
        held.read_to_string(&mut old).unwrap();
        drop(held);
        writer.join().unwrap().unwrap();
        assert_eq!(old, "old");
        assert_eq!(dir.read("entry", 100).as_deref(), Some(&b"new"[..]));
        assert_eq!(dir.names(), ["entry"], "no temp file is left behind");
    }

    #[test]
    fn a_lock_file_is_held_by_one_handle_at_a_time() {
        let tmp = TempDir::new("lock");
        let dir = PrivateDir::open(&tmp.0, None).unwrap();
        let first = dir.open_lock("entry.lock").unwrap();
        let second = dir.open_lock("entry.lock").unwrap();
        first.lock().unwrap();
        assert!(matches!(second.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        // Released when the handle closes, as the cache's locks are.
        drop(first);
        second.try_lock().unwrap();
    }

    #[test]
    fn a_child_in_its_job_runs_and_its_output_is_read() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let deadline = Instant::now() + Duration::from_secs(30);
        let out =
            Running::start("cmd", &args(&["/c", "echo hello"]), None, 64).unwrap().finish(deadline).unwrap();
        assert_eq!(String::from_utf8_lossy(&out).trim_end(), "hello");
    }

    fn cmd(script: &str) -> Running {
        Running::start("cmd", &["/c".to_string(), script.to_string()], None, 64).unwrap()
    }

    /// A `cmd` that never ends by itself (a `for /l` loop with a step of 0).
    const FOREVER: &str = "cmd /c for /l %i in (1,0,2) do @rem";

    #[test]
    fn a_background_process_left_holding_stdout_is_ended_when_the_child_exits() {
        // `start /b` leaves FOREVER running with the child's stdout. Unless the job ends it
        // when the child exits, stdout never reaches its end and this gives up at the deadline.
        let out =
            cmd(&format!("start /b {FOREVER} & echo done")).finish(Instant::now() + Duration::from_secs(20));
        assert_eq!(String::from_utf8_lossy(&out.unwrap()).trim_end(), "done");
    }

    #[test]
    fn a_child_that_never_ends_is_stopped_at_the_deadline() {
        // Its background loop is ended with it, by the same TerminateJobObject the test above
        // shows ending a background process (and by the job's kill-on-close).
        let started = Instant::now();
        let out = cmd(&format!("start /b {FOREVER} & {FOREVER}")).finish(started + Duration::from_secs(1));
        assert!(matches!(out, Err(crate::process::Failure::NoOutput)), "{out:?}");
        // Bounded, not timed: only a deadline that was not kept takes this long.
        assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    }

    #[test]
    fn windows_has_no_modes_or_uids_to_check() {
        let tmp = TempDir::new("meta");
        std::fs::write(tmp.0.join("f"), "x").unwrap();
        let meta = std::fs::metadata(tmp.0.join("f")).unwrap();
        assert_eq!((mode_of(&meta), owner_of(&meta), current_user()), (None, None, None));
        assert_eq!(file_kind(&meta), None);
        assert_eq!(file_kind(&std::fs::metadata(&tmp.0).unwrap()), Some("a directory"));
    }
}
