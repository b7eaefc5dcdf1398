//! Just enough HTTP/1.1 for the mock APIs: reads one request (Content-Length
//! or chunked body, `Expect: 100-continue`), writes a JSON response or a
//! chunked `text/event-stream`. It never interprets the API payloads.

use std::io::{self, BufRead, Write};
use std::net::TcpStream;

use serde_json::Value;

/// Whether the connection may serve another request after this response.
#[must_use]
pub enum Next {
    Close,
    KeepAlive,
}

/// One request as read off the wire.
pub struct RawRequest {
    pub body: Vec<u8>,
    /// Lowercase names, in order.
    pub headers: Vec<(String, String)>,
    pub method: String,
    pub path: String,
    pub version: String,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    pub fn keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.version == "HTTP/1.0" {
            conn.contains("keep-alive")
        } else {
            !conn.contains("close")
        }
    }

    /// The body as JSON, unless it is empty, compressed or not JSON.
    pub fn json(&self) -> Option<Value> {
        let encoding = self.header("content-encoding").unwrap_or("identity");
        if self.body.is_empty() || !encoding.eq_ignore_ascii_case("identity") {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| bad("header is not UTF-8"))
}

/// Read one request; `Ok(None)` when the client closed the connection
/// between requests.
pub fn read_request(
    reader: &mut impl BufRead,
    out: &mut TcpStream,
) -> io::Result<Option<RawRequest>> {
    let request_line = loop {
        match read_line(reader)? {
            None => return Ok(None),
            // Tolerate stray blank lines between keep-alive requests.
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path), version) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("malformed request line"));
    };
    let mut req = RawRequest {
        body: Vec::new(),
        headers: Vec::new(),
        method: method.to_string(),
        path: path.to_string(),
        version: version.unwrap_or("HTTP/1.1").to_string(),
    };
    loop {
        let line = read_line(reader)?.ok_or_else(|| bad("eof in headers"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("malformed header"))?;
        req.headers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let size_line = read_line(reader)?.ok_or_else(|| bad("eof in chunk size"))?;
            let size_hex = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers, then the blank line.
                while read_line(reader)?.is_some_and(|l| !l.is_empty()) {}
                break;
            }
            let start = req.body.len();
            req.body.resize(start + size, 0);
            reader.read_exact(&mut req.body[start..])?;
            read_line(reader)?;
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        req.body.resize(len, 0);
        reader.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Status",
    }
}

fn head(status: u16, headers: &[(&str, String)]) -> String {
    let mut s = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s
}

/// A complete JSON response. `head_only` omits the body (HEAD requests).
pub fn write_json(
    out: &mut TcpStream,
    status: u16,
    extra: &[(&str, String)],
    body: &Value,
    head_only: bool,
) -> io::Result<Next> {
    let data = body.to_string();
    let mut headers = vec![
        ("content-type", "application/json".to_string()),
        ("content-length", data.len().to_string()),
    ];
    headers.extend(extra.iter().cloned());
    let mut msg = head(status, &headers);
    msg.push_str("\r\n");
    if !head_only {
        msg.push_str(&data);
    }
    out.write_all(msg.as_bytes())?;
    out.flush()?;
    Ok(Next::KeepAlive)
}

/// The status line, headers and the first half of a JSON body whose
/// Content-Length promises all of it: a stalled non-streaming response.
pub fn write_json_partial(out: &mut TcpStream, body: &Value) -> io::Result<()> {
    let data = body.to_string();
    let headers = [
        ("content-type", "application/json".to_string()),
        ("content-length", data.len().to_string()),
    ];
    let mut msg = head(200, &headers);
    msg.push_str("\r\n");
    msg.push_str(&data[..data.len() / 2]);
    out.write_all(msg.as_bytes())?;
    out.flush()
}

/// A `text/event-stream` response in chunked transfer encoding.
pub struct Sse<'a> {
    out: &'a mut TcpStream,
}

impl<'a> Sse<'a> {
    pub fn start(out: &'a mut TcpStream, extra: &[(&str, String)]) -> io::Result<Sse<'a>> {
        let mut headers = vec![
            (
                "content-type",
                "text/event-stream; charset=utf-8".to_string(),
            ),
            ("cache-control", "no-cache".to_string()),
            ("transfer-encoding", "chunked".to_string()),
        ];
        headers.extend(extra.iter().cloned());
        let mut msg = head(200, &headers);
        msg.push_str("\r\n");
        out.write_all(msg.as_bytes())?;
        out.flush()?;
        Ok(Sse { out })
    }

    /// One `event: NAME` / `data: JSON` event, in its own chunk, flushed.
    pub fn event(&mut self, name: &str, data: &Value) -> io::Result<()> {
        let payload = format!("event: {name}\ndata: {data}\n\n");
        write!(self.out, "{:x}\r\n{payload}\r\n", payload.len())?;
        self.out.flush()
    }

    /// The terminating zero-length chunk.
    pub fn finish(self) -> io::Result<Next> {
        self.out.write_all(b"0\r\n\r\n")?;
        self.out.flush()?;
        Ok(Next::KeepAlive)
    }
}
