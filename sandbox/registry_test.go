package sandbox_test

import (
	"context"
	"math/rand/v2"
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
	r := rand.New(rand.NewPCG(1, 2))
	withPrefix := func(prefix string) string {
		for {
			c := taxid.GenerateCNPJ(r, false)
			if string(c[:2]) == prefix {
				return c.String()
			}
		}
	}
	cases := map[string]onboarding.LegalNature{
		"12.345.678/0001-95":                   onboarding.LegalNatureMEI, // the guide's example company
		"11.222.333/0001-81":                   onboarding.LegalNatureMEI,
		"12.ABC.345/01DE-35":                   onboarding.LegalNatureMEI, // alphanumeric
		"11.444.777/0001-61":                   onboarding.LegalNatureMEI,
		withPrefix(sandbox.RegistryLTDAPrefix): onboarding.LegalNatureLTDA,
		withPrefix(sandbox.RegistrySLUPrefix):  onboarding.LegalNatureSLU,
		withPrefix(sandbox.RegistrySAPrefix):   onboarding.LegalNatureSA,
		withPrefix(sandbox.RegistryEIPrefix):   onboarding.LegalNatureEI,
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
		coOwners := want == onboarding.LegalNatureLTDA || want == onboarding.LegalNatureSA
		assert.Equal(t, coOwners, len(a.Partners) == 1, "%s: a co-owner for LTDA and S.A. only", in)
	}
}
