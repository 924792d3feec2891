//! Attacks on `scope!`'s promise, written as a hostile user would, in safe code only: each one
//! tries to make a task outlive its scope, read a borrow after it was freed, leak a result, or
//! lose a wake-up. The program runs them all and says which held.
//!
//! Every attack that would let a task run past its scope lets it touch the borrowed data then,
//! so under valgrind a broken promise is an "Invalid read … free'd"; without valgrind, the
//! sentinel [`Ended`] catches it. `tests/valgrind.rs` runs this program under valgrind on the
//! threaded backend (`IO_BACKEND=threaded`).
//!
//! Exit status: 0 if every attack was defeated, 1 otherwise.
#![forbid(unsafe_code)]
// Attacks 1 and 2 forget and leak what a macro can capture; the compiler agrees it is a
// reference, which is the point.
#![allow(forgetting_references)]

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use io::{io_async, io_concurrent, io_group, scope, Canceled, Clock, Event, Io, Runtime};

/// How long an attacking task sleeps before it touches borrowed data: long enough that a scope
/// that does not wait for it has certainly ended.
const NAP: Duration = Duration::from_millis(30);

/// Set once the scope under attack has returned; a task that sees it set outlived its scope.
struct Ended {
    scope_over: AtomicBool,
    violations: AtomicUsize,
}

static ENDED: Ended = Ended {
    scope_over: AtomicBool::new(false),
    violations: AtomicUsize::new(0),
};

impl Ended {
    /// Called by a task as it touches borrowed data.
    fn touch(&self, data: &[u64]) -> u64 {
        if self.scope_over.load(Ordering::SeqCst) {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
        data.iter().sum()
    }
}

/// Sleeps (ignoring cancellation, like a task in cleanup), then reads `data`.
fn late_reader(io: Io, data: &[u64]) -> u64 {
    io.uncancelable(|| {
        let _ = io.sleep(NAP, Clock::Awake);
    });
    ENDED.touch(data)
}

/// What the stolen spawns would run (the stealing macros swallow the call).
#[allow(dead_code)]
fn noop() {}

/// A result whose drop panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a result's drop panicked");
    }
}

/// A panic payload whose drop panics too.
struct PoisonedPayload;

impl Drop for PoisonedPayload {
    fn drop(&mut self) {
        panic!("a panic payload's drop panicked");
    }
}

/// Runs one attack: `attack` gets borrowed data, which is freed right after it returns.
fn run(name: &str, io: Io, attack: impl FnOnce(Io, &[u64])) -> bool {
    ENDED.scope_over.store(false, Ordering::SeqCst);
    let before = ENDED.violations.load(Ordering::SeqCst);
    let data = vec![7u64; 1000];
    let outcome = catch_unwind(AssertUnwindSafe(|| attack(io, &data)));
    ENDED.scope_over.store(true, Ordering::SeqCst);
    drop(data);
    // Give any task that escaped its scope the time to show itself.
    std::thread::sleep(NAP * 3);
    let held = ENDED.violations.load(Ordering::SeqCst) == before;
    if let Err(payload) = outcome {
        // Payloads of user types may panic on drop: this program made them, it leaks them.
        std::mem::forget(payload);
    }
    println!("{:<58} {}", name, if held { "held" } else { "BROKEN" });
    held
}

macro_rules! steal {
    ($m:ident ! ( @ $k:ident { ( & $g:ident ) . $($rest:tt)* } )) => {
        ::std::mem::forget($g)
    };
    ($($other:tt)*) => {
        ()
    };
}

/// Captures the scope token the same way and leaks it in a box instead.
macro_rules! leak {
    ($m:ident ! ( @ $k:ident { ( & $g:ident ) . $($rest:tt)* } )) => {
        let _ = ::std::boxed::Box::leak(::std::boxed::Box::new($g));
    };
    ($($other:tt)*) => {
        ()
    };
}

