//! Name lookup against a fake nameserver that each test runs itself on 127.0.0.1, with its own
//! temporary hosts file and resolv.conf (set with `Builder::resolver`), on both backends: A and
//! AAAA answers, CNAME chains, NXDOMAIN, the hosts file before DNS, search domains, a malformed
//! resolv.conf, a silent nameserver (timed out, and canceled with nothing left behind), forged
//! answers ignored, truncated answers asked again over TCP, and `connect`/`bind` with names.
//!
//! Every test takes `SERIAL` first (descriptor and thread counts are process-wide) and runs its
//! runtimes under a watchdog that aborts the process if it is still running after `WATCHDOG`.

mod support;

use std::collections::HashMap;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use io::net::{lookup_host, ResolverConfig, TcpListener, TcpStream};
use io::{is_canceled, Clock, Io, Runtime};
use support::{open_fds, timed, watched, BACKENDS, PROMPT};

const WATCHDOG: Duration = Duration::from_secs(90);
static SERIAL: Mutex<()> = Mutex::new(());

// ---- the fake nameserver ----------------------------------------------------------------------

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;

/// How the fake nameserver behaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Answers every query.
    Answer,
    /// Never answers.
    Silent,
    /// Before each real answer, sends forgeries: another id, another question, a query.
    Forge,
    /// Answers over UDP with the TC bit and no records; answers in full over TCP.
    Truncate,
    /// Answers SERVFAIL.
    ServFail,
}

/// The records the fake nameserver knows (names in lower case).
#[derive(Default, Clone)]
struct Zone {
    addrs: HashMap<String, Vec<IpAddr>>,
    aliases: HashMap<String, String>,
    /// Whether an answer follows the CNAME chain (as a recursive server does) or stops at the
    /// first alias (so the resolver must ask for the target itself).
    follow: bool,
}

impl Zone {
    fn new() -> Self {
        Self {
            follow: true,
            ..Self::default()
        }
    }

    fn addr(mut self, name: &str, ip: &str) -> Self {
        let ip = ip.parse().unwrap();
        self.addrs.entry(name.into()).or_default().push(ip);
        self
    }

    fn alias(mut self, name: &str, target: &str) -> Self {
        self.aliases.insert(name.into(), target.into());
        self
    }

    fn knows(&self, name: &str) -> bool {
        self.addrs.contains_key(name) || self.aliases.contains_key(name)
    }

    /// The answer records (owner, type, data) and whether the name exists.
    fn answer(&self, qname: &str, qtype: u16) -> Option<Vec<(String, u16, Vec<u8>)>> {
        let mut name = qname.to_ascii_lowercase();
        if !self.knows(&name) {
            return None;
        }
        let mut records = Vec::new();
        while let Some(target) = self.aliases.get(&name) {
            records.push((name.clone(), TYPE_CNAME, wire_name(target)));
            name = target.clone();
            if !self.follow {
                return Some(records);
            }
        }
        for ip in self.addrs.get(&name).into_iter().flatten() {
            match (ip, qtype) {
                (IpAddr::V4(v4), TYPE_A) => {
                    records.push((name.clone(), TYPE_A, v4.octets().into()))
                }
                (IpAddr::V6(v6), TYPE_AAAA) => {
                    records.push((name.clone(), TYPE_AAAA, v6.octets().into()))
                }
                _ => {}
            }
        }
        Some(records)
    }
}

/// A query the fake nameserver received.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Query {
    id: u16,
    name: String,
    qtype: u16,
    tcp: bool,
}

/// A nameserver on 127.0.0.1 (UDP, and TCP on the same port), run by a std thread until it is
/// dropped (or for a minute at most).
struct FakeDns {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Query>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDns {
    fn start(mode: Mode, zone: Zone) -> Self {
        Self::start_on("127.0.0.1:0", mode, zone)
    }

