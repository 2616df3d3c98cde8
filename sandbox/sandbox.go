// Package sandbox holds deterministic stand-ins for the plugins a lender wires into
// onboarding.Options: a company registry, a document reviewer, a biometrics provider and an
// in-memory document store. They never call out, and documented magic inputs select every
// path (a rejection, a denial, each legal nature), so partners can test their integration
// and tests can run without real providers. None of them belongs in production.
package sandbox

import (
	"context"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// Reviewer approves every document, except that a file name containing
// "sandbox-reject" is rejected and one containing "sandbox-deny" denies the customer, so
// partners can exercise every path.
type Reviewer struct{}

var (
	_ onboarding.Reviewer   = Reviewer{}
	_ onboarding.Biometrics = Biometrics{}
	_ onboarding.BlobStore  = (*MemoryBlobStore)(nil)
)

// Review implements onboarding.Reviewer.
func (Reviewer) Review(_ context.Context, in onboarding.ReviewInput) (onboarding.Verdict, error) {
	return verdict(in.Document.Filename, 900), nil
}

// Biometrics passes every selfie with a score of 990, with the same file-name magic
// as Reviewer. Its sessions last 15 minutes from NowFunc (default time.Now).
type Biometrics struct {
	NowFunc func() time.Time
}

// CheckSelfie implements onboarding.Biometrics.
func (Biometrics) CheckSelfie(_ context.Context, in onboarding.ReviewInput) (onboarding.Verdict, error) {
	return verdict(in.Document.Filename, 990), nil
}

// StartSession implements onboarding.Biometrics: a sandbox URL valid for 15 minutes.
func (b Biometrics) StartSession(_ context.Context, c *onboarding.Customer) (onboarding.BiometricsSession, error) {
	now := time.Now
	if b.NowFunc != nil {
		now = b.NowFunc
	}
	return onboarding.BiometricsSession{URL: "https://biometrics.sandbox.invalid/sessions/" + onboarding.NewID("bio") + "?customer=" + c.ID,
		ExpiresAt: now().Add(15 * time.Minute)}, nil
}

func verdict(filename string, score int) onboarding.Verdict {
	name := strings.ToLower(filename)
	switch {
	case strings.Contains(name, "sandbox-deny"):
		return onboarding.Verdict{Decision: onboarding.VerdictDeny, Reason: "sandbox: denied by file name", Provider: "sandbox"}
	case strings.Contains(name, "sandbox-reject"):
		return onboarding.Verdict{Decision: onboarding.VerdictReject, Reason: "sandbox: the document is not legible", Score: score / 3, Provider: "sandbox"}
	}
	return onboarding.Verdict{Decision: onboarding.VerdictApprove, Score: score, Provider: "sandbox"}
}
