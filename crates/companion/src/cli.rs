//! The command line. Parsing needs no display, so `--help` and `--version` work anywhere
//! (over SSH, in a package post-install check, in CI).

use clap::Parser;

use crate::app;
use crate::language::LanguageChoice;
use crate::status::Theme;

#[derive(Debug, Clone, Parser, PartialEq, Eq)]
#[command(
    name = app::BINARY_NAME,
    version = app::VERSION,
    about = "Call Companion: rich Bitrix24 CRM details beside every call",
    long_about = "Call Companion shows the caller's Bitrix24 CRM record in a window beside the \
                  call, keeps the agent's notes safe and saves them into the CRM.\n\n\
                  Logs are written to stderr and to a daily file in the app's log folder \
                  (see README.md)."
)]
pub struct Cli {
    /// Colour theme of the window; `system` follows the desktop's light/dark preference.
    #[arg(long, value_enum, default_value_t = Theme::System)]
    pub theme: Theme,

    /// Language of the window; `auto` picks from the portal's LANG and the OS locale.
    #[arg(long, value_enum, default_value_t = LanguageChoice::Auto)]
    pub lang: LanguageChoice,

    /// Log level or filter for stderr and the log file (`error`, `warn`, `info`, `debug`,
    /// `trace`, or a tracing filter such as `companion=debug`).
    #[arg(long, env = "CALL_COMPANION_LOG", default_value = "info")]
    pub log_level: String,
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
}
