package onboarding

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onboardkit/onboarding/taxid"
)

// customerTx is one unit of work on a customer: it fires lifecycle events, records history
// and collects the events to write, then saves the customer with compare-and-set.
type customerTx struct {
	s          *Service
	q          Queries
	c          *Customer
	now        time.Time
	actor      string
	dirty      bool
	kycChanged bool
	events     []pendingEvent
	// releaseOffers: the customer became active while offers are held.
	releaseOffers bool
	// withdrawOffers: the customer was denied; its open offers expire.
	withdrawOffers bool
}

type pendingEvent struct {
	t    EventType
	data any
}

// mutate runs fn on a fresh read of the customer inside a transaction and saves the result.
// A lost compare-and-set race is retried from a fresh read, never overwritten.
func (s *Service) mutate(ctx context.Context, partnerID, customerID, actor string, fn func(ctx context.Context, t *customerTx) error) (*Customer, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		var out *Customer
		err := s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
			c, err := q.GetCustomer(ctx, partnerID, customerID)
			if err != nil {
				return err
			}
			t := &customerTx{s: s, q: q, c: c, now: s.clock(), actor: actor}
			if err := fn(ctx, t); err != nil {
				return err
			}
			if err := t.commit(ctx); err != nil {
				return err
			}
			out = t.c
			return nil
		})
		if errors.Is(err, ErrConcurrentUpdate) && attempt < maxCASRetries {
			continue
		}
		if err == nil {
			s.notify()
		}
		return out, err
	}
}

// fire applies a lifecycle event: it checks it on the FSM, records the history row, and
// queues the status event. A transition to the current state is a no-op.
func (t *customerTx) fire(ctx context.Context, ev LifecycleEvent, reason string) error {
	from := t.c.Status
	to, ok, err := nextStatus(ctx, from, ev)
	if err != nil || !ok {
		return err
	}
	t.c.Status = to
	t.dirty = true
	if err := t.q.InsertTransition(ctx, &Transition{ID: NewID(prefixTransition), PartnerID: t.c.PartnerID,
		CustomerID: t.c.ID, Event: ev, From: from, To: to, Actor: t.actor, Reason: reason, CreatedAt: t.now}); err != nil {
		return err
	}
	var et EventType
	switch to {
	case StatusUnderReview:
		et = EventCustomerUnderReview
	case StatusActive:
		et = EventCustomerActive
		if t.s.holdOffers {
			t.releaseOffers = true
		}
	case StatusDenied:
		et = EventCustomerDenied
		t.withdrawOffers = true
	default: // back to pending_kyc: the kyc_updated event carries the rejection
		t.kycChanged = true
		return nil
	}
	t.events = append(t.events, pendingEvent{et, customerEventData(et, t.c)})
	return nil
}

// settle applies the automatic transitions until the status is stable: last mandatory
// item submitted → under_review; all approved → active; one rejected or missing while under
// review → pending_kyc.
func (t *customerTx) settle(ctx context.Context) error {
	for range 4 {
		var pending, rejected, unapproved int
		var reasons []string
		for _, r := range t.c.KYC {
			if !r.Mandatory {
				continue
			}
			switch r.Status {
			case RequirementPending:
				pending++
			case RequirementRejected:
				rejected++
				if r.Message != nil {
					reasons = append(reasons, r.Label+": "+*r.Message)
				}
			}
			if r.Status != RequirementApproved {
				unapproved++
			}
		}
		before := t.c.Status
		var err error
		switch {
		case before == StatusPendingKYC && pending == 0 && rejected == 0:
			err = t.fire(ctx, EventSubmit, "every mandatory item submitted")
		case before == StatusUnderReview && (pending > 0 || rejected > 0):
			err = t.fire(ctx, EventRequestChanges, strings.Join(reasons, "; "))
		case before == StatusUnderReview && unapproved == 0:
			err = t.fire(ctx, EventApprove, "every mandatory item approved")
		}
		if err != nil {
			return err
		}
		if t.c.Status == before {
			return nil
		}
	}
	return nil
}

