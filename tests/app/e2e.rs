//! The real `call-companion` window under Xvfb, through WebDriver. Screenshots go to
//! `<target>/e2e-artifacts/`.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::driver::RunningApp;

/// One window at a time: two WebKit processes at once on two cores make timing noisy.
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

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
        listener.contains(&format!("127.0.0.1:{}", app.listen_port))
            && listener.contains("Listening"),
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

    // Pairing as the relay widget does it: the agent reads the code in Settings, the widget
    // trades it for the token, and the token opens the call-card endpoint.
    s.execute("document.querySelector('[data-testid=settings-toggle]').click()")
        .unwrap();
    let shown = wait_for_text(&app, "[data-testid=pairing-code]", |t| !t.is_empty());
    let code: String = shown.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "{shown:?}");
    app.screenshot("settings-pairing-en-light");

    // Start at login: the checkbox writes the user's autostart entry and removes it again.
    let entry = app
        .home()
        .join("config")
        .join("autostart")
        .join("call-companion.desktop");
    assert!(!entry.exists());
    app.click("pref-start_at_login");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !entry.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&entry).expect("the autostart entry is written");
    assert!(
        text.contains("Exec=") && text.contains("call-companion"),
        "{text}"
    );
    s.execute("document.querySelector('[data-testid=window-prefs]').scrollIntoView()")
        .unwrap();
    app.screenshot("settings-window-en-light");
    app.click("pref-start_at_login");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while entry.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!entry.exists(), "turning it off removes the entry");

    // Export diagnostics: the archive lands in the agent's Downloads folder.
    let downloads = app.home().join("Downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    std::fs::write(
        app.home().join("config").join("user-dirs.dirs"),
        format!("XDG_DOWNLOAD_DIR=\"{}\"\n", downloads.display()),
    )
    .unwrap();
    app.click("support-export");
    let saved = wait_for_text(&app, "[data-testid=support-exported]", |t| {
        t.contains(".zip")
    });
    let archive = std::fs::read_dir(&downloads)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"));
    let archive = archive.expect("the archive is in Downloads");
    assert!(saved.contains(&archive.display().to_string()), "{saved}");
    assert!(std::fs::read(&archive).unwrap().starts_with(b"PK"), "a zip");
    s.execute("document.querySelector('[data-testid=support]').scrollIntoView()")
        .unwrap();
    app.screenshot("settings-support-en-light");

    let base = format!("http://127.0.0.1:{}", app.listen_port);
    let paired: serde_json::Value = ureq::post(&format!("{base}/v1/pair"))
        .send_json(serde_json::json!({ "code": code }))
        .expect("the code shown in the window pairs")
        .into_json()
        .unwrap();
    let token = paired["token"].as_str().expect("a token");
    let accepted = ureq::post(&format!("{base}/v1/call-card"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(serde_json::json!({
            "v": 1,
            "placement": "CALL_CARD",
            "options": {"CALL_ID": "e2e-paired-1", "PHONE_NUMBER": "+79005550101",
                                  "CALL_DIRECTION": "incoming", "CALL_STATE": "idle"}
        }))
        .expect("the paired token is accepted");
    assert_eq!(accepted.status(), 202);
    let number = wait_for_text(&app, "[data-testid=call-number]", |t| {
        t == "+7 900 555-01-01"
    });
    assert_eq!(number, "+7 900 555-01-01");
    assert!(
        !app.log_text().contains(token),
        "the pairing token never reaches the log"
    );

    // A note kept for the call: the notes database and its WAL exist now.
    app.type_into("note-text", "Клиент просит перезвонить");
    let kept = "return document.querySelector('[data-testid=note-status]')?.dataset.state";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while s.execute(kept).unwrap() != "draft" {
        assert!(
            std::time::Instant::now() < deadline,
            "the note was not kept"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Everything the app wrote in this run (settings, logs, the notes database and its WAL,
    // WebKit's own storage, the diagnostics archive) is the agent's alone: a shared machine's
    // other users can neither list nor read it.
    let mut written = vec![archive];
    for root in ["data", "config", "cache"] {
        let dir = app.home().join(root).join(companion::app::IDENTIFIER);
        if dir.exists() {
            written.extend(walk(&dir));
        }
    }
    assert!(
        written.iter().any(|p| p.ends_with("notes.sqlite3-wal"))
            && written
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == "log"))
            && written.iter().any(|p| p.ends_with("window.json")),
        "the run wrote what it should: {written:?}"
    );
    let loose: Vec<String> = written
        .iter()
        .filter_map(|path| {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::symlink_metadata(path).ok()?;
            if meta.file_type().is_symlink() {
                return None;
            }
            let mode = meta.mode() & 0o777;
            let wanted = if meta.is_dir() { 0o700 } else { 0o600 };
            (mode != wanted).then(|| format!("{:o} {}", mode, path.display()))
        })
        .collect();
    assert!(
        loose.is_empty(),
        "not owner-only ({} of {} paths):\n{}",
        loose.len(),
        written.len(),
        loose.join("\n")
    );
}

/// `dir` and everything under it (links not followed).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![dir.to_owned()];
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => found.extend(walk(&path)),
            Ok(_) => found.push(path),
            Err(_) => {}
        }
    }
    found
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

