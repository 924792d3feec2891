//! Signals: a delivery is received, also one that arrived while nobody waited; every stream
//! that wants a signal gets it; a stream of several signals gets each; `ctrl_c` sees SIGINT; a
//! canceled `recv` returns promptly and leaks nothing; the runtime's cancel signal and signals
//! that cannot be caught are refused — on both backends.
//!
//! Tests run in parallel in one process and signals are process-wide, so each test uses
//! signals no other test sends.

mod support;

use std::io::ErrorKind;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use io::signal::{ctrl_c, signals, Signals};
use io::{is_canceled, Clock, Io};
use support::{each_backend, open_fds, timed, watched, PROMPT};

const WATCHDOG: Duration = Duration::from_secs(60);

/// Descriptor counts are process-wide: the tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` on every backend, alone in the process and under the watchdog.
fn run(name: &'static str, f: impl Fn(Io)) {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watched(name, WATCHDOG, || each_backend(&f));
}

/// Sends `signal` to this process.
fn raise(signal: libc::c_int) {
    // SAFETY: getpid and kill have no preconditions.
    let rc = unsafe { libc::kill(libc::getpid(), signal) };
    assert_eq!(rc, 0);
}

/// Sends `signal` to the calling thread: raise(3) returns only after the handler ran, wherever
/// the test runs (a process-directed `kill` may be handled later by another thread, e.g.
/// libtest's main thread).
fn raise_here(signal: libc::c_int) {
    // SAFETY: raise has no preconditions; the handler the stream installed is async-signal-safe.
    let rc = unsafe { libc::raise(signal) };
    assert_eq!(rc, 0);
}

/// `stream.recv`, bounded so that a lost delivery fails instead of hanging.
fn recv(io: Io, stream: &Signals) -> libc::c_int {
    io.timeout(PROMPT, || stream.recv(io))
        .expect("no delivery within 2 s")
        .unwrap()
}

#[test]
fn a_delivery_wakes_a_waiting_recv_and_one_that_came_first_is_kept() {
    run("recv", |io| {
        let stream = signals(io, &[libc::SIGUSR1]).unwrap();
        // Sent while a task waits in recv.
        let got = io.scope(|s| {
            let waiter = s.spawn_concurrent(|| recv(io, &stream)).unwrap();
            io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
            raise(libc::SIGUSR1);
            waiter.join(io)
        });
        assert_eq!(got, libc::SIGUSR1);
        // Sent while nobody waits: kept for the next recv.
        raise(libc::SIGUSR1);
        io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
        assert_eq!(recv(io, &stream), libc::SIGUSR1);
    });
}

#[test]
fn every_stream_of_a_signal_gets_each_delivery() {
    run("fan-out", |io| {
        let first = signals(io, &[libc::SIGUSR2]).unwrap();
        let second = signals(io, &[libc::SIGUSR2, libc::SIGTTIN]).unwrap();
        for _ in 0..2 {
            raise(libc::SIGUSR2);
            assert_eq!(recv(io, &first), libc::SIGUSR2);
            assert_eq!(recv(io, &second), libc::SIGUSR2);
        }
        // A dropped stream takes no more deliveries; the other one still does.
        drop(first);
        raise(libc::SIGUSR2);
        assert_eq!(recv(io, &second), libc::SIGUSR2);
    });
}

#[test]
fn a_stream_of_several_signals_receives_each() {
    run("several", |io| {
        let stream = signals(io, &[libc::SIGWINCH, libc::SIGALRM]).unwrap();
        raise(libc::SIGALRM);
        raise(libc::SIGWINCH);
        let mut got = [recv(io, &stream), recv(io, &stream)];
        got.sort();
        let mut expected = [libc::SIGWINCH, libc::SIGALRM];
        expected.sort();
        assert_eq!(got, expected);
        assert!(format!("{stream:?}").contains("SIGWINCH"), "{stream:?}");
    });
}

#[test]
fn deliveries_while_nobody_waits_are_coalesced_per_signal() {
    run("coalesced", |io| {
        let stream = signals(io, &[libc::SIGVTALRM]).unwrap();
        // A signal a thread sends to itself is handled before raise returns: both deliveries
        // are in before the first recv.
        raise_here(libc::SIGVTALRM);
        raise_here(libc::SIGVTALRM);
        assert_eq!(recv(io, &stream), libc::SIGVTALRM);
        let again = io.timeout(Duration::from_millis(100), || stream.recv(io));
        assert_eq!(again.map(drop), Err(io::Timeout));
    });
}

#[test]
fn ctrl_c_returns_on_sigint() {
    run("ctrl_c", |io| {
        // Installs the handler first, so the SIGINTs below cannot end the process.
        let _installed = signals(io, &[libc::SIGINT]).unwrap();
        io.scope(|s| {
            let waiter = s.spawn_concurrent(|| ctrl_c(io)).unwrap();
            // ctrl_c sees deliveries from its call on: send until it returned.
            let mut sent = 0;
            while !waiter.is_finished() {
                assert!(sent < 100, "ctrl_c did not return");
                raise(libc::SIGINT);
                sent += 1;
                io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            }
            waiter.join(io).unwrap();
        });
    });
}

#[test]
fn a_canceled_recv_returns_promptly_and_leaks_nothing() {
    run("canceled recv", |io| {
        let before = open_fds();
        let stream = signals(io, &[libc::SIGXCPU]).unwrap();
        let (result, elapsed) = timed(|| {
            io.scope(|s| {
                let waiter = s.spawn_concurrent(|| stream.recv(io)).unwrap();
                io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
                waiter.cancel(io)
            })
        });
        let error = result.expect_err("nobody sends SIGXCPU");
        assert!(is_canceled(&error), "expected canceled, got {error:?}");
        assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
        let timed_out = io.timeout(Duration::from_millis(20), || stream.recv(io));
        assert_eq!(timed_out.map(drop), Err(io::Timeout));
        drop(stream);
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn signals_that_cannot_be_waited_for_are_refused_by_name() {
    run("refused", |io| {
        for (signal, name) in [
            (libc::SIGURG, "SIGURG"),
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGSTOP, "SIGSTOP"),
            (libc::SIGSEGV, "SIGSEGV"),
            (libc::SIGFPE, "SIGFPE"),
            (0, "signal 0"),
            (65, "signal 65"),
            (32, "signal 32"),
        ] {
            let error = signals(io, &[libc::SIGTERM, signal]).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
            assert!(error.to_string().contains(name), "{error}");
        }
        let error = signals(io, &[]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
    });
}
