//! The engine's attempts: starting one (prompt, agent, process group),
//! hearing it end (the agent, then its gate), judging it (`verdict`) and
//! recording it (`task_finished`, spend, what the next attempt resumes),
//! then telling the dispatcher. Takes an action to start and the process's
//! ends; hands on events and the attempt's class.

use super::*;
use crate::run::limits::Signal;

/// One attempt's processes and what they said.
pub(super) struct Slot {
    pub(super) key: Key,
    pub(super) task_id: String,
    pub(super) number: u32,
    pub(super) agent: Arc<AgentSpec>,
    /// The session this attempt continues.
    pub(super) resumed: Option<Resume>,
    pub(super) info: Attempt,
    /// The group now running: the agent's, then the gate's.
    pub(super) group: Group,
    pub(super) started: Instant,
    pub(super) exited: Option<Exit>,
    pub(super) stream: Option<Box<stream::StreamSummary>>,
    /// How the agent exited, once its gate runs in this slot.
    pub(super) agent_exit: Option<Exit>,
    pub(super) termination: Option<Termination>,
    /// The last sign of life: output, a stream event or a progress line
    /// (for the idle timeout), and how much had come by then.
    pub(super) alive_at: Instant,
    pub(super) alive_mark: u64,
    /// Why the dispatcher stopped it.
    pub(super) stop: Option<Stop>,
    /// The timeout in force when it started.
    pub(super) timeout: Option<Duration>,
    pub(super) progress_seen: u64,
    /// Its work has landed (`--isolate worktree`): it is concluded as is.
    pub(super) landed: bool,
    /// What it has spent so far, priced from the tokens its stream showed.
    pub(super) live: crate::record::events::Spend,
    /// Its checkpoints' watcher (which ends what it started; the guard's
    /// token ends them if run-batch dies), whether it has ended, and why a
    /// checkpoint stopped the attempt.
    pub(super) watch: Option<crate::run::checkpoint::Watch>,
    pub(super) checkpoints_done: bool,
    pub(super) checkpoint_failure: Option<String>,
    /// The newest handoff message it has (in its prompt, or sent live).
    pub(super) messages_seen: String,
    /// Its judge, once the judge runs in this slot, and since when.
    pub(super) judging: Option<(AgentSpec, Instant)>,
    /// The judge could not judge because its provider refused it (a usage
    /// limit, throttling): the attempt waits like any agent's would.
    pub(super) judge_refused: Option<Class>,
}

/// What the run remembers of a task's attempts, for the next one.
#[derive(Default)]
pub(super) struct History {
    /// Why the last attempt failed, with the end of its log.
    pub(super) last_failure: Option<Previous>,
    /// The session the next attempt continues.
    pub(super) resume: Option<Resume>,
    /// For a fresh start after a refused resume: the attempt before.
    pub(super) previous: Option<Previous>,
    /// An attempt of it failed in this run (a later success is flaky).
    pub(super) failed_before: bool,
}

