//! Reporting fiber stack overflows: a SIGSEGV handler that recognises guard pages.
//!
//! # Protocol
//!
//! - **Registry.** Every slab of every pool (any thread) is entered in a process-wide, lock-free,
//!   append-only list of [`Node`]s (allocated [`NODE_BLOCK`] at a time): `start`, `len`, `stride`, `guard`. A node is claimed by a CAS
//!   of `start` from [`FREE`] to [`CLAIMED`], filled, then published by storing the real start
//!   (Release). Releasing a slab stores [`FREE`] (Release) before the slab is unmapped; the node is
//!   reused by a later slab, never freed, so the handler may walk the list at any moment.
//! - **Handler.** Installed once per process for SIGSEGV with `SA_SIGINFO | SA_ONSTACK` and runs
//!   on the alternate signal stack (the faulting fiber stack has no room left). If the faulting
//!   address lies in a guard page of a registered slab, it writes
//!   `io: fiber stack overflow in fiber <name or #id>` to fd 2 with `write(2)` and calls `abort`.
//!   Otherwise it reinstates the handler that was there before (the Rust runtime's, which reports
//!   thread stack overflows, or `SIG_DFL`) and returns: the faulting instruction runs again and the
//!   usual crash happens.
//! - **Alternate stack.** [`prepare_thread`] gives the calling thread a `sigaltstack` of its own
//!   (with a guard page) unless it has one already (the Rust runtime gives one to `main` and to
//!   threads spawned by `std`). It is released when the thread exits.
//! - **Label.** [`LabelGuard`] publishes the running fiber's id and name in a thread-local for the
//!   duration of a resume; the handler reads it. The thread-local has a `const` initializer and no
//!   destructor, so reading it is a plain TLS load, safe inside a signal handler.
//!
//! Everything the handler touches is async-signal-safe: atomics, the thread-local above,
//! `write`, `sigaction` and `abort`.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::mem;
use std::ptr::{self, NonNull};
use std::sync::atomic::{fence, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

use super::stack::{map_anonymous, page_size};

/// `Node::start` value: the node is unused and may be claimed.
const FREE: usize = 0;
/// `Node::start` value: a thread is filling the node; the handler skips it.
const CLAIMED: usize = 1;

/// One registered slab; see the module doc for its states.
struct Node {
    /// [`FREE`], [`CLAIMED`] or the slab's start address (published with Release).
    start: AtomicUsize,
    len: AtomicUsize,
    stride: AtomicUsize,
    guard: AtomicUsize,
    /// Next node; written once before the node is pushed, never changed.
    next: AtomicPtr<Node>,
}

/// How many nodes the registry allocates at once.
const NODE_BLOCK: usize = 32;

/// Head of the registry list. Nodes are leaked on purpose: the handler may read them any time.
static REGISTRY: AtomicPtr<Node> = AtomicPtr::new(ptr::null_mut());

/// A slab's entry in the registry, released with [`SlabRegistration::release`].
pub(crate) struct SlabRegistration {
    node: &'static Node,
}

impl SlabRegistration {
    /// Removes the slab from the registry; call before unmapping it.
    pub(crate) fn release(&self) {
        self.node.start.store(FREE, Ordering::Release);
    }
}

/// Enters the slab `start..start + len` of slots `stride` bytes apart, each beginning with `guard`
/// bytes of guard page.
pub(crate) fn register_slab(
    start: usize,
    len: usize,
    stride: usize,
    guard: usize,
) -> SlabRegistration {
    debug_assert!(start > CLAIMED && stride > 0);
    let node = claim_node();
    node.len.store(len, Ordering::Relaxed);
    node.stride.store(stride, Ordering::Relaxed);
    node.guard.store(guard, Ordering::Relaxed);
    node.start.store(start, Ordering::Release);
    SlabRegistration { node }
}

/// Claims a free node, or pushes a new one, returning it in the [`CLAIMED`] state.
fn claim_node() -> &'static Node {
    let mut cursor = REGISTRY.load(Ordering::Acquire);
    // SAFETY: registry nodes are leaked boxes that are never freed, so every non-null pointer
    // read from the list is valid for 'static.
    while let Some(node) = unsafe { cursor.as_ref() } {
        // A plain load skips the nodes in use without taking their cache lines exclusively.
        let claimed = node.start.load(Ordering::Relaxed) == FREE
            && node
                .start
                .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
        if claimed {
            return node;
        }
        cursor = node.next.load(Ordering::Acquire);
    }
    // A block of nodes at a time: one allocation per NODE_BLOCK slabs, and a registry whose
    // size follows its high-water mark in steps, not in the exact number of slabs a run's
    // scheduling happened to map at once.
    let block: &'static [Node; NODE_BLOCK] = Box::leak(Box::new(std::array::from_fn(|i| Node {
        start: AtomicUsize::new(if i == 0 { CLAIMED } else { FREE }),
        len: AtomicUsize::new(0),
        stride: AtomicUsize::new(0),
        guard: AtomicUsize::new(0),
        next: AtomicPtr::new(ptr::null_mut()),
    })));
    for pair in block.windows(2) {
        pair[0]
            .next
            .store(ptr::from_ref(&pair[1]).cast_mut(), Ordering::Relaxed);
    }
    let last = &block[NODE_BLOCK - 1];
    let mut head = REGISTRY.load(Ordering::Relaxed);
    loop {
        last.next.store(head, Ordering::Relaxed);
        let new = ptr::from_ref(&block[0]).cast_mut();
        match REGISTRY.compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return &block[0],
            Err(actual) => head = actual,
        }
    }
}

