package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/internal/pgtest"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/taxid"
)

// lineWriter collects output and signals each line.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			break
		}
		select {
		case w.lines <- strings.TrimSpace(line):
		default:
		}
	}
	return len(p), nil
}

func noEnv(string) string { return "" }

// TestServer starts the server on SQLite and a file bucket in sandbox mode and runs the
// guide over HTTP; the sandbox reviewer, biometrics and scorer do the rest in the
// background. Then it shuts down gracefully.
func TestServer(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		testServer(t, dir, filepath.Join(dir, "data", "onboarding.db"))
		require.FileExists(t, filepath.Join(dir, "data", "onboarding.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testServer(t, t.TempDir(), postgresDSN(t))
	})
}

// postgresDSN returns a DSN on a fresh schema of ONBOARDING_TEST_POSTGRES_DSN, dropped at
// the end; it skips without the variable (fails under CI=true).
func postgresDSN(t *testing.T) string { return pgtest.SchemaDSN(t, "server") }

func testServer(t *testing.T, dir, db string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lineWriter{lines: make(chan string, 16)}
	done := make(chan error, 1)
	secret := "test-secret-0123456789"
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-db", db,
			"-blob", "file://" + filepath.Join(dir, "documents"), "-sandbox", "-clients", "acme:" + secret,
			"-token-key", strings.Repeat("ab", 32), "-metrics-addr", "127.0.0.1:0"}, out, io.Discard, noEnv)
	}()
	var base, metricsURL string
	for _, pattern := range []string{`listening on (http://\S+)`, `metrics on (http://\S+)`} {
		select {
		case line := <-out.lines:
			m := regexp.MustCompile(pattern).FindStringSubmatch(line)
			require.NotNil(t, m, line)
			if base == "" {
				base = m[1]
			} else {
				metricsURL = m[1]
			}
		case err := <-done:
			t.Fatalf("server ended: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("server did not start")
		}
	}
	delivered := make(chan struct{}, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		delivered <- struct{}{}
	}))
	defer rcv.Close()

	get := func(path, tok string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	status, m := get("/", "")
	require.Equal(t, 200, status)
	require.Equal(t, "ok", m["status"])
	status, m = get("/healthz", "")
	require.Equal(t, 200, status)
	require.Equal(t, "ok", m["status"])
	status, m = get("/readyz", "")
	require.Equal(t, 200, status, "%v", m)
	require.Equal(t, "ready", m["status"])

	req, _ := http.NewRequest("POST", base+"/v3/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("acme", secret)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var tok map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	res.Body.Close()
	token := tok["access_token"].(string)

	body, _ := json.Marshal(map[string]any{"url": rcv.URL, "events": []string{"credit_offer.available"}})
	req, _ = http.NewRequest("POST", base+"/v3/webhooks/endpoints", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, 201, res.StatusCode, "%s", b)

	// A MEI in the sandbox registry: none of its magic prefixes (nor a magic scorer root).
	r := mrand.New(mrand.NewPCG(1, 2))
	cnpj := taxid.GenerateCNPJ(r, false)
	for strings.Contains("66 77 88 99", string(cnpj[:2])) || strings.HasPrefix(string(cnpj), "1111") {
		cnpj = taxid.GenerateCNPJ(r, false)
	}
	body, _ = json.Marshal(map[string]string{"external_id": "seller-1", "cpf": taxid.GenerateCPF(r).String(),
		"cnpj": cnpj.String(), "name": "Maria", "email": "maria@padaria.example", "phone": "+5511912345678"})
	req, _ = http.NewRequest("POST", base+"/api/v3/customers", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", "srv-1")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&c))
	res.Body.Close()
	require.Equal(t, 201, res.StatusCode, "%v", c)
	id := c["id"].(string)

	for _, u := range []struct {
		typ, name string
		data      []byte
	}{{"ccmei", "ccmei.pdf", testfiles.PDF("ccmei")}, {"selfie", "selfie.jpg", testfiles.JPEG("maria")}} {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("type", u.typ)
		fw, _ := mw.CreateFormFile("file", u.name)
		_, _ = fw.Write(u.data)
		_ = mw.Close()
		req, _ := http.NewRequest("POST", base+"/v3/customers/"+id+"/documents", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, 201, res.StatusCode, "%s", b)
	}
	require.Eventually(t, func() bool {
		_, c := get("/v3/customers/"+id, token)
		return c["status"] == "active"
	}, 30*time.Second, 50*time.Millisecond, "the sandbox reviewer approves in the background")
	require.Eventually(t, func() bool {
		_, page := get("/v3/customers/"+id+"/credit-offers", token)
		data, _ := page["data"].([]any)
		return len(data) == 1
	}, 30*time.Second, 50*time.Millisecond, "the sandbox scorer makes an offer")
	select {
	case <-delivered:
	case <-time.After(30 * time.Second):
		t.Fatal("no credit_offer.available delivery")
	}

	// The metrics listener serves the Prometheus names of docs/operations.md.
	require.Eventually(t, func() bool {
		res, err := http.Get(metricsURL)
		require.NoError(t, err)
		text, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, want := range [][]string{
			{"onboarding_customers_registered_total"},
			{"onboarding_credit_decisions_total", `outcome="approve"`},
			{"onboarding_kyc_reviews_total", `decision="approve"`, `reviewer_kind="reviewer"`},
			{"onboarding_kyc_reviews_total", `decision="approve"`, `reviewer_kind="biometrics"`},
			{"onboarding_jobs", `kind="credit_analysis"`, `state="available"`},
			{"onboarding_jobs", `kind="deliver_webhook"`, `state="dead"`},
			{"onboarding_jobs_oldest_due_age_seconds", `kind="deliver_webhook"`},
			{"onboarding_job_duration_seconds_bucket", `kind="credit_analysis"`, `outcome="completed"`},
			{"onboarding_webhook_deliveries_total", `outcome="delivered"`},
			{"onboarding_webhook_delivery_duration_seconds_bucket", `outcome="delivered"`},
			{"http_server_request_duration_seconds_bucket", `http_route="/api/v3/customers"`},
			{"onboarding_store_group_commit_size_bucket", `db_system="sqlite"`},
		} {
			if strings.HasPrefix(db, "postgres") && strings.HasPrefix(want[0], "onboarding_store_") {
				continue // no group commit on PostgreSQL
			}
			if !hasSeries(string(text), want[0], want[1:]...) {
				t.Logf("not yet in /metrics: %v", want)
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("no graceful shutdown")
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ONBOARDING_ADDR": ":9999", "ONBOARDING_DB": "postgres://x", "ONBOARDING_SANDBOX": "true"}
	c, err := parseConfig([]string{"-db", "other.db"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, ":9999", c.addr)
	require.Equal(t, "other.db", c.db, "a flag wins over its variable")
	require.True(t, c.sandbox)
	require.Equal(t, "file://./documents", c.blob)

	_, err = parseConfig(nil, func(k string) string { return map[string]string{"ONBOARDING_SANDBOX": "maybe"}[k] }, io.Discard)
	require.Error(t, err)

	cl, err := parseClients("acme:0123456789abcdef, globex:fedcba9876543210")
	require.NoError(t, err)
	require.Equal(t, "globex", cl["globex"].PartnerID)
	for _, bad := range []string{"acme", "acme:short", "a:0123456789abcdef,a:0123456789abcdef", ":0123456789abcdef"} {
		_, err := parseClients(bad)
		require.Error(t, err, bad)
	}
	_, err = parseKey(strings.Repeat("ab", 32))
	require.NoError(t, err)
	_, err = parseKey("short")
	require.Error(t, err)
	require.Equal(t, "file://./documents?create_dir=1", blobURL("file://./documents"))
	require.Equal(t, "s3://b?region=x", blobURL("s3://b?region=x"))

	err = run(context.Background(), []string{"-db", filepath.Join(t.TempDir(), "x.db")}, io.Discard, io.Discard, noEnv)
	require.ErrorContains(t, err, "no API clients")
}

// TestReadyz: not ready on a database Migrate never ran on, nor while shutting down.
func TestReadyz(t *testing.T) {
	t.Parallel()
	db, err := bunstore.OpenSQLite(filepath.Join(t.TempDir(), "empty.db"))
	require.NoError(t, err)
	defer db.Close()
	var draining atomic.Bool
	probe := func() (int, string) {
		w := httptest.NewRecorder()
		readyz(db, &draining).ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		var m map[string]string
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m))
		return w.Code, m["status"]
	}
	code, st := probe()
	require.Equal(t, 503, code)
	require.Equal(t, "schema_outdated", st)
	require.NoError(t, bunstore.Migrate(context.Background(), db))
	code, st = probe()
	require.Equal(t, 200, code)
	require.Equal(t, "ready", st)
	draining.Store(true)
	code, st = probe()
	require.Equal(t, 503, code)
	require.Equal(t, "shutting_down", st)
}

// hasSeries reports whether the Prometheus text has a sample of metric name with every
// label given (name="value").
func hasSeries(text, name string, labels ...string) bool {
next:
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		for _, lb := range labels {
			if !strings.Contains(l, lb) {
				continue next
			}
		}
		return true
	}
	return false
}