// commit saves the customer (compare-and-set on its version) and writes the queued events.
func (t *customerTx) commit(ctx context.Context) error {
	if !t.dirty && !t.kycChanged {
		return nil
	}
	t.c.UpdatedAt = t.now
	if err := t.q.UpdateCustomer(ctx, t.c); err != nil {
		return err
	}
	if t.kycChanged {
		if err := t.s.emit(ctx, t.q, t.c, EventCustomerKYCUpdated, customerEventData(EventCustomerKYCUpdated, t.c), t.now); err != nil {
			return err
		}
	}
	for _, e := range t.events {
		if err := t.s.emit(ctx, t.q, t.c, e.t, e.data, t.now); err != nil {
			return err
		}
	}
	if t.releaseOffers {
		return t.s.releaseHeldOffers(ctx, t.q, t.c, t.now)
	}
	if t.withdrawOffers {
		return t.s.withdrawOffers(ctx, t.q, t.c, t.now)
	}
	return nil
}

// UpdateCustomer corrects a customer's data (API.md PATCH). Changing the CNPJ recomputes
// the KYC items, and the company's document must be sent again. A denied customer cannot
// be changed; an active one cannot change company.
func (s *Service) UpdateCustomer(ctx context.Context, partnerID, id string, p UpdateCustomerParams) (*Customer, error) {
	ve := &ValidationError{}
	var name, email, phone, trading string
	var cnpj taxid.CNPJ
	if p.Name != nil {
		name = strings.TrimSpace(*p.Name)
		checkText(ve, "name", name, true, maxNameLen)
	}
	if p.Email != nil {
		email = checkEmail(ve, *p.Email)
	}
	if p.Phone != nil {
		phone = checkPhone(ve, *p.Phone)
	}
	if p.TradingName != nil {
		trading = strings.TrimSpace(*p.TradingName)
		checkText(ve, "trading_name", trading, false, maxNameLen)
	}
	if p.CNPJ != nil {
		v, err := taxid.ParseCNPJ(*p.CNPJ)
		if err != nil {
			ve.add("cnpj", CodeInvalidCNPJ, taxidDetail(err))
		}
		cnpj = v
	}
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	// The registry is asked whenever the requirements are recomputed (a new company, a new
	// name), so that co-owners it lists are never lost from the kyc.
	var company *CompanyInfo
	if s.registry != nil && (p.CNPJ != nil || p.Name != nil) {
		lookup := cnpj
		if p.CNPJ == nil {
			cur, err := s.GetCustomer(ctx, partnerID, id)
			if err != nil {
				return nil, err
			}
			lookup = cur.CNPJ
		}
		if lookup != "" {
			info, err := s.registry.LookupCompany(ctx, lookup)
			if err != nil {
				return nil, fmt.Errorf("onboarding: company registry: %w", err)
			}
			company = info
		}
	}
	return s.mutate(ctx, partnerID, id, "partner", func(ctx context.Context, t *customerTx) error {
		c := t.c
		if c.Status == StatusDenied {
			return fmt.Errorf("%w: the customer is denied", ErrInvalidTransition)
		}
		newName := p.Name != nil && name != c.Name
		newCompany := p.CNPJ != nil && cnpj != c.CNPJ
		if c.Status == StatusActive && (newName || newCompany) {
			return fmt.Errorf("%w: an active customer cannot change its name or CNPJ: its KYC was approved for them", ErrInvalidTransition)
		}
		set := func(dst *string, v string, given bool) {
			if given && *dst != v {
				*dst, t.dirty = v, true
			}
		}
		set(&c.Name, name, p.Name != nil)
		set(&c.Email, email, p.Email != nil)
		set(&c.Phone, phone, p.Phone != nil)
		set(&c.TradingName, trading, p.TradingName != nil)
		if newCompany {
			c.CNPJ, t.dirty = cnpj, true
		}
		if company != nil && company.LegalNature != "" {
			c.LegalNature = company.LegalNature
		}
		if !newName && !newCompany {
			return nil
		}
		reqs, err := s.requirements(ctx, RequirementInput{CPF: c.CPF, CNPJ: c.CNPJ, Name: c.Name,
			LegalNature: c.LegalNature, Company: company})
		if err != nil {
			return err
		}
		merged, changed := mergeRequirements(c.KYC, reqs, !newCompany)
		if newCompany {
			// Another company: its documents must be sent again, and the credit analysis
			// of the old one no longer holds.
			for i := range merged {
				if merged[i].Subject == nil && merged[i].Status != RequirementPending {
					merged[i] = resetRequirement(merged[i])
					changed = true
				}
			}
			if err := s.withdrawOffers(ctx, t.q, c, t.now); err != nil {
				return err
			}
			if err := t.q.InsertJob(ctx, s.newJob(JobCreditAnalysis, c, t.now)); err != nil {
				return err
			}
		}
		if changed {
			c.KYC, t.kycChanged = merged, true
		}
		return t.settle(ctx)
	})
}

