//! Prices for agents that report tokens but no cost (Codex, Gemini): USD per
//! million tokens by model, from each CLI's list prices and overridable in
//! `run-batch.toml`. Takes a model's name and its tokens; hands on USD.
//! Never knows a CLI: the lists come from their files (`agents`).

use std::collections::BTreeMap;

use crate::run::agents::stream::Usage;

/// USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Defaults to `input` when not given.
    pub cache_read: Option<f64>,
    /// Defaults to `input` when not given.
    pub cache_write: Option<f64>,
}

impl Price {
    /// USD for `usage`. `usage.input` is uncached input only, so each token
    /// is billed once, at the price of its kind.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let tokens = usage.input as f64 * self.input
            + usage.output as f64 * self.output
            + usage.cache_read as f64 * self.cache_read.unwrap_or(self.input)
            + usage.cache_write as f64 * self.cache_write.unwrap_or(self.input);
        tokens / 1_000_000.0
    }
}

/// A vendor's published list price, USD per million tokens: (model, input,
/// cached input, output, cache write). Each CLI's file lists its vendor's
/// models; they go stale, and users override them under `[prices]` in
/// `run-batch.toml` (docs/config.md).
pub type ListPrice = (&'static str, f64, f64, f64, Option<f64>);

#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    entries: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The list prices, with `overrides` on top.
    pub fn new<'a>(
        list: impl IntoIterator<Item = &'a ListPrice>,
        overrides: &BTreeMap<String, Price>,
    ) -> PriceTable {
        let mut entries: BTreeMap<String, Price> = list
            .into_iter()
            .map(|&(model, input, cache_read, output, cache_write)| {
                let price = Price {
                    input,
                    output,
                    cache_read: Some(cache_read),
                    cache_write,
                };
                (model.to_owned(), price)
            })
            .collect();
        entries.extend(overrides.iter().map(|(k, v)| (k.clone(), *v)));
        PriceTable { entries }
    }

    /// The price of `model`: an exact entry, else the longest entry that is
    /// a prefix of it followed by `-` (`gpt-5-2025-08-07` → `gpt-5`).
    /// A provider prefix (`models/gemini-2.5-pro`, `openai/gpt-5`) is
    /// dropped when the full name finds nothing.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        self.lookup_name(model).or_else(|| {
            let (_, bare) = model.rsplit_once('/')?;
            self.lookup_name(bare)
        })
    }

    fn lookup_name(&self, model: &str) -> Option<Price> {
        if let Some(price) = self.entries.get(model) {
            return Some(*price);
        }
        // The `-` keeps `gpt-5.5` from being priced as `gpt-5`: a dated or
        // variant suffix is the same model, a different version is not.
        self.entries
            .iter()
            .filter(|(name, _)| {
                !name.is_empty()
                    && model
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with('-'))
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, price)| *price)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLIs' list prices with `overrides` on top.
    fn listed(overrides: &BTreeMap<String, Price>) -> PriceTable {
        PriceTable::new(crate::run::agents::list_prices(), overrides)
    }

    fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Usage {
        Usage {
            input,
            output,
            cache_read,
            cache_write,
        }
    }

    fn price(input: f64, output: f64, cache_read: Option<f64>, cache_write: Option<f64>) -> Price {
        Price {
            input,
            output,
            cache_read,
            cache_write,
        }
    }

    #[test]
    fn cost_prices_each_kind_of_token() {
        let p = price(2.0, 8.0, Some(0.5), Some(2.5));
        // 2 + 4 + 1 + 0.5: every term is exact in binary.
        let u = usage(1_000_000, 500_000, 2_000_000, 200_000);
        assert_eq!(p.cost(&u), 7.5);
        assert_eq!(p.cost(&Usage::default()), 0.0);
    }

    #[test]
    fn cost_of_small_usage_is_per_million() {
        let p = price(1.25, 10.0, Some(0.125), None);
        let u = usage(1000, 100, 10_000, 0);
        let expected = (1000.0 * 1.25 + 100.0 * 10.0 + 10_000.0 * 0.125) / 1e6;
        assert!((p.cost(&u) - expected).abs() < 1e-12);
        assert!((p.cost(&u) - 0.0035).abs() < 1e-12);
    }

    #[test]
    fn cache_prices_default_to_input() {
        let p = price(4.0, 16.0, None, None);
        let u = usage(0, 0, 1_000_000, 500_000);
        assert_eq!(p.cost(&u), 6.0);
        let p = price(4.0, 16.0, Some(1.0), None);
        assert_eq!(p.cost(&u), 3.0);
        let p = price(4.0, 16.0, None, Some(8.0));
        assert_eq!(p.cost(&u), 8.0);
    }

    #[test]
    fn built_in_prices() {
        let table = listed(&BTreeMap::new());
        assert_eq!(
            table.lookup("gpt-5"),
            Some(price(1.25, 10.0, Some(0.125), None))
        );
        assert_eq!(
            table.lookup("claude-sonnet-4"),
            Some(price(3.0, 15.0, Some(0.30), Some(3.75)))
        );
        assert_eq!(
            table.lookup("gemini-2.5-flash-lite"),
            Some(price(0.10, 0.40, Some(0.025), None))
        );
        for (name, price) in &table.entries {
            let numbers = [price.input, price.output];
            let cache = [price.cache_read, price.cache_write];
            assert!(
                numbers
                    .iter()
                    .chain(cache.iter().flatten())
                    .all(|n| n.is_finite() && *n >= 0.0),
                "{name}"
            );
        }
    }

    #[test]
    fn lookup_exact_dated_and_longest_prefix() {
        let table = listed(&BTreeMap::new());
        let gpt5 = table.lookup("gpt-5").unwrap();
        assert_eq!(table.lookup("gpt-5-2025-08-07"), Some(gpt5));
        // Its own entry, not `gpt-5` (same numbers today, so check the name
        // resolution through a table where they differ).
        let codex = price(9.0, 9.0, None, None);
        let table2 = listed(&BTreeMap::from([("gpt-5-codex".to_owned(), codex)]));
        assert_eq!(table2.lookup("gpt-5-codex"), Some(codex));
        assert_eq!(table2.lookup("gpt-5-codex-2025-09-15"), Some(codex));
        assert_eq!(table2.lookup("gpt-5-2025-08-07"), Some(gpt5));

        assert_eq!(
            table.lookup("gpt-5-mini-2025-08-07"),
            table.lookup("gpt-5-mini")
        );
        assert_eq!(
            table.lookup("claude-sonnet-4-5-20250929"),
            table.lookup("claude-sonnet-4")
        );
        assert_eq!(
            table.lookup("gemini-2.5-flash-lite-preview-06-17"),
            table.lookup("gemini-2.5-flash-lite")
        );
        assert_ne!(
            table.lookup("gemini-2.5-flash-lite"),
            table.lookup("gemini-2.5-flash")
        );
        // Opus 4.1 is priced as Opus 4; Opus 4.5 has its own, lower price.
        assert_eq!(
            table.lookup("claude-opus-4-1-20250805"),
            table.lookup("claude-opus-4")
        );
        assert_eq!(
            table.lookup("claude-opus-4-5-20251101"),
            Some(price(5.0, 25.0, Some(0.50), Some(6.25)))
        );
    }

    #[test]
    fn lookup_needs_a_dash_after_the_prefix() {
        let table = listed(&BTreeMap::new());
        assert_eq!(table.lookup("gpt-5.5"), None);
        assert_eq!(table.lookup("gpt-50"), None);
        assert_eq!(table.lookup("o3x"), None);
        assert_eq!(table.lookup("unknown-model"), None);
        assert_eq!(table.lookup(""), None);
        assert_eq!(table.lookup("GPT-5"), None);
    }

    #[test]
    fn lookup_drops_a_provider_prefix() {
        let table = listed(&BTreeMap::new());
        let pro = table.lookup("gemini-2.5-pro");
        assert!(pro.is_some());
        assert_eq!(table.lookup("models/gemini-2.5-pro"), pro);
        assert_eq!(table.lookup("openai/gpt-5"), table.lookup("gpt-5"));
        assert_eq!(table.lookup("models/"), None);
        assert_eq!(table.lookup("/"), None);
    }

    #[test]
    fn overrides_replace_and_add() {
        let new = price(1.0, 2.0, None, None);
        let overrides = BTreeMap::from([("gpt-5".to_owned(), new), ("gpt-5.5".to_owned(), new)]);
        let table = listed(&overrides);
        assert_eq!(table.lookup("gpt-5"), Some(new));
        assert_eq!(table.lookup("gpt-5-2025-08-07"), Some(new));
        assert_eq!(table.lookup("gpt-5.5"), Some(new));
        // Other built-ins stay.
        assert_eq!(table.lookup("o3"), Some(price(2.0, 8.0, Some(0.50), None)));
    }
}
