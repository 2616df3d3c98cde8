package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/time/rate"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/taxid"
)

// benchWorkers is how many registrations run at once, on each side.
const benchWorkers = 16

// BenchmarkRegistrations registers b.N customers through the Go API and b.N through HTTP
// over loopback (token, JSON, tenancy, rate limiter, access log to a discarding handler),
// on the same Service, with benchWorkers concurrent clients each, in alternating halves
// so both see the same table sizes. It reports both rates, both p99 latencies, and
// x-raw = HTTP rate / Go rate (the goal is ≥ 0.7). The idempotency-key variant sends an
// Idempotency-Key with every HTTP request: two more writes each. On SQLite it also
// reports how many registrations a commit held on each side (go-units/commit,
// http-units/commit), from the Store's onboarding.store.group_commit.size histogram.
//
//	go test ./httpapi -run '^$' -bench Registrations -benchtime 4000x
func BenchmarkRegistrations(b *testing.B) {
	for _, be := range backends() {
		for _, withKey := range []bool{false, true} {
			name := be.name + "/plain"
			if withKey {
				name = be.name + "/idempotency-key"
			}
			b.Run(name, func(b *testing.B) { benchRegistrations(b, be, withKey) })
		}
	}
}

func benchRegistrations(b *testing.B, be backend, withKey bool) {
	var store onboarding.Store
	var sizes *sdkmetric.ManualReader // SQLite: the units of work each commit held
	if be.name == "sqlite" {
		sizes = sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sizes))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		store = bunstore.New(openSQLite(b), &bunstore.Options{MeterProvider: mp})
	} else {
		store = be.open(b)
	}
	discard := slog.New(slog.DiscardHandler)
	svc := onboardingtest.NewService(b, store, &onboarding.Options{Logger: discard})
	h := httpapi.New(svc, &httpapi.Options{Clients: testClients(), TokenKey: testTokenKey, Logger: discard,
		RateLimit: rate.Inf})
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = benchWorkers
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)

	req, _ := http.NewRequest("POST", srv.URL+"/v3/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(acmeClient, acmeSecret)
	res, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	auth := "Bearer " + tok.AccessToken

	// Distinct customers for both sides, made before the clock starts.
	n := b.N
	r := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	params := make([]onboarding.CreateCustomerParams, 2*n)
	bodies := make([][]byte, 2*n)
	for i := range params {
		params[i] = onboarding.CreateCustomerParams{ExternalID: fmt.Sprintf("bench-%d", i),
			CPF: taxid.GenerateCPF(r).String(), CNPJ: taxid.GenerateCNPJ(r, false).String(), Name: "Maria da Silva",
			Email: "maria@padaria.example", Phone: "+5511912345678", TradingName: "Padaria da Maria"}
		p := params[i]
		bodies[i], _ = json.Marshal(map[string]string{"external_id": p.ExternalID, "cpf": p.CPF, "cnpj": p.CNPJ,
			"name": p.Name, "email": p.Email, "phone": p.Phone, "trading_name": p.TradingName})
	}
	goOp := func(i int) error {
		_, created, err := svc.CreateCustomer(b.Context(), acmePartner, params[i])
		if err == nil && !created {
			err = fmt.Errorf("customer %d existed", i)
		}
		return err
	}
	httpOp := func(i int) error {
		req, _ := http.NewRequest("POST", srv.URL+"/v3/customers", bytes.NewReader(bodies[i]))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		if withKey {
			req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", i))
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}

	b.ResetTimer()
	var goDur, httpDur time.Duration
	var goLat, httpLat []time.Duration
	var goSizes, httpSizes commitSizes
	half := n / 2
	for _, span := range [][2]int{{0, half}, {half, n}} {
		before := readCommitSizes(b, sizes)
		d, lat := runWorkers(b, span[0], span[1], goOp)
		goDur, goLat = goDur+d, append(goLat, lat...)
		between := readCommitSizes(b, sizes)
		d, lat = runWorkers(b, n+span[0], n+span[1], httpOp)
		httpDur, httpLat = httpDur+d, append(httpLat, lat...)
		goSizes.add(between, before)
		httpSizes.add(readCommitSizes(b, sizes), between)
	}
	b.StopTimer()

	goRate := float64(n) / goDur.Seconds()
	httpRate := float64(n) / httpDur.Seconds()
	b.ReportMetric(goRate, "go-reg/s")
	b.ReportMetric(httpRate, "http-reg/s")
	b.ReportMetric(p99(goLat), "go-p99-ms")
	b.ReportMetric(p99(httpLat), "http-p99-ms")
	b.ReportMetric(httpRate/goRate, "x-raw")
	if goSizes.commits > 0 && httpSizes.commits > 0 {
		b.ReportMetric(goSizes.mean(), "go-units/commit")
		b.ReportMetric(httpSizes.mean(), "http-units/commit")
	}
}

// commitSizes sums the Store's onboarding.store.group_commit.size histogram.
type commitSizes struct {
	commits uint64
	units   int64
}

// add adds the commits made between the readings from and to.
func (c *commitSizes) add(to, from commitSizes) {
	c.commits += to.commits - from.commits
	c.units += to.units - from.units
}

func (c commitSizes) mean() float64 { return float64(c.units) / float64(c.commits) }

// readCommitSizes reads the histogram so far; zero without a reader.
func readCommitSizes(b *testing.B, r *sdkmetric.ManualReader) commitSizes {
	var c commitSizes
	if r == nil {
		return c
	}
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		b.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "onboarding.store.group_commit.size" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[int64]).DataPoints {
				c.commits += dp.Count
				c.units += dp.Sum
			}
		}
	}
	return c
}

// runWorkers runs op(from..to-1) on benchWorkers goroutines; it returns the wall time
// and every latency.
func runWorkers(b *testing.B, from, to int, op func(int) error) (time.Duration, []time.Duration) {
	if from >= to {
		return 0, nil
	}
	var next atomic.Int64
	next.Store(int64(from))
	lats := make([][]time.Duration, benchWorkers)
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for w := range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				t0 := time.Now()
				if err := op(i); err != nil {
					failed.Store(err)
					return
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return d, slices.Concat(lats...)
}

func p99(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return float64(lat[(len(lat)*99)/100]) / float64(time.Millisecond)
}
