// Generated from the Rust types by `crates/companion/src/bindings.rs`; do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p companion bindings

export type AppStatus = { product_name: string, version: string, mode: Mode, listener: ListenerStatus, portal: PortalStatus, 
/**
 * Bitrix24's push channel: calls published by the call card reach the app through it.
 */
push: PushStatus, language: Language, theme: Theme, 
/**
 * What start-up found wrong and worked around (a settings file set aside, notes that
 * cannot be kept): the window shows each until dismissed; each is also in the log.
 */
notices: Array<ErrorBody>, };

export type Mode = "normal" | "mock";

export type Theme = "system" | "light" | "dark";

export type Language = "en" | "ru";

export type ListenerStatus = { "state": "stopped", address: string, } | { "state": "listening", address: string, } | { "state": "elsewhere", address: string, wanted: string, reason: string, } | { "state": "failed", address: string, reason: string, };

export type PortalStatus = { "state": "not_configured" } | { "state": "signing_in", domain: string, authorize_url: string, } | { "state": "connecting", domain: string, } | { "state": "connected", domain: string, user_name: string, user_id: number, method: SignInMethod, 
/**
 * The keyring was unavailable: the session ends when the app closes.
 */
session_only: boolean, 
/**
 * `app.info`'s `INSTALLED` for an OAuth application (`common/system/app-info.md`);
 * `false`: its installation is not finished and the portal shows none of its widgets
 * until an administrator opens it once (`app-installation/installation-finish.md`).
 * Absent when unknown (a webhook, a call-card session).
 */
app_installed?: boolean, } | { "state": "failed", domain: string, code: ErrorCode, message: string, action: PortalAction, };

export type PushStatus = { "state": "off" } | { "state": "connecting" } | { "state": "connected", transport: PushTransport, } | { "state": "reconnecting", attempt: number, next_in_ms: number, } | { "state": "unavailable", reason: string, };

export type PushTransport = "websocket" | "long_polling";

export type SignInMethod = "oauth" | "webhook" | "call_card";

export type PortalAction = "try_later" | "sign_in" | "ask_admin" | "check_connection" | "report" | "reinstall_app" | "contact_support" | "other_portal";

export type OAuthForm = { portal: string, client_id: string, client_secret: string, 
/**
 * Empty: the server the portal names when the browser comes back (`server_domain`, one of
 * Bitrix24's two regional servers). IT's policy may set another.
 */
oauth_server: string, 
/**
 * Keep the session in memory only (the keyring is unavailable and the agent agreed).
 */
session_only: boolean, 
/**
 * Empty: the application's redirect is this computer's usual listener address. Otherwise
 * the relay's sign-in page (`relay/signed-in.html`, HTTPS), set as the application's
 * redirect on computers several agents share: it sends the browser on to the port at the
 * head of `state`, this app's own wherever it listens.
 */
redirect: string, };

export type WebhookForm = { url: string, session_only: boolean, };

export type BoundWidget = { handler: string, title: string, 
/**
 * Titles by language (`en`, `ru`, …).
 */
titles: { [key in string]: string }, };

export type PolicyInfo = { 
/**
 * Window settings by their `WindowPrefs` name (`compact`, `language`, …), and the sign-in's
 * (`portal`, `sign_in`, `oauth_client_id`, `oauth_client_secret`).
 */
locked: Array<string>, problem: string | null, 
/**
 * Whether "start at login" works on this system (Linux today).
 */
autostart_available: boolean, 
/**
 * The sign-in form's presets (never the client secret itself).
 */
portal: PortalPreset, };

export type PortalPreset = { portal: string | null, sign_in: SignInPolicy | null, oauth_client_id: string | null, oauth_server: string | null, oauth_redirect: string | null, 
/**
 * IT supplies the client secret: the form does not ask for it.
 */
client_secret_preset: boolean, };

export type SignInPolicy = "oauth" | "webhook";

export type ErrorBody = { code: ErrorCode, 
/**
 * The details in English, for the log and for whoever the agent asks for help.
 */
message: string, 
/**
 * Values the window's own message for the code names (`{setting}`, `{port}`, ...).
 */
params: { [key in string]: string }, };

