//! Push & Pull: `pull.application.config.get`, `pull.application.event.add` and the push server
//! (WebSocket and long polling, v4 text mode), as `/work/shared/bitrix24-push.md` describes them.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use portal_sim::{Faults, SimConfig, Simulator};
use serde_json::{json, Value};
use sha1::Sha1;
use tungstenite::{Message, WebSocket};

use crate::status_and_json;

const KEY: &str = "simulator-signature-key";

fn sim() -> Simulator {
    Simulator::start(SimConfig {
        push_batch_ms: 150,
        push_poll_hold_ms: 1_000,
        ..SimConfig::default()
    })
    .unwrap()
}

fn hmac(data: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A REST call with `user`'s OAuth token.
fn call(sim: &Simulator, token: &str, method: &str, body: Value) -> (u16, Value) {
    let mut body = body;
    body["auth"] = json!(token);
    status_and_json(ureq::post(&format!("{}/rest/{method}.json", sim.base_url())).send_json(body))
}

fn token(sim: &Simulator, user: u64) -> String {
    sim.issue_tokens(user).access_token
}

fn config(sim: &Simulator, token: &str) -> Value {
    let (status, body) = call(sim, token, "pull.application.config.get", json!({}));
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

fn publish(sim: &Simulator, token: &str, body: Value) -> (u16, Value) {
    call(sim, token, "pull.application.event.add", body)
}

type Socket = WebSocket<TcpStream>;

/// A blocking WebSocket client on `url?query`.
fn connect(url: &str, query: &str) -> Result<Socket, tungstenite::Error> {
    let full = format!("{url}?{query}");
    let host = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    match tungstenite::client(full.as_str(), stream) {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
        Err(tungstenite::HandshakeError::Interrupted(_)) => panic!("handshake interrupted"),
    }
}

fn channel_query(private_id: &str, mid: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("CHANNEL_ID", private_id);
    if let Some(mid) = mid {
        query.append_pair("mid", mid);
    }
    query.finish()
}

/// What a socket read until `deadline`: its text frames, and how it ended (if it did).
#[derive(Debug, Default)]
struct Read {
    frames: Vec<String>,
    ended: Option<Ended>,
}

#[derive(Debug, PartialEq)]
enum Ended {
    Closed(u16, String),
    /// No close frame: the connection just went away (1006 for a browser).
    Abruptly,
}

impl Read {
    fn envelopes(&self) -> Vec<Value> {
        self.frames.iter().flat_map(|f| split(f)).collect()
    }
}

/// Splits a text frame into its envelopes (`#!NGINXNMS!#…#!NGINXNME!#`).
fn split(frame: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = frame;
    while let Some(start) = rest.find("#!NGINXNMS!#") {
        let after = &rest[start + 12..];
        let end = after.find("#!NGINXNME!#").expect("an envelope ends");
        out.push(serde_json::from_str(&after[..end]).expect("an envelope is JSON"));
        rest = &after[end + 12..];
    }
    assert!(rest.is_empty(), "nothing between envelopes: {rest:?}");
    out
}

/// Reads until `want` envelopes arrived, the socket ended, or `wait` passed.
fn read(socket: &mut Socket, want: usize, wait: Duration) -> Read {
    let deadline = Instant::now() + wait;
    let mut read = Read::default();
    while Instant::now() < deadline && read.envelopes().len() < want {
        match socket.read() {
            Ok(Message::Text(text)) => read.frames.push(text.to_string()),
            Ok(Message::Close(frame)) => {
                read.ended = Some(Ended::Closed(
                    frame.as_ref().map_or(1005, |f| u16::from(f.code)),
                    frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                ));
                break;
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(tungstenite::Error::ConnectionClosed) | Err(tungstenite::Error::AlreadyClosed) => {
                read.ended.get_or_insert(Ended::Abruptly);
                break;
            }
            Err(_) => {
                read.ended = Some(Ended::Abruptly);
                break;
            }
        }
    }
    read
}

/// Waits until the simulator counts `connections` open push connections.
fn wait_for_connections(sim: &Simulator, connections: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.stats().push_connections != connections {
        assert!(
            Instant::now() < deadline,
            "{} push connections, wanted {connections}",
            sim.stats().push_connections
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn private_id(config: &Value) -> String {
    config["channels"]["private"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A user's socket on their private channel, registered with the push server.
fn listen(sim: &Simulator, token: &str, mid: Option<&str>) -> (Socket, Value) {
    let config = config(sim, token);
    let before = sim.stats().push_connections;
    let socket = connect(
        config["server"]["websocket_secure"].as_str().unwrap(),
        &channel_query(&private_id(&config), mid),
    )
    .unwrap();
    wait_for_connections(sim, before + 1);
    (socket, config)
}

fn call_event(user: &str) -> Value {
    json!({"MODULE_ID": "callcompanion", "COMMAND": "call", "USER_ID": user,
           "PARAMS": {"v": 1, "placement": "CALL_CARD", "options": {"CALL_ID": "c-1"}}})
}

#[test]
fn config_get_names_the_push_server_and_signs_the_channels() {
    let sim = sim();
    let token = token(&sim, 3);
    let config = config(&sim, &token);
    let server = &config["server"];
    assert_eq!(server["version"], 4);
    assert_eq!(server["mode"], "personal");
    assert_eq!(server["server_enabled"], true);
    assert_eq!(server["websocket_enabled"], true);
    assert_eq!(server["websocket"], sim.push_url());
    assert_eq!(server["websocket_secure"], sim.push_url());
    assert!(sim.push_url().starts_with("ws://127.0.0.1:") && sim.push_url().ends_with("/subws/"));
    assert!(server["long_pooling_secure"]
        .as_str()
        .unwrap()
        .ends_with("/sub/"));
    assert_eq!(server["long_polling"], server["long_pooling_secure"]);
    assert_eq!(
        config["api"],
        json!({"revision_web": 19, "revision_mobile": 3})
    );

    let private = &config["channels"]["private"];
    let (ids, sig) = private["id"].as_str().unwrap().split_once('.').unwrap();
    let (raw, public) = ids.split_once(':').unwrap();
    assert_eq!((raw.len(), public.len()), (32, 32));
    assert_eq!(sig, hmac(ids), "private id signed with HMAC-SHA1 hex");
    assert_eq!(
        private["public_id"],
        format!("{public}.{}", hmac(&format!("public:{public}")))
    );
    assert_eq!(private["type"], "private");
    let (shared_raw, shared_sig) = config["channels"]["shared"]["id"]
        .as_str()
        .unwrap()
        .split_once('.')
        .unwrap();
    assert_eq!(shared_sig, hmac(shared_raw));
    assert_eq!(config["channels"]["shared"]["type"], "shared");
    assert!(config["channels"]["shared"].get("public_id").is_none());

    // end = start + 43205 s, both ISO-8601 with the offset; exp a day ahead.
    let start = private["start"].as_str().unwrap();
    let end = private["end"].as_str().unwrap();
    assert!(
        start.ends_with("+03:00") && end.ends_with("+03:00"),
        "{start} {end}"
    );
    let secs = |t: &str| {
        let (date, time) = t.split_once('T').unwrap();
        let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
        let t: Vec<i64> = time[..8].split(':').map(|x| x.parse().unwrap()).collect();
        (d[2] * 86_400) + t[0] * 3600 + t[1] * 60 + t[2]
    };
    let span = (secs(end) - secs(start)).rem_euclid(31 * 86_400);
    assert_eq!(span, 43_205);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let exp = config["exp"].as_i64().unwrap();
    assert!((exp - now - 86_400).abs() <= 5, "exp {exp}, now {now}");

    // The same user gets the same channels again; another user another private one, the same
    // shared one.
    assert_eq!(
        crate::push::config(&sim, &token)["channels"],
        config["channels"]
    );
    let other = crate::push::config(&sim, &self::token(&sim, 4));
    assert_ne!(other["channels"]["private"]["id"], private["id"]);
    assert_eq!(
        other["channels"]["shared"]["id"],
        config["channels"]["shared"]["id"]
    );
}

#[test]
fn a_webhook_has_no_application_context() {
    let sim = sim();
    let hook = sim.endpoints().webhook_url;
    for method in ["pull.application.config.get", "pull.application.event.add"] {
        let (status, body) = status_and_json(
            ureq::post(&format!("{hook}{method}.json"))
                .send_json(json!({"COMMAND": "call", "USER_ID": "1"})),
        );
        assert_eq!(
            (status, body),
            (
                403,
                json!({"error": "WRONG_AUTH_TYPE", "error_description":
                    "Get access to application config available only for application authorization."})
            ),
            "{method}"
        );
    }
}

#[test]
fn without_the_pull_scope_the_methods_are_refused() {
    let sim = Simulator::start(SimConfig {
        scope: "crm,user,telephony".into(),
        ..SimConfig::default()
    })
    .unwrap();
    let token = token(&sim, 3);
    let (status, body) = call(&sim, &token, "pull.application.config.get", json!({}));
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let (status, body) = publish(&sim, &token, call_event("3"));
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
}

#[test]
fn event_add_validates_in_the_portals_order() {
    let sim = sim();
    let agent = token(&sim, 3);
    let admin = token(&sim, 1);
    let user_id = "Only admin can send notifications to other channels";
    let module = "Module ID format error";
    let command = "Command format error";
    let params = "Params format error";
    // (who, body, expected error code and text; None: `true`)
    type Case<'a> = (&'a str, Value, Option<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("agent", json!({"COMMAND": "call"}), None),
        ("agent", json!({"COMMAND": "call", "USER_ID": "3"}), None),
        (
            "agent",
            json!({"COMMAND": "call", "USER_ID": 3}),
            Some(("USER_ID_ACCESS_ERROR", user_id)),
        ),
        (
            "agent",
            json!({"COMMAND": "call", "USER_ID": ["3"]}),
            Some(("USER_ID_ACCESS_ERROR", user_id)),
        ),
        (
            "agent",
            json!({"COMMAND": "call", "USER_ID": "4"}),
            Some(("USER_ID_ACCESS_ERROR", user_id)),
        ),
        // USER_ID is checked before anything else.
        (
            "agent",
            json!({"COMMAND": "bad command", "MODULE_ID": "Bad", "USER_ID": 3}),
            Some(("USER_ID_ACCESS_ERROR", user_id)),
        ),
        (
            "agent",
            json!({"COMMAND": "call", "MODULE_ID": "CallCompanion"}),
            Some(("MODULE_ID_ERROR", module)),
        ),
        (
            "agent",
            json!({"COMMAND": "call", "MODULE_ID": "call-companion"}),
            Some(("MODULE_ID_ERROR", module)),
        ),
        (
            "agent",
            json!({"COMMAND": "bad command", "MODULE_ID": "Bad"}),
            Some(("MODULE_ID_ERROR", module)),
        ),
        (
            "agent",
            json!({"COMMAND": "call", "MODULE_ID": "call.companion_2"}),
            None,
        ),
        ("agent", json!({}), Some(("COMMAND_ERROR", command))),
        (
            "agent",
            json!({"COMMAND": ""}),
            Some(("COMMAND_ERROR", command)),
        ),
        (
            "agent",
            json!({"COMMAND": "a b"}),
            Some(("COMMAND_ERROR", command)),
        ),
        (
            "agent",
            json!({"COMMAND": "bad/command", "PARAMS": 5}),
            Some(("COMMAND_ERROR", command)),
        ),
        ("agent", json!({"COMMAND": "Call:2|x.y-z_w"}), None),
        (
            "agent",
            json!({"COMMAND": "call", "PARAMS": 5}),
            Some(("PARAMS_ERROR", params)),
        ),
        (
            "agent",
            json!({"COMMAND": "call", "PARAMS": "not json"}),
            Some(("PARAMS_ERROR", params)),
        ),
        (
            "agent",
            json!({"COMMAND": "call", "PARAMS": "{\"a\":1}"}),
            None,
        ),
        (
            "agent",
            json!({"COMMAND": "call", "PARAMS": {"a": 1}}),
            None,
        ),
        ("admin", json!({"COMMAND": "call", "USER_ID": 3}), None),
        (
            "admin",
            json!({"COMMAND": "call", "USER_ID": [3, "4"]}),
            None,
        ),
        (
            "admin",
            json!({"COMMAND": "call", "USER_ID": "[3,4]"}),
            None,
        ),
        ("admin", json!({"COMMAND": "call", "USER_ID": "3"}), None),
    ];
    for (who, body, expected) in cases {
        let token = if who == "admin" { &admin } else { &agent };
        let (status, answer) = publish(&sim, token, body.clone());
        match expected {
            None => assert_eq!(
                (status, &answer["result"]),
                (200, &json!(true)),
                "{who} {body}: {answer}"
            ),
            Some((code, text)) => assert_eq!(
                (status, answer),
                (400, json!({"error": code, "error_description": text})),
                "{who} {body}"
            ),
        }
    }
}

#[test]
fn a_private_channel_receives_only_its_own_users_events() {
    let sim = sim();
    let (agent, colleague, admin) = (token(&sim, 3), token(&sim, 4), token(&sim, 1));
    let (mut socket, _) = listen(&sim, &agent, None);
    // The shared channel, another user's channel: not on this connection.
    assert_eq!(publish(&sim, &agent, json!({"COMMAND": "shared"})).0, 200);
    assert_eq!(
        publish(
            &sim,
            &colleague,
            json!({"COMMAND": "theirs", "USER_ID": "4"})
        )
        .0,
        200
    );
    assert_eq!(
        publish(&sim, &admin, json!({"COMMAND": "to_4", "USER_ID": 4})).0,
        200
    );
    // The agent's own, and the administrator's to the agent.
    assert_eq!(publish(&sim, &agent, call_event("3")).0, 200);
    assert_eq!(
        publish(&sim, &admin, json!({"COMMAND": "from_admin", "USER_ID": 3})).0,
        200
    );
    let read = read(&mut socket, 2, Duration::from_secs(10));
    let commands: Vec<String> = read
        .envelopes()
        .iter()
        .map(|e| e["text"]["command"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(commands, ["call", "from_admin"], "{read:?}");
    // Nothing else follows.
    let more = crate::push::read(&mut socket, 1, Duration::from_millis(500));
    assert!(more.envelopes().is_empty(), "{more:?}");
    assert_eq!(sim.stats().push_published, 5);
}

#[test]
fn an_envelope_carries_the_portals_body_as_text() {
    let sim = sim();
    let agent = token(&sim, 3);
    let (mut socket, _) = listen(&sim, &agent, None);
    assert_eq!(publish(&sim, &agent, call_event("3")).0, 200);
    assert_eq!(
        publish(&sim, &agent, json!({"COMMAND": "empty", "USER_ID": "3"})).0,
        200
    );
    let read = read(&mut socket, 2, Duration::from_secs(10));
    let raw = read.frames.concat();
    assert!(raw.starts_with("#!NGINXNMS!#{\"id\":"), "{raw}");
    assert!(raw.contains(r#""channel":"-","tag":""#), "{raw}");
    assert!(
        raw.contains(r#","text":{"module_id":"callcompanion","command":"call","params":{"#),
        "{raw}"
    );
    assert!(
        raw.contains(r#""command":"empty","params":[],"extra":{"#),
        "{raw}"
    );
    let envelopes = read.envelopes();
    let first = &envelopes[0];
    let mid = first["mid"].as_str().unwrap();
    assert_eq!(mid.len(), 26);
    assert_eq!(
        first["id"].as_u64().unwrap(),
        mid[10..].parse::<u64>().unwrap()
    );
    assert_eq!(first["tag"].as_str().unwrap().len(), 3);
    assert!(first["time"].as_str().unwrap().ends_with(" GMT"));
    let text = &first["text"];
    assert_eq!(text["params"]["options"]["CALL_ID"], "c-1");
    let extra = &text["extra"];
    assert_eq!(extra["server_name"], "acme.bitrix24.ru");
    assert_eq!(
        (
            extra["revision_web"].as_u64(),
            extra["revision_mobile"].as_u64()
        ),
        (Some(19), Some(3))
    );
    assert!(extra["server_time"].as_str().unwrap().ends_with("+03:00"));
    assert!(extra["server_time_unix"].is_f64());
    assert!(
        envelopes[1]["mid"].as_str().unwrap() > mid,
        "ascending mids"
    );
}

#[test]
fn messages_ready_together_go_in_one_frame() {
    let sim = sim();
    let admin = token(&sim, 1);
    let (mut socket, _) = listen(&sim, &admin, None);
    // One batch publishes both before the push server writes anything.
    let (status, _) = call(
        &sim,
        &admin,
        "batch",
        json!({"halt": 0, "cmd": {
            "a": "pull.application.event.add?COMMAND=one&USER_ID=1",
            "b": "pull.application.event.add?COMMAND=two&USER_ID=1",
        }}),
    );
    assert_eq!(status, 200);
    let read = read(&mut socket, 2, Duration::from_secs(10));
    assert_eq!(read.frames.len(), 1, "{read:?}");
    assert_eq!(split(&read.frames[0]).len(), 2);
}

#[test]
fn a_reconnect_with_mid_gets_what_it_missed_then_goes_live() {
    let sim = sim();
    let agent = token(&sim, 3);
    let (mut socket, config) = listen(&sim, &agent, None);
    publish(&sim, &agent, json!({"COMMAND": "first", "USER_ID": "3"}));
    let first = read(&mut socket, 1, Duration::from_secs(10)).envelopes();
    let mid = first[0]["mid"].as_str().unwrap().to_owned();
    // The socket drops; three events are published meanwhile.
    sim.set_faults(Faults {
        push_drop_sockets: true,
        ..Faults::default()
    });
    let dropped = read(&mut socket, 1, Duration::from_secs(10));
    assert_eq!(dropped.ended, Some(Ended::Abruptly), "{dropped:?}");
    wait_for_connections(&sim, 0);
    for n in 0..3 {
        publish(
            &sim,
            &agent,
            json!({"COMMAND": format!("missed{n}"), "USER_ID": "3"}),
        );
    }
    let mut socket = connect(
        sim.push_url().as_str(),
        &channel_query(&private_id(&config), Some(&mid)),
    )
    .unwrap();
    let missed = read(&mut socket, 3, Duration::from_secs(10));
    assert_eq!(
        missed.frames.len(),
        1,
        "the history comes as one answer: {missed:?}"
    );
    let commands: Vec<String> = missed
        .envelopes()
        .iter()
        .map(|e| e["text"]["command"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(commands, ["missed0", "missed1", "missed2"]);
    wait_for_connections(&sim, 1);
    publish(&sim, &agent, json!({"COMMAND": "live", "USER_ID": "3"}));
    let live = read(&mut socket, 1, Duration::from_secs(10)).envelopes();
    assert_eq!(live[0]["text"]["command"], "live");
}

#[test]
fn a_wrong_channel_id_is_closed_with_4010() {
    let sim = sim();
    let config = config(&sim, &token(&sim, 3));
    let good = private_id(&config);
    let mut forged = good.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let shared = config["channels"]["shared"]["id"].as_str().unwrap();
    let unsigned = good.split('.').next().unwrap().to_owned();
    for channel_id in [
        forged.clone(),
        unsigned,
        "nonsense".to_owned(),
        String::new(),
        format!("{good}/{}", &shared[..shared.len() - 1]),
    ] {
        let mut socket =
            connect(sim.push_url().as_str(), &channel_query(&channel_id, None)).unwrap();
        let read = read(&mut socket, 1, Duration::from_secs(10));
        assert_eq!(
            read.ended,
            Some(Ended::Closed(4010, "4010: Wrong Channel Id.".into())),
            "{channel_id}"
        );
    }
}
