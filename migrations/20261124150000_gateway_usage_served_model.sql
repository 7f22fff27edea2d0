-- The catalog model that served each request (the x-cairn-model header); `model` keeps the
-- name the caller asked for (`auto`, `fast`, `max` or a model name).
ALTER TABLE gateway_usage ADD COLUMN served_model TEXT NOT NULL DEFAULT '';
