//! The scope! DSL (README: "The DSL") at run time: control flow through a scope, borrowing, eager
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

/// Asserts that the `inner` scope's sleeper ended before the `outer` scope's.
fn assert_inner_ended_first(inner: &Sleeper, outer: &Sleeper) {
    let (inner_end, outer_end) = (
        inner.ended.load(Ordering::SeqCst),
        outer.ended.load(Ordering::SeqCst),
    );
    assert!(
        inner_end < outer_end,
        "inner ended {inner_end}, outer {outer_end}"
    );
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
    assert_inner_ended_first(&inner, &outer);
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

/// What `?` inside a scope converts `OutOfMemory` into through `From`.
#[derive(Debug, PartialEq, Eq)]
enum AppError {
    Memory(OutOfMemory),
}

impl From<OutOfMemory> for AppError {
    fn from(error: OutOfMemory) -> Self {
        AppError::Memory(error)
    }
}

/// `?` on a joined `Result<_, OutOfMemory>` in a fn returning `Result<_, AppError>`.
fn converts_with_from(io: Io, sleeper: &Sleeper) -> Result<u32, AppError> {
    scope!(io, {
        let _sleeping = io_async!(sleep_long(io, sleeper));
        let value = io_async!(fail(io)).join(io)?;
        Ok(value)
    })
}

/// `?` on a `std::io::Error` in a fn returning `Box<dyn Error>`.
fn converts_into_a_box(io: Io, sleeper: &Sleeper) -> Result<(), Box<dyn Error>> {
    scope!(io, {
        let _sleeping = io_async!(sleep_long(io, sleeper));
        Err(std::io::Error::other("disk on fire"))?;
        Ok(())
    })
}

#[io::test]
fn question_mark_converts_the_error_like_a_native_one(io: Io) {
    let sleeper = Sleeper::default();
    let (result, elapsed) = timed(|| converts_with_from(io, &sleeper));
    assert_eq!(result, Err(AppError::Memory(OutOfMemory)));
    assert!(sleeper.was_canceled(), "the sleeper still ran after `?`");
    let boxed = Sleeper::default();
    let error = converts_into_a_box(io, &boxed).unwrap_err();
    assert!(error.is::<std::io::Error>(), "{error}");
    assert!(boxed.was_canceled());
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

/// The first even value, through `?` on an `Option`.
fn first_even(io: Io, values: &[u32], sleeper: &Sleeper) -> Option<u32> {
    scope!(io, {
        let _sleeping = io_async!(sleep_long(io, sleeper));
        let even = values.iter().find(|v| *v % 2 == 0)?;
        Some(io_async!(add(io, *even, 0)).join(io))
    })
}

#[io::test]
fn question_mark_on_an_option_returns_none(io: Io) {
    let (none, some) = (Sleeper::default(), Sleeper::default());
    assert_eq!(first_even(io, &[1, 3], &none), None);
    assert!(none.was_canceled());
    assert_eq!(first_even(io, &[1, 4], &some), Some(4));
    assert!(
        some.was_canceled(),
        "the unjoined sleeper is canceled on the tail too"
    );
}

/// `return;` in a fn returning `()`: `reached` is set only when it does not return.
fn returns_nothing(io: Io, sleeper: &Sleeper, early: bool, reached: &AtomicBool) {
    scope!(io, {
        let _sleeping = io_async!(sleep_long(io, sleeper));
        if early {
            return;
        }
    });
    reached.store(true, Ordering::SeqCst);
}

#[io::test]
fn return_without_a_value_returns_from_the_enclosing_fn(io: Io) {
    let (sleeper, reached) = (Sleeper::default(), AtomicBool::new(false));
    returns_nothing(io, &sleeper, true, &reached);
    assert!(
        !reached.load(Ordering::SeqCst),
        "`return;` did not leave the fn"
    );
    assert!(sleeper.was_canceled());
    let (sleeper, reached) = (Sleeper::default(), AtomicBool::new(false));
    returns_nothing(io, &sleeper, false, &reached);
    assert!(reached.load(Ordering::SeqCst));
    assert!(sleeper.was_canceled());
}

#[io::test]
fn labeled_break_and_continue_act_on_the_labeled_loop(io: Io) {
    let sleepers: Vec<Sleeper> = (0..6).map(|_| Sleeper::default()).collect();
    let mut visited = Vec::new();
    'rows: for row in 0..3 {
        for col in 0..2 {
            let sleeper = &sleepers[row * 2 + col];
            scope!(io, {
                let _sleeping = io_async!(sleep_long(io, sleeper));
                if row == 0 && col == 0 {
                    continue 'rows;
                }
                if row == 2 {
                    break 'rows;
                }
                visited.push((row, col));
            });
        }
    }
    assert_eq!(visited, [(1, 0), (1, 1)]);
    let ran: Vec<bool> = sleepers.iter().map(Sleeper::was_canceled).collect();
    assert_eq!(ran, [true, false, true, true, true, false]);
    // With a value, out of two loops, and out of a labeled block.
    let sleepers: Vec<Sleeper> = (0..2).map(|_| Sleeper::default()).collect();
    let mut round = 0;
    let value = 'outer: loop {
        for sleeper in &sleepers[round..=round] {
            scope!(io, {
                let _sleeping = io_async!(sleep_long(io, sleeper));
                if round == 1 {
                    break 'outer io_async!(add(io, 20, 22)).join(io);
                }
            });
        }
        round += 1;
    };
    assert_eq!((value, round), (42, 1));
    assert!(sleepers.iter().all(Sleeper::was_canceled));
    let left = 'block: {
        scope!(io, {
            if value == 42 {
                break 'block "left";
            }
        });
        "stayed"
    };
    assert_eq!(left, "left");
}

