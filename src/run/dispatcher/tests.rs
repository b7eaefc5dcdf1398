//! The dispatcher fed inputs, its actions read back: waves, limits,
//! failures, retries, cancels and reloads, without processes or sleeps.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::*;
use crate::plan::PlanOptions;
use crate::taskfile::{Document, ReadOptions, Source};

fn plan(text: &str) -> Plan {
    let doc = Document::parse(
        Source::new("t.md".into(), text.into(), 0),
        ReadOptions::default(),
    );
    Plan::build(doc, PlanOptions::default()).unwrap()
}

fn limits(jobs: usize) -> Limits {
    Limits {
        jobs,
        keep_going: false,
        fail_fast: false,
        retries: 0,
        timeout: None,
        max_wait: None,
        seed: 7,
        transient_retries: 2,
        reset_margin: crate::run::providers::RESET_MARGIN,
    }
}

/// Every task of `plan` on one provider, `claude`, paced by `pace`.
fn one_provider(plan: &Plan, pace: Pace) -> Providers {
    Providers {
        names: vec![("claude".into(), pace)],
        of: vec![Some(0); plan.doc.tasks.len()],
    }
}

/// A dispatcher and a clock that moves only when told.
struct Run {
    d: Dispatcher,
    now: Instant,
    /// Running attempts by task id.
    running: Vec<(String, AttemptId)>,
    events: Vec<String>,
}

impl Run {
    fn new(text: &str, limits: Limits) -> Run {
        Run::paced(text, limits, Pace::NONE)
    }

    fn paced(text: &str, limits: Limits, pace: Pace) -> Run {
        let p = plan(text);
        let providers = one_provider(&p, pace);
        let now = Instant::now();
        Run {
            d: Dispatcher::new(p, limits, providers, now),
            now,
            running: Vec::new(),
            events: Vec::new(),
        }
    }

    fn take(&mut self, actions: Vec<Action>) -> Vec<String> {
        let mut started = Vec::new();
        for a in actions {
            match a {
                Action::Start { attempt, task, .. } => {
                    let id = self.d.plan().doc.id(task).into_owned();
                    self.running.push((id.clone(), attempt));
                    started.push(id);
                }
                Action::Stop { attempt, why, .. } => {
                    let id = self.id_of(attempt);
                    self.events.push(format!("stop {id} {why:?}"));
                }
                Action::Kill { attempt } => {
                    let id = self.id_of(attempt);
                    self.events.push(format!("kill {id}"));
                }
                Action::Emit(e) => self.events.push(describe(&e)),
            }
        }
        started
    }

    fn id_of(&self, attempt: AttemptId) -> String {
        (self.running.iter())
            .find(|(_, a)| *a == attempt)
            .map(|(id, _)| id.clone())
            .unwrap_or_default()
    }

    /// Starts what may start; the ids started.
    fn start(&mut self) -> Vec<String> {
        let actions = self.d.start_ready(self.now);
        self.take(actions)
    }

    /// Ends the running attempt of task `id`.
    fn end(&mut self, id: &str, class: Class) {
        let i = (self.running.iter().position(|(t, _)| t == id))
            .unwrap_or_else(|| panic!("`{id}` is not running: {:?}", self.running));
        let (_, attempt) = self.running.remove(i);
        let actions = self.d.on_end(attempt, class, None, self.now);
        self.take(actions);
    }

    fn tick(&mut self, by: Duration) -> Vec<String> {
        self.now += by;
        let actions = self.d.on_time(self.now);
        self.take(actions);
        self.start()
    }

    fn reload(&mut self, text: &str) {
        let p = plan(text);
        let providers = one_provider(&p, Pace::NONE);
        let actions = self.d.on_reload(p, &HashSet::new(), self.now, providers);
        self.take(actions);
    }
}

