-- Each claim and each end of a job writes an entry in every index of jobs: this one is
-- redundant, counts and lists by state read jobs_claim_idx (live jobs) and jobs_dead_idx.
DROP INDEX jobs_state_kind_idx;
