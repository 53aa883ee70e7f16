import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type { AppStatus, CallsView, Language, Note, TrackedCall } from './lib/bindings';

const status: AppStatus = {
  product_name: 'Call Companion',
  version: '0.1.0',
  mode: 'normal',
  listener: { state: 'stopped', address: '127.0.0.1:47600' },
  portal: { state: 'not_configured' },
  push: { state: 'off' },
  language: 'en',
  theme: 'system',
  notices: [],
};

const noCalls: CallsView = { revision: 0, current: null, recent: [], last_rejection: null };

const incoming: TrackedCall = {
  context: {
    call_id: 'externalCall.aa11.1723560000',
    phone_number: '+79001234567',
    no_number: null,
    line_number: '+7 495 000-00-00',
    line_name: 'Sales',
    entity: { entity_type: { kind: 'contact' }, id: 42 },
    bindings: [
      { entity_type: { kind: 'contact' }, id: 42 },
      { entity_type: { kind: 'deal' }, id: 25 },
    ],
    activity_id: null,
    direction: { kind: 'incoming' },
    state: { kind: 'connecting' },
    call_list_mode: false,
    uri: null,
    portal: { domain: 'acme.bitrix24.ru', https: true, lang: 'ru', member_id: null },
    source: 'relay_envelope',
  },
  first_seen_ms: 1732400000000,
  updated_ms: 1732400000000,
  reports: 1,
  unverified: false,
  number: '+7 900 123-45-67',
};

/** A note as the app sends it: what a test does not set is a fresh draft's. */
function noteOf(fields: Partial<Note>): Note {
  return {
    id: 'a1b2c3d4e5f6', call_id: incoming.context.call_id, phone: '+79001234567', target: { kind: 'contact', id: 42 },
    text: '', state: 'draft', updated_ms: 1, comment_id: null, sent_text: null, sent_ms: null, error_code: null,
    error_message: null, attempts: 0, next_attempt_ms: 0, maybe_sent: false, activity_id: null, via: null, outcome: null, ...fields,
  };
}

type Handler = (args: unknown) => unknown;

function serve(answer: AppStatus | (() => never), view: CallsView = noCalls, extra: Record<string, Handler> = {}) {
  const calls: string[] = [];
  mockIPC(
    (cmd, args) => {
      calls.push(cmd);
      if (cmd in extra) return extra[cmd](args);
      if (cmd === 'calls') return view;
      if (cmd === 'pairing_info') return { code: '042917', expires_in_secs: 299, token_in_keyring: true };
      if (cmd === 'card') return null;
      if (cmd === 'note') return { stored: null, unsaved: null };
      if (cmd === 'note_history') return [];
      if (cmd === 'outcomes') return ['Reached', 'No answer', 'Call back'];
      if (cmd === 'window_painted') return null;
      if (cmd === 'policy_info') return { locked: [], problem: null, autostart_available: false, portal: { portal: null, sign_in: null, oauth_client_id: null, oauth_server: null, oauth_redirect: null, client_secret_preset: false } };
      if (cmd === 'window_prefs') return { focus_on_call: false, always_on_top: false, compact: false, notify_on_call: false, send_notes_on_call_end: false, language: 'auto', start_at_login: false };
      if (cmd !== 'app_status') throw new Error(`unexpected command ${cmd}`);
      return typeof answer === 'function' ? answer() : answer;
    },
    { shouldMockEvents: true },
  );
  return calls;
}

afterEach(() => {
  cleanup();
  clearMocks();
  delete document.documentElement.dataset.theme;
});

describe('waiting-for-call screen', () => {
  it('shows the status the app reports', async () => {
    const calls = serve(status);
    render(App);
    expect(await screen.findByText('Waiting for a call')).toBeTruthy();
    expect(screen.getByTestId('status-listener').textContent).toContain('127.0.0.1:47600');
    expect(screen.getByTestId('status-listener').textContent).toContain('Not running yet');
    expect(screen.getByTestId('status-portal').textContent).toContain('Not connected yet');
    expect(screen.getByTestId('status-mode').textContent).toContain('Normal');
    // The first paint is reported once, for the cold-start benchmark.
    await waitFor(() => expect(calls.filter((c) => c === 'window_painted')).toHaveLength(1));
    expect(screen.queryByTestId('mock-banner')).toBeNull();
    expect(calls.slice(0, 2)).toEqual(['app_status', 'calls']);
  });

  it('speaks Russian and applies a forced dark theme', async () => {
    serve({ ...status, language: 'ru', theme: 'dark' });
    render(App);
    expect(await screen.findByText('Ожидание звонка')).toBeTruthy();
    expect(screen.getByTestId('status-portal').textContent).toContain('Пока не подключён');
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(document.documentElement.lang).toBe('ru');
  });

  it('shows the mock banner and a failed listener with its reason', async () => {
    serve({
      ...status,
      mode: 'mock',
      listener: { state: 'failed', address: '127.0.0.1:47600', reason: 'port 47600 is in use' },
    });
    render(App);
    expect(await screen.findByTestId('mock-banner')).toBeTruthy();
    expect(screen.getByTestId('status-listener').textContent).toContain('port 47600 is in use');
  });

  it('says when the app listens on another port because the usual one is held, in both languages', async () => {
    const elsewhere = { state: 'elsewhere' as const, address: '127.0.0.1:53111', wanted: '127.0.0.1:47600', reason: '127.0.0.1:47600 is held by call-companion (pid 4242)' };
    for (const [language, words] of [['en', 'Listening on another port'], ['ru', 'Работает на другом порту']] as const) {
      serve({ ...status, language, listener: elsewhere });
      render(App);
      const row = await screen.findByTestId('status-listener');
      expect(row.textContent).toContain(words);
      expect(row.textContent).toContain('127.0.0.1:53111');
      expect(row.textContent).toContain('pid 4242');
      expect(row.querySelector('.dot')?.classList.contains('warn')).toBe(true);
      cleanup();
      clearMocks();
    }
  });

  it('shows the push channel: off, connected by transport, reconnecting, unavailable with why', async () => {
    const cases: [AppStatus['push'], Language, string[]][] = [
      [{ state: 'off' }, 'en', ['Off until you sign in with the application']],
      [{ state: 'connecting' }, 'en', ['Connecting…']],
      [{ state: 'connected', transport: 'websocket' }, 'en', ['Connected', 'WebSocket']],
      [{ state: 'connected', transport: 'long_polling' }, 'en', ['Connected', 'long polling']],
      [{ state: 'reconnecting', attempt: 3, next_in_ms: 4200 }, 'en', ['Reconnecting…', 'attempt 3, next in 4 s']],
      [{ state: 'reconnecting', attempt: 1, next_in_ms: 300 }, 'ru', ['Переподключение…', 'попытка 1, следующая через 1 с']],
      [{ state: 'unavailable', reason: 'the application has no pull scope' }, 'en', ['Unavailable', 'no pull scope']],
      [{ state: 'connected', transport: 'websocket' }, 'ru', ['Подключён', 'веб-сокет']],
      [{ state: 'connected', transport: 'long_polling' }, 'ru', ['Подключён', 'длинные опросы']],
    ];
    for (const [push, language, texts] of cases) {
      serve({ ...status, push, language });
      render(App);
      const row = await screen.findByTestId('status-push');
      for (const text of texts) expect(row.textContent, JSON.stringify(push)).toContain(text);
      cleanup();
      clearMocks();
    }
  });

  it('shows what start-up set aside until dismissed', async () => {
    serve({
      ...status,
      notices: [
        { code: 'prefs_invalid', message: '/home/a/.config/window.json could not be read (not valid); it is kept as /home/a/.config/window.json.corrupt-1 and the defaults are used', params: {} },
        { code: 'notes_damaged', message: 'the notes database was damaged; it is kept as notes.sqlite3.damaged-1 and a new one was started', params: {} },
      ],
    });
    render(App);
    const banner = await screen.findByTestId('startup-notices');
    expect(banner.textContent).toContain('Found at start-up');
    expect(banner.textContent).toContain('The window settings could not be read');
    // The full sentence, with the kept file's path, is there for IT.
    expect(banner.querySelector('details')!.textContent).toContain('window.json.corrupt-1');
    expect(banner.querySelectorAll('[data-code]')).toHaveLength(2);
    banner.querySelector('button')!.click();
    await waitFor(() => expect(screen.queryByTestId('startup-notices')).toBeNull());
  });

  it('shows a failed status call as an error with its code', async () => {
    serve(() => {
      throw { code: 'internal', message: 'state unavailable' };
    });
    render(App);
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('internal');
    expect(alert.textContent).toContain('state unavailable');
  });
});

