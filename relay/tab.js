// The call-card tab Call Companion serves itself (http://127.0.0.1:PORT/call-card/). The app
// already has the call from Bitrix24's POST; this script forwards what happens to the call
// afterwards (state, client changed, card closing) and the card's current data (getStatus, after
// init and after each event) to the same app, same origin, with the nonce the app issued for this
// tab. Following the card is callcard.js's, shared with the hosted relay: the listener serves it
// in front of this file. No framework.
'use strict';

(() => {
  const card = window.CallCompanionCard;
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

  async function start() {
    const bx = await card.bitrix24();
    if (!bx || !bx.placement) {
      root.dataset.events = 'none';
      return note('noLibrary');
    }
    root.dataset.events = 'bound';
    // The app has the call from the POST: only what changes after it is forwarded.
    card.follow(bx, { CALL_ID: callId }, (call) => {
      options = call;
      void send();
    }, { forwardFirst: false });
  }

  void start();
})();
