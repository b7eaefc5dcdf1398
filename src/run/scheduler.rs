//! Deciding what may start: waves in order (or, for a module that follows
//! a track, its track's module in the wave before), dependencies done,
//! within `-j` and every group's limit, in document order.
//!
//! Takes the plan and each task's state; hands on the next task to start, one
//! at a time. A ready set, not a scan: every change (a task done, failed,
//! retried) costs in proportion to the tasks it touches, so a run of 100,000
//! tasks decides in linear time. Pure: no processes, no clocks, no I/O.

mod prepared;

use std::collections::BTreeSet;

use crate::plan::Plan;
use crate::run::claims::Claims;

pub use prepared::Prepared;

/// Where a task stands in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Waiting,
    Running,
    /// Failed; another attempt will come (when is the dispatcher's business).
    Retrying,
    Succeeded,
    Failed,
    /// Waits for a task that failed; will not start in this run.
    Blocked,
}

/// The run's view of which tasks may start, kept up to date one change at a
/// time.
pub struct Schedule {
    keep_going: bool,
    state: Vec<State>,
    /// Done for the schedule: succeeded, or ticked in the file (and not ours
    /// to decide), or an optional task left out.
    done: Vec<bool>,
    wave: Vec<usize>,
    /// Per task: waits for every earlier wave (false for a module that
    /// follows a track, and for every task under `order: graph`: their
    /// edges say what they wait for).
    gated: Vec<bool>,
    /// Per wave: its runnable tasks, in document order.
    wave_tasks: Vec<Vec<usize>>,
    groups: Vec<Vec<usize>>,
    limits: Vec<usize>,
    deps: Vec<Vec<usize>>,
    /// Per task: the targets that hold it.
    holders: Vec<Vec<usize>>,
    /// Per target: its leaves not done yet, and a failed or blocked leaf.
    target_left: Vec<usize>,
    target_bad: Vec<Option<usize>>,
    /// Per target: the tasks that wait for it.
    dependents: Vec<Vec<usize>>,
    /// Per task: targets not done yet.
    unmet: Vec<usize>,
    /// Per wave: tasks that hold it open.
    wave_left: Vec<usize>,
    /// The first wave with work left; later waves wait for it.
    open_wave: usize,
    /// Waiting tasks of the open wave whose dependencies are done.
    ready: BTreeSet<usize>,
    /// Ready tasks set aside while a group of theirs is full.
    parked: Vec<Vec<usize>>,
    in_group: Vec<usize>,
    running: usize,
    retrying: usize,
    /// Failed or blocked tasks whose dependents are still to be blocked.
    spreading: Vec<usize>,
    /// Tasks blocked since the caller last asked.
    newly_blocked: Vec<(usize, usize)>,
    /// Files running tasks claim, when any task claims one.
    claims: Option<Claims>,
    /// Ready tasks set aside while a running task claims one of their
    /// files; they are ready again when a claim is given back.
    aside: Vec<usize>,
    /// Groups from this index on are pools (one per provider): their limits
    /// change during the run (`set_pool_limit`).
    pool_base: usize,
}

/// Groups whose limit changes during a run: one per provider (an agent CLI
/// or an account), closed while it waits for a usage limit, halved while it
/// is throttled, one at a time while it ramps up.
pub struct Pools<'a> {
    /// Each pool's limit to start with.
    pub limits: &'a [usize],
    /// The pool of each task (a plan index), if any.
    pub of: &'a dyn Fn(usize) -> Option<usize>,
}

impl Pools<'_> {
    pub const NONE: Pools<'static> = Pools {
        limits: &[],
        of: &|_| None,
    };
}

