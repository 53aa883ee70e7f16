//! Everything the local listener hands to the app: call contexts to the call desk, the OAuth
//! redirect to the portal desk.

use std::sync::Arc;

use callcard::{CallContext, ParseError};
use listener::{Accepted, CallbackPage, Intake};

use crate::desk::CallDesk;
use crate::portal::PortalDesk;

pub struct AppIntake {
    pub calls: Arc<CallDesk>,
    pub portal: Arc<PortalDesk>,
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
}
