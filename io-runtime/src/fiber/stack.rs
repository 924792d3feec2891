//! Fiber stacks: a per-thread pool of guard-paged stacks carved from large slabs.
//!
//! A fresh `mmap` per fiber costs microseconds and, with an `mprotect`ed guard page, two kernel
//! mappings; Linux's default `vm.max_map_count` (65 530) then caps a process near 32 000 fibers.
//! So stacks are carved from slabs of many stacks (one mapping each, see "Slab sizes"), each with
//! a guard page below it, and recycled through a free list: a recycled [`StackPool::get`] is a
//! `Vec::pop`.
//!
//! # Slab layout
//!
//! ```text
//!  one slab = one mmap(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
//!  low addresses on the left; stride = page + stack_size
//!
//!  slab.start                                                                   slab.start + len
//!  |<-------------- stride -------------->|<-------------- stride -------------->|
//!  +-------+------------------------------+-------+------------------------------+-- ... --+
//!  | guard |  stack 0     <-- grows down  | guard |  stack 1     <-- grows down  |   2..63  |
//!  +-------+------------------------------+-------+------------------------------+-- ... --+
//!  ^                                      ^                                      ^
//!  limit(0)                   base(0) = limit(1)                     base(1) = limit(2)
//! ```
//!
//! Each stack's guard page sits directly below it, so running off the bottom of stack `i` faults
//! in guard `i` rather than scribbling over stack `i - 1`; the top of stack `i` is the guard of
//! stack `i + 1`, which a downward-growing stack never reaches. `limit()` includes the guard, as
//! corosensei's [`Stack`] contract requires.
//!
//! # Slab sizes
//!
//! A pool's first slab holds [`STACKS_PER_SLAB`] stacks and each further one twice as many as the
//! one before, up to [`MAX_STACKS_PER_SLAB`]: a loop of a few fibers maps 64 stacks, a million
//! fibers take 250 slabs instead of 15 625 (each slab is an entry the overflow handler's registry
//! keeps and a new slab searches). Address space is all a big slab costs: its pages are mapped
//! lazily and its guards installed a batch at a time. Under a finite `RLIMIT_AS` every slab holds
//! [`STACKS_PER_SLAB`] (see "Address-space limit").
//!
//! # Guards
//!
//! A slot's guard is installed when the slot is first handed out, with the mode of
//! [`GuardMode`]: `madvise(MADV_GUARD_INSTALL)` (Linux ≥ 6.13) puts a marker in the page table
//! and leaves the slab one mapping; on older kernels `madvise` answers `EINVAL` and the pool falls
//! back to `mprotect(PROT_NONE)`, which splits the slab into two mappings per stack. The mode is
//! probed once per process ([`detect_guard_mode`]). A fault in a guard is reported by the SIGSEGV
//! handler of the sibling module `overflow` ("io: fiber stack overflow in fiber …") and the
//! process aborts.
//!
//! With guard regions, the first slot of a batch gets its guard together with those of the next
//! [`GUARD_BATCH`] − 1 slots of its slab, in one `process_madvise(PIDFD_SELF, ranges,
//! MADV_GUARD_INSTALL)` call (Linux ≥ 6.15; probed once, [`detect_vectored_guards`]), or one
//! `madvise` each on kernels without it; the next slots are then handed out without a system call.
//! Measured on this kernel (6.18, KVM guest): 0.3 µs per guard batched against 0.4–0.7 µs with
//! one `madvise` each; most of what remains is the kernel allocating the page-table pages the
//! guard markers live in. A guard is a page-table entry, so it costs no resident memory.
//!
//! # First touch
//!
//! A fresh stack's top page must become resident before its fiber runs: that is the floor for a
//! fresh stack (a recycled one is resident already). A scheduler takes a stack with
//! [`StackPool::reserve`], which touches nothing, and makes it a stack with
//! [`ReservedStack::into_stack`] only when the fiber is built: a task run inline or by another
//! loop meanwhile gives its slot back untouched (the free list tags such slots [`FRESH`]). A
//! fresh slot's top page is then made resident with one `madvise(MADV_POPULATE_WRITE)` instead
//! of the page fault of the first write. Measured on this machine (KVM guest, 6.18, idle, 100 000
//! pages 260 KiB apart): the write fault 1.78 µs per page, `MADV_POPULATE_WRITE` 1.33–1.39 µs
//! per page one call each and 1.28–1.34 µs 64 or 1024 pages per `process_madvise` call (so one
//! call per stack, made when it is needed, is kept); most of what remains is the kernel's own
//! work per page (zeroing, memory-cgroup charge, LRU lists), which no way of faulting avoids.
//! Two threads faulting at once reach 0.97 µs per page together (1.8× one), not 0.9.
//!
//! # Teardown
//!
//! Unmapping a slab frees every page its fibers touched: about 0.3 µs per page here, 30 ms for
//! 100 000 fibers. A pool bigger than a spare may be (see "Reuse") hands its slabs to a
//! short-lived thread (`io-unmap`, every signal blocked) when it is dropped, so the
//! `Runtime::run` whose loop ends does not wait for it; the pages are back with the kernel a few
//! tens of milliseconds later. If no thread can be started, the pool unmaps them itself.
//!
//! # Memory
//!
//! `MAP_NORESERVE` plus lazy faulting mean a stack costs only the pages it has touched: one page
//! for a fiber parked in a shallow call chain, which is the floor for a stackful fiber with 4 KiB
//! pages. The top 16 bytes of that page hold the slot's header (its pool and stride, see
//! `SlotHeader`), so a [`PooledStack`] is one word: with 100 000 fibers, every word the loop
//! keeps per fiber in its tables costs about 1 MiB. A guard costs no page, but the page-table
//! page its marker lives in is shared by only the slots within 2 MiB (8 stacks of 256 KiB):
//! about 0.5 KiB of page tables per fiber, which the resident set (RSS) does not count. A recycled
//! stack keeps those pages: the hot path never calls `madvise(MADV_DONTNEED)`, so an idle stack's
//! resident memory is its high-water mark while its pool lives. `StackPool::trim` hands idle pages
//! back on demand; the runtime never calls it, so it is built for the unit tests only (a pool kept
//! for reuse is trimmed to one page per stack instead, see "Reuse").
//! Slabs are unmapped when the pool and every stack taken from it are gone, unless the pool is
//! kept as its thread's spare (see "Teardown" for who unmaps them).
//!
//! # Reuse
//!
//! Every `Runtime::run` on the uring backend makes a loop with a pool of its own. When the last
//! handle of a pool is dropped with every stack back, a pool of at most [`SPARE_MAX_STACKS`]
//! slots with guard regions is kept as the thread's spare (one per thread, replacing the one
//! before), and the next [`StackPool::new`] on the thread takes it up if the stack size, guard
//! mode and address-space limit match and `max_stacks` is not below its slot count: its stacks
//! are guarded and their top pages resident (those of slots ever used), so a loop that runs a
//! thousand fibers per `run` does not pay a thousand guard installs and first touches every
//! time. Before it is kept,
//! every stack is trimmed to its top page (`MADV_DONTNEED` below it, 256 stacks per
//! `process_madvise` call), so a spare holds at most one page per slot, 8 MiB at the cap. A
//! bigger pool is unmapped as before. The spare is unmapped when its thread exits.
//!
//! # Address-space limit
//!
//! `MAP_NORESERVE` saves memory, not address space: every slab counts in full against
//! `RLIMIT_AS`. Under a finite limit (read once per pool) a new slab must leave the reserve of
//! `backend::headroom` free, so that the loop's own allocations after the last stack still
//! succeed; near the limit a slab holds only the slots that fit, and when none does `get` fails
//! with [`StackExhausted`] (the runtime's `ConcurrencyUnavailable`) instead of mapping up to the
//! limit. Without a limit the check is one test of a cached value, per slab.
//!
//! # Threads
//!
//! A pool is an `Rc` handle: it and its stacks are `!Send`, so every fiber on its stacks runs on
//! the thread that made the pool. [`StackPool::new`] prepares that thread to report overflows
//! (signal handler plus alternate signal stack).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::ptr::{self, NonNull};
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};

