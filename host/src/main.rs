//! `svcmgr`: starts, stops and watches one service made of resources, each driven by a
//! driver loaded from a shared object (see README.md).

use std::process::ExitCode;

fn main() -> ExitCode {
    match svcmgr::cli::run(std::env::args().collect()) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
