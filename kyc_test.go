package onboarding_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/taxid"
)

// registry is a CompanyRegistry answering from a map.
type registry map[taxid.CNPJ]*onboarding.CompanyInfo

func (r registry) LookupCompany(_ context.Context, cnpj taxid.CNPJ) (*onboarding.CompanyInfo, error) {
	if info, ok := r[cnpj]; ok {
		return info, nil
	}
	return nil, errors.New("registry unavailable")
}

func TestRequirementPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := map[onboarding.LegalNature][]onboarding.DocumentType{
		onboarding.LegalNatureMEI:    {onboarding.DocCCMEI, onboarding.DocSelfie},
		onboarding.LegalNatureEI:     {onboarding.DocEIRegistrationRequirement, onboarding.DocCNH, onboarding.DocSelfie},
		onboarding.LegalNatureLTDA:   {onboarding.DocArticlesOfAssociation, onboarding.DocCNH, onboarding.DocSelfie},
		onboarding.LegalNatureSLU:    {onboarding.DocArticlesOfAssociation, onboarding.DocCNH, onboarding.DocSelfie},
		onboarding.LegalNatureSA:     {onboarding.DocBylaws, onboarding.DocCNH, onboarding.DocSelfie},
		onboarding.LegalNatureEIRELI: {onboarding.DocEIRELIIncorporationStatement, onboarding.DocCNH, onboarding.DocSelfie},
	}
	for ln, want := range cases {
		reqs, err := onboarding.DefaultPolicy{}.Requirements(ctx, onboarding.RequirementInput{CPF: "52998224725", CNPJ: "11222333000181", Name: "Ana", LegalNature: ln})
		require.NoError(t, err)
		var got []onboarding.DocumentType
		for _, r := range reqs {
			got = append(got, r.DocumentType)
		}
		assert.Equal(t, want, got, ln)
	}
	reqs, err := onboarding.DefaultPolicy{ProofOfAddress: true, IncomeStatement: true}.Requirements(ctx, onboarding.RequirementInput{CPF: "52998224725", CNPJ: "11222333000181", Name: "Ana"})
	require.NoError(t, err)
	require.Len(t, reqs, 4)
	assert.False(t, reqs[2].Mandatory)
	assert.False(t, reqs[3].Mandatory)

	// A registry decides the legal nature and adds co-owners.
	r := rand.New(rand.NewPCG(1, 2))
	p := params(t)
	cnpj, _ := taxid.ParseCNPJ(p.CNPJ)
	cpf, _ := taxid.ParseCPF(p.CPF)
	reg := registry{cnpj: {LegalNature: onboarding.LegalNatureLTDA, Partners: []onboarding.CompanyPartner{
		{Name: "João da Silva", CPF: cpf}, {Name: "Beatriz Costa", CPF: taxid.GenerateCPF(r)}}}}
	b := setup(t, &onboarding.Options{Registry: reg})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	assert.Equal(t, onboarding.LegalNatureLTDA, c.LegalNature)
	var subjects []string
	for _, r := range c.KYC {
		if r.Subject != nil {
			subjects = append(subjects, string(r.Subject.SubjectType)+":"+string(r.Type))
		}
	}
	assert.Equal(t, []string{"applicant:identity", "applicant:selfie", "co_owner:identity", "co_owner:selfie"}, subjects)

	// A registry failure fails the registration and writes nothing.
	_, _, err = b.svc.CreateCustomer(ctx, "p1", params(t))
	require.ErrorContains(t, err, "registry unavailable")

	// A policy that misbehaves is caught.
	dup := onboarding.RequirementPolicyFunc(func(context.Context, onboarding.RequirementInput) ([]onboarding.Requirement, error) {
		return []onboarding.Requirement{{ID: "a"}, {ID: "a"}}, nil
	})
	_, _, err = setup(t, &onboarding.Options{Policy: dup}).svc.CreateCustomer(ctx, "p1", params(t))
	require.ErrorContains(t, err, "duplicate requirement_id")
}

// The guide's example company onboards, with the sandbox registry, exactly as the guide
// shows: a MEI owing its CCMEI and a selfie.
func TestSandboxRegistryOnboardsTheGuidesMEI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Registry: sandbox.Registry{}})
	p := params(t)
	for i, cnpj := range []string{"12.345.678/0001-95", "12.ABC.345/01DE-35"} {
		p.CNPJ = cnpj
		p.ExternalID = fmt.Sprintf("guide-%d", i)
		c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
		require.NoError(t, err)
		assert.Equal(t, onboarding.LegalNatureMEI, c.LegalNature)
		require.Len(t, c.KYC, 2, "the guide's MEI: ccmei and selfie")
		assert.Equal(t, onboarding.DocCCMEI, c.KYC[0].DocumentType)
		assert.Equal(t, onboarding.DocSelfie, c.KYC[1].DocumentType)
	}
}
