package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	_ "gocloud.dev/blob/fileblob"
	"gocloud.dev/secrets/localsecrets"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/blobstore"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/taxid"
	"github.com/onboardkit/onboarding/webhook"
)

// marked is a registration whose every piece of personal data is a mark: a string that
// appears nowhere else, so that finding it on disk means the data is there.
type marked struct {
	params onboarding.CreateCustomerParams
	doc    []byte // a PDF whose content holds a mark
	marks  map[string][]string
}

func newMarked(t *testing.T, label string) *marked {
	var b [6]byte
	_, _ = rand.Read(b[:])
	tag := strings.ToUpper(label) + hex.EncodeToString(b[:])
	r := mrand.New(mrand.NewPCG(uint64(b[0])<<8|uint64(b[1]), uint64(b[2])<<16|uint64(b[3])<<8|uint64(b[4])))
	cpf, cnpj := taxid.GenerateCPF(r), taxid.GenerateCNPJ(r, false)
	phone := fmt.Sprintf("+55119%08d", r.IntN(100_000_000))
	m := &marked{params: onboarding.CreateCustomerParams{ExternalID: "ext-" + tag, CPF: cpf.String(), CNPJ: cnpj.String(),
		Name: "Nome" + tag, Email: "mail" + strings.ToLower(tag) + "@example.com", Phone: phone,
		TradingName: "Loja" + tag, LegalNature: "mei"}, doc: testfiles.PDF("Documento" + tag)}
	m.marks = map[string][]string{
		"name": {m.params.Name}, "email": {m.params.Email}, "phone": {phone}, "trading_name": {m.params.TradingName},
		"cpf": {string(cpf), cpf.String()}, "cnpj": {string(cnpj), cnpj.String()}, "external_id": {m.params.ExternalID},
		"document": {"Documento" + tag}, "filename": {"arquivo" + tag},
	}
	return m
}

// echoReceiver is a partner's webhook receiver over real HTTP that verifies every
// request and answers 200 echoing the body, as some receivers do: the delivery log then
// holds what was sent.
type echoReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]webhook.Event
	bad []string
	v   webhook.Verifier
}