/// Returns whether `addr` lies in the guard page of a registered slab. Async-signal-safe.
fn is_guard_page(addr: usize) -> bool {
    let mut cursor = REGISTRY.load(Ordering::Acquire);
    // SAFETY: registry nodes are leaked and never freed (see `claim_node`).
    while let Some(node) = unsafe { cursor.as_ref() } {
        let start = node.start.load(Ordering::Acquire);
        if start > CLAIMED {
            let len = node.len.load(Ordering::Relaxed);
            let stride = node.stride.load(Ordering::Relaxed);
            let guard = node.guard.load(Ordering::Relaxed);
            // Seqlock-style re-check: the fields belong to `start` only if it did not change.
            fence(Ordering::Acquire);
            let stable = node.start.load(Ordering::Relaxed) == start;
            let offset = addr.wrapping_sub(start);
            if stable && stride != 0 && addr >= start && offset < len && offset % stride < guard {
                return true;
            }
        }
        cursor = node.next.load(Ordering::Acquire);
    }
    false
}

/// Id and name of the fiber running on this thread, for the overflow message.
#[derive(Clone, Copy)]
struct Label {
    /// 0 when no fiber runs.
    id: u64,
    /// Null when the fiber is unnamed.
    name: *const u8,
    len: usize,
}

impl Label {
    const NONE: Self = Self {
        id: 0,
        name: ptr::null(),
        len: 0,
    };
}

thread_local! {
    /// The running fiber's label; `const`, no destructor, so the signal handler may read it.
    static CURRENT_FIBER: Cell<Label> = const { Cell::new(Label::NONE) };
}

/// Publishes a fiber's label while it runs; restores the previous one (nested fibers) on drop.
pub(crate) struct LabelGuard<'name> {
    previous: Label,
    /// The published name pointer borrows from the fiber for the guard's lifetime.
    _name: PhantomData<&'name str>,
}

impl<'name> LabelGuard<'name> {
    /// Marks fiber `id`, named `name`, as the one running on this thread.
    #[inline]
    pub(crate) fn enter(id: u64, name: Option<&'name str>) -> Self {
        let label = match name {
            Some(name) => Label {
                id,
                name: name.as_ptr(),
                len: name.len(),
            },
            None => Label { id, ..Label::NONE },
        };
        Self {
            previous: CURRENT_FIBER.replace(label),
            _name: PhantomData,
        }
    }
}

impl Drop for LabelGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        CURRENT_FIBER.set(self.previous);
    }
}

/// The handler that was installed before ours, reinstated for faults that are not ours.
static PREVIOUS_HANDLER: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the SIGSEGV handler (once per process) and gives this thread an alternate signal
/// stack if it has none. Cheap after the first call on a thread.
pub(crate) fn prepare_thread() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(install_handler);
    thread_local! {
        static PREPARED: Cell<bool> = const { Cell::new(false) };
    }
    if !PREPARED.replace(true) {
        ensure_alt_stack();
    }
}

/// Saves the current SIGSEGV disposition, then installs [`on_sigsegv`].
fn install_handler() {
    // SAFETY: `sigaction` is a plain C struct for which all-zero bytes are a valid value.
    let mut previous: libc::sigaction = unsafe { mem::zeroed() };
    // SAFETY: queries the disposition into a valid, writable struct.
    unsafe { libc::sigaction(libc::SIGSEGV, ptr::null(), &mut previous) };
    let _ = PREVIOUS_HANDLER.set(previous);
    // SAFETY: as above.
    let mut action: libc::sigaction = unsafe { mem::zeroed() };
    let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_sigsegv;
    action.sa_sigaction = handler as libc::sighandler_t;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `action.sa_mask` is a valid sigset_t owned by this frame.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: `on_sigsegv` has the SA_SIGINFO signature and only does async-signal-safe work;
    // the previous disposition was saved first, so the handler can always reinstate it.
    unsafe { libc::sigaction(libc::SIGSEGV, &action, ptr::null_mut()) };
}

