//! Task cells: the counted, type-erased allocation of a spawned task — what run queues, a
//! scope's registry and a group hold ([`TaskRef`], in place of an `Arc<dyn RawTask>`) — with
//! its memory recycled through a per-thread cache instead of going back to `malloc` at once.
//!
//! # Why not `Arc`
//! A batch of spawns followed by a batch of joins allocates and frees a thousand cells at a
//! time, which misses the allocator's small per-thread cache: `malloc`/`free` were a third of
//! the time of such a batch. A cell's memory therefore goes to a per-thread cache of blocks by
//! size class when its last reference is dropped, and the next spawn on that thread takes it
//! from there. `Arc` cannot do that on stable Rust (its allocator is not pluggable), so this
//! is a small `Arc` of its own: a count ([`RefCount`]) in front of the task.
//!
//! # How much memory the cache keeps
//! Up to [`KEEP`] blocks per thread, and up to [`KEEP_IN_SCOPE`] while a scope is open on the
//! thread; when a scope ends, its thread trims its cache back to [`KEEP`] (see
//! [`scope_closed`]). So what a scope's end does not give back stays within 64 blocks per
//! thread (`tests/compose_memory.rs` and `tests/group_memory.rs` hold it to that), while a
//! scope that spawns and joins in batches reuses the cells of one batch for the next. The
//! contexts of finished tasks follow the same rule (`task::OwnedCtx`).

use std::alloc::{self, Layout};
use std::cell::Cell as StdCell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering;

use crate::loom::AtomicUsize;
use crate::task::RawTask;

/// Blocks (and spare task contexts) a thread keeps outside scopes, and after a scope ended.
pub(crate) const KEEP: usize = 64;

/// Blocks (and spare task contexts) a thread keeps while a scope is open on it: a batch of a
/// thousand spawns and joins reuses the previous batch's cells.
pub(crate) const KEEP_IN_SCOPE: usize = 1024;

/// Size classes of the cache: multiples of `GRAIN` bytes up to `GRAIN * CLASSES`, aligned to
/// `ALIGN`. Larger or more strictly aligned cells use the allocator directly.
const GRAIN: usize = 32;
const CLASSES: usize = 32;
const ALIGN: usize = 16;

/// The reference count of a cell: `Arc`'s protocol. A clone increments it (`Relaxed`: the
/// clone's holder already has a reference); a drop decrements it with `AcqRel`, so the holder
/// that drops the last reference sees every other holder's use of the cell (their decrements
/// release it) before it frees the cell. The last reference skips the read-modify-write: a
/// holder that reads a count of one (`Acquire`, which syncs with every earlier decrement) holds
/// the only reference, and nobody can make another without one. A loom model checks both ways
/// (`loom_tests`).
pub(crate) struct RefCount(AtomicUsize);

impl RefCount {
    /// A count of `references` references, all held by the caller.
    pub(crate) fn with(references: usize) -> Self {
        Self(AtomicUsize::new(references))
    }

