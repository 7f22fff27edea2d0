-- Sources (what was ingested) -> documents (versioned extracted text) -> chunks (retrieval
-- units). SQL is the source of truth for visibility: a chunk is searchable only while its
-- document is the source's active one, so vectors or postings left by an interrupted ingest
-- are never served and are removed at the next start.
CREATE TABLE sources (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    workspace_id     TEXT NOT NULL REFERENCES workspaces(id),
    kind             TEXT NOT NULL CHECK (kind IN ('file', 'url', 'text', 'record')),
    title            TEXT,
    url              TEXT,
    filename         TEXT,
    media_type       TEXT,
    content_hash     TEXT NOT NULL,
    external_source  TEXT,
    external_id      TEXT,
    tags             TEXT NOT NULL DEFAULT '[]',
    metadata         TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
    error            TEXT,
    active_document_id TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX sources_workspace ON sources(workspace_id, created_at);
CREATE INDEX sources_hash ON sources(workspace_id, content_hash);
CREATE UNIQUE INDEX sources_external ON sources(workspace_id, external_source, external_id)
    WHERE external_source IS NOT NULL AND external_id IS NOT NULL;

CREATE TABLE documents (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    workspace_id  TEXT NOT NULL,
    source_id     TEXT NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    title         TEXT,
    url           TEXT,
    content_kind  TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    text          TEXT NOT NULL,
    pages         TEXT NOT NULL DEFAULT '[]',
    metadata      TEXT NOT NULL DEFAULT '{}',
    chunk_count   INTEGER NOT NULL DEFAULT 0,
    -- 'pending' while its vectors and postings are being written; 'active' once visible;
    -- 'retired' when a newer version replaced it.
    state         TEXT NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
    created_at    TEXT NOT NULL
);
CREATE INDEX documents_source ON documents(source_id);
CREATE INDEX documents_pending ON documents(state) WHERE state = 'pending';

CREATE TABLE chunks (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    workspace_id  TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    document_id   TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    text          TEXT NOT NULL,
    char_start    INTEGER NOT NULL,
    char_end      INTEGER NOT NULL,
    page          INTEGER,
    tokens        INTEGER NOT NULL
);
CREATE INDEX chunks_document ON chunks(document_id, idx);

-- Raw bytes of sources accepted but not yet processed, so a restart resumes them.
CREATE TABLE ingest_queue (
    source_id   TEXT PRIMARY KEY REFERENCES sources(id) ON DELETE CASCADE,
    payload     BLOB NOT NULL,
    created_at  TEXT NOT NULL
);

-- Which model produced the vectors in the vector table.
CREATE TABLE embedding_state (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    model_id    TEXT NOT NULL,
    dimension   INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Groups (document or note ids) whose vectors and postings must still be deleted from
-- LanceDB and tantivy; written in the same transaction that removes the SQL rows.
CREATE TABLE purge_queue (
    group_id    TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);
