//! A group reclaims its finished tasks as they finish: 100 000 short tasks keep live memory
//! bounded. (Its own binary: the counting allocator sees every allocation of the process.)

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use support::counting::{live_bytes, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn group_reclaims_finished_tasks_as_it_goes() {
    // A small async_limit gives back-pressure: past 64 queued tasks, spawns run inline. Memory
    // then depends on reclamation alone, not on how fast the workers keep up.
    let runtime = io::Runtime::builder()
        .threads(2)
        .async_limit(64)
        .build()
        .unwrap();
    let done = AtomicUsize::new(0);
    let mut peak_growth = 0;
    runtime.run(|io| {
        io.scope(|s| {
            let group = s.group();
            let baseline = live_bytes();
            for _ in 0..100_000 {
                group.spawn(io, || {
                    done.fetch_add(1, Ordering::Relaxed);
                });
                peak_growth = peak_growth.max(live_bytes() - baseline);
            }
            group.wait(io).unwrap();
        })
    });
    assert_eq!(done.load(Ordering::Relaxed), 100_000);
    // Unreclaimed, 100 000 task cells of ~200 bytes would hold ~20 MB.
    assert!(
        peak_growth < 1 << 20,
        "live memory grew by {peak_growth} bytes"
    );
}
