-- Sealed runs keep no clear patient id (0014): audit rows and run_status rows written since hold NULL
-- there, so these two indexes gained an entry of NULL for every audit row (about 12 a run) and every
-- status change that moved the row, and served no lookup with it. Only legacy clear rows are found by
-- patient_id; `patient_id = $1` implies IS NOT NULL, so those lookups use the partial indexes alike.
DROP INDEX audit_log_by_patient;
CREATE INDEX audit_log_by_patient ON audit_log (patient_id, audit_id) WHERE patient_id IS NOT NULL;

DROP INDEX run_status_by_patient;
CREATE INDEX run_status_by_patient ON run_status (patient_id, created_at, run_id) WHERE patient_id IS NOT NULL;
