//! Runs shell commands concurrently, at most J at a time, each under a timeout; kills the
//! stragglers; reports each command's status and output.
//!
//! ```text
//! cargo run --example run_all -- [-j J] [--timeout SECONDS] [-f FILE] [COMMAND ...]
//! ```
//!
//! Each COMMAND (and each non-empty line of FILE not starting with `#`) runs as `sh -c
//! COMMAND` in a process group of its own, stdin `/dev/null`, stdout and stderr captured. A
//! command still running after SECONDS is killed with its whole process group (so `sh -c
//! 'sleep 30 | cat'` leaves nothing behind) and reported as timed out, with what it wrote until
//! then. When a command ends, its report is printed at once:
//!
//! ```text
//! [2] exit 3 in 0.01 s: echo oops >&2; exit 3
//!   err| oops
//! ```
//!
//! then a summary: `4 commands: 2 ok, 1 failed, 1 timed out`. Exit status 0 if every command
//! exited 0, 1 otherwise, 2 on a usage error.
//!
//! Each command is one task: it spawns the shell (`io::process`), reads stderr in a concurrent
//! task while it reads stdout (a command filling one pipe cannot block the other), and waits —
//! all cancellation points, which the command's `Io::timeout` ends.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use io::process::{ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use io::{io_concurrent, scope, Io};

const USAGE: &str = "usage: run_all [-j J] [--timeout SECONDS] [-f FILE] [COMMAND ...]";

struct Args {
    commands: Vec<String>,
    jobs: usize,
    timeout: Option<Duration>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut commands = Vec::new();
        let mut jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut timeout = None;
        let mut argv = std::env::args().skip(1);
        let value = |argv: &mut dyn Iterator<Item = String>, flag: &str| {
            argv.next().ok_or(format!("{flag} needs a value\n{USAGE}"))
        };
        while let Some(arg) = argv.next() {
            match arg.as_str() {
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                "-j" => {
                    let text = value(&mut argv, "-j")?;
                    jobs = text
                        .parse()
                        .ok()
                        .filter(|&j| j > 0)
                        .ok_or(format!("-j {text}: not a positive number\n{USAGE}"))?;
                }
                "--timeout" => {
                    let text = value(&mut argv, "--timeout")?;
                    let seconds = text
                        .parse::<f64>()
                        .ok()
                        .and_then(|s| Duration::try_from_secs_f64(s).ok())
                        .ok_or(format!(
                            "--timeout {text}: not a number of seconds\n{USAGE}"
                        ))?;
                    timeout = Some(seconds);
                }
                "-f" => {
                    let path = value(&mut argv, "-f")?;
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| format!("-f {path}: {e}"))?;
                    commands.extend(
                        text.lines()
                            .map(str::trim)
                            .filter(|line| !line.is_empty() && !line.starts_with('#'))
                            .map(str::to_owned),
                    );
                }
                "--" => commands.extend(argv.by_ref()),
                flag if flag.starts_with('-') => {
                    return Err(format!("unknown option {flag:?}\n{USAGE}"))
                }
                _ => commands.push(arg),
            }
        }
        if commands.is_empty() {
            return Err(format!("no command given\n{USAGE}"));
        }
        Ok(Self {
            commands,
            jobs,
            timeout,
        })
    }
}

/// How a command ended.
enum Outcome {
    Ended(ExitStatus),
    TimedOut,
    Failed(std::io::Error),
}

/// What one command did.
struct Report {
    outcome: Outcome,
    elapsed: Duration,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

#[io::main]
fn main(io: Io) -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("run_all: {message}");
            return ExitCode::from(2);
        }
    };
    let next = AtomicUsize::new(0);
    let tally = Mutex::new([0usize; 3]);
    let workers = args.jobs.min(args.commands.len());
    scope!(io, {
        let mut started = Vec::new();
        for _ in 0..workers {
            match io_concurrent!(work(io, &args, &next, &tally)) {
                Ok(worker) => started.push(worker),
                // Fewer workers than asked for: the ones running take every command.
                Err(_) if !started.is_empty() => break,
                Err(_) => {
                    eprintln!("run_all: no task can run concurrently");
                    return ExitCode::from(2);
                }
            }
        }
        for worker in started {
            worker.join(io);
        }
    });
    let [ok, failed, timed_out] = *tally.lock().unwrap();
    println!(
        "{} commands: {ok} ok, {failed} failed, {timed_out} timed out",
        args.commands.len()
    );
    if ok == args.commands.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Takes commands until none is left, runs each and prints its report.
