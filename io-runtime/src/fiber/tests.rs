//! Unit tests of the stack pool and fibers. The files under `tests/` hold the tests that need a
//! process of their own (run as a child of this test binary, see `tests/child.rs`) or a global
//! allocator, and the ignored `fiber_bench`.

mod child;
mod context_switch_does_not_allocate;
mod fiber_bench;
mod hundred_thousand_fibers_stay_suspended;
mod mprotect_guards_run_out_with_an_error;
mod stack_overflow_is_reported;

use std::cell::Cell;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use corosensei::stack::Stack;

use super::stack::{
    detect_guard_mode, detect_vectored_guards, page_size, GuardMode, PooledStack, GUARD_BATCH,
    STACKS_PER_SLAB,
};
use super::{Fiber, Resume, StackPool};

const SIZE: usize = 64 * 1024;

#[test]
fn get_past_max_stacks_returns_limit_error() {
    let pool = StackPool::new(SIZE, 3);
    let stacks: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    let error = pool.get().unwrap_err();
    assert!(error.is_limit(), "{error}");
    assert!(error.os_error().is_none());
    assert_eq!(pool.in_use(), 3);
    drop(stacks);
    assert_eq!(pool.in_use(), 0);
    assert_eq!(pool.idle(), 3);
    pool.get().unwrap();
}

#[test]
fn zero_max_stacks_always_errs() {
    let pool = StackPool::new(SIZE, 0);
    assert!(pool.get().unwrap_err().is_limit());
}

#[test]
fn fiber_past_max_stacks_returns_error() {
    let pool = StackPool::new(SIZE, 1);
    let _first = Fiber::new(&pool, |_| ()).unwrap();
    assert!(Fiber::new(&pool, |_| ()).unwrap_err().is_limit());
}

#[test]
fn recycled_stack_is_the_same_stack() {
    let pool = StackPool::new(SIZE, 8);
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    let (base_a, base_b) = (a.base(), b.base());
    drop(a);
    drop(b);
    // LIFO: the most recently returned (warmest) stack comes back first.
    let first = pool.get().unwrap();
    let second = pool.get().unwrap();
    assert_eq!(first.base(), base_b);
    assert_eq!(second.base(), base_a);
    let fresh = pool.get().unwrap();
    assert!(fresh.base() != base_a && fresh.base() != base_b);
}

#[test]
fn finished_fiber_returns_its_stack_for_reuse() {
    let pool = StackPool::new(SIZE, 1);
    let mut fiber = Fiber::new(&pool, |_| ()).unwrap();
    assert_eq!(fiber.resume(), Resume::Finished(()));
    assert_eq!(
        pool.idle(),
        1,
        "stack released as soon as the fiber finished"
    );
    let mut next = Fiber::new(&pool, |_| 7).unwrap();
    assert_eq!(next.resume(), Resume::Finished(7));
}

#[test]
fn stack_bounds_leave_a_guard_page_below_the_usable_size() {
    let pool = StackPool::new(10_000, 4);
    let page = page_size();
    // The slot's top 16 bytes hold its header (pool and stride), above the stack.
    assert_eq!(pool.stack_size(), 10_000usize.next_multiple_of(page) - 16);
    let stack = pool.get().unwrap();
    let (base, limit) = (stack.base().get(), stack.limit().get());
    assert_eq!(base - limit, pool.stack_size() + page);
    assert_eq!((base + 16) % page, 0);
    assert_eq!(base % 16, 0, "corosensei's STACK_ALIGNMENT");
    assert_eq!(limit % page, 0);
    assert_eq!(stack.usable_size(), pool.stack_size());
    assert_eq!(std::mem::size_of::<PooledStack>(), 8, "one word per stack");
}

#[test]
fn stacks_span_several_slabs_without_overlap() {
    let count = 2 * STACKS_PER_SLAB + 3;
    let pool = StackPool::new(SIZE, count);
    let stacks: Vec<_> = (0..count).map(|_| pool.get().unwrap()).collect();
    let mut ranges: Vec<_> = stacks
        .iter()
        .map(|s| (s.limit().get(), s.base().get()))
        .collect();
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "stacks overlap: {pair:?}");
    }
    let distinct: HashSet<_> = ranges.iter().collect();
    assert_eq!(distinct.len(), count);
    assert!(pool.get().unwrap_err().is_limit());
}

