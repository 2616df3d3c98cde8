package bunstore

// Benchmarks: the library next to a raw bun baseline doing the same database work, in the
// same run, on the same database. Each reports ns/op of the library, raw-ns/op of the
// baseline and x-raw = library rate / raw rate (1.0 = as fast as raw; the goal is >= 0.8).
//
//	go test -run '^$' -bench . -benchtime 2000x ./store/bunstore/
//
// With ONBOARDING_TEST_POSTGRES_DSN set, PostgreSQL runs too.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/taxid"
)

// benchBackends returns the backends to benchmark: PostgreSQL only with a DSN (no skip
// noise, no CI failure: benchmarks are opt-in).
func benchBackends() []backend {
	list := []backend{{"sqlite", openSQLiteTest}}
	if os.Getenv(postgresDSNEnv) != "" {
		list = append(list, backend{"postgres", func(t testing.TB) *bun.DB {
			db := openPostgresTest(t)
			db.SetMaxOpenConns(16)
			db.SetMaxIdleConns(16)
			return db
		}})
	}
	return list
}

// sideBySide runs lib and raw b.N times each with the given number of goroutines and
// reports both rates and their ratio. The two alternate in small chunks (one operation at
// a time when sequential, 8 per goroutine when parallel), so both see the same table sizes
// and the same noise from the rest of the machine.
func sideBySide(b *testing.B, goroutines int, lib, raw func(ctx context.Context, i int) error) {
	b.Helper()
	ctx := context.Background()
	n := b.N
	chunk := 1
	if goroutines > 1 {
		chunk = 8 * goroutines
	}
	var libD, rawD time.Duration
	b.ResetTimer()
	for lo, round := 0, 0; lo < n; lo, round = lo+chunk, round+1 {
		hi := min(lo+chunk, n)
		if round%2 == 0 {
			libD += runOps(b, ctx, goroutines, lo, hi, lib)
			rawD += runOps(b, ctx, goroutines, lo, hi, raw)
		} else {
			rawD += runOps(b, ctx, goroutines, lo, hi, raw)
			libD += runOps(b, ctx, goroutines, lo, hi, lib)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(libD.Nanoseconds())/float64(n), "ns/op")
	b.ReportMetric(float64(rawD.Nanoseconds())/float64(n), "raw-ns/op")
	b.ReportMetric(float64(n)/libD.Seconds(), "ops/s")
	b.ReportMetric(float64(rawD)/float64(libD), "x-raw")
}

// runOps runs op(i) for i in [lo, hi) on goroutines workers and returns the wall time.
func runOps(b *testing.B, ctx context.Context, goroutines, lo, hi int, op func(ctx context.Context, i int) error) time.Duration {
	start := time.Now()
	if goroutines == 1 {
		for i := lo; i < hi; i++ {
			if err := op(ctx, i); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	var next atomic.Int64
	next.Store(int64(lo))
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= hi {
					return
				}
				if err := op(ctx, i); err != nil {
					failed.Store(true)
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		b.FailNow()
	}
	return time.Since(start)
}

// BenchmarkCreateCustomer: onboarding.Service.CreateCustomer (lookup, validation, policy,
// then customer + history + event + 2 jobs in one transaction) against a raw bun
// transaction inserting the same five rows.
func BenchmarkCreateCustomer(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			for _, goroutines := range []int{1, 16} {
				b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
					benchCreateCustomer(b, be, goroutines)
				})
			}
		})
	}
}

func benchCreateCustomer(b *testing.B, be backend, goroutines int) {
	db := be.open(b)
	store := New(db, nil)
	svc := onboardingtest.NewService(b, store, nil)
	ctx := context.Background()
	// A template customer gives the raw baseline the same kyc document to write.
	tpl, _, err := svc.CreateCustomer(ctx, "template", registration("template"))
	if err != nil {
		b.Fatal(err)
	}
	regs := make([]onboarding.CreateCustomerParams, b.N)
	raws := make([]onboarding.CreateCustomerParams, b.N)
	for i := range regs {
		regs[i] = registration(fmt.Sprintf("lib-%d", i))
		raws[i] = registration(fmt.Sprintf("raw-%d", i))
	}
	lib := func(ctx context.Context, i int) error {
		_, created, err := svc.CreateCustomer(ctx, "bench", regs[i])
		if err == nil && !created {
			err = fmt.Errorf("customer %d not created", i)
		}
		return err
	}
	rc := &rawCreator{db: db, q: &queries{pg: store.pg}, kyc: tpl.KYC, serialize: !store.pg}
	raw := func(ctx context.Context, i int) error { return rc.create(ctx, "bench", raws[i]) }
	sideBySide(b, goroutines, lib, raw)
}

