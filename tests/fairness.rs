//! A busy runtime stays fair: while two tasks hand items to each other through queues as fast
//! as they can — on the uring backend they keep the loop's ready queue from ever emptying —
//! a sleep, an `io.timeout`, a wake from another thread and an I/O completion still reach the
//! tasks waiting for them promptly, on both backends.
//!
//! The exchange is unbounded except for its stop flag (or the queue closing), with a safety
//! cap: after `CAP` it stops by itself and the test fails, so no test can hang.

mod support;

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io::{Clock, Event, Future, Io, Queue, QueueError, Scope, Timeout};
use support::{each_backend, timed, PROMPT};

/// The safety cap of an exchange: far beyond `PROMPT`, so reaching it means a waiter starved.
const CAP: Duration = Duration::from_secs(30);

/// How long the waiting task waits before it stops the exchange.
const NAP: Duration = Duration::from_millis(20);

/// Why an exchange ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// Its stop flag was set.
    Stopped,
    /// Its queue was closed.
    Closed,
    /// It ran for `CAP`: whatever should have stopped it never ran.
    Capped,
}

/// Two tasks that ping-pong an item through two rendezvous queues as fast as they can.
struct Exchange {
    ping: Queue<u64>,
    pong: Queue<u64>,
    stop: AtomicBool,
    round_trips: AtomicU64,
}

impl Exchange {
    /// An exchange that has not started.
    fn new() -> Self {
        Self {
            ping: Queue::new(0),
            pong: Queue::new(0),
            stop: AtomicBool::new(false),
            round_trips: AtomicU64::new(0),
        }
    }

    /// Spawns the two sides; the first returns why the exchange ended.
    fn spawn<'s, 'env>(
        &'env self,
        s: &'s Scope<'env>,
        io: Io,
    ) -> (Future<'s, Ended>, Future<'s, ()>) {
        let server = s.spawn_concurrent(move || self.serve(io)).unwrap();
        let echo = s.spawn_concurrent(move || self.echo(io)).unwrap();
        (server, echo)
    }

    /// Sends items and waits for each to come back until stopped, closed or capped; then
    /// closes `ping`, which ends the echo.
    fn serve(&self, io: Io) -> Ended {
        let start = Instant::now();
        let mut item = 0u64;
        let ended = loop {
            if self.stop.load(Ordering::Relaxed) {
                break Ended::Stopped;
            }
            if start.elapsed() > CAP {
                break Ended::Capped;
            }
            if self.ping.put_one(io, item).is_err() {
                break Ended::Closed;
            }
            match self.pong.get_one(io) {
                Ok(back) => item = back + 1,
                Err(_) => break Ended::Closed,
            }
            self.round_trips.fetch_add(1, Ordering::Relaxed);
        };
        self.ping.close();
        ended
    }

    /// Sends every item of `ping` back through `pong` until `ping` is closed.
    fn echo(&self, io: Io) {
        loop {
            match self.ping.get_one(io) {
                Ok(item) => {
                    if self.pong.put_one(io, item).is_err() {
                        return;
                    }
                }
                Err(QueueError::Closed | QueueError::Canceled) => return,
            }
        }
    }

    /// Joins both sides and checks the exchange was stopped (not capped), and — on the uring
    /// backend, where the waiter could only run between its turns — that it really ran.
    fn finish(&self, io: Io, (server, echo): (Future<'_, Ended>, Future<'_, ()>), want: Ended) {
        let ended = server.join(io);
        echo.join(io);
        assert_eq!(ended, want, "on {}", io.backend_name());
        if io.backend_name() == "uring" {
            assert!(self.round_trips.load(Ordering::Relaxed) > 0);
        }
    }
}

/// Asserts that a wait beside the exchange ended well within `PROMPT`.
fn assert_prompt(io: Io, what: &str, took: Duration) {
    assert!(
        took < PROMPT,
        "{what} took {took:?} beside a ping-pong on {}",
        io.backend_name()
    );
}