#[test]
fn a_reserved_stack_is_touched_only_when_it_becomes_a_stack() {
    let pool = StackPool::new(SIZE, 4);
    let present = |addr: usize| pagemap_entry(addr) & (1 << 63) != 0;
    let reserved = pool.reserve().unwrap();
    let top = reserved.top_page();
    assert_eq!(pool.in_use(), 1, "a reservation counts as a stack in use");
    assert!(!present(top), "reserving does not fault the slot in");
    // Given back untouched, and taken again (the free list is LIFO): still not resident.
    drop(reserved);
    assert_eq!(pool.in_use(), 0);
    let reserved = pool.reserve().unwrap();
    assert_eq!(reserved.top_page(), top);
    assert!(!present(top));
    let stack = reserved.into_stack();
    assert!(
        present(top),
        "the stack's top page is resident once handed out"
    );
    assert_eq!(stack.base().get() + 16, top + page_size());
    // A fiber runs on it as on any stack.
    let mut fiber = Fiber::on_stack(stack, |s| {
        s.suspend();
        7
    });
    assert_eq!(fiber.resume(), Resume::Suspended);
    assert_eq!(fiber.resume(), Resume::Finished(7));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn a_pool_too_big_to_keep_is_unmapped_once_dropped() {
    // 64 + 128 + 256 + 512 + 1024 = 1984 slots in the first five slabs: one more stack maps a
    // sixth slab of 2048, past what a spare pool may hold.
    let count = 1985;
    let pool = StackPool::new(SIZE, 2 * count);
    let stacks: Vec<_> = (0..count).map(|_| pool.get().unwrap()).collect();
    let last = stacks.last().unwrap().limit().get();
    let mapped = |addr: usize| {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().any(|line| {
            let range = line.split_whitespace().next().unwrap();
            let (start, end) = range.split_once('-').unwrap();
            let (start, end) = (
                usize::from_str_radix(start, 16).unwrap(),
                usize::from_str_radix(end, 16).unwrap(),
            );
            (start..end).contains(&addr)
        })
    };
    assert!(mapped(last));
    drop(stacks);
    drop(pool);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while mapped(last) {
        assert!(
            std::time::Instant::now() < deadline,
            "the slabs are still mapped after 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The `/proc/self/pagemap` entry of the page at `addr`: bit 58 marks a guard region (Linux
/// ≥ 6.14), bit 63 a present page.
fn pagemap_entry(addr: usize) -> u64 {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open("/proc/self/pagemap").unwrap();
    let mut entry = [0u8; 8];
    let offset = (addr / page_size() * 8) as u64;
    file.read_exact_at(&mut entry, offset).unwrap();
    u64::from_ne_bytes(entry)
}

/// Bit 58 of a pagemap entry: the page is a guard region.
const PM_GUARD_REGION: u64 = 1 << 58;

/// Checks that every stack of `pool`, taken across several slabs and guard batches, has a guard
/// page below it and none in its usable range.
fn every_stack_has_its_guard(pool: &StackPool, count: usize) {
    let page = page_size();
    let stacks: Vec<_> = (0..count).map(|_| pool.get().unwrap()).collect();
    for (i, stack) in stacks.iter().enumerate() {
        let (limit, base) = (stack.limit().get(), stack.base().get());
        assert_ne!(
            pagemap_entry(limit) & PM_GUARD_REGION,
            0,
            "stack {i}: no guard"
        );
        for usable in [limit + page, base - page] {
            assert_eq!(
                pagemap_entry(usable) & PM_GUARD_REGION,
                0,
                "stack {i}: guard inside its usable range"
            );
        }
    }
}

#[test]
fn every_stack_gets_its_guard_batched_or_one_by_one() {
    if detect_guard_mode() != GuardMode::Madvise {
        eprintln!("skipped: this kernel has no guard regions");
        return;
    }
    // Past the first slab (64) and into the third (64 + 128), through several guard batches.
    let count = 3 * STACKS_PER_SLAB + 2 * GUARD_BATCH + 3;
    for vectored in [true, false] {
        if vectored && !detect_vectored_guards() {
            eprintln!("skipped the batched case: no process_madvise guards on this kernel");
            continue;
        }
        let pool = StackPool::with_guards(SIZE, count, GuardMode::Madvise, vectored);
        every_stack_has_its_guard(&pool, count);
        assert_eq!(pool.in_use(), 0);
    }
}

/// Takes `n` stacks of `pool`, writes a word at the bottom and at the top of each usable range,
/// and returns their (limit, base) bounds.
fn touch_stacks(pool: &StackPool, n: usize) -> Vec<(usize, usize)> {
    let stacks: Vec<_> = (0..n).map(|_| pool.get().unwrap()).collect();
    let page = page_size();
    stacks
        .iter()
        .map(|stack| {
            let (limit, base) = (stack.limit().get(), stack.base().get());
            for addr in [limit + page, base - 8] {
                let word = std::ptr::with_exposed_provenance_mut::<u64>(addr);
                // SAFETY: an aligned word in the usable range of a stack this test holds and no
                // fiber uses.
                unsafe { word.write(0xfeed) };
            }
            (limit, base)
        })
        .collect()
}

#[test]
fn the_next_pool_on_a_thread_takes_up_the_last_ones_stacks_trimmed() {
    if detect_guard_mode() != GuardMode::Madvise {
        eprintln!("skipped: only pools with guard regions are kept");
        return;
    }
    let pool = StackPool::new(SIZE, 100);
    let mut first = touch_stacks(&pool, 10);
    drop(pool);

    let pool = StackPool::new(SIZE, 100);
    assert_eq!(pool.idle(), 10, "the spare's stacks wait in its free list");
    assert_eq!(pool.in_use(), 0);
    let mut again: Vec<_> = (0..10).map(|_| pool.get().unwrap()).collect();
    let mut bounds: Vec<_> = again
        .iter()
        .map(|s| (s.limit().get(), s.base().get()))
        .collect();
    first.sort_unstable();
    bounds.sort_unstable();
    assert_eq!(bounds, first, "the same stacks");
    let page = page_size();
    for &(limit, base) in &bounds {
        assert_ne!(pagemap_entry(limit) & PM_GUARD_REGION, 0, "guard kept");
        let bottom = std::ptr::with_exposed_provenance::<u64>(limit + page);
        // SAFETY: an aligned word in the usable range of a stack this test holds.
        assert_eq!(unsafe { bottom.read() }, 0, "pages below the top trimmed");
        let top = std::ptr::with_exposed_provenance::<u64>(base - 8);
        // SAFETY: as above.
        assert_eq!(unsafe { top.read() }, 0xfeed, "the top page kept");
    }
    // The pool goes on carving where the spare stopped.
    again.push(pool.get().unwrap());
    assert_eq!(pool.in_use(), 11);
    assert!(!first.contains(&(again[10].limit().get(), again[10].base().get())));
}

#[test]
fn a_spare_that_does_not_fit_is_not_taken_up() {
    let pool = StackPool::new(SIZE, 100);
    let used = touch_stacks(&pool, 3);
    drop(pool);
    // Another stack size: a fresh pool.
    let other = StackPool::new(2 * SIZE, 100);
    assert_eq!(other.idle(), 0);
    let stack = other.get().unwrap();
    assert!(!used.contains(&(stack.limit().get(), stack.base().get())));
    drop(stack);
    drop(other);
    // Fewer stacks allowed than the spare holds slots (64): a fresh pool too.
    let small = StackPool::new(2 * SIZE, 8);
    assert_eq!(small.idle(), 0);
    // A pool with a stack still out is not kept.
    let held = small.get().unwrap();
    drop(small);
    drop(held);
    assert_eq!(StackPool::new(2 * SIZE, 8).idle(), 0);
}

#[test]
fn guard_mode_is_detected_once() {
    let mode = detect_guard_mode();
    assert_eq!(detect_guard_mode(), mode);
    assert_eq!(StackPool::new(SIZE, 1).guard_mode(), mode);
    println!("guard mode on this kernel: {mode:?}");
}

#[test]
fn mprotect_fallback_runs_fibers() {
    let pool = StackPool::with_guard_mode(SIZE, 4, GuardMode::Mprotect);
    let mut fiber = Fiber::new(&pool, |s| {
        s.suspend();
        deep(200)
    })
    .unwrap();
    assert_eq!(fiber.resume(), Resume::Suspended);
    assert_eq!(fiber.resume(), Resume::Finished(200));
}

/// Recursion that uses some stack; `black_box` keeps it from becoming a loop.
fn deep(n: u64) -> u64 {
    let pad = std::hint::black_box([0u8; 64]);
    if n == 0 {
        u64::from(pad[0])
    } else {
        1 + std::hint::black_box(deep(n - 1))
    }
}

#[test]
fn fiber_suspends_and_resumes_in_order() {
    let pool = StackPool::new(SIZE, 2);
    let log = Rc::new(Cell::new(0));
    let seen = Rc::clone(&log);
    let mut fiber = Fiber::new(&pool, move |s| {
        for step in 1..=3 {
            seen.set(step);
            s.suspend();
        }
        "done"
    })
    .unwrap();
    assert!(!fiber.is_finished());
    for step in 1..=3 {
        assert_eq!(fiber.resume(), Resume::Suspended);
        assert_eq!(log.get(), step);
    }
    assert_eq!(fiber.resume(), Resume::Finished("done"));
    assert!(fiber.is_finished());
}

#[test]
#[should_panic(expected = "resumed a finished fiber")]
fn resuming_a_finished_fiber_panics() {
    let pool = StackPool::new(SIZE, 1);
    let mut fiber = Fiber::new(&pool, |_| ()).unwrap();
    let _ = fiber.resume();
    let _ = fiber.resume();
}

#[test]
fn dropping_a_suspended_fiber_unwinds_its_stack() {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let pool = StackPool::new(SIZE, 1);
    let dropped = Rc::new(Cell::new(false));
    let flag = Flag(Rc::clone(&dropped));
    let mut fiber = Fiber::new(&pool, move |s| {
        let _flag = flag;
        s.suspend();
        unreachable!("never resumed");
    })
    .unwrap();
    assert_eq!(fiber.resume(), Resume::Suspended);
    drop(fiber);
    assert!(dropped.get());
    assert_eq!(pool.idle(), 1);
}

#[test]
fn panic_in_fiber_reaches_resume_and_frees_the_stack() {
    let pool = StackPool::new(SIZE, 1);
    let mut fiber = Fiber::new(&pool, |_| panic!("boom")).unwrap();
    let caught = panic::catch_unwind(AssertUnwindSafe(|| fiber.resume()));
    let message = caught.unwrap_err().downcast::<&str>().unwrap();
    assert_eq!(*message, "boom");
    assert!(fiber.is_finished());
    drop(fiber);
    assert_eq!(pool.idle(), 1);
}

#[test]
fn nested_fibers_run_on_their_own_stacks() {
    let pool = StackPool::new(SIZE, 2);
    let inner_pool = pool.clone();
    let mut outer = Fiber::new(&pool, move |s| {
        let mut inner = Fiber::new(&inner_pool, |t| {
            t.suspend();
            1
        })
        .unwrap();
        assert_eq!(inner.resume(), Resume::Suspended);
        s.suspend();
        match inner.resume() {
            Resume::Finished(v) => v + 1,
            Resume::Suspended => unreachable!(),
        }
    })
    .unwrap()
    .with_name("outer");
    assert_eq!(outer.name(), Some("outer"));
    assert_eq!(outer.resume(), Resume::Suspended);
    assert_eq!(pool.in_use(), 2);
    assert_eq!(outer.resume(), Resume::Finished(2));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn scoped_fiber_borrows_from_its_caller() {
    let pool = StackPool::new(SIZE, 1);
    let mut total = 0;
    {
        let counter = &mut total;
        // SAFETY: the fiber is run to completion and dropped inside this block, before `total`
        // is read again, and it is not leaked.
        let mut fiber = unsafe {
            Fiber::new_unchecked(&pool, |s| {
                *counter += 1;
                s.suspend();
                *counter += 1;
            })
        }
        .unwrap();
        while fiber.resume() == Resume::Suspended {}
    }
    assert_eq!(total, 2);
}

#[test]
fn trim_gives_idle_pages_back() {
    let pool = StackPool::new(SIZE, 1);
    let stack = pool.get().unwrap();
    let top = stack.base().get() - 8;
    let word = std::ptr::with_exposed_provenance_mut::<u64>(top);
    // SAFETY: `top` is the highest aligned word of a stack this test owns and no fiber uses.
    unsafe { word.write(0xfeed) };
    drop(stack);
    pool.trim().unwrap();
    let stack = pool.get().unwrap();
    assert_eq!(stack.base().get() - 8, top, "same stack recycled");
    // SAFETY: as above; MADV_DONTNEED left the page mapped (zero-filled on next touch).
    assert_eq!(unsafe { word.read() }, 0);
}

/// Tells at run time whether a type is `Send`: on the receiver `&Probe<T>`, method lookup finds
/// [`SendProbe`] (implemented for `Probe<T>` when `T: Send`) before it auto-references the
/// receiver and finds the fallback [`NotSendProbe`] (implemented for `&Probe<T>`).
macro_rules! is_send {
    ($type:ty) => {{
        let probe = &Probe::<$type>(PhantomData);
        probe.is_send()
    }};
}

struct Probe<T: ?Sized>(PhantomData<T>);

trait SendProbe {
    fn is_send(&self) -> bool {
        true
    }
}

impl<T: ?Sized + Send> SendProbe for Probe<T> {}

trait NotSendProbe {
    fn is_send(&self) -> bool {
        false
    }
}

impl<T: ?Sized> NotSendProbe for &Probe<T> {}

#[test]
fn fibers_and_stacks_are_not_send() {
    assert!(is_send!(u64), "the probe sees Send types");
    assert!(!is_send!(Rc<u64>), "the probe sees !Send types");
    // A fiber cannot move to another thread: its stack may hold `!Send` values.
    assert!(!is_send!(Fiber<()>));
    // A pool and its stacks belong to the thread that made the pool.
    assert!(!is_send!(StackPool));
    assert!(!is_send!(PooledStack));
}
