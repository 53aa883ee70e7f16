//! Signing in to the portal simulator with the real OS keyring.

use companion::portal::settings::SettingsFile;
use companion::portal::vault::{self, Vault};
use companion::portal::{OAuthForm, PortalDesk, WebhookForm};
use companion::rt::Wait;
use companion::secrets::Keyring;
use companion::status::{PortalAction, PortalStatus, SignInMethod};
use portal_sim::{SimConfig, Simulator};

use crate::secrets::unique_service;

pub(crate) struct Setup {
    pub(crate) sim: Simulator,
    service: String,
    pub(crate) dir: tempfile::TempDir,
}

impl Setup {
    pub(crate) fn new() -> Setup {
        Setup::with(SimConfig::default())
    }

    pub(crate) fn with(config: SimConfig) -> Setup {
        Setup {
            sim: Simulator::start(config).unwrap(),
            service: unique_service(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A desk that reaches Bitrix24's OAuth servers at the simulator, as the sign-in redirect's
    /// `server_domain` names them (the form names none).
    pub(crate) fn regional_desk(&self) -> PortalDesk {
        self.desk().with_oauth_stand_in(&self.sim.base_url())
    }

    /// The form without an OAuth server: the portal names it.
    pub(crate) fn regional_form(&self) -> OAuthForm {
        OAuthForm {
            oauth_server: String::new(),
            ..self.form(false)
        }
    }

    /// A desk as the app builds it at start-up (same keyring service, same settings file).
    pub(crate) fn desk(&self) -> PortalDesk {
        PortalDesk::new(
            Vault::new(Keyring::new(self.service.clone())),
            SettingsFile::new(self.dir.path().join("portal.json")),
        )
    }

    pub(crate) fn keyring(&self) -> Keyring {
        Keyring::new(self.service.clone())
    }

    pub(crate) fn form(&self, session_only: bool) -> OAuthForm {
        let endpoints = self.sim.endpoints();
        OAuthForm {
            portal: endpoints.base_url.clone(),
            client_id: endpoints.client_id,
            client_secret: endpoints.client_secret,
            oauth_server: endpoints.oauth_url,
            session_only,
            redirect: String::new(),
        }
    }
}

/// The agent's browser: the portal's sign-in page redirects to the app with a code; returns the
/// query the app's listener would receive.
pub(crate) fn browse(url: &str) -> String {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let answer = agent.get(url).call().unwrap();
    assert_eq!(answer.status(), 302);
    answer
        .header("location")
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_owned()
}

#[test]
fn oauth_sign_in_survives_a_restart_and_sign_out_forgets_it() {
    let setup = Setup::new();
    let desk = setup.desk();
    assert_eq!(desk.status(), PortalStatus::NotConfigured);
    let url = desk.begin_oauth(&setup.form(false)).unwrap();
    assert!(matches!(desk.status(), PortalStatus::SigningIn { .. }));
    let page = desk.complete_oauth(&browse(&url));
    assert!(page.ok, "{page:?}");
    assert!(page.message.contains("Анна Смирнова"), "{page:?}");
    let PortalStatus::Connected {
        user_name,
        method,
        session_only,
        ..
    } = desk.status()
    else {
        panic!("{:?}", desk.status())
    };
    assert_eq!(
        (user_name.as_str(), method, session_only),
        ("Анна Смирнова", SignInMethod::Oauth, false)
    );
    assert!(desk.client().is_some());
    for account in [vault::OAUTH_TOKENS, vault::CLIENT_SECRET] {
        assert!(
            setup.keyring().has(account).unwrap(),
            "{account} is in the keyring"
        );
    }
    let settings = std::fs::read_to_string(setup.dir.path().join("portal.json")).unwrap();
    assert!(
        !settings.contains(&setup.sim.endpoints().client_secret),
        "no secret in the settings file: {settings}"
    );
    assert!(!settings.contains("token"), "{settings}");

    let restarted = setup.desk();
    assert!(matches!(
        restarted.status(),
        PortalStatus::Connecting { .. }
    ));
    restarted.restore();
    assert!(
        matches!(restarted.status(), PortalStatus::Connected { .. }),
        "{:?}",
        restarted.status()
    );
    assert_eq!(
        setup.sim.stats().code_exchanges,
        1,
        "the restart used the saved tokens"
    );

    restarted.sign_out().unwrap();
    assert_eq!(restarted.status(), PortalStatus::NotConfigured);
    for account in vault::ALL {
        assert!(!setup.keyring().has(account).unwrap(), "{account} removed");
    }
    assert!(!setup.dir.path().join("portal.json").exists());
    let after = setup.desk();
    after.restore();
    assert_eq!(after.status(), PortalStatus::NotConfigured);
}

#[test]
fn a_callback_with_a_foreign_state_is_refused_and_the_sign_in_stays_open() {
    let setup = Setup::new();
    let desk = setup.desk();
    let url = desk.begin_oauth(&setup.form(false)).unwrap();
    let query = browse(&url);
    let forged = query.replace("state=", "state=x");
    assert!(!desk.complete_oauth(&forged).ok);
    assert!(matches!(desk.status(), PortalStatus::SigningIn { .. }));
    assert!(desk.complete_oauth(&query).ok, "the real one still works");
}

#[test]
fn a_used_code_fails_with_sign_in_again() {
    let setup = Setup::new();
    let desk = setup.desk();
    let url = desk.begin_oauth(&setup.form(false)).unwrap();
    let query = browse(&url);
    assert!(desk.complete_oauth(&query).ok);
    let url = desk.begin_oauth(&setup.form(false)).unwrap();
    let state = url.split("state=").nth(1).unwrap().to_owned();
    let old_state = query.split('&').find(|p| p.starts_with("state=")).unwrap();
    let page = desk.complete_oauth(&query.replace(old_state, &format!("state={state}")));
    assert!(!page.ok);
    let PortalStatus::Failed { code, action, .. } = desk.status() else {
        panic!()
    };
    assert_eq!(
        (code.as_str(), action),
        ("oauth_invalid_grant", PortalAction::SignIn)
    );
}

#[test]
fn webhook_sign_in_checks_the_url_and_keeps_it_in_the_keyring_only() {
    let setup = Setup::new();
    let desk = setup.desk();
    let bad = desk
        .sign_in_webhook(&WebhookForm {
            url: "https://acme.bitrix24.ru/rest/".into(),
            session_only: false,
        })
        .unwrap_err();
    assert_eq!(bad.code(), "bad_webhook_url");
    let wrong = format!("{}/rest/1/0123456789abcdef/", setup.sim.base_url());
    assert_eq!(
        desk.sign_in_webhook(&WebhookForm {
            url: wrong,
            session_only: false
        })
        .unwrap_err()
        .code(),
        // `403 INVALID_CREDENTIALS` (`_includes/system-errors.md`): a wrong webhook.
        "invalid_credentials"
    );
    let url = setup.sim.endpoints().webhook_url;
    let status = desk
        .sign_in_webhook(&WebhookForm {
            url: format!("{url}profile.json"),
            session_only: false,
        })
        .unwrap();
    assert!(matches!(
        status,
        PortalStatus::Connected {
            method: SignInMethod::Webhook,
            ..
        }
    ));
    assert!(setup.keyring().has(vault::WEBHOOK_URL).unwrap());
    let secret = url.trim_end_matches('/').rsplit('/').next().unwrap();
    let settings = std::fs::read_to_string(setup.dir.path().join("portal.json")).unwrap();
    assert!(!settings.contains(secret), "{settings}");
    let restarted = setup.desk();
    restarted.restore();
    assert!(matches!(restarted.status(), PortalStatus::Connected { .. }));
    restarted.sign_out().unwrap();
}

#[test]
fn a_session_only_sign_in_leaves_nothing_behind() {
    let setup = Setup::new();
    let desk = setup.desk();
    let url = desk.begin_oauth(&setup.form(true)).unwrap();
    assert!(desk.complete_oauth(&browse(&url)).ok);
    assert!(matches!(
        desk.status(),
        PortalStatus::Connected {
            session_only: true,
            ..
        }
    ));
    for account in vault::ALL {
        assert!(!setup.keyring().has(account).unwrap());
    }
    assert!(!setup.dir.path().join("portal.json").exists());
}

#[test]
fn form_mistakes_are_named() {
    let setup = Setup::new();
    let desk = setup.desk();
    let mut form = setup.form(false);
    form.client_secret.clear();
    assert_eq!(
        desk.begin_oauth(&form).unwrap_err().code(),
        "missing_app_keys"
    );
    form = setup.form(false);
    form.portal = "http://acme.bitrix24.ru".into();
    assert_eq!(
        desk.begin_oauth(&form).unwrap_err().code(),
        "bad_portal_address"
    );
}

/// The OAuth server is the portal's region's, named by the redirect's `server_domain`
/// (`settings/oauth/index.md`); the session keeps it across a restart and refreshes there.
#[test]
fn the_session_keeps_the_oauth_server_the_portal_named_and_refreshes_there() {
    for region in ["oauth.bitrix.info", "oauth.bitrix24.tech"] {
        let setup = Setup::with(SimConfig {
            oauth_server_domain: region.into(),
            ..SimConfig::default()
        });
        let desk = setup.regional_desk();
        let url = desk.begin_oauth(&setup.regional_form()).unwrap();
        let page = desk.complete_oauth(&browse(&url));
        assert!(page.ok, "{region}: {page:?}");
        assert!(
            matches!(
                desk.status(),
                PortalStatus::Connected {
                    app_installed: Some(true),
                    ..
                }
            ),
            "{:?}",
            desk.status()
        );
        let saved: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(setup.dir.path().join("portal.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(saved["oauth_server"], format!("https://{region}"));
        assert_eq!(saved["member_id"], setup.sim.member_id());

        // Refreshed at that server after a restart.
        let restarted = setup.regional_desk();
        restarted.restore();
        assert!(matches!(restarted.status(), PortalStatus::Connected { .. }));
        setup.sim.set_faults(portal_sim::Faults {
            expire_tokens: true,
            ..Default::default()
        });
        restarted
            .client()
            .unwrap()
            .call("user.current", serde_json::json!({}))
            .wait()
            .unwrap();
        assert_eq!(setup.sim.stats().refreshes, 1, "{region}");
        assert_eq!(setup.sim.stats().code_exchanges, 1);
    }
}

/// A redirect that is not the chosen portal's, or that names a server Bitrix24 does not run, is
/// refused with a clear status; nothing is kept, and an unknown server never gets the secret.
#[test]
fn a_redirect_for_another_portal_or_server_is_refused() {
    let cases: &[(&str, &str, Option<&str>, &str, PortalAction)] = &[
        (
            "another portal's domain",
            "domain",
            Some("other.bitrix24.ru"),
            "wrong_portal",
            PortalAction::SignIn,
        ),
        (
            "no member_id",
            "member_id",
            None,
            "wrong_portal",
            PortalAction::SignIn,
        ),
        (
            "another portal's member_id",
            "member_id",
            Some("0123456789abcdef0123456789abcdef"),
            "wrong_portal",
            PortalAction::SignIn,
        ),
        (
            "a server that is not Bitrix24's",
            "server_domain",
            Some("oauth.evil.example"),
            "unknown_oauth_server",
            PortalAction::AskAdmin,
        ),
        (
            "no server named",
            "server_domain",
            None,
            "unknown_oauth_server",
            PortalAction::AskAdmin,
        ),
    ];
    for (what, key, value, code, action) in cases {
        let setup = Setup::new();
        let desk = setup.regional_desk();
        let url = desk.begin_oauth(&setup.regional_form()).unwrap();
        let query: String = url::form_urlencoded::parse(browse(&url).as_bytes())
            .filter(|(k, _)| k != key)
            .chain(value.map(|v| (std::borrow::Cow::Borrowed(*key), v.into())))
            .fold(
                url::form_urlencoded::Serializer::new(String::new()),
                |mut q, (k, v)| {
                    q.append_pair(&k, &v);
                    q
                },
            )
            .finish();
        let page = desk.complete_oauth(&query);
        assert!(!page.ok, "{what}");
        let PortalStatus::Failed {
            code: got,
            action: got_action,
            message,
            ..
        } = desk.status()
        else {
            panic!("{what}: {:?}", desk.status())
        };
        assert_eq!(
            (got.as_str(), got_action),
            (*code, *action),
            "{what}: {message}"
        );
        assert!(page.message.contains(&message), "{what}: {page:?}");
        assert!(desk.client().is_none(), "{what}");
        assert!(!setup.dir.path().join("portal.json").exists(), "{what}");
        assert!(!setup.keyring().has(vault::OAUTH_TOKENS).unwrap(), "{what}");
        if *code == "unknown_oauth_server" {
            assert_eq!(
                setup.sim.stats().code_exchanges,
                0,
                "{what}: the secret stayed"
            );
        }
    }
}

/// The OAuth server's answer must name the chosen portal: a code another portal issued, carried
/// by a redirect that claims the chosen one, is refused by its `client_endpoint`.
#[test]
fn a_token_answer_for_another_portal_is_refused() {
    let twin = SimConfig {
        client_secret: "one-secret-for-both".into(),
        ..SimConfig::default()
    };
    let setup = Setup::with(twin.clone());
    let other = Simulator::start(twin).unwrap();
    assert_eq!(
        other.member_id(),
        setup.sim.member_id(),
        "same seed, same id"
    );
    // The other portal answers as the OAuth server, and signed the agent in.
    let desk = setup.desk().with_oauth_stand_in(&other.base_url());
    let url = desk.begin_oauth(&setup.regional_form()).unwrap();
    let state = url.split("state=").nth(1).unwrap();
    let other_url = bitrix::authorize_url(&other.base_url(), &other.endpoints().client_id, state);
    let chosen = setup.sim.base_url().split_once("://").unwrap().1.to_owned();
    let theirs = other.base_url().split_once("://").unwrap().1.to_owned();
    let query = browse(&other_url).replace(
        &format!("domain={}", theirs.replace(':', "%3A")),
        &format!("domain={}", chosen.replace(':', "%3A")),
    );
    assert!(query.contains(&chosen.replace(':', "%3A")), "{query}");
    let page = desk.complete_oauth(&query);
    assert!(!page.ok);
    let PortalStatus::Failed { code, message, .. } = desk.status() else {
        panic!("{:?}", desk.status())
    };
    assert_eq!(code, "wrong_portal");
    assert!(message.contains("client_endpoint"), "{message}");
    assert!(desk.client().is_none());
}

/// `app.info`'s `INSTALLED` false: signed in (an administrator may), and told that widgets do
/// not appear until the installation is finished.
#[test]
fn an_unfinished_installation_is_named_after_signing_in() {
    let setup = Setup::with(SimConfig {
        app_installed: false,
        ..SimConfig::default()
    });
    let desk = setup.regional_desk();
    let url = desk.begin_oauth(&setup.regional_form()).unwrap();
    let page = desk.complete_oauth(&browse(&url));
    assert!(page.ok, "{page:?}");
    assert!(page.message.contains("not finished"), "{page:?}");
    let installed = |status: PortalStatus| match status {
        PortalStatus::Connected { app_installed, .. } => app_installed,
        other => panic!("{other:?}"),
    };
    assert_eq!(installed(desk.status()), Some(false));
    let restarted = setup.regional_desk();
    restarted.restore();
    assert_eq!(
        installed(restarted.status()),
        Some(false),
        "said again after a restart"
    );

    // A webhook is no application: nothing to say.
    let hooked = setup.desk();
    hooked
        .sign_in_webhook(&WebhookForm {
            url: setup.sim.endpoints().webhook_url,
            session_only: true,
        })
        .unwrap();
    assert_eq!(installed(hooked.status()), None);
}

/// The OAuth server's documented errors (`settings/oauth/error-codes.md`) reach the window as a
/// code, an action and a sentence, never with the client secret.
#[test]
fn the_oauth_servers_errors_say_what_to_do() {
    let cases: &[(&str, SimConfig, bool, &str, PortalAction, &str)] = &[
        (
            "wrong client secret",
            SimConfig::default(),
            true,
            "oauth_invalid_client",
            PortalAction::AskAdmin,
            "ask IT",
        ),
        (
            "the application's payment expired",
            SimConfig {
                app_payment_expired: true,
                ..SimConfig::default()
            },
            false,
            "payment_required",
            PortalAction::AskAdmin,
            "paid or trial period",
        ),
    ];
    for (what, config, wrong_secret, code, action, says) in cases {
        let setup = Setup::with(config.clone());
        let desk = setup.regional_desk();
        let mut form = setup.regional_form();
        if *wrong_secret {
            form.client_secret = "not-the-secret".into();
        }
        let url = desk.begin_oauth(&form).unwrap();
        let page = desk.complete_oauth(&browse(&url));
        assert!(!page.ok, "{what}");
        let PortalStatus::Failed {
            code: got,
            action: got_action,
            message,
            ..
        } = desk.status()
        else {
            panic!("{what}: {:?}", desk.status())
        };
        assert_eq!((got.as_str(), got_action), (*code, *action), "{what}");
        assert!(message.contains(says), "{what}: {message}");
        for secret in [
            setup.sim.endpoints().client_secret,
            form.client_secret.clone(),
        ] {
            assert!(
                !message.contains(&secret) && !page.message.contains(&secret),
                "{what}"
            );
        }
    }
}

mod widget {
    //! The relay widget bound to the simulator's call card by an administrator, and refused
    //! to everyone else.
    use super::{browse, Setup};
    use companion::portal::widget::{self, WidgetError};
    use companion::portal::WebhookForm;
    use companion::rt::Wait;

    fn signed_in(setup: &Setup, user: u64) -> bitrix::Client {
        let desk = setup.desk();
        let url = desk.begin_oauth(&setup.form(true)).unwrap();
        assert!(
            desk.complete_oauth(&browse(&format!("{url}&sim_user={user}")))
                .ok
        );
        desk.client().unwrap()
    }

    #[test]
    fn an_administrator_installs_lists_and_removes_it() {
        let setup = Setup::new();
        let client = signed_in(&setup, 1);
        let handler = "https://intranet.example.com/call-companion/relay/";
        widget::install(&client, handler, None).wait().unwrap();
        let bound = widget::bound(&client).wait().unwrap();
        assert_eq!(bound.len(), 1, "{bound:?}");
        assert_eq!(bound[0].handler, handler);
        assert_eq!(bound[0].titles.keys().collect::<Vec<_>>(), ["en", "ru"]);
        assert!(matches!(
            widget::install(&client, handler, Some("Карточка")).wait(),
            Err(WidgetError::AlreadyBound)
        ));
        widget::install(
            &client,
            "https://other.example.com/relay/",
            Some("Карточка"),
        )
        .wait()
        .unwrap();
        assert_eq!(widget::bound(&client).wait().unwrap().len(), 2);
        assert_eq!(widget::uninstall(&client, Some(handler)).wait().unwrap(), 1);
        assert_eq!(widget::bound(&client).wait().unwrap()[0].title, "Карточка");
        assert_eq!(widget::uninstall(&client, None).wait().unwrap(), 1);
        assert!(widget::bound(&client).wait().unwrap().is_empty());
        assert_eq!(widget::uninstall(&client, None).wait().unwrap(), 0);
        assert_eq!(
            setup.sim.stats().calls_by_method.get("placement.bind"),
            Some(&3)
        );
    }

    #[test]
    fn a_webhook_an_agent_or_a_bad_address_get_a_clear_refusal() {
        let setup = Setup::new();
        let agent = signed_in(&setup, 2);
        let refused = widget::install(&agent, "https://intranet.example.com/relay/", None)
            .wait()
            .unwrap_err();
        assert_eq!(refused.code(), "widget_needs_administrator", "{refused}");

        let desk = setup.desk();
        desk.sign_in_webhook(&WebhookForm {
            url: setup.sim.endpoints().webhook_url,
            session_only: true,
        })
        .unwrap();
        let webhook = desk.client().unwrap();
        let refused = widget::bound(&webhook).wait().unwrap_err();
        assert_eq!(refused.code(), "widget_needs_application", "{refused}");
        assert!(refused.to_string().contains("OAuth"), "{refused}");

        let refused = widget::install(&agent, "http://relay.example.com/", None)
            .wait()
            .unwrap_err();
        assert_eq!(refused.code(), "bad_widget_handler");
        assert_eq!(
            setup.sim.stats().calls_by_method.get("placement.bind"),
            Some(&1),
            "a bad address never reaches the portal"
        );
    }

    #[test]
    fn an_application_without_the_telephony_scope_is_told_to_add_it() {
        let setup = Setup::with(portal_sim::SimConfig {
            scope: "crm,user,placement".into(),
            ..portal_sim::SimConfig::default()
        });
        let admin = signed_in(&setup, 1);
        let refused = widget::install(&admin, "https://intranet.example.com/relay/", None)
            .wait()
            .unwrap_err();
        assert_eq!(
            refused.code(),
            "widget_missing_telephony_scope",
            "{refused}"
        );
        assert!(refused.to_string().contains("telephony"), "{refused}");
    }
}

/// A co-worker holding the listener's port would receive the sign-in's code: without the
/// listener the app starts no sign-in at all, and says why.
#[test]
fn no_sign_in_starts_without_the_listener_that_receives_its_code() {
    use companion::status::{ListenerStatus, PortalStatus};
    let setup = Setup::new();
    let app = companion::app_state::AppState::new(
        companion::language::Language::En,
        companion::status::Theme::Light,
    );
    let refused = app.begin_oauth_sign_in(setup.form(true)).unwrap_err();
    assert_eq!(refused.code, "callback_not_held");
    app.set_listener_status(ListenerStatus::Failed {
        address: "127.0.0.1:47600".into(),
        reason: "port 47600 is in use by another program (pid 4242)".into(),
    });
    let refused = app.begin_oauth_sign_in(setup.form(true)).unwrap_err();
    assert_eq!(refused.code, "callback_not_held");
    assert_eq!(refused.params["address"], "127.0.0.1:47600");
    assert!(refused.message.contains("pid 4242"), "{}", refused.message);
    // Nothing started: no pending sign-in for a callback to complete.
    assert_eq!(app.portal.status(), PortalStatus::NotConfigured);
}