fn describe(e: &Event) -> String {
    match e {
        Event::TaskRetrying {
            task, delay_secs, ..
        } => format!("retry {task} in {delay_secs}s"),
        Event::TaskBlocked { task, by } => format!("blocked {task} by {by}"),
        Event::Cancelling { reason } => format!("cancel: {reason}"),
        Event::BoxEdited { task, taken, .. } => format!("box {task} {taken:?}"),
        Event::PlanReloaded { tasks } => format!("reloaded {tasks}"),
        Event::LimitWait {
            provider, window, ..
        } => format!("wait {provider} {}", window.as_deref().unwrap_or("?")),
        Event::LimitWaitOver { provider, .. } => format!("open {provider}"),
        Event::ProviderThrottled {
            provider,
            concurrency,
            ..
        } => format!("throttled {provider} to {concurrency}"),
        Event::ProviderStopped { provider, reason } => format!("stopped {provider}: {reason}"),
        other => format!("{other:?}"),
    }
}

#[test]
fn waves_run_one_after_another() {
    let mut r = Run::new("# A\n- [ ] a1\n- [ ] a2\n# B\n- [ ] b1\n", limits(8));
    assert_eq!(r.start(), ["a1", "a2"]);
    r.end("a1", Class::Succeeded);
    assert!(r.start().is_empty());
    r.end("a2", Class::Succeeded);
    assert_eq!(r.start(), ["b1"]);
    r.end("b1", Class::Succeeded);
    assert!(r.d.finished());
    assert_eq!(
        r.d.box_wants(),
        [(0, true), (1, true), (2, true)],
        "every success is owed a tick"
    );
}

#[test]
fn jobs_and_group_limits_hold() {
    let text = "<!-- parallel: 2 -->\n- [ ] a\n- [ ] b\n- [ ] c\n- [ ] d\n";
    let mut r = Run::new(text, limits(8));
    assert_eq!(r.start(), ["a", "b"]);
    r.end("a", Class::Succeeded);
    assert_eq!(r.start(), ["c"]);
    let mut one = Run::new("- [ ] a\n- [ ] b\n", limits(1));
    assert_eq!(one.start(), ["a"]);
    assert!(one.start().is_empty());
}

#[test]
fn a_failure_blocks_its_dependents_and_the_next_wave() {
    let text = "# A\n- [ ] a <!-- id: a -->\n- [ ] b <!-- after: a -->\n# B\n- [ ] c\n";
    let mut r = Run::new(text, limits(8));
    assert_eq!(r.start(), ["a"]);
    r.end("a", Class::Failed);
    assert_eq!(r.events, ["blocked a/b by a"]);
    assert!(r.start().is_empty());
    assert!(r.d.finished());
    assert!(r.d.failed_any());
}

#[test]
fn retries_wait_longer_each_time_and_use_the_tasks_retries() {
    let mut r = Run::new(
        "- [ ] a <!-- retries: 2 -->\n",
        Limits {
            retries: 0,
            ..limits(8)
        },
    );
    assert_eq!(r.start(), ["a"]);
    r.end("a", Class::Failed);
    assert!(r.events[0].starts_with("retry a in 1."), "{:?}", r.events);
    assert!(r.start().is_empty(), "a retry waits its turn");
    assert!(!r.d.finished());
    // One second and up to a quarter more (jitter).
    assert_eq!(r.tick(Duration::from_millis(999)), Vec::<String>::new());
    assert_eq!(r.tick(Duration::from_millis(251)), ["a"]);
    r.end("a", Class::Failed);
    assert!(r.events[1].starts_with("retry a in 2."), "{:?}", r.events);
    assert_eq!(r.tick(Duration::from_millis(2500)), ["a"]);
    r.end("a", Class::Failed);
    assert!(r.d.finished());
    assert_eq!(r.d.task(0).attempts, 3);
}

#[test]
fn a_blocked_agent_is_not_retried() {
    let mut r = Run::new("- [ ] a <!-- retries: 3 -->\n", limits(8));
    r.start();
    r.end("a", Class::Blocked);
    assert!(r.events.is_empty(), "{:?}", r.events);
    assert!(r.d.finished());
    assert!(r.d.failed_any());
}

#[test]
fn a_refused_resume_starts_again_at_once_without_using_a_retry() {
    let mut r = Run::new("- [ ] a\n", limits(8));
    r.start();
    r.end("a", Class::Refused);
    assert_eq!(r.start(), ["a"]);
    r.end("a", Class::Succeeded);
    assert!(r.d.finished() && !r.d.failed_any());
}

