// Typed wrappers over the app's commands and events. Types come from the generated
// bindings.ts; every failed command rejects with an ErrorBody `{code, message}`.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { AppStatus, BoundWidget, CallsView, CardView, EntityKind, ErrorBody, MockFaults, MockVia, Note, NoteNow, OAuthForm, PairingInfo, PolicyInfo, PortalStatus, PostAnswer, ScenarioInfo, WebhookForm, WindowPrefs } from './bindings';
import { ERROR_CODES } from './bindings';

export function appStatus(): Promise<AppStatus> {
  return invoke<AppStatus>('app_status');
}

export function calls(): Promise<CallsView> {
  return invoke<CallsView>('calls');
}

export function pairingInfo(): Promise<PairingInfo> {
  return invoke<PairingInfo>('pairing_info');
}

export function rotatePairingToken(): Promise<PairingInfo> {
  return invoke<PairingInfo>('rotate_pairing_token');
}

/** Starts an OAuth sign-in: the portal's page opens in the browser. */
export function beginOAuthSignIn(form: OAuthForm): Promise<PortalStatus> {
  return invoke<PortalStatus>('begin_oauth_sign_in', { form });
}

export function reopenSignInPage(): Promise<PortalStatus> {
  return invoke<PortalStatus>('reopen_sign_in_page');
}

export function signInWithWebhook(form: WebhookForm): Promise<PortalStatus> {
  return invoke<PortalStatus>('sign_in_with_webhook', { form });
}

export function signOut(): Promise<PortalStatus> {
  return invoke<PortalStatus>('sign_out');
}

/** Writes the support archive (secrets removed) to the Downloads folder; answers its path. */
export function exportDiagnostics(keepPhoneNumbers: boolean): Promise<string> {
  return invoke<string>('export_diagnostics', { keepPhoneNumbers });
}

/** Which window settings IT's policy locks, and why a policy file was not used. */
export function policyInfo(): Promise<PolicyInfo> {
  return invoke<PolicyInfo>('policy_info');
}

/** The call-card widgets bound on the portal (an administrator's OAuth sign-in). */
export function relayWidgets(): Promise<BoundWidget[]> {
  return invoke<BoundWidget[]>('relay_widgets');
}

export function installRelayWidget(handler: string, title?: string): Promise<BoundWidget[]> {
  return invoke<BoundWidget[]>('install_relay_widget', { handler, title: title ?? null });
}

/** Binds the call card's tab this app serves itself (http://127.0.0.1:PORT/call-card/). */
export function installCallCardTab(): Promise<BoundWidget[]> {
  return invoke<BoundWidget[]>('install_call_card_tab');
}

export function uninstallRelayWidget(handler: string): Promise<BoundWidget[]> {
  return invoke<BoundWidget[]>('uninstall_relay_widget', { handler });
}

/** The app's status after it changed (the portal connection). */
export function onStatus(handler: (status: AppStatus) => void): Promise<UnlistenFn> {
  return listen<AppStatus>('status', (event) => handler(event.payload));
}

export function card(callId: string): Promise<CardView | null> {
  return invoke<CardView | null>('card', { callId });
}

/** The agent's pick among records sharing a number; the card loads it. */
export function chooseRecord(callId: string, kind: EntityKind, id: number): Promise<void> {
  return invoke<void>('choose_record', { callId, kind, id });
}

export function reloadCard(callId: string): Promise<void> {
  return invoke<void>('reload_card', { callId });
}

/** Opens the record in Bitrix24 in the browser (the app builds the address). */
export function openRecord(kind: EntityKind, id: number): Promise<void> {
  return invoke<void>('open_record', { kind, id });
}

/** Creates a lead or contact with the call's number (after the agent confirmed); its card follows. */
export function createRecord(callId: string, kind: EntityKind, name: string): Promise<number> {
  return invoke<number>('create_record', { callId, kind, name });
}

/** Searches the CRM by name for the call's caller; the results arrive as the call's card. */
export function searchCrm(callId: string, query: string): Promise<void> {
  return invoke<void>('search_crm', { callId, query });
}

export function windowPrefs(): Promise<WindowPrefs> {
  return invoke<WindowPrefs>('window_prefs');
}

/** Commands whose order matters, by key: each starts when the one before it has answered (or
 * failed). The app runs commands that touch the disk off its GUI thread, where two in flight at
 * once could finish in either order: a slow save of older text must never land after a newer one. */
const queues = new Map<string, Promise<unknown>>();

