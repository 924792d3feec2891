//! Forking from a task: the child runs a runtime of its own while the parent keeps its own.
//!
//! ```text
//! IO_BACKEND=uring cargo run --example fork_from_task      # "parent: the child says 42"
//! ```
//!
//! After `fork()` the child is a plain single-threaded process outside any runtime — also when
//! the task that forked was a fiber of an io_uring event loop: the runtime resets its per-thread
//! state in the child, so nothing there reaches the parent's ring (which the two processes
//! share). The child may exec, exit, or build and run a runtime of its own, as here.
//!
//! Two rules for the child:
//! - It must not return out of the task that forked. On the uring backend it runs on its copy
//!   of the fiber's stack, and below the task lies a copy of the parent's event loop, whose ring
//!   is the parent's. So the child ends with `std::process::exit` (or `libc::_exit`, or an
//!   exec), and catches its panics before they leave the task.
//! - It must not use the parent's `Io`, or anything the parent's tasks wait on: it has a copy
//!   of that runtime but none of its threads.

use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use io::{Backend, Clock, Io, Runtime};

/// How long the parent waits for the child.
const LIMIT: Duration = Duration::from_secs(10);

#[io::main]
fn main(io: Io) -> ExitCode {
    match run(io) {
        Ok(answer) => {
            println!("parent: the child says {answer}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("fork_from_task: {why}");
            ExitCode::FAILURE
        }
    }
}

fn run(io: Io) -> Result<u8, String> {
    let (reader, writer) = pipe()?;
    // SAFETY: fork has no memory preconditions; the child runs only `child`, which never
    // returns (it ends the process).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(reader);
        child(writer.as_fd());
    }
    drop(writer);
    // The parent's task goes on with its own runtime (through the ring on the uring backend).
    io.sleep(Duration::from_millis(5), Clock::Awake)
        .map_err(|_| "canceled")?;
    let mut answer = [0u8];
    let read = io
        .timeout(LIMIT, || io.read_fd(reader.as_fd(), &mut answer))
        .map_err(|_| "the child did not answer in time")?;
    let status = wait(io, pid)?;
    match (read, status) {
        (Ok(1), 0) => Ok(answer[0]),
        (read, status) => Err(format!(
            "the child failed: read {read:?}, exit status {status}"
        )),
    }
}

/// The child: a runtime of its own on the thread that forked, then an exit. Never returns into
/// the task (and the event loop) that forked.
fn child(answer: BorrowedFd<'_>) -> ! {
    let worked = catch_unwind(AssertUnwindSafe(|| {
        let runtime = Runtime::builder()
            .backend(Backend::Threaded)
            .build()
            .map_err(|e| e.to_string())?;
        let value = runtime.run(|io| {
            io.scope(|s| {
                let six = s.spawn_async(|| 6u8);
                let seven = s.spawn_async(|| 7u8);
                io.sleep(Duration::from_millis(1), Clock::Awake)
                    .map_err(|_| "canceled")?;
                Ok::<u8, String>(six.join(io) * seven.join(io))
            })
        })?;
        runtime
            .run(|io| io.write_fd(answer, &[value]))
            .map_err(|e| e.to_string())
    }));
    let status = match worked {
        Ok(Ok(1)) => 0,
        Ok(Ok(_)) => 1,
        Ok(Err(why)) => {
            eprintln!("child: {why}");
            1
        }
        Err(_) => 101,
    };
    std::process::exit(status)
}

/// A pipe: (read end, write end), both close-on-exec.
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Waits for the child to exit (at most [`LIMIT`], sleeping on `io` between looks) and returns
/// its exit status; kills it if it outlives the limit.
fn wait(io: Io, pid: libc::pid_t) -> Result<i32, String> {
    let deadline = Instant::now() + LIMIT;
    loop {
        let mut status = 0;
        // SAFETY: looks, without blocking, at our own child; `status` is writable.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            return Ok(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            });
        }
        if rc < 0 {
            return Err(format!("waitpid: {}", std::io::Error::last_os_error()));
        }
        if Instant::now() > deadline {
            // SAFETY: kills and reaps our own child, not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!("the child still ran after {LIMIT:?}; killed it"));
        }
        io.sleep(Duration::from_millis(2), Clock::Awake)
            .map_err(|_| "canceled")?;
    }
}
