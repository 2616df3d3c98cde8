package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKYCMounted starts the server and follows a partner's session link into the wizard
// under /kyc/: the link's one-time code is exchanged once (a second browser gets 410), the
// page then opens with its cookie, and an unknown code is 410 and never logged.
func TestKYCMounted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs bytes.Buffer
	base, stop := startServerLogging(t, &logs, "-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "onboarding.db"),
		"-blob", "file://"+filepath.Join(dir, "documents"), "-sandbox", "-clients", "acme:test-secret-0123456789",
		"-token-key", strings.Repeat("ab", 32))
	defer stop()
	token := partnerToken(t, base, "acme", "test-secret-0123456789")
	call := func(method, path, body string) map[string]any {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		require.Less(t, res.StatusCode, 300, "%s %s: %v", method, path, out)
		return out
	}
	c := call("POST", "/v3/customers", `{"external_id":"seller-1","cpf":"123.456.789-09","cnpj":"12.345.678/0001-95",
		"name":"Maria da Silva","email":"maria@padaria.example","phone":"+5511912345678","trading_name":"Padaria da Maria"}`)
	sess := call("POST", "/v3/customers/"+c["id"].(string)+"/biometrics", `{}`)
	link := sess["session_url"].(string)
	require.True(t, strings.HasPrefix(link, base+"/kyc/?code=bsc_"), link)

	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(client *http.Client, url string) (*http.Response, string) {
		res, err := client.Get(url)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	first := browser()
	res, _ := get(first, link)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.NotContains(t, res.Header.Get("Location"), "code=", "the code leaves the address bar")
	res, body := get(first, base+"/kyc/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "Selfie", "the customer's pending items")
	res, body = get(browser(), link)
	require.Equal(t, http.StatusGone, res.StatusCode, "a used link")
	require.NotContains(t, body, "Maria", "a used link shows nothing of the customer")

	res, body = get(browser(), base+"/kyc/?code=bsc_0123")
	require.Equal(t, http.StatusGone, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Contains(t, body, "Link expirado ou já usado")
	res, _ = get(browser(), base+"/kyc/assets/app.js")
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = get(browser(), base+"/kyc/")
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	stop()
	require.NotContains(t, logs.String(), "bsc_", "a code is a credential: never logged")
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
