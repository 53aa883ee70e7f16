//! The command-line tools that need no window: `token show`, `simulate`, `portal-sim` and
//! `portal` (the relay widget on the portal).

use std::io::Write;

use crate::cli::{Command, PolicyCommand, PortalCommand, PortalSimArgs, SimulateArgs, TokenAction};
use crate::rt::Wait;
use crate::secrets::Keyring;
use crate::simulate;

/// What start-up worked out before the subcommand runs (diagnostics reports it).
pub struct Startup<'a> {
    pub cli: &'a crate::cli::Cli,
    /// Each command-line setting, its value and its source (`policy::apply_to_cli`).
    pub settings: &'a [(&'static str, String, crate::policy::Source)],
    pub policy_path: &'a std::path::Path,
    pub policy_error: Option<&'a crate::policy::PolicyError>,
}

/// Runs a subcommand, printing results to stdout and problems to stderr; returns the exit code.
pub fn run(command: &Command, keyring: &Keyring, startup: &Startup) -> u8 {
    match command {
        Command::Token {
            action: TokenAction::Show,
        } => match keyring.pairing_token() {
            Ok(token) => {
                println!("{}", token.expose());
                0
            }
            Err(e) => {
                eprintln!("call-companion: {e}");
                69
            }
        },
        Command::Simulate(args) => run_simulate(args, keyring),
        Command::PortalSim(args) => run_portal_sim(args),
        Command::Portal { action } => run_portal(action, startup.cli.listen_port),
        Command::Policy {
            action: PolicyCommand::Check { file },
        } => check_policy(file),
        Command::Diagnostics {
            out,
            keep_phone_numbers,
        } => write_diagnostics(out, !keep_phone_numbers, keyring, startup),
    }
}

fn write_diagnostics(
    out: &std::path::Path,
    mask_phones: bool,
    keyring: &Keyring,
    startup: &Startup,
) -> u8 {
    let facts = crate::diagnostics::Facts {
        settings: startup.settings.to_vec(),
        policy_path: startup.policy_path.to_owned(),
        policy_problem: startup.policy_error.map(ToString::to_string),
        listen_port: startup.cli.listen_port,
        portal: None,
    };
    match crate::diagnostics::export(out, &facts, keyring, mask_phones) {
        Ok(files) => {
            println!("{}: {files} files for support", out.display());
            0
        }
        Err(e) => {
            eprintln!("call-companion: cannot write {}: {e}", out.display());
            73
        }
    }
}

fn check_policy(file: &std::path::Path) -> u8 {
    if !file.exists() {
        eprintln!("call-companion: no such file: {}", file.display());
        return 66;
    }
    match crate::policy::load(file) {
        Ok(policy) => {
            let policy = policy.unwrap_or_default();
            let count = |s: &crate::policy::Settings| {
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| {
                        v.as_object()
                            .map(|o| o.values().filter(|v| !v.is_null()).count())
                    })
                    .unwrap_or(0)
            };
            println!(
                "{}: valid ({} preset, {} locked)",
                file.display(),
                count(&policy.defaults),
                count(&policy.locked)
            );
            0
        }
        Err(e) => {
            eprintln!("call-companion: {e}");
            65
        }
    }
}

