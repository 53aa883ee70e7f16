//! The app assembled, without Tauri: its desks, its preferences and status, and the rules that
//! tie them together (a ready card names its note's record, a portal change reloads the cards
//! and wakes the outbox, a call's end sends its note, the preferences under IT's locks, the
//! language). It publishes what the window must hear as one stream of [`AppEvent`]s, which
//! the shell forwards. The shell keeps it for the lifetime of the app.

use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::calls::{CallRegistry, CallsView, Change};
use crate::card::CardDesk;
use crate::desk::CallDesk;
use crate::language::{self, Language, LanguageChoice};
use crate::notes_desk::NotesDesk;
use crate::pairing::PairingDesk;
use crate::portal::settings::SettingsFile;
use crate::portal::vault::Vault;
use crate::portal::PortalDesk;
use crate::prefs::{PrefsFile, WindowPrefs};
use crate::secrets::Keyring;
use crate::status::{AppStatus, ListenerStatus, Theme};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::events::AppEvent;

/// How the call desk reports, once the app is started (the rules need the whole app).
type Reporter = Box<dyn Fn(&CallsView, Option<(Change, &crate::calls::TrackedCall)>) + Send + Sync>;

pub struct AppState {
    status: RwLock<AppStatus>,
    pub desk: Arc<CallDesk>,
    pub pairing: PairingDesk,
    pub portal: Arc<PortalDesk>,
    pub cards: Arc<CardDesk>,
    /// Bitrix24's push channel, on Tauri's tokio runtime; follows the portal's sign-in.
    pub push: Arc<crate::push_desk::PushDesk>,
    /// Set by [`AppState::start`]; the call desk reports through it.
    reporter: Arc<OnceLock<Reporter>>,
    /// The event stream: what the app publishes, and its one reader until the shell takes it.
    events: UnboundedSender<AppEvent>,
    receiver: Mutex<Option<UnboundedReceiver<AppEvent>>>,
    /// The served listener; dropped (and stopped) with the app.
    listener: Mutex<Option<listener::Running>>,
    prefs: RwLock<WindowPrefs>,
    /// Notes; none when their database cannot be opened (the window says so).
    pub notes: Option<Arc<NotesDesk>>,
    /// Text the notes database refused, held until it takes it (`note_rules.rs`).
    pub(crate) unsaved: crate::unsaved::Unsaved,
    /// How often held text is offered again; the default unless a test sets it.
    pub(crate) unsaved_retry: Option<std::time::Duration>,
    /// Where the listener's port is written for this user's own command line (`simulate`) when
    /// it listens elsewhere than asked (`listening.rs`); none in tests.
    pub(crate) listening_file: Option<std::path::PathBuf>,
    /// The port asked for, held while a sign-in is pending when the listener is elsewhere.
    pub callback_port: crate::callback_port::CallbackPort,
    /// The listener's port, published for the agent's relay (`port_publish.rs`).
    port_publisher: Arc<crate::port_publish::PortPublisher>,
    /// Mock mode's simulator and panel; set once the listener runs.
    mock: OnceLock<crate::mock::MockDesk>,
    /// Where the language comes from when the preference is `auto`: the command line, then
    /// the portal's `LANG` of the latest call, then the OS locale.
    language_sources: Option<(LanguageChoice, Option<String>)>,
    /// Where preferences are saved; none in the mock-runtime tests.
    prefs_file: Option<PrefsFile>,
    /// IT's policy (its window locks) and why a policy file was not used.
    policy: crate::policy::Policy,
    policy_problem: Option<String>,
    /// What start-up worked out, for the diagnostics archive.
    diagnostics: Option<Arc<DiagnosticsBase>>,
    /// Start at login, where the system supports it; kept in step with the preference.
    autostart: Option<crate::autostart::Autostart>,
}

