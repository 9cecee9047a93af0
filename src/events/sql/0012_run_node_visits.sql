-- Each run's visits per node id (the visit cap's count); node ids are journey structure, not patient data.
ALTER TABLE run_status ADD COLUMN node_visits jsonb NOT NULL DEFAULT '{}'::jsonb;
