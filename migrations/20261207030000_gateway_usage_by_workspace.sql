-- The actions check sums a workspace's gateway spend this month (its monthly budget counts
-- both); this index keeps that one range scan per workspace.
CREATE INDEX gateway_usage_workspace ON gateway_usage(workspace_id, created_at);