impl AppState {
    /// Calls in memory, a token for this run only, secrets in memory (no keyring needed) and no
    /// saved portal: the mock-runtime tests and the rules' tests use this.
    pub fn new(language: Language, theme: Theme) -> AppState {
        let scratch =
            std::env::temp_dir().join(format!("call-companion-mock-{}", std::process::id()));
        let portal = PortalDesk::new(
            Vault::new(Keyring::in_store(
                "io.callcompanion.mock-runtime",
                Arc::new(crate::secrets::MemoryKeyring::default()),
            )),
            SettingsFile::new(scratch.join("portal.json")),
        );
        AppState::with(
            language,
            theme,
            CallRegistry::in_memory(),
            PairingDesk::ephemeral(),
            portal,
            "RU",
        )
    }

    pub fn with(
        language: Language,
        theme: Theme,
        registry: CallRegistry,
        pairing: PairingDesk,
        portal: PortalDesk,
        phone_region: &str,
    ) -> AppState {
        let portal = Arc::new(portal);
        let cards = Arc::new(CardDesk::new(portal.clone(), phone_region));
        let reporter: Arc<OnceLock<Reporter>> = Arc::default();
        let late = reporter.clone();
        let desk = CallDesk::new(
            registry.in_region(phone_region),
            Box::new(move |view, change| {
                if let Some(report) = late.get() {
                    report(view, change);
                }
            }),
        );
        let (events, receiver) = unbounded_channel();
        let desk = Arc::new(desk);
        let push = Arc::new(crate::push_desk::PushDesk::new(
            portal.clone(),
            desk.clone(),
            crate::rt::handle(),
        ));
        AppState {
            status: RwLock::new(AppStatus::initial(language, theme)),
            desk,
            push,
            pairing,
            portal,
            cards,
            reporter,
            events,
            receiver: Mutex::new(Some(receiver)),
            listener: Mutex::new(None),
            prefs: RwLock::new(WindowPrefs::default()),
            notes: None,
            unsaved: Default::default(),
            unsaved_retry: None,
            port_publisher: Default::default(),
            callback_port: Default::default(),
            listening_file: None,
            mock: OnceLock::new(),
            language_sources: None,
            prefs_file: None,
            policy: crate::policy::Policy::default(),
            policy_problem: None,
            autostart: None,
            diagnostics: None,
        }
    }

    /// The effective settings and their sources, for "Export diagnostics".
    pub fn with_diagnostics(mut self, base: DiagnosticsBase) -> AppState {
        self.diagnostics = Some(Arc::new(base));
        self
    }

    /// Writes the support archive to the Downloads folder and answers its path.
    pub fn export_diagnostics(&self, keep_phone_numbers: bool) -> Result<String, crate::ErrorBody> {
        let base = self.diagnostics.clone().ok_or_else(|| {
            crate::ErrorBody::new(
                codes::ErrorCode::DiagnosticsUnavailable,
                "diagnostics are not set up in this window",
            )
        })?;
        let facts = crate::diagnostics::Facts {
            settings: base.settings.clone(),
            policy_path: base.policy_path.clone(),
            policy_problem: self.policy_problem.clone(),
            listen_port: base.listen_port,
            portal: Some(self.portal.status()),
        };
        let folder = dirs::download_dir()
            .or_else(dirs::home_dir)
            .unwrap_or_else(std::env::temp_dir);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let out = folder.join(format!("call-companion-diagnostics-{stamp}.zip"));
        crate::diagnostics::export(
            &out,
            &facts,
            &crate::secrets::Keyring::for_app(),
            !keep_phone_numbers,
        )
        .map_err(|e| {
            crate::ErrorBody::new(
                codes::ErrorCode::DiagnosticsNotWritten,
                format!("cannot write {}: {e}", out.display()),
            )
        })?;
        Ok(out.display().to_string())
    }

    /// Keeps the login entry in step with the preference, now and on every change.
    pub fn with_autostart(mut self, autostart: Option<crate::autostart::Autostart>) -> AppState {
        self.autostart = autostart;
        if let Err(e) = self.sync_autostart(self.prefs().start_at_login) {
            tracing::warn!(code = e.code.as_str(), "{}", e.message);
        }
        self
    }

