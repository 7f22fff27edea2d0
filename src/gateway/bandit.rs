//! The `thompson` routing mode (seed 002 "contextual bandit reward logs"): per model and
//! input-size bucket, a Beta posterior over the reward of routing there. Each request draws
//! from every candidate's posterior and tries them best draw first; the answer (or the
//! failure) is a reward in [0, 1] that updates the posterior of the model that was tried.
//!
//! The rules: every reward is logged with the probability the tried model had of being drawn
//! first (a Monte Carlo estimate at routing time), so a policy can be evaluated offline
//! (inverse propensity); the posterior and its reward row are written in one transaction,
//! in the order the updates happened (the row carries the posterior as it is then).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand_distr::{Beta, Distribution};

use super::route::ModelEntry;
use crate::store::gateway::{CatalogStore, Posterior, RewardRow};
use crate::store::time::{new_id, now};

/// Draws of the Monte Carlo estimate of each candidate's chance to be drawn first.
const DRAWS: usize = 256;
/// Latency at which the latency part of a reward reaches 0.
const SLOW_MS: f64 = 10_000.0;

/// The input-size bucket (the context of the bandit): xs < 500 tokens, s < 2,000, m < 8,000.
pub fn bucket_of(input_tokens: usize) -> &'static str {
    match input_tokens {
        0..500 => "xs",
        500..2_000 => "s",
        2_000..8_000 => "m",
        _ => "l",
    }
}

/// How one attempt went.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub success: bool,
    pub latency_ms: f64,
    pub cost_usd: f64,
    /// What the request would cost on the strongest model (the cost scale); 0: unknown.
    pub baseline_usd: f64,
}

impl Outcome {
    /// 0 for a failure; an answer earns 0.5, plus up to 0.25 for speed and 0.25 for thrift.
    pub fn reward(&self) -> f64 {
        if !self.success {
            return 0.0;
        }
        let speed = 1.0 - (self.latency_ms / SLOW_MS).clamp(0.0, 1.0);
        let thrift = if self.baseline_usd > 0.0 {
            1.0 - (self.cost_usd / self.baseline_usd).clamp(0.0, 1.0)
        } else {
            1.0
        };
        0.5 + 0.25 * speed + 0.25 * thrift
    }
}

/// The draw a request routed by: its bucket and each candidate's chance to be first.
#[derive(Debug, Clone, Default)]
pub struct Draw {
    pub bucket: &'static str,
    pub probabilities: HashMap<String, f64>,
}

/// How a `thompson` reply was picked: what a later rating of it rewards.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pick {
    pub bucket: String,
    /// The chance the model had of being drawn first.
    pub probability: f64,
}

pub struct Bandit {
    beliefs: Mutex<HashMap<(String, String), (f64, f64)>>,
    /// Serializes the writes so the stored posterior is always the latest.
    writes: tokio::sync::Mutex<()>,
    store: Arc<dyn CatalogStore>,
}

fn sample(alpha: f64, beta: f64, rng: &mut impl rand::Rng) -> f64 {
    Beta::new(alpha, beta).map_or(0.5, |d| d.sample(rng))
}

impl Bandit {
    /// The posteriors stored so far.
    pub async fn open(store: Arc<dyn CatalogStore>) -> anyhow::Result<Self> {
        let beliefs = store
            .posteriors()
            .await?
            .into_iter()
            .map(|p| ((p.model, p.bucket), (p.alpha, p.beta)))
            .collect();
        Ok(Self {
            beliefs: Mutex::new(beliefs),
            writes: tokio::sync::Mutex::new(()),
            store,
        })
    }

    /// Beta(1, 1) for a model never rewarded in `bucket`.
    pub fn posterior(&self, model: &str, bucket: &str) -> (f64, f64) {
        let beliefs = self.beliefs.lock().unwrap_or_else(|p| p.into_inner());
        beliefs
            .get(&(model.to_string(), bucket.to_string()))
            .copied()
            .unwrap_or((1.0, 1.0))
    }