fn run_portal(action: &PortalCommand, listen_port: u16) -> u8 {
    use crate::portal::{settings::SettingsFile, vault::Vault, widget, PortalDesk};
    let paths = crate::paths::AppPaths::for_current_user();
    let desk = PortalDesk::new(
        Vault::new(Keyring::for_app()),
        SettingsFile::new(paths.config_dir.join("portal.json")),
    );
    desk.restore();
    let fail = |e: widget::WidgetError| {
        eprintln!("call-companion: {e} [{}]", e.code());
        if let widget::WidgetError::HandlerRefused { handler, .. } = &e {
            if handler.starts_with("http://127.0.0.1") {
                eprintln!("The portal does not accept a call-card tab on the agent's own computer (cloud portals may refuse it; this is not verified). What still works:");
                eprintln!("  - a relay widget on your HTTPS server: call-companion portal install-widget --handler https://…/relay/ (agents' browsers then need two policies; see docs/deploying.md);");
                eprintln!(
                    "  - the Open in Call Companion link, one click per call, in any browser."
                );
            }
        }
        match e {
            widget::WidgetError::BadHandler(_) => 2,
            widget::WidgetError::Rest(_) => 69,
            _ => 77,
        }
    };
    let Some(client) = desk.client() else {
        if let crate::status::PortalStatus::Failed { message, .. } = desk.status() {
            eprintln!("call-companion: the saved portal sign-in did not work: {message}");
        }
        return fail(widget::WidgetError::NotSignedIn);
    };
    match action {
        PortalCommand::InstallWidget {
            direct,
            handler,
            title,
        } => {
            let handler = match (direct, handler) {
                (true, _) => widget::direct_handler(listen_port),
                (false, Some(handler)) => handler.trim().to_owned(),
                (false, None) => {
                    return fail(widget::WidgetError::BadHandler(
                        "give --direct or --handler URL".into(),
                    ))
                }
            };
            match widget::install(&client, &handler, title.as_deref()).wait() {
                Ok(()) if *direct => {
                    println!("The call card's tab is bound to Call Companion on each agent's computer: {handler}");
                    println!("Agents see the tab after they reload Bitrix24; Call Companion must listen on port {listen_port} on every agent's computer.");
                    println!("Chrome and Edge ask each agent once, or IT allows the portal by policy (LoopbackNetworkAllowedForUrls or LocalNetworkAccessAllowedForUrls); see docs/deploying.md.");
                    0
                }
                Ok(()) => {
                    println!("The relay widget is bound to the call card: {handler}");
                    println!("Agents see its tab after they reload Bitrix24.");
                    0
                }
                Err(e) => fail(e),
            }
        }
        PortalCommand::UninstallWidget { handler } => {
            match widget::uninstall(&client, handler.as_deref()).wait() {
                Ok(0) => {
                    println!("No relay widget was bound to the call card.");
                    0
                }
                Ok(n) => {
                    println!("Removed {n} widget(s) from the call card.");
                    0
                }
                Err(e) => fail(e),
            }
        }
        PortalCommand::Status => {
            if let crate::status::PortalStatus::Connected {
                domain, user_name, ..
            } = desk.status()
            {
                println!("Signed in to {domain} as {user_name}.");
            }
            match widget::bound(&client).wait() {
                Ok(widgets) if widgets.is_empty() => {
                    println!("No widget is bound to the call card.");
                    0
                }
                Ok(widgets) => {
                    println!("Bound to the call card ({}):", widget::PLACEMENT);
                    for w in widgets {
                        let titles: Vec<String> = w
                            .titles
                            .iter()
                            .map(|(lang, t)| format!("{lang}: {t}"))
                            .collect();
                        println!("  {}  \"{}\"  ({})", w.handler, w.title, titles.join(", "));
                    }
                    0
                }
                Err(e) => fail(e),
            }
        }
    }
}

