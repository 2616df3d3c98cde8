package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"net/http"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// Idempotency headers.
const (
	// HeaderIdempotencyKey is the idempotency key header of the guide.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderXIdempotencyKey is the idempotency key header of the SDK.
	HeaderXIdempotencyKey = "X-Idempotency-Key"
	// HeaderIdempotentReplayed is "true" on a response replayed for a repeated key.
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)

const (
	maxIdempotencyKeyLen = 255
	// storedKeyPrefix keeps the API's keys apart from the Service's own reserved keys
	// (biometrics sessions) in the partner's key space.
	storedKeyPrefix = "http:"
	// maxStoredResponse bounds a response kept for replay; a larger one is not kept.
	maxStoredResponse = 1 << 20
	// multipartHashPrefix marks a stored RequestHash that covers only the route: a
	// multipart body is hashed while it streams, so its full hash is known only at the
	// end and travels in the stored response.
	multipartHashPrefix = "route:"
)

// idempotencyKey returns the request's key from either header, "" when there is none.
func idempotencyKey(r *http.Request) (string, error) {
	k1, k2 := r.Header.Get(HeaderIdempotencyKey), r.Header.Get(HeaderXIdempotencyKey)
	if k1 != "" && k2 != "" && k1 != k2 {
		return "", fieldProblem(HeaderIdempotencyKey, "invalid_value", "differs from X-Idempotency-Key; send one of them")
	}
	k := k1
	if k == "" {
		k = k2
	}
	if k == "" {
		return "", nil
	}
	if len(k) > maxIdempotencyKeyLen {
		return "", fieldProblem(HeaderIdempotencyKey, "invalid_value", "must be at most 255 characters")
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x21 || c > 0x7e {
			return "", fieldProblem(HeaderIdempotencyKey, "invalid_value", "must be printable ASCII without spaces")
		}
	}
	return k, nil
}

// routeHash identifies the target of a request: method, path without the prefix (both
// prefixes are the same API) and query.
func routeHash(r *http.Request, rc *reqCtx) []byte {
	h := sha256.New()
	writeField(h, r.Method)
	writeField(h, strings.TrimPrefix(r.URL.Path, rc.prefix))
	writeField(h, string(rc.format)) // a response is stored in its format: no replay across formats
	writeField(h, r.URL.RawQuery)
	return h.Sum(nil)
}

// writeField writes a length-prefixed string, so that concatenations are unambiguous.
func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// jsonRequestHash is the full hash of a request whose body is in memory.
func jsonRequestHash(route, body []byte) string {
	h := sha256.New()
	h.Write(route)
	b := sha256.Sum256(body)
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil))
}

// storedMeta is the first line of a stored response; the body follows it.
type storedMeta struct {
	RequestHash string `json:"h"`
	ContentType string `json:"ct,omitempty"`
	Location    string `json:"loc,omitempty"`
}

func encodeStored(m storedMeta, body []byte) []byte {
	b, _ := json.Marshal(m)
	return append(append(b, '\n'), body...)
}

func decodeStored(b []byte) (storedMeta, []byte, error) {
	var m storedMeta
	line, body, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return m, nil, errors.New("httpapi: malformed stored response")
	}
	err := json.Unmarshal(line, &m)
	return m, body, err
}

// captureWriter keeps a copy of the response for the idempotency record.
type captureWriter struct {
	http.ResponseWriter
	status   int
	buf      bytes.Buffer
	overflow bool
}

func (w *captureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if !w.overflow {
		if w.buf.Len()+len(p) > maxStoredResponse {
			w.overflow = true
			w.buf = bytes.Buffer{}
		} else {
			w.buf.Write(p)
		}
	}
	return w.ResponseWriter.Write(p)
}

func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func keyReused() *problem {
	return &problem{status: http.StatusUnprocessableEntity, code: "idempotency_key_reused", param: HeaderIdempotencyKey,
		detail: "This idempotency key was used with a different request; use a new key for a new request."}
}

func keyInUse() *problem {
	return &problem{status: http.StatusConflict, code: "idempotency_key_in_use", param: HeaderIdempotencyKey,
		detail: "A request with this idempotency key is still in progress; retry later.",
		header: http.Header{"Retry-After": {"1"}}}
}