    /// Each candidate's chance to be drawn first (estimated over [`DRAWS`] draws).
    pub fn chances(&self, candidates: &[&ModelEntry], bucket: &'static str) -> Draw {
        let params: Vec<(f64, f64)> = candidates
            .iter()
            .map(|m| self.posterior(&m.name, bucket))
            .collect();
        let mut wins = vec![0usize; candidates.len()];
        let mut rng = rand::thread_rng();
        for _ in 0..DRAWS {
            let best = params
                .iter()
                .map(|(a, b)| sample(*a, *b, &mut rng))
                .enumerate()
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(i, _)| i);
            if let Some(i) = best {
                wins[i] += 1;
            }
        }
        Draw {
            bucket,
            probabilities: candidates
                .iter()
                .zip(wins)
                .map(|(m, w)| (m.name.clone(), w as f64 / DRAWS as f64))
                .collect(),
        }
    }

    /// Orders `candidates` by one draw from each posterior, best first.
    pub fn order(&self, candidates: &mut Vec<&ModelEntry>, input_tokens: usize) -> Draw {
        let bucket = bucket_of(input_tokens);
        let draw = self.chances(candidates, bucket);
        let mut rng = rand::thread_rng();
        let mut drawn: Vec<(f64, &ModelEntry)> = candidates
            .iter()
            .map(|m| {
                let (a, b) = self.posterior(&m.name, bucket);
                (sample(a, b, &mut rng), *m)
            })
            .collect();
        drawn.sort_by(|x, y| y.0.total_cmp(&x.0));
        *candidates = drawn.into_iter().map(|(_, m)| m).collect();
        draw
    }

    /// Rewards `model` for one attempt of a request routed by `draw`, and logs it.
    pub async fn reward(&self, model: &str, draw: &Draw, outcome: Outcome) -> anyhow::Result<()> {
        self.update(RewardRow {
            id: new_id(),
            model: model.to_string(),
            bucket: draw.bucket.to_string(),
            probability: draw.probabilities.get(model).copied().unwrap_or(0.0),
            reward: outcome.reward(),
            success: outcome.success,
            latency_ms: outcome.latency_ms,
            cost_usd: outcome.cost_usd,
            source: "route".into(),
            created_at: now(),
        })
        .await
    }

    /// Rewards the model that served a reply someone rated (`rating` -5 to 5, read as a
    /// reward of 0 to 1), in the bucket and with the probability it was routed by.
    pub async fn feedback(&self, model: &str, pick: &Pick, rating: f64) -> anyhow::Result<()> {
        self.update(RewardRow {
            id: new_id(),
            model: model.to_string(),
            bucket: pick.bucket.clone(),
            probability: pick.probability,
            reward: ((rating + 5.0) / 10.0).clamp(0.0, 1.0),
            success: true,
            latency_ms: 0.0,
            cost_usd: 0.0,
            source: "feedback".into(),
            created_at: now(),
        })
        .await
    }

    /// Moves the posterior by the row's reward and stores both.
    async fn update(&self, row: RewardRow) -> anyhow::Result<()> {
        let r = row.reward;
        let _turn = self.writes.lock().await;
        let (alpha, beta) = {
            let mut beliefs = self.beliefs.lock().unwrap_or_else(|p| p.into_inner());
            let entry = beliefs
                .entry((row.model.clone(), row.bucket.clone()))
                .or_insert((1.0, 1.0));
            entry.0 += r;
            entry.1 += 1.0 - r;
            *entry
        };
        let posterior = Posterior {
            model: row.model.clone(),
            bucket: row.bucket.clone(),
            alpha,
            beta,
        };
        self.store.record_reward(&row, &posterior).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewards_favour_answers_that_are_fast_and_cheap() {
        let ok = |latency_ms, cost_usd| Outcome {
            success: true,
            latency_ms,
            cost_usd,
            baseline_usd: 0.01,
        };
        assert_eq!(ok(0.0, 0.0).reward(), 1.0);
        assert_eq!(ok(20_000.0, 0.02).reward(), 0.5);
        assert!(ok(100.0, 0.001).reward() > ok(5_000.0, 0.005).reward());
        let failed = Outcome {
            success: false,
            ..ok(1.0, 0.0)
        };
        assert_eq!(failed.reward(), 0.0);
        assert_eq!(
            [
                bucket_of(10),
                bucket_of(900),
                bucket_of(3_000),
                bucket_of(9_000)
            ],
            ["xs", "s", "m", "l"]
        );
    }
}
