//! The traits every descriptor-owning type of the crate implements alike, written once.
//!
//! [`owned_descriptor!`] gives a type with an `fd: OwnedFd` field `AsFd`, `AsRawFd`,
//! `IntoRawFd` and `From<T> for OwnedFd`. [`read_through_io!`] and [`write_through_io!`] give a
//! type with an `io: Io` field and inherent `read(&self, io, buf)` / `write(&self, io, buf)`
//! std's `Read` / `Write`, on `T` and on `&T` (so one task can read while another writes),
//! blocking on the kept `io`. There is no `From<OwnedFd>` for any of them: each keeps its `Io`
//! (or its address), which a descriptor alone does not give — they have `from_fd`/`from_std`
//! constructors taking an `io`.

/// `AsFd`, `AsRawFd`, `IntoRawFd` and `From<T> for OwnedFd` for types with an `fd: OwnedFd`.
macro_rules! owned_descriptor {
    ($($type:ty),+ $(,)?) => {$(
        impl ::std::os::fd::AsFd for $type {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(&self.fd)
            }
        }

        impl ::std::os::fd::AsRawFd for $type {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(&self.fd)
            }
        }

        impl ::std::os::fd::IntoRawFd for $type {
            fn into_raw_fd(self) -> ::std::os::fd::RawFd {
                ::std::os::fd::IntoRawFd::into_raw_fd(self.fd)
            }
        }

        impl ::std::convert::From<$type> for ::std::os::fd::OwnedFd {
            fn from(owner: $type) -> ::std::os::fd::OwnedFd {
                owner.fd
            }
        }
    )+};
}

/// std's `Read` for `T` and `&T` through the inherent `read(&self, io, buf)` and the kept `io`.
macro_rules! read_through_io {
    ($($type:ident),+ $(,)?) => {$(
        impl ::std::io::Read for $type {
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                $type::read(self, self.io, buf)
            }
        }

        impl ::std::io::Read for &$type {
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                $type::read(self, self.io, buf)
            }
        }
    )+};
}

/// std's `Write` for `T` and `&T` through the inherent `write(&self, io, buf)` and the kept
/// `io`; `flush` has nothing to do, since these types keep no buffer of their own.
macro_rules! write_through_io {
    ($($type:ident),+ $(,)?) => {$(
        impl ::std::io::Write for $type {
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                $type::write(self, self.io, buf)
            }

            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }

        impl ::std::io::Write for &$type {
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                $type::write(self, self.io, buf)
            }

            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }
    )+};
}

pub(crate) use {owned_descriptor, read_through_io, write_through_io};