    fn sync_autostart(&self, on: bool) -> Result<(), crate::ErrorBody> {
        match &self.autostart {
            Some(autostart) => autostart.set(on).map_err(|e| {
                crate::ErrorBody::new(
                    codes::ErrorCode::AutostartNotSaved,
                    format!("cannot update {}: {e}", autostart.path().display()),
                )
            }),
            None => Ok(()),
        }
    }

    /// IT's policy: its window presets and locks apply to the preferences loaded after this.
    pub fn with_policy(
        mut self,
        policy: crate::policy::Policy,
        problem: Option<String>,
    ) -> AppState {
        self.policy = policy;
        self.policy_problem = problem;
        self
    }

    /// IT's policy, for the sign-in commands.
    pub fn policy(&self) -> &crate::policy::Policy {
        &self.policy
    }

    /// What Settings shows: the locked window settings, and a policy file's problem.
    pub fn policy_info(&self) -> crate::policy::PolicyInfo {
        crate::policy::PolicyInfo {
            locked: WindowPrefs::locked_names(&self.policy.locked)
                .into_iter()
                .chain(self.policy.locked_portal_keys())
                .collect(),
            problem: self.policy_problem.clone(),
            autostart_available: self.autostart.is_some(),
            portal: self.policy.portal_preset(),
        }
    }

    pub fn status(&self) -> AppStatus {
        // A poisoned lock only means a writer panicked mid-update; the status is still readable.
        let mut status = self
            .status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        status.portal = self.portal.status();
        status.push = self.push.status();
        if let Some((cli, os_locale)) = &self.language_sources {
            let chosen = match self.prefs().language {
                LanguageChoice::Auto => *cli,
                set => set,
            };
            let view = self.desk.view();
            let portal_lang = view
                .current
                .as_ref()
                .and_then(|c| c.context.portal.as_ref())
                .and_then(|p| p.lang.clone());
            status.language = language::pick(chosen, portal_lang.as_deref(), os_locale.as_deref());
        }
        status
    }

    /// Something start-up worked around: logged, and shown in the window until dismissed.
    pub fn notice(&self, code: crate::ErrorCode, message: String) {
        tracing::warn!(code = code.as_str(), "{message}");
        self.status
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .notices
            .push(crate::ErrorBody::new(code, message));
    }

    /// Starts an OAuth sign-in in the browser, under IT's policy, and only while this app holds
    /// the address the portal sends the browser back to: on a shared machine a co-worker holding
    /// the port would otherwise receive the sign-in's code (Bitrix24 has no PKCE, and the
    /// application's secret is everyone's), so without the listener there is no sign-in. With
    /// the relay's sign-in page as the application's redirect, that address is this app's own.
    pub fn begin_oauth_sign_in(
        &self,
        form: crate::portal::OAuthForm,
    ) -> Result<crate::status::PortalStatus, crate::ErrorBody> {
        let form = self.policy().oauth_form(form)?;
        let relayed = !form.redirect.trim().is_empty();
        let here = Some(self.listen_port());
        match self.status().listener {
            // Here, or through the relay's sign-in page, which sends the browser on to the port
            // leading `state`: this app's own wherever it listens, so a shared computer's other
            // sessions never see the code.
            ListenerStatus::Listening { .. } => {
                Ok(self.portal.begin_oauth_in_browser(&form, here)?)
            }
            ListenerStatus::Elsewhere { .. } if relayed => {
                Ok(self.portal.begin_oauth_in_browser(&form, here)?)
            }
            // The redirect comes to the port asked for: held for the sign-in, if it is free now.
            ListenerStatus::Elsewhere { wanted, .. } => match self.callback_port.hold() {
                Ok(()) => self
                    .portal
                    .begin_oauth_in_browser(&form, Some(self.wanted_port()))
                    .map_err(|e| {
                        self.callback_port.release();
                        e.into()
                    }),
                Err(reason) => Err(crate::ErrorBody::new(
                    codes::ErrorCode::CallbackNotHeld,
                    format!("the browser would come back to {wanted}, which this app cannot hold now: {reason}"),
                )
                .with("address", wanted)),
            },
            ListenerStatus::Failed { address, reason } => Err(crate::ErrorBody::new(
                codes::ErrorCode::CallbackNotHeld,
                format!("the browser would come back to {address}, which this app does not hold: {reason}"),
            )
            .with("address", address)),
            ListenerStatus::Stopped { address } => Err(crate::ErrorBody::new(
                codes::ErrorCode::CallbackNotHeld,
                format!("the browser would come back to {address}, where this app is not listening yet"),
            )
            .with("address", address)),
        }
    }

