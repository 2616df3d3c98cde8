package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Automated review jobs, enqueued with an upload when the uploading Service has the plugin.
// Each kind waits for a Service configured with its plugin, so a replica without one (say
// during a rolling deploy) never swallows the work.
const (
	// JobReviewDocument has the Reviewer judge a submitted document.
	JobReviewDocument JobKind = "review_document"
	// JobCheckSelfie has the Biometrics provider judge a submitted selfie.
	JobCheckSelfie JobKind = "check_selfie"
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

// ErrSessionActive is returned by StartBiometricsSession while the customer's previous
// session is still open (HTTP 409 session_already_active).
var ErrSessionActive = errors.New("onboarding: a biometrics session is already active")

// ErrNotConfigured is returned by calls that need a plugin the Service was not given.
var ErrNotConfigured = errors.New("onboarding: not configured")

// StartBiometricsSession opens a liveness session for a customer who owes a selfie. One
// session at a time: until it expires, another call is ErrSessionActive. The open session is
// recorded in the Store (as a reserved idempotency key), so every replica agrees.
func (s *Service) StartBiometricsSession(ctx context.Context, partnerID, customerID string) (*BiometricsSession, error) {
	if s.biometrics == nil {
		return nil, fmt.Errorf("%w: no Biometrics provider", ErrNotConfigured)
	}
	c, err := s.GetCustomer(ctx, partnerID, customerID)
	if err != nil {
		return nil, err
	}
	if c.Status == StatusDenied {
		return nil, fmt.Errorf("%w: the customer is denied", ErrInvalidTransition)
	}
	// Reserve the slot first, so a refused call never opens (and pays for) a session.
	now := s.clock()
	key := &IdempotencyKey{PartnerID: partnerID, Key: "biometrics-session:" + c.ID, RequestHash: "biometrics-session",
		CreatedAt: now, ExpiresAt: now.Add(biometricsReservation)}
	if err := s.store.InsertIdempotencyKey(ctx, key); errors.Is(err, ErrConflict) {
		return nil, ErrSessionActive
	} else if err != nil {
		return nil, err
	}
	release := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = s.store.DeleteIdempotencyKey(rctx, partnerID, key.Key, key.CreatedAt)
	}
	sess, err := s.biometrics.StartSession(ctx, c)
	if err != nil {
		release()
		return nil, fmt.Errorf("onboarding: biometrics: %w", err)
	}
	if !sess.ExpiresAt.After(s.clock()) {
		release()
		return nil, fmt.Errorf("onboarding: biometrics: the provider returned an expired session")
	}
	// Hold the slot until the session expires.
	body, _ := json.Marshal(sess)
	key.ExpiresAt = sess.ExpiresAt.UTC().Truncate(time.Microsecond)
	key.Completed, key.ResponseStatus, key.ResponseBody = true, 200, body
	err = s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		if err := q.DeleteIdempotencyKey(ctx, partnerID, key.Key, time.Time{}); err != nil {
			return err
		}
		return q.InsertIdempotencyKey(ctx, key)
	})
	if err != nil {
		return nil, err
	}
	return &sess, nil
}

// biometricsReservation is how long a session slot is held while the provider answers.
const biometricsReservation = time.Minute

// SandboxReviewer approves every document, except that a file name containing
// "sandbox-reject" is rejected and one containing "sandbox-deny" denies the customer, so
// partners can exercise every path.
type SandboxReviewer struct{}

// Review implements Reviewer.
func (SandboxReviewer) Review(_ context.Context, in ReviewInput) (Verdict, error) {
	return sandboxVerdict(in.Document.Filename, 900), nil
}

// SandboxBiometrics passes every selfie with a score of 990, with the same file-name magic
// as SandboxReviewer. Its sessions last 15 minutes from NowFunc (default time.Now).
type SandboxBiometrics struct {
	NowFunc func() time.Time
}

// CheckSelfie implements Biometrics.
func (SandboxBiometrics) CheckSelfie(_ context.Context, in ReviewInput) (Verdict, error) {
	return sandboxVerdict(in.Document.Filename, 990), nil
}

// StartSession implements Biometrics: a sandbox URL valid for 15 minutes.
func (b SandboxBiometrics) StartSession(_ context.Context, c *Customer) (BiometricsSession, error) {
	now := time.Now
	if b.NowFunc != nil {
		now = b.NowFunc
	}
	return BiometricsSession{URL: "https://biometrics.sandbox.invalid/sessions/" + NewID("bio") + "?customer=" + c.ID,
		ExpiresAt: now().Add(15 * time.Minute)}, nil
}

func sandboxVerdict(filename string, score int) Verdict {
	name := strings.ToLower(filename)
	switch {
	case strings.Contains(name, "sandbox-deny"):
		return Verdict{Decision: VerdictDeny, Reason: "sandbox: denied by file name", Provider: "sandbox"}
	case strings.Contains(name, "sandbox-reject"):
		return Verdict{Decision: VerdictReject, Reason: "sandbox: the document is not legible", Score: score / 3, Provider: "sandbox"}
	}
	return Verdict{Decision: VerdictApprove, Score: score, Provider: "sandbox"}
}

// reviewKind says which automated review an upload of type t gets, if any: a selfie goes
// to Biometrics when there is one, everything else to the Reviewer.
func (s *Service) reviewKind(t DocumentType) (JobKind, bool) {
	switch {
	case t == DocSelfie && s.biometrics != nil:
		return JobCheckSelfie, true
	case s.reviewer != nil:
		return JobReviewDocument, true
	}
	return "", false
}

// reviewJob is the automated review of a document.
func (s *Service) reviewJob(kind JobKind, d *Document, c *Customer) *Job {
	j := s.newJob(kind, c, d.CreatedAt)
	j.Args, _ = json.Marshal(map[string]string{"document_id": d.ID})
	return j
}

// runReview asks the Reviewer (or Biometrics) about a document and applies the verdict
// with the job's completion.
func (s *Service) runReview(ctx context.Context, j *Job) error {
	var args struct {
		DocumentID string `json:"document_id"`
	}
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return permanent(err)
	}
	d, err := s.store.GetDocument(ctx, j.PartnerID, args.DocumentID)
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
		return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
	default:
		return permanent(fmt.Errorf("reviewer returned an unknown decision %q", v.Decision))
	}
	if errors.Is(err, ErrInvalidTransition) {
		// A human (or a re-upload) got there first: the document no longer awaits review.
		return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
	}
	return err
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