func newEchoReceiver(t *testing.T) *echoReceiver {
	r := &echoReceiver{got: map[string]webhook.Event{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		ev, err := r.v.Unwrap(body, req.Header)
		if err != nil {
			r.bad = append(r.bad, err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.got[ev.ID] = ev
		_, _ = w.Write(body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *echoReceiver) trust(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.v.Secrets = append(r.v.Secrets, secrets...)
}

// has reports whether an event of type typ about customer id arrived.
func (r *echoReceiver) has(t *testing.T, typ, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.got {
		if e.Type == typ && customerOf(t, e) == id {
			return true
		}
	}
	return false
}

// partnerAPI is the partner REST API over real HTTP, with one client of the e2e partner.
type partnerAPI struct {
	t     *testing.T
	base  string
	token string
}

func newPartnerAPI(t *testing.T, svc *onboarding.Service) *partnerAPI {
	const clientID, secret = "e2e-client", "cs_e2e-client-secret-0123456789abcdefghij"
	h := httpapi.New(svc, &httpapi.Options{Logger: discard, TokenKey: bytes.Repeat([]byte("k"), 32),
		Clients: map[string]httpapi.Client{clientID: {PartnerID: partner, SecretHash: httpapi.HashSecret(secret)}}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a := &partnerAPI{t: t, base: srv.URL + "/v3"}
	req, _ := http.NewRequest("POST", a.base+"/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	status, body := a.send(req)
	require.Equal(t, 200, status, "%s", body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(body, &tok))
	a.token = tok.AccessToken
	return a
}

func (a *partnerAPI) send(req *http.Request) (int, []byte) {
	a.t.Helper()
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(a.t, err)
	return res.StatusCode, b
}

// register creates a customer through the API with an Idempotency-Key, so that the
// stored response (with the customer's data) is in the database too.
func (a *partnerAPI) register(p onboarding.CreateCustomerParams) string {
	a.t.Helper()
	body, _ := json.Marshal(map[string]string{"external_id": p.ExternalID, "cpf": p.CPF, "cnpj": p.CNPJ, "name": p.Name,
		"email": p.Email, "phone": p.Phone, "trading_name": p.TradingName, "legal_nature": p.LegalNature})
	req, _ := http.NewRequest("POST", a.base+"/customers", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "idem-"+p.ExternalID)
	status, out := a.send(req)
	require.Equal(a.t, 201, status, "%s", out)
	var c struct {
		ID string `json:"id"`
	}
	require.NoError(a.t, json.Unmarshal(out, &c))
	return c.ID
}

func (a *partnerAPI) getCustomer(id string) int {
	req, _ := http.NewRequest("GET", a.base+"/customers/"+id, nil)
	status, _ := a.send(req)
	return status
}

// diskFile is one file of the database or the bucket, read whole.
type diskFile struct {
	name  string
	bytes []byte
}

// findMarks returns, for each mark of m, the files holding it.
func findMarks(files []diskFile, m *marked) map[string][]string {
	out := map[string][]string{}
	for what, forms := range m.marks {
		for _, f := range files {
			for _, s := range forms {
				if bytes.Contains(f.bytes, []byte(s)) {
					out[what] = append(out[what], f.name)
					break
				}
			}
		}
	}
	return out
}

// readDir reads every file under dir whose base name has prefix.
func readDir(t *testing.T, dir, prefix string) []diskFile {
	t.Helper()
	var out []diskFile
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), prefix) {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		out = append(out, diskFile{name: path, bytes: b})
		return err
	}))
	return out
}

// pgFiles reads the files of every relation of the test's schema (tables, indexes, their
// TOAST tables and TOAST indexes) after a CHECKPOINT, from the data directory when this
// process may read it, through pg_read_binary_file otherwise.
func pgFiles(t *testing.T, db *bun.DB) []diskFile {
	t.Helper()
	ctx := context.Background()
	_, err := db.ExecContext(ctx, "CHECKPOINT")
	require.NoError(t, err)
	var dataDir string
	require.NoError(t, db.QueryRowContext(ctx, "SHOW data_directory").Scan(&dataDir))
	rows, err := db.QueryContext(ctx, `WITH rel AS (
  SELECT c.oid, c.reltoastrelid FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace
)
SELECT pg_relation_filepath(oid) FROM rel
UNION SELECT pg_relation_filepath(reltoastrelid) FROM rel WHERE reltoastrelid <> 0
UNION SELECT pg_relation_filepath(i.indexrelid) FROM pg_index i JOIN rel ON i.indrelid = rel.reltoastrelid`)
	require.NoError(t, err)
	var paths []string
	for rows.Next() {
		var p *string
		require.NoError(t, rows.Scan(&p))
		if p != nil {
			paths = append(paths, *p)
		}
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.NotEmpty(t, paths)
	var out []diskFile
	for _, p := range paths {
		for seg := 0; ; seg++ {
			name := p
			if seg > 0 {
				name = fmt.Sprintf("%s.%d", p, seg)
			}
			b, err := os.ReadFile(filepath.Join(dataDir, name))
			if errors.Is(err, fs.ErrNotExist) && seg > 0 {
				break
			}
			if err != nil {
				// Not on this machine, or not ours to read: ask the server (superuser).
				if seg > 0 {
					break
				}
				if qerr := db.QueryRowContext(ctx, "SELECT pg_read_binary_file(?)", name).Scan(&b); qerr != nil {
					t.Skipf("cannot read PostgreSQL's files (%v) nor through pg_read_binary_file (%v): run as root or a superuser", err, qerr)
				}
			}
			out = append(out, diskFile{name: name, bytes: b})
			if len(b) < 1<<30 {
				break // a segment under 1 GiB is the last one
			}
		}
	}
	return out
}

// vacuumUntilGone runs VACUUM FULL on the tables with personal data until gone reports
// the bytes gone, for at most a minute. VACUUM FULL copies the row versions an older
// snapshot may still see ("recently dead"), and the tests sharing this database server
// keep transactions open: the versions go once those have ended.
func vacuumUntilGone(t *testing.T, pool *bun.DB, gone func() bool) {
	t.Helper()
	store := bunstore.New(pool, nil)
	deadline := time.Now().Add(time.Minute)
	for i := 1; ; i++ {
		require.NoError(t, store.Vacuum(context.Background(), true))
		if gone() || time.Now().After(deadline) {
			t.Logf("VACUUM FULL runs: %d", i)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestErasureLeavesNoBytes registers a customer whose personal data are marks, and a
// control customer, through the partner API; runs the whole pipeline (KYC reviews,
// biometrics session, credit analysis, webhooks to a real receiver that echoes what it
// gets); erases the first; and searches every byte the database and the bucket keep on
// disk: none of its marks is found, every mark of the control is.
func TestErasureLeavesNoBytes(t *testing.T) {
	t.Parallel()
	forEachBackend(t, testErasureLeavesNoBytes)
}

func testErasureLeavesNoBytes(t *testing.T, db *database) {
	ctx := context.Background()
	bucketDir := t.TempDir()
	blobs, err := blobstore.Open(ctx, "file://"+bucketDir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = blobs.Close() })
	pool := db.open(t)
	svc := newService(t, pool, onboarding.Options{Blobs: blobs, Scorer: scoring.Sandbox{}, Reviewer: sandbox.Reviewer{},
		Biometrics: sandbox.Biometrics{}})
	rcv := newEchoReceiver(t)
	_, secret, err := svc.CreateWebhookEndpoint(ctx, partner, onboarding.CreateEndpointParams{URL: rcv.srv.URL + "/hooks"})
	require.NoError(t, err)
	rcv.trust(secret)
	api := newPartnerAPI(t, svc)

	victim, control := newMarked(t, "victim"), newMarked(t, "control")
	ids := map[*marked]string{}
	for _, m := range []*marked{victim, control} {
		id := api.register(m.params)
		ids[m] = id
		_, err := svc.StartBiometricsSession(ctx, partner, id)
		require.NoError(t, err)
		fname := m.marks["filename"][0]
		for i, body := range [][]byte{testfiles.PDF("first draft"), m.doc} { // the first is superseded
			_, err := svc.UploadDocument(ctx, partner, id, onboarding.UploadParams{Type: onboarding.DocCCMEI,
				Filename: fmt.Sprint(fname, "-", i, ".pdf"), Body: bytes.NewReader(body)})
			require.NoError(t, err)
		}
		_, err = svc.UploadDocument(ctx, partner, id, onboarding.UploadParams{Type: onboarding.DocSelfie,
			Filename: fname + ".png", Body: bytes.NewReader(testfiles.PNG("selfie"))})
		require.NoError(t, err)
	}
	stop := run(t, svc)
	require.Eventually(t, func() bool {
		for _, id := range ids {
			if !rcv.has(t, webhook.EventCreditOfferAvailable, id) || !rcv.has(t, webhook.EventCustomerActive, id) {
				return false
			}
		}
		return true
	}, waitLong, 20*time.Millisecond, "the pipeline ran for both customers")
	require.Eventually(t, func() bool { // every delivery recorded
		ds, err := svc.ListDeliveries(ctx, partner, onboarding.ListDeliveriesParams{Status: onboarding.DeliveryPending, Limit: 100})
		require.NoError(t, err)
		return len(ds) == 0
	}, waitLong, 20*time.Millisecond)
	stop()
	assert.Empty(t, rcv.bad)

	onDisk := func() []diskFile {
		files := readDir(t, bucketDir, "")
		if db.kind == "sqlite" {
			return append(files, readDir(t, filepath.Dir(db.target), filepath.Base(db.target))...)
		}
		return append(files, pgFiles(t, pool)...)
	}
	// Before: every mark of both is on disk (the search works).
	before := onDisk()
	for _, m := range []*marked{victim, control} {
		found := findMarks(before, m)
		for what := range m.marks {
			assert.NotEmpty(t, found[what], "before the erasure, %s is on disk", what)
		}
	}

	er, err := svc.EraseCustomer(ctx, partner, ids[victim], onboarding.EraseParams{Actor: "dpo",
		Reason: "data subject request 2026-0042", Override: true})
	require.NoError(t, err, "the victim is active: its KYC evidence is held, hence the override")
	assert.True(t, er.Override)
	assert.True(t, er.BlobsDeleted)
	assert.Equal(t, 404, api.getCustomer(ids[victim]))
	assert.Equal(t, 200, api.getCustomer(ids[control]))
	h, err := svc.History(ctx, partner, ids[victim])
	require.NoError(t, err)
	assert.Equal(t, onboarding.EventErase, h[len(h)-1].Event)

	if db.kind == "sqlite" {
		// While the database is open: the erasure checkpointed and truncated the WAL.
		found := findMarks(onDisk(), victim)
		assert.Empty(t, found, "marks of the erased customer on disk, database still open")
		require.NoError(t, pool.Close())
	} else {
		vacuumUntilGone(t, pool, func() bool { return len(findMarks(onDisk(), victim)) == 0 })
	}
	after := onDisk()
	assert.Empty(t, findMarks(after, victim), "marks of the erased customer on disk")
	found := findMarks(after, control)
	for what := range control.marks {
		assert.NotEmpty(t, found[what], "the control's %s is still on disk", what)
	}
	var total int
	for _, f := range after {
		total += len(f.bytes)
	}
	t.Logf("%s: searched %d files, %d bytes", db.kind, len(after), total)
}

// TestWebhookSecretsEncryptedAtRest: once a keeper is set, no webhook secret is in the
// database in plaintext, those written before included (after SealWebhookSecrets), and
// deliveries still verify with them.
func TestWebhookSecretsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	forEachBackend(t, testSecretsAtRest)
}

func testSecretsAtRest(t *testing.T, db *database) {
	ctx := context.Background()
	pool := db.open(t)
	before := newService(t, pool, onboarding.Options{})
	rcvOld, rcvNew := newEchoReceiver(t), newEchoReceiver(t)
	_, oldSecret, err := before.CreateWebhookEndpoint(ctx, partner, onboarding.CreateEndpointParams{URL: rcvOld.srv.URL})
	require.NoError(t, err)
	rcvOld.trust(oldSecret)

	key, err := localsecrets.NewRandomKey()
	require.NoError(t, err)
	keeper := localsecrets.NewKeeper(key)
	t.Cleanup(func() { _ = keeper.Close() })
	svc := newService(t, pool, onboarding.Options{Scorer: scoring.Sandbox{}, SecretsKeeper: keeper})
	n, err := svc.SealWebhookSecrets(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	ep, newSecret, err := svc.CreateWebhookEndpoint(ctx, partner, onboarding.CreateEndpointParams{URL: rcvNew.srv.URL})
	require.NoError(t, err)
	rotated, _, err := svc.RotateWebhookSecret(ctx, partner, ep.ID, time.Hour)
	require.NoError(t, err)
	rcvNew.trust(newSecret, rotated)

	c := register(t, svc, newPeople(t).next(""))
	run(t, svc)
	require.Eventually(t, func() bool {
		return rcvOld.has(t, webhook.EventCreditOfferAvailable, c.ID) && rcvNew.has(t, webhook.EventCreditOfferAvailable, c.ID)
	}, waitLong, 20*time.Millisecond, "deliveries signed with the decrypted secrets verify")
	assert.Empty(t, rcvOld.bad)
	assert.Empty(t, rcvNew.bad)

	secrets := &marked{marks: map[string][]string{}}
	for i, s := range []string{oldSecret, newSecret, rotated} {
		secrets.marks[fmt.Sprint("secret ", i)] = []string{s, strings.TrimPrefix(s, "whsec_")}
	}
	var files []diskFile
	if db.kind == "sqlite" {
		files = readDir(t, filepath.Dir(db.target), filepath.Base(db.target))
	} else {
		vacuumUntilGone(t, pool, func() bool { return len(findMarks(pgFiles(t, pool), secrets)) == 0 })
		files = pgFiles(t, pool)
	}
	assert.Empty(t, findMarks(files, secrets), "webhook secrets in plaintext in the database files")
}
