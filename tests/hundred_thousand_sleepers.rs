//! 100 000 fibers on the uring backend that each sleep 1 s all wake, none before its deadline,
//! and the loop stays responsive while they sleep: a cancel of a task blocked for 10 s returns
//! within 2 s (issue 14). The loop keeps their deadlines in its own timers and arms one ring
//! timeout for the earliest (see io-runtime/src/backend/uring/timers.rs); the second test
//! makes that earliest deadline move at every sleep, on every clock, with canceled sleeps and
//! an expiring `Io::timeout` among them, on both backends.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use io::{Backend, Canceled, Clock};

use support::{each_backend, timed, watched, LONG, PROMPT};

/// Fibers that sleep at once.
const SLEEPERS: usize = 100_000;
/// How long each sleeps.
const NAP: Duration = Duration::from_secs(1);
/// The bound on the whole test (a debug build starts 100 000 fibers in a few seconds).
const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn a_hundred_thousand_fibers_sleeping_one_second_all_wake_and_a_cancel_stays_prompt() {
    let Some(runtime) = support::runtime_on(Backend::Uring, 1, None) else {
        return;
    };
    let asleep = AtomicUsize::new(0);
    let woke = AtomicUsize::new(0);
    let (cancel, woke_before_cancel, naps) = watched("hundred_thousand_sleepers", LIMIT, || {
        runtime.run(|io| {
            io.scope(|s| {
                let blocked = s
                    .spawn_concurrent(|| io.sleep(LONG, Clock::Awake))
                    .expect("a fiber for the blocked task");
                let sleepers: Vec<_> = (0..SLEEPERS)
                    .map(|_| {
                        let (asleep, woke) = (&asleep, &woke);
                        s.spawn_concurrent(move || {
                            let before = io.now(Clock::Awake);
                            asleep.fetch_add(1, Ordering::Relaxed);
                            io.sleep(NAP, Clock::Awake)?;
                            woke.fetch_add(1, Ordering::Relaxed);
                            Ok::<_, Canceled>(io.now(Clock::Awake) - before)
                        })
                        .expect("a fiber for every sleeper")
                    })
                    .collect();
                // Once every sleeper went to sleep, cancel the blocked task.
                while asleep.load(Ordering::Relaxed) < SLEEPERS {
                    io.sleep(Duration::from_millis(1), Clock::Awake)
                        .expect("the root is not canceled");
                }
                let woke_before_cancel = woke.load(Ordering::Relaxed);
                let cancel = timed(|| blocked.cancel(io));
                let naps: Vec<_> = sleepers.into_iter().map(|f| f.join(io)).collect();
                (cancel, woke_before_cancel, naps)
            })
        })
    });
    let (canceled, took) = cancel;
    assert_eq!(canceled, Err(Canceled), "the blocked task was not canceled");
    assert!(
        took < PROMPT,
        "the cancel took {took:?} with sleepers in flight"
    );
    // The cancel came while sleepers slept (unless the machine took over a second to start
    // them all, which leaves the first ones awake by then; some still slept).
    assert!(
        woke_before_cancel < SLEEPERS,
        "every sleeper woke before the cancel"
    );
    assert_eq!(naps.len(), SLEEPERS);
    for (i, nap) in naps.into_iter().enumerate() {
        let nap = nap.unwrap_or_else(|e| panic!("sleeper {i}: {e:?}"));
        assert!(
            nap >= NAP,
            "sleeper {i} woke after {nap:?}, before its deadline"
        );
    }
    assert_eq!(
        woke.load(Ordering::Relaxed),
        SLEEPERS,
        "not every sleeper woke"
    );
}

/// Sleepers whose deadlines come latest first (each earlier than all before it, so the uring
/// loop moves its ring timeout at every one), on the three clocks in turn; half of the longer
/// ones canceled while they sleep, and one long sleep inside a short `Io::timeout`. Every
/// sleeper left wakes at or after its own deadline, the canceled ones return `Canceled`
/// promptly, and the timeout fires.
#[test]
fn sleeps_whose_deadlines_come_latest_first_on_every_clock_each_wake_after_their_own() {
    const SLEEPS: u32 = 60;
    const STEP: Duration = Duration::from_millis(5);
    let clocks = [Clock::Awake, Clock::Boot, Clock::Real];
    each_backend(|io| {
        watched("latest_first", Duration::from_secs(60), || {
            io.scope(|s| {
                let timed_out = s
                    .spawn_concurrent(|| io.timeout(STEP * 4, || io.sleep(LONG, Clock::Awake)))
                    .expect("a task for the timeout");
                let sleepers: Vec<_> = (0..SLEEPS)
                    .map(|i| {
                        let clock = clocks[i as usize % 3];
                        let nap = STEP * (SLEEPS - i);
                        let task = s
                            .spawn_concurrent(move || {
                                let before = io.now(clock);
                                io.sleep(nap, clock)?;
                                Ok::<_, Canceled>(io.now(clock) - before)
                            })
                            .expect("a task for every sleeper");
                        (i, clock, nap, task)
                    })
                    .collect();
                let mut kept = Vec::new();
                for (i, clock, nap, task) in sleepers {
                    // The first half sleep 155 ms or more: odd ones are canceled meanwhile.
                    if i < SLEEPS / 2 && i % 2 == 1 {
                        let (result, took) = timed(|| task.cancel(io));
                        assert_eq!(result, Err(Canceled), "sleeper {i} on {clock:?}");
                        assert!(took < PROMPT, "canceling sleeper {i} took {took:?}");
                    } else {
                        kept.push((i, clock, nap, task));
                    }
                }
                for (i, clock, nap, task) in kept {
                    let slept = task
                        .join(io)
                        .unwrap_or_else(|e| panic!("sleeper {i} on {clock:?}: {e:?}"));
                    assert!(
                        slept >= nap,
                        "sleeper {i} on {clock:?} woke after {slept:?} of {nap:?}"
                    );
                }
                assert!(
                    timed_out.join(io).is_err(),
                    "the Io::timeout around a long sleep did not fire"
                );
            })
        })
    });
}
