use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::testing::{runtime, LONG};
use crate::Clock;

/// Every task body below runs under this deadline, so a bug ends a wait with `Canceled`
/// (and a failed assertion) instead of hanging the test.
const LIMIT: Duration = Duration::from_secs(20);

fn bounded<T>(io: Io, call: impl FnOnce() -> T) -> T {
    io.timeout(LIMIT, call)
        .expect("a wait in the test did not end in time")
}

fn nap(io: Io) {
    io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
}

#[test]
fn queue_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Queue<String>>();
    send_sync::<Queue<std::cell::Cell<u8>>>();
}

#[test]
fn errors_convert_with_question_mark() {
    fn round_trip(io: Io, queue: &Queue<String>) -> Result<String, Box<dyn std::error::Error>> {
        queue.put_one(io, "item".to_owned())?;
        queue.try_put_one("spare".to_owned())?;
        queue.try_get_one()?;
        Ok(queue.get_one(io)?)
    }
    let queue = Queue::new(2);
    runtime().run(|io| {
        assert_eq!(round_trip(io, &queue).unwrap(), "spare");
        queue.close();
        let error = round_trip(io, &queue).unwrap_err();
        assert_eq!(error.to_string(), "closed");
        let kind: QueueError = PutError::Canceled(1).into();
        assert!(kind.is_canceled());
    });
}

#[test]
fn rendezvous_put_waits_for_a_getter() {
    let queue = Queue::new(0);
    let returned = AtomicBool::new(false);
    runtime().run(|io| {
        io.scope(|s| {
            assert!(matches!(queue.try_put_one(1), Err(TryPutError::Full(1))));
            let putter = s.spawn_concurrent(|| {
                let put = bounded(io, || queue.put_one(io, 7));
                returned.store(true, Ordering::SeqCst);
                put
            });
            nap(io);
            assert!(
                !returned.load(Ordering::SeqCst),
                "a rendezvous put returned without a getter"
            );
            assert_eq!(bounded(io, || queue.get_one(io)), Ok(7));
            assert!(putter.unwrap().join(io).is_ok());
        })
    });
}

#[test]
fn a_waiting_getter_takes_a_try_put_on_a_rendezvous_queue() {
    let queue = Queue::new(0);
    runtime().run(|io| {
        io.scope(|s| {
            let getter = s
                .spawn_concurrent(|| bounded(io, || queue.get_one(io)))
                .unwrap();
            while queue.try_put_one("hello").is_err() {
                nap(io);
            }
            assert_eq!(getter.join(io), Ok("hello"));
        })
    });
}

#[test]
fn items_from_one_producer_arrive_in_order() {
    let queue = Queue::new(3);
    runtime().run(|io| {
        io.scope(|s| {
            let producer = s.spawn_concurrent(|| {
                bounded(io, || (0..1000).try_for_each(|n| queue.put_one(io, n)))
            });
            let mut got = Vec::new();
            while got.len() < 1000 {
                let max = 1000 - got.len();
                bounded(io, || queue.get(io, &mut got, 1, max.min(5))).unwrap();
            }
            assert!(producer.unwrap().join(io).is_ok());
            assert_eq!(got, (0..1000).collect::<Vec<_>>());
        })
    });
}

#[test]
fn close_fails_puts_and_drains_gets() {
    let queue = Queue::new(4);
    runtime().run(|io| {
        queue.put_one(io, 1).unwrap();
        queue.put_one(io, 2).unwrap();
        queue.close();
        assert!(queue.is_closed());
        assert!(matches!(queue.put_one(io, 3), Err(PutError::Closed(3))));
        assert!(matches!(queue.try_put_one(4), Err(TryPutError::Closed(4))));
        assert_eq!(queue.put(io, &mut vec![5, 6], 1), Err(QueueError::Closed));
        assert_eq!(queue.get_one(io), Ok(1));
        let mut rest = Vec::new();
        assert_eq!(
            queue.get(io, &mut rest, 2, 8),
            Ok(1),
            "a closed queue ends the wait early"
        );
        assert_eq!(rest, [2]);
        assert_eq!(queue.get_one(io), Err(QueueError::Closed));
        assert_eq!(queue.get(io, &mut rest, 1, 1), Err(QueueError::Closed));
        assert_eq!(queue.try_get_one(), Err(Closed));
    });
}

