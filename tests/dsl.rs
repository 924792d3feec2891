//! The scope! DSL (DESIGN D4) at run time: control flow through a scope, borrowing, eager
//! arguments, method-call spawns, nesting, groups, panics, forgotten handles, and the
//! environment overrides of `#[io::main]`.
//!
//! Each `#[io::test]` runs once per backend (`name::threaded`, `name::uring`). Every wait is
//! bounded: a task that should be canceled sleeps for [`LONG`] (10 s) and the test requires the
//! scope to end within [`PROMPT`] (2 s).

mod support;

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use io::{io_async, io_concurrent, io_group, scope, Canceled, Clock, Io};
use support::{timed, LONG, PROMPT};

/// The error a failing task returns (the seed's `error.OutOfMemory`).
#[derive(Debug, PartialEq, Eq)]
struct OutOfMemory;

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OutOfMemory")
    }
}

impl Error for OutOfMemory {}

/// Orders the ends of sleepers across the whole test binary.
static ENDINGS: AtomicUsize = AtomicUsize::new(1);

/// What a sleeper task reports: when it ended (0 = not yet) and whether its sleep was canceled.
#[derive(Default)]
struct Sleeper {
    ended: AtomicUsize,
    canceled: AtomicBool,
}

impl Sleeper {
    /// Whether the task ended because it was canceled.
    fn was_canceled(&self) -> bool {
        self.ended() && self.canceled.load(Ordering::SeqCst)
    }

    fn ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst) != 0
    }
}

/// Sleeps for [`LONG`] unless canceled, then reports to `sleeper`.
fn sleep_long(io: Io, sleeper: &Sleeper) -> Result<(), Canceled> {
    let slept = io.sleep(LONG, Clock::Awake);
    sleeper.canceled.store(slept.is_err(), Ordering::SeqCst);
    let ending = ENDINGS.fetch_add(1, Ordering::SeqCst);
    sleeper.ended.store(ending, Ordering::SeqCst);
    slept
}

/// Fails at once.
fn fail(_io: Io) -> Result<u32, OutOfMemory> {
    Err(OutOfMemory)
}

fn add(_io: Io, a: u32, b: u32) -> u32 {
    a + b
}

fn sum(_io: Io, values: &[u32]) -> u32 {
    values.iter().sum()
}

/// `?` in the scope: the failing join returns from this fn; the sleeper is canceled first.
fn first_error_wins(io: Io, sleeper: &Sleeper) -> Result<u32, Box<dyn Error>> {
    scope!(io, {
        let _sleeping = io_concurrent!(sleep_long(io, sleeper))?;
        let failing = io_async!(fail(io));
        let value = failing.join(io)?;
        Ok(value + 1)
    })
}

#[io::test]
fn question_mark_returns_from_the_fn_after_canceling_the_rest(io: Io) {
    let sleeper = Sleeper::default();
    let (result, elapsed) = timed(|| first_error_wins(io, &sleeper));
    let error = result.unwrap_err();
    assert!(error.is::<OutOfMemory>(), "{error}");
    assert!(sleeper.was_canceled(), "the sleeper still ran after `?`");
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

/// `return` in the scope returns from this fn; the sleeper is canceled first.
fn returns_early(io: Io, sleeper: &Sleeper, early: bool) -> &'static str {
    scope!(io, {
        let _sleeping = io_async!(sleep_long(io, sleeper));
        if early {
            return "returned";
        }
        "fell through"
    })
}