    /// On `bind` (a loopback address, port 0).
    fn start_on(bind: &str, mode: Mode, zone: Zone) -> Self {
        let (udp, tcp) = (0..20)
            .find_map(|_| {
                let udp = std::net::UdpSocket::bind(bind).ok()?;
                let tcp = std::net::TcpListener::bind(udp.local_addr().ok()?).ok()?;
                Some((udp, tcp))
            })
            .expect("no port free for both UDP and TCP");
        let addr = udp.local_addr().unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        tcp.set_nonblocking(true).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || serve(udp, tcp, mode, zone, &seen, &stop))
        };
        Self {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// The queries received since the last call.
    fn take_seen(&self) -> Vec<Query> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn serve(
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    mode: Mode,
    zone: Zone,
    seen: &Mutex<Vec<Query>>,
    stop: &AtomicBool,
) {
    let end = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) && Instant::now() < end {
        if let Ok((len, from)) = udp.recv_from(&mut buf) {
            let Some((query, question)) = parse_query(&buf[..len], false) else {
                continue;
            };
            seen.lock().unwrap().push(query.clone());
            for packet in udp_replies(mode, &zone, &query, question) {
                udp.send_to(&packet, from).unwrap();
            }
        }
        if let Ok((mut stream, _)) = tcp.accept() {
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).is_err() {
                continue;
            }
            let mut packet = vec![0; usize::from(u16::from_be_bytes(len))];
            if stream.read_exact(&mut packet).is_err() {
                continue;
            }
            let Some((query, question)) = parse_query(&packet, true) else {
                continue;
            };
            seen.lock().unwrap().push(query.clone());
            let reply = response(query.id, question, &zone, &query.name, query.qtype, 0);
            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&reply);
            let _ = stream.write_all(&framed);
        }
    }
}

/// The query in `packet` and its question section's bytes.
fn parse_query(packet: &[u8], tcp: bool) -> Option<(Query, &[u8])> {
    let id = u16::from_be_bytes([*packet.first()?, *packet.get(1)?]);
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8(packet.get(at..at + len)?.to_vec()).ok()?);
        at += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
    let question = packet.get(12..at + 4)?;
    let name = labels.join(".");
    Some((
        Query {
            id,
            name,
            qtype,
            tcp,
        },
        question,
    ))
}

fn udp_replies(mode: Mode, zone: &Zone, query: &Query, question: &[u8]) -> Vec<Vec<u8>> {
    let (id, name, qtype) = (query.id, query.name.as_str(), query.qtype);
    match mode {
        Mode::Silent => vec![],
        Mode::Answer => vec![response(id, question, zone, name, qtype, 0)],
        Mode::ServFail => vec![header(id, 0x8182, 1, 0, question)],
        Mode::Truncate => vec![header(id, 0x8380, 1, 0, question)],
        Mode::Forge => {
            let forged = Zone::new()
                .addr(name, "6.6.6.6")
                .addr(name, "::6")
                .addr("evil.test", "6.6.6.6")
                .addr("evil.test", "::6");
            let mut evil_question = wire_name("evil.test");
            evil_question.extend_from_slice(&question[question.len() - 4..]);
            vec![
                response(id ^ 0x5a5a, question, &forged, name, qtype, 0),
                response(id, &evil_question, &forged, "evil.test", qtype, 0),
                header(id, 0x0100, 1, 0, question), // a query, not a response
                response(id, question, zone, name, qtype, 0),
            ]
        }
    }
}

fn header(id: u16, flags: u16, questions: u16, answers: u16, question: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in [id, flags, questions, answers, 0, 0] {
        out.extend_from_slice(&field.to_be_bytes());
    }
    out.extend_from_slice(question);
    out
}

