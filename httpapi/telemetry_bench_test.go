package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"golang.org/x/time/rate"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/internal/otelbench"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/taxid"
)

// BenchmarkRegistrationsTelemetry measures what OpenTelemetry costs an HTTP registration:
// b.N registrations over loopback on an API and Service with the default (no-op)
// providers, and b.N on a twin whose API, Service and database hook (bunstore.Instrument) report to
// the real SDK with exporters that drop everything (internal/otelbench), each twin on its
// own store, benchWorkers concurrent clients, in ten alternating rounds. It reports both
// rates, both p99 latencies and x-off = rate with telemetry / rate without (the goal is
// ≥ 0.9, at most 10 % slower).
//
//	go test ./httpapi -run '^$' -bench RegistrationsTelemetry -benchtime 4000x
func BenchmarkRegistrationsTelemetry(b *testing.B) {
	for _, name := range []string{"memstore", "sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) { benchRegistrationsTelemetry(b, name) })
	}
}

// telemetryTwin is one side of the comparison: an API server and its client.
type telemetryTwin struct {
	url    string
	client *http.Client
	auth   string
}

func newTelemetryTwin(b *testing.B, backend string, on bool) *telemetryTwin {
	discard := slog.New(slog.DiscardHandler)
	opts := &onboarding.Options{Logger: discard}
	apiOpts := &httpapi.Options{Clients: testClients(), TokenKey: testTokenKey, Logger: discard, RateLimit: rate.Inf}
	var db *bun.DB
	switch backend {
	case "sqlite":
		db = openSQLite(b)
	case "postgres":
		db = openPostgres(b)
	}
	if on {
		tp, mp := otelbench.Providers(b)
		opts.TracerProvider, opts.MeterProvider = tp, mp
		apiOpts.Telemetry = &httpapi.Telemetry{TracerProvider: tp, MeterProvider: mp}
		if db != nil {
			bunstore.Instrument(db, &bunstore.TelemetryOptions{TracerProvider: tp, MeterProvider: mp})
		}
	}
	var store onboarding.Store = memstore.New()
	if db != nil {
		store = bunstore.New(db, nil)
	}
	svc := onboardingtest.NewService(b, store, opts)
	srv := httptest.NewServer(httpapi.New(svc, apiOpts))
	b.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = benchWorkers
	b.Cleanup(tr.CloseIdleConnections)
	tw := &telemetryTwin{url: srv.URL, client: &http.Client{Transport: tr}}
	req, _ := http.NewRequest("POST", srv.URL+"/v3/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(acmeClient, acmeSecret)
	res, err := tw.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	tw.auth = "Bearer " + tok.AccessToken
	return tw
}

func (tw *telemetryTwin) register(body []byte) error {
	req, _ := http.NewRequest("POST", tw.url+"/v3/customers", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", tw.auth)
	res, err := tw.client.Do(req)
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

func benchRegistrationsTelemetry(b *testing.B, backend string) {
	off, on := newTelemetryTwin(b, backend, false), newTelemetryTwin(b, backend, true)
	n := b.N
	r := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11))
	bodies := make([][]byte, 2*n)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]string{"external_id": fmt.Sprintf("bench-%d", i),
			"cpf": taxid.GenerateCPF(r).String(), "cnpj": taxid.GenerateCNPJ(r, false).String(), "name": "Maria da Silva",
			"email": "maria@padaria.example", "phone": "+5511912345678", "trading_name": "Padaria da Maria"})
	}
	b.ResetTimer()
	var offDur, onDur time.Duration
	var offLat, onLat []time.Duration
	// Many short rounds, the order swapped each time, so that the load of a shared
	// machine and the growth of the tables fall on both sides alike.
	const rounds = 10
	for k := range rounds {
		from, to := n*k/rounds, n*(k+1)/rounds
		runOff := func() {
			d, lat := runWorkers(b, from, to, func(i int) error { return off.register(bodies[i]) })
			offDur, offLat = offDur+d, append(offLat, lat...)
		}
		runOn := func() {
			d, lat := runWorkers(b, n+from, n+to, func(i int) error { return on.register(bodies[i]) })
			onDur, onLat = onDur+d, append(onLat, lat...)
		}
		if k%2 == 0 {
			runOff()
			runOn()
		} else {
			runOn()
			runOff()
		}
	}
	b.StopTimer()
	offRate, onRate := float64(n)/offDur.Seconds(), float64(n)/onDur.Seconds()
	b.ReportMetric(offRate, "off-reg/s")
	b.ReportMetric(onRate, "on-reg/s")
	b.ReportMetric(p99(offLat), "off-p99-ms")
	b.ReportMetric(p99(onLat), "on-p99-ms")
	b.ReportMetric(onRate/offRate, "x-off")
}
