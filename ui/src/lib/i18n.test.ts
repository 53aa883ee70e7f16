import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from './bindings';
import { errorText, messages, translate } from './i18n';

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

  it('words every error code in both languages, with the same placeholders', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(100);
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const code of ERROR_CODES) {
      const en = messages.en[`error.${code}`];
      const ru = messages.ru[`error.${code}`];
      expect(en?.trim(), `en:${code}`).toBeTruthy();
      expect(ru?.trim(), `ru:${code}`).toBeTruthy();
      expect(placeholders(ru), code).toEqual(placeholders(en));
    }
  });

  it('fills an error sentence from the code and its parameters', () => {
    const t = (key: Parameters<typeof translate>[1]) => translate('ru', key);
    expect(errorText(t, { code: 'query_too_short', params: { min: '2' } })).toBe('Минимум символов для поиска: 2.');
    expect(errorText((key) => translate('en', key), { code: 'not_found' })).toBe('Bitrix24 no longer has this record.');
    // A parameter the app did not send never shows as a raw placeholder.
    expect(errorText(t, { code: 'query_too_short' })).toBe('Минимум символов для поиска: ….');
  });
});
