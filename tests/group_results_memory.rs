//! A group that keeps results reclaims each finished task as its result is taken, and drops
//! the results nobody took when the scope ends. (Its own binary: the counting allocator sees
//! every allocation of the process.)

mod support;

use support::counting::{live_bytes, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn results_are_reclaimed_as_they_are_taken_and_at_scope_end() {
    // async_limit: past 64 queued tasks, spawns run inline (see group_memory.rs).
    let runtime = io::Runtime::builder()
        .threads(2)
        .async_limit(64)
        .build()
        .unwrap();
    let mut peak_growth = 0;
    let mut sum = 0u64;
    let mut leftover_growth = 0;
    let mut after_scope = 0;
    let mut before_scope = 0;
    runtime.run(|io| {
        // 100 000 tasks returning a boxed value, each taken as soon as it is there.
        io.scope(|s| {
            let group = s.group();
            let baseline = live_bytes();
            for n in 0..100_000u64 {
                group.spawn(io, move || Box::new([n; 8]));
                while let Some(values) = group.try_next() {
                    sum += values[0];
                }
                peak_growth = peak_growth.max(live_bytes() - baseline);
            }
            while let Some(values) = group.next(io).unwrap() {
                sum += values[0];
            }
        });
        // 1 000 results nobody takes: held until the scope ends, then freed.
        before_scope = live_bytes();
        io.scope(|s| {
            let group = s.group();
            for n in 0..1_000u64 {
                group.spawn(io, move || vec![n; 64]);
            }
            group.wait(io).unwrap();
            leftover_growth = live_bytes() - before_scope;
        });
        after_scope = live_bytes();
    });
    assert_eq!(sum, (0..100_000).sum::<u64>());
    // Unreclaimed, 100 000 task records of ~300 bytes would hold ~30 MB.
    assert!(
        peak_growth < 1 << 20,
        "live memory grew by {peak_growth} bytes"
    );
    assert!(
        leftover_growth > 1_000 * 64 * 8,
        "the results were held: {leftover_growth}"
    );
    assert!(
        after_scope - before_scope < 64 * 1024,
        "the scope's end freed the results: {} bytes left",
        after_scope - before_scope
    );
}
