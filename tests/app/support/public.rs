//! The internet as the browser tests see it: the portal simulator behind `https://portal.test`,
//! the relay widget's host `https://widget.test`, a stranger's site `https://evil.test`, and
//! Bitrix24's JS library at its real address (`https://api.bitrix24.com/api/v1/`, a stand-in
//! speaking its protocol). All on loopback ports that Chromium treats as public addresses, so
//! Local Network Access judges every request from them to the app as it would in production.

use std::collections::HashMap;
use std::path::Path;

use portal_sim::{SimConfig, Simulator};
use serde_json::Value;

use super::chromium::{Chromium, Network};
use super::driver::AppHome;
use super::tls::{HttpsProxy, HttpsSite, HOSTS};

pub struct PublicWeb {
    pub sim: Simulator,
    pub portal_port: u16,
    pub widget: HttpsSite,
    pub library: HttpsSite,
    pub evil: HttpsSite,
}

/// A stranger's page that POSTs a form to the app the way the portal's page does; the form comes
/// in the page's address (`#` JSON `{"action", "fields"}`). Its referrer policy makes the browser
/// name its origin on the POST (by default it sends `Origin: null`).
const EVIL_PAGE: &str = r#"<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="unsafe-url"><title>Not a portal</title></head>
<body><iframe name="tab" id="tab" width="420" height="200"></iframe><script>
const form = JSON.parse(decodeURIComponent(location.hash.slice(1)));
const f = document.createElement('form');
f.method = 'POST'; f.target = 'tab'; f.action = form.action;
for (const [name, value] of Object.entries(form.fields)) {
  const input = document.createElement('input'); input.type = 'hidden'; input.name = name; input.value = value; f.append(input);
}
document.body.append(f); f.submit();
</script></body></html>"#;

impl PublicWeb {
    pub fn start(config: SimConfig) -> PublicWeb {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |path: &str| std::fs::read(root.join(path)).unwrap();
        let proxy = HttpsProxy::bind();
        let portal_port = proxy.port;
        let sim = Simulator::start(SimConfig {
            public_url: Some(format!("https://portal.test:{portal_port}")),
            ..config
        })
        .unwrap();
        proxy.start(sim.address().port());
        let widget = HttpsSite::start(HashMap::from([
            (
                "/relay/".into(),
                ("text/html; charset=utf-8", read("relay/index.html")),
            ),
            (
                "/relay/relay.js".into(),
                ("text/javascript", read("relay/relay.js")),
            ),
            (
                "/relay/callcard.js".into(),
                ("text/javascript", read("relay/callcard.js")),
            ),
            (
                "/relay/relay.css".into(),
                ("text/css", read("relay/relay.css")),
            ),
            (
                "/relay/signed-in.html".into(),
                ("text/html; charset=utf-8", read("relay/signed-in.html")),
            ),
            (
                "/relay/signed-in.js".into(),
                ("text/javascript", read("relay/signed-in.js")),
            ),
        ]));
        let library = HttpsSite::start(HashMap::from([(
            "/api/v1/".into(),
            (
                "text/javascript",
                read("tests/fixtures/relay/bx24-standin.js"),
            ),
        )]));
        let evil = HttpsSite::start(HashMap::from([(
            "/".into(),
            ("text/html; charset=utf-8", EVIL_PAGE.as_bytes().to_vec()),
        )]));
        PublicWeb {
            sim,
            portal_port,
            widget,
            library,
            evil,
        }
    }

    /// `https://portal.test:PORT`: the portal's origin (the simulator's public address).
    pub fn portal(&self) -> String {
        self.sim.base_url()
    }

    pub fn widget_origin(&self) -> String {
        format!("https://widget.test:{}", self.widget.port)
    }

    pub fn evil_origin(&self) -> String {
        format!("https://evil.test:{}", self.evil.port)
    }

    /// The simulator's call-card page with `query` (`scenario=…&handler=…`).
    pub fn call_card(&self, query: &str) -> String {
        format!("{}/sim/call-card?{query}", self.portal())
    }

    /// The stranger's page POSTing `form` (`{"action", "fields"}`).
    pub fn evil_page(&self, form: &Value) -> String {
        format!(
            "{}/#{}",
            self.evil_origin(),
            super::web::percent_encode(&form.to_string())
        )
    }

    pub fn network(&self) -> Network {
        let library = self.library.port;
        Network {
            hosts: vec![
                ("portal.test".into(), None),
                ("widget.test".into(), None),
                ("evil.test".into(), None),
                ("api.bitrix24.com".into(), Some(library)),
                ("api.bitrix24.tech".into(), Some(library)),
            ],
            public: vec![self.portal_port, self.widget.port, self.evil.port, library],
        }
    }

