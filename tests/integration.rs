//! Integration tests: the helper binary against a fake GitHub over TLS, run as git runs it and
//! through real git. One test binary; every test starts its own world from `support::world`,
//! and the support's own tests live beside it.
// Unix only: the harness uses std::os::unix (modes, symlinks, FIFOs); the Windows build is
// driven from here through GCGA_TEST_HELPER (docs/platforms.md).
#![cfg(unix)]

mod support;

/// The helper's behaviour, one file per feature.
mod cases {
    mod action;
    mod arguments;
    mod clients;
    mod commands;
    mod config;
    mod discovery;
    mod erase;
    mod exec;
    mod flags;
    mod get;
    mod git_side;
    mod hostile;
    mod keyless;
    mod module_map;
    mod network;
    mod newcomer;
    mod programs;
    mod public;
    mod readme;
    mod robustness;
    mod scale;
    mod scopes;
    mod terminal;
    mod vault_echo;
}