impl Engine {
    pub(super) fn start(&mut self, attempt: AttemptId, key: Key, t: usize, number: u32) {
        // Stopped before it started (an earlier start failed with
        // --fail-fast): it never starts, so the running count stays true.
        if self.d.live(attempt).is_none_or(|l| l.stopping.is_some()) {
            let actions = self
                .d
                .on_end(attempt, Class::Interrupted, None, Instant::now());
            self.perform(actions);
            return;
        }
        let isolates = (self.d.plan().settings(t).isolate).unwrap_or(self.options.isolate);
        if isolates && self.repo.is_none() {
            // An `isolate: worktree` hint a person added during the run.
            match crate::run::worktree::Repo::open(&self.options.file, &self.state.dir) {
                Ok(repo) => self.repo = Some(repo),
                Err(reason) => {
                    let actions =
                        (self.d).on_end(attempt, Class::Setup, Some(&reason), Instant::now());
                    self.perform(actions);
                    return;
                }
            }
        }
        if isolates && !self.worktrees.contains_key(&key) {
            self.prepare(attempt, key, number);
            return;
        }
        let (workdir, taskfile) = self.attempt_paths(key);
        self.poll_handoffs();
        let messages = self.messages_for(t);
        let settings = self.d.plan().settings(t);
        let (agent, timeout) = settings.for_attempt(number);
        let timeout = timeout.or(self.options.timeout);
        // An `escalate` hint's agent for this attempt, else the task's own.
        let escalated = (agent != settings.agent.as_deref())
            .then_some(agent)
            .flatten();
        let escalation = (number > 1)
            .then(|| escalation_note(settings, number))
            .flatten();
        // The task's shared spec, not a copy per attempt.
        let spec = match escalated {
            Some(name) => Arc::new(
                crate::run::escalated_agent(name, &self.options).expect("checked before the run"),
            ),
            None => self.agents[t].clone().unwrap_or_else(|| {
                Arc::new(
                    crate::run::parse_agent(
                        &crate::run::default_agent(&self.options),
                        &self.options,
                    )
                    .expect("checked before the run"),
                )
            }),
        };
        let task_id = self.d.plan().doc.id(t).into_owned();
        let history = self.history.entry(key).or_default();
        let resumed = (history.resume.as_ref())
            .filter(|r| {
                !self.options.fresh && spec.can_resume() && resume::same_cli(&r.agent, &spec.name)
            })
            .cloned();
        let launch = Launch {
            resume: resumed.as_ref(),
            previous: history.previous.as_ref(),
            messages: &messages,
            plan: self.d.plan(),
            task: t,
            attempt: number,
            spec: &spec,
            prompter: &self.prompter,
            last_failure: history.last_failure.as_ref(),
            run_dir: &self.run_dir,
            spares: &self.spares,
            run_id: &self.run_id,
            state_dir: &self.state_abs,
            taskfile: &taskfile,
            workdir: &workdir,
        };
        match executor::spawn(&launch, attempt, &self.tx) {
            Ok(info) => {
                let group = Group(info.pid as i32);
                if let Some(g) = self.guard.as_mut() {
                    g.watch(group);
                }
                history.previous = None;
                self.emit(Event::TaskStarted {
                    task: task_id.clone(),
                    attempt: number,
                    agent: spec.name.clone(),
                    pid: info.pid,
                    log: info.log.clone(),
                    command: info.command.clone(),
                    resume: resumed.as_ref().map(|r| r.session_id.clone()),
                    escalation,
                });
                self.slots.insert(
                    attempt,
                    Slot {
                        key,
                        task_id,
                        number,
                        agent: spec,
                        resumed,
                        info,
                        group,
                        // The clock the dispatcher's deadline runs on.
                        started: self
                            .d
                            .live(attempt)
                            .map_or_else(Instant::now, |l| l.started),
                        exited: None,
                        stream: None,
                        agent_exit: None,
                        termination: None,
                        alive_at: Instant::now(),
                        alive_mark: 0,
                        stop: None,
                        timeout,
                        progress_seen: 0,
                        landed: false,
                        live: Default::default(),
                        watch: None,
                        checkpoints_done: false,
                        checkpoint_failure: None,
                        judging: None,
                        judge_refused: None,
                        messages_seen: self
                            .messages
                            .last()
                            .map(|m| m.id.clone())
                            .unwrap_or_default(),
                    },
                );
                if let Some(info) = self.slots.get(&attempt).map(|s| s.info.clone()) {
                    let watch = self.watch_checkpoints(attempt, t, &info, &workdir);
                    if let Some(s) = self.slots.get_mut(&attempt) {
                        s.watch = watch;
                    }
                }
            }
            Err(e) => {
                let log = executor::attempt_file(&self.run_dir, &task_id, number, "log");
                let reason = format!("could not start the agent: {e}");
                // Say it in the log too, where a person looks first.
                let _ = std::fs::write(&log, format!("run-batch: {reason}\n"));
                self.emit(Event::TaskFinished {
                    task: task_id.clone(),
                    attempt: number,
                    outcome: TaskOutcome::Failed,
                    class: Class::Failed.name(),
                    flaky: false,
                    exit: None,
                    reason: Some(reason.clone()),
                    duration_secs: 0.0,
                    log: Some(log.clone()),
                    agent: spec.name.clone(),
                    session_id: None,
                    spend: None,
                    resumable: false,
                    session_total: None,
                });
                self.ended(attempt, key, &task_id, Class::Failed, Some(reason), &log);
            }
        }
    }

