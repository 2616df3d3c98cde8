package onboarding

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// UploadParams is one file sent for a KYC item.
type UploadParams struct {
	// Type is the upload type (ccmei, selfie, cnh, ...). Required unless RequirementID
	// names the item.
	Type DocumentType
	// RequirementID targets one item (the SDK's route). When empty, the first item that
	// accepts Type and is not approved is used.
	RequirementID string
	// EvidenceType and AttachmentType are the SDK's names for what was sent (cnh/front);
	// they default to Type and "file".
	EvidenceType   string
	AttachmentType string
	// Filename is the client's file name, stored as data only; never part of a key.
	Filename string
	// Body is read once, streamed to the BlobStore, never buffered whole.
	Body io.Reader
}

// MaxUploadsPerItem bounds the documents kept for one KYC item (every upload is kept for
// the audit trail, superseded or not).
const MaxUploadsPerItem = 20

// maxFilenameLen bounds the stored client file name.
const maxFilenameLen = 255

// UploadDocument streams a file for one of the customer's KYC items. The format is decided
// by the bytes; the bytes go to the BlobStore first and the row second, and a failure of
// the row deletes the blob. Sending the same bytes again for the same item returns the
// existing document. The last mandatory item moves the customer to under_review.
func (s *Service) UploadDocument(ctx context.Context, partnerID, customerID string, p UploadParams) (_ *Document, err error) {
	ctx, span := s.start(ctx, "UploadDocument", partnerID)
	defer span.end(&err)
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	if p.Body == nil {
		return nil, ErrEmptyFile
	}
	c, err := s.store.GetCustomer(ctx, partnerID, customerID)
	if err != nil {
		return nil, err
	}
	req, err := pickRequirement(c, p)
	if err != nil {
		return nil, err
	}
	docType := p.Type
	if docType == "" {
		docType = req.DocumentType
	}
	br := bufio.NewReaderSize(p.Body, 4096)
	head, err := br.Peek(sniffLen)
	if len(head) == 0 {
		if err != nil && err != io.EOF {
			return nil, err
		}
		return nil, ErrEmptyFile
	}
	format, ok := DetectFormat(head)
	if !ok {
		return nil, fmt.Errorf("%w: the file is not a PDF, JPEG or PNG", ErrUnsupportedFormat)
	}
	if allowed := s.uploads.FormatsFor(docType); !slices.Contains(allowed, format) {
		return nil, fmt.Errorf("%w: %s is not accepted for %s", ErrUnsupportedFormat, format, docType)
	}

	now := s.clock()
	doc := &Document{
		ID: NewID(prefixDocument), PartnerID: partnerID, CustomerID: c.ID, RequirementID: req.ID,
		Type: docType, Status: DocumentSubmitted, ContentType: format, Filename: cleanText(p.Filename, maxFilenameLen),
		CreatedAt: now, UpdatedAt: now,
	}
	doc.Key = DocumentKey(partnerID, c.ID, doc.ID)
	vr := newVerifyingReader(br, format, s.uploads.MaxSizeFor(docType), &s.uploads)
	if err := s.blobs.Put(ctx, doc.Key, vr, format); err != nil {
		s.deleteBlob(ctx, doc.Key)
		if vr.err != nil && vr.err != io.EOF {
			return nil, vr.err
		}
		return nil, fmt.Errorf("onboarding: store document: %w", err)
	}
	doc.Size, doc.SHA256 = vr.n, vr.sum()

	evidence, attachment := p.EvidenceType, p.AttachmentType
	if evidence == "" {
		evidence = string(docType)
	}
	if attachment == "" {
		attachment = "file"
	}
	var result *Document
	_, err = s.mutate(ctx, partnerID, c.ID, "partner", func(ctx context.Context, t *customerTx) error {
		result = nil
		r := t.c.Requirement(req.ID)
		if err := checkUploadable(t.c, r); err != nil {
			return err
		}
		docs, err := t.q.ListDocuments(ctx, partnerID, t.c.ID)
		if err != nil {
			return err
		}
		uploads := 0
		for _, d := range docs {
			// Identical bytes awaiting review again: a replay. (An approved document
			// cannot match: its item would not take uploads unless a change of company
			// or person reset it, and then the bytes are a new submission.)
			if d.RequirementID == r.ID && d.SHA256 == doc.SHA256 && d.Type == docType && d.Status == DocumentSubmitted {
				result = d
				return nil
			}
			if d.RequirementID == r.ID {
				uploads++
			}
		}
		if uploads >= MaxUploadsPerItem {
			// Every upload is kept for the audit trail: bound what one item may hold.
			return invalid("file", CodeInvalidValue, "this item has had "+strconv.Itoa(uploads)+" uploads, the most it takes")
		}
		// A new part of the same evidence (the back of a CNH after its front) keeps the earlier
		// parts; anything else replaces the document awaiting review.
		newPart := r.Status == RequirementSubmitted && r.Submitted != nil &&
			r.Submitted.EvidenceType == evidence && !hasAttachment(r.Submitted, attachment)
		for _, d := range docs {
			if d.RequirementID == r.ID && d.Status == DocumentSubmitted && !newPart {
				d.Status, d.UpdatedAt = DocumentSuperseded, t.now
				if err := t.q.UpdateDocument(ctx, d); err != nil {
					return err
				}
			}
		}
		doc.UpdatedAt, doc.CreatedAt = t.now, t.now
		if err := t.q.InsertDocument(ctx, doc); err != nil {
			return err
		}
		sub := &Submission{EvidenceType: evidence, ReviewStatus: ReviewPending, DocumentID: doc.ID}
		if newPart {
			sub.Attachments = append(sub.Attachments, r.Submitted.Attachments...)
		}
		sub.Attachments = append(sub.Attachments, Attachment{AttachmentType: attachment, Submitted: true})
		uploaded := t.now
		r.Status, r.Message, r.UploadedAt, r.Submitted = RequirementSubmitted, nil, &uploaded, sub
		t.kycChanged = true
		result = doc
		if args := s.reviewArgs(docType, doc.ID); args != nil {
			if err := enqueue(ctx, t.q, args, jobFor{PartnerID: partnerID, CustomerID: t.c.ID}, t.now); err != nil {
				return err
			}
		}
		return t.settle(ctx)
	})
	if err != nil || result != doc {
		s.deleteBlob(ctx, doc.Key)
	}
	if err != nil {
		return nil, err
	}
	return result, nil
}

