//! Shared by every comparative benchmark: timing helpers (a median of several repetitions,
//! nanoseconds per operation) and the table that prints io against its peers with the ratio
//! io/peer.
//!
//! Each bench target includes this file with `mod common;` and uses only part of it.
//!
//! Every io measurement takes a built `io::Runtime`, so each table has an "io-threaded" and an
//! "io-uring" row per operation (the backend is named in the operation column).
#![allow(dead_code)]

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Whether `IO_BENCH_QUICK` is set: fewer repetitions and smaller counts, for a smoke run
/// (the numbers are then noisier; BENCHMARKS.md is always made with a full run).
pub fn quick() -> bool {
    std::env::var_os("IO_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// `full` repetitions, or 3 in a quick run.
pub fn reps(full: usize) -> usize {
    if quick() {
        full.min(3)
    } else {
        full
    }
}

/// `full` operations per repetition, or a tenth of them (at least 1) in a quick run.
pub fn ops(full: u64) -> u64 {
    if quick() {
        (full / 10).max(1)
    } else {
        full
    }
}

/// The median of `samples` (the mean of the two middle ones for an even count).
///
/// # Panics
/// If `samples` is empty.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    assert!(!samples.is_empty(), "median of no samples");
    samples.sort();
    let mid = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2
    }
}

/// Runs `sample` once to warm up, then `reps` times, and returns the median of what it
/// returned. `sample` measures its own time, so its setup and teardown stay out of it.
pub fn measure(reps: usize, mut sample: impl FnMut() -> Duration) -> Duration {
    let _warm_up = sample();
    median((0..reps).map(|_| sample()).collect())
}

/// Like [`measure`] for a sample that runs `ops` operations: the median time per operation.
pub fn measure_per_op(reps: usize, ops: u64, mut sample: impl FnMut(u64) -> Duration) -> Value {
    let total = measure(reps, || sample(ops));
    Value::Time(total.as_secs_f64() * 1e9 / ops as f64)
}

/// Times `f`.
pub fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// One measured quantity in the table.
#[derive(Debug, Clone)]
pub enum Value {
    /// A duration, in nanoseconds (fractions kept for per-operation times).
    Time(f64),
    /// A duration in nanoseconds projected from a partial run (shown with `≈`).
    Estimate(f64),
    /// A size in bytes (peak RSS).
    Bytes(u64),
    /// A number of things (peak threads).
    Count(u64),
    /// Not measured; the text says why (shown in the value's cell, and no ratio).
    Missing(String),
}

impl Value {
    /// A duration.
    pub fn from_duration(d: Duration) -> Self {
        Self::Time(d.as_secs_f64() * 1e9)
    }

    /// Not measured, because `why`.
    pub fn missing(why: impl Into<String>) -> Self {
        Self::Missing(why.into())
    }

    fn number(&self) -> Option<f64> {
        match self {
            Value::Time(ns) | Value::Estimate(ns) => Some(*ns),
            Value::Bytes(b) | Value::Count(b) => Some(*b as f64),
            Value::Missing(_) => None,
        }
    }

    /// io/peer, when both were measured and are of the same kind.
    fn ratio(&self, peer: &Value) -> Option<f64> {
        let same_kind = matches!(
            (self, peer),
            (
                Value::Time(_) | Value::Estimate(_),
                Value::Time(_) | Value::Estimate(_)
            ) | (Value::Bytes(_), Value::Bytes(_))
                | (Value::Count(_), Value::Count(_))
        );
        let (io, peer) = (self.number()?, peer.number()?);
        (same_kind && peer > 0.0).then(|| io / peer)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Time(ns) if *ns < 1e3 => write!(f, "{ns:.0} ns"),
            Value::Time(ns) if *ns < 1e6 => write!(f, "{:.2} µs", ns / 1e3),
            Value::Time(ns) if *ns < 1e9 => write!(f, "{:.2} ms", ns / 1e6),
            Value::Time(ns) => write!(f, "{:.2} s", ns / 1e9),
            Value::Estimate(ns) => write!(f, "≈{}", Value::Time(*ns)),
            Value::Bytes(b) if *b < 1 << 20 => write!(f, "{:.2} KiB", *b as f64 / 1024.0),
            Value::Bytes(b) => write!(f, "{:.1} MiB", *b as f64 / (1024.0 * 1024.0)),
            Value::Count(n) => write!(f, "{n}"),
            Value::Missing(why) => f.write_str(why),
        }
    }
}

struct Row {
    operation: String,
    peer: String,
    io: Value,
    peer_value: Value,
}

/// The comparison table of one bench target: per row, the operation, the peer, io's median,
/// the peer's median and the ratio io/peer (below 1: io is faster or smaller).
pub struct Table {
    title: String,
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Table {
    /// An empty table.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a row and echoes it to stderr at once, so a long run shows progress.
    pub fn row(
        &mut self,
        operation: impl Into<String>,
        peer: impl Into<String>,
        io: &Value,
        peer_value: Value,
    ) {
        let row = Row {
            operation: operation.into(),
            peer: peer.into(),
            io: io.clone(),
            peer_value,
        };
        eprintln!(
            "  {} | {} | io {} | peer {}",
            row.operation, row.peer, row.io, row.peer_value
        );
        self.rows.push(row);
    }

    /// A line printed under the table (what a row means, why a value is missing).
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Prints the table as Markdown, with aligned columns.
    pub fn print(&self) {
        let header = ["operation", "peer", "io median", "peer median", "io/peer"];
        let cells: Vec<[String; 5]> = self
            .rows
            .iter()
            .map(|r| {
                let ratio =
                    r.io.ratio(&r.peer_value)
                        .map_or("—".to_string(), |x| format!("{x:.2}"));
                [
                    r.operation.clone(),
                    r.peer.clone(),
                    r.io.to_string(),
                    r.peer_value.to_string(),
                    ratio,
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        println!("\n### {}\n", self.title);
        print_line(&header.map(String::from), &widths);
        let rule = widths.map(|w| "-".repeat(w));
        print_line(&rule, &widths);
        for row in &cells {
            print_line(row, &widths);
        }
        if !self.notes.is_empty() {
            println!();
            for note in &self.notes {
                println!("- {note}");
            }
        }
        println!();
    }
}

fn print_line(cells: &[String; 5], widths: &[usize; 5]) {
    let mut line = String::from("|");
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        let pad = width - cell.chars().count();
        // Numbers align right, words left.
        if i >= 2 {
            line.push_str(&format!(" {}{} |", " ".repeat(pad), cell));
        } else {
            line.push_str(&format!(" {}{} |", cell, " ".repeat(pad)));
        }
    }
    println!("{line}");
}

/// Spawn + join of a trivial task, one at a time, from the root of `rt`; the time of `n` of them.
pub fn spawn_join_one_at_a_time(rt: &io::Runtime, n: u64) -> Duration {
    rt.run(|io| {
        io.scope(|s| {
            let start = Instant::now();
            for i in 0..n {
                let future = s.spawn_async(move || black_box(i));
                black_box(future.join(io));
            }
            start.elapsed()
        })
    })
}
