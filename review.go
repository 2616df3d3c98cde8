package onboarding

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// VerdictDecision is an automated reviewer's answer.
type VerdictDecision string

// The verdict decisions.
const (
	// VerdictApprove accepts the document.
	VerdictApprove VerdictDecision = "approve"
	// VerdictReject sends the item back to the customer with Reason.
	VerdictReject VerdictDecision = "reject"
	// VerdictDeny refuses the customer for good (fraud, sanctions).
	VerdictDeny VerdictDecision = "deny"
	// VerdictManual leaves the document to the back office (ReviewDocument).
	VerdictManual VerdictDecision = "manual"
)

// Verdict is what a Reviewer or Biometrics provider decided.
type Verdict struct {
	Decision VerdictDecision
	// Reason is shown to the customer on a rejection and recorded in the history.
	Reason string
	// Score is the provider's confidence, 0..1000 (integers keep it exact); 0 if none.
	Score int
	// Provider names who decided, for the history ("acme-idv", "sandbox").
	Provider string
}

// ReviewInput is what a reviewer sees: the customer, the item, the document's metadata and
// a way to read its bytes (verified against the stored SHA-256 where the BlobStore can).
type ReviewInput struct {
	Customer    *Customer
	Requirement Requirement
	// Document is the item's latest upload.
	Document *Document
	// Parts are every document awaiting review for the item, oldest first: the front and
	// the back of a CNH, say. Document is the last of them.
	Parts []*Document
	// Open streams the document's bytes.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// OpenPart streams the bytes of one of Parts.
	OpenPart func(ctx context.Context, documentID string) (io.ReadCloser, error)
}

// Reviewer judges submitted documents automatically (an identity-verification or
// document-analysis provider). Errors are retried with backoff; the manual back-office
// call (ReviewDocument) stays available whatever the Reviewer does.
type Reviewer interface {
	Review(ctx context.Context, in ReviewInput) (Verdict, error)
}

// Biometrics checks selfies (liveness, face match against the identity document).
type Biometrics interface {
	// CheckSelfie judges an uploaded selfie.
	CheckSelfie(ctx context.Context, in ReviewInput) (Verdict, error)
	// StartSession opens a liveness session at the provider for the customer to follow.
	StartSession(ctx context.Context, c *Customer) (BiometricsSession, error)
}

