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

/** `14:05` today, `24.11 14:05` on other days, in the window's language. */
export function timeLabel(ms: number, language: string, now: Date = new Date()): string {
  const at = new Date(ms);
  const sameDay = at.toDateString() === now.toDateString();
  const time = at.toLocaleTimeString(language, { hour: '2-digit', minute: '2-digit' });
  return sameDay ? time : `${at.toLocaleDateString(language, { day: '2-digit', month: '2-digit' })} ${time}`;
}

/** `480 000 ₽`; the amount alone when the currency is unknown to the browser. */
export function moneyLabel(amount: number | null, currency: string | null, language: string): string | null {
  if (amount === null) return null;
  try {
    return new Intl.NumberFormat(language, {
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
  return at.toLocaleDateString(language, options);
}
