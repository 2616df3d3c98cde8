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
// The legal nature is derived from the CNPJ's first eight characters (the raiz): numeric
// CNPJs whose raiz ends in 0–5 are MEI (the guide's case), 6 LTDA, 7 SLU, 8 S.A., 9 EI;
// alphanumeric CNPJs (issued since July 2026) whose raiz ends in a letter are LTDA, the
// others follow their last digit. LTDA and S.A. companies have one co-owner besides the
// applicant, with a generated CPF. The opening date lies between 2010 and 2025.
type Registry struct{}

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
	switch last := bare[7]; {
	case last >= 'A':
		info.LegalNature = onboarding.LegalNatureLTDA
	case last <= '5':
		info.LegalNature = onboarding.LegalNatureMEI
	case last == '6':
		info.LegalNature = onboarding.LegalNatureLTDA
	case last == '7':
		info.LegalNature = onboarding.LegalNatureSLU
	case last == '8':
		info.LegalNature = onboarding.LegalNatureSA
	default:
		info.LegalNature = onboarding.LegalNatureEI
	}
	if info.LegalNature == onboarding.LegalNatureLTDA || info.LegalNature == onboarding.LegalNatureSA {
		info.Partners = []onboarding.CompanyPartner{{Name: "Sócia Sandbox", CPF: taxid.GenerateCPF(r)}}
	}
	return info, nil
}
