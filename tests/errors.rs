//! The runtime's errors as `std::io::Error` and as `Box<dyn Error + Send + Sync>`: each
//! conversion's kind, payload and `is_canceled`; `?` in functions returning either; and
//! `Io::try_timeout`, which flattens a timed call that returns a `Result`, on both backends.
//!
//! Each test that blocks runs under a watchdog that aborts the process if it still runs after
//! `WATCHDOG`: a deadline that fails to interrupt a call would otherwise hang the suite.

mod support;

use std::error::Error;
use std::io::ErrorKind;
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::time::Duration;

use io::net::{TcpListener, TcpStream};
use io::{
    is_canceled, BuildError, Canceled, Clock, Closed, ConcurrencyUnavailable, Io, PutError, Queue,
    QueueError, Timeout, TryPutError,
};
use support::{each_backend, timed, watched, BACKENDS, LONG, PROMPT};

/// How long a test may run before the process is aborted.
const WATCHDOG: Duration = Duration::from_secs(60);
/// Any free port on the loopback address.
const LOCALHOST: ([u8; 4], u16) = ([127, 0, 0, 1], 0);
/// The deadline of the calls that are expected to time out.
const SHORT: Duration = Duration::from_millis(50);

type BoxError = Box<dyn Error + Send + Sync>;

/// Runs `f` on every backend under the watchdog.
fn run(name: &'static str, f: impl Fn(Io)) {
    watched(name, WATCHDOG, || each_backend(f));
}

/// The payload of `error` as an `E`, if it is one.
fn payload<E: Error + 'static>(error: &std::io::Error) -> Option<&E> {
    error.get_ref().and_then(|inner| inner.downcast_ref::<E>())
}

/// Compiles only for types that `?` may box as `Box<dyn Error + Send + Sync>`.
fn assert_boxable<E: Error + Send + Sync + 'static>() {}

// ---------------------------------------------------------------------------------------------
// Each conversion's kind and payload.
// ---------------------------------------------------------------------------------------------

#[test]
fn every_error_type_is_send_sync_and_static() {
    assert_boxable::<Canceled>();
    assert_boxable::<Timeout>();
    assert_boxable::<ConcurrencyUnavailable>();
    assert_boxable::<Closed>();
    assert_boxable::<QueueError>();
    assert_boxable::<BuildError>();
    assert_boxable::<PutError<String>>();
    assert_boxable::<PutError<Vec<u8>>>();
    assert_boxable::<TryPutError<String>>();
    assert_boxable::<TryPutError<Box<[u64]>>>();
    // What an I/O error holds after a put error's item was dropped.
    assert_boxable::<PutError<()>>();
    assert_boxable::<TryPutError<()>>();
}

#[test]
fn canceled_is_a_canceled_io_error_of_kind_other_not_interrupted() {
    let error = std::io::Error::from(Canceled);
    assert!(is_canceled(&error));
    assert_eq!(error.kind(), ErrorKind::Other);
    assert_ne!(
        error.kind(),
        ErrorKind::Interrupted,
        "std retries Interrupted"
    );
    assert_eq!(payload::<Canceled>(&error), Some(&Canceled));
}

#[test]
fn timeout_is_timed_out_and_not_canceled() {
    let error = std::io::Error::from(Timeout);
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert!(
        !is_canceled(&error),
        "a deadline is told apart from a cancel"
    );
    assert_eq!(payload::<Timeout>(&error), Some(&Timeout));
    assert_eq!(error.to_string(), "timed out");
}

#[test]
fn concurrency_unavailable_is_resource_busy() {
    let error = std::io::Error::from(ConcurrencyUnavailable);
    assert_eq!(error.kind(), ErrorKind::ResourceBusy);
    assert!(!is_canceled(&error));
    assert_eq!(
        payload::<ConcurrencyUnavailable>(&error),
        Some(&ConcurrencyUnavailable)
    );
}

#[test]
fn closed_is_a_broken_pipe() {
    let error = std::io::Error::from(Closed);
    assert_eq!(error.kind(), ErrorKind::BrokenPipe);
    assert!(!is_canceled(&error));
    assert_eq!(payload::<Closed>(&error), Some(&Closed));
}

#[test]
fn queue_errors_convert_like_canceled_and_closed() {
    let canceled = std::io::Error::from(QueueError::Canceled);
    assert_eq!(canceled.kind(), ErrorKind::Other);
    assert!(is_canceled(&canceled));
    assert_eq!(
        payload::<QueueError>(&canceled),
        Some(&QueueError::Canceled)
    );

    let closed = std::io::Error::from(QueueError::Closed);
    assert_eq!(closed.kind(), ErrorKind::BrokenPipe);
    assert!(!is_canceled(&closed));
    assert_eq!(payload::<QueueError>(&closed), Some(&QueueError::Closed));
}

