//! Integration cases grouped by capability; all run in the one `integration` test binary.

mod commands;
mod network;
mod robustness;
mod scale;
