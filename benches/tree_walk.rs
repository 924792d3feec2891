//! Walking a tree of 50 000 small files and reading every one of them (the shape of `grep -r`
//! or a backup tool): io on its uring and threaded backends against a std walk on one thread,
//! a rayon walk and tokio::fs, all in the same run, on a warm page cache.
//!
//! The tree (20 × 25 directories of 100 files of 64 B – 2 KiB, generated once under the
//! target directory) is read whole by every case; each checks that it saw every file and
//! byte. io and tokio each run 16 tasks at once (io also 2): io as workers over a `Queue` of
//! directories (`io::fs::read_dir`, `io::fs::read`), tokio as a task per directory with a
//! semaphore of 16 (`tokio::fs::read_dir`, `tokio::fs::read`). rayon recurses with `par_iter`
//! over each directory's entries (`std::fs`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Table, Value};
use rayon::prelude::*;

/// Directories at the top, directories in each, files in each of those.
const TOP: usize = 20;
const INNER: usize = 25;
const FILES: usize = 100;
/// Tasks the tokio case runs at once, and the io cases (which also run with [`FEW`]).
const TASKS: usize = 16;
/// The smaller number of io tasks: one per core.
const FEW: usize = 2;

/// Files and bytes a walk read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    files: u64,
    bytes: u64,
}

impl std::ops::Add for Seen {
    type Output = Seen;
    fn add(self, other: Seen) -> Seen {
        Seen {
            files: self.files + other.files,
            bytes: self.bytes + other.bytes,
        }
    }
}

fn main() {
    let top = if common::quick() { 2 } else { TOP };
    let (root, expected) = tree(top);
    let reps = common::reps(5);
    let mut table = Table::new(format!(
        "walk a tree of {} files and read each one (whole walk: wall time, and CPU time of the \
         process)",
        expected.files
    ));
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let peers = [
        (
            "std, one thread",
            measure(reps, expected, || walk_std(&root)),
        ),
        (
            "rayon par_iter (2 threads)",
            measure(reps, expected, || walk_rayon(&root)),
        ),
        (
            "tokio::fs (16 tasks)",
            measure(reps, expected, || {
                tokio_rt.block_on(walk_tokio(root.clone()))
            }),
        ),
    ];
    let mut rates: Vec<String> = peers
        .iter()
        .map(|(name, case)| format!("{name} {:.0}", case.files_per_sec(expected)))
        .collect();
    for (name, backend) in [
        ("io-uring", io::Backend::Uring),
        ("io-threaded", io::Backend::Threaded),
    ] {
        let runtime = match io::Runtime::builder().backend(backend).threads(2).build() {
            Ok(runtime) => runtime,
            Err(reason) => {
                let missing = Value::missing(format!("unavailable: {reason}"));
                let (peer, case) = &peers[0];
                table.row(
                    format!("walk + read ({name})"),
                    *peer,
                    &missing,
                    case.wall.clone(),
                );
                continue;
            }
        };
        for tasks in [TASKS, FEW] {
            let io = measure(reps, expected, || walk_io(&runtime, &root, tasks));
            rates.push(format!(
                "{name} ({tasks} tasks) {:.0}",
                io.files_per_sec(expected)
            ));
            for (peer, case) in &peers {
                let operation = format!("wall: walk + read ({name}, {tasks} tasks)");
                table.row(operation, *peer, &io.wall, case.wall.clone());
            }
            for (peer, case) in &peers {
                let operation = format!("CPU: walk + read ({name}, {tasks} tasks)");
                table.row(operation, *peer, &io.cpu, case.cpu.clone());
            }
        }
    }
    table.note(format!("files/s (wall): {}", rates.join(", ")));
    table.note(format!(
        "median of {reps} walks after one warm-up, page cache warm; tree: {top} × {INNER} \
         directories × {FILES} files of 64 B – 2 KiB, {} bytes; CPU: getrusage(RUSAGE_SELF), \
         user + system, of all the process's threads over the walk",
        expected.bytes
    ));
    table.note(format!(
        "io: threads(2), {TASKS} or {FEW} workers (spawn_concurrent) over an io::Queue of \
         directories, io::fs::read_dir + DirEntry::file_type + io::fs::read; tokio: 2 workers, \
         a task per directory, Semaphore({TASKS}), tokio::fs::read_dir + file_type + \
         tokio::fs::read"
    ));
    table.print();
}

/// What the walks of one case took: the medians of wall and CPU time.
struct Case {
    wall: Value,
    cpu: Value,
    wall_time: Duration,
}

impl Case {
    fn files_per_sec(&self, seen: Seen) -> f64 {
        seen.files as f64 / self.wall_time.as_secs_f64()
    }
}

/// The medians of `reps` walks (after a warm-up), each checked to have seen `expected`.
fn measure(reps: usize, expected: Seen, mut walk: impl FnMut() -> Seen) -> Case {
    let mut one = || {
        let (start, cpu) = (Instant::now(), cpu_time());
        let seen = walk();
        let times = (start.elapsed(), cpu_time() - cpu);
        assert_eq!(seen, expected, "a walk missed files or bytes");
        times
    };
    let _warm_up = one();
    let (walls, cpus): (Vec<Duration>, Vec<Duration>) = (0..reps).map(|_| one()).unzip();
    let wall_time = common::median(walls);
    Case {
        wall: Value::from_duration(wall_time),
        cpu: Value::from_duration(common::median(cpus)),
        wall_time,
    }
}

