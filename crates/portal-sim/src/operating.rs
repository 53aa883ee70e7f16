//! Operating time (`limits.md`, "Resource Intensity Limits"): each method's execution time is
//! summed per application or webhook in one-minute baskets; a basket's countdown starts at the
//! first call of its minute and it drops out ten minutes later (`operating_reset_at` is when the
//! oldest one drops). The portal checks the sum before each call: over the limit, the call is
//! refused with `429 OPERATION_TIME_LIMIT`; the call that crossed it had still run. Other
//! methods, applications and webhooks keep working. `batch` itself costs nothing; each
//! sub-request counts for its own method.
//!
//! The simulator does not measure its own run time (microseconds): each call of a method costs
//! what `Faults::operating_costs` says (nothing by default). `operation_limit_method` puts a
//! basket over the limit for that method, for every caller, dropping `operation_limit_reset_secs`
//! from now, so `time.operating` and `operating_reset_at` agree with the block.

use std::collections::HashMap;

use crate::portal::Caller;

/// One basket lasts this long after its first call (`limits.md`).
pub const WINDOW_SECS: f64 = 600.0;
/// The limit in the docs' example (`limits.md`: 480 s; a self-hosted portal's default is 420).
pub const DEFAULT_LIMIT_SECS: f64 = 480.0;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Basket {
    /// The calendar minute (Unix time / 60) it sums.
    minute: i64,
    /// Its first call: it drops `WINDOW_SECS` later.
    started: f64,
    seconds: f64,
}

/// What the `time` block says of a method for one caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingTime {
    pub operating: f64,
    /// When the oldest basket drops; `None` when the method has used nothing.
    pub reset_at: Option<f64>,
}

#[derive(Debug, Default)]
pub struct Operating {
    /// (caller, method in lower case) → baskets, oldest first.
    baskets: HashMap<(String, String), Vec<Basket>>,
    /// An injected over-the-limit basket: (method in lower case, basket), for every caller.
    forced: Option<(String, Basket)>,
}

/// An application counts apart from a webhook (`limits.md`: "separately for an application or
/// a webhook"); an application's users share its operating time.
fn who(caller: &Caller) -> String {
    match caller {
        Caller::App { app, .. } => format!("app:{app}"),
        Caller::Webhook { user_id } => format!("webhook:{user_id}"),
    }
}

impl Operating {
    /// The method's operating time for `caller` at `now` (dropped baskets left out).
    pub fn time(&mut self, caller: &Caller, method: &str, now: f64) -> OperatingTime {
        let method = method.to_ascii_lowercase();
        let mut live: Vec<Basket> = match self.baskets.get_mut(&(who(caller), method.clone())) {
            Some(baskets) => {
                baskets.retain(|b| b.started + WINDOW_SECS > now);
                baskets.clone()
            }
            None => Vec::new(),
        };
        if let Some((forced, basket)) = &self.forced {
            if *forced == method && basket.started + WINDOW_SECS > now {
                live.push(*basket);
            }
        }
        OperatingTime {
            operating: live.iter().map(|b| b.seconds).sum(),
            reset_at: live
                .iter()
                .map(|b| b.started + WINDOW_SECS)
                .min_by(f64::total_cmp),
        }
    }

    /// Whether the next call of `method` by `caller` is refused: the sum already exceeds `limit`.
    pub fn blocked(&mut self, caller: &Caller, method: &str, limit: f64, now: f64) -> bool {
        self.time(caller, method, now).operating > limit
    }

    /// A call of `method` by `caller` at `now` that took `seconds`. A call that costs nothing
    /// still starts its minute's basket, as any real call (which takes some time) does: so
    /// every answer has an `operating_reset_at`.
    pub fn charge(&mut self, caller: &Caller, method: &str, seconds: f64, now: f64) {
        let seconds = seconds.max(0.0);
        let minute = (now / 60.0).floor() as i64;
        let baskets = self
            .baskets
            .entry((who(caller), method.to_ascii_lowercase()))
            .or_default();
        match baskets.last_mut() {
            Some(last) if last.minute == minute => last.seconds += seconds,
            _ => baskets.push(Basket {
                minute,
                started: now,
                seconds,
            }),
        }
    }

