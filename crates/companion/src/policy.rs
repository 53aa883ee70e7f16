//! The machine-wide policy IT deploys: a TOML file at a fixed per-OS path with `[defaults]` (a
//! starting value the agent may change) and `[locked]` (a value the agent cannot change, from the
//! UI or the command line). Precedence, for every setting: locked policy > the agent's setting >
//! policy default > built-in default. A file that cannot be read or has an unknown key is
//! reported with its line and ignored whole: the app starts with safe values. The command line's
//! settings are applied here (`apply_to_cli`), the window's in prefs.rs, the portal sign-in's in
//! `PortalPreset` (below).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Overrides the policy path (tests, and IT trying a file before deploying it).
pub const PATH_ENV: &str = "CALL_COMPANION_POLICY";

/// Where the policy lives on this system.
pub fn default_path() -> PathBuf {
    if cfg!(target_os = "windows") {
        let data = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(data)
            .join("CallCompanion")
            .join("policy.toml")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/CallCompanion/policy.toml")
    } else {
        PathBuf::from("/etc/call-companion/policy.toml")
    }
}

/// The policy file in force, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub path: PathBuf,
    /// The machine's own policy: honoured only when only IT can write it ([`load_located`]).
    pub machine: bool,
    /// `CALL_COMPANION_POLICY`, set aside because a machine policy exists (logged).
    pub ignored_override: Option<PathBuf>,
}

/// The machine's policy when it exists; otherwise `CALL_COMPANION_POLICY` (for tests and
/// machines IT does not manage). An agent cannot set IT's locks aside with the variable.
pub fn locate() -> Located {
    locate_with(&default_path(), std::env::var_os(PATH_ENV))
}

pub fn locate_with(machine: &Path, env: Option<std::ffi::OsString>) -> Located {
    let env = env.filter(|p| !p.is_empty()).map(PathBuf::from);
    match env {
        Some(env) if std::fs::symlink_metadata(machine).is_err() => Located {
            path: env,
            machine: false,
            ignored_override: None,
        },
        ignored_override => Located {
            path: machine.to_owned(),
            machine: true,
            ignored_override,
        },
    }
}

/// The path in use (see [`locate`]).
pub fn path() -> PathBuf {
    locate().path
}

/// Loads the located policy. A machine policy is IT's only when the file and its folder are
/// owned by the administrator (root) and writable by nobody else; one an agent could have
/// written is not used at all (on Windows this check is not made yet: *unverified*).
pub fn load_located(located: &Located) -> Result<Option<Policy>, PolicyError> {
    if located.machine {
        check_written_by(&located.path, 0)?;
    }
    load(&located.path)
}

/// Refuses `path` unless it and its folder belong to `owner` and nobody else may write them.
/// A missing file passes (there is no policy).
pub fn check_written_by(path: &Path, owner: u32) -> Result<(), PolicyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let untrusted = |reason: String| PolicyError::Untrusted {
            path: path.display().to_string(),
            reason,
        };
        let file = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(PolicyError::Unreadable {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
            }
        };
        let folder = path.parent().unwrap_or(Path::new("/"));
        for (what, meta) in [("file", Ok(file)), ("folder", std::fs::metadata(folder))] {
            let meta = meta.map_err(|e| untrusted(format!("its folder cannot be read: {e}")))?;
            if meta.uid() != owner {
                return Err(untrusted(format!(
                    "the {what} belongs to uid {}, not the administrator",
                    meta.uid()
                )));
            }
            if meta.mode() & 0o022 != 0 {
                return Err(untrusted(format!(
                    "others may write the {what} (mode {:o})",
                    meta.mode() & 0o777
                )));
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = (path, owner);
        Ok(())
    }
}

/// How the agent signs in to the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SignInPolicy {
    Oauth,
    Webhook,
}

