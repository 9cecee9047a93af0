-- A role process that stopped as asked keeps its rows, marked stopped: a role stopped for a deploy and never
-- started again stalls every run as surely as a dead one, and /ready must say so. The rows go when a new
-- process of the same host replaces it (its pid is gone) or, like any row, after an hour unrefreshed.
ALTER TABLE role_heartbeats ADD COLUMN stopped_at timestamptz;