export type ErrorCode = "expired_token" | "not_signed_in" | "access_denied" | "not_found" | "query_limit_exceeded" | "operation_time_limit" | "invalid_credentials" | "app_access_denied" | "app_not_installed" | "portal_overloaded" | "portal_deleted" | "method_not_found" | "bad_request" | "portal_error" | "network_error" | "timeout" | "redirect" | "bad_response" | "bad_configuration" | "cancelled" | "deadline" | "oauth_invalid_client" | "payment_required" | "oauth_invalid_grant" | "oauth_invalid_request" | "oauth_invalid_scope" | "sign_in_failed" | "notes_unavailable" | "notes_damaged" | "notes_disk_full" | "notes_failed" | "no_note" | "unknown_outcome" | "payload_too_large" | "payload_empty" | "payload_not_utf8" | "payload_unknown_format" | "missing_call_id" | "missing_placement_options" | "wrong_placement" | "placement_options_not_json" | "placement_options_not_object" | "invalid_json" | "unsupported_envelope_version" | "invalid_field" | "bad_deep_link" | "link_unverified" | "bad_print_r" | "missing_auth" | "port_in_use" | "listen_failed" | "forbidden_host" | "forbidden_origin" | "forbidden_peer" | "method_not_allowed" | "moved" | "pairing_required" | "pairing_code_not_open" | "pairing_code_expired" | "pairing_code_wrong" | "pairing_code_burned" | "rate_limited" | "request_timeout" | "unsupported_media_type" | "internal" | "tab_not_signed_in" | "tab_foreign_portal" | "tab_not_proven" | "tab_other_user" | "tab_portal_unreachable" | "tab_call_mismatch" | "tab_nonce_unknown" | "no_user" | "other_application" | "too_many_refused" | "no_display" | "folder_unavailable" | "folder_not_own" | "invalid_log_filter" | "keyring_unavailable" | "no_pairing_token" | "random_unavailable" | "bad_widget_handler" | "widget_needs_application" | "widget_needs_administrator" | "widget_missing_scope" | "widget_already_bound" | "widget_missing_telephony_scope" | "widget_handler_refused" | "bad_portal_address" | "bad_webhook_url" | "missing_app_keys" | "settings_not_saved" | "settings_invalid" | "sign_in_refused" | "callback_not_held" | "signed_in_meanwhile" | "wrong_portal" | "unknown_oauth_server" | "policy_unreadable" | "policy_invalid" | "policy_untrusted" | "locked_by_policy" | "autostart_not_saved" | "prefs_not_saved" | "prefs_invalid" | "recent_calls_unreadable" | "diagnostics_unavailable" | "diagnostics_not_written" | "browser_not_opened" | "unknown_call" | "name_required" | "not_supported" | "query_too_short" | "not_loaded" | "mock_off" | "bad_scenario" | "listener_unreachable" | "no_answer" | "ipc_failed" | "unknown_error";

export type PairingInfo = { 
/**
 * The one-time six-digit code the widget asks the agent for.
 */
code: string, expires_in_secs: number, 
/**
 * False when the OS keyring is unavailable: the token then lasts until the app closes.
 */
token_in_keyring: boolean, };

export type CallsView = { 
/**
 * Grows with every change, so the window can drop an answer older than an event it
 * already showed.
 */
revision: number, current: TrackedCall | null, recent: Array<TrackedCall>, last_rejection: Rejection | null, };

export type WindowPrefs = { 
/**
 * Bring the window to the front and give it the keyboard when a call arrives.
 */
focus_on_call: boolean, 
/**
 * Keep the window above other windows.
 */
always_on_top: boolean, 
/**
 * A narrow strip with the essentials instead of the full card.
 */
compact: boolean, 
/**
 * An OS notification for each new call.
 */
notify_on_call: boolean, 
/**
 * Send the call's note to the CRM when the call ends (the call card reports it idle).
 */
send_notes_on_call_end: boolean, 
/**
 * The window's language; `auto` follows the portal's `LANG`, then the OS.
 */
language: LanguageChoice, 
/**
 * Start the app when the agent logs in (autostart.rs).
 */
start_at_login: boolean, };

export type ScenarioInfo = { name: string, description: string, };

export type MockFaults = { 
/**
 * 1.5 s added to every portal answer.
 */
slow: boolean, portal_down: boolean, rate_limit_storm: boolean, 
/**
 * The next call finds the access token expired.
 */
expired_token: boolean, 
/**
 * Writes are committed, then the answer is lost.
 */
drop_after_commit: boolean, };

export type MockVia = "listener" | "push";

export type PostAnswer = { status: number, body: string, };

export type NoteNow = { stored: Note | null, unsaved: UnsavedText | null, };

export type UnsavedText = { text: string, 
/**
 * The database's last refusal.
 */
error: ErrorBody, };

export type Note = { 
/**
 * Random, 12 hex digits; also the marker in the CRM comment.
 */
id: string, call_id: string, phone: string | null, target: Target | null, text: string, state: NoteState, updated_ms: number, 
/**
 * The CRM comment this note became, once sent.
 */
comment_id: number | null, 
/**
 * What the CRM has ([`Note::body`]: an edit of the text or the outcome after sending
 * differs and is sent again).
 */
sent_text: string | null, sent_ms: number | null, error_code: ErrorCode | null, error_message: string | null, attempts: number, next_attempt_ms: number, 
/**
 * A send may have reached the portal without an answer: look before sending again.
 */
maybe_sent: boolean, 
/**
 * The call's CRM activity, once the call card named it (`CRM_ACTIVITY_ID`): a note not yet
 * in the CRM goes there.
 */
activity_id: number | null, 
/**
 * Where the CRM has the note (`sent_ms` set), or where the send under way goes.
 */
via: Via | null, 
/**
 * The call's outcome the agent picked (a label from the wrap-up list), sent with the text.
 */
outcome: string | null, };

