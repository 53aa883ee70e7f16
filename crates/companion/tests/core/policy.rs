//! The machine-wide policy: precedence, locking and bad files.

use companion::cli::Cli;
use companion::language::LanguageChoice;
use companion::policy::{self, resolve, Policy, Source};

const GOOD: &str = r#"
# Sales floor, building 2
[defaults]
listen_port = 47700
phone_region = "KZ"
language = "ru"

[locked]
allowed_origins = ["https://intranet.example.com"]
log_level = "debug"
allow_mock = false
"#;

#[test]
fn locked_beats_the_agent_beats_a_default_beats_the_built_in() {
    assert_eq!(resolve(Some(1), Some(2), Some(3), 4).source, Source::Locked);
    assert_eq!(resolve(Some(1), Some(2), Some(3), 4).value, 1);
    assert_eq!(resolve(None, Some(2), Some(3), 4).source, Source::User);
    assert_eq!(resolve(None::<u8>, None, Some(3), 4).value, 3);
    assert_eq!(resolve(None::<u8>, None, None, 4).source, Source::BuiltIn);
}

fn apply(args: &[&str], policy: &Policy) -> (Cli, Result<Vec<String>, String>) {
    let (mut cli, given) =
        Cli::try_parse_with_given(std::iter::once("call-companion").chain(args.iter().copied()))
            .unwrap();
    let result = policy::apply_to_cli(&mut cli, |id| given.iter().any(|g| g == id), policy)
        .map(|applied| applied.notices);
    (cli, result)
}

#[test]
fn the_command_line_is_the_agents_setting_and_a_lock_overrides_it() {
    let policy = policy::parse(GOOD, "policy.toml").unwrap();
    // Nothing given: defaults and locks apply.
    let (cli, notices) = apply(&[], &policy);
    assert_eq!(notices.unwrap(), Vec::<String>::new());
    assert_eq!(cli.listen_port, 47700);
    assert_eq!(cli.phone_region, "KZ");
    assert_eq!(cli.lang, LanguageChoice::Ru);
    assert_eq!(cli.allowed_origins, ["https://intranet.example.com"]);
    assert_eq!(cli.log_level, "debug");

    // The agent's flags beat defaults; a lock beats the agent, and says so.
    let (cli, notices) = apply(
        &[
            "--listen-port",
            "47800",
            "--lang",
            "en",
            "--log-level",
            "trace",
            "--allow-origin",
            "https://evil.example",
        ],
        &policy,
    );
    let notices = notices.unwrap();
    assert_eq!((cli.listen_port, cli.lang), (47800, LanguageChoice::En));
    assert_eq!(cli.log_level, "debug");
    assert_eq!(cli.allowed_origins, ["https://intranet.example.com"]);
    assert!(
        notices
            .iter()
            .any(|n| n.contains("--log-level trace is ignored")),
        "{notices:?}"
    );
    assert!(
        notices.iter().any(|n| n.contains("--allow-origin")),
        "{notices:?}"
    );

    // Mock mode is refused with a reason when the lock forbids it.
    let (_, refused) = apply(&["--mock"], &policy);
    assert!(refused.unwrap_err().contains("allow_mock = false"));
    let (cli, allowed) = apply(&["--mock"], &Policy::default());
    assert!(cli.mock && allowed.is_ok());
}

#[test]
fn a_bad_file_names_its_line_and_reason() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "[defaults]\nlisten_port = 47700\nfavourite_colour = \"red\"\n",
            3,
            "unknown field `favourite_colour`",
        ),
        ("[defaults]\nlisten_port = \"high\"\n", 2, "invalid type"),
        ("[defaults\nlisten_port = 1\n", 1, ""),
        (
            "[lockd]\nlog_level = \"info\"\n",
            1,
            "unknown field `lockd`",
        ),
        ("[locked]\n\nlog_level = \"loud\"\n", 3, "log_level"),
        ("[defaults]\nphone_region = \"Russia\"\n", 2, "two-letter"),
        ("[defaults]\noutcomes = []\n", 2, "name 1 to 9 outcomes"),
        (
            "[locked]\noutcomes = [\"Sale\", \"Sale\"]\n",
            2,
            "named twice",
        ),
        ("[locked]\noutcomes = [\"[Sale]\"]\n", 2, "may not contain"),
        (
            "[locked]\noauth_redirect = \"http://widgets.example/relay/signed-in.html\"\n",
            2,
            "not an https address",
        ),
        (
            "[locked]\nallowed_origins = [\"https://ok.example\", \"intranet/relay\"]\n",
            2,
            "must start with https://",
        ),
        (
            "[defaults]\nallow_mock = true\n",
            2,
            "put it under [locked]",
        ),
        (
            "[locked]\nlog_level = \"info\"\nportal = \"not a portal\"\n",
            3,
            "portal",
        ),
    ];
    for (text, line, reason) in cases {
        let error = policy::parse(text, "policy.toml").unwrap_err();
        let policy::PolicyError::Invalid {
            line: got,
            reason: why,
            ..
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(
            (*got, why.contains(reason)),
            (*line, true),
            "{text:?} -> {error}"
        );
        assert_eq!(error.code(), "policy_invalid");
        assert!(
            error.to_string().contains(&format!("line {line}")),
            "{error}"
        );
    }
}

