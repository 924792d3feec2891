//! `io_select!` over any blocking operation: the first ready arm wins, the losers stay
//! usable, a cancel is an error or an arm, and every wait is bounded.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use io::{io_select, Canceled, Clock, Closed, Event, PutError, Queue, Timeout};
use support::{each_backend, timed, watched, LONG, PROMPT};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_deadline_wins_over_an_empty_queue_and_takes_nothing() {
    each_backend(|io| {
        let queue: Queue<u32> = Queue::new(2);
        let (outcome, elapsed) = timed(|| {
            io_select!(io, {
                item = queue.select_get() => Some(item),
                () = io::after(ms(20)) => None,
            })
        });
        assert_eq!(outcome, Ok(None));
        assert!(elapsed >= ms(20), "the deadline was kept: {elapsed:?}");
        queue.try_put_one(7).unwrap();
        let outcome = io_select!(io, {
            item = queue.select_get() => Some(item),
            () = io::after(LONG) => None,
        });
        assert_eq!(outcome, Ok(Some(Ok(7))));
        assert_eq!(queue.try_get_one(), Ok(None), "the winner took the item");
    });
}

#[test]
fn a_queue_item_that_arrives_while_waiting_wins() {
    each_backend(|io| {
        let queue = Queue::new(0);
        io.scope(|s| {
            let putter = s.spawn_concurrent(|| {
                io.sleep(ms(20), Clock::Awake)?;
                queue.put_one(io, "late").map_err(|_| Canceled)
            });
            let got = io_select!(io, {
                item = queue.select_get() => item,
                () = io::after(LONG) => Err(Closed),
            });
            assert_eq!(got, Ok(Ok("late")));
            assert_eq!(
                putter.unwrap().join(io),
                Ok(()),
                "the rendezvous put completed"
            );
        })
    });
}

#[test]
fn losers_stay_usable_items_stay_queued_futures_stay_joinable() {
    each_backend(|io| {
        let (first, second) = (Queue::new(4), Queue::new(4));
        first.try_put_one(1).unwrap();
        second.try_put_one(2).unwrap();
        let gate = Event::new();
        io.scope(|s| {
            let pending = s
                .spawn_concurrent(|| gate.wait(io).map(|()| "joined"))
                .unwrap();
            let winner = io_select!(io, {
                () = &pending => 0,
                item = first.select_get() => item.unwrap(),
                item = second.select_get() => item.unwrap(),
            });
            assert_eq!(winner, Ok(1), "the first ready arm in order wins");
            assert_eq!(second.try_get_one(), Ok(Some(2)), "the loser's item stayed");
            gate.set();
            let finished = io_select!(io, {
                () = &pending => true,
                () = io::after(LONG) => false,
            });
            assert_eq!(finished, Ok(true));
            assert_eq!(pending.join(io), Ok("joined"), "the future stayed joinable");
        })
    });
}

#[test]
fn a_future_given_by_value_binds_its_result_and_a_losing_one_is_canceled_first() {
    each_backend(|io| {
        let canceled = AtomicUsize::new(0);
        io.scope(|s| {
            let slow = s
                .spawn_concurrent(|| {
                    let slept = io.sleep(LONG, Clock::Awake);
                    if slept.is_err() {
                        canceled.fetch_add(1, Ordering::SeqCst);
                    }
                    slept.map(|()| "slow")
                })
                .unwrap();
            let fast = s
                .spawn_concurrent(|| io.sleep(ms(5), Clock::Awake).map(|()| "fast"))
                .unwrap();
            let (winner, elapsed) = timed(|| {
                io_select!(io, {
                    r = slow => r,
                    r = fast => {
                        // The loser was canceled and joined before this runs.
                        assert_eq!(canceled.load(Ordering::SeqCst), 1);
                        r
                    }
                })
            });
            assert_eq!(winner, Ok(Ok("fast")));
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        })
    });
}

#[test]
fn an_event_and_a_group_result_are_arms_too() {
    each_backend(|io| {
        let event = Event::new();
        io.scope(|s| {
            let group = s.group();
            group
                .spawn_concurrent(io, || io.sleep(ms(10), Clock::Awake).map(|()| 5))
                .unwrap();
            let got = io_select!(io, {
                () = event.select_wait() => None,
                r = group.select_next() => r,
            });
            assert_eq!(got, Ok(Some(Ok(5))));
            let got = io_select!(io, {
                r = group.select_next() => r,
                () = io::after(LONG) => Some(Err(Canceled)),
            });
            assert_eq!(got, Ok(None), "an empty group is ready with None");
            event.set();
            let got = io_select!(io, {
                () = event.select_wait() => "set",
                () = io::after(LONG) => "deadline",
            });
            assert_eq!(got, Ok("set"));
        })
    });
}

#[test]
fn a_canceled_select_returns_canceled_within_2s_and_leaves_the_queue_usable() {
    watched("canceled select", LONG * 3, || {
        each_backend(|io| {
            let queue: Queue<u32> = Queue::new(1);
            io.scope(|s| {
                let selector = s
                    .spawn_concurrent(|| {
                        io_select!(io, {
                            item = queue.select_get() => item.ok(),
                            () = io::after(LONG) => None,
                        })
                    })
                    .unwrap();
                io.sleep(ms(20), Clock::Awake).unwrap();
                let (outcome, elapsed) = timed(|| selector.cancel(io));
                assert_eq!(outcome, Err(Canceled));
                assert!(elapsed < PROMPT, "took {elapsed:?}");
            });
            queue.try_put_one(3).unwrap();
            assert_eq!(queue.try_get_one(), Ok(Some(3)), "no stale getter took it");
        });
    });
}

