// Words for the call's facts, shared by the call view and the recent list.
import type { CallContext, CallDirection, CallState, CrmEntityType } from './bindings';
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

/** The caller's number as people write it (the core's `number`), or why there is none. */
export function numberLabel(
  call: { context: Pick<CallContext, 'phone_number' | 'no_number'>; number?: string | null },
  t: T,
): string {
  const { context } = call;
  if (context.phone_number) return call.number || context.phone_number;
  return context.no_number === 'hidden' ? t('call.hidden_number') : t('call.unknown_number');
}

export function entityLabel(type: CrmEntityType, t: T): string {
  return type.kind === 'dynamic' ? `${t('entity.dynamic')} ${type.type_id}` : t(`entity.${type.kind}`);
}

// Formatters are made once per language and options: WebKit builds a new ICU formatter for every
// toLocale…String call, and the recent list re-renders on every call event. Measured
// (docs/benchmarks.md): about 60 MiB of the web process after 100 calls went to such garbage.
const formats = new Map<string, Intl.DateTimeFormat | Intl.NumberFormat>();

/** The formatter for `key`, made once by `make` (which may throw, like the constructors). */
function cached<F extends Intl.DateTimeFormat | Intl.NumberFormat>(key: string, make: () => F): F {
  let format = formats.get(key) as F | undefined;
  if (!format) {
    format = make();
    formats.set(key, format);
  }
  return format;
}

function dateFormat(language: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return cached(`date|${language}|${JSON.stringify(options)}`, () => new Intl.DateTimeFormat(language, options));
}

/** Throws RangeError for a currency the browser does not know, like the constructor. */
function numberFormat(language: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  return cached(`number|${language}|${JSON.stringify(options)}`, () => new Intl.NumberFormat(language, options));
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