#[test]
fn a_missing_file_is_no_policy_and_an_unreadable_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(policy::load(&dir.path().join("none.toml")).unwrap(), None);
    // A directory where the file should be cannot be read as one.
    let error = policy::load(dir.path()).unwrap_err();
    assert_eq!(error.code(), "policy_unreadable");
    std::fs::write(dir.path().join("policy.toml"), GOOD).unwrap();
    let loaded = policy::load(&dir.path().join("policy.toml"))
        .unwrap()
        .unwrap();
    assert_eq!(loaded.locked.allow_mock, Some(false));
}

/// IT's machine policy is used only when only the administrator can have written it, and the
/// environment cannot set it aside.
#[test]
fn a_machine_policy_others_could_write_is_not_used_and_the_variable_cannot_replace_it() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("call-companion");
    std::fs::create_dir(&folder).unwrap();
    let file = folder.join("policy.toml");
    std::fs::write(&file, GOOD).unwrap();
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(&folder, 0o755);
    mode(&file, 0o644);
    // The tests' stand-in for root: whoever owns the files here.
    let owner = std::fs::metadata(&file).unwrap().uid();
    assert_eq!(policy::check_written_by(&file, owner), Ok(()));
    let refused = |why: &str| {
        let error = policy::check_written_by(&file, owner).unwrap_err();
        assert_eq!(error.code(), "policy_untrusted");
        assert!(error.to_string().contains(why), "{error}");
    };
    mode(&file, 0o664);
    refused("others may write the file (mode 664)");
    mode(&file, 0o644);
    mode(&folder, 0o777);
    refused("others may write the folder (mode 777)");
    mode(&folder, 0o755);
    let error = policy::check_written_by(&file, owner + 1).unwrap_err();
    assert!(
        error.to_string().contains("not the administrator"),
        "{error}"
    );
    assert_eq!(
        policy::check_written_by(&folder.join("none.toml"), owner),
        Ok(())
    );

    // The variable is for tests and unmanaged machines: a machine policy wins, and says so.
    let elsewhere = dir.path().join("mine.toml");
    let located = policy::locate_with(&file, Some(elsewhere.clone().into()));
    assert_eq!(
        (
            located.path.as_path(),
            located.machine,
            located.ignored_override
        ),
        (file.as_path(), true, Some(elsewhere.clone()))
    );
    let located = policy::locate_with(&folder.join("none.toml"), Some(elsewhere.clone().into()));
    assert_eq!((located.path, located.machine), (elsewhere, false));
    // Here the files are not root's (unless the tests run as root): a machine policy is refused.
    let located = policy::locate_with(&file, None);
    let loaded = policy::load_located(&located);
    if owner == 0 {
        assert!(loaded.unwrap().is_some());
    } else {
        assert_eq!(loaded.unwrap_err().code(), "policy_untrusted");
    }
}

#[test]
fn window_settings_start_from_presets_for_a_new_agent_and_locks_always_win() {
    use companion::prefs::WindowPrefs;
    let policy = policy::parse(
        "[defaults]\ncompact = true\nfocus_on_call = true\n\n[locked]\nalways_on_top = true\nlanguage = \"ru\"\n",
        "policy.toml",
    )
    .unwrap();
    let fresh = WindowPrefs::under_policy(None, &policy);
    assert!(fresh.compact && fresh.focus_on_call && fresh.always_on_top);
    assert_eq!(fresh.language, LanguageChoice::Ru);
    // An agent who chose keeps the choice, except what is locked.
    let chosen = WindowPrefs {
        compact: false,
        focus_on_call: false,
        always_on_top: false,
        ..WindowPrefs::default()
    };
    let kept = WindowPrefs::under_policy(Some(chosen), &policy);
    assert!(!kept.compact && !kept.focus_on_call && kept.always_on_top);
    assert_eq!(
        WindowPrefs::locked_names(&policy.locked),
        ["always_on_top", "language"]
    );
}

