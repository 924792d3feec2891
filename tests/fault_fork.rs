//! `fork()` called from a task (issue 11, item 3). The child of a fork is a plain process with
//! one thread, outside any runtime — also when the task that forked was a fiber of an io_uring
//! event loop, whose ring the child shares with the parent (the queues are memory mapped
//! `MAP_SHARED`). A child that builds a runtime of its own must get a working one, and a child
//! that only execs or exits must leave the parent's ring alone.
//!
//! A child of a multi-threaded process may only rely on what the fork copied, and libtest runs
//! every test on a thread of its own; so this file has its own `main` (`harness = false` in
//! Cargo.toml) and runs each scenario on the main thread, one after the other. Nothing here may
//! hang: the parent waits for each child at most [`CHILD_LIMIT`] (then kills it and fails), each
//! child ends itself with `alarm` and dies with its parent (`PR_SET_PDEATHSIG`), and `alarm`
//! ends the whole run (a failure) after 60 s — the only bound of a parent whose own ring stopped
//! working, since its sleeps go through that ring.

mod support;

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use io::{Backend, Clock, Io, Runtime};
use support::{panic_message, runtime_on};

const BACKENDS: [Backend; 2] = [Backend::Threaded, Backend::Uring];

/// How long the parent waits for a child before it kills it and fails.
const CHILD_LIMIT: Duration = Duration::from_secs(10);

/// The alarm a child sets for itself (seconds): it ends a child that hangs, also one whose
/// parent died before it could kill it.
const CHILD_ALARM: u32 = 30;

/// What the file that the parent reads while its children run holds.
const CONTENT: &[u8] = b"the parent's ring still works";

/// The byte a child writes when its runtime did all the work asked of it.
const DONE: u8 = b'!';

/// A pipe: (read end, write end), both close-on-exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A file holding [`CONTENT`], removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("io-fault-fork-{}-{name}", std::process::id()));
        std::fs::write(&path, CONTENT).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Forks; in the child, runs `child` (which cannot return: it execs or exits) after making
/// sure the child cannot outlive the test. Returns the child's pid in the parent.
fn fork(child: impl FnOnce() -> Infallible) -> libc::pid_t {
    // SAFETY: fork has no memory preconditions. The child runs only `child`, which ends the
    // process (exec or exit) and never returns into the task, or the event loop, that forked.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: prctl and alarm only set process attributes of the child: it is killed when
        // the parent dies, and ends itself after CHILD_ALARM seconds (SIGALRM's default).
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::alarm(CHILD_ALARM);
        }
        child();
    }
    pid
}

/// Ends the child with `status` without running exit handlers or destructors.
fn exit_now(status: i32) -> ! {
    // SAFETY: _exit ends the process at once; nothing after it runs.
    unsafe { libc::_exit(status) }
}

/// Waits for child `pid` to exit, polling between sleeps of the calling task (ring work on the
/// uring backend), at most [`CHILD_LIMIT`]; kills it and fails if it is still running then.
/// Returns its exit status (it must have exited, not been killed by a signal).
fn wait_for(io: Io, pid: libc::pid_t, what: &str) -> i32 {
    let deadline = Instant::now() + CHILD_LIMIT;
    loop {
        let mut status = 0;
        // SAFETY: waits without blocking for our own child; `status` is writable.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(rc >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if rc == pid {
            assert!(
                libc::WIFEXITED(status),
                "{what}: the child did not exit but was killed by signal {}",
                libc::WTERMSIG(status)
            );
            return libc::WEXITSTATUS(status);
        }
        if Instant::now() > deadline {
            // SAFETY: kills and reaps our own child, which has not been reaped yet; after
            // SIGKILL the blocking waitpid returns as soon as the kernel ended it.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("{what}: the child still ran after {CHILD_LIMIT:?}; killed it");
        }
        io.sleep(Duration::from_millis(2), Clock::Awake).unwrap();
    }
}

/// Work that goes through the ring on the uring backend: `rounds` sleeps and file reads, then
/// a round trip through a queue between two tasks.
fn ring_work(io: Io, file: &Path, rounds: usize) {
    for round in 0..rounds {
        io.sleep(Duration::from_millis(1), Clock::Awake)
            .unwrap_or_else(|e| panic!("sleep {round}: {e:?}"));
        let file = io::fs::File::open(io, file).unwrap();
        let mut buf = [0u8; 64];
        let n = file.read(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], CONTENT, "read {round}");
    }
    let queue = io::Queue::<u32>::new(1);
    io.scope(|s| {
        let getter = s.spawn_concurrent(|| queue.get_one(io)).unwrap();
        queue.put_one(io, 42).unwrap();
        assert_eq!(getter.join(io).unwrap(), 42, "the queue round trip");
    });
}

