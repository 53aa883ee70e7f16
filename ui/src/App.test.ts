import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';
import type { AppStatus } from './lib/bindings';

const status: AppStatus = {
  product_name: 'Call Companion',
  version: '0.1.0',
  mode: 'normal',
  listener: { state: 'stopped', address: '127.0.0.1:47600' },
  portal: { state: 'not_configured' },
  language: 'en',
  theme: 'system',
};

function serve(answer: AppStatus | (() => never)) {
  const calls: string[] = [];
  mockIPC((cmd) => {
    calls.push(cmd);
    if (cmd !== 'app_status') throw new Error(`unexpected command ${cmd}`);
    return typeof answer === 'function' ? answer() : answer;
  });
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
    expect(screen.queryByTestId('mock-banner')).toBeNull();
    expect(calls).toEqual(['app_status']);
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
