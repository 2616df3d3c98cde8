package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	assert.Contains(t, out.String(), "customer already exists")
	assert.Contains(t, out.String(), "-> customer active")
	assert.Contains(t, out.String(), "customer.active")
	assert.Contains(t, out.String(), "credit_offer.available")
}
