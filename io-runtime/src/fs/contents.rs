//! Whole-file helpers: [`read`], [`read_to_string`], [`write`] and [`copy`].

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::Path;

use super::{sys, File, OpenOptions};
use crate::io::Io;
use crate::os::annotate;

/// The bytes copied by one copy_file_range(2) call: a cancel waits for at most one such chunk.
const COPY_CHUNK: usize = 8 * 1024 * 1024;

/// The buffer of the read/write loop where the kernel cannot copy by itself.
const COPY_BUFFER: usize = 64 * 1024;

/// The whole contents of the file `path`.
///
/// # Errors
/// The errors of [`File::open`] and [`File::read`], naming the path.
///
/// # Cancelation
/// A cancellation point: the open (also while it waits, e.g. for a FIFO's writer) and every
/// read.
///
/// # Examples
/// ```
/// let path = std::env::temp_dir().join(format!("io-doc-read-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let bytes = runtime.run(|io| -> std::io::Result<Vec<u8>> {
///     io::fs::write(io, &path, b"contents")?;
///     io::fs::read(io, &path)
/// });
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(bytes.unwrap(), b"contents");
/// ```
pub fn read(io: Io, path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(io, path)?;
    // The size is a hint (0 for a FIFO or a /proc file, which are read to their end anyway).
    let hint = file.len(io).unwrap_or(0);
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    (&file).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The whole contents of the file `path`, which must be UTF-8.
///
/// # Errors
/// As [`read`]; `InvalidData` if the contents are not UTF-8.
///
/// # Cancelation
/// As [`read`].
///
/// # Examples
/// ```
/// let path = std::env::temp_dir().join(format!("io-doc-read-to-string-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let text = runtime.run(|io| -> std::io::Result<String> {
///     io::fs::write(io, &path, "grüß dich")?;
///     io::fs::read_to_string(io, &path)
/// });
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(text.unwrap(), "grüß dich");
/// ```
pub fn read_to_string(io: Io, path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref();
    String::from_utf8(read(io, path)?).map_err(|_| {
        let error = io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8");
        annotate("read", path.display(), error)
    })
}

/// Writes `contents` to the file `path`, creating it or replacing what it held.
///
/// # Errors
/// The errors of [`File::create`], [`File::write_all`] and [`File::close`], naming the path.
///
/// # Cancelation
/// A cancellation point: the open and every write. A cancel may leave the file with a prefix
/// of `contents`.
///
/// # Examples
/// ```
/// let path = std::env::temp_dir().join(format!("io-doc-write-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let bytes = runtime.run(|io| -> std::io::Result<Vec<u8>> {
///     io::fs::write(io, &path, b"a longer first version")?;
///     io::fs::write(io, &path, b"replaced")?;
///     io::fs::read(io, &path)
/// });
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(bytes.unwrap(), b"replaced");
/// ```
pub fn write(io: Io, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let file = File::create(io, path)?;
    file.write_all(io, contents.as_ref())?;
    file.close(io)
}

/// Copies the contents of the file `from` to `to` (created, or truncated), and its permission
/// bits as std's `copy` does; returns the number of bytes copied.
///
/// The kernel copies (copy_file_range(2), in chunks of 8 MiB); where it cannot (another file
/// system on an old kernel, a file system without support), a read/write loop of 64 KiB
/// does.
///
/// # Errors
/// `InvalidInput` if `from` is not a regular file (checked after opening it, as std does), and
/// the errors of opening, reading and writing, naming the path.
///
/// # Cancelation
/// A cancellation point: the opens (the one of `from` also while it waits, e.g. a FIFO's for
/// a writer) and every chunk. A cancel leaves `to` with a prefix of the contents.
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("io-doc-copy-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let copied = runtime.run(|io| -> std::io::Result<(u64, Vec<u8>)> {
///     io::fs::create_dir(io, &dir)?;
///     io::fs::write(io, dir.join("a"), b"twelve bytes")?;
///     let n = io::fs::copy(io, dir.join("a"), dir.join("b"))?;
///     Ok((n, io::fs::read(io, dir.join("b"))?))
/// });
/// std::fs::remove_dir_all(&dir).unwrap();
/// assert_eq!(copied.unwrap(), (12, b"twelve bytes".to_vec()));
/// ```
pub fn copy(io: Io, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref(), to.as_ref());
    let reader = File::open(io, from)?;
    let source = reader.metadata(io)?;
    if !source.is_file() {
        let error = io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
        return Err(annotate("copy", from.display(), error));
    }
    let writer = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(source.mode() & 0o7777)
        .open(io, to)?;
    // A file that existed keeps its mode through the open: set it, as std does.
    if writer.metadata(io)?.is_file() {
        writer.set_permissions(io, source.permissions())?;
    }
    let copied = copy_contents(io, &reader, &writer)?;
    writer.close(io)?;
    Ok(copied)
}

/// Copies from `reader`'s position to its end into `writer`.
fn copy_contents(io: Io, reader: &File, writer: &File) -> io::Result<u64> {
    let mut copied = 0u64;
    loop {
        match sys::copy_file_range(io, reader.as_fd(), writer.as_fd(), COPY_CHUNK) {
            Ok(0) => return Ok(copied),
            Ok(n) => copied += n as u64,
            // Nothing copied yet and the kernel cannot: the loop below does it all.
            Err(e) if copied == 0 && cannot_copy_in_kernel(&e) => break,
            Err(e) => {
                let pair = format!("{} -> {}", reader.path().display(), writer.path().display());
                return Err(annotate("copy", pair, e));
            }
        }
    }
    let mut buf = vec![0; COPY_BUFFER];
    loop {
        match reader.read(io, &mut buf)? {
            0 => return Ok(copied),
            n => {
                writer.write_all(io, &buf[..n])?;
                copied += n as u64;
            }
        }
    }
}

/// Whether copy_file_range refused for want of support (not for an I/O error).
fn cannot_copy_in_kernel(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EPERM)
    )
}
