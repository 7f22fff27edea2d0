-- Notes written together in one batch, in order (a conversation's turns, a document's
-- paragraphs), share a thread: the batch's id and each note's place in it. Context packs add
-- the neighbours of a strong hit (the answer that follows a question), see src/context/.
ALTER TABLE memory_notes ADD COLUMN thread_id TEXT;
ALTER TABLE memory_notes ADD COLUMN thread_seq INTEGER;
CREATE INDEX memory_notes_thread ON memory_notes(workspace_id, thread_id, thread_seq)
    WHERE thread_id IS NOT NULL;