/// Waits until the element's text satisfies `ok`, returning the last text seen.
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

fn output_text(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn simulated_call_pops_up_and_a_bad_payload_is_shown_not_dropped() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = RunningApp::start(&["--lang", "en", "--theme", "light"]);
    app.session
        .wait_for("[data-testid=waiting]", Duration::from_secs(30))
        .unwrap();
    let port = app.listen_port.to_string();

    // `simulate` reads the pairing token from the keyring entry the app created.
    let sent = app.cli(&[
        "simulate",
        "--scenario",
        "incoming-contact",
        "--port",
        &port,
    ]);
    let report = output_text(&sent);
    assert!(sent.status.success(), "{report}");
    assert!(report.contains("202"), "{report}");

    let number = wait_for_text(&app, "[data-testid=call-number]", |t| {
        t == "+7 900 123-45-67"
    });
    assert_eq!(number, "+7 900 123-45-67");
    let direction = app.session.text_of("[data-testid=call-direction]").unwrap();
    assert!(direction.contains("Incoming"), "{direction}");
    let state = app.session.text_of("[data-testid=call-state]").unwrap();
    assert!(state.contains("Connected"), "{state}");
    let crm = app.session.text_of("[data-testid=call-crm]").unwrap();
    assert!(crm.contains("Contact") && crm.contains("42"), "{crm}");
    app.screenshot("call-incoming-en-light");

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/call-card/bad-missing-call-id.options.json");
    let refused = app.cli(&[
        "simulate",
        "--file",
        fixture.to_str().unwrap(),
        "--port",
        &port,
    ]);
    let report = output_text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{report}");
    assert!(report.contains("missing_call_id"), "{report}");
    let banner = wait_for_text(&app, "[data-testid=rejection]", |t| {
        t.contains("missing CALL_ID")
    });
    assert!(
        banner.contains("missing CALL_ID") && banner.contains("missing_call_id"),
        "{banner}"
    );
    // The refused payload does not replace the call on screen.
    assert_eq!(
        app.session.text_of("[data-testid=call-number]").unwrap(),
        "+7 900 123-45-67"
    );
    app.screenshot("call-refused-payload-en-light");

    // Without the token the listener refuses, and says how to pair.
    let unpaired = app
        .command(crate::support::app_binary())
        .args([
            "simulate",
            "--scenario",
            "incoming-contact",
            "--port",
            &port,
        ])
        .env(
            "CALL_COMPANION_KEYRING_SERVICE",
            "io.callcompanion.e2e.nobody",
        )
        .output()
        .unwrap();
    assert!(!unpaired.status.success(), "{}", output_text(&unpaired));
}

