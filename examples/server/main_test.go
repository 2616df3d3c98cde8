package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/internal/pgtest"
	"github.com/onboardkit/onboarding/internal/testfiles"
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
	secret := "test-secret-0123456789"
	base, stop := startServer(t, "-addr", "127.0.0.1:0", "-db", db,
		"-blob", "file://"+filepath.Join(dir, "documents"), "-sandbox", "-clients", "acme:"+secret,
		"-token-key", strings.Repeat("ab", 32))

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

	token := partnerToken(t, base, "acme", secret)

	// A MEI in the sandbox registry: none of its magic prefixes (nor a magic scorer root).
	r := mrand.New(mrand.NewPCG(1, 2))
	cnpj := taxid.GenerateCNPJ(r, false)
	for strings.Contains("66 77 88 99", string(cnpj[:2])) || strings.HasPrefix(string(cnpj), "1111") {
		cnpj = taxid.GenerateCNPJ(r, false)
	}
	body, _ := json.Marshal(map[string]string{"external_id": "seller-1", "cpf": taxid.GenerateCPF(r).String(),
		"cnpj": cnpj.String(), "name": "Maria", "email": "maria@padaria.example", "phone": "+5511912345678"})
	req, _ := http.NewRequest("POST", base+"/api/v3/customers", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", "srv-1")
	res, err := http.DefaultClient.Do(req)
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

	stop()
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
