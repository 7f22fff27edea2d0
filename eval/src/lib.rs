//! What the evaluations share.

use cairn::app::Engine;

/// The evaluation user of a data directory (created on first use); its account owns the
/// workspaces the evaluations write to.
pub async fn owner_account(engine: &Engine) -> anyhow::Result<String> {
    let accounts = engine.stores.accounts.clone();
    let user = match accounts.user_by_email("eval@cairn.local").await? {
        Some(u) => u,
        None => cairn::accounts::users::create_user(
            accounts.as_ref(),
            "eval@cairn.local".into(),
            "evaluation-only".into(),
            cairn::accounts::roles::Role::Admin,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    Ok(user.account_id)
}