#[test]
fn close_wakes_blocked_putters_and_getters() {
    let full = Queue::new(0);
    let empty = Queue::<u8>::new(1);
    runtime().run(|io| {
        io.scope(|s| {
            let putter = s
                .spawn_concurrent(|| bounded(io, || full.put_one(io, 5)))
                .unwrap();
            let getter = s
                .spawn_concurrent(|| bounded(io, || empty.get_one(io)))
                .unwrap();
            nap(io);
            full.close();
            empty.close();
            assert!(matches!(putter.join(io), Err(PutError::Closed(5))));
            assert_eq!(getter.join(io), Err(QueueError::Closed));
            assert_eq!(
                full.try_get_one(),
                Err(Closed),
                "the withdrawn item is not delivered"
            );
        })
    });
}

#[test]
fn cancel_of_a_blocked_put_returns_the_item() {
    let queue = Queue::new(0);
    runtime().run(|io| {
        io.scope(|s| {
            let putter = s
                .spawn_concurrent(|| io.timeout(LONG, || queue.put_one(io, 42)))
                .unwrap();
            nap(io);
            let start = Instant::now();
            let put = putter
                .cancel(io)
                .expect("the put waited for its 10 s timeout");
            assert!(start.elapsed() < Duration::from_secs(2));
            assert!(matches!(put, Err(PutError::Canceled(42))));
            assert_eq!(queue.try_get_one(), Ok(None), "the canceled item stays out");
        })
    });
}

#[test]
fn cancel_of_a_blocked_get_returns_canceled() {
    let queue = Queue::<u32>::new(0);
    runtime().run(|io| {
        io.scope(|s| {
            let getter = s
                .spawn_concurrent(|| io.timeout(LONG, || queue.get_one(io)))
                .unwrap();
            nap(io);
            let start = Instant::now();
            let got = getter
                .cancel(io)
                .expect("the get waited for its 10 s timeout");
            assert!(start.elapsed() < Duration::from_secs(2));
            assert_eq!(got, Err(QueueError::Canceled));
            assert!(
                matches!(queue.try_put_one(1), Err(TryPutError::Full(1))),
                "the canceled getter left the wait list"
            );
        })
    });
}

#[test]
fn racing_cancels_of_puts_and_gets_lose_nothing() {
    let queue = Queue::new(0);
    runtime().run(|io| {
        for round in 0..300 {
            io.scope(|s| {
                let putter = s.spawn_concurrent(|| bounded(io, || queue.put_one(io, round)));
                let getter = s.spawn_concurrent(|| bounded(io, || queue.get_one(io)));
                let (putter, getter) = (putter.unwrap(), getter.unwrap());
                if round % 2 == 0 {
                    match putter.cancel(io) {
                        Ok(()) => assert_eq!(getter.join(io), Ok(round)),
                        Err(PutError::Canceled(item)) => {
                            assert_eq!(item, round);
                            assert_eq!(getter.cancel(io), Err(QueueError::Canceled));
                        }
                        Err(PutError::Closed(_)) => unreachable!("never closed"),
                    }
                } else {
                    match getter.cancel(io) {
                        Ok(item) => assert_eq!((item, putter.join(io).is_ok()), (round, true)),
                        Err(_) => assert!(
                            matches!(putter.cancel(io), Err(PutError::Canceled(r)) if r == round)
                        ),
                    }
                }
            });
            assert_eq!(queue.try_get_one(), Ok(None));
        }
    });
}

#[test]
fn a_getter_canceled_while_a_put_wakes_it_loses_nothing() {
    let queue = Queue::new(0);
    runtime().run(|io| {
        for round in 0..100 {
            io.scope(|s| {
                let first = s
                    .spawn_concurrent(|| bounded(io, || queue.get_one(io)))
                    .unwrap();
                io.sleep(Duration::from_millis(2), Clock::Awake).unwrap();
                let second = s
                    .spawn_concurrent(|| bounded(io, || queue.get_one(io)))
                    .unwrap();
                io.sleep(Duration::from_millis(2), Clock::Awake).unwrap();
                // Reserves the oldest waiting getter and wakes it; the cancel races with that.
                while queue.try_put_one(round).is_err() {
                    io.sleep(Duration::from_millis(2), Clock::Awake).unwrap();
                }
                match first.cancel(io) {
                    Ok(item) => {
                        assert_eq!(item, round);
                        assert_eq!(second.cancel(io), Err(QueueError::Canceled));
                    }
                    Err(_) => assert_eq!(second.join(io), Ok(round)),
                }
            });
        }
    });
}

