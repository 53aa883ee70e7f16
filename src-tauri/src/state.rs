//! What the shell keeps for the lifetime of the app.

use std::sync::{Arc, Mutex, OnceLock, RwLock};

use companion::calls::{CallRegistry, CallsView, Change};
use companion::card::CardDesk;
use companion::desk::CallDesk;
use companion::language::{self, Language, LanguageChoice};
use companion::notes_desk::NotesDesk;
use companion::pairing::PairingDesk;
use companion::portal::settings::SettingsFile;
use companion::portal::vault::Vault;
use companion::portal::PortalDesk;
use companion::prefs::{PrefsFile, WindowPrefs};
use companion::secrets::Keyring;
use companion::status::{AppStatus, ListenerStatus, Theme};

type Emitter =
    Box<dyn Fn(&CallsView, Option<(Change, &companion::calls::CallContext)>) + Send + Sync>;

pub struct AppState {
    status: RwLock<AppStatus>,
    pub desk: Arc<CallDesk>,
    pub pairing: PairingDesk,
    pub portal: Arc<PortalDesk>,
    pub cards: Arc<CardDesk>,
    /// Bitrix24's push channel, on Tauri's tokio runtime; follows the portal's sign-in.
    pub push: Arc<companion::push_desk::PushDesk>,
    /// Set once the app exists; the desk reports to the window through it.
    emitter: Arc<OnceLock<Emitter>>,
    /// The served listener; dropped (and stopped) with the app.
    listener: Mutex<Option<listener::Running>>,
    prefs: RwLock<WindowPrefs>,
    /// Notes; none when their database cannot be opened (the window says so).
    pub notes: Option<Arc<NotesDesk>>,
    /// Mock mode's simulator and panel; set once the listener runs.
    mock: OnceLock<companion::mock::MockDesk>,
    /// Where the language comes from when the preference is `auto`: the command line, then
    /// the portal's `LANG` of the latest call, then the OS locale.
    language_sources: Option<(LanguageChoice, Option<String>)>,
    /// Where preferences are saved; none in the mock-runtime tests.
    prefs_file: Option<PrefsFile>,
    /// IT's policy (its window locks) and why a policy file was not used.
    policy: companion::policy::Policy,
    policy_problem: Option<String>,
    /// What start-up worked out, for the diagnostics archive.
    diagnostics: Option<Arc<DiagnosticsBase>>,
    /// Start at login, where the system supports it; kept in step with the preference.
    autostart: Option<companion::autostart::Autostart>,
}

