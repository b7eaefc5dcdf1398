//! Live spend: the tokens running attempts have used, priced as they come,
//! checked against `--max-cost` (no new starts) and `--max-cost-hard`
//! (running attempts stop too). Takes `Input::Usage`; hands the dispatcher
//! a reached budget. Never decides what a reached budget means.

use super::*;

impl Engine {
    /// An attempt's stream showed more tokens: its live cost is updated and
    /// the budgets checked (only when one is set).
    pub(super) fn live_usage(&mut self, slot: u64, usage: stream::Usage, model: Option<String>) {
        let Some(s) = self.slots.get(&slot) else {
            return;
        };
        let spec = s.agent.clone();
        let capped = self.options.max_cost.is_some() || self.options.max_cost_hard.is_some();
        // A model with no price matters here only under a cap (Claude
        // reports its own cost at the end anyway).
        let mut warnings = Vec::new();
        let cost = (self.budget).estimate(
            &spec,
            model.as_deref(),
            usage,
            capped.then_some(&mut warnings),
        );
        for w in warnings {
            self.reporter.note(&w);
        }
        if let Some(s) = self.slots.get_mut(&slot) {
            s.live = crate::record::events::Spend::new(usage, cost);
            s.live.estimated = cost.is_some();
        }
        self.show_running_spend();
        if capped {
            self.check_live_budget();
        }
    }

    /// The live view's total counts what running attempts have used.
    pub(super) fn show_running_spend(&mut self) {
        let mut running = crate::record::events::Spend::default();
        for s in self.slots.values() {
            running.add(&s.live);
        }
        self.reporter.running_spend(running);
    }

    /// The run's spend so far: what ended attempts cost, and what running
    /// ones have used by their streams (an estimate until they report).
    pub(super) fn live_spend(&self) -> crate::run::budget::Live {
        let running: Vec<f64> = self
            .slots
            .values()
            .filter_map(|s| s.live.cost_usd)
            .collect();
        crate::run::budget::Live {
            usd: self.budget.run.cost_usd.unwrap_or(0.0) + running.iter().sum::<f64>(),
            estimated: self.budget.run.estimated || !running.is_empty(),
        }
    }

    /// Stops what a reached budget stops: new starts at `--max-cost`, the
    /// running attempts too at `--max-cost-hard`.
    pub(super) fn check_live_budget(&mut self) {
        let spent = self.live_spend().usd;
        let running = self.slots.len();
        if let Some(hard) = self.options.max_cost_hard
            && spent >= hard
        {
            let message = format!(
                "--max-cost-hard ${hard:.2} reached (spent ~${spent:.4} so far): starting nothing new and stopping {running} running agent{}; run again to continue them",
                crate::report::plural(running)
            );
            let actions = self.d.on_budget_hard(message);
            self.perform(actions);
        } else if let Some(max) = self.options.max_cost
            && spent >= max
        {
            let message = format!(
                "--max-cost ${max:.2} reached (spent ~${spent:.4} so far, counting running agents): starting nothing new{}",
                match running {
                    0 => String::new(),
                    1 => "; the running task may finish".to_owned(),
                    n => format!("; the {n} running tasks may finish"),
                }
            );
            let actions = self.d.on_budget(false, message);
            self.perform(actions);
        }
    }
}
