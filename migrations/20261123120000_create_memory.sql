-- Memory Vault: notes (with their history), entities, links (the graph), events, feedback,
-- and the telemetry of every context pack. SQL is the source of truth: an index entry of a
-- note is served only while it matches the note's `index_key`.
CREATE TABLE memory_notes (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    title            TEXT,
    content          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    tags             TEXT NOT NULL DEFAULT '[]',
    importance       REAL NOT NULL,
    confidence       REAL NOT NULL,
    metadata         TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL CHECK (status IN ('approved', 'pending', 'rejected', 'forgotten')),
    external_source  TEXT,
    external_id      TEXT,
    valid_from       TEXT NOT NULL,
    valid_to         TEXT,
    supersedes       TEXT,
    superseded_by    TEXT,
    revision         INTEGER NOT NULL,
    index_key        TEXT,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX memory_notes_workspace ON memory_notes(workspace_id, status, created_at);
CREATE INDEX memory_notes_index_key ON memory_notes(index_key);
CREATE UNIQUE INDEX memory_notes_external ON memory_notes(workspace_id, external_source, external_id)
    WHERE external_source IS NOT NULL AND external_id IS NOT NULL;

CREATE TABLE memory_note_history (
    id           TEXT PRIMARY KEY,
    note_id      TEXT NOT NULL REFERENCES memory_notes(id),
    workspace_id TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT,
    snapshot     TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX memory_note_history_note ON memory_note_history(note_id, created_at);

CREATE TABLE memory_entities (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    entity_type      TEXT NOT NULL,
    name             TEXT NOT NULL,
    aliases          TEXT NOT NULL DEFAULT '[]',
    metadata         TEXT NOT NULL DEFAULT '{}',
    external_source  TEXT,
    external_id      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX memory_entities_name ON memory_entities(workspace_id, entity_type, name COLLATE NOCASE);
CREATE UNIQUE INDEX memory_entities_external ON memory_entities(workspace_id, external_source, external_id)
    WHERE external_source IS NOT NULL AND external_id IS NOT NULL;

CREATE TABLE memory_links (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    from_type     TEXT NOT NULL CHECK (from_type IN ('note', 'entity')),
    from_id       TEXT NOT NULL,
    to_type       TEXT NOT NULL CHECK (to_type IN ('note', 'entity')),
    to_id         TEXT NOT NULL,
    relation      TEXT NOT NULL,
    weight        REAL NOT NULL,
    metadata      TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX memory_links_key ON memory_links(workspace_id, from_type, from_id, to_type, to_id, relation);

CREATE TABLE memory_events (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    event_type       TEXT NOT NULL,
    summary          TEXT NOT NULL,
    actor            TEXT,
    mission_id       TEXT,
    task_id          TEXT,
    occurred_at      TEXT NOT NULL,
    metadata         TEXT NOT NULL DEFAULT '{}',
    external_source  TEXT,
    external_id      TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX memory_events_time ON memory_events(workspace_id, occurred_at);
CREATE UNIQUE INDEX memory_events_external ON memory_events(workspace_id, external_source, external_id)
    WHERE external_source IS NOT NULL AND external_id IS NOT NULL;

CREATE TABLE memory_feedback (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    pack_id          TEXT,
    item_type        TEXT NOT NULL,
    item_id          TEXT NOT NULL,
    signal           TEXT NOT NULL CHECK (signal IN ('helpful', 'unhelpful', 'remember', 'forget')),
    actor            TEXT NOT NULL,
    comment          TEXT,
    external_source  TEXT,
    external_id      TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX memory_feedback_item ON memory_feedback(workspace_id, item_id);
CREATE UNIQUE INDEX memory_feedback_external ON memory_feedback(workspace_id, external_source, external_id)
    WHERE external_source IS NOT NULL AND external_id IS NOT NULL;

CREATE TABLE context_packs (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    query         TEXT NOT NULL,
    request       TEXT NOT NULL,
    items         TEXT NOT NULL,
    dropped       TEXT NOT NULL,
    usage         TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX context_packs_workspace ON context_packs(workspace_id, created_at);
