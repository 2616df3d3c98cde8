package onboarding

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/onboardkit/onboarding/taxid"
)

// SandboxRegistry is a deterministic CompanyRegistry for sandboxes and tests: the same
// CNPJ always gives the same company. It never calls out.
//
// The legal nature is derived from the CNPJ's first eight characters (the raiz): numeric
// CNPJs whose raiz ends in 0–5 are MEI (the guide's case), 6 LTDA, 7 SLU, 8 S.A., 9 EI;
// alphanumeric CNPJs (issued since July 2026) whose raiz ends in a letter are LTDA, the
// others follow their last digit. LTDA and S.A. companies have one co-owner besides the
// applicant, with a generated CPF. The opening date lies between 2010 and 2025.
type SandboxRegistry struct{}

var _ CompanyRegistry = SandboxRegistry{}

// LookupCompany implements CompanyRegistry.
func (SandboxRegistry) LookupCompany(_ context.Context, cnpj taxid.CNPJ) (*CompanyInfo, error) {
	bare := string(cnpj)
	h := fnv.New64a()
	h.Write([]byte(bare))
	seed := h.Sum64()
	r := rand.New(rand.NewPCG(seed, seed>>1))
	info := &CompanyInfo{Status: "active",
		OpenedAt: time.Date(2010+r.IntN(16), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)}
	switch last := bare[7]; {
	case last >= 'A':
		info.LegalNature = LegalNatureLTDA
	case last <= '5':
		info.LegalNature = LegalNatureMEI
	case last == '6':
		info.LegalNature = LegalNatureLTDA
	case last == '7':
		info.LegalNature = LegalNatureSLU
	case last == '8':
		info.LegalNature = LegalNatureSA
	default:
		info.LegalNature = LegalNatureEI
	}
	if info.LegalNature == LegalNatureLTDA || info.LegalNature == LegalNatureSA {
		info.Partners = []CompanyPartner{{Name: "Sócia Sandbox", CPF: taxid.GenerateCPF(r)}}
	}
	return info, nil
}
