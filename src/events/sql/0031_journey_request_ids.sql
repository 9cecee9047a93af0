-- A journey version saved with an Idempotency-Key keeps the id derived from (tenant, journey, key): a PUT
-- retried after a timeout finds the version it saved instead of saving another. NULL without a key.
ALTER TABLE journeys ADD COLUMN request_id uuid;
CREATE UNIQUE INDEX journeys_by_request ON journeys (journey_id, request_id) WHERE request_id IS NOT NULL;