/// Every key a policy may preset or lock. All optional: an absent key says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The portal's address, e.g. `acme.bitrix24.ru`.
    pub portal: Option<String>,
    pub sign_in: Option<SignInPolicy>,
    pub oauth_client_id: Option<String>,
    /// Kept out of logs and diagnostics; moved to the keyring when the agent signs in.
    pub oauth_client_secret: Option<String>,
    /// The OAuth server sessions are refreshed on (`https://oauth.bitrix.info` for
    /// international portals, `https://oauth.bitrix24.tech` for Russian ones); by default the
    /// one the portal names.
    pub oauth_server: Option<String>,
    /// The application's redirect when it is the relay's sign-in page (`https://…/signed-in.html`,
    /// for computers several agents share); by default this computer's listener.
    pub oauth_redirect: Option<String>,
    pub listen_port: Option<u16>,
    /// The call outcomes agents pick from at wrap-up (1 to 9 labels), instead of the built-in
    /// ones.
    pub outcomes: Option<Vec<String>>,
    /// Web origins the relay widget is served from, allowed to reach the listener.
    pub allowed_origins: Option<Vec<String>>,
    /// ISO country code national numbers are read in (RU, KZ, …).
    pub phone_region: Option<String>,
    pub focus_on_call: Option<bool>,
    pub always_on_top: Option<bool>,
    pub compact: Option<bool>,
    pub notify_on_call: Option<bool>,
    /// `auto`, `en` or `ru`.
    pub language: Option<String>,
    /// Start the app when the agent logs in.
    pub autostart: Option<bool>,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub log_level: Option<String>,
    /// Whether `--mock` (the simulated portal for testers) may run on this machine.
    pub allow_mock: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub defaults: Settings,
    #[serde(default)]
    pub locked: Settings,
}

/// Why a policy file was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read the policy file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the policy file {path} is not valid (line {line}): {reason}")]
    Invalid {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("the policy file {path} is not used: {reason}; only the administrator may write it and its folder")]
    Untrusted { path: String, reason: String },
}

impl PolicyError {
    pub fn code(&self) -> codes::ErrorCode {
        match self {
            PolicyError::Unreadable { .. } => codes::ErrorCode::PolicyUnreadable,
            PolicyError::Invalid { .. } => codes::ErrorCode::PolicyInvalid,
            PolicyError::Untrusted { .. } => codes::ErrorCode::PolicyUntrusted,
        }
    }
}

/// Where a setting's value came from (diagnostics and Settings show it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Locked,
    User,
    PolicyDefault,
    BuiltIn,
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Resolved<T> {
    pub fn locked(&self) -> bool {
        self.source == Source::Locked
    }
}

/// Locked policy > the agent's setting > policy default > built-in default.
pub fn resolve<T>(
    locked: Option<T>,
    user: Option<T>,
    default: Option<T>,
    built_in: T,
) -> Resolved<T> {
    match (locked, user, default) {
        (Some(value), _, _) => Resolved {
            value,
            source: Source::Locked,
        },
        (None, Some(value), _) => Resolved {
            value,
            source: Source::User,
        },
        (None, None, Some(value)) => Resolved {
            value,
            source: Source::PolicyDefault,
        },
        (None, None, None) => Resolved {
            value: built_in,
            source: Source::BuiltIn,
        },
    }
}

/// Reads and checks a policy file. A missing file is no policy (`Ok(None)`).
pub fn load(path: &Path) -> Result<Option<Policy>, PolicyError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(PolicyError::Unreadable {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    parse(&text, &path.display().to_string()).map(Some)
}

/// Parses and checks policy text; `name` is how errors refer to it.
pub fn parse(text: &str, name: &str) -> Result<Policy, PolicyError> {
    let invalid = |line: usize, reason: String| PolicyError::Invalid {
        path: name.to_owned(),
        line,
        reason,
    };
    let policy: Policy = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1);
        invalid(line, e.message().trim().to_owned())
    })?;
    if policy.defaults.allow_mock.is_some() {
        // `--mock` is always the agent's explicit choice, which a default cannot outrank.
        let line = line_of(text, "defaults", "allow_mock");
        return Err(invalid(
            line,
            "[defaults] allow_mock: put it under [locked]; only a lock can forbid mock mode".into(),
        ));
    }
    for (table, settings) in [("defaults", &policy.defaults), ("locked", &policy.locked)] {
        if let Err((key, reason)) = check(settings) {
            let line = line_of(text, table, key);
            return Err(invalid(line, format!("[{table}] {key}: {reason}")));
        }
    }
    Ok(policy)
}