export type NoteState = "draft" | "queued" | "waiting_for_record" | "sent" | "failed";

export type Via = "comment" | "activity";

export type Target = { kind: string, id: number, };

export type LanguageChoice = "auto" | "en" | "ru";

export type CardView = { call_id: string, card: Card, };

export type Card = { "state": "no_portal" } | { "state": "nothing_to_look_up" } | { "state": "loading" } | { "state": "ready", record: CrmCard, } | { "state": "choose", number: string, candidates: Array<Candidate>, 
/**
 * More records may share the number than the portal names (20 per type).
 */
cut: boolean, } | { "state": "unknown", number: string, } | { "state": "found", query: string, candidates: Array<Candidate>, } | { "state": "failed", code: ErrorCode, message: string, action: PortalAction, 
/**
 * `operation_time_limit`: Unix time (seconds) until which Bitrix24 paused this kind of
 * request for the app (the window shows it in the agent's own time). Absent otherwise.
 */
paused_until?: number, };

export type CrmCard = { subject: Party, 
/**
 * The contact's or the deal's company.
 */
company: Party | null, 
/**
 * The company's other contacts, or the deal's contact.
 */
contacts: Array<Party>, 
/**
 * Open deals, newest first.
 */
deals: Array<DealLine>, 
/**
 * Recent activities (calls, e-mails, meetings, tasks), newest first.
 */
activities: Array<ActivityLine>, 
/**
 * Recent timeline comments, newest first.
 */
comments: Array<CommentLine>, responsible: Person | null, 
/**
 * HTTP requests the card took (one in the common cases).
 */
requests: number, };

export type Party = { kind: EntityKind, id: number, title: string, 
/**
 * The contact's position, or the lead's person.
 */
detail: string | null, 
/**
 * The deal's stage or the lead's status (a code such as `EXECUTING`).
 */
stage: string | null, phones: Array<string>, emails: Array<string>, 
/**
 * The record in Bitrix24, built from the signed-in portal and the integer id only.
 */
url: string, };

export type EntityKind = "contact" | "company" | "lead" | "deal";

export type DealLine = { id: number, title: string, stage: string | null, amount: number | null, currency: string | null, url: string, };

export type ActivityLine = { id: number, kind: ActivityKind, subject: string, 
/**
 * `Some(true)` incoming, `Some(false)` outgoing.
 */
incoming: boolean | null, 
/**
 * ISO 8601 as the portal wrote it.
 */
at: string | null, completed: boolean, };

export type ActivityKind = "call" | "email" | "meeting" | "task" | "other";

export type CommentLine = { id: number, text: string, at: string | null, };

export type Person = { id: number, name: string, position: string | null, };

export type Candidate = { kind: EntityKind, id: number, title: string, detail: string | null, };

export type TrackedCall = { context: CallContext, 
/**
 * When the app first heard of the call, and last heard of it (Unix ms).
 */
first_seen_ms: number, updated_ms: number, 
/**
 * How many times the call card reported it.
 */
reports: number, 
/**
 * Known only from a `callcompanion://` link the app could not verify (`link_trust.rs`):
 * shown, but its note is never sent; a report through a verified door clears it.
 */
unverified: boolean, 
/**
 * The number as people write it (`+7 495 123-45-67`), for the window; the context keeps
 * the portal's spelling.
 */
number: string | null, };

export type Change = "new" | "updated" | "unchanged";

export type Rejection = { code: ErrorCode, message: string, 
/**
 * Where it came from: `listener`, `deep_link`.
 */
via: string, at_ms: number, };

export type CallContext = { 
/**
 * `CALL_ID`, e.g. `externalCall.<hex>.<unix time>`; the key calls are tracked by.
 */
call_id: string, 
/**
 * The other party's number as the portal normalised it; `None` when unknown.
 */
phone_number: string | null, 
/**
 * Why there is no number, when the payload says so (`PHONE_NUMBER` is `hidden`, `unknown`,
 * `undefined` or empty); `None` when a number came or the key was absent. Never looked up.
 */
no_number: NoNumber | null, 
/**
 * The company line the call came in on or went out from.
 */
line_number: string | null, 
/**
 * The line's name; falls back to the number, like the call card does.
 */
line_name: string | null, 
/**
 * The primary CRM item bound to the call, if any.
 */
entity: CrmRef | null, 
/**
 * Every bound CRM item (newer portals); the primary one is among them when both are sent.
 */
bindings: Array<CrmRef>, 
/**
 * The CRM activity recording this call, if one exists yet.
 */
activity_id: number | null, direction: CallDirection, state: CallState, 
/**
 * The card walks through a call list (one client after another).
 */
call_list_mode: boolean, 
/**
 * Portal path of the bound item (`/crm/company/details/17/`), relative paths only.
 */
uri: string | null, 
/**
 * The portal the call came from, when the input says.
 */
portal: Portal | null, 
/**
 * Which entry format the context was read from.
 */
source: Source, };