// idempotent runs h under an idempotency key stored in the Store (so replicas share it):
// the first request runs and its response is kept; the same key with the same request
// replays that response; with another request it is 422; while the first is in flight
// a repeat is 409. A 5xx, a panic or a body that did not arrive whole forgets the key,
// so that a retry runs again.
func (a *api) idempotent(w http.ResponseWriter, r *http.Request, rc *reqCtx, rawKey string, kind body, h handlerFunc) {
	ctx := r.Context()
	store := a.store
	key := storedKeyPrefix + rawKey
	route := routeHash(r, rc)
	var stored string // what the record's RequestHash holds
	if kind == multipartBody {
		stored = multipartHashPrefix + hex.EncodeToString(route)
	} else {
		stored = jsonRequestHash(route, rc.body)
	}

	// A request whose Service call reserves and completes the key in its own unit of work
	// needs no reservation here: run it so. The unit of work reads the key first and, when
	// it is known (a replay, or a concurrent request holding it), changes nothing and says
	// so (ErrKeyInUse); it is then answered as below.
	if kind != multipartBody && keyInUnitOfWork(r, rc) && a.runKeyed(w, r, rc, key, kind, stored, time.Time{}, h) {
		return
	}

	// owned is the creation time of the record this request holds: completing or forgetting
	// the key touches that record only, never one a retry took over meanwhile.
	var owned time.Time
	for attempt := 0; ; attempt++ {
		now := a.now().UTC().Truncate(time.Microsecond)
		rec := &onboarding.IdempotencyKey{PartnerID: rc.partner, Key: key, RequestHash: stored,
			CreatedAt: now, ExpiresAt: now.Add(a.idemTTL)}
		err := store.InsertIdempotencyKey(ctx, rec)
		if err == nil {
			owned = now
			break
		}
		if !errors.Is(err, onboarding.ErrConflict) || attempt >= 3 {
			a.writeError(w, r, err)
			return
		}
		old, err := store.GetIdempotencyKey(ctx, rc.partner, key)
		if errors.Is(err, onboarding.ErrNotFound) {
			continue // forgotten meanwhile: try again
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if old.RequestHash != stored {
			a.writeProblem(w, r, keyReused())
			return
		}
		if !old.Completed {
			if now.Sub(old.CreatedAt) > a.idemLock {
				// Its request is presumed dead with its process: take the key over.
				_ = store.DeleteIdempotencyKey(ctx, rc.partner, key, old.CreatedAt)
				continue
			}
			a.writeProblem(w, r, keyInUse())
			return
		}
		meta, body, err := decodeStored(old.ResponseBody)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if kind == multipartBody {
			// Hash the incoming body the same way the first one was, without acting on it.
			sum, err := rc.form.drainAll()
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			if sum != meta.RequestHash {
				a.writeProblem(w, r, keyReused())
				return
			}
		}
		rc.idempotency = "replayed"
		hd := w.Header()
		hd.Set(HeaderIdempotentReplayed, "true")
		if meta.ContentType != "" {
			hd.Set("Content-Type", meta.ContentType)
		}
		if meta.Location != "" {
			hd.Set("Location", meta.Location)
		}
		w.WriteHeader(old.ResponseStatus)
		_, _ = w.Write(body)
		return
	}

	a.runKeyed(w, r, rc, key, kind, stored, owned, h)
}

// keyInUnitOfWork tells the routes whose Service call reserves and completes an
// idempotency key in its own unit of work (onboarding.KeyCompletion): POST /customers
// (CreateCustomer).
func keyInUnitOfWork(r *http.Request, rc *reqCtx) bool {
	return r.Method == http.MethodPost && strings.TrimPrefix(r.URL.Path, rc.prefix) == "/customers"
}

// runKeyed runs h under key: reserved at owned or, with a zero owned, to be reserved by the
// Service's unit of work. It returns false, having answered nothing, when that unit of
// work found the key held by another request.
func (a *api) runKeyed(w http.ResponseWriter, r *http.Request, rc *reqCtx, key string, kind body, stored string,
	owned time.Time, h handlerFunc) bool {
	ctx := r.Context()
	store := a.store
	rc.idempotency = "new"
	cw := &captureWriter{ResponseWriter: w}
	// The Service completes the key in the transaction of the change, when it can (see
	// onboarding.KeyCompletion); the deferred completion below then has nothing to write.
	var kc *onboarding.KeyCompletion
	if kind != multipartBody {
		kc = &onboarding.KeyCompletion{Key: onboarding.IdempotencyKey{PartnerID: rc.partner, Key: key, CreatedAt: owned},
			Response: a.createdResponse(r, stored)}
		if owned.IsZero() {
			now := a.now().UTC().Truncate(time.Microsecond)
			kc.Reserve = true
			kc.Key.RequestHash, kc.Key.CreatedAt, kc.Key.ExpiresAt = stored, now, now.Add(a.idemTTL)
		}
		r = r.WithContext(onboarding.WithKeyCompletion(ctx, kc))
	}
	done, taken := false, false
	defer func() {
		// Runs on return and on panic; a panic goes on to ServeHTTP's recovery.
		if taken {
			return
		}
		var k *onboarding.IdempotencyKey
		if kc != nil {
			k = kc.Completed()
		}
		if owned.IsZero() && k != nil {
			owned = k.CreatedAt // the unit of work reserved it
		}
		bg := context.WithoutCancel(ctx)
		full := stored
		complete := true
		if kind == multipartBody {
			full, complete = rc.form.sum()
		}
		if !done || cw.status >= 500 || cw.status == 0 || rc.transient || !complete || cw.overflow {
			if owned.IsZero() {
				return // nothing stored
			}
			if err := store.DeleteIdempotencyKey(bg, rc.partner, key, owned); err != nil {
				a.log.WarnContext(bg, "httpapi: could not forget an idempotency key", "request_id", rc.id, "error", redact(err.Error()))
			}
			return
		}
		body := encodeStored(storedMeta{RequestHash: full, ContentType: cw.Header().Get("Content-Type"),
			Location: cw.Header().Get("Location")}, cw.buf.Bytes())
		if k != nil && k.ResponseStatus == cw.status && bytes.Equal(k.ResponseBody, body) {
			return // completed with the change, with this very response
		}
		if owned.IsZero() {
			// No unit of work stored the key (the call answered without one): store it
			// now, unless a concurrent request with the same key did.
			now := a.now().UTC().Truncate(time.Microsecond)
			rec := &onboarding.IdempotencyKey{PartnerID: rc.partner, Key: key, RequestHash: full, Completed: true,
				ResponseStatus: cw.status, ResponseBody: body, CreatedAt: now, ExpiresAt: now.Add(a.idemTTL)}
			if err := store.InsertIdempotencyKey(bg, rec); err != nil && !errors.Is(err, onboarding.ErrConflict) {
				a.log.ErrorContext(bg, "httpapi: could not store an idempotent response", "request_id", rc.id, "error", redact(err.Error()))
			}
			return
		}
		err := store.CompleteIdempotencyKey(bg, &onboarding.IdempotencyKey{PartnerID: rc.partner, Key: key,
			CreatedAt: owned, Completed: true, ResponseStatus: cw.status, ResponseBody: body})
		if err != nil {
			a.log.ErrorContext(bg, "httpapi: could not store an idempotent response", "request_id", rc.id, "error", redact(err.Error()))
			_ = store.DeleteIdempotencyKey(bg, rc.partner, key, owned)
		}
	}()
	if err := h(cw, r, rc); err != nil {
		// The unit of work found the key stored, or the call failed before any unit of
		// work (invalid input) while the key is stored: the key's owner answers.
		if kc != nil && kc.Reserve && cw.status == 0 && (errors.Is(err, onboarding.ErrKeyInUse) || a.keyStored(ctx, rc.partner, key)) {
			taken = true
			return false
		}
		a.writeError(cw, r, err)
	}
	done = true
	return true
}

// keyStored tells whether the partner's key is stored and not expired.
func (a *api) keyStored(ctx context.Context, partner, key string) bool {
	k, err := a.store.GetIdempotencyKey(ctx, partner, key)
	return err == nil && k.ExpiresAt.After(a.now())
}

// createdResponse renders, before the Service's unit of work, what a handler answers for a
// resource its POST created: 201, the resource's Location under the request's path, the
// resource as JSON. The handler's actual response is compared with it once written; when
// they differ, the key is completed again with the actual one.
func (a *api) createdResponse(r *http.Request, requestHash string) func(any) (int, []byte, bool) {
	return func(result any) (int, []byte, bool) {
		c, ok := result.(*onboarding.Customer)
		if !ok || r.Method != http.MethodPost {
			return 0, nil, false
		}
		rec := &recorder{header: http.Header{}}
		a.writeJSON(rec, r, http.StatusCreated, c)
		meta := storedMeta{RequestHash: requestHash, ContentType: rec.header.Get("Content-Type"),
			Location: strings.TrimSuffix(r.URL.Path, "/") + "/" + c.ID}
		return rec.status, encodeStored(meta, rec.body.Bytes()), true
	}
}

// recorder is an http.ResponseWriter that keeps what is written.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}
