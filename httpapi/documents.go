package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// documentJSON is the API's document object.
type documentJSON struct {
	ID              string                    `json:"id"`
	CustomerID      string                    `json:"customer_id"`
	RequirementID   string                    `json:"requirement_id"`
	Type            onboarding.DocumentType   `json:"type"`
	Status          onboarding.DocumentStatus `json:"status"`
	ContentType     onboarding.Format         `json:"content_type"`
	Size            int64                     `json:"size"`
	SHA256          string                    `json:"sha256"`
	RejectionReason *string                   `json:"rejection_reason"`
	UploadedAt      time.Time                 `json:"uploaded_at"`
	CreatedAt       time.Time                 `json:"created_at"`
	UpdatedAt       time.Time                 `json:"updated_at"`
}

func toDocumentJSON(d *onboarding.Document) documentJSON {
	out := documentJSON{ID: d.ID, CustomerID: d.CustomerID, RequirementID: d.RequirementID, Type: d.Type,
		Status: d.Status, ContentType: d.ContentType, Size: d.Size, SHA256: d.SHA256,
		UploadedAt: d.CreatedAt, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.RejectionReason != "" {
		reason := d.RejectionReason
		out.RejectionReason = &reason
	}
	return out
}

func (a *api) listDocuments(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	docs, err := a.svc.ListDocuments(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, docs)
	return nil
}

// upload hands the file part to the Service and maps a failure to read the body (over
// the limit, cut short, malformed) before the Service's own errors.
func (a *api) upload(r *http.Request, rc *reqCtx, file *hashedPart, p onboarding.UploadParams) (*onboarding.Document, error) {
	p.Filename, p.Body = file.file, file
	d, err := a.svc.UploadDocument(r.Context(), rc.partner, r.PathValue("id"), p)
	if err != nil {
		if rc.form.body.err != nil || rc.form.partErr != nil {
			rc.form.failed = true
			return nil, rc.form.readErr()
		}
		return nil, err
	}
	rc.form.drainRest()
	return d, nil
}

// uploadDocument is POST /customers/{id}/documents: multipart fields "type" and "file".
// The file is streamed to the Service as it arrives, so "type" must come before it.
func (a *api) uploadDocument(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f := rc.form
	file, err := f.nextFile()
	if err != nil {
		return err
	}
	if file == nil {
		return missingFile()
	}
	typ := f.fields["type"]
	if typ == "" {
		return fieldProblem("type", onboarding.CodeMissingRequiredField,
			"is required, as a form field sent before the file part")
	}
	d, err := a.upload(r, rc, file, onboarding.UploadParams{Type: onboarding.DocumentType(typ)})
	if err != nil {
		return err
	}
	w.Header().Set("Location", location(rc, "/customers/"+d.CustomerID+"/documents"))
	a.writeJSON(w, r, http.StatusCreated, d)
	return nil
}

// attachmentResponse is the SDK's answer to an attachment.
type attachmentResponse struct {
	AttachmentType string `json:"attachment_type"`
	Submitted      bool   `json:"submitted"`
}

// uploadAttachment is the SDK's POST /customers/{id}/kyc-attachments: multipart fields
// requirement_id, evidence_type, attachment_type, then the file part ("file" or "blob";
// its name and content type are not trusted, its bytes decide the format).
func (a *api) uploadAttachment(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f := rc.form
	file, err := f.nextFile()
	if err != nil {
		return err
	}
	reqID, evidence, attachment := f.fields["requirement_id"], f.fields["evidence_type"], f.fields["attachment_type"]
	ve := &onboarding.ValidationError{}
	for _, kv := range [][2]string{{"requirement_id", reqID}, {"evidence_type", evidence}, {"attachment_type", attachment}} {
		if kv[1] == "" {
			ve.Fields = append(ve.Fields, onboarding.FieldError{Param: kv[0], Code: onboarding.CodeMissingRequiredField,
				Detail: "is required, as a form field sent before the file part"})
		}
	}
	if len(ve.Fields) > 0 {
		return ve
	}
	// The document-type table knows every evidence type that is a file; email, the SDK's
	// only value evidence, is refused below (no item of this library takes a value).
	allowed, known := onboarding.EvidenceAttachments(evidence)
	if evidence == "email" {
		allowed, known = []string{"email"}, true
	}
	if !known {
		return fieldProblem("evidence_type", onboarding.CodeInvalidValue, "is not a known evidence type")
	}
	if !slices.Contains(allowed, attachment) {
		return fieldProblem("attachment_type", onboarding.CodeInvalidValue,
			"must be "+strings.Join(allowed, " or ")+" for evidence_type "+evidence)
	}
	if evidence == "email" {
		return &problem{status: http.StatusUnprocessableEntity, code: "document_type_not_required", param: "evidence_type",
			detail: "email evidence is not supported: no KYC item of this server takes a value.",
			fields: []onboarding.FieldError{{Param: "evidence_type", Code: "document_type_not_required", Detail: "email evidence is not supported"}}}
	}
	if file == nil {
		return missingFile()
	}
	c, err := a.svc.GetCustomer(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	req := rc.format.RequirementForWire(c, reqID)
	if req == nil {
		return &problem{status: http.StatusUnprocessableEntity, code: "document_type_not_required", param: "requirement_id",
			detail: "The customer's kyc has no requirement " + reqID + ".",
			fields: []onboarding.FieldError{{Param: "requirement_id", Code: "document_type_not_required", Detail: "is not in the customer's kyc"}}}
	}
	typ, ok := req.UploadTypeFor(evidence)
	if !ok {
		return &problem{status: http.StatusUnprocessableEntity, code: "document_type_not_required", param: "evidence_type",
			detail: "Requirement " + req.ID + " (" + string(req.Type) + ") does not take evidence_type " + evidence + ".",
			fields: []onboarding.FieldError{{Param: "evidence_type", Code: "document_type_not_required", Detail: "does not satisfy the requirement"}}}
	}
	_, err = a.upload(r, rc, file, onboarding.UploadParams{RequirementID: req.ID, Type: typ,
		EvidenceType: evidence, AttachmentType: attachment})
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusCreated, attachmentResponse{AttachmentType: attachment, Submitted: true})
	return nil
}