#[test]
fn a_deep_link_opened_by_the_desktop_reaches_the_running_app() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = RunningApp::start(&["--lang", "ru", "--theme", "dark"]);
    app.session
        .wait_for("[data-testid=waiting]", Duration::from_secs(30))
        .unwrap();

    // The app registers itself as the callcompanion:// handler for this user on start.
    let handler = app
        .home()
        .join("data/applications/call-companion-handler.desktop");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !handler.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let desktop = std::fs::read_to_string(&handler).expect("the handler .desktop file is written");
    assert!(
        desktop.contains("x-scheme-handler/callcompanion"),
        "{desktop}"
    );

    // A settings file damaged while this app runs: the second launch below must leave it to
    // this one, not set it aside before handing over.
    let prefs = app
        .home()
        .join("config")
        .join(companion::app::IDENTIFIER)
        .join("window.json");
    std::fs::write(&prefs, "{damaged while running").unwrap();

    // `gio open` is what a browser or Bitrix24's desktop app does with the link: it starts a
    // second `call-companion`, which hands the link to this one and exits.
    let link = "callcompanion://call-card?CALL_ID=e2e-link-1&PHONE_NUMBER=%2B74951112233\
                &CALL_DIRECTION=outgoing&CALL_STATE=connecting";
    let opened = app
        .command("gio")
        .args(["open", link])
        .output()
        .expect("gio is installed");
    assert!(opened.status.success(), "{}", output_text(&opened));

    let number = wait_for_text(&app, "[data-testid=call-number]", |t| {
        t == "+7 495 111-22-33"
    });
    assert_eq!(number, "+7 495 111-22-33");
    let direction = app.session.text_of("[data-testid=call-direction]").unwrap();
    assert!(direction.contains("Исходящий"), "{direction}");
    // Hand-typed, so unsigned: shown, and said to be unverified.
    let unverified = app
        .session
        .text_of("[data-testid=call-unverified]")
        .unwrap();
    assert!(unverified.contains("Непроверенная ссылка"), "{unverified}");
    app.screenshot("call-from-deep-link-ru-dark");

    // Another unsigned link may not change the call it names: refused visibly.
    let opened = app
        .command("gio")
        .args([
            "open",
            "callcompanion://call-card?CALL_ID=e2e-link-1&PHONE_NUMBER=%2B74951112233&CALL_STATE=idle",
        ])
        .output()
        .unwrap();
    assert!(opened.status.success(), "{}", output_text(&opened));
    let banner = wait_for_text(&app, "[data-testid=rejection]", |t| {
        t.contains("link_unverified")
    });
    assert!(banner.contains("link_unverified"), "{banner}");
    let state = app.session.text_of("[data-testid=call-state]").unwrap();
    assert!(
        !state.contains("Не активен"),
        "the call did not change: {state}"
    );
    assert_eq!(
        std::fs::read_to_string(&prefs).unwrap(),
        "{damaged while running",
        "the second launch touched the running app's files"
    );

    // A malformed link is refused visibly, and the call on screen stays.
    let opened = app
        .command("gio")
        .args(["open", "callcompanion://call-card?PHONE_NUMBER=%2B7000"])
        .output()
        .unwrap();
    assert!(opened.status.success(), "{}", output_text(&opened));
    let banner = wait_for_text(&app, "[data-testid=rejection]", |t| t.contains("CALL_ID"));
    assert!(banner.contains("CALL_ID"), "{banner}");
    assert_eq!(
        app.session.text_of("[data-testid=call-number]").unwrap(),
        "+7 495 111-22-33"
    );
}

#[test]
fn the_window_speaks_the_portals_language_unless_the_agent_chose_one() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let app = RunningApp::start(&["--theme", "light"]);
    app.session
        .wait_for("[data-testid=waiting]", Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        app.session.text_of("[data-testid=waiting] h1").unwrap(),
        "Waiting for a call"
    );
    // The scenario's portal says LANG=ru.
    let port = app.listen_port.to_string();
    let sent = app.cli(&[
        "simulate",
        "--scenario",
        "incoming-contact",
        "--port",
        &port,
    ]);
    assert!(sent.status.success(), "{}", output_text(&sent));
    let direction = wait_for_text(&app, "[data-testid=call-direction]", |t| {
        t.contains("Входящий")
    });
    assert!(direction.contains("Входящий"), "{direction}");
    // The agent prefers English: Settings wins over the portal.
    app.click("settings-toggle");
    app.session
        .execute("const s = document.querySelector('[data-testid=pref-language]'); s.value = 'en'; s.dispatchEvent(new Event('change', {bubbles: true}));")
        .unwrap();
    let heading = wait_for_text(&app, "#window-heading", |t| {
        t.eq_ignore_ascii_case("window")
    });
    assert!(heading.eq_ignore_ascii_case("window"), "{heading}");
}

