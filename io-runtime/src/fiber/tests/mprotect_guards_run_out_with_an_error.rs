//! With `mprotect` guards every stack costs two kernel mappings, so `vm.max_map_count` runs out
//! long before 100 000 fibers. The pool must then return an error, never crash or abort.
//!
//! Runs in a child process: while the mappings are used up, the tests beside it could not map
//! memory or start threads.

use crate::fiber::stack::GuardMode;
use crate::fiber::StackPool;

use super::child;

#[test]
fn mprotect_guards_run_out_with_an_error() {
    let test = child::test_name(module_path!(), "mprotect_guards_run_out_with_an_error");
    if child::is_child(&test) {
        return in_child();
    }
    child::run_child(&test).assert_passed();
}

fn in_child() {
    let limit: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530);
    if limit > 1_000_000 {
        eprintln!("skipped: vm.max_map_count is {limit}, too high to exhaust quickly");
        return;
    }
    let pool = StackPool::with_guard_mode(16 * 1024, limit, GuardMode::Mprotect);
    let mut stacks = Vec::with_capacity(limit);
    let error = loop {
        match pool.get() {
            Ok(stack) => stacks.push(stack),
            Err(error) => break error,
        }
    };
    let got = stacks.len();
    drop(stacks);
    drop(pool); // give the mappings back before anything else needs one
    assert!(
        !error.is_limit(),
        "stopped by max_stacks, not by the kernel: {error}"
    );
    assert_eq!(
        error.os_error().and_then(|e| e.raw_os_error()),
        Some(libc::ENOMEM),
        "{error}"
    );
    assert!(
        got < limit / 2 + 64,
        "{got} stacks with a map limit of {limit}"
    );
    eprintln!("mprotect guards: {got} stacks before {error}");
}
