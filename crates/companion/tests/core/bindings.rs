use std::path::PathBuf;

#[test]
fn bindings_file_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(companion::bindings::BINDINGS_PATH);
    let expected = companion::bindings::typescript();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        panic!(
            "{} is stale; regenerate it with `UPDATE_BINDINGS=1 cargo test -p companion bindings`.\n\
             --- expected ---\n{expected}\n--- checked in ---\n{actual}",
            path.display()
        );
    }
}
