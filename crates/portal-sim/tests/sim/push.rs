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

fn long_poll_url(config: &Value) -> String {
    config["server"]["long_pooling_secure"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A long poll: status, `Last-Message-Id`, `Expires`, body.
fn poll(url: &str, query: &str) -> (u16, String, String, String) {
    let answer = match ureq::get(&format!("{url}?{query}")).call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let header = |name: &str| answer.header(name).unwrap_or_default().to_owned();
    let (last, expires) = (header("Last-Message-Id"), header("Expires"));
    (
        answer.status(),
        last,
        expires,
        answer.into_string().unwrap(),
    )
}

#[test]
fn long_polling_answers_200_304_and_400() {
    let sim = sim();
    let agent = token(&sim, 3);
    let config = config(&sim, &agent);
    let url = long_poll_url(&config);
    let query = channel_query(&private_id(&config), None);

    let (status, _, _, body) = poll(&url, &channel_query("nonsense", None));
    assert_eq!((status, body.as_str()), (400, "4010: Wrong Channel Id."));

    // Nothing within the hold: 304 with the clients' magic Expires.
    let (status, last, expires, body) = poll(&url, &query);
    assert_eq!(
        (status, last.as_str(), expires.as_str(), body.as_str()),
        (304, "", "Thu, 01 Jan 1973 11:11:01 GMT", "")
    );

    // A message arriving during the hold answers the poll at once.
    let waiting = {
        let (url, query) = (url.clone(), query.clone());
        std::thread::spawn(move || poll(&url, &query))
    };
    wait_for_connections(&sim, 1);
    publish(&sim, &agent, json!({"COMMAND": "first", "USER_ID": "3"}));
    let (status, _, _, body) = waiting.join().unwrap();
    assert_eq!(status, 200);
    let first = split(&body);
    assert_eq!(first[0]["text"]["command"], "first");
    let mid = first[0]["mid"].as_str().unwrap().to_owned();

    // What was published between polls comes with the next poll by mid.
    publish(&sim, &agent, json!({"COMMAND": "second", "USER_ID": "3"}));
    publish(&sim, &agent, json!({"COMMAND": "third", "USER_ID": "3"}));
    let (status, _, _, body) = poll(&url, &channel_query(&private_id(&config), Some(&mid)));
    let commands: Vec<Value> = split(&body)
        .iter()
        .map(|e| e["text"]["command"].clone())
        .collect();
    assert_eq!(
        (status, commands),
        (200, vec![json!("second"), json!("third")])
    );
    let last_mid = split(&body)[1]["mid"].as_str().unwrap().to_owned();

    // Nothing newer: 304 naming the mid it was given.
    let (status, last, _, _) = poll(&url, &channel_query(&private_id(&config), Some(&last_mid)));
    assert_eq!((status, last), (304, last_mid));
}

#[test]
fn a_full_channel_closes_its_oldest_connection_with_4029() {
    let sim = Simulator::start(SimConfig {
        push_max_connections_per_channel: 2,
        push_poll_hold_ms: 10_000,
        ..SimConfig::default()
    })
    .unwrap();
    let agent = token(&sim, 3);
    let (mut oldest, config) = listen(&sim, &agent, None);
    let query = channel_query(&private_id(&config), None);
    let _second = connect(&sim.push_url(), &query).unwrap();
    wait_for_connections(&sim, 2);
    let _third = connect(&sim.push_url(), &query).unwrap();
    let read = read(&mut oldest, 1, Duration::from_secs(10));
    assert_eq!(
        read.ended,
        Some(Ended::Closed(4029, "4029: Too many connections".into()))
    );
}

#[test]
fn a_long_poll_pushed_out_of_a_full_channel_answers_429() {
    let sim = Simulator::start(SimConfig {
        push_max_connections_per_channel: 1,
        push_poll_hold_ms: 10_000,
        ..SimConfig::default()
    })
    .unwrap();
    let config = config(&sim, &token(&sim, 3));
    let query = channel_query(&private_id(&config), None);
    let url = long_poll_url(&config);
    let waiting = {
        let query = query.clone();
        std::thread::spawn(move || poll(&url, &query))
    };
    wait_for_connections(&sim, 1);
    let _socket = connect(&sim.push_url(), &query).unwrap();
    let (status, _, _, body) = waiting.join().unwrap();
    assert_eq!((status, body.as_str()), (429, "4029: Too many connections"));
}

#[test]
fn a_socket_that_answers_no_ping_is_ended() {
    let sim = Simulator::start(SimConfig {
        push_ping_ms: 200,
        ..SimConfig::default()
    })
    .unwrap();
    let agent = token(&sim, 3);
    let (mut reader, config) = listen(&sim, &agent, None);
    let mut silent = connect(&sim.push_url(), &channel_query(&private_id(&config), None)).unwrap();
    wait_for_connections(&sim, 2);
    // The reader answers pings (tungstenite pongs while reading); the silent one does not.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.stats().push_connections != 1 {
        assert!(Instant::now() < deadline, "the silent socket stays");
        let read = read(&mut reader, 1, Duration::from_millis(100));
        assert_eq!(read.ended, None);
    }
    let read = read(&mut reader, 1, Duration::from_millis(600));
    assert_eq!(read.ended, None, "the answering socket stays");
    let ended = crate::push::read(&mut silent, 1, Duration::from_secs(10));
    assert_eq!(ended.ended, Some(Ended::Abruptly));
}

#[test]
fn client_frames_are_ignored() {
    let sim = sim();
    let agent = token(&sim, 3);
    let (mut socket, _) = listen(&sim, &agent, None);
    socket.send(Message::text("hello")).unwrap();
    publish(&sim, &agent, json!({"COMMAND": "after", "USER_ID": "3"}));
    let read = read(&mut socket, 1, Duration::from_secs(10));
    assert_eq!(read.envelopes()[0]["text"]["command"], "after");
}

#[test]
fn a_push_restart_drops_every_socket_and_keeps_the_history() {
    let sim = sim();
    let agent = token(&sim, 3);
    let (mut socket, config) = listen(&sim, &agent, None);
    publish(&sim, &agent, json!({"COMMAND": "before", "USER_ID": "3"}));
    let mid = read(&mut socket, 1, Duration::from_secs(10)).envelopes()[0]["mid"]
        .as_str()
        .unwrap()
        .to_owned();
    publish(&sim, &agent, json!({"COMMAND": "unread", "USER_ID": "3"}));
    // Through the admin endpoint, as a tester would.
    let (status, faults) = status_and_json(
        ureq::post(&format!("{}/sim/admin/faults", sim.base_url()))
            .send_json(json!({"push_restart": true})),
    );
    assert_eq!(
        (status, &faults["push_restart"]),
        (200, &json!(false)),
        "one shot"
    );
    let mut ended = read(&mut socket, 10, Duration::from_secs(10));
    while ended.ended.is_none() {
        ended = read(&mut socket, 10, Duration::from_secs(10));
    }
    assert_eq!(ended.ended, Some(Ended::Abruptly));
    wait_for_connections(&sim, 0);
    let mut socket = connect(
        &sim.push_url(),
        &channel_query(&private_id(&config), Some(&mid)),
    )
    .unwrap();
    let replay = read(&mut socket, 1, Duration::from_secs(10)).envelopes();
    assert_eq!(replay[0]["text"]["command"], "unread");
}

/// Reads until a `pull/channel_expire` arrives.
fn channel_expire(socket: &mut Socket) -> Value {
    command(socket, "channel_expire")
}

/// Reads until a message with `name` as its command arrives (10 s at most), passing over others.
fn command(socket: &mut Socket, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no {name}");
        let read = read(socket, 1, Duration::from_millis(200));
        if let Some(found) = read
            .envelopes()
            .into_iter()
            .find(|e| e["text"]["command"] == name)
        {
            return found["text"].clone();
        }
    }
}