#[test]
fn timeouts_stop_the_attempt() {
    let mut r = Run::new("- [ ] a <!-- timeout: 5s -->\n", limits(8));
    r.start();
    r.tick(Duration::from_secs(4));
    assert!(r.events.is_empty());
    r.tick(Duration::from_secs(1));
    assert_eq!(r.events, ["stop a Timeout"]);
}

#[test]
fn the_first_signal_stops_everything_and_the_second_kills() {
    let mut r = Run::new("- [ ] a\n- [ ] b\n- [ ] c\n", limits(2));
    assert_eq!(r.start(), ["a", "b"]);
    let actions = r.d.on_signal(libc::SIGINT, "SIGINT", "SIGKILL after 10s");
    r.take(actions);
    assert_eq!(r.events[1..], ["stop a Cancelled", "stop b Cancelled"]);
    assert!(r.start().is_empty(), "nothing starts after a Ctrl-C");
    let actions = r.d.on_signal(libc::SIGINT, "SIGINT", "SIGKILL after 10s");
    r.take(actions);
    assert_eq!(r.events[4..], ["kill a", "kill b"]);
    r.end("a", Class::Interrupted);
    r.end("b", Class::Interrupted);
    assert!(r.d.finished());
    assert_eq!(r.d.cancel(), Some(Cancel::SecondSignal));
}

#[test]
fn fail_fast_stops_the_others() {
    let mut r = Run::new(
        "- [ ] a\n- [ ] b\n",
        Limits {
            fail_fast: true,
            ..limits(8)
        },
    );
    r.start();
    r.end("a", Class::Failed);
    assert_eq!(
        r.events,
        [
            "cancel: --fail-fast: `a` failed; stopping the other agents",
            "stop b Cancelled"
        ]
    );
}

#[test]
fn a_hard_budget_stops_the_running_attempts_too_and_a_soft_one_cannot_weaken_it() {
    let mut r = Run::new("- [ ] a\n- [ ] b\n- [ ] c\n", limits(2));
    assert_eq!(r.start(), ["a", "b"]);
    let actions = r.d.on_budget(false, "soft".into());
    r.take(actions);
    let actions = r.d.on_budget_hard("hard".into());
    r.take(actions);
    assert_eq!(
        r.events,
        [
            "cancel: soft",
            "cancel: hard",
            "stop a Cancelled",
            "stop b Cancelled"
        ]
    );
    assert_eq!(r.d.cancel().map(Cancel::name), Some("max_cost_hard"));
    assert!(r.d.on_budget(true, "soft again".into()).is_empty());
    r.end("a", Class::Interrupted);
    r.end("b", Class::Interrupted);
    assert!(r.start().is_empty(), "`c` never starts");
    assert!(r.d.finished());
}

#[test]
fn a_budget_reached_with_work_left_stops_new_starts_only() {
    let mut r = Run::new("- [ ] a\n- [ ] b\n", limits(1));
    r.start();
    let actions = r.d.on_budget(false, "over".into());
    r.take(actions);
    assert_eq!(r.events, ["cancel: over"]);
    r.end("a", Class::Succeeded);
    assert!(r.start().is_empty());
    assert!(r.d.finished());
    // Reached by the last of the work: nothing is stopped.
    let mut last = Run::new("- [ ] a\n", limits(1));
    last.start();
    last.end("a", Class::Succeeded);
    assert!(last.d.on_budget(false, "over".into()).is_empty());
}

#[test]
fn a_reworded_running_task_keeps_its_attempt_and_a_removed_one_is_stopped() {
    let mut r = Run::new("- [ ] the first one\n- [ ] two\n- [ ] three\n", limits(2));
    assert_eq!(r.start(), ["the-first-one", "two"]);
    r.reload("- [ ] the first one, reworded\n- [ ] three\n");
    assert!(
        r.events.contains(&"stop two Removed".to_owned()),
        "{:?}",
        r.events
    );
    // `two` still holds its slot until it is gone.
    assert!(r.start().is_empty());
    r.end("two", Class::Interrupted);
    assert_eq!(r.start(), ["three"]);
    r.end("the-first-one", Class::Succeeded);
    assert_eq!(r.d.box_wants(), [(0, true)], "the reworded line is ticked");
}