impl Schedule {
    /// The schedule for `plan`, with each task's state in this run; `owed`
    /// tasks' boxes are about to be cleared, so a tick in the file does not
    /// count for them.
    pub fn new(
        plan: &Plan,
        prep: &Prepared,
        state_of: impl Fn(usize) -> State,
        owed: impl Fn(usize) -> bool,
        keep_going: bool,
        pools: &Pools,
    ) -> Schedule {
        let n = plan.doc.tasks.len();
        let waves = plan.waves.len().max(1);
        let pool_base = prep.limits.len();
        let mut limits = prep.limits.clone();
        limits.extend_from_slice(pools.limits);
        let groups = (0..plan.tasks.len())
            .map(|t| {
                let mut g = plan.groups_of(t).to_vec();
                g.extend((pools.of)(t).map(|pool| pool_base + pool));
                g
            })
            .collect();
        let mut s = Schedule {
            keep_going,
            state: vec![State::Waiting; n],
            done: vec![false; n],
            wave: plan
                .tasks
                .iter()
                .map(crate::plan::PlannedTask::wave)
                .collect(),
            gated: (0..n)
                .map(|t| plan.tracks.waits_for_waves(&plan.doc, t))
                .collect(),
            wave_tasks: vec![Vec::new(); waves],
            groups,
            deps: prep.deps.clone(),
            holders: vec![Vec::new(); n],
            target_left: vec![0; prep.targets.len()],
            target_bad: vec![None; prep.targets.len()],
            dependents: vec![Vec::new(); prep.targets.len()],
            unmet: vec![0; n],
            wave_left: vec![0; waves],
            open_wave: 0,
            ready: BTreeSet::new(),
            parked: vec![Vec::new(); limits.len()],
            in_group: vec![0; limits.len()],
            limits,
            pool_base,
            running: 0,
            retrying: 0,
            spreading: Vec::new(),
            newly_blocked: Vec::new(),
            claims: Claims::new(plan),
            aside: Vec::new(),
        };
        for &t in &prep.runnable {
            s.state[t] = state_of(t);
            s.done[t] = match s.state[t] {
                State::Succeeded => true,
                State::Running | State::Retrying => false,
                _ => !owed(t) && (plan.is_done(t) || plan.skipped(t)),
            };
            s.wave_tasks[s.wave[t]].push(t);
        }
        for (k, leaves) in prep.targets.iter().enumerate() {
            for &l in leaves {
                s.holders[l].push(k);
                if !s.done[l] {
                    s.target_left[k] += 1;
                }
                if s.bad(l) && s.target_bad[k].is_none() {
                    s.target_bad[k] = Some(l);
                }
            }
        }
        for &t in &prep.runnable {
            for &k in &prep.deps[t] {
                s.dependents[k].push(t);
                if s.target_left[k] > 0 {
                    s.unmet[t] += 1;
                }
            }
            if s.holds_wave(t) {
                s.wave_left[s.wave[t]] += 1;
            }
            match s.state[t] {
                State::Running => {
                    s.running += 1;
                    for &g in &s.groups[t] {
                        s.in_group[g] += 1;
                    }
                    if let Some(c) = &mut s.claims {
                        c.take(t);
                    }
                }
                State::Retrying => s.retrying += 1,
                _ => {}
            }
        }
        s.open_wave = (0..waves).find(|&w| s.wave_left[w] > 0).unwrap_or(waves);
        s.open_current();
        // Tasks free of the wave order are settled once here, then by their
        // dependencies alone.
        for &t in &prep.runnable {
            if !s.gated[t] {
                s.settle(t);
            }
        }
        s.advance();
        s
    }

    pub fn state(&self, t: usize) -> State {
        self.state[t]
    }

    /// Whether `t` counts as done: succeeded, or ticked in the file.
    pub fn is_done(&self, t: usize) -> bool {
        self.done[t]
    }

    pub fn running(&self) -> usize {
        self.running
    }

    /// The first wave with work left (the number of waves once all are done).
    pub fn open_wave(&self) -> usize {
        self.open_wave
    }

