//! [`ring_supports`]: whether this kernel's io_uring has an opcode. The ops of
//! [`super::path`], [`super::statx`] and [`super::ftruncate`] came after the opcodes the backend
//! itself needs (MKDIRAT and LINKAT in Linux 5.15, FTRUNCATE in 6.9): where the kernel lacks
//! one, `crate::fs` runs the op's system call on the offload pool instead.

use std::sync::OnceLock;

use io_uring::{IoUring, Probe};

/// Whether the kernel's io_uring knows `opcode` (asked once per process, on a ring of its own;
/// `false` where io_uring cannot be set up, where no op goes to a ring anyway).
pub(crate) fn ring_supports(opcode: u8) -> bool {
    static PROBE: OnceLock<Option<Probe>> = OnceLock::new();
    let probe = PROBE.get_or_init(|| {
        let ring = IoUring::new(2).ok()?;
        let mut probe = Probe::new();
        ring.submitter().register_probe(&mut probe).ok()?;
        Some(probe)
    });
    probe
        .as_ref()
        .is_some_and(|probe| probe.is_supported(opcode))
}
