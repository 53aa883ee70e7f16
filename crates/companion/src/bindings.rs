//! TypeScript declarations of every type the UI receives, generated from the Rust types with
//! ts-rs. The checked-in `ui/src/lib/bindings.ts` must equal [`typescript`]: a test fails when
//! it is stale and rewrites it when run with `UPDATE_BINDINGS=1`.

use ts_rs::{Config, TS};

use callcard::{
    CallContext, CallDirection, CallState, CrmEntityType, CrmRef, NoNumber, Portal, Source,
};

use crate::calls::{CallsView, Change, Rejection, TrackedCall};
use crate::card::model::{
    ActivityKind, ActivityLine, Candidate, Card, CardView, CommentLine, CrmCard, DealLine,
    EntityKind, Party, Person,
};
use crate::error::{ErrorBody, ErrorCode};
use crate::language::Language;
use crate::portal::widget::BoundWidget;
use crate::portal::{OAuthForm, WebhookForm};
use crate::prefs::WindowPrefs;
use crate::status::{
    AppStatus, ListenerStatus, Mode, PairingInfo, PortalAction, PortalStatus, SignInMethod, Theme,
};

/// Path of the generated file, relative to the workspace root.
pub const BINDINGS_PATH: &str = "ui/src/lib/bindings.ts";

pub fn typescript() -> String {
    let cfg = Config::default();
    let decls = [
        AppStatus::decl(&cfg),
        Mode::decl(&cfg),
        Theme::decl(&cfg),
        Language::decl(&cfg),
        ListenerStatus::decl(&cfg),
        PortalStatus::decl(&cfg),
        crate::status::PushStatus::decl(&cfg),
        crate::status::PushTransport::decl(&cfg),
        SignInMethod::decl(&cfg),
        PortalAction::decl(&cfg),
        OAuthForm::decl(&cfg),
        WebhookForm::decl(&cfg),
        BoundWidget::decl(&cfg),
        crate::policy::PolicyInfo::decl(&cfg),
        crate::policy::PortalPreset::decl(&cfg),
        crate::policy::SignInPolicy::decl(&cfg),
        ErrorBody::decl(&cfg),
        ErrorCode::decl(&cfg),
        PairingInfo::decl(&cfg),
        CallsView::decl(&cfg),
        WindowPrefs::decl(&cfg),
        crate::mock::ScenarioInfo::decl(&cfg),
        crate::mock::MockFaults::decl(&cfg),
        crate::mock::MockVia::decl(&cfg),
        crate::mock::PostAnswer::decl(&cfg),
        crate::unsaved::NoteNow::decl(&cfg),
        crate::unsaved::UnsavedText::decl(&cfg),
        notes::Note::decl(&cfg),
        notes::NoteState::decl(&cfg),
        notes::Via::decl(&cfg),
        notes::Target::decl(&cfg),
        crate::language::LanguageChoice::decl(&cfg),
        CardView::decl(&cfg),
        Card::decl(&cfg),
        CrmCard::decl(&cfg),
        Party::decl(&cfg),
        EntityKind::decl(&cfg),
        DealLine::decl(&cfg),
        ActivityLine::decl(&cfg),
        ActivityKind::decl(&cfg),
        CommentLine::decl(&cfg),
        Person::decl(&cfg),
        Candidate::decl(&cfg),
        TrackedCall::decl(&cfg),
        Change::decl(&cfg),
        Rejection::decl(&cfg),
        CallContext::decl(&cfg),
        NoNumber::decl(&cfg),
        CrmRef::decl(&cfg),
        CrmEntityType::decl(&cfg),
        CallDirection::decl(&cfg),
        CallState::decl(&cfg),
        Portal::decl(&cfg),
        Source::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from the Rust types by `crates/companion/src/bindings.rs`; do not edit.\n\
         // Regenerate: UPDATE_BINDINGS=1 cargo test -p companion bindings\n",
    );
    for decl in decls {
        out.push_str("\nexport ");
        out.push_str(decl.trim_end());
        if !decl.trim_end().ends_with(';') && !decl.trim_end().ends_with('}') {
            out.push(';');
        }
        out.push('\n');
    }
    // The codes as a value too, for the UI's test that each has words in every language.
    let codes: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|code| format!("'{code}'"))
        .collect();
    out.push_str(&format!(
        "\nexport const ERROR_CODES: readonly ErrorCode[] = [{}];\n",
        codes.join(", ")
    ));
    out
}