/// `return` from a scope nested in another one: both scopes end, inner first.
fn returns_from_the_inner_scope(io: Io, outer: &Sleeper, inner: &Sleeper) -> u32 {
    let value = scope!(io, {
        let _outer = io_async!(sleep_long(io, outer));
        let doubled = scope!(io, {
            let _inner = io_async!(sleep_long(io, inner));
            let value = io_async!(add(io, 2, 2)).join(io);
            if value == 4 {
                return value * 10;
            }
            value * 2
        });
        doubled + 1
    });
    value + 1000
}

#[io::test]
fn return_in_a_nested_scope_returns_from_the_outer_fn(io: Io) {
    let (outer, inner) = (Sleeper::default(), Sleeper::default());
    assert_eq!(returns_from_the_inner_scope(io, &outer, &inner), 40);
    assert!(outer.was_canceled() && inner.was_canceled());
    assert_inner_ended_first(&inner, &outer);
}

#[io::test]
fn jumps_pass_through_nested_scopes_to_the_right_loop(io: Io) {
    let mut seen = Vec::new();
    let mut round = 0;
    let value = 'rounds: loop {
        round += 1;
        for i in 0..3 {
            scope!(io, {
                for j in 0..3 {
                    scope!(io, {
                        if j == 1 {
                            continue; // the `for j` loop, in the outer scope's body
                        }
                        if i == 1 && round == 1 {
                            continue 'rounds; // out of both scopes
                        }
                        if i == 2 {
                            break 'rounds io_async!(add(io, i, j)).join(io) + 100;
                        }
                        seen.push((i, j));
                    });
                }
            });
        }
    };
    assert_eq!(value, 102);
    assert_eq!(seen, [(0, 0), (0, 2), (0, 0), (0, 2), (1, 0), (1, 2)]);
}

/// `?` in the arguments of `println!`, `format!` and `io_async!`: `Err` at step `failing`.
fn question_marks_in_macros(io: Io, failing: u32, sleeper: &Sleeper) -> Result<String, AppError> {
    let step = |n: u32| {
        if n == failing {
            Err(OutOfMemory)
        } else {
            Ok(n)
        }
    };
    scope!(io, {
        let _sleeping = io_async!(sleep_long(io, sleeper));
        println!("step {}", step(1)?);
        let sum = io_async!(add(io, step(2)?, 10));
        let text = format!("{}+{}", step(3)?, sum.join(io));
        Ok(text)
    })
}

#[io::test]
fn question_marks_in_macro_arguments_leave_the_fn(io: Io) {
    for failing in 1..=3 {
        let sleeper = Sleeper::default();
        let result = question_marks_in_macros(io, failing, &sleeper);
        assert_eq!(result, Err(AppError::Memory(OutOfMemory)), "step {failing}");
        assert!(sleeper.was_canceled(), "step {failing}");
    }
    let sleeper = Sleeper::default();
    assert_eq!(
        question_marks_in_macros(io, 0, &sleeper).as_deref(),
        Ok("3+12")
    );
}

#[io::test]
fn the_scope_is_an_expression_anywhere(io: Io) {
    // Its type is inferred from later use.
    let mut later = scope!(io, { Vec::new() });
    later.push(io_async_free_value());
    assert_eq!(later, [7_u8]);
    // Inside a closure, and as a statement.
    let in_closure = |n: u32| scope!(io, { io_async!(add(io, n, 1)).join(io) });
    assert_eq!(in_closure(1), 2);
    scope!(io, {});
}

