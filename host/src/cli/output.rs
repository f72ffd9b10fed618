//! What commands print on stdout, written and flushed at once with its error returned (a
//! closed pipe, a full disk) instead of the panic of `print!`. `main` ends quietly with exit
//! code 0 on a closed pipe (the reader has seen enough, as `rg | head` does) and with one
//! error line and exit code 1 on any other write error.

use std::io::Write;

/// Writing to stdout failed.
#[derive(Debug, thiserror::Error)]
#[error("writing to stdout")]
pub struct StdoutError(#[from] pub std::io::Error);

impl StdoutError {
    /// The reader went away: not an error of ours.
    pub fn is_closed_pipe(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::BrokenPipe
    }
}

/// Write `text` to stdout and flush it.
pub fn write(text: &str) -> Result<(), StdoutError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Write a long text to stdout piece by piece through one buffer, then flush it: a plan of
/// 10,000 lines is neither built in memory first nor written a line per system call (stdout
/// alone flushes at each newline).
pub fn write_with(
    text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), StdoutError> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    text(&mut out)?;
    out.flush()?;
    Ok(())
}

/// `print!` whose error is returned: `out!("{x}")?`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write(&format!($($arg)*))
    };
}

/// `println!` whose error is returned: `outln!("{x}")?`.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::cli::output::write("\n")
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write(&format!("{}\n", format_args!($($arg)*)))
    };
}
