//! Choosing a session's challenge: which actions, in which order.
//!
//! Pure apart from the random source, which the caller passes: the server uses the OS-seeded
//! thread generator (`rand::rng()`), tests may pass a seeded one. The order must not be
//! predictable, or a replayed recording of the usual order would pass.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::actions::ActionKind;

/// Why no challenge could be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// A challenge needs at least one step.
    #[error("a challenge needs at least one step")]
    NoSteps,
    /// More steps asked for than distinct actions in the pool.
    #[error("cannot choose {count} distinct actions from a pool of {pool}")]
    PoolTooSmall {
        /// Steps asked for.
        count: usize,
        /// Distinct actions in the pool.
        pool: usize,
    },
    /// The pool holds an action no challenge may ask for (`eyes_closed`).
    #[error("{0} is not a challenge action")]
    NotAChallengeAction(&'static str),
}

/// `count` distinct actions of `pool`, in random order.
///
/// A pool listing an action twice counts it once. Two opposite turns may follow each other: the
/// detectors measure each step from the person's own baseline, so that is a fair request.
pub fn choose_steps(
    pool: &[ActionKind],
    count: usize,
    rng: &mut impl Rng,
) -> Result<Vec<ActionKind>, ChallengeError> {
    if let Some(kind) = pool.iter().find(|k| !ActionKind::CHALLENGE.contains(k)) {
        return Err(ChallengeError::NotAChallengeAction(kind.as_str()));
    }
    if count == 0 {
        return Err(ChallengeError::NoSteps);
    }
    let mut distinct: Vec<ActionKind> = Vec::with_capacity(pool.len());
    for kind in pool {
        if !distinct.contains(kind) {
            distinct.push(*kind);
        }
    }
    if count > distinct.len() {
        return Err(ChallengeError::PoolTooSmall {
            count,
            pool: distinct.len(),
        });
    }
    // A full shuffle, then the first `count`: every ordered choice is equally likely.
    distinct.shuffle(rng);
    distinct.truncate(count);
    Ok(distinct)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_order_of_a_full_pool_shows_up() {
        let pool = [
            ActionKind::Blink,
            ActionKind::TurnLeft,
            ActionKind::MouthOpen,
        ];
        let mut rng = rand::rng();
        let seen: HashSet<Vec<ActionKind>> = (0..600)
            .map(|_| choose_steps(&pool, 3, &mut rng).expect("valid request"))
            .collect();
        // 6 orders, 600 draws: the chance that a fair draw misses one is below 1e-40.
        assert_eq!(seen.len(), 6, "orders seen: {seen:?}");
    }

    #[test]
    fn steps_are_distinct_members_of_the_pool() {
        let pool = ActionKind::CHALLENGE;
        let mut rng = rand::rng();
        let mut first_steps = HashSet::new();
        for _ in 0..300 {
            let steps = choose_steps(&pool, 2, &mut rng).expect("valid request");
            assert_eq!(steps.len(), 2);
            assert_ne!(steps[0], steps[1]);
            assert!(steps.iter().all(|s| pool.contains(s)));
            first_steps.insert(steps[0]);
        }
        assert_eq!(first_steps.len(), pool.len(), "every action can come first");
    }

    #[test]
    fn a_repeated_action_in_the_pool_counts_once() {
        let pool = [ActionKind::Nod, ActionKind::Nod, ActionKind::Blink];
        let mut rng = rand::rng();
        let steps = choose_steps(&pool, 2, &mut rng).expect("two distinct actions");
        assert!(steps.contains(&ActionKind::Nod) && steps.contains(&ActionKind::Blink));
        assert_eq!(
            choose_steps(&pool, 3, &mut rng),
            Err(ChallengeError::PoolTooSmall { count: 3, pool: 2 })
        );
    }

    #[test]
    fn impossible_requests_are_refused() {
        let mut rng = rand::rng();
        assert_eq!(
            choose_steps(&ActionKind::CHALLENGE, 0, &mut rng),
            Err(ChallengeError::NoSteps)
        );
        assert_eq!(
            choose_steps(&ActionKind::CHALLENGE, 7, &mut rng),
            Err(ChallengeError::PoolTooSmall { count: 7, pool: 6 })
        );
        assert_eq!(
            choose_steps(&[], 1, &mut rng),
            Err(ChallengeError::PoolTooSmall { count: 1, pool: 0 })
        );
        let err = choose_steps(&[ActionKind::Blink, ActionKind::EyesClosed], 1, &mut rng)
            .expect_err("eyes_closed is never a step");
        assert_eq!(err, ChallengeError::NotAChallengeAction("eyes_closed"));
        assert_eq!(err.to_string(), "eyes_closed is not a challenge action");
    }
}