/// Values that parse but make no sense.
fn check(settings: &Settings) -> Result<(), (&'static str, String)> {
    if let Some(level) = &settings.log_level {
        if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
            return Err((
                "log_level",
                format!("{level:?} is not one of error, warn, info, debug, trace"),
            ));
        }
    }
    if let Some(language) = &settings.language {
        if !["auto", "en", "ru"].contains(&language.as_str()) {
            return Err((
                "language",
                format!("{language:?} is not one of auto, en, ru"),
            ));
        }
    }
    if let Some(portal) = &settings.portal {
        if let Err(e) = crate::portal::address::PortalAddress::parse(portal) {
            return Err(("portal", e.to_string()));
        }
    }
    if let Some(server) = &settings.oauth_server {
        if let Err(e) = crate::portal::address::PortalAddress::parse(server) {
            return Err(("oauth_server", e.to_string()));
        }
    }
    if let Some(redirect) = &settings.oauth_redirect {
        if !url::Url::parse(redirect).is_ok_and(|u| u.scheme() == "https" && u.host().is_some()) {
            return Err((
                "oauth_redirect",
                format!("{redirect:?} is not an https address"),
            ));
        }
    }
    if let Some(outcomes) = &settings.outcomes {
        crate::outcomes::check(outcomes).map_err(|e| ("outcomes", e))?;
    }
    if settings.listen_port == Some(0) {
        return Err(("listen_port", "0 is not a port".into()));
    }
    if let Some(region) = &settings.phone_region {
        if region.len() != 2 || !region.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err((
                "phone_region",
                format!("{region:?} is not a two-letter country code"),
            ));
        }
    }
    if let Some(origins) = &settings.allowed_origins {
        if let Err(reason) = listener_origins(origins) {
            return Err(("allowed_origins", reason));
        }
    }
    Ok(())
}

/// Origins are checked the way the listener will use them.
fn listener_origins(origins: &[String]) -> Result<(), String> {
    for origin in origins {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .ok_or_else(|| format!("{origin:?} must start with https:// or http://"))?;
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "{origin:?} must be an origin: scheme and host, no path"
            ));
        }
    }
    Ok(())
}

/// The line of `key` inside `[table]`, for a message IT can act on.
fn line_of(text: &str, table: &str, key: &str) -> usize {
    let mut in_table = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_table = line.trim_start_matches('[').trim_end_matches(']').trim() == table;
        } else if in_table && line.split('=').next().map(str::trim) == Some(key) {
            return n + 1;
        }
    }
    1
}