fn work(io: Io, args: &Args, next: &AtomicUsize, tally: &Mutex<[usize; 3]>) {
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(command) = args.commands.get(index) else {
            return;
        };
        let report = run(io, command, args.timeout);
        let column = match &report.outcome {
            Outcome::Ended(status) if status.success() => 0,
            Outcome::Ended(_) | Outcome::Failed(_) => 1,
            Outcome::TimedOut => 2,
        };
        tally.lock().unwrap()[column] += 1;
        print_report(index + 1, command, &report);
    }
}

/// Runs `command` under `timeout`, killing its process group if it outlives it.
fn run(io: Io, command: &str, timeout: Option<Duration>) -> Report {
    let start = Instant::now();
    let mut report = Report {
        outcome: Outcome::TimedOut,
        elapsed: Duration::ZERO,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let spawned = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn(io);
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            report.outcome = Outcome::Failed(error);
            return report;
        }
    };
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let (out, err) = (&mut report.stdout, &mut report.stderr);
    let finish = || -> std::io::Result<ExitStatus> {
        scope!(io, {
            let errors = io_concurrent!(drain(io, &stderr, err))
                .map_err(|_| std::io::Error::other("no task can run concurrently"))?;
            drain(io, &stdout, out)?;
            errors.join(io)?;
            child.wait(io)
        })
    };
    let finished = match timeout {
        Some(timeout) => io.timeout(timeout, finish),
        None => Ok(finish()),
    };
    report.outcome = match finished {
        Ok(Ok(status)) => Outcome::Ended(status),
        Ok(Err(error)) => Outcome::Failed(error),
        Err(io::Timeout) => {
            // The shell and everything it started: their group has the shell's pid.
            let group = -(child.id() as libc::pid_t);
            // SAFETY: kill has no preconditions; the group is the child's own (it is not
            // reaped yet, so its id cannot have been reused).
            unsafe { libc::kill(group, libc::SIGKILL) };
            Outcome::TimedOut
        }
    };
    // Reaps the shell (also after a kill; a kill_on_drop drop would do it too).
    let _ = child.kill(io);
    report.elapsed = start.elapsed();
    report
}

/// Appends what `stream` yields until its end to `into`.
fn drain(io: Io, stream: &impl Stream, into: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0; 16 * 1024];
    loop {
        match stream.read_some(io, &mut chunk)? {
            0 => return Ok(()),
            n => into.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A child's stdout or stderr.
trait Stream {
    fn read_some(&self, io: Io, buf: &mut [u8]) -> std::io::Result<usize>;
}

impl Stream for ChildStdout {
    fn read_some(&self, io: Io, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read(io, buf)
    }
}

impl Stream for ChildStderr {
    fn read_some(&self, io: Io, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read(io, buf)
    }
}

/// Prints one command's report in one piece.
fn print_report(number: usize, command: &str, report: &Report) {
    let outcome = match &report.outcome {
        Outcome::Ended(status) => match (status.code(), status.signal()) {
            (Some(0), _) => "ok".to_owned(),
            (Some(code), _) => format!("exit {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => status.to_string(),
        },
        Outcome::TimedOut => "timed out, killed".to_owned(),
        Outcome::Failed(error) => format!("failed ({error})"),
    };
    let mut text = format!(
        "[{number}] {outcome} in {:.2} s: {command}\n",
        report.elapsed.as_secs_f64()
    );
    for (tag, bytes) in [("out", &report.stdout), ("err", &report.stderr)] {
        for line in String::from_utf8_lossy(bytes).lines() {
            text.push_str(&format!("  {tag}| {line}\n"));
        }
    }
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
