//! Headroom under `RLIMIT_AS`: a spawn is refused while the address space it would take still
//! fits, so that running out is `ConcurrencyUnavailable` and never an abort.
//!
//! Without a limit on address space (the default), nothing here runs but one test of a cached
//! value. With one, the kernel refuses a mapping only once the process is at the limit; a
//! runtime that maps fiber stacks or thread stacks until then leaves nothing for the small
//! allocations that follow — the event loop's tables, a timer's slot, a thread's start-up, the
//! unwinding of a canceled task — and the first of them that fails aborts the process
//! ("memory allocation of 40 bytes failed"). So before it maps a slab of fiber stacks or starts
//! a thread for a concurrent task, a backend asks [`Headroom::room`] how much it may map.
//!
//! # The rule
//!
//! A mapping of `need` bytes is allowed when
//!
//! ```text
//! in use + need + reserve <= limit
//! reserve = min(limit / 16, 32 MiB) + tasks × 1 KiB
//! ```
//!
//! - *In use* is the process's whole address space as the kernel counts it against the limit:
//!   the first field of `/proc/self/statm` (`total_vm`, in pages), read when asked (a few
//!   microseconds, once per slab of 64 fiber stacks or per new thread, never per spawn). It
//!   includes what others map — the allocator's arenas, the program's own buffers — which a
//!   running count of the runtime's mappings would miss.
//! - The fixed part covers what a process needs whatever the number of tasks: the allocator
//!   growing a heap by a megabyte at a time, a thread's signal stack and thread-locals, the
//!   buffers of standard output, a panic's payload. 32 MiB is several times that; below
//!   512 MiB it is a sixteenth of the limit, so that a small limit (128 MiB, of which a
//!   program's code, libraries and allocator arenas may already take most) still leaves room
//!   for some tasks.
//! - The part per task covers what each live task may still allocate later, after the spawn
//!   that decided: its entries in the loop's tables and queues (which grow by doubling), the
//!   slot of the timer or operation it waits for, its handle and its entry in its scope. That
//!   is a few hundred bytes; 1 KiB leaves a margin, and is under 0.5 % of a fiber's 256 KiB
//!   stack (0.05 % of a thread's 2 MiB).
//!
//! `tasks` is what the backend could be running after the spawn: the fiber stacks mapped, or
//! the threads alive. The limit is read once (`getrlimit`) per threaded backend and per event
//! loop (each `Runtime::run` on io_uring); a limit changed later applies from the next one.
//!
//! What a runtime needs to run at all is not held to the reserve in the same way: the first
//! slab of a loop's stack pool holds its root fiber, and gets one slot if the reserve leaves
//! none (`fiber::stack`); a threaded runtime whose workers do not fit fails to build, with an
//! error.
//!
//! # Allocator arenas
//!
//! glibc reserves 64 MiB of address space for the arena of each of the first threads that
//! allocate (up to 8 per core). Once made, such a reservation counts as in use like any other
//! mapping; the danger is one being made between a decision and the next, which the threaded
//! backend avoids by waiting for each new thread's first allocation (`threaded::start_thread`).
//! Under a small limit the arenas of the runtime's own threads may leave no room for any task:
//! every concurrent spawn is then refused, or the threaded runtime does not build. That is an
//! answer, not a crash; a program that wants its address space for tasks can set
//! `MALLOC_ARENA_MAX`.
//!
//! If `/proc/self/statm` cannot be read (no `/proc`, no descriptor left), the check allows
//! the mapping: the kernel's refusal remains, as before this module.

use std::ffi::CStr;

/// The fixed part of the reserve, at most (see the module docs).
const RESERVE_MAX: usize = 32 << 20;

/// The fixed part of the reserve is at most this share of the limit.
const RESERVE_SHARE: usize = 16;

/// What each task may still allocate after its spawn.
const PER_TASK: usize = 1 << 10;

/// The process's limit on address space, read once; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Headroom {
    /// `RLIMIT_AS` in bytes; `None` when unlimited.
    limit: Option<usize>,
}

