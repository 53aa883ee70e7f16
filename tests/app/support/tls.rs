//! Public HTTPS origins for the browser tests, as production has them: a certificate authority
//! made for this run, one certificate for every test host name (`portal.test`, `widget.test`,
//! `evil.test`, and Bitrix24's library hosts), and small TLS servers on loopback ports that the
//! browser is told are public (`shared/browsers.md`). The app trusts the authority through
//! OpenSSL's own `SSL_CERT_FILE`, as it would trust a company's CA in the system store.

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use native_tls::{Identity, TlsAcceptor, TlsStream};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509NameBuilder, X509};

use super::web::{pass_on, read_request, Recorded};

/// Every host name the tests serve over HTTPS.
pub const HOSTS: &[&str] = &[
    "portal.test",
    "widget.test",
    "evil.test",
    "api.bitrix24.com",
    "api.bitrix24.tech",
];

pub struct Certs {
    /// The authority's certificate (PEM), for `SSL_CERT_FILE`.
    pub ca_file: PathBuf,
    acceptor: TlsAcceptor,
    _dir: tempfile::TempDir,
}

/// This run's authority and server certificate, made once.
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| make_certs().expect("test certificates"))
}

fn key() -> Result<PKey<Private>, openssl::error::ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}

fn serial() -> Result<openssl::asn1::Asn1Integer, openssl::error::ErrorStack> {
    let mut n = BigNum::new()?;
    n.rand(64, MsbOption::MAYBE_ZERO, false)?;
    n.to_asn1_integer()
}

fn make_certs() -> Result<Certs, Box<dyn std::error::Error>> {
    let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(7)?);
    let ca_key = key()?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "Call Companion test CA")?;
    let ca_name = name.build();
    let mut ca = X509::builder()?;
    ca.set_version(2)?;
    let number = serial()?;
    ca.set_serial_number(&number)?;
    ca.set_subject_name(&ca_name)?;
    ca.set_issuer_name(&ca_name)?;
    ca.set_pubkey(&ca_key)?;
    ca.set_not_before(&from)?;
    ca.set_not_after(&until)?;
    ca.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    ca.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    ca.sign(&ca_key, MessageDigest::sha256())?;
    let ca = ca.build();

    let leaf_key = key()?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "portal.test")?;
    let leaf_name = name.build();
    let mut leaf = X509::builder()?;
    leaf.set_version(2)?;
    let number = serial()?;
    leaf.set_serial_number(&number)?;
    leaf.set_subject_name(&leaf_name)?;
    leaf.set_issuer_name(ca.subject_name())?;
    leaf.set_pubkey(&leaf_key)?;
    leaf.set_not_before(&from)?;
    leaf.set_not_after(&until)?;
    let mut san = SubjectAlternativeName::new();
    for host in HOSTS {
        san.dns(host);
    }
    leaf.append_extension(san.build(&leaf.x509v3_context(Some(&ca), None))?)?;
    leaf.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    leaf.append_extension(BasicConstraints::new().build()?)?;
    leaf.sign(&ca_key, MessageDigest::sha256())?;
    let leaf = leaf.build();

    let dir = tempfile::tempdir()?;
    let ca_file = dir.path().join("test-ca.pem");
    std::fs::write(&ca_file, ca.to_pem()?)?;
    let mut chain = leaf.to_pem()?;
    chain.extend(ca.to_pem()?);
    let identity = Identity::from_pkcs8(&chain, &leaf_key.private_key_to_pem_pkcs8()?)?;
    Ok(Certs {
        ca_file,
        acceptor: TlsAcceptor::new(identity)?,
        _dir: dir,
    })
}

/// Serves TLS connections on a loopback port until the test ends, one thread each.
fn serve(handle: impl Fn(&mut TlsStream<TcpStream>) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = Arc::new(handle);
    let acceptor = certs().acceptor.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (handle, acceptor) = (handle.clone(), acceptor.clone());
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                if let Ok(mut tls) = acceptor.accept(stream) {
                    handle(&mut tls);
                    let _ = tls.shutdown();
                }
            });
        }
    });
    port
}

/// Static files over HTTPS by path; `GET` and `POST` both answer (Bitrix24 opens a widget with
/// a POST). Keeps every request it got.
pub struct HttpsSite {
    pub port: u16,
    seen: Arc<std::sync::Mutex<Vec<Recorded>>>,
}

impl HttpsSite {
    pub fn start(files: HashMap<String, (&'static str, Vec<u8>)>) -> HttpsSite {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let port = serve(move |stream| {
            let Some((request, _)) = read_request(stream) else {
                return;
            };
            record.lock().unwrap().push(request.clone());
            let path = request.path.split('?').next().unwrap_or_default();
            let (status, content_type, body) = match files.get(path) {
                Some((content_type, body)) => ("200 OK", *content_type, body.clone()),
                None => ("404 Not Found", "text/plain", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        });
        HttpsSite { port, seen }
    }

    pub fn seen(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

/// HTTPS in front of a plain HTTP server on loopback (the portal simulator): one request per
/// connection, passed on as it came. Its port is known before the server behind it starts (the
/// simulator must be told the public address it is reached at).
pub struct HttpsProxy {
    pub port: u16,
    listener: TcpListener,
}

impl HttpsProxy {
    pub fn bind() -> HttpsProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        HttpsProxy {
            port: listener.local_addr().unwrap().port(),
            listener,
        }
    }

    /// Forwards to `127.0.0.1:target` until the test ends.
    pub fn start(self, target: u16) -> u16 {
        let acceptor = certs().acceptor.clone();
        let listener = self.listener;
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let acceptor = acceptor.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let Ok(mut tls) = acceptor.accept(stream) else {
                        return;
                    };
                    forward(&mut tls, target);
                    let _ = tls.shutdown();
                });
            }
        });
        self.port
    }
}

fn forward(stream: &mut TlsStream<TcpStream>, target: u16) {
    let Some((request, _)) = read_request(stream) else {
        return;
    };
    // The browser must not reuse this connection: the proxy serves one request on it.
    if let Some(answer) = pass_on(&request, target, false) {
        let _ = stream.write_all(&close_after(answer));
    }
}

/// Marks an HTTP answer `Connection: close` (hyper answers keep-alive by default).
fn close_after(answer: Vec<u8>) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return answer;
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut out: String = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    out.push_str("\r\nConnection: close");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[end..]);
    bytes
}
