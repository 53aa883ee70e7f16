import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import PortalSettings from './PortalSettings.svelte';
import type { PolicyInfo, PortalStatus } from './bindings';
import { translate } from './i18n';

const policy: PolicyInfo = {
  locked: [],
  problem: null,
  autostart_available: false,
  portal: { portal: null, sign_in: null, oauth_client_id: null, oauth_server: null, oauth_redirect: null, client_secret_preset: false },
};

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('a signed-in portal', () => {
  // `app.info`'s INSTALLED: only `false` says that the installation is unfinished.
  it.each([
    [false, true],
    [true, false],
    [undefined, false],
  ])('with app_installed %s, the unfinished installation is named: %s', async (installed, named) => {
    mockIPC((cmd) => {
      if (cmd === 'relay_widgets') return [];
      throw new Error(`unexpected command ${cmd}`);
    });
    const portal: PortalStatus = {
      state: 'connected', domain: 'acme.bitrix24.ru', user_name: 'Anna Smirnova', user_id: 1, method: 'oauth', session_only: false,
      ...(installed === undefined ? {} : { app_installed: installed }),
    };
    render(PortalSettings, {
      props: { portal, listener: { state: 'stopped', address: '127.0.0.1:47600' }, policy, t: (key) => translate('en', key), onchange: () => {} },
    });
    await screen.findByTestId('portal-signed-in');
    const notice = screen.queryByTestId('portal-install-unfinished');
    expect(notice !== null).toBe(named);
    if (named) expect(notice?.textContent).toContain('opening the application once');
  });
});
