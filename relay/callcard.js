// What the hosted relay widget (relay.js) and the app's own call-card tab (tab.js) share: the one
// seam to Bitrix24's library, following the call card, and publishing the call through
// Bitrix24's push channel (used by the relay only: the tab runs in the app itself). Both forward the call as it stands
// now: after init and after each CallCard::* event they ask the card for its current data
// (getStatus) and forward that whole state. No framework, no build step: the listener serves
// this file in front of tab.js, and index.html loads it before relay.js.
//
// Bitrix24's JS interface of the CALL_CARD placement (api-reference/widgets/ui-interaction/call-card/):
//   - getStatus (get-status.md): the card's *current* data, integers and booleans
//     (CRM_ENTITY_ID, CRM_ACTIVITY_ID, CALL_LIST_MODE), the current CRM_BINDINGS, the activity id
//     once the call's activity exists (absent or empty before); PHONE_NUMBER `hidden` when the
//     caller hid it, absent when not identified. Outside the placement the callback never runs.
//   - CallCard::CallStateChanged (call-card-call-state-changed.md): the new state first.
//   - CallCard::EntityChanged (call-card-entity-changed.md): {PHONE_NUMBER, CRM_ENTITY_TYPE,
//     CRM_ENTITY_ID}, PHONE_NUMBER `unknown` when the client has no number; in call-list mode,
//     the next client. The event carries no bindings: the previous client's are dropped until
//     getStatus names the new ones.
//   - CallCard::BeforeClose (call-card-before-close.md): the card is closing.
'use strict';

