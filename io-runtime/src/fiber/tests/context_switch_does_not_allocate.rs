//! A context switch (resume + suspend) never allocates, and neither does starting a fiber on a
//! recycled stack. Counted with this test binary's global allocator, which counts per thread and
//! only while armed, so the tests running in parallel neither see each other's allocations nor
//! pay more than a thread-local read per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use crate::fiber::{Fiber, Resume, StackPool};

struct CountingAllocator;

thread_local! {
    /// `const`, no destructor: safe to touch from inside the allocator.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// Allocations made on this thread while armed.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the same arguments; counting has no effect on
// the memory returned.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded caller contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded caller contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded caller contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded caller contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Counts the allocations `f` makes on this thread.
fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.get();
    ARMED.set(true);
    f();
    ARMED.set(false);
    ALLOCATIONS.get() - before
}

const SWITCHES: usize = 10_000;

#[test]
fn context_switch_does_not_allocate() {
    let pool = StackPool::new(64 * 1024, 2);
    let mut fiber = Fiber::new(&pool, |suspender| {
        for _ in 0..SWITCHES {
            suspender.suspend();
        }
    })
    .unwrap()
    .with_name("switcher");

    let during_switches = allocations_during(|| {
        for _ in 0..SWITCHES {
            assert_eq!(fiber.resume(), Resume::Suspended);
        }
        assert_eq!(fiber.resume(), Resume::Finished(()));
    });
    assert_eq!(during_switches, 0, "resume/suspend allocated");

    // The stack is idle in the pool now: a whole fiber life on it allocates nothing either.
    let during_recycled_fiber = allocations_during(|| {
        let mut fiber = Fiber::new(&pool, |suspender| suspender.suspend()).unwrap();
        assert_eq!(fiber.resume(), Resume::Suspended);
        assert_eq!(fiber.resume(), Resume::Finished(()));
    });
    assert_eq!(
        during_recycled_fiber, 0,
        "a fiber on a recycled stack allocated"
    );
}

#[test]
fn counting_allocator_sees_allocations() {
    let counted = allocations_during(|| drop(std::hint::black_box(Box::new(1u64))));
    assert_eq!(counted, 1);
}