    pub fn set_listener_status(&self, listener: ListenerStatus) {
        self.status
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .listener = listener;
        // A saved sign-in may have been restored before the listener was bound.
        self.publish_port();
    }

    /// Publishes the port this app listens on for the agent's relay, once the listener, an
    /// application sign-in and the start are all there (whichever comes last calls it: the
    /// shell starts the app's events after the saved sign-in may have been restored; repeats
    /// cost nothing).
    fn publish_port(&self) {
        if let ListenerStatus::Listening { .. } | ListenerStatus::Elsewhere { .. } =
            self.status().listener
        {
            self.port_publisher
                .publish(&self.portal, self.listen_port());
        }
    }

    pub fn keep_listener(&self, running: listener::Running) {
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(running);
    }

    /// Loads the window preferences from `file` and saves later changes there.
    pub fn with_prefs(mut self, file: PrefsFile) -> AppState {
        let (prefs, warning) = file.load();
        if let Some(warning) = warning {
            self.notice(crate::ErrorCode::PrefsInvalid, warning);
        }
        let saved = file.path().exists().then_some(prefs);
        self.prefs = RwLock::new(WindowPrefs::under_policy(saved, &self.policy));
        self.prefs_file = Some(file);
        self
    }

    pub fn prefs(&self) -> WindowPrefs {
        *self.prefs.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps and saves new preferences; the caller applies them to the window.
    pub fn set_prefs(&self, prefs: WindowPrefs) -> Result<WindowPrefs, crate::ErrorBody> {
        // What IT locked stays as locked, whatever the window sends.
        let prefs = prefs.overlaid(&self.policy.locked);
        if let Some(file) = &self.prefs_file {
            file.save(&prefs).map_err(|e| {
                crate::ErrorBody::new(
                    codes::ErrorCode::PrefsNotSaved,
                    format!("cannot save {}: {e}", file.path().display()),
                )
            })?;
        }
        *self.prefs.write().unwrap_or_else(|e| e.into_inner()) = prefs;
        self.sync_autostart(prefs.start_at_login)?;
        Ok(prefs)
    }

    /// Lets the language follow the preference, the portal and the OS at run time.
    pub fn with_language_sources(
        mut self,
        cli: LanguageChoice,
        os_locale: Option<String>,
    ) -> AppState {
        self.language_sources = Some((cli, os_locale));
        self
    }

    pub fn with_notes(mut self, notes: NotesDesk) -> AppState {
        self.notes = Some(Arc::new(notes));
        self
    }

    /// Where the listener's port is written for this user's command line.
    pub fn with_listening_file(mut self, path: std::path::PathBuf) -> AppState {
        self.listening_file = Some(path);
        self
    }

    /// Offers text the notes database refused again this often (tests: quicker).
    pub fn with_unsaved_retry(mut self, every: std::time::Duration) -> AppState {
        self.unsaved_retry = Some(every);
        self
    }

    pub fn notes(&self) -> Result<&Arc<NotesDesk>, crate::ErrorBody> {
        self.notes.as_ref().ok_or_else(|| {
            crate::ErrorBody::new(
                codes::ErrorCode::NotesUnavailable,
                "the notes database could not be opened; see the log",
            )
        })
    }

    /// The call's number and its CRM record (from its card), for its note.
    pub fn call_facts(&self, call_id: &str) -> (Option<String>, Option<notes::Target>) {
        let phone = self.desk.find(call_id).and_then(|c| c.context.phone_number);
        let target = match self.cards.card(call_id).map(|v| v.card) {
            Some(crate::card::model::Card::Ready { record }) => Some(notes::Target {
                kind: record.subject.kind.name().to_owned(),
                id: record.subject.id,
            }),
            _ => None,
        };
        (phone, target)
    }

    /// A `callcompanion://` link, checked against this app's pairing token (`link_trust.rs`).
    pub fn open_link(&self, link: &str) -> Result<Change, callcard::ParseError> {
        let token = self.pairing.pairing().token();
        self.desk.open_link(link, token.expose())
    }

    /// Whether the call is known only from a link the app could not verify.
    pub fn call_unverified(&self, call_id: &str) -> bool {
        self.desk.find(call_id).is_some_and(|c| c.unverified)
    }

    /// The call's CRM activity, once its call card named it (`CRM_ACTIVITY_ID`).
    pub fn call_activity(&self, call_id: &str) -> Option<u64> {
        self.desk.find(call_id).and_then(|c| c.context.activity_id)
    }

    /// The call's card; a call known from before a restart (or an older one the agent went back
    /// to) has its card loaded now.
    pub fn card_or_load(&self, call_id: &str) -> Option<crate::card::model::CardView> {
        if let Some(view) = self.cards.card(call_id) {
            return Some(view);
        }
        let view = self.desk.view();
        let call = view
            .current
            .iter()
            .chain(view.recent.iter())
            .find(|c| c.context.call_id == call_id)?;
        self.cards.show(&call.context);
        self.cards.card(call_id)
    }

    pub fn set_mode(&self, mode: crate::status::Mode) {
        self.status.write().unwrap_or_else(|e| e.into_inner()).mode = mode;
    }

    pub fn set_mock(&self, mock: crate::mock::MockDesk) {
        let _ = self.mock.set(mock);
    }

    pub fn mock(&self) -> Result<&crate::mock::MockDesk, crate::ErrorBody> {
        self.mock.get().ok_or_else(|| {
            crate::ErrorBody::new(
                codes::ErrorCode::MockOff,
                "mock mode is off; start Call Companion with --mock",
            )
        })
    }

    /// The port the listener serves (or was asked for, when it serves none).
    pub fn listen_port(&self) -> u16 {
        match &self.status().listener {
            ListenerStatus::Listening { address }
            | ListenerStatus::Elsewhere { address, .. }
            | ListenerStatus::Failed { address, .. }
            | ListenerStatus::Stopped { address } => port_of(address),
        }
    }

    /// The port asked for: the call card's direct tab and the OAuth redirect are bound to it
    /// for the whole portal, whichever port this app got.
    pub fn wanted_port(&self) -> u16 {
        match &self.status().listener {
            ListenerStatus::Elsewhere { wanted, .. } => port_of(wanted),
            _ => self.listen_port(),
        }
    }
}

/// The settings and their sources as start-up worked them out (the window cannot see flags).
pub struct DiagnosticsBase {
    pub settings: Vec<(&'static str, String, crate::policy::Source)>,
    pub policy_path: std::path::PathBuf,
    pub listen_port: u16,
}

/// The rules between the desks, bound once the app is shared.
impl AppState {
    /// Binds the rules and hands over the event stream (once: later calls answer `None`). The
    /// rules hold the app weakly: it owns them.
    pub fn start(self: &Arc<Self>) -> Option<UnboundedReceiver<AppEvent>> {
        let receiver = self
            .receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        let app = Arc::downgrade(self);
        self.cards.on_change(Box::new(move |view| {
            if let Some(app) = app.upgrade() {
                app.card_changed(view);
            }
        }));
        if let Some(notes) = &self.notes {
            let events = self.events.clone();
            notes.on_change(Box::new(move |note| {
                let _ = events.send(AppEvent::Note(note.clone()));
            }));
        }
        let app = Arc::downgrade(self);
        self.push.on_change(Box::new(move || {
            if let Some(app) = app.upgrade() {
                app.publish(AppEvent::Status(app.status()));
            }
        }));
        let app = Arc::downgrade(self);
        self.portal.on_change(Box::new(move || {
            if let Some(app) = app.upgrade() {
                app.portal_changed();
            }
        }));
        // The sign-in may have happened before the start (mock mode, a restored one): catch up.
        // Idempotent for the same sign-in.
        self.push.portal_changed();
        self.publish_port();
        let app = Arc::downgrade(self);
        let _ = self.reporter.set(Box::new(move |view, reported| {
            if let Some(app) = app.upgrade() {
                app.calls_changed(view, reported);
            }
        }));
        Some(receiver)
    }

