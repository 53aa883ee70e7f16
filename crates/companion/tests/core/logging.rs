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

/// At `debug`, our crates speak and the HTTP libraries and the Tauri stack stay quiet: HTTP
/// clients print request URLs, which hold a webhook's secret, and Tauri prints IPC payloads. Even
/// an explicit `reqwest=debug` or `tauri=trace` is capped.
#[test]
fn debug_never_opens_the_http_libraries() {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    for filter in [
        "debug",
        "trace",
        "reqwest=debug,hyper=trace,debug",
        "tauri=trace,wry=debug,tao=debug,debug",
    ] {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(move || writer.clone()))
            .with(logging::parse_filter(filter).unwrap());
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "companion::portal", "ours-debug-visible");
            tracing::debug!(target: "reqwest::connect", "sending request POST https://acme/rest/1/SECRET/user.current");
            tracing::trace!(target: "hyper::proto", "authorization: Bearer SECRET");
            tracing::info!(target: "reqwest::connect", "reqwest-info-visible");
            tracing::debug!(target: "tauri::ipc", "invoke save_note {{\"text\":\"SECRET\"}}");
            tracing::debug!(target: "wry::webview", "ipc body SECRET");
            tracing::trace!(target: "tao::platform_impl", "event SECRET");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("ours-debug-visible") && text.contains("reqwest-info-visible"),
            "{filter}: {text}"
        );
        assert!(!text.contains("SECRET"), "{filter}: {text}");
    }
}
