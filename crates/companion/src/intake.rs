//! Everything the local listener hands to the app: call contexts to the call desk, the OAuth
//! redirect to the portal desk, the call card's own POST to the tab desk.

use std::sync::Arc;

use callcard::{CallContext, ParseError};
use listener::{Accepted, CallbackPage, Intake, TabPost, TabVerdict};

use crate::desk::CallDesk;
use crate::portal::PortalDesk;
use crate::tab::TabDesk;

pub struct AppIntake {
    pub calls: Arc<CallDesk>,
    pub portal: Arc<PortalDesk>,
    pub tab: Arc<TabDesk>,
}

impl Intake for AppIntake {
    fn call(&self, context: CallContext) -> Accepted {
        self.calls.call(context)
    }

    fn rejected(&self, error: &ParseError) {
        self.calls.rejected(error);
    }

    fn oauth_callback(&self, query: &str) -> CallbackPage {
        self.portal.complete_oauth(query)
    }

    fn tab_origin(&self) -> Option<String> {
        self.tab.origin()
    }

    fn tab(&self, post: TabPost) -> listener::Pending<'_, TabVerdict> {
        Box::pin(async move { self.tab.receive(&post).await })
    }
}
