//! The [`Runtime`] that owns a backend, and its [`Builder`].

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{self, carrier, Settings};
use crate::io::{self as handle, Io, Shared, ThreadEnv};
use crate::monitor::Monitor;
use crate::offload;
use crate::task::{self, TaskCtx};

/// Which backend runs the tasks.
///
/// # Examples
/// ```
/// let builder = io::Runtime::builder().threads(1);
/// let runtime = builder.backend(io::Backend::Threaded).build().unwrap();
/// assert_eq!(runtime.run(|io| io.backend_name()), "threaded");
/// // Auto picks io_uring where the kernel allows it.
/// let auto = io::Runtime::builder().backend(io::Backend::Auto).threads(1).build().unwrap();
/// assert!(["uring", "threaded"].contains(&auto.run(|io| io.backend_name())));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// A pool of OS threads; blocking operations block the task's thread.
    Threaded,
    /// io_uring event loops with stackful fibers: the thread that calls [`Runtime::run`]
    /// runs the first (and the root task), and with [`threads(N)`](Builder::threads) N − 1
    /// more run on threads of their own, each with its own ring; an idle loop takes tasks
    /// that a busy one spawned and has not started. Building fails with a reason where the
    /// kernel refuses io_uring.
    Uring,
    /// io_uring where the kernel allows it, else threaded.
    #[default]
    Auto,
}

impl Backend {
    /// Parses the spelling used by `IO_BACKEND` and `#[io::main(backend = …)]`.
    ///
    /// # Errors
    /// An unknown name returns a [`BuildError`] listing the valid ones.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(io::Backend::from_name("uring").unwrap(), io::Backend::Uring);
    /// assert_eq!(io::Backend::from_name(" threaded ").unwrap(), io::Backend::Threaded);
    /// let error = io::Backend::from_name("fibers").unwrap_err();
    /// let expected = r#"unknown backend "fibers": expected "threaded", "uring" or "auto""#;
    /// assert_eq!(error.to_string(), expected);
    /// ```
    pub fn from_name(name: &str) -> Result<Self, BuildError> {
        match name.trim() {
            "threaded" => Ok(Self::Threaded),
            "uring" => Ok(Self::Uring),
            "auto" => Ok(Self::Auto),
            other => Err(BuildError::new(format!(
                "unknown backend {other:?}: expected \"threaded\", \"uring\" or \"auto\""
            ))),
        }
    }
}

/// Why a runtime could not be built.
///
/// # Examples
/// ```
/// let error = io::Runtime::builder().threads(0).build().unwrap_err();
/// assert!(error.to_string().contains("single_threaded()"), "{error}");
/// ```
#[derive(Debug)]
pub struct BuildError {
    message: String,
}

impl BuildError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildError {}

/// Configures and builds a [`Runtime`].
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder()
///     .backend(io::Backend::Threaded)
///     .threads(2)
///     .async_limit(0) // every async task runs inline on its caller
///     .build()
///     .unwrap();
/// assert_eq!(runtime.run(|io| io.backend_name()), "threaded");
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    backend: Backend,
    threads: Option<usize>,
    single_threaded: bool,
    async_limit: usize,
    concurrent_limit: usize,
    deadlock_grace: Option<Duration>,
    fiber_stack_size: usize,
    fiber_limit: usize,
    resolver: crate::net::ResolverConfig,
}

impl Builder {
    /// The stack size of each fiber on the uring backend (default 256 KiB). Stacks are mapped
    /// lazily: a fiber costs the pages it touches, plus a guard page that costs no memory.
    pub fn fiber_stack_size(mut self, bytes: usize) -> Self {
        self.fiber_stack_size = bytes;
        self
    }

    /// How many fibers may exist at once on each event loop of the uring backend (default
    /// 1 000 000; each loop has its own stack pool, so `threads(N)` allows N times as many in
    /// all); past it on the loop that spawns —
    /// or earlier, when another stack would not leave headroom under `RLIMIT_AS` —
    /// `io_concurrent!` returns [`ConcurrencyUnavailable`](crate::ConcurrencyUnavailable) and
    /// `io_async!` runs inline.
    pub fn fiber_limit(mut self, fibers: usize) -> Self {
        self.fiber_limit = fibers;
        self
    }

    /// How long every task must have been blocked on the runtime's primitives, with nothing
    /// able to wake them, before the runtime panics with a deadlock report naming each one
    /// (default 500 ms; `None` turns diagnosis off). Timers, operations in flight and runnable
    /// tasks can wake a task, so nothing is reported while any exists. Neither is anything
    /// while the process has a thread outside the runtime (one the program started itself,
    /// e.g. a Ctrl-C handler): it may still wake a task, so the runtime prints a note on stderr
    /// once and keeps waiting.
    pub fn deadlock_grace(mut self, grace: Option<Duration>) -> Self {
        self.deadlock_grace = grace;
        self
    }