/// A value with no spawn involved.
fn io_async_free_value() -> u8 {
    7
}

/// Sleeps (until canceled), then reads `data` and raises `done`: run after its scope ended,
/// it would read freed memory.
fn sleep_then_read(io: Io, data: &[u32], done: &AtomicBool) -> u32 {
    let _ = io.sleep(LONG, Clock::Awake);
    let sum = data.iter().sum();
    done.store(true, Ordering::SeqCst);
    sum
}

/// The attack on the former expansion: capture the scope's identifier from the tokens that
/// `scope!` writes into a spawn, and forget what it names.
macro_rules! steal {
    ($m:ident ! ( @ $k:ident { ( & $g:ident ) . $($rest:tt)* } )) => {
        ::std::mem::forget($g)
    };
}

/// The same, searching any tokens for the first `(& ident)`.
macro_rules! steal_anywhere {
    () => {};
    (( & $g:ident ) $($rest:tt)*) => { ::std::mem::forget($g) };
    (( $($inner:tt)* ) $($rest:tt)*) => { steal_anywhere!($($inner)* $($rest)*) };
    ({ $($inner:tt)* } $($rest:tt)*) => { steal_anywhere!($($inner)* $($rest)*) };
    ([ $($inner:tt)* ] $($rest:tt)*) => { steal_anywhere!($($inner)* $($rest)*) };
    ($other:tt $($rest:tt)*) => { steal_anywhere!($($rest)*) };
}

// The lint says it: what the macros can capture is a `&Scope`, forgetting it does nothing.
#[allow(forgetting_references)]
#[io::test]
fn a_macro_capturing_the_scope_can_only_forget_a_reference(io: Io) {
    let data = vec![1, 2, 3];
    let done = AtomicBool::new(false);
    let ((), elapsed) = timed(|| {
        scope!(io, {
            steal!(io_async!(add(io, 1, 2)));
            steal_anywhere!(io_async!(add(io, 3, 4)));
            std::mem::forget(io_async!(sleep_then_read(io, &data, &done)));
        })
    });
    assert!(
        done.load(Ordering::SeqCst),
        "the scope ended before its task"
    );
    assert!(elapsed < PROMPT, "took {elapsed:?}");
    drop(data);
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

/// A trait with by-value impls for both `u32` and `&u32`: which one a call picks shows how the
/// receiver was resolved.
trait Which {
    /// The type whose impl ran.
    fn which(self) -> &'static str;
}

impl Which for u32 {
    fn which(self) -> &'static str {
        "u32"
    }
}

impl Which for &u32 {
    fn which(self) -> &'static str {
        "&u32"
    }
}

/// Compiles only when `plain` and `spawned` have the same type; asserts they are equal.
fn same<T: PartialEq + fmt::Debug>(plain: T, spawned: T) {
    assert_eq!(plain, spawned);
}

#[io::test]
fn method_spawns_resolve_like_the_plain_call(io: Io) -> Result<(), Canceled> {
    let owned = String::from("text");
    let x: &String = &owned;
    let n: u32 = 7;
    let mut v = vec![1_u32, 2, 3];
    let mut words = vec![String::from("a"), String::from("bc")];
    let i = 1;
    let text = "42";
    scope!(io, {
        // Each spawn next to the same call written without the macro.
        let cloned = io_async!(x.clone());
        let least = io_async!(n.min(2));
        let which = io_async!(n.which());
        let which_ref = io_async!((&n).which());
        let len = io_async!(v.len());
        let word = io_async!(words[i].len());
        let first = io_async!(words[0].clone());
        let through = io_async!((*x).len());
        let parsed = io_async!(text.parse::<u32>());
        let literal = io_async!("42".parse::<u8>());
        let collected = io_async!(v.iter().rev().collect::<Vec<_>>());
        let slept = io_async!(io.sleep(Duration::from_millis(1), Clock::Awake));
        same(x.clone(), cloned.join(io));
        same(n.min(2), least.join(io));
        same(n.which(), which.join(io));
        same((&n).which(), which_ref.join(io));
        same(v.len(), len.join(io));
        same(words[i].len(), word.join(io));
        same(words[0].clone(), first.join(io));
        same((*x).len(), through.join(io));
        same(text.parse::<u32>(), parsed.join(io));
        same("42".parse::<u8>(), literal.join(io));
        same(v.iter().rev().collect::<Vec<_>>(), collected.join(io));
        same(Ok(()), slept.join(io));
    });
    assert_eq!(n.which(), "u32");
    // Only borrowed by the tasks: free again after the scope.
    v.push(4);
    words.push(owned);
    assert_eq!((v.len(), words.len()), (4, 3));
    Ok(())
}

