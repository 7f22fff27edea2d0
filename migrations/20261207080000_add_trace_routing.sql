-- How a grounded reply was routed (the model that served it and the thompson draw that picked
-- it), set only by Cairn when it records the reply and taken by the first rating: clients write
-- trace metadata, so the reward a rating gives cannot be read from there.
ALTER TABLE harness_traces ADD COLUMN routing TEXT;
