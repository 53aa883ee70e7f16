//! The app package's one integration-test binary.
//!   cli: the real binary's command line, without a display
//!   ipc: app commands through Tauri's IPC on the mock runtime (no display)
//!   e2e: the real binary under Xvfb, driven through tauri-driver + WebKitWebDriver
//!   e2e_card: the CRM card for every screen-pop case, and focus staying with the agent's window
//!   e2e_mock: mock mode: every scenario from the Mock panel, a pasted print_r dump, a fault
//!   e2e_notes: a note kept through kill -9 and delivered once after an outage
//!   e2e_portal: signing in to the portal simulator from the real window, with the real keyring
//!   relay: the hosted relay widget in headless Chromium, on public origins, under real policies
//!   shared_machine: two Linux users, each running the real app, on one display and loopback
//!   tab: the call card's tab served by the app itself, from the simulator's portal page

mod cli;
mod config;
mod e2e;
mod e2e_card;
mod e2e_mock;
mod e2e_notes;
mod e2e_portal;
mod ipc;
mod relay;
mod shared_machine;
mod support;
mod tab;
