//! Finding (or building) the example binaries and running one under a hard timeout.

use std::env;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::expect::{Expect, EXPECTED};

/// How long a child may run before it is killed.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What a child did.
pub struct Outcome {
    /// `None` if it was killed at the timeout.
    pub status: Option<ExitStatus>,
    /// Stdout and stderr, in that order.
    pub output: String,
    /// From spawning the child to reaping it.
    pub elapsed: Duration,
}

/// The directory of the example binaries: the tour's own. Builds them with cargo (same
/// profile and target directory) when launched by cargo — so they are never stale — or when
/// one is missing.
pub fn examples_dir() -> Result<PathBuf, String> {
    let exe = env::current_exe().map_err(|e| format!("cannot locate the tour's binary: {e}"))?;
    let dir = exe.parent().ok_or("the tour's binary has no directory")?;
    let binary = |name: &str| dir.join(format!("{name}{}", env::consts::EXE_SUFFIX));
    let missing = EXPECTED.iter().any(|e| !binary(e.example).is_file());
    if missing || env::var_os("CARGO").is_some() {
        build(dir)?;
    }
    match EXPECTED.iter().find(|e| !binary(e.example).is_file()) {
        Some(e) => Err(format!("{} is missing from {}", e.example, dir.display())),
        None => Ok(dir.to_owned()),
    }
}

/// `cargo build --profile P --example example0 … --example example10 --target-dir T`, where
/// `dir` is `T/<profile dir>/examples`.
fn build(dir: &Path) -> Result<(), String> {
    let profile_dir = dir.parent().ok_or("unexpected binary location")?;
    let target = profile_dir.parent().ok_or("unexpected binary location")?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(name) => name,
        None => return Err("unexpected binary location".into()),
    };
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command.args(["build", "--quiet", "--profile", profile, "--target-dir"]);
    command.arg(target);
    for i in 0..=10 {
        command.arg("--example").arg(format!("example{i}"));
    }
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("building the examples failed ({status})")),
        Err(e) => Err(format!("cannot run cargo to build the examples: {e}")),
    }
}

/// Runs one example on `backend`, killing it at [`TIMEOUT`].
pub fn run(dir: &Path, expect: &Expect, backend: &str) -> Outcome {
    let mut command =
        Command::new(dir.join(format!("{}{}", expect.example, env::consts::EXE_SUFFIX)));
    command.env("IO_BACKEND", backend).env_remove("IO_THREADS");
    command
        .env("RUST_BACKTRACE", "0")
        .envs(expect.env.iter().copied());
    // Its own process group, so a kill at the timeout also reaches anything it started
    // (which could otherwise hold the pipes open).
    command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let output = format!("cannot start {}: {e}", expect.example);
            let elapsed = start.elapsed();
            return Outcome {
                status: None,
                output,
                elapsed,
            };
        }
    };
    // Drain both pipes on threads, so a chatty child cannot block on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() < TIMEOUT => thread::sleep(Duration::from_millis(5)),
            _ => {
                kill_group(child.id());
                let _ = child.wait();
                break None;
            }
        }
    };
    let elapsed = start.elapsed();
    let mut output = stdout.join().unwrap_or_default();
    output.push_str(&stderr.join().unwrap_or_default());
    Outcome {
        status,
        output,
        elapsed,
    }
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// Kills the process group that the child `pid` leads.
fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; the group is the
    // child's own (`process_group(0)`) and the child is not reaped yet, so the id is not reused.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
}