describe('calls', () => {
  it('shows the current call at once: number, direction, state, line, CRM binding', async () => {
    serve(status, { ...noCalls, current: incoming });
    render(App);
    // The core's spelling, as people write it; the portal's digits stay in the context.
    expect((await screen.findByTestId('call-number')).textContent).toContain('+7 900 123-45-67');
    expect(screen.getByTestId('call-direction').textContent).toContain('Incoming');
    expect(screen.getByTestId('call-state').textContent).toContain('Connecting');
    expect(screen.getByTestId('call-line').textContent).toContain('Sales · +7 495 000-00-00');
    expect(screen.getByTestId('call-crm').textContent).toContain('Contact #42');
    expect(screen.getByTestId('call-bindings').textContent).toContain('Deal #25');
    expect(screen.getByTestId('call-bindings').textContent).not.toContain('Contact');
    expect(screen.getByTestId('call-list-mode').textContent).toContain('No');
    expect(screen.queryByTestId('waiting')).toBeNull();
  });

  it('says the caller hid the number, or that it is unknown, and looks nothing up', async () => {
    const hidden = {
      ...incoming,
      context: { ...incoming.context, phone_number: null, no_number: 'hidden', entity: null, bindings: [] },
    } as TrackedCall;
    const unknown = {
      ...incoming,
      context: { ...incoming.context, call_id: 'unknown', phone_number: null, no_number: 'unknown', entity: null, bindings: [] },
    } as TrackedCall;
    serve(status, { ...noCalls, revision: 1, current: hidden, recent: [unknown] }, {
      card: (args) => ({ call_id: (args as { callId: string }).callId, card: { state: 'nothing_to_look_up' } }),
    });
    render(App);
    expect((await screen.findByTestId('call-number')).textContent).toContain('Number hidden by the caller');
    expect((await screen.findByTestId('card-nothing')).textContent).toContain('The caller hid the number');
    expect(screen.getByTestId('recent-calls').textContent).toContain('Number not shown');
    await emit('calls', { ...noCalls, revision: 2, current: unknown, recent: [hidden] });
    await waitFor(() => expect(screen.getByTestId('card-nothing').textContent).toContain('The number is unknown'));
    expect(screen.getByTestId('recent-calls').textContent).toContain('Number hidden by the caller');
  });

  it('follows updates sent as events, and keeps unknown values readable', async () => {
    serve({ ...status, language: 'ru' });
    render(App);
    expect(await screen.findByTestId('waiting')).toBeTruthy();
    const update = {
      ...incoming,
      context: { ...incoming.context, state: { kind: 'unknown', value: 'on_hold' }, direction: { kind: 'outgoing' }, call_list_mode: true },
    } as TrackedCall;
    await emit('calls', { ...noCalls, revision: 1, current: update, recent: [{ ...incoming, context: { ...incoming.context, call_id: 'old', phone_number: null } }] });
    expect((await screen.findByTestId('call-state')).textContent).toContain('Состояние (on_hold)');
    expect(screen.getByTestId('call-direction').textContent).toContain('Исходящий');
    expect(screen.getByTestId('call-list-mode').textContent).toContain('обзвон');
    expect(screen.getByTestId('recent-calls').textContent).toContain('Номер не определён');
  });

  it('shows a refused payload to the tester until dismissed', async () => {
    serve(status, {
      ...noCalls,
      last_rejection: { code: 'missing_call_id', message: 'missing CALL_ID', via: 'listener', at_ms: 5 },
    });
    render(App);
    const alert = await screen.findByTestId('rejection');
    expect(alert.textContent).toContain('missing CALL_ID');
    expect(alert.textContent).toContain('missing_call_id');
    screen.getByText('Dismiss').click();
    await waitFor(() => expect(screen.queryByTestId('rejection')).toBeNull());
  });

  it('settings show the pairing code', async () => {
    serve(status);
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    expect((await screen.findByTestId('pairing-code')).textContent?.replace(/\s/g, '')).toBe('042917');
    expect(screen.getByText(/Valid for 4:59/)).toBeTruthy();
  });

  it('a new call closes settings; an update of the same call does not', async () => {
    serve(status, { ...noCalls, revision: 1, current: incoming });
    render(App);
    expect(await screen.findByTestId('call-number')).toBeTruthy();
    (await screen.findByTestId('settings-toggle')).click();
    expect(await screen.findByTestId('settings')).toBeTruthy();
    const connected = { ...incoming, context: { ...incoming.context, state: { kind: 'connected' } } } as TrackedCall;
    await emit('calls', { ...noCalls, revision: 2, current: connected });
    expect(screen.getByTestId('settings')).toBeTruthy();
    const next = { ...incoming, number: '+7 900 555-01-01', context: { ...incoming.context, call_id: 'next', phone_number: '+79005550101' } };
    await emit('calls', { ...noCalls, revision: 3, current: next, recent: [connected] });
    expect((await screen.findByTestId('call-number')).textContent).toContain('+7 900 555-01-01');
    expect(screen.queryByTestId('settings')).toBeNull();
  });

  it('signs in with a Bitrix24 application: the form goes to the app, the status follows', async () => {
    let sent: unknown = null;
    serve(status, noCalls, {
      begin_oauth_sign_in: (args) => {
        sent = args;
        return { state: 'signing_in', domain: 'acme.bitrix24.ru', authorize_url: 'https://acme.bitrix24.ru/oauth/authorize/?client_id=x&state=y' };
      },
    });
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    const type = (id: string, value: string) => {
      const input = screen.getByTestId(id) as HTMLInputElement;
      input.value = value;
      input.dispatchEvent(new Event('input', { bubbles: true }));
    };
    await screen.findByTestId('portal-form');
    expect(screen.getByTestId('portal-redirect-uri').textContent).toBe('http://127.0.0.1:47600/v1/oauth/callback');
    type('portal-address', 'acme.bitrix24.ru');
    type('portal-client-id', 'local.abc');
    type('portal-client-secret', 's3cret');
    screen.getByTestId('portal-submit').click();
    expect(await screen.findByTestId('portal-signing-in')).toBeTruthy();
    expect(sent).toEqual({
      form: { portal: 'acme.bitrix24.ru', client_id: 'local.abc', client_secret: 's3cret', oauth_server: '', session_only: false, redirect: '' },
    });
    await emit('status', {
      ...status,
      portal: { state: 'connected', domain: 'acme.bitrix24.ru', user_name: 'Анна Смирнова', user_id: 1, method: 'oauth', session_only: false },
    });
    expect((await screen.findByTestId('portal-signed-in')).textContent).toContain('Анна Смирнова');
  });

  it('offers a session-only sign-in when the keyring is unavailable', async () => {
    serve(status, noCalls, {
      sign_in_with_webhook: () => {
        throw { code: 'keyring_unavailable', message: 'the OS keyring is not available' };
      },
    });
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    (await screen.findByTestId('portal-method-webhook')).click();
    const url = (await screen.findByTestId('portal-webhook-url')) as HTMLInputElement;
    url.value = 'https://acme.bitrix24.ru/rest/1/abcdefgh12/';
    url.dispatchEvent(new Event('input', { bubbles: true }));
    expect(screen.queryByTestId('portal-session-only')).toBeNull();
    screen.getByTestId('portal-submit').click();
    expect((await screen.findByTestId('portal-error')).textContent).toContain('keyring_unavailable');
    expect(screen.getByTestId('portal-session-only')).toBeTruthy();
  });

  it('an administrator installs and removes the call card widget from Settings', async () => {
    let bound: { handler: string; title: string; titles: Record<string, string> }[] = [];
    const asked: unknown[] = [];
    serve(
      { ...status, portal: { state: 'connected', domain: 'acme.bitrix24.ru', user_name: 'Anna Smirnova', user_id: 1, method: 'oauth', session_only: false } },
      noCalls,
      {
        relay_widgets: () => bound,
        install_relay_widget: (args) => {
          asked.push(args);
          const { handler } = args as { handler: string };
          if (!handler.startsWith('https://')) throw { code: 'bad_widget_handler', message: `"${handler}" must start with https://` };
          bound = [{ handler, title: 'Call Companion', titles: { en: 'Call Companion', ru: 'Call Companion' } }];
          return bound;
        },
        uninstall_relay_widget: () => {
          bound = [];
          return bound;
        },
      },
    );
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    const section = (await screen.findByTestId('widget-admin')) as HTMLDetailsElement;
    section.open = true;
    section.dispatchEvent(new Event('toggle'));
    expect(await screen.findByTestId('widget-none')).toBeTruthy();
    const field = screen.getByTestId('widget-handler') as HTMLInputElement;
    field.value = 'http://intranet.example.com/';
    field.dispatchEvent(new Event('input', { bubbles: true }));
    screen.getByTestId('widget-install').click();
    expect((await screen.findByTestId('widget-error')).textContent).toContain('bad_widget_handler');
    field.value = 'https://intranet.example.com/relay/';
    field.dispatchEvent(new Event('input', { bubbles: true }));
    screen.getByTestId('widget-install').click();
    expect((await screen.findByTestId('widget-list')).textContent).toContain('https://intranet.example.com/relay/');
    expect(asked).toEqual([
      { handler: 'http://intranet.example.com/', title: null },
      { handler: 'https://intranet.example.com/relay/', title: null },
    ]);
    screen.getByText('Remove').click();
    expect(await screen.findByTestId('widget-none')).toBeTruthy();
  });

  it('an administrator binds the app\'s own tab, and a portal that refuses it says why', async () => {
    let refuse = true;
    let asked = 0;
    serve(
      { ...status, portal: { state: 'connected', domain: 'acme.bitrix24.ru', user_name: 'Anna Smirnova', user_id: 1, method: 'call_card', session_only: false } },
      noCalls,
      {
        relay_widgets: () => [],
        install_call_card_tab: () => {
          asked += 1;
          if (refuse) {
            refuse = false;
            throw { code: 'widget_handler_refused', message: 'the portal refused http://127.0.0.1:47600/call-card/ as the call card\'s address (ERROR_WRONG_HANDLER_URL: Wrong handler URL)' };
          }
          return [{ handler: 'http://127.0.0.1:47600/call-card/', title: 'Call Companion', titles: { en: 'Call Companion' } }];
        },
      },
    );
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    expect((await screen.findByTestId('portal-signed-in')).textContent).toContain('from the call card');
    const section = (await screen.findByTestId('widget-admin')) as HTMLDetailsElement;
    section.open = true;
    section.dispatchEvent(new Event('toggle'));
    screen.getByTestId('widget-install-direct').click();
    expect((await screen.findByTestId('widget-error')).textContent).toContain('ERROR_WRONG_HANDLER_URL');
    screen.getByTestId('widget-install-direct').click();
    expect((await screen.findByTestId('widget-list')).textContent).toContain('http://127.0.0.1:47600/call-card/');
    expect(asked).toBe(2);
  });

  it('the Mock panel sends a scenario to the listener, by push, or opens it in the browser, and says where', async () => {
    const ran: string[] = [];
    serve({ ...status, mode: 'mock' }, noCalls, {
      mock_scenarios: () => [{ name: 'incoming-contact', description: 'A known contact calls in' }],
      mock_faults: () => ({ slow: false, portal_down: false, rate_limit_storm: false, expired_token: false, drop_after_commit: false }),
      mock_run: (args) => {
        const { name, via } = args as { name: string; via: string };
        ran.push(`${via === 'push' ? 'push' : 'run'} ${name}`);
      },
      mock_open_call_card: (args) => {
        ran.push(`browser ${(args as { name: string }).name}`);
        return 'http://127.0.0.1:9000/sim/call-card?scenario=incoming-contact';
      },
    });
    render(App);
    (await screen.findByTestId('scenario-incoming-contact')).click();
    await waitFor(() => expect(ran).toEqual(['run incoming-contact']));
    expect((screen.getByTestId('mock-via-listener') as HTMLInputElement).checked).toBe(true);
    screen.getByTestId('mock-via-push').click();
    screen.getByTestId('scenario-incoming-contact').click();
    await waitFor(() => expect(ran).toEqual(['run incoming-contact', 'push incoming-contact']));
    expect(screen.queryByTestId('mock-opened')).toBeNull();
    screen.getByTestId('mock-via-browser').click();
    screen.getByTestId('scenario-incoming-contact').click();
    expect((await screen.findByTestId('mock-opened')).textContent).toContain('/sim/call-card?scenario=incoming-contact');
    expect(ran).toEqual(['run incoming-contact', 'push incoming-contact', 'browser incoming-contact']);
    screen.getByTestId('mock-via-listener').click();
    screen.getByTestId('scenario-incoming-contact').click();
    await waitFor(() => expect(ran).toHaveLength(4));
    expect(ran[3]).toBe('run incoming-contact');
  });

  it('settings locked by IT are shown disabled, and a broken policy file says why', async () => {
    serve(status, noCalls, {
      policy_info: () => ({ locked: ['compact', 'language', 'start_at_login'], problem: 'the policy file /etc/call-companion/policy.toml is not valid (line 3): unknown field `favourite_colour`', autostart_available: true, portal: { portal: null, sign_in: null, oauth_client_id: null, oauth_server: null, oauth_redirect: null, client_secret_preset: false } }),
    });
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    expect((await screen.findByTestId('locked-compact')).textContent).toContain('set by IT');
    expect((screen.getByTestId('pref-compact') as HTMLInputElement).disabled).toBe(true);
    expect((screen.getByTestId('pref-always_on_top') as HTMLInputElement).disabled).toBe(false);
    expect((screen.getByTestId('pref-language') as HTMLSelectElement).disabled).toBe(true);
    expect(screen.getByTestId('policy-problem').textContent).toContain('line 3');
    expect((screen.getByTestId('pref-start_at_login') as HTMLInputElement).disabled).toBe(true);
  });

  it('IT presets the sign-in: the portal and keys are filled, what is locked cannot be edited', async () => {
    const forms: unknown[] = [];
    serve(status, noCalls, {
      policy_info: () => ({
        locked: ['portal', 'sign_in', 'oauth_client_secret', 'oauth_redirect'],
        problem: null,
        autostart_available: false,
        portal: { portal: 'acme.bitrix24.ru', sign_in: 'oauth', oauth_client_id: 'local.abc.123', oauth_server: null, oauth_redirect: 'https://widgets.acme.example/relay/signed-in.html', client_secret_preset: true },
      }),
      begin_oauth_sign_in: (args) => {
        forms.push(args);
        return { state: 'signing_in', domain: 'acme.bitrix24.ru', authorize_url: 'https://acme.bitrix24.ru/oauth/authorize/' };
      },
    });
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    const address = (await screen.findByTestId('portal-address')) as HTMLInputElement;
    await waitFor(() => expect(address.value).toBe('acme.bitrix24.ru'));
    expect(address.disabled).toBe(true);
    expect(screen.queryByTestId('portal-method-webhook')).toBeNull();
    expect(screen.queryByTestId('portal-client-secret')).toBeNull();
    expect(screen.getByTestId('portal-secret-preset')).toBeTruthy();
    expect((screen.getByTestId('portal-client-id') as HTMLInputElement).value).toBe('local.abc.123');
    // A terminal server: the sign-in comes back through the relay's page, shown as the redirect.
    const redirect = screen.getByTestId('portal-oauth-redirect') as HTMLInputElement;
    expect(redirect.value).toBe('https://widgets.acme.example/relay/signed-in.html');
    expect(redirect.disabled).toBe(true);
    expect(screen.getByTestId('portal-redirect-uri').textContent).toBe('https://widgets.acme.example/relay/signed-in.html');
    screen.getByTestId('portal-submit').click();
    await waitFor(() =>
      expect(forms).toEqual([
        {
          form: {
            portal: 'acme.bitrix24.ru',
            client_id: 'local.abc.123',
            client_secret: '',
            oauth_server: '',
            session_only: false,
            redirect: 'https://widgets.acme.example/relay/signed-in.html',
          },
        },
      ]),
    );
  });

  it('exports diagnostics for support, phone numbers masked unless asked', async () => {
    const asked: unknown[] = [];
    serve(status, noCalls, {
      export_diagnostics: (args) => {
        asked.push(args);
        return '/home/agent/Downloads/call-companion-diagnostics-1764190000.zip';
      },
    });
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    (await screen.findByTestId('support-export')).click();
    expect((await screen.findByTestId('support-exported')).textContent).toContain('call-companion-diagnostics-1764190000.zip');
    (screen.getByTestId('support-keep-phones') as HTMLInputElement).click();
    screen.getByTestId('support-export').click();
    await waitFor(() => expect(asked).toEqual([{ keepPhoneNumbers: false }, { keepPhoneNumbers: true }]));
  });

  it('a webhook sign-in offers no widget installation (Bitrix24 refuses it)', async () => {
    serve({ ...status, portal: { state: 'connected', domain: 'acme.bitrix24.ru', user_name: 'Emily Carter', user_id: 3, method: 'webhook', session_only: false } });
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    await screen.findByTestId('portal-signed-in');
    expect(screen.queryByTestId('widget-admin')).toBeNull();
  });

  it('a signed-in portal shows the user and signs out', async () => {
    let signedOut = false;
    serve(
      { ...status, portal: { state: 'connected', domain: 'acme.bitrix24.ru', user_name: 'Emily Carter', user_id: 3, method: 'webhook', session_only: true } },
      noCalls,
      {
        sign_out: () => {
          signedOut = true;
          return { state: 'not_configured' };
        },
      },
    );
    render(App);
    expect((await screen.findByTestId('status-portal')).textContent).toContain('Emily Carter');
    (await screen.findByTestId('settings-toggle')).click();
    expect((await screen.findByTestId('portal-signed-in')).textContent).toContain('with an incoming webhook');
    expect(screen.getByText(/For this session only/)).toBeTruthy();
    screen.getByTestId('portal-sign-out').click();
    expect(await screen.findByTestId('portal-form')).toBeTruthy();
    expect(signedOut).toBe(true);
  });

  it('shows the CRM card: the record, its deals with money and stage, and opens it in Bitrix24', async () => {
    const opened: unknown[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, { open_record: (args) => opened.push(args) });
    render(App);
    expect(await screen.findByTestId('card-loading')).toBeTruthy();
    await emit('card', {
      call_id: incoming.context.call_id,
      card: {
        state: 'ready',
        record: {
          subject: { kind: 'contact', id: 42, title: 'Ирина Петрова', detail: 'Главный бухгалтер', stage: null, phones: ['+7 (900) 123-45-67'], emails: [], url: 'https://acme.bitrix24.ru/crm/contact/details/42/' },
          company: { kind: 'company', id: 17, title: 'ООО «Ромашка»', detail: null, stage: null, phones: [], emails: [], url: 'x' },
          contacts: [],
          deals: [{ id: 25, title: 'Годовой контракт', stage: 'EXECUTING', amount: 480000, currency: 'RUB', url: 'x' }],
          activities: [{ id: 1, kind: 'call', subject: 'Входящий звонок', incoming: true, at: '2026-01-03T09:00:00+03:00', completed: true }],
          comments: [{ id: 1, text: 'Предпочитает звонки после 14:00.', at: null }],
          responsible: { id: 5, name: 'Максим Зайцев', position: null },
          requests: 1,
        },
      },
    });
    expect((await screen.findByTestId('card-subject')).textContent).toContain('Ирина Петрова');
    const deals = screen.getByTestId('card-deals').textContent ?? '';
    expect(deals).toContain('Годовой контракт');
    expect(deals).toContain('In progress');
    expect(deals.replace(/\s/g, '')).toContain('480,000');
    expect(screen.getByTestId('card-responsible').textContent).toContain('Максим Зайцев');
    expect(screen.getByTestId('card-comments').textContent).toContain('14:00');
    screen.getByTestId('card-open').click();
    await waitFor(() => expect(opened).toEqual([{ kind: 'contact', id: 42 }]));
  });

  it('a shared number offers a picker and the pick goes to the app', async () => {
    const chosen: unknown[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      card: () => ({
        call_id: incoming.context.call_id,
        card: { state: 'choose', number: '74951234567', candidates: [
          { kind: 'contact', id: 42, title: 'Ирина Петрова', detail: null },
          { kind: 'company', id: 17, title: 'ООО «Ромашка»', detail: null },
        ], cut: false },
      }),
      choose_record: (args) => chosen.push(args),
    });
    render(App);
    const choices = await screen.findByTestId('card-choices');
    expect(choices.textContent).toContain('ООО «Ромашка»');
    expect(screen.queryByTestId('card-choose-cut')).toBeNull();
    (choices.querySelectorAll('button')[1] as HTMLButtonElement).click();
    await waitFor(() => expect(chosen).toEqual([{ callId: incoming.context.call_id, kind: 'company', id: 17 }]));
  });

  it('a number shared by more records than the portal names says so and offers the name search', async () => {
    const searched: unknown[] = [];
    const leads = Array.from({ length: 20 }, (_, i) => ({ kind: 'lead', id: 60 + i, title: `Заявка ${i}`, detail: null }));
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      card: () => ({ call_id: incoming.context.call_id, card: { state: 'choose', number: '74957770000', candidates: leads, cut: true } }),
      search_crm: (args) => searched.push(args),
    });
    render(App);
    expect((await screen.findByTestId('card-choose-cut')).textContent).toContain('More than 20 records');
    const input = screen.getByTestId('card-search') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'Альфа' } });
    await fireEvent.submit(input.closest('form') as HTMLFormElement);
    await waitFor(() => expect(searched).toEqual([{ callId: incoming.context.call_id, query: 'Альфа' }]));
  });

  it('forgets the cards of calls that left the recent list, and asks again if one comes back', async () => {
    const asked: string[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      card: (args) => {
        const callId = (args as { callId: string }).callId;
        asked.push(callId);
        return { call_id: callId, card: { state: 'nothing_to_look_up' } };
      },
    });
    render(App);
    await waitFor(() => expect(asked).toEqual([incoming.context.call_id]));
    const other = { ...incoming, context: { ...incoming.context, call_id: 'other' } };
    // The first call is still listed: its card is kept and not asked for again.
    await emit('calls', { ...noCalls, revision: 2, current: other, recent: [incoming] });
    await emit('calls', { ...noCalls, revision: 3, current: incoming, recent: [other] });
    await waitFor(() => expect(asked).toEqual([incoming.context.call_id, 'other']));
    // It fell off the list, then came back: its card is asked for again.
    await emit('calls', { ...noCalls, revision: 4, current: other, recent: [] });
    await emit('calls', { ...noCalls, revision: 5, current: incoming, recent: [] });
    await waitFor(() => expect(asked).toEqual([incoming.context.call_id, 'other', incoming.context.call_id]));
  });

  it('a failed card says what to do and retries', async () => {
    const retried: unknown[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      card: () => ({ call_id: incoming.context.call_id, card: { state: 'failed', code: 'network_error', message: 'cannot reach the portal', action: 'check_connection' } }),
      reload_card: (args) => retried.push(args),
    });
    render(App);
    const failed = await screen.findByTestId('card-failed');
    expect(failed.textContent).toContain('Check the portal address');
    screen.getByText('Try again').click();
    await waitFor(() => expect(retried).toEqual([{ callId: incoming.context.call_id }]));
  });

  it('a failure is worded by its code in the window\'s language, the details kept for IT', async () => {
    serve({ ...status, language: 'ru' }, { ...noCalls, revision: 1, current: incoming }, {
      card: () => ({ call_id: incoming.context.call_id, card: { state: 'failed', code: 'network_error', message: 'cannot reach the portal', action: 'check_connection' } }),
    });
    render(App);
    const failed = await screen.findByTestId('card-failed');
    expect(failed.textContent).toContain('Нет связи с Битрикс24. Проверьте подключение.');
    expect(screen.getByTestId('card-failed-detail').textContent).toBe('cannot reach the portal network_error');
    expect(failed.textContent).not.toContain('Bitrix24 did not');
  });

  it('a card whose request Bitrix24 paused says until when, in the agent\'s time', async () => {
    const until = new Date(2026, 11, 1, 14, 5).getTime() / 1000;
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      card: () => ({
        call_id: incoming.context.call_id,
        card: { state: 'failed', code: 'operation_time_limit', message: 'Bitrix24 paused crm.contact.get', action: 'try_later', paused_until: until },
      }),
    });
    render(App);
    const paused = await screen.findByTestId('card-paused');
    expect(paused.textContent).toContain('paused this kind of request for the app until');
    expect(paused.textContent).toMatch(/(14|02):05/);
  });

  it('a pop the next call stopped, or one past its deadline, says so in words and offers a retry', async () => {
    for (const [code, testId, words] of [
      ['cancelled', 'card-stopped', 'the next call arrived'],
      ['deadline', 'card-deadline', 'did not answer in time'],
    ]) {
      const retried: unknown[] = [];
      serve(status, { ...noCalls, revision: 1, current: incoming }, {
        card: () => ({
          call_id: incoming.context.call_id,
          card: { state: 'failed', code, message: 'stopped', action: 'try_later' },
        }),
        reload_card: (args) => retried.push(args),
      });
      render(App);
      expect((await screen.findByTestId(testId)).textContent).toContain(words);
      screen.getByText('Try again').click();
      await waitFor(() => expect(retried).toEqual([{ callId: incoming.context.call_id }]));
      cleanup();
      clearMocks();
    }
  });

  it('a deleted portal asks for another one', async () => {
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      card: () => ({
        call_id: incoming.context.call_id,
        card: { state: 'failed', code: 'portal_deleted', message: 'this Bitrix24 portal no longer exists', action: 'other_portal', paused_until: null },
      }),
    });
    render(App);
    const failed = await screen.findByTestId('card-failed');
    expect(failed.textContent).toContain('sign in to another portal');
  });

  it('an unknown caller becomes a lead after the agent confirms', async () => {
    const created: unknown[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      card: () => ({ call_id: incoming.context.call_id, card: { state: 'unknown', number: '79999996666' } }),
      create_record: (args) => {
        created.push(args);
        return 701;
      },
    });
    render(App);
    (await screen.findByTestId('card-create-lead')).click();
    const name = (await screen.findByTestId('card-create-name')) as HTMLInputElement;
    expect(created).toEqual([]);
    name.value = 'Павел';
    name.dispatchEvent(new Event('input', { bubbles: true }));
    screen.getByTestId('card-create-confirm').click();
    await waitFor(() => expect(created).toEqual([{ callId: incoming.context.call_id, kind: 'lead', name: 'Павел' }]));
  });

  it('the next call\'s card does not keep the name typed for the previous caller', async () => {
    const other = { ...incoming, context: { ...incoming.context, call_id: 'next-call' } };
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      card: (args) => ({ call_id: (args as { callId: string }).callId, card: { state: 'unknown', number: '79999996666' } }),
    });
    render(App);
    const input = (await screen.findByTestId('card-search')) as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'Петрова' } });
    expect(input.value).toBe('Петрова');
    await emit('calls', { ...noCalls, revision: 2, current: other, recent: [incoming] });
    await waitFor(() => expect((screen.getByTestId('card-search') as HTMLInputElement).value).toBe(''));
  });

  it('keys: a digit picks from the list, Ctrl+O opens the record', async () => {
    const chosen: unknown[] = [];
    const opened: unknown[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      card: () => ({
        call_id: incoming.context.call_id,
        card: { state: 'choose', number: '74951234567', candidates: [
          { kind: 'contact', id: 42, title: 'Ирина Петрова', detail: null },
          { kind: 'company', id: 17, title: 'ООО «Ромашка»', detail: null },
        ], cut: false },
      }),
      choose_record: (args) => chosen.push(args),
      open_record: (args) => opened.push(args),
    });
    render(App);
    const list = await screen.findByTestId('card-choices');
    list.dispatchEvent(new KeyboardEvent('keydown', { key: '2', bubbles: true }));
    await waitFor(() => expect(chosen).toEqual([{ callId: incoming.context.call_id, kind: 'company', id: 17 }]));
    await emit('card', {
      call_id: incoming.context.call_id,
      card: { state: 'ready', record: {
        subject: { kind: 'company', id: 17, title: 'ООО «Ромашка»', detail: null, stage: null, phones: [], emails: [], url: 'x' },
        company: null, contacts: [], deals: [], activities: [], comments: [], responsible: null, requests: 1,
      } },
    });
    await screen.findByTestId('card-subject');
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'o', ctrlKey: true, bubbles: true }));
    await waitFor(() => expect(opened).toEqual([{ kind: 'company', id: 17 }]));
  });

  it('window preferences are saved through the app and compact mode changes the layout', async () => {
    const saved: unknown[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      set_window_prefs: (args) => {
        saved.push(args);
        return (args as { prefs: unknown }).prefs;
      },
    });
    render(App);
    (await screen.findByTestId('settings-toggle')).click();
    (await screen.findByTestId('pref-compact')).click();
    await waitFor(() => expect(saved).toEqual([{ prefs: { focus_on_call: false, always_on_top: false, compact: true, notify_on_call: false, send_notes_on_call_end: false, language: 'auto', start_at_login: false } }]));
    await waitFor(() => expect(screen.getByTestId('app').classList.contains('compact')).toBe(true));
  });

  it('a note is kept as it is typed, sent with Ctrl+Enter, and shows where it stands', async () => {
    const saved: unknown[] = [];
    const sent: unknown[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      save_note: (args) => {
        saved.push(args);
        return noteOf({ text: (args as { text: string }).text, state: 'draft' });
      },
      send_note: (args) => {
        sent.push(args);
        return noteOf({ text: 'Перезвонить в 14:00', state: 'queued' });
      },
    });
    render(App);
    const area = (await screen.findByTestId('note-text')) as HTMLTextAreaElement;
    area.value = 'Перезвонить в 14:00';
    area.dispatchEvent(new Event('input', { bubbles: true }));
    await waitFor(() => expect(saved).toEqual([{ callId: incoming.context.call_id, text: 'Перезвонить в 14:00' }]), { timeout: 2000 });
    expect(screen.getByTestId('note-status').textContent).toContain('Saved on this computer');
    area.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', ctrlKey: true, bubbles: true }));
    await waitFor(() => expect(sent).toEqual([{ callId: incoming.context.call_id }]));
    await emit('note', noteOf({ text: 'Перезвонить в 14:00', state: 'sent', comment_id: 700, sent_text: 'Перезвонить в 14:00', sent_ms: Date.now() }));
    await waitFor(() => expect(screen.getByTestId('note-status').textContent).toContain('Saved in the CRM at'));
    // Where it went: as a comment on the record, or on the call itself (the call's activity).
    await emit('note', noteOf({ text: 'Перезвонить в 14:00', state: 'sent', comment_id: 700, via: 'comment', sent_text: 'Перезвонить в 14:00', sent_ms: Date.now() }));
    await waitFor(() => expect(screen.getByTestId('note-status').textContent).toContain('Saved in the CRM as a comment on Contact 42 at'));
    await emit('note', noteOf({ text: 'Перезвонить в 14:00', state: 'sent', activity_id: 701, via: 'activity', sent_text: 'Перезвонить в 14:00', sent_ms: Date.now() }));
    await waitFor(() => expect(screen.getByTestId('note-status').textContent).toContain('Saved on the call in the CRM at'));
  });

  it('an outcome is picked with Alt and its digit, sent with the note, and picked again to clear', async () => {
    const picked: unknown[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      set_outcome: (args) => {
        picked.push(args);
        const { outcome } = args as { outcome: string | null };
        return noteOf({ outcome, state: 'draft' });
      },
      send_note: () => noteOf({ outcome: 'No answer', state: 'queued' }),
    });
    render(App);
    const second = await screen.findByTestId('outcome-2');
    expect(second.textContent).toContain('No answer');
    expect(second.getAttribute('aria-keyshortcuts')).toBe('Alt+2');
    // Nothing typed, nothing picked: nothing to save.
    expect((screen.getByTestId('note-send') as HTMLButtonElement).disabled).toBe(true);
    window.dispatchEvent(new KeyboardEvent('keydown', { code: 'Digit2', key: '@', altKey: true, bubbles: true }));
    await waitFor(() => expect(picked).toEqual([{ callId: incoming.context.call_id, outcome: 'No answer' }]));
    await waitFor(() => expect(second.getAttribute('aria-pressed')).toBe('true'));
    // An outcome alone is worth saving.
    expect((screen.getByTestId('note-send') as HTMLButtonElement).disabled).toBe(false);
    // Sent as it is: the button rests until the outcome or the text changes.
    await emit('note', noteOf({ outcome: 'No answer', state: 'sent', comment_id: 700, via: 'comment', sent_text: '[No answer]\n', sent_ms: Date.now() }));
    await waitFor(() => expect((screen.getByTestId('note-send') as HTMLButtonElement).disabled).toBe(true));
    second.click();
    await waitFor(() => expect(picked.at(-1)).toEqual({ callId: incoming.context.call_id, outcome: null }));
    await waitFor(() => expect(second.getAttribute('aria-pressed')).toBe('false'));
  });

  it('before the app closes, what was just typed is kept at once, then the app is told it may go', async () => {
    const order: string[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      save_note: (args) => {
        const { text } = args as { text: string };
        order.push(`save ${text}`);
        return noteOf({ text, state: 'draft' });
      },
      notes_kept: () => {
        order.push('kept');
        return null;
      },
    });
    render(App);
    const area = (await screen.findByTestId('note-text')) as HTMLTextAreaElement;
    area.value = 'Последние слова';
    area.dispatchEvent(new Event('input', { bubbles: true }));
    // Well inside the typing pause after which the note would be saved anyway.
    await emit('keep-notes', null);
    await waitFor(() => expect(order).toEqual(['save Последние слова', 'kept']), { timeout: 300 });
  });

  it('a note the disk refuses stays in the field with a warning; the app, not the window, tries again', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const full = { code: 'notes_disk_full', message: 'the disk is full, so this note is not saved on this computer yet', params: {} };
      const tries: string[] = [];
      serve(status, { ...noCalls, revision: 1, current: incoming }, {
        save_note: (args) => {
          tries.push((args as { text: string }).text);
          throw full;
        },
      });
      render(App);
      const area = (await screen.findByTestId('note-text')) as HTMLTextAreaElement;
      area.value = 'Клиент просит счёт';
      area.dispatchEvent(new Event('input', { bubbles: true }));
      await vi.advanceTimersByTimeAsync(500);
      await waitFor(() => expect(screen.getByTestId('note-status').textContent).toContain('The disk is full'));
      expect(screen.getByTestId('note-status').textContent).toContain('notes_disk_full');
      expect(area.value).toBe('Клиент просит счёт');
      // The app holds the refused text and offers it again; the window sends it once.
      await vi.advanceTimersByTimeAsync(11_000);
      expect(tries).toEqual(['Клиент просит счёт']);

      // The app kept it later: its news clears the warning.
      await emit('note', noteOf({ text: 'Клиент просит счёт', state: 'draft' }));
      await waitFor(() => expect(screen.getByTestId('note-status').textContent).toContain('Saved on this computer'));
    } finally {
      vi.useRealTimers();
    }
  });

  it('text the app holds comes back to the field with its warning after another call, and newer typing replaces it', async () => {
    const unavailable = { code: 'notes_unavailable', message: 'the notes database could not be opened', params: {} };
    let held: string | null = null;
    const saved: string[] = [];
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      note: (args) => ((args as { callId: string }).callId === incoming.context.call_id && held !== null
        ? { stored: null, unsaved: { text: held, error: unavailable } }
        : { stored: null, unsaved: null }),
      save_note: (args) => {
        const { callId, text } = args as { callId: string; text: string };
        if (held !== null && callId === incoming.context.call_id && text.endsWith('исправленный')) {
          saved.push(text);
          held = null;
          return noteOf({ call_id: callId, target: null, text, state: 'draft' });
        }
        held = text;
        throw unavailable;
      },
    });
    render(App);
    let area = (await screen.findByTestId('note-text')) as HTMLTextAreaElement;
    area.value = 'Первый вариант';
    area.dispatchEvent(new Event('input', { bubbles: true }));
    await waitFor(() => expect(screen.getByTestId('note-status').textContent).toContain('notes_unavailable'), { timeout: 2000 });

    // Another call, then back to the first: the held text is in the field again, with why.
    const next = { ...incoming, number: '+7 900 555-01-01', context: { ...incoming.context, call_id: 'next', phone_number: '+79005550101' } };
    await emit('calls', { ...noCalls, revision: 2, current: next, recent: [incoming] });
    expect((await screen.findByTestId('call-number')).textContent).toContain('+7 900 555-01-01');
    (screen.getByTestId('recent-calls').querySelector('button') as HTMLButtonElement).click();
    await waitFor(() => expect((screen.getByTestId('note-text') as HTMLTextAreaElement).value).toBe('Первый вариант'));
    expect(screen.getByTestId('note-status').textContent).toContain('notes_unavailable');

    // The agent types on: the newer text is what is saved.
    area = screen.getByTestId('note-text') as HTMLTextAreaElement;
    area.value = 'Первый вариант, исправленный';
    area.dispatchEvent(new Event('input', { bubbles: true }));
    await waitFor(() => expect(saved).toEqual(['Первый вариант, исправленный']), { timeout: 2000 });
    await waitFor(() => expect(screen.getByTestId('note-status').textContent).not.toContain('notes_unavailable'));
  });

  it('a call from an unverified link says so in the window\'s language, and its note cannot be sent', async () => {
    const fromLink = { ...incoming, unverified: true, context: { ...incoming.context, source: 'deep_link' as const } };
    for (const [language, badge, hint] of [
      ['en', 'Unverified link.', 'its note stays on this computer'],
      ['ru', 'Непроверенная ссылка.', 'заметка остаётся на этом компьютере'],
    ] as const) {
      serve({ ...status, language }, { ...noCalls, revision: 1, current: fromLink });
      render(App);
      const note = await screen.findByTestId('call-unverified');
      expect(note.textContent).toContain(badge);
      const area = (await screen.findByTestId('note-text')) as HTMLTextAreaElement;
      area.value = 'Text';
      area.dispatchEvent(new Event('input', { bubbles: true }));
      expect((screen.getByTestId('note-send') as HTMLButtonElement).disabled).toBe(true);
      expect(screen.getByTestId('note-status').textContent).toContain(hint);
      cleanup();
      clearMocks();
    }
    // A verified call shows neither.
    serve(status, { ...noCalls, revision: 1, current: incoming });
    render(App);
    await screen.findByTestId('call-number');
    expect(screen.queryByTestId('call-unverified')).toBeNull();
  });

  it('a note sent before the answer to Save to CRM arrives still shows as sent', async () => {
    const base = { text: 'Счёт отправлен' };
    serve(status, { ...noCalls, revision: 1, current: incoming }, {
      note: () => ({ stored: noteOf({ ...base, state: 'draft' }), unsaved: null }),
      // The outbox is quicker than the command's answer: its news comes first.
      send_note: async () => {
        await emit('note', noteOf({ ...base, state: 'sent', comment_id: 700, sent_text: base.text, sent_ms: Date.now() }));
        return noteOf({ ...base, state: 'queued' });
      },
    });
    render(App);
    await waitFor(() => expect((screen.getByTestId('note-text') as HTMLTextAreaElement).value).toBe('Счёт отправлен'));
    screen.getByTestId('note-send').click();
    await waitFor(() => expect(screen.getByTestId('note-status').dataset.state).toBe('sent'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(screen.getByTestId('note-status').dataset.state).toBe('sent');
    expect(screen.getByTestId('note-status').textContent).toContain('Saved in the CRM at');
  });
});
