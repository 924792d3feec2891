//! No scenario leaks: a counting allocator shows zero net allocations after each one — normal,
//! an error in one task, an early return, a cancel, a panic, a forgotten handle.
//! (One test in its own binary: the allocator counts the whole process.)

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use io::{Canceled, Clock, Io, Runtime};
use support::counting::{live_blocks, live_bytes, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Debug)]
struct OutOfMemory;

fn do_work(io: Io, flavor_text: &str) -> Result<String, OutOfMemory> {
    if flavor_text.starts_with('h') {
        return Err(OutOfMemory);
    }
    let copied = flavor_text.to_owned();
    let _ = io.sleep(Duration::from_millis(20), Clock::Awake);
    Ok(copied)
}

fn normal(io: Io) {
    io.scope(|s| {
        let a = s.spawn_async(|| do_work(io, "on an excuse"));
        let b = s.spawn_async(|| do_work(io, "not to drink Spezi"));
        assert!(a.join(io).is_ok() && b.join(io).is_ok());
    });
}

fn error_in_one_task(io: Io) {
    let result: Result<(), OutOfMemory> = io.scope(|s| {
        let a = s.spawn_async(|| do_work(io, "hard"));
        let b = s.spawn_async(|| do_work(io, "on an excuse"));
        a.join(io)?;
        b.join(io)?;
        Ok(())
    });
    assert!(result.is_err());
}

fn early_return(io: Io) {
    for round in 0..3 {
        let left_early = io.scope(|s| {
            let _sleeper = s.spawn_concurrent(|| io.sleep(Duration::from_secs(10), Clock::Awake));
            let value = s.spawn_async(|| vec![round; 100]);
            if round < 10 {
                return true;
            }
            drop(value);
            false
        });
        assert!(left_early);
    }
}

fn cancel(io: Io) {
    io.scope(|s| {
        let copy = s.spawn_async(|| do_work(io, "on an excuse"));
        let sleeper = s.spawn_async(|| io.sleep(Duration::from_secs(10), Clock::Awake));
        assert_eq!(sleeper.cancel(io), Err(Canceled));
        drop(copy.cancel(io));
    });
}

fn panic(io: Io) {
    let caught = catch_unwind(AssertUnwindSafe(|| {
        io.scope(|s| {
            let owned = s.spawn_async(|| String::from("dropped by the scope"));
            let failing = s.spawn_async(|| -> String { panic!("task panic") });
            std::mem::forget(owned);
            failing.join(io)
        })
    }));
    assert!(caught.is_err());
}

fn forgotten_handle(io: Io) {
    io.scope(|s| {
        let result = s.spawn_async(|| vec![7u8; 4096]);
        let sleeper = s.spawn_async(|| io.sleep(Duration::from_secs(10), Clock::Awake));
        std::mem::forget(result);
        std::mem::forget(sleeper);
    });
}

fn group(io: Io) {
    io.scope(|s| {
        let group = s.group();
        for i in 0..100 {
            group.spawn(io, move || drop(vec![i; 10]));
        }
        group.spawn(io, || {
            let _ = io.sleep(Duration::from_secs(10), Clock::Awake);
        });
        std::mem::forget(group);
    });
}

/// Runs `scenario` on a fresh runtime and returns the net change in live blocks and bytes,
/// after one warm-up run (thread-locals, registries and thread caches allocate once).
fn net_allocations(scenario: fn(Io)) -> (isize, isize) {
    let run = || {
        let runtime = Runtime::builder().threads(2).build().unwrap();
        runtime.run(scenario);
    };
    run();
    let (blocks, bytes) = (live_blocks(), live_bytes());
    run();
    (live_blocks() - blocks, live_bytes() - bytes)
}

#[test]
fn no_scenario_leaks() {
    // Silence the expected panic message of the panic scenario.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("task panic") {
            default_hook(info)
        }
    }));
    type Scenario = (&'static str, fn(Io));
    let scenarios: [Scenario; 7] = [
        ("normal", normal),
        ("error in one task", error_in_one_task),
        ("early return", early_return),
        ("cancel", cancel),
        ("panic", panic),
        ("forgotten handle", forgotten_handle),
        ("group", group),
    ];
    for (name, scenario) in scenarios {
        assert_eq!(
            net_allocations(scenario),
            (0, 0),
            "{name} leaked (blocks, bytes)"
        );
    }
}