#[test]
fn put_errors_drop_their_item_and_keep_their_variant() {
    let canceled = std::io::Error::from(PutError::Canceled(String::from("dropped")));
    assert_eq!(canceled.kind(), ErrorKind::Other);
    assert!(is_canceled(&canceled));
    assert_eq!(
        payload::<PutError<()>>(&canceled),
        Some(&PutError::Canceled(()))
    );
    assert!(
        payload::<PutError<String>>(&canceled).is_none(),
        "the item is gone"
    );

    let closed = std::io::Error::from(PutError::Closed(vec![1u8, 2, 3]));
    assert_eq!(closed.kind(), ErrorKind::BrokenPipe);
    assert!(!is_canceled(&closed));
    assert_eq!(
        payload::<PutError<()>>(&closed),
        Some(&PutError::Closed(()))
    );
}

#[test]
fn try_put_errors_are_would_block_when_full_and_broken_pipe_when_closed() {
    // The item need not be Send or Sync: converting drops it.
    let full = std::io::Error::from(TryPutError::Full(std::rc::Rc::new(1)));
    assert_eq!(full.kind(), ErrorKind::WouldBlock);
    assert!(!is_canceled(&full));
    assert_eq!(
        payload::<TryPutError<()>>(&full),
        Some(&TryPutError::Full(()))
    );

    let closed = std::io::Error::from(TryPutError::Closed(7));
    assert_eq!(closed.kind(), ErrorKind::BrokenPipe);
    assert_eq!(
        payload::<TryPutError<()>>(&closed),
        Some(&TryPutError::Closed(()))
    );
}

#[test]
fn a_build_error_keeps_its_message() {
    let build = io::Backend::from_name("fibers").unwrap_err();
    let message = build.to_string();
    let error = std::io::Error::from(build);
    assert_eq!(error.kind(), ErrorKind::Other);
    assert!(!is_canceled(&error));
    assert_eq!(error.to_string(), message);
    assert!(payload::<BuildError>(&error).is_some());
}

#[test]
fn other_io_errors_are_not_canceled() {
    assert!(!is_canceled(&ErrorKind::Interrupted.into()));
    assert!(!is_canceled(&std::io::Error::other("canceled")));
    assert!(!is_canceled(&std::io::Error::from(QueueError::Closed)));
    assert!(!is_canceled(&std::io::Error::from(PutError::Closed(()))));
}

// ---------------------------------------------------------------------------------------------
// `?` into `std::io::Result` and `Result<_, Box<dyn Error + Send + Sync>>`, with errors the
// runtime returned.
// ---------------------------------------------------------------------------------------------

/// Returns `error` through `?` in a function returning `std::io::Result`.
fn through_io<E>(error: E) -> std::io::Result<()>
where
    std::io::Error: From<E>,
{
    Err::<(), E>(error)?;
    Ok(())
}

/// Returns `error` through `?` in a function returning a boxed error.
fn through_box<E: Error + Send + Sync + 'static>(error: E) -> Result<(), BoxError> {
    Err::<(), E>(error)?;
    Ok(())
}

#[test]
fn question_mark_converts_every_error_into_io_error_and_box() {
    let kinds = [
        (through_io(Canceled), ErrorKind::Other),
        (through_io(Timeout), ErrorKind::TimedOut),
        (through_io(ConcurrencyUnavailable), ErrorKind::ResourceBusy),
        (through_io(Closed), ErrorKind::BrokenPipe),
        (through_io(QueueError::Closed), ErrorKind::BrokenPipe),
        (through_io(PutError::Canceled('x')), ErrorKind::Other),
        (through_io(TryPutError::Full("x")), ErrorKind::WouldBlock),
        (
            through_io(io::Backend::from_name("?").unwrap_err()),
            ErrorKind::Other,
        ),
    ];
    for (result, kind) in kinds {
        assert_eq!(result.unwrap_err().kind(), kind);
    }

    let boxed: Vec<(BoxError, &str)> = vec![
        (through_box(Canceled).unwrap_err(), "canceled"),
        (through_box(Timeout).unwrap_err(), "timed out"),
        (
            through_box(ConcurrencyUnavailable).unwrap_err(),
            "ConcurrencyUnavailable",
        ),
        (through_box(Closed).unwrap_err(), "closed"),
        (through_box(QueueError::Canceled).unwrap_err(), "canceled"),
        (
            through_box(PutError::Closed(String::new())).unwrap_err(),
            "closed",
        ),
        (through_box(TryPutError::Full(1)).unwrap_err(), "queue full"),
        (
            through_box(io::Backend::from_name("?").unwrap_err()).unwrap_err(),
            "unknown backend \"?\": expected \"threaded\", \"uring\" or \"auto\"",
        ),
    ];
    for (error, message) in boxed {
        assert_eq!(error.to_string(), message);
    }
    let timeout = through_box(Timeout).unwrap_err();
    assert_eq!(timeout.downcast_ref::<Timeout>(), Some(&Timeout));
}

