package onboarding_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/memstore"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	blobs := sandbox.NewMemoryBlobStore()

	svc, err := onboarding.New(memstore.New(), &onboarding.Options{Blobs: blobs})
	require.NoError(t, err)
	require.NotNil(t, svc)

	_, err = onboarding.New(nil, &onboarding.Options{Blobs: blobs})
	assert.ErrorIs(t, err, onboarding.ErrInvalidOptions, "no store")

	for name, opts := range map[string]*onboarding.Options{
		"nil options: documents would have nowhere to go": nil,
		"no Blobs: documents in memory need an opt-in":    {},
		"negative workers":              {Blobs: blobs, Workers: -1},
		"negative poll":                 {Blobs: blobs, PollInterval: -1},
		"a lease too short for any job": {Blobs: blobs, JobLease: 10},
		"negative retention":            {Blobs: blobs, JobRetention: -1},
		"a size rule for an unknown type": {Blobs: blobs, Uploads: onboarding.UploadRules{
			MaxSizeByType: map[onboarding.DocumentType]int64{"passport": 1 << 20}}},
		"a negative size": {Blobs: blobs, Uploads: onboarding.UploadRules{MaxSize: -1}},
		"no format for a type": {Blobs: blobs, Uploads: onboarding.UploadRules{
			FormatsByType: map[onboarding.DocumentType][]onboarding.Format{onboarding.DocSelfie: {}}}},
		"an unknown format": {Blobs: blobs, Uploads: onboarding.UploadRules{
			FormatsByType: map[onboarding.DocumentType][]onboarding.Format{onboarding.DocSelfie: {"image/gif"}}}},
	} {
		svc, err := onboarding.New(memstore.New(), opts)
		assert.ErrorIs(t, err, onboarding.ErrInvalidOptions, name)
		assert.Nil(t, svc, name)
		if opts != nil {
			assert.Equal(t, err, opts.Validate(), "%s: New reports what Validate does", name)
		}
	}

	// Every problem is reported at once.
	err = (&onboarding.Options{Workers: -1, JobRetention: -1}).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Blobs")
	assert.Contains(t, err.Error(), "Workers")
	assert.Contains(t, err.Error(), "JobRetention")

	// Overrides of known types are fine.
	_, err = onboarding.New(memstore.New(), &onboarding.Options{Blobs: blobs, Uploads: onboarding.UploadRules{
		MaxSizeByType: map[onboarding.DocumentType]int64{onboarding.DocSelfie: 2 << 20},
		FormatsByType: map[onboarding.DocumentType][]onboarding.Format{onboarding.DocCCMEI: {onboarding.FormatPDF}}}})
	assert.NoError(t, err)
}
