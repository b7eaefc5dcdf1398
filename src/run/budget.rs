//! Spend and budgets: what each attempt cost (as its agent reported it, or
//! its tokens at its model's price), the totals per task and per run, and
//! whether `--max-cost` is reached.
//!
//! Takes an agent's spec and its stream summary; hands on a `Spend` and the
//! warnings worth showing once (a model with no price). Never stops anything
//! itself: the dispatcher decides what a reached budget means.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::record::events::Spend;
use crate::run::agents::stream::StreamSummary;
use crate::run::agents::{self, AgentSpec};
use crate::run::price::{self, PriceTable};

pub struct Budget {
    prices: PriceTable,
    /// Models (and agents without a model) already warned about.
    unpriced: HashSet<String>,
    /// What this run spent, in all and per task id.
    pub run: Spend,
    pub by_task: HashMap<String, Spend>,
    max_cost: Option<f64>,
}

/// The run's spend so far, counting what running attempts have used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Live {
    pub usd: f64,
    /// Some of it is priced from tokens, not reported by an agent.
    pub estimated: bool,
}

impl Budget {
    pub fn new(prices: &BTreeMap<String, price::Price>, max_cost: Option<f64>) -> Budget {
        Budget {
            prices: PriceTable::new(agents::list_prices(), prices),
            unpriced: HashSet::new(),
            run: Spend::default(),
            by_task: HashMap::new(),
            max_cost,
        }
    }

    /// What an attempt spent, and warnings to show about its price. An
    /// attempt stopped before it reported anything is priced from the
    /// tokens its messages showed, marked as an estimate.
    pub fn spend_of(&mut self, spec: &AgentSpec, s: &StreamSummary) -> (Spend, Vec<String>) {
        let mut warnings = Vec::new();
        if s.cost_usd.is_none() && s.usage.is_zero() && !s.live_usage.is_zero() {
            let cost = self.estimate(spec, s.model.as_deref(), s.live_usage, Some(&mut warnings));
            let mut spend = Spend::new(s.live_usage, cost);
            spend.estimated = cost.is_some();
            return (spend, warnings);
        }
        let cost = self.cost_of(spec, s, &mut warnings);
        (Spend::new(s.usage, cost), warnings)
    }

    /// Tokens an attempt used so far at the price of its model (`model`:
    /// the one its stream named), for live spend. With `warnings`, a model
    /// with no price is warned about (once); without, nothing is noted, so
    /// that the warning still comes if the agent's own report needs it.
    pub fn estimate(
        &mut self,
        spec: &AgentSpec,
        model: Option<&str>,
        usage: crate::run::agents::stream::Usage,
        warnings: Option<&mut Vec<String>>,
    ) -> Option<f64> {
        if let Some(price) = spec.settings.price {
            return Some(price.cost(&usage));
        }
        let model = spec.model().or_else(|| model.map(str::to_owned))?;
        let price = match warnings {
            Some(w) => self.price_of(spec, &model, w)?,
            None => self.prices.lookup(&model)?,
        };
        Some(price.cost(&usage))
    }

    /// Adds an attempt's spend to its task's and the run's.
    pub fn add(&mut self, task: &str, spend: &Spend) {
        self.by_task.entry(task.to_owned()).or_default().add(spend);
        self.run.add(spend);
    }

    /// `--max-cost` and what was spent, once the spend reached it.
    pub fn reached(&self) -> Option<(f64, f64)> {
        let (max, spent) = (self.max_cost?, self.run.cost_usd?);
        (spent >= max).then_some((max, spent))
    }

    /// As the agent reported it, else its tokens at the price of its model
    /// (from the config file or the built-in table).
    fn cost_of(
        &mut self,
        spec: &AgentSpec,
        s: &StreamSummary,
        warnings: &mut Vec<String>,
    ) -> Option<f64> {
        if let Some(cost) = s.cost_usd {
            return Some(cost);
        }
        if s.usage.is_zero() {
            return None;
        }
        if let Some(price) = spec.settings.price {
            return Some(price.cost(&s.usage));
        }
        if !s.models.is_empty() && s.format.models_priced {
            let mut total = 0.0;
            for (model, usage) in &s.models {
                total += self.price_of(spec, model, warnings)?.cost(usage);
            }
            return Some(total);
        }
        let Some(model) = spec.model().or_else(|| s.model.clone()) else {
            if self.unpriced.insert(format!("\0{}", spec.name)) {
                warnings.push(format!(
                    "warning: agent `{}` reported tokens but not its model, so its cost is unknown; set `model` or `price` under [agents.{}] in run-batch.toml (see docs/config.md)",
                    spec.name,
                    spec.name.split_whitespace().next().unwrap_or("")
                ));
            }
            return None;
        };
        Some(self.price_of(spec, &model, warnings)?.cost(&s.usage))
    }

    fn price_of(
        &mut self,
        spec: &AgentSpec,
        model: &str,
        warnings: &mut Vec<String>,
    ) -> Option<price::Price> {
        let found = self.prices.lookup(model);
        if found.is_none() && self.unpriced.insert(model.to_owned()) {
            warnings.push(format!(
                "warning: no price for model `{model}` (agent `{}`), so its cost is not counted; add [prices.\"{model}\"] to run-batch.toml (see docs/config.md)",
                spec.name
            ));
        }
        found
    }
}
