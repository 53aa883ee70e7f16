fn main() {
    // Every app command is listed here so each one needs an explicit permission in a
    // capability file (capabilities/ grants them per window).
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(&[
            "app_status",
            "calls",
            "pairing_info",
            "rotate_pairing_token",
            "begin_oauth_sign_in",
            "reopen_sign_in_page",
            "sign_in_with_webhook",
            "sign_out",
            "relay_widgets",
            "policy_info",
            "export_diagnostics",
            "install_relay_widget",
            "install_call_card_tab",
            "uninstall_relay_widget",
            "card",
            "choose_record",
            "reload_card",
            "open_record",
            "create_record",
            "search_crm",
            "window_prefs",
            "set_window_prefs",
            "note",
            "save_note",
            "send_note",
            "set_outcome",
            "outcomes",
            "note_history",
            "mock_scenarios",
            "mock_run",
            "mock_open_call_card",
            "mock_post",
            "mock_faults",
            "set_mock_faults",
            "window_painted",
            "notes_kept",
        ]));
    tauri_build::try_build(attributes).expect("tauri-build failed");
}
