package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/bunstore"
)

// sqliteStore is a migrated SQLite store in the test's directory: the backend that
// refused NUL bytes with a 500.
func sqliteStore(t testing.TB, dir string) onboarding.Store {
	db, err := bunstore.OpenSQLite(filepath.Join(dir, "onboarding.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, bunstore.Migrate(context.Background(), db))
	return bunstore.New(db, nil)
}

// hostileRequest builds a request for route (method, path) with value in every path
// wildcard, and name=qv as a query parameter.
func hostileRequest(prefix string, rt [2]string, value, name, qv string, body []byte) *http.Request {
	path := rt[1]
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") {
			path = strings.Replace(path, seg, url.PathEscape(value), 1)
		}
	}
	q := url.Values{name: {qv}}
	req := httptest.NewRequest(rt[0], prefix+path+"?"+q.Encode(), strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// hostile are the values an attacker sends where identifiers and filters go.
var hostile = []string{"\x00", "cust_\x00", "%00", "' OR 1=1 --", "\"", "\\", "\xff\xfe", `\ud800`, "é", " ",
	strings.Repeat("a", 300), "..", "../../etc/passwd", "\r\nX-Injected: 1", "\u202e", "cust_" + strings.Repeat("0", 32)}

// TestHostileValuesOnEveryRoute sends hostile bytes in every path wildcard, every
// identifier and filter parameter, and the JSON bodies of every route, on SQLite: no answer
// is a 5xx, and a malformed identifier is 404 (path) or 422 (query).
func TestHostileValuesOnEveryRoute(t *testing.T) {
	t.Parallel()
	fe := newFuzzEnvOn(t, sqliteStore(t, t.TempDir()))
	params := []string{"starting_after", "customer_id", "external_id", "cpf", "status", "sort", "limit", "\x00"}
	n := 0
	for _, prefix := range httpapi.Prefixes {
		for _, rt := range httpapi.RoutePatterns() {
			for _, v := range hostile {
				for _, p := range params {
					rec := fe.serve(t, hostileRequest(prefix, rt, v, p, v, []byte(`{"name":"`+v+`"}`)))
					n++
					switch {
					case strings.HasSuffix(rt[1], "/selfie"): // customer tokens only: refused before anything
						assert.Contains(t, []int{http.StatusForbidden, http.StatusTemporaryRedirect}, rec.Code, "%q", v)
					case strings.Contains(rt[1], "{") && strings.ContainsAny(v, "\x00\"'\\ \xff\r\n"):
						assert.Equal(t, http.StatusNotFound, rec.Code, "%s %s with %q", rt[0], rt[1], v)
					}
				}
			}
		}
	}
	t.Logf("%d hostile requests, none answered 5xx", n)
	for _, p := range []string{"starting_after", "customer_id", "external_id"} {
		rec := fe.serve(t, httptest.NewRequest("GET", "/v3/customers?"+p+"=%00", nil))
		assert.Equal(t, http.StatusUnprocessableEntity, rec.Code, p)
		assert.Contains(t, rec.Body.String(), `"param":"`+p+`"`)
	}
}

// FuzzRoutes sends what the fuzzer makes to every route: path values, a query parameter
// and a body. No 5xx, on SQLite.
func FuzzRoutes(f *testing.F) {
	fe := newFuzzEnvOn(f, sqliteStore(f, f.TempDir()))
	routes := httpapi.RoutePatterns()
	for i, v := range hostile {
		f.Add(uint8(i), v, "starting_after", v, []byte(`{"external_id":"`+v+`"}`))
	}
	f.Add(uint8(1), "x", "external_id", "a\x00b", []byte(`{"name":"\ud800"}`))
	f.Fuzz(func(t *testing.T, route uint8, value, name, qv string, body []byte) {
		rt := routes[int(route)%len(routes)]
		prefix := httpapi.Prefixes[int(route)/len(routes)%len(httpapi.Prefixes)]
		fe.serve(t, hostileRequest(prefix, rt, value, name, qv, body))
	})
}

// TestJSONTextIsNeverAltered: a body with invalid UTF-8 or half a surrogate pair is 400
// malformed_body; nothing is stored with U+FFFD in its place.
func TestJSONTextIsNeverAltered(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	valid := `{"external_id":"e-%d","cpf":"123.456.789-09","cnpj":"12.345.678/0001-95","name":"%s","email":"m@x.example","phone":"+5511912345678"}`
	for i, name := range []string{"\xff\xfe", `\ud800`, `\udc00`, `\ud800\u0041`, `\ud800x`, "a\xc0\xafb"} {
		r := e.do("POST", "/customers", acmeClient, fmt.Sprintf(valid, i, name))
		r.problem(t, 400, "malformed_body")
	}
	// external_id with altered bytes is refused too, and a real pair goes through.
	e.do("POST", "/customers", acmeClient, fmt.Sprintf(strings.Replace(valid, `"e-%d"`, `"\xc0\xaf%d"`, 1), 9, "Maria")).
		problem(t, 400, "malformed_body")
	r := e.do("POST", "/customers", acmeClient, fmt.Sprintf(valid, 10, `Maria \ud83d\ude00`))
	require.Equal(t, 201, r.status, "%s", r.body)
	list := e.do("GET", "/customers", acmeClient, nil).json(t)["data"].([]any)
	require.Len(t, list, 1, "nothing stored from the refused bodies")
	assert.NotContains(t, string(r.body), "\ufffd")
}

// TestSlowTokenlessBodiesLetGo: 200 clients sending a body byte by byte without a token
// each get their 401 at once, and the connection closes: no body is waited for. "At once"
// is within answerWithin, which leaves room for a loaded CI machine (-race, other packages
// testing meanwhile) and is still far below the 20 s a dripped body would be waited for
// (Options.BodyRateWindow).
func TestSlowTokenlessBodiesLetGo(t *testing.T) { bothPaths(t, testSlowTokenlessBodiesLetGo) }

func testSlowTokenlessBodiesLetGo(t *testing.T, tel *httpapi.Telemetry) {
	t.Parallel()
	e := setup(t, nil, nil, &httpapi.Options{Telemetry: tel})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	const clients = 200
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- dripUnauthenticated(addr, i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// answerWithin bounds the wait for each dripping client's 401 and the end of its
// connection.
const answerWithin = 5 * time.Second

// dripUnauthenticated declares a 1 MB body, sends one byte, and expects the whole 401
// answer and the end of the connection within answerWithin.
func dripUnauthenticated(addr string, i int) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v3/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
	_ = conn.SetReadDeadline(time.Now().Add(answerWithin))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("client %d: no answer within %v: %w", i, answerWithin, err)
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return fmt.Errorf("client %d: body: %w", i, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !res.Close {
		return fmt.Errorf("client %d: %d, close %v", i, res.StatusCode, res.Close)
	}
	// The server has closed: a read ends at once with EOF rather than at the deadline.
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		return fmt.Errorf("client %d: the connection is still open: %v", i, err)
	}
	return nil
}

// TestSlowBodyIs408: an authenticated body slower than the minimum rate is refused with
// 408 and the connection closed; a slow but steady upload above it succeeds.
func TestSlowBodyIs408(t *testing.T) { bothPaths(t, testSlowBodyIs408) }

func testSlowBodyIs408(t *testing.T, tel *httpapi.Telemetry) {
	t.Parallel()
	e := setup(t, nil, nil, &httpapi.Options{MinBodyRate: 1000, BodyRateWindow: 300 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Telemetry: tel})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	tok := e.token(acmeClient)
	body := `{"external_id":"slow","cpf":"123.456.789-09","cnpj":"12.345.678/0001-95","name":"Maria","email":"m@x.example","phone":"+5511912345678"}`

	send := func(chunk int, pause time.Duration) (*http.Response, error) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "POST /v3/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", tok, len(body))
		go func() {
			for i := 0; i < len(body); i += chunk {
				if _, err := conn.Write([]byte(body[i:min(i+chunk, len(body))])); err != nil {
					return
				}
				time.Sleep(pause)
			}
		}()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		return http.ReadResponse(bufio.NewReader(conn), nil)
	}
	// One byte every 100 ms: 10 B/s against a minimum of 1000 B/s after 300 ms.
	res, err := send(1, 100*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, http.StatusRequestTimeout, res.StatusCode)
	assert.True(t, res.Close, "the connection closes")
	// 40 bytes every 20 ms: 2000 B/s, slow but steady.
	res, err = send(40, 20*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, http.StatusCreated, res.StatusCode)
}

// newFuzzEnvOn is newFuzzEnv on a given store.
func newFuzzEnvOn(tb testing.TB, store onboarding.Store) *fuzzEnv {
	svc := onboardingtest.NewService(tb, store, &onboarding.Options{Logger: slog.New(slog.DiscardHandler),
		Uploads: onboarding.UploadRules{MaxSize: 64 << 10}, Biometrics: sandbox.Biometrics{}})
	return newFuzzEnvFor(tb, svc)
}
