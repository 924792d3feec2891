//! [`Registry`]: the tasks of a scope that no handle has released yet, split so that the
//! scope's owner thread registers and releases its own tasks without a lock or any other
//! read-modify-write.
//!
//! # The split
//! A scope is created on one OS thread, its *owner* (`Scope::new`; a started task never changes
//! threads: a thread-pool task runs on one worker to its end, and a uring fiber stays on the loop
//! that started it, see `backend/uring/README.md`). That thread makes almost every spawn and
//! release: the body spawns, joins inline and drops its handles there. Other threads reach the
//! registry only through a `&Scope` or a handle that the body shared with them (a
//! `std::thread::scope` inside the body, a task of an inner scope that was given the handle).
//!
//! - `own` holds the slots that the owner thread registered. Only the owner thread reads or
//!   writes it while the scope's body runs, with plain loads and stores; the scope's end takes it
//!   through `&mut` (`drain_newest_first`).
//! - `shared`, behind a spin lock, holds the slots that other threads registered, and the own
//!   slots that other threads released (`handed`): such a release cannot touch `own`, so it
//!   hands the slot to the owner, which frees it at its next spawn (`handed` is a hint to look)
//!   or when the scope ends. Until then the registry keeps its reference, which only delays the
//!   cell's free.
//!
//! A slot number says which part it is in (its low bit), so any thread releases a slot of the
//! other part correctly.
//!
//! # Why `own` is never touched by two threads at once
//! 1. Every access to `own` through `&self` happens on the thread whose number is `owner`
//!    (`this_thread` is a per-thread number that is never reused), inside `insert` or `remove`,
//!    in a section that calls no user code, never suspends a fiber and never re-enters the
//!    registry (dropping a released task, which may run user code, happens after the section).
//!    Two such sections run on one OS thread, so they never overlap (the cancel signal's handler
//!    does not touch registries).
//! 2. Every other thread goes to `shared`, under its lock.
//! 3. `drain_newest_first` takes `&mut self`: the scope's `Drop` calls it, when every `&Scope`
//!    and every handle (which borrow the scope) are gone, so no `insert` or `remove` can run.
//!
//! Ordering of spawns across the parts (the scope's end joins newest first): an own slot is
//! stamped `(n, 0)` with the owner's spawn count `n`, a shared slot `(n', k)` with the owner's
//! count that its spawner last saw and a count `k ≥ 1` of shared spawns. A spawn that happens
//! after another (through any synchronisation) therefore gets a larger stamp, in either part.
//!
//! The hand-off is checked by a loom model (`loom_tests` below).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::loom::{AtomicBool, AtomicUsize};
use crate::spin_lock::SpinLock;

/// A spawn's place in the scope's order: the owner's spawn count, then a count of other
/// threads' spawns (0 for the owner's own).
type Stamp = (usize, u64);

/// Slots in one part of the registry, and the free ones among them.
struct Slots<T> {
    slots: Vec<Option<(Stamp, T)>>,
    free: Vec<usize>,
}