impl Headroom {
    /// Reads the soft `RLIMIT_AS` of the process.
    pub(crate) fn new() -> Self {
        let mut rlimit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` through a pointer to a live local.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut rlimit) };
        let limit = (rc == 0 && rlimit.rlim_cur != libc::RLIM_INFINITY)
            .then(|| usize::try_from(rlimit.rlim_cur).unwrap_or(usize::MAX));
        Self { limit }
    }

    /// A headroom with the given limit, for tests.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn with_limit(limit: Option<usize>) -> Self {
        Self { limit }
    }

    /// Whether there is a limit at all: without one every mapping is allowed, unchecked.
    #[inline]
    pub(crate) fn is_limited(&self) -> bool {
        self.limit.is_some()
    }

    /// Whether `need` more bytes of address space leave the reserve for `tasks` tasks.
    #[inline]
    pub(crate) fn allows(&self, need: usize, tasks: usize) -> bool {
        self.limit.is_none() || self.room(tasks) >= need
    }

    /// How many bytes may still be mapped leaving the reserve for `tasks` tasks (`usize::MAX`
    /// without a limit, or when the address space in use cannot be read).
    #[cold]
    pub(crate) fn room(&self, tasks: usize) -> usize {
        let Some(limit) = self.limit else {
            return usize::MAX;
        };
        address_space_in_use().map_or(usize::MAX, |in_use| room_in(limit, in_use, tasks))
    }

    /// How many bytes may still be mapped at all, reserve or not (`usize::MAX` without a
    /// limit, or when the address space in use cannot be read).
    #[cold]
    pub(crate) fn room_without_reserve(&self) -> usize {
        let Some(limit) = self.limit else {
            return usize::MAX;
        };
        address_space_in_use().map_or(usize::MAX, |in_use| limit.saturating_sub(in_use))
    }
}

/// What may still be mapped under a limit of `limit` bytes with `in_use` bytes mapped, leaving
/// the reserve for `tasks` tasks.
fn room_in(limit: usize, in_use: usize, tasks: usize) -> usize {
    limit
        .saturating_sub(in_use)
        .saturating_sub(reserve(limit, tasks))
}

/// The reserve kept free under a limit of `limit` bytes with `tasks` tasks (module docs).
fn reserve(limit: usize, tasks: usize) -> usize {
    let fixed = (limit / RESERVE_SHARE).min(RESERVE_MAX);
    fixed.saturating_add(tasks.saturating_mul(PER_TASK))
}

/// The address space of this process in bytes, as `RLIMIT_AS` counts it: the first field of
/// `/proc/self/statm` (pages). Allocates nothing: the caller may be short of memory.
pub(crate) fn address_space_in_use() -> Option<usize> {
    const PATH: &CStr = c"/proc/self/statm";
    // SAFETY: a NUL-terminated path; the descriptor returned is closed below.
    let fd = unsafe { libc::open(PATH.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let mut buffer = [0u8; 128];
    let read = loop {
        // SAFETY: reads at most `buffer.len()` bytes into the live local buffer.
        let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break n;
        }
    };
    // SAFETY: closes the descriptor opened above, once.
    unsafe { libc::close(fd) };
    let read = usize::try_from(read).ok()?;
    let pages = parse_first_number(&buffer[..read])?;
    pages.checked_mul(page_size())
}

/// The system page size.
fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(4096)
}

/// The decimal number at the start of `text`, up to the first space.
fn parse_first_number(text: &[u8]) -> Option<usize> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit());
    let mut value: usize = 0;
    let mut any = false;
    for digit in digits {
        value = value
            .checked_mul(10)?
            .checked_add(usize::from(digit - b'0'))?;
        any = true;
    }
    any.then_some(value)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn statm_is_parsed_and_counts_what_is_mapped() {
        assert_eq!(parse_first_number(b"12345 67 8\n"), Some(12345));
        assert_eq!(parse_first_number(b""), None);
        assert_eq!(parse_first_number(b"x1"), None);
        let before = address_space_in_use().expect("/proc/self/statm");
        let len = 64 << 20;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: a fresh anonymous mapping without an address hint aliases nothing.
        let map = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_NONE, flags, -1, 0) };
        assert_ne!(map, libc::MAP_FAILED);
        let after = address_space_in_use().expect("/proc/self/statm");
        // SAFETY: unmaps exactly the mapping made above, which nothing refers to.
        unsafe { libc::munmap(map, len) };
        // Other tests' threads map and unmap meanwhile: only a coarse bound is certain.
        assert!(after + (32 << 20) >= before + len, "{before} -> {after}");
    }

    #[test]
    fn the_reserve_is_a_share_of_a_small_limit_plus_a_kibibyte_per_task() {
        assert_eq!(reserve(128 << 20, 0), 8 << 20);
        assert_eq!(reserve(8 << 30, 0), 32 << 20);
        assert_eq!(reserve(8 << 30, 1000), (32 << 20) + 1000 * 1024);
        assert_eq!(reserve(usize::MAX, usize::MAX), usize::MAX);
    }

    #[test]
    fn the_room_is_what_the_limit_leaves_beyond_use_and_reserve() {
        const MIB: usize = 1 << 20;
        assert_eq!(room_in(1024 * MIB, 500 * MIB, 0), 492 * MIB);
        assert_eq!(room_in(1024 * MIB, 500 * MIB, 1024), 491 * MIB);
        assert_eq!(room_in(128 * MIB, 100 * MIB, 0), 20 * MIB);
        assert_eq!(room_in(128 * MIB, 121 * MIB, 0), 0, "inside the reserve");
        assert_eq!(room_in(128 * MIB, 200 * MIB, 0), 0, "over the limit");
    }

    #[test]
    fn without_a_limit_everything_is_allowed_and_with_one_the_reserve_stays() {
        let unlimited = Headroom::with_limit(None);
        assert!(!unlimited.is_limited());
        assert!(unlimited.allows(usize::MAX, usize::MAX));
        assert_eq!(unlimited.room_without_reserve(), usize::MAX);
        // Other tests map and unmap beside this one: only wide margins are certain.
        let in_use = address_space_in_use().expect("/proc/self/statm");
        let limited = Headroom::with_limit(Some(in_use + (1 << 30)));
        assert!(limited.is_limited());
        assert!(limited.allows(1 << 20, 0));
        assert!(!limited.allows(1 << 40, 0));
        assert!(
            !limited.allows(1 << 20, 1 << 30),
            "1 TiB reserved for 2^30 tasks"
        );
        let full = Headroom::with_limit(Some(in_use / 4));
        assert_eq!(full.room(0), 0);
        assert_eq!(full.room_without_reserve(), 0);
    }
}
