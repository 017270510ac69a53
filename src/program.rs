//! Where a program named in the config (`private_key_command`, `sign_command`)
//! is found, never in git's working directory: git runs the helper inside the
//! repository's worktree, so a name resolved against the working directory
//! would run a file the repository committed (`bin/fetch-key`, `~/x` with a
//! directory named `~`). As the config is read, `~/` is expanded against the
//! home directory and a relative path with a `/` is made relative to the
//! config file's directory, like the config's other paths; a bare name is
//! looked up, when the program is about to run, in the absolute directories of
//! `PATH` only (an empty, `.` or relative entry would search the worktree
//! again). The child is always started by its absolute path.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The program `written` in the config, as the config keeps it: a bare name
/// (no `/`) stays a name, to look up in `PATH` when it runs; anything else is
/// a path, made absolute by `resolve` (the config's own rule for paths: `~/`
/// against the home directory, a relative path against the config file's
/// directory).
pub(crate) fn normalise(
    written: &str,
    resolve: &dyn Fn(&str) -> Result<PathBuf, String>,
) -> Result<String, String> {
    if !written.contains('/') {
        return Ok(written.to_string());
    }
    resolve(written)?.into_os_string().into_string().map_err(|_| "the path is not UTF-8".to_string())
}

/// The absolute directories of `PATH`, in order, for [`locate`].
pub(crate) fn search_path(path_var: Option<&OsStr>) -> Vec<PathBuf> {
    path_var.map_or_else(Vec::new, |v| std::env::split_paths(v).filter(|dir| dir.is_absolute()).collect())
}

/// The absolute path to start `program` (as [`normalise`] left it) by: itself
/// when absolute, else the first executable file of that name in `search`.
pub(crate) fn locate(program: &str, search: &[PathBuf]) -> Result<PathBuf, String> {
    let path = Path::new(program);
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    if program.contains('/') || program.is_empty() {
        // The config makes every path absolute; nothing relative is ever run.
        return Err("is not an absolute path".into());
    }
    // On Windows `NAME` is also looked for as `NAME.exe` (std's EXE_SUFFIX; empty elsewhere).
    let names = [program.to_string(), format!("{program}{}", std::env::consts::EXE_SUFFIX)];
    let names = if names[0] == names[1] { &names[..1] } else { &names[..] };
    let candidates = search.iter().flat_map(|dir| names.iter().map(move |name| dir.join(name)));
    candidates.into_iter().find(|candidate| crate::os::is_executable(candidate)).ok_or_else(|| {
        "is not found in PATH (only its absolute directories are searched: an empty, `.` or relative entry would search git's working directory, the repository)".into()
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn paths_are_resolved_by_the_configs_rule_and_bare_names_stay_for_path() {
        let resolve = |p: &str| Ok::<_, String>(Path::new("/etc/gh").join(p));
        assert_eq!(normalise("bin/fetch-key", &resolve).unwrap(), "/etc/gh/bin/fetch-key");
        assert_eq!(normalise("vault", &resolve).unwrap(), "vault");
        assert_eq!(normalise("~", &resolve).unwrap(), "~", "a bare name, looked up in PATH");
        assert!(normalise("x/y", &|_| Err("refused".to_string())).is_err());
    }

    #[test]
    fn only_absolute_path_entries_are_searched() {
        let path = std::env::join_paths(["", ".", "bin", "/usr/bin", "rel/dir", "/bin"]).unwrap();
        assert_eq!(search_path(Some(&path)), [PathBuf::from("/usr/bin"), PathBuf::from("/bin")]);
        assert!(search_path(None).is_empty());
    }

    #[test]
    fn a_bare_name_is_found_only_as_an_executable_file_in_the_search_path() {
        let dir = std::env::temp_dir().join(format!("gcga-program-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("plain"), "").unwrap();
        fs::write(dir.join("tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(dir.join("tool"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let search = [dir.clone()];
        assert_eq!(locate("tool", &search).unwrap(), dir.join("tool"));
        assert!(locate("plain", &search).is_err(), "not executable");
        assert!(locate("sub", &search).is_err(), "a directory");
        assert!(locate("tool", &[]).unwrap_err().contains("not found in PATH"));
        assert!(locate("bin/tool", &search).is_err(), "relative paths are never run");
        assert_eq!(locate("/bin/sh", &[]).unwrap(), PathBuf::from("/bin/sh"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
