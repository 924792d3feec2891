//! The select arms of a [`Queue`]: [`Queue::select_get`] and [`Queue::select_put`].
//!
//! A get arm waits among the queue's getters, so a put hands it an item exactly as it hands
//! one to a blocked `get_one` (the item is inserted as complete and the getter woken). A get
//! arm that was woken that way but does not take the item — another arm won — passes the
//! wake-up on to the next getter while an item is there, so the item does not wait for a
//! getter that left. (If no other getter waits, the item stays buffered: a queue may then hold
//! one item more than its capacity until the next get, as after a canceled `get_one`.)
//!
//! A put arm waits in `room`, woken whenever a take makes room, a getter starts waiting (a
//! rendezvous put can complete), or the queue closes; it then tries again. Its item stays in
//! the arm until the put succeeds.

use super::{PutError, Queue, TryPutError};
use crate::error::Closed;
use crate::select::{Arm, SelectArm, Waiter};
use crate::sync::{lock, Wakeups};

/// The arm of [`Queue::select_get`]: binds `Result<T, Closed>` — the oldest item, or `Closed`
/// once the queue is closed and drained.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let queue = io::Queue::new(2);
/// queue.try_put_one("item").unwrap();
/// queue.close();
/// let got = runtime.run(|io| {
///     let mut got = Vec::new();
///     loop {
///         io::io_select!(io, {
///             item = queue.select_get() => match item {
///                 Ok(item) => got.push(item),
///                 Err(io::Closed) => return got, // closed and drained
///             },
///         })
///         .unwrap();
///     }
/// });
/// assert_eq!(got, ["item"]);
/// ```
pub struct QueueGet<'q, T> {
    queue: &'q Queue<T>,
    got: Option<Result<T, Closed>>,
    /// Whether the selecting task is (or was, before a wake-up) among the getters.
    registered: bool,
    /// Whether a put woke the selecting task for an item (it was taken off the getters).
    handed: bool,
}

/// The arm of [`Queue::select_put`]: binds `Result<(), PutError<T>>` — `Ok` once the item is
/// put, `Err(PutError::Closed(item))` if the queue is closed (never `PutError::Canceled`: the
/// select's own cancel is its `Err`). If another arm wins, the item stays in the arm:
/// [`into_inner`](Self::into_inner) gives it back (name the arm `&mut put` to keep it).
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let (fast, slow) = (io::Queue::new(1), io::Queue::new(1));
/// slow.try_put_one("old").unwrap(); // full
/// let mut put_slow = slow.select_put("new");
/// let winner = runtime.run(|io| {
///     io::io_select!(io, {
///         r = &mut put_slow => { r.unwrap(); "slow" },
///         r = fast.select_put("new") => { r.unwrap(); "fast" },
///     })
/// });
/// assert_eq!(winner, Ok("fast"));
/// assert_eq!(fast.try_get_one(), Ok(Some("new")));
/// assert_eq!(put_slow.into_inner(), Some("new"), "the losing arm kept its item");
/// ```
pub struct QueuePut<'q, T> {
    queue: &'q Queue<T>,
    item: Option<T>,
    put: Option<Result<(), PutError<T>>>,
}

impl<T> Queue<T> {
    /// A select arm that takes the oldest item (see [`io_select!`](crate::io_select)). If
    /// another arm wins, nothing is taken.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (urgent, normal) = (io::Queue::new(4), io::Queue::new(4));
    /// normal.try_put_one("later").unwrap();
    /// urgent.try_put_one("now").unwrap();
    /// let first = runtime.run(|io| {
    ///     io::io_select!(io, {
    ///         item = urgent.select_get() => item.unwrap(),
    ///         item = normal.select_get() => item.unwrap(),
    ///     })
    /// });
    /// assert_eq!(first, Ok("now"), "the first ready arm wins");
    /// assert_eq!(normal.try_get_one(), Ok(Some("later")), "the loser's item stayed");
    /// ```
    pub fn select_get(&self) -> QueueGet<'_, T> {
        QueueGet {
            queue: self,
            got: None,
            registered: false,
            handed: false,
        }
    }

    /// A select arm that puts `item` (see [`io_select!`](crate::io_select)): ready once the
    /// buffer has room or a getter waits.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let queue = io::Queue::new(1);
    /// queue.try_put_one(1).unwrap();
    /// let mut put = queue.select_put(2);
    /// let outcome = runtime.run(|io| {
    ///     io::io_select!(io, {
    ///         r = &mut put => r.is_ok(),
    ///         () = io::after(Duration::from_millis(5)) => false,
    ///     })
    /// });
    /// assert_eq!(outcome, Ok(false), "the queue stayed full");
    /// assert_eq!(put.into_inner(), Some(2), "the item was not put");
    /// ```
    pub fn select_put(&self, item: T) -> QueuePut<'_, T> {
        QueuePut {
            queue: self,
            item: Some(item),
            put: None,
        }
    }
}