/// Reads the one byte a child wrote into `done` (the parent's write end is closed, so a child
/// that wrote nothing reads as end of file).
fn byte_from(done: &OwnedFd) -> Option<u8> {
    let mut byte = 0u8;
    // SAFETY: reads at most one byte into `byte` from a pipe we own; every write end is closed
    // (the child exited), so the read returns at once.
    let n = unsafe { libc::read(done.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) };
    (n == 1).then_some(byte)
}

/// Runs `f` on a fresh runtime of `backend` (2 threads); `false` (said on stderr) where the
/// kernel refuses io_uring.
fn on(backend: Backend, f: impl FnOnce(Io)) -> bool {
    let Some(runtime) = runtime_on(backend, 2, Some(Duration::from_millis(500))) else {
        return false;
    };
    runtime.run(f);
    true
}

/// The child of [`a_child_forked_from_a_task_runs_a_runtime_of_its_own`]: a fresh threaded
/// runtime, run on what was the parent's task (on the uring backend: on the copy of the fiber's
/// stack). It sleeps, spawns and joins a task, and lets a deadline interrupt a blocking read —
/// which needs a timer of this process's own. Writes [`DONE`] and exits only if all of it
/// worked; never returns.
fn child_with_a_runtime(idle: BorrowedFd<'_>, done: BorrowedFd<'_>) -> ! {
    let worked = catch_unwind(AssertUnwindSafe(|| {
        let runtime = Runtime::builder()
            .backend(Backend::Threaded)
            .threads(2)
            .build()
            .expect("a threaded runtime in the child");
        runtime.run(|io| {
            io.sleep(Duration::from_millis(10), Clock::Awake).unwrap();
            let answer = io.scope(|s| {
                let task = s
                    .spawn_concurrent(|| {
                        io.sleep(Duration::from_millis(1), Clock::Awake).unwrap();
                        6 * 7
                    })
                    .unwrap();
                task.join(io)
            });
            let mut byte = [0u8];
            let read = io.timeout(Duration::from_millis(20), || io.read_fd(idle, &mut byte));
            answer == 42 && read.is_err()
        })
    }));
    if let Ok(true) = worked {
        // SAFETY: writes one byte from a live buffer to the pipe the parent reads.
        unsafe { libc::write(done.as_raw_fd(), [DONE].as_ptr().cast(), 1) };
        // The whole exit path (atexit handlers, this thread's thread-local destructors) runs.
        std::process::exit(0);
    }
    exit_now(101)
}

/// (a) A task forks; the child builds and runs a threaded runtime of its own, while the parent
/// keeps its ring busy (a sleep in flight across the fork, sleeps, file reads, a queue round
/// trip) and then waits for the child.
fn a_child_forked_from_a_task_runs_a_runtime_of_its_own(backend: Backend) -> bool {
    let file = TempFile::new("a");
    on(backend, |io| {
        let (idle, _idle_writer) = pipe();
        // On the threaded backend this creates the thread's alarm timer before the fork: the
        // child must not use that timer's id, which is not its own.
        let mut byte = [0u8];
        let read = io.timeout(Duration::from_millis(5), || {
            io.read_fd(idle.as_fd(), &mut byte)
        });
        assert!(read.is_err(), "{backend:?}: the idle pipe had data");
        let (done, done_writer) = pipe();
        io.scope(|s| {
            // An operation in flight on the ring while the child exists.
            let sleeper = s
                .spawn_concurrent(|| io.sleep(Duration::from_millis(50), Clock::Awake))
                .unwrap();
            let pid = fork(|| child_with_a_runtime(idle.as_fd(), done_writer.as_fd()));
            ring_work(io, &file.0, 20);
            sleeper.join(io).unwrap();
            let status = wait_for(io, pid, &format!("{backend:?}"));
            assert_eq!(status, 0, "{backend:?}: the child's runtime failed");
        });
        drop(done_writer);
        assert_eq!(byte_from(&done), Some(DONE), "{backend:?}");
        ring_work(io, &file.0, 20);
    })
}

/// The child of [`a_child_that_waits_blocks_its_thread_and_leaves_the_parents_ring_alone`]:
/// sleeps and reads a file through the runtime — through the parent's `Io`, which a child
/// should not use (it has a copy of that runtime but none of its threads), but which here shows
/// that the child's thread is no fiber: its waits block the thread instead of going to the
/// parent's ring. Exits 0 if all of it worked; never returns.
fn child_that_waits(io: Io, file: &Path) -> ! {
    let worked = catch_unwind(AssertUnwindSafe(|| {
        for round in 0..50 {
            io.sleep(Duration::from_millis(1), Clock::Awake)
                .unwrap_or_else(|e| panic!("sleep {round}: {e:?}"));
        }
        let file = io::fs::File::open(io, file).unwrap();
        let mut buf = [0u8; 64];
        let n = file.read(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], CONTENT);
    }));
    exit_now(if worked.is_ok() { 0 } else { 101 })
}