#[test]
fn batch_put_and_get_respect_min_and_max() {
    let queue = Queue::new(4);
    runtime().run(|io| {
        let mut items: Vec<u32> = (1..=6).collect();
        assert_eq!(
            queue.put(io, &mut items, 2),
            Ok(4),
            "puts what fits beyond min"
        );
        assert_eq!(items, [5, 6]);
        let mut got = Vec::new();
        assert_eq!(queue.get(io, &mut got, 1, 3), Ok(3));
        assert_eq!(queue.get(io, &mut got, 0, 10), Ok(1));
        assert_eq!(got, [1, 2, 3, 4]);
        assert_eq!(queue.get(io, &mut got, 0, 10), Ok(0), "min 0 never waits");
        let mut later: Vec<u32> = (5..=12).collect();
        io.scope(|s| {
            let putter = s.spawn_concurrent(|| bounded(io, || queue.put(io, &mut later, 8)));
            let mut rest = Vec::new();
            assert_eq!(bounded(io, || queue.get(io, &mut rest, 8, 8)), Ok(8));
            assert_eq!(putter.unwrap().join(io), Ok(8));
            assert_eq!(rest, (5..=12).collect::<Vec<_>>());
        });
    });
}

#[test]
fn try_put_and_try_get_never_block() {
    let queue = Queue::new(1);
    assert_eq!(queue.try_get_one(), Ok(None));
    assert!(queue.try_put_one(1).is_ok());
    assert!(matches!(queue.try_put_one(2), Err(TryPutError::Full(2))));
    assert_eq!(queue.try_get_one(), Ok(Some(1)));
    assert_eq!(queue.capacity(), 1);
}

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u64 = 10_000;

/// Even producers put one by one, odd ones in batches.
fn produce(io: Io, queue: &Queue<u64>, producer: u64) -> Result<(), QueueError> {
    let mut values = (producer * PER_PRODUCER..(producer + 1) * PER_PRODUCER).peekable();
    while values.peek().is_some() {
        if producer.is_multiple_of(2) {
            queue.put_one(io, values.next().unwrap_or_default())?;
        } else {
            let mut batch: Vec<u64> = values.by_ref().take(7).collect();
            let all = batch.len();
            queue.put(io, &mut batch, all)?;
        }
    }
    Ok(())
}

/// Even consumers get one by one, odd ones in batches; until the queue is closed.
fn consume(io: Io, queue: &Queue<u64>, consumer: usize) -> Result<Vec<u64>, QueueError> {
    let mut got = Vec::new();
    loop {
        let result = if consumer.is_multiple_of(2) {
            queue.get_one(io).map(|value| got.push(value))
        } else {
            queue.get(io, &mut got, 1, 16).map(drop)
        };
        match result {
            Ok(()) => {}
            Err(QueueError::Closed) => return Ok(got),
            Err(error) => return Err(error),
        }
    }
}

fn check_received(received: &[Vec<u64>]) {
    for values in received {
        let mut last = vec![None; PRODUCERS as usize];
        for &value in values {
            let producer = (value / PER_PRODUCER) as usize;
            assert!(
                last[producer] < Some(value),
                "out of order within a producer"
            );
            last[producer] = Some(value);
        }
    }
    let mut all: Vec<u64> = received.concat();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..PRODUCERS * PER_PRODUCER).collect::<Vec<_>>(),
        "lost or duplicated"
    );
}

fn stress(capacity: usize) {
    let queue = Queue::new(capacity);
    let queue = &queue;
    let received = runtime().run(|io| {
        io.scope(|s| {
            let consumers: Vec<_> = (0..CONSUMERS)
                .map(|c| {
                    s.spawn_concurrent(move || bounded(io, || consume(io, queue, c)))
                        .unwrap()
                })
                .collect();
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    s.spawn_concurrent(move || bounded(io, || produce(io, queue, p)))
                        .unwrap()
                })
                .collect();
            for producer in producers {
                producer.join(io).unwrap();
            }
            queue.close();
            consumers
                .into_iter()
                .map(|c| c.join(io).unwrap())
                .collect::<Vec<_>>()
        })
    });
    check_received(&received);
}

#[test]
fn many_producers_and_consumers_lose_nothing_on_a_rendezvous_queue() {
    stress(0);
}

#[test]
fn many_producers_and_consumers_lose_nothing_on_a_one_slot_queue() {
    stress(1);
}

#[test]
fn many_producers_and_consumers_lose_nothing_on_a_64_slot_queue() {
    stress(64);
}