    /// Where [`net::lookup_host`](crate::net::lookup_host) (and every `bind` or `connect` given
    /// a name) reads the hosts file and resolv.conf (default:
    /// [`ResolverConfig::system`](crate::net::ResolverConfig::system), `/etc/hosts` and
    /// `/etc/resolv.conf`). Tests point it at files of their own and a nameserver they run.
    ///
    /// # Examples
    /// ```
    /// use io::net::ResolverConfig;
    ///
    /// let dir = std::env::temp_dir()
    ///     .join(format!("io-doc-builder-resolver-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("hosts"), "10.1.2.3 printer\n").unwrap();
    /// let runtime = io::Runtime::builder()
    ///     .threads(1)
    ///     .resolver(ResolverConfig::from_files(dir.join("hosts"), dir.join("no-resolv.conf")))
    ///     .build()
    ///     .unwrap();
    /// let first = runtime.run(|io| io::net::lookup_host(io, ("printer", 631)).unwrap().next());
    /// assert_eq!(first, Some("10.1.2.3:631".parse().unwrap()));
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn resolver(mut self, config: crate::net::ResolverConfig) -> Self {
        self.resolver = config;
        self
    }

    /// Chooses the backend (default: [`Backend::Auto`]).
    ///
    /// # Examples
    /// ```
    /// let builder = io::Runtime::builder().threads(1);
    /// let runtime = builder.backend(io::Backend::Threaded).build().unwrap();
    /// assert_eq!(runtime.run(|io| io.backend_name()), "threaded");
    /// ```
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Sets the number of worker threads (default: the machine's parallelism) — on the uring
    /// backend, the number of event loops, each on its own thread with its own ring. Must be
    /// at least 1; use [`single_threaded`](Self::single_threaded) for none.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// // Two workers: two concurrent tasks beside the root.
    /// let both = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let a = s.spawn_concurrent(|| 1).unwrap();
    ///         let b = s.spawn_concurrent(|| 2).unwrap();
    ///         a.join(io) + b.join(io)
    ///     })
    /// });
    /// assert_eq!(both, 3);
    /// assert!(io::Runtime::builder().threads(0).build().is_err());
    /// ```
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self.single_threaded = false;
        self
    }

    /// No worker threads at all: async tasks run inline and `io_concurrent!` returns
    /// [`ConcurrencyUnavailable`](crate::ConcurrencyUnavailable).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().single_threaded().build().unwrap();
    /// let (inline, concurrent) = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let here = std::thread::current().id();
    ///         let inline = s.spawn_async(move || std::thread::current().id() == here).join(io);
    ///         (inline, s.spawn_concurrent(|| ()).is_ok())
    ///     })
    /// });
    /// assert_eq!((inline, concurrent), (true, false));
    /// ```
    pub fn single_threaded(mut self) -> Self {
        self.single_threaded = true;
        self
    }

    /// How many async tasks may be queued or running on workers at once; beyond it an async
    /// spawn runs inline on its caller. `0` makes every async task run inline (deterministic).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).async_limit(0).build().unwrap();
    /// let inline = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let here = std::thread::current().id();
    ///         s.spawn_async(move || std::thread::current().id() == here).join(io)
    ///     })
    /// });
    /// assert!(inline);
    /// ```
    pub fn async_limit(mut self, limit: usize) -> Self {
        self.async_limit = limit;
        self
    }

    /// How many concurrent tasks may run at once; beyond it `io_concurrent!` returns
    /// [`ConcurrencyUnavailable`](crate::ConcurrencyUnavailable). `0` refuses every one.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).concurrent_limit(1).build().unwrap();
    /// let (first, second) = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let nap = || io.sleep(std::time::Duration::from_millis(20), io::Clock::Awake);
    ///         let first = s.spawn_concurrent(nap);
    ///         let second = s.spawn_concurrent(|| ()).map(|_| ());
    ///         (first.map(|f| f.join(io)), second)
    ///     })
    /// });
    /// assert_eq!(first, Ok(Ok(())));
    /// assert_eq!(second, Err(io::ConcurrencyUnavailable)); // the first one still ran
    /// ```
    pub fn concurrent_limit(mut self, limit: usize) -> Self {
        self.concurrent_limit = limit;
        self
    }