/// The response to `name`/`qtype` from `zone`: NXDOMAIN if the zone does not know the name.
/// Owners equal to the question's name are written as a compression pointer to it.
fn response(id: u16, question: &[u8], zone: &Zone, name: &str, qtype: u16, tc: u16) -> Vec<u8> {
    let Some(records) = zone.answer(name, qtype) else {
        return header(id, 0x8183 | tc, 1, 0, question);
    };
    let mut out = header(id, 0x8180 | tc, 1, records.len() as u16, question);
    for (owner, rtype, data) in records {
        if owner.eq_ignore_ascii_case(name) {
            out.extend_from_slice(&[0xc0, 12]);
        } else {
            out.extend_from_slice(&wire_name(&owner));
        }
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&60u32.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

// ---- test scaffolding -------------------------------------------------------------------------

/// A temporary directory with a hosts file and a resolv.conf, removed on drop.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(tag: &str, hosts: &str, resolv_conf: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("io-lookup-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hosts"), hosts).unwrap();
        std::fs::write(dir.join("resolv.conf"), resolv_conf).unwrap();
        Self { dir }
    }

    fn config(&self) -> ResolverConfig {
        ResolverConfig::from_files(self.dir.join("hosts"), self.dir.join("resolv.conf"))
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Makes the test the only one running in the process (from before its fake nameservers start
/// until after they stop): descriptor and thread counts are process-wide.
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on every backend with the resolver reading `files`, under the watchdog.
fn run(name: &'static str, files: &Files, f: impl Fn(Io)) {
    watched(name, WATCHDOG, || {
        for &backend in BACKENDS {
            let built = Runtime::builder()
                .backend(backend)
                .threads(2)
                .resolver(files.config())
                .build();
            match built {
                Ok(runtime) => runtime.run(&f),
                Err(reason) if backend == io::Backend::Uring => {
                    eprintln!("skipped on {backend:?}: {reason}")
                }
                Err(reason) => panic!("cannot build {backend:?}: {reason}"),
            }
        }
    });
}

fn nameserver(dns: &FakeDns, options: &str) -> String {
    format!("nameserver {}\noptions {options}\n", dns.addr)
}

fn addrs(list: &[&str]) -> Vec<SocketAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn lookup(io: Io, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    lookup_host(io, (host, port)).map(Iterator::collect)
}

/// The runtime's threads (`io-worker…`, `io-offload`, `io-deadlock-watch`) and the kernel's
/// io_uring workers (`iou-…`): the test harness starts and ends threads of its own meanwhile.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .collect()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.starts_with("io-") || comm.starts_with("iou-"))
        .count()
}

// ---- the tests ----------------------------------------------------------------------------------

#[test]
fn a_and_aaaa_queries_are_both_sent_and_both_answers_collected() {
    let _serial = serial();
    let zone = Zone::new()
        .addr("www.test", "10.0.0.1")
        .addr("www.test", "10.0.0.2")
        .addr("www.test", "2001:db8::1");
    let dns = FakeDns::start(Mode::Answer, zone);
    let files = Files::new("a-aaaa", "", &nameserver(&dns, "timeout:5"));
    run("a and aaaa", &files, |io| {
        let found = lookup(io, "www.test", 443).unwrap();
        assert_eq!(
            found,
            addrs(&["10.0.0.1:443", "10.0.0.2:443", "[2001:db8::1]:443"])
        );
        let seen = dns.take_seen();
        let types: Vec<u16> = seen.iter().map(|q| q.qtype).collect();
        assert_eq!(types, [TYPE_A, TYPE_AAAA], "{seen:?}");
        assert!(
            seen.iter().all(|q| q.name == "www.test" && !q.tcp),
            "{seen:?}"
        );
        assert_ne!(seen[0].id, seen[1].id, "both queries used one id");
        // The string form resolves the same way.
        let again: Vec<_> = lookup_host(io, "www.test:443").unwrap().collect();
        assert_eq!(again, found);
        dns.take_seen();
    });
}

#[test]
fn a_cname_chain_is_followed_in_the_answer_and_by_asking_again() {
    let _serial = serial();
    let zone = Zone::new()
        .alias("alias.test", "middle.test")
        .alias("middle.test", "final.test")
        .addr("final.test", "10.0.0.9")
        .addr("final.test", "2001:db8::9");
    let expected = addrs(&["10.0.0.9:80", "[2001:db8::9]:80"]);
    let follows = FakeDns::start(Mode::Answer, zone.clone());
    let files = Files::new("cname", "", &nameserver(&follows, "timeout:5"));
    run("cname followed by the server", &files, |io| {
        assert_eq!(lookup(io, "alias.test", 80).unwrap(), expected);
    });
    let stops = FakeDns::start(
        Mode::Answer,
        Zone {
            follow: false,
            ..zone
        },
    );
    let files = Files::new("cname-hops", "", &nameserver(&stops, "timeout:5"));
    run("cname followed by the resolver", &files, |io| {
        assert_eq!(lookup(io, "alias.test", 80).unwrap(), expected);
        let names: Vec<String> = stops.take_seen().into_iter().map(|q| q.name).collect();
        assert_eq!(
            names,
            [
                "alias.test",
                "alias.test",
                "middle.test",
                "middle.test",
                "final.test",
                "final.test"
            ]
        );
    });
}

#[test]
fn nxdomain_is_not_found_naming_the_host() {
    let _serial = serial();
    let dns = FakeDns::start(Mode::Answer, Zone::new().addr("other.test", "10.0.0.1"));
    let files = Files::new("nxdomain", "", &nameserver(&dns, "timeout:5"));
    run("nxdomain", &files, |io| {
        let error = lookup(io, "no.such.name", 80).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error:?}");
        assert_eq!(error.to_string(), "lookup no.such.name: host not found");
        assert!(!is_canceled(&error));
        // Both types were asked, once each (one nameserver, no search list).
        assert_eq!(dns.take_seen().len(), 2);
    });
}

#[test]
fn the_hosts_file_wins_over_dns() {
    let _serial = serial();
    let dns = FakeDns::start(Mode::Answer, Zone::new().addr("www.test", "10.0.0.1"));
    let hosts = "# local overrides\n10.9.9.9  www.test  www\nbad-line www.test\n::9 www.test\n";
    let files = Files::new("hosts-first", hosts, &nameserver(&dns, "timeout:5"));
    run("hosts first", &files, |io| {
        assert_eq!(
            lookup(io, "WWW.test", 1).unwrap(),
            addrs(&["10.9.9.9:1", "[::9]:1"])
        );
        assert_eq!(lookup(io, "www", 2).unwrap(), addrs(&["10.9.9.9:2"]));
        assert!(dns.take_seen().is_empty(), "DNS was asked");
    });
}

#[test]
fn localhost_resolves_without_a_hosts_file_or_a_nameserver() {
    let _serial = serial();
    let files = Files::new("localhost", "", "nameserver 127.0.0.1:1\n");
    std::fs::remove_file(files.dir.join("hosts")).unwrap();
    run("localhost", &files, |io| {
        assert_eq!(
            lookup(io, "localhost", 7).unwrap(),
            addrs(&["127.0.0.1:7", "[::1]:7"])
        );
        assert_eq!(lookup(io, "api.localhost.", 7).unwrap().len(), 2);
        // Literal addresses need no lookup at all.
        assert_eq!(lookup(io, "10.1.2.3", 7).unwrap(), addrs(&["10.1.2.3:7"]));
        assert_eq!(lookup(io, "::2", 7).unwrap(), addrs(&["[::2]:7"]));
    });
}

#[test]
fn search_domains_are_tried_in_order() {
    let _serial = serial();
    let zone = Zone::new()
        .addr("db.lab.test", "10.0.0.3")
        .addr("db.corp.test", "2001:db8::3");
    let dns = FakeDns::start(Mode::Answer, zone.clone());
    let conf = format!(
        "{}search nowhere.test corp.test lab.test\n",
        nameserver(&dns, "timeout:5")
    );
    let files = Files::new("search", "", &conf);
    run("search", &files, |io| {
        assert_eq!(lookup(io, "db", 5).unwrap(), addrs(&["[2001:db8::3]:5"]));
        let names: Vec<String> = dns.take_seen().into_iter().map(|q| q.name).collect();
        assert_eq!(
            names,
            [
                "db.nowhere.test",
                "db.nowhere.test",
                "db.corp.test",
                "db.corp.test"
            ]
        );
        // With a final dot the name is absolute: no search list.
        let error = lookup(io, "db.", 5).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(dns.take_seen().len(), 2);
    });
}

#[test]
fn a_malformed_resolv_conf_entry_is_invalid_data_naming_file_and_line() {
    let _serial = serial();
    let files = Files::new(
        "malformed",
        "",
        "# comment\nnameserver 127.0.0.1\nnameserver not-an-ip\n",
    );
    let path = files.dir.join("resolv.conf");
    run("malformed", &files, |io| {
        let error = lookup(io, "www.test", 80).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidData, "{error:?}");
        let message = error.to_string();
        let expected = format!(
            "lookup www.test: {}:3: nameserver not-an-ip",
            path.display()
        );
        assert!(message.starts_with(&expected), "{message}");
    });
}

