//! Running out of address space is an error value, never an abort (issue 11, item 2).
//!
//! Under an `RLIMIT_AS` between 128 MiB and 8 GiB, `examples/concurrent_until_refused` spawns
//! `io_concurrent!` sleepers (each sleeps 10 s, so they pile up) until
//! `Err(ConcurrencyUnavailable)` or 1 000 000 of them, prints how many, lets the scope end
//! (which cancels them all) and exits with status 0 — at every limit of a fixed list, on both
//! backends. Before the runtime kept headroom, the uring loop aborted ("memory allocation of
//! 655360 bytes failed") once its stack pool had mapped slabs up to the limit, and a threaded
//! concurrent thread aborted in its own start-up (no room for its signal stack).
//!
//! Each limit runs twice:
//! - with `MALLOC_ARENA_MAX=1`, so that every thread allocates from glibc's main arena: the
//!   child must exit with status 0, having spawned at least one sleeper and stopped at
//!   `ConcurrencyUnavailable` (or the cap);
//! - with the allocator's defaults, under which glibc reserves 64 MiB of address space for the
//!   arena of each of the first threads to allocate (up to 8 per core). Near some small limits
//!   (two or three arenas plus the program: about 140 and 210 MiB) the arenas of the runtime's
//!   own threads leave no room for any task, or for its worker threads; so here a clean
//!   refusal of the first spawn, or the runtime's build error (status 1, "cannot start the
//!   runtime"), passes too. What never passes: a signal (abort), a hang, any other status.
//!
//! The example is built once per test binary by the cargo that builds this test, into this
//! binary's target directory and profile (`support::examples`). The limit is set between fork
//! and exec. Every child is bounded by [`CHILD_LIMIT`], and the sweep of a backend by
//! [`SWEEP_LIMIT`]: a child still running then is killed and the test fails.

mod support;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::examples::{self, Finished, Profile, Running};

/// The program each child runs.
const EXAMPLE: &str = "concurrent_until_refused";

/// The limits of the sweep, in MiB: powers of two from 128 MiB to 8 GiB and odd values between
/// them (fixed, so that the test is deterministic).
const LIMITS_MIB: [u64; 16] = [
    128, 149, 203, 256, 317, 461, 512, 733, 1024, 1297, 2048, 2711, 4096, 4744, 6553, 8192,
];

/// The example's cap on sleepers.
const CAP: usize = 1_000_000;

/// How long one child may run before it is killed (a child takes about a second).
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// How long the sweep of one backend may run in all (it takes under 10 s in a debug build).
const SWEEP_LIMIT: Duration = Duration::from_secs(100);

/// The path of the example, built (once per test binary) with the cargo that builds this test,
/// into this binary's target directory (`<target>/<profile>/deps/<this test>`) and profile.
fn example() -> PathBuf {
    examples::path(EXAMPLE, &[EXAMPLE], Profile::Test)
}

/// How the allocator of a child is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arenas {
    /// `MALLOC_ARENA_MAX=1`: every thread allocates from the main arena.
    One,
    /// glibc's defaults: up to 8 arenas per core, 64 MiB of address space each.
    Default,
}

/// Runs the example on `backend` under an address-space limit of `mib` MiB, until `deadline`.
fn run_child(
    backend: &str,
    mib: u64,
    arenas: Arenas,
    deadline: Instant,
) -> Result<Finished, Finished> {
    let mut command = Command::new(example());
    command
        .env("IO_BACKEND", backend)
        .env_remove("IO_THREADS")
        .env_remove("RUST_MIN_STACK")
        .env_remove("MALLOC_ARENA_MAX")
        .env_remove("GLIBC_TUNABLES")
        // A backtrace would map the program's debug information: not what is tested here.
        .env("RUST_BACKTRACE", "0");
    if arenas == Arenas::One {
        command.env("MALLOC_ARENA_MAX", "1");
    }
    let limit = mib << 20;
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: the closure runs in the forked child before exec; it calls only setrlimit, which
    // is async-signal-safe, on a struct copied into the closure, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_AS, &rlimit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    Running::spawn(command).finish_by(deadline)
}

/// The child's report `spawned N refused` (or `spawned N cap`): the count, and what stopped it.
fn report(stdout: &str) -> Option<(usize, &str)> {
    stdout.lines().find_map(|line| {
        let rest = line.strip_prefix("spawned ")?;
        let (count, how) = rest.split_once(' ')?;
        Some((count.parse().ok()?, how))
    })
}

/// Why a child's outcome fails the test, if it does (see the module documentation).
fn judge(arenas: Arenas, finished: &Finished) -> Option<&'static str> {
    let clean = finished.stdout.lines().any(|line| line == "exited cleanly");
    let stopped = match report(&finished.stdout) {
        Some((_, "refused")) => true,
        Some((count, "cap")) => count == CAP,
        _ => false,
    };
    let spawned = report(&finished.stdout).map_or(0, |(count, _)| count);
    let unstartable = finished.status.code() == Some(1)
        && finished.stderr.contains("cannot start the runtime")
        && report(&finished.stdout).is_none();
    match (finished.status.code(), arenas) {
        (Some(0), _) if !clean || !stopped => Some("no clean end after the report"),
        (Some(0), Arenas::One) if spawned == 0 => Some("not one sleeper was spawned"),
        (Some(0), _) => None,
        (Some(1), Arenas::Default) if unstartable => None,
        (None, _) => Some("killed by a signal"),
        _ => Some("unexpected exit status"),
    }
}

/// Sweeps [`LIMITS_MIB`] on `backend`, each limit with both allocator set-ups.
fn sweep(backend: &str) {
    let kind = io::Backend::from_name(backend).expect("a backend name");
    if let Err(reason) = io::Runtime::builder().backend(kind).build() {
        eprintln!("skipped on {backend}: {reason}");
        return;
    }
    example();
    let deadline = Instant::now() + SWEEP_LIMIT;
    let mut failures = Vec::new();
    for mib in LIMITS_MIB {
        for arenas in [Arenas::One, Arenas::Default] {
            let started = Instant::now();
            let outcome = run_child(backend, mib, arenas, deadline.min(started + CHILD_LIMIT));
            let took = started.elapsed();
            let (verdict, finished) = match &outcome {
                Ok(finished) => (judge(arenas, finished), finished),
                Err(killed) => (Some("killed at its deadline"), killed),
            };
            let said = report(&finished.stdout).map_or_else(
                || {
                    finished
                        .stderr
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                },
                |(count, how)| format!("{count} {how}"),
            );
            eprintln!(
                "{backend} {mib:>5} MiB, arenas {arenas:?}: {} in {took:.1?}: {said}",
                finished.status
            );
            if let Some(why) = verdict {
                failures.push(format!(
                    "{mib} MiB, arenas {arenas:?}: {why}: {}\nstdout:\n{}stderr:\n{}",
                    finished.status, finished.stdout, finished.stderr
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{backend}: {} of {} children failed:\n{}",
        failures.len(),
        2 * LIMITS_MIB.len(),
        failures.join("\n")
    );
}

#[test]
fn running_out_of_address_space_is_an_error_on_threaded() {
    sweep("threaded");
}

#[test]
fn running_out_of_address_space_is_an_error_on_uring() {
    sweep("uring");
}