use corosensei::stack::{Stack, StackPointer, MIN_STACK_SIZE};

use super::overflow;
use crate::backend::headroom::Headroom;

/// How many stacks a pool's first slab (one `mmap`) holds, unless `max_stacks` asks for fewer.
/// Without an address-space limit each further slab holds twice as many as the one before, up
/// to [`MAX_STACKS_PER_SLAB`]; under `RLIMIT_AS` every slab holds this many (see "Slab sizes").
pub(crate) const STACKS_PER_SLAB: usize = 64;

/// The most stacks one slab holds: 4096 stacks of 256 KiB are 1 GiB of address space, and a
/// million stacks take 250 slabs.
pub(crate) const MAX_STACKS_PER_SLAB: usize = 4096;

/// How many guards one system call installs at most: a fresh slot is guarded together with the
/// next ones of its slab, up to this many (see "Guards").
pub(crate) const GUARD_BATCH: usize = 64;

/// How many ranges one `process_madvise(MADV_DONTNEED)` call trims at most when a pool is kept
/// as a spare (the kernel takes up to 1024; 256 keep the array at 4 KiB of the caller's stack).
const TRIM_BATCH: usize = 256;

/// `process_madvise`'s pidfd for the calling thread (Linux ≥ 6.15, `include/uapi/linux/pidfd.h`):
/// the advice applies to this process's memory, and stays right in a forked child, which a pidfd
/// kept from `pidfd_open` would not.
const PIDFD_SELF: libc::c_int = -10_000;

/// `madvise` advice installing a lightweight guard region (Linux ≥ 6.13,
/// `include/uapi/asm-generic/mman-common.h`); libc 0.2 does not export it yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Detection state of [`detect_guard_mode`]: not probed yet.
const MODE_UNKNOWN: u8 = 0;
/// Detection state: the kernel accepts `MADV_GUARD_INSTALL`.
const MODE_MADVISE: u8 = 1;
/// Detection state: the kernel refused `MADV_GUARD_INSTALL`.
const MODE_MPROTECT: u8 = 2;

/// Process-wide result of probing the kernel; set once by [`detect_guard_mode`], never cleared.
static DETECTED_MODE: AtomicU8 = AtomicU8::new(MODE_UNKNOWN);

/// How the guard page below each stack is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`: a page-table marker, no extra kernel mapping (Linux ≥ 6.13).
    Madvise,
    /// `mprotect(PROT_NONE)`: two kernel mappings per stack, so `vm.max_map_count` caps the number
    /// of stacks (near 32 000 with the default 65 530).
    Mprotect,
}

/// Detection state of [`detect_vectored_guards`]: not probed yet.
const VECTORED_UNKNOWN: u8 = 0;
/// Detection state: `process_madvise` installs guards for a vector of ranges.
const VECTORED_YES: u8 = 1;
/// Detection state: it does not (before Linux 6.15, or refused); one `madvise` per guard.
const VECTORED_NO: u8 = 2;

/// Process-wide result of [`detect_vectored_guards`]; set once, never cleared.
static DETECTED_VECTORED: AtomicU8 = AtomicU8::new(VECTORED_UNKNOWN);

/// Returns whether `process_madvise(PIDFD_SELF, ranges, MADV_GUARD_INSTALL)` installs the guards
/// of a vector of ranges in one system call on this kernel, probing once per process.
///
/// The probe maps three pages and asks for guards on the first and the last in one call; the
/// answer is yes only if the call reports both pages done. Kernels before 6.15 answer `EBADF`
/// (no `PIDFD_SELF`), those before 6.13 `EINVAL` (no guard regions, or no such advice through
/// `process_madvise`).
pub(crate) fn detect_vectored_guards() -> bool {
    match DETECTED_VECTORED.load(Ordering::Relaxed) {
        VECTORED_YES => return true,
        VECTORED_NO => return false,
        _ => {}
    }
    let vectored = probe_vectored_guards();
    let state = if vectored { VECTORED_YES } else { VECTORED_NO };
    DETECTED_VECTORED.store(state, Ordering::Relaxed);
    vectored
}

/// Tries a vectored `MADV_GUARD_INSTALL` on two pages of a throwaway mapping.
fn probe_vectored_guards() -> bool {
    let page = page_size();
    let Ok(probe) = map_anonymous(3 * page) else {
        return false;
    };
    let first = probe.as_ptr();
    let ranges = [first, first.wrapping_add(2 * page)].map(|start| libc::iovec {
        iov_base: start.cast(),
        iov_len: page,
    });
    // SAFETY: both ranges lie in the private mapping made above, which nothing else refers to.
    let done = unsafe { process_madvise(&ranges, MADV_GUARD_INSTALL) };
    // SAFETY: unmaps exactly the mapping made above; no reference into it exists.
    unsafe { libc::munmap(probe.as_ptr().cast(), 3 * page) };
    matches!(done, Ok(bytes) if bytes == 2 * page)
}