#[test]
fn an_ipv6_nameserver_with_a_port_is_asked() {
    let _serial = serial();
    let dns = FakeDns::start_on(
        "[::1]:0",
        Mode::Answer,
        Zone::new().addr("v6.test", "10.0.0.6"),
    );
    assert!(dns.addr.is_ipv6());
    // resolv.conf names it `[::1]:PORT`, as systemd-resolved writes it.
    let files = Files::new("ipv6-server", "", &nameserver(&dns, "timeout:5"));
    run("ipv6 nameserver", &files, |io| {
        assert_eq!(lookup(io, "v6.test", 80).unwrap(), addrs(&["10.0.0.6:80"]));
        assert_eq!(dns.take_seen().len(), 2);
    });
}

#[test]
fn an_unreadable_hosts_file_is_an_error_naming_it() {
    let _serial = serial();
    let files = Files::new("unreadable", "", "");
    // A directory opens, but reading it fails with EISDIR.
    let config = ResolverConfig::from_files(&files.dir, files.dir.join("resolv.conf"));
    let runtime = Runtime::builder()
        .threads(1)
        .resolver(config)
        .build()
        .unwrap();
    let error = runtime.run(|io| lookup(io, "www.test", 80)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::IsADirectory, "{error:?}");
    let expected = format!("lookup www.test: read {}: ", files.dir.display());
    assert!(error.to_string().starts_with(&expected), "{error}");
}

