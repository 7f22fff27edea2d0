//! `POST /v1/plan` (seed 000, `orchestration.mode = adversarial`): the primary model drafts,
//! the review model critiques, the primary revises, for up to `iterations` rounds. A round
//! whose review finds nothing material (the reviewer answers `NO MATERIAL ISSUES`) ends the
//! run early. The whole run stays within `max_budget_usd`: each call may only go to a model
//! whose estimate fits what is left, and the run stops when none does. Every round is in the
//! answer.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::{Answer, Call, RequestPolicy};
use crate::error::{ApiError, ApiResult};
use crate::gateway::route::Policy;
use crate::gateway::{Caller, Gateway};

/// What a reviewer answers when the draft needs no material change.
pub const NO_ISSUES: &str = "NO MATERIAL ISSUES";
const MAX_ITERATIONS: u32 = 5;

const REVIEW_PROMPT: &str = "You review a draft answer to the task below. Look only for \
material problems: wrong facts, missing steps, risks, contradictions of the task. If there \
are none, answer exactly NO MATERIAL ISSUES. Otherwise list the material problems, one per \
line, and nothing else.";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub request: PlanMessages,
    pub orchestration: Orchestration,
    /// Routing limits for every call (the run's budget is orchestration.max_budget_usd).
    pub policy: Option<RequestPolicy>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanMessages {
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Value>,
    /// OpenAI sampling fields for every call.
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Orchestration {
    /// adversarial.
    pub mode: String,
    /// Review-and-revise rounds, 1-5 (default 2).
    pub iterations: Option<u32>,
    /// The drafting model (default: `max` within primary_min_weight).
    pub primary_model_id: Option<String>,
    /// The reviewing model (default: `max` within review_min_weight).
    pub review_model_id: Option<String>,
    pub primary_min_weight: Option<u8>,
    pub review_min_weight: Option<u8>,
    /// Answer the final plan's text only, not the last completion.
    pub return_plan_only: Option<bool>,
    /// Accepted as the seed sends it; the plan is text.
    pub output_schema: Option<String>,
    /// The most the whole run may cost, in USD.
    pub max_budget_usd: Option<f64>,
    /// The most output tokens per call.
    pub max_tokens: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanReply {
    /// The model that wrote the final plan.
    pub negotiated_model: String,
    /// The whole run's cost (USD charged).
    pub estimated_cost_usd: f64,
    pub routing_reason: String,
    /// The final plan: the last completion, or `{"plan": text}` with return_plan_only.
    #[schema(value_type = Object)]
    pub response: Value,
    pub review_model: Option<String>,
    /// Every round, in order.
    pub rounds: Vec<Round>,
    /// no_material_issues, iterations or budget.
    pub stopped: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Round {
    pub iteration: u32,
    pub review: String,
    /// The review found something material (a revision followed, budget allowing).
    pub material: bool,
    /// The primary's revision, when one was made.
    pub revision: Option<String>,
    pub cost_usd: f64,
}

/// A run's running total against its budget.
struct Budget {
    limit: Option<f64>,
    spent: f64,
}

impl Budget {
    /// The routing policy of the next call: `base`, capped at what is left; None when
    /// nothing is.
    fn next(&self, base: Policy) -> Option<Policy> {
        let Some(limit) = self.limit else {
            return Some(base);
        };
        let left = limit - self.spent;
        if left <= 0.0 {
            return None;
        }
        Some(Policy {
            max_cost_usd: Some(base.max_cost_usd.map_or(left, |c| c.min(left))),
            ..base
        })
    }
}

fn no_issues(review: &str) -> bool {
    review
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_uppercase()
        .starts_with(NO_ISSUES)
}

fn task_of(messages: &[Value]) -> String {
    messages
        .iter()
        .map(|m| {
            let role = m["role"].as_str().unwrap_or("user");
            let content = crate::gateway::text_of(&m["content"]);
            format!("{role}: {content}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Gateway {
    pub async fn plan_adversarial(&self, caller: Caller, req: PlanRequest) -> ApiResult<PlanReply> {
        let o = &req.orchestration;
        if o.mode != "adversarial" {
            return Err(ApiError::bad_request(format!(
                "orchestration.mode: unknown `{}`; expected adversarial",
                o.mode
            )));
        }
        let iterations = crate::validate::range(
            "orchestration.iterations",
            o.iterations.unwrap_or(2),
            1,
            MAX_ITERATIONS,
        )?;
        if let Some(b) = o.max_budget_usd {
            if !b.is_finite() || b <= 0.0 {
                return Err(ApiError::bad_request(
                    "orchestration.max_budget_usd: expected a positive number of USD",
                ));
            }
        }
        let caller = Caller {
            purpose: Some("plan"),
            ..caller
        };
        let base = req
            .policy
            .clone()
            .unwrap_or_default()
            .over(self.routing_config().policy())?;
        let with_weight = |w: Option<u8>| -> ApiResult<Policy> {
            let w = crate::validate::range("orchestration.min_weight", w.unwrap_or(0), 0, 10)?;
            Ok(Policy {
                min_weight: base.min_weight.max(w),
                ..base
            })
        };
        let (primary_policy, review_policy) = (
            with_weight(o.primary_min_weight)?,
            with_weight(o.review_min_weight)?,
        );
        let primary = o.primary_model_id.clone().unwrap_or_else(|| "max".into());
        let reviewer = o.review_model_id.clone().unwrap_or_else(|| "max".into());
        let params = req.request.parameters.clone().unwrap_or_default();
        let task = req.request.messages.clone();
        let mut budget = Budget {
            limit: o.max_budget_usd,
            spent: 0.0,
        };

        let first_policy = budget.next(primary_policy).ok_or_else(|| {
            ApiError::bad_request("orchestration.max_budget_usd: nothing left for the draft")
        })?;
        let mut draft = self
            .answer_once(
                &caller,
                Call {
                    model: &primary,
                    messages: task.clone(),
                    params: &params,
                    max_tokens: o.max_tokens,
                    policy: first_policy,
                },
            )
            .await?;
        budget.spent += draft.cost_usd;
        let mut rounds = Vec::new();
        let mut review_model = None;
        let mut stopped = "iterations";
        for iteration in 1..=iterations {
            let Some(policy) = budget.next(review_policy) else {
                stopped = "budget";
                break;
            };
            let review_messages = vec![
                json!({"role": "system", "content": REVIEW_PROMPT}),
                json!({"role": "user", "content": format!(
                    "Task:\n{}\n\nDraft:\n{}", task_of(&task), draft.text
                )}),
            ];
            let review = match self
                .answer_once(
                    &caller,
                    Call {
                        model: &reviewer,
                        messages: review_messages,
                        params: &params,
                        max_tokens: o.max_tokens,
                        policy,
                    },
                )
                .await
            {
                Ok(r) => r,
                // Over the budget's cap: routing found no model the rest pays for.
                Err(ApiError::ServiceUnavailable(_)) if budget.limit.is_some() => {
                    stopped = "budget";
                    break;
                }
                Err(e) => return Err(e),
            };
            budget.spent += review.cost_usd;
            review_model = Some(review.served_by.clone());
            let material = !no_issues(&review.text);
            let mut round = Round {
                iteration,
                review: review.text.clone(),
                material,
                revision: None,
                cost_usd: review.cost_usd,
            };
            if !material {
                rounds.push(round);
                stopped = "no_material_issues";
                break;
            }
            let revised = match budget.next(primary_policy) {
                Some(policy) => {
                    self.revise(
                        &caller,
                        &primary,
                        &task,
                        &draft,
                        &review,
                        &params,
                        o.max_tokens,
                        policy,
                    )
                    .await
                }
                None => Err(ApiError::ServiceUnavailable("budget".into())),
            };
            match revised {
                Ok(r) => {
                    budget.spent += r.cost_usd;
                    round.cost_usd += r.cost_usd;
                    round.revision = Some(r.text.clone());
                    draft = r;
                    rounds.push(round);
                }
                Err(ApiError::ServiceUnavailable(_)) if budget.limit.is_some() => {
                    rounds.push(round);
                    stopped = "budget";
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let reason = format!(
            "adversarial: {} drafted, {} reviewed, {} round(s), stopped: {stopped}",
            draft.served_by,
            review_model.as_deref().unwrap_or("-"),
            rounds.len()
        );
        let response = if o.return_plan_only == Some(true) {
            json!({ "plan": draft.text })
        } else {
            draft.body.clone()
        };
        Ok(PlanReply {
            negotiated_model: draft.served_by,
            estimated_cost_usd: budget.spent,
            routing_reason: reason,
            response,
            review_model,
            rounds,
            stopped: stopped.into(),
        })
    }

    /// The primary's revision of `draft` after `review`.
    #[allow(clippy::too_many_arguments)]
    async fn revise(
        &self,
        caller: &Caller,
        primary: &str,
        task: &[Value],
        draft: &Answer,
        review: &Answer,
        params: &Map<String, Value>,
        max_tokens: Option<u64>,
        policy: Policy,
    ) -> ApiResult<Answer> {
        let mut messages = task.to_vec();
        messages.push(json!({"role": "assistant", "content": draft.text}));
        messages.push(json!({"role": "user", "content": format!(
            "A reviewer found these material problems:\n{}\n\nRevise your answer to fix them. \
             Answer with the full revised answer only.",
            review.text
        )}));
        self.answer_once(
            caller,
            Call {
                model: primary,
                messages,
                params,
                max_tokens,
                policy,
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_without_material_issues_is_told_apart() {
        assert!(no_issues("NO MATERIAL ISSUES"));
        assert!(no_issues("  **No material issues.**"));
        assert!(!no_issues(
            "1. The plan has no rollback. No material issues otherwise."
        ));
    }

    #[test]
    fn the_budget_caps_each_call_at_what_is_left() {
        let mut b = Budget {
            limit: Some(0.01),
            spent: 0.004,
        };
        let p = b.next(Policy::default()).unwrap();
        assert!((p.max_cost_usd.unwrap() - 0.006).abs() < 1e-12);
        b.spent = 0.01;
        assert!(b.next(Policy::default()).is_none());
        let open = Budget {
            limit: None,
            spent: 5.0,
        };
        assert_eq!(open.next(Policy::default()), Some(Policy::default()));
    }
}
