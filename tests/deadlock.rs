//! Deadlock diagnosis: when every task waits on the runtime and nothing can wake any of them,
//! the runtime panics with a report instead of hanging.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

use io::{Backend, Runtime};

const BACKENDS: [Backend; 2] = [Backend::Threaded, Backend::Uring];

/// Runs `f` on its own thread and returns its panic message, failing (not hanging) if it
/// neither panics nor returns within 20 s.
fn panic_message_of(f: impl FnOnce() + Send + 'static) -> String {
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || {
        let caught = catch_unwind(AssertUnwindSafe(f));
        let message = caught.err().map(|payload| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        });
        let _ = done.send(message);
    });
    outcome
        .recv_timeout(Duration::from_secs(20))
        .expect("the deadlock was not diagnosed: the runtime hung")
        .expect("the runtime returned instead of reporting a deadlock")
}

#[test]
fn a_put_with_no_getter_on_an_inline_runtime_is_reported() {
    // The seed's example 9: async_limit(0) runs the producer inline, and it blocks forever in
    // a rendezvous put because the consumer was never started.
    let message = panic_message_of(|| {
        let runtime = Runtime::builder()
            .threads(2)
            .async_limit(0)
            .build()
            .unwrap();
        runtime.run(|io| {
            let queue = io::Queue::<&str>::new(0);
            io.scope(|s| {
                let producer = s.spawn_async(|| queue.put_one(io, "never gonna give you up"));
                let consumer = s.spawn_async(|| queue.get_one(io));
                let _ = (producer.join(io), consumer.join(io));
            })
        });
    });
    assert!(message.starts_with("io: deadlock detected"), "{message}");
    assert!(message.contains("Queue::put_one"), "{message}");
    assert!(
        message.contains("tests/deadlock.rs"),
        "names where the task was spawned: {message}"
    );
}

#[test]
fn a_root_joining_a_task_that_waits_forever_is_reported() {
    for backend in BACKENDS {
        let message = panic_message_of(move || {
            let runtime = Runtime::builder()
                .backend(backend)
                .threads(1)
                .build()
                .unwrap();
            runtime.run(|io| {
                let queue = io::Queue::<u8>::new(4);
                io.scope(|s| {
                    let getter = s.spawn_concurrent(|| queue.get_one(io)).unwrap();
                    // Give the getter time to start on its own thread or fiber, so the root
                    // waits in join rather than running it inline.
                    io.sleep(Duration::from_millis(50), io::Clock::Awake)
                        .unwrap();
                    let _ = getter.join(io);
                })
            });
        });
        assert!(
            message.starts_with("io: deadlock detected"),
            "{backend:?}: {message}"
        );
        assert!(message.contains("(2 blocked)"), "{backend:?}: {message}");
        assert!(message.contains("Future::join"), "{backend:?}: {message}");
        assert!(message.contains("Queue::get_one"), "{backend:?}: {message}");
    }
}

#[test]
fn sleeping_tasks_are_not_a_deadlock() {
    for backend in BACKENDS {
        let runtime = Runtime::builder()
            .backend(backend)
            .threads(1)
            .deadlock_grace(Some(Duration::from_millis(50)))
            .build()
            .unwrap();
        runtime.run(|io| {
            io.scope(|s| {
                let sleeper =
                    s.spawn_async(|| io.sleep(Duration::from_millis(300), io::Clock::Awake));
                assert_eq!(sleeper.join(io), Ok(()));
            })
        });
    }
}