// reviewArgs is the automated review an upload of type t gets, by the document-type
// table's route and the plugins this Service has; nil when none (the back office decides).
func (s *Service) reviewArgs(t DocumentType, documentID string) jobArgs {
	spec, _ := LookupDocumentType(t)
	switch {
	case spec.Review == ReviewByBiometrics && s.biometrics != nil:
		return checkSelfieArgs{DocumentID: documentID}
	case s.reviewer != nil:
		return reviewDocumentArgs{DocumentID: documentID}
	}
	return nil
}

func hasAttachment(s *Submission, attachmentType string) bool {
	for _, a := range s.Attachments {
		if a.AttachmentType == attachmentType {
			return true
		}
	}
	return false
}

// DocumentKey is the blob key of a document. It is built only from generated IDs, never
// from anything a client named.
func DocumentKey(partnerID, customerID, documentID string) string {
	return "partners/" + partnerID + "/customers/" + customerID + "/documents/" + documentID
}

// deleteBlob removes a blob the store will not reference, even when ctx is done.
func (s *Service) deleteBlob(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.blobs.Delete(ctx, key); err != nil {
		s.log.WarnContext(ctx, "onboarding: could not delete an unreferenced document blob; the sweeper will",
			"key", key, "error", err)
	}
}

// pickRequirement finds the item an upload is for.
func pickRequirement(c *Customer, p UploadParams) (*Requirement, error) {
	if p.RequirementID != "" {
		r := c.Requirement(p.RequirementID)
		if r == nil {
			return nil, fmt.Errorf("%w: the customer has no requirement %q", ErrDocumentNotRequired, p.RequirementID)
		}
		if p.Type != "" && !r.Accepts(p.Type) {
			return nil, fmt.Errorf("%w: requirement %s does not take %q", ErrDocumentNotRequired, r.ID, p.Type)
		}
		return r, checkUploadable(c, r)
	}
	if p.Type == "" {
		return nil, invalid("type", CodeMissingRequiredField, "is required")
	}
	var approved *Requirement
	for i := range c.KYC {
		r := &c.KYC[i]
		if !r.Accepts(p.Type) {
			continue
		}
		if r.Status == RequirementApproved {
			approved = r
			continue
		}
		return r, checkUploadable(c, r)
	}
	if approved != nil {
		return nil, fmt.Errorf("%w: %s is already approved", ErrDocumentNotRequired, p.Type)
	}
	return nil, fmt.Errorf("%w: %q is not in the customer's kyc", ErrDocumentNotRequired, p.Type)
}

func checkUploadable(c *Customer, r *Requirement) error {
	if c.Status == StatusDenied {
		return fmt.Errorf("%w: the customer is denied", ErrInvalidTransition)
	}
	if r == nil {
		return fmt.Errorf("%w: the requirement no longer exists", ErrDocumentNotRequired)
	}
	if r.Status == RequirementApproved {
		return fmt.Errorf("%w: %s is already approved", ErrDocumentNotRequired, r.ID)
	}
	return nil
}

// GetDocument returns one of the partner's documents.
func (s *Service) GetDocument(ctx context.Context, partnerID, id string) (_ *Document, err error) {
	ctx, span := s.start(ctx, "GetDocument", partnerID)
	defer span.end(&err)
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	return s.store.GetDocument(ctx, partnerID, id)
}

// ListDocuments returns the customer's documents, oldest first.
func (s *Service) ListDocuments(ctx context.Context, partnerID, customerID string) (_ []*Document, err error) {
	ctx, span := s.start(ctx, "ListDocuments", partnerID)
	defer span.end(&err)
	if _, err := s.GetCustomer(ctx, partnerID, customerID); err != nil {
		return nil, err
	}
	return s.store.ListDocuments(ctx, partnerID, customerID)
}

// OpenDocument streams a document's bytes for a reviewer or provider, checked against the
// size and SHA-256 recorded at upload: a mismatch is an error matching ErrDocumentCorrupted
// at the latest at EOF, so a consumer must treat what it read as void until then.
func (s *Service) OpenDocument(ctx context.Context, partnerID, id string) (_ io.ReadCloser, _ *Document, err error) {
	ctx, span := s.start(ctx, "OpenDocument", partnerID)
	defer span.end(&err)
	d, err := s.GetDocument(ctx, partnerID, id)
	if err != nil {
		return nil, nil, err
	}
	var rc io.ReadCloser
	if o, ok := s.blobs.(DocumentOpener); ok {
		rc, err = o.OpenDocument(ctx, d)
	} else if rc, err = s.blobs.Open(ctx, d.Key); err == nil {
		rc = VerifyDigest(rc, d.Size, d.SHA256)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("onboarding: open document: %w", err)
	}
	return rc, d, nil
}
