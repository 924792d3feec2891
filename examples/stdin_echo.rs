//! Echoes standard input line by line through `io::stdio`, from several tasks; or shows that a
//! task waiting for input is canceled promptly.
//!
//! ```text
//! printf 'a\nb\n' | cargo run --example stdin_echo -- [TASKS]
//! sleep 5 | IO_BACKEND=uring cargo run --example stdin_echo -- --cancel
//! ```
//!
//! `stdin_echo [TASKS]` starts TASKS tasks (default 1) that each take lines from standard input
//! (the shared, locked buffer hands every line to exactly one of them) and write `T line` to
//! standard output, where T is the task's number; at end of input it prints `eof after N
//! lines`.
//!
//! `stdin_echo --cancel` starts a task that waits for a line, cancels it after 100 ms and prints
//! `canceled=true in N ms, descriptors A -> B`; then it reads one more line itself and prints
//! `then read "LINE"`: the canceled read consumed nothing and standard input still works.

use std::io::Write;
use std::time::{Duration, Instant};

use io::stdio::{stdin, stdout};
use io::{is_canceled, Clock, Io};

#[io::main]
fn main(io: Io) -> std::io::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("--cancel") => cancel(io),
        Some(tasks) => echo(io, tasks.parse().map_err(std::io::Error::other)?),
        None => echo(io, 1),
    }
}

/// Echoes every line of standard input from `tasks` tasks.
fn echo(io: Io, tasks: usize) -> std::io::Result<()> {
    let total = io.scope(|s| -> std::io::Result<usize> {
        let readers: Vec<_> = (0..tasks)
            .map(|task| {
                s.spawn_concurrent(move || -> std::io::Result<usize> {
                    let mut lines = 0;
                    loop {
                        let mut line = String::new();
                        if stdin(io).read_line(&mut line)? == 0 {
                            return Ok(lines);
                        }
                        // One write_fmt holds the lock of stdout: lines never interleave.
                        write!(stdout(io), "{task} {line}")?;
                        lines += 1;
                    }
                })
                .map_err(std::io::Error::other)
            })
            .collect::<Result<_, _>>()?;
        let mut total = 0;
        for reader in readers {
            total += reader.join(io)?;
        }
        Ok(total)
    })?;
    writeln!(stdout(io), "eof after {total} lines")
}

/// Cancels a task blocked reading standard input, then reads a line.
fn cancel(io: Io) -> std::io::Result<()> {
    let before = open_fds();
    let (result, elapsed) = io.scope(|s| -> std::io::Result<_> {
        let reader = s
            .spawn_concurrent(|| {
                let mut line = String::new();
                stdin(io).read_line(&mut line).map(|_| line)
            })
            .map_err(std::io::Error::other)?;
        io.sleep(Duration::from_millis(100), Clock::Awake)?;
        let start = Instant::now();
        let result = reader.cancel(io);
        Ok((result, start.elapsed()))
    })?;
    let canceled = matches!(&result, Err(e) if is_canceled(e));
    let after = open_fds();
    let ms = elapsed.as_millis();
    writeln!(
        stdout(io),
        "canceled={canceled} in {ms} ms, descriptors {before} -> {after}"
    )?;
    let mut line = String::new();
    stdin(io).read_line(&mut line)?;
    writeln!(stdout(io), "then read {:?}", line.trim_end())
}

/// The number of open descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}
