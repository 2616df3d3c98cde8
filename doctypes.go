package onboarding

import "slices"

// DocumentType is an upload `type`: what the file is.
type DocumentType string

// The document types.
const (
	DocCCMEI                        DocumentType = "ccmei"
	DocEIRegistrationRequirement    DocumentType = "ei_registration_requirement"
	DocArticlesOfAssociation        DocumentType = "articles_of_association"
	DocBylaws                       DocumentType = "bylaws"
	DocEIRELIIncorporationStatement DocumentType = "eireli_incorporation_statement"
	DocCNH                          DocumentType = "cnh"
	DocRG                           DocumentType = "rg"
	DocSelfie                       DocumentType = "selfie"
	DocProofOfAddress               DocumentType = "proof_of_address"
	DocIncomeStatement              DocumentType = "income_statement"
)

// ReviewRoute says which plugin judges an upload in the background.
type ReviewRoute string

// The review routes.
const (
	// ReviewByReviewer: the Reviewer, when the Service has one.
	ReviewByReviewer ReviewRoute = "reviewer"
	// ReviewByBiometrics: the Biometrics provider (liveness, face match) when the Service
	// has one, else the Reviewer.
	ReviewByBiometrics ReviewRoute = "biometrics"
)

// Evidence is one of the official SDK's evidence types that an upload type answers, with
// the attachment types (parts) it takes.
type Evidence struct {
	Type        string
	Attachments []string
}

// DocumentTypeSpec is everything the library knows about one upload type. One table of
// them (see DocumentTypes) is read by the KYC policy, the upload rules, the review routing
// and the HTTP API: adding a type is adding a row.
type DocumentTypeSpec struct {
	Type DocumentType
	// Requirement is the type of KYC item it satisfies.
	Requirement RequirementType
	// Alternative: it satisfies any item of its Requirement type, not only the items that
	// name it (a CNH or an RG for an identity item).
	Alternative bool
	// Label names it to the customer (pt-BR); the items of a person add the person's name.
	Label string
	// Formats are the formats accepted unless UploadRules says otherwise.
	Formats []Format
	// MaxSize is the size limit in bytes unless UploadRules says otherwise; 0 means
	// DefaultMaxUploadSize.
	MaxSize int64
	// Evidence are the SDK's names for it (its kyc-attachments route).
	Evidence []Evidence
	// Review is who judges it in the background.
	Review ReviewRoute
}

var (
	anyFormat   = []Format{FormatPDF, FormatJPEG, FormatPNG}
	imageFormat = []Format{FormatJPEG, FormatPNG}
	oneFile     = []string{"file"}
)

