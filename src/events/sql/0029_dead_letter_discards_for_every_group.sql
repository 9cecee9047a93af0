-- A discard with --all-groups is the operator's word on the record, not only on the rows that existed then:
-- a group that reaches the record later (it was behind) and fails on it too files its row as discarded,
-- with the same who, when and why, instead of a new waiting row. A discard of one group's row stays that
-- group's: another group failing on the record later files a waiting row (it may be another cause).
-- Rows discarded before this column existed read as one group's discard (the scope was not recorded).
ALTER TABLE dead_letters ADD COLUMN discarded_for_all_groups boolean NOT NULL DEFAULT false;
