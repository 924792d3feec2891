//! [`OpenOptions`]: how to open a file, as in `std::fs::OpenOptions`.

use std::io;
use std::path::Path;

use super::sys::c_path;
use super::File;
use crate::io::Io;
use crate::os;

/// How to open a file: access (read, write, append) and creation (create, truncate,
/// create_new), as in `std::fs::OpenOptions`.
///
/// # Examples
/// ```
/// use io::fs::OpenOptions;
///
/// let path = std::env::temp_dir().join(format!("io-doc-options-{}", std::process::id()));
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// let len = runtime.run(|io| -> std::io::Result<u64> {
///     let log = OpenOptions::new().append(true).create(true).open(io, &path)?;
///     log.write_all(io, b"one\n")?;
///     log.write_all(io, b"two\n")?;
///     let again = OpenOptions::new().write(true).create_new(true).open(io, &path);
///     assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
///     log.len(io)
/// });
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(len.unwrap(), 8);
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    create: bool,
    truncate: bool,
    create_new: bool,
    mode: libc::mode_t,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// Every option off; a new file gets mode `0o666` (minus the umask).
    ///
    /// # Examples
    /// ```
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// // With every option off there is no access mode to open with.
    /// let error = runtime.run(|io| io::fs::OpenOptions::new().open(io, "/dev/null")).unwrap_err();
    /// assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn new() -> Self {
        Self {
            read: false,
            write: false,
            append: false,
            create: false,
            truncate: false,
            create_new: false,
            mode: 0o666,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// Open for writing, every write going to the end of the file (`O_APPEND`).
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }

    /// Create the file if it does not exist (needs write or append).
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    /// Cut an existing file to length 0 (needs write; not with append).
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (`O_CREAT | O_EXCL`; `create`
    /// and `truncate` are then ignored).
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }

    /// The permission bits of a newly created file, before the umask (default `0o666`).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode as libc::mode_t;
        self
    }

    /// Opens `path` with these options. Like open(2), opening a FIFO for reading only waits
    /// until a writer opens it, and for writing only until a reader does (read and write
    /// together never wait).
    ///
    /// # Errors
    /// `InvalidInput` for a combination that cannot work (no access mode; create or truncate
    /// without write access; truncate with append) or a path with a NUL byte; otherwise the
    /// errors of openat(2): `NotFound`, `AlreadyExists` (with `create_new`), `PermissionDenied`…
    /// The message names the path.
    ///
    /// # Cancelation
    /// A cancellation point, also while the open waits (a FIFO without a peer).
    ///
    /// # Examples
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    /// use io::fs::OpenOptions;
    ///
    /// let path = std::env::temp_dir().join(format!("io-doc-options-open-{}", std::process::id()));
    /// let runtime = io::Runtime::builder().threads(1).build().unwrap();
    /// let (mode, text, bad) = runtime.run(|io| -> std::io::Result<_> {
    ///     let file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(io, &path)?;
    ///     file.write_all(io, b"first")?;
    ///     let again = OpenOptions::new().write(true).truncate(true).open(io, &path)?;
    ///     again.write_all(io, b"second")?;
    ///     let bad = OpenOptions::new().read(true).truncate(true).open(io, &path).unwrap_err();
    ///     let mode = file.metadata(io)?.permissions().mode() & 0o777;
    ///     Ok((mode, io::fs::read_to_string(io, &path)?, bad.kind()))
    /// })
    /// .unwrap();
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!((mode, text.as_str(), bad), (0o600, "second", std::io::ErrorKind::InvalidInput));
    /// ```
    pub fn open(&self, io: Io, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let fail = |e| os::annotate("open", path.display(), e);
        let flags = self.flags().map_err(fail)?;
        let c_path = c_path(path).map_err(fail)?;
        let fd = os::open(io, &c_path, flags, self.mode).map_err(fail)?;
        Ok(File::new(fd, io, path.into()))
    }

    fn flags(&self) -> io::Result<libc::c_int> {
        Ok(self.access_flags()? | self.creation_flags()?)
    }

    fn access_flags(&self) -> io::Result<libc::c_int> {
        match (self.read, self.write, self.append) {
            (false, false, false) => Err(invalid("no access mode: set read, write or append")),
            (true, false, false) => Ok(libc::O_RDONLY),
            (false, true, false) => Ok(libc::O_WRONLY),
            (true, true, false) => Ok(libc::O_RDWR),
            (false, _, true) => Ok(libc::O_WRONLY | libc::O_APPEND),
            (true, _, true) => Ok(libc::O_RDWR | libc::O_APPEND),
        }
    }

    fn creation_flags(&self) -> io::Result<libc::c_int> {
        let creates = self.create || self.truncate || self.create_new;
        if !self.write && !self.append && creates {
            return Err(invalid(
                "creating or truncating a file needs write or append access",
            ));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid("a file cannot be both truncated and appended to"));
        }
        Ok(match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        })
    }
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_map_to_the_flags_std_uses() {
        let flags = |o: &OpenOptions| o.flags().ok();
        assert_eq!(flags(OpenOptions::new().read(true)), Some(libc::O_RDONLY));
        let create = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .clone();
        assert_eq!(
            flags(&create),
            Some(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC)
        );
        let append = OpenOptions::new().append(true).create(true).clone();
        assert_eq!(
            flags(&append),
            Some(libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT)
        );
        let new = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .clone();
        assert_eq!(
            flags(&new),
            Some(libc::O_RDWR | libc::O_CREAT | libc::O_EXCL)
        );
    }

    #[test]
    fn impossible_options_are_invalid_input() {
        for options in [
            OpenOptions::new(),
            OpenOptions::new().read(true).create(true).clone(),
            OpenOptions::new().append(true).truncate(true).clone(),
        ] {
            let error = options.flags().unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{options:?}");
        }
    }
}
