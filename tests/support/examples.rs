//! The programs of `examples/` as child processes: built by the cargo that builds the test, into
//! the test's own target directory, then run with every wait bounded.
//!
//! [`path`] builds a list of examples (once per test binary and list) in the test binary's
//! profile or always in release ([`Profile`]) and locates one of them. [`Running`] is a child
//! whose standard output and error are read line by line as they come (and kept whole); it is
//! killed when it outlives its bound and when it is dropped (e.g. when a test panics), so no
//! test hangs and none leaves a child behind. [`run_bounded`] runs a command to its end that
//! way and returns what it did ([`Finished`]).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long building a list of examples may take (from scratch on a slow machine, maybe waiting
/// for cargo's lock on the target directory).
pub const BUILD_LIMIT: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------------------------
// Building and locating the examples

/// The profile the examples are built in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// The test binary's own: `<target>/debug` holds the dev (and test) profile,
    /// `<target>/release` the release (and bench) profile, `<target>/NAME` a custom profile NAME.
    Test,
    /// Always release, whatever the test binary's profile.
    Release,
}

/// The path of the example `name`, one of `names`: all of `names` are built (once per test
/// binary, however many tests ask) by [`build`]. Panics if the build fails.
pub fn path(name: &str, names: &[&str], profile: Profile) -> PathBuf {
    assert!(
        names.contains(&name),
        "{name} is not among the examples built: {names:?}"
    );
    build(names, profile).join(name)
}

/// Builds the examples `names` with the cargo that builds this test, in `profile`, into the
/// target directory of this binary (`<target>/<profile>/deps/<this test>`); returns the
/// directory the examples are in (`<target>/<profile>/examples`). Each list is built once per
/// test binary and profile: later calls, also from other tests, return the first call's result.
/// Panics if the build fails (or outlives [`BUILD_LIMIT`]).
pub fn build(names: &[&str], profile: Profile) -> PathBuf {
    type Key = (Vec<String>, Profile);
    static BUILT: OnceLock<Mutex<HashMap<Key, Result<PathBuf, String>>>> = OnceLock::new();
    let key = (names.iter().map(|&name| name.to_owned()).collect(), profile);
    // Held through the build, so that tests asking for the same list wait for one build.
    let mut built = BUILT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let dir = built
        .entry(key)
        .or_insert_with(|| build_now(names, profile));
    match dir {
        Ok(dir) => dir.clone(),
        Err(why) => panic!("cannot build the examples {names:?}: {why}"),
    }
}

/// Runs cargo to build `names` in `profile` (see [`build`]).
fn build_now(names: &[&str], profile: Profile) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let deps = exe.parent().ok_or("the test binary has no directory")?;
    let profile_dir = deps.parent().ok_or("no profile directory above deps/")?;
    let target_dir = profile_dir
        .parent()
        .ok_or("no target directory above the profile directory")?;
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--package", env!("CARGO_PKG_NAME")])
        .arg("--target-dir")
        .arg(target_dir);
    let examples = match profile {
        Profile::Release => {
            cargo.arg("--release");
            target_dir.join("release").join("examples")
        }
        Profile::Test => {
            let name = profile_dir
                .file_name()
                .and_then(|name| name.to_str())
                .ok_or("the profile directory has no name")?;
            match name {
                "debug" => {}
                "release" => {
                    cargo.arg("--release");
                }
                custom => {
                    cargo.args(["--profile", custom]);
                }
            }
            profile_dir.join("examples")
        }
    };
    for name in names {
        cargo.args(["--example", name]);
    }
    let built = Running::spawn(cargo)
        .finish_by(Instant::now() + BUILD_LIMIT)
        .map_err(|killed| format!("cargo still ran after {BUILD_LIMIT:?}, killed: {killed}"))?;
    if !built.status.success() {
        return Err(format!("cargo build of the examples failed: {built}"));
    }
    match names.iter().find(|name| !examples.join(name).is_file()) {
        Some(missing) => Err(format!(
            "cargo built no {}",
            examples.join(missing).display()
        )),
        None => Ok(examples),
    }
}

