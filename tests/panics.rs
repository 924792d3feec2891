//! Panics in tasks: resumed at the join, or when the scope ends.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use io::Clock;
use support::{each_backend, panic_message, LONG};

#[test]
fn a_task_panic_is_resumed_on_join() {
    each_backend(|io| {
        let caught = catch_unwind(AssertUnwindSafe(|| {
            io.scope(|s| {
                let task = s.spawn_async(|| -> u32 { panic!("boom in task") });
                task.join(io)
            })
        }));
        assert_eq!(panic_message(&*caught.unwrap_err()), "boom in task");
    });
}

#[test]
fn an_unjoined_panic_is_resumed_after_the_others_were_canceled() {
    each_backend(|io| {
        let sleeper_ended = AtomicBool::new(false);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            io.scope(|s| {
                let sleeper = s.spawn_concurrent(|| {
                    let _ = io.sleep(LONG, Clock::Awake);
                    sleeper_ended.store(true, Ordering::SeqCst);
                });
                let failing = s.spawn_async(|| panic!("unjoined boom"));
                std::mem::forget(sleeper.unwrap());
                std::mem::forget(failing);
            })
        }));
        assert_eq!(panic_message(&*caught.unwrap_err()), "unjoined boom");
        assert!(sleeper_ended.load(Ordering::SeqCst));
    });
}

#[test]
fn the_runtime_keeps_working_after_a_panic() {
    each_backend(|io| {
        for _ in 0..3 {
            let caught = catch_unwind(AssertUnwindSafe(|| {
                io.scope(|s| s.spawn_concurrent(|| panic!("again")).unwrap().join(io))
            }));
            assert!(caught.is_err());
        }
        let ok =
            io.scope(|s| s.spawn_async(|| 3).join(io) + s.spawn_concurrent(|| 4).unwrap().join(io));
        assert_eq!(ok, 7);
        io.sleep(Duration::from_millis(1), Clock::Awake).unwrap();
    });
}
