//! Integration tests: the helper binary against a fake GitHub over TLS, run as git runs it and
//! through real git. One test binary; every test starts its own world from `support::world`,
//! and the support's own tests live beside it.
//!
//! The harness uses std::os::unix (modes, symlinks, FIFOs) and Unix tools: on Windows only what
//! the helper-as-git scenarios of `.ci/windows-scenarios` need is compiled (`get`, `erase`,
//! `robustness`, without their tests of Unix modes, symlinks and owners), for the `windows` job
//! of ci.yml. Under Wine the Windows build is driven from Linux through GCGA_TEST_HELPER
//! (docs/platforms.md).

// The tests build scripts and git arguments from paths and compare with what the helper
// prints on this machine: `Path::display` is what they mean (clippy.toml forbids it in src/).
#![allow(clippy::disallowed_methods)]

mod support;

/// The helper's behaviour, one file per feature.
mod cases {
    #[cfg(unix)]
    mod action;
    #[cfg(unix)]
    mod arguments;
    #[cfg(unix)]
    mod clients;
    #[cfg(unix)]
    mod commands;
    #[cfg(unix)]
    mod config;
    #[cfg(unix)]
    mod discovery;
    mod erase;
    #[cfg(unix)]
    mod exec;
    #[cfg(unix)]
    mod flags;
    mod get;
    #[cfg(unix)]
    mod git_side;
    #[cfg(unix)]
    mod hostile;
    #[cfg(unix)]
    mod keyless;
    #[cfg(unix)]
    mod module_map;
    #[cfg(unix)]
    mod network;
    #[cfg(unix)]
    mod newcomer;
    #[cfg(unix)]
    mod programs;
    #[cfg(unix)]
    mod public;
    #[cfg(unix)]
    mod readme;
    mod robustness;
    #[cfg(unix)]
    mod scale;
    #[cfg(unix)]
    mod scopes;
    #[cfg(unix)]
    mod terminal;
    #[cfg(unix)]
    mod vault_echo;
}
