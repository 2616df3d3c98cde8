package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/store/memstore"
)

func nilStore() *memstore.Store { return memstore.New() }

// failingStore fails the next n units of work.
type failingStore struct {
	*memstore.Store
	fail  atomic.Bool
	panic atomic.Bool
	count atomic.Int32
}

func (s *failingStore) InTx(ctx context.Context, fn func(ctx context.Context, q onboarding.Queries) error) error {
	if s.panic.Load() {
		panic("store exploded")
	}
	if s.fail.Load() {
		s.count.Add(1)
		return errors.New("disk on fire")
	}
	return s.Store.InTx(ctx, fn)
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, be.open(t), nil, nil)
			body := newCustomer()

			r1 := e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "k-1")
			require.Equal(t, 201, r1.status, "%s", r1.body)
			require.Empty(t, r1.header.Get("Idempotent-Replayed"))

			// Same key, same request (either header): the first response. The other prefix
			// is another wire format, so another request.
			e.do("POST", e.srv.URL+"/api/v3/customers", acmeClient, body, "Idempotency-Key", "k-1").
				problem(t, 422, "idempotency_key_reused")
			for _, h := range []string{"Idempotency-Key", "X-Idempotency-Key"} {
				for _, base := range []string{e.base} {
					r := e.do("POST", base+"/customers", acmeClient, body, h, "k-1")
					require.Equal(t, 201, r.status, "%s", r.body)
					require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
					require.Equal(t, r1.body, r.body)
					require.Equal(t, r1.header.Get("Location"), r.header.Get("Location"))
					require.Equal(t, "application/json", r.header.Get("Content-Type"))
				}
			}

			// Same key, another request: 422.
			other := newCustomer()
			e.do("POST", "/customers", acmeClient, other, "Idempotency-Key", "k-1").problem(t, 422, "idempotency_key_reused")
			e.do("PATCH", "/customers/"+r1.json(t)["id"].(string), acmeClient, map[string]any{"name": "x"},
				"Idempotency-Key", "k-1").problem(t, 422, "idempotency_key_reused")

			// Keys are per partner: globex may use k-1 for its own request.
			r := e.do("POST", "/customers", globexClient, other, "Idempotency-Key", "k-1")
			require.Equal(t, 201, r.status, "%s", r.body)

			// A stored error replays too.
			bad := newCustomer()
			bad["cpf"] = "000"
			e.do("POST", "/customers", acmeClient, bad, "Idempotency-Key", "k-2").problem(t, 422, "invalid_cpf")
			r = e.do("POST", "/customers", acmeClient, bad, "Idempotency-Key", "k-2")
			r.problem(t, 422, "invalid_cpf")
			require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))

			// After 24 hours the key is forgotten.
			e.clock.Add(24*time.Hour + time.Second)
			e.tokens = map[string]string{}
			r = e.do("POST", "/customers", acmeClient, other, "Idempotency-Key", "k-1")
			require.Equal(t, 201, r.status, "%s", r.body)
			require.Empty(t, r.header.Get("Idempotent-Replayed"))

			// Bad keys.
			e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "a", "X-Idempotency-Key", "b").problem(t, 422, "invalid_value")
			e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", string(bytes.Repeat([]byte("a"), 256))).problem(t, 422, "invalid_value")
		})
	}
}

// TestIdempotencyFailureForgetsKey: a 5xx does not bind the key; the retry runs.
func TestIdempotencyFailureForgetsKey(t *testing.T) {
	t.Parallel()
	fs := &failingStore{Store: memstore.New()}
	e := setup(t, fs, nil, nil)
	body := newCustomer()
	fs.fail.Store(true)
	e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "retry-me").problem(t, 500, "internal")
	fs.fail.Store(false)
	fs.panic.Store(true)
	r := e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "retry-me")
	r.problem(t, 500, "internal")
	require.NotContains(t, string(r.body), "exploded")
	require.Contains(t, e.logs.String(), "panic: store exploded")
	fs.panic.Store(false)
	r = e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "retry-me")
	require.Equal(t, 201, r.status, "%s", r.body)
	require.Empty(t, r.header.Get("Idempotent-Replayed"))
}

