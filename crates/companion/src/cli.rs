//! The command line. Parsing needs no display, so `--help` and `--version` work anywhere
//! (over SSH, in a package post-install check, in CI).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app;
use crate::language::LanguageChoice;
use crate::status::Theme;

#[derive(Debug, Clone, Parser, PartialEq)]
#[command(
    name = app::BINARY_NAME,
    version = app::VERSION,
    about = "Call Companion: rich Bitrix24 CRM details beside every call",
    long_about = "Call Companion shows the caller's Bitrix24 CRM record in a window beside the \
                  call, keeps the agent's notes safe and saves them into the CRM.\n\n\
                  Logs are written to stderr and to a daily file in the app's log folder \
                  (see README.md)."
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Colour theme of the window; `system` follows the desktop's light/dark preference.
    #[arg(long, value_enum, default_value_t = Theme::System)]
    pub theme: Theme,

    /// Language of the window; `auto` picks from the portal's LANG and the OS locale.
    #[arg(long, value_enum, default_value_t = LanguageChoice::Auto)]
    pub lang: LanguageChoice,

    /// Log level or filter for stderr and the log file (`error`, `warn`, `info`, `debug`,
    /// `trace`, or a tracing filter such as `companion=debug`).
    #[arg(
        long,
        env = "CALL_COMPANION_LOG",
        default_value = "info",
        global = true
    )]
    pub log_level: String,

    /// Port of the local listener on 127.0.0.1 and [::1] that the relay widget posts to.
    #[arg(long, env = "CALL_COMPANION_PORT", default_value_t = app::DEFAULT_LISTEN_PORT)]
    pub listen_port: u16,

    /// A web origin allowed to reach the listener (the relay widget's or the portal's, such as
    /// https://acme.bitrix24.ru); repeat the flag or separate with commas.
    #[arg(
        long = "allow-origin",
        env = "CALL_COMPANION_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Country whose national numbers callers' numbers are read in when the CRM is searched
    /// (ISO code: RU, KZ, BY, DE, …).
    #[arg(long, env = "CALL_COMPANION_PHONE_REGION", default_value = "RU")]
    pub phone_region: String,

    /// Mock mode for testers: a simulated Bitrix24 portal runs inside the app, already signed in,
    /// and a Mock panel fires scenarios, pasted payloads and faults.
    #[arg(long)]
    pub mock: bool,

    /// A `callcompanion://call-card?...` link, as the desktop passes it when one is opened.
    #[arg(value_name = "LINK", hide = true)]
    pub links: Vec<String>,
}

#[derive(Debug, Clone, Subcommand, PartialEq)]
pub enum Command {
    /// The pairing token the relay widget and scripts send to the listener.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Post a call context to the running app exactly as the relay widget would, and print the
    /// app's answer.
    Simulate(SimulateArgs),
    /// Run a local simulator of a Bitrix24 portal (REST, batch, OAuth, webhooks, limits and
    /// faults) until interrupted.
    PortalSim(PortalSimArgs),
    /// The relay widget on the portal (needs the app signed in as a portal administrator with
    /// the Bitrix24 application).
    Portal {
        #[command(subcommand)]
        action: PortalCommand,
    },
    /// Write a zip for support: logs, effective settings and their sources, versions, the
    /// listener's and the portal's state. Secrets are removed, and phone numbers unless asked.
    Diagnostics {
        /// The archive to write, e.g. call-companion-diagnostics.zip
        #[arg(long)]
        out: PathBuf,
        /// Leave phone numbers in the logs (they are masked by default).
        #[arg(long)]
        keep_phone_numbers: bool,
    },
    /// The machine-wide policy IT deploys (see docs/deploying.md).
    Policy {
        #[command(subcommand)]
        action: PolicyCommand,
    },
}

#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum PortalCommand {
    /// Bind a tab to the call card (placement CALL_CARD), titled in English and Russian: the tab
    /// this app serves itself (--direct), or a relay widget hosted on a web server (--handler).
    InstallWidget {
        /// The call card's tab is served by the app on each agent's computer
        /// (http://127.0.0.1:PORT/call-card/, PORT being the listener's port).
        #[arg(long, conflicts_with = "handler", required_unless_present = "handler")]
        direct: bool,
        /// Where the relay widget is hosted, e.g. https://intranet.example.com/call-companion/relay/
        #[arg(long)]
        handler: Option<String>,
        /// The tab's title in the call card (default "Call Companion").
        #[arg(long)]
        title: Option<String>,
    },
    /// Remove the relay widget from the call card (every one this application bound, unless
    /// --handler names one).
    UninstallWidget {
        #[arg(long)]
        handler: Option<String>,
    },
    /// Show the portal sign-in and the widgets bound to the call card.
    Status,
}

#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum PolicyCommand {
    /// Check a policy file (TOML) before deploying it: every key known, every value sensible.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Args, PartialEq)]
