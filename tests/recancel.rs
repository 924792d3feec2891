//! `Io::recancel`: a handled `Canceled` or `Timeout` re-raised as the task's own cancel.

mod support;

use std::time::Duration;

use io::{Canceled, Clock, Event, Timeout};
use support::{each_backend, timed, LONG, PROMPT};

#[test]
fn a_handled_timeout_is_re_raised_as_a_sticky_cancel() {
    each_backend(|io| {
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| {
                    let waited =
                        io.timeout(Duration::from_millis(5), || io.sleep(LONG, Clock::Awake));
                    assert_eq!(waited, Err(Timeout));
                    let before = io.check_cancel();
                    io.recancel();
                    let (slept, elapsed) = timed(|| io.sleep(LONG, Clock::Awake));
                    (before, io.check_cancel(), slept, elapsed)
                })
                .unwrap();
            let (before, after, slept, elapsed) = task.join(io);
            assert_eq!(before, Ok(()), "the timeout consumed its own deadline");
            assert_eq!(after, Err(Canceled));
            assert_eq!(slept, Err(Canceled), "every later point sees it");
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        })
    });
}

#[test]
fn a_canceled_child_is_passed_up_by_recancel() {
    each_backend(|io| {
        let started = Event::new();
        io.scope(|s| {
            let parent = s
                .spawn_concurrent(|| {
                    io.scope(|inner| {
                        let child = inner
                            .spawn_concurrent(|| {
                                started.set();
                                io.sleep(LONG, Clock::Awake)
                            })
                            .unwrap();
                        // Someone else cancels the child: the parent sees Canceled as a value.
                        io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
                        let joined = child.cancel(io);
                        let unaffected = io.check_cancel();
                        if joined == Err(Canceled) {
                            io.recancel();
                        }
                        (joined, unaffected, io.sleep(LONG, Clock::Awake))
                    })
                })
                .unwrap();
            started.wait(io).unwrap();
            let ((joined, unaffected, slept), elapsed) = timed(|| parent.join(io));
            assert_eq!(joined, Err(Canceled));
            assert_eq!(unaffected, Ok(()), "the child's cancel is not the parent's");
            assert_eq!(slept, Err(Canceled), "re-raised on the parent");
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        })
    });
}

#[test]
fn recancel_inside_uncancelable_code_is_seen_after_it() {
    each_backend(|io| {
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| {
                    let inside = io.uncancelable(|| {
                        io.recancel();
                        io.sleep(Duration::from_millis(1), Clock::Awake)
                    });
                    (inside, io.check_cancel())
                })
                .unwrap();
            let (inside, after) = task.join(io);
            assert_eq!(inside, Ok(()), "hidden while protected");
            assert_eq!(after, Err(Canceled), "seen by the first point after");
        })
    });
}

#[test]
fn recancel_after_a_real_cancel_changes_nothing() {
    each_backend(|io| {
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| {
                    let slept = io.sleep(LONG, Clock::Awake);
                    io.recancel();
                    (slept, io.check_cancel())
                })
                .unwrap();
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            assert_eq!(task.cancel(io), (Err(Canceled), Err(Canceled)));
        })
    });
}