/// The SIGSEGV handler; see the module doc.
extern "C" fn on_sigsegv(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler; for SIGSEGV `si_addr`
    // is the faulting address.
    let addr = unsafe { (*info).si_addr() }.addr();
    if is_guard_page(addr) {
        report_overflow();
        // SAFETY: abort is async-signal-safe and never returns.
        unsafe { libc::abort() };
    }
    if let Some(previous) = PREVIOUS_HANDLER.get() {
        // SAFETY: reinstates a disposition the kernel gave us; async-signal-safe.
        unsafe { libc::sigaction(libc::SIGSEGV, previous, ptr::null_mut()) };
    } else {
        // SAFETY: resetting to the default action is async-signal-safe.
        unsafe { libc::signal(libc::SIGSEGV, libc::SIG_DFL) };
    }
}

/// Writes the overflow message for the current fiber to stderr. Async-signal-safe.
fn report_overflow() {
    let label = CURRENT_FIBER.try_with(Cell::get).unwrap_or(Label::NONE);
    write_stderr(b"io: fiber stack overflow in fiber ");
    if !label.name.is_null() {
        // SAFETY: a non-null name was published by a `LabelGuard` borrowing a live `&str` for as
        // long as the fiber runs, and the fault happened while it ran.
        let name = unsafe { std::slice::from_raw_parts(label.name, label.len) };
        write_stderr(b"\"");
        write_stderr(name);
        write_stderr(b"\" (#");
        write_decimal(label.id);
        write_stderr(b")");
    } else if label.id != 0 {
        write_stderr(b"#");
        write_decimal(label.id);
    } else {
        write_stderr(b"<unknown>");
    }
    write_stderr(b"\n");
}

/// Writes `n` in decimal without allocating.
fn write_decimal(mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    write_stderr(&digits[at..]);
}

/// Writes all of `bytes` to fd 2 with `write(2)`, retrying on EINTR; gives up on other errors.
fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid readable buffer of the given length.
        let n = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(n) {
            Ok(written) if written > 0 => bytes = &bytes[written..],
            _ if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => return,
        }
    }
}

/// An alternate signal stack mapped by [`ensure_alt_stack`]: a guard page, then the stack.
struct AltStack {
    map: NonNull<u8>,
    len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: a zeroed stack_t is valid; this only queries the current alternate stack.
        let mut current: libc::stack_t = unsafe { mem::zeroed() };
        // SAFETY: `current` is valid and writable.
        unsafe { libc::sigaltstack(ptr::null(), &mut current) };
        let ours = current.ss_sp.cast::<u8>().wrapping_sub(page_size()) == self.map.as_ptr();
        if ours && current.ss_flags & libc::SS_DISABLE == 0 {
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: the thread is exiting (thread-local destructor), not running on this stack.
            unsafe { libc::sigaltstack(&disable, ptr::null_mut()) };
        }
        // SAFETY: `map..map + len` is our own mapping and the kernel no longer delivers onto it.
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.len) };
    }
}

thread_local! {
    /// This thread's own alternate signal stack, if [`ensure_alt_stack`] had to make one.
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

/// Gives this thread an alternate signal stack unless it already has one. On failure the thread
/// has none: an overflow then still kills the process (SIGSEGV), only without the message.
fn ensure_alt_stack() {
    // SAFETY: a zeroed stack_t is valid.
    let mut current: libc::stack_t = unsafe { mem::zeroed() };
    // SAFETY: `current` is valid and writable.
    unsafe { libc::sigaltstack(ptr::null(), &mut current) };
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return;
    }
    let page = page_size();
    // SAFETY: getauxval has no preconditions; it returns 0 for an unknown key.
    let min = unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) } as usize;
    let size = (min + libc::SIGSTKSZ).max(64 * 1024).next_multiple_of(page);
    let Ok(map) = map_anonymous(page + size) else {
        return;
    };
    // SAFETY: the first page of our fresh mapping becomes its guard; nothing refers to it.
    unsafe { libc::mprotect(map.as_ptr().cast(), page, libc::PROT_NONE) };
    let stack = AltStack {
        map,
        len: page + size,
    };
    // SAFETY: `map + page` is inside the mapping, which is `page + size` bytes long.
    let ss_sp = unsafe { map.as_ptr().add(page) }.cast();
    let alt = libc::stack_t {
        ss_sp,
        ss_flags: 0,
        ss_size: size,
    };
    // SAFETY: `alt` describes `size` writable bytes owned by `stack`, which lives in a thread-local
    // until the thread exits and disables the alternate stack before unmapping it.
    if unsafe { libc::sigaltstack(&alt, ptr::null_mut()) } == 0 {
        ALT_STACK.with_borrow_mut(|slot| *slot = Some(stack));
    }
}
