//! A task blocked in a system call made through the runtime is interrupted by a cancel.

mod support;

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::Duration;

use io::{is_canceled, Clock};
use support::{each_backend, timed, PROMPT};

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

#[test]
fn cancel_interrupts_a_blocking_pipe_read() {
    each_backend(|io| {
        let (reader, _writer) = pipe();
        io.scope(|s| {
            let blocked = s.spawn_async(|| io.read_fd(reader.as_fd(), &mut [0u8; 16]));
            io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| blocked.cancel(io));
            let error = result.expect_err("read returned data from an idle pipe");
            assert!(is_canceled(&error), "expected Canceled, got {error:?}");
            assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
        });
    });
}

#[test]
fn cancel_racing_with_entry_into_the_call_never_hangs() {
    each_backend(|io| {
        let (reader, _writer) = pipe();
        for round in 0..200 {
            io.scope(|s| {
                let blocked = s
                    .spawn_concurrent(|| io.read_fd(reader.as_fd(), &mut [0u8; 16]))
                    .unwrap();
                // Cancel at varying points around the task's entry into read(2).
                if round % 2 == 1 {
                    std::thread::yield_now();
                }
                let (result, elapsed) = timed(|| blocked.cancel(io));
                assert!(is_canceled(&result.unwrap_err()));
                assert!(elapsed < PROMPT, "round {round}: cancel took {elapsed:?}");
            });
        }
    });
}

#[test]
fn reads_and_writes_pass_data_through() {
    each_backend(|io| {
        let (reader, writer) = pipe();
        assert_eq!(io.write_fd(writer.as_fd(), b"ping").unwrap(), 4);
        let mut buf = [0u8; 8];
        let n = io.read_fd(reader.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
    });
}
