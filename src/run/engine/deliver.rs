//! Live delivery: handoff messages (and `then=tell` checkpoint output, which
//! is posted as one) addressed to a running task whose agent takes messages
//! on stdin (`run::inbox`, Claude) are sent to it as user messages while it
//! works. Each is sent once per attempt; those posted before the attempt
//! started are in its prompt already. They are all in later prompts too
//! (retry and resume): Claude keeps no message sent mid-turn in its session.

use super::*;
use crate::record::handoff::Message;

impl Engine {
    /// Sends each running attempt the messages for it posted since it
    /// started (or since the last delivery).
    pub(super) fn deliver_live(&mut self) {
        let mut sent = Vec::new();
        for (&attempt, s) in &self.slots {
            let Some(inbox) = s.info.inbox.as_ref().filter(|i| i.is_open()) else {
                continue;
            };
            if s.agent_exit.is_some() || s.exited.is_some() {
                continue;
            }
            let Some(t) = self.d.task(s.key).place else {
                continue;
            };
            for m in self.messages_for(t) {
                if m.id <= s.messages_seen {
                    continue;
                }
                if inbox.send(&live_text(&m)) {
                    sent.push((attempt, m.id.clone(), s.task_id.clone(), s.number));
                }
            }
        }
        for (attempt, id, task, number) in sent {
            if let Some(s) = self.slots.get_mut(&attempt)
                && id > s.messages_seen
            {
                s.messages_seen.clone_from(&id);
            }
            self.emit(Event::HandoffDelivered {
                id,
                task,
                attempt: number,
            });
        }
    }
}

/// A message as the agent reads it mid-task.
fn live_text(m: &Message) -> String {
    format!(
        "A message for you from `{}` ({}, {}), posted while you work on your task:\n\n{}\n\nTake it into account and carry on with your task.",
        m.from,
        m.kind.name(),
        m.time,
        m.text
    )
}
