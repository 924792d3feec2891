//! Helpers shared by the behaviour tests: one runtime per backend, and bounded waits.
#![allow(dead_code)]

pub mod counting;
pub mod examples;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use io::{Io, Runtime};

/// The backends every behaviour test runs on.
pub const BACKENDS: &[io::Backend] = &[io::Backend::Threaded, io::Backend::Uring];

/// The runtimes every behaviour test runs on: each backend with 2 threads, and io_uring also on
/// one loop (`threads = 1` keeps the single-loop runtime, which 2 threads no longer are).
pub const RUNTIMES: &[(io::Backend, usize)] = &[
    (io::Backend::Threaded, 2),
    (io::Backend::Uring, 1),
    (io::Backend::Uring, 2),
];

/// Runs `f` once per entry of [`RUNTIMES`], naming the runtime on failure.
pub fn each_backend(f: impl Fn(Io)) {
    for &(backend, threads) in RUNTIMES {
        let runtime = match Runtime::builder().backend(backend).threads(threads).build() {
            Ok(runtime) => runtime,
            // A kernel that refuses io_uring: skip that backend, saying why.
            Err(reason) if backend == io::Backend::Uring => {
                eprintln!("skipped on {backend:?}: {reason}");
                continue;
            }
            Err(reason) => panic!("cannot build {backend:?}: {reason}"),
        };
        let named = NamedRun { backend, threads };
        runtime.run(&f);
        std::mem::forget(named);
    }
}

/// Says which runtime a behaviour test failed on when its closure panics.
struct NamedRun {
    backend: io::Backend,
    threads: usize,
}

impl Drop for NamedRun {
    fn drop(&mut self) {
        eprintln!(
            "(failed on {:?} with threads = {})",
            self.backend, self.threads
        );
    }
}

/// Spins (no cancellation point: a uring loop is held) until `done` says so, at most `PROMPT`.
pub fn spin_until(done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > PROMPT {
            return false;
        }
        std::hint::spin_loop();
    }
    true
}

/// Serialises the tests of one binary that count process-wide resources (descriptors).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` on every runtime with a fresh directory (`TempDir::new(tag, name)`, emptied after
/// each runtime), alone among this binary's tests that use it (descriptor counts are
/// process-wide), under a 60 s watchdog.
pub fn each_backend_in_dir(tag: &str, name: &'static str, f: impl Fn(Io, &std::path::Path)) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new(tag, name);
    watched(name, Duration::from_secs(60), || {
        each_backend(|io| {
            std::fs::create_dir_all(&dir.0).unwrap();
            f(io, &dir.0);
            std::fs::remove_dir_all(&dir.0).unwrap();
        })
    });
}

/// Measures how long `f` takes.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let result = f();
    (result, start.elapsed())
}

/// A bound generous enough for a loaded 2-core CI machine, far below a 10 s block.
pub const PROMPT: Duration = Duration::from_secs(2);

/// What tasks block on when a test expects them to be canceled.
pub const LONG: Duration = Duration::from_secs(10);

/// Runs `f`, aborting the process (a failure, never a hang) if it is still running after
/// `limit`; `name` says which test in the abort message.
pub fn watched<R>(name: &'static str, limit: Duration, f: impl FnOnce() -> R) -> R {
    let (done, watching) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = watching.recv_timeout(limit) {
            eprintln!("{name}: still running after {limit:?}, aborting");
            std::process::abort();
        }
    });
    let result = f();
    drop(done);
    result
}

/// A runtime on `backend` with `threads` workers and the deadlock `grace`, or `None` (said on
/// stderr) where the kernel refuses io_uring.
pub fn runtime_on(
    backend: io::Backend,
    threads: usize,
    grace: Option<Duration>,
) -> Option<Runtime> {
    match Runtime::builder()
        .backend(backend)
        .threads(threads)
        .deadlock_grace(grace)
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(reason) if backend == io::Backend::Uring => {
            eprintln!("skipped on {backend:?}: {reason}");
            None
        }
        Err(reason) => panic!("cannot build {backend:?}: {reason}"),
    }
}

/// The message of a panic payload (`String` or `&str`), or `""`.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// The number of open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A fresh, empty directory of this test process under the system's temporary directory
/// (`io-PREFIX-PID-TAG`, spaces in `tag` made dashes), removed on drop — also when a test fails.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str, tag: &str) -> Self {
        let tag = tag.replace(' ', "-");
        let path = std::env::temp_dir().join(format!("io-{prefix}-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Cancels a task blocked in `blocked` after 50 ms: it must return a canceled error (not a
/// result: nobody gave it anything), within [`PROMPT`].
pub fn assert_cancel_interrupts<T: std::fmt::Debug + Send>(
    io: Io,
    blocked: impl FnOnce() -> std::io::Result<T> + Send,
) {
    io.scope(|s| {
        let task = s.spawn_concurrent(blocked).unwrap();
        io.sleep(Duration::from_millis(50), io::Clock::Awake)
            .unwrap();
        let (result, elapsed) = timed(|| task.cancel(io));
        let error = result.expect_err("the blocked operation returned without a peer");
        assert!(io::is_canceled(&error), "expected canceled, got {error:?}");
        assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
    });
}
