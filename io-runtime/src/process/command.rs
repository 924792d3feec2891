//! [`Command`]: what to run, and how; [`Stdio`]: what a child's standard stream is.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};

use super::child::Child;
use crate::io::Io;
use crate::os::annotate;

/// What one of a child's standard streams is connected to.
///
/// # Examples
/// ```
/// use io::process::{Command, Stdio};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let status = runtime.run(|io| {
///     Command::new("true").stdout(Stdio::null()).stderr(Stdio::null()).status(io)
/// });
/// assert!(status.unwrap().success());
/// ```
#[derive(Debug)]
pub struct Stdio(Kind);

#[derive(Debug)]
enum Kind {
    Inherit,
    Null,
    Piped,
    Fd(OwnedFd),
}

impl Stdio {
    /// The parent's own stream.
    pub fn inherit() -> Self {
        Self(Kind::Inherit)
    }

    /// `/dev/null`: reads see end of file, writes vanish.
    pub fn null() -> Self {
        Self(Kind::Null)
    }

    /// A new pipe to the parent: [`Child::stdin`], [`Child::stdout`] or [`Child::stderr`].
    ///
    /// # Examples
    /// ```
    /// use io::process::{Command, Stdio};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let pipes = runtime.run(|io| -> std::io::Result<_> {
    ///     let mut command = Command::new("true");
    ///     let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn(io)?;
    ///     let pipes = (child.stdin.is_some(), child.stdout.is_some(), child.stderr.is_some());
    ///     child.wait(io)?;
    ///     Ok(pipes)
    /// });
    /// // Only what is piped has a pipe on the Child.
    /// assert_eq!(pipes.unwrap(), (false, true, false));
    /// ```
    pub fn piped() -> Self {
        Self(Kind::Piped)
    }

    /// std's `Stdio` for one spawn (a descriptor is duplicated, so the command can be spawned
    /// again).
    fn to_std(&self) -> io::Result<std::process::Stdio> {
        Ok(match &self.0 {
            Kind::Inherit => std::process::Stdio::inherit(),
            Kind::Null => std::process::Stdio::null(),
            Kind::Piped => std::process::Stdio::piped(),
            Kind::Fd(fd) => std::process::Stdio::from(fd.try_clone()?),
        })
    }
}

/// A descriptor the child gets as the stream (a file, a pipe end, a socket).
impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Self {
        Self(Kind::Fd(fd))
    }
}

/// An open file as the stream.
impl From<crate::fs::File> for Stdio {
    fn from(file: crate::fs::File) -> Self {
        Self(Kind::Fd(file.into()))
    }
}

