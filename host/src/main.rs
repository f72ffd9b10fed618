//! `svcmgr`: starts, stops and watches one service made of resources, each driven by a
//! driver loaded from a shared object (see README.md).

mod cli;
mod config;
mod drivers;
mod exec;
mod lock;
mod log;
mod paths;
mod plan;
mod rid;
mod select;
mod service;
mod status;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run(std::env::args().collect()) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