/// Closes `queue`, then fails to get from and put to it, passing each error up with `?`.
fn use_closed_queue_io(io: Io, queue: &Queue<String>) -> std::io::Result<String> {
    queue.close();
    match queue.try_put_one(String::from("try")) {
        Err(error) => assert_eq!(std::io::Error::from(error).kind(), ErrorKind::BrokenPipe),
        Ok(()) => panic!("a closed queue took an item"),
    }
    let put = (|| -> std::io::Result<()> { Ok(queue.put_one(io, String::from("put"))?) })();
    assert_eq!(put.unwrap_err().kind(), ErrorKind::BrokenPipe);
    queue.get_one(io)?;
    unreachable!("a closed, drained queue returned an item")
}

/// As `use_closed_queue_io`, returning a boxed error.
fn use_closed_queue_box(io: Io, queue: &Queue<String>) -> Result<String, BoxError> {
    queue.close();
    let put = (|| -> Result<(), BoxError> { Ok(queue.put_one(io, String::from("put"))?) })();
    let put = put.unwrap_err();
    assert!(matches!(
        put.downcast_ref::<PutError<String>>(),
        Some(PutError::Closed(item)) if item == "put"
    ));
    Ok(queue.get_one(io)?)
}

#[test]
fn question_mark_passes_up_a_closed_queue_on_both_backends() {
    run("closed queue", |io| {
        let error = use_closed_queue_io(io, &Queue::new(1)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BrokenPipe);
        assert_eq!(payload::<QueueError>(&error), Some(&QueueError::Closed));

        let boxed = use_closed_queue_box(io, &Queue::new(0)).unwrap_err();
        assert_eq!(
            boxed.downcast_ref::<QueueError>(),
            Some(&QueueError::Closed)
        );
    });
}

#[test]
fn a_put_that_times_out_is_canceled_then_converts_to_a_canceled_io_error() {
    run("put timeout", |io| {
        let queue = Queue::new(0);
        // Nobody gets from a rendezvous queue: the put waits until the deadline cancels it.
        let put = io.timeout(SHORT, || {
            let put = queue.put_one(io, 5u32);
            assert!(matches!(put, Err(PutError::Canceled(5))), "got {put:?}");
            let error = std::io::Error::from(put.unwrap_err());
            assert!(is_canceled(&error));
            Err::<(), _>(error)
        });
        assert!(matches!(put, Err(Timeout)), "got {put:?}");
    });
}

#[test]
fn question_mark_passes_up_concurrency_unavailable_of_a_single_threaded_runtime() {
    fn spawn_beside(io: Io) -> std::io::Result<u32> {
        io.scope(|s| {
            let future = s.spawn_concurrent(|| 42)?;
            Ok(future.join(io))
        })
    }
    fn spawn_beside_boxed(io: Io) -> Result<u32, BoxError> {
        io.scope(|s| Ok(s.spawn_concurrent(|| 42)?.join(io)))
    }
    watched("single-threaded", WATCHDOG, || {
        for &backend in BACKENDS {
            let built = io::Runtime::builder()
                .backend(backend)
                .single_threaded()
                .build();
            let runtime = match built {
                Ok(runtime) => runtime,
                // A kernel that refuses io_uring: skip that backend, saying why.
                Err(reason) if backend == io::Backend::Uring => {
                    eprintln!("skipped on {backend:?}: {reason}");
                    continue;
                }
                Err(reason) => panic!("cannot build {backend:?}: {reason}"),
            };
            runtime.run(|io| {
                let error = spawn_beside(io).unwrap_err();
                assert_eq!(error.kind(), ErrorKind::ResourceBusy, "{backend:?}");
                assert!(payload::<ConcurrencyUnavailable>(&error).is_some());
                let boxed = spawn_beside_boxed(io).unwrap_err();
                assert!(boxed.is::<ConcurrencyUnavailable>(), "{backend:?}");
            });
        }
    });
}

// ---------------------------------------------------------------------------------------------
// `Io::try_timeout`.
// ---------------------------------------------------------------------------------------------

/// Sleeps `duration`, as a call that returns `std::io::Result`.
fn io_sleep(io: Io, duration: Duration) -> std::io::Result<&'static str> {
    io.sleep(duration, Clock::Awake)?;
    Ok("slept")
}

