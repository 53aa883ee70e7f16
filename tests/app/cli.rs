use std::process::Command;

fn app() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_call-companion"));
    let home = tempfile::tempdir().unwrap().keep();
    cmd.env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"));
    cmd
}

#[test]
fn version_works_without_a_display() {
    let out = app().arg("--version").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("call-companion {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_works_without_a_display() {
    let out = app().arg("--help").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Usage: call-companion") && text.contains("--theme"),
        "{text}"
    );
}

#[test]
fn no_display_is_a_clear_error_not_a_panic() {
    let out = app().output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no display to open the Call Companion window on"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A data folder that is a link (planted by someone on a shared machine) is refused before
/// anything is written through it.
#[test]
fn a_data_folder_that_is_a_link_is_refused_and_nothing_is_written_there() {
    let home = tempfile::tempdir().unwrap();
    let elsewhere = home.path().join("someone-elses");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(home.path().join("data")).unwrap();
    std::os::unix::fs::symlink(
        &elsewhere,
        home.path().join("data").join(companion::app::IDENTIFIER),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_call-companion"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(73), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing the folder") && stderr.contains("not a folder of its own"),
        "{stderr}"
    );
    let written: Vec<_> = std::fs::read_dir(&elsewhere).unwrap().flatten().collect();
    assert!(written.is_empty(), "{written:?}");
}

#[test]
fn unreachable_display_is_a_clear_error_not_a_panic() {
    let out = app().env("DISPLAY", ":9471").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the display \":9471\""),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked at"), "{stderr}");
}