    /// The next task to start within `jobs`, now marked running; tasks in
    /// document order, skipping those whose group is full.
    pub fn next(&mut self, jobs: usize) -> Option<usize> {
        if self.running >= jobs {
            return None;
        }
        while let Some(t) = self.ready.pop_first() {
            // Set aside or parked earlier, and settled since.
            if self.state[t] != State::Waiting || self.done[t] {
                continue;
            }
            if let Some(&g) = (self.groups[t].iter()).find(|&&g| self.in_group[g] >= self.limits[g])
            {
                self.parked[g].push(t);
                continue;
            }
            if let Some(c) = &mut self.claims {
                if c.clashes(t) {
                    self.aside.push(t);
                    continue;
                }
                c.take(t);
            }
            self.state[t] = State::Running;
            self.running += 1;
            for &g in &self.groups[t] {
                self.in_group[g] += 1;
            }
            return Some(t);
        }
        None
    }

    /// Nothing runs, nothing waits for a retry, and nothing can start.
    /// Tasks held back by a closed pool are not finished.
    pub fn finished(&self) -> bool {
        self.running == 0
            && self.retrying == 0
            && self.ready.is_empty()
            && self.aside.is_empty()
            && self.parked.iter().all(Vec::is_empty)
    }

    /// As `finished`, where tasks held back by a pool `dead` says will never
    /// open again (a provider stopped by an auth failure) do not count.
    pub fn finished_but(&self, dead: impl Fn(usize) -> bool) -> bool {
        self.running == 0
            && self.retrying == 0
            && self.ready.is_empty()
            && self.aside.is_empty()
            && (self.parked.iter().enumerate())
                .all(|(g, p)| p.is_empty() || g >= self.pool_base && dead(g - self.pool_base))
    }

    /// Sets a pool's limit; raising it lets the tasks it held back start.
    pub fn set_pool_limit(&mut self, pool: usize, limit: usize) {
        let g = self.pool_base + pool;
        let raised = limit > self.limits[g];
        self.limits[g] = limit;
        if raised {
            let parked = std::mem::take(&mut self.parked[g]);
            self.ready.extend(parked);
        }
    }

    /// Tasks of a pool running now.
    pub fn pool_running(&self, pool: usize) -> usize {
        self.in_group[self.pool_base + pool]
    }

    /// Whether tasks of a pool are ready but held back by its limit.
    pub fn pool_held(&self, pool: usize) -> bool {
        !self.parked[self.pool_base + pool].is_empty()
    }

    /// Tasks that became blocked since the last call, with the failed task
    /// each waits for.
    pub fn take_blocked(&mut self) -> Vec<(usize, usize)> {
        std::mem::take(&mut self.newly_blocked)
    }

    pub fn succeeded(&mut self, t: usize) {
        self.leave(t, State::Succeeded);
        self.advance();
    }

    /// Failed for good: blocks what waits for it.
    pub fn failed(&mut self, t: usize) {
        self.leave(t, State::Failed);
        self.advance();
    }

    /// Failed, with another attempt to come: not done, and no slot held.
    pub fn retrying(&mut self, t: usize) {
        if self.state[t] == State::Running {
            self.release(t);
            self.state[t] = State::Retrying;
            self.retrying += 1;
        }
    }

    /// A retry's time has come, or a running task must start again later.
    pub fn again(&mut self, t: usize) {
        match self.state[t] {
            State::Retrying => self.retrying -= 1,
            State::Running => self.release(t),
            _ => return,
        }
        self.state[t] = State::Waiting;
        if self.unmet[t] == 0 && self.may_open(t) {
            self.ready.insert(t);
        }
    }

    /// Frees a running task's slot and its groups' places (parked tasks of
    /// those groups may start again).
    fn release(&mut self, t: usize) {
        self.running -= 1;
        if let Some(c) = &mut self.claims
            && c.give_back(t)
        {
            let aside = std::mem::take(&mut self.aside);
            self.ready.extend(aside);
        }
        for i in 0..self.groups[t].len() {
            let g = self.groups[t][i];
            self.in_group[g] -= 1;
            let parked = std::mem::take(&mut self.parked[g]);
            self.ready.extend(parked);
        }
    }

    fn bad(&self, t: usize) -> bool {
        matches!(self.state[t], State::Failed | State::Blocked)
    }