window.CallCompanionCard = (() => {
  const BX24_WAIT_MS = 5000;

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

  /** The keys of the call that are forwarded (never the portal's tokens). */
  const KEYS = ['CALL_ID', 'PHONE_NUMBER', 'LINE_NUMBER', 'LINE_NAME', 'CRM_ENTITY_TYPE', 'CRM_ENTITY_ID',
    'CRM_BINDINGS', 'CRM_ACTIVITY_ID', 'CALL_DIRECTION', 'CALL_STATE', 'CALL_LIST_MODE', 'URI'];
  /** The keys that describe the client rather than the call. */
  const CLIENT_KEYS = ['CRM_BINDINGS', 'URI', 'CRM_ACTIVITY_ID'];

  /**
   * A PHONE_NUMBER that is no number, as the app's parser reads it: `hidden` (get-status.md),
   * `unknown` (call-card-entity-changed.md), and `undefined`, `null` or empty, which mean the
   * same (unverified: not in the docs). Such a value is forwarded as `hidden` or `unknown`,
   * never as something to look up. Returns null for a number.
   */
  function noNumber(value) {
    if (value === undefined || value === null) return 'unknown';
    const text = String(value).trim().toLowerCase();
    if (text === 'hidden') return 'hidden';
    return ['', 'unknown', 'undefined', 'null'].includes(text) ? 'unknown' : null;
  }

  /** The call's keys from an options object (or a getStatus answer), the number spelled plainly. */
  function pick(options) {
    const out = {};
    for (const key of KEYS) if (options && options[key] !== undefined) out[key] = options[key];
    if ('PHONE_NUMBER' in out) out.PHONE_NUMBER = noNumber(out.PHONE_NUMBER) || String(out.PHONE_NUMBER).trim();
    return out;
  }

  /**
   * Follows the call card for the call `initial` describes (at least its CALL_ID): calls
   * `forward(call)` with the whole call as it stands, at once when `forwardFirst`, after each
   * event with the event's own data, and after init and each event again with getStatus's answer
   * (an answer about another CALL_ID is ignored: this tab is about one call).
   */
  function follow(bx, initial, forward, { forwardFirst = true } = {}) {
    let call = pick(initial);
    const callId = call.CALL_ID;
    // After BeforeClose the call is over, whatever a late getStatus answer says.
    let closed = false;
    const emit = () => forward({ ...call });

    function current() {
      try {
        bx.placement.call('getStatus', {}, (status) => {
          if (!status || typeof status !== 'object' || Array.isArray(status)) return;
          if (callId && status.CALL_ID && status.CALL_ID !== callId) return;
          const next = pick(status);
          if (callId) next.CALL_ID = callId;
          // getStatus has no URI: the link stays while the record it names does.
          const sameRecord = next.CRM_ENTITY_TYPE === call.CRM_ENTITY_TYPE
            && String(next.CRM_ENTITY_ID) === String(call.CRM_ENTITY_ID);
          if (call.URI !== undefined && sameRecord) next.URI = call.URI;
          if (closed) next.CALL_STATE = 'idle';
          call = next;
          emit();
        });
      } catch { /* a portal without the command: the events still arrive */ }
    }

    bx.placement.bindEvent('CallCard::CallStateChanged', (callState) => {
      if (typeof callState === 'string' && callState) call = { ...call, CALL_STATE: callState };
      emit();
      current();
    });
    bx.placement.bindEvent('CallCard::EntityChanged', (entity) => {
      const changes = pick({
        PHONE_NUMBER: entity?.PHONE_NUMBER,
        CRM_ENTITY_TYPE: entity?.CRM_ENTITY_TYPE,
        CRM_ENTITY_ID: entity?.CRM_ENTITY_ID,
      });
      const another = Object.entries(changes).some(([key, value]) => String(value) !== String(call[key]));
      const next = { ...call, ...changes };
      // Another client: what described the previous one goes until getStatus says.
      if (another) for (const key of CLIENT_KEYS) delete next[key];
      call = next;
      emit();
      current();
    });
    // The card closes when the call is over: the app hears that it ended.
    bx.placement.bindEvent('CallCard::BeforeClose', () => {
      closed = true;
      if (call.CALL_STATE === 'idle') return;
      call = { ...call, CALL_STATE: 'idle' };
      emit();
    });
    if (forwardFirst) emit();
    current();
  }

  /**
   * Bitrix24's library is served from two regional addresses (sdk/bx24-js-sdk/index.md): the
   * English docs' `api.bitrix24.com` and the Russian docs' `api.bitrix24.tech` (since
   * 2026-02). The portal's region is guessed from its domain, as the app does
   * (crates/companion/src/tab/region.rs): `.ru`, `.by`, `.kz` first try `.tech`; the other
   * address is tried when the first does not load.
   */
  const LIBRARIES = ['https://api.bitrix24.com/api/v1/', 'https://api.bitrix24.tech/api/v1/'];

  function libraryAddresses(domain) {
    const host = String(domain || '').split(':')[0].toLowerCase();
    const russian = ['.ru', '.by', '.kz'].some((tld) => host.endsWith(tld));
    return russian ? [LIBRARIES[1], LIBRARIES[0]] : LIBRARIES.slice();
  }

  /** Loads the library for the portal `domain`, the other region's address if the first fails. */
  function loadLibrary(domain) {
    const addresses = libraryAddresses(domain);
    return new Promise((resolve) => {
      const next = () => {
        const src = addresses.shift();
        if (!src) return resolve(null);
        const script = document.createElement('script');
        script.src = src;
        script.dataset.bx24 = '';
        script.onload = () => resolve(src);
        script.onerror = () => { script.remove(); next(); };
        document.head.append(script);
      };
      next();
    });
  }

  /**
   * The portal this page runs in: Bitrix24 opens the handler at `HANDLER?DOMAIN=…` (server code,
   * app.layout), and the library's own iframe name is `host|protocol|APP_SID`.
   */
  function portalDomain() {
    const named = new URLSearchParams(location.search).get('DOMAIN');
    if (named) return named;
    const [host] = String(window.name || '').split('|');
    return host || '';
  }

  /**
   * One REST call through the library (`BX24.callMethod`), as a promise of
   * `{ ok: true, data }` or `{ ok: false, reason }`; never rejects. The library answers with an
   * ajaxResult (`error()` false or the error, `data()` the result).
   */
  function callMethod(bx, method, params) {
    return new Promise((resolve) => {
      if (!bx || typeof bx.callMethod !== 'function') return resolve({ ok: false, reason: 'no BX24.callMethod' });
      try {
        bx.callMethod(method, params, (result) => {
          const error = result && typeof result.error === 'function' ? result.error() : (result ? result.error : 'no answer');
          if (error) {
            const answer = (error && error.ex) || (result && result.answer) || {};
            const reason = answer.error
              ? `${answer.error}${answer.error_description ? `: ${answer.error_description}` : ''}`
              : String(error);
            return resolve({ ok: false, reason });
          }
          resolve({ ok: true, data: typeof result.data === 'function' ? result.data() : result.result });
        });
      } catch (error) {
        resolve({ ok: false, reason: String(error && error.message ? error.message : error) });
      }
    });
  }

  /**
   * The agent's own user id, as a string (`user.current`, once per tab: the library's init
   * data does not name the user). Resolves to `{ ok, id }` or `{ ok: false, reason }`.
   */
  function currentUser(bx) {
    return callMethod(bx, 'user.current', {}).then((answer) => {
      if (!answer.ok) return answer;
      const id = answer.data && answer.data.ID;
      return /^\d+$/.test(String(id)) ? { ok: true, id: String(id) } : { ok: false, reason: 'user.current named no user' };
    });
  }

  /** What the events Call Companion's relay publishes are called (push-contract.md). */
  const PUSH = { MODULE_ID: 'callcompanion', COMMAND: 'call' };

  /**
   * Publishes `envelope` (the relay envelope, unchanged) on the agent's own application
   * channel with `pull.application.event.add`: USER_ID is always the agent's own id as a
   * string (a non-admin's must be; without it the event would go to the application's shared
   * channel, which every agent's app receives). Needs an application page with the `pull`
   * scope. Resolves to `{ ok }` or `{ ok: false, reason }`.
   */
  function publish(bx, userId, envelope) {
    if (!/^\d+$/.test(String(userId || ''))) return Promise.resolve({ ok: false, reason: 'no user id' });
    return callMethod(bx, 'pull.application.event.add', {
      MODULE_ID: PUSH.MODULE_ID,
      COMMAND: PUSH.COMMAND,
      USER_ID: String(userId),
      PARAMS: envelope,
    });
  }

  return { bitrix24, noNumber, pick, follow, libraryAddresses, loadLibrary, portalDomain, callMethod, currentUser, publish, PUSH };
})();