    /// An attempt is complete when its process has exited and (for
    /// stream-json agents) its output has been read to the end; one stopped
    /// because its task left the file, when its whole group is gone.
    pub(super) fn maybe_complete(&mut self, attempt: AttemptId) {
        let Some(slot) = self.slots.get(&attempt) else {
            return;
        };
        if slot.judging.is_some() {
            // Its judge decides, through `judged`.
            return;
        }
        let Some(exit) = slot.exited else { return };
        let streaming = slot.agent.output.is_some() && slot.agent_exit.is_none();
        if streaming && slot.stream.is_none() {
            // The agent is gone but something it started still holds its
            // output open; end the group so the stream closes.
            if slot.termination.is_none() && slot.group.alive() {
                let grace = self.options.grace;
                let s = self.slots.get_mut(&attempt).unwrap();
                s.termination = Some(Termination::begin(
                    s.group,
                    &s.task_id,
                    libc::SIGTERM,
                    grace,
                ));
            }
            return;
        }
        // Checkpoints still running, or the last lines still to be read:
        // the verdict waits for them, unless the attempt was stopped.
        if slot.agent_exit.is_none()
            && let Some(w) = &slot.watch
            && !slot.checkpoints_done
        {
            if slot.checkpoint_failure.is_some() || slot.stop.is_some() {
                w.cancel();
            }
            return;
        }
        if slot.stop == Some(Stop::Removed) && slot.group.alive() {
            // Its slot is free only when nothing of it runs any more.
            return;
        }
        let mut slot = self.slots.remove(&attempt).unwrap();
        // Whatever the agent left running in its group ends with it.
        if slot.group.alive() {
            self.lingering
                .push(slot.termination.take().unwrap_or_else(|| {
                    Termination::begin(slot.group, &slot.task_id, libc::SIGTERM, self.options.grace)
                }));
        } else if let Some(g) = self.guard.as_mut() {
            g.forget(slot.group);
        }
        let place = self.d.task(slot.key).place;
        let verdict = if let Some(reason) = &slot.checkpoint_failure {
            Verdict::Failed(reason.clone())
        } else if slot.agent_exit.is_some() {
            let gate = self.gate_of(place);
            if exit.success() {
                Verdict::Ok
            } else {
                Verdict::Failed(format!("gate {gate} failed ({exit})"))
            }
        } else {
            verdict::judge(
                exit,
                slot.stream.as_deref(),
                &slot.info.log,
                self.options.require_done,
            )
        };
        if verdict == Verdict::Ok
            && slot.agent_exit.is_none()
            && slot.stop.is_none()
            && let Some(t) = place
            && let Some(gate) = self.d.plan().settings(t).gate.clone()
        {
            let (workdir, _) = self.attempt_paths(slot.key);
            match executor::spawn_gate(&gate, &workdir, &slot.info.log, attempt, &self.tx) {
                Ok(pid) => {
                    slot.agent_exit = Some(exit);
                    slot.exited = None;
                    slot.group = Group(pid as i32);
                    slot.termination = None;
                    if let Some(g) = self.guard.as_mut() {
                        g.watch(slot.group);
                    }
                    self.slots.insert(attempt, slot);
                    return;
                }
                Err(e) => {
                    let verdict =
                        Verdict::Failed(format!("could not run the gate {}: {e}", gate.label()));
                    return self.conclude(attempt, slot, verdict);
                }
            }
        }
        if verdict == Verdict::Ok
            && slot.stop.is_none()
            && let Some(t) = place
        {
            match self.start_judge(attempt, &mut slot, t) {
                Ok(true) => {
                    self.slots.insert(attempt, slot);
                    return;
                }
                Ok(false) => {}
                Err(reason) => return self.conclude(attempt, slot, Verdict::Failed(reason)),
            }
        }
        self.conclude(attempt, slot, verdict);
    }

    pub(super) fn gate_of(&self, place: Option<usize>) -> String {
        place
            .and_then(|t| self.d.plan().settings(t).gate.as_ref())
            .map_or_else(String::new, crate::taskfile::Gate::label)
    }

