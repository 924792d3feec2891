//! A stack overflow in a uring task is reported as such, naming the fiber, never silent
//! corruption. The overflowing runtime runs in a child process (this test binary re-executed).

use std::process::Command;
use std::time::Duration;

use io::{Backend, Runtime};

mod support;

const CHILD: &str = "IO_OVERFLOW_CHILD";

#[inline(never)]
#[allow(unconditional_recursion)] // on purpose: it ends in a stack overflow
fn recurse(depth: u64, sink: &mut [u8; 512]) -> u64 {
    sink[(depth % 512) as usize] = depth as u8;
    let mut local = [0u8; 512];
    local[0] = sink[0];
    // black_box keeps the frames (and the recursion) from being optimized away.
    std::hint::black_box(&mut local);
    1 + recurse(depth + 1, &mut local)
}

fn overflow_in_a_task() {
    let runtime = Runtime::builder()
        .backend(Backend::Uring)
        .fiber_stack_size(64 * 1024)
        .build()
        .unwrap();
    runtime.run(|io| {
        io.scope(|s| {
            let task = s.spawn_concurrent(|| recurse(0, &mut [0; 512])).unwrap();
            // Let the task start on its own fiber (a join would run it inline on the root's).
            io.sleep(Duration::from_millis(100), io::Clock::Awake)
                .unwrap();
            task.join(io)
        })
    });
}

#[test]
fn a_fiber_stack_overflow_is_reported_naming_the_fiber() {
    if std::env::var_os(CHILD).is_some() {
        overflow_in_a_task();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([
            "--exact",
            "a_fiber_stack_overflow_is_reported_naming_the_fiber",
            "--nocapture",
        ])
        .env(CHILD, "1");
    let output = support::examples::run_bounded(child, Duration::from_secs(20));
    let stderr = &output.stderr;
    assert!(
        !output.status.success(),
        "the child survived its overflow: {stderr}"
    );
    assert!(
        stderr.contains("io: fiber stack overflow in fiber"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tests/uring_overflow.rs"),
        "names the fiber: {stderr}"
    );
}
