-- Provider receipts: the first receipt of a visit (delivered or bounced) is kept beside its delivery row,
-- written inline with its MessageDelivered (source receipt) or MessageBounced event. A later receipt for
-- the same visit (a duplicate, or one out of order) finds it set and records nothing.
ALTER TABLE message_deliveries
    ADD COLUMN receipt text CHECK (receipt IN ('delivered', 'bounced'));
