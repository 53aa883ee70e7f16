//! Two tiny HTTP/1.1 servers for the browser tests, one request per connection: a static site
//! (the portal's page, the widget's host) and a recording proxy in front of the listener, so a
//! test can read every byte the widget sent.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Everything the request carried, for looking for a secret in it.
    pub fn everything(&self) -> String {
        let mut all = format!("{} {}\n", self.method, self.path);
        for (name, value) in &self.headers {
            all.push_str(&format!("{name}: {value}\n"));
        }
        all.push_str(&String::from_utf8_lossy(&self.body));
        all
    }
}

/// Reads one request (head and a `Content-Length` body) from `stream`.
pub fn read_request(stream: &mut impl Read) -> Option<(Recorded, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = raw[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let request = Recorded {
        method,
        path,
        headers,
        body,
    };
    Some((request, raw[..head_end].to_vec()))
}

fn serve(listener: TcpListener, handle: impl Fn(TcpStream) + Send + Sync + 'static) {
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handle = handle.clone();
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            std::thread::spawn(move || handle(stream));
        }
    });
}

/// Sends `request` to `127.0.0.1:<target>` (with the target's `Host` when `own_host`), one
/// request on the connection, and returns the whole answer.
pub fn pass_on(request: &Recorded, target: u16, own_host: bool) -> Option<Vec<u8>> {
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (name, value) in &request.headers {
        let skip = name.eq_ignore_ascii_case("connection")
            || (own_host && name.eq_ignore_ascii_case("host"));
        if !skip {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if own_host {
        head.push_str(&format!("Host: 127.0.0.1:{target}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut upstream = TcpStream::connect(("127.0.0.1", target)).ok()?;
    upstream.write_all(head.as_bytes()).ok()?;
    upstream.write_all(&request.body).ok()?;
    let mut answer = Vec::new();
    let _ = upstream.read_to_end(&mut answer);
    Some(answer)
}

/// `application/x-www-form-urlencoded` / URL component escaping: all but the unreserved bytes.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Forwards each request to `127.0.0.1:<target>` with the target's `Host`, and keeps a copy.
pub struct RecordingProxy {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Recorded>>>,
    stopped: Arc<AtomicBool>,
}

impl RecordingProxy {
    pub fn start(target: u16) -> RecordingProxy {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), target)
    }

    pub fn start_on(listener: TcpListener, target: u16) -> RecordingProxy {
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicBool::new(false));
        let (record, stop) = (seen.clone(), stopped.clone());
        serve(listener, move |mut stream| {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let Some((request, _)) = read_request(&mut stream) else {
                return;
            };
            record.lock().unwrap().push(request.clone());
            if let Some(answer) = pass_on(&request, target, true) {
                let _ = stream.write_all(&answer);
            }
        });
        RecordingProxy {
            port,
            seen,
            stopped,
        }
    }

    pub fn seen(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}
