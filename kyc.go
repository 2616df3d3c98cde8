package onboarding

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onboardkit/onboarding/taxid"
)

// LegalNature is a Brazilian company's legal form, which decides its company document.
type LegalNature string

// The legal natures of the default policy.
const (
	LegalNatureMEI    LegalNature = "mei"    // microempreendedor individual
	LegalNatureEI     LegalNature = "ei"     // empresário individual
	LegalNatureLTDA   LegalNature = "ltda"   // sociedade limitada
	LegalNatureSLU    LegalNature = "slu"    // sociedade limitada unipessoal
	LegalNatureSA     LegalNature = "sa"     // sociedade anônima
	LegalNatureEIRELI LegalNature = "eireli" // legacy EIRELI
)

// ParseLegalNature accepts the constants' values case-insensitively, with "s.a." and
// "s/a" for SA.
func ParseLegalNature(s string) (LegalNature, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "s.a.", "s/a", "s.a":
		v = "sa"
	}
	switch ln := LegalNature(v); ln {
	case LegalNatureMEI, LegalNatureEI, LegalNatureLTDA, LegalNatureSLU, LegalNatureSA, LegalNatureEIRELI:
		return ln, nil
	}
	return "", fmt.Errorf("must be one of mei, ei, ltda, slu, sa, eireli")
}

// RequirementType is the category of a KYC item: the official SDK's enum, which rejects
// any other value.
type RequirementType string

// The requirement types.
const (
	RequirementIdentity                     RequirementType = "identity"
	RequirementSelfie                       RequirementType = "selfie"
	RequirementProofOfAddress               RequirementType = "proof_of_address"
	RequirementEmail                        RequirementType = "email"
	RequirementCompanyDocument              RequirementType = "company_document"
	RequirementEIMEIDocuments               RequirementType = "ei_mei_documents"
	RequirementIncomeStatement              RequirementType = "income_statement"
	RequirementArticlesOfAssociation        RequirementType = "articles_of_association"
	RequirementEIRELIIncorporationStatement RequirementType = "eireli_incorporation_statement"
)

// RequirementKind says whether an item is satisfied by a file or by a value.
type RequirementKind string

// The requirement kinds.
const (
	KindDocument RequirementKind = "document"
	KindData     RequirementKind = "data"
)

// RequirementStatus is the state of one KYC item.
type RequirementStatus string

// The requirement statuses.
const (
	RequirementPending   RequirementStatus = "pending"   // nothing submitted yet
	RequirementSubmitted RequirementStatus = "submitted" // waits for a reviewer
	RequirementApproved  RequirementStatus = "approved"  // accepted by a reviewer
	RequirementRejected  RequirementStatus = "rejected"  // must be sent again; see Message
)

// SubjectType says whose item a person-specific requirement is.
type SubjectType string

// The subject types.
const (
	SubjectApplicant SubjectType = "applicant"
	SubjectCoOwner   SubjectType = "co_owner"
)

// Subject is the person a requirement is about.
type Subject struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	SubjectType SubjectType `json:"subject_type"`
}

// Attachment is one submitted part of an item, as the SDK names it.
type Attachment struct {
	AttachmentType string `json:"attachment_type"`
	Submitted      bool   `json:"submitted"`
}

// Review statuses of a submission, as the SDK names them.
const (
	ReviewPending  = "pending"
	ReviewAccepted = "accepted"
	ReviewRejected = "rejected"
)

// Submission is what was sent for an item and how its review stands.
type Submission struct {
	EvidenceType string       `json:"evidence_type"`
	Attachments  []Attachment `json:"attachments"`
	ReviewStatus string       `json:"review_status"`
	ReviewReason *string      `json:"review_reason"`
	// DocumentID is the document that currently satisfies the item.
	DocumentID string `json:"document_id,omitempty"`
}