/// The command line after the policy: what it overrode (to log and show) and, for each setting,
/// its value and where it came from (diagnostics).
#[derive(Debug, Default)]
pub struct Applied {
    pub notices: Vec<String>,
    pub settings: Vec<(&'static str, String, Source)>,
}

/// Applies the policy to the command line. What the agent passed (a flag or its environment
/// variable, `given(id)`) is the agent's setting. Refused when the policy forbids what was asked
/// (mock mode).
pub fn apply_to_cli(
    cli: &mut crate::cli::Cli,
    given: impl Fn(&str) -> bool,
    policy: &Policy,
) -> Result<Applied, String> {
    let (locked, defaults) = (&policy.locked, &policy.defaults);
    let mut applied = Applied::default();
    // One setting: a lock that overrides the agent's flag is said; the winner is recorded.
    fn settle<T: Clone>(
        applied: &mut Applied,
        (key, flag): (&'static str, &str),
        given: bool,
        current: &mut T,
        (locked, default): (Option<T>, Option<T>),
        show: impl Fn(&T) -> String,
    ) {
        if let (true, Some(value)) = (given, &locked) {
            let (shown, value) = (show(current), show(value));
            if value != shown {
                applied.notices.push(format!(
                    "{flag} {shown} is ignored: IT's policy locks it to {value}"
                ));
            }
        }
        let resolved = resolve(
            locked,
            given.then(|| current.clone()),
            default,
            current.clone(),
        );
        *current = resolved.value;
        applied.settings.push((key, show(current), resolved.source));
    }

    settle(
        &mut applied,
        ("listen_port", "--listen-port"),
        given("listen_port"),
        &mut cli.listen_port,
        (locked.listen_port, defaults.listen_port),
        u16::to_string,
    );
    settle(
        &mut applied,
        ("allowed_origins", "--allow-origin"),
        given("allowed_origins"),
        &mut cli.allowed_origins,
        (
            locked.allowed_origins.clone(),
            defaults.allowed_origins.clone(),
        ),
        |o| o.join(","),
    );
    settle(
        &mut applied,
        ("phone_region", "--phone-region"),
        given("phone_region"),
        &mut cli.phone_region,
        (locked.phone_region.clone(), defaults.phone_region.clone()),
        String::clone,
    );
    settle(
        &mut applied,
        ("log_level", "--log-level"),
        given("log_level"),
        &mut cli.log_level,
        (locked.log_level.clone(), defaults.log_level.clone()),
        String::clone,
    );
    let language = |text: &Option<String>| {
        text.as_deref()
            .and_then(crate::language::LanguageChoice::from_name)
    };
    settle(
        &mut applied,
        ("language", "--lang"),
        given("lang"),
        &mut cli.lang,
        (language(&locked.language), language(&defaults.language)),
        |l| format!("{l:?}").to_lowercase(),
    );
    applied.settings.push((
        "allow_mock",
        locked.allow_mock.unwrap_or(true).to_string(),
        if locked.allow_mock.is_some() {
            Source::Locked
        } else {
            Source::BuiltIn
        },
    ));

    if cli.mock && locked.allow_mock == Some(false) {
        return Err(
            "mock mode is turned off on this computer by IT's policy (allow_mock = false)".into(),
        );
    }
    // The simulator is mock mode's portal, with a webhook and tokens anyone can take.
    if matches!(cli.command, Some(crate::cli::Command::PortalSim(_)))
        && locked.allow_mock == Some(false)
    {
        return Err(
            "the portal simulator is turned off on this computer by IT's policy (allow_mock = false)"
                .into(),
        );
    }
    Ok(applied)
}

/// What Settings shows about the policy: which settings IT locked, and why a policy file was not
/// used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct PolicyInfo {
    /// Window settings by their `WindowPrefs` name (`compact`, `language`, …), and the sign-in's
    /// (`portal`, `sign_in`, `oauth_client_id`, `oauth_client_secret`).
    pub locked: Vec<String>,
    pub problem: Option<String>,
    /// Whether "start at login" works on this system (Linux today).
    pub autostart_available: bool,
    /// The sign-in form's presets (never the client secret itself).
    pub portal: PortalPreset,
}

/// What a zero-touch sign-in from the call card needs, as IT preset it.
#[derive(Clone, PartialEq, Eq)]
pub struct CallCardSignIn {
    pub portal: String,
    pub client_id: String,
    pub client_secret: String,
    pub oauth_server: Option<String>,
}

impl std::fmt::Debug for CallCardSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallCardSignIn")
            .field("portal", &self.portal)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("oauth_server", &self.oauth_server)
            .finish()
    }
}

/// The portal sign-in as IT preset it: the value in force for each (locked, else default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct PortalPreset {
    pub portal: Option<String>,
    pub sign_in: Option<SignInPolicy>,
    pub oauth_client_id: Option<String>,
    pub oauth_server: Option<String>,
    pub oauth_redirect: Option<String>,
    /// IT supplies the client secret: the form does not ask for it.
    pub client_secret_preset: bool,
}

impl Policy {
    pub fn portal_preset(&self) -> PortalPreset {
        let (l, d) = (&self.locked, &self.defaults);
        PortalPreset {
            portal: l.portal.clone().or_else(|| d.portal.clone()),
            sign_in: l.sign_in.or(d.sign_in),
            oauth_client_id: l
                .oauth_client_id
                .clone()
                .or_else(|| d.oauth_client_id.clone()),
            oauth_server: l.oauth_server.clone().or_else(|| d.oauth_server.clone()),
            oauth_redirect: l
                .oauth_redirect
                .clone()
                .or_else(|| d.oauth_redirect.clone()),
            client_secret_preset: l.oauth_client_secret.is_some()
                || d.oauth_client_secret.is_some(),
        }
    }

