//! Signing in to a Bitrix24 portal (the simulator) from the real window: OAuth through the
//! browser and the app's listener, tokens in the real keyring, a restart, and signing out.

use std::time::{Duration, Instant};

use companion::portal::vault;
use portal_sim::{SimConfig, Simulator};

use crate::e2e::ONE_AT_A_TIME;
use crate::support::driver::{fill_oauth_form, AppHome, RunningApp};

fn wait_for_text(app: &RunningApp, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = app.session.text_of(css).unwrap_or_default();
        if ok(&text) || Instant::now() >= deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the agent's browser does with the portal's sign-in page: the portal redirects to the
/// app's listener, whose page says how it went.
fn browse_sign_in(url: &str) -> String {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let portal = agent
        .get(url)
        .call()
        .expect("the portal's sign-in page answers");
    assert_eq!(
        portal.status(),
        302,
        "the simulator signs in at once and redirects"
    );
    let back_to_app = portal.header("location").unwrap().to_owned();
    assert!(back_to_app.contains("/v1/oauth/callback?"), "{back_to_app}");
    let answer = agent
        .get(&back_to_app)
        .call()
        .expect("the app's listener finishes the sign-in");
    assert!(answer.content_type().starts_with("text/html"));
    answer.into_string().unwrap()
}

#[test]
fn oauth_sign_in_shows_the_user_survives_a_restart_and_sign_out_clears_the_keyring() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let home = AppHome::new();
    let sim = Simulator::start(SimConfig {
        redirect_uri: format!("http://127.0.0.1:{}/v1/oauth/callback", home.listen_port),
        ..SimConfig::default()
    })
    .unwrap();
    let endpoints = sim.endpoints();

    {
        let app = RunningApp::start_in(&home, &["--lang", "en", "--theme", "light"]);
        app.session
            .wait_for("[data-testid=waiting]", Duration::from_secs(30))
            .unwrap();
        app.click("settings-toggle");
        fill_oauth_form(&app.session, &endpoints.base_url, &endpoints);
        let redirect = app
            .session
            .text_of("[data-testid=portal-redirect-uri]")
            .unwrap();
        assert_eq!(
            redirect,
            format!("http://127.0.0.1:{}/v1/oauth/callback", home.listen_port)
        );
        app.screenshot("portal-sign-in-form-en-light");
        app.click("portal-submit");

        let page = home.next_browsed_page(0);
        assert!(
            page.starts_with(&format!(
                "{}/oauth/authorize/?client_id=",
                endpoints.base_url
            )),
            "{page}"
        );
        let waiting = wait_for_text(&app, "[data-testid=portal-signing-in]", |t| !t.is_empty());
        assert!(waiting.contains("browser"), "{waiting}");
        let tab = browse_sign_in(&page);
        assert!(
            tab.contains("Signed in") && tab.contains("Анна Смирнова"),
            "{tab}"
        );

        let signed_in = wait_for_text(&app, "[data-testid=portal-signed-in]", |t| {
            t.contains("Анна Смирнова")
        });
        let body = app
            .session
            .execute("return document.body.innerText")
            .unwrap();

        assert!(
            signed_in.contains("Анна Смирнова"),
            "{signed_in}\nwindow:\n{body}"
        );
        app.screenshot("portal-signed-in-en-light");

        // The administrator installs the relay widget in the call card from here.
        app.session
            .execute(
                "const d = document.querySelector('[data-testid=widget-admin]'); d.open = true;",
            )
            .unwrap();
        app.session
            .wait_for("[data-testid=widget-none]", Duration::from_secs(20))
            .unwrap();
        app.type_into(
            "widget-handler",
            "https://intranet.example.com/call-companion/relay/",
        );
        app.click("widget-install");
        let listed = wait_for_text(&app, "[data-testid=widget-list]", |t| {
            t.contains("intranet")
        });
        assert!(
            listed.contains("https://intranet.example.com/call-companion/relay/"),
            "{listed}"
        );
        assert_eq!(sim.stats().calls_by_method.get("placement.bind"), Some(&1));
        app.screenshot("portal-widget-installed-en-light");
        assert!(
            home.keyring().has(vault::OAUTH_TOKENS).unwrap(),
            "tokens are in the OS keyring"
        );
        assert!(home.keyring().has(vault::CLIENT_SECRET).unwrap());
        let settings = std::fs::read_to_string(home.config_file("portal.json")).unwrap();
        assert!(!settings.contains(&endpoints.client_secret), "{settings}");
    }

    // A restart signs in with the saved tokens: no browser, no new code.
    {
        let app = RunningApp::start_in(&home, &["--lang", "ru", "--theme", "dark"]);
        let status = wait_for_text(&app, "[data-testid=status-portal]", |t| {
            t.contains("Анна Смирнова")
        });
        assert!(status.contains("Анна Смирнова"), "{status}");
        assert_eq!(sim.stats().code_exchanges, 1);
        app.screenshot("portal-connected-after-restart-ru-dark");

        app.click("settings-toggle");
        app.click("portal-sign-out");
        app.session
            .wait_for("[data-testid=portal-form]", Duration::from_secs(20))
            .unwrap();
        for account in vault::ALL {
            assert!(
                !home.keyring().has(account).unwrap(),
                "{account} removed from the keyring"
            );
        }
        let status = app
            .session
            .execute("return document.querySelector('[data-testid=settings-toggle]') !== null")
            .unwrap();
        assert_eq!(status, serde_json::json!(true));
    }

    let log = home.log_text();
    assert!(
        log.contains("signed in to the portal") && log.contains("signed out of the portal"),
        "{log}"
    );
    assert!(
        !log.contains(&endpoints.client_secret),
        "the client secret never reaches the log"
    );
}

