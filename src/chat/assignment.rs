//! Who gets a new conversation: a pure function of the candidates, so every
//! strategy is unit-tested and more can be added by configuration.

use rand::Rng;

use crate::domain::AgentId;

pub use crate::domain::Strategy;

/// An agent who may receive new conversations, with its current number of open ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub agent: AgentId,
    pub load: usize,
}

pub fn pick(strategy: Strategy, candidates: &[Candidate], rng: &mut impl Rng) -> Option<AgentId> {
    if candidates.is_empty() {
        return None;
    }
    let pool: Vec<&Candidate> = match strategy {
        Strategy::Random => candidates.iter().collect(),
        Strategy::LeastLoaded => {
            let min = candidates.iter().map(|c| c.load).min()?;
            candidates.iter().filter(|c| c.load == min).collect()
        }
    };
    Some(pool[rng.random_range(0..pool.len())].agent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};
    use std::collections::HashMap;

    fn c(id: i64, load: usize) -> Candidate {
        Candidate {
            agent: AgentId(id),
            load,
        }
    }

    #[test]
    fn nobody_online_means_nobody() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(pick(Strategy::Random, &[], &mut rng), None);
        assert_eq!(pick(Strategy::LeastLoaded, &[], &mut rng), None);
    }

    #[test]
    fn random_spreads_over_every_candidate() {
        let mut rng = StdRng::seed_from_u64(7);
        let cands = [c(1, 9), c(2, 0), c(3, 4)];
        let mut seen: HashMap<AgentId, usize> = HashMap::new();
        for _ in 0..3000 {
            *seen
                .entry(pick(Strategy::Random, &cands, &mut rng).unwrap())
                .or_default() += 1;
        }
        assert_eq!(seen.len(), 3);
        assert!(seen.values().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn least_loaded_picks_among_the_least_loaded_only() {
        let mut rng = StdRng::seed_from_u64(3);
        let cands = [c(1, 2), c(2, 0), c(3, 0), c(4, 5)];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            seen.insert(pick(Strategy::LeastLoaded, &cands, &mut rng).unwrap());
        }
        assert_eq!(seen, [AgentId(2), AgentId(3)].into_iter().collect());
    }
}