/// A third task's 20 ms sleep ends on time while two tasks ping-pong, and its flag stops them.
#[test]
fn a_sleeper_wakes_beside_a_ping_pong_and_stops_it() {
    each_backend(|io| {
        let exchange = Exchange::new();
        io.scope(|s| {
            let sides = exchange.spawn(s, io);
            let sleeper = s
                .spawn_concurrent(|| {
                    let (slept, took) = timed(|| io.sleep(NAP, Clock::Awake));
                    exchange.stop.store(true, Ordering::Relaxed);
                    (slept, took)
                })
                .unwrap();
            let (slept, took) = sleeper.join(io);
            assert_eq!(slept, Ok(()));
            assert_prompt(io, "a 20 ms sleep", took);
            let (_, stopping) = timed(|| exchange.finish(io, sides, Ended::Stopped));
            assert_prompt(io, "stopping the exchange", stopping);
        });
    });
}

/// The root itself sleeps beside the ping-pong, then ends it by closing the queue.
#[test]
fn a_root_that_sleeps_then_closes_the_queue_ends_a_ping_pong() {
    each_backend(|io| {
        let exchange = Exchange::new();
        io.scope(|s| {
            let sides = exchange.spawn(s, io);
            let (slept, took) = timed(|| io.sleep(NAP, Clock::Awake));
            exchange.ping.close();
            assert_eq!(slept, Ok(()));
            assert_prompt(io, "the root's 20 ms sleep", took);
            exchange.finish(io, sides, Ended::Closed);
        });
    });
}

/// An `io.timeout` of 20 ms around a get on an empty queue returns `Err(Timeout)` on time.
#[test]
fn a_timeout_on_an_empty_queue_fires_beside_a_ping_pong() {
    each_backend(|io| {
        let exchange = Exchange::new();
        let empty = Queue::<u32>::new(1);
        io.scope(|s| {
            let sides = exchange.spawn(s, io);
            let waiter = s
                .spawn_concurrent(|| {
                    let outcome = timed(|| io.timeout(NAP, || empty.get_one(io)));
                    exchange.stop.store(true, Ordering::Relaxed);
                    outcome
                })
                .unwrap();
            let (got, took) = waiter.join(io);
            assert_eq!(got, Err(Timeout));
            assert_prompt(io, "a 20 ms timeout", took);
            exchange.finish(io, sides, Ended::Stopped);
        });
    });
}

/// An `Event` set by a std thread wakes the task waiting for it (on uring: `Remote` and the
/// eventfd).
#[test]
fn a_wake_from_another_thread_reaches_a_task_beside_a_ping_pong() {
    each_backend(|io| {
        let exchange = Exchange::new();
        let event = Arc::new(Event::new());
        io.scope(|s| {
            let sides = exchange.spawn(s, io);
            let waiter = s
                .spawn_concurrent(|| {
                    let outcome = timed(|| event.wait(io));
                    exchange.stop.store(true, Ordering::Relaxed);
                    outcome
                })
                .unwrap();
            let setter = {
                let event = Arc::clone(&event);
                std::thread::spawn(move || {
                    std::thread::sleep(NAP);
                    event.set();
                })
            };
            let (waited, took) = waiter.join(io);
            assert_eq!(waited, Ok(()));
            assert_prompt(io, "a wait for an event set by a thread", took);
            exchange.finish(io, sides, Ended::Stopped);
            setter.join().unwrap();
        });
    });
}

/// The read's operation must reach the kernel and its completion the reader while the loop is
/// busy: a read pushed on the ring but submitted only once the loop idles would never end.
#[test]
fn a_read_completes_beside_a_ping_pong() {
    each_backend(|io| {
        let exchange = Exchange::new();
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        io.scope(|s| {
            let sides = exchange.spawn(s, io);
            let reader = s
                .spawn_concurrent(|| {
                    let mut buf = [0; 8];
                    let outcome = timed(|| io.read_fd(ours.as_fd(), &mut buf));
                    exchange.stop.store(true, Ordering::Relaxed);
                    (outcome, buf)
                })
                .unwrap();
            let writer = std::thread::spawn(move || {
                std::thread::sleep(NAP);
                theirs.write_all(b"ping").unwrap();
                theirs
            });
            let ((read, took), buf) = reader.join(io);
            assert_eq!(read.unwrap(), 4);
            assert_eq!(&buf[..4], b"ping");
            assert_prompt(io, "a read of data written after 20 ms", took);
            exchange.finish(io, sides, Ended::Stopped);
            drop(writer.join().unwrap());
        });
    });
}