impl<T> Slots<T> {
    const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    fn insert(&mut self, stamp: Stamp, task: T) -> usize {
        match self.free.pop() {
            Some(slot) => {
                let place = &mut self.slots[slot];
                debug_assert!(place.is_none(), "io: a free registry slot held a task");
                // A free slot is empty (`remove` took its task): nothing to drop. Built in
                // place from the arguments, not from a copy on the stack, which the processor
                // would have to read back before the copy's stores reached it.
                // SAFETY: `place` is a valid, aligned slot; overwriting its `None` leaks nothing.
                unsafe { std::ptr::write(place, Some((stamp, task))) };
                slot
            }
            None => {
                self.slots.push(Some((stamp, task)));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, slot: usize) -> Option<T> {
        let (_, task) = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(task)
    }
}

/// What other threads share, under the lock.
struct Shared<T> {
    slots: Slots<T>,
    /// Own slots that another thread released: the owner frees them.
    handed: Vec<usize>,
    spawned: u64,
}

/// A scope's tasks that no handle has released yet; see the module documentation.
pub(crate) struct Registry<T> {
    owner: u64,
    /// Only the owner thread touches it (see "Why `own` is never touched by two threads").
    own: OwnCell<Slots<T>>,
    /// The owner's spawn count; only the owner writes it.
    own_spawned: AtomicUsize,
    shared: SpinLock<Shared<T>>,
    /// Whether `shared.handed` may be non-empty (a hint: the list itself is read under the lock).
    handed: AtomicBool,
}

// SAFETY: `own` is only reached by one thread at a time (the module documentation's three
// points), `shared` through its lock; a task put in by one thread may be dropped by another,
// which `T: Send` allows.
unsafe impl<T: Send> Sync for Registry<T> {}

/// The part bit of a slot number.
const SHARED: usize = 1;

impl<T> Registry<T> {
    /// An empty registry owned by the calling thread.
    pub(crate) fn new() -> Self {
        Self::owned_by(this_thread())
    }

    fn owned_by(owner: u64) -> Self {
        Self {
            owner,
            own: OwnCell::new(Slots::new()),
            own_spawned: AtomicUsize::new(0),
            shared: SpinLock::new(Shared {
                slots: Slots::new(),
                handed: Vec::new(),
                spawned: 0,
            }),
            handed: AtomicBool::new(false),
        }
    }

    /// Whether the calling thread is the scope's owner, the one thread that ends it.
    pub(crate) fn is_owner(&self) -> bool {
        self.owner == this_thread()
    }

    /// Registers `task`; the slot number releases it.
    pub(crate) fn insert(&self, task: T) -> usize {
        // SAFETY: `this_thread` is the calling thread's number.
        unsafe { self.insert_as(this_thread(), task) }
    }

    /// Takes the task of `slot` out, for the caller to drop; `None` if the slot is the owner's
    /// and this is another thread (the owner frees it).
    pub(crate) fn remove(&self, slot: usize) -> Option<T> {
        // SAFETY: `this_thread` is the calling thread's number.
        unsafe { self.remove_as(this_thread(), slot) }
    }

    /// `insert` on the thread numbered `me`.
    ///
    /// # Safety
    /// `me` is the calling thread's number (two threads never call with the same `me`).
    unsafe fn insert_as(&self, me: u64, task: T) -> usize {
        if me != self.owner {
            let mut shared = self.shared.lock();
            shared.spawned += 1;
            let stamp = (self.own_spawned.load(Ordering::Relaxed), shared.spawned);
            return shared.slots.insert(stamp, task) << 1 | SHARED;
        }
        if self.handed.load(Ordering::Relaxed) {
            self.free_handed();
        }
        // Only the owner writes the count, so a load and a store make the increment.
        let spawned = self.own_spawned.load(Ordering::Relaxed) + 1;
        self.own_spawned.store(spawned, Ordering::Relaxed);
        // SAFETY: this is the owner thread (`me`, by the contract), and the section calls no
        // user code and does not suspend: see the module documentation, point 1.
        let slot = unsafe { self.own.with_mut(|own| own.insert((spawned, 0), task)) };
        slot << 1
    }

    /// `remove` on the thread numbered `me`.
    ///
    /// # Safety
    /// As for `insert_as`.
    unsafe fn remove_as(&self, me: u64, slot: usize) -> Option<T> {
        let index = slot >> 1;
        if slot & SHARED != 0 {
            return self.shared.lock().slots.remove(index);
        }
        if me != self.owner {
            self.shared.lock().handed.push(index);
            self.handed.store(true, Ordering::Relaxed);
            return None;
        }
        // SAFETY: the owner thread, as in `insert_as`.
        unsafe { self.own.with_mut(|own| own.remove(index)) }
    }

    /// Frees the own slots that other threads released (on the owner thread).
    #[cold]
    fn free_handed(&self) {
        let handed = {
            let mut shared = self.shared.lock();
            self.handed.store(false, Ordering::Relaxed);
            std::mem::take(&mut shared.handed)
        };
        // SAFETY: only `insert_as` calls this, on the owner thread (point 1).
        let tasks: Vec<T> = unsafe {
            self.own
                .with_mut(|own| handed.iter().filter_map(|&i| own.remove(i)).collect())
        };
        drop(tasks);
    }

    /// Takes every task not released yet, newest first; the released ones that the owner had
    /// not freed yet are dropped.
    pub(crate) fn drain_newest_first(&mut self) -> Vec<T> {
        let shared = self.shared.get_mut();
        let own = self.own.get_mut();
        let released: Vec<T> = shared
            .handed
            .drain(..)
            .filter_map(|i| own.remove(i))
            .collect();
        drop(released);
        self.handed.store(false, Ordering::Relaxed);
        let mut tasks: Vec<(Stamp, T)> = own.slots.drain(..).flatten().collect();
        tasks.extend(shared.slots.slots.drain(..).flatten());
        own.free.clear();
        shared.slots.free.clear();
        tasks.sort_by_key(|(stamp, _)| std::cmp::Reverse(*stamp));
        tasks.into_iter().map(|(_, task)| task).collect()
    }
}

/// The calling thread's number: assigned on first use, never 0, never reused.
pub(crate) fn this_thread() -> u64 {
    thread_local! {
        static THREAD: Cell<u64> = const { Cell::new(0) };
    }
    static NEXT: AtomicU64 = AtomicU64::new(1);
    THREAD.with(|thread| match thread.get() {
        0 => {
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            thread.set(id);
            id
        }
        id => id,
    })
}

/// The owner's part: a plain cell, or loom's (which checks that accesses never overlap) in the
/// loom models.
#[cfg(not(all(test, loom)))]
struct OwnCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(all(test, loom)))]
impl<T> OwnCell<T> {
    const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// # Safety
    /// No other access to the value overlaps this one.
    unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: exclusive for the duration of `f`, by the caller's contract.
        f(unsafe { &mut *self.0.get() })
    }

    fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

