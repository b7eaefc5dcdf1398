//! One gate per provider (an agent CLI, or an account several agents share):
//! usage limits, throttling, auth failures and the start-up ramp.
//!
//! Takes what attempts of a provider ended with and the time; hands on how
//! many of its tasks may run at once now, when that next changes, and the
//! events worth telling. A usage limit closes the gate until its reset time
//! (plus a margin), then one task probes before the rest follow; a throttle
//! halves the provider's concurrency and lets it grow back one success at a
//! time; an auth or billing failure closes it for the run. Pure: no clocks
//! but the one passed in, no I/O.

use std::time::{Duration, Instant, SystemTime};

use crate::record::events::Event;

/// How a provider's starts are paced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pace {
    /// Agents that may start together before the ramp paces them.
    pub burst: usize,
    /// After the burst, one more start per `ramp` (zero: no ramp).
    pub ramp: Duration,
}

impl Pace {
    /// Agent CLIs that talk to a metered API: a few at once, then one a second.
    pub const CLI: Pace = Pace {
        burst: 2,
        ramp: Duration::from_secs(1),
    };
    /// Any other command: no pacing.
    pub const NONE: Pace = Pace {
        burst: usize::MAX,
        ramp: Duration::ZERO,
    };
}

/// Waited past the reset time before the probe, by default: the provider's
/// clock and ours differ, and a window reopens gradually.
pub const RESET_MARGIN: Duration = Duration::from_secs(60);
/// With no reset time given, waits grow from 1 to 30 minutes.
const UNKNOWN_RESET_FIRST: Duration = Duration::from_secs(60);
const UNKNOWN_RESET_MAX: Duration = Duration::from_secs(30 * 60);
/// A reset further away than this is waited for only up to here, then
/// probed (a clock gone wrong must not park a run for a week).
const LONGEST_WAIT: Duration = Duration::from_secs(24 * 3600);
/// Throttle backoff: doubling from 2 s, at most 2 minutes, with jitter.
const THROTTLE_FIRST: Duration = Duration::from_secs(2);
const THROTTLE_MAX: Duration = Duration::from_secs(120);

#[derive(Clone, Debug, PartialEq)]
enum Gate {
    Open,
    /// Closed until `until`; then one task probes.
    Waiting {
        until: Instant,
        since: Instant,
        window: Option<String>,
    },
    /// After a wait: one task runs to see whether the limit is over.
    Probing {
        since: Instant,
    },
    /// Auth or billing: nothing more starts in this run.
    Stopped,
}

#[derive(Clone, Debug)]
pub struct Provider {
    pub name: String,
    pace: Pace,
    gate: Gate,
    /// Most tasks at once: `jobs`, halved by throttling, grown back by one
    /// per success.
    cap: usize,
    jobs: usize,
    /// Starts left in the current burst, and when the next one comes back.
    tokens: usize,
    next_token: Option<Instant>,
    /// No start before this (throttle backoff).
    hold_until: Option<Instant>,
    throttles: u32,
    unknown_waits: u32,
    /// Time spent waiting, for `--max-wait` and the summary.
    waited: Duration,
    /// Waited past a reset time before the probe.
    margin: Duration,
}

impl Provider {
    pub fn new(name: &str, pace: Pace, jobs: usize, margin: Duration) -> Provider {
        Provider {
            margin,
            name: name.to_owned(),
            tokens: pace.burst,
            pace,
            gate: Gate::Open,
            cap: jobs,
            jobs,
            next_token: None,
            hold_until: None,
            throttles: 0,
            unknown_waits: 0,
            waited: Duration::ZERO,
        }
    }

    /// How many of its tasks may run now, counting those running.
    pub fn limit(&self, running: usize, now: Instant) -> usize {
        match self.gate {
            Gate::Stopped | Gate::Waiting { .. } => 0,
            Gate::Probing { .. } => 1,
            Gate::Open => {
                if self.hold_until.is_some_and(|h| now < h) {
                    return running.min(self.cap);
                }
                let paced = if self.pace.ramp.is_zero() {
                    usize::MAX
                } else {
                    running.saturating_add(self.tokens)
                };
                self.cap.min(paced)
            }
        }
    }

