//! Rough figures for the fiber stack pool: fresh and recycled `get`, a context switch, and the
//! resident memory of 100 000 suspended fibers. An ignored test; run it alone, in release mode:
//!
//! ```text
//! cargo test -p io-runtime --release --lib fiber_bench -- --ignored --nocapture
//! IO_FIBER_BENCH_STACK_SIZE=262144 cargo test ...   # stack size in bytes, default 65536
//! ```
//!
//! Run it on a quiet machine; the numbers are means over many iterations.

use std::fs;
use std::hint::black_box;
use std::time::Instant;

use corosensei::stack::DefaultStack;

use crate::fiber::stack::{detect_guard_mode, GuardMode};
use crate::fiber::{Fiber, Resume, StackPool};

const FIBERS: usize = 100_000;

/// Environment variable choosing the stack size in bytes.
const STACK_SIZE_ENV: &str = "IO_FIBER_BENCH_STACK_SIZE";

/// Mean nanoseconds per iteration of `f`, run `n` times.
fn per_iteration(n: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// A field of /proc/self/status in kB.
fn status_kb(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn mappings() -> usize {
    fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

fn fresh_get(size: usize, n: usize, mode: GuardMode) -> f64 {
    let pool = StackPool::with_guard_mode(size, n, mode);
    let mut held = Vec::with_capacity(n);
    let ns = per_iteration(n, || held.push(pool.get().unwrap()));
    drop(held);
    ns
}

fn default_stack_new(size: usize, n: usize) -> f64 {
    let mut held = Vec::with_capacity(n);
    per_iteration(n, || held.push(DefaultStack::new(size).unwrap()))
}

fn recycled_get(size: usize, n: usize) -> f64 {
    let pool = StackPool::new(size, 1);
    drop(pool.get().unwrap());
    per_iteration(n, || drop(black_box(pool.get().unwrap())))
}

fn switch(size: usize, n: usize) -> f64 {
    let pool = StackPool::new(size, 1);
    let mut fiber = Fiber::new(&pool, |s| loop {
        s.suspend();
    })
    .unwrap();
    per_iteration(n, || assert_eq!(fiber.resume(), Resume::<()>::Suspended))
}

fn hundred_thousand_suspended(size: usize) {
    let (rss0, pte0, maps0) = (status_kb("VmRSS:"), status_kb("VmPTE:"), mappings());
    let pool = StackPool::new(size, FIBERS);
    let start = Instant::now();
    let mut fibers = Vec::with_capacity(FIBERS);
    for i in 0..FIBERS {
        let mut fiber = Fiber::new(&pool, move |s| {
            s.suspend();
            i
        })
        .unwrap();
        assert_eq!(fiber.resume(), Resume::Suspended);
        fibers.push(fiber);
    }
    let create = start.elapsed();
    let (rss, pte, maps) = (status_kb("VmRSS:"), status_kb("VmPTE:"), mappings());
    println!(
        "100 000 fibers created+parked in {create:?} ({:.0} ns each)",
        create.as_nanos() as f64 / FIBERS as f64
    );
    println!(
        "  VmRSS  {rss0} kB -> {rss} kB: +{} kB, {:.2} kB per fiber",
        rss - rss0,
        (rss - rss0) as f64 / FIBERS as f64
    );
    println!("  VmPTE  {pte0} kB -> {pte} kB: +{} kB", pte - pte0);
    println!("  mappings {maps0} -> {maps}");
    for (i, fiber) in fibers.iter_mut().enumerate() {
        assert_eq!(fiber.resume(), Resume::Finished(i));
    }
}

#[test]
#[ignore = "benchmark: cargo test -p io-runtime --release --lib fiber_bench -- --ignored --nocapture"]
fn fiber_bench() {
    let size: usize = std::env::var(STACK_SIZE_ENV)
        .map_or(64 * 1024, |s| s.parse().expect("stack size in bytes"));
    println!("stack size {size} B, guard mode {:?}", detect_guard_mode());
    let fresh = fresh_get(size, FIBERS, detect_guard_mode());
    let fresh_mprotect = fresh_get(size, 10_000, GuardMode::Mprotect);
    let peer = default_stack_new(size, 10_000);
    let recycled = recycled_get(size, 10_000_000);
    let switch = switch(size, 10_000_000);
    println!("{:<48} {:>10}", "operation", "ns");
    println!(
        "{:<48} {fresh:>10.0}",
        "fresh get (guard via detected mode)"
    );
    println!(
        "{:<48} {fresh_mprotect:>10.0}",
        "fresh get (mprotect guard, forced)"
    );
    println!(
        "{:<48} {peer:>10.0}",
        "peer: corosensei DefaultStack::new (mmap each)"
    );
    println!(
        "{:<48} {recycled:>10.1}",
        "recycled get + drop back to pool"
    );
    println!(
        "{:<48} {switch:>10.1}",
        "switch: resume + suspend round trip"
    );
    hundred_thousand_suspended(size);
}
