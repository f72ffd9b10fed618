//! Kernel calls made from inside a container's network namespace, and their errors.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// The last OS error, prefixed with what failed.
pub fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Run `f` on a thread that joined the network namespace at `ns_path` (the caller's when
/// None). The thread ends with `f`, so nothing else of this process ever runs there.
pub fn within<T: Send>(
    ns_path: Option<&str>,
    f: impl FnOnce() -> io::Result<T> + Send,
) -> io::Result<T> {
    let Some(path) = ns_path else {
        return f();
    };
    let ns = File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns(2) on a descriptor we hold, for this thread only.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
                return Err(last_error(&format!("joining {path}")));
            }
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
    })
}
