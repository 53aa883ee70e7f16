//! The portal's limits and system errors as the agent meets them: a method Bitrix24 paused
//! (`OPERATION_TIME_LIMIT`, `limits.md`) and the system errors of `_includes/system-errors.md`,
//! each a state of its own that says what to do.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use companion::card::model::Card;
use companion::card::{key_for, CardDesk};
use companion::portal::settings::SettingsFile;
use companion::portal::vault::Vault;
use companion::portal::{PortalDesk, WebhookForm};
use companion::secrets::Keyring;
use companion::status::PortalAction;
use portal_sim::{Faults, SimConfig, Simulator, SystemError};

fn signed_in(sim: &Simulator, dir: &Path) -> Arc<PortalDesk> {
    let portal = PortalDesk::new(
        Vault::new(Keyring::new("io.callcompanion.test.portal-errors")),
        SettingsFile::new(dir.join("portal.json")),
    );
    portal
        .sign_in_webhook(&WebhookForm {
            url: sim.endpoints().webhook_url,
            session_only: true,
        })
        .expect("the simulator's webhook works");
    Arc::new(portal)
}

fn bound_contact() -> callcard::CallContext {
    callcard::parse(
        br#"{"CALL_ID":"pop.paused","PHONE_NUMBER":"+79001234567","CRM_ENTITY_TYPE":"CONTACT","CRM_ENTITY_ID":"42","CALL_DIRECTION":"incoming","CALL_STATE":"connecting"}"#,
    )
    .unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_card_whose_method_bitrix24_paused_says_until_when() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let desk = CardDesk::new(signed_in(&sim, dir.path()), "RU");
    sim.set_faults(Faults {
        operation_limit_method: Some("crm.contact.get".into()),
        operation_limit_reset_secs: 300,
        ..Faults::default()
    });
    let armed = now();
    let card = desk.load(&key_for(&bound_contact(), None).unwrap());
    let Card::Failed {
        code,
        action,
        paused_until,
        message,
    } = &card
    else {
        panic!("{card:?}")
    };
    assert_eq!(
        (code.as_str(), *action),
        ("operation_time_limit", PortalAction::TryLater)
    );
    let until = paused_until.expect("the card says until when");
    assert!(
        until >= armed + 299 && until <= armed + 302,
        "{until} vs {armed}"
    );
    assert!(message.contains("crm.contact.get"), "{message}");
}

#[test]
fn each_system_error_is_a_card_that_says_what_to_do() {
    let sim = Simulator::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let desk = CardDesk::new(signed_in(&sim, dir.path()), "RU");
    let cases = [
        (
            SystemError::InvalidCredentials,
            "invalid_credentials",
            PortalAction::SignIn,
        ),
        (
            SystemError::UserAccessError,
            "app_access_denied",
            PortalAction::AskAdmin,
        ),
        (
            SystemError::ApplicationNotFound,
            "app_not_installed",
            PortalAction::ReinstallApp,
        ),
        (
            SystemError::OverloadLimit,
            "portal_overloaded",
            PortalAction::ContactSupport,
        ),
        (
            SystemError::PortalDeleted,
            "portal_deleted",
            PortalAction::OtherPortal,
        ),
    ];
    let key = key_for(&bound_contact(), None).unwrap();
    for (error, expected_code, expected_action) in cases {
        sim.set_faults(Faults {
            system_error: Some(error),
            ..Faults::default()
        });
        let card = desk.load(&key);
        let Card::Failed { code, action, .. } = &card else {
            panic!("{error:?}: {card:?}")
        };
        assert_eq!(
            (code.as_str(), *action),
            (expected_code, expected_action),
            "{error:?}"
        );
    }
}

#[test]
fn the_new_actions_reach_the_window_by_their_names() {
    for (action, name) in [
        (bitrix::Action::ReinstallApp, "reinstall_app"),
        (bitrix::Action::ContactSupport, "contact_support"),
        (bitrix::Action::OtherPortal, "other_portal"),
    ] {
        let action = PortalAction::from(action);
        assert_eq!(serde_json::to_value(action).unwrap(), name);
    }
}