/// `process_madvise(PIDFD_SELF, ranges, advice, 0)`: the bytes advised, or the error.
///
/// # Safety
///
/// As for `madvise` on every range: the advice must not invalidate memory that references or
/// values of the program still use.
unsafe fn process_madvise(ranges: &[libc::iovec], advice: libc::c_int) -> io::Result<usize> {
    // SAFETY: `ranges` is a live array of `ranges.len()` iovecs; the kernel only reads it. The
    // advice's effect on the memory named is the caller's obligation.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF,
            ranges.as_ptr(),
            ranges.len(),
            advice,
            0,
        )
    };
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// Returns the guard mode this kernel supports, probing once per process.
///
/// The probe maps one page, asks for `MADV_GUARD_INSTALL` on it and unmaps it; any failure (the
/// `EINVAL` of kernels before 6.13, or a failed probe mapping) selects [`GuardMode::Mprotect`].
pub(crate) fn detect_guard_mode() -> GuardMode {
    match DETECTED_MODE.load(Ordering::Relaxed) {
        MODE_MADVISE => return GuardMode::Madvise,
        MODE_MPROTECT => return GuardMode::Mprotect,
        _ => {}
    }
    let mode = probe_guard_mode();
    let state = match mode {
        GuardMode::Madvise => MODE_MADVISE,
        GuardMode::Mprotect => MODE_MPROTECT,
    };
    DETECTED_MODE.store(state, Ordering::Relaxed);
    mode
}

/// Tries `MADV_GUARD_INSTALL` on a throwaway page.
fn probe_guard_mode() -> GuardMode {
    let page = page_size();
    let Ok(probe) = map_anonymous(page) else {
        return GuardMode::Mprotect;
    };
    // SAFETY: `probe` is a private anonymous mapping of `page` bytes made just above; nothing else
    // refers to it, so turning it into a guard cannot affect other memory.
    let accepted = unsafe { libc::madvise(probe.as_ptr().cast(), page, MADV_GUARD_INSTALL) } == 0;
    // SAFETY: unmaps exactly the mapping made above; no reference into it exists.
    unsafe { libc::munmap(probe.as_ptr().cast(), page) };
    if accepted {
        GuardMode::Madvise
    } else {
        GuardMode::Mprotect
    }
}

/// The system page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page)
        .ok()
        .filter(|p| p.is_power_of_two())
        .unwrap_or(4096)
}

/// Maps `len` bytes of private, anonymous, unreserved read-write memory.
pub(crate) fn map_anonymous(len: usize) -> io::Result<NonNull<u8>> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: a fresh anonymous mapping without an address hint cannot alias existing memory.
    let addr = unsafe { libc::mmap(ptr::null_mut(), len, prot, flags, -1, 0) };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(addr.cast()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
}

/// Why [`StackPool::get`] could not hand out a stack. The runtime turns it into
/// `ConcurrencyUnavailable`.
#[derive(Debug)]
pub(crate) struct StackExhausted {
    kind: ExhaustedKind,
}

/// The private cause behind [`StackExhausted`].
#[derive(Debug)]
enum ExhaustedKind {
    /// Every one of the pool's `max_stacks` stacks is in use.
    Limit(usize),
    /// The kernel refused memory or a guard page (`ENOMEM` when `vm.max_map_count` is reached).
    Os(&'static str, io::Error),
    /// Another slab would eat into the reserve kept under `RLIMIT_AS` (see
    /// `backend::headroom`).
    AddressSpace,
}

impl StackExhausted {
    /// Returns whether the pool's `max_stacks` limit was reached (as opposed to the kernel
    /// refusing memory).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_limit(&self) -> bool {
        matches!(self.kind, ExhaustedKind::Limit(_))
    }

    /// Returns the operating-system error behind this failure, if the kernel refused.
    pub(crate) fn os_error(&self) -> Option<&io::Error> {
        match &self.kind {
            ExhaustedKind::Limit(_) | ExhaustedKind::AddressSpace => None,
            ExhaustedKind::Os(_, error) => Some(error),
        }
    }

    fn os(operation: &'static str, error: io::Error) -> Self {
        Self {
            kind: ExhaustedKind::Os(operation, error),
        }
    }
}

impl fmt::Display for StackExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExhaustedKind::Limit(max) => write!(f, "all {max} fiber stacks are in use"),
            ExhaustedKind::Os(op, error) => write!(f, "no fiber stack: {op} failed: {error}"),
            ExhaustedKind::AddressSpace => f.write_str(
                "no fiber stack: another slab would leave too little address space under \
                 RLIMIT_AS",
            ),
        }
    }
}

impl std::error::Error for StackExhausted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.os_error().map(|e| e as _)
    }
}

/// A pool of fiber stacks with guard pages, recycled through a free list.
///
/// Cloning the pool clones a handle to the same stacks. A dropped stack is the next one handed
/// out, without a system call (unit test `recycled_stack_is_the_same_stack`).
#[derive(Clone)]
pub(crate) struct StackPool {
    inner: Rc<PoolInner>,
}

/// The shared state of a pool; slabs live as long as the last handle or stack.
struct PoolInner {
    /// Usable bytes per stack, at least `MIN_STACK_SIZE`: a multiple of the page size less the
    /// [`SlotHeader`] at the top.
    stack_size: usize,
    /// Bytes per guard page.
    page: usize,
    /// `page + stack_size`: distance between neighbouring slots.
    stride: usize,
    /// How many stacks may be handed out at once; set anew when the pool is reused.
    max_stacks: Cell<usize>,
    mode: GuardMode,
    /// In [`GuardMode::Madvise`]: whether guards are installed [`GUARD_BATCH`] per
    /// `process_madvise` call ([`detect_vectored_guards`]) rather than one `madvise` each.
    vectored: bool,
    /// The address-space limit, read when the pool was made: slabs leave its reserve free.
    headroom: Headroom,
    /// Lowest address (the guard) of each idle slot, tagged [`FRESH`] if the slot was never
    /// touched (reserved and given back unused); popped LIFO so warm stacks go first.
    /// Invariant: `capacity >= mapped`, so pushing back a stack never allocates.
    free: RefCell<Vec<NonNull<u8>>>,
    /// Every slab mapped so far, unmapped on drop.
    slabs: RefCell<Vec<Slab>>,
    /// Slots in all mapped slabs.
    mapped: Cell<usize>,
    /// Slots ever handed out; slots `carved..mapped` are in the last slab, never used yet.
    carved: Cell<usize>,
    /// Slots whose guard is installed: `carved <= guarded <= mapped`; slots `carved..guarded`
    /// were guarded in the batch of an earlier slot and wait in the last slab.
    guarded: Cell<usize>,
}

