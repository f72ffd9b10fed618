//! `svcmgr`: starts, stops and watches one service made of resources, each driven by a
//! driver loaded from a shared object (see README.md).

use std::process::ExitCode;

use svcmgr::cli::output::StdoutError;

fn main() -> ExitCode {
    svcmgr::heap::prepare();
    svcmgr::signals::install_fatal_handlers();
    match svcmgr::cli::run(std::env::args().collect()) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        // The reader of our output went away (`svcmgr driver list | head -1`): done.
        Err(e)
            if e.downcast_ref::<StdoutError>()
                .is_some_and(StdoutError::is_closed_pipe) =>
        {
            ExitCode::SUCCESS
        }
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