#[test]
fn a_box_ticked_while_its_agent_runs_is_the_runs() {
    let mut r = Run::new("# A\n- [ ] a\n# B\n- [ ] b\n", limits(2));
    assert_eq!(r.start(), ["a/a"]);
    r.reload("# A\n- [x] a\n# B\n- [ ] b\n");
    assert!(r.events.contains(&"box a/a Owned".to_owned()));
    assert!(r.start().is_empty(), "the next wave waits for the verdict");
    r.end("a/a", Class::Failed);
    assert_eq!(r.d.box_wants(), [(0, false)], "the box is cleared");
    assert!(r.start().is_empty());
}

#[test]
fn a_hand_tick_of_a_waiting_task_is_honoured() {
    let mut r = Run::new("- [ ] a\n- [ ] b <!-- after: a -->\n", limits(1));
    assert_eq!(r.start(), ["a"]);
    r.reload("- [ ] a\n- [x] b <!-- after: a -->\n");
    assert!(r.events.contains(&"box b Honoured".to_owned()));
    r.end("a", Class::Succeeded);
    assert!(r.start().is_empty(), "`b` was done by hand");
    assert!(r.d.finished());
}

#[test]
fn a_success_cleared_by_an_old_copy_is_ticked_again_unless_asked_again() {
    let mut r = Run::new("- [ ] a\n- [ ] b\n", limits(1));
    r.start();
    r.end("a", Class::Succeeded);
    // The tick is written.
    r.d.plan_mut().doc.tasks[0].checked = true;
    r.d.boxes_written();
    r.reload("- [ ] a\n- [ ] b\n");
    assert!(r.events.contains(&"box a TickedAgain".to_owned()));
    assert_eq!(r.d.box_wants(), [(0, true)]);
    assert_eq!(r.start(), ["b"]);
    // `run-batch tick --undo a` during the run: it runs again.
    let mut again = Run::new("- [ ] a\n", limits(1));
    again.start();
    again.end("a", Class::Succeeded);
    again.d.plan_mut().doc.tasks[0].checked = true;
    again.d.boxes_written();
    let undo: HashSet<String> = ["a".to_owned()].into();
    let p = plan("- [ ] a\n");
    let providers = one_provider(&p, Pace::NONE);
    let actions = again.d.on_reload(p, &undo, again.now, providers);
    again.take(actions);
    assert_eq!(again.start(), ["a"]);
}

#[test]
fn a_task_that_leaves_and_comes_back_keeps_its_state() {
    let mut r = Run::new("- [ ] a\n- [ ] b\n", limits(1));
    r.start();
    r.end("a", Class::Succeeded);
    r.reload("- [ ] b\n");
    r.reload("- [ ] a\n- [ ] b\n");
    assert_eq!(r.start(), ["b"], "`a` is not run again");
    assert!(r.d.box_wants().contains(&(0, true)));
}

// ---- providers: usage limits, throttling, auth, the ramp --------------------------------

#[test]
fn a_usage_limit_holds_the_providers_tasks_until_the_reset_and_uses_no_retry() {
    let mut r = Run::new("- [ ] a\n- [ ] b\n- [ ] c\n", limits(2));
    assert_eq!(r.start(), ["a", "b"]);
    let reset = r.d.wall(r.now) + Duration::from_secs(600);
    r.end(
        "a",
        Class::Limited {
            reset: Some(reset),
            window: Some("five_hour".into()),
        },
    );
    assert_eq!(r.events, ["wait claude five_hour"]);
    assert!(
        r.start().is_empty(),
        "nothing of claude starts while it waits"
    );
    // The running one hits the limit too: it waits as well.
    r.end(
        "b",
        Class::Limited {
            reset: Some(reset),
            window: None,
        },
    );
    assert!(!r.d.finished(), "the run waits, it does not end");
    assert_eq!(r.d.next_due(), Some(r.now + Duration::from_secs(660)));
    // After the reset and its margin, one task probes first.
    assert_eq!(r.tick(Duration::from_secs(660)), ["a"]);
    assert!(r.start().is_empty());
    r.end("a", Class::Succeeded);
    assert_eq!(r.events.last().unwrap(), "open claude");
    assert_eq!(r.start(), ["b", "c"]);
    assert_eq!(r.d.task(0).attempts, 2);
    assert_eq!(r.d.task(0).free_attempts, 1, "the limit used no retry");
    assert_eq!(r.d.limit_waited(r.now), Duration::from_secs(660));
}

