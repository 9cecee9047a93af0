-- Dead letters an operator discards (a record that can never be handled: junk bytes produced onto the topic)
-- stay as history but stop waiting: status 'discarded', with who, when and why. The reason is the operator's
-- short note (bounded here too: it is not a place for patient data or pasted payloads).
-- A record put back on the topic by `retry` carries the retried row's id in its pjs_retry_of header; a group
-- that sets the copy aside again files its row with retry_of naming that row, so the copy's rows lead back
-- to the original record's. No foreign key: the header comes from the topic, and a row that names no
-- existing dead letter keeps retry_of NULL rather than failing to be stored.
ALTER TABLE dead_letters
    DROP CONSTRAINT dead_letters_status_check,
    ADD CONSTRAINT dead_letters_status_check CHECK (status IN ('waiting', 'retried', 'discarded')),
    ADD COLUMN discarded_at   timestamptz,
    ADD COLUMN discarded_by   text CHECK (char_length(discarded_by) <= 64),
    ADD COLUMN discard_reason text CHECK (char_length(discard_reason) <= 200),
    ADD COLUMN retry_of       bigint,
    ADD CONSTRAINT dead_letters_discarded_with_reason
        CHECK (status <> 'discarded' OR (discarded_at IS NOT NULL AND discarded_by IS NOT NULL
                                         AND discard_reason IS NOT NULL));

-- Every group's row of one record, found at once (retry and discard act on them together).
CREATE INDEX dead_letters_by_record ON dead_letters (topic, partition, record_offset);
CREATE INDEX dead_letters_by_retry_of ON dead_letters (retry_of) WHERE retry_of IS NOT NULL;
