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
