//! UDP ping-pong: one datagram in flight between two sockets on 127.0.0.1, echoed back, as time
//! per round trip; 1-byte and 1 KiB datagrams, `send_to`/`recv_from` and connected
//! `send`/`recv`.
//!
//! io: both sockets in one runtime, the pinger the root task, the ponger a `spawn_concurrent`
//! task — io-uring: two fibers on one loop thread (`IORING_OP_SENDMSG`/`RECVMSG`, or
//! `SEND`/`RECV` connected); io-threaded: `threads(2)`, blocking system calls on two threads.
//! Peers: tokio current_thread (two tasks on one thread, epoll), tokio multi-thread (2
//! workers), and two std threads with blocking `std::net::UdpSocket`s.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Table, Value};

const LOCALHOST: &str = "127.0.0.1:0";

#[derive(Clone, Copy)]
struct Case {
    size: usize,
    connected: bool,
    trips: u64,
}

impl Case {
    fn name(&self) -> String {
        let size = if self.size >= 1024 {
            format!("{} KiB", self.size / 1024)
        } else {
            format!("{} B", self.size)
        };
        let how = if self.connected {
            "connected send/recv"
        } else {
            "send_to/recv_from"
        };
        format!("UDP ping-pong, {size}, {how}")
    }
}

fn main() {
    let reps = common::reps(7);
    let trips = common::ops(20_000);
    let mut table = Table::new(
        "UDP ping-pong between two sockets on 127.0.0.1 (time per round trip)".to_string(),
    );
    let cases = [
        Case {
            size: 1,
            connected: false,
            trips,
        },
        Case {
            size: 1024,
            connected: false,
            trips,
        },
        Case {
            size: 1,
            connected: true,
            trips,
        },
    ];
    for case in cases {
        let per_trip = |sample: &mut dyn FnMut() -> Duration| {
            let total = common::measure(reps, sample);
            Value::Time(total.as_secs_f64() * 1e9 / case.trips as f64)
        };
        let peers = [
            (
                "tokio current_thread",
                per_trip(&mut || tokio_case(case, false)),
            ),
            (
                "tokio multi-thread (2 workers)",
                per_trip(&mut || tokio_case(case, true)),
            ),
            ("std threads, blocking", per_trip(&mut || std_case(case))),
        ];
        for (name, backend) in [
            ("io-uring", io::Backend::Uring),
            ("io-threaded", io::Backend::Threaded),
        ] {
            let io = per_trip(&mut || io_case(backend, case));
            for (peer, value) in &peers {
                table.row(
                    format!("{} ({name})", case.name()),
                    *peer,
                    &io,
                    value.clone(),
                );
            }
        }
    }
    table.note(format!(
        "median of {reps} runs of {trips} round trips each (after one warm-up run); one \
         datagram in flight"
    ));
    table.note(
        "io-uring: Runtime backend(Uring), pinger = root fiber, ponger = spawn_concurrent \
         fiber, same loop thread; io-threaded: backend(Threaded).threads(2)",
    );
    table.note(
        "tokio: the pinger in block_on, the ponger tokio::spawn; std: the ponger on a second \
         thread",
    );
    table.print();
}

fn io_case(backend: io::Backend, case: Case) -> Duration {
    let runtime = io::Runtime::builder()
        .backend(backend)
        .threads(2)
        .build()
        .expect("io runtime");
    runtime.run(|io| {
        let a = io::net::UdpSocket::bind(io, ([127, 0, 0, 1], 0)).expect("bind");
        let b = io::net::UdpSocket::bind(io, ([127, 0, 0, 1], 0)).expect("bind");
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        if case.connected {
            a.connect(io, b_addr).unwrap();
            b.connect(io, a_addr).unwrap();
        }
        io.scope(|s| {
            let ponger = s
                .spawn_concurrent(|| {
                    let mut buf = vec![0u8; case.size];
                    for _ in 0..case.trips {
                        if case.connected {
                            let n = b.recv(io, &mut buf).unwrap();
                            b.send(io, &buf[..n]).unwrap();
                        } else {
                            let (n, from) = b.recv_from(io, &mut buf).unwrap();
                            b.send_to(io, &buf[..n], from).unwrap();
                        }
                    }
                })
                .expect("concurrency");
            let message = vec![7u8; case.size];
            let mut buf = vec![0u8; case.size];
            let start = Instant::now();
            for _ in 0..case.trips {
                if case.connected {
                    a.send(io, &message).unwrap();
                    let n = a.recv(io, &mut buf).unwrap();
                    assert_eq!(n, case.size);
                } else {
                    a.send_to(io, &message, b_addr).unwrap();
                    let (n, _) = a.recv_from(io, &mut buf).unwrap();
                    assert_eq!(n, case.size);
                }
            }
            let elapsed = start.elapsed();
            ponger.join(io);
            elapsed
        })
    })
}

fn tokio_case(case: Case, multi_thread: bool) -> Duration {
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    runtime.block_on(async move {
        let a = tokio::net::UdpSocket::bind(LOCALHOST).await.unwrap();
        let b = tokio::net::UdpSocket::bind(LOCALHOST).await.unwrap();
        let (a_addr, b_addr): (SocketAddr, SocketAddr) =
            (a.local_addr().unwrap(), b.local_addr().unwrap());
        if case.connected {
            a.connect(b_addr).await.unwrap();
            b.connect(a_addr).await.unwrap();
        }
        let ponger = tokio::spawn(async move {
            let mut buf = vec![0u8; case.size];
            for _ in 0..case.trips {
                if case.connected {
                    let n = b.recv(&mut buf).await.unwrap();
                    b.send(&buf[..n]).await.unwrap();
                } else {
                    let (n, from) = b.recv_from(&mut buf).await.unwrap();
                    b.send_to(&buf[..n], from).await.unwrap();
                }
            }
        });
        let message = vec![7u8; case.size];
        let mut buf = vec![0u8; case.size];
        let start = Instant::now();
        for _ in 0..case.trips {
            if case.connected {
                a.send(&message).await.unwrap();
                let n = a.recv(&mut buf).await.unwrap();
                assert_eq!(n, case.size);
            } else {
                a.send_to(&message, b_addr).await.unwrap();
                let (n, _) = a.recv_from(&mut buf).await.unwrap();
                assert_eq!(n, case.size);
            }
        }
        let elapsed = start.elapsed();
        ponger.await.unwrap();
        elapsed
    })
}

fn std_case(case: Case) -> Duration {
    let a = std::net::UdpSocket::bind(LOCALHOST).unwrap();
    let b = std::net::UdpSocket::bind(LOCALHOST).unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    if case.connected {
        a.connect(b_addr).unwrap();
        b.connect(a_addr).unwrap();
    }
    let ponger = std::thread::spawn(move || {
        let mut buf = vec![0u8; case.size];
        for _ in 0..case.trips {
            if case.connected {
                let n = b.recv(&mut buf).unwrap();
                b.send(&buf[..n]).unwrap();
            } else {
                let (n, from) = b.recv_from(&mut buf).unwrap();
                b.send_to(&buf[..n], from).unwrap();
            }
        }
    });
    let message = vec![7u8; case.size];
    let mut buf = vec![0u8; case.size];
    let start = Instant::now();
    for _ in 0..case.trips {
        if case.connected {
            a.send(&message).unwrap();
            assert_eq!(a.recv(&mut buf).unwrap(), case.size);
        } else {
            a.send_to(&message, b_addr).unwrap();
            assert_eq!(a.recv_from(&mut buf).unwrap().0, case.size);
        }
    }
    let elapsed = start.elapsed();
    ponger.join().unwrap();
    elapsed
}
