//! A fiber that overflows its stack hits the guard page and the process aborts with a message
//! naming the fiber; faults that are not fiber overflows still crash the usual way.
//!
//! Each test re-runs this test binary as a child (selecting itself with `--exact`) with
//! `CHILD_ENV` set; the child crashes and the parent inspects its status and stderr.

use std::env;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use io::fiber::{Fiber, GuardMode, StackPool};

const CHILD_ENV: &str = "IO_FIBER_OVERFLOW_CHILD";
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// Returns whether this process is the child of `test`.
fn is_child(test: &str) -> bool {
    env::var(CHILD_ENV).is_ok_and(|name| name == test)
}

/// Runs `test` alone in a child process; returns its exit status and stderr.
fn run_child(test: &str) -> (ExitStatus, String) {
    let mut child = Command::new(env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = thread::spawn(move || {
        let mut stderr = String::new();
        let _ = pipe.read_to_string(&mut stderr);
        stderr
    });
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child {test} did not finish within {CHILD_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    (status, reader.join().unwrap())
}

/// Keeps a crashing child from writing a core file.
fn disable_core_dumps() {
    let none = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads a valid rlimit and only affects this (child) process.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
}

/// Recursion without end that the optimizer cannot turn into a loop.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth as u8; 256]);
    if depth == u64::MAX {
        return 0;
    }
    std::hint::black_box(recurse(depth + 1)) + u64::from(frame[0])
}

/// Child: overflows a fiber stack; returning means the guard did not fire.
fn overflow_in_fiber(mode: GuardMode, name: Option<&'static str>) {
    disable_core_dumps();
    let pool = StackPool::with_guard_mode(64 * 1024, 4, mode);
    let mut fiber = Fiber::new(&pool, |_| recurse(0)).unwrap();
    if let Some(name) = name {
        fiber.set_name(name);
    }
    let _ = fiber.resume();
}

#[test]
fn fiber_stack_overflow_is_reported() {
    const TEST: &str = "fiber_stack_overflow_is_reported";
    if is_child(TEST) {
        return overflow_in_fiber(
            io::fiber::stack::detect_guard_mode(),
            Some("deep recursion"),
        );
    }
    let (status, stderr) = run_child(TEST);
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "{status:?}, stderr:\n{stderr}"
    );
    assert!(stderr.contains("stack overflow"), "stderr:\n{stderr}");
    assert!(
        stderr.contains("io: fiber stack overflow in fiber \"deep recursion\" (#"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn fiber_stack_overflow_is_reported_with_mprotect_guards() {
    const TEST: &str = "fiber_stack_overflow_is_reported_with_mprotect_guards";
    if is_child(TEST) {
        return overflow_in_fiber(GuardMode::Mprotect, None);
    }
    let (status, stderr) = run_child(TEST);
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "{status:?}, stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("io: fiber stack overflow in fiber #"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn unrelated_segfault_still_crashes_with_sigsegv() {
    const TEST: &str = "unrelated_segfault_still_crashes_with_sigsegv";
    if is_child(TEST) {
        disable_core_dumps();
        let pool = StackPool::new(64 * 1024, 4);
        let mut fiber = Fiber::new(&pool, |_| {
            let page = 4096;
            // SAFETY: maps then unmaps a fresh private page; only its address is kept.
            let gone = unsafe {
                let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
                let map = libc::mmap(std::ptr::null_mut(), page, libc::PROT_READ, flags, -1, 0);
                libc::munmap(map, page);
                map.cast::<u8>()
            };
            // SAFETY: not safe: the page is unmapped. This child exists to fault here.
            unsafe { gone.read_volatile() }
        })
        .unwrap();
        let _ = fiber.resume();
        return;
    }
    let (status, stderr) = run_child(TEST);
    assert_eq!(
        status.signal(),
        Some(libc::SIGSEGV),
        "{status:?}, stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("fiber stack overflow"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn thread_stack_overflow_is_still_reported_by_std() {
    const TEST: &str = "thread_stack_overflow_is_still_reported_by_std";
    if is_child(TEST) {
        disable_core_dumps();
        let _pool = StackPool::new(64 * 1024, 4); // installs the fiber handler first
        let _ = std::hint::black_box(recurse(0));
        return;
    }
    let (status, stderr) = run_child(TEST);
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "{status:?}, stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("has overflowed its stack"),
        "stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("fiber stack overflow"),
        "stderr:\n{stderr}"
    );
}
