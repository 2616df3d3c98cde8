package onboarding_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
)

func TestUploadRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Uploads: onboarding.UploadRules{MaxSizeByType: map[onboarding.DocumentType]int64{onboarding.DocSelfie: 64}}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	pdf := testfiles.PDF("x")
	cases := []struct {
		name string
		typ  onboarding.DocumentType
		body io.Reader
		want error
	}{
		{"not required", onboarding.DocBylaws, bytes.NewReader(pdf), onboarding.ErrDocumentNotRequired},
		{"unknown type", "passport", bytes.NewReader(pdf), onboarding.ErrDocumentNotRequired},
		{"executable named pdf", onboarding.DocCCMEI, strings.NewReader("\x7fELF\x02\x01\x01" + strings.Repeat("\x00", 100)), onboarding.ErrUnsupportedFormat},
		{"html", onboarding.DocCCMEI, strings.NewReader("<html><script>alert(1)</script></html>"), onboarding.ErrUnsupportedFormat},
		{"gif", onboarding.DocSelfie, strings.NewReader("GIF89a\x01\x00\x01\x00"), onboarding.ErrUnsupportedFormat},
		{"pdf as selfie", onboarding.DocSelfie, bytes.NewReader(pdf), onboarding.ErrUnsupportedFormat},
		{"empty", onboarding.DocCCMEI, strings.NewReader(""), onboarding.ErrEmptyFile},
		{"nil body", onboarding.DocCCMEI, nil, onboarding.ErrEmptyFile},
		{"truncated pdf", onboarding.DocCCMEI, bytes.NewReader(pdf[:len(pdf)-7]), onboarding.ErrTruncatedFile},
		{"truncated jpeg", onboarding.DocSelfie, bytes.NewReader(testfiles.JPEG("x")[:20]), onboarding.ErrTruncatedFile},
		{"truncated png", onboarding.DocSelfie, bytes.NewReader(testfiles.PNG("x")[:40]), onboarding.ErrTruncatedFile},
		{"too large", onboarding.DocSelfie, bytes.NewReader(testfiles.JPEG(strings.Repeat("x", 100))), onboarding.ErrFileTooLarge},
		{"read error", onboarding.DocCCMEI, io.MultiReader(bytes.NewReader(pdf[:20]), errReader{}), errBroken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: tc.typ, Body: tc.body})
			require.ErrorIs(t, err, tc.want)
		})
	}
	docs, err := b.svc.ListDocuments(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Empty(t, docs, "no row for a rejected upload")
	assert.Empty(t, b.blobs.Keys(), "no blob for a rejected upload")
	assert.Equal(t, []onboarding.EventType{onboarding.EventCustomerCreated}, eventTypes(t, b, c.ID))

	// Exactly at the limit is fine; the client's file name is data, never a path.
	body := testfiles.JPEG(strings.Repeat("y", 64-39))
	require.Len(t, body, 64)
	d, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie, Filename: "../../etc/passwd\x00", Body: bytes.NewReader(body)})
	require.NoError(t, err)
	assert.Equal(t, "../../etc/passwd", d.Filename)
	assert.Equal(t, onboarding.DocumentKey("p1", c.ID, d.ID), d.Key)
	assert.Equal(t, []string{d.Key}, b.blobs.Keys())
	assert.EqualValues(t, 64, d.Size)

	rc, got, err := b.svc.OpenDocument(ctx, "p1", d.ID)
	require.NoError(t, err)
	defer rc.Close()
	stored, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, body, stored)
	assert.Equal(t, d.SHA256, got.SHA256)
}

var errBroken = errors.New("connection reset")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestUploadIdempotentAndReplace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	first := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("same"))
	second := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("same"))
	assert.Equal(t, first.ID, second.ID, "identical bytes are idempotent")
	assert.Len(t, b.blobs.Keys(), 1)
	third := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("other"))
	assert.NotEqual(t, first.ID, third.ID)
	old, err := b.svc.GetDocument(ctx, "p1", first.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.DocumentSuperseded, old.Status)
	_, err = b.svc.ReviewDocument(ctx, "p1", first.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition, "a superseded document is not reviewed")
	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, third.ID, got.Requirement("req_ccmei").Submitted.DocumentID)
}

func TestUploadByRequirementID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p := params(t)
	p.LegalNature = "ltda"
	c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	var ids []string
	for _, r := range c.KYC {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"req_articles_of_association", "req_identity_applicant", "req_selfie_applicant"}, ids)
	// The SDK sends an RG in two parts for the identity item.
	for _, part := range []string{"front", "back"} {
		_, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{RequirementID: "req_identity_applicant",
			Type: onboarding.DocRG, EvidenceType: "rg", AttachmentType: part, Body: bytes.NewReader(testfiles.JPEG(part))})
		require.NoError(t, err)
	}
	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	sub := got.Requirement("req_identity_applicant").Submitted
	assert.Equal(t, "rg", sub.EvidenceType)
	assert.Equal(t, []onboarding.Attachment{{AttachmentType: "front", Submitted: true}, {AttachmentType: "back", Submitted: true}}, sub.Attachments)
	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{RequirementID: "req_selfie_applicant",
		Type: onboarding.DocCNH, Body: bytes.NewReader(testfiles.JPEG("x"))})
	assert.ErrorIs(t, err, onboarding.ErrDocumentNotRequired)
	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{RequirementID: "req_nope", Body: bytes.NewReader(testfiles.JPEG("x"))})
	assert.ErrorIs(t, err, onboarding.ErrDocumentNotRequired)
}

func TestUploadsPerItemAreBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	for i := range onboarding.MaxUploadsPerItem {
		upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG(strconv.Itoa(i)))
	}
	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie,
		Body: bytes.NewReader(testfiles.PNG("one too many"))})
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)
	assert.Len(t, b.blobs.Keys(), onboarding.MaxUploadsPerItem, "the refused upload left no blob")
}

// An item reset by a change of company takes the same file again: the earlier approval
// was for the old company, so identical bytes are a new submission, not a replay.
func TestReuploadAfterResetIsANewSubmission(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	first := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("ccmei"))
	review(t, b, first, onboarding.ReviewApprove, "")

	other := params(t).CNPJ
	c, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{CNPJ: &other})
	require.NoError(t, err)
	require.Equal(t, onboarding.RequirementPending, c.Requirement("req_ccmei").Status, "a new company owes its document again")

	again := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("ccmei"))
	assert.NotEqual(t, first.ID, again.ID)
	assert.Equal(t, onboarding.DocumentSubmitted, again.Status)
	c, err = b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	r := c.Requirement("req_ccmei")
	assert.Equal(t, onboarding.RequirementSubmitted, r.Status)
	assert.Equal(t, again.ID, r.Submitted.DocumentID)
	old, err := b.svc.GetDocument(ctx, "p1", first.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.DocumentApproved, old.Status, "the old company's approval stays in the record")
}
