package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

func newDocument(c *onboarding.Customer) *onboarding.Document {
	id := onboarding.NewID("doc")
	return &onboarding.Document{ID: id, PartnerID: c.PartnerID, CustomerID: c.ID, RequirementID: "req_ccmei",
		Type: onboarding.DocCCMEI, Status: onboarding.DocumentSubmitted, ContentType: onboarding.FormatPDF,
		Size: 1234, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Key: onboarding.DocumentKey(c.PartnerID, c.ID, id), Filename: "../../etc/passwd",
		CreatedAt: base, UpdatedAt: base}
}

func testDocuments(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	d1, d2 := newDocument(c), newDocument(c)
	require.NoError(t, s.InsertDocument(ctx, d1))
	require.NoError(t, s.InsertDocument(ctx, d2))
	got, err := s.GetDocument(ctx, "p1", d1.ID)
	require.NoError(t, err)
	assert.Equal(t, d1, got)
	list, err := s.ListDocuments(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, []*onboarding.Document{d1, d2}, list)

	d1.Status, d1.RejectionReason, d1.UpdatedAt = onboarding.DocumentRejected, "illegible", base.Add(time.Minute)
	require.NoError(t, s.UpdateDocument(ctx, d1))
	got, err = s.GetDocument(ctx, "p1", d1.ID)
	require.NoError(t, err)
	assert.Equal(t, d1, got)

	ok, err := s.DocumentKeyExists(ctx, d2.Key)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.DocumentKeyExists(ctx, d2.Key+"x")
	require.NoError(t, err)
	assert.False(t, ok)

	// A document needs its customer.
	orphan := newDocument(c)
	orphan.CustomerID = "cust_missing"
	assert.Error(t, s.InsertDocument(ctx, orphan))
	_, err = s.GetDocument(ctx, "p1", "doc_missing")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}
