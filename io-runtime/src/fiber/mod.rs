//! Stackful fibers: a thin layer over corosensei's `Coroutine`, running on pooled stacks.
//!
//! The uring backend runs each task as a [`Fiber`]. A fiber runs when its scheduler calls
//! [`Fiber::resume`] and parks with [`Suspender::suspend`], which hands control back to that
//! `resume` call. Switching is a register swap on the two stacks: no system call, no allocation.
//! Stacks come from a [`StackPool`] (see [`stack`] for the slab layout and guard pages); a stack
//! overflow hits a guard page and the process aborts with
//! `io: fiber stack overflow in fiber "<name>" (#<id>)` on stderr, never silent corruption.
//! While a fiber owns its stack, the stack is registered with valgrind (see [`valgrind`]; a
//! no-op outside valgrind), so memcheck can run programs on this backend.
//!
//! # States
//!
//! ```text
//!  Fiber::new ──> created ──resume──> running ──suspend──> suspended ──resume──> running ...
//!                    │                   │                    │
//!                    │                   └──returns / panics──┴──> finished (stack back in pool)
//!                    └──drop──> closure dropped, stack back in pool
//!  drop while suspended: the fiber's stack is unwound (destructors run), stack back in pool
//! ```
//!
//! Fibers are `!Send`: a suspended fiber's stack may hold `!Send` values, and its pool is per
//! thread.
//!
//! The module is private to the crate: corosensei's types never appear in io's public API.
//!
//! # Tests
//!
//! The unit tests are in `tests.rs` and `tests/`: among them, the ones that need a process of
//! their own (the stack overflow report, 100 000 suspended fibers, running out of `mprotect`
//! mappings) re-run the test binary as a child. `tests/fiber_bench.rs` is an ignored test that
//! prints rough figures for the stack pool and a context switch:
//!
//! ```text
//! cargo test -p io-runtime --release --lib fiber_bench -- --ignored --nocapture
//! ```
#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    missing_docs
)]

mod overflow;
mod stack;
#[cfg(all(test, not(loom)))]
mod tests;
mod valgrind;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use corosensei::{Coroutine, CoroutineResult, Yielder};

use self::overflow::LabelGuard;
use self::stack::StackExhausted;
pub(crate) use self::stack::{drop_spare_pool, PooledStack, ReservedStack, StackPool};
pub(crate) use self::valgrind::running_on_valgrind;
use self::valgrind::StackRegistration;

/// Source of fiber ids; 0 means "no fiber" in overflow reports, so ids start at 1.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A stackful fiber running `f(&Suspender) -> R` on a pooled stack.
///
/// # Cancelation
///
/// A fiber is canceled by dropping it while suspended: its stack is unwound from the
/// [`Suspender::suspend`] where it parked, running destructors, and the stack returns to the pool.
/// That unwind allocates (it is a panic) and needs `panic = "unwind"`; with `panic = "abort"`
/// dropping a suspended fiber aborts. Dropping a fiber never resumed just drops its closure.
///
/// # `!Send`
///
/// A fiber cannot move to another thread (checked by the unit test
/// `fibers_and_stacks_are_not_send`).
pub(crate) struct Fiber<R = ()> {
    /// `None` once the fiber returned; its stack is then back in the pool.
    coroutine: Option<Coroutine<(), (), R, PooledStack>>,
    /// The coroutine's stack as valgrind knows it (see [`valgrind`]); deregistered right after
    /// the coroutine, hence the stack, is dropped. Nothing outside valgrind.
    registration: StackRegistration,
    id: u64,
    /// A `&'static str`, not an owned name: a fiber is in the loop's table for as long as it
    /// lives, and with 100 000 fibers every word of it is about 1 MiB.
    name: Option<&'static str>,
}

/// Handle given to a fiber's function to park the fiber.
pub(crate) struct Suspender<'a> {
    yielder: &'a Yielder<(), ()>,
}

/// What [`Fiber::resume`] observed.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resume<R> {
    /// The fiber parked in [`Suspender::suspend`]; resume it again later.
    Suspended,
    /// The fiber's function returned this value; its stack is back in the pool.
    Finished(R),
}

