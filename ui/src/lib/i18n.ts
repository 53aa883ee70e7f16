// The window's strings in English and Russian. Keys are checked at compile time: a string
// missing from one language is a type error, and a test checks none is left empty.
import type { Language } from './bindings';

const en = {
  'app.name': 'Call Companion',
  'waiting.title': 'Waiting for a call',
  'waiting.hint':
    'When a call reaches your Bitrix24 call card, the caller’s CRM record opens here.',
  'status.heading': 'Status',
  'status.mode': 'Mode',
  'status.mode.normal': 'Normal',
  'status.mode.mock': 'Mock (simulated portal)',
  'status.listener': 'Call listener',
  'status.listener.stopped': 'Not running yet',
  'status.listener.listening': 'Listening',
  'status.listener.failed': 'Failed',
  'status.portal': 'Bitrix24 portal',
  'status.portal.not_configured': 'Not connected yet',
  'status.portal.connected': 'Connected',
  'status.portal.signed_out': 'Signed out',
  'status.portal.unreachable': 'Unreachable',
  'status.version': 'Version',
  'loading': 'Starting…',
  'error.title': 'Cannot read the app’s status',
};

export type MessageKey = keyof typeof en;

const ru: Record<MessageKey, string> = {
  'app.name': 'Call Companion',
  'waiting.title': 'Ожидание звонка',
  'waiting.hint':
    'Когда звонок придёт в карточку звонка Битрикс24, здесь откроется карточка клиента из CRM.',
  'status.heading': 'Состояние',
  'status.mode': 'Режим',
  'status.mode.normal': 'Обычный',
  'status.mode.mock': 'Тестовый (имитация портала)',
  'status.listener': 'Приём звонков',
  'status.listener.stopped': 'Пока не запущен',
  'status.listener.listening': 'Работает',
  'status.listener.failed': 'Ошибка',
  'status.portal': 'Портал Битрикс24',
  'status.portal.not_configured': 'Пока не подключён',
  'status.portal.connected': 'Подключён',
  'status.portal.signed_out': 'Вход не выполнен',
  'status.portal.unreachable': 'Недоступен',
  'status.version': 'Версия',
  'loading': 'Запуск…',
  'error.title': 'Не удалось получить состояние приложения',
};

export const messages: Record<Language, Record<MessageKey, string>> = { en, ru };

export function translate(language: Language, key: MessageKey): string {
  return messages[language][key];
}

/** The browser's idea of the language, used until the app's status arrives. */
export function browserLanguage(): Language {
  return navigator.language?.toLowerCase().startsWith('ru') ? 'ru' : 'en';
}
