//! The dispatcher's side of the providers' gates: which provider each task
//! uses, each gate's limit in the schedule, the wall clock the gates' reset
//! times are told on, jitter for backoffs, and the run's total wait for
//! usage limits (for `--max-wait`). Reads no clock: `now` comes in.

use super::*;

impl Dispatcher {
    /// Takes the providers of the current plan's tasks; a provider already
    /// known keeps its gate.
    pub(super) fn set_providers(&mut self, providers: Providers) {
        let mut index = Vec::with_capacity(providers.names.len());
        for (name, pace) in providers.names {
            let i = match self.providers.iter().position(|p| p.name == name) {
                Some(i) => i,
                None => {
                    let (jobs, margin) = (self.limits.jobs, self.limits.reset_margin);
                    self.providers
                        .push(Provider::new(&name, pace, jobs, margin));
                    self.providers.len() - 1
                }
            };
            index.push(i);
        }
        self.pool_of = (providers.of.into_iter())
            .map(|p| p.map(|p| index[p]))
            .collect();
    }

    /// Sets each provider's limit in the schedule, as it stands `now`.
    pub(super) fn refresh_pools(&mut self, now: Instant) {
        for (i, p) in self.providers.iter().enumerate() {
            let limit = p.limit(self.schedule.pool_running(i), now);
            self.schedule.set_pool_limit(i, limit);
        }
    }

    /// The wall time at `now`.
    pub(super) fn wall(&self, now: Instant) -> SystemTime {
        self.epoch.1 + now.saturating_duration_since(self.epoch.0)
    }

    /// A number in [0, 1) for jitter (splitmix64: quick, well mixed from
    /// any seed, and repeatable from it).
    pub(super) fn jitter(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Providers now waiting for a usage limit: name, until when (on the
    /// wall clock), the window's name.
    pub fn limit_waits(&self) -> Vec<(&str, SystemTime, Option<&str>)> {
        (self.providers.iter())
            .filter_map(|p| {
                let (until, window) = p.waiting()?;
                Some((p.name.as_str(), self.wall(until), window))
            })
            .collect()
    }

    /// Time spent waiting for usage limits so far (any provider).
    pub fn limit_waited(&self, now: Instant) -> Duration {
        self.waited + self.waiting_since.map_or(Duration::ZERO, |s| now - s)
    }

    /// Whether a transient failure of this attempt would be one too many:
    /// then it is the task's failure (the engine says so in its event).
    pub fn transients_spent(&self, attempt: AttemptId) -> bool {
        self.live
            .get(&attempt)
            .is_some_and(|l| self.tasks[l.key].transients >= self.limits.transient_retries)
    }

    /// The provider of a plan task.
    pub fn provider_of(&self, t: usize) -> Option<&str> {
        let p = (*self.pool_of.get(t)?)?;
        Some(&self.providers[p].name)
    }

    /// Keeps the run's total wait for usage limits: it runs while any
    /// provider waits.
    pub(super) fn account_waiting(&mut self, now: Instant) {
        let any = self.providers.iter().any(|p| p.waiting().is_some());
        match (any, self.waiting_since) {
            (true, None) => self.waiting_since = Some(now),
            (false, Some(since)) => {
                self.waited += now - since;
                self.waiting_since = None;
            }
            _ => {}
        }
    }
}
