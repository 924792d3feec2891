//! [`Child`]: a running (or ended, not yet dropped) child process, named by its pidfd.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{ExitStatus, Output};
use std::sync::atomic::{AtomicBool, Ordering};

use super::collect::read_streams;
use super::pipes::{ChildStderr, ChildStdin, ChildStdout};
use super::sys;
use crate::backend::{op, perform};
use crate::io::Io;
use crate::os::annotate;

/// A child process started by [`Command::spawn`](super::Command::spawn).
///
/// # Examples
/// ```
/// use std::io::Read;
/// use io::process::{Command, Stdio};
///
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// runtime.run(|io| {
///     let mut child = Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn(io)
///         .unwrap();
///     child.stdin.take().unwrap().write_all(io, b"round trip").unwrap();
///     let mut echoed = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut echoed).unwrap();
///     assert_eq!(echoed, "round trip");
///     assert!(child.wait(io).unwrap().success());
/// });
/// ```
pub struct Child {
    /// The child's standard input, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was piped.
    pub stderr: Option<ChildStderr>,
    pid: u32,
    pidfd: OwnedFd,
    /// Set once the child was reaped.
    status: Option<ExitStatus>,
    pub(super) kill_on_drop: bool,
    /// The program, for error messages.
    name: String,
}

/// Set once the ring refused `IORING_OP_WAITID` (a kernel before 6.7): waits then poll the
/// pidfd instead.
static NO_RING_WAITID: AtomicBool = AtomicBool::new(false);

