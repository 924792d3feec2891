//! Parking and resuming a fiber never allocates: two fibers hand a value back and forth
//! through a rendezvous queue 10 000 times, and the loop's thread — every fiber runs on it —
//! makes zero allocations meanwhile. (Its own binary, with a counting global allocator.)

mod support;

use io::{Backend, Queue, Runtime};
use support::counting::{thread_allocations, Counting};

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
    let runtime = Runtime::builder().backend(Backend::Uring).build().unwrap();
    runtime.run(|io| {
        // Warm up: wait lists, ready queue and op table reach their working sizes.
        assert_eq!(ping_pong(io, 100), 100);
        let (ping, pong) = (Queue::<u32>::new(0), Queue::<u32>::new(0));
        io.scope(|s| {
            let echo = s
                .spawn_concurrent(|| {
                    for _ in 0..10_100 {
                        let value = ping.get_one(io).unwrap();
                        pong.put_one(io, value + 1).unwrap();
                    }
                })
                .unwrap();
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
            assert_eq!(
                allocated, 0,
                "10 000 round trips allocated {allocated} blocks"
            );
        });
    });
}
