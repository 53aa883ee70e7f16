//! The OAuth redirect comes back to the port asked for: the application's redirect address is
//! set once, in its settings on the portal (`settings/oauth/index.md`; the project's
//! bitrix24.md). A session listening elsewhere (the port was another program's at start, as on
//! a shared computer) takes that port only while a sign-in it started is pending, if the port
//! is free then, and lets it go as soon as the sign-in ends.

use std::sync::{Arc, Mutex};

use listener::{Intake, Pairing};

/// What serving the port asked for needs: the listener's configuration and the same intake.
struct Serving {
    config: listener::Config,
    pairing: Arc<Pairing>,
    intake: Arc<dyn Intake>,
}

#[derive(Default)]
pub struct CallbackPort {
    serving: Mutex<Option<Serving>>,
    held: Mutex<Option<listener::Running>>,
}

impl CallbackPort {
    /// How to serve the port asked for, once the listener is assembled.
    pub fn remember(
        &self,
        config: listener::Config,
        pairing: Arc<Pairing>,
        intake: Arc<dyn Intake>,
    ) {
        *self.serving.lock().unwrap_or_else(|e| e.into_inner()) = Some(Serving {
            config,
            pairing,
            intake,
        });
    }

    /// Serves the port asked for until [`CallbackPort::release`]; the reason when it cannot.
    pub fn hold(&self) -> Result<(), String> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_some() {
            return Ok(());
        }
        let serving = self.serving.lock().unwrap_or_else(|e| e.into_inner());
        let Some(serving) = serving.as_ref() else {
            return Err("the listener is not assembled".into());
        };
        let bound = listener::bind(serving.config.clone()).map_err(|e| e.to_string())?;
        let (pairing, intake) = (serving.pairing.clone(), serving.intake.clone());
        let running = crate::rt::block_on(async move { bound.serve(pairing, intake) })
            .map_err(|e| e.to_string())?;
        tracing::info!(
            port = serving.config.port,
            "holding the usual port while the sign-in is pending"
        );
        *held = Some(running);
        Ok(())
    }

    /// Lets the port asked for go (the sign-in ended).
    pub fn release(&self) {
        if self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some()
        {
            tracing::info!("the sign-in ended: the usual port is free for others again");
        }
    }
}
