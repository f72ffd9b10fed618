//! Signals: a process killed by a driver says which driver call it was in, and an action
//! interrupted by SIGINT or SIGTERM ends in order.
//!
//! - Fatal signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) and `exit()` called from inside
//!   a driver call: a handler writes which call was in flight (`drivers::in_flight`) to stderr
//!   and to the action log, then the process dies as it would have. The handler only calls
//!   async-signal-safe functions: no allocation, no lock.
//! - SIGINT, SIGTERM during a state-changing action ([`catch_interrupts`]): the first makes
//!   the executor launch nothing more ([`interrupted`]); the action waits for its calls in
//!   flight, rolls back and records the outcome. A second one exits at once.

use crate::drivers::in_flight;
use crate::log;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

const FATAL: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
];

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGABRT => "SIGABRT",
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// The dispositions found before ours, put back when a fault repeats under them (Rust's own
/// SIGSEGV handler reports stack overflows).
static PREVIOUS: OnceLock<[libc::sigaction; FATAL.len()]> = OnceLock::new();

/// Where the handler writes in the action log: the file's path (NUL-terminated, opened by
/// the handler), the service's name column, and the local time's offset from UTC.
const PATH: usize = 1024;
static LOG_PATH: [AtomicU8; PATH] = [const { AtomicU8::new(0) }; PATH];
static LOG_PATH_SET: AtomicBool = AtomicBool::new(false);
const NAME: usize = 200;
static LOG_NAME: [AtomicU8; NAME] = [const { AtomicU8::new(0) }; NAME];
static LOG_NAME_LEN: AtomicUsize = AtomicUsize::new(0);
static LOG_UTC_OFFSET: AtomicI64 = AtomicI64::new(0);

/// Tell the handlers about the action log: its path (None: none, as for a dry run), the
/// name column of service-level lines (`node1.web`), and the local time's offset from UTC in
/// seconds. Set as soon as the service is known, so that a driver that kills the process
/// while its resources are created is named there too.
pub fn set_log_target(path: Option<&Path>, name: &str, utc_offset: i64) {
    LOG_PATH_SET.store(false, Ordering::Release);
    let bytes = path.map_or(&[][..], |p| p.as_os_str().as_bytes());
    if !bytes.is_empty() && bytes.len() < PATH && !bytes.contains(&0) {
        for (slot, b) in LOG_PATH.iter().zip(bytes.iter().chain(&[0])) {
            slot.store(*b, Ordering::Relaxed);
        }
        LOG_PATH_SET.store(true, Ordering::Release);
    }
    let len = name.len().min(NAME);
    for (slot, b) in LOG_NAME.iter().zip(&name.as_bytes()[..len]) {
        slot.store(*b, Ordering::Relaxed);
    }
    LOG_NAME_LEN.store(len, Ordering::Release);
    LOG_UTC_OFFSET.store(utc_offset, Ordering::Relaxed);
}

/// Install the fatal-signal handlers and the exit hook (once, at startup).
pub fn install_fatal_handlers() {
    PREVIOUS.get_or_init(|| {
        // SAFETY: sigaction with a handler that only makes async-signal-safe calls; the
        // previous dispositions are kept to be put back.
        unsafe {
            let mut previous: [libc::sigaction; FATAL.len()] = std::mem::zeroed();
            for (sig, old) in FATAL.iter().zip(previous.iter_mut()) {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_fatal as *const () as usize;
                act.sa_flags =
                    libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER | libc::SA_RESETHAND;
                libc::sigemptyset(&mut act.sa_mask);
                libc::sigaction(*sig, &act, old);
            }
            libc::atexit(on_exit);
            previous
        }
    });
}

/// A fatal signal: name the call in flight, then die of the signal.
extern "C" fn on_fatal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    report(|msg| {
        msg.push(b"svcmgr killed by ");
        msg.push(signal_name(sig).as_bytes());
        name_calls(msg);
    });
    // SAFETY: `info` is the kernel's; sigaction and raise are async-signal-safe.
    unsafe {
        let sent = (*info).si_code <= 0;
        let index = FATAL.iter().position(|s| *s == sig);
        match (sent, index.and_then(|i| PREVIOUS.get().map(|p| p[i]))) {
            // A fault: returning repeats it, under the previous disposition.
            (false, Some(previous)) => {
                libc::sigaction(sig, &previous, std::ptr::null_mut());
            }
            // Sent (kill, abort): die of it now.
            _ => {
                libc::signal(sig, libc::SIG_DFL);
                libc::raise(sig);
            }
        }
    }
}