export function inOrder<T>(key: string, run: () => Promise<T>): Promise<T> {
  const next = (queues.get(key) ?? Promise.resolve()).then(run, run);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

/** Saves the window preferences; the app applies them to the window at once. */
export function setWindowPrefs(prefs: WindowPrefs): Promise<WindowPrefs> {
  return inOrder('prefs', () => invoke<WindowPrefs>('set_window_prefs', { prefs }));
}

/** The call's note: what the database keeps, and newer text the app holds because the
 * database refused it (the app offers it again by itself). */
export function note(callId: string): Promise<NoteNow> {
  return invoke<NoteNow>('note', { callId });
}

/** Keeps the draft on this computer (SQLite); call it as the agent types. */
export function saveNote(callId: string, text: string): Promise<Note> {
  return inOrder(`note:${callId}`, () => invoke<Note>('save_note', { callId, text }));
}

/** "Save to CRM": into the outbox, which delivers it exactly once. */
export function sendNote(callId: string): Promise<Note> {
  return inOrder(`note:${callId}`, () => invoke<Note>('send_note', { callId }));
}

/** The call's outcome (`null`: cleared), kept with the note and sent with it. */
export function setOutcome(callId: string, outcome: string | null): Promise<Note> {
  return inOrder(`note:${callId}`, () => invoke<Note>('set_outcome', { callId, outcome }));
}

/** The outcomes offered at wrap-up: IT's, else the built-in ones in the window's language. */
export function outcomes(): Promise<string[]> {
  return invoke<string[]>('outcomes');
}

export function noteHistory(callId: string): Promise<Note[]> {
  return invoke<Note[]>('note_history', { callId });
}

export function onNote(handler: (note: Note) => void): Promise<UnlistenFn> {
  return listen<Note>('note', (event) => handler(event.payload));
}

export function mockScenarios(): Promise<ScenarioInfo[]> {
  return invoke<ScenarioInfo[]>('mock_scenarios');
}

/** Fires a scenario through the listener, as a call card would. */
export function mockRun(name: string, via: MockVia = 'listener'): Promise<void> {
  return invoke<void>('mock_run', { name, via });
}

/** Opens the simulated portal's call-card page for a scenario in the browser: the call comes
 * through the app's own tab, as Bitrix24 sends it. Answers the page's address. */
export function mockOpenCallCard(name: string): Promise<string> {
  return invoke<string>('mock_open_call_card', { name });
}

/** Posts a pasted payload through the listener and returns its answer. */
export function mockPost(body: string): Promise<PostAnswer> {
  return invoke<PostAnswer>('mock_post', { body });
}

export function mockFaults(): Promise<MockFaults> {
  return invoke<MockFaults>('mock_faults');
}

export function setMockFaults(faults: MockFaults): Promise<MockFaults> {
  return invoke<MockFaults>('set_mock_faults', { faults });
}

/** Every change to a call's CRM card. */
export function onCard(handler: (view: CardView) => void): Promise<UnlistenFn> {
  return listen<CardView>('card', (event) => handler(event.payload));
}

/** Every change to the calls (a new call, a state update, a refused payload). */
export function onCalls(handler: (view: CallsView) => void): Promise<UnlistenFn> {
  return listen<CallsView>('calls', (event) => handler(event.payload));
}

/** Turns whatever a rejected command threw into an `ErrorBody`; a code this window does not
 * know (an app newer than its window cannot be, but a plugin's error can) reads as `unknown_error`. */
export function toErrorBody(error: unknown): ErrorBody {
  if (error && typeof error === 'object' && 'code' in error && 'message' in error) {
    const known = ERROR_CODES.find((code) => code === error.code);
    const params = 'params' in error && error.params && typeof error.params === 'object' ? error.params : {};
    return {
      code: known ?? 'unknown_error',
      message: known ? String(error.message) : `${String(error.message)} (${String(error.code)})`,
      params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
    };
  }
  return { code: 'ipc_failed', message: error instanceof Error ? error.message : String(error), params: {} };
}

/** The app is about to close: the window keeps every note now, then calls `notesKept`. */
export function onKeepNotes(handler: () => void): Promise<UnlistenFn> {
  return listen('keep-notes', () => handler());
}

export function notesKept(): Promise<void> {
  return invoke<void>('notes_kept');
}

/** Tells the app the window painted its first content (it logs the cold-start time once). */
export function windowPainted(): Promise<void> {
  return invoke<void>('window_painted');
}