    /// One of its tasks started.
    pub fn started(&mut self, now: Instant) {
        if self.pace.ramp.is_zero() {
            return;
        }
        self.tokens = self.tokens.saturating_sub(1);
        self.next_token.get_or_insert(now + self.pace.ramp);
    }

    /// An attempt of it succeeded: a probe opens the gate, a throttled cap
    /// grows by one.
    pub fn succeeded(&mut self, now: Instant) -> Option<Event> {
        self.throttles = 0;
        if self.cap < self.jobs {
            self.cap += 1;
        }
        if let Gate::Probing { since } = self.gate {
            self.gate = Gate::Open;
            self.unknown_waits = 0;
            return Some(Event::LimitWaitOver {
                provider: self.name.clone(),
                waited_secs: (now - since).as_secs_f64(),
            });
        }
        None
    }

    /// An attempt hit a usage limit that resets at `reset` (if it said).
    /// Returns the event to tell, if the gate was not closed already.
    pub fn limited(
        &mut self,
        reset: Option<SystemTime>,
        window: Option<String>,
        now: Instant,
        wall: SystemTime,
    ) -> Option<Event> {
        if matches!(self.gate, Gate::Stopped | Gate::Waiting { .. }) {
            return None;
        }
        // A reset already past (clocks differ, or it was given to the
        // minute) waits only the margin.
        let ahead = reset.map(|r| r.duration_since(wall).unwrap_or_default());
        let wait = match ahead {
            Some(d) => (d + self.margin).min(LONGEST_WAIT),
            None => {
                self.unknown_waits += 1;
                (UNKNOWN_RESET_FIRST * 2u32.pow(self.unknown_waits.min(5) - 1))
                    .min(UNKNOWN_RESET_MAX)
            }
        };
        let since = match self.gate {
            Gate::Probing { since } => since,
            _ => now,
        };
        self.gate = Gate::Waiting {
            until: now + wait,
            since,
            window: window.clone(),
        };
        Some(Event::LimitWait {
            provider: self.name.clone(),
            until: humantime::format_rfc3339_seconds(wall + wait).to_string(),
            window,
            reset_known: reset.is_some(),
        })
    }

    /// An attempt was throttled (a 429 with no reset, a burst limiter):
    /// halve what runs at once, and pause starts with backoff and jitter.
    /// `jitter` is a number in [0, 1).
    pub fn throttled(&mut self, running: usize, now: Instant, jitter: f64) -> Event {
        self.cap = (running / 2).max(1).min(self.cap);
        self.throttles += 1;
        let base = (THROTTLE_FIRST * 2u32.pow(self.throttles.min(7) - 1)).min(THROTTLE_MAX);
        let pause = base.mul_f64(0.75 + 0.5 * jitter);
        self.hold_until = Some(now + pause);
        Event::ProviderThrottled {
            provider: self.name.clone(),
            concurrency: self.cap,
            pause_secs: pause.as_secs_f64(),
        }
    }

    /// Auth or billing failed: nothing more of it starts in this run.
    pub fn stopped(&mut self, reason: &str) -> Option<Event> {
        if self.gate == Gate::Stopped {
            return None;
        }
        self.gate = Gate::Stopped;
        Some(Event::ProviderStopped {
            provider: self.name.clone(),
            reason: reason.to_owned(),
        })
    }

    pub fn is_stopped(&self) -> bool {
        self.gate == Gate::Stopped
    }

    /// Waiting for a usage limit now: until when, and the window's name.
    pub fn waiting(&self) -> Option<(Instant, Option<&str>)> {
        match &self.gate {
            Gate::Waiting { until, window, .. } => Some((*until, window.as_deref())),
            _ => None,
        }
    }

    /// Lets time pass: a wait that is over becomes a probe, ramp tokens
    /// come back.
    pub fn tick(&mut self, now: Instant) {
        if let Gate::Waiting { until, since, .. } = self.gate
            && now >= until
        {
            self.waited += now - since;
            self.gate = Gate::Probing { since };
        }
        while let Some(at) = self.next_token {
            if now < at || self.tokens >= self.pace.burst {
                if self.tokens >= self.pace.burst {
                    self.next_token = None;
                }
                break;
            }
            self.tokens += 1;
            self.next_token = (self.tokens < self.pace.burst).then_some(at + self.pace.ramp);
        }
        if self.hold_until.is_some_and(|h| now >= h) {
            self.hold_until = None;
        }
    }

