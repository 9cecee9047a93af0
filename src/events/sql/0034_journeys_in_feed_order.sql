-- GET /journeys is read by keyset pages in feed order (events/feed.py), as the runs listing and the audit
-- log are: by the transaction that saved a journey's version 1, and only the journeys of transactions older
-- than any still running, so a journey whose creation commits late can never land behind a reader's
-- cursor. The versions saved before are given 0, a constant default that needs no rewrite (the
-- immutability trigger refuses UPDATEs), and so stay first, in the order they were listed until now
-- (oldest version 1 first).
ALTER TABLE journeys ADD COLUMN transaction_id xid8 NOT NULL DEFAULT '0'::xid8;
ALTER TABLE journeys ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id();

-- A tenant's journeys in that order: a page is a range of this index.
CREATE INDEX journeys_first_versions ON journeys (tenant_id, transaction_id, created_at, journey_id)
    WHERE version = 1;