    /// The sign-in keys IT locked, by name.
    pub fn locked_portal_keys(&self) -> Vec<String> {
        let l = &self.locked;
        [
            ("portal", l.portal.is_some()),
            ("sign_in", l.sign_in.is_some()),
            ("oauth_client_id", l.oauth_client_id.is_some()),
            ("oauth_client_secret", l.oauth_client_secret.is_some()),
            ("oauth_server", l.oauth_server.is_some()),
            ("oauth_redirect", l.oauth_redirect.is_some()),
        ]
        .into_iter()
        .filter(|(_, locked)| *locked)
        .map(|(key, _)| key.to_owned())
        .collect()
    }

    /// The agent's OAuth form with the policy applied: locked values replace what was typed, a
    /// preset secret fills an empty field. Refused when IT locked the webhook method.
    pub fn oauth_form(
        &self,
        mut form: crate::portal::OAuthForm,
    ) -> Result<crate::portal::OAuthForm, crate::ErrorBody> {
        let (l, d) = (&self.locked, &self.defaults);
        if l.sign_in == Some(SignInPolicy::Webhook) {
            return Err(locked_method("an incoming webhook"));
        }
        if let Some(portal) = &l.portal {
            form.portal = portal.clone();
        }
        if let Some(id) = &l.oauth_client_id {
            form.client_id = id.clone();
        }
        match (&l.oauth_client_secret, &d.oauth_client_secret) {
            (Some(secret), _) => form.client_secret = secret.clone(),
            (None, Some(secret)) if form.client_secret.trim().is_empty() => {
                form.client_secret = secret.clone()
            }
            _ => {}
        }
        for (locked, default, value) in [
            (&l.oauth_server, &d.oauth_server, &mut form.oauth_server),
            (&l.oauth_redirect, &d.oauth_redirect, &mut form.redirect),
        ] {
            match (locked, default) {
                (Some(it), _) => *value = it.clone(),
                (None, Some(it)) if value.trim().is_empty() => *value = it.clone(),
                _ => {}
            }
        }
        Ok(form)
    }

    /// IT's call outcomes (locked or default), if it named any.
    pub fn outcomes(&self) -> Option<Vec<String>> {
        self.locked
            .outcomes
            .clone()
            .or_else(|| self.defaults.outcomes.clone())
    }

    /// The application IT preset for a zero-touch sign-in from the call card: the portal, the
    /// client id and secret (locked or default), unless IT requires a webhook, or set the
    /// relay's sign-in page as the redirect: that says agents share computers, where the first
    /// call card to reach a session with no sign-in may be a colleague's.
    pub fn call_card_sign_in(&self) -> Option<CallCardSignIn> {
        let (l, d) = (&self.locked, &self.defaults);
        if l.sign_in.or(d.sign_in) == Some(SignInPolicy::Webhook)
            || l.oauth_redirect.is_some()
            || d.oauth_redirect.is_some()
        {
            return None;
        }
        let pick = |locked: &Option<String>, default: &Option<String>| {
            locked
                .clone()
                .or_else(|| default.clone())
                .filter(|v| !v.trim().is_empty())
        };
        Some(CallCardSignIn {
            portal: pick(&l.portal, &d.portal)?,
            client_id: pick(&l.oauth_client_id, &d.oauth_client_id)?,
            client_secret: pick(&l.oauth_client_secret, &d.oauth_client_secret)?,
            oauth_server: pick(&l.oauth_server, &d.oauth_server),
        })
    }

    /// Refused when IT locked the OAuth method; the webhook must be on the locked portal.
    pub fn webhook_allowed(
        &self,
        form: &crate::portal::WebhookForm,
    ) -> Result<(), crate::ErrorBody> {
        if self.locked.sign_in == Some(SignInPolicy::Oauth) {
            return Err(locked_method("the Bitrix24 application (OAuth)"));
        }
        if let Some(portal) = &self.locked.portal {
            let host = |s: &str| {
                s.trim()
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            };
            if host(&form.url) != host(portal) {
                return Err(crate::ErrorBody::new(
                    codes::ErrorCode::LockedByPolicy,
                    format!("IT's policy allows only the portal {portal}"),
                ));
            }
        }
        Ok(())
    }
}

fn locked_method(method: &str) -> crate::ErrorBody {
    crate::ErrorBody::new(
        codes::ErrorCode::LockedByPolicy,
        format!("IT's policy requires signing in with {method}"),
    )
}
