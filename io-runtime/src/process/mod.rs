//! Child processes whose waits are cancellation points: [`Command`], [`Child`] and its piped
//! standard streams [`ChildStdin`], [`ChildStdout`] and [`ChildStderr`].
//!
//! The names are std's and tokio's, with the `io` to block on as the first argument:
//! `Command::new("sh").arg("-c").arg("exit 3").status(io)?`.
//!
//! # How a child is started and waited for
//! [`Command::spawn`] builds a `std::process::Command` and spawns it: on glibc that is
//! `posix_spawn`, a `clone(CLONE_VM | CLONE_VFORK)` that runs no `pthread_atfork` handler and
//! resets every caught signal to its default in the child before it execs (so neither the
//! cancel signal's handler nor [`crate::signal`]'s ever runs there); where std must `fork`
//! instead, the crate's `pthread_atfork` child handler only stores constants to thread-locals
//! (see `crate::fork`) and the child execs or `_exit`s without returning into the task, which
//! is what `crate::fork` asks of a child forked from a task — also from a fiber, whose stack
//! the child then runs on. The spawn blocks the caller (an event loop too) until the child
//! has exec'd: a fraction of a millisecond. At once it takes a *pidfd* of the child
//! (`pidfd_open`), which names the process without the races of a pid.
//!
//! [`Child::wait`] waits on that pidfd as a cancellation point: on the uring backend with an
//! `IORING_OP_WAITID` entry (kernel 6.7 and later; on older kernels a `POLL_ADD` on the pidfd,
//! which turns readable when the child ends, then a non-blocking `waitid`); on a thread with a
//! blocking `waitid(P_PIDFD)` that the cancel signal interrupts. A canceled wait leaves the
//! child running and still waitable, as tokio does. Killing sends a signal through the pidfd
//! (`pidfd_send_signal`), so it can never reach another process that reused the pid.
//!
//! Dropping a [`Child`] neither kills nor reaps it (as in std), unless the command asked for
//! [`kill_on_drop`](Command::kill_on_drop): then the drop sends `SIGKILL` and reaps the child,
//! blocking until it is gone (a killed process ends at once unless the kernel holds it in an
//! uninterruptible sleep).
//!
//! Errors keep their kind and name the operation and program: "spawn no-such-program: No such
//! file or directory (os error 2)".

mod child;
mod collect;
mod command;
mod pipes;
mod sys;

pub use child::Child;
pub use command::{Command, Stdio};
pub use pipes::{ChildStderr, ChildStdin, ChildStdout};
/// How a child ended (std's type): what [`Child::wait`] and [`Command::status`] return.
///
/// # Examples
/// ```
/// use std::os::unix::process::ExitStatusExt;
/// use io::process::Command;
///
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let (ok, three, killed) = runtime.run(|io| -> std::io::Result<_> {
///     let ok = Command::new("true").status(io)?;
///     let three = Command::new("sh").args(["-c", "exit 3"]).status(io)?;
///     let mut sleeper = Command::new("sleep").arg("10").spawn(io)?;
///     sleeper.kill(io)?;
///     Ok((ok, three, sleeper.wait(io)?))
/// })
/// .unwrap();
/// assert!(ok.success() && !three.success());
/// assert_eq!(three.code(), Some(3));
/// assert_eq!((killed.code(), killed.signal()), (None, Some(libc::SIGKILL)));
/// ```
pub use std::process::ExitStatus;
/// What [`Command::output`] collects (std's type): the exit status and the child's standard
/// output and error.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(2).build().unwrap();
/// let output = runtime.run(|io| io::process::Command::new("echo").arg("hello").output(io));
/// let io::process::Output { status, stdout, stderr } = output.unwrap();
/// assert!(status.success());
/// assert_eq!((stdout.as_slice(), stderr.as_slice()), (&b"hello\n"[..], &b""[..]));
/// ```
pub use std::process::Output;