// BenchmarkGroupCommit: Service.CreateCustomer from 16 goroutines on SQLite with group
// commit (the default) against the same on a Store with SeparateCommits, each on its own
// database, side by side; x-raw = group rate / separate rate.
//
//	go test -run '^$' -bench GroupCommit -benchtime 4000x ./store/bunstore/
func BenchmarkGroupCommit(b *testing.B) {
	const goroutines = 16
	open := func(opts *Options) func(ctx context.Context, i int) error {
		svc := onboardingtest.NewService(b, New(openSQLiteTest(b), opts), nil)
		regs := make([]onboarding.CreateCustomerParams, b.N)
		for i := range regs {
			regs[i] = registration(fmt.Sprintf("reg-%d", i))
		}
		return func(ctx context.Context, i int) error {
			_, created, err := svc.CreateCustomer(ctx, "bench", regs[i])
			if err == nil && !created {
				err = fmt.Errorf("customer %d not created", i)
			}
			return err
		}
	}
	sideBySide(b, goroutines, open(nil), open(&Options{SeparateCommits: true}))
}

// BenchmarkKeyReservation: what reserving a registration's idempotency key costs SQLite's
// single writer, the way a unit of work reserves it (InsertIdempotencyKeyDeferred: a
// plain insert) against the upsert of InsertIdempotencyKey, each key with a stored
// response the size of a customer's, side by side in one transaction; x-raw = upsert
// time / plain insert time.
//
//	go test -run '^$' -bench KeyReservation -benchtime 4000x ./store/bunstore/
func BenchmarkKeyReservation(b *testing.B) {
	store := New(openSQLiteTest(b), nil)
	ctx := context.Background()
	body := bytes.Repeat([]byte(`{"kyc":"pending"}`), 70) // about a customer's 1.2 KB
	now := time.Now().UTC().Truncate(time.Microsecond)
	key := func(side string, i int) *onboarding.IdempotencyKey {
		return &onboarding.IdempotencyKey{PartnerID: "bench", Key: fmt.Sprintf("%s-%d", side, i), RequestHash: "h",
			Completed: true, ResponseStatus: 201, ResponseBody: body, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
	}
	err := store.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		plain := func(ctx context.Context, i int) error {
			return q.(onboarding.DeferredKeyInserter).InsertIdempotencyKeyDeferred(ctx, key("plain", i))
		}
		upsert := func(ctx context.Context, i int) error { return q.InsertIdempotencyKey(ctx, key("upsert", i)) }
		sideBySide(b, 1, plain, upsert)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// rawCreator writes what CreateCustomer writes, with plain SQL in a bun transaction and
// nothing else: no lookup, no validation, no policy. On SQLite it serializes its
// transactions with a mutex, the fastest way to share SQLite's single writer (see
// Options.MaxConcurrentWrites), so that the baseline is the best raw code, not a strawman.
type rawCreator struct {
	db        *bun.DB
	q         *queries // for the time encoding only
	kyc       []onboarding.Requirement
	serialize bool
	mu        sync.Mutex
}

func (r *rawCreator) create(ctx context.Context, partner string, p onboarding.CreateCustomerParams) error {
	cpf, _ := taxid.ParseCPF(p.CPF)
	cnpj, _ := taxid.ParseCNPJ(p.CNPJ)
	now := time.Now().UTC().Truncate(time.Microsecond)
	ts := r.q.ts(now)
	id := onboarding.NewID("cust")
	kyc, err := json.Marshal(r.kyc)
	if err != nil {
		return err
	}
	eventID := onboarding.NewID("evt")
	data, err := json.Marshal(map[string]any{"id": id, "external_id": p.ExternalID, "name": p.Name, "email": p.Email,
		"phone": p.Phone, "cpf": cpf.String(), "cnpj": cnpj.String(), "trading_name": p.TradingName,
		"status": "pending_kyc", "kyc": r.kyc})
	if err != nil {
		return err
	}
	if r.serialize {
		r.mu.Lock()
		defer r.mu.Unlock()
	}
	return r.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO customers (id, partner_id, external_id, cpf, cnpj, tax_key, name, email, phone, trading_name, legal_nature, status, kyc, version, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`, id, partner, p.ExternalID, string(cpf), string(cnpj),
			"cnpj:"+string(cnpj), p.Name, p.Email, "+5511987654321", p.TradingName, "", "pending_kyc", string(kyc), ts, ts); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertTransitionSQL, onboarding.NewID("tr"), partner, id, "register", "",
			"pending_kyc", "partner", "", ts); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertEventSQL, eventID, partner, "customer.created", id, string(data), ts); err != nil {
			return err
		}
		// The event's fan-out reads the partner's active endpoints (none here).
		rows, err := tx.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE partner_id = ? AND status = ? ORDER BY id LIMIT ?`,
			partner, "active", onboarding.MaxPageLimit)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		if err := rows.Close(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, insertJobSQL, onboarding.NewID("job"), "credit_analysis", partner, id, `{}`,
			"available", 0, onboarding.DefaultJobMaxAttempts, ts, "", nil, "", ts, ts, nil, nil)
		return err
	})
}