/// A process builder, as `std::process::Command` with the `io` to block on.
///
/// # Examples
/// ```
/// use io::process::Command;
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let output = runtime.run(|io| {
///     Command::new("sh").arg("-c").arg("echo out; echo err >&2; exit 3").output(io)
/// });
/// let output = output.unwrap();
/// assert_eq!(output.status.code(), Some(3));
/// assert_eq!(output.stdout, b"out\n");
/// assert_eq!(output.stderr, b"err\n");
/// ```
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env_clear: bool,
    /// Variables set (`Some`) or removed (`None`).
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    process_group: Option<i32>,
    kill_on_drop: bool,
}

impl Command {
    /// A command that runs `program` (looked up in `PATH` unless it contains a `/`), with no
    /// arguments, the parent's environment and working directory, and — for
    /// [`spawn`](Self::spawn) and [`status`](Self::status) — the parent's standard streams.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let mut command = io::process::Command::new("no-such-program-anywhere");
    /// assert_eq!(command.get_program(), "no-such-program-anywhere");
    /// let error = runtime.run(|io| command.status(io)).unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    /// assert!(error.to_string().starts_with("spawn no-such-program-anywhere: "), "{error}");
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            process_group: None,
            kill_on_drop: false,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable of the child.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let output = runtime.run(|io| {
    ///     io::process::Command::new("sh")
    ///         .args(["-c", "echo \"$GREETING ${HOME:-no home}\""])
    ///         .env_clear() // nothing inherited
    ///         .env("GREETING", "hello")
    ///         .envs([("UNUSED", "x")])
    ///         .env_remove("UNUSED")
    ///         .output(io)
    /// });
    /// assert_eq!(output.unwrap().stdout, b"hello no home\n");
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        let value = Some(value.as_ref().to_owned());
        self.env.insert(key.as_ref().to_owned(), value);
        self
    }

    /// Sets environment variables of the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (key, value) in vars {
            self.env(key, value);
        }
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Self::env) sets later).
    pub fn env_clear(&mut self) -> &mut Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The child's working directory. A relative `program` is looked up as std does (see
    /// `std::process::Command::current_dir`).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let output = runtime.run(|io| io::process::Command::new("pwd").current_dir("/").output(io));
    /// assert_eq!(output.unwrap().stdout, b"/\n");
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The child's standard input.
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Self {
        self.stdin = Some(stdio.into());
        self
    }

    /// The child's standard output.
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Self {
        self.stdout = Some(stdio.into());
        self
    }

    /// The child's standard error.
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Self {
        self.stderr = Some(stdio.into());
        self
    }

    /// Puts the child in the process group `pgid` (`0`: a new group led by the child), as
    /// `std::os::unix::process::CommandExt::process_group` does.
    pub fn process_group(&mut self, pgid: i32) -> &mut Self {
        self.process_group = Some(pgid);
        self
    }

    /// Whether dropping the [`Child`] before it was reaped kills and reaps it (default: no,
    /// as in std: the child runs on, and once it ends stays a zombie until the process ends).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let pid = runtime.run(|io| -> std::io::Result<u32> {
    ///     let child = io::process::Command::new("sleep").arg("10").kill_on_drop(true).spawn(io)?;
    ///     Ok(child.id())
    ///     // dropped here: killed and reaped
    /// });
    /// let pid = pid.unwrap();
    /// assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Self {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// The program, as given to [`new`](Self::new).
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// Starts the child; standard streams not set are inherited.
    ///
    /// # Errors
    /// `NotFound` (no such program), `PermissionDenied` (not executable) and the other errors
    /// of the spawn, naming the program: "spawn nope: No such file or directory (os error 2)".
    ///
    /// # Cancelation
    /// Not a cancellation point: it returns once the child started (or failed to).
    ///
    /// # Examples
    /// ```
    /// use io::process::{Command, Stdio};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (status, said) = runtime.run(|io| -> std::io::Result<_> {
    ///     let mut child = Command::new("sh").args(["-c", "read line; echo \"got $line\""])
    ///         .stdin(Stdio::piped())
    ///         .stdout(Stdio::piped())
    ///         .spawn(io)?; // returns once the child started
    ///     child.stdin.take().unwrap().write_all(io, b"input\n")?;
    ///     let mut said = Vec::new();
    ///     child.stdout.take().unwrap().read_to_end(io, &mut said)?;
    ///     Ok((child.wait(io)?, said))
    /// })
    /// .unwrap();
    /// assert!(status.success());
    /// assert_eq!(said, b"got input\n");
    /// ```
    pub fn spawn(&mut self, io: Io) -> io::Result<Child> {
        self.spawn_with(io, Unset::Inherit, Unset::Inherit)
    }

    /// Runs the child to its end and returns its exit status; standard streams not set are
    /// inherited.
    ///
    /// # Errors
    /// Those of [`spawn`](Self::spawn) and [`Child::wait`].
    ///
    /// # Cancelation
    /// A cancellation point (the wait); a canceled `status` kills and reaps the child.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::process::Command;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (code, bounded) = runtime.run(|io| -> std::io::Result<_> {
    ///     let code = Command::new("sh").args(["-c", "exit 4"]).status(io)?.code();
    ///     // A canceled status (here by a deadline) kills and reaps the child.
    ///     let long = || Command::new("sleep").arg("10").status(io).map(drop);
    ///     let bounded = io.timeout(Duration::from_millis(10), long);
    ///     Ok((code, bounded.is_err()))
    /// })
    /// .unwrap();
    /// assert_eq!((code, bounded), (Some(4), true));
    /// ```
    pub fn status(&mut self, io: Io) -> io::Result<ExitStatus> {
        let mut child = self.spawn_with(io, Unset::Inherit, Unset::Inherit)?;
        child.kill_on_drop = true;
        child.wait(io)
    }

    /// Runs the child to its end, collecting its standard output and error; unless set,
    /// stdin is `/dev/null` and stdout and stderr are piped.
    ///
    /// Both streams are read at the same time (stderr by a concurrent task, or — where none
    /// can run — both by the caller through an epoll set), so a child that fills one pipe while
    /// the parent waits on the other cannot deadlock.
    ///
    /// # Errors
    /// Those of [`spawn`](Self::spawn), of reading the pipes and of [`Child::wait`].
    ///
    /// # Cancelation
    /// A cancellation point (the reads and the wait); a canceled `output` kills and reaps the
    /// child.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(2).build().unwrap();
    /// let output = runtime.run(|io| {
    ///     // More than a pipe holds on both streams: read at the same time, they cannot deadlock.
    ///     let script = "head -c 200000 /dev/zero; head -c 200000 /dev/zero >&2";
    ///     io::process::Command::new("sh").args(["-c", script]).output(io)
    /// });
    /// let output = output.unwrap();
    /// assert!(output.status.success());
    /// assert_eq!((output.stdout.len(), output.stderr.len()), (200_000, 200_000));
    /// ```
    pub fn output(&mut self, io: Io) -> io::Result<Output> {
        let child = self.spawn_with(io, Unset::Null, Unset::Piped)?;
        child.collect(io)
    }

    /// Spawns with `stdin` and `output` as the defaults for streams not set.
    fn spawn_with(&mut self, io: Io, stdin: Unset, output: Unset) -> io::Result<Child> {
        let fail = |e| annotate("spawn", self.program.to_string_lossy(), e);
        let mut std = std::process::Command::new(&self.program);
        std.args(&self.args);
        if self.env_clear {
            std.env_clear();
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => std.env(key, value),
                None => std.env_remove(key),
            };
        }
        if let Some(dir) = &self.cwd {
            std.current_dir(dir);
        }
        if let Some(pgid) = self.process_group {
            std.process_group(pgid);
        }
        std.stdin(stdio(&self.stdin, stdin).map_err(fail)?);
        std.stdout(stdio(&self.stdout, output).map_err(fail)?);
        std.stderr(stdio(&self.stderr, output).map_err(fail)?);
        let child = std.spawn().map_err(fail)?;
        Child::from_std(io, child, &self.program, self.kill_on_drop).map_err(fail)
    }
}

/// What a stream not set is connected to.
#[derive(Clone, Copy)]
enum Unset {
    Inherit,
    Null,
    Piped,
}

fn stdio(set: &Option<Stdio>, default: Unset) -> io::Result<std::process::Stdio> {
    match (set, default) {
        (Some(stdio), _) => stdio.to_std(),
        (None, Unset::Inherit) => Ok(std::process::Stdio::inherit()),
        (None, Unset::Null) => Ok(std::process::Stdio::null()),
        (None, Unset::Piped) => Ok(std::process::Stdio::piped()),
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .finish_non_exhaustive()
    }
}