/// One `mmap` holding `len / stride` slots, registered with the overflow handler.
struct Slab {
    start: NonNull<u8>,
    len: usize,
    /// The slab's entry in the overflow handler's registry, released before unmapping.
    registration: overflow::SlabRegistration,
}

impl Drop for Slab {
    fn drop(&mut self) {
        self.registration.release();
        // SAFETY: `start..start + len` is this slab's own mapping. The pool drops its slabs only
        // when no `PooledStack` (hence no fiber) refers into them: each stack holds an `Rc` to the
        // pool.
        unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}

/// A pool's last handle is gone (no stack is out): its slabs are unmapped. Those of a pool
/// bigger than [`SPARE_MAX_STACKS`] slots are unmapped on a short-lived thread of their own
/// (see "Teardown"), so the `Runtime::run` whose loop ends here does not wait for the kernel to
/// free every page its fibers touched.
impl Drop for PoolInner {
    fn drop(&mut self) {
        let slabs = std::mem::take(self.slabs.get_mut());
        if self.mapped.get() > SPARE_MAX_STACKS {
            unmap_in_background(slabs);
        }
    }
}

/// Slabs handed to another thread to unmap.
struct Unmap(Vec<Slab>);

// SAFETY: a `Slab` is an address range its pool owned alone, plus its registry entry (a
// `&'static` node of atomics); the pool is gone and no stack refers into the slab, so nothing
// on the pool's thread touches the range again and any thread may release and unmap it.
unsafe impl Send for Unmap {}

impl Unmap {
    /// Releases and unmaps the slabs (a method, so that a closure moves the whole `Unmap`).
    fn run(self) {
        drop(self.0);
    }
}

/// Unmaps `slabs` on a new thread, or here if no thread can be started. The thread blocks
/// every signal (it inherits the mask set around its creation), so a signal sent to the process
/// never lands on it.
fn unmap_in_background(slabs: Vec<Slab>) {
    let unmap = Unmap(slabs);
    // SAFETY: sigset_t is plain data, filled by sigfillset before use; pthread_sigmask only
    // changes the calling thread's mask, and the old mask is put back below.
    let old = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        old
    };
    // On failure the closure, and with it the slabs, is dropped: they are unmapped here.
    let _ = std::thread::Builder::new()
        .name("io-unmap".into())
        .stack_size(64 * 1024)
        .spawn(move || unmap.run());
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
}

impl StackPool {
    /// Creates a pool of stacks of at least `stack_size` usable bytes each (rounded up to a page,
    /// and to corosensei's `MIN_STACK_SIZE`), handing out at most `max_stacks` at once.
    ///
    /// Nothing is mapped until the first [`get`](Self::get). The guard mode is the kernel's
    /// ([`detect_guard_mode`]). The calling thread gets the overflow reporter (a process-wide
    /// SIGSEGV handler, installed once, and an alternate signal stack if it has none).
    ///
    /// # Panics
    ///
    /// Panics if `stack_size` plus a guard page overflows `usize`.
    ///
    /// The pool of an earlier loop on this thread is taken up again if it fits (see "Reuse" in
    /// the module docs): its stacks are guarded and resident already.
    pub(crate) fn new(stack_size: usize, max_stacks: usize) -> Self {
        let mode = detect_guard_mode();
        if let Some(pool) = Self::take_spare(stack_size, max_stacks, mode) {
            return pool;
        }
        Self::with_guard_mode(stack_size, max_stacks, mode)
    }

    /// The spare pool of this thread, if it was made for the same stack size, guard mode and
    /// address-space limit and holds no more slots than `max_stacks`; a spare that does not fit
    /// is unmapped.
    fn take_spare(stack_size: usize, max_stacks: usize, mode: GuardMode) -> Option<Self> {
        let inner = SPARE.try_with(RefCell::take).ok().flatten()?;
        let (usable, _) = slot_sizes(stack_size, inner.page)?;
        let vectored = mode == GuardMode::Madvise && detect_vectored_guards();
        let fits = inner.stack_size == usable
            && inner.mode == mode
            && inner.vectored == vectored
            && inner.headroom == Headroom::new()
            && inner.mapped.get() <= max_stacks
            && Rc::strong_count(&inner) == 1;
        if !fits {
            return None;
        }
        inner.max_stacks.set(max_stacks);
        overflow::prepare_thread();
        Some(Self { inner })
    }

    /// Like [`new`](Self::new) but with a chosen guard mode, e.g. to exercise the `mprotect`
    /// fallback on a kernel that has guard regions. With [`GuardMode::Madvise`] on a kernel
    /// without them, every fresh [`get`](Self::get) fails.
    ///
    /// # Panics
    ///
    /// Panics if `stack_size` plus a guard page overflows `usize`.
    pub(crate) fn with_guard_mode(stack_size: usize, max_stacks: usize, mode: GuardMode) -> Self {
        let vectored = mode == GuardMode::Madvise && detect_vectored_guards();
        Self::with_guards(stack_size, max_stacks, mode, vectored)
    }

    /// Like [`with_guard_mode`](Self::with_guard_mode), choosing too whether guard regions are
    /// installed a batch per `process_madvise` (`vectored`, only meaningful with
    /// [`GuardMode::Madvise`]) or with one `madvise` each, e.g. to exercise the latter on a
    /// kernel that has the former.
    ///
    /// # Panics
    ///
    /// Panics if `stack_size` plus a guard page overflows `usize`.
    pub(crate) fn with_guards(
        stack_size: usize,
        max_stacks: usize,
        mode: GuardMode,
        vectored: bool,
    ) -> Self {
        overflow::prepare_thread();
        let page = page_size();
        let slot = slot_sizes(stack_size, page);
        let (stack_size, stride) = slot.expect("fiber stack size overflows usize");
        let inner = PoolInner {
            stack_size,
            page,
            stride,
            max_stacks: Cell::new(max_stacks),
            mode,
            vectored: vectored && mode == GuardMode::Madvise,
            headroom: Headroom::new(),
            free: RefCell::new(Vec::new()),
            slabs: RefCell::new(Vec::new()),
            mapped: Cell::new(0),
            carved: Cell::new(0),
            guarded: Cell::new(0),
        };
        Self {
            inner: Rc::new(inner),
        }
    }

    /// Takes a stack: an idle one if any (no system call), else a fresh slot, mapping a new slab
    /// when the last one is used up.
    ///
    /// # Errors
    ///
    /// Returns [`StackExhausted`] when `max_stacks` stacks are in use, or when the kernel refuses
    /// the slab or the guard page (e.g. `ENOMEM` at `vm.max_map_count` in `mprotect` mode).
    /// Never panics or aborts.
    #[inline]
    pub(crate) fn get(&self) -> Result<PooledStack, StackExhausted> {
        Ok(self.reserve()?.into_stack())
    }

