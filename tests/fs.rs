//! Files: data written by concurrent tasks reads back byte-exact, std's adapters work, errors
//! keep their kinds and name their path, and a canceled open leaks no descriptor.
//!
//! Every test runs alone in the process (descriptor counts are process-wide) and under a
//! watchdog that aborts the process if it is still running after 60 s.

mod support;

use std::ffi::CString;
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use io::fs::{File, OpenOptions};
use io::{is_canceled, Clock, Io};
use support::{assert_cancel_interrupts, each_backend_in_dir, open_fds, timed, LONG, PROMPT};

/// Runs `f` on every backend with a fresh directory, alone in the process and under the
/// watchdog.
fn run(name: &'static str, f: impl Fn(Io, &Path)) {
    each_backend_in_dir("fs", name, f);
}

fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 7 + seed * 13) % 253) as u8)
        .collect()
}

#[test]
fn opening_a_missing_file_is_not_found_and_names_the_path() {
    run("missing", |io, dir| {
        let path = dir.join("no/such/file");
        let error = File::open(io, &path).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error:?}");
        assert!(!is_canceled(&error));
        let expected = format!("open {}: No such file or directory", path.display());
        assert!(error.to_string().starts_with(&expected), "{error}");
        assert_eq!(
            File::create(io, &path).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

#[test]
fn a_file_written_in_chunks_by_eight_tasks_with_write_at_reads_back_byte_exact() {
    const TASKS: usize = 8;
    const CHUNKS: usize = 64;
    const CHUNK: usize = 48 * 1024 + 7; // odd size: chunks straddle pages
    run("write at", |io, dir| {
        let path = dir.join("chunks");
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(io, &path)
            .unwrap();
        io.scope(|s| {
            let writers: Vec<_> = (0..TASKS)
                .map(|task| {
                    let file = &file;
                    s.spawn_concurrent(move || -> std::io::Result<()> {
                        // Task `task` writes chunks task, task + 8, …, newest offset first.
                        for chunk in (task..CHUNKS).step_by(TASKS).rev() {
                            let at = (chunk * CHUNK) as u64;
                            file.write_all_at(io, &pattern(CHUNK, chunk), at)?;
                        }
                        Ok(())
                    })
                    .unwrap()
                })
                .collect();
            for writer in writers {
                writer.join(io).unwrap();
            }
        });
        file.sync_all(io).unwrap();
        assert_eq!(file.len(io).unwrap(), (CHUNKS * CHUNK) as u64);
        file.close(io).unwrap();
        let mut contents = Vec::new();
        File::open(io, &path)
            .unwrap()
            .read_to_end(&mut contents)
            .unwrap();
        let expected: Vec<u8> = (0..CHUNKS)
            .flat_map(|chunk| pattern(CHUNK, chunk))
            .collect();
        assert!(
            contents == expected,
            "the file differs from what the tasks wrote"
        );
    });
}

#[test]
fn buf_reader_buf_writer_and_io_copy_work_on_files() {
    run("buffered", |io, dir| {
        let (source, copy) = (dir.join("source"), dir.join("copy"));
        let mut writer = BufWriter::new(File::create(io, &source).unwrap());
        for n in 0..10_000 {
            writeln!(writer, "line {n}").unwrap();
        }
        writer.into_inner().unwrap().close(io).unwrap();
        let copied = std::io::copy(
            &mut File::open(io, &source).unwrap(),
            &mut File::create(io, &copy).unwrap(),
        )
        .unwrap();
        assert_eq!(copied, std::fs::metadata(&source).unwrap().len());
        let lines: Vec<String> = BufReader::new(File::open(io, &copy).unwrap())
            .lines()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(lines.len(), 10_000);
        assert_eq!(lines[9_999], "line 9999");
    });
}

#[test]
fn seeking_moves_the_position_that_read_and_write_use() {
    run("seek", |io, dir| {
        let path = dir.join("seek");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(io, &path)
            .unwrap();
        file.write_all(io, b"0123456789").unwrap();
        assert_eq!(file.seek(SeekFrom::Start(2)).unwrap(), 2);
        let mut two = [0; 2];
        file.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"23");
        assert_eq!(file.seek(SeekFrom::End(-1)).unwrap(), 9);
        file.write_all(io, b"X").unwrap();
        assert_eq!(file.stream_position().unwrap(), 10);
        // Positional reads leave the position alone.
        assert_eq!(file.read_at(io, &mut two, 0).unwrap(), 2);
        assert_eq!(&two, b"01");
        assert_eq!(file.read(io, &mut two).unwrap(), 0, "at end of file");
        assert_eq!(std::fs::read(&path).unwrap(), b"012345678X");
    });
}

#[test]
fn create_truncates_and_append_appends() {
    run("modes", |io, dir| {
        let path = dir.join("modes");
        File::create(io, &path)
            .unwrap()
            .write_all(io, b"long old contents")
            .unwrap();
        let file = File::create(io, &path).unwrap();
        assert_eq!(file.len(io).unwrap(), 0);
        file.write_all(io, b"one ").unwrap();
        let log = OpenOptions::new().append(true).open(io, &path).unwrap();
        log.write_all(io, b"two ").unwrap();
        file.write_all_at(io, b"ONE", 0).unwrap();
        log.write_all(io, b"three").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ONE two three");
    });
}

#[test]
fn create_new_refuses_an_existing_file_and_bad_options_are_invalid_input() {
    run("create new", |io, dir| {
        let path = dir.join("exists");
        File::create(io, &path).unwrap();
        let error = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(io, &path)
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{error:?}");
        assert!(error
            .to_string()
            .starts_with(&format!("open {}: ", path.display())));
        let error = OpenOptions::new()
            .read(true)
            .truncate(true)
            .open(io, &path)
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
        let error = File::open(io, "nul\0byte").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
    });
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c_path` is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

/// On both backends (the ring's own openat would not wait), an open of a FIFO waits until a
/// peer opens the other end: `peer_opening` is set just before the peer's std open, so an open
/// that returned without waiting would see it unset. Then the other order: a writer already
/// waits in open(2), writes at once and closes, and the open still reads what it wrote.
#[test]
fn opening_a_fifo_waits_for_a_writer_then_reads_what_it_wrote() {
    run("fifo reader", |io, dir| {
        let path = dir.join("fifo");
        mkfifo(&path);
        for writer_first in [false, true] {
            let peer_opening = Arc::new(AtomicBool::new(false));
            let writer = {
                let (path, peer_opening) = (path.clone(), Arc::clone(&peer_opening));
                std::thread::spawn(move || {
                    if !writer_first {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    peer_opening.store(true, Ordering::SeqCst);
                    let mut fifo = std::fs::OpenOptions::new().write(true).open(&path)?;
                    fifo.write_all(b"through the fifo")
                })
            };
            if writer_first {
                io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
            }
            let (file, waited) = timed(|| File::open(io, &path));
            let mut file = file.unwrap();
            assert!(
                peer_opening.load(Ordering::SeqCst),
                "returned before a writer opened"
            );
            assert!(waited < PROMPT, "open took {waited:?}");
            let mut contents = String::new();
            file.read_to_string(&mut contents).unwrap();
            assert_eq!(contents, "through the fifo", "writer first: {writer_first}");
            writer.join().unwrap().unwrap();
        }
    });
}

/// The other direction, on both backends: a write-only open of a FIFO waits for a reader (the
/// ring's own openat would fail with `ENXIO` at once).
#[test]
fn opening_a_fifo_for_writing_waits_for_a_reader() {
    run("fifo writer", |io, dir| {
        let path = dir.join("fifo");
        mkfifo(&path);
        let peer_opening = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, peer_opening) = (path.clone(), Arc::clone(&peer_opening));
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                peer_opening.store(true, Ordering::SeqCst);
                std::fs::read(&path)
            })
        };
        let file = OpenOptions::new().write(true).open(io, &path).unwrap();
        assert!(
            peer_opening.load(Ordering::SeqCst),
            "returned before a reader opened"
        );
        file.write_all(io, b"the other way").unwrap();
        file.close(io).unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), b"the other way");
    });
}

/// A read-only and a write-only open of a FIFO without a peer wait, and a cancel ends each
/// promptly with a canceled error, leaking no descriptor.
#[test]
fn cancel_interrupts_an_open_that_waits_for_a_fifo_peer() {
    run("fifo", |io, dir| {
        let path = dir.join("fifo");
        mkfifo(&path);
        let before = open_fds();
        for write in [false, true] {
            let options = OpenOptions::new().read(!write).write(write).clone();
            assert_cancel_interrupts(io, || options.open(io, &path));
        }
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn a_canceled_task_gets_canceled_from_file_operations_and_can_still_close() {
    run("canceled task", |io, dir| {
        let path = dir.join("data");
        std::fs::write(&path, b"data").unwrap();
        let file = File::open(io, &path).unwrap();
        let before = open_fds();
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| {
                    let slept = io.sleep(LONG, Clock::Awake);
                    let read = file.read(io, &mut [0; 4]).map_err(|e| is_canceled(&e));
                    let opened = File::open(io, &path).map(drop).map_err(|e| is_canceled(&e));
                    (slept, read, opened)
                })
                .unwrap();
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            let (slept, read, opened) = task.cancel(io);
            assert_eq!(slept, Err(io::Canceled));
            assert_eq!(read, Err(true));
            assert_eq!(opened, Err(true));
        });
        assert_eq!(open_fds(), before);
        file.close(io).unwrap();
        assert_eq!(open_fds(), before - 1);
    });
}