    /// When its limit may next change.
    pub fn next_due(&self) -> Option<Instant> {
        let until = match self.gate {
            Gate::Waiting { until, .. } => Some(until),
            _ => None,
        };
        [until, self.next_token, self.hold_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time spent waiting for usage limits so far.
    pub fn waited(&self, now: Instant) -> Duration {
        match self.gate {
            Gate::Waiting { since, .. } => self.waited + (now - since),
            _ => self.waited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_lets_a_burst_start_then_one_per_interval() {
        let t0 = Instant::now();
        let mut p = Provider::new("claude", Pace::CLI, 8, RESET_MARGIN);
        assert_eq!(p.limit(0, t0), 2);
        p.started(t0);
        p.started(t0);
        assert_eq!(p.limit(2, t0), 2);
        p.tick(t0 + Duration::from_millis(999));
        assert_eq!(p.limit(2, t0), 2);
        p.tick(t0 + Duration::from_secs(1));
        assert_eq!(p.limit(2, t0), 3);
        let commands = Provider::new("true", Pace::NONE, 8, RESET_MARGIN);
        assert_eq!(commands.limit(0, t0), 8);
    }

    #[test]
    fn a_limit_closes_the_gate_until_the_reset_then_one_task_probes() {
        let t0 = Instant::now();
        let wall = SystemTime::now();
        let mut p = Provider::new("claude", Pace::NONE, 4, RESET_MARGIN);
        let event = p.limited(
            Some(wall + Duration::from_secs(600)),
            Some("five_hour".into()),
            t0,
            wall,
        );
        assert!(matches!(event, Some(Event::LimitWait { .. })));
        assert!(p.limited(None, None, t0, wall).is_none(), "already closed");
        assert_eq!(p.limit(0, t0), 0);
        assert_eq!(p.next_due(), Some(t0 + Duration::from_secs(660)));
        p.tick(t0 + Duration::from_secs(660));
        assert_eq!(p.limit(0, t0), 1, "one probe");
        assert!(matches!(
            p.succeeded(t0 + Duration::from_secs(700)),
            Some(Event::LimitWaitOver { .. })
        ));
        assert_eq!(p.limit(0, t0), 4);
        assert_eq!(
            p.waited(t0 + Duration::from_secs(700)),
            Duration::from_secs(660)
        );
    }

    #[test]
    fn a_reset_already_past_waits_only_the_margin() {
        let t0 = Instant::now();
        let wall = SystemTime::now();
        let mut p = Provider::new("codex", Pace::NONE, 4, Duration::from_secs(5));
        p.limited(Some(wall - Duration::from_secs(30)), None, t0, wall);
        assert_eq!(p.next_due(), Some(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn unknown_resets_wait_longer_each_time() {
        let t0 = Instant::now();
        let wall = SystemTime::now();
        let mut p = Provider::new("codex", Pace::NONE, 4, RESET_MARGIN);
        p.limited(None, None, t0, wall);
        assert_eq!(p.next_due(), Some(t0 + Duration::from_secs(60)));
        p.tick(t0 + Duration::from_secs(60));
        let t1 = t0 + Duration::from_secs(61);
        p.limited(None, None, t1, wall);
        assert_eq!(p.next_due(), Some(t1 + Duration::from_secs(120)));
    }

    #[test]
    fn throttling_halves_concurrency_and_successes_grow_it_back() {
        let t0 = Instant::now();
        let mut p = Provider::new("claude", Pace::NONE, 8, RESET_MARGIN);
        p.throttled(6, t0, 0.5);
        assert_eq!(p.limit(6, t0), 3, "held at what runs, at most the cap");
        p.tick(t0 + Duration::from_secs(3));
        assert_eq!(p.limit(0, t0 + Duration::from_secs(3)), 3);
        p.succeeded(t0);
        assert_eq!(p.limit(0, t0 + Duration::from_secs(3)), 4);
    }

    #[test]
    fn an_auth_failure_stops_the_provider() {
        let mut p = Provider::new("claude", Pace::NONE, 4, RESET_MARGIN);
        assert!(p.stopped("Invalid API key").is_some());
        assert!(p.stopped("again").is_none());
        assert_eq!(p.limit(0, Instant::now()), 0);
        assert!(p.is_stopped());
    }
}