    /// Takes a stack without touching it: like [`get`](Self::get), but the slot's header is
    /// written (and a fresh slot's first page faulted in) only by
    /// [`ReservedStack::into_stack`], when a fiber is built on it. A scheduler reserves the stack
    /// of every task it accepts and builds the fiber when it starts the task, so the first
    /// touch is paid by the thread that starts it (not the one that spawned it), and not at all
    /// for a task that ran inline or on another loop meanwhile (see "First touch").
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    #[inline]
    pub(crate) fn reserve(&self) -> Result<ReservedStack, StackExhausted> {
        self.reserve_leaving(0)
    }

    /// Like [`reserve`](Self::reserve), but leaves at least `keep` idle stacks in the pool: when
    /// no more are idle, it carves a new stack instead (a scheduler keeps idle stacks promised
    /// to tasks that will take them when they start).
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    #[inline]
    pub(crate) fn reserve_leaving(&self, keep: usize) -> Result<ReservedStack, StackExhausted> {
        let idle = {
            let mut free = self.inner.free.borrow_mut();
            if free.len() > keep {
                free.pop()
            } else {
                None
            }
        };
        let slot = match idle {
            Some(slot) => slot,
            None => fresh(self.inner.carve()?),
        };
        Ok(ReservedStack {
            slot,
            pool: Rc::clone(&self.inner),
        })
    }

    /// Returns the guard mode of this pool's stacks.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn guard_mode(&self) -> GuardMode {
        self.inner.mode
    }

    /// Returns the usable bytes of each stack (the requested size rounded up to a page).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn stack_size(&self) -> usize {
        self.inner.stack_size
    }

    /// Returns how many stacks are handed out now.
    pub(crate) fn in_use(&self) -> usize {
        self.inner.carved.get() - self.idle()
    }

    /// Returns how many recycled stacks wait in the free list.
    pub(crate) fn idle(&self) -> usize {
        self.inner.free.borrow().len()
    }

    /// Gives the resident pages of idle stacks back to the kernel with `MADV_DONTNEED`; their
    /// next user sees zeroed memory. Guards stay in place. Costs one system call per idle stack,
    /// which is why recycling does not do it.
    ///
    /// # Errors
    ///
    /// Returns the first `madvise` error; stacks before it were trimmed.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn trim(&self) -> io::Result<()> {
        let inner = &self.inner;
        for &slot in inner.free.borrow().iter() {
            let (slot, _) = untag(slot);
            // SAFETY: an idle slot lies inside a live slab and no fiber runs on it (it is in the
            // free list, so no `PooledStack` owns it); `slot + page .. slot + stride` is its usable
            // range, so the guard page below is not touched.
            let usable = unsafe { slot.as_ptr().add(inner.page) };
            // SAFETY: see above; discarding pages of an unused private mapping is always sound.
            let rc = unsafe { libc::madvise(usable.cast(), inner.stack_size, libc::MADV_DONTNEED) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// The usable bytes and the stride of the slots for stacks of `stack_size` requested bytes:
/// the slot (stack plus header) is a whole number of pages, at least `MIN_STACK_SIZE` plus the
/// header; `None` if that overflows.
fn slot_sizes(stack_size: usize, page: usize) -> Option<(usize, usize)> {
    stack_size
        .max(MIN_STACK_SIZE + HEADER)
        .checked_next_multiple_of(page)
        .and_then(|size| size.checked_add(page).map(|stride| (size - HEADER, stride)))
}

/// The most slots a pool may hold to be kept as this thread's spare: the first five slabs
/// (64 + 128 + 256 + 512 + 1024 = 1984 slots), at most 8 MiB resident once trimmed.
const SPARE_MAX_STACKS: usize = 2048;

thread_local! {
    /// The pool of the last loop that ended on this thread, for the next one (see "Reuse").
    /// Unmapped when the thread exits (or a pool that does not fit replaces it).
    static SPARE: RefCell<Option<Rc<PoolInner>>> = const { RefCell::new(None) };
}

/// Unmaps this thread's spare pool now, if it has one (a thread about to end).
pub(crate) fn drop_spare_pool() {
    let spare = SPARE.try_with(|spare| spare.take());
    drop(spare);
}

/// The last handle of a pool whose stacks are all back keeps it as the thread's spare, if it
/// is small enough and has guard regions, after trimming its stacks to their top page (see
/// "Reuse").
impl Drop for StackPool {
    fn drop(&mut self) {
        let inner = &self.inner;
        // `mprotect` guards cost mappings, which a spare would keep from the rest of the process.
        let keep = Rc::strong_count(inner) == 1
            && inner.mode == GuardMode::Madvise
            && (1..=SPARE_MAX_STACKS).contains(&inner.mapped.get())
            && inner.trim_below_tops().is_ok();
        if keep {
            let previous = SPARE.try_with(|spare| spare.replace(Some(Rc::clone(inner))));
            drop(previous);
        }
    }
}

impl fmt::Debug for StackPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackPool")
            .field("stack_size", &self.inner.stack_size)
            .field("max_stacks", &self.inner.max_stacks.get())
            .field("guard_mode", &self.inner.mode)
            .field("in_use", &self.in_use())
            .field("idle", &self.idle())
            .finish()
    }
}

impl PoolInner {
    /// Makes the top page of the never-used `slot` resident and writable, without the page
    /// fault of a first touch: `madvise(MADV_POPULATE_WRITE)` (Linux ≥ 5.14). Measured on this
    /// kernel (KVM guest): 1.3–1.4 µs per page against 1.8 µs for the fault of a write (the
    /// exception's entry and exit are what a guest pays extra). Failure is harmless: the first
    /// write faults the page in instead.
    #[cold]
    fn populate_top(&self, slot: NonNull<u8>) {
        // SAFETY: `slot + stride - page` is the top page of the slot, inside its slab.
        let top_page = unsafe { slot.add(self.stride - self.page) };
        // SAFETY: the page lies in a live slab of this pool and belongs to a slot no stack uses
        // (it is being handed out); populating only faults it in, its contents stay zero.
        unsafe {
            libc::madvise(
                top_page.as_ptr().cast(),
                self.page,
                libc::MADV_POPULATE_WRITE,
            )
        };
    }

