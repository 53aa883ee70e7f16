use clap::error::ErrorKind;
use companion::cli::Cli;
use companion::language::LanguageChoice;
use companion::status::Theme;

#[test]
fn defaults() {
    let cli = Cli::try_parse_args(["call-companion"]).unwrap();
    assert_eq!(cli.theme, Theme::System);
    assert_eq!(cli.lang, LanguageChoice::Auto);
}

#[test]
fn theme_and_language_flags() {
    let cli = Cli::try_parse_args(["call-companion", "--theme", "dark", "--lang", "ru"]).unwrap();
    assert_eq!(cli.theme, Theme::Dark);
    assert_eq!(cli.lang, LanguageChoice::Ru);
}

#[test]
fn version_and_help_are_answers_not_failures() {
    let version = Cli::try_parse_args(["call-companion", "--version"]).unwrap_err();
    assert_eq!(version.kind(), ErrorKind::DisplayVersion);
    assert!(version.to_string().contains(companion::app::VERSION));
    let help = Cli::try_parse_args(["call-companion", "--help"]).unwrap_err();
    assert_eq!(help.kind(), ErrorKind::DisplayHelp);
    assert!(help.to_string().contains("--theme"));
}

#[test]
fn unknown_value_is_a_clear_error() {
    let err = Cli::try_parse_args(["call-companion", "--theme", "purple"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidValue);
    assert!(err.to_string().contains("purple"), "{err}");
}

#[test]
fn listener_flags_and_subcommands() {
    use companion::cli::{Command, TokenAction};
    let cli = Cli::try_parse_args([
        "call-companion",
        "--listen-port",
        "48000",
        "--allow-origin",
        "https://a.example,https://b.example",
    ])
    .unwrap();
    assert_eq!(cli.listen_port, 48000);
    assert_eq!(
        cli.allowed_origins,
        ["https://a.example", "https://b.example"]
    );
    let token = Cli::try_parse_args(["call-companion", "token", "show"]).unwrap();
    assert_eq!(
        token.command,
        Some(Command::Token {
            action: TokenAction::Show
        })
    );
    let simulate = Cli::try_parse_args([
        "call-companion",
        "simulate",
        "--scenario",
        "incoming-contact",
        "--port",
        "48001",
    ])
    .unwrap();
    let Some(Command::Simulate(args)) = simulate.command else {
        panic!("simulate")
    };
    assert_eq!(
        (args.scenario.as_deref(), args.port),
        (Some("incoming-contact"), 48001)
    );
    let none = Cli::try_parse_args(["call-companion", "simulate"]).unwrap_err();
    assert_eq!(none.kind(), ErrorKind::MissingRequiredArgument);
    let two =
        Cli::try_parse_args(["call-companion", "simulate", "--stdin", "--file", "x"]).unwrap_err();
    assert_eq!(two.kind(), ErrorKind::ArgumentConflict);
}

#[test]
fn simulate_chooses_the_listener_or_push() {
    use companion::cli::{Command, Via};
    let parse = |extra: &[&str]| {
        let mut args = vec!["call-companion", "simulate"];
        args.extend_from_slice(extra);
        Cli::try_parse_args(args)
    };
    let simulate_args = |cli: Cli| match cli.command {
        Some(Command::Simulate(args)) => args,
        other => panic!("simulate, not {other:?}"),
    };
    // Today's behaviour stays the default.
    let listener = simulate_args(parse(&["--scenario", "incoming-contact"]).unwrap());
    assert_eq!(listener.via(), Via::Listener);
    let listener = simulate_args(parse(&["--scenario", "lead", "--via", "listener"]).unwrap());
    assert_eq!(listener.via(), Via::Listener);
    let push = simulate_args(parse(&["--scenario", "state-changes", "--via", "push"]).unwrap());
    assert_eq!(
        (push.scenario.as_deref(), push.via()),
        (Some("state-changes"), Via::Push)
    );
    // The tab's form is not sent at all, so it goes no way. (Without a scenario, `--via push`
    // is refused when it runs, exit 64.)
    assert_eq!(
        parse(&["--scenario", "lead", "--via", "push", "--tab-form"])
            .unwrap_err()
            .kind(),
        ErrorKind::ArgumentConflict
    );
    assert_eq!(
        parse(&["--scenario", "lead", "--via", "pigeon"])
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidValue
    );
}

#[test]
fn a_deep_link_on_the_command_line_is_accepted() {
    let cli =
        Cli::try_parse_args(["call-companion", "callcompanion://call-card?CALL_ID=1"]).unwrap();
    assert_eq!(cli.links, ["callcompanion://call-card?CALL_ID=1"]);
    assert_eq!(cli.command, None);
}

#[test]
fn the_simulator_plays_either_oauth_region_and_no_other() {
    use companion::cli::Command;
    let region = |args: &[&str]| {
        let mut all = vec!["call-companion", "portal-sim"];
        all.extend_from_slice(args);
        match Cli::try_parse_args(all).map(|cli| cli.command) {
            Ok(Some(Command::PortalSim(sim))) => Ok((
                sim.oauth_server_domain,
                sim.app_not_installed,
                sim.app_payment_expired,
            )),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.kind()),
        }
    };
    assert_eq!(
        region(&[]),
        Ok(("oauth.bitrix24.tech".into(), false, false))
    );
    assert_eq!(
        region(&[
            "--oauth-server-domain",
            "oauth.bitrix.info",
            "--app-not-installed",
            "--app-payment-expired"
        ]),
        Ok(("oauth.bitrix.info".into(), true, true))
    );
    assert_eq!(
        region(&["--oauth-server-domain", "evil.example"]),
        Err(ErrorKind::InvalidValue)
    );
}
