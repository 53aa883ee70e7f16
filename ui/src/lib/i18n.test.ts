import { describe, expect, it } from 'vitest';
import { messages, translate } from './i18n';

describe('i18n', () => {
  it('has every string in both languages, none empty', () => {
    const keys = Object.keys(messages.en).sort();
    expect(Object.keys(messages.ru).sort()).toEqual(keys);
    for (const lang of ['en', 'ru'] as const) {
      for (const key of keys) {
        expect(messages[lang][key as keyof typeof messages.en].trim(), `${lang}:${key}`).not.toBe('');
      }
    }
  });

  it('really translates the user-facing texts', () => {
    expect(translate('ru', 'waiting.title')).toBe('Ожидание звонка');
    expect(translate('en', 'waiting.title')).toBe('Waiting for a call');
    const same = Object.keys(messages.en).filter(
      (k) => k !== 'app.name' && messages.en[k as keyof typeof messages.en] === messages.ru[k as keyof typeof messages.en],
    );
    expect(same).toEqual([]);
  });
});