export type NoNumber = "hidden" | "unknown";

export type CrmRef = { entity_type: CrmEntityType, id: number, };

export type CrmEntityType = { "kind": "lead" } | { "kind": "deal" } | { "kind": "contact" } | { "kind": "company" } | { "kind": "quote" } | { "kind": "smart_invoice" } | { "kind": "dynamic", "type_id": number };

export type CallDirection = { "kind": "incoming" } | { "kind": "outgoing" } | { "kind": "callback" } | { "kind": "incoming_transfer" } | { "kind": "unknown", "value": string };

export type CallState = { "kind": "idle" } | { "kind": "connecting" } | { "kind": "connected" } | { "kind": "unknown", "value": string };

export type Portal = { 
/**
 * Host name, e.g. `xxx.bitrix24.com`.
 */
domain: string | null, 
/**
 * `https` unless the portal said `PROTOCOL=0`.
 */
https: boolean, 
/**
 * The portal user's language (`LANG`), e.g. `ru`.
 */
lang: string | null, member_id: string | null, };

export type Source = "placement_form" | "relay_envelope" | "options_object" | "deep_link" | "print_r";

export const ERROR_CODES: readonly ErrorCode[] = ['expired_token', 'not_signed_in', 'access_denied', 'not_found', 'query_limit_exceeded', 'operation_time_limit', 'invalid_credentials', 'app_access_denied', 'app_not_installed', 'portal_overloaded', 'portal_deleted', 'method_not_found', 'bad_request', 'portal_error', 'network_error', 'timeout', 'redirect', 'bad_response', 'bad_configuration', 'cancelled', 'deadline', 'oauth_invalid_client', 'payment_required', 'oauth_invalid_grant', 'oauth_invalid_request', 'oauth_invalid_scope', 'sign_in_failed', 'notes_unavailable', 'notes_damaged', 'notes_disk_full', 'notes_failed', 'no_note', 'unknown_outcome', 'payload_too_large', 'payload_empty', 'payload_not_utf8', 'payload_unknown_format', 'missing_call_id', 'missing_placement_options', 'wrong_placement', 'placement_options_not_json', 'placement_options_not_object', 'invalid_json', 'unsupported_envelope_version', 'invalid_field', 'bad_deep_link', 'link_unverified', 'bad_print_r', 'missing_auth', 'port_in_use', 'listen_failed', 'forbidden_host', 'forbidden_origin', 'forbidden_peer', 'method_not_allowed', 'moved', 'pairing_required', 'pairing_code_not_open', 'pairing_code_expired', 'pairing_code_wrong', 'pairing_code_burned', 'rate_limited', 'request_timeout', 'unsupported_media_type', 'internal', 'tab_not_signed_in', 'tab_foreign_portal', 'tab_not_proven', 'tab_other_user', 'tab_portal_unreachable', 'tab_call_mismatch', 'tab_nonce_unknown', 'no_user', 'other_application', 'too_many_refused', 'no_display', 'folder_unavailable', 'folder_not_own', 'invalid_log_filter', 'keyring_unavailable', 'no_pairing_token', 'random_unavailable', 'bad_widget_handler', 'widget_needs_application', 'widget_needs_administrator', 'widget_missing_scope', 'widget_already_bound', 'widget_missing_telephony_scope', 'widget_handler_refused', 'bad_portal_address', 'bad_webhook_url', 'missing_app_keys', 'settings_not_saved', 'settings_invalid', 'sign_in_refused', 'callback_not_held', 'signed_in_meanwhile', 'wrong_portal', 'unknown_oauth_server', 'policy_unreadable', 'policy_invalid', 'policy_untrusted', 'locked_by_policy', 'autostart_not_saved', 'prefs_not_saved', 'prefs_invalid', 'recent_calls_unreadable', 'diagnostics_unavailable', 'diagnostics_not_written', 'browser_not_opened', 'unknown_call', 'name_required', 'not_supported', 'query_too_short', 'not_loaded', 'mock_off', 'bad_scenario', 'listener_unreachable', 'no_answer', 'ipc_failed', 'unknown_error'];
