//! The driver error: a kind, whether the failing call had already changed the resource, and a
//! message naming what failed. Messages never start with the rid: the host adds it.

use crate::abi::{error_kind, DriverError};
use std::fmt::Display;

/// What kind of failure an [`Error`] is; the host acts on some (a timeout, a config error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Any other failure.
    Other,
    /// A keyword value the driver cannot use.
    Config,
    /// The verb or feature is not implemented.
    Unsupported,
    /// The driver panicked (set by the SDK).
    Panic,
    /// The call's deadline passed.
    Timeout,
    /// What the call addresses does not exist.
    NotFound,
}

impl ErrorKind {
    /// The number crossing the ABI ([`crate::abi::error_kind`]).
    pub const fn wire(self) -> u32 {
        match self {
            ErrorKind::Other => error_kind::OTHER,
            ErrorKind::Config => error_kind::CONFIG,
            ErrorKind::Unsupported => error_kind::UNSUPPORTED,
            ErrorKind::Panic => error_kind::PANIC,
            ErrorKind::Timeout => error_kind::TIMEOUT,
            ErrorKind::NotFound => error_kind::NOT_FOUND,
        }
    }
    /// The kind of an ABI number (flags ignored; unknown numbers read as `Other`).
    pub const fn from_wire(n: u32) -> ErrorKind {
        match error_kind::base(n) {
            error_kind::CONFIG => ErrorKind::Config,
            error_kind::UNSUPPORTED => ErrorKind::Unsupported,
            error_kind::PANIC => ErrorKind::Panic,
            error_kind::TIMEOUT => ErrorKind::Timeout,
            error_kind::NOT_FOUND => ErrorKind::NotFound,
            _ => ErrorKind::Other,
        }
    }
}

/// A driver error. Build one with a constructor naming its kind; add what was being done with
/// [`Context::context`].
///
/// ```
/// use svcmgr_plugin_api::{Context, Error, ErrorKind};
///
/// let e = Error::config_kw("size", "'12Q' is not a size");
/// assert_eq!(e.to_string(), "size: '12Q' is not a size");
/// assert_eq!(e.kind(), ErrorKind::Config);
///
/// let read = std::fs::read_to_string("/nonexistent/file").context("read /nonexistent/file");
/// assert!(read.unwrap_err().message().starts_with("read /nonexistent/file: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    changed: bool,
    message: String,
}

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            changed: false,
            message: message.into(),
        }
    }
    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }
    /// A configuration error not tied to one keyword.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }
    /// A configuration error about keyword `kw`: `<kw>: <message>` (the host adds the rid).
    pub fn config_kw(kw: &str, message: impl Display) -> Self {
        Self::new(ErrorKind::Config, format!("{kw}: {message}"))
    }
    /// The verb or feature is not implemented.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    /// The call's deadline passed.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }
    /// What the call addresses does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// Mark a failure as having changed the resource (a container started, then failed its
    /// up check): the host rolls it back like a resource that started.
    pub fn changed(mut self) -> Self {
        self.changed = true;
        self
    }
    /// Its kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// Whether the failing call had changed the resource.
    pub fn is_changed(&self) -> bool {
        self.changed
    }
    /// Its message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The same error, its message prefixed with `what` (`<what>: <message>`).
    pub fn context(mut self, what: impl Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl From<Error> for DriverError {
    fn from(e: Error) -> Self {
        let flags = if e.changed { error_kind::CHANGED } else { 0 };
        DriverError::new(e.kind.wire() | flags, e.message)
    }
}

impl From<DriverError> for Error {
    fn from(e: DriverError) -> Self {
        Error {
            kind: ErrorKind::from_wire(e.kind),
            changed: e.kind & error_kind::CHANGED != 0,
            message: e.message.into_string(),
        }
    }
}

/// Say what was being done when a call failed: `.context("mount /srv")` turns an error into
/// `mount /srv: <error>` (an [`Error`] keeps its kind; any other error becomes
/// [`ErrorKind::Other`], or [`ErrorKind::NotFound`] for an `io::Error` of that kind).
pub trait Context<T> {
    /// Prefix the error with `what`.
    fn context(self, what: impl Display) -> Result<T>;
    /// Prefix the error with what `what()` returns (computed only on error).
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|e| {
            let kind = match e.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                _ => ErrorKind::Other,
            };
            Error::new(kind, format!("{what}: {e}"))
        })
    }
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        match self {
            Ok(v) => Ok(v),
            Err(e) => Err(e).context(what()),
        }
    }
}

impl<T> Context<T> for Result<T> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|e| e.context(what))
    }
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| e.context(what()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_the_changed_flag_cross_the_abi() {
        let e = Error::timeout("late").changed();
        let wire = DriverError::from(e.clone());
        assert_eq!(wire.kind, error_kind::TIMEOUT | error_kind::CHANGED);
        assert_eq!(Error::from(wire), e);
        assert_eq!(ErrorKind::from_wire(77), ErrorKind::Other);
    }

    #[test]
    fn context_names_what_failed_and_keeps_the_kind() {
        let io: std::io::Result<()> = Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        let e = io.context("read /x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().starts_with("read /x: "), "{e}");
        let e = Err::<(), _>(Error::config_kw("size", "bad"))
            .with_context(|| "mkfs")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.message(), "mkfs: size: bad");
    }
}