    fn publish(&self, event: AppEvent) {
        // No reader: the shell is gone (the app is closing), and so is the window.
        let _ = self.events.send(event);
    }

    /// A call's card changed; a ready one names the record its note goes to.
    fn card_changed(&self, view: &crate::card::model::CardView) {
        self.publish(AppEvent::Card(view.clone()));
        if let (crate::card::model::Card::Ready { record }, Some(notes)) = (&view.card, &self.notes)
        {
            notes.record_known(
                &view.call_id,
                notes::Target {
                    kind: record.subject.kind.name().to_owned(),
                    id: record.subject.id,
                },
            );
        }
    }

    /// Signed in, out, or to another portal: the cards follow, the push subscription follows
    /// (the application's sign-in subscribes), and the outbox tries again.
    fn portal_changed(&self) {
        if !matches!(
            self.portal.status(),
            crate::status::PortalStatus::SigningIn { .. }
        ) {
            self.callback_port.release();
        }
        self.publish_port();
        self.cards.portal_changed();
        self.push.portal_changed();
        if let Some(notes) = &self.notes {
            notes.wake();
        }
        self.publish(AppEvent::Status(self.status()));
    }

    fn calls_changed(
        &self,
        view: &CallsView,
        reported: Option<(Change, &crate::calls::TrackedCall)>,
    ) {
        self.publish(AppEvent::Calls(Box::new(view.clone())));
        let Some((change, call)) = reported else {
            return;
        };
        let context = &call.context;
        let prefs = self.prefs();
        if change == Change::New {
            // The portal's LANG may change the window's language.
            let status = self.status();
            self.publish(AppEvent::NewCall {
                context: Box::new(context.clone()),
                number: call.number.clone(),
                notify: prefs.notify_on_call,
                focus: prefs.focus_on_call,
                language: status.language,
            });
            self.publish(AppEvent::Status(status));
        }
        if matches!(change, Change::New | Change::Updated) {
            // A new call, or a change to one (state, bound record): its card follows.
            self.cards.show(context);
            if let Some(notes) = &self.notes {
                // The call ended: its note goes to the CRM if the agent asked for that.
                let ended = change == Change::Updated
                    && context.state == crate::calls::CallState::Idle
                    && prefs.send_notes_on_call_end
                    && !call.unverified;
                notes.keep_call(crate::notes_desk::CallChange {
                    call: call.to_stored(),
                    // Once named (often in a later update), the note goes on the call's
                    // activity unless it was already sent as a comment.
                    activity_id: context.activity_id,
                    send: ended.then(|| notes::SendAtEnd {
                        target: self.call_facts(&context.call_id).1,
                        now_ms: crate::desk::now_ms(),
                    }),
                });
            }
        }
    }
}

fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(crate::app::DEFAULT_LISTEN_PORT)
}
