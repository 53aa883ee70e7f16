//! What a message on the private channel is for us: a call, a system message from the push
//! server, or something to ignore (and log by module and command only: params may hold
//! personal data).

use crate::envelope::Body;

pub const MODULE_ID: &str = "callcompanion";
pub const COMMAND: &str = "call";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    System(System),
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// Any `channel_expire` (whatever its `action`; `new_channel` is never followed: for an
    /// application's channels it names the wrong one, bitrix24-push.md §4.2): fetch the config.
    ChannelExpire,
    ConfigExpire,
    ServerRestart,
}

pub fn classify(body: &Body) -> Verdict {
    match (body.module_id.as_str(), body.command.as_str()) {
        (MODULE_ID, COMMAND) => Verdict::Accept,
        ("pull", "channel_expire") => Verdict::System(System::ChannelExpire),
        ("pull", "config_expire") => Verdict::System(System::ConfigExpire),
        ("pull", "server_restart") => Verdict::System(System::ServerRestart),
        _ => Verdict::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_our_call_passes() {
        let cases = [
            ("callcompanion", "call", Verdict::Accept),
            ("callcompanion", "hangup", Verdict::Ignore),
            ("CallCompanion", "call", Verdict::Ignore),
            ("application", "call", Verdict::Ignore),
            ("callcompanion.x", "call", Verdict::Ignore),
            (
                "pull",
                "channel_expire",
                Verdict::System(System::ChannelExpire),
            ),
            (
                "pull",
                "config_expire",
                Verdict::System(System::ConfigExpire),
            ),
            (
                "pull",
                "server_restart",
                Verdict::System(System::ServerRestart),
            ),
            ("pull", "call", Verdict::Ignore),
            ("voximplant", "invite", Verdict::Ignore),
        ];
        for (module_id, command, want) in cases {
            let body = Body {
                module_id: module_id.into(),
                command: command.into(),
                params: json!({}),
                extra: json!(null),
            };
            assert_eq!(classify(&body), want, "{module_id}/{command}");
        }
    }
}