/// `exit()` from inside a driver call (the host itself never exits there).
extern "C" fn on_exit() {
    let mut buf = in_flight::buffer();
    let n = in_flight::current(&mut buf);
    if n > 0 {
        report(|msg| {
            msg.push(b"svcmgr exited during ");
            msg.push(&buf[..n]);
            msg.push(b": a driver ended the process");
        });
    }
}

/// Append the calls in flight: this thread's, or, when it has none, every thread's.
fn name_calls(msg: &mut Line) {
    let mut buf = in_flight::buffer();
    let n = in_flight::current(&mut buf);
    if n > 0 {
        msg.push(b" during ");
        msg.push(&buf[..n]);
        return;
    }
    let mut first = true;
    in_flight::each_active(|phrase| {
        msg.push(if first {
            b" while in flight: ".as_slice()
        } else {
            b"; ".as_slice()
        });
        msg.push(phrase);
        first = false;
    });
}

/// The memory the report is built in: static, because a handler may run on a small
/// alternate stack. The first thread to crash takes it; another one crashing meanwhile
/// dies without a report.
struct ReportBuf(std::cell::UnsafeCell<[u8; 2048]>);
// SAFETY: only the thread that set REPORTING touches it.
unsafe impl Sync for ReportBuf {}
static REPORT_BUF: ReportBuf = ReportBuf(std::cell::UnsafeCell::new([0; 2048]));
static REPORTING: AtomicBool = AtomicBool::new(false);

/// Write the message `build` makes as an error line to stderr and, timestamped, to the
/// action log, in one write each.
fn report(build: impl FnOnce(&mut Line)) {
    if REPORTING.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: REPORTING makes this thread the buffer's only user.
    let buf = unsafe { &mut *REPORT_BUF.0.get() };
    let mut line = Line { buf, len: 0 };
    timestamp(&mut line, LOG_UTC_OFFSET.load(Ordering::Relaxed));
    line.push(b" ");
    let stamp = line.len;
    let len = LOG_NAME_LEN.load(Ordering::Acquire).min(NAME);
    if len > 0 {
        for slot in LOG_NAME.iter().take(len) {
            line.push(&[slot.load(Ordering::Relaxed)]);
        }
        line.push(b" E ");
    }
    build(&mut line);
    line.push(b"\n");
    write_all(2, &line.bytes()[stamp..]);
    if LOG_PATH_SET.load(Ordering::Acquire) {
        let mut path = [0u8; PATH];
        for (b, slot) in path.iter_mut().zip(&LOG_PATH) {
            *b = slot.load(Ordering::Relaxed);
        }
        make_parents(&mut path);
        // SAFETY: open(2) of a NUL-terminated path (set_log_target ends it with one).
        let fd = unsafe {
            libc::open(
                path.as_ptr().cast(),
                libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
                0o600,
            )
        };
        if fd >= 0 {
            write_all(fd, line.bytes());
            // SAFETY: the descriptor just opened.
            unsafe { libc::close(fd) };
        }
    }
    REPORTING.store(false, Ordering::Release);
}

/// Create the folders above the NUL-terminated `path` (mkdir(2), an existing one is fine).
fn make_parents(path: &mut [u8]) {
    let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
    for i in 1..end {
        if path[i] == b'/' {
            path[i] = 0;
            // SAFETY: mkdir(2) of the NUL-terminated prefix just cut.
            unsafe { libc::mkdir(path.as_ptr().cast(), 0o755) };
            path[i] = b'/';
        }
    }
}

fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: write(2) from a buffer we own.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm` local time, as the log's other lines start, computed from
/// `clock_gettime` and a fixed offset (localtime is not async-signal-safe).
fn timestamp(line: &mut Line, utc_offset: i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    let secs = ts.tv_sec + utc_offset;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    line.num(y, 4);
    line.push(b"-");
    line.num(m, 2);
    line.push(b"-");
    line.num(d, 2);
    line.push(b" ");
    line.num(rem / 3600, 2);
    line.push(b":");
    line.num(rem / 60 % 60, 2);
    line.push(b":");
    line.num(rem % 60, 2);
    line.push(b".");
    line.num(ts.tv_nsec / 1_000_000, 3);
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A line built in a given buffer, without allocating (what does not fit is cut).
struct Line<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Line<'_> {
    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// `n` in decimal, zero-padded to `width` digits.
    fn num(&mut self, n: i64, width: usize) {
        let mut digits = [b'0'; 20];
        let (mut n, mut i) = (n.unsigned_abs(), digits.len());
        while n > 0 || i == digits.len() {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let start = i.min(digits.len() - width.min(digits.len()));
        self.push(&digits[start..]);
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The first SIGINT/SIGTERM received during an action (0: none).
static INTERRUPT: AtomicI32 = AtomicI32::new(0);
/// The write end of the pipe the interrupt handler writes the signal number to.
static INTERRUPT_PIPE: AtomicI32 = AtomicI32::new(-1);

/// Whether the action was interrupted: launch nothing more.
pub fn interrupted() -> bool {
    INTERRUPT.load(Ordering::Acquire) != 0
}

/// The name of the signal that interrupted the action, and the exit code it calls for
/// (128 + its number, as a shell reports a process it killed).
pub fn interruption() -> Option<(&'static str, i32)> {
    match INTERRUPT.load(Ordering::Acquire) {
        0 => None,
        sig => Some((signal_name(sig), 128 + sig)),
    }
}

/// From now on, SIGINT and SIGTERM interrupt the action instead of killing the process: the
/// first is logged and makes [`interrupted`] true; a second exits at once, logging that it
/// does. Children do not inherit this: a handled signal is reset by exec.
pub fn catch_interrupts() {
    const UNCAUGHT: &str = "cannot catch SIGINT and SIGTERM: an interruption kills svcmgr";
    static ONCE: AtomicBool = AtomicBool::new(false);
    if ONCE.swap(true, Ordering::AcqRel) {
        return;
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two descriptors we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        log::warn("", UNCAUGHT);
        return;
    }
    INTERRUPT_PIPE.store(fds[1], Ordering::Release);
    let reader = fds[0];
    let watcher = std::thread::Builder::new().spawn(move || {
        let mut seen = 0;
        loop {
            let mut b = [0u8; 1];
            // SAFETY: read(2) into a byte we own, from the pipe we made.
            let n = unsafe { libc::read(reader, b.as_mut_ptr().cast(), 1) };
            match n {
                1 => {}
                -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
                    continue
                }
                // End of file or an error: no signal can come through the pipe any more,
                // and looping on it would spin.
                _ => break,
            }
            let sig = libc::c_int::from(b[0]);
            seen += 1;
            on_interrupt(sig, seen);
        }
    });
    if watcher.is_err() {
        log::warn("", UNCAUGHT);
        return;
    }
    // SAFETY: the handler only writes one byte to the pipe (async-signal-safe).
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_interrupt_signal as *const () as usize;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_interrupt_signal(sig: libc::c_int) {
    let fd = INTERRUPT_PIPE.load(Ordering::Acquire);
    let b = [sig as u8];
    // SAFETY: write(2) of one byte we own; errno is saved and restored around it.
    unsafe {
        let errno = *libc::__errno_location();
        libc::write(fd, b.as_ptr().cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// The `n`th interrupt: the first one stops the launching, the second the process.
fn on_interrupt(sig: libc::c_int, n: usize) {
    let name = signal_name(sig);
    if n == 1 {
        INTERRUPT.store(sig, Ordering::Release);
        log::warn(
            "",
            &format!(
                "{name} received: interrupted, launching nothing more and waiting for the \
                 calls in flight (a second signal exits at once)"
            ),
        );
        return;
    }
    let calls = in_flight::active();
    let in_flight = match calls.is_empty() {
        true => String::new(),
        false => format!(", abandoning {}", calls.join("; ")),
    };
    log::error(
        "",
        &format!("second signal ({name}): exiting at once, without rollback{in_flight}"),
    );
    std::process::exit(128 + sig);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_numbers_without_allocation() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let mut buf = [0u8; 16];
        let mut l = Line {
            buf: &mut buf,
            len: 0,
        };
        l.num(7, 3);
        l.push(b" ");
        l.num(2024, 4);
        l.push(b" ");
        l.num(0, 2);
        assert_eq!(l.bytes(), b"007 2024 00");
        l.push(&[b'x'; 100]);
        assert_eq!(l.bytes().len(), 16, "cut, not overflowing");
    }
}