// BiometricsSession is a provider's liveness session for a customer.
type BiometricsSession struct {
	URL       string    `json:"session_url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// registerReview registers the automated review jobs the Service has a plugin for.
func (s *Service) registerReview() {
	if s.reviewer != nil {
		s.handle(JobReviewDocument, handle(func(ctx context.Context, j *Job, a reviewDocumentArgs) error {
			return s.runReview(ctx, j, a.DocumentID)
		}))
	}
	if s.biometrics != nil {
		s.handle(JobCheckSelfie, handle(func(ctx context.Context, j *Job, a checkSelfieArgs) error {
			return s.runReview(ctx, j, a.DocumentID)
		}))
	}
}

// runReview asks the Reviewer (or Biometrics) about a document and applies the verdict
// with the job's completion.
func (s *Service) runReview(ctx context.Context, j *Job, documentID string) error {
	d, err := s.store.GetDocument(ctx, j.PartnerID, documentID)
	if errors.Is(err, ErrNotFound) {
		return permanent(err)
	}
	if err != nil {
		return err
	}
	c, err := s.store.GetCustomer(ctx, d.PartnerID, d.CustomerID)
	if err != nil {
		return err
	}
	r := c.Requirement(d.RequirementID)
	if d.Status != DocumentSubmitted || r == nil || r.Submitted == nil || r.Submitted.DocumentID != d.ID ||
		(c.Status != StatusPendingKYC && c.Status != StatusUnderReview) {
		return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock()) // nothing left to judge
	}
	docs, err := s.store.ListDocuments(ctx, d.PartnerID, d.CustomerID)
	if err != nil {
		return err
	}
	var parts []*Document
	for _, p := range docs {
		if p.RequirementID == d.RequirementID && p.Status == DocumentSubmitted {
			parts = append(parts, p)
		}
	}
	openPart := func(ctx context.Context, id string) (io.ReadCloser, error) {
		if !slices.ContainsFunc(parts, func(p *Document) bool { return p.ID == id }) {
			return nil, fmt.Errorf("%w: document %s is not a part of this item", ErrNotFound, id)
		}
		rc, _, err := s.OpenDocument(ctx, d.PartnerID, id)
		return rc, err
	}
	in := ReviewInput{Customer: c, Requirement: *r, Document: d, Parts: parts,
		Open:     func(ctx context.Context) (io.ReadCloser, error) { return openPart(ctx, d.ID) },
		OpenPart: openPart}
	var v Verdict
	if j.Kind == JobCheckSelfie {
		v, err = s.biometrics.CheckSelfie(ctx, in)
	} else {
		v, err = s.reviewer.Review(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("reviewer: %w", err)
	}
	actor := "reviewer:" + truncate(v.Provider, 64)
	if v.Provider == "" {
		actor = "reviewer:automated"
	}
	// A provider's text is data from outside: bounded and printable like any other input.
	v.Reason = cleanText(v.Reason, maxReasonLen)
	complete := func(ctx context.Context, t *customerTx) error { return s.completeIn(ctx, t.q, j, t.now) }
	switch v.Decision {
	case VerdictApprove, VerdictReject:
		p := ReviewParams{Decision: ReviewApprove}
		if v.Decision == VerdictReject {
			p = ReviewParams{Decision: ReviewReject, Reason: v.Reason}
			if strings.TrimSpace(p.Reason) == "" {
				p.Reason = "rejected by " + actor
			}
		}
		_, err = s.reviewDocument(ctx, d.PartnerID, d.ID, p, actor, complete)
	case VerdictDeny:
		reason := v.Reason
		if strings.TrimSpace(reason) == "" {
			reason = "denied by " + actor
		}
		_, err = s.mutate(ctx, d.PartnerID, d.CustomerID, actor, func(ctx context.Context, t *customerTx) error {
			if err := t.fire(ctx, EventDeny, reason); err != nil {
				return err
			}
			return complete(ctx, t)
		})
	case VerdictManual:
		err = s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
	default:
		return permanent(fmt.Errorf("reviewer returned an unknown decision %q", v.Decision))
	}
	if errors.Is(err, ErrInvalidTransition) {
		// A human (or a re-upload) got there first: the document no longer awaits review.
		return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
	}
	if err == nil {
		s.kycReviewed(ctx, string(v.Decision), reviewerKind(j.Kind))
	}
	return err
}

// EventItemDecision is recorded in the history (status unchanged) for every decision on a
// KYC item, manual or automated, with its actor and "<requirement_id> approved" or
// "<requirement_id> rejected: <reason>" as the reason. It is not an FSM event: a status
// change the decision leads to follows as its own row.
const EventItemDecision LifecycleEvent = "item_decision"

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
func (s *Service) ReviewDocument(ctx context.Context, partnerID, documentID string, p ReviewParams) (_ *Document, err error) {
	ctx, span := s.start(ctx, "ReviewDocument", partnerID)
	defer span.end(&err)
	actor := "reviewer"
	if p.Reviewer != "" {
		actor = "reviewer:" + p.Reviewer
	}
	return s.reviewAs(ctx, partnerID, documentID, p, actor)
}

// reviewAs validates a manual verdict and applies it with actor in the history.
func (s *Service) reviewAs(ctx context.Context, partnerID, documentID string, p ReviewParams, actor string) (*Document, error) {
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
	doc, err := s.reviewDocument(ctx, partnerID, documentID, p, actor, nil)
	if err == nil {
		s.kycReviewed(ctx, string(p.Decision), reviewerManual)
	}
	return doc, err
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
		// Every decision names its actor in the history, also when it moves no status
		// (an approval while other items still wait): the audit trail says who approved what.
		what := r.ID + " approved"
		if p.Decision == ReviewReject {
			what = r.ID + " rejected: " + p.Reason
		}
		if err := t.q.InsertTransition(ctx, &Transition{ID: NewID(prefixTransition), PartnerID: partnerID,
			CustomerID: t.c.ID, Event: EventItemDecision, From: t.c.Status, To: t.c.Status, Actor: t.actor,
			Reason: what, CreatedAt: t.now}); err != nil {
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