    /// Adds a reference (the caller holds one already).
    pub(crate) fn acquire(&self) {
        let old = self.0.fetch_add(1, Ordering::Relaxed);
        // As `Arc`: a count this high means references were leaked in a loop; wrapping around
        // would free a cell still in use.
        if old > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Whether the caller's `references` are all the references there are (`Acquire`, like the
    /// load in [`release`](Self::release): every other holder's use of the cell happened
    /// before). Nobody can make another reference without holding one, so the answer stays true.
    pub(crate) fn holds_only(&self, references: usize) -> bool {
        self.0.load(Ordering::Acquire) == references
    }

    /// Drops a reference; `true` if it was the last, whose holder may then free the cell.
    pub(crate) fn release(&self) -> bool {
        self.0.load(Ordering::Acquire) == 1 || self.0.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

#[repr(C)]
struct Cell<R: ?Sized> {
    count: RefCount,
    task: R,
}

/// A counted reference to a task cell, as the run queues hold it (like an `Arc<dyn RawTask>`).
pub(crate) struct TaskRef {
    ptr: NonNull<Cell<dyn RawTask>>,
    _owns: PhantomData<Cell<dyn RawTask>>,
}

// SAFETY: `RawTask: Send + Sync`, and the count is atomic: like `Arc<dyn RawTask>`, a
// reference may move to and be shared with any thread.
unsafe impl Send for TaskRef {}
// SAFETY: see `Send`.
unsafe impl Sync for TaskRef {}

impl TaskRef {
    /// Makes a new cell (a block from this thread's cache if it has one) whose task `init`
    /// writes in place (it must write all of it, and not panic: a panic leaks the block), and
    /// returns two references to it — one for the registry of the task's owner and one for the backend,
    /// without the read-modify-write of a clone — and a typed pointer to the task, valid while
    /// a reference lives.
    ///
    /// # Safety
    /// The cell outlives `'env` as a `'static` trait object. The caller (a scope, or a group or
    /// an offloaded call of one) must wait for the task to finish and drop its result before
    /// `'env` ends, after which the cell holds neither `F` nor `T` (see `scope`'s module
    /// documentation).
    pub(crate) unsafe fn new_pair<'env, R: RawTask + 'env>(
        init: impl FnOnce(*mut R),
    ) -> (Self, Self, NonNull<R>) {
        // SAFETY: forwarded to the caller.
        let (first, typed) = unsafe { Self::with_count(init, 2) };
        let second = Self {
            ptr: first.ptr,
            _owns: PhantomData,
        };
        (first, second, typed)
    }

    /// # Safety
    /// As [`new_pair`](Self::new_pair); the caller makes `count` references of the one
    /// returned.
    unsafe fn with_count<'env, R: RawTask + 'env>(
        init: impl FnOnce(*mut R),
        count: usize,
    ) -> (Self, NonNull<R>) {
        let layout = Layout::new::<Cell<R>>();
        let cell = allocate(layout).cast::<Cell<R>>();
        // SAFETY: `allocate` returned a block valid for `layout`, which is `Cell<R>`'s: its
        // fields may be written in place.
        let task = unsafe {
            ptr::addr_of_mut!((*cell.as_ptr()).count).write(RefCount::with(count));
            ptr::addr_of_mut!((*cell.as_ptr()).task)
        };
        init(task);
        // SAFETY: a field of an allocated block, so not null.
        let typed = unsafe { NonNull::new_unchecked(task) };
        let erased: NonNull<Cell<dyn RawTask + 'env>> = cell;
        // SAFETY: only the trait object's lifetime bound changes, not the layout of the fat
        // pointer; the caller's contract makes the longer lifetime harmless.
        let ptr = unsafe {
            std::mem::transmute::<NonNull<Cell<dyn RawTask + 'env>>, NonNull<Cell<dyn RawTask>>>(
                erased,
            )
        };
        (
            Self {
                ptr,
                _owns: PhantomData,
            },
            typed,
        )
    }

    /// Drops two references at once: when they are the cell's only two, with one load instead
    /// of two read-modify-writes (a joiner that holds its task's registration and its start).
    pub(crate) fn drop_pair(first: Self, second: Self) {
        if !ptr::addr_eq(first.ptr.as_ptr(), second.ptr.as_ptr())
            || !first.cell().count.holds_only(2)
        {
            // Dropped one by one as they leave this call.
            return;
        }
        let first = ManuallyDrop::new(first);
        std::mem::forget(second);
        // SAFETY: the two references are the only ones (checked above, `Acquire`: every other
        // holder's use of the cell happened before), both given up here.
        unsafe { first.free() };
    }

    /// Drops the task and recycles the cell's memory.
    ///
    /// # Safety
    /// The caller gives up the last references to the cell, after every other holder's use of
    /// it happened before (an `Acquire` that read their release of the count).
    unsafe fn free(&self) {
        let layout = Layout::for_value(self.cell());
        // SAFETY: the caller's contract: nothing reads the task any more, and it is dropped
        // once.
        unsafe { ptr::drop_in_place(ptr::addr_of_mut!((*self.ptr.as_ptr()).task)) };
        // SAFETY: the block came from `allocate` with this very layout (`Layout::for_value` of
        // the cell is `Layout::new` of its concrete type), and its contents are dropped.
        unsafe { recycle(self.ptr.cast::<u8>(), layout) };
    }

    fn cell(&self) -> &Cell<dyn RawTask> {
        // SAFETY: this reference keeps the cell alive (its count is at least one).
        unsafe { self.ptr.as_ref() }
    }
}

impl Deref for TaskRef {
    type Target = dyn RawTask;

    fn deref(&self) -> &(dyn RawTask + 'static) {
        &self.cell().task
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> Self {
        self.cell().count.acquire();
        Self {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        if self.cell().count.release() {
            // SAFETY: the last reference (the count's `AcqRel` decrement orders every other
            // holder's use before this).
            unsafe { self.free() };
        }
    }
}

/// A free block in the cache; its first bytes link to the next free block of its class.
struct Free {
    next: *mut Free,
}

/// This thread's cache of free blocks, one list per size class.
struct Cache {
    heads: [StdCell<*mut Free>; CLASSES],
    cached: StdCell<usize>,
}

impl Cache {
    /// Takes a block of `class`, if one is cached.
    fn pop(&self, class: usize) -> Option<NonNull<u8>> {
        let head = NonNull::new(self.heads[class].get())?;
        // SAFETY: a cached block is one this cache owns, with a `Free` written at its start.
        self.heads[class].set(unsafe { head.as_ref() }.next);
        self.cached.set(self.cached.get() - 1);
        Some(head.cast())
    }

    /// Keeps `block` of `class` if there is room under `limit`; gives it back otherwise.
    fn push(&self, block: NonNull<u8>, class: usize, limit: usize) -> Result<(), NonNull<u8>> {
        if self.cached.get() >= limit {
            return Err(block);
        }
        let free = block.cast::<Free>();
        // SAFETY: an unused block of at least `GRAIN` bytes aligned to `ALIGN`, owned by the
        // caller, which hands it to the cache.
        unsafe {
            free.as_ptr().write(Free {
                next: self.heads[class].get(),
            });
        }
        self.heads[class].set(free.as_ptr());
        self.cached.set(self.cached.get() + 1);
        Ok(())
    }

    /// Frees cached blocks until at most `keep` remain, largest classes first.
    fn trim(&self, keep: usize) {
        for class in (0..CLASSES).rev() {
            while self.cached.get() > keep {
                let Some(block) = self.pop(class) else {
                    break;
                };
                // SAFETY: a cached block was allocated with its class's layout.
                unsafe { alloc::dealloc(block.as_ptr(), class_layout(class)) };
            }
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.trim(0);
    }
}

thread_local! {
    static CACHE: Cache = const {
        Cache {
            heads: [const { StdCell::new(ptr::null_mut()) }; CLASSES],
            cached: StdCell::new(0),
        }
    };
    /// How many scopes are open on this thread (on any of its fibers).
    static OPEN_SCOPES: StdCell<usize> = const { StdCell::new(0) };
}

/// The size class of a block for `layout`, if the cache serves it.
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN || layout.size() > GRAIN * CLASSES {
        return None;
    }
    Some(layout.size().div_ceil(GRAIN).max(1) - 1)
}

/// The layout of the blocks of `class`.
fn class_layout(class: usize) -> Layout {
    match Layout::from_size_align((class + 1) * GRAIN, ALIGN) {
        Ok(layout) => layout,
        Err(_) => unreachable!("io: size classes are small multiples of a power of two"),
    }
}

/// A block for `layout` (not zero-sized): from this thread's cache if it has one.
fn allocate(layout: Layout) -> NonNull<u8> {
    let layout = match class_of(layout) {
        Some(class) => {
            let cached = CACHE.try_with(|cache| cache.pop(class)).ok().flatten();
            if let Some(block) = cached {
                return block;
            }
            class_layout(class)
        }
        None => layout,
    };
    // SAFETY: `layout` has a non-zero size (a cell holds its count).
    let block = unsafe { alloc::alloc(layout) };
    NonNull::new(block).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// Gives back a block from [`allocate`] for `layout`: to this thread's cache if it has room.
///
/// # Safety
/// `block` came from `allocate(layout)`, and nothing uses it any more.
unsafe fn recycle(block: NonNull<u8>, layout: Layout) {
    let layout = match class_of(layout) {
        Some(class) => {
            let limit = keep_limit();
            let kept = CACHE.try_with(|cache| cache.push(block, class, limit));
            if let Ok(Ok(())) = kept {
                return;
            }
            class_layout(class)
        }
        None => layout,
    };
    // SAFETY: the caller's contract: allocated with this layout (its class's, for a cached
    // class), unused now.
    unsafe { alloc::dealloc(block.as_ptr(), layout) };
}

/// How many blocks (or spare contexts) this thread keeps now: more while a scope is open on it.
pub(crate) fn keep_limit() -> usize {
    match OPEN_SCOPES.try_with(StdCell::get) {
        Ok(0) | Err(_) => KEEP,
        Ok(_) => KEEP_IN_SCOPE,
    }
}

/// A scope opens on this thread: its cache may keep up to [`KEEP_IN_SCOPE`] blocks.
pub(crate) fn scope_opened() {
    let _ = OPEN_SCOPES.try_with(|open| open.set(open.get().saturating_add(1)));
}

/// A scope ended on this thread: the cache gives back what it keeps beyond [`KEEP`], so what
/// a scope's end leaves behind stays small. (Spare contexts are trimmed by the caller,
/// `task::trim_spares`.)
pub(crate) fn scope_closed() {
    let _ = OPEN_SCOPES.try_with(|open| open.set(open.get().saturating_sub(1)));
    let _ = CACHE.try_with(|cache| cache.trim(KEEP));
}

/// Gives back every block this thread's cache keeps (`Runtime::run` returns).
pub(crate) fn release_cache() {
    let _ = CACHE.try_with(|cache| cache.trim(0));
}

/// A loom model of [`RefCount`]: the holder that drops the last reference sees every other
/// holder's use of the cell, whichever thread that is, and exactly one holder frees it. Fails
/// (a causality violation on the cell) when the decrement or the load of a count of one is
/// `Relaxed` (release or acquire half removed), and frees twice or never without the
/// decrement. Run with `RUSTFLAGS="--cfg loom" cargo test -p
/// io-runtime --release --lib loom_tests`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::RefCount;
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;
    use loom::thread;
    use std::sync::atomic::Ordering;

    /// A cell's payload and its count, shared with a raw pointer as `TaskRef` does.
    struct Shared {
        count: RefCount,
        payload: UnsafeCell<u64>,
    }

    /// Drops a reference; the last holder "frees" the payload.
    fn drop_ref(shared: &Shared, frees: &AtomicUsize) {
        if shared.count.release() {
            free(shared, frees);
        }
    }

    /// The free: a write that must come after every holder's use.
    fn free(shared: &Shared, frees: &AtomicUsize) {
        frees.fetch_add(1, Ordering::Relaxed);
        shared.payload.with_mut(|p| {
            // SAFETY: loom checks this access for races: it is the model's assertion.
            unsafe { *p = 0 };
        });
    }

    /// A holder on another thread: uses the payload, then drops its reference.
    fn other_holder(shared: &Arc<Shared>, frees: &Arc<AtomicUsize>) -> thread::JoinHandle<()> {
        let (shared, frees) = (Arc::clone(shared), Arc::clone(frees));
        thread::spawn(move || {
            // SAFETY: loom checks this access for races.
            let value = shared.payload.with(|p| unsafe { *p });
            assert_ne!(value, 0, "used after the free");
            drop_ref(&shared, &frees);
        })
    }

    #[test]
    fn the_last_reference_sees_every_use() {
        crate::loom::model(|| {
            let shared = Arc::new(Shared {
                count: RefCount::with(1),
                payload: UnsafeCell::new(1),
            });
            let frees = Arc::new(AtomicUsize::new(0));
            shared.count.acquire();
            let other = other_holder(&shared, &frees);
            // SAFETY: loom checks this access for races.
            let value = shared.payload.with(|p| unsafe { *p });
            assert_ne!(value, 0, "used after the free");
            drop_ref(&shared, &frees);
            other.join().unwrap();
            assert_eq!(frees.load(Ordering::Relaxed), 1, "freed twice or never");
        });
    }

    /// `TaskRef::drop_pair`: a holder of two references that reads a count of two frees the
    /// cell at once, and must still see the use of a third holder that dropped its reference
    /// on another thread; otherwise it drops its two one by one. Fails when the load is
    /// `Relaxed`.
    #[test]
    fn a_pair_freed_at_once_sees_every_use() {
        crate::loom::model(|| {
            let shared = Arc::new(Shared {
                count: RefCount::with(3),
                payload: UnsafeCell::new(1),
            });
            let frees = Arc::new(AtomicUsize::new(0));
            let other = other_holder(&shared, &frees);
            // Lets the other holder drop its reference first in some executions.
            thread::yield_now();
            if shared.count.holds_only(2) {
                free(&shared, &frees);
            } else {
                drop_ref(&shared, &frees);
                drop_ref(&shared, &frees);
            }
            other.join().unwrap();
            assert_eq!(frees.load(Ordering::Relaxed), 1, "freed twice or never");
        });
    }
}
