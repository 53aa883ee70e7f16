// The application's sign-in redirect, for computers several agents share (terminal servers).
// Bitrix24 sends the browser back to the one redirect address set in the application's
// settings (`settings/oauth/index.md`), with `code`, `state`, `domain`, `member_id`, `scope` and
// `server_domain`. Call Companion starts each sign-in with the port its own listener holds at
// the head of `state` (`PORT.` then 32 hex digits), so this page sends the browser on to that
// port on this computer: each agent's sign-in returns to the app that started it, and a program
// holding another port never sees the code. Only `127.0.0.1` and only a port is ever taken
// from the address: nothing here can send the code anywhere else.
(() => {
  'use strict';
  const ru = (navigator.language || '').toLowerCase().startsWith('ru');
  const words = ru
    ? {
        going: 'Возвращаемся в Call Companion…',
        goingDetail: 'Вход завершится в окне Call Companion.',
        refused: 'Этот вход начат не в Call Companion',
        refusedDetail: 'Начните вход заново: Call Companion → Настройки → Портал Битрикс24.',
      }
    : {
        going: 'Returning to Call Companion…',
        goingDetail: 'The sign-in finishes in the Call Companion window.',
        refused: 'This sign-in was not started by Call Companion',
        refusedDetail: 'Start it again from Call Companion → Settings → Bitrix24 portal.',
      };
  const main = document.querySelector('main.relay');
  const say = (state, text, detail) => {
    main.dataset.state = state;
    document.documentElement.lang = ru ? 'ru' : 'en';
    document.querySelector('[data-testid=status-text]').textContent = text;
    document.querySelector('[data-testid=detail]').textContent = detail;
  };
  const found = /^([0-9]{1,5})\.[0-9a-f]{32}$/.exec(new URLSearchParams(location.search).get('state') || '');
  const port = found ? Number(found[1]) : 0;
  if (port < 1024 || port > 65535) {
    say('refused', words.refused, words.refusedDetail);
    return;
  }
  say('sending', words.going, words.goingDetail);
  location.replace(`http://127.0.0.1:${port}/v1/oauth/callback${location.search}`);
})();
