// Generated from the Rust types by `crates/companion/src/bindings.rs`; do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p companion bindings

export type AppStatus = { product_name: string, version: string, mode: Mode, listener: ListenerStatus, portal: PortalStatus, language: Language, theme: Theme, };

export type Mode = "normal" | "mock";

export type Theme = "system" | "light" | "dark";

export type Language = "en" | "ru";

export type ListenerStatus = { "state": "stopped", address: string, } | { "state": "listening", address: string, } | { "state": "failed", address: string, reason: string, };

export type PortalStatus = { "state": "not_configured" } | { "state": "connected", domain: string, } | { "state": "signed_out", domain: string, } | { "state": "unreachable", domain: string, reason: string, };

export type ErrorBody = { code: string, message: string, };
