//! The real `call-companion` window under Xvfb, through WebDriver. Screenshots go to
//! `<target>/e2e-artifacts/`.

use std::sync::Mutex;
use std::time::Duration;

use crate::support::driver::RunningApp;

/// One window at a time: two WebKit processes at once on two cores make timing noisy.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn waiting_for_a_call_screen_in_english_light() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = RunningApp::start(&["--lang", "en", "--theme", "light"]);
    let s = &app.session;
    s.wait_for("[data-testid=waiting]", Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        s.text_of("[data-testid=waiting] h1").unwrap(),
        "Waiting for a call"
    );
    let listener = s.text_of("[data-testid=status-listener]").unwrap();
    assert!(
        listener.contains("127.0.0.1:47600") && listener.contains("Not running yet"),
        "{listener}"
    );
    let portal = s.text_of("[data-testid=status-portal]").unwrap();
    assert!(portal.contains("Not connected yet"), "{portal}");
    let mode = s.text_of("[data-testid=status-mode]").unwrap();
    assert!(mode.contains("Normal"), "{mode}");
    let title = s.execute("return document.title").unwrap();
    assert_eq!(title, "Call Companion");
    let background = s
        .execute("return getComputedStyle(document.body).backgroundColor")
        .unwrap();
    assert_eq!(background, "rgb(246, 247, 249)", "light theme background");
    app.screenshot("waiting-en-light");
    let log = app.log_text();
    assert!(
        log.contains("starting Call Companion") && log.contains("window ready"),
        "log file:\n{log}"
    );
}

#[test]
fn waiting_for_a_call_screen_in_russian_dark() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = RunningApp::start(&["--lang", "ru", "--theme", "dark"]);
    let s = &app.session;
    s.wait_for("[data-testid=waiting]", Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        s.text_of("[data-testid=waiting] h1").unwrap(),
        "Ожидание звонка"
    );
    let portal = s.text_of("[data-testid=status-portal]").unwrap();
    assert!(portal.contains("Пока не подключён"), "{portal}");
    assert_eq!(
        s.execute("return document.documentElement.lang").unwrap(),
        "ru"
    );
    let background = s
        .execute("return getComputedStyle(document.body).backgroundColor")
        .unwrap();
    assert_eq!(background, "rgb(21, 24, 29)", "dark theme background");
    app.screenshot("waiting-ru-dark");
}