/// A log a method spawn appends to through `&mut self`.
struct Log(String);

impl Log {
    /// Spawns a `&mut self` method on a field of `self` and a `&self` one on another local.
    fn spawn_on_fields(&mut self, io: Io, other: &Log) -> usize {
        scope!(io, {
            let pushed = io_async!(self.0.push_str("!"));
            let len = io_async!(other.0.len());
            pushed.join(io);
            len.join(io)
        })
    }
}

#[io::test]
fn method_spawns_borrow_mutably_or_move_like_the_plain_call(io: Io) {
    let mut buf = String::new();
    let mut lines = vec![String::from("a"), String::from("b")];
    let s = String::from("moved");
    let bytes = scope!(io, {
        // `&mut self`: the task holds the only borrow until the scope ends.
        let pushed = io_async!(buf.push_str("x"));
        let line = io_async!(lines[1].push_str("c"));
        // By-value `self` of a non-`Copy` local: moved into the task, as the plain call would.
        let bytes = io_async!(s.into_bytes());
        pushed.join(io);
        line.join(io);
        bytes.join(io)
    });
    assert_eq!((buf.as_str(), bytes.as_slice()), ("x", b"moved".as_slice()));
    assert_eq!(lines, ["a", "bc"]);
    let mut log = Log(String::from("log"));
    let len = log.spawn_on_fields(io, &Log(String::from("other")));
    assert_eq!((log.0.as_str(), len), ("log!", 5));
}

/// A receiver built on the caller; its method records when the task runs it.
struct Adder<'a> {
    base: u32,
    order: &'a Mutex<Vec<&'static str>>,
}

impl Adder<'_> {
    /// `base + a + b`, noting "call".
    fn add(&self, a: u32, b: u32) -> u32 {
        self.order.lock().unwrap().push("call");
        self.base + a + b
    }
}

#[io::test]
fn method_receivers_and_arguments_are_evaluated_at_the_spawn_in_order(io: Io) {
    let order = Mutex::new(Vec::new());
    // Not Send (it borrows a Cell): usable only because the caller evaluates it.
    let counter = Cell::new(0_usize);
    let noted = |what: &'static str| {
        order.lock().unwrap().push(what);
        counter.set(counter.get() + 1);
        counter.get()
    };
    let table = [0_u32, 0, 0, 0, 40];
    let (sum, len, total, looked_up) = scope!(io, {
        let sum = io_async!(Adder {
            base: noted("receiver") as u32,
            order: &order,
        }
        .add(noted("first") as u32, noted("second") as u32));
        let len = io_async!(String::from("ab").len());
        let total = io_async!(vec![1, 2].into_iter().sum::<i32>());
        let looked_up = io_async!(table[noted("index")].min(noted("argument") as u32));
        assert_eq!(counter.get(), 5);
        counter.set(100);
        (
            sum.join(io),
            len.join(io),
            total.join(io),
            looked_up.join(io),
        )
    });
    assert_eq!((sum, len, total, looked_up), (1 + 2 + 3, 2, 3, 5));
    let mut order = order.into_inner().unwrap();
    let call = order.iter().position(|&what| what == "call").unwrap();
    assert!(
        call > 2,
        "the task ran before its arguments were evaluated: {order:?}"
    );
    order.remove(call);
    assert_eq!(order, ["receiver", "first", "second", "index", "argument"]);
}

#[io::test]
fn move_makes_a_method_spawn_take_its_receiver(io: Io) {
    let total = scope!(io, {
        let mut tasks = Vec::new();
        for i in 0..3_u32 {
            // `i` dies with its iteration: the task takes a copy of it.
            tasks.push(io_async!(move i.min(1)));
        }
        // `local` dies before the scope ends: the task takes it.
        let local = String::from("dies first");
        let len = io_async!(move local.len());
        // A no-op where nothing is captured.
        let sum = io_async!(move add(io, 1, 2));
        let mins: u32 = tasks.into_iter().map(|task| task.join(io)).sum();
        mins + sum.join(io) + u32::try_from(len.join(io)).unwrap()
    });
    assert_eq!(total, (1 + 1) + 3 + 10);
}

#[io::test]
fn method_spawns_on_variables_declared_in_the_scope(io: Io) {
    let words = vec![String::from("a"), String::from("bc")];
    let (lengths, bytes) = scope!(io, {
        let mut lengths = Vec::new();
        for word in &words {
            // `word` dies with its iteration, but `len` only needs `*word`, which outlives the
            // scope: the closure reborrows through the reference.
            lengths.push(io_async!(word.len()));
        }
        // A by-value method takes a local of the scope into the task.
        let local = String::from("local");
        let bytes = io_async!(local.into_bytes());
        let lengths: Vec<usize> = lengths.into_iter().map(|task| task.join(io)).collect();
        (lengths, bytes.join(io))
    });
    assert_eq!((lengths, bytes), (vec![1, 2], b"local".to_vec()));
}

