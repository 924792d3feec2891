//! Name lookup: [`lookup_host`] and the [`ResolverConfig`] that says where it looks.
//!
//! The order is getaddrinfo's and Zig's `HostName.lookup`: a literal IP address is used as it
//! is; then the hosts file; then `localhost` (and names under `.localhost`) resolve to
//! 127.0.0.1 and ::1 without asking anyone (RFC 6761); then the nameservers of resolv.conf are
//! asked over UDP, with this runtime's own sockets, so every wait is a cancellation point on
//! both backends (a canceled lookup returns at once, leaving no thread or descriptor behind).
//!
//! The DNS part (see `query.rs`): for each candidate name of the search list, an A and an AAAA
//! query are sent together and both answers collected; a nameserver that does not answer
//! within `timeout` is left for the next, for `attempts` rounds; a packet whose id or question
//! does not match is ignored; a truncated answer is asked again over TCP; a CNAME chain is
//! followed. IPv4 addresses come before IPv6 ones (the machine may have no IPv6 route; RFC
//! 6724 destination sorting is not done). Nothing is cached: the files are read on every
//! lookup, so edits take effect at once.

mod hosts;
mod message;
mod query;
mod resolv_conf;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::io::Io;
use crate::os::annotate;
use resolv_conf::ResolvConf;

use super::to_socket_addrs::{SocketAddrs, ToSocketAddrs};

/// Where [`lookup_host`] reads the hosts file and the resolver configuration: by default
/// `/etc/hosts` and `/etc/resolv.conf`; set another pair with
/// [`Builder::resolver`](crate::Builder::resolver) (e.g. for tests with a nameserver of their
/// own).
///
/// Both files are read on every lookup. A missing hosts file is an empty one; a missing
/// resolv.conf means the defaults (nameserver 127.0.0.1:53, `timeout:5 attempts:2 ndots:1`).
///
/// resolv.conf is read as resolv.conf(5) says — `nameserver` (the first 3), `search`,
/// `domain`, `options timeout:N attempts:N ndots:N rotate` — with one extension: a nameserver
/// may carry a port, as systemd-resolved writes it (`nameserver 127.0.0.1:5353`,
/// `nameserver [::1]:5353`). Unlike glibc, which skips lines it cannot read, a malformed
/// `nameserver` or option value fails the lookup with an error of kind `InvalidData` naming
/// the file and line ("lookup example.com: /etc/resolv.conf:3: nameserver not-an-ip: …"). In
/// the hosts file, lines whose address does not parse are skipped, as everywhere else.
///
/// # Examples
/// ```
/// use io::net::ResolverConfig;
///
/// let dir = std::env::temp_dir().join(format!("io-doc-resolver-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("hosts"), "127.0.0.1 db.internal\n").unwrap();
/// std::fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.1:5353\n").unwrap();
///
/// let runtime = io::Runtime::builder()
///     .threads(1)
///     .resolver(ResolverConfig::from_files(dir.join("hosts"), dir.join("resolv.conf")))
///     .build()
///     .unwrap();
/// let addrs: Vec<_> = runtime
///     .run(|io| io::net::lookup_host(io, "db.internal:5432"))
///     .unwrap()
///     .collect();
/// assert_eq!(addrs, ["127.0.0.1:5432".parse().unwrap()]);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    hosts: PathBuf,
    resolv_conf: PathBuf,
}

impl ResolverConfig {
    /// The system's files: `/etc/hosts` and `/etc/resolv.conf`.
    ///
    /// # Examples
    /// ```
    /// use io::net::ResolverConfig;
    ///
    /// let system = ResolverConfig::system();
    /// assert_eq!(system.hosts_file(), std::path::Path::new("/etc/hosts"));
    /// assert_eq!(system.resolv_conf_file(), std::path::Path::new("/etc/resolv.conf"));
    /// assert_eq!(ResolverConfig::default(), system);
    /// ```
    pub fn system() -> Self {
        Self::from_files("/etc/hosts", "/etc/resolv.conf")
    }

    /// A hosts file and a resolv.conf of one's own.
    ///
    /// # Examples
    /// ```
    /// let config = io::net::ResolverConfig::from_files("/srv/hosts", "/srv/resolv.conf");
    /// assert_eq!(config.hosts_file(), std::path::Path::new("/srv/hosts"));
    /// assert_eq!(config.resolv_conf_file(), std::path::Path::new("/srv/resolv.conf"));
    /// ```
    pub fn from_files(hosts: impl Into<PathBuf>, resolv_conf: impl Into<PathBuf>) -> Self {
        Self {
            hosts: hosts.into(),
            resolv_conf: resolv_conf.into(),
        }
    }

    /// The hosts file read by lookups.
    pub fn hosts_file(&self) -> &Path {
        &self.hosts
    }

    /// The resolver configuration read by lookups.
    pub fn resolv_conf_file(&self) -> &Path {
        &self.resolv_conf
    }
}

impl Default for ResolverConfig {
    /// [`ResolverConfig::system`].
    fn default() -> Self {
        Self::system()
    }
}

