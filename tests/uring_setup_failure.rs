//! A kernel that refuses io_uring: building a uring runtime returns an error naming why, and
//! `Auto` falls back to the threaded backend. The refusal is injected through the test hook
//! `IO_URING_SETUP_ERRNO` (its own binary: the variable applies to the whole process).

use io::{Backend, Runtime};

#[test]
fn a_refused_ring_is_an_error_naming_why_and_auto_falls_back() {
    std::env::set_var("IO_URING_SETUP_ERRNO", libc::EPERM.to_string());
    let error = Runtime::builder()
        .backend(Backend::Uring)
        .build()
        .expect_err("io_uring setup was refused, the build must fail");
    let message = error.to_string();
    assert!(message.contains("EPERM"), "{message}");
    assert!(message.contains("io_uring"), "{message}");

    std::env::set_var("IO_URING_SETUP_ERRNO", libc::ENOSYS.to_string());
    let message = Runtime::builder()
        .backend(Backend::Uring)
        .build()
        .unwrap_err()
        .to_string();
    assert!(message.contains("ENOSYS"), "{message}");

    let fallback = Runtime::builder().backend(Backend::Auto).build().unwrap();
    assert_eq!(fallback.run(|io| io.backend_name()), "threaded");
    std::env::remove_var("IO_URING_SETUP_ERRNO");
}
