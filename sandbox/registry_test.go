package sandbox_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/taxid"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := sandbox.Registry{}
	cases := map[string]onboarding.LegalNature{
		"11.222.333/0001-81": onboarding.LegalNatureMEI, // raiz ends in 3
		"12.ABC.345/01DE-35": onboarding.LegalNatureMEI, // alphanumeric, raiz ends in 5
		"11.444.777/0001-61": onboarding.LegalNatureSLU, // raiz ends in 7
	}
	for in, want := range cases {
		cnpj, err := taxid.ParseCNPJ(in)
		require.NoError(t, err)
		a, err := reg.LookupCompany(ctx, cnpj)
		require.NoError(t, err)
		b, err := reg.LookupCompany(ctx, cnpj)
		require.NoError(t, err)
		assert.Equal(t, a, b, "deterministic")
		assert.Equal(t, want, a.LegalNature, in)
	}
}