#[test]
fn the_window_comes_back_where_the_agent_left_it() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let home = crate::support::driver::AppHome::new();
    let moved = {
        let app = RunningApp::start_in(&home, &["--lang", "en"]);
        app.session
            .wait_for("[data-testid=waiting]", Duration::from_secs(30))
            .unwrap();
        app.session.set_window_rect(230, 140, 520, 640).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let state = home
            .path()
            .join("config")
            .join(companion::app::IDENTIFIER)
            .join(".window-state.json");
        while !std::fs::read_to_string(&state)
            .unwrap_or_default()
            .contains("520")
        {
            if Instant::now() >= deadline {
                panic!(
                    "the window's place was not saved: rect {:?}, state {:?}\nlog:\n{}",
                    app.session.window_rect(),
                    std::fs::read_to_string(&state),
                    home.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        app.session.window_rect().unwrap()
    };
    let app = RunningApp::start_in(&home, &["--lang", "en"]);
    app.session
        .wait_for("[data-testid=waiting]", Duration::from_secs(30))
        .unwrap();
    let back = app.session.window_rect().unwrap();
    for key in ["x", "y", "width", "height"] {
        let (a, b) = (moved[key].as_f64().unwrap(), back[key].as_f64().unwrap());
        assert!(
            (a - b).abs() <= 2.0,
            "{key}: left at {a}, came back at {b} ({moved} vs {back})"
        );
    }
}

#[test]
fn damaged_settings_files_are_set_aside_and_the_window_says_so() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let home = crate::support::driver::AppHome::new();
    let config = home.path().join("config").join(companion::app::IDENTIFIER);
    let data = home.path().join("data").join(companion::app::IDENTIFIER);
    std::fs::create_dir_all(&config).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let damaged: [(&std::path::Path, &str, &[u8]); 4] = [
        (&config, "window.json", b"{\"compact\": tru"),
        (&config, "portal.json", b"{\"base\": 1}"),
        (&data, "recent-calls.json", b"[{\"context\": "),
        (
            &data,
            "notes.sqlite3",
            b"not a database; maybe the only copy of a note",
        ),
    ];
    for (dir, name, bytes) in damaged {
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    let app = RunningApp::start_in(&home, &["--lang", "en", "--theme", "light"]);
    app.session
        .wait_for("[data-testid=startup-notices]", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", home.log_text()));
    let notices = app
        .session
        .text_of("[data-testid=startup-notices]")
        .unwrap();
    assert!(
        notices.contains("The window settings could not be read"),
        "{notices}"
    );
    assert!(notices.contains("The notes file was damaged"), "{notices}");
    // The sentences for IT, with the kept files' paths, open under "Details for IT".
    let details = app
        .session
        .execute(
            "return Array.from(document.querySelectorAll('[data-testid=startup-notices] li')).map(li => li.dataset.code + ': ' + li.querySelector('details p').textContent).join('\\n')",
        )
        .unwrap();
    let details = details.as_str().unwrap_or_default().to_owned();
    for expected in [
        "prefs_invalid: ",
        "window.json.corrupt-",
        "recent_calls_unreadable: ",
        "recent-calls.json.corrupt-",
        "notes_damaged: ",
        "notes.sqlite3.damaged-",
    ] {
        assert!(
            details.contains(expected),
            "{expected} missing from the notices: {details}"
        );
    }
    // The portal's own settings: the sign-in is asked for again, with the reason.
    let portal = wait_for_text(&app, "[data-testid=status-portal]", |t| {
        t.contains("portal.json")
    });
    assert!(portal.contains("sign in again"), "{portal}");
    app.screenshot("startup-notices");

    // Every damaged file is still there, byte for byte, beside the fresh one.
    for (dir, name, bytes) in damaged {
        let kept: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let file = p.file_name().unwrap().to_string_lossy().into_owned();
                file.starts_with(&format!("{name}.corrupt-"))
                    || file.starts_with(&format!("{name}.damaged-"))
            })
            .collect();
        assert_eq!(kept.len(), 1, "{name}: {kept:?}");
        assert_eq!(
            std::fs::read(&kept[0]).unwrap(),
            bytes,
            "{name} kept as it was"
        );
    }
    let log = home.log_text();
    for code in [
        "prefs_invalid",
        "recent_calls_unreadable",
        "notes_damaged",
        "settings_invalid",
    ] {
        assert!(log.contains(code), "{code} not logged:\n{log}");
    }

    app.session
        .click("[data-testid=startup-notices] button")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let gone = "return document.querySelector('[data-testid=startup-notices]') === null";
    while app.session.execute(gone).unwrap() != serde_json::json!(true) {
        assert!(Instant::now() < deadline, "the notices stay after Dismiss");
        std::thread::sleep(Duration::from_millis(100));
    }
}
