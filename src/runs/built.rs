//! Agents built for runs, kept while the database's count of agent changes stands: a turn
//! whose input was saved at that count neither reads its agent's rows nor builds the agent
//! again (opening its sealed key, parsing its lists), which was a tenth of a turn's work.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::store::AgentChanges;

/// What was built at the newest count seen, by agent id.
pub(super) struct Built<T> {
    kept: Mutex<Kept<T>>,
}

struct Kept<T> {
    changes: Option<AgentChanges>,
    agents: HashMap<String, T>,
}

impl<T: Clone> Built<T> {
    pub(super) fn new() -> Self {
        Built {
            kept: Mutex::new(Kept {
                changes: None,
                agents: HashMap::new(),
            }),
        }
    }

    /// Agent `id` as built from rows read at `changes` or later, if it is kept.
    pub(super) fn get(&self, id: &str, changes: AgentChanges) -> Option<T> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.changes != Some(changes) {
            return None;
        }
        kept.agents.get(id).cloned()
    }

    /// Keeps agent `id` built from rows read at `changes` or later. A newer count drops all
    /// that was kept (any of it may have changed); an older one is not kept.
    pub(super) fn keep(&self, changes: AgentChanges, id: &str, built: T) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        match kept.changes {
            Some(newest) if newest > changes => return,
            Some(newest) if newest == changes => {}
            _ => {
                kept.agents.clear();
                kept.changes = Some(changes);
            }
        }
        kept.agents.insert(id.to_owned(), built);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_used_again_only_at_the_count_it_was_built_at() {
        let built = Built::new();
        assert_eq!(built.get("a", AgentChanges(3)), None);
        built.keep(AgentChanges(3), "a", "a at 3");
        built.keep(AgentChanges(3), "b", "b at 3");
        assert_eq!(built.get("a", AgentChanges(3)), Some("a at 3"));
        assert_eq!(built.get("b", AgentChanges(3)), Some("b at 3"));
        // A turn saved after a change, or before the kept count, builds its own.
        assert_eq!(built.get("a", AgentChanges(4)), None);
        assert_eq!(built.get("a", AgentChanges(2)), None);
        // What was built at an older count is not kept over newer.
        built.keep(AgentChanges(2), "a", "a at 2");
        assert_eq!(built.get("a", AgentChanges(3)), Some("a at 3"));
        // A newer count drops every agent kept before it.
        built.keep(AgentChanges(4), "a", "a at 4");
        assert_eq!(built.get("a", AgentChanges(4)), Some("a at 4"));
        assert_eq!(built.get("b", AgentChanges(4)), None);
        assert_eq!(built.get("b", AgentChanges(3)), None);
    }
}