impl Child {
    /// Takes over a child that std just spawned: its pidfd, and its pipes as ours.
    pub(super) fn from_std(
        io: Io,
        mut child: std::process::Child,
        program: &OsStr,
        kill_on_drop: bool,
    ) -> io::Result<Self> {
        let pid = child.id();
        // Nobody else reaps our children, so until we wait the pid names this child (a
        // zombie at worst), and the pidfd taken now names it for good.
        let pidfd = match sys::pidfd_open(pid) {
            Ok(pidfd) => pidfd,
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error);
            }
        };
        Ok(Self {
            stdin: child
                .stdin
                .take()
                .map(|end| ChildStdin::new(io, end.into())),
            stdout: child
                .stdout
                .take()
                .map(|end| ChildStdout::new(io, end.into())),
            stderr: child
                .stderr
                .take()
                .map(|end| ChildStderr::new(io, end.into())),
            pid,
            pidfd,
            status: None,
            kill_on_drop,
            name: program.to_string_lossy().into_owned(),
        })
    }

    /// The child's process id. It names the child until it is reaped (by [`wait`](Self::wait)
    /// or [`try_wait`](Self::try_wait)); after that, the kernel may give it to another process.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (pid, alive, after) = runtime.run(|io| -> std::io::Result<_> {
    ///     let mut child = io::process::Command::new("sleep").arg("10").spawn(io)?;
    ///     let pid = child.id();
    ///     let proc_dir = format!("/proc/{pid}");
    ///     let alive = std::path::Path::new(&proc_dir).exists();
    ///     child.kill(io)?; // reaped: the id names nothing any more
    ///     Ok((pid, alive, std::path::Path::new(&proc_dir).exists()))
    /// })
    /// .unwrap();
    /// assert!(pid > 0);
    /// assert_eq!((alive, after), (true, false));
    /// ```
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Waits for the child to end, reaps it and returns its exit status; the stdin pipe, if
    /// any, is closed first, so a child that reads to end of file can end. Once reaped, every
    /// later call returns the same status.
    ///
    /// # Errors
    /// The errors of waitid(2), naming the program.
    ///
    /// # Cancelation
    /// A cancellation point on both backends. A canceled wait leaves the child running and
    /// still waitable (as tokio does); kill it, or wait again.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use io::process::Command;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (code, again, bounded) = runtime.run(|io| -> std::io::Result<_> {
    ///     let mut child = Command::new("sh").args(["-c", "exit 7"]).spawn(io)?;
    ///     let code = child.wait(io)?.code();
    ///     let again = child.wait(io)?.code(); // reaped: the same status
    ///     // A wait that is canceled (here by a deadline) leaves the child running.
    ///     let mut sleeper = Command::new("sleep").arg("10").spawn(io)?;
    ///     let bounded = io.timeout(Duration::from_millis(10), || sleeper.wait(io).map(drop));
    ///     assert_eq!(sleeper.try_wait()?, None, "still running");
    ///     sleeper.kill(io)?;
    ///     Ok((code, again, bounded.is_err()))
    /// })
    /// .unwrap();
    /// assert_eq!((code, again, bounded), (Some(7), Some(7), true));
    /// ```
    pub fn wait(&mut self, io: Io) -> io::Result<ExitStatus> {
        let _ = io;
        if let Some(status) = self.status {
            return Ok(status);
        }
        drop(self.stdin.take());
        let status = wait_pidfd(self.pidfd.as_fd()).map_err(|e| annotate("wait", &self.name, e))?;
        self.status = Some(status);
        Ok(status)
    }

    /// Reaps the child if it has ended, without waiting: `Ok(None)` while it runs.
    ///
    /// # Errors
    /// The errors of waitid(2), naming the program.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (running, ended) = runtime.run(|io| -> std::io::Result<_> {
    ///     let mut child = io::process::Command::new("sleep").arg("10").spawn(io)?;
    ///     let running = child.try_wait()?;
    ///     child.start_kill()?;
    ///     child.wait(io)?;
    ///     Ok((running, child.try_wait()?.map(|status| status.success())))
    /// })
    /// .unwrap();
    /// assert_eq!((running, ended), (None, Some(false)));
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = sys::reap(self.pidfd.as_fd(), false)
                .map_err(|e| annotate("wait", &self.name, e))?;
        }
        Ok(self.status)
    }

    /// Sends `SIGKILL` to the child and returns without waiting; a child already reaped is
    /// left alone (`Ok`).
    ///
    /// # Errors
    /// The errors of pidfd_send_signal(2), naming the program.
    ///
    /// # Examples
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let signal = runtime.run(|io| -> std::io::Result<Option<i32>> {
    ///     let mut child = io::process::Command::new("sleep").arg("10").spawn(io)?;
    ///     child.start_kill()?; // returns at once
    ///     Ok(child.wait(io)?.signal())
    /// });
    /// assert_eq!(signal.unwrap(), Some(libc::SIGKILL));
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.send_signal(libc::SIGKILL)
    }

    /// Kills the child with `SIGKILL` and reaps it.
    ///
    /// # Errors
    /// Those of [`start_kill`](Self::start_kill) and [`wait`](Self::wait).
    ///
    /// # Cancelation
    /// A cancellation point (the wait); the signal is sent in any case.
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let reaped = runtime.run(|io| -> std::io::Result<bool> {
    ///     let mut child = io::process::Command::new("sleep").arg("10").spawn(io)?;
    ///     child.kill(io)?; // killed and reaped
    ///     child.kill(io)?; // reaped already: nothing to do
    ///     Ok(child.try_wait()?.is_some())
    /// });
    /// assert!(reaped.unwrap());
    /// ```
    pub fn kill(&mut self, io: Io) -> io::Result<()> {
        self.start_kill()?;
        self.wait(io).map(drop)
    }

    /// Sends `signal` (`libc::SIGTERM`, …) to the child through its pidfd, so it never
    /// reaches another process that reused the pid; a child already reaped is left alone
    /// (`Ok`).
    ///
    /// # Errors
    /// The errors of pidfd_send_signal(2) (`InvalidInput` for an invalid signal), naming the
    /// program.
    ///
    /// # Examples
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use io::process::{Command, Stdio};
    ///
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (said, status) = runtime.run(|io| -> std::io::Result<_> {
    ///     // The child traps SIGTERM, says so and exits 0.
    ///     let script = "trap 'echo terminated; exit 0' TERM; echo ready; while :; do sleep 0.01; done";
    ///     let mut command = Command::new("sh");
    ///     let mut child = command.args(["-c", script]).stdout(Stdio::piped()).spawn(io)?;
    ///     let out = child.stdout.take().unwrap();
    ///     let mut buf = [0; 6];
    ///     out.read(io, &mut buf)?; // "ready": the trap is set
    ///     child.send_signal(libc::SIGTERM)?;
    ///     let mut said = Vec::new();
    ///     out.read_to_end(io, &mut said)?;
    ///     Ok((String::from_utf8_lossy(&said).into_owned(), child.wait(io)?))
    /// })
    /// .unwrap();
    /// assert_eq!(said.trim(), "terminated");
    /// assert_eq!((status.code(), status.signal()), (Some(0), None));
    /// ```
    pub fn send_signal(&self, signal: libc::c_int) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        match sys::send_signal(self.pidfd.as_fd(), signal) {
            // Ended and reaped behind our back (SIGCHLD ignored): nothing to signal.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            result => result.map_err(|e| annotate("kill", &self.name, e)),
        }
    }

    /// Closes stdin, reads stdout and stderr to their ends at the same time, and waits; the
    /// child is killed and reaped if this fails or is canceled.
    pub(super) fn collect(mut self, io: Io) -> io::Result<Output> {
        self.kill_on_drop = true;
        drop(self.stdin.take());
        let (stdout, stderr) = read_streams(io, self.stdout.take(), self.stderr.take())?;
        let status = self.wait(io)?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Waits for the process of `pidfd` to end and reaps it, as a cancellation point.
fn wait_pidfd(pidfd: BorrowedFd<'_>) -> io::Result<ExitStatus> {
    if !NO_RING_WAITID.load(Ordering::Relaxed) {
        let mut info = sys::empty_info();
        match perform(op::WaitId::new(pidfd, &mut info)) {
            Ok(_) => {
                return sys::decode(&info)
                    .ok_or_else(|| io::Error::other("waitid returned no child"));
            }
            // A ring without IORING_OP_WAITID (before 6.7) refuses the opcode.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                NO_RING_WAITID.store(true, Ordering::Relaxed);
            }
            Err(e) => return Err(e),
        }
    }
    wait_by_poll(pidfd)
}

/// Waits for `pidfd` to turn readable (its process ended), then reaps without waiting.
pub(crate) fn wait_by_poll(pidfd: BorrowedFd<'_>) -> io::Result<ExitStatus> {
    loop {
        if let Some(status) = sys::reap(pidfd, false)? {
            return Ok(status);
        }
        perform(op::PollIn::new(pidfd))?;
    }
}

impl AsFd for Child {
    /// The child's pidfd.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }
}

impl Drop for Child {
    /// With [`kill_on_drop`](super::Command::kill_on_drop), kills and reaps a child not yet
    /// reaped, blocking until it is gone; otherwise leaves it alone.
    fn drop(&mut self) {
        if self.kill_on_drop && self.status.is_none() {
            let _ = sys::send_signal(self.pidfd.as_fd(), libc::SIGKILL);
            let _ = sys::reap(self.pidfd.as_fd(), true);
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.pid)
            .field("program", &self.name)
            .field("status", &self.status)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    use super::*;
    use crate::process::Command;
    use crate::runtime::{Backend, Runtime};

    /// The fallback of kernels without the ring's WAITID — a poll of the pidfd, then a waitid
    /// that does not wait — reaps, and is a cancellation point, on both backends.
    #[test]
    fn waiting_by_polling_the_pidfd_reaps_and_can_be_canceled() {
        for backend in [Backend::Threaded, Backend::Uring] {
            let Ok(runtime) = Runtime::builder().backend(backend).threads(2).build() else {
                continue;
            };
            runtime.run(|io| {
                let mut child = Command::new("sleep").arg("10").spawn(io).unwrap();
                let waited = io.timeout(Duration::from_millis(50), || {
                    wait_by_poll(child.pidfd.as_fd())
                });
                assert!(waited.is_err(), "{backend:?}: sleep 10 ended early");
                assert_eq!(child.try_wait().unwrap(), None, "{backend:?}");
                child.start_kill().unwrap();
                let status = wait_by_poll(child.pidfd.as_fd()).unwrap();
                assert_eq!(status.signal(), Some(libc::SIGKILL), "{backend:?}");
                child.status = Some(status);
            });
        }
    }
}
