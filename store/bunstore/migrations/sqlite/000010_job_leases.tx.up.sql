-- The runner sleeps until the next due job: the earliest lease of the running jobs is
-- one of the times it reads (a crashed worker's job is claimable when its lease ends).
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE state = 'running';