// Requirement is one KYC item a customer owes. Its JSON form is the API's kyc item.
type Requirement struct {
	ID   string          `json:"requirement_id"`
	Type RequirementType `json:"requirement_type"`
	// DocumentType is the upload type that satisfies the item (for identity, cnh; rg is
	// accepted too, see Accepts).
	DocumentType DocumentType      `json:"type"`
	Kind         RequirementKind   `json:"kind"`
	Label        string            `json:"label"`
	Description  string            `json:"description"`
	Mandatory    bool              `json:"mandatory"`
	Status       RequirementStatus `json:"status"`
	// Message is the rejection reason, or nil.
	Message    *string     `json:"message"`
	UploadedAt *time.Time  `json:"uploaded_at"`
	Subject    *Subject    `json:"subject,omitempty"`
	Submitted  *Submission `json:"submitted,omitempty"`
}

// clone deep-copies the item.
func (r Requirement) clone() Requirement {
	if r.Message != nil {
		m := *r.Message
		r.Message = &m
	}
	if r.UploadedAt != nil {
		t := *r.UploadedAt
		r.UploadedAt = &t
	}
	if r.Subject != nil {
		s := *r.Subject
		r.Subject = &s
	}
	if r.Submitted != nil {
		s := *r.Submitted
		s.Attachments = slices.Clone(s.Attachments)
		if s.ReviewReason != nil {
			rr := *s.ReviewReason
			s.ReviewReason = &rr
		}
		r.Submitted = &s
	}
	return r
}

func cloneRequirements(rs []Requirement) []Requirement {
	if rs == nil {
		return nil
	}
	out := make([]Requirement, len(rs))
	for i, r := range rs {
		out[i] = r.clone()
	}
	return out
}

// RequirementInput is what a RequirementPolicy decides from.
type RequirementInput struct {
	CPF         taxid.CPF
	CNPJ        taxid.CNPJ
	Name        string
	LegalNature LegalNature
	// Company is the CompanyRegistry's answer, or nil when no registry is configured.
	Company *CompanyInfo
}

// RequirementPolicy computes the KYC items a customer owes. It must be a pure function of
// its input: the Service calls it at registration and whenever the input changes, and keeps
// the status of every item whose ID is unchanged.
type RequirementPolicy interface {
	Requirements(ctx context.Context, in RequirementInput) ([]Requirement, error)
}

// RequirementPolicyFunc adapts a function to RequirementPolicy.
type RequirementPolicyFunc func(ctx context.Context, in RequirementInput) ([]Requirement, error)

// Requirements calls f.
func (f RequirementPolicyFunc) Requirements(ctx context.Context, in RequirementInput) ([]Requirement, error) {
	return f(ctx, in)
}

// CompanyInfo is what a CompanyRegistry knows about a CNPJ.
type CompanyInfo struct {
	LegalNature LegalNature
	// Status is the registry's status of the company, e.g. "active".
	Status   string
	OpenedAt time.Time
	// Partners are the people in the company's ownership (quadro societário).
	Partners []CompanyPartner
}

// CompanyPartner is one person in a company's ownership.
type CompanyPartner struct {
	Name string
	CPF  taxid.CPF
}

// CompanyRegistry looks a company up by CNPJ (Receita Federal, a bureau, a sandbox).
type CompanyRegistry interface {
	LookupCompany(ctx context.Context, cnpj taxid.CNPJ) (*CompanyInfo, error)
}

// DefaultPolicy is the requirement table of docs/kyc.md. Its zero value is the guide's
// policy; the two options add optional items.
type DefaultPolicy struct {
	// ProofOfAddress adds an optional proof_of_address item for the applicant.
	ProofOfAddress bool
	// IncomeStatement adds an optional income_statement item for the company.
	IncomeStatement bool
}

var _ RequirementPolicy = DefaultPolicy{}

// companyDocuments is the company document each legal nature owes; the document-type
// table says the rest (its requirement type and label). Unknown natures are MEI.
var companyDocuments = map[LegalNature]DocumentType{
	LegalNatureMEI:    DocCCMEI,
	LegalNatureEI:     DocEIRegistrationRequirement,
	LegalNatureLTDA:   DocArticlesOfAssociation,
	LegalNatureSLU:    DocArticlesOfAssociation,
	LegalNatureSA:     DocBylaws,
	LegalNatureEIRELI: DocEIRELIIncorporationStatement,
}

