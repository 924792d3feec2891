//! The benchmark peer of `examples/http_server`: the same static-file server (same request
//! parser, same responses, keep-alive, a file opened and read per request) written on tokio,
//! with 2 worker threads and `tokio::fs` (each file operation a hop to tokio's blocking pool, as
//! tokio documents). With `--std-fs` it opens and reads files with std's blocking calls right in
//! the task instead — faster while the files are in the page cache, but a slow disk then stalls
//! a worker and every connection on it. It has no shutdown of its own: the benchmark kills it.
//!
//! ```text
//! cargo run --release --example http_server_tokio -- --root DIR [--addr 127.0.0.1:0] [--std-fs]
//! ```

// Shared with examples/http_server; the peer uses only part of it.
#[allow(dead_code)]
#[path = "http_server/request.rs"]
mod request;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use request::{Method, Request, Status};

const USAGE: &str = "usage: http_server_tokio --root DIR [--addr 127.0.0.1:0] [--std-fs]";

/// Set by `--std-fs`: files are read with std's blocking calls in the task.
static STD_FS: AtomicBool = AtomicBool::new(false);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = "127.0.0.1:0".to_owned();
    let mut root = None;
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "--std-fs" {
            STD_FS.store(true, Ordering::Relaxed);
            continue;
        }
        let value = argv
            .next()
            .ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--root" => root = Some(PathBuf::from(value)),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}").into()),
        }
    }
    let root: Arc<Path> = root.ok_or(format!("--root is required\n{USAGE}"))?.into();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let root = Arc::clone(&root);
            tokio::spawn(async move {
                let _ = serve(stream, &root).await;
            });
        }
    })
}

async fn serve(mut stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut pending = Vec::with_capacity(4096);
    let mut chunk = [0; 4096];
    loop {
        let request = loop {
            match request::parse(&pending) {
                Ok(Some((request, length))) => {
                    pending.drain(..length);
                    break request;
                }
                Ok(None) => {}
                Err(status) => {
                    let refusal = request::text_response(status, false);
                    return stream.write_all(refusal.as_bytes()).await;
                }
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            pending.extend_from_slice(&chunk[..n]);
        };
        if !respond(&mut stream, root, &request).await? {
            return Ok(());
        }
    }
}

async fn respond(stream: &mut TcpStream, root: &Path, request: &Request) -> std::io::Result<bool> {
    let keep_alive = request.keep_alive;
    let refuse = |status| request::text_response(status, keep_alive);
    let Some(path) = request::file_for(root, &request.path) else {
        stream
            .write_all(refuse(Status::NotFound).as_bytes())
            .await?;
        return Ok(keep_alive);
    };
    if STD_FS.load(Ordering::Relaxed) {
        return respond_std(stream, &path, request).await;
    }
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(_) => {
            stream
                .write_all(refuse(Status::NotFound).as_bytes())
                .await?;
            return Ok(keep_alive);
        }
    };
    let metadata = file.metadata().await?;
    if !metadata.is_file() {
        stream
            .write_all(refuse(Status::NotFound).as_bytes())
            .await?;
        return Ok(keep_alive);
    }
    let length = metadata.len();
    let head = request::response_head(Status::Ok, request::content_type(&path), length, keep_alive);
    stream.write_all(head.as_bytes()).await?;
    if request.method == Method::Head {
        return Ok(keep_alive);
    }
    let mut buf = vec![0; (64 * 1024).min(length as usize).max(1)];
    let mut left = length;
    while left > 0 {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(false);
        }
        let n = n.min(left as usize);
        stream.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    Ok(keep_alive)
}

/// [`respond`] with std's blocking file calls made in the task (`--std-fs`).
async fn respond_std(
    stream: &mut TcpStream,
    path: &Path,
    request: &Request,
) -> std::io::Result<bool> {
    use std::io::Read;
    let keep_alive = request.keep_alive;
    let file = std::fs::File::open(path).and_then(|file| Ok((file.metadata()?, file)));
    let (metadata, mut file) = match file {
        Ok((metadata, file)) if metadata.is_file() => (metadata, file),
        _ => {
            let refusal = request::text_response(Status::NotFound, keep_alive);
            stream.write_all(refusal.as_bytes()).await?;
            return Ok(keep_alive);
        }
    };
    let length = metadata.len();
    let head = request::response_head(Status::Ok, request::content_type(path), length, keep_alive);
    stream.write_all(head.as_bytes()).await?;
    if request.method == Method::Head {
        return Ok(keep_alive);
    }
    let mut buf = vec![0; (64 * 1024).min(length as usize).max(1)];
    let mut left = length;
    while left > 0 {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(false);
        }
        let n = n.min(left as usize);
        stream.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    Ok(keep_alive)
}