impl<R> Fiber<R> {
    /// Creates a fiber that runs `f` on a stack from `pool` once resumed. Does not run it yet.
    ///
    /// # Errors
    ///
    /// Returns [`StackExhausted`] when the pool has no stack to give (see [`StackPool::get`]).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn new<F>(pool: &StackPool, f: F) -> Result<Self, StackExhausted>
    where
        F: FnOnce(&Suspender<'_>) -> R + 'static,
        R: 'static,
    {
        Ok(Self::on_stack(pool.get()?, f))
    }

    /// Creates a fiber on a stack taken from a pool earlier (a scheduler reserves the stack
    /// when it accepts a task, and builds the fiber only if the task still needs one).
    pub(crate) fn on_stack<F>(stack: PooledStack, f: F) -> Self
    where
        F: FnOnce(&Suspender<'_>) -> R + 'static,
        R: 'static,
    {
        let registration = StackRegistration::new(&stack);
        let coroutine = Coroutine::with_stack(stack, move |yielder, ()| f(&Suspender { yielder }));
        Self::from_coroutine(coroutine, registration)
    }

    /// Like `new` (the `'static` constructor the unit tests use) for a function that borrows from
    /// its caller (scoped tasks).
    ///
    /// # Errors
    ///
    /// Returns [`StackExhausted`] when the pool has no stack to give.
    ///
    /// # Safety
    ///
    /// - Everything `f` and `R` borrow must stay valid until the fiber has finished or is dropped.
    /// - The fiber must not be leaked (`mem::forget`) while suspended unless those borrows stay
    ///   valid forever: a leaked fiber's stack is never unwound.
    pub(crate) unsafe fn new_unchecked<F>(pool: &StackPool, f: F) -> Result<Self, StackExhausted>
    where
        F: FnOnce(&Suspender<'_>) -> R,
    {
        let stack = pool.get()?;
        let registration = StackRegistration::new(&stack);
        let body = move |yielder: &Yielder<(), ()>, ()| f(&Suspender { yielder });
        // SAFETY: corosensei requires the closure's borrows to outlive the coroutine (until it
        // finishes or is dropped) and, if it is forgotten, forever; both are this function's
        // caller obligations, stated in `# Safety`.
        let coroutine = unsafe { Coroutine::with_stack_unchecked(stack, body) };
        Ok(Self::from_coroutine(coroutine, registration))
    }

    fn from_coroutine(
        coroutine: Coroutine<(), (), R, PooledStack>,
        registration: StackRegistration,
    ) -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Self {
            coroutine: Some(coroutine),
            registration,
            id,
            name: None,
        }
    }

    /// Names the fiber; the name appears in stack overflow reports.
    pub(crate) fn with_name(mut self, name: &'static str) -> Self {
        self.set_name(name);
        self
    }

    /// Renames the fiber.
    pub(crate) fn set_name(&mut self, name: &'static str) {
        self.name = Some(name);
    }

    /// Returns the fiber's name, if it has one.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn name(&self) -> Option<&str> {
        self.name
    }

    /// Returns whether the fiber's function has returned or panicked.
    pub(crate) fn is_finished(&self) -> bool {
        self.coroutine.as_ref().is_none_or(Coroutine::done)
    }

    /// Runs the fiber until it suspends or finishes. Never allocates.
    ///
    /// While it runs, the fiber is this thread's current fiber for stack overflow reports.
    ///
    /// # Panics
    ///
    /// Panics if the fiber has finished. If the fiber's function panics, the panic continues in
    /// the caller and the fiber is finished.
    #[inline]
    pub(crate) fn resume(&mut self) -> Resume<R> {
        let coroutine = self.coroutine.as_mut().expect("resumed a finished fiber");
        let result = {
            let _label = LabelGuard::enter(self.id, self.name);
            coroutine.resume(())
        };
        match result {
            CoroutineResult::Yield(()) => Resume::Suspended,
            CoroutineResult::Return(value) => {
                self.coroutine = None;
                self.registration.deregister();
                Resume::Finished(value)
            }
        }
    }
}

impl<R> Drop for Fiber<R> {
    fn drop(&mut self) {
        // Unwinding a suspended fiber runs on its stack: report an overflow there under its name.
        if let Some(coroutine) = self.coroutine.take() {
            let _label = LabelGuard::enter(self.id, self.name);
            drop(coroutine);
        }
        self.registration.deregister();
    }
}

impl<R> fmt::Debug for Fiber<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fiber")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl Suspender<'_> {
    /// Parks the fiber: control returns to the [`Fiber::resume`] that ran it, and this call
    /// returns when the fiber is resumed again. Never allocates.
    ///
    /// # Cancelation
    ///
    /// If the fiber is dropped while parked here, this call unwinds instead of returning.
    #[inline]
    pub(crate) fn suspend(&self) {
        self.yielder.suspend(());
    }
}

impl fmt::Debug for Suspender<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suspender").finish_non_exhaustive()
    }
}
