//! The portal's page around a `CALL_CARD` tab, as Bitrix24 builds it, for browsers and testers:
//! a hidden form POSTed into a named iframe at the bound handler, with a fresh token pair for the
//! simulated agent, and the parent side of the postMessage protocol Bitrix24's JS library speaks
//! inside the iframe (`getInitData`, `getStatus`, `placementBindEvent` and the call card's
//! events). Sources, read from Bitrix's own server modules (public copies) and the official SDK:
//!
//! - the iframe and the form: `rest/install/components/bitrix/app.layout/templates/.default/
//!   template.php` and `component.php` (iframe `name` = `host|1|APP_SID`, `allow` without any
//!   local-network feature, form `method=POST target=<iframe name>` to
//!   `HANDLER?DOMAIN=…&PROTOCOL=…&LANG=…&APP_SID=…` with `AUTH_ID`, `AUTH_EXPIRES`, `REFRESH_ID`,
//!   `member_id`, `status`, `PLACEMENT`, `PLACEMENT_OPTIONS`, and in newer versions
//!   `SERVER_ENDPOINT`, `APPLICATION_SCOPE`);
//! - the messages: `rest/install/js/rest/applayout.js` (`cmd:params:callback:appSid` strings
//!   accepted only from the handler's origin, replies `callback:JSON`, unknown commands never
//!   answered) and `@bitrix24/b24jssdk` `src/frame/message/controller.ts` (the same protocol,
//!   three fields when there are no params, objects for commands containing `:`);
//! - the call card's interface: `voximplant/install/js/voximplant/phone-calls/src/view/view.js`
//!   (`getStatus` answers integers and booleans; `placementBindEvent` registers
//!   `CallCard::CallStateChanged`, `CallCard::EntityChanged`, `CallCard::BeforeClose` and each
//!   occurrence is posted as `callback:JSON of its first argument`);
//! - the same interface as the REST docs describe it, `api-reference/widgets/ui-interaction/
//!   call-card/`: `get-status.md` (the *current* data: integers and booleans, `CRM_BINDINGS` as
//!   they stand, `CRM_ACTIVITY_ID` once the activity exists, absent or empty before, an integer
//!   after, `PHONE_NUMBER` `hidden` or absent), `call-card-entity-changed.md` (`{PHONE_NUMBER,
//!   CRM_ENTITY_TYPE, CRM_ENTITY_ID}`, `unknown` for a client without a number; in call-list
//!   mode the next client; no bindings in the event).
//!
//! *Unverified*: when a real call's activity comes to exist (the page names it when a test or a
//! scenario step says so: `createActivity(id)`, `CRM_ACTIVITY_ID` in a step), whether
//! `EntityChanged` can say `hidden`; the portal page's referrer policy (it decides whether the POST carries
//! `Origin: null` or the portal's origin; this page uses the browser's default), and whether a
//! live portal forwards `CallStateChanged`'s second argument (the server code does not).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The form Bitrix24's page POSTs into the tab's iframe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabForm {
    /// `HANDLER?DOMAIN=…&PROTOCOL=…&LANG=…&APP_SID=…`.
    pub action: String,
    /// In the order the portal's template writes them.
    pub fields: Vec<(String, String)>,
}

impl TabForm {
    /// `{"action": …, "fields": {…}}`, as `call-companion simulate --tab-form` prints it.
    pub fn to_json(&self) -> Value {
        let fields: Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json!({ "action": self.action, "fields": fields })
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A token pair the portal issued for a user, with what the page hands out beside it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub member_id: String,
    pub user_id: u64,
    /// `https://{portal}/rest/`.
    pub client_endpoint: String,
    /// The OAuth server's REST address.
    pub server_endpoint: String,
    pub scope: String,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("user_id", &self.user_id)
            .field("member_id", &self.member_id)
            .finish_non_exhaustive()
    }
}

