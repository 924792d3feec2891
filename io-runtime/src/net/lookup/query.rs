//! Asking the nameservers: the search list, the rounds over the nameservers, and one exchange
//! with one nameserver over UDP (TCP for a truncated answer).
//!
//! Every exchange uses this runtime's own operations (`send` and `recv` on a connected UDP
//! socket, a [`TcpStream`]), bounded by [`Io::timeout`], so a cancel or an enclosing deadline
//! ends the wait at once and the sockets are closed on the way out.

use std::io::{self, ErrorKind, Read as _};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::message::{self, Answer, Rcode, TYPE_A, TYPE_AAAA};
use super::resolv_conf::ResolvConf;
use crate::error::is_canceled;
use crate::io::Io;
use crate::net::addr::RawAddr;
use crate::net::TcpStream;
use crate::os;

/// How many CNAME targets are asked for in turn before giving up (a chain the nameserver did
/// not resolve itself).
const MAX_ALIAS_HOPS: usize = 8;
/// The largest UDP answer read (RFC 1035 says 512 without EDNS; some servers send more).
const UDP_BUFFER: usize = 4096;

/// Where `rotate` starts the next lookup.
static NEXT_SERVER: AtomicUsize = AtomicUsize::new(0);

/// The addresses of `name`, trying the candidates of the search list in turn.
pub(crate) fn lookup(io: Io, conf: &ResolvConf, name: &str) -> io::Result<Vec<IpAddr>> {
    let start = if conf.rotate {
        NEXT_SERVER.fetch_add(1, Ordering::Relaxed)
    } else {
        0
    };
    let mut no_data = false;
    for candidate in candidates(conf, name) {
        match resolve_candidate(io, conf, start, &candidate)? {
            Found::Addrs(addrs) => return Ok(addrs),
            Found::NoData => no_data = true,
            Found::NoSuchName => {}
        }
    }
    let what = if no_data {
        "host has no address"
    } else {
        "host not found"
    };
    Err(io::Error::new(ErrorKind::NotFound, what))
}

/// The names to ask for, in order, as res_search(3) tries them: a name ending in a dot only
/// as it is; a name with at least `ndots` dots first as it is, then with each search domain;
/// others with each search domain first, then as they are. A search domain that would make
/// the name too long is skipped.
fn candidates(conf: &ResolvConf, name: &str) -> Vec<String> {
    if let Some(absolute) = name.strip_suffix('.') {
        return vec![absolute.to_owned()];
    }
    let searched = conf
        .search
        .iter()
        .map(|domain| format!("{name}.{domain}"))
        .filter(|full| message::encode_query(0, full, TYPE_A).is_ok());
    let dots = name.matches('.').count() as u32;
    if dots >= conf.ndots {
        std::iter::once(name.to_owned()).chain(searched).collect()
    } else {
        searched.chain(std::iter::once(name.to_owned())).collect()
    }
}

enum Found {
    Addrs(Vec<IpAddr>),
    /// The name exists but has no A or AAAA record.
    NoData,
    /// NXDOMAIN.
    NoSuchName,
}

/// Asks for A and AAAA records of `name`, following a CNAME chain the nameserver left open.
fn resolve_candidate(io: Io, conf: &ResolvConf, start: usize, name: &str) -> io::Result<Found> {
    let mut name = name.to_owned();
    for _ in 0..=MAX_ALIAS_HOPS {
        let [a, aaaa] = ask(io, conf, start, &name)?;
        if a.rcode == Rcode::NxDomain && aaaa.rcode == Rcode::NxDomain {
            return Ok(Found::NoSuchName);
        }
        let addrs: Vec<IpAddr> = a.addrs.into_iter().chain(aaaa.addrs).collect();
        if !addrs.is_empty() {
            return Ok(Found::Addrs(addrs));
        }
        match a.alias.or(aaaa.alias) {
            Some(target) => name = target,
            None => return Ok(Found::NoData),
        }
    }
    Ok(Found::NoData)
}

/// The answers to the A and AAAA queries for `name`: rounds over the nameservers until one
/// answers both; the last failure if none does.
fn ask(io: Io, conf: &ResolvConf, start: usize, name: &str) -> io::Result<[Answer; 2]> {
    let servers = &conf.nameservers;
    let mut last = None;
    for _ in 0..conf.attempts {
        for i in 0..servers.len() {
            let server = servers[(start + i) % servers.len()];
            match exchange(io, server, name, conf.timeout) {
                Ok(answers) => return Ok(answers),
                Err(e) if is_canceled(&e) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(ErrorKind::NotFound, "no nameserver")))
}

/// One nameserver's answers to both queries, or why it gave none.
fn exchange(io: Io, server: SocketAddr, name: &str, timeout: Duration) -> io::Result<[Answer; 2]> {
    let fail = |e| os::annotate("nameserver", server, e);
    let ids = random_ids();
    let types = [TYPE_A, TYPE_AAAA];
    let queries = [0, 1].map(|i| message::encode_query(ids[i], name, types[i]));
    let queries = match queries {
        [Ok(a), Ok(aaaa)] => [a, aaaa],
        [Err(why), _] | [_, Err(why)] => {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("invalid host name: {why}"),
            ))
        }
    };
    let socket = udp_socket(&server).map_err(fail)?;
    let mut answers: [Option<Answer>; 2] = [None, None];
    let waited = io.timeout(timeout, || -> io::Result<()> {
        for query in &queries {
            os::send(io, socket.as_fd(), query)?;
        }
        let mut buf = vec![0; UDP_BUFFER];
        while answers.iter().any(Option::is_none) {
            let len = os::recv(io, socket.as_fd(), &mut buf)?;
            for i in 0..2 {
                if answers[i].is_none() {
                    // A packet that is not the answer (stray, late, spoofed) is ignored.
                    answers[i] = message::decode_response(&buf[..len], ids[i], name, types[i]);
                }
            }
        }
        Ok(())
    });
    match waited {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(fail(e)),
        Err(_timeout) => {
            let secs = timeout.as_secs();
            return Err(fail(io::Error::new(
                ErrorKind::TimedOut,
                format!("no answer within {secs} s"),
            )));
        }
    }
    drop(socket);
    let mut answers = answers.map(|answer| answer.expect("io: both answers arrived"));
    for (i, answer) in answers.iter_mut().enumerate() {
        if let Rcode::Failure(code) = answer.rcode {
            return Err(fail(io::Error::other(format!(
                "server failure (response code {code})"
            ))));
        }
        if answer.truncated {
            *answer = exchange_tcp(io, server, &queries[i], ids[i], name, types[i], timeout)
                .map_err(fail)?;
        }
    }
    Ok(answers)
}