// Requirements implements RequirementPolicy.
func (p DefaultPolicy) Requirements(_ context.Context, in RequirementInput) ([]Requirement, error) {
	ln := in.LegalNature
	if ln == "" && in.Company != nil {
		ln = in.Company.LegalNature
	}
	if ln == "" {
		ln = LegalNatureMEI
	}
	var out []Requirement
	if in.CNPJ != "" {
		dt, ok := companyDocuments[ln]
		if !ok {
			dt = DocCCMEI
		}
		out = append(out, newRequirement("req_"+string(dt), dt, true, nil))
	}
	applicant := &Subject{ID: "applicant", Name: in.Name, SubjectType: SubjectApplicant}
	people := []*Subject{applicant}
	if in.Company != nil {
		for i, cp := range in.Company.Partners {
			if cp.CPF == in.CPF {
				continue
			}
			people = append(people, &Subject{ID: "co_owner_" + strconv.Itoa(i+1), Name: cp.Name, SubjectType: SubjectCoOwner})
		}
	}
	for _, s := range people {
		// A MEI's applicant is identified by the CCMEI; other people show an ID document.
		if !(ln == LegalNatureMEI && in.CNPJ != "" && s.SubjectType == SubjectApplicant) {
			out = append(out, ofPerson(newRequirement("req_identity_"+s.ID, DocCNH, true, s)))
		}
		out = append(out, ofPerson(newRequirement("req_selfie_"+s.ID, DocSelfie, true, s)))
	}
	if p.ProofOfAddress {
		out = append(out, newRequirement("req_proof_of_address_applicant", DocProofOfAddress, false, applicant))
	}
	if p.IncomeStatement && in.CNPJ != "" {
		out = append(out, newRequirement("req_income_statement", DocIncomeStatement, false, nil))
	}
	return out, nil
}

// newRequirement is an item about s (nil: the company) satisfied by an upload of type dt,
// labelled and typed from the document-type table.
func newRequirement(id string, dt DocumentType, mandatory bool, s *Subject) Requirement {
	spec := documentTypeIndex[dt]
	label := spec.Label
	var subj *Subject
	if s != nil {
		c := *s
		subj = &c
	}
	return Requirement{
		ID: id, Type: spec.Requirement, DocumentType: dt, Kind: KindDocument, Label: label, Description: label,
		Mandatory: mandatory, Status: RequirementPending, Subject: subj,
	}
}

// ofPerson names the item's subject in its label ("Selfie de Maria"), so that a company
// with several people tells their items apart.
func ofPerson(r Requirement) Requirement {
	if r.Subject.Name == "" {
		return r
	}
	r.Label += " de " + r.Subject.Name
	r.Description = r.Label
	return r
}

// mergeRequirements keeps the progress of every item of old whose ID is still in next and
// is about the same person (a co-owner item whose subject changed starts over). With keep,
// items of old that next lacks are kept too: a recompute that is not about a new company
// never silently drops what the customer owes. It reports whether the result differs from
// old.
func mergeRequirements(old, next []Requirement, keep bool) ([]Requirement, bool) {
	byID := make(map[string]*Requirement, len(old))
	for i := range old {
		byID[old[i].ID] = &old[i]
	}
	out := make([]Requirement, 0, len(next))
	seen := make(map[string]bool, len(next))
	for _, n := range next {
		seen[n.ID] = true
		if o, ok := byID[n.ID]; ok && sameSubject(o.Subject, n.Subject) {
			n.Status, n.Message, n.UploadedAt, n.Submitted = o.Status, o.Message, o.UploadedAt, o.Submitted
		}
		out = append(out, n.clone())
	}
	if keep {
		for _, o := range old {
			if !seen[o.ID] {
				out = append(out, o.clone())
			}
		}
	}
	return out, !sameRequirements(old, out)
}

// sameRequirements reports whether two lists hold the same items in the same state.
func sameRequirements(a, b []Requirement) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.ID != y.ID || x.Status != y.Status || x.Mandatory != y.Mandatory || x.DocumentType != y.DocumentType ||
			x.Label != y.Label || !sameSubject(x.Subject, y.Subject) {
			return false
		}
	}
	return true
}

// sameSubject reports whether two items are about the same person.
func sameSubject(a, b *Subject) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.SubjectType == b.SubjectType && a.Name == b.Name
}