    /// What a failed agent's signals say about its provider: the stream's
    /// structured events, then its texts (final error, the stream's last
    /// error, the end of its log).
    /// The CLI's structured signal wins, except that a text naming a usage
    /// window or an auth failure says more than a bare 429 or 5xx; a
    /// structured limit with no reset takes the reset the text gives. When
    /// the CLI said the end was its own, no text is read.
    fn provider_signal(&self, slot: &Slot) -> Option<Signal> {
        let stream = slot.stream.as_deref();
        if stream.is_some_and(|s| s.not_provider) {
            return None;
        }
        let structured = stream.and_then(|s| s.limit.clone());
        let texts = self.text_signal(slot);
        match (structured, texts) {
            (
                Some(Signal::Limited { reset, window }),
                Some(Signal::Limited {
                    reset: r,
                    window: w,
                }),
            ) => Some(Signal::Limited {
                reset: reset.or(r),
                window: window.or(w),
            }),
            (
                Some(Signal::Throttled | Signal::Transient),
                Some(t @ (Signal::Limited { .. } | Signal::Auth)),
            ) => Some(t),
            (Some(s), _) => Some(s),
            (None, t) => t,
        }
    }

    /// What a failed agent's own error texts say about its provider.
    fn text_signal(&self, slot: &Slot) -> Option<Signal> {
        let stream = slot.stream.as_deref();
        let result = stream
            .and_then(|s| s.result.as_ref())
            .filter(|r| r.is_error)
            .map_or("", |r| r.message.as_str());
        let last = stream.and_then(|s| s.last_error.as_deref()).unwrap_or("");
        let tail = crate::report::live::tail_lines(&slot.info.log, 30).join("\n");
        self.limit_patterns
            .classify(&[result, last, &tail], SystemTime::now())
    }

    /// The idle timeout of a task's attempts, if any.
    pub(super) fn idle_timeout(&self, key: Key) -> Option<Duration> {
        self.options
            .idle_timeout
            .filter(|_| self.d.task(key).place.is_some())
    }

    /// Stops attempts that showed no sign of life for their idle timeout:
    /// nothing new in their log or stream, no progress line.
    pub(super) fn stop_idle(&mut self, now: Instant) {
        let mut idle = Vec::new();
        for (&attempt, s) in self.slots.iter_mut() {
            if s.agent_exit.is_some() || s.termination.is_some() {
                continue;
            }
            let log = std::fs::metadata(&s.info.log).map_or(0, |m| m.len());
            let streamed = s.info.streamed.load(std::sync::atomic::Ordering::Relaxed);
            let mark = log + streamed + s.progress_seen;
            if mark != s.alive_mark {
                s.alive_mark = mark;
                s.alive_at = now;
            }
            idle.push((attempt, s.key, now - s.alive_at));
        }
        for (attempt, key, quiet) in idle {
            if self.idle_timeout(key).is_some_and(|limit| quiet >= limit) {
                let actions = self.d.on_idle(attempt);
                self.perform(actions);
            }
        }
    }

