//! [`Io::offload`]: running a long computation or a blocking library call off the event loop.

use std::panic::{self, Location};
use std::sync::{Arc, Mutex};

use crate::backend::uring;
use crate::io::Io;
use crate::scope::erase;
use crate::task::{current_arc, Completion, RawTask, ResultCell, Task};

impl Io {
    /// Runs `f` where it cannot hold up other tasks, and returns its result.
    ///
    /// On the uring backend every task of a loop shares one thread, so a task that computes
    /// for a long time, or calls a blocking function the runtime does not know (a C library,
    /// `std::fs`, DNS), stalls all the others. `offload` runs `f` on a helper thread while the
    /// calling fiber parks, and resumes it when `f` returns. On the threaded backend the task
    /// already owns its thread, so `f` simply runs inline.
    ///
    /// # Panics
    /// Resumes the panic of `f`.
    ///
    /// # Cancelation
    /// Not a cancellation point: `f` runs to completion (the runtime cannot interrupt
    /// arbitrary code), and `offload` returns its result.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().build().unwrap();
    /// let sum = runtime.run(|io| io.offload(|| (1..=1_000_000u64).sum::<u64>()));
    /// assert_eq!(sum, 500_000_500_000);
    /// ```
    #[track_caller]
    pub fn offload<R: Send>(self, f: impl FnOnce() -> R + Send) -> R {
        if !uring::on_fiber() {
            return f();
        }
        let task = Arc::new(Task::new(
            f,
            Location::caller(),
            Completion::Waiters(Mutex::default()),
        ));
        let runner = erase(Arc::clone(&task) as Arc<dyn RawTask + '_>);
        std::thread::Builder::new()
            .name("io-offload".into())
            .spawn(move || {
                runner.run();
            })
            .expect("io: cannot start an offload thread");
        let me = current_arc();
        // The helper thread wakes us: this wait is not a deadlock, so it bypasses the monitor.
        while task.add_waiter(&me) {
            let _ = me.parker.park(None);
        }
        task.take_result()
            .unwrap_or_else(|payload| panic::resume_unwind(payload))
    }
}
