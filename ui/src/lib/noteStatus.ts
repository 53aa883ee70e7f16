import type { Note, Target } from './bindings';
import { timeLabel } from './format';
import type { MessageKey } from './i18n';

const KINDS: Record<string, MessageKey> = {
  lead: 'entity.lead',
  deal: 'entity.deal',
  contact: 'entity.contact',
  company: 'entity.company',
};

/** `Contact 42`: the record a comment went to. */
export function recordLabel(target: Target, t: (key: MessageKey) => string): string {
  const kind = KINDS[target.kind];
  return `${kind ? t(kind) : target.kind} ${target.id}`;
}

/** Where a sent note is in the CRM, and since when: on the call itself (the note of the call's
 * activity) or as a comment on its record. */
export function sentStatus(note: Note, t: (key: MessageKey) => string, language: string): string {
  const at = note.sent_ms ? timeLabel(note.sent_ms, language) : '';
  if (note.via === 'activity') return `${t('notes.sent_on_call')} ${at}`;
  if (note.via === 'comment' && note.target) {
    return `${t('notes.sent_as_comment')} ${recordLabel(note.target, t)} ${t('notes.at')} ${at}`;
  }
  return `${t('notes.sent')} ${at}`;
}

/** What the CRM holds for a note: the outcome on its own line above the text (the core's
 * `notes::body`, which the tests compare this with). */
export function noteBody(outcome: string | null, text: string): string {
  return outcome ? `[${outcome}]\n${text}` : text;
}