/// Asks `query` again over TCP (RFC 1035 §4.2.2: a 2-byte length before each message).
fn exchange_tcp(
    io: Io,
    server: SocketAddr,
    query: &[u8],
    id: u16,
    name: &str,
    qtype: u16,
    timeout: Duration,
) -> io::Result<Answer> {
    let waited = io.timeout(timeout, || -> io::Result<Vec<u8>> {
        let stream = TcpStream::connect(io, server)?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        stream.write_all(io, &framed)?;
        let mut len = [0; 2];
        (&stream).read_exact(&mut len)?;
        let mut response = vec![0; usize::from(u16::from_be_bytes(len))];
        (&stream).read_exact(&mut response)?;
        Ok(response)
    });
    let response = match waited {
        Ok(response) => response?,
        Err(_timeout) => {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("no answer over TCP within {} s", timeout.as_secs()),
            ))
        }
    };
    message::decode_response(&response, id, name, qtype)
        .filter(|answer| !answer.truncated)
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, "malformed answer over TCP"))
}

/// A UDP socket connected to `server`: only its packets reach it, and an ICMP "port
/// unreachable" comes back as `ConnectionRefused`. Neither call blocks.
fn udp_socket(server: &SocketAddr) -> io::Result<OwnedFd> {
    let family = match server {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket(2) takes only integers.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let raw = RawAddr::from(server);
    // SAFETY: `raw` holds a valid sockaddr of `raw.len()` bytes; the socket is open. Connecting
    // a datagram socket only sets its peer: it never blocks.
    if unsafe { libc::connect(socket.as_raw_fd(), raw.as_ptr(), raw.len()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// Two different unpredictable query ids (RFC 5452: the id and the random source port are
/// what keeps an off-path attacker from forging answers).
fn random_ids() -> [u16; 2] {
    let mut bytes = [0u8; 4];
    // SAFETY: `bytes` is writable for its length; GRND_NONBLOCK never waits.
    let got =
        unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), libc::GRND_NONBLOCK) };
    if got != bytes.len() as isize {
        // No entropy yet (early boot): fall back to the clock and a counter.
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mixed =
            nanos ^ (COUNTER.fetch_add(1, Ordering::Relaxed) as u32).wrapping_mul(0x9e37_79b9);
        bytes = mixed.to_le_bytes();
    }
    let a = u16::from_le_bytes([bytes[0], bytes[1]]);
    let b = u16::from_le_bytes([bytes[2], bytes[3]]);
    [a, if b == a { a.wrapping_add(1) } else { b }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(search: &[&str], ndots: u32) -> ResolvConf {
        ResolvConf {
            search: search.iter().map(|s| s.to_string()).collect(),
            ndots,
            ..ResolvConf::default()
        }
    }

    #[test]
    fn short_names_try_the_search_list_first() {
        let c = conf(&["a.test", "b.test"], 1);
        assert_eq!(candidates(&c, "db"), ["db.a.test", "db.b.test", "db"]);
    }

    #[test]
    fn names_with_enough_dots_are_tried_as_they_are_first() {
        let c = conf(&["a.test"], 1);
        assert_eq!(candidates(&c, "db.corp"), ["db.corp", "db.corp.a.test"]);
        let c = conf(&["a.test"], 2);
        assert_eq!(candidates(&c, "db.corp"), ["db.corp.a.test", "db.corp"]);
    }

    #[test]
    fn an_absolute_name_is_only_tried_as_it_is() {
        let c = conf(&["a.test"], 5);
        assert_eq!(candidates(&c, "db.corp."), ["db.corp"]);
    }

    #[test]
    fn a_search_domain_that_makes_the_name_too_long_is_skipped() {
        let long = vec!["abcdefghi"; 25].join(".");
        let c = conf(&[&long, "a.test"], 1);
        assert_eq!(
            candidates(&c, "some-host"),
            ["some-host.a.test", "some-host"]
        );
    }

    #[test]
    fn query_ids_differ() {
        let [a, b] = random_ids();
        assert_ne!(a, b);
    }
}