func resetRequirement(r Requirement) Requirement {
	r.Status, r.Message, r.UploadedAt, r.Submitted = RequirementPending, nil, nil, nil
	return r
}

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

// maxReasonLen bounds a review or denial reason.
const maxReasonLen = 1000

// maxFilenameLen bounds the stored client file name.
const maxFilenameLen = 255

// UploadDocument streams a file for one of the customer's KYC items. The format is decided
// by the bytes; the bytes go to the BlobStore first and the row second, and a failure of
// the row deletes the blob. Sending the same bytes again for the same item returns the
// existing document. The last mandatory item moves the customer to under_review.
func (s *Service) UploadDocument(ctx context.Context, partnerID, customerID string, p UploadParams) (*Document, error) {
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
	vr := newVerifyingReader(br, format, s.uploads.MaxSizeFor(docType))
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
			if d.RequirementID == r.ID && d.SHA256 == doc.SHA256 && d.Type == docType &&
				(d.Status == DocumentSubmitted || d.Status == DocumentApproved) {
				result = d // identical bytes again: idempotent
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
		if kind, ok := s.reviewKind(docType); ok {
			if err := t.q.InsertJob(ctx, s.reviewJob(kind, doc, t.c)); err != nil {
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

// cleanText keeps text from outside (a client's file name, a provider's reason) as
// printable, valid UTF-8 of at most max bytes.
func cleanText(text string, max int) string {
	text = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(text, ""))
	return truncate(text, max)
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

// ReviewDecision is a reviewer's verdict on a document.
type ReviewDecision string

// The review decisions.
const (
	ReviewApprove ReviewDecision = "approve"
	ReviewReject  ReviewDecision = "reject"
)

// ReviewParams is a reviewer's verdict.
type ReviewParams struct {
	Decision ReviewDecision
	// Reason is required to reject; the customer sees it as the item's message.
	Reason string
	// Reviewer names who decided (a back-office user, a provider); it goes to the history.
	Reviewer string
}

// ReviewDocument approves or rejects a submitted document (the back-office call). Approving
// the last mandatory item activates the customer; a rejection sends it back to pending_kyc
// with the reason as the item's message.
func (s *Service) ReviewDocument(ctx context.Context, partnerID, documentID string, p ReviewParams) (*Document, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	p.Reason = strings.TrimSpace(p.Reason)
	ve := &ValidationError{}
	switch p.Decision {
	case ReviewApprove:
	case ReviewReject:
		checkText(ve, "reason", p.Reason, true, maxReasonLen)
	default:
		ve.add("decision", CodeInvalidValue, "must be approve or reject")
	}
	checkText(ve, "reviewer", p.Reviewer, false, maxNameLen)
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	actor := "reviewer"
	if p.Reviewer != "" {
		actor = "reviewer:" + p.Reviewer
	}
	return s.reviewDocument(ctx, partnerID, documentID, p, actor, nil)
}

// reviewDocument applies a validated verdict; also, when set, runs in its transaction
// (an automated review completes its job there).
func (s *Service) reviewDocument(ctx context.Context, partnerID, documentID string, p ReviewParams, actor string,
	also func(ctx context.Context, t *customerTx) error) (*Document, error) {
	doc, err := s.store.GetDocument(ctx, partnerID, documentID)
	if err != nil {
		return nil, err
	}
	var out *Document
	_, err = s.mutate(ctx, partnerID, doc.CustomerID, actor, func(ctx context.Context, t *customerTx) error {
		d, err := t.q.GetDocument(ctx, partnerID, documentID)
		if err != nil {
			return err
		}
		r := t.c.Requirement(d.RequirementID)
		if t.c.Status == StatusDenied || t.c.Status == StatusActive {
			return fmt.Errorf("%w: the customer is %s", ErrInvalidTransition, t.c.Status)
		}
		if d.Status != DocumentSubmitted || r == nil || r.Submitted == nil || r.Submitted.DocumentID != d.ID {
			return fmt.Errorf("%w: the document is not awaiting review", ErrInvalidTransition)
		}
		d.UpdatedAt = t.now
		if p.Decision == ReviewApprove {
			d.Status = DocumentApproved
			r.Status, r.Message = RequirementApproved, nil
			r.Submitted.ReviewStatus, r.Submitted.ReviewReason = ReviewAccepted, nil
		} else {
			reason := p.Reason
			d.Status, d.RejectionReason = DocumentRejected, reason
			r.Status, r.Message = RequirementRejected, &reason
			r.Submitted.ReviewStatus, r.Submitted.ReviewReason = ReviewRejected, &reason
		}
		if err := t.q.UpdateDocument(ctx, d); err != nil {
			return err
		}
		// The verdict is on the item: its other parts awaiting review (the front of a
		// CNH whose back this is) share it.
		docs, err := t.q.ListDocuments(ctx, partnerID, t.c.ID)
		if err != nil {
			return err
		}
		for _, part := range docs {
			if part.ID != d.ID && part.RequirementID == d.RequirementID && part.Status == DocumentSubmitted {
				part.Status, part.RejectionReason, part.UpdatedAt = d.Status, d.RejectionReason, t.now
				if err := t.q.UpdateDocument(ctx, part); err != nil {
					return err
				}
			}
		}
		t.kycChanged = true
		out = d
		if err := t.settle(ctx); err != nil {
			return err
		}
		if also != nil {
			return also(ctx, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DenyCustomer refuses a customer for good (fraud, sanctions, unfit company). reason is
// required and recorded in the history.
func (s *Service) DenyCustomer(ctx context.Context, partnerID, customerID, reason, actor string) (*Customer, error) {
	reason = strings.TrimSpace(reason)
	ve := &ValidationError{}
	checkText(ve, "reason", reason, true, maxReasonLen)
	checkText(ve, "actor", actor, false, maxNameLen)
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	if actor == "" {
		actor = "back_office"
	}
	return s.mutate(ctx, partnerID, customerID, actor, func(ctx context.Context, t *customerTx) error {
		if t.c.Status == StatusDenied {
			return nil
		}
		return t.fire(ctx, EventDeny, reason)
	})
}

// GetDocument returns one of the partner's documents.
func (s *Service) GetDocument(ctx context.Context, partnerID, id string) (*Document, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	return s.store.GetDocument(ctx, partnerID, id)
}

// ListDocuments returns the customer's documents, oldest first.
func (s *Service) ListDocuments(ctx context.Context, partnerID, customerID string) ([]*Document, error) {
	if _, err := s.GetCustomer(ctx, partnerID, customerID); err != nil {
		return nil, err
	}
	return s.store.ListDocuments(ctx, partnerID, customerID)
}

// OpenDocument streams a document's bytes for a reviewer or provider, checked against the
// size and SHA-256 recorded at upload: a mismatch is an error matching ErrDocumentCorrupted
// at the latest at EOF, so a consumer must treat what it read as void until then.
func (s *Service) OpenDocument(ctx context.Context, partnerID, id string) (io.ReadCloser, *Document, error) {
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
