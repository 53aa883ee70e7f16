use companion::logging;

#[test]
fn bad_filter_is_a_clear_error() {
    let err = logging::parse_filter("companion=loud").unwrap_err();
    assert_eq!(err.code(), "invalid_log_filter");
    assert!(err.to_string().contains("companion=loud"), "{err}");
}

#[test]
fn writes_a_daily_file_in_the_log_folder() {
    let dir = tempfile::tempdir().unwrap();
    let guard = logging::init(dir.path(), "info").unwrap();
    tracing::info!(marker = "log-test-7f3a", "hello from the logging test");
    tracing::error!(target: logging::REPORTED, "reported-7f3a: shown to the user, kept in the file");
    drop(guard); // flushes the background writer
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("call-companion.") && name.ends_with(".log"),
        "{name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains("log-test-7f3a") && text.contains("reported-7f3a"),
        "{text}"
    );
}
