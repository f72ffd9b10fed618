//! The svcmgr host as a library: the `svcmgr` binary is a thin wrapper around [`cli::run`];
//! benchmarks and tests reach the pure parts (planner, selection, status) directly.

pub mod cli;
pub mod command;
pub mod config;
pub mod drivers;
pub mod exec;
pub mod heap;
pub mod hooks;
pub mod kit;
pub mod lock;
pub mod log;
pub mod paths;
pub mod plan;
pub mod rid;
pub mod select;
pub mod service;
pub mod signals;
pub mod status;