/// (c) The hang: a child whose thread still believed it ran on a fiber of the parent's
/// loop submitted its waits to the parent's ring and reaped the parent's completions, and the
/// parent's sleeps never ended. Now the child's waits block its own thread, and the parent's
/// ring keeps working while the child waits and after.
fn a_child_that_waits_blocks_its_thread_and_leaves_the_parents_ring_alone(
    backend: Backend,
) -> bool {
    let file = TempFile::new("c");
    on(backend, |io| {
        io.scope(|s| {
            let sleeper = s
                .spawn_concurrent(|| io.sleep(Duration::from_millis(20), Clock::Awake))
                .unwrap();
            let pid = fork(|| child_that_waits(io, &file.0));
            ring_work(io, &file.0, 100);
            sleeper.join(io).unwrap();
            let status = wait_for(io, pid, &format!("{backend:?}"));
            assert_eq!(status, 0, "{backend:?}: the child's waits failed");
        });
        ring_work(io, &file.0, 10);
    })
}

/// How a child of [`children_that_only_exec_or_exit_leave_the_parents_ring_alone`] ends.
#[derive(Debug, Clone, Copy)]
enum End {
    /// `execv("/bin/true")`.
    Exec,
    /// `_exit(0)`: nothing runs.
    UnderscoreExit,
    /// `std::process::exit(0)`: atexit handlers and this thread's thread-local destructors run.
    Exit,
}

/// (b) A task forks children that only exec or exit; the parent's ring keeps working: an
/// operation in flight across the fork completes, and 100 sleeps and file reads after it.
fn children_that_only_exec_or_exit_leave_the_parents_ring_alone(backend: Backend) -> bool {
    let file = TempFile::new("b");
    let program = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("no true(1) to exec");
    let program = CString::new(program).unwrap();
    on(backend, |io| {
        for end in [End::Exec, End::UnderscoreExit, End::Exit] {
            io.scope(|s| {
                let sleeper = s
                    .spawn_concurrent(|| io.sleep(Duration::from_millis(20), Clock::Awake))
                    .unwrap();
                let pid = fork(|| match end {
                    End::Exec => {
                        let argv = [program.as_ptr(), std::ptr::null()];
                        // SAFETY: `program` and `argv` were made before the fork and live on;
                        // argv ends with a null pointer.
                        unsafe { libc::execv(program.as_ptr(), argv.as_ptr()) };
                        exit_now(127)
                    }
                    End::UnderscoreExit => exit_now(0),
                    End::Exit => std::process::exit(0),
                });
                ring_work(io, &file.0, 100);
                sleeper.join(io).unwrap();
                let status = wait_for(io, pid, &format!("{backend:?}, {end:?}"));
                assert_eq!(status, 0, "{backend:?}, {end:?}");
            });
            ring_work(io, &file.0, 10);
        }
    })
}

/// A scenario, run once per backend; returns `false` if it was skipped.
type Test = fn(Backend) -> bool;

fn main() {
    // SAFETY: alarm only schedules SIGALRM, whose default action ends the process.
    unsafe { libc::alarm(60) };
    let tests: [(&str, Test); 3] = [
        (
            "a_child_forked_from_a_task_runs_a_runtime_of_its_own",
            a_child_forked_from_a_task_runs_a_runtime_of_its_own,
        ),
        (
            "children_that_only_exec_or_exit_leave_the_parents_ring_alone",
            children_that_only_exec_or_exit_leave_the_parents_ring_alone,
        ),
        (
            "a_child_that_waits_blocks_its_thread_and_leaves_the_parents_ring_alone",
            a_child_that_waits_blocks_its_thread_and_leaves_the_parents_ring_alone,
        ),
    ];
    let filter = std::env::args().nth(1).filter(|arg| !arg.starts_with('-'));
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, test) in tests {
        for backend in BACKENDS {
            let name = format!("{name}::{}", format!("{backend:?}").to_lowercase());
            if filter.as_deref().is_some_and(|f| !name.contains(f)) {
                continue;
            }
            match catch_unwind(|| test(backend)) {
                Ok(true) => {
                    passed += 1;
                    println!("test {name} ... ok");
                }
                Ok(false) => {
                    skipped += 1;
                    println!("test {name} ... skipped");
                }
                Err(payload) => {
                    failed += 1;
                    println!("test {name} ... FAILED: {}", panic_message(&*payload));
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    std::process::exit(i32::from(failed > 0));
}