fn rotated(sim: &Simulator, agent: &str, mut old_socket: Socket, old: &Value) {
    let client_id = sim.endpoints().client_id;
    let expire = channel_expire(&mut old_socket);
    assert_eq!(expire["module_id"], "pull");
    assert_eq!(
        expire["params"],
        json!({"action": "get_config", "channel": {"id": old["channels"]["private"]["id"], "type": client_id}})
    );
    let fresh = config(sim, agent);
    assert_ne!(
        fresh["channels"]["private"]["id"],
        old["channels"]["private"]["id"]
    );
    assert_ne!(
        fresh["channels"]["shared"]["id"],
        old["channels"]["shared"]["id"]
    );
    // The old id still connects, but nothing comes on it any more.
    let mut stale = connect(&sim.push_url(), &channel_query(&private_id(old), None)).unwrap();
    let mut current = connect(&sim.push_url(), &channel_query(&private_id(&fresh), None)).unwrap();
    wait_for_connections(sim, 3);
    publish(sim, agent, json!({"COMMAND": "after", "USER_ID": "3"}));
    // With a 1 s lifetime the fresh channel may itself end first on a loaded machine (its own
    // channel_expire comes before): what matters is that "after" reaches it.
    command(&mut current, "after");
    let nothing = read(&mut stale, 1, Duration::from_millis(400));
    assert!(
        nothing.envelopes().is_empty() && nothing.ended.is_none(),
        "{nothing:?}"
    );
}