// documentTypes is the table. Order is presentation order only.
var documentTypes = []DocumentTypeSpec{
	{Type: DocCCMEI, Requirement: RequirementCompanyDocument, Formats: anyFormat, Review: ReviewByReviewer,
		Label:    "Certificado da Condição de Microempreendedor Individual (CCMEI)",
		Evidence: []Evidence{{"ccmei", oneFile}, {"ei_mei", []string{"ccmei"}}}},
	{Type: DocEIRegistrationRequirement, Requirement: RequirementEIMEIDocuments, Formats: anyFormat, Review: ReviewByReviewer,
		Label:    "Requerimento de Empresário (EI)",
		Evidence: []Evidence{{"ei_mei", []string{"ei_registration_requirement"}}}},
	{Type: DocArticlesOfAssociation, Requirement: RequirementArticlesOfAssociation, Formats: anyFormat, Review: ReviewByReviewer,
		Label:    "Contrato social",
		Evidence: []Evidence{{"articles_of_association", oneFile}}},
	{Type: DocBylaws, Requirement: RequirementArticlesOfAssociation, Formats: anyFormat, Review: ReviewByReviewer,
		Label:    "Estatuto social",
		Evidence: []Evidence{{"articles_of_association", oneFile}}},
	{Type: DocEIRELIIncorporationStatement, Requirement: RequirementEIRELIIncorporationStatement, Formats: anyFormat,
		Review: ReviewByReviewer, Label: "Ato constitutivo da EIRELI",
		Evidence: []Evidence{{"eireli_incorporation_statement", oneFile}}},
	{Type: DocCNH, Requirement: RequirementIdentity, Alternative: true, Formats: anyFormat, Review: ReviewByReviewer,
		Label:    "Documento de identidade (CNH ou RG)",
		Evidence: []Evidence{{"cnh", []string{"front", "back", "file"}}}},
	{Type: DocRG, Requirement: RequirementIdentity, Alternative: true, Formats: anyFormat, Review: ReviewByReviewer,
		Label:    "Documento de identidade (CNH ou RG)",
		Evidence: []Evidence{{"rg", []string{"front", "back"}}}},
	{Type: DocSelfie, Requirement: RequirementSelfie, Formats: imageFormat, Review: ReviewByBiometrics,
		Label:    "Selfie",
		Evidence: []Evidence{{"selfie", []string{"photo"}}}},
	{Type: DocProofOfAddress, Requirement: RequirementProofOfAddress, Formats: anyFormat, Review: ReviewByReviewer,
		Label:    "Comprovante de endereço",
		Evidence: []Evidence{{"proof_of_address", oneFile}}},
	{Type: DocIncomeStatement, Requirement: RequirementIncomeStatement, Formats: anyFormat, Review: ReviewByReviewer,
		Label:    "Declaração de faturamento",
		Evidence: []Evidence{{"income_statement", oneFile}}},
}

// documentTypeIndex finds a row by type.
var documentTypeIndex = func() map[DocumentType]*DocumentTypeSpec {
	m := make(map[DocumentType]*DocumentTypeSpec, len(documentTypes))
	for i := range documentTypes {
		m[documentTypes[i].Type] = &documentTypes[i]
	}
	return m
}()

// DocumentTypes returns the table of upload types (a copy).
func DocumentTypes() []DocumentTypeSpec {
	out := make([]DocumentTypeSpec, len(documentTypes))
	for i, d := range documentTypes {
		out[i] = d.clone()
	}
	return out
}

// LookupDocumentType returns the row of type t.
func LookupDocumentType(t DocumentType) (DocumentTypeSpec, bool) {
	d, ok := documentTypeIndex[t]
	if !ok {
		return DocumentTypeSpec{}, false
	}
	return d.clone(), true
}

func (d DocumentTypeSpec) clone() DocumentTypeSpec {
	d.Formats = slices.Clone(d.Formats)
	d.Evidence = slices.Clone(d.Evidence)
	for i := range d.Evidence {
		d.Evidence[i].Attachments = slices.Clone(d.Evidence[i].Attachments)
	}
	return d
}

// EvidenceAttachments returns the attachment types the SDK's evidence type takes, over
// every upload type it may stand for; ok is false for an evidence type no row names.
func EvidenceAttachments(evidence string) (attachments []string, ok bool) {
	for _, d := range documentTypes {
		for _, e := range d.Evidence {
			if e.Type == evidence {
				ok = true
				for _, a := range e.Attachments {
					if !slices.Contains(attachments, a) {
						attachments = append(attachments, a)
					}
				}
			}
		}
	}
	return attachments, ok
}

// UploadTypeFor returns the upload type that the SDK's evidence type stands for when sent
// for r: the type r accepts whose row names the evidence (for a company whose document is
// its bylaws, articles_of_association means bylaws).
func (r *Requirement) UploadTypeFor(evidence string) (DocumentType, bool) {
	for _, d := range documentTypes {
		if !r.Accepts(d.Type) {
			continue
		}
		for _, e := range d.Evidence {
			if e.Type == evidence {
				return d.Type, true
			}
		}
	}
	return "", false
}

// Accepts reports whether an upload of type t satisfies the item: its own type, or an
// Alternative of its requirement type (a CNH or an RG for an identity item).
func (r *Requirement) Accepts(t DocumentType) bool {
	if r.DocumentType == t {
		return true
	}
	d, ok := documentTypeIndex[t]
	return ok && d.Alternative && d.Requirement == r.Type
}
