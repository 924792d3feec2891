//! HTTP/1.1 requests as a static-file server needs them: the request head parsed from bytes,
//! the file a target names, and the head of the response. No I/O here, so the example and the
//! benchmark's tokio peer share it.

use std::path::{Component, Path, PathBuf};

/// The longest request head accepted (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;

/// A parsed request head.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `HEAD` (other methods are refused while parsing).
    pub method: Method,
    /// The path of the target, percent-decoded, without its query.
    pub path: String,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
}

/// The methods a static-file server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The file.
    Get,
    /// The file's headers only.
    Head,
}

/// A response status with its reason phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 200.
    Ok,
    /// 400: a head that is not HTTP/1.x.
    BadRequest,
    /// 404.
    NotFound,
    /// 405: a method other than GET and HEAD.
    MethodNotAllowed,
    /// 413: a request with a body.
    PayloadTooLarge,
    /// 431: a head longer than [`MAX_HEAD`].
    HeaderTooLarge,
    /// 500: the file could not be read.
    InternalError,
    /// 503: the server is shutting down.
    Unavailable,
}

impl Status {
    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::PayloadTooLarge => 413,
            Status::HeaderTooLarge => 431,
            Status::InternalError => 500,
            Status::Unavailable => 503,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::PayloadTooLarge => "Payload Too Large",
            Status::HeaderTooLarge => "Request Header Fields Too Large",
            Status::InternalError => "Internal Server Error",
            Status::Unavailable => "Service Unavailable",
        }
    }
}

/// Parses the request head at the start of `bytes`: `Ok(None)` while it is incomplete,
/// `Ok(Some((request, length)))` with the head's length once it is there, or the status to
/// answer a head that cannot be served (the connection is closed after that answer).
pub fn parse(bytes: &[u8]) -> Result<Option<(Request, usize)>, Status> {
    let Some(end) = find(bytes, b"\r\n\r\n") else {
        return if bytes.len() > MAX_HEAD {
            Err(Status::HeaderTooLarge)
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| Status::BadRequest)?;
    let mut lines = head.split("\r\n");
    let mut words = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(Status::BadRequest);
    };
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(Status::BadRequest),
    };
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(Status::BadRequest)?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if (name.eq_ignore_ascii_case("content-length") && value != "0")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(Status::PayloadTooLarge);
        }
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => return Err(Status::MethodNotAllowed),
    };
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = percent_decode(path).ok_or(Status::BadRequest)?;
    if !path.starts_with('/') {
        return Err(Status::BadRequest);
    }
    let request = Request {
        method,
        path,
        keep_alive,
    };
    Ok(Some((request, end + 4)))
}

/// The file under `root` that `path` names (`index.html` for a directory's path ending in
/// `/`), or `None` for a path that would leave `root` (`..`) or is not plain.
pub fn file_for(root: &Path, path: &str) -> Option<PathBuf> {
    let mut file = root.to_path_buf();
    for component in Path::new(path.trim_start_matches('/')).components() {
        match component {
            Component::Normal(name) => file.push(name),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    if path.ends_with('/') {
        file.push("index.html");
    }
    Some(file)
}

/// The media type of `path`, by its extension.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// The head of a response with a body of `length` bytes.
pub fn response_head(status: Status, content_type: &str, length: u64, keep_alive: bool) -> String {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\
         Connection: {connection}\r\n\r\n",
        status.code(),
        status.reason()
    )
}

/// A whole response for `status` with a one-line text body.
pub fn text_response(status: Status, keep_alive: bool) -> String {
    let body = format!("{} {}\n", status.code(), status.reason());
    let length = body.len() as u64;
    response_head(status, "text/plain; charset=utf-8", length, keep_alive) + &body
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8 (or holds
/// a NUL, which no file name can).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(decoded).ok()?;
    (!decoded.contains('\0')).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_with_keep_alive_and_a_query() {
        let head = b"GET /a%20b.txt?x=1 HTTP/1.1\r\nHost: x\r\n\r\nGET";
        let (request, length) = parse(head).unwrap().unwrap();
        assert_eq!(length, head.len() - 3);
        assert_eq!(
            request,
            Request {
                method: Method::Get,
                path: "/a b.txt".into(),
                keep_alive: true
            }
        );
    }

    #[test]
    fn incomplete_oversized_and_refused_heads() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost"), Ok(None));
        assert_eq!(parse(&[b'a'; MAX_HEAD + 1]), Err(Status::HeaderTooLarge));
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\n\r\n"),
            Err(Status::MethodNotAllowed)
        );
        assert_eq!(parse(b"GET / HTTP/2\r\n\r\n"), Err(Status::BadRequest));
        assert_eq!(parse(b"GET /%zz HTTP/1.1\r\n\r\n"), Err(Status::BadRequest));
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"),
            Err(Status::PayloadTooLarge)
        );
        let (close, _) = parse(b"HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!close.keep_alive);
        assert_eq!(close.method, Method::Head);
    }

    #[test]
    fn paths_stay_under_the_root() {
        let root = Path::new("/srv");
        assert_eq!(file_for(root, "/"), Some("/srv/index.html".into()));
        assert_eq!(file_for(root, "/a/./b.txt"), Some("/srv/a/b.txt".into()));
        assert_eq!(file_for(root, "/a/../../etc/passwd"), None);
    }
}