#[test]
fn push_expire_channels_rotates_every_application_channel() {
    let sim = sim();
    let agent = token(&sim, 3);
    let (socket, old) = listen(&sim, &agent, None);
    sim.set_faults(Faults {
        push_expire_channels: true,
        ..Faults::default()
    });
    rotated(&sim, &agent, socket, &old);
}

#[test]
fn a_channel_past_its_end_is_issued_anew() {
    let sim = Simulator::start(SimConfig {
        push_channel_ttl_secs: 1,
        ..SimConfig::default()
    })
    .unwrap();
    let agent = token(&sim, 3);
    let (socket, old) = listen(&sim, &agent, None);
    std::thread::sleep(Duration::from_millis(2_100));
    // The next config.get finds the channels over and issues new ones.
    let (status, _) = call(&sim, &agent, "pull.application.config.get", json!({}));
    assert_eq!(status, 200);
    rotated(&sim, &agent, socket, &old);
}

#[test]
fn push_drop_sockets_ends_every_socket_without_a_close_frame() {
    let sim = sim();
    let (agent, colleague) = (token(&sim, 3), token(&sim, 4));
    let (mut one, _) = listen(&sim, &agent, None);
    let (mut two, _) = listen(&sim, &colleague, None);
    sim.set_faults(Faults {
        push_drop_sockets: true,
        ..Faults::default()
    });
    for socket in [&mut one, &mut two] {
        assert_eq!(
            read(socket, 1, Duration::from_secs(10)).ended,
            Some(Ended::Abruptly)
        );
    }
    wait_for_connections(&sim, 0);
}

#[test]
fn push_delay_ms_holds_every_delivery_back() {
    let sim = sim();
    let agent = token(&sim, 3);
    let (mut socket, _) = listen(&sim, &agent, None);
    sim.set_faults(Faults {
        push_delay_ms: 300,
        ..Faults::default()
    });
    let sent = Instant::now();
    publish(&sim, &agent, json!({"COMMAND": "late", "USER_ID": "3"}));
    let got = read(&mut socket, 1, Duration::from_secs(10)).envelopes();
    assert_eq!(got[0]["text"]["command"], "late");
    assert!(sent.elapsed() >= Duration::from_millis(300));
    assert_eq!(sim.stats().push_delivered, 1);
}

#[test]
fn push_refuse_websocket_leaves_long_polling() {
    let sim = sim();
    let agent = token(&sim, 3);
    let config = config(&sim, &agent);
    sim.set_faults(Faults {
        push_refuse_websocket: true,
        ..Faults::default()
    });
    let query = channel_query(&private_id(&config), None);
    match connect(&sim.push_url(), &query) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let waiting = {
        let url = long_poll_url(&config);
        std::thread::spawn(move || poll(&url, &query))
    };
    wait_for_connections(&sim, 1);
    publish(&sim, &agent, json!({"COMMAND": "by_poll", "USER_ID": "3"}));
    let (status, _, _, body) = waiting.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(split(&body)[0]["text"]["command"], "by_poll");
}

#[test]
fn stats_count_published_and_delivered_messages_and_open_connections() {
    let sim = sim();
    let agent = token(&sim, 3);
    let (mut one, config) = listen(&sim, &agent, None);
    let mut two = connect(&sim.push_url(), &channel_query(&private_id(&config), None)).unwrap();
    wait_for_connections(&sim, 2);
    publish(&sim, &agent, json!({"COMMAND": "fan_out", "USER_ID": "3"}));
    for socket in [&mut one, &mut two] {
        assert_eq!(
            read(socket, 1, Duration::from_secs(10)).envelopes().len(),
            1
        );
    }
    let (_, stats) =
        status_and_json(ureq::get(&format!("{}/sim/admin/stats", sim.base_url())).call());
    assert_eq!(
        (
            &stats["push_published"],
            &stats["push_delivered"],
            &stats["push_connections"]
        ),
        (&json!(1), &json!(2), &json!(2))
    );
    drop(one);
    drop(two);
    wait_for_connections(&sim, 0);
}
