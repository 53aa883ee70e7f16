import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { saveNote, sendNote } from './api';

afterEach(() => clearMocks());

/** An IPC whose note commands answer only when the test says so, in any order. */
function heldIpc() {
  const started: string[] = [];
  const answers = new Map<string, { ok: () => void; fail: () => void }>();
  mockIPC((cmd, args) => {
    const a = args as { callId: string; text?: string };
    const label = `${cmd} ${a.callId} ${a.text ?? ''}`.trim();
    started.push(label);
    return new Promise((resolve, reject) => {
      answers.set(label, {
        ok: () => resolve({ call_id: a.callId, text: a.text ?? '' }),
        fail: () => reject({ code: 'notes_disk_full', message: 'disk full' }),
      });
    });
  });
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { started, answers, settle };
}

describe("one call's note commands run one after another", () => {
  it('a newer save starts only when the older one has answered', async () => {
    const { started, answers, settle } = heldIpc();
    const first = saveNote('c1', 'old');
    const second = saveNote('c1', 'newer');
    const send = sendNote('c1');
    await settle();
    expect(started).toEqual(['save_note c1 old']);
    answers.get('save_note c1 old')!.ok();
    await first;
    await settle();
    expect(started).toEqual(['save_note c1 old', 'save_note c1 newer']);
    answers.get('save_note c1 newer')!.ok();
    await second;
    await settle();
    expect(started.at(-1)).toBe('send_note c1');
    answers.get('send_note c1')!.ok();
    await send;
  });

  it('a failed save does not hold up the next, and other calls do not wait', async () => {
    const { started, answers, settle } = heldIpc();
    const failing = saveNote('c1', 'a');
    const next = saveNote('c1', 'b');
    const other = saveNote('c2', 'x');
    await settle();
    expect(started).toEqual(['save_note c1 a', 'save_note c2 x']);
    answers.get('save_note c1 a')!.fail();
    await expect(failing).rejects.toMatchObject({ code: 'notes_disk_full' });
    await settle();
    expect(started).toContain('save_note c1 b');
    answers.get('save_note c1 b')!.ok();
    answers.get('save_note c2 x')!.ok();
    await expect(next).resolves.toMatchObject({ text: 'b' });
    await expect(other).resolves.toMatchObject({ text: 'x' });
  });
});
