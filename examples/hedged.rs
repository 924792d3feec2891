//! A hedged request: the same question goes to three replicas, the first answer wins, and the
//! two losers are canceled (and joined) before the answer is printed.
//!
//! ```text
//! cargo run --example hedged -- [DELAY_MS DELAY_MS DELAY_MS]
//! ```
//!
//! Each replica is a TCP server on 127.0.0.1 that answers after its delay (default 300, 20,
//! 5000 ms). The client connects to all three at once; `io_select!` over the three requests'
//! futures takes the first answer. Prints `winner: replica I after T ms` and
//! `losers canceled: 2`, and exits 0.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use io::net::{TcpListener, TcpStream};
use io::{io_concurrent, io_select, is_canceled, scope, Clock, Io};

/// A replica: accepts one connection, waits `delay`, answers its own name.
fn replica(io: Io, listener: &TcpListener, name: usize, delay: Duration) -> std::io::Result<()> {
    let (stream, _) = listener.accept(io)?;
    io.sleep(delay, Clock::Awake)?;
    stream.write_all(io, format!("replica {name}").as_bytes())
}

/// Asks the replica at `address`; counts the request in `canceled` if a cancel ended it.
fn ask(io: Io, address: std::net::SocketAddr, canceled: &AtomicUsize) -> std::io::Result<String> {
    let asked = (|| {
        let stream = TcpStream::connect(io, address)?;
        let mut answer = vec![0; 64];
        let n = stream.read(io, &mut answer)?;
        Ok(String::from_utf8_lossy(&answer[..n]).into_owned())
    })();
    if let Err(error) = &asked {
        if is_canceled(error) {
            canceled.fetch_add(1, Ordering::SeqCst);
        }
    }
    asked
}

#[io::main]
fn main(io: Io) -> std::io::Result<()> {
    let delays: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let delays = if delays.len() == 3 {
        delays
    } else {
        vec![300, 20, 5000]
    };
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().expect("an address");
    let listeners = (0..3)
        .map(|_| TcpListener::bind(io, loopback))
        .collect::<std::io::Result<Vec<_>>>()?;
    let canceled = AtomicUsize::new(0);
    let start = Instant::now();
    let answer = scope!(io, {
        let group = io::io_group!();
        for (name, listener) in listeners.iter().enumerate() {
            let delay = Duration::from_millis(delays[name]);
            group.spawn_concurrent(io, move || replica(io, listener, name, delay))?;
        }
        let [a, b, c] = [0, 1, 2].map(|i| listeners[i].local_addr());
        let (a, b, c) = (a?, b?, c?);
        let canceled = &canceled;
        let first = io_concurrent!(move || ask(io, a, canceled))?;
        let second = io_concurrent!(move || ask(io, b, canceled))?;
        let third = io_concurrent!(move || ask(io, c, canceled))?;
        // The first answer wins; the two other futures are canceled and joined before the
        // winner's expression runs.
        let answer = io_select!(io, {
            answer = first => answer,
            answer = second => answer,
            answer = third => answer,
        })?;
        answer
    })?;
    println!("winner: {answer} after {} ms", start.elapsed().as_millis());
    println!("losers canceled: {}", canceled.load(Ordering::SeqCst));
    Ok(())
}