#[test]
fn the_cancel_request_is_an_arm_and_stays_pending() {
    each_backend(|io| {
        let queue: Queue<u32> = Queue::new(1);
        io.scope(|s| {
            let worker = s
                .spawn_concurrent(|| {
                    let chosen = io_select!(io, {
                        item = queue.select_get() => format!("{item:?}"),
                        c = io::cancel_requested() => format!("{c}"),
                    });
                    (chosen, io.check_cancel())
                })
                .unwrap();
            io.sleep(ms(20), Clock::Awake).unwrap();
            let ((chosen, after), elapsed) = timed(|| worker.cancel(io));
            assert!(elapsed < PROMPT);
            assert_eq!(chosen, Ok(String::from("canceled")));
            assert_eq!(after, Err(Canceled), "the request stays pending");
        })
    });
}

#[test]
fn a_ready_arm_wins_over_a_zero_timeout_and_a_pending_cancel() {
    each_backend(|io| {
        let queue = Queue::new(1);
        queue.try_put_one(9).unwrap();
        let polled = io.timeout(
            Duration::ZERO,
            || io_select!(io, { item = queue.select_get() => item }),
        );
        assert_eq!(polled, Ok(Ok(Ok(9))));
        let empty = io.timeout(
            Duration::ZERO,
            || io_select!(io, { item = queue.select_get() => item }),
        );
        assert_eq!(empty, Err(Timeout));
    });
}

#[test]
fn a_put_arm_waits_for_room_and_a_losing_put_keeps_its_item() {
    each_backend(|io| {
        let queue = Queue::new(1);
        queue.try_put_one(1).unwrap();
        let mut put = queue.select_put(2);
        let outcome = io_select!(io, {
            r = &mut put => r.is_ok(),
            () = io::after(ms(10)) => false,
        });
        assert_eq!(outcome, Ok(false), "the queue stayed full");
        assert_eq!(put.into_inner(), Some(2), "the item came back");
        io.scope(|s| {
            let getter = s
                .spawn_concurrent(|| {
                    io.sleep(ms(20), Clock::Awake)?;
                    queue.get_one(io).map_err(|_| Canceled)
                })
                .unwrap();
            let outcome = io_select!(io, {
                r = queue.select_put(3) => r,
                () = io::after(LONG) => Err(PutError::Closed(0)),
            });
            assert_eq!(outcome, Ok(Ok(())), "a get made room");
            assert_eq!(getter.join(io), Ok(1));
        });
        assert_eq!(queue.try_get_one(), Ok(Some(3)));
        queue.close();
        let closed = io_select!(io, { r = queue.select_put(4) => r });
        assert_eq!(closed, Ok(Err(PutError::Closed(4))));
    });
}

#[test]
fn a_rendezvous_put_arm_completes_to_a_waiting_getter() {
    each_backend(|io| {
        let queue = Queue::new(0);
        io.scope(|s| {
            let getter = s
                .spawn_concurrent(|| io.timeout(LONG, || queue.get_one(io)))
                .unwrap();
            let put = io_select!(io, {
                r = queue.select_put("hand-off") => r.is_ok(),
                () = io::after(LONG) => false,
            });
            assert_eq!(put, Ok(true));
            assert_eq!(getter.join(io), Ok(Ok("hand-off")));
        })
    });
}

#[test]
fn a_getter_woken_for_an_item_it_does_not_take_passes_the_wake_up_on() {
    watched("pass on", LONG * 3, || {
        each_backend(|io| {
            for _ in 0..20 {
                let queue = Queue::new(0);
                let stop = Event::new();
                io.scope(|s| {
                    let selector = s
                        .spawn_concurrent(|| {
                            io_select!(io, {
                                () = stop.select_wait() => None,
                                item = queue.select_get() => item.ok(),
                            })
                        })
                        .unwrap();
                    io.sleep(ms(2), Clock::Awake).unwrap();
                    let plain = s
                        .spawn_concurrent(|| io.timeout(LONG, || queue.get_one(io)))
                        .unwrap();
                    io.sleep(ms(2), Clock::Awake).unwrap();
                    // Hands the item to the oldest getter (the selector, if still waiting)...
                    queue.try_put_one(5).unwrap();
                    // ...which may now prefer the event: then the plain getter must get it.
                    stop.set();
                    let selected = selector.join(io).unwrap();
                    let start = Instant::now();
                    match selected {
                        Some(item) => {
                            assert_eq!(item, 5);
                            let put =
                                io.timeout(LONG, || queue.put_one(io, 6).map_err(|_| Canceled));
                            assert_eq!(put, Ok(Ok(())));
                            assert_eq!(plain.join(io), Ok(Ok(6)));
                        }
                        None => assert_eq!(
                            plain.join(io),
                            Ok(Ok(5)),
                            "the item was passed on ({})",
                            io.backend_name()
                        ),
                    }
                    assert!(start.elapsed() < PROMPT);
                });
            }
        });
    });
}

#[test]
fn a_timeout_around_a_select_bounds_it() {
    each_backend(|io| {
        let queue: Queue<u8> = Queue::new(1);
        let (waited, elapsed) = timed(|| {
            io.timeout(
                ms(20),
                || io_select!(io, { item = queue.select_get() => item }),
            )
        });
        assert_eq!(waited, Err(Timeout));
        assert!(elapsed < PROMPT);
    });
}
