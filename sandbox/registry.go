package sandbox

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/taxid"
)

// Registry is a deterministic onboarding.CompanyRegistry for sandboxes and tests: the same
// CNPJ always gives the same company. It never calls out.
//
// Every company is a MEI (microempreendedor individual), as in the partner guide, unless
// its CNPJ's raiz (the first eight characters) starts with one of the magic prefixes:
//
//	raiz prefix  legal nature                        example CNPJ
//	66           LTDA, with one co-owner             66.123.456/0001-…
//	77           SLU (sociedade limitada unipessoal) 77.123.456/0001-…
//	88           S.A., with one co-owner             88.123.456/0001-…
//	99           EI (empresário individual)          99.123.456/0001-…
//
// The co-owner of an LTDA or S.A. has a generated CPF. The opening date lies between
// 2010 and 2025. The sandbox scorer's magic roots (11111111 to 55555555) are MEIs here.
type Registry struct{}

// The CNPJ raiz prefixes that select a legal nature other than MEI.
const (
	RegistryLTDAPrefix = "66"
	RegistrySLUPrefix  = "77"
	RegistrySAPrefix   = "88"
	RegistryEIPrefix   = "99"
)

var _ onboarding.CompanyRegistry = Registry{}

// LookupCompany implements onboarding.CompanyRegistry.
func (Registry) LookupCompany(_ context.Context, cnpj taxid.CNPJ) (*onboarding.CompanyInfo, error) {
	bare := string(cnpj)
	h := fnv.New64a()
	h.Write([]byte(bare))
	seed := h.Sum64()
	r := rand.New(rand.NewPCG(seed, seed>>1))
	info := &onboarding.CompanyInfo{Status: "active",
		OpenedAt: time.Date(2010+r.IntN(16), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)}
	switch bare[:2] {
	case RegistryLTDAPrefix:
		info.LegalNature = onboarding.LegalNatureLTDA
	case RegistrySLUPrefix:
		info.LegalNature = onboarding.LegalNatureSLU
	case RegistrySAPrefix:
		info.LegalNature = onboarding.LegalNatureSA
	case RegistryEIPrefix:
		info.LegalNature = onboarding.LegalNatureEI
	default:
		info.LegalNature = onboarding.LegalNatureMEI
	}
	if info.LegalNature == onboarding.LegalNatureLTDA || info.LegalNature == onboarding.LegalNatureSA {
		info.Partners = []onboarding.CompanyPartner{{Name: "Sócia Sandbox", CPF: taxid.GenerateCPF(r)}}
	}
	return info, nil
}
