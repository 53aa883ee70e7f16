// The call-card tab Call Companion serves itself (http://127.0.0.1:PORT/call-card/). The app
// already has the call from Bitrix24's POST; this script forwards what happens to the call
// afterwards (state, client changed, card closing) and the card's current data (getStatus) to
// the same app, same origin, with the nonce the app issued for this tab. No framework.
'use strict';

(() => {
  const BX24_WAIT_MS = 5000;
  const tab = document.getElementById('tab');
  const nonce = tab.dataset.nonce;
  const callId = tab.dataset.call;
  const line = document.querySelector('[data-testid="events"]');
  const root = document.querySelector('.relay');

  const TEXT = {
    en: {
      noLibrary: 'Bitrix24\'s library did not load: later changes of this call (state, client) will not reach Call Companion.',
      refused: 'Call Companion refused an update of this call: {reason}',
      lost: 'Call Companion stopped answering: later changes of this call are not forwarded.',
    },
    ru: {
      noLibrary: 'Библиотека Битрикс24 не загрузилась: дальнейшие изменения звонка (состояние, клиент) не попадут в Call Companion.',
      refused: 'Call Companion отклонил обновление звонка: {reason}',
      lost: 'Call Companion перестал отвечать: дальнейшие изменения звонка не передаются.',
    },
  };
  const words = TEXT[tab.dataset.lang] || TEXT.en;

  function note(key, vars = {}) {
    line.hidden = false;
    line.textContent = words[key].replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
  }

  /** The one seam to Bitrix24's library: `BX24` once it says it is ready, or null. */
  function bitrix24() {
    return new Promise((resolve) => {
      const bx = window.BX24;
      if (!bx || typeof bx.init !== 'function') return resolve(null);
      const timer = setTimeout(() => resolve(null), BX24_WAIT_MS);
      bx.init(() => {
        clearTimeout(timer);
        resolve(bx);
      });
    });
  }

  // One request at a time, the latest state last: each update is the whole call as it stands.
  let options = null;
  let sending = false;
  let again = false;
  let forwarded = 0;

  async function send() {
    if (!options) return;
    if (sending) { again = true; return; }
    sending = true;
    try {
      const answer = await fetch('/call-card/event', {
        method: 'POST',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
        headers: { 'Content-Type': 'application/json', 'X-Tab-Nonce': nonce },
        body: JSON.stringify({ v: 1, placement: 'CALL_CARD', options }),
      });
      if (answer.status === 202) {
        forwarded += 1;
        root.dataset.forwarded = String(forwarded);
      } else {
        const body = await answer.json().catch(() => ({}));
        note('refused', { reason: body.message || `HTTP ${answer.status}` });
      }
    } catch {
      note('lost');
    } finally {
      sending = false;
      if (again) { again = false; void send(); }
    }
  }

  function update(changes) {
    const next = { ...(options || {}), CALL_ID: callId };
    for (const [key, value] of Object.entries(changes || {})) {
      if (value !== undefined && key !== 'CALL_ID') next[key] = value;
    }
    options = next;
    void send();
  }

  /** The card's data as it stands now (integers and booleans; the activity id once it exists). */
  function refresh(bx) {
    try {
      bx.placement.call('getStatus', {}, (status) => {
        if (status && typeof status === 'object' && (!status.CALL_ID || status.CALL_ID === callId)) update(status);
      });
    } catch { /* an older portal without getStatus: the events still arrive */ }
  }

  async function start() {
    const bx = await bitrix24();
    if (!bx || !bx.placement) {
      root.dataset.events = 'none';
      return note('noLibrary');
    }
    root.dataset.events = 'bound';
    bx.placement.bindEvent('CallCard::CallStateChanged', (callState) => {
      update({ CALL_STATE: callState });
      refresh(bx);
    });
    bx.placement.bindEvent('CallCard::EntityChanged', (entity) => {
      update({ PHONE_NUMBER: entity?.PHONE_NUMBER, CRM_ENTITY_TYPE: entity?.CRM_ENTITY_TYPE, CRM_ENTITY_ID: entity?.CRM_ENTITY_ID });
      refresh(bx);
    });
    // The card closes when the call is over: the app hears that it ended.
    bx.placement.bindEvent('CallCard::BeforeClose', () => update({ CALL_STATE: 'idle' }));
    refresh(bx);
  }

  void start();
})();
