//! 100 000 fibers on the uring backend that each sleep 1 s all wake, none before its deadline,
//! and the loop stays responsive while they sleep: a cancel of a task blocked for 10 s returns
//! within 2 s (issue 14). The loop keeps their deadlines in its own timers and arms one ring
//! timeout for the earliest (see io-runtime/src/backend/uring/timers.rs).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use io::{Backend, Canceled, Clock};

use support::{timed, watched, LONG, PROMPT};

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