/// Resolves `host` — `"host:port"`, `("host", port)`, a [`SocketAddr`] or anything else that
/// is [`ToSocketAddrs`] — to socket addresses, as tokio's `lookup_host` does.
///
/// Literal addresses (`"127.0.0.1:80"`, `("::1", 80)`) are returned without any lookup. A
/// name is looked up as getaddrinfo and Zig's `HostName.lookup` do (see [`ResolverConfig`]
/// for the files):
/// 1. the hosts file: every address listed for the name, in file order;
/// 2. `localhost` and names under `.localhost`: 127.0.0.1 and ::1 (RFC 6761), even without a
///    hosts file;
/// 3. the nameservers of resolv.conf, over UDP with this runtime's own sockets: for each name
///    of the search list (`search`/`domain`, `ndots` as res_search(3) uses them), an A and an
///    AAAA query are sent together and both answers collected; a nameserver that does not
///    answer within `timeout` is left for the next (from the next one each lookup with
///    `rotate`), for `attempts` rounds; SERVFAIL and the like also move on to the next; a
///    packet whose id, question or response bit does not match is ignored (a stray or forged
///    answer); a truncated answer is asked again over TCP; CNAME chains are followed (also by
///    asking for the target when the answer stops at an alias).
///
/// DNS answers come IPv4 first, then IPv6 (RFC 6724 destination sorting is not done; the
/// machine may have no IPv6 route). Nothing is cached: both files are read on every lookup.
///
/// # Errors
/// Each names the host:
/// - `NotFound` when the name does not exist ("lookup no.such.name: host not found") or has
///   no address;
/// - `TimedOut` when no nameserver answered within `timeout` × `attempts` of resolv.conf;
/// - `InvalidInput` for a string that is not `host:port`, or an invalid name;
/// - `InvalidData` for a malformed resolv.conf line (naming file and line);
/// - the error of the last nameserver asked (e.g. `ConnectionRefused`) when none could answer,
///   and the errors of reading the two files.
///
/// # Cancelation
/// A cancellation point while it reads the files and while it waits for a nameserver: a
/// canceled lookup returns at once, its sockets closed.
///
/// # Examples
/// ```
/// let runtime = io::Runtime::builder().threads(1).build().unwrap();
/// runtime.run(|io| -> std::io::Result<()> {
///     // A literal address: no lookup at all.
///     let addrs: Vec<_> = io::net::lookup_host(io, "[::1]:8080")?.collect();
///     assert_eq!(addrs, ["[::1]:8080".parse().unwrap()]);
///     // localhost answers even without a hosts file.
///     let local: Vec<_> = io::net::lookup_host(io, ("localhost", 80))?.collect();
///     assert!(local.iter().all(|addr| addr.ip().is_loopback() && addr.port() == 80));
///     Ok(())
/// }).unwrap();
/// ```
pub fn lookup_host(io: Io, host: impl ToSocketAddrs) -> io::Result<SocketAddrs> {
    host.to_socket_addrs(io)
}

/// The addresses of `host` (a literal IP or a name) with `port`.
pub(crate) fn resolve(io: Io, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let with_port = |ips: Vec<IpAddr>| {
        ips.into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect()
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    resolve_name(io, host)
        .map(with_port)
        .map_err(|e| annotate("lookup", host, e))
}

fn resolve_name(io: Io, name: &str) -> io::Result<Vec<IpAddr>> {
    check_name(name)?;
    let config = io.with(|shared| shared.resolver.clone());
    let hosts = read_optional(io, &config.hosts)?;
    let found = hosts::addresses(&hosts, name);
    if !found.is_empty() {
        return Ok(found);
    }
    let bare = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if bare == "localhost" || bare.ends_with(".localhost") {
        return Ok(vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]);
    }
    let text = read_optional(io, &config.resolv_conf)?;
    let conf = ResolvConf::parse(&text).map_err(|(line, what)| {
        let path = config.resolv_conf.display();
        io::Error::new(io::ErrorKind::InvalidData, format!("{path}:{line}: {what}"))
    })?;
    query::lookup(io, &conf, name)
}

/// Refuses names that no nameserver could hold: empty, with other characters than letters,
/// digits, `-`, `_` and dots, with an empty label or one over 63 bytes, or over 253 bytes.
fn check_name(name: &str) -> io::Result<()> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid host name: {why}"),
        )
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !name.chars().all(valid) {
        return Err(invalid("only letters, digits, '-', '_' and '.' may appear"));
    }
    let bare = name.strip_suffix('.').unwrap_or(name);
    message::encode_query(0, bare, message::TYPE_A).map_err(invalid)?;
    Ok(())
}

/// The text of the file at `path` ("" if there is none); bytes that are not UTF-8 (in a
/// comment, say) become U+FFFD rather than failing every lookup.
fn read_optional(io: Io, path: &Path) -> io::Result<String> {
    use std::io::Read as _;
    let mut file = match crate::fs::File::open(io, path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    // File's errors name the path already.
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
