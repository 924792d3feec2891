//! Composition leaks nothing: a group that keeps results reclaims each finished task as its
//! result is taken and drops the results nobody took when the scope ends; selects that lose,
//! win or are canceled leave no registration or allocation behind. (Its own binary: the
//! counting allocator sees every allocation of the process.)

mod support;

use support::counting::{live_bytes, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn results_and_selects_leave_nothing_behind() {
    group_results_are_reclaimed_as_they_are_taken_and_at_scope_end();
    for &backend in support::BACKENDS {
        if let Some(runtime) = support::runtime_on(backend, 2, None) {
            selects_leave_nothing_behind(&runtime);
        }
    }
}

fn selects_leave_nothing_behind(runtime: &io::Runtime) {
    use std::time::Duration;
    let queue: io::Queue<Vec<u8>> = io::Queue::new(4);
    let event = io::Event::new();
    runtime.run(|io| {
        let round = |i: u32| {
            io.scope(|s| {
                let group = s.group();
                group.spawn(io, move || vec![0u8; 100]);
                if i.is_multiple_of(2) {
                    queue.try_put_one(vec![1; 100]).unwrap();
                }
                let got = io::io_select!(io, {
                    () = event.select_wait() => 0,
                    item = queue.select_get() => item.map_or(0, |v| v.len()),
                    r = group.select_next() => r.map_or(0, |v| v.len()),
                    () = io::after(Duration::from_micros(50)) => 0,
                });
                assert!(got.is_ok());
                // A select canceled by a zero timeout, with the queue empty.
                while queue.try_get_one().unwrap().is_some() {}
                let polled = io.timeout(
                    Duration::ZERO,
                    || io::io_select!(io, { item = queue.select_get() => item }),
                );
                assert!(polled.is_err());
            })
        };
        // Warm up (thread-locals, pools), then measure.
        for i in 0..200 {
            round(i);
        }
        let baseline = live_bytes();
        for i in 0..5_000 {
            round(i);
        }
        let growth = live_bytes() - baseline;
        assert!(
            growth < 64 * 1024,
            "{}: 5 000 select rounds grew live memory by {growth} bytes",
            io.backend_name()
        );
    });
    assert_eq!(
        format!("{queue:?}"),
        "Queue { capacity: 4, buffered: 0, waiting_putters: 0, closed: false }"
    );
}

fn group_results_are_reclaimed_as_they_are_taken_and_at_scope_end() {
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
