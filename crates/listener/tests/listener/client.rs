//! A raw HTTP/1.1 client and a listener started for one test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use callcard::{CallContext, ParseError};
use listener::{
    Accepted, Config, Intake, OriginAllowList, Pairing, PairingToken, RateLimit, Running,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ALLOWED_ORIGIN: &str = "https://acme.bitrix24.ru";

/// Records what the listener hands to the app.
#[derive(Default)]
pub struct Recorder {
    pub calls: Mutex<Vec<CallContext>>,
    pub rejected: Mutex<Vec<String>>,
    pub callbacks: Mutex<Vec<String>>,
    /// The portal's origin the tab accepts (none: not signed in).
    pub tab_origin: Mutex<Option<String>>,
    /// The tab posts handed to the app: `(origin, query, body)`.
    pub tabs: Mutex<Vec<(String, String, Vec<u8>)>>,
    /// Hands every tab on to this port (another session's app), as the app does for a
    /// colleague's call card; the port each tab arrived on is kept beside.
    pub hand_on: Mutex<Option<u16>>,
    pub arrived_on: Mutex<Vec<u16>>,
}

impl Intake for Recorder {
    fn call(&self, context: CallContext) -> Accepted {
        let mut calls = self.calls.lock().unwrap();
        let new = !calls.iter().any(|c| c.call_id == context.call_id);
        calls.push(context);
        Accepted { new }
    }

    fn rejected(&self, error: &ParseError) {
        self.rejected
            .lock()
            .unwrap()
            .push(error.code().as_str().to_owned());
    }

    fn oauth_callback(&self, query: &str) -> listener::CallbackPage {
        self.callbacks.lock().unwrap().push(query.to_owned());
        let ok = query.contains("state=expected");
        listener::CallbackPage {
            ok,
            title: "Signed in <b>".into(),
            message: "You can close this tab.".into(),
        }
    }

    fn tab_origin(&self) -> Option<String> {
        self.tab_origin.lock().unwrap().clone()
    }

    /// Accepts any call the parser reads (the proof is the app's, tested in the core).
    fn tab(&self, post: listener::TabPost) -> listener::Pending<'_, listener::TabVerdict> {
        Box::pin(async move { self.verdict(post) })
    }
}

impl Recorder {
    fn verdict(&self, post: listener::TabPost) -> listener::TabVerdict {
        self.tabs.lock().unwrap().push((
            post.origin.clone(),
            post.query.clone(),
            post.body.clone(),
        ));
        self.arrived_on.lock().unwrap().push(post.port);
        if let Some(port) = *self.hand_on.lock().unwrap() {
            if !post.handed_on() {
                return listener::TabVerdict::HandedOn {
                    user: "Дмитрий Орлов".into(),
                    port,
                };
            }
        }
        match callcard::parse_tab_post(&post.query, &post.body) {
            Ok((context, _)) => listener::TabVerdict::Sent {
                call_id: context.call_id,
                library: "https://api.bitrix24.com/api/v1/".into(),
                portal: self.tab_origin().unwrap_or_default(),
            },
            Err(e) => listener::TabVerdict::BadCall {
                code: e.code(),
                message: e.to_string(),
            },
        }
    }
}

pub struct Server {
    pub port: u16,
    pub token: PairingToken,
    pub pairing: Arc<Pairing>,
    pub intake: Arc<Recorder>,
    /// Kept so the listener lives as long as the test.
    pub _running: Running,
}

pub fn config() -> Config {
    let mut config = Config::new(0, "Call Companion", "9.9.9");
    config.origins = OriginAllowList::new([ALLOWED_ORIGIN]).unwrap();
    config.rate = RateLimit {
        burst: 1000,
        per_second: 1000.0,
    };
    config
}

pub fn start(config: Config) -> Server {
    let token = PairingToken::generate().unwrap();
    let pairing = Arc::new(Pairing::new(token.clone()));
    let intake = Arc::new(Recorder::default());
    let bound = listener::bind(config).unwrap();
    let port = bound.port();
    let running = bound.serve(pairing.clone(), intake.clone()).unwrap();
    Server {
        port,
        token,
        pairing,
        intake,
        _running: running,
    }
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// A request built header by header. `Host` defaults to the right one; `None` removes it.
pub struct Req {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub host: Option<String>,
}

impl Server {
    pub fn req(&self, method: &'static str, path: &str) -> Req {
        Req {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            host: Some(format!("127.0.0.1:{}", self.port)),
        }
    }

    /// POST /v1/call-card with the pairing token, as the relay does.
    pub fn post_call(&self, content_type: &str, body: impl Into<Vec<u8>>) -> Req {
        self.req("POST", "/v1/call-card")
            .bearer(self.token.expose())
            .header("Content-Type", content_type)
            .body(body)
    }

    pub async fn send(&self, req: Req) -> Answer {
        send_to(&format!("127.0.0.1:{}", self.port), req).await
    }
}

impl Req {
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, token: &str) -> Req {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        self
    }

    pub fn host(mut self, host: Option<&str>) -> Req {
        self.host = host.map(str::to_owned);
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        if let Some(host) = &self.host {
            head.push_str(&format!("Host: {host}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

pub async fn send_to(address: &str, req: Req) -> Answer {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(&req.bytes()).await.unwrap();
    read_answer(&mut stream).await
}

pub async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("answer within 10 s")
        .unwrap();
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    // Pages and the relay widget's files come back as text.
    let html = head.to_ascii_lowercase().contains("content-type: text/");
    let body = if body.is_empty() {
        Value::Null
    } else if html {
        Value::String(body.to_owned())
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body:?}"))
    };
    Answer {
        status,
        headers,
        body,
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../tests/fixtures/call-card/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}