    /// Records the end of an attempt and tells the dispatcher.
    pub(super) fn conclude(&mut self, attempt: AttemptId, slot: Slot, verdict: Verdict) {
        // Verified in its worktree: its work lands first, then it counts.
        if verdict == Verdict::Ok && slot.stop.is_none() && !slot.landed && self.isolated(slot.key)
        {
            self.hold_for_landing(attempt, slot);
            return;
        }
        let duration = slot.started.elapsed();
        let killed = slot.termination.as_ref().is_some_and(|k| k.killed)
            || slot.exited == Some(Exit::Signal(libc::SIGKILL));
        let (mut class, outcome, reason) = match (slot.stop, &verdict) {
            (Some(Stop::Cancelled), _) => (
                Class::Interrupted,
                TaskOutcome::Interrupted,
                Some(
                    if self.d.cancel() == Some(crate::run::dispatcher::Cancel::BudgetHard) {
                        "--max-cost-hard reached"
                    } else {
                        "interrupted"
                    }
                    .to_owned(),
                ),
            ),
            (Some(Stop::Removed), _) => (
                Class::Interrupted,
                TaskOutcome::Interrupted,
                Some("the task was removed from the file while it ran".to_owned()),
            ),
            (Some(Stop::Idle), _) => {
                let idle = self.idle_timeout(slot.key).unwrap_or_default();
                let r = format!(
                    "stalled: no output, event or progress line for {} (idle timeout)",
                    humanize(idle)
                );
                (Class::Failed, TaskOutcome::TimedOut, Some(r))
            }
            (Some(Stop::Timeout), _) => {
                let mut r = format!(
                    "timed out after {}",
                    humanize(slot.timeout.unwrap_or_default())
                );
                if killed {
                    r.push_str(&format!(
                        " and was killed after a {} grace period",
                        humanize(self.options.grace)
                    ));
                }
                (Class::Failed, TaskOutcome::TimedOut, Some(r))
            }
            (None, Verdict::Ok) => (Class::Succeeded, TaskOutcome::Succeeded, None),
            (None, Verdict::Failed(e)) => (Class::Failed, TaskOutcome::Failed, Some(e.clone())),
            (None, Verdict::Blocked(r)) => (Class::Blocked, TaskOutcome::Blocked, Some(r.clone())),
        };
        let stream = slot.stream.as_deref();
        // The agent failed: was it the provider rather than the task?
        let ran_on = slot.agent_exit.is_none()
            && class == Class::Failed
            && slot.stop.is_none()
            && slot.checkpoint_failure.is_none();
        if ran_on && let Some(signal) = self.provider_signal(&slot) {
            class = match signal {
                Signal::Limited { reset, window } => Class::Limited { reset, window },
                Signal::Throttled => Class::Throttled,
                // The API kept failing: after a few, the task's failure.
                Signal::Transient if self.d.transients_spent(attempt) => Class::Failed,
                Signal::Transient => Class::Transient,
                Signal::Auth => Class::Auth,
            };
        }
        // Its judge's provider refused to judge: not the task's failure.
        if class == Class::Failed
            && slot.stop.is_none()
            && let Some(refused) = slot.judge_refused
        {
            class = match refused {
                Class::Transient if self.d.transients_spent(attempt) => Class::Failed,
                other => other,
            };
        }
        let mut spend = None;
        if let Some(s) = stream {
            let (sp, warnings) = self.budget.spend_of(&slot.agent, s);
            for w in warnings {
                self.reporter.note(&w);
            }
            spend = Some(sp);
        }
        let session_id = stream.and_then(|s| s.session_id.clone());
        // Continued next time: stopped from outside, held back by its
        // provider, or the agent died without its final event, after its
        // session began.
        let held = matches!(
            class,
            Class::Limited { .. } | Class::Throttled | Class::Transient | Class::Auth
        );
        let resumable = slot.agent.can_resume()
            && session_id.is_some()
            && (matches!(outcome, TaskOutcome::Interrupted | TaskOutcome::TimedOut)
                || held
                || (ran_on && stream.is_some_and(|s| s.result.is_none())));
        let refused =
            slot.resumed.is_some() && ran_on && stream.is_some_and(|s| !s.session_started);
        let session_total = stream.filter(|_| !refused).and_then(|s| {
            let before = (slot.resumed.as_ref())
                .filter(|r| Some(&r.session_id) == s.session_id.as_ref())
                .map(|r| r.baseline);
            (s.session_usage.is_some() || s.session_cost_usd.is_some() || before.is_some()).then(
                || stream::Baseline {
                    usage: (s.session_usage)
                        .or(before.map(|b| b.usage))
                        .unwrap_or_default(),
                    cost_usd: s.session_cost_usd.or(before.and_then(|b| b.cost_usd)),
                },
            )
        });
        let history = self.history.entry(slot.key).or_default();
        let flaky = class == Class::Succeeded && history.failed_before;
        if class == Class::Failed {
            history.failed_before = true;
        }
        let tidied = class == Class::Succeeded && slot.info.tidy_after_success(&self.spares);
        self.emit(Event::TaskFinished {
            task: slot.task_id.clone(),
            attempt: slot.number,
            outcome: outcome.clone(),
            class: class.name(),
            flaky,
            exit: slot.agent_exit.or(slot.exited),
            reason: reason.clone(),
            duration_secs: duration.as_secs_f64(),
            log: (!tidied).then(|| slot.info.log.clone()),
            agent: slot.agent.name.clone(),
            session_id: session_id.clone(),
            spend,
            resumable,
            session_total,
        });
        if let Some(spend) = &spend {
            self.budget.add(&slot.task_id, spend);
        }
        let history = self.history.entry(slot.key).or_default();
        history.resume = match (resumable, session_id) {
            (true, Some(session_id)) => Some(Resume {
                session_id,
                agent: slot.agent.name.clone(),
                baseline: session_total.unwrap_or_default(),
                reason: reason.clone().unwrap_or_default(),
                progress: resume::read_progress(&slot.info.progress),
                log: Some(slot.info.log.clone()),
            }),
            _ => None,
        };
        if refused && self.d.cancel().is_none() {
            // The CLI would not continue the session: start afresh at once,
            // telling the new attempt what the interrupted one had done.
            let earlier = slot.resumed.as_ref().expect("refused a resume");
            let why = first_line(reason.as_deref().unwrap_or("refused")).to_owned();
            history.previous = Some(match &earlier.log {
                Some(log) => resume::previous(&earlier.reason, log),
                None => Previous {
                    reason: earlier.reason.clone(),
                    ..Previous::default()
                },
            });
            self.emit(Event::TaskResumeRefused {
                task: slot.task_id.clone(),
                session_id: earlier.session_id.clone(),
                reason: why,
            });
            class = Class::Refused;
        }
        self.ended(
            attempt,
            slot.key,
            &slot.task_id,
            class,
            reason,
            &slot.info.log,
        );
    }

