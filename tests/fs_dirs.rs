//! Directories, metadata and names: every function of `io::fs` beyond `File`'s reads and
//! writes, on a temporary tree, with its results checked against the file system (through std)
//! and its errors checked for kind and for naming the operation and path; and cancels of the
//! operations that can block for long (a FIFO without a writer, a large tree), which return
//! within 2 s with the descriptor count back where it was.
//!
//! Every test runs alone in the process (descriptor counts are process-wide) and under a
//! watchdog that aborts the process if it is still running after 60 s. Tests run as root, which
//! bypasses permission bits: the permission error is the `EPERM` of hard-linking a directory.

mod support;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use io::fs::{self, File, OpenOptions};
use io::{is_canceled, Clock, Io};
use support::{assert_cancel_interrupts, each_backend_in_dir, open_fds, timed, LONG, PROMPT};

/// Runs `f` on every backend with a fresh directory, alone in the process and under the
/// watchdog.
fn run(name: &'static str, f: impl Fn(Io, &Path)) {
    each_backend_in_dir("fs-dirs", name, f);
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c_path` is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
}

/// Asserts that `error` has `kind` and its message starts with `prefix` (the operation and
/// path).
fn assert_error(error: &std::io::Error, kind: ErrorKind, prefix: &str) {
    assert_eq!(error.kind(), kind, "{error}");
    assert!(!is_canceled(error), "{error:?}");
    assert!(
        error.to_string().starts_with(prefix),
        "{error} (wanted {prefix}…)"
    );
}

/// A tree of `dirs` directories of `files` files each under `root`.
fn make_tree(root: &Path, dirs: usize, files: usize) {
    for d in 0..dirs {
        let dir = root.join(format!("d{d:03}")).join("inner");
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..files {
            std::fs::write(dir.join(format!("f{f:04}")), b"x").unwrap();
        }
    }
}

#[test]
fn read_dir_lists_every_entry_with_its_name_path_type_and_metadata() {
    run("read dir", |io, dir| {
        std::fs::write(dir.join("file"), b"12345").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::os::unix::fs::symlink("file", dir.join("link")).unwrap();
        mkfifo(&dir.join("fifo"));
        let mut seen = BTreeMap::new();
        for entry in fs::read_dir(io, dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            assert_eq!(entry.path(), dir.join(&name));
            let std_meta = std::fs::symlink_metadata(entry.path()).unwrap();
            assert_eq!(entry.ino(), std_meta.ino(), "{name}");
            let meta = entry.metadata(io).unwrap();
            assert_eq!((meta.ino(), meta.len()), (std_meta.ino(), std_meta.len()));
            let kind = entry.file_type().unwrap();
            assert_eq!(kind, meta.file_type(), "{name}: d_type against statx");
            let kind = match () {
                _ if kind.is_dir() => "dir",
                _ if kind.is_file() => "file",
                _ if kind.is_symlink() => "symlink",
                _ if kind.is_fifo() => "fifo",
                _ => "other",
            };
            seen.insert(name, kind);
        }
        let expected = [
            ("fifo", "fifo"),
            ("file", "file"),
            ("link", "symlink"),
            ("sub", "dir"),
        ];
        let expected: BTreeMap<String, &str> =
            expected.iter().map(|&(n, k)| (n.to_owned(), k)).collect();
        assert_eq!(seen, expected);
    });
}

#[test]
fn read_dir_reads_a_large_directory_in_batches_without_losing_an_entry() {
    run("large dir", |io, dir| {
        const N: usize = 5_000;
        for n in 0..N {
            std::fs::write(dir.join(format!("a-rather-long-file-name-{n:05}")), b"").unwrap();
        }
        let mut names: Vec<String> = fs::read_dir(io, dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let expected: Vec<String> = (0..N)
            .map(|n| format!("a-rather-long-file-name-{n:05}"))
            .collect();
        assert_eq!(names, expected);
    });
}

#[test]
fn metadata_agrees_with_std_and_symlink_metadata_does_not_follow() {
    run("metadata", |io, dir| {
        let path = dir.join("file");
        std::fs::write(&path, b"0123456789").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink(&path, dir.join("link")).unwrap();
        let std_meta = std::fs::metadata(&path).unwrap();
        let file = File::open(io, &path).unwrap();
        for meta in [
            fs::metadata(io, &path).unwrap(),
            fs::metadata(io, dir.join("link")).unwrap(),
            file.metadata(io).unwrap(),
        ] {
            assert!(meta.is_file() && !meta.is_dir() && !meta.is_symlink());
            assert_eq!(meta.len(), 10);
            assert_eq!(meta.size(), 10);
            assert_eq!(meta.permissions().mode(), 0o640);
            assert_eq!(meta.mode(), std_meta.mode());
            assert_eq!((meta.uid(), meta.gid()), (std_meta.uid(), std_meta.gid()));
            assert_eq!((meta.ino(), meta.dev()), (std_meta.ino(), std_meta.dev()));
            assert_eq!(meta.nlink(), std_meta.nlink());
            assert_eq!(meta.blocks(), std_meta.blocks());
            assert_eq!(meta.modified().unwrap(), std_meta.modified().unwrap());
            assert_eq!(meta.accessed().unwrap(), std_meta.accessed().unwrap());
            match (meta.created(), std_meta.created()) {
                (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs),
                (Err(ours), Err(_)) => assert_eq!(ours.kind(), ErrorKind::Unsupported),
                (ours, theirs) => panic!("created: {ours:?} against std's {theirs:?}"),
            }
        }
        let link = fs::symlink_metadata(io, dir.join("link")).unwrap();
        assert!(link.is_symlink() && !link.is_file());
        assert_eq!(link.len(), path.as_os_str().len() as u64);
        assert!(fs::metadata(io, dir).unwrap().is_dir());
    });
}

#[test]
fn a_missing_path_is_not_found_and_every_error_names_its_operation_and_path() {
    run("missing", |io, dir| {
        let missing = dir.join("no/such");
        let shown = missing.display();
        let other = dir.join("other");
        let cases: Vec<(std::io::Error, String)> = vec![
            (
                fs::metadata(io, &missing).unwrap_err(),
                format!("stat {shown}: "),
            ),
            (
                fs::symlink_metadata(io, &missing).unwrap_err(),
                format!("lstat {shown}: "),
            ),
            (
                fs::read_dir(io, &missing).unwrap_err(),
                format!("read_dir {shown}: "),
            ),
            (
                fs::create_dir(io, &missing).unwrap_err(),
                format!("mkdir {shown}: "),
            ),
            (
                fs::remove_file(io, &missing).unwrap_err(),
                format!("unlink {shown}: "),
            ),
            (
                fs::remove_dir(io, &missing).unwrap_err(),
                format!("rmdir {shown}: "),
            ),
            (
                fs::remove_dir_all(io, &missing).unwrap_err(),
                format!("lstat {shown}: "),
            ),
            (
                fs::rename(io, &missing, &other).unwrap_err(),
                format!("rename {shown} -> {}: ", other.display()),
            ),
            (
                fs::hard_link(io, &missing, &other).unwrap_err(),
                format!("link {shown} -> {}: ", other.display()),
            ),
            (
                fs::read_link(io, &missing).unwrap_err(),
                format!("readlink {shown}: "),
            ),
            (
                fs::canonicalize(io, &missing).unwrap_err(),
                format!("canonicalize {shown}: "),
            ),
            (
                fs::read(io, &missing).unwrap_err(),
                format!("open {shown}: "),
            ),
            (
                fs::read_to_string(io, &missing).unwrap_err(),
                format!("open {shown}: "),
            ),
            (
                fs::write(io, &missing, b"x").unwrap_err(),
                format!("open {shown}: "),
            ),
            (
                fs::copy(io, &missing, &other).unwrap_err(),
                format!("open {shown}: "),
            ),
        ];
        for (error, prefix) in &cases {
            assert_error(error, ErrorKind::NotFound, prefix);
            assert!(
                error.to_string().contains("No such file or directory"),
                "{error}"
            );
        }
        assert!(!other.exists());
    });
}

#[test]
fn create_dir_and_create_dir_all_make_directories_and_refuse_what_exists() {
    run("create", |io, dir| {
        let one = dir.join("one");
        fs::create_dir(io, &one).unwrap();
        assert!(std::fs::metadata(&one).unwrap().is_dir());
        let error = fs::create_dir(io, &one).unwrap_err();
        assert_error(
            &error,
            ErrorKind::AlreadyExists,
            &format!("mkdir {}: ", one.display()),
        );
        let deep = dir.join("a/b/c/d");
        fs::create_dir_all(io, &deep).unwrap();
        assert!(std::fs::metadata(&deep).unwrap().is_dir());
        fs::create_dir_all(io, &deep).unwrap();
        fs::create_dir_all(io, dir.join("a/b/../b/c/e")).unwrap();
        assert!(dir.join("a/b/c/e").is_dir());
        std::fs::write(dir.join("file"), b"").unwrap();
        let error = fs::create_dir_all(io, dir.join("file")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{error}");
        let error = fs::create_dir_all(io, dir.join("file/below")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotADirectory, "{error}");
    });
}

#[test]
fn remove_file_and_remove_dir_remove_only_what_they_should() {
    run("remove", |io, dir| {
        let sub = dir.join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("file"), b"").unwrap();
        let error = fs::remove_dir(io, &sub).unwrap_err();
        assert_error(
            &error,
            ErrorKind::DirectoryNotEmpty,
            &format!("rmdir {}: ", sub.display()),
        );
        let error = fs::remove_file(io, &sub).unwrap_err();
        assert_error(
            &error,
            ErrorKind::IsADirectory,
            &format!("unlink {}: ", sub.display()),
        );
        let error = fs::remove_dir(io, sub.join("file")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotADirectory, "{error}");
        fs::remove_file(io, sub.join("file")).unwrap();
        assert!(!sub.join("file").exists());
        fs::remove_dir(io, &sub).unwrap();
        assert!(!sub.exists());
    });
}

#[test]
fn remove_dir_all_removes_a_tree_but_never_follows_a_symlink() {
    run("remove all", |io, dir| {
        let outside = dir.join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"kept").unwrap();
        let tree = dir.join("tree");
        make_tree(&tree, 5, 20);
        std::os::unix::fs::symlink(&outside, tree.join("d000/link-to-dir")).unwrap();
        std::os::unix::fs::symlink(outside.join("keep"), tree.join("link-to-file")).unwrap();
        mkfifo(&tree.join("d001/inner/fifo"));
        let before = open_fds();
        fs::remove_dir_all(io, &tree).unwrap();
        assert_eq!(open_fds(), before, "descriptors leaked");
        assert!(!tree.exists());
        assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"kept");
        // A symlink to a directory: only the link goes.
        let link = dir.join("link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        fs::remove_dir_all(io, &link).unwrap();
        assert!(std::fs::symlink_metadata(&link).is_err());
        assert!(outside.join("keep").exists());
        // A file is not a directory, as with std.
        let error = fs::remove_dir_all(io, outside.join("keep")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotADirectory, "{error}");
    });
}

#[test]
fn rename_moves_files_and_directories_and_names_both_paths() {
    run("rename", |io, dir| {
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, b"moved").unwrap();
        fs::rename(io, &a, &b).unwrap();
        assert!(!a.exists());
        assert_eq!(std::fs::read(&b).unwrap(), b"moved");
        let (d1, d2) = (dir.join("d1"), dir.join("d2"));
        std::fs::create_dir(&d1).unwrap();
        std::fs::write(d1.join("inside"), b"").unwrap();
        fs::rename(io, &d1, &d2).unwrap();
        assert!(d2.join("inside").exists());
        // A non-empty directory cannot be replaced.
        std::fs::create_dir(&d1).unwrap();
        let error = fs::rename(io, &d1, &d2).unwrap_err();
        let prefix = format!("rename {} -> {}: ", d1.display(), d2.display());
        assert_error(&error, ErrorKind::DirectoryNotEmpty, &prefix);
    });
}

#[test]
fn hard_links_share_the_file_and_a_directory_cannot_be_linked() {
    run("hard link", |io, dir| {
        let (original, link) = (dir.join("original"), dir.join("link"));
        std::fs::write(&original, b"shared").unwrap();
        fs::hard_link(io, &original, &link).unwrap();
        assert_eq!(fs::metadata(io, &original).unwrap().nlink(), 2);
        assert_eq!(
            fs::metadata(io, &link).unwrap().ino(),
            fs::metadata(io, &original).unwrap().ino()
        );
        let error = fs::hard_link(io, &original, &link).unwrap_err();
        let prefix = format!("link {} -> {}: ", original.display(), link.display());
        assert_error(&error, ErrorKind::AlreadyExists, &prefix);
        // Root may do nearly anything, but Linux never hard-links a directory: EPERM.
        let sub = dir.join("sub");
        std::fs::create_dir(&sub).unwrap();
        let error = fs::hard_link(io, &sub, dir.join("sub-link")).unwrap_err();
        let prefix = format!(
            "link {} -> {}: ",
            sub.display(),
            dir.join("sub-link").display()
        );
        assert_error(&error, ErrorKind::PermissionDenied, &prefix);
        assert_eq!(io::raw_os_error(&error), Some(libc::EPERM));
    });
}

#[test]
fn symlink_read_link_and_canonicalize_resolve_as_the_kernel_does() {
    run("symlink", |io, dir| {
        std::fs::create_dir_all(dir.join("real/deeper")).unwrap();
        fs::symlink(io, "real/deeper", dir.join("link")).unwrap();
        assert_eq!(
            fs::read_link(io, dir.join("link")).unwrap(),
            Path::new("real/deeper")
        );
        assert!(fs::symlink_metadata(io, dir.join("link"))
            .unwrap()
            .is_symlink());
        let canonical = fs::canonicalize(io, dir.join("link/../deeper/./")).unwrap();
        assert_eq!(
            canonical,
            std::fs::canonicalize(dir.join("real/deeper")).unwrap()
        );
        // A dangling link is made as asked.
        fs::symlink(io, "nowhere", dir.join("dangling")).unwrap();
        assert_eq!(
            fs::read_link(io, dir.join("dangling")).unwrap(),
            Path::new("nowhere")
        );
        let error = fs::canonicalize(io, dir.join("dangling")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
        let error = fs::symlink(io, "elsewhere", dir.join("link")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{error}");
        // A long target (beyond the first buffer read_link tries).
        let long = "x/".repeat(300) + "end";
        fs::symlink(io, &long, dir.join("long")).unwrap();
        assert_eq!(
            fs::read_link(io, dir.join("long")).unwrap(),
            Path::new(&long)
        );
        let error = fs::read_link(io, dir.join("real")).unwrap_err();
        let prefix = format!("readlink {}: ", dir.join("real").display());
        assert_error(&error, ErrorKind::InvalidInput, &prefix);
    });
}

#[test]
fn read_write_and_read_to_string_round_trip_and_refuse_bad_utf8() {
    run("contents", |io, dir| {
        let path = dir.join("text");
        fs::write(io, &path, "hello, world").unwrap();
        assert_eq!(fs::read(io, &path).unwrap(), b"hello, world");
        assert_eq!(fs::read_to_string(io, &path).unwrap(), "hello, world");
        fs::write(io, &path, b"short").unwrap();
        assert_eq!(
            fs::read_to_string(io, &path).unwrap(),
            "short",
            "write truncates"
        );
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(io, &path, &big).unwrap();
        assert!(fs::read(io, &path).unwrap() == big);
        fs::write(io, &path, [0xff, 0xfe]).unwrap();
        let error = fs::read_to_string(io, &path).unwrap_err();
        assert_error(
            &error,
            ErrorKind::InvalidData,
            &format!("read {}: ", path.display()),
        );
        // A file whose size says nothing (procfs) is read to its end.
        let status = fs::read_to_string(io, "/proc/self/status").unwrap();
        assert!(status.starts_with("Name:"), "{status}");
    });
}

#[test]
fn copy_copies_contents_and_permissions_and_refuses_a_directory() {
    run("copy", |io, dir| {
        let (from, to) = (dir.join("from"), dir.join("to"));
        // Larger than one kernel copy chunk (8 MiB).
        let contents: Vec<u8> = (0..9_000_001u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&from, &contents).unwrap();
        std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o750)).unwrap();
        // An existing target with other permissions gets the source's.
        std::fs::write(&to, b"old contents, longer than nothing").unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
        let before = open_fds();
        assert_eq!(fs::copy(io, &from, &to).unwrap(), contents.len() as u64);
        assert_eq!(open_fds(), before, "descriptors leaked");
        assert!(std::fs::read(&to).unwrap() == contents);
        let mode = std::fs::metadata(&to).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750);
        // An empty file copies as empty.
        std::fs::write(&from, b"").unwrap();
        assert_eq!(fs::copy(io, &from, &to).unwrap(), 0);
        assert_eq!(std::fs::metadata(&to).unwrap().len(), 0);
        let error = fs::copy(io, dir, &to).unwrap_err();
        assert_error(
            &error,
            ErrorKind::InvalidInput,
            &format!("copy {}: ", dir.display()),
        );
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn set_len_and_set_permissions_change_the_file() {
    run("set len", |io, dir| {
        let path = dir.join("file");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .open(io, &path)
            .unwrap();
        file.write_all(io, b"0123456789").unwrap();
        file.set_len(io, 4).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"0123");
        file.set_len(io, 6).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"0123\0\0");
        file.set_permissions(io, std::fs::Permissions::from_mode(0o604))
            .unwrap();
        assert_eq!(file.metadata(io).unwrap().permissions().mode(), 0o604);
        let read_only = File::open(io, &path).unwrap();
        let error = read_only.set_len(io, 0).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("truncate {}: ", path.display())),
            "{error}"
        );
        assert!(matches!(
            io::raw_os_error(&error),
            Some(libc::EINVAL | libc::EBADF)
        ));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 6);
    });
}

#[test]
fn a_file_converts_from_and_to_descriptors() {
    run("conversions", |io, dir| {
        let path = dir.join("file");
        std::fs::write(&path, b"descriptor").unwrap();
        let before = open_fds();
        let file = File::from_std(io, std::fs::File::open(&path).unwrap());
        assert_eq!(
            file.path(),
            path.as_path(),
            "named by its /proc/self/fd link"
        );
        let raw = file.as_raw_fd();
        let owned = OwnedFd::from(file);
        assert_eq!(owned.as_raw_fd(), raw);
        let mut file = File::from_fd(io, owned);
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "descriptor");
        let raw = file.into_raw_fd();
        assert_eq!(open_fds(), before + 1, "into_raw_fd keeps it open");
        // SAFETY: `raw` came from `into_raw_fd`, so this is its only owner.
        drop(unsafe { OwnedFd::from_raw_fd(raw) });
        assert_eq!(open_fds(), before);
    });
}

/// A task canceled before it reaches them gets `Canceled` from every operation, which then
/// changes nothing.
#[test]
fn a_canceled_task_gets_canceled_from_every_operation_and_nothing_changes() {
    run("canceled task", |io, dir| {
        let file_path = dir.join("file");
        std::fs::write(&file_path, b"data").unwrap();
        let file = OpenOptions::new().write(true).open(io, &file_path).unwrap();
        let (new, other) = (dir.join("new"), dir.join("other"));
        let before = open_fds();
        io.scope(|s| {
            let task = s
                .spawn_concurrent(|| {
                    assert_eq!(io.sleep(LONG, Clock::Awake), Err(io::Canceled));
                    let results: Vec<(&str, std::io::Result<()>)> = vec![
                        ("metadata", fs::metadata(io, &file_path).map(drop)),
                        (
                            "symlink_metadata",
                            fs::symlink_metadata(io, &file_path).map(drop),
                        ),
                        ("read_dir", fs::read_dir(io, dir).map(drop)),
                        ("create_dir", fs::create_dir(io, &new)),
                        ("create_dir_all", fs::create_dir_all(io, new.join("a/b"))),
                        ("remove_file", fs::remove_file(io, &file_path)),
                        ("remove_dir", fs::remove_dir(io, dir)),
                        ("remove_dir_all", fs::remove_dir_all(io, dir)),
                        ("rename", fs::rename(io, &file_path, &other)),
                        ("hard_link", fs::hard_link(io, &file_path, &other)),
                        ("symlink", fs::symlink(io, &file_path, &other)),
                        ("read_link", fs::read_link(io, &file_path).map(drop)),
                        ("canonicalize", fs::canonicalize(io, &file_path).map(drop)),
                        ("read", fs::read(io, &file_path).map(drop)),
                        ("write", fs::write(io, &other, b"x")),
                        ("copy", fs::copy(io, &file_path, &other).map(drop)),
                        ("File::metadata", file.metadata(io).map(drop)),
                        ("File::set_len", file.set_len(io, 0)),
                        (
                            "File::set_permissions",
                            file.set_permissions(io, std::fs::Permissions::from_mode(0o600)),
                        ),
                    ];
                    results
                })
                .unwrap();
            io.sleep(Duration::from_millis(20), Clock::Awake).unwrap();
            for (name, result) in task.cancel(io) {
                let error = result.expect_err(name);
                assert!(is_canceled(&error), "{name}: {error:?}");
            }
        });
        assert_eq!(open_fds(), before, "descriptors leaked");
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file"], "a canceled operation changed the tree");
        assert_eq!(std::fs::read(&file_path).unwrap(), b"data");
        let mode = std::fs::metadata(&file_path).unwrap().permissions().mode() & 0o777;
        assert_ne!(mode, 0o600);
    });
}

/// `read`, `read_to_string` and `copy` of a FIFO without a writer wait in the open; a cancel
/// ends each within 2 s, leaking no descriptor.
#[test]
fn cancel_ends_a_read_or_copy_of_a_fifo_that_waits_in_open() {
    run("fifo open", |io, dir| {
        let fifo = dir.join("fifo");
        mkfifo(&fifo);
        let before = open_fds();
        let to = dir.join("to");
        type Blocking<'a> = Box<dyn Fn() -> std::io::Result<()> + Send + Sync + 'a>;
        let calls: Vec<(&str, Blocking<'_>)> = vec![
            ("read", Box::new(|| fs::read(io, &fifo).map(drop))),
            (
                "read_to_string",
                Box::new(|| fs::read_to_string(io, &fifo).map(drop)),
            ),
            ("copy", Box::new(|| fs::copy(io, &fifo, &to).map(drop))),
        ];
        for (name, call) in &calls {
            io.scope(|s| {
                let blocked = s.spawn_concurrent(call).unwrap();
                io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
                let (result, elapsed) = timed(|| blocked.cancel(io));
                let error = result.expect_err(name);
                assert!(is_canceled(&error), "{name}: {error:?}");
                assert!(elapsed < PROMPT, "{name}: cancel took {elapsed:?}");
            });
        }
        assert_eq!(open_fds(), before, "descriptors leaked");
        assert!(
            !to.exists(),
            "copy made its target before its source opened"
        );
    });
}

/// With a writer that holds the FIFO open and never writes, `read` waits in read(2): a cancel
/// ends it within 2 s and closes what it opened.
#[test]
fn cancel_ends_a_read_of_a_fifo_that_waits_for_data() {
    run("fifo read", |io, dir| {
        let fifo = dir.join("fifo");
        mkfifo(&fifo);
        // Read and write at once: never waits for a peer, and is the writer that never writes.
        let holder = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        let before = open_fds();
        assert_cancel_interrupts(io, || fs::read(io, &fifo));
        assert_eq!(open_fds(), before, "descriptors leaked");
        drop(holder);
    });
}

/// Listing a large tree over and over until canceled: the cancel ends it within 2 s, with
/// `Canceled`, and leaves no directory open.
#[test]
fn cancel_ends_a_read_dir_walk_of_a_large_tree() {
    run("read dir cancel", |io, dir| {
        make_tree(dir, 20, 100);
        let before = open_fds();
        io.scope(|s| {
            let walker = s
                .spawn_concurrent(|| -> std::io::Result<usize> {
                    let mut seen = 0;
                    loop {
                        for top in fs::read_dir(io, dir)? {
                            let inner = top?.path().join("inner");
                            for entry in fs::read_dir(io, inner)? {
                                entry?.file_type()?;
                                seen += 1;
                            }
                        }
                        assert_eq!(seen % 2_000, 0);
                    }
                })
                .unwrap();
            io.sleep(Duration::from_millis(30), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| walker.cancel(io));
            let error = result.expect_err("the walk never ends by itself");
            assert!(is_canceled(&error), "{error:?}");
            assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
        });
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

/// `remove_dir_all` of a large tree, canceled while it runs, returns within 2 s: `Canceled`
/// with part of the tree left, or done with nothing left; no directory stays open.
#[test]
fn cancel_ends_remove_dir_all_of_a_large_tree() {
    run("remove all cancel", |io, dir| {
        let tree = dir.join("tree");
        make_tree(&tree, 20, 150);
        let before = open_fds();
        io.scope(|s| {
            let remover = s
                .spawn_concurrent(|| fs::remove_dir_all(io, &tree))
                .unwrap();
            io.sleep(Duration::from_millis(10), Clock::Awake).unwrap();
            let (result, elapsed) = timed(|| remover.cancel(io));
            assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
            match result {
                Ok(()) => assert!(!tree.exists(), "done, yet the tree is there"),
                Err(error) => {
                    assert!(is_canceled(&error), "{error:?}");
                    assert!(tree.exists(), "canceled, yet the tree is gone");
                }
            }
        });
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

/// A deadline of `Io::timeout` ends what a cancel ends: a read of a FIFO that waits in open,
/// and an endless walk whose directory batches run on the offload pool on uring.
#[test]
fn a_timeout_ends_a_blocked_read_and_a_long_walk() {
    run("timeout", |io, dir| {
        let fifo = dir.join("fifo");
        mkfifo(&fifo);
        make_tree(dir, 10, 100);
        let before = open_fds();
        let (outcome, elapsed) =
            timed(|| io.timeout(Duration::from_millis(50), || fs::read(io, &fifo)));
        assert!(matches!(outcome, Err(io::Timeout)), "{outcome:?}");
        assert!(elapsed < PROMPT, "the read took {elapsed:?}");
        let walk = || -> std::io::Result<()> {
            loop {
                for entry in fs::read_dir(io, dir)? {
                    let entry = entry?;
                    if entry.file_type()?.is_dir() {
                        let inner = entry.path().join("inner");
                        fs::read_dir(io, inner)?.try_for_each(|e| e.map(drop))?;
                    }
                }
            }
        };
        let (outcome, elapsed) = timed(|| io.timeout(Duration::from_millis(50), walk));
        assert!(matches!(outcome, Err(io::Timeout)), "{outcome:?}");
        assert!(elapsed < PROMPT, "the walk took {elapsed:?}");
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}
