//! [`Queue`]: a bounded multi-producer, multi-consumer queue between tasks.
//!
//! # State
//! One std mutex guards `entries`, the items in queue order, each with the putter that waits
//! for it (if any):
//! - `entries[..done]` are *complete*: their put has returned. Normally `done <= capacity`
//!   (the buffer); a non-blocking put may go beyond it only by handing its item to a getter
//!   that is already waiting (reserved: the getter is woken for exactly that item).
//! - `entries[done..]` are *pending*: each belongs to a putter parked in `put_one` until a
//!   getter takes its item or the buffer has room for it ("promotion"). With capacity 0 every
//!   blocking put is pending until a getter takes it: a rendezvous.
//!
//! A getter takes the head if it is complete or, while the queue is open, pending (completing
//! that put). Taking makes room, so the oldest pending entry is promoted and its putter woken.
//! Getters that find nothing wait in `getters`; each put wakes the oldest one.
//!
//! # Cancel and close
//! A canceled putter whose entry is still pending withdraws it and gets the item back
//! ([`PutError::Canceled`]); if a getter took it or it was promoted first, the put completed
//! and returns `Ok` despite the cancel. Symmetrically, a getter that a put already woke for an
//! item (it was reserved, see above) takes an item and returns it despite the cancel, so no
//! reserved item is left behind; any other canceled getter takes nothing. `close` wakes everyone:
//! pending putters withdraw their items ([`PutError::Closed`]), pending entries are no longer
//! taken or promoted, and getters drain the complete entries, then fail with [`Closed`].
//!
//! # Select
//! [`Queue::select_get`] waits among the getters like `get_one`; [`Queue::select_put`] waits in
//! `room`, woken by every take, every getter that starts waiting, and `close`. See
//! `queue/select.rs` for how a selecting getter that chose another arm passes a hand-off on.

mod error;
mod select;
mod state;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};

use crate::block;
use crate::error::Closed;
use crate::io::Io;
use crate::sync::{lock, WaitList, Wakeups};
use crate::task::{current_arc, TaskCtx};
use crate::time::FiredMarks;
use state::{Entry, State};

pub use error::{PutError, QueueError, TryPutError};
pub use select::{QueueGet, QueuePut};

/// A bounded, multi-producer, multi-consumer FIFO queue between tasks.
///
/// `Queue::new(0)` is a rendezvous: each put waits until a getter takes the item. Tasks share
/// the queue by reference (they borrow it from the scope). Every blocking operation is a
/// cancellation point, and none loses an item: a put that fails hands the item back.
///
/// Errors: [`QueueError`] (`Canceled` or `Closed`) for gets and batch puts, [`PutError`] for
/// [`put_one`](Self::put_one) (with the item). All convert with `?` into `Box<dyn Error>`.
///
/// # Examples
/// ```
/// use io::{Queue, QueueError};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let queue = Queue::new(4);
/// let sum = runtime.run(|io| {
///     io.scope(|s| {
///         let consumer = s.spawn_async(|| {
///             let mut sum = 0;
///             loop {
///                 match queue.get_one(io) {
///                     Ok(n) => sum += n,
///                     Err(QueueError::Closed) => return Ok(sum),
///                     Err(QueueError::Canceled) => return Err(io::Canceled),
///                 }
///             }
///         });
///         for n in 1..=10 {
///             queue.put_one(io, n).unwrap();
///         }
///         queue.close();
///         consumer.join(io)
///     })
/// });
/// assert_eq!(sum, Ok(55));
/// ```
pub struct Queue<T> {
    capacity: usize,
    state: StdMutex<State<T>>,
}

impl<T> Queue<T> {
    /// A new open queue that buffers up to `capacity` items (0: rendezvous).
    ///
    /// # Examples
    /// ```
    /// let queue = io::Queue::new(2);
    /// assert_eq!(queue.capacity(), 2);
    /// assert!(queue.try_put_one('a').is_ok() && queue.try_put_one('b').is_ok());
    /// assert_eq!(queue.try_put_one('c'), Err(io::TryPutError::Full('c')));
    /// // Capacity 0: a put waits for a getter, there is no buffer.
    /// assert_eq!(io::Queue::new(0).try_put_one(1), Err(io::TryPutError::Full(1)));
    /// ```
    pub fn new(capacity: usize) -> Self {
        let state = State {
            entries: VecDeque::with_capacity(capacity.min(1024)),
            done: 0,
            closed: false,
            getters: WaitList::default(),
            room: WaitList::default(),
        };
        Self {
            capacity,
            state: StdMutex::new(state),
        }
    }