#[test]
fn bad_flag_is_a_usage_error() {
    let out = app().args(["--theme", "purple"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("purple"));
}

#[test]
fn portal_sim_runs_without_a_display_and_says_how_to_get_in() {
    let (mut child, endpoints, line) = portal_sim(&["--seed", "3"]);
    let webhook = endpoints["webhook_url"].as_str().unwrap().to_owned();
    let answer = ureq::get(&format!("{webhook}user.current")).call();
    let _ = child.kill();
    let _ = child.wait();
    let user: serde_json::Value = answer.unwrap().into_json().unwrap();
    assert_eq!(user["result"]["ID"], "1");
    for key in ["base_url", "client_id", "client_secret", "oauth_url"] {
        assert!(
            endpoints[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}: {line}"
        );
    }
}

/// Behind a TLS proxy the simulator names the proxy's address, and its call-card page POSTs
/// the portal's form, with a fresh token, to the handler it is given.
#[test]
fn portal_sim_public_url_and_its_call_card_page() {
    let port = crate::support::free_port().to_string();
    let (mut child, endpoints, line) =
        portal_sim(&["--port", &port, "--public-url", "https://portal.test:18443"]);
    let page = ureq::get(&format!(
        "http://127.0.0.1:{port}/sim/call-card?scenario=incoming-contact&handler=http%3A%2F%2F127.0.0.1%3A47600%2Fcall-card%2F"
    ))
    .call()
    .map(|r| r.into_string().unwrap());
    let nothing_bound = ureq::get(&format!(
        "http://127.0.0.1:{port}/sim/call-card?scenario=lead"
    ))
    .call();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(endpoints["base_url"], "https://portal.test:18443", "{line}");
    assert!(endpoints["webhook_url"]
        .as_str()
        .unwrap()
        .starts_with("https://portal.test:18443/rest/1/"));
    let page = page.unwrap();
    assert!(
        page.contains("action=\"http://127.0.0.1:47600/call-card/?DOMAIN=portal.test%3A18443&amp;PROTOCOL=1&amp;LANG=ru&amp;APP_SID="),
        "{page}"
    );
    for field in ["AUTH_ID", "REFRESH_ID", "member_id", "PLACEMENT_OPTIONS"] {
        assert!(page.contains(&format!("name=\"{field}\"")), "{field}");
    }
    assert!(
        page.contains("name=\"portal.test:18443|1|"),
        "the iframe's name carries the portal"
    );
    match nothing_bound {
        Err(ureq::Error::Status(404, answer)) => {
            assert!(answer
                .into_string()
                .unwrap()
                .contains("install-widget --direct"))
        }
        other => panic!("with no CALL_CARD handler bound: {other:?}"),
    }
}

/// `call-companion portal-sim --json ARGS`, running, and the line it printed.
fn portal_sim(args: &[&str]) -> (std::process::Child, serde_json::Value, String) {
    use std::io::BufRead;
    let mut child = app()
        .args(["portal-sim", "--json"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoints = serde_json::from_str(&line).expect("one JSON line");
    (child, endpoints, line)
}

#[test]
fn portal_sim_refuses_a_bad_error_rate() {
    let out = app()
        .args(["portal-sim", "--error-rate", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// `portal install-widget / status / uninstall-widget` against the simulator, signed in as its
/// administrator with the Bitrix24 application, as IT would run them.
#[test]
fn portal_commands_install_list_and_remove_the_widget() {
    use crate::support::driver::AppHome;

    let sim = portal_sim::Simulator::start(portal_sim::SimConfig::default()).unwrap();
    let home = AppHome::new();
    let run = |args: &[&str]| {
        let out = app_in(&home).args(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let (code, text) = run(&["portal", "status"]);
    assert_eq!(code, Some(77), "{text}");
    assert!(text.contains("not signed in"), "{text}");

    sign_in_as_administrator(&home, &sim);
    let (code, text) = run(&["portal", "status"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("No widget is bound"), "{text}");
    let handler = "https://intranet.example.com/call-companion/relay/";
    let (code, text) = run(&["portal", "install-widget", "--handler", handler]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run(&["portal", "status"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(handler)
            && text.contains("en: Call Companion")
            && text.contains("ru: Call Companion"),
        "{text}"
    );
    let (code, text) = run(&["portal", "install-widget", "--handler", handler]);
    assert_eq!(code, Some(77), "{text}");
    assert!(text.contains("already bound"), "{text}");
    let (code, text) = run(&[
        "portal",
        "install-widget",
        "--handler",
        "http://intranet.example.com/",
    ]);
    assert_eq!(code, Some(2), "{text}");
    let (code, text) = run(&["portal", "install-widget"]);
    assert_eq!(code, Some(2), "--direct or --handler is required: {text}");
    // The app's own tab, at the listener's port as IT set it.
    let out = app_in(&home)
        .env("CALL_COMPANION_PORT", "47611")
        .args(["portal", "install-widget", "--direct"])
        .output()
        .unwrap();
    let (code, text) = (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("http://127.0.0.1:47611/call-card/"), "{text}");
    assert!(
        text.contains("LoopbackNetworkAllowedForUrls"),
        "says what browsers need: {text}"
    );
    let (_, text) = run(&["portal", "status"]);
    assert!(text.contains("http://127.0.0.1:47611/call-card/"), "{text}");
    let (code, text) = run(&["portal", "uninstall-widget"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Removed 2"), "{text}");
    let (_, text) = run(&["portal", "status"]);
    assert!(text.contains("No widget is bound"), "{text}");
    // The refused second install reached the portal; the bad addresses never did.
    assert_eq!(sim.stats().calls_by_method.get("placement.bind"), Some(&3));
}

/// A portal that refuses a handler on the agent's computer (as a cloud portal may): the command
/// says so plainly and names what still works.
#[test]
fn install_widget_direct_on_a_portal_that_refuses_it_names_the_transports_that_remain() {
    use crate::support::driver::AppHome;

    let sim = portal_sim::Simulator::start(portal_sim::SimConfig {
        refuse_loopback_handlers: true,
        ..Default::default()
    })
    .unwrap();
    let home = AppHome::new();
    sign_in_as_administrator(&home, &sim);
    let out = app_in(&home)
        .args(["portal", "install-widget", "--direct"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{text}");
    assert!(
        text.contains("refused http://127.0.0.1:47600/call-card/"),
        "{text}"
    );
    assert!(text.contains("ERROR_WRONG_HANDLER_URL"), "{text}");
    assert!(
        text.contains("--handler") && text.contains("Open in Call Companion"),
        "names what remains: {text}"
    );
}

/// Signed in as the app would be after Settings → Sign in (administrator, OAuth).
fn sign_in_as_administrator(home: &crate::support::driver::AppHome, sim: &portal_sim::Simulator) {
    use companion::portal::settings::SettingsFile;
    use companion::portal::vault::Vault;
    use companion::portal::{OAuthForm, PortalDesk};
    let desk = PortalDesk::new(
        Vault::new(home.keyring()),
        SettingsFile::new(
            home.path()
                .join("config")
                .join(companion::app::IDENTIFIER)
                .join("portal.json"),
        ),
    );
    let endpoints = sim.endpoints();
    let url = desk
        .begin_oauth(&OAuthForm {
            portal: endpoints.base_url.clone(),
            client_id: endpoints.client_id.clone(),
            client_secret: endpoints.client_secret.clone(),
            oauth_server: endpoints.oauth_url.clone(),
            session_only: false,
            redirect: String::new(),
        })
        .unwrap();
    let redirect = ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .get(&url)
        .call()
        .unwrap();
    let query = redirect
        .header("location")
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_owned();
    assert!(desk.complete_oauth(&query).ok);
}

/// The binary with the folders and keyring service of `home`.
fn app_in(home: &crate::support::driver::AppHome) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_call-companion"));
    cmd.env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env("CALL_COMPANION_KEYRING_SERVICE", &home.keyring_service);
    cmd
}

#[test]
fn policy_check_validates_a_file_and_a_lock_forbids_mock_mode() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("policy.toml");
    std::fs::write(
        &good,
        "[defaults]\nlisten_port = 47700\n\n[locked]\nallow_mock = false\nlog_level = \"info\"\n",
    )
    .unwrap();
    let out = app().args(["policy", "check"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("valid (1 preset, 2 locked)"),
        "{out:?}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[locked]\nallow_mock = false\nlistenport = 1\n").unwrap();
    let out = app().args(["policy", "check"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("unknown field `listenport`"),
        "{stderr}"
    );
    let out = app()
        .args(["policy", "check"])
        .arg(dir.path().join("none.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(66), "{out:?}");

    // The deployed policy locks mock mode off: --mock is refused before anything starts.
    let out = app()
        .env("CALL_COMPANION_POLICY", &good)
        .arg("--mock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mock mode is turned off"),
        "{out:?}"
    );
    // And so is the simulator it would use (refused at once; a simulator that started is killed).
    let mut sim = app()
        .env("CALL_COMPANION_POLICY", &good)
        .args(["portal-sim", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sim.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = sim.kill();
    let out = sim.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("portal simulator is turned off"),
        "{out:?}"
    );
    // A broken policy is ignored whole with a warning naming the line; the app goes on.
    let out = app()
        .env("CALL_COMPANION_POLICY", &bad)
        .args(["portal", "status"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("starting without the policy"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not signed in"),
        "it went on to the command: {stderr}"
    );
}

/// The diagnostics archive: everything support needs, and not one of the secrets this install
/// holds (looked up from the real keyring and searched for in every file of the archive).
#[test]
fn diagnostics_archive_holds_logs_settings_and_status_and_no_secret() {
    use std::io::Read;

    let sim = portal_sim::Simulator::start(portal_sim::SimConfig::default()).unwrap();
    let home = crate::support::driver::AppHome::new();
    let endpoints = sim.endpoints();
    home.sign_in_with_webhook(&endpoints.base_url, &endpoints.webhook_url);
    let pairing = home
        .keyring()
        .rotate_pairing_token()
        .unwrap()
        .expose()
        .to_owned();
    let webhook_secret = endpoints
        .webhook_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // A log as a careless build might have written it.
    let logs = home
        .path()
        .join("data")
        .join(companion::app::IDENTIFIER)
        .join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // Yesterday's file: today's is the one the command itself writes to.
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    let planted = companion::log_files::file_name("call-companion", days as u32 - 1, 0);
    std::fs::write(
        logs.join(&planted),
        format!(
            "INFO call from +7 (900) 123-45-67\nDEBUG posting to {}\nDEBUG Authorization: Bearer {pairing}\nWARN secret {webhook_secret}\n",
            endpoints.webhook_url
        ),
    )
    .unwrap();

    let out = home.path().join("diagnostics.zip");
    let policy = home.path().join("policy.toml");
    std::fs::write(&policy, "[locked]\nlog_level = \"debug\"\n").unwrap();
    let run = app_in(&home)
        .env("CALL_COMPANION_POLICY", &policy)
        .args(["diagnostics", "--log-level", "trace", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");

    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut files = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        files.insert(file.name().to_owned(), text);
    }
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    for name in ["README.txt", "settings.txt", "status.txt", "versions.txt"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let planted_entry = format!("logs/{planted}");
    assert!(names.contains(&planted_entry.as_str()), "{names:?}");
    for (name, text) in &files {
        for secret in [&pairing, &webhook_secret, &endpoints.webhook_url] {
            assert!(
                !text.contains(secret.as_str()),
                "{name} holds a secret:\n{text}"
            );
        }
        assert!(
            !text.contains("123-45-67"),
            "{name} holds a phone number:\n{text}"
        );
    }
    let settings = &files["settings.txt"];
    assert!(
        settings.contains("log_level = debug (Locked)"),
        "{settings}"
    );
    assert!(settings.contains("policy: in use"), "{settings}");
    assert!(
        settings.contains("listen_port = 47600 (BuiltIn)"),
        "{settings}"
    );
    assert!(
        settings.contains("phone_region = RU (BuiltIn)"),
        "{settings}"
    );
    let status = &files["status.txt"];
    assert!(
        status.contains("not answering") && status.contains("\"state\":\"connected\""),
        "{status}"
    );
    assert!(files[&planted_entry].contains("[phone …67]"));
    // The planted log is not the app's: the suite's own no-secret-in-logs check must not see it.
    std::fs::remove_file(logs.join(&planted)).unwrap();
}
