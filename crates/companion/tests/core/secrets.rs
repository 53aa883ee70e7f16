//! The pairing token in the real OS keyring (gnome-keyring in a D-Bus session under
//! `cargo xtask test`).

use companion::secrets::{Keyring, SecretError};

/// A service name of its own per test run: parallel runs never see each other's secrets.
pub fn unique_service() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("io.callcompanion.test.{}.{nanos}", std::process::id())
}

#[test]
fn the_token_is_created_once_kept_and_rotated_in_the_keyring() {
    let service = unique_service();
    let keyring = Keyring::new(service.clone());
    match keyring.pairing_token() {
        Err(SecretError::NoToken) => {}
        other => panic!("a fresh service has no token: {other:?}"),
    }
    let created = keyring
        .pairing_token_or_create()
        .expect("the keyring works in the test session");
    assert_eq!(keyring.pairing_token().unwrap(), created);
    assert_eq!(
        keyring.pairing_token_or_create().unwrap(),
        created,
        "not replaced on the next start"
    );
    let rotated = keyring.rotate_pairing_token().unwrap();
    assert_ne!(rotated, created);
    assert_eq!(
        Keyring::new(service).pairing_token().unwrap(),
        rotated,
        "read back by the next start"
    );
    keyring.delete_pairing_token().unwrap();
    assert!(matches!(keyring.pairing_token(), Err(SecretError::NoToken)));
}
