//! Reading a directory in batches: [`DirReader`] fills a buffer with getdents64(2) and
//! [`parse`] takes the `linux_dirent64` records out of it.
//!
//! No ring opcode reads a directory, so each batch is one blocking step through
//! `Io::offload` (see `sys::getdents`): a buffer of [`BATCH`] bytes holds hundreds of entries,
//! so a fiber hops to the offload pool once per few hundred entries, not once per entry, and
//! every batch is a cancellation point.
//!
//! ```text
//! linux_dirent64     offset  size
//!   d_ino            0       8
//!   d_off            8       8
//!   d_reclen         16      2     the record's length, name and padding included
//!   d_type           18      1
//!   d_name           19      …     NUL-terminated
//! ```

use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use super::sys;
use crate::io::Io;

/// The size of the buffer one getdents64 call fills (glibc's readdir uses the same).
pub(super) const BATCH: usize = 32 * 1024;

/// Where the name starts in a record.
const NAME: usize = 19;

/// One record of a getdents64 buffer, as offsets into it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) ino: u64,
    pub(super) d_type: u8,
    /// The name's bytes (without the NUL) within the buffer passed to [`parse`].
    pub(super) name: Range<usize>,
    /// The record's length: where the next one starts.
    pub(super) len: usize,
}

/// Parses the record at the start of `buf`; `None` if `buf` does not hold a whole,
/// well-formed record (the kernel never writes such a thing, but a wrong parse must not read
/// out of bounds).
pub(super) fn parse(buf: &[u8]) -> Option<Record> {
    let ino = u64::from_ne_bytes(buf.get(0..8)?.try_into().ok()?);
    let len = usize::from(u16::from_ne_bytes(buf.get(16..18)?.try_into().ok()?));
    let d_type = *buf.get(18)?;
    let record = buf.get(..len).filter(|_| len > NAME)?;
    let name_len = record[NAME..].iter().position(|&b| b == 0)?;
    Some(Record {
        ino,
        d_type,
        name: NAME..NAME + name_len,
        len,
    })
}

/// An entry that [`DirReader::next`] returns, borrowing the reader's buffer.
pub(super) struct Dirent<'a> {
    pub(super) ino: u64,
    pub(super) d_type: u8,
    pub(super) name: &'a [u8],
}

/// An open directory read in batches of [`BATCH`] bytes; skips `.` and `..`.
pub(super) struct DirReader {
    fd: OwnedFd,
    buf: Box<[u8]>,
    /// The unread records are `buf[start..end]`.
    start: usize,
    end: usize,
    /// getdents64 said end of directory.
    done: bool,
}

impl DirReader {
    pub(super) fn new(fd: OwnedFd) -> Self {
        Self {
            fd,
            buf: vec![0; BATCH].into_boxed_slice(),
            start: 0,
            end: 0,
            done: false,
        }
    }

    /// The directory's descriptor (for operations relative to it).
    pub(super) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The next entry; `Ok(None)` at the end. Reads a new batch when the buffer is used up
    /// (a cancellation point).
    pub(super) fn next(&mut self, io: Io) -> io::Result<Option<Dirent<'_>>> {
        let (at, record) = loop {
            if self.start == self.end {
                if self.done {
                    return Ok(None);
                }
                self.end = sys::getdents(io, self.fd.as_fd(), &mut self.buf)?;
                self.start = 0;
                self.done = self.end == 0;
                continue;
            }
            let at = self.start;
            let record = parse(&self.buf[at..self.end]).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "malformed directory entry")
            })?;
            self.start += record.len;
            let name = &self.buf[at + record.name.start..at + record.name.end];
            if name != b"." && name != b".." {
                break (at, record);
            }
        };
        Ok(Some(Dirent {
            ino: record.ino,
            d_type: record.d_type,
            name: &self.buf[at + record.name.start..at + record.name.end],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the kernel lays it out, padded to 8 bytes.
    fn record(ino: u64, d_type: u8, name: &[u8]) -> Vec<u8> {
        let len = (NAME + name.len() + 1).next_multiple_of(8);
        let mut bytes = vec![0; len];
        bytes[0..8].copy_from_slice(&ino.to_ne_bytes());
        bytes[8..16].copy_from_slice(&42i64.to_ne_bytes());
        bytes[16..18].copy_from_slice(&(len as u16).to_ne_bytes());
        bytes[18] = d_type;
        bytes[NAME..NAME + name.len()].copy_from_slice(name);
        bytes
    }

    #[test]
    fn parses_consecutive_records() {
        let mut buf = record(7, libc::DT_REG, b"a.txt");
        buf.extend(record(9, libc::DT_DIR, b"a-longer-directory-name"));
        let first = parse(&buf).unwrap();
        assert_eq!(first.ino, 7);
        assert_eq!(first.d_type, libc::DT_REG);
        assert_eq!(&buf[first.name.clone()], b"a.txt");
        assert_eq!(first.len, 32);
        let rest = &buf[first.len..];
        let second = parse(rest).unwrap();
        assert_eq!((second.ino, second.d_type), (9, libc::DT_DIR));
        assert_eq!(&rest[second.name.clone()], b"a-longer-directory-name");
        assert_eq!(first.len + second.len, buf.len());
    }

    #[test]
    fn a_truncated_or_malformed_record_is_refused() {
        let buf = record(1, libc::DT_REG, b"name");
        assert_eq!(parse(&buf[..10]), None, "header cut");
        assert_eq!(parse(&buf[..buf.len() - 8]), None, "record cut");
        let mut no_nul = buf.clone();
        no_nul[NAME..].fill(b'x');
        assert_eq!(parse(&no_nul), None, "name without its NUL");
        let mut short = buf;
        short[16..18].copy_from_slice(&4u16.to_ne_bytes());
        assert_eq!(parse(&short), None, "length shorter than the header");
    }

    #[test]
    fn reads_a_real_directory_in_batches_and_skips_dot_entries() {
        let dir = std::env::temp_dir().join(format!("io-dirent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Enough names for several batches.
        let names: Vec<String> = (0..2_000).map(|n| format!("entry-{n:05}")).collect();
        for name in &names {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let runtime = crate::Runtime::builder().threads(1).build().unwrap();
        let mut seen = runtime.run(|io| {
            let c_dir = sys::c_path(&dir).unwrap();
            let fd = sys::open_dir(io, libc::AT_FDCWD, &c_dir, false).unwrap();
            let mut reader = DirReader::new(fd);
            let mut seen = Vec::new();
            while let Some(entry) = reader.next(io).unwrap() {
                assert_eq!(entry.d_type, libc::DT_REG);
                seen.push(String::from_utf8(entry.name.to_vec()).unwrap());
            }
            seen
        });
        std::fs::remove_dir_all(&dir).unwrap();
        seen.sort();
        assert_eq!(seen, names);
    }
}
