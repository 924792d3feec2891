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
//! binary's target directory and profile. The limit is set between fork and exec. Every child
//! is bounded by [`CHILD_LIMIT`], and the sweep of a backend by [`SWEEP_LIMIT`]: a child still
//! running then is killed and the test fails.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The program each child runs.
const EXAMPLE: &str = "concurrent_until_refused";

/// The limits of the sweep, in MiB: powers of two from 128 MiB to 8 GiB and odd values between
/// them (fixed, so that the test is deterministic).
const LIMITS_MIB: [u64; 16] = [
    128, 149, 203, 256, 317, 461, 512, 733, 1024, 1297, 2048, 2711, 4096, 4744, 6553, 8192,
];

/// The example's cap on sleepers.
const CAP: usize = 1_000_000;

/// How long building the example may take (cargo may wait for a lock on the target directory).
const BUILD_LIMIT: Duration = Duration::from_secs(300);

/// How long one child may run before it is killed (a child takes about a second).
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// How long the sweep of one backend may run in all (it takes under 10 s in a debug build).
const SWEEP_LIMIT: Duration = Duration::from_secs(100);

/// What one child did.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// A child process, killed when this is dropped (a panicking test leaves none behind).
struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    fn spawn(mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for the child until `deadline`; kills it and returns `Err` with its output after.
    fn wait(mut self, deadline: Instant) -> Result<Finished, Finished> {
        loop {
            if self.child.try_wait().expect("wait for a child").is_some() {
                return Ok(self.finish());
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                return Err(self.finish());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Reaps the child (which has exited or been killed) and collects its output.
    fn finish(&mut self) -> Finished {
        let status = self.child.wait().expect("wait for a child");
        let join = |reader: Option<JoinHandle<String>>| {
            reader.map_or_else(String::new, |r| r.join().unwrap_or_default())
        };
        Finished {
            status,
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads a pipe to its end on a thread of its own, so a chatty child never blocks.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The path of the example, built (once per test binary) with the cargo that builds this test,
/// into this binary's target directory (`<target>/<profile>/deps/<this test>`) and profile.
fn example() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_example) {
        Ok(path) => path.clone(),
        Err(why) => panic!("cannot build the example {EXAMPLE}: {why}"),
    }
}

fn build_example() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let deps = exe.parent().ok_or("the test binary has no directory")?;
    let profile_dir = deps.parent().ok_or("no profile directory above deps/")?;
    let target_dir = profile_dir.parent().ok_or("no target directory")?;
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or("the profile directory has no name")?;
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--package", env!("CARGO_PKG_NAME")])
        .args(["--example", EXAMPLE])
        .arg("--target-dir")
        .arg(target_dir);
    // `<target>/debug` holds the dev (and test) profile, `<target>/release` the release (and
    // bench) profile, `<target>/NAME` a custom profile NAME.
    match profile {
        "debug" => {}
        "release" => {
            cargo.arg("--release");
        }
        custom => {
            cargo.args(["--profile", custom]);
        }
    }
    let built = Running::spawn(cargo)
        .wait(Instant::now() + BUILD_LIMIT)
        .map_err(|killed| format!("cargo still ran after {BUILD_LIMIT:?}: {killed:?}"))?;
    if !built.status.success() {
        return Err(format!(
            "cargo failed ({}):\n{}",
            built.status, built.stderr
        ));
    }
    let path = profile_dir.join("examples").join(EXAMPLE);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("cargo built no {}", path.display()))
    }
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
    Running::spawn(command).wait(deadline)
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