    /// Puts `method` over `limit` for every caller until `until` (at most ten minutes ahead:
    /// the block lifts within that, `limits.md`), or clears that when `method` is `None`.
    pub fn force(&mut self, method: Option<&str>, limit: f64, until: f64, now: f64) {
        self.forced = method.map(|m| {
            let until = until.min(now + WINDOW_SECS);
            let started = until - WINDOW_SECS;
            (
                m.to_ascii_lowercase(),
                Basket {
                    minute: (started / 60.0).floor() as i64,
                    started,
                    seconds: limit + 1.0,
                },
            )
        });
    }

    /// Forgets every basket (`/sim/admin/reset`).
    pub fn clear(&mut self) {
        self.baskets.clear();
        self.forced = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Caller {
        Caller::App {
            user_id: 1,
            app: "local.1".into(),
        }
    }

    #[test]
    fn the_docs_example_blocks_the_26th_call_and_lifts_when_the_oldest_basket_drops() {
        // `limits.md`: 480 s limit, each crm.item.list call takes 20 s.
        let mut op = Operating::default();
        let t0 = 1_000_040.0; // 20 s into a minute
        let mut now = t0;
        let mut calls = 0;
        while !op.blocked(&app(), "crm.item.list", DEFAULT_LIMIT_SECS, now) {
            op.charge(&app(), "crm.item.list", 20.0, now);
            calls += 1;
            now += 20.0;
        }
        // 25 calls run (500 s), the 26th is refused.
        assert_eq!(calls, 25);
        let time = op.time(&app(), "crm.item.list", now);
        assert_eq!(time.operating, 500.0);
        assert_eq!(time.reset_at, Some(t0 + WINDOW_SECS));
        // The first minute held two calls (40 s): once it drops, 460 s are left and calls run.
        assert!(op.blocked(&app(), "crm.item.list", DEFAULT_LIMIT_SECS, t0 + 599.0));
        assert!(!op.blocked(&app(), "crm.item.list", DEFAULT_LIMIT_SECS, t0 + 600.0));
        assert_eq!(
            op.time(&app(), "crm.item.list", t0 + 600.0).operating,
            460.0
        );
    }

    #[test]
    fn other_methods_and_other_callers_keep_working() {
        let mut op = Operating::default();
        op.charge(&app(), "crm.deal.list", 500.0, 100.0);
        assert!(op.blocked(&app(), "crm.deal.list", 480.0, 101.0));
        assert!(!op.blocked(&app(), "crm.contact.get", 480.0, 101.0));
        assert!(!op.blocked(
            &Caller::Webhook { user_id: 1 },
            "crm.deal.list",
            480.0,
            101.0
        ));
        let other_user = Caller::App {
            user_id: 2,
            app: "local.1".into(),
        };
        assert!(
            op.blocked(&other_user, "CRM.DEAL.LIST", 480.0, 101.0),
            "one application"
        );
    }

    #[test]
    fn a_forced_block_shows_in_the_time_block_and_lifts_at_its_reset() {
        let mut op = Operating::default();
        op.force(Some("crm.deal.list"), 480.0, 160.0, 100.0);
        let time = op.time(&app(), "crm.deal.list", 100.0);
        assert_eq!(
            time,
            OperatingTime {
                operating: 481.0,
                reset_at: Some(160.0)
            }
        );
        assert!(op.blocked(&app(), "crm.deal.list", 480.0, 159.0));
        assert!(!op.blocked(&app(), "crm.deal.list", 480.0, 160.0));
        // Never more than ten minutes.
        op.force(Some("crm.deal.list"), 480.0, 5_000.0, 100.0);
        assert_eq!(
            op.time(&app(), "crm.deal.list", 100.0).reset_at,
            Some(700.0)
        );
        op.force(None, 480.0, 0.0, 100.0);
        assert_eq!(op.time(&app(), "crm.deal.list", 100.0).operating, 0.0);
    }
}
