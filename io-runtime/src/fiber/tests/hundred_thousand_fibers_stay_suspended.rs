//! 100 000 fibers alive at once on one thread, each parked once, with the default
//! `vm.max_map_count`: slabs with `MADV_GUARD_INSTALL` guards cost one mapping each, and slabs
//! grow to 4096 stacks. The ignored `million_fibers_stay_suspended` does the same for 1 000 000
//! fibers of the runtime's default 256 KiB stack (about 4 GiB of stack pages and 0.5 GiB of page
//! tables; run it explicitly:
//! `cargo test -p io-runtime --release --lib million_fibers -- --ignored`).
//!
//! Runs in a child process: it counts the process's mappings (other tests would add theirs), and
//! with `mprotect` guards it may use up `vm.max_map_count`, which the other tests need.

use std::fs;

use crate::fiber::stack::GuardMode;
use crate::fiber::{Fiber, Resume, StackPool};

use super::child;

fn mapping_count() -> usize {
    fs::read_to_string("/proc/self/maps")
        .map(|maps| maps.lines().count())
        .unwrap_or(0)
}

#[test]
fn hundred_thousand_fibers_stay_suspended() {
    let test = child::test_name(module_path!(), "hundred_thousand_fibers_stay_suspended");
    if child::is_child(&test) {
        return in_child(100_000, 64 * 1024);
    }
    child::run_child(&test).assert_passed();
}

#[test]
#[ignore = "4.5 GiB: cargo test -p io-runtime --release --lib million_fibers -- --ignored"]
fn million_fibers_stay_suspended() {
    let test = child::test_name(module_path!(), "million_fibers_stay_suspended");
    if child::is_child(&test) {
        return in_child(1_000_000, 256 * 1024);
    }
    child::run_child(&test).assert_passed();
}

fn in_child(count: usize, stack_size: usize) {
    let pool = StackPool::new(stack_size, count);
    let maps_before = mapping_count();
    let mut fibers = Vec::with_capacity(count);
    for i in 0..count {
        let fiber = Fiber::new(&pool, move |suspender| {
            suspender.suspend();
            i
        });
        match fiber {
            Ok(fiber) => fibers.push(fiber),
            Err(error) if pool.guard_mode() == GuardMode::Mprotect => {
                // Two mappings per stack: vm.max_map_count stops us, with an error, not a crash.
                assert!(error.os_error().is_some(), "{error}");
                eprintln!("skipped: mprotect guards ran out of mappings at {i} fibers: {error}");
                return;
            }
            Err(error) => panic!("fiber {i}: {error}"),
        }
    }
    for fiber in &mut fibers {
        assert_eq!(fiber.resume(), Resume::Suspended);
    }
    assert_eq!(pool.in_use(), count);
    assert!(pool.get().unwrap_err().is_limit());
    let new_mappings = mapping_count().saturating_sub(maps_before);
    if pool.guard_mode() == GuardMode::Madvise {
        assert!(
            // One per slab at most (neighbouring slabs usually merge into one): 6 slabs
            // of 64 to 2048 stacks, then 4096 each.
            new_mappings <= count / 4096 + 7 + 16,
            "{new_mappings} mappings for {count} stacks"
        );
    }

    for (i, fiber) in fibers.iter_mut().enumerate() {
        assert_eq!(fiber.resume(), Resume::Finished(i));
    }
    assert!(fibers.iter().all(Fiber::is_finished));
    assert_eq!(pool.idle(), count);
}
