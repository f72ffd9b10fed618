//! Which driver calls are in flight, readable from a signal handler.
//!
//! Every ABI call the host makes (see `handle`) holds a [`Mark`] while it runs: the phrase
//! naming it (`the 'start' call of driver app.simple on app#1`) is copied into a slot of a
//! fixed table of atomic words, and the slot's index is the calling thread's current call.
//! The fatal-signal handler (`crate::signals`) reads them without allocating or locking.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// Calls named at once; beyond that, a call runs unnamed (only the crash message loses it).
const SLOTS: usize = 512;
/// Longest phrase kept; a longer one is cut.
const TEXT: usize = 160;
/// The phrase is stored 8 bytes to a word: a mark is taken for every driver call (four per
/// resource when a service is built), and storing it byte by byte was most of its cost.
const WORDS: usize = TEXT / 8;
const _: () = assert!(TEXT.is_multiple_of(8));
const NONE: usize = usize::MAX;

const FREE: u8 = 0;
const WRITING: u8 = 1;
const ACTIVE: u8 = 2;

struct Slot {
    state: AtomicU8,
    len: AtomicUsize,
    text: [AtomicU64; WORDS],
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicU8::new(FREE),
            len: AtomicUsize::new(0),
            text: [const { AtomicU64::new(0) }; WORDS],
        }
    }

    /// Copy the phrase out into `buf` (a signal handler's stack buffer); its length.
    fn read(&self, buf: &mut [u8; TEXT]) -> usize {
        let len = self.len.load(Ordering::Acquire).min(TEXT);
        for (bytes, word) in buf
            .chunks_exact_mut(8)
            .zip(&self.text)
            .take(len.div_ceil(8))
        {
            bytes.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
        }
        len
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
/// Where the next slot search starts, so that searches spread over the table.
static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The slot of this thread's innermost call in flight (`NONE`: none). A const-initialised
    /// `Cell` of a plain integer: reading it is a plain TLS load, fine in a signal handler.
    static CURRENT: Cell<usize> = const { Cell::new(NONE) };
}

/// A call in flight on this thread, until dropped.
pub struct Mark {
    slot: usize,
    previous: usize,
}

impl Mark {
    /// Mark `verb` of driver `driver` on resource `rid` as in flight on this thread.
    pub fn new(driver: &str, rid: &str, verb: &str) -> Mark {
        // The phrase's pieces go straight into the slot: every driver call takes a mark (four
        // per resource when a service is built), and formatting it first cost a string
        // allocation and ~1,000 instructions a call.
        let slot = claim(&["the '", verb, "' call of driver ", driver, " on ", rid]);
        let previous = CURRENT.with(|c| match slot {
            NONE => c.get(),
            s => c.replace(s),
        });
        Mark { slot, previous }
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        if self.slot != NONE {
            CURRENT.with(|c| c.set(self.previous));
            TABLE[self.slot].state.store(FREE, Ordering::Release);
        }
    }
}

/// Claim a free slot and write the phrase made of `pieces` into it (cut to [`TEXT`] bytes);
/// `NONE` when the table is full.
fn claim(pieces: &[&str]) -> usize {
    let mut phrase = [0u8; TEXT];
    let mut len = 0;
    for piece in pieces {
        let n = piece.len().min(TEXT - len);
        phrase[len..len + n].copy_from_slice(&piece.as_bytes()[..n]);
        len += n;
    }
    let start = NEXT.fetch_add(1, Ordering::Relaxed);
    for i in 0..SLOTS {
        let index = (start + i) % SLOTS;
        let slot = &TABLE[index];
        if slot
            .state
            .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            continue;
        }
        for (word, bytes) in slot
            .text
            .iter()
            .zip(phrase.chunks_exact(8))
            .take(len.div_ceil(8))
        {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            word.store(u64::from_ne_bytes(b), Ordering::Relaxed);
        }
        slot.len.store(len, Ordering::Release);
        slot.state.store(ACTIVE, Ordering::Release);
        return index;
    }
    NONE
}

/// The phrase of this thread's current call, copied into `buf`: its length (0: none).
/// Async-signal-safe.
pub fn current(buf: &mut [u8; TEXT]) -> usize {
    // `try_with`: during thread teardown the slot may be gone; then there is no call.
    match CURRENT.try_with(Cell::get) {
        Ok(NONE) | Err(_) => 0,
        Ok(index) => TABLE[index].read(buf),
    }
}

/// Call `each` with the phrase of every call in flight on any thread. Async-signal-safe
/// when `each` is.
pub fn each_active(mut each: impl FnMut(&[u8])) {
    let mut buf = [0u8; TEXT];
    for slot in &TABLE {
        if slot.state.load(Ordering::Acquire) == ACTIVE {
            let len = slot.read(&mut buf);
            each(&buf[..len]);
        }
    }
}

/// The phrases of the calls in flight, for ordinary messages (a second interrupt).
pub fn active() -> Vec<String> {
    let mut out = Vec::new();
    each_active(|p| out.push(String::from_utf8_lossy(p).into_owned()));
    out
}

/// A buffer for [`current`].
pub fn buffer() -> [u8; TEXT] {
    [0; TEXT]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_nest_and_release_their_slots() {
        let mut buf = buffer();
        assert_eq!(current(&mut buf), 0);
        {
            let _outer = Mark::new("app.simple", "app#1", "start");
            let n = current(&mut buf);
            assert_eq!(&buf[..n], b"the 'start' call of driver app.simple on app#1");
            {
                let _inner = Mark::new("container.docker", "container#1", "netns");
                let n = current(&mut buf);
                assert!(buf[..n].ends_with(b"container.docker on container#1"));
                assert!(active().iter().any(|p| p.contains("'start'")));
            }
            let n = current(&mut buf);
            assert!(buf[..n].ends_with(b"app#1"), "the outer call again");
        }
        assert_eq!(current(&mut buf), 0);
        assert!(!active().iter().any(|p| p.contains("app.simple on app#1")));
        // Another thread's call is in flight, but not this thread's.
        let long = "x".repeat(500);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _m = Mark::new(&long, "r", "v");
                let n = current(&mut buffer());
                assert_eq!(n, TEXT, "cut to the slot's size");
            });
        });
    }
}