pub struct PortalSimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed of the demo data: the same seed gives the same contacts, deals and activities.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print where it runs and how to get in as one JSON line.
    #[arg(long)]
    pub json: bool,
    /// The OAuth application's redirect address (where the browser goes after signing in).
    #[arg(long, default_value = "http://127.0.0.1:47600/v1/oauth/callback")]
    pub redirect_uri: String,
    /// Leaky bucket size (50; Enterprise 250) and drain per second (2; Enterprise 5).
    #[arg(long, default_value_t = 50.0)]
    pub bucket: f64,
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
    /// Added to every REST answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of REST calls that fail with 500 (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Answer every REST call with 503, as a portal under maintenance.
    #[arg(long)]
    pub outage: bool,
    /// Answer the first N REST calls with QUERY_LIMIT_EXCEEDED.
    #[arg(long, default_value_t = 0)]
    pub rate_limit_storm: u32,
    /// Commit the first N writes, then drop the connection without answering.
    #[arg(long, default_value_t = 0)]
    pub drop_after_commit: u32,
    /// The address the simulator is reached at, when a TLS proxy stands in front of it (such as
    /// https://portal.test:18443): the DOMAIN, client_endpoint and links it hands out name it.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Refuse call-card handlers on this computer (127.0.0.1), as a cloud portal may.
    #[arg(long)]
    pub refuse_loopback_handlers: bool,
    /// The OAuth server of the portal's region, named in the sign-in redirect and the token
    /// answers: oauth.bitrix24.tech (Russian portals) or oauth.bitrix.info (international ones).
    /// The simulator answers for it at its own address.
    #[arg(long, default_value = "oauth.bitrix24.tech", value_parser = ["oauth.bitrix24.tech", "oauth.bitrix.info"])]
    pub oauth_server_domain: String,
    /// Play an application whose installation is not finished (app.info: INSTALLED false).
    #[arg(long)]
    pub app_not_installed: bool,
    /// Play an application whose paid or trial period is over (the OAuth server answers
    /// PAYMENT_REQUIRED).
    #[arg(long)]
    pub app_payment_expired: bool,
}

#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum TokenAction {
    /// Print the pairing token from the OS keyring (same trust as the keyring itself).
    Show,
}

#[derive(Debug, Clone, Args, PartialEq, Eq)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("input").required(true).multiple(false)))]
pub struct SimulateArgs {
    /// A payload file: a relay envelope or options object (JSON), Bitrix24's form body, a
    /// print_r dump or a callcompanion:// link.
    #[arg(long, group = "input")]
    pub file: Option<PathBuf>,
    /// A named scenario (a sequence of call-card reports); `--scenario list` lists them.
    #[arg(long, group = "input")]
    pub scenario: Option<String>,
    /// Read one payload from standard input.
    #[arg(long, group = "input")]
    pub stdin: bool,
    /// List the scenarios (built in, and the testers' own from the scenarios folder).
    #[arg(long, group = "input")]
    pub list: bool,
    /// Instead of posting, print the form Bitrix24 would POST to the app's own call-card tab
    /// for the scenario's first step, as JSON (`{"action": …, "fields": {…}}`), with a fresh token
    /// for the mock agent from the running app's simulated portal (mock mode).
    #[arg(long, requires = "scenario")]
    pub tab_form: bool,
    /// How the scenario reaches the app: `listener` posts each step to the app's loopback
    /// listener (as the relay widget does when the browser lets it); `push` publishes each step
    /// through the running app's simulated portal with `pull.application.event.add` for the mock
    /// agent, as the relay widget does when the listener cannot be reached (mock mode; needs
    /// `--scenario`).
    /// Absent means `listener`.
    #[arg(long, value_enum, conflicts_with = "tab_form")]
    pub via: Option<Via>,
    /// Port of the running app's listener.
    #[arg(long, env = "CALL_COMPANION_PORT", default_value_t = app::DEFAULT_LISTEN_PORT)]
    pub port: u16,
}

/// How `simulate` delivers a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Via {
    /// POST each step to the app's loopback listener with the pairing token.
    #[default]
    Listener,
    /// Publish each step with `pull.application.event.add` on the mock agent's channel.
    Push,
}

impl SimulateArgs {
    /// How the scenario is delivered (the listener unless `--via` says otherwise).
    pub fn via(&self) -> Via {
        self.via.unwrap_or_default()
    }
}

impl Cli {
    /// Parses `args` (the first item is the program name) without exiting the process, so the
    /// caller decides how `--help`, `--version` and errors are printed.
    pub fn try_parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::try_parse_from(args)
    }

    /// Parses, and names the options the agent gave on the command line or in the environment
    /// (the agent's settings, which a policy default does not outrank but a lock does).
    pub fn try_parse_with_given<I, T>(args: I) -> Result<(Self, Vec<String>), clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::parser::ValueSource;
        use clap::{CommandFactory, FromArgMatches};
        let matches = Self::command().try_get_matches_from(args)?;
        let cli = Self::from_arg_matches(&matches)?;
        let given = matches
            .ids()
            .filter(|id| {
                matches!(
                    matches.value_source(id.as_str()),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            })
            .map(|id| id.as_str().to_owned())
            .collect();
        Ok((cli, given))
    }
}