#[test]
fn a_silent_nameserver_times_out_naming_the_host() {
    let _serial = serial();
    let dns = FakeDns::start(Mode::Silent, Zone::new());
    let files = Files::new("silent", "", &nameserver(&dns, "timeout:1 attempts:1"));
    run("silent", &files, |io| {
        let (result, elapsed) = timed(|| lookup(io, "slow.test", 80));
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TimedOut, "{error:?}");
        assert!(!is_canceled(&error));
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("lookup slow.test: nameserver {}: ", dns.addr)),
            "{message}"
        );
        assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
        assert_eq!(dns.take_seen().len(), 2, "one round, both queries");
    });
}

#[test]
fn a_canceled_lookup_returns_promptly_leaving_nothing_behind() {
    let _serial = serial();
    let dns = FakeDns::start(Mode::Silent, Zone::new());
    let files = Files::new("cancel", "", &nameserver(&dns, "timeout:30 attempts:5"));
    run("cancel", &files, |io| {
        // Warm up: the first concurrent task and file read may start threads that stay.
        io.scope(|s| {
            s.spawn_concurrent(|| lookup(io, "localhost", 1))
                .unwrap()
                .join(io)
        })
        .unwrap();
        // Let the warm-up's thread go back to the idle cache, to be reused below.
        io.sleep(Duration::from_millis(100), Clock::Awake).unwrap();
        let (fds, tasks) = (open_fds(), threads());
        io.scope(|s| {
            let blocked = s.spawn_concurrent(|| lookup(io, "stuck.test", 80)).unwrap();
            // Wait until the lookup is blocked on the nameserver.
            let start = Instant::now();
            while dns.take_seen().is_empty() && start.elapsed() < Duration::from_secs(5) {
                io.sleep(Duration::from_millis(10), Clock::Awake).unwrap();
            }
            let (result, elapsed) = timed(|| blocked.cancel(io));
            let error = result.unwrap_err();
            assert!(is_canceled(&error), "expected canceled, got {error:?}");
            assert!(elapsed < PROMPT, "cancel took {elapsed:?}");
        });
        assert_eq!(open_fds(), fds, "descriptors leaked");
        // An idle thread of the threaded backend's concurrent-task cache exits after 5 s, and
        // kernel io-wq workers may exit meanwhile: the count must come back, never grow.
        let start = Instant::now();
        while threads() > tasks && start.elapsed() < Duration::from_secs(8) {
            io.sleep(Duration::from_millis(50), Clock::Awake).unwrap();
        }
        assert!(
            threads() <= tasks,
            "threads left behind on {}: {} > {tasks}: {:?}",
            io.backend_name(),
            threads(),
            thread_names()
        );
        dns.take_seen();
    });
}