    /// Builds the runtime and starts its threads.
    ///
    /// # Errors
    /// `threads(0)` (ask for [`single_threaded`](Self::single_threaded) instead), an
    /// unavailable backend (the error names why), or a failure to start a thread.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// assert_eq!(runtime.run(|_io| 6 * 7), 42);
    /// let error = io::Runtime::builder().threads(0).build().unwrap_err();
    /// assert!(error.to_string().contains("at least 1 worker thread"), "{error}");
    /// ```
    pub fn build(self) -> Result<Runtime, BuildError> {
        crate::fork::reset_in_children();
        let settings = Settings {
            kind: self.backend,
            workers: self.worker_count()?,
            single_threaded: self.single_threaded,
            async_limit: self.async_limit,
            concurrent_limit: self.concurrent_limit,
            stack_size: self.fiber_stack_size,
            max_fibers: self.fiber_limit,
        };
        let make_backend = backend::choose(&settings).map_err(BuildError::new)?;
        let shared = Arc::new_cyclic(|weak| Shared {
            id: handle::new_id(),
            backend: make_backend(ThreadEnv::new(weak.clone())),
            monitor: Monitor::new(self.deadlock_grace),
            offload: offload::Pool::new(ThreadEnv::new(weak.clone())),
            resolver: self.resolver,
        });
        handle::register(&shared);
        let runtime = Runtime { shared };
        runtime
            .shared
            .backend
            .start()
            .map_err(|e| BuildError::new(format!("cannot start the worker threads: {e}")))?;
        Ok(runtime)
    }

    fn worker_count(&self) -> Result<usize, BuildError> {
        if self.single_threaded {
            return Ok(0);
        }
        match self.threads {
            Some(0) => Err(BuildError::new(
                "a threaded runtime needs at least 1 worker thread; call single_threaded() for none",
            )),
            Some(n) => Ok(n),
            None => Ok(std::thread::available_parallelism().map_or(1, usize::from)),
        }
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            backend: Backend::Auto,
            threads: None,
            single_threaded: false,
            async_limit: usize::MAX,
            concurrent_limit: usize::MAX,
            deadlock_grace: Some(Duration::from_millis(500)),
            fiber_stack_size: 256 * 1024,
            fiber_limit: 1_000_000,
            resolver: crate::net::ResolverConfig::system(),
        }
    }
}

/// Owns a backend and its threads. Dropping it stops them; every [`Io`] it handed out then
/// panics when used.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let answer = runtime.run(|io| {
///     io::scope!(io, {
///         let a = io::io_async!(u64::pow(6, 2));
///         a.join(io) + 6
///     })
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("backend", &self.shared.backend.name())
            .finish()
    }
}

impl Runtime {
    /// A builder with the defaults: [`Backend::Auto`], one worker per CPU, no limits.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().build().unwrap(); // one worker per CPU
    /// assert!(["uring", "threaded"].contains(&runtime.run(|io| io.backend_name())));
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Runs `f` as the root task of this runtime, on the calling thread, and returns its
    /// result.
    ///
    /// # Panics
    /// Resumes a panic of `f`; panics with a deadlock report when every task is blocked and
    /// nothing can wake any of them; and refuses to run on a thread that drives an io_uring
    /// runtime's event loop (a task of it), which this call would stop.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let caller = std::thread::current().id();
    /// let (result, on_caller) = runtime.run(|io| {
    ///     io.sleep(std::time::Duration::from_millis(1), io::Clock::Awake).unwrap();
    ///     (6 * 7, std::thread::current().id() == caller)
    /// });
    /// assert_eq!((result, on_caller), (42, true));
    /// // A runtime runs one root after another.
    /// assert_eq!(runtime.run(|_io| "again"), "again");
    /// ```
    #[track_caller]
    pub fn run<R>(&self, f: impl FnOnce(Io) -> R) -> R {
        assert!(carrier::owns_thread(), "{NESTED_RUN}");
        let root = Arc::new(TaskCtx::new(Location::caller()));
        let io = Io::new(&self.shared);
        let monitor = &self.shared.monitor;
        let mut f = Some(f);
        let mut result = None;
        let mut body = || {
            let f = f.take().expect("io: the root task runs once");
            result = Some(monitor.running_root(&root, || task::enter(&root, || f(io))));
        };
        handle::enter_runtime(&self.shared, || self.shared.backend.block_on(&mut body));
        // What this thread kept of its tasks' memory for the next spawns goes back now: a run
        // leaves the calling thread as it found it.
        task::release_thread_caches();
        result.expect("io: the backend returned before the root task finished")
    }

    /// The [`Io`] of this runtime, for use on threads inside it.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let io = runtime.io();
    /// // The handle is the one `run` passes to its root.
    /// assert_eq!(runtime.run(|root| root.backend_name()), io.backend_name());
    /// ```
    pub fn io(&self) -> Io {
        Io::new(&self.shared)
    }
}

/// Why `Runtime::run` refuses to run on a thread its task shares (an event loop's).
const NESTED_RUN: &str = "io: Runtime::run called from a task of an io_uring runtime: it would \
    stop that runtime's event loop until it returns, and hang for good if its root waits for a \
    task of the outer runtime. Use the Io you already have, or run the other runtime on \
    another thread (io.offload(|| runtime.run(…)))";

impl Drop for Runtime {
    fn drop(&mut self) {
        handle::unregister(self.shared.id);
        self.shared.backend.shutdown();
        self.shared.offload.shutdown();
        self.shared.monitor.shutdown();
    }
}