/// The CPU time (user + system) of every thread of the process so far.
fn cpu_time() -> Duration {
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is writable storage for one rusage.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The tree with `top` top-level directories (made on first use, kept for later runs) and
/// what a walk of it must see.
fn tree(top: usize) -> (PathBuf, Seen) {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tree-walk-{top}"));
    let mut seen = Seen::default();
    let made = root.join(".complete");
    let exists = made.exists();
    if !exists {
        let _ = std::fs::remove_dir_all(&root);
        eprintln!("making the tree at {}", root.display());
    }
    for t in 0..top {
        for i in 0..INNER {
            let dir = root
                .join(format!("top-{t:02}"))
                .join(format!("inner-{i:02}"));
            if !exists {
                std::fs::create_dir_all(&dir).unwrap();
            }
            for f in 0..FILES {
                let len = 64 + (t * 7919 + i * 104_729 + f * 31) % 1985;
                if !exists {
                    let line = format!("top {t} inner {i} file {f}\n");
                    let contents: Vec<u8> = line.bytes().cycle().take(len).collect();
                    std::fs::write(dir.join(format!("file-{f:03}.txt")), contents).unwrap();
                }
                seen.files += 1;
                seen.bytes += len as u64;
            }
        }
    }
    if !exists {
        std::fs::write(&made, b"").unwrap();
    }
    // The marker is a file too.
    (root, seen + Seen { files: 1, bytes: 0 })
}

fn walk_std(dir: &Path) -> Seen {
    let mut seen = Seen::default();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            seen = seen + walk_std(&entry.path());
        } else {
            let bytes = std::fs::read(entry.path()).unwrap();
            seen = seen
                + Seen {
                    files: 1,
                    bytes: bytes.len() as u64,
                };
        }
    }
    seen
}

fn walk_rayon(dir: &Path) -> Seen {
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    entries
        .par_iter()
        .map(|entry| {
            if entry.file_type().unwrap().is_dir() {
                walk_rayon(&entry.path())
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                Seen {
                    files: 1,
                    bytes: bytes.len() as u64,
                }
            }
        })
        .reduce(Seen::default, |a, b| a + b)
}

fn walk_tokio(root: PathBuf) -> std::pin::Pin<Box<dyn std::future::Future<Output = Seen> + Send>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(TASKS));
    visit_tokio(root, permits)
}

fn visit_tokio(
    dir: PathBuf,
    permits: Arc<tokio::sync::Semaphore>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Seen> + Send>> {
    Box::pin(async move {
        let permit = permits.acquire().await.unwrap();
        let mut entries = tokio::fs::read_dir(&dir).await.unwrap();
        let (mut seen, mut children) = (Seen::default(), Vec::new());
        while let Some(entry) = entries.next_entry().await.unwrap() {
            if entry.file_type().await.unwrap().is_dir() {
                children.push(tokio::spawn(visit_tokio(
                    entry.path(),
                    Arc::clone(&permits),
                )));
            } else {
                let bytes = tokio::fs::read(entry.path()).await.unwrap();
                seen = seen
                    + Seen {
                        files: 1,
                        bytes: bytes.len() as u64,
                    };
            }
        }
        drop(permit);
        for child in children {
            seen = seen + child.await.unwrap();
        }
        seen
    })
}

fn walk_io(runtime: &io::Runtime, root: &Path, tasks: usize) -> Seen {
    runtime.run(|io| {
        let queue = io::Queue::new(usize::MAX);
        // Directories queued or being read; the worker that brings it to 0 closes the queue.
        let pending = AtomicUsize::new(1);
        let (files, bytes) = (AtomicU64::new(0), AtomicU64::new(0));
        queue.put_one(io, root.to_owned()).unwrap();
        io.scope(|s| {
            let workers: Vec<_> = (0..tasks)
                .map(|_| {
                    s.spawn_concurrent(|| {
                        while let Ok(dir) = queue.get_one(io) {
                            for entry in io::fs::read_dir(io, &dir).unwrap() {
                                let entry = entry.unwrap();
                                if entry.file_type().unwrap().is_dir() {
                                    pending.fetch_add(1, Ordering::Relaxed);
                                    queue.put_one(io, entry.path()).unwrap();
                                } else {
                                    let read = io::fs::read(io, entry.path()).unwrap();
                                    files.fetch_add(1, Ordering::Relaxed);
                                    bytes.fetch_add(read.len() as u64, Ordering::Relaxed);
                                }
                            }
                            if pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                                queue.close();
                            }
                        }
                    })
                    .unwrap()
                })
                .collect();
            for worker in workers {
                worker.join(io);
            }
        });
        Seen {
            files: files.into_inner(),
            bytes: bytes.into_inner(),
        }
    })
}
