//! A parallel `grep -r`: prints every line containing PATTERN in the regular files under DIR,
//! searched by a bounded number of tasks, under an optional timeout.
//!
//! ```text
//! cargo run --release --example grep -- PATTERN DIR [--tasks N] [--timeout SECONDS]
//! ```
//!
//! Prints `PATH:LINE` for each matching line (the lines of one file together, in order; files
//! in no particular order). PATTERN is a plain, non-empty string, matched against the bytes of
//! each line.
//! Symbolic links, FIFOs, sockets and devices are skipped, as `grep -r` does.
//!
//! `--tasks N` workers (default 8) share a queue of directories: each lists one with
//! `io::fs::read_dir`, queues its subdirectories and reads its files with `io::fs::read`. The
//! first error (a directory that cannot be listed, a file that cannot be read) stops
//! everything: the search returns it, and leaving its scope cancels every other worker where
//! it is. So does `--timeout`: its deadline cancels the wait for the workers, which are then
//! canceled the same way.
//!
//! Exit status as grep's: 0 if a line matched, 1 if none did, 2 on an error or a timeout
//! (said on stderr, e.g. `grep: read_dir /x: No such file or directory (os error 2)`).

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use io::{Io, Queue, QueueError};

const USAGE: &str = "usage: grep PATTERN DIR [--tasks N] [--timeout SECONDS]";

struct Args {
    pattern: Vec<u8>,
    dir: PathBuf,
    tasks: usize,
    timeout: Option<Duration>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut positional = Vec::new();
        let (mut tasks, mut timeout) = (8, None);
        let mut argv = std::env::args_os().skip(1);
        while let Some(arg) = argv.next() {
            match arg.to_str() {
                Some("-h" | "--help") => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                Some(flag @ ("--tasks" | "--timeout")) => {
                    let value = argv.next().ok_or(format!("{flag} needs a value"))?;
                    let value = value.to_string_lossy();
                    let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
                    if flag == "--tasks" {
                        tasks = value.parse().map_err(|e| bad(&e))?;
                        if tasks == 0 {
                            return Err(bad(&"at least one task"));
                        }
                    } else {
                        let seconds: f64 = value.parse().map_err(|e| bad(&e))?;
                        timeout = Some(Duration::try_from_secs_f64(seconds).map_err(|e| bad(&e))?);
                    }
                }
                Some(flag) if flag.starts_with("--") => {
                    return Err(format!("unknown option {flag:?}"))
                }
                _ => positional.push(arg),
            }
        }
        let [pattern, dir]: [_; 2] = positional
            .try_into()
            .map_err(|_| "give a PATTERN and a DIR".to_owned())?;
        if pattern.is_empty() {
            return Err("an empty PATTERN matches everything: give one".to_owned());
        }
        Ok(Self {
            pattern: pattern.into_encoded_bytes(),
            dir: dir.into(),
            tasks,
            timeout,
        })
    }
}

#[io::main]
fn main(io: Io) -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("grep: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let searched = match args.timeout {
        Some(timeout) => io.timeout(timeout, || search(io, &args)),
        None => Ok(search(io, &args)),
    };
    match searched {
        Ok(Ok(0)) => ExitCode::from(1),
        Ok(Ok(_)) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("grep: {error}");
            ExitCode::from(2)
        }
        Err(io::Timeout) => {
            let seconds = args.timeout.unwrap_or_default().as_secs_f64();
            eprintln!("grep: timed out after {seconds} s");
            ExitCode::from(2)
        }
    }
}

/// What the workers share.
struct Shared<'a> {
    args: &'a Args,
    /// Directories to list.
    dirs: Queue<PathBuf>,
    /// Directories queued or being listed: the worker that brings it to 0 closes the queue.
    pending: AtomicUsize,
    /// Held while a file's lines are written, so the lines of two files never mix.
    stdout: io::Mutex<()>,
}

/// Searches `args.dir` with `args.tasks` workers; the number of matching lines, or the first
/// error. Returning (with an error, or canceled by the timeout) leaves the scope, which
/// cancels the workers still running.
fn search(io: Io, args: &Args) -> std::io::Result<u64> {
    let shared = Shared {
        args,
        dirs: Queue::new(usize::MAX),
        pending: AtomicUsize::new(1),
        stdout: io::Mutex::new(()),
    };
    shared
        .dirs
        .put_one(io, args.dir.clone())
        .map_err(|_| io::Canceled)?;
    io.scope(|s| {
        let mut workers: Vec<_> = (0..args.tasks)
            .map(|_| s.spawn_async(|| worker(io, &shared)))
            .collect();
        let mut matched = 0;
        while !workers.is_empty() {
            let finished = {
                let waiting: Vec<&dyn io::Selectable> =
                    workers.iter().map(|w| w as &dyn io::Selectable).collect();
                io.select(&waiting)?
            };
            matched += workers.swap_remove(finished).join(io)?;
        }
        Ok(matched)
    })
}

/// One worker: lists queued directories until the queue closes.
fn worker(io: Io, shared: &Shared<'_>) -> std::io::Result<u64> {
    let mut matched = 0;
    loop {
        let dir = match shared.dirs.get_one(io) {
            Ok(dir) => dir,
            Err(QueueError::Closed) => return Ok(matched),
            Err(error) => return Err(error.into()),
        };
        for entry in io::fs::read_dir(io, &dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                shared.pending.fetch_add(1, Ordering::Relaxed);
                shared
                    .dirs
                    .put_one(io, entry.path())
                    .map_err(|_| io::Canceled)?;
            } else if kind.is_file() {
                matched += grep_file(io, &entry.path(), shared)?;
            }
        }
        if shared.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.dirs.close();
        }
    }
}

/// Prints the lines of the file `path` that contain the pattern; returns how many.
fn grep_file(io: Io, path: &Path, shared: &Shared<'_>) -> std::io::Result<u64> {
    let contents = io::fs::read(io, path)?;
    let pattern = &shared.args.pattern;
    let mut out = Vec::new();
    let mut matched = 0;
    for line in contents.split(|&b| b == b'\n') {
        if line.windows(pattern.len()).any(|w| w == &pattern[..]) {
            out.extend_from_slice(path.as_os_str().as_encoded_bytes());
            out.push(b':');
            out.extend_from_slice(line);
            out.push(b'\n');
            matched += 1;
        }
    }
    if !out.is_empty() {
        let _lock = shared.stdout.lock(io)?;
        write_all(io, &out)?;
    }
    Ok(matched)
}

/// Writes all of `bytes` to standard output (each write a cancellation point).
fn write_all(io: Io, mut bytes: &[u8]) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    while !bytes.is_empty() {
        match io.write_fd(stdout.as_fd(), bytes)? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => bytes = &bytes[n..],
        }
    }
    Ok(())
}