    /// A browser on this web under IT's `policy` (none: a browser as installed).
    pub fn browser(&self, policy: Option<Value>) -> Chromium {
        Chromium::start(&self.network(), policy.as_ref()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs the app in `home` the way it meets the internet here: test host names resolve to
    /// loopback (its own `/etc/hosts`, in a private mount namespace), and it trusts this run's
    /// certificate authority (`SSL_CERT_FILE`, read by OpenSSL).
    pub fn connect_app(&self, home: &mut AppHome) {
        let hosts = home.path().join("hosts");
        let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        text.push_str(&format!("\n127.0.0.1 {}\n", HOSTS.join(" ")));
        std::fs::write(&hosts, text).unwrap();
        let wrapper = home.path().join("public-web.sh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec unshare --user --map-root-user --mount sh -c 'mount --bind \"$0\" /etc/hosts && exec \"$@\"' '{}' \"$@\"\n",
                hosts.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        home.app_wrapper = Some(wrapper);
        home.env.push((
            "SSL_CERT_FILE".into(),
            super::tls::certs().ca_file.display().to_string(),
        ));
    }
}

impl PublicWeb {
    /// The app in `home`, connected to this web and signed in to the portal with a webhook (as
    /// an earlier run would have left it), once its window says so.
    pub fn signed_in_app(&self, home: &mut AppHome, args: &[&str]) -> super::driver::RunningApp {
        self.connect_app(home);
        let endpoints = self.sim.endpoints();
        home.sign_in_with_webhook(&endpoints.base_url, &endpoints.webhook_url);
        let app = super::driver::RunningApp::start_in(home, args);
        wait_signed_in(&app, "the app signs in to https://portal.test");
        app
    }
}

/// Waits until the window says the agent (the simulator's user 1) is signed in.
pub fn wait_signed_in(app: &super::driver::RunningApp, what: &str) {
    wait_until(what, 30, || {
        let portal = app
            .session
            .text_of("[data-testid=status-portal]")
            .unwrap_or_default();
        if portal.contains("Анна Смирнова") {
            Ok(())
        } else {
            Err(portal)
        }
    });
}

impl PublicWeb {
    /// The app connected to the test web and signed in with the portal's application (OAuth,
    /// tokens for the agent, user 1): it subscribes to Bitrix24's push channel. Returns once the
    /// window says the push connection is up.
    pub fn application_signed_in_app(
        &self,
        home: &mut AppHome,
        args: &[&str],
    ) -> super::driver::RunningApp {
        self.application_signed_in_app_as(home, args, 1)
    }

    /// The same, signed in as the portal's `user`.
    pub fn application_signed_in_app_as(
        &self,
        home: &mut AppHome,
        args: &[&str],
        user: u64,
    ) -> super::driver::RunningApp {
        self.connect_app(home);
        let endpoints = self.sim.endpoints();
        home.sign_in_with_application(
            &endpoints.base_url,
            &endpoints.base_url,
            &endpoints.client_id,
            &endpoints.client_secret,
            &self.sim.issue_tokens(user),
        );
        let app = super::driver::RunningApp::start_in(home, args);
        wait_until("the app subscribes to the push channel", 30, || {
            let push = app
                .session
                .text_of("[data-testid=status-push]")
                .unwrap_or_default();
            let lower = push.to_lowercase();
            // Either language: "Connected", "Подключён" (never "not connected", "не подключён").
            let up = (lower.contains("connected") && !lower.contains("not"))
                || (lower.contains("подключён") && !lower.contains("не подключ"));
            if up {
                Ok(())
            } else {
                Err(push)
            }
        });
        app
    }
}

/// The enterprise policies the tests write, as `docs/deploying.md` tells IT to.
pub mod policy {
    use serde_json::{json, Value};

    /// The app's own tab: one policy naming the portal.
    pub fn direct_tab(portal: &str) -> Value {
        json!({ "LoopbackNetworkAllowedForUrls": [portal] })
    }

    /// What README told IT for the hosted relay before it was measured: not enough.
    pub fn relay_single(widget: &str, portal: &str) -> Value {
        json!({ "LocalNetworkAccessAllowedForUrls": [widget, portal] })
    }

    /// The hosted relay: the portal allowed, and the permission delegated to its iframes.
    pub fn relay(widget: &str, portal: &str) -> Value {
        json!({
            "LocalNetworkAccessAllowedForUrls": [widget, portal],
            "LocalNetworkAccessPermissionsPolicyDefaultEnabled": true,
        })
    }
}

/// Waits until `check` holds, with a message that says what was seen.
pub fn wait_until(what: &str, seconds: u64, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        match check() {
            Ok(()) => return,
            Err(seen) if std::time::Instant::now() > deadline => {
                panic!("{what}: still {seen} after {seconds} s")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}
