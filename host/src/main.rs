//! `svcmgr`: starts, stops and watches one service made of resources, each driven by a
//! driver loaded from a shared object (see README.md).

use std::process::ExitCode;

fn main() -> ExitCode {
    match svcmgr::cli::run(std::env::args().collect()) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            // Rendered diagnostics carry their own severity: no second `error:` before them.
            let text = format!("{e:#}");
            if text.starts_with("error: ") || text.starts_with("warning: ") {
                eprintln!("{text}");
            } else {
                eprintln!("error: {text}");
            }
            ExitCode::from(1)
        }
    }
}
