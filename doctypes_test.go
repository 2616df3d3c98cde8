package onboarding_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// Every row of the document-type table is complete: adding a type is one row, and this
// test says what the row needs.
func TestDocumentTypeTable(t *testing.T) {
	t.Parallel()
	seen := map[onboarding.DocumentType]bool{}
	for _, d := range onboarding.DocumentTypes() {
		assert.False(t, seen[d.Type], "%s twice", d.Type)
		seen[d.Type] = true
		assert.NotEmpty(t, d.Requirement, d.Type)
		assert.NotEmpty(t, d.Label, d.Type)
		assert.NotEmpty(t, d.Formats, d.Type)
		assert.NotEmpty(t, d.Evidence, "%s: the SDK must be able to send it", d.Type)
		assert.Contains(t, []onboarding.ReviewRoute{onboarding.ReviewByReviewer, onboarding.ReviewByBiometrics}, d.Review, d.Type)
		for _, e := range d.Evidence {
			assert.NotEmpty(t, e.Attachments, "%s/%s", d.Type, e.Type)
		}
		got, ok := onboarding.LookupDocumentType(d.Type)
		require.True(t, ok)
		assert.Equal(t, d, got)
		var rules onboarding.UploadRules
		assert.Equal(t, d.Formats, rules.FormatsFor(d.Type))
		assert.Equal(t, onboarding.DefaultMaxUploadSize, rules.MaxSizeFor(d.Type))
	}
	_, ok := onboarding.LookupDocumentType("passport")
	assert.False(t, ok)

	// The table is the library's: a caller's copy does not change it.
	rows := onboarding.DocumentTypes()
	rows[0].Formats[0] = "text/plain"
	again, _ := onboarding.LookupDocumentType(rows[0].Type)
	assert.NotEqual(t, onboarding.Format("text/plain"), again.Formats[0])
}

// The SDK's evidence and attachment pairs come from the table.
func TestEvidence(t *testing.T) {
	t.Parallel()
	for evidence, want := range map[string][]string{
		"articles_of_association": {"file"}, "ccmei": {"file"}, "cnh": {"front", "back", "file"},
		"ei_mei": {"ccmei", "ei_registration_requirement"}, "eireli_incorporation_statement": {"file"},
		"income_statement": {"file"}, "proof_of_address": {"file"}, "rg": {"front", "back"}, "selfie": {"photo"},
	} {
		got, ok := onboarding.EvidenceAttachments(evidence)
		require.True(t, ok, evidence)
		assert.ElementsMatch(t, want, got, evidence)
	}
	_, ok := onboarding.EvidenceAttachments("passport")
	assert.False(t, ok)

	items := func(ln onboarding.LegalNature) map[onboarding.RequirementType]*onboarding.Requirement {
		reqs, err := onboarding.DefaultPolicy{}.Requirements(context.Background(), onboarding.RequirementInput{
			CPF: "52998224725", CNPJ: "11222333000181", Name: "Maria", LegalNature: ln})
		require.NoError(t, err)
		out := map[onboarding.RequirementType]*onboarding.Requirement{}
		for i := range reqs {
			out[reqs[i].Type] = &reqs[i]
		}
		return out
	}
	for _, tc := range []struct {
		ln       onboarding.LegalNature
		item     onboarding.RequirementType
		evidence string
		want     onboarding.DocumentType // "" when refused
	}{
		{onboarding.LegalNatureMEI, onboarding.RequirementCompanyDocument, "ccmei", onboarding.DocCCMEI},
		{onboarding.LegalNatureMEI, onboarding.RequirementCompanyDocument, "ei_mei", onboarding.DocCCMEI},
		{onboarding.LegalNatureMEI, onboarding.RequirementCompanyDocument, "articles_of_association", ""},
		{onboarding.LegalNatureEI, onboarding.RequirementEIMEIDocuments, "ei_mei", onboarding.DocEIRegistrationRequirement},
		{onboarding.LegalNatureLTDA, onboarding.RequirementArticlesOfAssociation, "articles_of_association", onboarding.DocArticlesOfAssociation},
		{onboarding.LegalNatureSA, onboarding.RequirementArticlesOfAssociation, "articles_of_association", onboarding.DocBylaws},
		{onboarding.LegalNatureLTDA, onboarding.RequirementIdentity, "cnh", onboarding.DocCNH},
		{onboarding.LegalNatureLTDA, onboarding.RequirementIdentity, "rg", onboarding.DocRG},
		{onboarding.LegalNatureLTDA, onboarding.RequirementIdentity, "selfie", ""},
		{onboarding.LegalNatureLTDA, onboarding.RequirementSelfie, "selfie", onboarding.DocSelfie},
		{onboarding.LegalNatureEIRELI, onboarding.RequirementEIRELIIncorporationStatement, "eireli_incorporation_statement", onboarding.DocEIRELIIncorporationStatement},
	} {
		r := items(tc.ln)[tc.item]
		require.NotNil(t, r, "%s has a %s item", tc.ln, tc.item)
		got, ok := r.UploadTypeFor(tc.evidence)
		assert.Equal(t, tc.want != "", ok, "%s %s %s", tc.ln, tc.item, tc.evidence)
		assert.Equal(t, tc.want, got, "%s %s %s", tc.ln, tc.item, tc.evidence)
	}

	// An identity item takes either identity document; a company item only its own.
	ltda := items(onboarding.LegalNatureLTDA)
	assert.True(t, ltda[onboarding.RequirementIdentity].Accepts(onboarding.DocRG))
	assert.True(t, ltda[onboarding.RequirementIdentity].Accepts(onboarding.DocCNH))
	assert.False(t, ltda[onboarding.RequirementArticlesOfAssociation].Accepts(onboarding.DocBylaws))
	assert.False(t, ltda[onboarding.RequirementSelfie].Accepts(onboarding.DocCNH))
}
