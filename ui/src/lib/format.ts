// Words for the call's facts, shared by the call view and the recent list.
import type { CallDirection, CallState, CrmEntityType } from './bindings';
import type { MessageKey } from './i18n';

type T = (key: MessageKey) => string;

export function directionLabel(direction: CallDirection, t: T): string {
  return direction.kind === 'unknown'
    ? direction.value
      ? `${t('direction.unknown')} (${direction.value})`
      : t('direction.unknown')
    : t(`direction.${direction.kind}`);
}

export function stateLabel(state: CallState, t: T): string {
  return state.kind === 'unknown'
    ? state.value
      ? `${t('state.unknown')} (${state.value})`
      : t('state.unknown')
    : t(`state.${state.kind}`);
}

export function entityLabel(type: CrmEntityType, t: T): string {
  return type.kind === 'dynamic' ? `${t('entity.dynamic')} ${type.type_id}` : t(`entity.${type.kind}`);
}

// Formatters are made once per language and options: WebKit builds a new ICU formatter for every
// toLocale…String call, and the recent list re-renders on every call event. Measured
// (docs/benchmarks.md): about 60 MiB of the web process after 100 calls went to such garbage.
const dateFormats = new Map<string, Intl.DateTimeFormat>();
const numberFormats = new Map<string, Intl.NumberFormat>();

function dateFormat(language: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${language}|${JSON.stringify(options)}`;
  let format = dateFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(language, options);
    dateFormats.set(key, format);
  }
  return format;
}

/** Throws RangeError for a currency the browser does not know, like the constructor. */
function numberFormat(language: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${language}|${JSON.stringify(options)}`;
  let format = numberFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(language, options);
    numberFormats.set(key, format);
  }
  return format;
}

/** `14:05` today, `24.11 14:05` on other days, in the window's language. */
export function timeLabel(ms: number, language: string, now: Date = new Date()): string {
  const at = new Date(ms);
  const sameDay = at.toDateString() === now.toDateString();
  const time = dateFormat(language, { hour: '2-digit', minute: '2-digit' }).format(at);
  return sameDay ? time : `${dateFormat(language, { day: '2-digit', month: '2-digit' }).format(at)} ${time}`;
}

/** `480 000 ₽`; the amount alone when the currency is unknown to the browser. */
export function moneyLabel(amount: number | null, currency: string | null, language: string): string | null {
  if (amount === null) return null;
  try {
    return numberFormat(language, {
      style: currency ? 'currency' : 'decimal',
      currency: currency ?? undefined,
      maximumFractionDigits: amount % 1 === 0 ? 0 : 2,
    }).format(amount);
  } catch {
    return `${amount} ${currency ?? ''}`.trim();
  }
}

/** `3 Jan` this year, `3 Jan 2025` before; the portal's ISO date as given when unreadable. */
export function dateLabel(iso: string | null, language: string, now: Date = new Date()): string {
  if (!iso) return '';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const options: Intl.DateTimeFormatOptions =
    at.getFullYear() === now.getFullYear() ? { day: 'numeric', month: 'short' } : { day: 'numeric', month: 'short', year: 'numeric' };
  return dateFormat(language, options).format(at);
}