fn run_portal_sim(args: &PortalSimArgs) -> u8 {
    if !(0.0..=1.0).contains(&args.error_rate) {
        eprintln!("call-companion: --error-rate must be between 0 and 1");
        return 2;
    }
    if let Some(url) = &args.public_url {
        if crate::portal::address::PortalAddress::parse(url).is_err() {
            eprintln!("call-companion: --public-url {url:?} is not an http(s) address");
            return 2;
        }
    }
    let config = portal_sim::SimConfig {
        port: args.port,
        seed: args.seed,
        public_url: args.public_url.clone(),
        refuse_loopback_handlers: args.refuse_loopback_handlers,
        oauth_server_domain: args.oauth_server_domain.clone(),
        app_installed: !args.app_not_installed,
        app_payment_expired: args.app_payment_expired,
        scenarios_dir: Some(simulate::scenarios_dir()),
        redirect_uri: args.redirect_uri.clone(),
        bucket_capacity: args.bucket,
        bucket_drain_per_sec: args.drain,
        faults: portal_sim::Faults {
            latency_ms: args.latency_ms,
            error_rate: args.error_rate,
            outage: args.outage,
            rate_limit_storm: args.rate_limit_storm,
            drop_after_commit: args.drop_after_commit,
            ..Default::default()
        },
        ..Default::default()
    };
    let sim = match portal_sim::Simulator::start(config) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!(
                "call-companion: cannot start the portal simulator on port {}: {e}",
                args.port
            );
            return 69;
        }
    };
    let endpoints = sim.endpoints();
    if args.json {
        println!("{}", serde_json::to_string(&endpoints).unwrap_or_default());
    } else {
        println!(
            "Bitrix24 portal simulator (seed {}) at {}",
            args.seed, endpoints.base_url
        );
        println!("  incoming webhook (user 1): {}", endpoints.webhook_url);
        println!(
            "  OAuth application: client id {}, client secret {}",
            endpoints.client_id, endpoints.client_secret
        );
        println!(
            "  OAuth server: {} playing {} (redirects to {})",
            endpoints.oauth_url, args.oauth_server_domain, args.redirect_uri
        );
        println!(
            "  faults: POST {}/sim/admin/faults; counters: GET {}/sim/admin/stats",
            endpoints.base_url, endpoints.base_url
        );
        println!(
            "  a call card in the browser: {}/sim/call-card?scenario=incoming-contact (`simulate --list` names them)",
            endpoints.base_url
        );
        println!("Press Ctrl+C to stop.");
    }
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

fn run_simulate(args: &SimulateArgs, keyring: &Keyring) -> u8 {
    if args.list || args.scenario.as_deref() == Some("list") {
        for name in simulate::scenario_names() {
            let description = simulate::scenario(&name)
                .map(|s| s.description)
                .unwrap_or_else(|e| e.to_string());
            println!("{name:<20} {description}");
        }
        return 0;
    }
    if args.tab_form {
        let name = args.scenario.as_deref().unwrap_or_default();
        return match simulate::tab_form(name, args.port) {
            Ok(form) => {
                println!("{}", form.to_json());
                0
            }
            Err(e) => {
                eprintln!("call-companion: {e}");
                e.exit_code()
            }
        };
    }
    let print = |answer: &simulate::Answer| {
        println!("{} {}", answer.status, answer.body);
        let _ = std::io::stdout().flush();
    };
    let result = if args.via() == crate::cli::Via::Push {
        // The relay's other way: through the portal, on the mock agent's own channel.
        let Some(name) = args.scenario.as_deref() else {
            eprintln!("call-companion: --via push publishes a scenario: add --scenario NAME");
            return 64;
        };
        simulate::scenario(name).and_then(|scenario| {
            let (base, tokens) = simulate::mock_agent_tokens()?;
            let steps = simulate::push_steps(&scenario, &simulate::domain_of(&base));
            simulate::publish(&steps, &base, &tokens, print)
        })
    } else {
        simulate::posts(args, std::io::stdin().lock()).and_then(|posts| {
            let token = keyring.pairing_token()?;
            // Where this user's app listens, when it could not take the port asked for.
            let recorded = crate::paths::AppPaths::for_current_user()
                .data_dir
                .join(crate::listening::FILE);
            let port = crate::listening::port_for(&recorded, args.port);
            simulate::send(&posts, port, token.expose(), print)
        })
    };
    match result {
        Ok(answers) if answers.iter().all(|a| (200..300).contains(&a.status)) => 0,
        // The app (or, by push, the portal) refused a payload: its answer is printed above.
        Ok(_) => 1,
        Err(e) => {
            eprintln!("call-companion: {e}");
            e.exit_code()
        }
    }
}