/// The form for a call card with `options` (the placement options, as the POST carries them),
/// opened by `tokens`' user at `handler`, on the portal at `base_url`.
pub fn tab_form(
    base_url: &str,
    handler: &str,
    options: &Value,
    tokens: &IssuedTokens,
    lang: &str,
    app_sid: &str,
) -> TabForm {
    let (https, host) = host_of(base_url);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("DOMAIN", &host)
        .append_pair("PROTOCOL", if https { "1" } else { "0" })
        .append_pair("LANG", lang)
        .append_pair("APP_SID", app_sid)
        .finish();
    let separator = if handler.contains('?') { '&' } else { '?' };
    let options = post_options(options);
    TabForm {
        action: format!("{handler}{separator}{query}"),
        fields: vec![
            ("AUTH_ID".into(), tokens.access_token.clone()),
            ("AUTH_EXPIRES".into(), tokens.expires_in.to_string()),
            ("REFRESH_ID".into(), tokens.refresh_token.clone()),
            ("SERVER_ENDPOINT".into(), tokens.server_endpoint.clone()),
            ("member_id".into(), tokens.member_id.clone()),
            ("status".into(), "L".into()),
            ("PLACEMENT".into(), "CALL_CARD".into()),
            ("PLACEMENT_OPTIONS".into(), options.to_string()),
            ("APPLICATION_SCOPE".into(), tokens.scope.clone()),
        ],
    }
}

/// `(https, host[:port])` of a base address.
pub(crate) fn host_of(base_url: &str) -> (bool, String) {
    let https = base_url.starts_with("https://");
    let host = base_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(base_url)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    (https, host)
}