#[test]
fn an_enclosing_deadline_ends_a_lookup() {
    let _serial = serial();
    let dns = FakeDns::start(Mode::Silent, Zone::new());
    let other = FakeDns::start(Mode::Silent, Zone::new());
    let conf = format!(
        "nameserver {}\nnameserver {}\noptions timeout:30 attempts:5\n",
        dns.addr, other.addr
    );
    let files = Files::new("deadline", "", &conf);
    run("deadline", &files, |io| {
        let fds = open_fds();
        let (result, elapsed) =
            timed(|| io.try_timeout(Duration::from_millis(200), || lookup(io, "stuck.test", 80)));
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TimedOut, "{error:?}");
        assert!(elapsed < PROMPT, "the deadline took {elapsed:?}");
        assert_eq!(open_fds(), fds, "descriptors leaked");
        dns.take_seen();
        other.take_seen();
    });
}

#[test]
fn forged_answers_are_ignored() {
    let _serial = serial();
    let dns = FakeDns::start(Mode::Forge, Zone::new().addr("real.test", "10.0.0.7"));
    let files = Files::new("forged", "", &nameserver(&dns, "timeout:5"));
    run("forged", &files, |io| {
        assert_eq!(
            lookup(io, "real.test", 80).unwrap(),
            addrs(&["10.0.0.7:80"])
        );
        assert_eq!(dns.take_seen().len(), 2);
    });
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let _serial = serial();
    let zone = Zone::new()
        .addr("big.test", "10.0.0.8")
        .addr("big.test", "2001:db8::8");
    let dns = FakeDns::start(Mode::Truncate, zone);
    let files = Files::new("truncated", "", &nameserver(&dns, "timeout:5"));
    run("truncated", &files, |io| {
        assert_eq!(
            lookup(io, "big.test", 80).unwrap(),
            addrs(&["10.0.0.8:80", "[2001:db8::8]:80"])
        );
        let transports: Vec<bool> = dns.take_seen().iter().map(|q| q.tcp).collect();
        assert_eq!(transports, [false, false, true, true]);
    });
}

#[test]
fn a_failing_nameserver_is_left_for_the_next() {
    let _serial = serial();
    let silent = FakeDns::start(Mode::Silent, Zone::new());
    let failing = FakeDns::start(Mode::ServFail, Zone::new());
    let good = FakeDns::start(Mode::Answer, Zone::new().addr("www.test", "10.0.0.4"));
    let conf = format!(
        "nameserver {}\nnameserver {}\nnameserver {}\noptions timeout:1 attempts:2\n",
        silent.addr, failing.addr, good.addr
    );
    let files = Files::new("retry", "", &conf);
    run("retry", &files, |io| {
        assert_eq!(lookup(io, "www.test", 80).unwrap(), addrs(&["10.0.0.4:80"]));
        assert_eq!(silent.take_seen().len(), 2);
        assert_eq!(failing.take_seen().len(), 2);
        assert_eq!(good.take_seen().len(), 2);
    });
    // Only failing servers: the last one's error, naming it.
    let conf = format!("nameserver {}\noptions attempts:2\n", failing.addr);
    let files = Files::new("servfail", "", &conf);
    run("servfail", &files, |io| {
        let error = lookup(io, "www.test", 80).unwrap_err();
        let message = error.to_string();
        let expected = format!(
            "lookup www.test: nameserver {}: server failure",
            failing.addr
        );
        assert!(message.starts_with(&expected), "{message}");
        assert_eq!(failing.take_seen().len(), 4, "two attempts of two queries");
    });
}