/// A call centre whose only way out is its proxy (`HTTPS_PROXY`): the app has no way to find
/// `portal.test` itself (no hosts entry), so the sign-in and the screen pop that reach the
/// portal can only have gone through the proxy, which records each tunnel it opens. The portal
/// is the simulator behind HTTPS, its certificate from the run's own authority (`SSL_CERT_FILE`,
/// as a company's CA in the system store).
#[test]
fn behind_a_proxy_the_sign_in_and_the_pop_go_through_it() {
    use crate::support::proxy::RecordingProxy;
    use crate::support::public::{wait_signed_in, PublicWeb};

    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let web = PublicWeb::start(SimConfig::default());
    let proxy = RecordingProxy::start(web.portal_port);
    let mut home = AppHome::new();
    home.env.push((
        "SSL_CERT_FILE".into(),
        crate::support::tls::certs().ca_file.display().to_string(),
    ));
    home.env.push(("HTTPS_PROXY".into(), proxy.url()));
    let endpoints = web.sim.endpoints();
    assert!(endpoints.base_url.starts_with("https://portal.test:"));
    home.sign_in_with_webhook(&endpoints.base_url, &endpoints.webhook_url);

    let app = RunningApp::start_in(&home, &["--lang", "en", "--theme", "light"]);
    wait_signed_in(&app, "the app signs in through the proxy");
    let tunnel = format!("CONNECT portal.test:{} HTTP/1.1", web.portal_port);
    let at_sign_in = proxy.asked();
    assert!(!at_sign_in.is_empty(), "the sign-in went through the proxy");
    assert!(
        at_sign_in.iter().all(|line| *line == tunnel),
        "{at_sign_in:?}"
    );
    let before = web.sim.stats().rest_requests;

    let text = crate::e2e_card::pop(&app, "bound-contact", "ready");
    assert!(text.contains("Ирина Сергеевна Петрова"), "{text}");
    app.screenshot("card-through-a-proxy");
    assert_eq!(
        web.sim.stats().rest_requests - before,
        1,
        "one request for the card"
    );
    let asked = proxy.asked();
    assert!(
        asked.len() > at_sign_in.len(),
        "the pop's request went through the proxy too: {asked:?}"
    );
    assert!(asked.iter().all(|line| *line == tunnel), "{asked:?}");
}

/// A computer several agents share: a colleague's program holds the usual port, so this app
/// listens on another, and IT set the application's redirect to the relay's sign-in page. The
/// sign-in starts anyway, carries this app's own port at the head of `state`; in Chromium the
/// portal sends the browser to the relay's page on its public origin, which sends it on to
/// `127.0.0.1` at that port, and the window says who signed in. The program on the usual port
/// is never contacted, and the page refuses a `state` that names no port.
#[test]
fn on_a_shared_computer_the_sign_in_comes_back_through_the_relays_page_to_this_app() {
    use crate::support::public::{wait_until, PublicWeb};
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let web = PublicWeb::start(SimConfig::default());
    let page = format!("{}/relay/signed-in.html", web.widget_origin());
    web.sim.set_redirect_uri(&page);
    let colleague = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    colleague.set_nonblocking(true).unwrap();
    let mut home = AppHome::new();
    home.listen_port = colleague.local_addr().unwrap().port();
    web.connect_app(&mut home);
    let app = RunningApp::start_in(&home, &["--lang", "en", "--theme", "light"]);
    let endpoints = web.sim.endpoints();
    app.click("settings-toggle");
    fill_oauth_form(&app.session, &web.portal(), &endpoints);
    app.type_into("portal-oauth-redirect", &page);
    assert_eq!(
        app.session
            .text_of("[data-testid=portal-redirect-uri]")
            .unwrap(),
        page,
        "the address IT sets as the application's redirect"
    );
    app.screenshot("portal-sign-in-through-relay-en-light");
    app.click("portal-submit");
    let authorize = home.next_browsed_page(0);
    let state = authorize
        .split("state=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap()
        .to_owned();
    let (port, random) = state.split_once('.').unwrap();
    let port: u16 = port.parse().unwrap();
    assert!(
        port != home.listen_port && random.len() == 32,
        "the state leads with this app's own port, not the usual one: {state}"
    );

    // The agent's browser, as installed (no policy).
    let browser = web.browser(None);
    browser.session.navigate(&authorize).unwrap();
    let signed_in = wait_for_text(&app, "[data-testid=portal-signed-in]", |t| {
        t.contains("Анна Смирнова")
    });
    assert!(signed_in.contains("Анна Смирнова"), "{signed_in}");
    wait_until("the browser shows the app's page", 20, || {
        let text = browser
            .session
            .execute("return document.body.innerText")
            .unwrap_or_default();
        match text.as_str() {
            Some(t) if t.contains("Signed in") => Ok(()),
            _ => Err(format!("{text}")),
        }
    });
    assert!(
        colleague.accept().is_err(),
        "the program on the usual port was contacted"
    );
    // A `state` that names no port stays on the relay's page.
    browser
        .session
        .navigate(&format!("{page}?code=abc&state=http%3A%2F%2Fevil.test"))
        .unwrap();
    wait_until("the page refuses it", 20, || {
        match browser
            .session
            .execute("return document.querySelector('main').dataset.state")
        {
            Ok(serde_json::Value::String(s)) if s == "refused" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}