#[test]
fn max_wait_ends_a_wait_that_is_too_long() {
    let mut r = Run::new(
        "- [ ] a\n",
        Limits {
            max_wait: Some(Duration::from_secs(300)),
            ..limits(2)
        },
    );
    r.start();
    let reset = r.d.wall(r.now) + Duration::from_secs(3600);
    r.end(
        "a",
        Class::Limited {
            reset: Some(reset),
            window: None,
        },
    );
    r.tick(Duration::from_secs(299));
    assert_eq!(r.d.cancel(), None);
    r.tick(Duration::from_secs(1));
    assert_eq!(r.d.cancel(), Some(Cancel::MaxWait));
    assert!(r.d.finished());
}

#[test]
fn throttling_halves_the_providers_concurrency() {
    let mut r = Run::new("- [ ] a\n- [ ] b\n- [ ] c\n- [ ] d\n- [ ] e\n", limits(4));
    assert_eq!(r.start().len(), 4);
    r.end("a", Class::Throttled);
    assert_eq!(r.events, ["throttled claude to 1"]);
    // Three still run, over the cap of 1; each success grows it by one.
    r.end("b", Class::Succeeded);
    assert!(r.start().is_empty(), "paused by the backoff");
    assert_eq!(
        r.tick(Duration::from_secs(5)),
        Vec::<String>::new(),
        "c and d run: the cap (2) is full"
    );
    r.end("c", Class::Succeeded);
    assert_eq!(r.tick(Duration::from_secs(1)), ["a", "e"], "cap 3, d runs");
}

#[test]
fn an_auth_failure_stops_the_provider_and_the_run_ends() {
    let mut r = Run::new("- [ ] a\n- [ ] b\n", limits(1));
    r.start();
    let actions = r.d.on_end(0, Class::Auth, Some("Invalid API key"), r.now);
    r.running.clear();
    r.take(actions);
    assert_eq!(r.events, ["stopped claude: Invalid API key"]);
    assert!(r.start().is_empty());
    assert!(r.d.finished(), "nothing can start, nothing runs");
    assert!(!r.d.failed_any(), "the task did not fail; it is left to do");
}

#[test]
fn transient_failures_retry_without_using_retries_a_few_times() {
    let mut r = Run::new("- [ ] a\n", limits(1));
    for i in 0..2 {
        assert_eq!(r.tick(Duration::from_secs(120)), ["a"], "attempt {i}");
        assert!(!r.d.transients_spent(r.running[0].1));
        r.end("a", Class::Transient);
    }
    assert_eq!(r.tick(Duration::from_secs(120)), ["a"]);
    // The engine asks, and reports the third as the task's failure.
    assert!(r.d.transients_spent(r.running[0].1));
    r.end("a", Class::Failed);
    assert!(r.d.finished());
    assert!(r.d.failed_any());
    assert_eq!(r.d.task(0).free_attempts, 2);
}

#[test]
fn the_ramp_starts_a_burst_then_one_a_second() {
    let mut r = Run::paced("- [ ] a\n- [ ] b\n- [ ] c\n- [ ] d\n", limits(8), Pace::CLI);
    assert_eq!(r.start(), ["a", "b"]);
    assert_eq!(r.tick(Duration::from_millis(500)), Vec::<String>::new());
    assert_eq!(r.tick(Duration::from_millis(500)), ["c"]);
    assert_eq!(r.tick(Duration::from_secs(1)), ["d"]);
}
