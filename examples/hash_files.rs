//! Hashes every file under a directory (SHA-256) in parallel tasks, under a global timeout.
//!
//! ```text
//! cargo run --release --example hash_files -- DIR [--timeout-ms T]
//! ```
//!
//! Prints `HASH  PATH` for each file as it is finished (the format of `sha256sum`, so the output
//! can be checked with `sha256sum --check`). If the timeout expires first, every task is canceled
//! where it is — each read of a chunk is a cancellation point — and the program prints the
//! partial result, `timed out after T ms: K of N files hashed`, and exits with status 2. Exit
//! status 1: a file could not be read (the others are still hashed).
//!
//! The listing uses `std::fs::read_dir` (it does not block for long); the files are read through
//! `io::fs::File` in 64 KiB chunks, so a canceled task stops within one chunk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use io::fs::File;
use io::{io_concurrent, io_group, is_canceled, scope, ConcurrencyUnavailable, Io};
use sha2::{Digest, Sha256};

const USAGE: &str = "usage: hash_files DIR [--timeout-ms T]";

/// How much of a file one read takes.
const CHUNK: usize = 64 * 1024;

struct Args {
    dir: PathBuf,
    timeout_ms: Option<u64>,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut dir = None;
        let mut timeout_ms = None;
        let mut argv = std::env::args_os().skip(1);
        while let Some(arg) = argv.next() {
            match arg.to_str() {
                Some("-h" | "--help") => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                Some("--timeout-ms") => {
                    let text = argv
                        .next()
                        .ok_or(format!("--timeout-ms needs a value\n{USAGE}"))?;
                    let text = text.to_string_lossy();
                    let ms = text
                        .parse()
                        .map_err(|e| format!("--timeout-ms {text}: {e}\n{USAGE}"))?;
                    timeout_ms = Some(ms);
                }
                Some(flag) if flag.starts_with("--") => {
                    return Err(format!("unknown option {flag:?}\n{USAGE}"))
                }
                _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
                _ => return Err(format!("more than one directory given\n{USAGE}")),
            }
        }
        let dir = dir.ok_or(format!("no directory given\n{USAGE}"))?;
        Ok(Self { dir, timeout_ms })
    }
}

/// What the tasks report.
#[derive(Default)]
struct Tally {
    hashed: AtomicUsize,
    errors: Mutex<Vec<String>>,
}

#[io::main]
fn main(io: Io) -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("hash_files: {message}");
            return ExitCode::FAILURE;
        }
    };
    let mut files = Vec::new();
    if let Err(e) = list_files(&args.dir, &mut files) {
        eprintln!("hash_files: {}: {e}", args.dir.display());
        return ExitCode::FAILURE;
    }
    files.sort();

    let tally = Tally::default();
    let deadline = args.timeout_ms.map(Duration::from_millis);
    let timed_out = scope!(io, {
        match io_concurrent!(hash_all(io, &files, &tally)) {
            Ok(work) => {
                // `join` waits as long as the work takes: the deadline bounds a `select`. Then
                // canceling the work cancels every task of its group where it is.
                let in_time = match deadline {
                    Some(deadline) => io.timeout(deadline, || io.select(&[&work])).is_ok(),
                    None => true,
                };
                let outcome = if in_time {
                    work.join(io)
                } else {
                    work.cancel(io)
                };
                // Work that finished just as the deadline passed did not time out.
                outcome.is_err()
            }
            // A single-threaded runtime: the work runs on this task, under the deadline.
            Err(ConcurrencyUnavailable) => match deadline {
                Some(deadline) => io
                    .timeout(deadline, || hash_all(io, &files, &tally))
                    .map_or(true, |outcome| outcome.is_err()),
                None => hash_all(io, &files, &tally).is_err(),
            },
        }
    });

    let hashed = tally.hashed.load(Ordering::Relaxed);
    let errors = tally.errors.into_inner().unwrap_or_else(|e| e.into_inner());
    for error in &errors {
        eprintln!("hash_files: {error}");
    }
    if timed_out {
        let ms = args.timeout_ms.unwrap_or_default();
        println!(
            "timed out after {ms} ms: {hashed} of {} files hashed",
            files.len()
        );
        return ExitCode::from(2);
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Hashes `files` in parallel, one task each, printing each hash as it is done. Returns when
/// all are done, or, canceled, once every task has been canceled and has returned.
fn hash_all(io: Io, files: &[PathBuf], tally: &Tally) -> Result<(), io::Canceled> {
    scope!(io, {
        let group = io_group!();
        for path in files {
            group.spawn(io, move || hash_and_print(io, path, tally));
        }
        group.wait(io)
    })
}

/// Appends the regular files under `dir` to `files`, recursively. Symbolic links are not
/// followed (no cycles, no file counted twice).
fn list_files(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            list_files(&entry.path(), files)?;
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    Ok(())
}

/// One task: hashes `path` and prints its line, or records why it could not.
fn hash_and_print(io: Io, path: &Path, tally: &Tally) {
    let failed = match hash_file(io, path) {
        Ok(hash) => {
            // One write per line, so lines of concurrent tasks never mix.
            let line = format!("{hash:x}  {}\n", path.display());
            match std::io::stdout().lock().write_all(line.as_bytes()) {
                Ok(()) => {
                    tally.hashed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(e) => format!("stdout: {e}"),
            }
        }
        Err(e) if is_canceled(&e) => return,
        Err(e) => e.to_string(),
    };
    let mut errors = tally.errors.lock().unwrap_or_else(|e| e.into_inner());
    // A closed stdout (`hash_files DIR | head`) is said once, not once per file.
    if !errors.contains(&failed) {
        errors.push(failed);
    }
}

/// The SHA-256 of the file at `path`, read in chunks. A cancellation point at the open and at
/// every chunk.
fn hash_file(io: Io, path: &Path) -> std::io::Result<impl std::fmt::LowerHex> {
    let file = File::open(io, path)?;
    let mut hasher = Sha256::new();
    let mut chunk = vec![0; CHUNK];
    loop {
        match file.read(io, &mut chunk)? {
            0 => return Ok(hasher.finalize()),
            n => hasher.update(&chunk[..n]),
        }
    }
}