    /// Gives back every page of every carved (idle) stack except its top one, which its next
    /// fiber touches first anyway and which holds the slot header: with `process_madvise`
    /// ([`TRIM_BATCH`] ranges per call) when guards are installed that way, else one `madvise`
    /// per stack. Guards stay. Only for a pool without stacks out (the caller's check).
    fn trim_below_tops(&self) -> io::Result<()> {
        let below_top = self.stride - 2 * self.page;
        if below_top == 0 {
            return Ok(());
        }
        let empty = libc::iovec {
            iov_base: ptr::null_mut(),
            iov_len: 0,
        };
        let free = self.free.borrow();
        let batch = if self.vectored { TRIM_BATCH } else { 1 };
        for chunk in free.chunks(batch) {
            let mut ranges = [empty; TRIM_BATCH];
            for (range, &slot) in ranges.iter_mut().zip(chunk) {
                let (slot, _) = untag(slot);
                // SAFETY: `slot + page` is inside the slot (its stack's lowest page).
                range.iov_base = unsafe { slot.add(self.page) }.as_ptr().cast();
                range.iov_len = below_top;
            }
            let ranges = &ranges[..chunk.len()];
            let wanted = below_top * ranges.len();
            // SAFETY: every range is the stack of an idle slot of a live slab below its top
            // page; no fiber runs on it (it is in the free list and no stack is out), so
            // discarding its pages (zero-filled on next touch) invalidates nothing.
            let done = unsafe {
                match ranges {
                    [one] => match libc::madvise(one.iov_base, one.iov_len, libc::MADV_DONTNEED) {
                        0 => Ok(wanted),
                        _ => Err(io::Error::last_os_error()),
                    },
                    _ => process_madvise(ranges, libc::MADV_DONTNEED),
                }
            };
            if done? != wanted {
                return Err(io::Error::other("process_madvise stopped early"));
            }
        }
        Ok(())
    }

    /// Hands out a never-used slot, mapping a slab first if needed, and guarding it (with the
    /// next slots of its batch) unless an earlier batch did.
    #[cold]
    fn carve(&self) -> Result<NonNull<u8>, StackExhausted> {
        let carved = self.carved.get();
        if carved == self.max_stacks.get() {
            return Err(StackExhausted {
                kind: ExhaustedKind::Limit(self.max_stacks.get()),
            });
        }
        if carved == self.mapped.get() {
            self.map_slab()?;
        }
        if carved == self.guarded.get() {
            self.install_guards()?;
        }
        let slot = self.slot(carved);
        self.carved.set(carved + 1);
        Ok(slot)
    }

    /// The lowest address (the guard) of slot `index` of the pool, counted over all slabs; only
    /// for a slot of the last slab (`index >= mapped - slots of the last slab`).
    fn slot(&self, index: usize) -> NonNull<u8> {
        let slabs = self.slabs.borrow();
        let last = slabs.last().expect("the slot's slab is mapped");
        let in_slab = last.len / self.stride - (self.mapped.get() - index);
        // SAFETY: `in_slab < slots of the last slab`, so the slot start lies inside its mapping.
        unsafe { last.start.add(in_slab * self.stride) }
    }

    /// Maps a slab for more slots (fewer near the address-space limit) and registers it for
    /// overflow reports. Its slots get their guards later, a batch at a time, as they are
    /// carved.
    fn map_slab(&self) -> Result<(), StackExhausted> {
        let room = self.max_stacks.get() - self.mapped.get();
        let slots = match self.headroom.is_limited() {
            false => slab_slots(self.slabs.borrow().len()).min(room),
            true => self.slots_within_headroom(STACKS_PER_SLAB.min(room))?,
        };
        let no_memory = || io::Error::from_raw_os_error(libc::ENOMEM);
        let len = slots.checked_mul(self.stride).ok_or_else(no_memory);
        let len = len.map_err(|e| StackExhausted::os("mmap", e))?;
        self.reserve_bookkeeping(slots)?;
        let start = map_anonymous(len).map_err(|e| StackExhausted::os("mmap", e))?;
        // Corosensei receives stack bounds as integers and turns them back into pointers.
        let _ = start.as_ptr().expose_provenance();
        // SAFETY: `start..start + len` is the mapping made above, owned by this pool. Huge pages
        // would make a stack that touched one page resident for 2 MiB; the advice only sets a flag
        // on the whole mapping, so it does not split it. Failure is harmless and ignored.
        unsafe { libc::madvise(start.as_ptr().cast(), len, libc::MADV_NOHUGEPAGE) };
        let registration =
            overflow::register_slab(start.as_ptr().addr(), len, self.stride, self.page);
        let slab = Slab {
            start,
            len,
            registration,
        };
        self.slabs.borrow_mut().push(slab); // capacity reserved above
        self.mapped.set(self.mapped.get() + slots);
        Ok(())
    }

    /// Under `RLIMIT_AS`, how many of `wanted` more slots fit while the reserve for every slot
    /// mapped stays free (see `backend::headroom`). A pool's first slab is the exception: it
    /// holds the root fiber of an event loop, which no `ConcurrencyUnavailable` can turn away,
    /// so if the reserve leaves no room it gets one slot wherever one still fits.
    #[cold]
    fn slots_within_headroom(&self, wanted: usize) -> Result<usize, StackExhausted> {
        let mapped = self.mapped.get();
        let slots = slots_that_fit(
            wanted,
            self.stride,
            self.headroom.room(mapped + wanted),
            (mapped == 0).then(|| self.headroom.room_without_reserve()),
        );
        if slots == 0 {
            return Err(StackExhausted {
                kind: ExhaustedKind::AddressSpace,
            });
        }
        Ok(slots)
    }

    /// Grows the free list to hold every slot after `slots` more are mapped (so recycling never
    /// allocates) and makes room for one more slab, reporting allocation failure as an error.
    fn reserve_bookkeeping(&self, slots: usize) -> Result<(), StackExhausted> {
        let no_memory =
            |_| StackExhausted::os("reserve", io::Error::from_raw_os_error(libc::ENOMEM));
        let mut free = self.free.borrow_mut();
        let missing = self.mapped.get() + slots - free.len();
        free.try_reserve(missing).map_err(no_memory)?;
        self.slabs.borrow_mut().try_reserve(1).map_err(no_memory)
    }

    /// Installs the guards of the next slots to be carved, from `guarded` on: in
    /// [`GuardMode::Madvise`] up to [`GUARD_BATCH`] of them (never past the last slab), with one
    /// `process_madvise` call when the kernel takes a vector of ranges; in
    /// [`GuardMode::Mprotect`] one, since every guard there costs mappings that may run out.
    ///
    /// # Errors
    ///
    /// Fails only if not even the first slot got its guard; `guarded` counts what was done.
    fn install_guards(&self) -> Result<(), StackExhausted> {
        let first = self.guarded.get();
        let batch = match self.mode {
            GuardMode::Madvise => GUARD_BATCH,
            GuardMode::Mprotect => 1,
        };
        let end = (first + batch).min(self.mapped.get());
        let mut done = first;
        if self.vectored {
            done += self.install_vectored(first, end);
            self.guarded.set(done);
        }
        while done < end {
            if let Err(error) = self.install_guard(self.slot(done)) {
                if done > first {
                    break;
                }
                return Err(error);
            }
            done += 1;
            self.guarded.set(done);
        }
        Ok(())
    }