#[test]
fn rotate_spreads_lookups_over_the_nameservers() {
    let _serial = serial();
    let zone = Zone::new().addr("www.test", "10.0.0.5");
    let first = FakeDns::start(Mode::Answer, zone.clone());
    let second = FakeDns::start(Mode::Answer, zone);
    let conf = format!(
        "nameserver {}\nnameserver {}\noptions rotate timeout:5\n",
        first.addr, second.addr
    );
    let files = Files::new("rotate", "", &conf);
    run("rotate", &files, |io| {
        for _ in 0..2 {
            assert_eq!(lookup(io, "www.test", 80).unwrap(), addrs(&["10.0.0.5:80"]));
        }
        assert_eq!(first.take_seen().len(), 2, "each server answers one lookup");
        assert_eq!(
            second.take_seen().len(),
            2,
            "each server answers one lookup"
        );
    });
}

#[test]
fn connect_reaches_a_listener_by_name() {
    let _serial = serial();
    let files = Files::new(
        "connect",
        "127.0.0.1 app.internal\n",
        "nameserver 127.0.0.1:1\n",
    );
    run("connect by name", &files, |io| {
        let listener = TcpListener::bind(io, "127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        assert!(local.ip().is_loopback() && local.port() != 0);
        for host in ["localhost", "app.internal"] {
            let stream = TcpStream::connect(io, (host, local.port())).unwrap();
            assert_eq!(stream.peer_addr().unwrap(), local, "{host}");
            let (accepted, peer) = listener.accept(io).unwrap();
            assert_eq!(peer, stream.local_addr().unwrap());
            drop(accepted);
        }
        let by_string = TcpStream::connect(io, format!("app.internal:{}", local.port())).unwrap();
        assert_eq!(by_string.peer_addr().unwrap(), local);
    });
}

#[test]
fn connect_tries_the_next_address_when_one_refuses() {
    let _serial = serial();
    // 127.0.0.2 is loopback too, but nothing listens there on the listener's port.
    let hosts = "127.0.0.2 two.internal\n127.0.0.1 two.internal\n127.0.0.2 none.internal\n";
    let files = Files::new("next-address", hosts, "nameserver 127.0.0.1:1\n");
    run("next address", &files, |io| {
        let listener = TcpListener::bind(io, ([127, 0, 0, 1], 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stream = TcpStream::connect(io, ("two.internal", port)).unwrap();
        assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
        let error = TcpStream::connect(io, ("none.internal", port)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("connect 127.0.0.2:{port}: ")),
            "{error}"
        );
    });
}

#[test]
fn bind_accepts_strings_pairs_and_names() {
    let _serial = serial();
    let files = Files::new(
        "bind",
        "127.0.0.1 me.internal\n",
        "nameserver 127.0.0.1:1\n",
    );
    run("bind", &files, |io| {
        for listener in [
            TcpListener::bind(io, "127.0.0.1:0").unwrap(),
            TcpListener::bind(io, ("127.0.0.1", 0)).unwrap(),
            TcpListener::bind(io, ("me.internal", 0)).unwrap(),
            TcpListener::bind(io, String::from("[::1]:0")).unwrap(),
            TcpListener::bind(io, (Ipv6Addr::LOCALHOST, 0)).unwrap(),
            TcpListener::bind(io, &["127.0.0.1:0".parse::<SocketAddr>().unwrap()][..]).unwrap(),
        ] {
            assert!(listener.local_addr().unwrap().ip().is_loopback());
        }
        let error = TcpListener::bind(io, "no-port").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
        assert_eq!(error.to_string(), "lookup no-port: expected host:port");
        let none: &[SocketAddr] = &[];
        assert_eq!(
            TcpListener::bind(io, none).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let error = TcpListener::bind(io, ("bad name!", 0)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
    });
}
