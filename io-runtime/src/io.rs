//! The [`Io`] handle: a small `Copy` value naming a runtime, passed through the program the way
//! an allocator is.
//!
//! # Validity
//! `Io` holds a raw pointer to the runtime's shared state and the runtime's id. The pointer is
//! dereferenced only on a thread that is known to hold the runtime alive: its worker threads
//! and the thread inside [`Runtime::run`](crate::Runtime::run) mark themselves with the id in a
//! thread-local. Any other thread goes through a registry of weak references, so an `Io` used
//! after its runtime was dropped panics with a clear message instead of touching freed memory.

use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::backend::Backend;
use crate::monitor::Monitor;

/// The state a runtime shares with every `Io` and worker thread.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) backend: Box<dyn Backend>,
    pub(crate) monitor: Arc<Monitor>,
    /// The threads of `Io::offload` (started on demand).
    pub(crate) offload: crate::offload::Pool,
    /// Where name lookups read the hosts file and resolv.conf.
    pub(crate) resolver: crate::net::ResolverConfig,
}

/// The handle to a runtime, passed by value to everything that does I/O or spawns tasks.
///
/// Library code takes `io: Io` and never knows which backend runs it.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use io::{Clock, Io, Runtime};
///
/// fn nap(io: Io) -> Result<(), io::Canceled> {
///     io.sleep(Duration::from_millis(1), Clock::Awake)
/// }
///
/// let runtime = Runtime::builder().threads(1).build().unwrap();
/// runtime.run(|io| nap(io)).unwrap();
/// ```
///
/// # Panics
/// Every method panics if the runtime that made this `Io` was dropped.
#[derive(Clone, Copy)]
pub struct Io {
    shared: NonNull<Shared>,
    id: u64,
}

// SAFETY: `Io` only dereferences `shared` after proving the runtime alive for the current
// thread (see the module documentation); `Shared` itself is Send + Sync.
unsafe impl Send for Io {}
// SAFETY: as above; `Io` has no interior mutability of its own.
unsafe impl Sync for Io {}

impl fmt::Debug for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io").field("runtime", &self.id).finish()
    }
}

thread_local! {
    /// The id of the runtime whose thread this is (0: none).
    static CURRENT_RUNTIME: Cell<u64> = const { Cell::new(0) };
    /// The shared state of that runtime (null: none).
    static CURRENT_SHARED: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
}

/// In the child of a `fork` (see `crate::fork`): the thread belongs to no runtime. The
/// parent's runtime, of which the child has a copy without its threads, is not one this thread
/// may take the fast path into. Only stores to `const` thread-locals without destructor.
pub(crate) fn reset_after_fork() {
    CURRENT_RUNTIME.set(0);
    CURRENT_SHARED.set(std::ptr::null());
}

/// Calls `f` with the deadlock monitor of the runtime this thread belongs to, if any.
pub(crate) fn with_monitor<R>(f: impl FnOnce(Option<&Monitor>) -> R) -> R {
    let shared = CURRENT_SHARED.with(Cell::get);
    if shared.is_null() {
        f(None)
    } else {
        // SAFETY: `enter_runtime` holds a strong reference while the pointer is current.
        f(Some(unsafe { &(*shared).monitor }))
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static REGISTRY: Mutex<Vec<(u64, Weak<Shared>)>> = Mutex::new(Vec::new());

impl Io {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        Self {
            shared: NonNull::from(&**shared),
            id: shared.id,
        }
    }

    /// Calls `f` with the runtime's shared state, proving it alive first.
    pub(crate) fn with<R>(self, f: impl FnOnce(&Shared) -> R) -> R {
        if CURRENT_RUNTIME.with(Cell::get) == self.id {
            // SAFETY: this thread is a worker of the runtime or runs inside `Runtime::run`;
            // either holds a strong reference for as long as the mark is set.
            return f(unsafe { self.shared.as_ref() });
        }
        let shared = lookup(self.id).unwrap_or_else(|| {
            panic!("io: this Io belongs to a Runtime that was dropped; an Io must not outlive its Runtime")
        });
        f(&shared)
    }

    /// The name of the backend that runs this `Io` (`"threaded"` or `"uring"`).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().backend(io::Backend::Threaded).build().unwrap();
    /// assert_eq!(runtime.run(|io| io.backend_name()), "threaded");
    /// ```
    pub fn backend_name(self) -> &'static str {
        self.with(|shared| shared.backend.name())
    }
}

pub(crate) fn new_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn register(shared: &Arc<Shared>) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    registry.retain(|(_, weak)| weak.strong_count() > 0);
    registry.push((shared.id, Arc::downgrade(shared)));
}

pub(crate) fn unregister(id: u64) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    registry.retain(|(other, _)| *other != id);
}

fn lookup(id: u64) -> Option<Arc<Shared>> {
    let registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    registry
        .iter()
        .find(|(other, _)| *other == id)
        .and_then(|(_, weak)| weak.upgrade())
}

/// Marks the current thread as belonging to the runtime `shared` while `f` runs, holding a
/// strong reference so that `Io::with` may take its fast path.
pub(crate) fn enter_runtime<R>(shared: &Arc<Shared>, f: impl FnOnce() -> R) -> R {
    struct Leave(u64, *const Shared);
    impl Drop for Leave {
        fn drop(&mut self) {
            CURRENT_RUNTIME.with(|c| c.set(self.0));
            CURRENT_SHARED.with(|c| c.set(self.1));
        }
    }
    let _hold = Arc::clone(shared);
    // A thread inside the runtime is not one that could wake its tasks from outside.
    let _own = shared.monitor.enter_thread();
    let previous = CURRENT_RUNTIME.with(|c| c.replace(shared.id));
    let previous_shared = CURRENT_SHARED.with(|c| c.replace(Arc::as_ptr(shared)));
    let _leave = Leave(previous, previous_shared);
    f()
}

/// What a backend's threads need to join their runtime: a weak link to the shared state,
/// upgraded for the thread's lifetime.
#[derive(Clone)]
pub(crate) struct ThreadEnv {
    shared: Weak<Shared>,
}

impl ThreadEnv {
    pub(crate) fn new(shared: Weak<Shared>) -> Self {
        Self { shared }
    }

    /// Runs a backend thread's body inside the runtime (or not at all if it is gone).
    pub(crate) fn run_thread(&self, body: impl FnOnce()) {
        if let Some(shared) = self.shared.upgrade() {
            enter_runtime(&shared, body);
        }
    }
}