impl<T> Arm for QueueGet<'_, T> {
    fn poll(&mut self, _: &Waiter) -> bool {
        if self.got.is_some() {
            return true;
        }
        let mut wake = Wakeups::default();
        let mut state = lock(&self.queue.state);
        self.got = match state.take(self.queue.capacity, &mut wake) {
            Some(item) => Some(Ok(item)),
            None if state.closed => Some(Err(Closed)),
            None => None,
        };
        self.got.is_some()
    }

    fn register(&mut self, waiter: &Waiter) {
        let mut wake = Wakeups::default();
        let mut state = lock(&self.queue.state);
        if !state.getters.contains(&waiter.0) {
            // Registered before and absent now: a put woke this task for an item.
            self.handed |= self.registered;
            state.getters.push(&waiter.0);
            wake.add_all(state.room.take_all());
        }
        self.registered = true;
    }

    fn unregister(&mut self, waiter: &Waiter) {
        if !std::mem::take(&mut self.registered) {
            return;
        }
        let mut wake = Wakeups::default();
        let mut state = lock(&self.queue.state);
        // Absent now, or absent at a re-registration: a put woke this task for an item.
        // Whether or not this arm took one, another getter may be owed that wake-up.
        let handed = !state.getters.remove(&waiter.0) || std::mem::take(&mut self.handed);
        if handed && state.can_take() {
            wake.add(state.getters.pop());
        }
    }
}

impl<T> SelectArm for QueueGet<'_, T> {
    type Output = Result<T, Closed>;
    fn take(&mut self) -> Result<T, Closed> {
        self.got
            .take()
            .expect("io: select arm taken before it completed")
    }
}

impl<T> QueuePut<'_, T> {
    /// The item, if it was not put (the arm lost, or has not run).
    ///
    /// # Examples
    /// ```
    /// let queue = io::Queue::new(1);
    /// let unused = queue.select_put(5);
    /// assert_eq!(unused.into_inner(), Some(5)); // never selected: never put
    /// assert_eq!(queue.try_get_one(), Ok(None));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.item
    }
}

impl<T> Arm for QueuePut<'_, T> {
    fn poll(&mut self, _: &Waiter) -> bool {
        if self.put.is_some() {
            return true;
        }
        let Some(item) = self.item.take() else {
            return false;
        };
        let mut wake = Wakeups::default();
        let mut state = lock(&self.queue.state);
        match state.try_put(self.queue.capacity, item, &mut wake) {
            Ok(()) => self.put = Some(Ok(())),
            Err(TryPutError::Closed(item)) => self.put = Some(Err(PutError::Closed(item))),
            Err(TryPutError::Full(item)) => self.item = Some(item),
        }
        self.put.is_some()
    }

    fn register(&mut self, waiter: &Waiter) {
        let mut state = lock(&self.queue.state);
        if !state.room.contains(&waiter.0) {
            state.room.push(&waiter.0);
        }
    }

    fn unregister(&mut self, waiter: &Waiter) {
        lock(&self.queue.state).room.remove(&waiter.0);
    }
}

impl<T> SelectArm for QueuePut<'_, T> {
    type Output = Result<(), PutError<T>>;
    fn take(&mut self) -> Result<(), PutError<T>> {
        self.put
            .take()
            .expect("io: select arm taken before it completed")
    }
}

impl<T> Arm for &mut QueuePut<'_, T> {
    fn poll(&mut self, waiter: &Waiter) -> bool {
        (**self).poll(waiter)
    }
    fn register(&mut self, waiter: &Waiter) {
        (**self).register(waiter);
    }
    fn unregister(&mut self, waiter: &Waiter) {
        (**self).unregister(waiter);
    }
}

impl<T> SelectArm for &mut QueuePut<'_, T> {
    type Output = Result<(), PutError<T>>;
    fn take(&mut self) -> Result<(), PutError<T>> {
        (**self).take()
    }
}