impl AppState {
    /// Calls in memory, a token for this run only and no saved portal: the mock-runtime tests
    /// use this.
    pub fn new(language: Language, theme: Theme) -> AppState {
        let scratch =
            std::env::temp_dir().join(format!("call-companion-mock-{}", std::process::id()));
        let portal = PortalDesk::new(
            Vault::new(Keyring::new("io.callcompanion.mock-runtime")),
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
        let emitter: Arc<OnceLock<Emitter>> = Arc::default();
        let late = emitter.clone();
        let desk = CallDesk::new(
            registry,
            Box::new(move |view, change| {
                if let Some(emit) = late.get() {
                    emit(view, change);
                }
            }),
        );
        let desk = Arc::new(desk);
        let push = Arc::new(companion::push_desk::PushDesk::new(
            portal.clone(),
            desk.clone(),
            companion::rt::handle(),
        ));
        AppState {
            status: RwLock::new(AppStatus::initial(language, theme)),
            desk,
            push,
            pairing,
            portal,
            cards,
            emitter,
            listener: Mutex::new(None),
            prefs: RwLock::new(WindowPrefs::default()),
            notes: None,
            mock: OnceLock::new(),
            language_sources: None,
            prefs_file: None,
            policy: companion::policy::Policy::default(),
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
    pub fn export_diagnostics(
        &self,
        keep_phone_numbers: bool,
    ) -> Result<String, companion::ErrorBody> {
        let base = self
            .diagnostics
            .clone()
            .ok_or_else(|| companion::ErrorBody {
                code: "diagnostics_unavailable".into(),
                message: "diagnostics are not set up in this window".into(),
            })?;
        let facts = companion::diagnostics::Facts {
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
        companion::diagnostics::export(
            &out,
            &facts,
            &companion::secrets::Keyring::for_app(),
            !keep_phone_numbers,
        )
        .map_err(|e| companion::ErrorBody {
            code: "diagnostics_not_written".into(),
            message: format!("cannot write {}: {e}", out.display()),
        })?;
        Ok(out.display().to_string())
    }

    /// Keeps the login entry in step with the preference, now and on every change.
    pub fn with_autostart(
        mut self,
        autostart: Option<companion::autostart::Autostart>,
    ) -> AppState {
        self.autostart = autostart;
        if let Err(e) = self.sync_autostart(self.prefs().start_at_login) {
            tracing::warn!(code = e.code.as_str(), "{}", e.message);
        }
        self
    }

    fn sync_autostart(&self, on: bool) -> Result<(), companion::ErrorBody> {
        match &self.autostart {
            Some(autostart) => autostart.set(on).map_err(|e| companion::ErrorBody {
                code: "autostart_not_saved".into(),
                message: format!("cannot update {}: {e}", autostart.path().display()),
            }),
            None => Ok(()),
        }
    }

    /// IT's policy: its window presets and locks apply to the preferences loaded after this.
    pub fn with_policy(
        mut self,
        policy: companion::policy::Policy,
        problem: Option<String>,
    ) -> AppState {
        self.policy = policy;
        self.policy_problem = problem;
        self
    }

    /// IT's policy, for the sign-in commands.
    pub fn policy(&self) -> &companion::policy::Policy {
        &self.policy
    }

    /// What Settings shows: the locked window settings, and a policy file's problem.
    pub fn policy_info(&self) -> companion::policy::PolicyInfo {
        companion::policy::PolicyInfo {
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
    pub fn notice(&self, code: &str, message: String) {
        tracing::warn!(code, "{message}");
        self.status
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .notices
            .push(companion::ErrorBody {
                code: code.to_owned(),
                message,
            });
    }

    pub fn set_listener_status(&self, listener: ListenerStatus) {
        self.status
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .listener = listener;
    }

    pub(crate) fn connect(&self, emitter: Emitter) {
        let _ = self.emitter.set(emitter);
    }

    pub(crate) fn keep_listener(&self, running: listener::Running) {
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(running);
    }

    /// Loads the window preferences from `file` and saves later changes there.
    pub fn with_prefs(mut self, file: PrefsFile) -> AppState {
        let (prefs, warning) = file.load();
        if let Some(warning) = warning {
            self.notice("prefs_invalid", warning);
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
    pub fn set_prefs(&self, prefs: WindowPrefs) -> Result<WindowPrefs, companion::ErrorBody> {
        // What IT locked stays as locked, whatever the window sends.
        let prefs = prefs.overlaid(&self.policy.locked);
        if let Some(file) = &self.prefs_file {
            file.save(&prefs).map_err(|e| companion::ErrorBody {
                code: "prefs_not_saved".into(),
                message: format!("cannot save {}: {e}", file.path().display()),
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

    pub fn notes(&self) -> Result<&Arc<NotesDesk>, companion::ErrorBody> {
        self.notes.as_ref().ok_or_else(|| companion::ErrorBody {
            code: "notes_unavailable".into(),
            message: "the notes database could not be opened; see the log".into(),
        })
    }

    /// The call's number and its CRM record (from its card), for its note.
    pub fn call_facts(&self, call_id: &str) -> (Option<String>, Option<notes::Target>) {
        let view = self.desk.view();
        let phone = view
            .current
            .iter()
            .chain(view.recent.iter())
            .find(|c| c.context.call_id == call_id)
            .and_then(|c| c.context.phone_number.clone());
        let target = match self.cards.card(call_id).map(|v| v.card) {
            Some(companion::card::model::Card::Ready { record }) => Some(notes::Target {
                kind: record.subject.kind.name().to_owned(),
                id: record.subject.id,
            }),
            _ => None,
        };
        (phone, target)
    }

    /// The call's CRM activity, once its call card named it (`CRM_ACTIVITY_ID`).
    pub fn call_activity(&self, call_id: &str) -> Option<u64> {
        let view = self.desk.view();
        view.current
            .iter()
            .chain(view.recent.iter())
            .find(|c| c.context.call_id == call_id)
            .and_then(|c| c.context.activity_id)
    }

    /// The call's card; a call known from before a restart (or an older one the agent went back
    /// to) has its card loaded now.
    pub fn card_or_load(&self, call_id: &str) -> Option<companion::card::model::CardView> {
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

    /// The call ended with "save notes at the end of a call" on: a note with text goes to the CRM.
    pub fn send_note_at_call_end(&self, call_id: &str) {
        let Some(notes) = &self.notes else { return };
        match notes.note(call_id) {
            Ok(Some(note))
                if !note.text.trim().is_empty() && note.state == notes::NoteState::Draft =>
            {
                let (_, target) = self.call_facts(call_id);
                if let Err(e) = notes.send(call_id, target) {
                    tracing::warn!(code = %e.code, "the note was not queued at the call's end: {}", e.message);
                }
            }
            _ => {}
        }
    }

    pub fn set_mode(&self, mode: companion::status::Mode) {
        self.status.write().unwrap_or_else(|e| e.into_inner()).mode = mode;
    }

    pub fn set_mock(&self, mock: companion::mock::MockDesk) {
        let _ = self.mock.set(mock);
    }

    pub fn mock(&self) -> Result<&companion::mock::MockDesk, companion::ErrorBody> {
        self.mock.get().ok_or_else(|| companion::ErrorBody {
            code: "mock_off".into(),
            message: "mock mode is off; start Call Companion with --mock".into(),
        })
    }

    /// The port the listener serves (the one it was asked for).
    pub fn listen_port(&self) -> u16 {
        match &self.status().listener {
            ListenerStatus::Listening { address }
            | ListenerStatus::Failed { address, .. }
            | ListenerStatus::Stopped { address } => address
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(companion::app::DEFAULT_LISTEN_PORT),
        }
    }
}

/// The settings and their sources as start-up worked them out (the window cannot see flags).
pub struct DiagnosticsBase {
    pub settings: Vec<(&'static str, String, companion::policy::Source)>,
    pub policy_path: std::path::PathBuf,
    pub listen_port: u16,
}
