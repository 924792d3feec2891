//! A fiber that overflows its stack hits the guard page and the process aborts with a message
//! naming the fiber; faults that are not fiber overflows still crash the usual way.
//!
//! Each test re-runs this test binary as a child (see `child.rs`); the child crashes and the
//! parent inspects its status and stderr.

use std::os::unix::process::ExitStatusExt;

use crate::fiber::stack::{detect_guard_mode, GuardMode};
use crate::fiber::{Fiber, StackPool};

use super::child::{self, disable_core_dumps};

/// Recursion without end that the optimizer cannot turn into a loop.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth as u8; 256]);
    if depth == u64::MAX {
        return 0;
    }
    std::hint::black_box(recurse(depth + 1)) + u64::from(frame[0])
}

/// Child: overflows a fiber stack; returning means the guard did not fire.
fn overflow_in_fiber(mode: GuardMode, name: Option<&'static str>) {
    overflow_in_nth_stack(mode, name, 0);
}

/// Child: takes `taken` stacks, then overflows a fiber on the next one. The stacks after a
/// batch's first got their guards in that first one's batch (`GUARD_BATCH`).
fn overflow_in_nth_stack(mode: GuardMode, name: Option<&'static str>, taken: usize) {
    disable_core_dumps();
    let pool = StackPool::with_guard_mode(64 * 1024, taken + 4, mode);
    let _held: Vec<_> = (0..taken).map(|_| pool.get().unwrap()).collect();
    let mut fiber = Fiber::new(&pool, |_| recurse(0)).unwrap();
    if let Some(name) = name {
        fiber.set_name(name);
    }
    let _ = fiber.resume();
}

/// Re-runs this test binary for the test `name` as a child that runs `child`, then checks that
/// the child died of `signal` and that its stderr holds every one of `holds` and none of
/// `lacks`. In the child itself, only runs `child`.
fn crashes_with(
    name: &str,
    child: impl FnOnce(),
    signal: libc::c_int,
    holds: &[&str],
    lacks: &[&str],
) {
    let test = child::test_name(module_path!(), name);
    if child::is_child(&test) {
        return child();
    }
    let child::ChildOutput { status, stderr, .. } = child::run_child(&test);
    assert_eq!(
        status.signal(),
        Some(signal),
        "{status:?}, stderr:\n{stderr}"
    );
    for text in holds {
        assert!(stderr.contains(text), "stderr:\n{stderr}");
    }
    for text in lacks {
        assert!(!stderr.contains(text), "stderr:\n{stderr}");
    }
}

#[test]
fn fiber_stack_overflow_is_reported() {
    crashes_with(
        "fiber_stack_overflow_is_reported",
        || overflow_in_fiber(detect_guard_mode(), Some("deep recursion")),
        libc::SIGABRT,
        &[
            "stack overflow",
            "io: fiber stack overflow in fiber \"deep recursion\" (#",
        ],
        &[],
    );
}

#[test]
fn overflow_of_a_stack_guarded_in_a_batch_is_reported() {
    crashes_with(
        "overflow_of_a_stack_guarded_in_a_batch_is_reported",
        || overflow_in_nth_stack(detect_guard_mode(), Some("fifth"), 4),
        libc::SIGABRT,
        &["io: fiber stack overflow in fiber \"fifth\" (#"],
        &[],
    );
}

#[test]
fn fiber_stack_overflow_is_reported_with_mprotect_guards() {
    crashes_with(
        "fiber_stack_overflow_is_reported_with_mprotect_guards",
        || overflow_in_fiber(GuardMode::Mprotect, None),
        libc::SIGABRT,
        &["io: fiber stack overflow in fiber #"],
        &[],
    );
}

#[test]
fn unrelated_segfault_still_crashes_with_sigsegv() {
    crashes_with(
        "unrelated_segfault_still_crashes_with_sigsegv",
        || {
            disable_core_dumps();
            let pool = StackPool::new(64 * 1024, 4);
            let mut fiber = Fiber::new(&pool, |_| {
                let page = 4096;
                // SAFETY: maps then unmaps a fresh private page; only its address is kept.
                let gone = unsafe {
                    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
                    let map = libc::mmap(std::ptr::null_mut(), page, libc::PROT_READ, flags, -1, 0);
                    libc::munmap(map, page);
                    map.cast::<u8>()
                };
                // SAFETY: not safe: the page is unmapped. This child exists to fault here.
                unsafe { gone.read_volatile() }
            })
            .unwrap();
            let _ = fiber.resume();
        },
        libc::SIGSEGV,
        &[],
        &["fiber stack overflow"],
    );
}

#[test]
fn thread_stack_overflow_is_still_reported_by_std() {
    crashes_with(
        "thread_stack_overflow_is_still_reported_by_std",
        || {
            disable_core_dumps();
            let _pool = StackPool::new(64 * 1024, 4); // installs the fiber handler first
            let _ = std::hint::black_box(recurse(0));
        },
        libc::SIGABRT,
        &["has overflowed its stack"],
        &["fiber stack overflow"],
    );
}