/// Whether this machine can run the backend named `backend` (as `IO_BACKEND` names it); if not,
/// the test is skipped (as `#[io::test]` does) with the reason on stderr.
pub fn available(backend: &str) -> bool {
    let built = io::Backend::from_name(backend)
        .and_then(|backend| io::Runtime::builder().backend(backend).threads(1).build());
    match built {
        Ok(_) => true,
        Err(reason) => {
            eprintln!("skipped on {backend}: {reason}");
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded children

/// What a finished child did.
#[derive(Debug)]
pub struct Finished {
    /// The command, as `Command`'s `Debug` shows it.
    pub what: String,
    /// How it ended.
    pub status: ExitStatus,
    /// All of its standard output.
    pub stdout: String,
    /// All of its standard error.
    pub stderr: String,
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}):\n--- stdout\n{}--- stderr\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to its end with its output captured, for at most `limit`: kills it and panics
/// after that (and kills it if this panics meanwhile).
pub fn run_bounded(command: Command, limit: Duration) -> Finished {
    Running::spawn(command).finish(limit)
}

/// A child process whose output is read line by line as it comes; it is killed when this is
/// dropped (e.g. when a test panics).
pub struct Running {
    child: Child,
    what: String,
    /// The child's standard output.
    pub stdout: Lines,
    /// The child's standard error.
    pub stderr: Lines,
}

/// One output stream of a child: its lines as they come, those already taken, and (once the
/// stream has ended) all of it.
pub struct Lines {
    receiver: mpsc::Receiver<String>,
    /// The lines taken so far (by [`Lines::drain`] and [`Lines::wait_for`]), in order.
    pub seen: Vec<String>,
    all: Option<JoinHandle<String>>,
}

impl Lines {
    /// Reads `stream` to its end on a thread of its own (so a chatty child never blocks),
    /// passing on each line (without its line break) and keeping all of the text.
    fn read(stream: impl Read + Send + 'static) -> Self {
        let (send, receiver) = mpsc::channel();
        let all = std::thread::spawn(move || {
            let mut stream = BufReader::new(stream);
            let mut all = String::new();
            let mut bytes = Vec::new();
            loop {
                bytes.clear();
                match stream.read_until(b'\n', &mut bytes) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&bytes);
                all.push_str(&text);
                let line = text.strip_suffix('\n').unwrap_or(&text);
                let line = line.strip_suffix('\r').unwrap_or(line);
                // Nobody may be listening (the lines are kept in `all` anyway).
                let _ = send.send(line.to_owned());
            }
            all
        });
        Self {
            receiver,
            seen: Vec::new(),
            all: Some(all),
        }
    }

    /// Takes every line that has arrived, without waiting.
    pub fn drain(&mut self) {
        while let Ok(line) = self.receiver.try_recv() {
            self.seen.push(line);
        }
    }

    /// Waits, for at most `limit`, for a line for which `wanted` is true (among those seen
    /// already, then those to come); returns it.
    pub fn wait_for(&mut self, limit: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        self.drain();
        if let Some(line) = self.seen.iter().find(|line| wanted(line)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(line) => {
                    let found = wanted(&line);
                    self.seen.push(line);
                    if found {
                        return self.seen.last().cloned();
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// All of the stream, once it has ended (the child exited or was killed): waits for the
    /// reader. Empty if taken before.
    fn all(&mut self) -> String {
        self.all
            .take()
            .map_or_else(String::new, |reader| reader.join().unwrap_or_default())
    }
}

impl Running {
    /// Starts `command` with no input and its output piped; panics if it cannot start.
    pub fn spawn(mut command: Command) -> Self {
        let what = format!("{command:?}");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = Lines::read(child.stdout.take().expect("piped stdout"));
        let stderr = Lines::read(child.stderr.take().expect("piped stderr"));
        Self {
            child,
            what,
            stdout,
            stderr,
        }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child still runs (reaping it if it exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the child to exit, until `deadline`: `Ok` with its status if it did, `Err`
    /// with its status once it is killed and reaped after that.
    fn exit_by(&mut self, deadline: Instant) -> Result<ExitStatus, ExitStatus> {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let status = self.child.wait();
                    return Err(status.unwrap_or_else(|e| panic!("{}: wait: {e}", self.what)));
                }
                Err(e) => panic!("{}: wait: {e}", self.what),
            }
        }
    }

    /// Waits for the child to exit, for at most `limit`; kills it and panics after that.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        match self.exit_by(Instant::now() + limit) {
            Ok(status) => status,
            Err(_) => panic!("still ran after {limit:?}, killed: {}", self.report()),
        }
    }

    /// Waits for the child to exit, for at most `limit` (killing it and panicking after that),
    /// and collects all of its output, including the lines taken already.
    pub fn finish(mut self, limit: Duration) -> Finished {
        let status = self.wait(limit);
        self.collect(status)
    }

    /// Waits for the child to exit until `deadline` and collects all of its output: `Ok` if it
    /// exited, `Err` if it was killed at the deadline.
    pub fn finish_by(mut self, deadline: Instant) -> Result<Finished, Finished> {
        match self.exit_by(deadline) {
            Ok(status) => Ok(self.collect(status)),
            Err(status) => Err(self.collect(status)),
        }
    }

    /// What the child, which has exited with `status`, did.
    fn collect(&mut self, status: ExitStatus) -> Finished {
        Finished {
            what: self.what.clone(),
            status,
            stdout: self.stdout.all(),
            stderr: self.stderr.all(),
        }
    }

    /// Everything the child wrote to stderr so far (waiting briefly for the reader).
    fn stderr_so_far(&mut self) -> String {
        let _ = self.stderr.wait_for(Duration::from_millis(100), |_| false);
        self.stderr.seen.join("\n")
    }

    /// Everything the child wrote to stdout so far (waiting briefly for the reader).
    fn stdout_so_far(&mut self) -> String {
        let _ = self.stdout.wait_for(Duration::from_millis(100), |_| false);
        self.stdout.seen.join("\n")
    }

    /// The address a server prints as its first line (`listening on ADDR`), waiting up to
    /// `within` for it; panics with the server's report if it does not come.
    pub fn listening_addr(&mut self, within: Duration) -> String {
        let Some(first) = self.stdout.wait_for(within, |_| true) else {
            panic!("no first line from the server: {}", self.report());
        };
        first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server's first line: {first:?}"))
            .to_owned()
    }

    /// A description of the child for failure messages: its state and its output so far.
    pub fn report(&mut self) -> String {
        let state = match self.child.try_wait() {
            Ok(Some(status)) => format!("exited with {status}"),
            Ok(None) => "still running".to_owned(),
            Err(e) => format!("wait failed: {e}"),
        };
        let (stdout, stderr) = (self.stdout_so_far(), self.stderr_so_far());
        format!(
            "{} {state}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            self.what
        )
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
