//! Parking and resuming a fiber never allocates: two fibers hand a value back and forth
//! through a rendezvous queue 10 000 times, and the root's loop thread makes zero allocations
//! meanwhile — on one loop (both fibers on it), and on two (the partner runs on the other
//! loop, and every hand-off is a wake across loops; there a wait list's one-time growth may
//! fall into the measured stretch). (Its own binary, with a counting global allocator.)

mod support;

use io::{Backend, Queue, Runtime};

use support::counting::{live_blocks, thread_allocations, Counting};
use support::spin_until;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn ping_pong(io: io::Io, rounds: u32) -> u32 {
    let (ping, pong) = (Queue::<u32>::new(0), Queue::<u32>::new(0));
    io.scope(|s| {
        let echo = s
            .spawn_concurrent(|| {
                for _ in 0..rounds {
                    let value = ping.get_one(io).unwrap();
                    pong.put_one(io, value + 1).unwrap();
                }
            })
            .unwrap();
        let mut value = 0;
        for _ in 0..rounds {
            ping.put_one(io, value).unwrap();
            value = pong.get_one(io).unwrap();
        }
        echo.join(io);
        value
    })
}

#[test]
fn fiber_switches_do_not_allocate() {
    for loops in [1, 2] {
        round_trips_allocate_nothing(loops);
    }
}

fn round_trips_allocate_nothing(loops: usize) {
    let runtime = Runtime::builder()
        .backend(Backend::Uring)
        .threads(loops)
        .build()
        .unwrap();
    runtime.run(|io| {
        // Warm up: wait lists, ready queue and op table reach their working sizes.
        assert_eq!(ping_pong(io, 100), 100);
        let (ping, pong) = (Queue::<u32>::new(0), Queue::<u32>::new(0));
        let root = std::thread::current().id();
        let partner_thread = std::sync::Mutex::new(None);
        io.scope(|s| {
            let echo = s
                .spawn_concurrent(|| {
                    *partner_thread.lock().unwrap() = Some(std::thread::current().id());
                    for _ in 0..10_100 {
                        let value = ping.get_one(io).unwrap();
                        pong.put_one(io, value + 1).unwrap();
                    }
                })
                .unwrap();
            if loops > 1 {
                // Hold this loop until the partner started: only the other loop can start it,
                // so every hand-off below is a wake across loops.
                assert!(
                    spin_until(|| partner_thread.lock().unwrap().is_some()),
                    "the other loop did not start the partner"
                );
                assert_ne!(*partner_thread.lock().unwrap(), Some(root));
            }
            let mut value = 0;
            for _ in 0..100 {
                ping.put_one(io, value).unwrap();
                value = pong.get_one(io).unwrap();
            }
            let before = thread_allocations();
            for _ in 0..10_000 {
                ping.put_one(io, value).unwrap();
                value = pong.get_one(io).unwrap();
            }
            let allocated = thread_allocations() - before;
            echo.join(io);
            assert_eq!(value, 10_100);
            // Across loops, which side waits first varies with timing: a queue's wait list that
            // gets its first waiter only now grows once (one block per list, never per switch).
            let allowed = if loops == 1 { 0 } else { 2 };
            assert!(
                allocated <= allowed,
                "10 000 round trips on {loops} loop(s) allocated {allocated} blocks"
            );
        });
    });
}

/// A root that spawns and joins (or drops) handles in a loop without ever parking holds no
/// memory for the tasks it finished: their starts leave the loop's queue with the join or the
/// drop, or with the queue's sweep, instead of keeping their cells until the loop next runs.
#[test]
fn a_spawn_loop_that_never_parks_holds_no_finished_tasks() {
    let runtime = Runtime::builder()
        .backend(Backend::Uring)
        .threads(1)
        .build()
        .unwrap();
    runtime.run(|io| {
        io.scope(|s| {
            let round = |n: u32| {
                for i in 0..n {
                    assert_eq!(s.spawn_async(move || i + 1).join(io), i + 1);
                    drop(s.spawn_async(move || i));
                    // Out of order: the newer handle is joined first, the older one from the
                    // middle of nothing — its start is the oldest entry then.
                    let (a, b) = (s.spawn_async(move || i), s.spawn_async(move || i + 2));
                    assert_eq!(b.join(io) - a.join(io), 2);
                }
            };
            // Warm up: queue, registry and caches reach their working sizes.
            round(2_000);
            let before = live_blocks();
            round(100_000);
            let grown = live_blocks() - before;
            assert!(grown < 256, "{grown} blocks more after 400 000 spawns");
        });
    });
}