fn attacks(io: Io) -> Vec<bool> {
    let mut held = Vec::new();
    held.push(run(
        "1. a user macro forgets the captured scope token",
        io,
        |io, data| {
            scope!(io, {
                std::mem::forget(io_async!(late_reader(io, data)));
                steal!(io_async!(noop()));
            });
        },
    ));
    held.push(run(
        "2. a user macro leaks the captured scope token",
        io,
        |io, data| {
            scope!(io, {
                std::mem::forget(io_async!(late_reader(io, data)));
                leak!(io_async!(noop()));
            });
        },
    ));
    held.push(run("3. a forgotten handle", io, |io, data| {
        scope!(io, {
            std::mem::forget(io_concurrent!(late_reader(io, data)));
        });
    }));
    held.push(run("4. a handle leaked in an Rc cycle", io, |io, data| {
        scope!(io, {
            struct Node<'a> {
                _handle: io::Future<'a, u64>,
                next: RefCell<Option<Rc<Node<'a>>>>,
            }
            let node = Rc::new(Node {
                _handle: io_async!(late_reader(io, data)),
                next: RefCell::new(None),
            });
            *node.next.borrow_mut() = Some(Rc::clone(&node));
        });
    }));
    held.push(run("5. a handle leaked with Box::leak", io, |io, data| {
        scope!(io, {
            let _ = Box::leak(Box::new(io_async!(late_reader(io, data))));
        });
    }));
    held.push(run(
        "6. a panic in the body after spawning",
        io,
        |io, data| {
            scope!(io, {
                let _reader = io_async!(late_reader(io, data));
                panic!("the body panicked");
            });
        },
    ));
    held.push(run(
        "7. a result drop panics while an older task runs",
        io,
        |io, data| {
            scope!(io, {
                std::mem::forget(io_concurrent!(late_reader(io, data)));
                std::mem::forget(io_async!((|| PanicsOnDrop)()));
            });
        },
    ));
    held.push(run(
        "8. group tasks panic, one payload panics on drop",
        io,
        |io, data| {
            scope!(io, {
                let group = io_group!();
                group.spawn(io, move || {
                    late_reader(io, data);
                });
                group.spawn(io, || std::panic::panic_any(PoisonedPayload));
                group.spawn(io, || panic!("plain"));
                std::mem::forget(group);
            });
        },
    ));
    held.push(run(
        "9. a group forgotten with its tasks running",
        io,
        |io, data| {
            scope!(io, {
                let group = io_group!();
                for _ in 0..4 {
                    group.spawn(io, move || {
                        late_reader(io, data);
                    });
                }
                std::mem::forget(group);
            });
        },
    ));
    held.push(run(
        "10. a nested scope's handle forgotten, outer returns early",
        io,
        |io, data| {
            let early = || -> Result<(), Canceled> {
                scope!(io, {
                    scope!(io, {
                        std::mem::forget(io_async!(late_reader(io, data)));
                        Err::<(), Canceled>(Canceled)?;
                    });
                });
                Ok(())
            };
            let _ = early();
        },
    ));
    held.push(run(
        "11. catch_unwind inside the scope swallows a join's panic",
        io,
        |io, data| {
            scope!(io, {
                std::mem::forget(io_async!(late_reader(io, data)));
                let boom = io_async!((|| -> u32 { panic!("task panicked") })());
                let _ = catch_unwind(AssertUnwindSafe(|| boom.join(io)));
            });
        },
    ));
    held.push(run(
        "12. break out of a loop around the scope",
        io,
        |io, data| {
            for _ in 0..3 {
                scope!(io, {
                    std::mem::forget(io_async!(late_reader(io, data)));
                    break;
                });
            }
        },
    ));
    held.push(run(
        "13. a deadlock at scope end (uncancelable wait)",
        io,
        |io, data| {
            let never = Event::new();
            scope!(io, {
                std::mem::forget(io_concurrent!((|| {
                    let _ = io.uncancelable(|| never.wait(io));
                    ENDED.touch(data)
                })()));
            });
        },
    ));
    held.push(run("14. two selectors share one future", io, |io, _| {
        let go = Event::new();
        scope!(io, {
            let task = io_concurrent!(go.wait(io)).expect("concurrency");
            let (a, b) = scope!(io, {
                let select = || io.timeout(Duration::from_secs(5), || io.select(&[&task]));
                let a = io_concurrent!(select()).expect("concurrency");
                let b = io_concurrent!(select()).expect("concurrency");
                let _ = io.sleep(Duration::from_millis(10), Clock::Awake);
                go.set();
                (a.join(io), b.join(io))
            });
            if (a, b) != (Ok(Ok(0)), Ok(Ok(0))) {
                // A selector lost its wake-up and waited out its timeout.
                ENDED.violations.fetch_add(1, Ordering::SeqCst);
            }
            let _ = task.join(io);
        });
    }));
    held.push(run(
        "15. a results group is forgotten, its results read on drop",
        io,
        |io, data| {
            scope!(io, {
                let group = io_group!();
                for _ in 0..4 {
                    group.spawn(io, move || {
                        late_reader(io, data);
                        ReadsOnDrop(data)
                    });
                }
                let _ = group.next(io);
                std::mem::forget(group);
            });
        },
    ));
    held.push(run(
        "16. a select arm holding a future is forgotten",
        io,
        |io, data| {
            scope!(io, {
                let future = io_async!(late_reader(io, data));
                std::mem::forget(io::IntoSelectArm::into_select_arm(future));
            });
        },
    ));
    held.push(run(
        "17. the winner's expression panics, a future lost",
        io,
        |io, data| {
            scope!(io, {
                let slow = io_concurrent!(late_reader(io, data)).expect("concurrency");
                let _ = io::io_select!(io, {
                    _ = slow => 0,
                    () = io::after(Duration::from_millis(1)) => panic!("the winner {}", data[0]),
                });
            });
        },
    ));
    held.push(run(
        "18. next resumes a panic while siblings still run",
        io,
        |io, data| {
            scope!(io, {
                let group = io_group!();
                for n in 0..4 {
                    group.spawn(io, move || {
                        if n == 0 {
                            panic!("first task");
                        }
                        late_reader(io, data)
                    });
                }
                while group.next(io).is_ok_and(|next| next.is_some()) {}
            });
        },
    ));
    held
}

/// A result that reads borrowed data when it is dropped.
struct ReadsOnDrop<'a>(&'a [u64]);

impl Drop for ReadsOnDrop<'_> {
    fn drop(&mut self) {
        ENDED.touch(self.0);
    }
}

fn main() {
    let backend = std::env::var("IO_BACKEND").unwrap_or_else(|_| "threaded".into());
    let backend = io::Backend::from_name(&backend).expect("IO_BACKEND");
    let runtime = Runtime::builder()
        .backend(backend)
        .threads(2)
        .deadlock_grace(Some(Duration::from_millis(200)))
        .build()
        .expect("runtime");
    // Panics are part of the attacks: keep their messages off the table.
    std::panic::set_hook(Box::new(|_| {}));
    let held = runtime.run(attacks);
    let broken = held.iter().filter(|held| !**held).count();
    println!(
        "{} attacks, {} held, {} broken",
        held.len(),
        held.len() - broken,
        broken
    );
    std::process::exit(i32::from(broken > 0));
}