    /// Installs the guards of slots `first..end` of the last slab with `process_madvise`,
    /// returning how many leading slots got theirs (all, unless the kernel stopped early; the
    /// caller then guards the rest one by one and reports any error).
    fn install_vectored(&self, first: usize, end: usize) -> usize {
        let empty = libc::iovec {
            iov_base: ptr::null_mut(),
            iov_len: 0,
        };
        let mut ranges = [empty; GUARD_BATCH];
        let count = end - first;
        for (range, index) in ranges.iter_mut().zip(first..end) {
            range.iov_base = self.slot(index).as_ptr().cast();
            range.iov_len = self.page;
        }
        // SAFETY: every range is the guard page of a never-used slot inside a live slab of this
        // pool (slots `first..end` are past `carved`); no data lives there.
        match unsafe { process_madvise(&ranges[..count], MADV_GUARD_INSTALL) } {
            // The kernel advises the ranges in order and reports the bytes done.
            Ok(bytes) => (bytes / self.page).min(count),
            Err(_) => 0,
        }
    }

    /// Turns the page at `slot` into a guard, in this pool's mode.
    /// Turns the page at `slot` into a guard, in this pool's mode.
    fn install_guard(&self, slot: NonNull<u8>) -> Result<(), StackExhausted> {
        let addr = slot.as_ptr().cast();
        loop {
            let (operation, rc) = match self.mode {
                // SAFETY: `slot..slot + page` is the guard page of a never-used slot inside a live
                // slab of this pool; no data lives there.
                GuardMode::Madvise => ("madvise(MADV_GUARD_INSTALL)", unsafe {
                    libc::madvise(addr, self.page, MADV_GUARD_INSTALL)
                }),
                // SAFETY: as above; revoking access to an unused page cannot invalidate any
                // reference.
                GuardMode::Mprotect => ("mprotect(PROT_NONE)", unsafe {
                    libc::mprotect(addr, self.page, libc::PROT_NONE)
                }),
            };
            if rc == 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if !matches!(error.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) {
                return Err(StackExhausted::os(operation, error));
            }
        }
    }
}

/// How many slots the slab mapped after `slabs` others holds without an address-space limit:
/// [`STACKS_PER_SLAB`], doubling with every slab up to [`MAX_STACKS_PER_SLAB`].
fn slab_slots(slabs: usize) -> usize {
    let doublings = slabs.min(MAX_STACKS_PER_SLAB.ilog2() as usize);
    (STACKS_PER_SLAB << doublings).min(MAX_STACKS_PER_SLAB)
}

/// How many of `wanted` slots of `stride` bytes a new slab holds, given the `room` the reserve
/// leaves and, for a pool's first slab, the room there is at all (`first_room`): that slab
/// gets one slot if one fits at all (see `PoolInner::slots_within_headroom`).
fn slots_that_fit(wanted: usize, stride: usize, room: usize, first_room: Option<usize>) -> usize {
    match (room / stride).min(wanted) {
        0 => usize::from(first_room.is_some_and(|room| room >= stride)).min(wanted),
        slots => slots,
    }
}

/// Bytes at the top of every slot handed out, above its stack: the [`SlotHeader`].
const HEADER: usize = std::mem::size_of::<SlotHeader>();

/// What a [`PooledStack`] needs besides its address, written at the top of its slot (the page
/// its fiber touches first anyway) when the slot is handed out: so a stack is one word, and so
/// are the fiber tables and ready queues that hold stacks, per fiber.
#[repr(C, align(16))]
struct SlotHeader {
    /// The pool, from `Rc::into_raw`: one strong count per stack handed out, which keeps the
    /// slabs mapped while the stack is alive.
    pool: *const PoolInner,
    /// Copy of the pool's stride, so `limit()` needs no second pointer chase.
    stride: usize,
}

// The header keeps the stack's base aligned as corosensei requires.
const _: () = assert!(HEADER.is_multiple_of(corosensei::stack::STACK_ALIGNMENT));

/// A stack taken from a [`StackPool`]; dropping it puts it back on the pool's free list.
///
/// Implements corosensei's [`Stack`], so a `Coroutine` can run on it. One word: the rest is in
/// the [`SlotHeader`] at the top of the slot.
pub(crate) struct PooledStack {
    /// The end of the slot (the guard of the next slot, or the slab's end); the header lies
    /// just below, the stack below it, the guard page at `top - stride`.
    top: NonNull<u8>,
}

/// The tag of a slot address (page-aligned, so its low bit is free) in the free list and in a
/// [`ReservedStack`]: the slot was never touched, its top page is not resident yet.
const FRESH: usize = 1;

/// `slot` tagged [`FRESH`].
fn fresh(slot: NonNull<u8>) -> NonNull<u8> {
    slot.map_addr(|addr| addr | FRESH)
}

/// The slot address without its tag, and whether it was tagged [`FRESH`].
fn untag(slot: NonNull<u8>) -> (NonNull<u8>, bool) {
    let fresh = slot.addr().get() & FRESH != 0;
    // Never zero: the slot's address is a page-aligned address of a mapping.
    let slot = slot.map_addr(|addr| {
        std::num::NonZeroUsize::new(addr.get() & !FRESH).expect("a slot lies above address 0")
    });
    (slot, fresh)
}

/// A stack taken from a [`StackPool`] by [`StackPool::reserve`] and not touched yet: its slot
/// and a count of its pool, two words. Dropping it puts the slot back on the pool's free list
/// without touching it; [`into_stack`](Self::into_stack) makes it a [`PooledStack`].
pub(crate) struct ReservedStack {
    /// The lowest address (the guard) of an idle or never-used slot of `pool`, tagged
    /// [`FRESH`] if it was never touched.
    slot: NonNull<u8>,
    pool: Rc<PoolInner>,
}