    /// Tells the dispatcher how an attempt ended, and the budget what it
    /// means.
    pub(super) fn ended(
        &mut self,
        attempt: AttemptId,
        key: Key,
        task_id: &str,
        class: Class,
        reason: Option<String>,
        log: &Path,
    ) {
        let failed = matches!(class, Class::Failed | Class::Blocked);
        // An auth failure stops its provider for the run: show why.
        let auth = class == Class::Auth;
        let history = self.history.entry(key).or_default();
        history.last_failure = match (&class, &reason) {
            (Class::Succeeded | Class::Interrupted, _) | (_, None) => None,
            (_, Some(r)) => Some(resume::previous(r, log)),
        };
        // Spent before it ends: a reached budget leaves no retry.
        if let Some((max, spent)) = self.budget.reached() {
            let again = class != Class::Succeeded;
            let message = format!(
                "--max-cost ${max:.2} reached (spent ${spent:.4}): starting nothing new{}",
                match self.slots.len() {
                    0 => String::new(),
                    1 => "; the running task may finish".to_owned(),
                    n => format!("; the {n} running tasks may finish"),
                }
            );
            let actions = self.d.on_budget(again, message);
            self.perform(actions);
        }
        if self.options.max_cost_hard.is_some() {
            self.check_live_budget();
        }
        self.show_running_spend();
        let actions = self
            .d
            .on_end(attempt, class, reason.as_deref(), Instant::now());
        self.perform(actions);
        if auth
            || failed
                && self.d.task(key).place.is_some_and(|t| {
                    self.d.schedule_state(t) == crate::run::scheduler::State::Failed
                })
        {
            self.reporter.failure_tail(task_id, log);
        }
    }
}

/// Of two reasons to stop an attempt, the one that says most.
pub(super) fn stronger(old: Stop, new: Stop) -> Stop {
    match (old, new) {
        (Stop::Removed, _) | (_, Stop::Removed) => Stop::Removed,
        (Stop::Cancelled, _) | (_, Stop::Cancelled) => Stop::Cancelled,
        _ => Stop::Timeout,
    }
}

/// What an attempt's `escalate` hints changed, for `task_started` and the
/// view: `agent claude --model opus, timeout 40m`; None when none applies.
fn escalation_note(settings: &crate::plan::Settings, number: u32) -> Option<String> {
    let mut agent = None;
    let mut timeout = None;
    for e in settings.escalate.iter().filter(|e| e.from <= number) {
        agent = e.agent.as_deref().or(agent);
        timeout = e.timeout.or(timeout);
    }
    let mut parts = Vec::new();
    if let Some(a) = agent {
        parts.push(format!("agent {a}"));
    }
    if let Some(t) = timeout {
        parts.push(format!("timeout {}", humanize(t)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}
