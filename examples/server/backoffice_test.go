package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/taxid"
)

func TestBackofficeConfig(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"rita", "rita:rita-password-123", "rita:rita-password-123:boss", "rita:short:viewer",
		"rita:rita-password-123:viewer,rita:rita-password-456:admin", "ri ta:rita-password-123:viewer"} {
		_, _, err := parseOperators(bad)
		require.Error(t, err, bad)
	}
	accounts, n, err := parseOperators("rita:pass:word-with-colons:reviewer, ana:ana-password-1234:admin")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	op, err := accounts.Authenticate("rita", "pass:word-with-colons")
	require.NoError(t, err, "a password may hold colons")
	require.Equal(t, "reviewer", string(op.Role))

	for _, c := range []struct {
		flag    string
		sandbox bool
		want    string
	}{{"", true, "sandbox"}, {"", false, "manual"}, {"manual", true, "manual"}, {"sandbox", false, "sandbox"}} {
		got, err := reviewMode(&backofficeConfig{reviewer: c.flag}, c.sandbox)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "%+v", c)
	}
	_, err = reviewMode(&backofficeConfig{reviewer: "robot"}, false)
	require.Error(t, err)

	cfg, err := parseConfig([]string{"-operators", "a:a-password-1234:viewer", "-reviewer", "manual", "-proxy-trusted", "10.0.0.1"},
		func(k string) string { return map[string]string{"ONBOARDING_OIDC_ROLE_CLAIM": "groups"}[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "a:a-password-1234:viewer", cfg.backoffice.operators)
	require.Equal(t, "groups", cfg.backoffice.oidcRoleClaim)
	h, err := newBackoffice(context.Background(), &backofficeConfig{}, nil, false, nil)
	require.NoError(t, err)
	require.Nil(t, h, "no authenticator, no back office")
	_, err = newBackoffice(context.Background(), &cfg.backoffice, nil, false, nil)
	require.ErrorContains(t, err, "one way to authenticate")
}

// TestServerManualReview runs the server with -reviewer manual and a back-office
// account: the uploaded items wait, the operator approves them over the back office's
// JSON API, and the partner sees the customer active.
func TestServerManualReview(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := "test-secret-0123456789"
	base, stop := startServer(t, "-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "onboarding.db"),
		"-blob", "file://"+filepath.Join(dir, "documents"), "-sandbox", "-reviewer", "manual",
		"-clients", "acme:"+secret, "-operators", "rita:rita-password-123:reviewer")
	call := func(c *http.Client, method, path, ctype string, body io.Reader, hdr map[string]string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, body)
		require.NoError(t, err)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	bearer := map[string]string{"Authorization": "Bearer " + partnerToken(t, base, "acme", secret)}

	r := mrand.New(mrand.NewPCG(3, 4))
	cnpj := taxid.GenerateCNPJ(r, false)
	for cnpj[7] > '4' || strings.HasPrefix(string(cnpj), "1111") {
		cnpj = taxid.GenerateCNPJ(r, false)
	}
	body, _ := json.Marshal(map[string]string{"external_id": "seller-9", "cpf": taxid.GenerateCPF(r).String(),
		"cnpj": cnpj.String(), "name": "Maria", "email": "maria@padaria.example", "phone": "+5511912345678"})
	status, c := call(http.DefaultClient, "POST", "/v3/customers", "application/json", bytes.NewReader(body), bearer)
	require.Equal(t, 201, status, "%v", c)
	id := c["id"].(string)
	for _, u := range []struct {
		typ  string
		data []byte
	}{{"ccmei", testfiles.PDF("ccmei")}, {"selfie", testfiles.JPEG("maria")}} {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("type", u.typ)
		fw, _ := mw.CreateFormFile("file", u.typ)
		_, _ = fw.Write(u.data)
		_ = mw.Close()
		status, m := call(http.DefaultClient, "POST", "/v3/customers/"+id+"/documents", mw.FormDataContentType(), &buf, bearer)
		require.Equal(t, 201, status, "%v", m)
	}
	time.Sleep(300 * time.Millisecond) // the workers run; no reviewer takes the items
	_, c = call(http.DefaultClient, "GET", "/v3/customers/"+id, "", nil, bearer)
	require.Equal(t, "under_review", c["status"], "manual review: every item waits for an operator")

	jar, _ := cookiejar.New(nil)
	op := &http.Client{Jar: jar}
	origin := map[string]string{"Origin": base}
	status, _ = call(op, "POST", "/backoffice/login", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"username": {"rita"}, "password": {"rita-password-123"}}.Encode()), origin)
	require.Equal(t, 200, status) // followed to the queue
	status, file := call(op, "GET", "/backoffice/api/customers/"+id, "", nil, nil)
	require.Equal(t, 200, status, "%v", file)
	for _, d := range file["documents"].([]any) {
		doc := d.(map[string]any)["id"].(string)
		status, m := call(op, "POST", "/backoffice/api/customers/"+id+"/documents/"+doc+"/approve", "application/json", nil, nil)
		require.Equal(t, 200, status, "%v", m)
	}
	_, c = call(http.DefaultClient, "GET", "/v3/customers/"+id, "", nil, bearer)
	require.Equal(t, "active", c["status"])

	stop()
}

// startServer runs the server with args until stop, which checks it shut down
// gracefully, and returns its base URL.
func startServer(t *testing.T, args ...string) (base string, stop func()) {
	t.Helper()
	return startServerLogging(t, io.Discard, args...)
}

// startServerLogging is startServer with the server's log written to logs.
func startServerLogging(t *testing.T, logs io.Writer, args ...string) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{lines: make(chan string, 16)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out, logs, noEnv) }()
	select {
	case line := <-out.lines:
		m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(line)
		require.NotNil(t, m, line)
		base = m[1]
	case err := <-done:
		cancel()
		t.Fatalf("server ended: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	var once sync.Once
	return base, func() {
		t.Helper()
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("no graceful shutdown")
			}
		})
	}
}

// partnerToken gets an access token for a client of the partner API.
func partnerToken(t *testing.T, base, client, secret string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v3/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, secret)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var tok map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	return tok["access_token"].(string)
}
