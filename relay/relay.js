// Call Companion's relay widget: a tab in Bitrix24's call card (placement CALL_CARD) that
// forwards the call's context to the desktop app on this computer: to its loopback listener
// when the browser lets it, else through Bitrix24's push channel (pull.application.event.add on
// the agent's own channel), and says plainly which way it went, or why neither worked. No framework, no build step: the files are served as they are.
'use strict';

(() => {
  const API_LEVEL = 1;
  const DEFAULT_PORT = 47600;
  const TOKEN_KEY = 'callcompanion.pairing';

  const TEXT = {
    en: {
      starting: 'Connecting to Call Companion…',
      sent: 'Sent to the app on this computer',
      sentPush: 'Sent through Bitrix24',
      sending: 'Sending to Call Companion…',
      viaPushBlocked: 'The browser does not let this tab reach the app directly, so the call went through Bitrix24\'s push channel.',
      viaPushNotRunning: 'The app did not answer on this computer, so the call went through Bitrix24\'s push channel; it reaches the app once it runs and is signed in.',
      viaPushPairing: 'This browser is not paired with the app, so the call went through Bitrix24\'s push channel. To send it directly, enter the 6-digit code from Call Companion → Settings → Pair the Bitrix24 widget.',
      viaPushOrigin: 'The app does not accept this page directly ({origin} is not among its allowed relay origins), so the call went through Bitrix24\'s push channel.',
      pushFailed: 'Sending through Bitrix24 failed too: {push}',
      notRunning: 'Call Companion is not running on this computer',
      notRunningDetail: 'Start the app, then press Retry.',
      pairing: 'Pairing needed',
      pairingDetail: 'Enter the 6-digit code from Call Companion → Settings → Pair the Bitrix24 widget.',
      pairingWrong: 'That code was not accepted: {reason}',
      otherProgram: 'Another program answers on Call Companion\'s port',
      otherProgramDetail: 'It could not prove that it is the app this browser is paired with, so nothing was sent to it. If Call Companion runs, it says which program holds its port. Pair again only if you reset the pairing in Call Companion\'s settings yourself.',
      viaPushOther: 'Another program answers on Call Companion\'s port and could not prove that it is the paired app, so nothing was sent to it: the call went through Bitrix24\'s push channel.',
      blocked: 'The browser blocked the connection to Call Companion',
      blockedDetail: 'The browser lets this tab reach apps on this computer only under two policies from IT (see Call Companion\'s deployment guide). The button below still works.',
      originRefused: 'Call Companion does not accept this page',
      originRefusedDetail: 'IT must add {origin} to Call Companion\'s allowed relay origins.',
      refused: 'Call Companion refused the call: {reason}',
      busy: 'Call Companion is busy; retrying in {seconds} s',
      noBitrix: 'Not inside a Bitrix24 call card',
      noBitrixDetail: 'Bitrix24 opens this page in the call card. The Bitrix24 library did not load or did not answer.',
      wrongPlacement: 'Opened in {placement}, not in the call card',
      codeLabel: 'Code',
      pair: 'Pair',
      retry: 'Retry',
      open: 'Open in Call Companion',
    },
    ru: {
      starting: 'Подключение к Call Companion…',
      sent: 'Передано в приложение на этом компьютере',
      sentPush: 'Передано через Битрикс24',
      sending: 'Передача в Call Companion…',
      viaPushBlocked: 'Браузер не пускает эту вкладку к приложению напрямую, поэтому звонок передан через push-канал Битрикс24.',
      viaPushNotRunning: 'Приложение на этом компьютере не ответило, поэтому звонок передан через push-канал Битрикс24; оно получит его, когда будет запущено и подключено к порталу.',
      viaPushPairing: 'Браузер не связан с приложением, поэтому звонок передан через push-канал Битрикс24. Чтобы передавать напрямую, введите 6-значный код из Call Companion → Настройки → Подключение виджета Битрикс24.',
      viaPushOrigin: 'Приложение не принимает эту страницу напрямую ({origin} нет среди разрешённых источников), поэтому звонок передан через push-канал Битрикс24.',
      pushFailed: 'Передать через Битрикс24 тоже не удалось: {push}',
      notRunning: 'Call Companion не запущен на этом компьютере',
      notRunningDetail: 'Запустите приложение и нажмите «Повторить».',
      pairing: 'Нужно связать браузер с приложением',
      pairingDetail: 'Введите 6-значный код из Call Companion → Настройки → Подключение виджета Битрикс24.',
      pairingWrong: 'Код не принят: {reason}',
      otherProgram: 'На порту Call Companion отвечает другая программа',
      otherProgramDetail: 'Она не доказала, что это приложение, с которым связан браузер, поэтому ей ничего не передано. Если Call Companion запущен, он покажет, какая программа заняла его порт. Связывайте заново, только если сами сбросили связь в настройках Call Companion.',
      viaPushOther: 'На порту Call Companion отвечает другая программа, не доказавшая, что это связанное приложение, поэтому ей ничего не передано: звонок передан через push-канал Битрикс24.',
      blocked: 'Браузер заблокировал связь с Call Companion',
      blockedDetail: 'Браузер пускает эту вкладку к приложениям на компьютере, только если ИТ задаст две политики (см. руководство по развёртыванию Call Companion). Кнопка ниже работает и так.',
      originRefused: 'Call Companion не принимает эту страницу',
      originRefusedDetail: 'ИТ нужно добавить {origin} в разрешённые источники Call Companion.',
      refused: 'Call Companion отклонил звонок: {reason}',
      busy: 'Call Companion занят; повтор через {seconds} с',
      noBitrix: 'Страница открыта не в карточке звонка Битрикс24',
      noBitrixDetail: 'Битрикс24 открывает эту страницу в карточке звонка. Библиотека Битрикс24 не загрузилась или не ответила.',
      wrongPlacement: 'Открыто в {placement}, а не в карточке звонка',
      codeLabel: 'Код',
      pair: 'Связать',
      retry: 'Повторить',
      open: 'Открыть в Call Companion',
    },
  };

  // Shared with the app's own tab (callcard.js): the library, and following the call card.
  const card = window.CallCompanionCard;

  const validPort = (value) => /^\d{1,5}$/.test(String(value ?? '')) && +value >= 1 && +value <= 65535;

  /** The port IT's handler address names (`?port=`), else 47600. */
  function configuredPort() {
    const asked = new URLSearchParams(location.search).get('port');
    return validPort(asked) ? +asked : DEFAULT_PORT;
  }

  /**
   * Where this agent's app listens. On a shared computer (a terminal server) only one
   * session's app gets the usual port; the others listen on a free one and publish it in the
   * agent's own Bitrix24 user option (the app's `port_publish.rs`), which this page reads as
   * the same agent. Remembered in this browser profile, which is the agent's own.
   */
  const PORT_KEY = 'callcompanion.port';
  const PORT_OPTION = 'callcompanion_port';
  let port = (() => {
    try {
      const kept = localStorage.getItem(PORT_KEY);
      return validPort(kept) ? +kept : null;
    } catch {
      return null;
    }
  })();

  function usePort(found) {
    port = found;
    try {
      if (found === null) localStorage.removeItem(PORT_KEY);
      else localStorage.setItem(PORT_KEY, String(found));
    } catch { /* third-party storage blocked: this page only */ }
  }

  function listenerBase() {
    return `http://127.0.0.1:${port ?? configuredPort()}`;
  }

  /**
   * Moves to the port this agent's app published (`user.option.get`, one REST request: asked
   * only when the port in use does not answer as this agent's app, or before pairing). True
   * when it moved.
   */
  async function followPublished() {
    if (!bx) return false;
    const answer = await card.callMethod(bx, 'user.option.get', { option: PORT_OPTION });
    if (!answer.ok || !validPort(answer.data)) return false;
    const found = +answer.data;
    if (found === (port ?? configuredPort())) return false;
    usePort(found === configuredPort() ? null : found);
    return true;
  }

  // Third-party storage may be blocked: then the pairing lasts as long as the page.
  const memory = {};
  const store = {
    get() {
      try { return localStorage.getItem(TOKEN_KEY); } catch { return memory.token || null; }
    },
    set(token) {
      try { localStorage.setItem(TOKEN_KEY, token); } catch { memory.token = token; }
    },
    clear() {
      try { localStorage.removeItem(TOKEN_KEY); } catch { delete memory.token; }
    },
  };

  const el = (id) => document.querySelector(`[data-testid="${id}"]`);
  const root = document.querySelector('.relay');
  let words = TEXT.en;

  function say(key, vars = {}) {
    return words[key].replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
  }

  function show(state, key, vars, detailKey) {
    root.dataset.state = state;
    el('status-text').textContent = say(key, vars);
    el('detail').hidden = !detailKey;
    el('detail').textContent = detailKey ? say(detailKey, vars) : '';
    el('pair-form').hidden = !['pairing', 'other'].includes(state);
    el('retry').hidden = !['not-running', 'blocked', 'refused', 'other'].includes(state);
  }

  // Bitrix24's push channel, the other way to the app (pull.application.event.add on the
  // agent's own channel; callcard.js). Used only when the listener cannot be reached, is not
  // paired or refuses this page: when the listener took the call, nothing is published (each
  // publication is a REST request, and the portal's rate limit is per source IP, shared by the
  // whole call centre). The app would take a double delivery as one call (same CALL_ID).
  let bx = null;
  let agent = null; // a promise of the agent's own id, asked once (user.current)

  /** What the listener said when it did not take the call, and why: shown if push fails too. */
  const VIA_PUSH = {
    blocked: 'viaPushBlocked',
    'not-running': 'viaPushNotRunning',
    pairing: 'viaPushPairing',
    origin: 'viaPushOrigin',
    other: 'viaPushOther',
  };

  /**
   * The listener did not take the call (`why`: blocked, not-running, pairing, origin):
   * publishes it through Bitrix24; if that fails too, `fallback()` shows the listener's own
   * verdict with the push's reason below it.
   */
  async function viaPush(why, fallback) {
    root.dataset.listener = why;
    const user = bx ? await (agent = agent || card.currentUser(bx)) : { ok: false, reason: 'no Bitrix24 library' };
    if (user.ok) {
      root.dataset.push = 'sending';
      const published = await card.publish(bx, user.id, envelope);
      if (published.ok) {
        root.dataset.push = 'sent';
        show('pushed', 'sentPush', { origin: location.origin }, VIA_PUSH[why]);
        // Not paired: the agent may still pair, to send directly next time.
        if (why === 'pairing' || why === 'other') el('pair-form').hidden = false;
        if (why === 'not-running' || why === 'blocked' || why === 'other') el('retry').hidden = false;
        return;
      }
      root.dataset.push = 'failed';
      fallback();
      return addPushFailure(published.reason);
    }
    // Ask again next time: the portal may answer then.
    agent = null;
    root.dataset.push = 'failed';
    fallback();
    addPushFailure(user.reason);
  }

  function addPushFailure(reason) {
    const line = say('pushFailed', { push: reason });
    const detail = el('detail');
    detail.hidden = false;
    detail.textContent = detail.textContent ? `${detail.textContent} ${line}` : line;
  }

  /** The call as the relay envelope (version 1). Never carries the portal's tokens. */
  let envelope = null;

  function base64urlBytes(bytes) {
    let binary = '';
    for (const b of bytes) binary += String.fromCharCode(b);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function base64url(text) {
    return base64urlBytes(new TextEncoder().encode(text));
  }

  /** HMAC-SHA256 keyed with `token` over `context` then `data`, base64url (WebCrypto). */
  async function mac(token, context, data) {
    const text = new TextEncoder();
    const key = await crypto.subtle.importKey('raw', text.encode(token), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return base64urlBytes(new Uint8Array(await crypto.subtle.sign('HMAC', key, text.encode(`${context}${data}`))));
  }

  const hasCrypto = () => Boolean(globalThis.crypto && crypto.subtle);

  /**
   * The link signed with the pairing token, which only this agent's app shares: HMAC-SHA256
   * over `callcompanion-link-v1\n` and the query, as a last `sig` parameter (checked by the
   * app's `link_trust.rs`). Unsigned before pairing, or where WebCrypto is missing (a page
   * that is not a secure context): the app then shows the call as unverified.
   */
  async function signed(link) {
    const token = store.get();
    if (!token || !hasCrypto()) return link;
    try {
      return `${link}&sig=${await mac(token, 'callcompanion-link-v1\n', link.slice(link.indexOf('?') + 1))}`;
    } catch {
      return link;
    }
  }

  /**
   * Before the token or a caller leaves this page: the program on the port must answer a fresh
   * challenge with the HMAC only the token's holder can make (`/v1/status?challenge=`). A
   * program squatting the port (a co-worker's on a shared computer, anything else) cannot, and
   * gets nothing. `'proven'`; `'other'` (it answered without the proof); `'unchecked'` (it did
   * not answer 200: the POST that follows reports why; or no WebCrypto here, where the token is
   * trusted as before); null when nothing answered.
   */
  async function prove(token) {
    if (!hasCrypto()) return 'unchecked';
    const bytes = new Uint8Array(24);
    crypto.getRandomValues(bytes);
    const challenge = base64urlBytes(bytes);
    const answer = await ask(`/v1/status?challenge=${challenge}`, { method: 'GET' });
    if (!answer) return null;
    if (answer.status !== 200) return 'unchecked';
    const want = await mac(token, 'callcompanion-hello-v1\n', challenge);
    return answer.body.proof === want ? 'proven' : 'other';
  }

  /** Counts the links made, so a slower signature never replaces a newer call's link. */
  let linkVersion = 0;

  function relink() {
    if (!envelope) return;
    const link = `callcompanion://call-card?p=${base64url(JSON.stringify(envelope))}`;
    const version = ++linkVersion;
    el('open-link').href = link;
    void signed(link).then((href) => {
      if (version === linkVersion) el('open-link').href = href;
    });
  }

  /** The call as it stands now (the whole of it: each envelope replaces the last). */
  function update(call) {
    envelope.options = card.pick(call);
    relink();
  }

  // One request at a time; an update that arrives meanwhile is sent after it (the latest wins:
  // each envelope is the whole call).
  let sending = false;
  let again = false;
  let retryTimer = null;

  async function send() {
    if (!envelope) return;
    if (sending) { again = true; return; }
    sending = true;
    clearTimeout(retryTimer);
    try {
      await deliver();
    } finally {
      sending = false;
      if (again) { again = false; void send(); }
    }
  }

  /** A request to the app; null when it got no answer (not running, or blocked). */
  async function ask(path, init) {
    try {
      const answer = await fetch(`${listenerBase()}${path}`, { ...init, credentials: 'omit', referrerPolicy: 'no-referrer' });
      return { status: answer.status, retryAfter: answer.headers.get('Retry-After'), body: await answer.json().catch(() => ({})) };
    } catch {
      return null;
    }
  }

  /**
   * `prove` where this agent's app is: the port in use, else the one the app published, else
   * the configured one (a remembered port may be stale).
   */
  async function proveWhereTheAppIs(token) {
    const found = (proof) => proof === 'proven' || proof === 'unchecked';
    let proof = await prove(token);
    if (found(proof)) return proof;
    if (await followPublished()) {
      const there = await prove(token);
      if (found(there)) return there;
    }
    if (port !== null) {
      usePort(null);
      const usual = await prove(token);
      if (found(usual)) return usual;
    }
    return proof;
  }

  async function deliver() {
    const token = store.get();
    // The call as it is now: a change while the app proves itself is sent after this one.
    const call = JSON.stringify(envelope);
    show('sending', 'sending');
    // Not paired yet: the code must go to this agent's own app, wherever it listens.
    if (!token) await followPublished();
    if (token) {
      const proof = await proveWhereTheAppIs(token);
      if (!proof) return unreachable();
      if (proof === 'other') {
        return viaPush('other', () => show('other', 'otherProgram', {}, 'otherProgramDetail'));
      }
    }
    // Without a token, find out first whether the app is there at all.
    const answer = token
      ? await ask('/v1/call-card', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: call,
      })
      : await ask('/v1/status', { method: 'GET' });
    if (!answer) return unreachable();
    const { status, body } = answer;
    if (status === 202) {
      root.dataset.listener = 'sent';
      delete root.dataset.push;
      return show('sent', 'sent');
    }
    if ((status === 200 && !token) || status === 401) {
      store.clear();
      relink();
      return viaPush('pairing', () => show('pairing', 'pairing', {}, 'pairingDetail'));
    }
    if (status === 403 && body.code === 'forbidden_origin') {
      return viaPush('origin', () => show('refused', 'originRefused', { origin: location.origin }, 'originRefusedDetail'));
    }
    if (status === 429) {
      const seconds = Math.min(+answer.retryAfter || 1, 30);
      retryTimer = setTimeout(() => void send(), seconds * 1000);
      return show('sending', 'busy', { seconds });
    }
    return show('refused', 'refused', { reason: body.message || `HTTP ${status}` });
  }

  /** The request never got an answer: the app is not there, or the browser stopped it. */
  async function unreachable() {
    // Chrome asks before a page from elsewhere reaches this computer (Local Network Access);
    // a page served from this computer itself is never stopped.
    const fromThisComputer = ['127.0.0.1', 'localhost', '[::1]'].includes(location.hostname);
    // The app answers a page it does not allow without CORS headers, so the browser hides the
    // answer; an opaque request still tells whether anything answered at all.
    try {
      await fetch(`${listenerBase()}/v1/status`, { mode: 'no-cors', credentials: 'omit', referrerPolicy: 'no-referrer' });
      return viaPush('origin', () => show('refused', 'originRefused', { origin: location.origin }, 'originRefusedDetail'));
    } catch { /* nothing answered */ }
    let blocked = false;
    for (const name of ['local-network-access', 'loopback-network']) {
      try {
        const state = (await navigator.permissions.query({ name })).state;
        blocked = state === 'denied';
        break;
      } catch { /* this browser does not know the permission */ }
    }
    if (blocked && !fromThisComputer) {
      return viaPush('blocked', () => show('blocked', 'blocked', { origin: location.origin }, 'blockedDetail'));
    }
    return viaPush('not-running', () => show('not-running', 'notRunning', {}, 'notRunningDetail'));
  }

  async function pair(code) {
    const answer = await ask('/v1/pair', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    if (!answer) return unreachable();
    if (answer.status === 200 && typeof answer.body.token === 'string') {
      store.set(answer.body.token);
      el('pair-code').value = '';
      relink();
      return send();
    }
    if (answer.status === 403 && answer.body.code === 'forbidden_origin') {
      return show('refused', 'originRefused', { origin: location.origin }, 'originRefusedDetail');
    }
    show('pairing', 'pairing', {}, 'pairingDetail');
    el('detail').textContent = say('pairingWrong', { reason: answer.body.message || `HTTP ${answer.status}` });
  }

  function translateStatic() {
    for (const node of document.querySelectorAll('[data-text]')) node.textContent = say(node.dataset.text);
  }

  async function start() {
    // Bitrix24's library from the portal's regional address (callcard.js), unless the page
    // already has it.
    if (!window.BX24) await card.loadLibrary(card.portalDomain());
    bx = await card.bitrix24();
    const lang = (bx && typeof bx.getLang === 'function' && bx.getLang()) || navigator.language || 'en';
    words = String(lang).toLowerCase().startsWith('ru') ? TEXT.ru : TEXT.en;
    document.documentElement.lang = words === TEXT.ru ? 'ru' : 'en';
    translateStatic();
    el('pair-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const code = el('pair-code').value.replace(/\D/g, '');
      if (code.length === 6) void pair(code);
    });
    el('retry').addEventListener('click', () => void send());
    if (!bx) {
      el('open-link').hidden = true;
      return show('no-bitrix', 'noBitrix', {}, 'noBitrixDetail');
    }
    const info = bx.placement.info() || {};
    if (info.placement !== 'CALL_CARD') {
      el('open-link').hidden = true;
      return show('no-bitrix', 'wrongPlacement', { placement: info.placement || '?' });
    }
    let options = info.options || {};
    if (typeof options === 'string') {
      try { options = JSON.parse(options); } catch { options = {}; }
    }
    const domain = typeof bx.getDomain === 'function' ? bx.getDomain() : undefined;
    envelope = { v: API_LEVEL, placement: 'CALL_CARD', options: {}, portal: { domain, lang } };
    // Who the agent is, asked once at the start: the push channel needs it (USER_ID).
    agent = card.currentUser(bx);
    // The call as the tab opened, then as getStatus says after init and after each event.
    card.follow(bx, options, (call) => {
      update(call);
      void send();
    });
  }

  void start();
})();