#[io::test]
fn a_closure_is_spawned_as_the_task(io: Io) -> Result<(), Box<dyn Error>> {
    let (answer, sum, slept) = scope!(io, {
        let answer = io_async!(|| 40 + 2);
        let sum = io_async!(move || {
            let mut v = vec![1, 2];
            v.push(3);
            v.iter().sum::<i32>()
        });
        // `io_concurrent!` gives a `Result` of the handle; the task's own value is a `Result` too.
        let slept = io_concurrent!(|| io.sleep(Duration::from_millis(1), Clock::Awake))?;
        (answer.join(io), sum.join(io), slept.join(io))
    });
    assert_eq!((answer, sum), (42, 6));
    slept?;
    Ok(())
}

#[io::test]
fn a_closure_borrows_or_moves_like_any_closure(io: Io) {
    let values = vec![1, 2, 3, 4];
    let mut filled = Vec::new();
    let (total, lengths) = scope!(io, {
        // Without `move`: `values` (declared before the scope) is borrowed, and `filled`
        // borrowed mutably until the scope ends.
        let total = io_async!(|| values.iter().sum::<u32>());
        let fill = io_async!(|| filled.extend_from_slice(&values[1..]));
        // `word` dies with its iteration: `move` takes it into the task.
        let mut lengths = Vec::new();
        for word in ["a", "bc"].map(String::from) {
            lengths.push(io_concurrent!(move || word.len()).expect("2 workers"));
        }
        fill.join(io);
        let lengths: Vec<usize> = lengths.into_iter().map(|task| task.join(io)).collect();
        (total.join(io), lengths)
    });
    assert_eq!((total, lengths), (10, vec![1, 2]));
    assert_eq!(filled, [2, 3, 4]);
    drop(values); // the borrows ended with the scope
}

/// What `exits_in_closures` saw: each task's value, and whether the fn went on after the scope.
type ClosureExits = (
    Result<u32, std::num::ParseIntError>,
    Option<usize>,
    &'static str,
    bool,
);

/// `?` and `return` in a task's closure leave the closure, as in any closure: the enclosing fn
/// goes on (and its error type could not even take theirs).
fn exits_in_closures(io: Io, text: &str) -> Result<ClosureExits, OutOfMemory> {
    let reached = AtomicBool::new(false);
    let (parsed, rest, early) = scope!(io, {
        let parsed = io_async!(|| -> Result<u32, std::num::ParseIntError> {
            let n: u32 = text.parse()?;
            Ok(n + 1)
        });
        let rest = io_async!(|| {
            let rest = text.strip_prefix("n=")?;
            Some(rest.len())
        });
        let early = io_concurrent!(move || {
            if text.contains('=') {
                return "early";
            }
            "late"
        })
        .expect("2 workers");
        reached.store(true, Ordering::SeqCst);
        (parsed.join(io), rest.join(io), early.join(io))
    });
    Ok((parsed, rest, early, reached.load(Ordering::SeqCst)))
}

#[io::test]
fn question_mark_and_return_in_a_closure_leave_the_closure(io: Io) {
    let (parsed, rest, early, reached) = exits_in_closures(io, "n=57").unwrap();
    assert!(parsed.is_err());
    assert_eq!((rest, early, reached), (Some(2), "early", true));
    let (parsed, rest, early, reached) = exits_in_closures(io, "12").unwrap();
    assert_eq!((parsed, rest, early, reached), (Ok(13), None, "late", true));
}

#[io::test]
fn a_tasks_closure_spawns_in_a_scope_of_its_own(io: Io) {
    let values = [1, 2, 3, 4];
    let total = scope!(io, {
        let total = io_async!(|| {
            let (left, right) = values.split_at(2);
            scope!(io, {
                let l = io_async!(|| sum(io, left));
                let r = io_async!(sum(io, right));
                l.join(io) + r.join(io)
            })
        });
        total.join(io)
    });
    assert_eq!(total, 10);
}

#[io::test]
fn a_closure_task_is_canceled_when_the_scope_ends(io: Io) {
    let sleeper = Sleeper::default();
    let ((), elapsed) = timed(|| {
        scope!(io, {
            let _sleeping = io_async!(|| sleep_long(io, &sleeper));
        })
    });
    assert!(sleeper.was_canceled());
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}