// slowUpload starts a multipart upload whose file part is held open until release is
// closed; it returns the response channel.
func slowUpload(t *testing.T, e *env, path, key string, head, tail []byte, ct string) (chan *resp, chan struct{}) {
	pr, pw := io.Pipe()
	release := make(chan struct{})
	go func() {
		_, _ = pw.Write(head)
		<-release
		_, _ = pw.Write(tail)
		_ = pw.Close()
	}()
	req, err := http.NewRequest("POST", e.base+path, pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+e.token(acmeClient))
	req.Header.Set("Idempotency-Key", key)
	out := make(chan *resp, 1)
	go func() {
		res, err := e.client.Do(req)
		if err != nil {
			out <- &resp{status: -1, body: []byte(err.Error())}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		out <- &resp{status: res.StatusCode, header: res.Header, body: b}
	}()
	return out, release
}

// TestIdempotencyMultipart: in flight is 409; the finished upload replays; another file
// under the same key is 422.
func TestIdempotencyMultipart(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, be.open(t), nil, nil)
			c := e.createCustomer(acmeClient)
			path := "/customers/" + c["id"].(string) + "/documents"
			pdf := testfiles.PDF("ccmei of the slow upload")
			body, ct := multipartBody(t, field("type", "ccmei"), filePart("file", "ccmei.pdf", pdf))
			cut := bytes.Index(body, []byte("%%EOF"))
			out, release := slowUpload(t, e, path, "up-1", body[:cut], body[cut:], ct)

			// Wait until the first request holds the key (stored with the handler's prefix).
			require.Eventually(t, func() bool {
				_, err := e.store.GetIdempotencyKey(context.Background(), acmePartner, "http:up-1")
				return err == nil
			}, 5*time.Second, 5*time.Millisecond)
			e.upload(path, acmeClient, []part{field("type", "ccmei"), filePart("file", "ccmei.pdf", pdf)}, "Idempotency-Key", "up-1").
				problem(t, 409, "idempotency_key_in_use")
			close(release)
			first := <-out
			require.Equal(t, 201, first.status, "%s", first.body)

			r := e.upload(path, acmeClient, []part{field("type", "ccmei"), filePart("file", "ccmei.pdf", pdf)}, "Idempotency-Key", "up-1")
			require.Equal(t, 201, r.status, "%s", r.body)
			require.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
			require.Equal(t, first.body, r.body)

			e.upload(path, acmeClient, []part{field("type", "ccmei"), filePart("file", "ccmei.pdf", testfiles.PDF("another"))},
				"Idempotency-Key", "up-1").problem(t, 422, "idempotency_key_reused")
			e.upload(path, acmeClient, []part{field("type", "selfie"), filePart("file", "ccmei.pdf", pdf)},
				"Idempotency-Key", "up-1").problem(t, 422, "idempotency_key_reused")
			e.upload("/customers/"+c["id"].(string)+"/kyc-attachments", acmeClient, []part{field("type", "ccmei"), filePart("file", "ccmei.pdf", pdf)},
				"Idempotency-Key", "up-1").problem(t, 422, "idempotency_key_reused")

			docs := e.do("GET", "/customers/"+c["id"].(string)+"/documents", acmeClient, nil).json(t)["data"].([]any)
			require.Len(t, docs, 1, "one upload, whatever the retries")

			// A refused upload (4xx before the file was read) keeps no key: its retry runs.
			e.upload(path, acmeClient, []part{field("type", "rg"), filePart("file", "x.pdf", pdf)}, "Idempotency-Key", "up-2").
				problem(t, 422, "document_type_not_required")
			r = e.upload(path, acmeClient, []part{field("type", "selfie"), filePart("file", "s.jpg", testfiles.JPEG("s"))}, "Idempotency-Key", "up-2")
			require.Equal(t, 201, r.status, "%s", r.body)
		})
	}
}

// TestIdempotencyConcurrent: many identical requests under one key create one customer;
// each gets 201, a replay of it, or 409 in use.
func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	tok := e.token(acmeClient)
	body := newCustomer()
	const n = 16
	results := make(chan *resp, n)
	for range n {
		go func() {
			raw, _ := jsonMarshal(body)
			req, _ := http.NewRequest("POST", e.base+"/customers", bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Idempotency-Key", "same")
			res, err := e.client.Do(req)
			if err != nil {
				results <- &resp{status: -1}
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			results <- &resp{status: res.StatusCode, header: res.Header, body: b}
		}()
	}
	var created []byte
	for range n {
		r := <-results
		switch r.status {
		case 201:
			if created == nil {
				created = r.body
			}
			require.Equal(t, created, r.body)
		case 409:
			r.problem(t, 409, "idempotency_key_in_use")
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	list := e.do("GET", "/customers", acmeClient, nil).json(t)["data"].([]any)
	require.Len(t, list, 1)
}
