-- The W3C traceparent of the span that enqueued a job: its run continues that trace.
ALTER TABLE jobs ADD COLUMN trace_parent TEXT;

-- Dead jobs by kind, for the onboarding.jobs metric (the live ones use jobs_claim_idx).
CREATE INDEX jobs_dead_idx ON jobs (kind) WHERE state = 'dead';
