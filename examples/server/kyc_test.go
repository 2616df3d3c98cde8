package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestKYCMounted starts the server and finds the wizard under /kyc/: its assets, and a
// link answered 410 (the exchange is not wired yet), logged.
func TestKYCMounted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lineWriter{lines: make(chan string, 16)}
	logs := &lineWriter{lines: make(chan string, 64)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "onboarding.db"),
			"-blob", "file://" + filepath.Join(dir, "documents"), "-sandbox", "-clients", "acme:test-secret-0123456789",
			"-token-key", strings.Repeat("ab", 32)}, out, logs, noEnv)
	}()
	var base string
	select {
	case line := <-out.lines:
		m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(line)
		require.NotNil(t, m, line)
		base = m[1]
	case err := <-done:
		t.Fatalf("server ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	get := func(path string) (*http.Response, string) {
		res, err := http.Get(base + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	res, body := get("/kyc/?code=bsc_0123")
	require.Equal(t, http.StatusGone, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Contains(t, body, "Link expirado ou já usado")
	res, _ = get("/kyc/assets/app.js")
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = get("/kyc/")
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	refused := false
	for !refused {
		select {
		case line := <-logs.lines:
			refused = strings.Contains(line, "session link refused")
			require.NotContains(t, line, "bsc_0123", "the code is a credential: never logged")
		case <-time.After(5 * time.Second):
			t.Fatal("the refusal was not logged")
		}
	}
	cancel()
	require.NoError(t, <-done)
}

// TestKYCCookieKey: replicas with the same token key sign the same cookies.
func TestKYCCookieKey(t *testing.T) {
	t.Parallel()
	require.Nil(t, kycCookieKey(nil))
	k := bytes.Repeat([]byte{1}, 32)
	require.Equal(t, kycCookieKey(k), kycCookieKey(bytes.Clone(k)))
	require.NotEqual(t, k, kycCookieKey(k)[:32], "derived, not the token key itself")
	require.Len(t, kycCookieKey(k), 32)
}

// TestKYCSessionsPlaceholder: until the exchange is wired, every code is refused, logged.
func TestKYCSessionsPlaceholder(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := kycSessions(nil, slog.New(slog.NewTextHandler(&buf, nil)))
	_, err := s.Exchange(context.Background(), "bsc_secret")
	require.Error(t, err)
	require.Contains(t, buf.String(), "session link refused")
	require.NotContains(t, buf.String(), "bsc_secret", "the code is a credential: never logged")
}