#[io::test]
fn return_inside_scope_returns_from_the_enclosing_fn(io: Io) {
    let sleeper = Sleeper::default();
    let (value, elapsed) = timed(|| returns_early(io, &sleeper, true));
    assert_eq!(value, "returned");
    assert!(sleeper.was_canceled());
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

#[io::test]
fn break_and_continue_inside_scope_act_on_the_enclosing_loop(io: Io) {
    let sleepers: Vec<Sleeper> = (0..4).map(|_| Sleeper::default()).collect();
    let mut reached_the_end = Vec::new();
    let ((), elapsed) = timed(|| {
        for (i, sleeper) in sleepers.iter().enumerate() {
            scope!(io, {
                let _sleeping = io_async!(sleep_long(io, sleeper));
                if i == 1 {
                    continue;
                }
                if i == 2 {
                    break;
                }
                reached_the_end.push(i);
            });
        }
    });
    assert_eq!(reached_the_end, [0]);
    assert!(sleepers[..3].iter().all(Sleeper::was_canceled));
    assert!(!sleepers[3].ended(), "the loop went on after `break`");
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

#[io::test]
fn break_with_a_value_carries_a_joined_result_out_of_the_loop(io: Io) {
    let sleeper = Sleeper::default();
    let mut rounds = 0;
    let value = loop {
        rounds += 1;
        scope!(io, {
            let _sleeping = io_async!(sleep_long(io, &sleeper));
            let doubled = io_async!(add(io, rounds, rounds));
            if rounds == 3 {
                break doubled.join(io);
            }
        });
    };
    assert_eq!(value, 6);
    assert!(sleeper.was_canceled());
}

#[io::test]
fn the_scope_is_worth_its_tail_expression(io: Io) {
    let number = scope!(io, {
        let a = io_async!(add(io, 1, 2));
        let b = io_async!(add(io, 3, 4));
        a.join(io) * b.join(io)
    });
    assert_eq!(number, 21);
    // A handle that is a temporary of the tail is joined before the scope ends.
    let text = scope!(io, { io_async!(String::from("tail")).join(io) });
    assert_eq!(text, "tail");
}

#[io::test]
fn tasks_borrow_locals_declared_before_the_scope(io: Io) {
    let values = vec![1, 2, 3, 4];
    let text = String::from("borrowed");
    let mut filled = Vec::new();
    let (total, length) = scope!(io, {
        let total = io_async!(sum(io, &values));
        let length = io_async!(str::len(&text));
        io_async!(Vec::extend_from_slice(&mut filled, &values[1..])).join(io);
        (total.join(io), length.join(io))
    });
    assert_eq!((total, length), (10, 8));
    assert_eq!(filled, [2, 3, 4]);
    drop(values); // the borrows ended with the scope
}

/// Returns `value`, after waiting for the other tasks to be spawned.
fn echo(io: Io, value: u32) -> u32 {
    let _ = io.sleep(Duration::from_millis(10), Clock::Awake);
    value
}

#[io::test]
fn arguments_are_evaluated_on_the_caller_at_the_spawn(io: Io) {
    // `next` borrows a Cell, so it is not Send: it compiles only because the macro calls it on
    // the caller and moves its value into the task (Zig's `io.async(f, .{args})`).
    let counter = Cell::new(0);
    let next = || {
        counter.set(counter.get() + 1);
        counter.get()
    };
    let order = Mutex::new(Vec::new());
    let note = |what: &'static str| order.lock().unwrap().push(what);
    let values = scope!(io, {
        let a = io_async!(echo(io, next()));
        let b = io_async!(echo(io, next()));
        let c = io_async!(echo(io, {
            note("argument");
            next()
        }));
        note("spawned");
        // Every argument was evaluated, once and in order, before any join.
        assert_eq!(counter.get(), 3);
        counter.set(100);
        [a.join(io), b.join(io), c.join(io)]
    });
    assert_eq!(values, [1, 2, 3]);
    assert_eq!(*order.lock().unwrap(), ["argument", "spawned"]);
}

struct Tally(AtomicUsize);

impl Tally {
    fn add(&self, _io: Io, n: usize) -> usize {
        self.0.fetch_add(n, Ordering::SeqCst) + n
    }
}

#[io::test]
fn method_calls_spawn_on_a_borrowed_receiver(io: Io) -> Result<(), Box<dyn Error>> {
    let tally = Tally(AtomicUsize::new(0));
    let text = "42";
    scope!(io, {
        // A `&self` method of a local, a by-value method of the `Copy` Io, a turbofish.
        let a = io_async!(tally.add(io, 2));
        let b = io_concurrent!(tally.add(io, 3))?;
        let slept = io_async!(io.sleep(Duration::from_millis(1), Clock::Awake));
        let parsed = io_async!(text.parse::<u32>());
        let sum = a.join(io) + b.join(io);
        assert!(sum == 2 + 5 || sum == 3 + 5, "{sum}");
        slept.join(io)?;
        assert_eq!(parsed.join(io)?, 42);
    });
    assert_eq!(tally.0.load(Ordering::SeqCst), 5);
    Ok(())
}

/// Sums `values` in a scope of its own, from inside a task of another scope.
fn sum_in_scope(io: Io, values: &[u32]) -> u32 {
    let (left, right) = values.split_at(values.len() / 2);
    scope!(io, {
        let l = io_async!(sum(io, left));
        let r = io_async!(sum(io, right));
        l.join(io) + r.join(io)
    })
}

#[io::test]
fn nested_scopes_each_own_their_tasks(io: Io) {
    let values = [1, 2, 3, 4];
    let total = scope!(io, {
        let outer = io_async!(sum_in_scope(io, &values));
        let inner = scope!(io, {
            let a = io_async!(add(io, values[0], values[3]));
            let b = io_async!(sum(io, &values));
            a.join(io) + b.join(io)
        });
        outer.join(io) + inner
    });
    assert_eq!(total, 10 + 5 + 10);
}

/// `?` in an inner scope leaves both scopes, the inner one first.
fn fails_in_inner_scope(io: Io, outer: &Sleeper, inner: &Sleeper) -> Result<(), OutOfMemory> {
    scope!(io, {
        let _outer = io_async!(sleep_long(io, outer));
        scope!(io, {
            let _inner = io_async!(sleep_long(io, inner));
            io_async!(fail(io)).join(io)?;
        });
        Ok(())
    })
}

#[io::test]
fn question_mark_in_a_nested_scope_cancels_both_inner_first(io: Io) {
    let (outer, inner) = (Sleeper::default(), Sleeper::default());
    let (result, elapsed) = timed(|| fails_in_inner_scope(io, &outer, &inner));
    assert_eq!(result, Err(OutOfMemory));
    assert!(outer.was_canceled() && inner.was_canceled());
    let (inner_end, outer_end) = (
        inner.ended.load(Ordering::SeqCst),
        outer.ended.load(Ordering::SeqCst),
    );
    assert!(
        inner_end < outer_end,
        "inner ended {inner_end}, outer {outer_end}"
    );
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

#[io::test]
fn a_group_runs_a_thousand_tasks(io: Io) -> Result<(), Canceled> {
    let done = AtomicUsize::new(0);
    scope!(io, {
        let group = io_group!();
        for _ in 0..1000 {
            group.spawn(io, || {
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        group.wait(io)?;
    });
    assert_eq!(done.load(Ordering::Relaxed), 1000);
    Ok(())
}

#[io::test]
fn leaving_the_scope_cancels_a_groups_running_tasks(io: Io) {
    let sleepers: Vec<Sleeper> = (0..1000).map(|_| Sleeper::default()).collect();
    let ((), elapsed) = timed(|| {
        scope!(io, {
            let group = io_group!();
            for sleeper in &sleepers {
                group.spawn(io, move || {
                    let _ = sleep_long(io, sleeper);
                });
            }
        })
    });
    let canceled = sleepers.iter().filter(|s| s.was_canceled()).count();
    assert_eq!(canceled, 1000);
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

fn explode(_io: Io) -> u32 {
    panic!("boom");
}

#[io::test]
fn a_panic_in_an_unjoined_task_is_resumed_at_the_end_of_the_scope(io: Io) {
    let sleeper = Sleeper::default();
    let body_finished = AtomicBool::new(false);
    let (caught, elapsed) = timed(|| {
        panic::catch_unwind(AssertUnwindSafe(|| {
            scope!(io, {
                let _sleeping = io_async!(sleep_long(io, &sleeper));
                let _exploding = io_async!(explode(io));
                // Dropping the handle now cancels and joins the task but does not panic here.
                let _ = io_async!(explode(io));
                body_finished.store(true, Ordering::SeqCst);
            })
        }))
    });
    let payload = caught.expect_err("the task's panic was lost");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    assert!(body_finished.load(Ordering::SeqCst));
    assert!(
        sleeper.was_canceled(),
        "resumed before the other tasks ended"
    );
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

/// Counts its drops.
struct Tracked<'a>(&'a AtomicUsize);

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn tracked(_io: Io, drops: &AtomicUsize) -> Tracked<'_> {
    Tracked(drops)
}

#[io::test]
fn forgetting_a_handle_leaves_no_task_running_after_the_scope(io: Io) {
    let sleeper = Sleeper::default();
    let drops = AtomicUsize::new(0);
    let ((), elapsed) = timed(|| {
        scope!(io, {
            std::mem::forget(io_async!(sleep_long(io, &sleeper)));
            std::mem::forget(io_async!(tracked(io, &drops)));
        })
    });
    assert!(
        sleeper.was_canceled(),
        "a forgotten task outlived its scope"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1, "a forgotten result leaked");
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

/// The backend a builder from `main_builder` ends up running.
fn backend_of(builder: io::Builder) -> &'static str {
    let runtime = builder.build().expect("the runtime starts");
    runtime.run(|io| io.backend_name())
}

/// Whether `io_concurrent!` works on the runtime `builder` makes.
fn has_concurrency(builder: io::Builder) -> bool {
    let runtime = builder.build().expect("the runtime starts");
    runtime.run(|io| scope!(io, { io_concurrent!(add(io, 1, 1)).is_ok() }))
}

/// The thread count a builder asks for, as its `Debug` shows it.
fn threads_of(builder: &io::Builder) -> String {
    let debug = format!("{builder:?}");
    let start = debug.find("threads: ").expect("Builder shows its threads");
    debug[start..].split(',').next().unwrap().to_owned()
}

// The only test of this binary that touches the environment (the others never read it), so
// setting and removing variables here races with nothing.
#[test]
fn main_builder_applies_io_backend_and_io_threads_unless_pinned() {
    use io::__private::main_builder;
    use std::env;
    env::remove_var("IO_THREADS");

    env::set_var("IO_BACKEND", "threaded");
    assert_eq!(backend_of(main_builder(None, None).unwrap()), "threaded");
    env::set_var("IO_BACKEND", "uring");
    assert_eq!(backend_of(main_builder(None, None).unwrap()), "uring");
    assert_eq!(
        backend_of(main_builder(Some("threaded"), None).unwrap()),
        "threaded"
    );
    env::set_var("IO_BACKEND", "epoll");
    let error = main_builder(None, None).unwrap_err().to_string();
    assert!(
        error.contains("epoll") && error.contains("threaded"),
        "{error}"
    );
    assert!(
        main_builder(Some("uring"), None).is_ok(),
        "a pinned backend ignores IO_BACKEND"
    );
    env::remove_var("IO_BACKEND");

    env::set_var("IO_THREADS", "3");
    assert_eq!(
        threads_of(&main_builder(None, None).unwrap()),
        "threads: Some(3)"
    );
    assert_eq!(
        threads_of(&main_builder(None, Some(1)).unwrap()),
        "threads: Some(1)"
    );
    env::set_var("IO_THREADS", " 2 ");
    assert_eq!(
        threads_of(&main_builder(None, None).unwrap()),
        "threads: Some(2)"
    );
    for backend in ["threaded", "uring"] {
        env::set_var("IO_THREADS", "0");
        assert!(
            !has_concurrency(main_builder(Some(backend), None).unwrap()),
            "{backend}"
        );
        assert!(
            has_concurrency(main_builder(Some(backend), Some(2)).unwrap()),
            "{backend}"
        );
    }
    for bad in ["many", "-1", "", "2.5"] {
        env::set_var("IO_THREADS", bad);
        let error = main_builder(None, None).unwrap_err().to_string();
        assert!(error.contains("IO_THREADS"), "{bad:?}: {error}");
        assert!(
            main_builder(None, Some(4)).is_ok(),
            "pinned threads ignore IO_THREADS={bad:?}"
        );
    }
    env::remove_var("IO_THREADS");
}
