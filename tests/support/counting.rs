//! A global allocator that counts live allocations, to prove that scenarios leak nothing.
//! Install it in a test binary with `#[global_allocator] static A: Counting = Counting;`
//! and run the measured scenarios from one `#[test]`, so no other test allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Allocations made by this thread (const-initialized: reading it never allocates).
    static THREAD_ALLOCATIONS: Cell<isize> = const { Cell::new(0) };
}

fn count_allocation() {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    // `try_with`: a thread being torn down has no thread-locals left; its count no longer matters.
    let _ = THREAD_ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

/// The counting allocator (delegates to the system allocator).
pub struct Counting;

// SAFETY: every call forwards to `System` with the caller's arguments unchanged; the counters
// are plain atomics and never affect the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract of GlobalAlloc::alloc.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
            count_allocation();
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract of GlobalAlloc::dealloc.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract of GlobalAlloc::realloc.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count_allocation();
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

/// Bytes currently allocated.
pub fn live_bytes() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// Allocations currently live.
pub fn live_blocks() -> isize {
    LIVE_BLOCKS.load(Ordering::Relaxed)
}

/// Allocations (and reallocations) made so far, freed or not.
pub fn allocations() -> isize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Allocations (and reallocations) made so far by the calling thread.
pub fn thread_allocations() -> isize {
    THREAD_ALLOCATIONS.with(Cell::get)
}
