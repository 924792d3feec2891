//! Child processes: exit statuses, environment and working directory, piped streams in both
//! directions, `output` of two large streams without deadlock, errors naming the program, a
//! canceled wait that leaves the child running and waitable, kills, `kill_on_drop`, and no
//! descriptor or zombie left behind — on both backends.
//!
//! Every test takes `SERIAL` (descriptor counts are process-wide) and runs under a watchdog
//! that aborts the process if it is still running after `WATCHDOG`.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use io::process::{Command, Stdio};
use io::{is_canceled, Clock, Io};
use support::{each_backend, open_fds, timed, watched, PROMPT};

const WATCHDOG: Duration = Duration::from_secs(60);

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` on every backend, alone in the process and under the watchdog.
fn run(name: &'static str, f: impl Fn(Io)) {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watched(name, WATCHDOG, || each_backend(&f));
}

/// The state letter of process `pid` ('R', 'S', 'Z', …), or `None` if it is gone.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// Whether a state letter is a live process's: running, sleeping, or in an uninterruptible
/// wait ('D', which a freshly exec'd program shows while its pages load on a busy machine).
fn is_alive(state: Option<char>) -> bool {
    matches!(state, Some('R' | 'S' | 'D'))
}

/// Our children that are zombies (ended, never reaped).
fn zombies() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str()) {
            found.push(pid);
        }
    }
    found
}

fn sh(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    command
}

#[test]
fn exit_statuses_are_reported() {
    run("exit statuses", |io| {
        assert!(Command::new("true").status(io).unwrap().success());
        assert_eq!(Command::new("false").status(io).unwrap().code(), Some(1));
        let status = sh("exit 7").status(io).unwrap();
        assert_eq!((status.success(), status.code()), (false, Some(7)));
        let mut child = sh("exit 0").spawn(io).unwrap();
        assert!(child.wait(io).unwrap().success());
        // Reaped once; later waits return the same status.
        assert!(child.wait(io).unwrap().success());
        assert_eq!(child.try_wait().unwrap().map(|s| s.code()), Some(Some(0)));
        assert!(zombies().is_empty(), "zombies: {:?}", zombies());
    });
}

#[test]
fn the_environment_and_working_directory_are_the_commands() {
    run("env and cwd", |io| {
        let dir = std::env::temp_dir();
        let dir = dir.canonicalize().unwrap();
        let output = sh("printf '%s|%s|%s' \"$IO_TEST_SET\" \"${IO_TEST_GONE-unset}\" \"$PWD\"")
            .env("IO_TEST_SET", "value")
            .envs([("IO_TEST_GONE", "here")])
            .env_remove("IO_TEST_GONE")
            .current_dir(&dir)
            .output(io)
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let expected = format!("value|unset|{}", dir.display());
        assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);

        let output = Command::new("/usr/bin/env")
            .env_clear()
            .env("ONLY", "this")
            .output(io)
            .unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), "ONLY=this\n");
    });
}

#[test]
fn piped_stdin_comes_back_from_cat() {
    run("cat round trip", |io| {
        let data: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn(io)
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // More than a pipe holds: the writer must run while the reader reads.
        let echoed = io.scope(|s| {
            let writer = s
                .spawn_concurrent(|| {
                    Write::write_all(&mut stdin, &data)?;
                    drop(stdin);
                    Ok::<_, std::io::Error>(())
                })
                .unwrap();
            let mut echoed = Vec::new();
            Read::read_to_end(&mut stdout, &mut echoed).unwrap();
            writer.join(io).unwrap();
            echoed
        });
        assert_eq!(echoed.len(), data.len());
        assert!(echoed == data, "cat changed the data");
        assert!(child.wait(io).unwrap().success());
    });
}

#[test]
fn output_collects_two_large_streams_without_deadlock() {
    run("output both streams", |io| {
        // Each stream is far larger than a pipe holds, stderr written first: a parent reading
        // stdout to its end before it reads stderr would wait forever.
        let script = "head -c 1500000 /dev/zero | tr '\\0' e >&2; \
                      head -c 1200000 /dev/zero | tr '\\0' o; \
                      head -c 300000 /dev/zero | tr '\\0' E >&2; exit 3";
        let output = sh(script).output(io).unwrap();
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(output.stdout.len(), 1_200_000);
        assert!(output.stdout.iter().all(|&b| b == b'o'));
        assert_eq!(output.stderr.len(), 1_800_000);
        assert!(output.stderr[..1_500_000].iter().all(|&b| b == b'e'));
        assert!(output.stderr[1_500_000..].iter().all(|&b| b == b'E'));
    });
}

#[test]
fn a_missing_program_is_not_found_and_named() {
    run("missing program", |io| {
        let before = open_fds();
        for result in [
            Command::new("io-no-such-program").spawn(io).map(drop),
            Command::new("io-no-such-program").output(io).map(drop),
        ] {
            let error = result.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::NotFound, "{error:?}");
            let message = error.to_string();
            assert!(message.contains("spawn io-no-such-program"), "{message}");
            assert_eq!(io::raw_os_error(&error), Some(libc::ENOENT));
        }
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn a_canceled_wait_leaves_the_child_running_and_waitable() {
    run("canceled wait", |io| {
        let before = open_fds();
        let mut child = Command::new("sleep").arg("10").spawn(io).unwrap();
        let pid = child.id();
        let (result, elapsed) = timed(|| {
            io.scope(|s| {
                let waiter = s.spawn_concurrent(|| child.wait(io)).unwrap();
                io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
                waiter.cancel(io)
            })
        });
        let error = result.expect_err("sleep 10 ended early");
        assert!(is_canceled(&error), "expected canceled, got {error:?}");
        assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
        // Still running, not reaped, still ours to wait for.
        assert!(is_alive(state(pid)), "state {:?}", state(pid));
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill(io).unwrap();
        let status = child.wait(io).unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(state(pid), None, "the killed child was not reaped");
        drop(child);
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn a_timeout_ends_a_wait_too() {
    run("wait timeout", |io| {
        let mut child = Command::new("sleep")
            .arg("10")
            .kill_on_drop(true)
            .spawn(io)
            .unwrap();
        let (result, elapsed) = timed(|| io.timeout(Duration::from_millis(100), || child.wait(io)));
        assert_eq!(result.map(drop), Err(io::Timeout));
        assert!(elapsed < PROMPT, "timeout took {elapsed:?}");
        assert_eq!(child.try_wait().unwrap(), None);
    });
}

#[test]
fn signals_sent_to_a_child_are_its_status() {
    run("kill", |io| {
        let mut child = Command::new("sleep").arg("10").spawn(io).unwrap();
        child.start_kill().unwrap();
        assert_eq!(child.wait(io).unwrap().signal(), Some(libc::SIGKILL));
        // Killing a reaped child is no error.
        child.start_kill().unwrap();
        child.kill(io).unwrap();

        let mut child = Command::new("sleep").arg("10").spawn(io).unwrap();
        child.send_signal(libc::SIGTERM).unwrap();
        let status = child.wait(io).unwrap();
        assert_eq!(
            (status.signal(), status.code()),
            (Some(libc::SIGTERM), None)
        );

        let mut child = Command::new("sleep").arg("10").spawn(io).unwrap();
        let error = child.send_signal(100_000).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
        assert!(error.to_string().starts_with("kill sleep: "), "{error}");
        child.kill(io).unwrap();
        assert!(zombies().is_empty(), "zombies: {:?}", zombies());
    });
}

#[test]
fn kill_on_drop_kills_and_reaps() {
    run("kill on drop", |io| {
        let before = open_fds();
        let child = Command::new("sleep")
            .arg("10")
            .kill_on_drop(true)
            .stdout(Stdio::piped())
            .spawn(io)
            .unwrap();
        let pid = child.id();
        assert!(is_alive(state(pid)), "state {:?}", state(pid));
        drop(child);
        assert_eq!(state(pid), None, "the dropped child is still there");
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn a_canceled_read_of_a_childs_stdout_returns_promptly() {
    run("canceled read", |io| {
        let before = open_fds();
        let mut child = Command::new("sleep")
            .arg("10")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn(io)
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (result, elapsed) = timed(|| {
            io.scope(|s| {
                let reader = s
                    .spawn_concurrent(|| stdout.read(io, &mut [0; 16]))
                    .unwrap();
                io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
                reader.cancel(io)
            })
        });
        let error = result.expect_err("sleep wrote nothing");
        assert!(is_canceled(&error), "expected canceled, got {error:?}");
        assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
        drop(stdout);
        child.kill(io).unwrap();
        drop(child);
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn a_canceled_output_kills_and_reaps_the_child() {
    run("canceled output", |io| {
        let before = open_fds();
        let (result, elapsed) = timed(|| {
            io.scope(|s| {
                let task = s
                    .spawn_concurrent(|| sh("echo started; exec sleep 10").output(io))
                    .unwrap();
                io.sleep(Duration::from_millis(100), Clock::Awake).unwrap();
                task.cancel(io)
            })
        });
        let error = result.expect_err("sleep 10 ended early");
        assert!(is_canceled(&error), "expected canceled, got {error:?}");
        assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
        assert!(zombies().is_empty(), "zombies: {:?}", zombies());
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn many_children_leave_no_descriptor_and_no_zombie() {
    run("many children", |io| {
        let before = open_fds();
        io.scope(|s| {
            let group = s.group();
            for i in 0..16 {
                group.spawn(io, move || {
                    let output = sh(&format!("echo {i}; echo {i} >&2; exit {}", i % 3))
                        .output(io)
                        .unwrap();
                    assert_eq!(output.status.code(), Some(i % 3));
                    assert_eq!(output.stdout, format!("{i}\n").into_bytes());
                    assert_eq!(output.stderr, format!("{i}\n").into_bytes());
                });
            }
            group.wait(io).unwrap();
        });
        assert!(zombies().is_empty(), "zombies: {:?}", zombies());
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn a_pipe_from_one_child_feeds_another() {
    run("pipeline", |io| {
        let mut first = sh("printf 'b\\na\\nc\\n'")
            .stdout(Stdio::piped())
            .spawn(io)
            .unwrap();
        let output = Command::new("sort")
            .stdin(first.stdout.take().unwrap())
            .output(io)
            .unwrap();
        assert_eq!(output.stdout, b"a\nb\nc\n");
        assert!(first.wait(io).unwrap().success());
    });
}

#[test]
fn wait_closes_stdin_and_a_write_to_an_ended_child_is_a_broken_pipe() {
    run("stdin", |io| {
        // cat ends at the end of its input: wait must close the pipe first, or it never ends.
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn(io)
            .unwrap();
        let waited = io
            .timeout(PROMPT, || child.wait(io))
            .expect("wait kept stdin open");
        assert!(waited.unwrap().success());
        assert!(child.stdin.is_none());

        let mut child = Command::new("true")
            .stdin(Stdio::piped())
            .spawn(io)
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        assert!(child.wait(io).unwrap().success());
        let error = stdin.write(io, b"nobody reads").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BrokenPipe, "{error:?}");
        assert!(
            error.to_string().starts_with("write child stdin: "),
            "{error}"
        );
    });
}

#[test]
fn a_canceled_status_kills_and_reaps_the_child() {
    run("canceled status", |io| {
        let result = io.timeout(Duration::from_millis(100), || {
            Command::new("sleep").arg("10").status(io)
        });
        assert_eq!(result.map(drop), Err(io::Timeout));
        assert!(zombies().is_empty(), "zombies: {:?}", zombies());
        let mut sleepers = 0;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let me = format!(") S {} ", std::process::id());
            if stat.contains("(sleep)") && stat.contains(&me) {
                sleepers += 1;
            }
        }
        assert_eq!(sleepers, 0, "a sleep child of ours still runs");
    });
}

#[test]
fn output_without_concurrency_reads_both_streams_in_one_task() {
    let _serial: MutexGuard<'_, ()> = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    watched("output, no concurrency", WATCHDOG, || {
        for &backend in support::BACKENDS {
            // No task may run concurrently: output reads both pipes itself.
            let Some(runtime) = io::Runtime::builder()
                .backend(backend)
                .threads(2)
                .concurrent_limit(0)
                .build()
                .ok()
            else {
                eprintln!("skipped on {backend:?}");
                continue;
            };
            runtime.run(|io| {
                let before = open_fds();
                let script = "head -c 1500000 /dev/zero | tr '\\0' e >&2; \
                              head -c 1200000 /dev/zero | tr '\\0' o; exec >&-; \
                              sleep 0.2; echo late >&2";
                let output = sh(script).output(io).unwrap();
                assert!(output.status.success(), "{backend:?}");
                assert_eq!(output.stdout.len(), 1_200_000, "{backend:?}");
                assert!(output.stdout.iter().all(|&b| b == b'o'));
                assert_eq!(output.stderr.len(), 1_500_005, "{backend:?}");
                assert!(output.stderr.ends_with(b"eeelate\n"), "{backend:?}");

                let (result, elapsed) = timed(|| {
                    io.timeout(Duration::from_millis(100), || {
                        sh("exec sleep 10").output(io)
                    })
                });
                assert_eq!(result.map(drop), Err(io::Timeout), "{backend:?}");
                assert!(elapsed < PROMPT, "{backend:?}: timeout took {elapsed:?}");
                assert!(zombies().is_empty(), "zombies: {:?}", zombies());
                assert_eq!(open_fds(), before, "{backend:?}: descriptors leaked");
            });
        }
    });
}
