// Package e2e holds the end-to-end tests and benchmarks of the onboarding library: the
// whole guide in process on SQLite and PostgreSQL with real HTTP webhook receivers, faults
// (failing, slow, gone and unreachable receivers), lease expiry, several replicas on one
// PostgreSQL, a process killed with SIGKILL under load, and the dispatch and pipeline
// benchmarks. It has no library code: everything is in its _test.go files.
//
// PostgreSQL runs need ONBOARDING_TEST_POSTGRES_DSN (a database the tests may create
// schemas in); without it they are skipped, and under CI=true they fail.
//
//	go test -race ./e2e/
//	go test -run '^$' -bench WebhookDispatch -benchtime 2000x ./e2e/
//	go test -run '^$' -bench Pipeline -benchtime 1000x ./e2e/
package e2e
