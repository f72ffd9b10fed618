//! The process heap, set up to be touched cheaply.
//!
//! Loading a large service touches tens of megabytes of heap, each page for the first time:
//! on a virtual machine every first touch of a 4 KiB page is a fault costing microseconds (a
//! third of `validate config` of 10,000 sections was such faults). Transparent huge pages
//! take one fault per 2 MiB instead; glibc asks for them only when told by an environment
//! variable read at exec (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`), so this does the same
//! from the program: the heap is grown once, in one piece, and that piece is advised
//! `MADV_HUGEPAGE` (the kernel's `madvise` mode gives huge pages to advised ranges only).
//! Where huge pages cannot be had the kernel gives small ones: nothing fails. A fault in the
//! advised range may make the kernel compact memory first (THP `defrag` at its default,
//! `madvise`): the price of the fewer faults, paid only by commands whose heap outgrows the
//! part below the first 2 MiB boundary (a small service's commands never reach it).

/// The heap grows by this much at a time (address space: memory is given on first touch).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const GROWTH: usize = 64 << 20;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const HUGE_PAGE: usize = 2 << 20;

/// Grow the heap by [`GROWTH`] now and advise huge pages on it; called first thing in
/// `main`, before any other thread runs. Also, allocations up to 32 MiB (glibc's largest
/// setting) come from the heap rather than from a mapping of their own each, and the heap
/// is not given back while in use: the tables and vectors of a large service are freed and
/// made again as it loads, and each new mapping was touched afresh.
///
/// Nothing is changed under a data size limit (`ulimit -d`, `LimitDATA=`): the heap growing
/// by [`GROWTH`] at a time counts against it, and allocations a small limit allows would fail.
pub fn prepare() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: getrlimit into a local, mallopt, sbrk(0) (which reads the break), malloc/free
    // of a block used for nothing, and madvise of a range inside the heap the allocator owns
    // (advice only: no memory changes) are sound before any other thread allocates.
    unsafe {
        let mut data = std::mem::zeroed::<libc::rlimit>();
        if libc::getrlimit(libc::RLIMIT_DATA, &mut data) != 0
            || data.rlim_cur != libc::RLIM_INFINITY
        {
            return;
        }
        let set = |param, value: usize| libc::mallopt(param, value as libc::c_int) == 1;
        if !(set(libc::M_MMAP_THRESHOLD, 32 << 20)
            && set(libc::M_TOP_PAD, GROWTH)
            && set(libc::M_TRIM_THRESHOLD, 2 * GROWTH))
        {
            return;
        }
        let before = libc::sbrk(0) as usize;
        if before == usize::MAX {
            return;
        }
        // A block larger than what is left at the heap's top: the heap grows now, by
        // the block and GROWTH (black_box: the compiler would drop an unused block).
        libc::free(std::hint::black_box(libc::malloc(HUGE_PAGE)));
        let after = libc::sbrk(0) as usize;
        let start = before.next_multiple_of(HUGE_PAGE);
        if after == usize::MAX || after <= start + HUGE_PAGE {
            return;
        }
        let len = (after - start) / HUGE_PAGE * HUGE_PAGE;
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}
