//! Why and how a run stops starting work: signals, `--fail-fast`,
//! `--max-cost` (new starts stop), `--max-cost-hard` (running attempts stop
//! too, resumable later) and `--max-wait`. Takes the reason; hands back the
//! actions (an event, stops of running attempts). Reads no clock.

use super::*;

/// Why the run stops starting work; a stronger reason replaces a weaker one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cancel {
    /// `--max-cost` reached: start nothing new, let running tasks finish.
    Budget,
    /// `--max-cost-hard` reached: running attempts stop too (resumable).
    BudgetHard,
    /// `--max-wait` reached while waiting for usage limits.
    MaxWait,
    FailFast,
    Signal,
    SecondSignal,
}

impl Cancel {
    /// For `run_finished.stopped`.
    pub fn name(self) -> &'static str {
        match self {
            Cancel::Budget => "max_cost",
            Cancel::BudgetHard => "max_cost_hard",
            Cancel::MaxWait => "max_wait",
            Cancel::FailFast => "fail_fast",
            Cancel::Signal | Cancel::SecondSignal => "interrupted",
        }
    }
}

impl Dispatcher {
    /// Ctrl-C, SIGTERM or SIGHUP: the first stops new starts and passes the
    /// signal on (`then`: what follows, for the message); the second kills
    /// every agent.
    pub fn on_signal(&mut self, sig: i32, name: &str, then: &str) -> Vec<Action> {
        let mut out = Vec::new();
        if self.cancel >= Some(Cancel::Signal) {
            self.cancel = Some(Cancel::SecondSignal);
            out.push(Action::Emit(Box::new(Event::Cancelling {
                reason: format!("second {name}: killing every agent now"),
            })));
            for &attempt in self.live.keys() {
                out.push(Action::Kill { attempt });
            }
            return out;
        }
        let running = self.live.len();
        self.cancel_with(
            Cancel::Signal,
            format!(
                "{name} received: no new tasks; sent {name} to {running} running agent{}, {then} (press Ctrl-C again to kill now)",
                crate::report::plural(running)
            ),
            sig,
            &mut out,
        );
        out
    }

    /// `--max-cost` reached as an attempt ends (`again`: its task may run
    /// again). Nothing is stopped if no work is left to start.
    pub fn on_budget(&mut self, again: bool, message: String) -> Vec<Action> {
        let mut out = Vec::new();
        if self.cancel.is_some() {
            return out;
        }
        let waiting = (self.prep.runnable.iter()).any(|&t| {
            matches!(self.schedule.state(t), State::Waiting | State::Retrying)
                && !self.schedule.is_done(t)
        });
        if !(waiting || again) {
            return out;
        }
        self.cancel = Some(Cancel::Budget);
        out.push(Action::Emit(Box::new(Event::Cancelling {
            reason: message,
        })));
        out
    }

    pub(super) fn cancel_with(
        &mut self,
        cancel: Cancel,
        reason: String,
        sig: i32,
        out: &mut Vec<Action>,
    ) {
        if self.cancel >= Some(cancel) {
            return;
        }
        self.cancel = Some(cancel);
        out.push(Action::Emit(Box::new(Event::Cancelling { reason })));
        for (&attempt, live) in self.live.iter_mut() {
            if live.stopping.is_none() || cancel >= Cancel::Signal {
                live.stopping = Some(Stop::Cancelled);
                out.push(Action::Stop {
                    attempt,
                    why: Stop::Cancelled,
                    signal: sig,
                });
            }
        }
    }

    /// `--max-cost-hard` reached by the live spend: nothing new starts and
    /// the running attempts are stopped (their sessions are kept, so the
    /// next run continues them).
    pub fn on_budget_hard(&mut self, message: String) -> Vec<Action> {
        let mut out = Vec::new();
        self.cancel_with(Cancel::BudgetHard, message, libc::SIGTERM, &mut out);
        out
    }
}