/// Asserts that `result` is a timed-out I/O error that came within `PROMPT`.
fn assert_timed_out<T: std::fmt::Debug>(result: std::io::Result<T>, elapsed: Duration) {
    let error = result.expect_err("the call returned instead of timing out");
    assert_eq!(error.kind(), ErrorKind::TimedOut, "got {error:?}");
    assert!(!is_canceled(&error), "a timeout is not a cancel: {error:?}");
    assert_eq!(payload::<Timeout>(&error), Some(&Timeout));
    assert!(elapsed < PROMPT, "took {elapsed:?}");
}

#[test]
fn try_timeout_of_a_long_sleep_is_timed_out() {
    run("sleep", |io| {
        let (result, elapsed) = timed(|| io.try_timeout(SHORT, || io_sleep(io, LONG)));
        assert_timed_out(result, elapsed);
        // The deadline ended with its call.
        assert_eq!(io_sleep(io, Duration::from_millis(1)).unwrap(), "slept");
    });
}

#[test]
fn try_timeout_of_an_idle_udp_read_is_timed_out() {
    run("udp", |io| {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 64];
        let (result, elapsed) =
            timed(|| io.try_timeout(SHORT, || io.read_fd(socket.as_fd(), &mut buf)));
        assert_timed_out(result, elapsed);
    });
}

#[test]
fn try_timeout_of_a_read_from_a_silent_peer_is_timed_out() {
    run("tcp", |io| {
        let listener = TcpListener::bind(io, LOCALHOST).unwrap();
        let client = TcpStream::connect(io, listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept(io).unwrap();
        let mut buf = [0u8; 16];
        let (result, elapsed) = timed(|| io.try_timeout(SHORT, || server.read(io, &mut buf)));
        assert_timed_out(result, elapsed);
        // The connection still works after the deadline.
        client.write_all(io, b"late").unwrap();
        let n = server.read(io, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"late");
    });
}

#[test]
fn try_timeout_returns_a_quick_calls_ok_or_err_unchanged() {
    run("quick", |io| {
        let slept = io.try_timeout(LONG, || io_sleep(io, Duration::from_millis(1)));
        assert_eq!(slept.unwrap(), "slept");

        let (failed, elapsed) = timed(|| {
            io.try_timeout(LONG, || -> std::io::Result<()> {
                Err(std::io::Error::new(ErrorKind::InvalidData, "bad frame"))
            })
        });
        let failed = failed.unwrap_err();
        assert_eq!(failed.kind(), ErrorKind::InvalidData);
        assert_eq!(failed.to_string(), "bad frame");
        assert!(elapsed < PROMPT, "took {elapsed:?}");

        let unlimited = io.try_timeout(Duration::MAX, || std::io::Result::Ok(7));
        assert_eq!(unlimited.unwrap(), 7, "no overflow");
    });
}

#[test]
fn try_timeout_works_with_boxed_and_own_error_types() {
    #[derive(Debug, PartialEq)]
    enum FetchError {
        Canceled,
        TooSlow,
        Empty,
    }
    impl From<Canceled> for FetchError {
        fn from(_: Canceled) -> Self {
            FetchError::Canceled
        }
    }
    impl From<Timeout> for FetchError {
        fn from(_: Timeout) -> Self {
            FetchError::TooSlow
        }
    }

    run("error types", |io| {
        let slow = || -> Result<(), FetchError> { Ok(io.sleep(LONG, Clock::Awake)?) };
        assert_eq!(io.try_timeout(SHORT, slow), Err(FetchError::TooSlow));
        let empty = || -> Result<(), FetchError> { Err(FetchError::Empty) };
        assert_eq!(io.try_timeout(LONG, empty), Err(FetchError::Empty));

        let boxed = io.try_timeout(SHORT, || -> Result<(), BoxError> {
            Ok(io.sleep(LONG, Clock::Awake)?)
        });
        assert!(boxed.unwrap_err().is::<Timeout>());
    });
}

#[test]
fn try_timeout_reports_a_cancel_of_the_task_as_canceled_not_timed_out() {
    run("cancel", |io| {
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| io.try_timeout(LONG, || io_sleep(io, LONG)))
                .unwrap();
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| task.cancel(io));
            let error = result.unwrap_err();
            assert!(is_canceled(&error), "got {error:?}");
            assert_ne!(error.kind(), ErrorKind::TimedOut);
            assert!(elapsed < PROMPT, "took {elapsed:?}");
        })
    });
}

#[test]
fn nested_try_timeouts_the_inner_deadline_does_not_end_the_outer_call() {
    run("nested", |io| {
        let outer = io.try_timeout(LONG, || -> std::io::Result<&str> {
            let inner = io.try_timeout(SHORT, || io_sleep(io, LONG));
            assert_eq!(inner.unwrap_err().kind(), ErrorKind::TimedOut);
            io_sleep(io, Duration::from_millis(1))
        });
        assert_eq!(outer.unwrap(), "slept");
    });
}
