-- Retention: finished jobs are pruned by finish time.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE state = 'completed';
