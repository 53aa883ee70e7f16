import { describe, expect, it } from 'vitest';
import type { Note } from './bindings';
import { translate, type MessageKey } from './i18n';
import { noteBody, recordLabel, sentStatus } from './noteStatus';

function note(fields: Partial<Note>): Note {
  return {
    id: '1a2b3c4d5e6f', call_id: 'c1', phone: null, target: { kind: 'contact', id: 42 }, text: 'Перезвонить',
    state: 'sent', updated_ms: 0, comment_id: null, sent_text: 'Перезвонить', sent_ms: Date.now(), error_code: null,
    error_message: null, attempts: 0, next_attempt_ms: 0, maybe_sent: false, activity_id: null, via: null, outcome: null, ...fields,
  };
}

const en = (key: MessageKey) => translate('en', key);
const ru = (key: MessageKey) => translate('ru', key);

describe('where a sent note went', () => {
  it('says "on the call" when the call\'s activity holds it', () => {
    const text = sentStatus(note({ via: 'activity', activity_id: 701 }), en, 'en');
    expect(text).toMatch(/^Saved on the call in the CRM at \d/);
    expect(sentStatus(note({ via: 'activity', activity_id: 701 }), ru, 'ru')).toMatch(/^Сохранено в звонке в CRM в \d/);
  });

  it('names the record a comment went to', () => {
    const text = sentStatus(note({ via: 'comment', comment_id: 700 }), en, 'en');
    expect(text).toMatch(/^Saved in the CRM as a comment on Contact 42 at \d/);
    expect(sentStatus(note({ via: 'comment', comment_id: 700, target: { kind: 'deal', id: 25 } }), ru, 'ru')).toMatch(
      /^Сохранено в CRM комментарием к записи Сделка 25 в \d/,
    );
  });

  it('falls back to the plain sentence for notes from before', () => {
    expect(sentStatus(note({ comment_id: 700 }), en, 'en')).toMatch(/^Saved in the CRM at \d/);
  });

  it('labels records it has no word for by their kind', () => {
    expect(recordLabel({ kind: 'dynamic_128', id: 3 }, en)).toBe('dynamic_128 3');
  });
});

describe('noteBody', () => {
  // The same as the core's `notes::body` (crates/notes/tests/notes/outcome.rs sends these).
  it('puts the outcome on its own line above the text', () => {
    expect(noteBody('No answer', '')).toBe('[No answer]\n');
    expect(noteBody('Call back', 'Перезвонить в 14:00')).toBe('[Call back]\nПерезвонить в 14:00');
    expect(noteBody(null, 'Перезвонить')).toBe('Перезвонить');
  });
});