    /// How many items the queue buffers.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Closes the queue: puts fail with `Closed` from now on (also those waiting now, which
    /// get their items back); gets take what is buffered, then fail with `Closed`. Closing
    /// twice does nothing.
    ///
    /// # Examples
    /// ```
    /// let queue = io::Queue::new(4);
    /// queue.try_put_one("buffered").unwrap();
    /// queue.close();
    /// queue.close(); // twice does nothing
    /// assert!(queue.is_closed());
    /// assert_eq!(queue.try_put_one("late"), Err(io::TryPutError::Closed("late")));
    /// assert_eq!(queue.try_get_one(), Ok(Some("buffered")));
    /// assert_eq!(queue.try_get_one(), Err(io::Closed));
    /// ```
    pub fn close(&self) {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.state);
        state.closed = true;
        wake.add_all(state.getters.take_all());
        wake.add_all(state.room.take_all());
        let done = state.done;
        wake.add_all(
            state
                .entries
                .range(done..)
                .filter_map(|entry| entry.putter.clone()),
        );
    }

    /// Puts one item, waiting until the buffer has room for it (capacity 0: until a getter
    /// takes it).
    ///
    /// # Errors
    /// [`PutError::Closed`] if the queue is (or gets) closed, [`PutError::Canceled`] if the
    /// task is canceled first; both hold the item. A put that a getter completed returns `Ok`
    /// even if a cancel arrived meanwhile.
    ///
    /// # Cancelation
    /// A cancellation point, on entry and while waiting.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::{PutError, Queue};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let queue = Queue::new(1);
    /// let outcomes = runtime.run(|io| {
    ///     let first = queue.put_one(io, 1);
    ///     // Full: the second put waits, until the deadline cancels it and hands the item back.
    ///     let second = io.timeout(Duration::from_millis(5), || queue.put_one(io, 2));
    ///     queue.close();
    ///     (first, second, queue.put_one(io, 3))
    /// });
    /// assert_eq!(outcomes, (Ok(()), Err(io::Timeout), Err(PutError::Closed(3))));
    /// assert_eq!(queue.try_get_one(), Ok(Some(1)));
    /// ```
    pub fn put_one(&self, io: Io, item: T) -> Result<(), PutError<T>> {
        if io.check_cancel().is_err() {
            return Err(PutError::Canceled(item));
        }
        self.put_blocking(item)
    }

    /// Puts one item if that needs no waiting: the buffer has room, or a getter waits.
    ///
    /// # Errors
    /// [`TryPutError::Full`] or [`TryPutError::Closed`], with the item.
    ///
    /// # Cancelation
    /// Not a cancellation point: it never blocks.
    ///
    /// # Examples
    /// ```
    /// use io::TryPutError;
    ///
    /// let queue = io::Queue::new(1);
    /// assert_eq!(queue.try_put_one("fits"), Ok(()));
    /// let full = queue.try_put_one("does not").unwrap_err();
    /// assert!(matches!(full, TryPutError::Full(_)));
    /// assert_eq!(full.into_inner(), "does not");
    /// ```
    pub fn try_put_one(&self, item: T) -> Result<(), TryPutError<T>> {
        let mut wake = Wakeups::default();
        lock(&self.state).try_put(self.capacity, item, &mut wake)
    }

    /// Puts items from the front of `items`: waits until at least `min` are put, then puts as
    /// many more as fit without waiting, and returns how many it put. Items put are removed
    /// from `items`; the rest stay, in order.
    ///
    /// # Errors
    /// [`QueueError::Closed`] or [`QueueError::Canceled`] if fewer than `min` could be put;
    /// `items` then holds exactly the items not put.
    ///
    /// # Panics
    /// If `min > items.len()`.
    ///
    /// # Cancelation
    /// A cancellation point (on entry and while waiting) if `min > 0`.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let queue = io::Queue::new(3);
    /// let mut items = vec![1, 2, 3, 4, 5];
    /// let put = runtime.run(|io| queue.put(io, &mut items, 1));
    /// // At least 1, then as many as fit without waiting.
    /// assert_eq!(put, Ok(3));
    /// assert_eq!(items, [4, 5]);
    /// let buffered: Vec<_> = std::iter::from_fn(|| queue.try_get_one().unwrap()).collect();
    /// assert_eq!(buffered, [1, 2, 3]);
    /// ```
    pub fn put(&self, io: Io, items: &mut Vec<T>, min: usize) -> Result<usize, QueueError> {
        assert!(
            min <= items.len(),
            "io: Queue::put needs min <= items.len()"
        );
        if min > 0 {
            io.check_cancel()?;
        }
        // Reversed, the next item to put is the cheap one to pop.
        items.reverse();
        let put = self.put_from_back(items, min);
        items.reverse();
        put
    }

    fn put_from_back(&self, rest: &mut Vec<T>, min: usize) -> Result<usize, QueueError> {
        let mut put = 0;
        loop {
            put += self.put_without_waiting(rest);
            if put >= min {
                return Ok(put);
            }
            let Some(item) = rest.pop() else {
                return Ok(put);
            };
            if let Err(error) = self.put_blocking(item) {
                let kind = error.kind();
                rest.push(error.into_inner());
                return Err(kind);
            }
            put += 1;
        }
    }

    fn put_without_waiting(&self, rest: &mut Vec<T>) -> usize {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.state);
        let mut put = 0;
        while let Some(item) = rest.pop() {
            if let Err(full) = state.try_put(self.capacity, item, &mut wake) {
                rest.push(full.into_inner());
                break;
            }
            put += 1;
        }
        put
    }

    fn put_blocking(&self, item: T) -> Result<(), PutError<T>> {
        let me = {
            let mut wake = Wakeups::default();
            let mut state = lock(&self.state);
            let item = match state.try_put(self.capacity, item, &mut wake) {
                Ok(()) => return Ok(()),
                Err(TryPutError::Closed(item)) => return Err(PutError::Closed(item)),
                Err(TryPutError::Full(item)) => item,
            };
            let me = current_arc();
            let putter = Some(Arc::clone(&me));
            state.entries.push_back(Entry { item, putter });
            me
        };
        self.wait_until_taken(&me)
    }

    /// Parks the putter of a pending entry until the put completes, or withdraws the entry.
    fn wait_until_taken(&self, me: &Arc<TaskCtx>) -> Result<(), PutError<T>> {
        loop {
            let marks = FiredMarks::take(me);
            let parked = block::park(&"Queue::put_one", None);
            let mut state = lock(&self.state);
            if parked.is_ok() && !state.closed && state.is_pending(me) {
                continue;
            }
            return match state.withdraw(me) {
                None => {
                    // Taken before the cancel: the put did not report a deadline.
                    marks.restore();
                    Ok(())
                }
                Some(item) if parked.is_err() => Err(PutError::Canceled(item)),
                Some(item) => Err(PutError::Closed(item)),
            };
        }
    }

    /// Takes the oldest item, waiting until there is one.
    ///
    /// # Errors
    /// [`QueueError::Closed`] once the queue is closed and drained, [`QueueError::Canceled`]
    /// if the task is canceled first (it then took nothing). A get that a put woke for its
    /// item before the cancel arrived returns the item.
    ///
    /// # Cancelation
    /// A cancellation point, on entry and while waiting.
    ///
    /// # Examples
    /// ```
    /// use io::{Queue, QueueError};
    ///
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let queue = Queue::new(0); // a rendezvous: each put waits for a get
    /// let got = runtime.run(|io| {
    ///     io.scope(|s| {
    ///         let producer = s.spawn_concurrent(|| {
    ///             for word in ["hand", "to", "hand"] {
    ///                 queue.put_one(io, word).unwrap();
    ///             }
    ///             queue.close();
    ///         });
    ///         let mut got = Vec::new();
    ///         while let Ok(word) = queue.get_one(io) {
    ///             got.push(word);
    ///         }
    ///         producer.unwrap().join(io);
    ///         (got, queue.get_one(io))
    ///     })
    /// });
    /// assert_eq!(got, (vec!["hand", "to", "hand"], Err(QueueError::Closed)));
    /// ```
    pub fn get_one(&self, io: Io) -> Result<T, QueueError> {
        io.check_cancel()?;
        let mut me = None;
        loop {
            if let Some(item) = self.take_or_register(&mut me)? {
                return Ok(item);
            }
            let marks = me.as_ref().map(FiredMarks::take);
            if let Err(canceled) = block::park(&"Queue::get_one", None) {
                let handed = me.as_ref().and_then(|me| self.abandon_get(me));
                if handed.is_some() {
                    // Handed over before the cancel: the get did not report a deadline.
                    if let Some(marks) = marks {
                        marks.restore();
                    }
                }
                return handed.ok_or(canceled.into());
            }
        }
    }

    /// Takes the oldest item if there is one, without waiting; `Ok(None)` if there is none.
    ///
    /// # Errors
    /// [`Closed`] once the queue is closed and drained.
    ///
    /// # Cancelation
    /// Not a cancellation point: it never blocks.
    ///
    /// # Examples
    /// ```
    /// let queue = io::Queue::new(2);
    /// assert_eq!(queue.try_get_one(), Ok(None)); // empty: no waiting
    /// queue.try_put_one(7).unwrap();
    /// assert_eq!(queue.try_get_one(), Ok(Some(7)));
    /// queue.close();
    /// assert_eq!(queue.try_get_one(), Err(io::Closed));
    /// ```
    pub fn try_get_one(&self) -> Result<Option<T>, Closed> {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.state);
        match state.take(self.capacity, &mut wake) {
            Some(item) => Ok(Some(item)),
            None if state.closed => Err(Closed),
            None => Ok(None),
        }
    }

    /// Takes items into `buf` (appended): waits until at least `min` were taken, then takes
    /// as many more as are there without waiting, up to `max` in all, and returns how many.
    ///
    /// A closed queue ends the wait early: what was taken is returned, and `Closed` only
    /// when nothing was.
    ///
    /// # Errors
    /// [`QueueError::Closed`] if the queue is closed and drained before anything was taken;
    /// [`QueueError::Canceled`] if the task is canceled first. Items taken before an error
    /// are in `buf`.
    ///
    /// # Panics
    /// If `min > max`.
    ///
    /// # Cancelation
    /// A cancellation point (on entry and while waiting) if `min > 0`.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let queue = io::Queue::new(8);
    /// for n in 0..5 {
    ///     queue.try_put_one(n).unwrap();
    /// }
    /// queue.close();
    /// let mut buf = Vec::new();
    /// let (first, second, third) = runtime.run(|io| {
    ///     let first = queue.get(io, &mut buf, 1, 3); // at most 3
    ///     // Closed: the wait for 4 ends early with what is there.
    ///     let second = queue.get(io, &mut buf, 4, 10);
    ///     (first, second, queue.get(io, &mut buf, 1, 10))
    /// });
    /// assert_eq!((first, second, third), (Ok(3), Ok(2), Err(io::QueueError::Closed)));
    /// assert_eq!(buf, [0, 1, 2, 3, 4]);
    /// ```
    pub fn get(
        &self,
        io: Io,
        buf: &mut Vec<T>,
        min: usize,
        max: usize,
    ) -> Result<usize, QueueError> {
        assert!(min <= max, "io: Queue::get needs min <= max");
        if min > 0 {
            io.check_cancel()?;
        }
        let mut got = 0;
        loop {
            got += self.take_without_waiting(buf, max - got);
            if got >= min {
                return Ok(got);
            }
            match self.get_one(io) {
                Ok(item) => buf.push(item),
                Err(QueueError::Closed) if got > 0 => return Ok(got),
                Err(error) => return Err(error),
            }
            got += 1;
        }
    }

    fn take_without_waiting(&self, buf: &mut Vec<T>, max: usize) -> usize {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.state);
        let before = buf.len();
        while buf.len() - before < max {
            match state.take(self.capacity, &mut wake) {
                Some(item) => buf.push(item),
                None => break,
            }
        }
        buf.len() - before
    }

    fn take_or_register(&self, me: &mut Option<Arc<TaskCtx>>) -> Result<Option<T>, Closed> {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.state);
        if let Some(me) = me.as_ref() {
            state.getters.remove(me);
        }
        if let Some(item) = state.take(self.capacity, &mut wake) {
            return Ok(Some(item));
        }
        if state.closed {
            return Err(Closed);
        }
        state.getters.push(me.get_or_insert_with(current_arc));
        // A waiting getter lets a put complete at once (a rendezvous): tell put selectors.
        wake.add_all(state.room.take_all());
        Ok(None)
    }

    /// A canceled getter leaves. If a put already woke it for an item (it is no longer
    /// registered), the hand-off happened before the cancel: it takes an item if one is there.
    fn abandon_get(&self, me: &Arc<TaskCtx>) -> Option<T> {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.state);
        if state.getters.remove(me) {
            return None;
        }
        state.take(self.capacity, &mut wake)
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Queue")
            .field("capacity", &self.capacity)
            .field("buffered", &state.done)
            .field("waiting_putters", &(state.entries.len() - state.done))
            .field("closed", &state.closed)
            .finish()
    }
}