/// Placement options as the form POST carries them: strings (`"42"`, `"false"`).
fn post_options(options: &Value) -> Value {
    match options {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::Number(n) => Value::String(n.to_string()),
                        Value::Bool(b) => Value::String(b.to_string()),
                        other => other.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Placement options as `getStatus` answers them (`api-reference/widgets/ui-interaction/
/// call-card/get-status.md`): integers and booleans (`CRM_ENTITY_ID`, `CRM_ACTIVITY_ID`, each
/// binding's `ENTITY_ID`, `CALL_LIST_MODE`), `CRM_BINDINGS` always a list (the page's type names
/// it without `?`; `[]` when nothing is bound), the number as is, `hidden` included (the caller
/// hid it), the key left out when the number is not identified (`unknown`, `view.js`
/// `getPlacementOptions`), no activity id until the call's activity exists.
pub fn status_options(options: &Value) -> Value {
    let Value::Object(map) = options else {
        return options.clone();
    };
    let integer = |value: &Value| match value.as_str().map(str::trim) {
        Some(t) => t.parse::<u64>().map(Value::from).unwrap_or(value.clone()),
        None => value.clone(),
    };
    let mut out = Map::new();
    for (key, value) in map {
        let text = value.as_str().map(str::trim);
        let converted = match (key.as_str(), text) {
            ("PHONE_NUMBER", Some("unknown" | "")) => continue,
            ("CRM_ACTIVITY_ID", Some("undefined" | "" | "0")) => continue,
            ("CRM_ENTITY_ID" | "CRM_ACTIVITY_ID", Some(_)) => integer(value),
            ("CALL_LIST_MODE", Some(t)) => Value::Bool(t.eq_ignore_ascii_case("true")),
            ("CRM_BINDINGS", _) => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|binding| match binding {
                        Value::Object(b) => Value::Object(
                            b.iter()
                                .map(|(k, v)| {
                                    let v = if k == "ENTITY_ID" {
                                        integer(v)
                                    } else {
                                        v.clone()
                                    };
                                    (k.clone(), v)
                                })
                                .collect(),
                        ),
                        other => other.clone(),
                    })
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    out.entry("CRM_BINDINGS").or_insert_with(|| json!([]));
    Value::Object(out)
}

/// One step of the page after the first: wait, then show these options.
#[derive(Debug, Clone, Serialize)]
pub struct PageStep {
    pub delay_ms: u64,
    pub options: Value,
}

/// The simulated call-card page.
pub struct Page<'a> {
    pub title: &'a str,
    pub form: &'a TabForm,
    pub tokens: &'a IssuedTokens,
    pub lang: &'a str,
    /// The first step's options (what the form posts).
    pub options: &'a Value,
    pub steps: &'a [PageStep],
}

impl Page<'_> {
    pub fn html(&self) -> String {
        let sid = self
            .form
            .action
            .rsplit("APP_SID=")
            .next()
            .unwrap_or_default()
            .to_owned();
        let (https, host) = host_of(&self.form.action);
        let handler_origin = format!("{}://{host}", if https { "https" } else { "http" });
        let config = json!({
            "sid": sid,
            "handlerOrigin": handler_origin,
            "init": {
                "LANG": self.lang,
                "PATH": "/rest",
                "AUTH_ID": self.tokens.access_token,
                "AUTH_EXPIRES": self.tokens.expires_in.to_string(),
                "REFRESH_ID": self.tokens.refresh_token,
                "MEMBER_ID": self.form.field("member_id").unwrap_or_default(),
                "IS_ADMIN": self.tokens.user_id == 1,
                "INSTALL": false,
                "USER_OPTIONS": {},
                "APP_OPTIONS": {},
                "PLACEMENT": "CALL_CARD",
                "PLACEMENT_OPTIONS": post_options(self.options),
            },
            "status": status_options(self.options),
            "steps": self.steps.iter().map(|s| json!({
                "delay_ms": s.delay_ms,
                "options": post_options(&s.options),
                "status": status_options(&s.options),
            })).collect::<Vec<_>>(),
        });
        // Inside <script type="application/json">: nothing may close the element early.
        let config = config.to_string().replace("</", "<\\/");
        let inputs: String = self
            .form
            .fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    escape(k),
                    escape(v)
                )
            })
            .collect();
        let frame_name = format!(
            "{}|{}|{sid}",
            host_of_page(self.form),
            if self.form.action.contains("PROTOCOL=1") {
                1
            } else {
                0
            }
        );
        format!(
            r#"<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:14px system-ui,sans-serif;margin:0;background:#eef2f4;color:#1f2328}}header{{background:#2fc6f6;color:#fff;padding:8px 14px;font-weight:600}}
.card{{margin:12px;background:#fff;border-radius:10px;padding:12px;max-width:480px;box-shadow:0 1px 3px #0002}}.call{{font-size:16px;margin-bottom:8px}}
.app-frame{{width:100%;height:240px;border:1px solid #d0d7de;border-radius:6px;background:#fff}}#log{{font:12px ui-monospace,monospace;color:#59636e;margin:8px 0 0;padding-left:18px}}</style></head>
<body><header>Bitrix24 · call card (simulated by portal-sim)</header>
<div class="card"><div class="call" id="call" data-testid="sim-call"></div>
<div id="appframe_layout_{sid}" class="app-frame-layout"><iframe id="appframe" name="{frame_name}" class="app-frame" frameborder="0" allow="geolocation *; microphone *; camera *; autoplay *;"></iframe></div>
<ol id="log" data-testid="sim-log"></ol></div>
<div hidden><form name="appform_{sid}" id="appform" method="POST" target="{frame_name}" action="{action}">{inputs}</form></div>
<script type="application/json" id="sim-config">{config}</script>
<script>{script}</script></body></html>"#,
            lang = escape(self.lang),
            title = escape(self.title),
            sid = escape(&sid),
            frame_name = escape(&frame_name),
            action = escape(&self.form.action),
            script = PARENT_SCRIPT,
        )
    }
}

/// The iframe's name carries the portal's host (the page's own), not the handler's.
fn host_of_page(form: &TabForm) -> String {
    form.action
        .split_once("DOMAIN=")
        .map(|(_, rest)| rest.split('&').next().unwrap_or_default())
        .map(|d| {
            form_urlencoded::parse(format!("d={d}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The parent side of the protocol (`applayout.js` and the call card's `view.js`), and the
/// scenario's later steps played as the call card's events. `window.simCallCard` lets a test
/// (or a tester in the console) fire events by hand.
const PARENT_SCRIPT: &str = r#"
(() => {
  'use strict';
  const cfg = JSON.parse(document.getElementById('sim-config').textContent);
  const frame = document.getElementById('appframe');
  const form = document.getElementById('appform');
  const log = document.getElementById('log');
  const EVENTS = ['CallCard::CallStateChanged', 'CallCard::EntityChanged', 'CallCard::BeforeClose'];
  let status = cfg.status;
  let firstRun = true;
  let bound = {};
  const seen = [];
  function note(text) {
    const li = document.createElement('li');
    li.textContent = text;
    log.append(li);
  }
  function showCall() {
    const s = status || {};
    document.getElementById('call').textContent =
      [s.PHONE_NUMBER || '—', s.CALL_DIRECTION || '', s.CALL_STATE || ''].filter(Boolean).join(' · ');
  }
  function reply(callback, result) {
    if (!callback) return;
    frame.contentWindow.postMessage(callback + ':' + (result === undefined ? '' : JSON.stringify(result)), cfg.handlerOrigin);
  }
  function parse(data) {
    if (typeof data === 'string') {
      const r = data.split(':');
      if (r.length < 3) return null;
      return { method: r[0], params: r.slice(1, -2).join(':'), callback: r[r.length - 2], appSid: r[r.length - 1] };
    }
    if (data && typeof data === 'object' && typeof data.method === 'string') {
      return { method: data.method, params: data.params, callback: data.callback, appSid: data.appSid };
    }
    return null;
  }
  const handlers = {
    getInitData(args, callback) {
      const init = Object.assign({}, cfg.init, {
        DOMAIN: location.host, PROTOCOL: location.protocol === 'https:' ? 1 : 0, FIRST_RUN: firstRun,
      });
      firstRun = false;
      reply(callback, init);
    },
    getStatus(args, callback) { reply(callback, status); },
    placementBindEvent(args, callback) {
      const event = args && args.event;
      if (!EVENTS.includes(event)) return;
      (bound[event] = bound[event] || []).push(callback);
    },
    disableAutoClose(args, callback) { reply(callback, []); },
    enableAutoClose(args, callback) { reply(callback, []); },
    setInstall(args, callback) { reply(callback, args); },
    setTitle(args, callback) { reply(callback, args); },
    setScroll(args, callback) { reply(callback, args); },
    setUserOption(args, callback) { reply(callback, args); },
    resizeWindow(args, callback) { reply(callback, { width: frame.clientWidth, height: frame.clientHeight }); },
    refreshAuth(args, callback) {
      reply(callback, { AUTH_ID: cfg.init.AUTH_ID, AUTH_EXPIRES: cfg.init.AUTH_EXPIRES, REFRESH_ID: cfg.init.REFRESH_ID });
    },
  };
  window.addEventListener('message', (event) => {
    if (event.origin !== cfg.handlerOrigin || event.source !== frame.contentWindow) return;
    const message = parse(event.data);
    if (!message || message.appSid !== cfg.sid) return;
    let args = [];
    try { args = typeof message.params === 'string' ? (message.params ? JSON.parse(message.params) : []) : (message.params || []); } catch { return; }
    seen.push(message.method);
    note('tab → portal: ' + message.method + (message.method === 'placementBindEvent' ? ' ' + args.event : ''));
    const handler = handlers[message.method];
    if (handler) handler(args, message.callback);
  });
  function fire(name, arg) {
    // The card's state changed: getStatus says so from now on (a test firing it by hand too).
    if (name === 'CallCard::CallStateChanged' && typeof arg === 'string') {
      status = Object.assign({}, status, { CALL_STATE: arg });
      showCall();
    }
    note('portal → tab: ' + name + (arg === undefined ? '' : ' ' + JSON.stringify(arg)));
    for (const callback of bound[name] || []) reply(callback, arg);
  }
  // CallCard::EntityChanged's argument (call-card-entity-changed.md): the number, `unknown`
  // when the client has none, and the bound record.
  function entityOf(s) {
    return {
      PHONE_NUMBER: s.PHONE_NUMBER === undefined ? 'unknown' : s.PHONE_NUMBER,
      CRM_ENTITY_TYPE: s.CRM_ENTITY_TYPE === undefined ? '' : s.CRM_ENTITY_TYPE,
      CRM_ENTITY_ID: s.CRM_ENTITY_ID === undefined ? 0 : s.CRM_ENTITY_ID,
    };
  }
  function submit(options) {
    bound = {};
    firstRun = true;
    form.elements.PLACEMENT_OPTIONS.value = JSON.stringify(options);
    note('portal → ' + form.action.split('?')[0] + ': POST (the call card opens the tab)');
    form.submit();
  }
  async function play() {
    for (const step of cfg.steps) {
      await new Promise((done) => setTimeout(done, step.delay_ms));
      const next = step.status || {};
      const previous = status || {};
      if (next.CALL_ID !== previous.CALL_ID) {
        status = next;
        showCall();
        submit(step.options);
        continue;
      }
      status = next;
      showCall();
      if (next.CALL_STATE !== previous.CALL_STATE) fire('CallCard::CallStateChanged', next.CALL_STATE);
      if (next.PHONE_NUMBER !== previous.PHONE_NUMBER || next.CRM_ENTITY_TYPE !== previous.CRM_ENTITY_TYPE
          || next.CRM_ENTITY_ID !== previous.CRM_ENTITY_ID) {
        fire('CallCard::EntityChanged', entityOf(next));
      }
    }
    document.body.dataset.played = 'true';
  }
  window.simCallCard = {
    fire,
    setStatus(next) { status = next; showCall(); },
    // The card moves to another client (call-list mode's next one, or a lead created from the
    // card): its current data become `next` (getStatus's shape: the number, the record, the
    // bindings; keys it leaves out are gone) and EntityChanged says so. The event carries no
    // bindings: a tab learns them from getStatus.
    changeClient(next) {
      const kept = {};
      for (const key of ['CALL_ID', 'LINE_NUMBER', 'LINE_NAME', 'CRM_ACTIVITY_ID', 'CALL_DIRECTION', 'CALL_STATE', 'CALL_LIST_MODE']) {
        if (status && status[key] !== undefined) kept[key] = status[key];
      }
      status = Object.assign(kept, { CRM_BINDINGS: [] }, next);
      showCall();
      fire('CallCard::EntityChanged', entityOf(status));
    },
    // The call's CRM activity now exists: getStatus names it (an integer); no event says so
    // (the docs name none), a tab learns it with its next getStatus.
    createActivity(id) { status = Object.assign({}, status, { CRM_ACTIVITY_ID: id }); },
    bound: () => Object.keys(bound),
    seen: () => seen.slice(),
  };
  // Each time the tab's frame finishes loading, whatever it loaded (the app's page, or the
  // browser's error page when it refused to load it): tests wait for this, not for a time.
  let loads = 0;
  frame.addEventListener('load', () => {
    loads += 1;
    document.body.dataset.tabLoads = String(loads);
  });
  showCall();
  note('portal → ' + form.action.split('?')[0] + ': POST (the call card opens the tab)');
  form.submit();
  void play();
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> IssuedTokens {
        IssuedTokens {
            access_token: "a".repeat(70),
            refresh_token: "r".repeat(70),
            expires_in: 3600,
            member_id: "m1".into(),
            user_id: 1,
            client_endpoint: "https://portal.test/rest/".into(),
            server_endpoint: "https://portal.test/rest/".into(),
            scope: "crm,user".into(),
        }
    }

    #[test]
    fn the_form_is_the_portals() {
        let options = json!({ "CALL_ID": "c1", "CRM_ENTITY_TYPE": "CONTACT", "CRM_ENTITY_ID": 42, "CALL_LIST_MODE": false });
        let form = tab_form(
            "https://portal.test:18443",
            "http://127.0.0.1:47600/call-card/",
            &options,
            &tokens(),
            "ru",
            "abc",
        );
        assert_eq!(
            form.action,
            "http://127.0.0.1:47600/call-card/?DOMAIN=portal.test%3A18443&PROTOCOL=1&LANG=ru&APP_SID=abc"
        );
        let posted: Value = serde_json::from_str(form.field("PLACEMENT_OPTIONS").unwrap()).unwrap();
        assert_eq!(
            posted,
            json!({ "CALL_ID": "c1", "CRM_ENTITY_TYPE": "CONTACT", "CRM_ENTITY_ID": "42", "CALL_LIST_MODE": "false" })
        );
        let (context, credentials) = callcard::parse_tab_post(
            form.action.split_once('?').unwrap().1,
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form.fields.iter())
                .finish()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(context.call_id, "c1");
        assert_eq!(credentials.member_id.as_deref(), Some("m1"));
        assert_eq!(host_of_page(&form), "portal.test:18443");
    }

    #[test]
    fn get_status_speaks_in_integers_and_booleans() {
        let status = status_options(&json!({
            "CALL_ID": "c1", "CRM_ENTITY_ID": "42", "CALL_LIST_MODE": "true",
            "CRM_ACTIVITY_ID": "undefined", "PHONE_NUMBER": "unknown",
        }));
        assert_eq!(
            status,
            json!({ "CALL_ID": "c1", "CRM_ENTITY_ID": 42, "CALL_LIST_MODE": true, "CRM_BINDINGS": [] })
        );
        // Once the call's activity exists, an integer; bindings with integer ids; `hidden` as is.
        let status = status_options(&json!({
            "CALL_ID": "c1", "CRM_ACTIVITY_ID": "12043", "PHONE_NUMBER": "hidden",
            "CRM_BINDINGS": [{ "ENTITY_TYPE": "DEAL", "ENTITY_ID": "4615" }],
        }));
        assert_eq!(
            status,
            json!({
                "CALL_ID": "c1", "CRM_ACTIVITY_ID": 12043, "PHONE_NUMBER": "hidden",
                "CRM_BINDINGS": [{ "ENTITY_TYPE": "DEAL", "ENTITY_ID": 4615 }],
            })
        );
        let context = callcard::parse_options(&status).unwrap();
        assert_eq!(
            (context.phone_number, context.no_number, context.activity_id),
            (None, Some(callcard::NoNumber::Hidden), Some(12043))
        );
    }
}
