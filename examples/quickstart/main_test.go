package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out), out.String())
	for _, want := range []string{"customer already exists", "webhook verified: credit_offer.available",
		"webhook verified: customer.under_review", "webhook verified: customer.active", "is active with offer co_"} {
		assert.Contains(t, out.String(), want)
	}
}
