package backoffice_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/sandbox"
)

// TestExportAndErase: an admin downloads everything held about a customer (a zip with
// customer.json and the documents) and erases the customer's personal data, from the page
// (plain form posts) and from the API; both are audited. A reviewer gets neither button
// and is refused by the server; an erasure needs a reason and a ticked confirmation.
func TestExportAndErase(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	cust, docs := e.submitted(t, "acme")
	page := "/backoffice/customers/" + cust.ID

	reviewer := e.loggedIn(t, reviewerName, reviewerPass)
	res := e.get(t, reviewer, page)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.NotContains(t, res.body, `data-action="export"`)
	assert.NotContains(t, res.body, `data-action="erase"`)
	assert.Equal(t, http.StatusForbidden, e.postForm(t, reviewer, page+"/export", nil).StatusCode)
	assert.Equal(t, http.StatusForbidden, e.postForm(t, reviewer, page+"/erase",
		url.Values{"reason": {"DSR-1"}, "confirm": {"yes"}}).StatusCode)
	assert.Equal(t, http.StatusForbidden, e.postJSON(t, reviewer, "/backoffice/api/customers/"+cust.ID+"/erase",
		map[string]string{"reason": "DSR-1"}).StatusCode)
	assert.Equal(t, http.StatusForbidden, e.postJSON(t, reviewer, "/backoffice/api/customers/"+cust.ID+"/export", nil).StatusCode)
	refused := 0
	for _, a := range e.audit(t) {
		if a.Action == onboarding.AuditRefused && a.CustomerID == cust.ID {
			refused++
		}
	}
	assert.Equal(t, 4, refused, "every refusal is audited")

	admin := e.loggedIn(t, adminName, adminPass)
	res = e.get(t, admin, page)
	assert.Contains(t, res.body, `data-action="export"`)
	assert.Contains(t, res.body, `data-action="erase"`)

	res = e.postForm(t, admin, page+"/export", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	assert.Equal(t, "application/zip", res.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename=customer-`+cust.ID+`.zip`, res.Header.Get("Content-Disposition"))
	assert.Equal(t, "private, no-store", res.Header.Get("Cache-Control"))
	zr, err := zip.NewReader(strings.NewReader(res.body), int64(len(res.body)))
	require.NoError(t, err)
	var export onboarding.CustomerExport
	files := 0
	for _, f := range zr.File {
		files++
		if f.Name != onboarding.ArchiveCustomerFile {
			continue
		}
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &export))
	}
	require.NotNil(t, export.Customer)
	assert.Equal(t, cust.ID, export.Customer.ID)
	assert.Len(t, export.Documents, len(docs))
	assert.Equal(t, 1+len(docs), files, "customer.json and each document")
	assert.True(t, e.hasAudit(t, "operator:"+adminName, onboarding.AuditExport))

	assert.Equal(t, http.StatusUnprocessableEntity, e.postForm(t, admin, page+"/erase",
		url.Values{"reason": {"DSR-1"}}).StatusCode, "not confirmed")
	assert.Equal(t, http.StatusUnprocessableEntity, e.postForm(t, admin, page+"/erase",
		url.Values{"reason": {" "}, "confirm": {"yes"}}).StatusCode, "no reason")
	e.customer(t, cust) // still there

	res = e.postForm(t, admin, page+"/erase", url.Values{"reason": {"DSR-1"}, "confirm": {"yes"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	assert.Equal(t, "/backoffice/?done=erase", res.Header.Get("Location"))
	_, err = e.svc.GetCustomer(ctx, "acme", cust.ID)
	require.ErrorIs(t, err, onboarding.ErrNotFound)
	assert.Equal(t, http.StatusNotFound, e.get(t, admin, page).StatusCode)
	assert.Equal(t, http.StatusNotFound, e.postForm(t, admin, page+"/export", nil).StatusCode, "nothing left to export")
	assert.Contains(t, e.get(t, admin, "/backoffice/?done=erase").body, "Customer erased.")
	var details []string
	for _, a := range e.audit(t) {
		if a.Action == onboarding.AuditErase && a.CustomerID == cust.ID {
			assert.Equal(t, "operator:"+adminName, a.Actor)
			details = append(details, a.Detail)
		}
	}
	assert.ElementsMatch(t, []string{"DSR-1", ""}, details,
		"the erasure is audited, and so is the refused one, whose detail the erasure emptied with the others")

	// The same through the API.
	other, _ := e.submitted(t, "acme")
	res = e.postJSON(t, admin, "/backoffice/api/customers/"+other.ID+"/export", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	var x onboarding.CustomerExport
	require.NoError(t, json.NewDecoder(bytes.NewReader([]byte(res.body))).Decode(&x))
	assert.Equal(t, other.ID, x.Customer.ID)
	res = e.postJSON(t, admin, "/backoffice/api/customers/"+other.ID+"/erase", map[string]any{"reason": "DSR-2", "override": true})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	var er onboarding.Erasure
	require.NoError(t, json.Unmarshal([]byte(res.body), &er))
	assert.Equal(t, other.ID, er.CustomerID)
	assert.Equal(t, "operator:"+adminName, er.Actor)
	assert.NotEmpty(t, er.Removed)
	assert.False(t, er.Override, "no hold to set aside")
	_, err = e.svc.GetCustomer(ctx, "acme", other.ID)
	require.ErrorIs(t, err, onboarding.ErrNotFound)
	assert.True(t, slices.ContainsFunc(e.audit(t), func(a *onboarding.AuditEntry) bool {
		return a.Action == onboarding.AuditErase && a.CustomerID == other.ID && a.Detail == "DSR-2"
	}), "the override is recorded only when a hold was set aside")
}

// corruptBlobs is a BlobStore whose objects of at least min bytes come back with their
// first byte changed, once corrupt is set.
type corruptBlobs struct {
	onboarding.BlobStore
	corrupt atomic.Bool
	min     int
}

func (c *corruptBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := c.BlobStore.Open(ctx, key)
	if err != nil || !c.corrupt.Load() {
		return rc, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	if len(b) >= c.min {
		b[0] ^= 0xff
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// TestExportOfACorruptDocument: a document that fails its digest before anything was
// sent gives an error page; one that fails once the zip is under way cuts the
// connection, so the download fails instead of ending as a broken archive that looks
// whole. The audit entry says why.
func TestExportOfACorruptDocument(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		min  int // the smallest object corrupted
	}{{"before the first byte", 0}, {"under way", 32 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			blobs := &corruptBlobs{BlobStore: sandbox.NewMemoryBlobStore(), min: tc.min}
			e := newEnv(t, envOptions{svc: &onboarding.Options{Blobs: blobs}})
			ctx := context.Background()
			c, _, err := e.svc.CreateCustomer(ctx, "acme", registration("acme"))
			require.NoError(t, err)
			// A small selfie first, then a 64 KiB CCMEI: the archive is well past its
			// buffers when the CCMEI's digest is checked.
			for _, up := range []struct {
				typ  onboarding.DocumentType
				body []byte
			}{{onboarding.DocSelfie, testfiles.JPEG(c.ID)}, {onboarding.DocCCMEI, testfiles.PDF(strings.Repeat("x", 64<<10))}} {
				_, err := e.svc.UploadDocument(ctx, "acme", c.ID, onboarding.UploadParams{Type: up.typ,
					Filename: string(up.typ), Body: bytes.NewReader(up.body)})
				require.NoError(t, err)
			}
			blobs.corrupt.Store(true)
			admin := e.loggedIn(t, adminName, adminPass)
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/backoffice/customers/"+c.ID+"/export", http.NoBody)
			require.NoError(t, err)
			req.Header.Set("Origin", e.srv.URL)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, err := admin.Do(req)
			if tc.min == 0 {
				require.NoError(t, err)
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
				assert.Contains(t, res.Header.Get("Content-Type"), "text/html")
				assert.Empty(t, res.Header.Get("Content-Disposition"))
				assert.Contains(t, string(body), "Something went wrong")
			} else {
				if err == nil {
					_, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
				require.Error(t, err, "the download must fail")
			}
			assert.True(t, slices.ContainsFunc(e.audit(t), func(a *onboarding.AuditEntry) bool {
				return a.Action == onboarding.AuditExport && a.CustomerID == c.ID && strings.Contains(a.Detail, "do not match")
			}))
		})
	}
}

// TestEraseUnderRetentionHold: a customer whose data the retention policy holds is not
// erased without the override (409, with the hold's end); with it ticked, it is, and the
// audit trail says the hold was set aside.
func TestEraseUnderRetentionHold(t *testing.T) {
	t.Parallel()
	until := time.Date(2031, 1, 2, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, envOptions{svc: &onboarding.Options{Retention: onboarding.RetentionPolicy{
		Hold: func(context.Context, *onboarding.Customer, onboarding.CustomerActivity) time.Time { return until },
	}}})
	cust, _ := e.submitted(t, "acme")
	page := "/backoffice/customers/" + cust.ID
	admin := e.loggedIn(t, adminName, adminPass)

	res := e.postForm(t, admin, page+"/erase", url.Values{"reason": {"DSR-3"}, "confirm": {"yes"}})
	assert.Equal(t, http.StatusConflict, res.StatusCode)
	assert.Contains(t, res.body, "under a retention hold until 2031-01-02")
	e.customer(t, cust) // still there

	res = e.postForm(t, admin, page+"/erase", url.Values{"reason": {"DSR-3"}, "confirm": {"yes"}, "override": {"yes"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	_, err := e.svc.GetCustomer(context.Background(), "acme", cust.ID)
	require.ErrorIs(t, err, onboarding.ErrNotFound)
	assert.True(t, slices.ContainsFunc(e.audit(t), func(a *onboarding.AuditEntry) bool {
		return a.Action == onboarding.AuditErase && a.Detail == "DSR-3 (retention hold until 2031-01-02 set aside)"
	}))
}