impl ReservedStack {
    /// The stack, its header written. A slot never used before gets its top page with one
    /// `madvise(MADV_POPULATE_WRITE)` first, which costs less than the page fault of the first
    /// touch (see "First touch"); if the kernel refuses (before Linux 5.14), the header write
    /// faults it in as before.
    #[inline]
    pub(crate) fn into_stack(self) -> PooledStack {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the count it holds moves into the
        // stack's header exactly once.
        let pool = unsafe { ptr::read(&this.pool) };
        let (slot, fresh) = untag(this.slot);
        if fresh {
            pool.populate_top(slot);
        }
        PooledStack::new(slot, pool)
    }
}

impl ReservedStack {
    /// The address of the slot's top page, the one [`into_stack`](Self::into_stack) touches.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn top_page(&self) -> usize {
        let (slot, _) = untag(self.slot);
        slot.addr().get() + self.pool.stride - self.pool.page
    }
}

impl Drop for ReservedStack {
    #[inline]
    fn drop(&mut self) {
        let mut free = self.pool.free.borrow_mut();
        debug_assert!(
            free.len() < free.capacity(),
            "free list must not grow on recycle"
        );
        free.push(self.slot);
    }
}

impl fmt::Debug for ReservedStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReservedStack")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl PooledStack {
    /// Hands out `slot` (the lowest address of an idle or fresh slot of `pool`), writing its
    /// header, which keeps the count of `pool`.
    #[inline]
    fn new(slot: NonNull<u8>, pool: Rc<PoolInner>) -> Self {
        // SAFETY: `slot..slot + stride` is one slot inside a live slab of `pool`, so its end is
        // inside the mapping or one past it.
        let top = unsafe { slot.add(pool.stride) };
        let header = SlotHeader {
            stride: pool.stride,
            pool: Rc::into_raw(pool),
        };
        // SAFETY: the header's bytes are the top `HEADER` bytes of the slot's usable range, read
        // and writable, 16-aligned (the slot's end is page-aligned); the slot is idle or fresh,
        // so no fiber uses them, and nothing else ever does.
        unsafe { top.sub(HEADER).cast::<SlotHeader>().write(header) };
        Self { top }
    }

    /// The header written by [`new`](Self::new).
    #[inline]
    fn header(&self) -> &SlotHeader {
        // SAFETY: `new` wrote the header below `top`; the slab stays mapped while this stack
        // holds the pool's count, and nothing writes the header while the stack is handed out
        // (the fiber's frames lie below it).
        unsafe { self.top.sub(HEADER).cast::<SlotHeader>().as_ref() }
    }

    /// The pool this stack came from.
    #[inline]
    fn pool(&self) -> &PoolInner {
        // SAFETY: the header holds one strong count of the pool (`Rc::into_raw`), released only
        // in `drop`, after the last use of this reference.
        unsafe { &*self.header().pool }
    }

    /// Returns the usable bytes of this stack (below its header, excluding the guard page).
    pub(crate) fn usable_size(&self) -> usize {
        self.pool().stack_size
    }
}

impl Drop for PooledStack {
    #[inline]
    fn drop(&mut self) {
        let header = self.header();
        let (pool, stride) = (header.pool, header.stride);
        {
            let mut free = self.pool().free.borrow_mut();
            debug_assert!(
                free.len() < free.capacity(),
                "free list must not grow on recycle"
            );
            // SAFETY: `top - stride` is the slot's start, inside the same slab.
            free.push(unsafe { self.top.sub(stride) });
        }
        // SAFETY: gives back the count taken in `new`, once; nothing reads the header (which may
        // be unmapped with the pool now) after this.
        drop(unsafe { Rc::from_raw(pool) });
    }
}

impl fmt::Debug for PooledStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledStack")
            .field("top", &self.top)
            .field("usable_size", &self.usable_size())
            .finish()
    }
}

// SAFETY: `limit()..base()` lies in one slot of a slab that stays mapped while this stack holds
// its count of the pool (in its header). The slot's lowest page is a guard installed by `carve`
// (alone or in the batch of an earlier slot, `install_guards`) before the slot was first handed
// out and never removed (MADV_DONTNEED in `trim` keeps guard regions; `mprotect` is not undone),
// so an overflow faults instead of corrupting the neighbour. Above it lie
// `stack_size >= MIN_STACK_SIZE` read-write bytes, then the header, which `base()` excludes.
// `limit()` is page-aligned and `base()` 16-aligned (a page-aligned end less `HEADER`), both
// aligned to STACK_ALIGNMENT. The slot is owned by this value alone until it returns to the
// free list.
unsafe impl Stack for PooledStack {
    #[inline]
    fn base(&self) -> StackPointer {
        // Never zero: the top is the end of a slot, above its header and stack.
        StackPointer::new(self.top.addr().get() - HEADER).expect("a slot lies above address 0")
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        // Never zero: the slot starts `stride` below its top, at a mapped address.
        let limit = self.top.addr().get() - self.header().stride;
        StackPointer::new(limit).expect("a slot lies above address 0")
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{slab_slots, slots_that_fit, MAX_STACKS_PER_SLAB, STACKS_PER_SLAB};

    #[test]
    fn slabs_double_from_64_up_to_4096_stacks() {
        let sizes: Vec<_> = (0..9).map(slab_slots).collect();
        assert_eq!(sizes, [64, 128, 256, 512, 1024, 2048, 4096, 4096, 4096]);
        assert_eq!(slab_slots(0), STACKS_PER_SLAB);
        assert_eq!(slab_slots(usize::MAX), MAX_STACKS_PER_SLAB);
        // A million stacks: 64 + … + 2048 = 4032 in the first six slabs, then 4096 each.
        let slabs = 6 + (1_000_000 - 4032usize).div_ceil(4096);
        assert_eq!(slabs, 250);
    }

    #[test]
    fn a_slab_near_the_limit_holds_what_fits_and_a_first_slab_one_slot_if_any() {
        const STRIDE: usize = 100;
        assert_eq!(slots_that_fit(64, STRIDE, usize::MAX, None), 64, "no limit");
        assert_eq!(slots_that_fit(64, STRIDE, 10_000, None), 64);
        assert_eq!(
            slots_that_fit(64, STRIDE, 1_999, None),
            19,
            "fewer near the limit"
        );
        assert_eq!(
            slots_that_fit(5, STRIDE, 1_999, None),
            5,
            "never more than wanted"
        );
        assert_eq!(
            slots_that_fit(64, STRIDE, 99, None),
            0,
            "the reserve leaves no room"
        );
        assert_eq!(
            slots_that_fit(64, STRIDE, 99, Some(100)),
            1,
            "the root's slab"
        );
        assert_eq!(
            slots_that_fit(64, STRIDE, 99, Some(99)),
            0,
            "no room at all"
        );
        assert_eq!(slots_that_fit(64, STRIDE, 1_000, Some(5_000)), 10);
    }
}