    /// Whether `t` keeps its wave open: not done, and (with --keep-going)
    /// not failed or blocked.
    fn holds_wave(&self, t: usize) -> bool {
        !(self.done[t] || self.keep_going && self.bad(t))
    }

    /// `t` leaves the running, retrying or waiting set as succeeded, failed
    /// or blocked. What follows from it is settled by `advance`.
    fn leave(&mut self, t: usize, to: State) {
        let held = self.holds_wave(t);
        match self.state[t] {
            State::Running => self.release(t),
            State::Retrying => self.retrying -= 1,
            _ => {
                self.ready.remove(&t);
            }
        }
        self.state[t] = to;
        if to == State::Succeeded {
            self.mark_done(t);
        }
        if held && !self.holds_wave(t) {
            self.wave_left[self.wave[t]] -= 1;
        }
        if self.bad(t) {
            self.spreading.push(t);
        }
    }

    /// `t` now counts as done: the targets holding it move on.
    fn mark_done(&mut self, t: usize) {
        if std::mem::replace(&mut self.done[t], true) {
            return;
        }
        for i in 0..self.holders[t].len() {
            let k = self.holders[t][i];
            self.target_left[k] -= 1;
            if self.target_left[k] > 0 {
                continue;
            }
            for j in 0..self.dependents[k].len() {
                let d = self.dependents[k][j];
                self.unmet[d] -= 1;
                if self.unmet[d] == 0
                    && self.state[d] == State::Waiting
                    && !self.done[d]
                    && self.may_open(d)
                {
                    self.ready.insert(d);
                }
            }
        }
    }

    /// Settles what the last change set off, without recursion (a plan may
    /// have 100,000 waves): blocks what waits for failed tasks, and opens the
    /// next waves while the open one has nothing left.
    fn advance(&mut self) {
        loop {
            while let Some(b) = self.spreading.pop() {
                self.spread_bad(b);
            }
            let waves = self.wave_left.len();
            if self.open_wave < waves && self.wave_left[self.open_wave] == 0 {
                self.open_wave += 1;
                if self.open_wave < waves {
                    self.open_current();
                }
                continue;
            }
            break;
        }
    }

    /// The open wave's waiting tasks with their dependencies done are ready;
    /// those waiting for a failed task are blocked.
    fn open_current(&mut self) {
        let Some(tasks) = self.wave_tasks.get(self.open_wave) else {
            return;
        };
        for i in 0..tasks.len() {
            let t = self.wave_tasks[self.open_wave][i];
            if self.gated[t] {
                self.settle(t);
            }
        }
    }

    /// A waiting task whose wave allows it: blocked if it waits for a
    /// failed task, ready if its dependencies are done.
    fn settle(&mut self, t: usize) {
        if self.state[t] != State::Waiting || self.done[t] {
            return;
        }
        if let Some(by) = self.deps[t].iter().find_map(|&k| self.target_bad[k]) {
            self.newly_blocked.push((t, by));
            self.leave(t, State::Blocked);
        } else if self.unmet[t] == 0 {
            self.ready.insert(t);
        }
    }

    /// Whether the wave order lets `t` start: its wave is open, or it
    /// follows a track (or the plan's graph) instead.
    fn may_open(&self, t: usize) -> bool {
        !self.gated[t] || self.wave[t] == self.open_wave
    }

    /// `b` failed or was blocked: tasks waiting for it in the open wave (or
    /// in any wave, with --keep-going), and those free of the wave order
    /// (a failure stays in its track), are blocked in turn.
    fn spread_bad(&mut self, b: usize) {
        for i in 0..self.holders[b].len() {
            let k = self.holders[b][i];
            if self.target_bad[k].is_some() {
                continue;
            }
            self.target_bad[k] = Some(b);
            for j in 0..self.dependents[k].len() {
                let d = self.dependents[k][j];
                if self.state[d] == State::Waiting
                    && !self.done[d]
                    && (self.keep_going || self.may_open(d))
                {
                    self.newly_blocked.push((d, b));
                    self.leave(d, State::Blocked);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