#[cfg(all(test, loom))]
struct OwnCell<T>(loom::cell::UnsafeCell<T>);

#[cfg(all(test, loom))]
impl<T> OwnCell<T> {
    fn new(value: T) -> Self {
        Self(loom::cell::UnsafeCell::new(value))
    }

    unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: exclusive by the caller's contract, which loom checks.
        self.0.with_mut(|value| f(unsafe { &mut *value }))
    }

    fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` is exclusive.
        self.0.with_mut(|value| unsafe { &mut *value })
    }
}

/// Loom model of the split: the owner registers and releases on its own part while another
/// thread registers, releases its own slot and releases one of the owner's; each task's memory
/// is written by its releaser and read when it is dropped. Fails if a non-owner thread touches
/// the owner's part (the `me != owner` checks of `insert_as` or `remove_as` removed), or if a
/// handed slot is never freed (the hand-off or the owner's look at `handed` removed).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// A task: memory its releaser writes (the result taken) and its drop reads.
    struct Task {
        memory: UnsafeCell<u64>,
        dropped: Arc<AtomicUsize>,
    }

    // SAFETY: the model's accesses to `memory` are what loom checks.
    unsafe impl Send for Task {}
    // SAFETY: as above.
    unsafe impl Sync for Task {}

    impl Drop for Task {
        fn drop(&mut self) {
            self.memory.with(|value| {
                // SAFETY: loom checks that no write overlaps.
                assert_ne!(unsafe { *value }, 0);
            });
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn task(dropped: &Arc<AtomicUsize>) -> (Arc<Task>, Arc<Task>) {
        let task = Arc::new(Task {
            memory: UnsafeCell::new(1),
            dropped: dropped.clone(),
        });
        (task.clone(), task)
    }

    fn take_result(task: &Task) {
        // SAFETY: the releaser is the only user of the task's memory until it releases it.
        task.memory.with_mut(|value| unsafe { *value = 7 });
    }

    const OWNER: u64 = 1;
    const OTHER: u64 = 2;

    #[test]
    fn registry_hand_off() {
        crate::loom::model(|| {
            let dropped = Arc::new(AtomicUsize::new(0));
            let registry = Arc::new(Registry::owned_by(OWNER));
            let (handle, registered) = task(&dropped);
            // SAFETY: each thread of the model passes its own number.
            let handed = unsafe { registry.insert_as(OWNER, registered) };
            let other = {
                let (registry, dropped) = (registry.clone(), dropped.clone());
                thread::spawn(move || {
                    // A foreign spawn and join, and the release of the owner's task.
                    let (mine, registered) = task(&dropped);
                    // SAFETY: as above.
                    let slot = unsafe { registry.insert_as(OTHER, registered) };
                    take_result(&mine);
                    drop(mine);
                    // SAFETY: as above.
                    drop(unsafe { registry.remove_as(OTHER, slot) });
                    take_result(&handle);
                    drop(handle);
                    // SAFETY: as above.
                    assert!(unsafe { registry.remove_as(OTHER, handed) }.is_none());
                })
            };
            // The owner's own spawn and join meanwhile.
            let (mine, registered) = task(&dropped);
            // SAFETY: as above.
            let slot = unsafe { registry.insert_as(OWNER, registered) };
            take_result(&mine);
            drop(mine);
            // SAFETY: as above.
            drop(unsafe { registry.remove_as(OWNER, slot) });
            other.join().unwrap();
            // The handed slot too, if the owner's spawn came after the hand-off.
            assert!(
                dropped.load(Ordering::Relaxed) >= 2,
                "the owner's and the other's"
            );
            // The owner's next spawn frees the handed slot.
            let (last, registered) = task(&dropped);
            // SAFETY: as above.
            unsafe { registry.insert_as(OWNER, registered) };
            assert_eq!(
                dropped.load(Ordering::Relaxed),
                3,
                "the handed slot was freed"
            );
            drop(last);
            let mut registry = Arc::try_unwrap(registry).ok().expect("only reference");
            let rest = registry.drain_newest_first();
            assert_eq!(rest.len(), 1);
            drop(rest);
            assert_eq!(dropped.load(Ordering::Relaxed), 4);
        });
    }
}