// seedCustomers registers n customers through the Service and returns their IDs.
func seedCustomers(b *testing.B, svc *onboarding.Service, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		c, _, err := svc.CreateCustomer(context.Background(), "bench", registration(fmt.Sprintf("seed-%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = c.ID
	}
	return ids
}

// BenchmarkGetCustomer: Store.GetCustomer against a raw QueryRow scanning the same
// columns into locals and decoding the kyc JSON (the part of the work that is not
// database access but that any reader of a customer needs).
func BenchmarkGetCustomer(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			store := New(db, nil)
			ids := seedCustomers(b, onboardingtest.NewService(b, store, nil), 500)
			for _, goroutines := range []int{1, 16} {
				b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
					lib := func(ctx context.Context, i int) error {
						_, err := store.GetCustomer(ctx, "bench", ids[i%len(ids)])
						return err
					}
					raw := func(ctx context.Context, i int) error {
						var id, partner, ext, cpf, cnpj, name, email, phone, trading, ln, status string
						var kyc []byte
						var version int64
						var created, updated time.Time
						if err := db.QueryRowContext(ctx, getCustomerSQL, ids[i%len(ids)], "bench").Scan(&id, &partner,
							&ext, &cpf, &cnpj, &name, &email, &phone, &trading, &ln, &status, &kyc, &version,
							timeCol{&created}, timeCol{&updated}); err != nil {
							return err
						}
						var reqs []onboarding.Requirement
						return json.Unmarshal(kyc, &reqs)
					}
					sideBySide(b, goroutines, lib, raw)
				})
			}
		})
	}
}

// BenchmarkListCustomers: a page of 25 through Service.ListCustomers (newest first, with
// a cursor) against the raw query of the same 26 rows scanned into locals, kyc decoded.
func BenchmarkListCustomers(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			store := New(db, nil)
			svc := onboardingtest.NewService(b, store, nil)
			ids := seedCustomers(b, svc, 500)
			const rawList = `SELECT ` + customerCols + ` FROM customers WHERE partner_id = ?
AND id < (SELECT id FROM customers WHERE id = ? AND partner_id = ?) ORDER BY id DESC LIMIT ?`
			for _, goroutines := range []int{1, 16} {
				b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
					lib := func(ctx context.Context, i int) error {
						page, err := svc.ListCustomers(ctx, "bench", onboarding.ListCustomersParams{Limit: 25,
							StartingAfter: ids[len(ids)-1-i%200]})
						if err == nil && len(page.Data) != 25 {
							err = fmt.Errorf("page of %d", len(page.Data))
						}
						return err
					}
					raw := func(ctx context.Context, i int) error {
						rows, err := db.QueryContext(ctx, rawList, "bench", ids[len(ids)-1-i%200], "bench", 26)
						if err != nil {
							return err
						}
						defer rows.Close()
						n := 0
						for rows.Next() {
							var id, partner, ext, cpf, cnpj, name, email, phone, trading, ln, status string
							var kyc []byte
							var version int64
							var created, updated time.Time
							if err := rows.Scan(&id, &partner, &ext, &cpf, &cnpj, &name, &email, &phone, &trading, &ln,
								&status, &kyc, &version, timeCol{&created}, timeCol{&updated}); err != nil {
								return err
							}
							var reqs []onboarding.Requirement
							if err := json.Unmarshal(kyc, &reqs); err != nil {
								return err
							}
							n++
						}
						if n != 26 {
							return fmt.Errorf("raw page of %d", n)
						}
						return rows.Err()
					}
					sideBySide(b, goroutines, lib, raw)
				})
			}
		})
	}
}

// BenchmarkClaimJobs drains b.N jobs: each worker claims up to 10 at a time and completes
// them one by one (1 + 10 statements per batch). It reports jobs/s.
func BenchmarkClaimJobs(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			for _, workers := range []int{1, 4} {
				b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
					db := be.open(b)
					store := New(db, nil)
					ctx := context.Background()
					now := time.Now().UTC().Truncate(time.Microsecond)
					err := store.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
						for range b.N {
							if err := q.InsertJob(ctx, &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobPublishEvent,
								Args: json.RawMessage(`{}`), State: onboarding.JobAvailable, MaxAttempts: 10,
								RunAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
					var done atomic.Int64
					b.ResetTimer()
					start := time.Now()
					var wg sync.WaitGroup
					for w := range workers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							worker := fmt.Sprintf("w%d", w)
							for {
								jobs, err := store.ClaimJobs(ctx, onboarding.ClaimParams{Worker: worker, Limit: 10, Now: now, Lease: time.Minute})
								if err != nil {
									b.Error(err)
									return
								}
								if len(jobs) == 0 {
									return
								}
								for _, j := range jobs {
									if err := store.CompleteJob(ctx, j.ID, worker, now); err != nil {
										b.Error(err)
										return
									}
									done.Add(1)
								}
							}
						}()
					}
					wg.Wait()
					b.StopTimer()
					if int(done.Load()) != b.N {
						b.Fatalf("completed %d of %d jobs", done.Load(), b.N)
					}
					b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
				})
			}
		})
	}
}
