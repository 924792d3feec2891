//! 100 000 fibers alive at once on one thread, each parked once, with the default
//! `vm.max_map_count`: slabs with `MADV_GUARD_INSTALL` guards cost one mapping per 64 stacks.
//!
//! Runs in a child process: it counts the process's mappings (other tests would add theirs), and
//! with `mprotect` guards it may use up `vm.max_map_count`, which the other tests need.

use std::fs;

use crate::fiber::stack::GuardMode;
use crate::fiber::{Fiber, Resume, StackPool};

use super::child;

const FIBERS: usize = 100_000;

fn mapping_count() -> usize {
    fs::read_to_string("/proc/self/maps")
        .map(|maps| maps.lines().count())
        .unwrap_or(0)
}

#[test]
fn hundred_thousand_fibers_stay_suspended() {
    let test = child::test_name(module_path!(), "hundred_thousand_fibers_stay_suspended");
    if child::is_child(&test) {
        return in_child();
    }
    child::run_child(&test).assert_passed();
}

fn in_child() {
    let pool = StackPool::new(64 * 1024, FIBERS);
    let maps_before = mapping_count();
    let mut fibers = Vec::with_capacity(FIBERS);
    for i in 0..FIBERS {
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
    assert_eq!(pool.in_use(), FIBERS);
    assert!(pool.get().unwrap_err().is_limit());
    let new_mappings = mapping_count().saturating_sub(maps_before);
    if pool.guard_mode() == GuardMode::Madvise {
        assert!(
            new_mappings <= FIBERS / 64 + 16,
            "{new_mappings} mappings for {FIBERS} stacks"
        );
    }

    for (i, fiber) in fibers.iter_mut().enumerate() {
        assert_eq!(fiber.resume(), Resume::Finished(i));
    }
    assert!(fibers.iter().all(Fiber::is_finished));
    assert_eq!(pool.idle(), FIBERS);
}
