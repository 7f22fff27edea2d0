-- Action guardrails: policies, approvals and the audit trail.
CREATE TABLE action_policies (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    name            TEXT NOT NULL,
    app             TEXT,
    mission_id      TEXT,
    tool_ref        TEXT,
    action_type     TEXT,
    operation       TEXT,
    access_level    TEXT,
    risk_level      TEXT,
    min_amount_usd  REAL,
    max_amount_usd  REAL,
    effect          TEXT NOT NULL CHECK (effect IN ('allow', 'require_approval', 'deny')),
    priority        INTEGER NOT NULL,
    enabled         INTEGER NOT NULL,
    description     TEXT,
    external_source TEXT,
    external_id     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX action_policies_workspace ON action_policies(workspace_id);
CREATE UNIQUE INDEX action_policies_external ON action_policies(workspace_id, external_source, external_id)
    WHERE external_source IS NOT NULL AND external_id IS NOT NULL;

CREATE TABLE action_approvals (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    policy_id     TEXT,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    app           TEXT,
    mission_id    TEXT,
    task_id       TEXT,
    tool_ref      TEXT NOT NULL,
    request       TEXT NOT NULL,
    reasons       TEXT NOT NULL,
    decided_by    TEXT,
    decision_note TEXT,
    expires_at    TEXT NOT NULL,
    decided_at    TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX action_approvals_workspace ON action_approvals(workspace_id, status, created_at);

CREATE TABLE action_audit (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    event           TEXT NOT NULL,
    decision        TEXT,
    app             TEXT,
    mission_id      TEXT,
    task_id         TEXT,
    actor_ref       TEXT,
    tool_ref        TEXT,
    action_type     TEXT,
    policy_id       TEXT,
    approval_id     TEXT,
    amount_usd      REAL,
    detail          TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    external_source TEXT,
    external_id     TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX action_audit_workspace ON action_audit(workspace_id, created_at);
CREATE UNIQUE INDEX action_audit_external ON action_audit(workspace_id, external_source, external_id)
    WHERE external_source IS NOT NULL AND external_id IS NOT NULL;

-- Harness: versioned configs, missions with steps and artifacts, traces, feedback, reflections.
CREATE TABLE harness_versions (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    name         TEXT NOT NULL,
    description  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
    config       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    activated_at TEXT
);
CREATE UNIQUE INDEX harness_versions_active ON harness_versions(workspace_id) WHERE status = 'active';

CREATE TABLE missions (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    mission_id      TEXT,
    external_source TEXT,
    external_id     TEXT,
    app             TEXT,
    title           TEXT,
    goal            TEXT,
    status          TEXT NOT NULL,
    progress        REAL NOT NULL,
    outcome         TEXT,
    success         INTEGER,
    risk_level      TEXT,
    metadata        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX missions_mission_id ON missions(workspace_id, mission_id) WHERE mission_id IS NOT NULL;
CREATE UNIQUE INDEX missions_external ON missions(workspace_id, external_source, external_id)
    WHERE external_source IS NOT NULL AND external_id IS NOT NULL;

CREATE TABLE mission_steps (
    id           TEXT PRIMARY KEY,
    mission_uuid TEXT NOT NULL REFERENCES missions(id),
    workspace_id TEXT NOT NULL,
    step_ref     TEXT NOT NULL,
    task_id      TEXT,
    title        TEXT,
    status       TEXT NOT NULL,
    position     INTEGER NOT NULL,
    detail       TEXT,
    metadata     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX mission_steps_ref ON mission_steps(mission_uuid, step_ref);

CREATE TABLE mission_artifacts (
    id           TEXT PRIMARY KEY,
    mission_uuid TEXT NOT NULL REFERENCES missions(id),
    workspace_id TEXT NOT NULL,
    kind         TEXT NOT NULL,
    title        TEXT,
    uri          TEXT,
    content      TEXT,
    metadata     TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX mission_artifacts_mission ON mission_artifacts(mission_uuid, created_at);

CREATE TABLE harness_traces (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL REFERENCES workspaces(id),
    trace_type         TEXT NOT NULL,
    harness_version_id TEXT,
    assistant_id       TEXT,
    thread_id          TEXT,
    mission_id         TEXT,
    task_id            TEXT,
    input_summary      TEXT,
    output_summary     TEXT,
    context_strategy   TEXT NOT NULL,
    context            TEXT NOT NULL,
    pack_id            TEXT,
    charged_usd        REAL NOT NULL,
    outcome            TEXT NOT NULL,
    feedback_score     REAL,
    metadata           TEXT NOT NULL,
    created_at         TEXT NOT NULL
);
CREATE INDEX harness_traces_workspace ON harness_traces(workspace_id, created_at);
CREATE INDEX harness_traces_mission ON harness_traces(workspace_id, mission_id);

CREATE TABLE harness_feedback (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
    trace_id       TEXT NOT NULL REFERENCES harness_traces(id),
    rating         REAL,
    outcome        TEXT,
    comment        TEXT,
    remember_note_id TEXT,
    forgotten      TEXT NOT NULL,
    actor          TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE reflections (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    trace_ids    TEXT NOT NULL,
    insight      TEXT NOT NULL,
    model        TEXT NOT NULL,
    note_id      TEXT,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX reflections_workspace ON reflections(workspace_id, created_at);

ALTER TABLE context_packs ADD COLUMN harness_version_id TEXT;
ALTER TABLE context_packs ADD COLUMN trace_id TEXT;