#[test]
fn the_sign_in_follows_the_policy_and_never_shows_its_secret() {
    use companion::portal::{OAuthForm, WebhookForm};
    let policy = policy::parse(
        "[defaults]\noauth_client_id = \"local.abc.123\"\noauth_client_secret = \"s3cr3t-from-it\"\n\n[locked]\nportal = \"acme.bitrix24.ru\"\nsign_in = \"oauth\"\n",
        "policy.toml",
    )
    .unwrap();
    let preset = policy.portal_preset();
    assert_eq!(preset.portal.as_deref(), Some("acme.bitrix24.ru"));
    assert!(preset.client_secret_preset);
    assert!(
        !serde_json::to_string(&preset).unwrap().contains("s3cr3t"),
        "the window never sees the secret"
    );
    assert_eq!(policy.locked_portal_keys(), ["portal", "sign_in"]);

    let typed = OAuthForm {
        portal: "other.bitrix24.ru".into(),
        client_id: "local.typed".into(),
        client_secret: String::new(),
        oauth_server: String::new(),
        session_only: false,
        redirect: String::new(),
    };
    let form = policy.oauth_form(typed.clone()).unwrap();
    assert_eq!(form.portal, "acme.bitrix24.ru", "locked: replaced");
    assert_eq!(
        form.client_id, "local.typed",
        "a default: the agent's value stays"
    );
    assert_eq!(
        form.client_secret, "s3cr3t-from-it",
        "an empty secret is filled from the policy"
    );
    let webhook = WebhookForm {
        url: "https://acme.bitrix24.ru/rest/1/abc/".into(),
        session_only: false,
    };
    assert_eq!(
        policy.webhook_allowed(&webhook).unwrap_err().code,
        "locked_by_policy"
    );

    let webhooks_only = policy::parse(
        "[locked]\nsign_in = \"webhook\"\nportal = \"acme.bitrix24.ru\"\n",
        "p",
    )
    .unwrap();
    assert_eq!(
        webhooks_only.oauth_form(typed).unwrap_err().code,
        "locked_by_policy"
    );
    assert!(webhooks_only.webhook_allowed(&webhook).is_ok());
    let elsewhere = WebhookForm {
        url: "https://evil.example/rest/1/abc/".into(),
        session_only: false,
    };
    assert!(webhooks_only
        .webhook_allowed(&elsewhere)
        .unwrap_err()
        .message
        .contains("acme.bitrix24.ru"));
}

/// `oauth_server` and `oauth_redirect` are policy keys like the others: locked, each replaces
/// what the agent typed and is named as locked; as a default, it fills an empty field only.
/// Unset, the form stays empty (the portal names its region's server; the redirect is this
/// computer's listener).
#[test]
fn the_oauth_server_and_redirect_are_locked_or_preset_like_any_key() {
    use companion::portal::OAuthForm;
    type Field = fn(&mut OAuthForm) -> &mut String;
    type Preset = fn(&policy::PortalPreset) -> bool;
    let keys: [(&str, Field, Preset); 2] = [
        (
            "oauth_server",
            |f| &mut f.oauth_server,
            |p| p.oauth_server.is_some(),
        ),
        (
            "oauth_redirect",
            |f| &mut f.redirect,
            |p| p.oauth_redirect.is_some(),
        ),
    ];
    for (key, field, preset_of) in keys {
        let typed = |value: &str| {
            let mut form = OAuthForm {
                portal: "acme.bitrix24.ru".into(),
                client_id: "local.abc".into(),
                client_secret: "s".into(),
                oauth_server: String::new(),
                session_only: false,
                redirect: String::new(),
            };
            *field(&mut form) = value.into();
            form
        };
        let cases = [
            (
                "locked",
                "https://agent.example",
                "https://it.example",
                true,
            ),
            ("defaults", "", "https://it.example", false),
            (
                "defaults",
                "https://agent.example",
                "https://agent.example",
                false,
            ),
            ("", "", "", false),
        ];
        for (table, agent, expected, locked) in cases {
            let text = match table {
                "" => String::new(),
                table => format!("[{table}]\n{key} = \"https://it.example\"\n"),
            };
            let policy = policy::parse(&text, "policy.toml").unwrap();
            let mut form = policy.oauth_form(typed(agent)).unwrap();
            assert_eq!(field(&mut form), expected, "{text}");
            assert_eq!(
                policy.locked_portal_keys().contains(&key.to_owned()),
                locked,
                "{text}"
            );
            assert_eq!(
                preset_of(&policy.portal_preset()),
                !text.is_empty(),
                "the window shows IT's: {text}"
            );
        }
    }
}

/// Zero-touch sign-in needs the portal and IT's application keys, and is off where IT requires a
/// webhook or declared a shared computer (the relay's sign-in page as the redirect): there the
/// first call card reaching a session with no sign-in may be a colleague's.
#[test]
fn zero_touch_needs_the_application_and_is_off_on_shared_computers() {
    let keys = "portal = \"acme.bitrix24.ru\"\noauth_client_id = \"local.abc\"\noauth_client_secret = \"s\"\n";
    let cases = [
        (format!("[locked]\n{keys}"), true),
        (format!("[defaults]\n{keys}"), true),
        ("[locked]\nportal = \"acme.bitrix24.ru\"\n".to_owned(), false),
        (format!("[locked]\n{keys}sign_in = \"webhook\"\n"), false),
        (
            format!("[locked]\n{keys}oauth_redirect = \"https://w.example/relay/signed-in.html\"\n"),
            false,
        ),
        (
            format!("[locked]\n{keys}[defaults]\noauth_redirect = \"https://w.example/relay/signed-in.html\"\n"),
            false,
        ),
    ];
    for (text, zero_touch) in cases {
        let policy = policy::parse(&text, "policy.toml").unwrap();
        assert_eq!(policy.call_card_sign_in().is_some(), zero_touch, "{text}");
    }
}
