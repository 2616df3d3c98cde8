package onboarding

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/looplab/fsm"
)

// LifecycleEvent names a transition of the customer lifecycle.
type LifecycleEvent string

// The lifecycle events (docs/kyc.md, "Lifecycle").
const (
	// EventSubmit: every mandatory item is submitted (pending_kyc → under_review).
	EventSubmit LifecycleEvent = "submit"
	// EventApprove: every mandatory item is approved (under_review → active).
	EventApprove LifecycleEvent = "approve"
	// EventRequestChanges: an item was rejected (under_review → pending_kyc).
	EventRequestChanges LifecycleEvent = "request_changes"
	// EventDeny: the customer is refused (pending_kyc, under_review → denied).
	EventDeny LifecycleEvent = "deny"
	// EventRegister is recorded in the history for the creation of the customer. It is not
	// an FSM event: nothing precedes pending_kyc.
	EventRegister LifecycleEvent = "register"
	// EventCreditDecision is recorded in the history (status unchanged) when the credit
	// analysis decides: the outcome, the scorer's reason and model, and the offer if any.
	// It is not an FSM event.
	EventCreditDecision LifecycleEvent = "credit_decision"
)

// lifecycleEvents is the single definition of the lifecycle; the FSM, the diagram and the
// tests are built from it.
var lifecycleEvents = fsm.Events{
	{Name: string(EventSubmit), Src: []string{string(StatusPendingKYC)}, Dst: string(StatusUnderReview)},
	{Name: string(EventApprove), Src: []string{string(StatusUnderReview)}, Dst: string(StatusActive)},
	{Name: string(EventRequestChanges), Src: []string{string(StatusUnderReview)}, Dst: string(StatusPendingKYC)},
	{Name: string(EventDeny), Src: []string{string(StatusPendingKYC), string(StatusUnderReview)}, Dst: string(StatusDenied)},
}

// nextStatus fires event on a throwaway FSM built from the stored status. The persisted
// status stays the source of truth: the FSM only says whether the move is legal and where
// it leads. ok is false when the customer is already in the target state (looplab's
// NoTransitionError); err wraps ErrInvalidTransition when the event is not allowed.
func nextStatus(ctx context.Context, from Status, event LifecycleEvent) (to Status, ok bool, err error) {
	m := fsm.NewFSM(string(from), lifecycleEvents, nil)
	err = m.Event(ctx, string(event))
	var noTransition fsm.NoTransitionError
	var invalid fsm.InvalidEventError
	var unknown fsm.UnknownEventError
	switch {
	case err == nil:
		return Status(m.Current()), true, nil
	case errors.As(err, &noTransition):
		return from, false, nil
	case errors.As(err, &invalid):
		return from, false, fmt.Errorf("%w: cannot %s a customer that is %s", ErrInvalidTransition, event, from)
	case errors.As(err, &unknown):
		return from, false, fmt.Errorf("%w: unknown lifecycle event %q", ErrInvalidTransition, event)
	default:
		return from, false, fmt.Errorf("onboarding: lifecycle: %w", err)
	}
}

// LifecycleDiagram returns the customer lifecycle as a Mermaid state diagram, generated
// from the same definition the Service enforces. The README embeds it; a test keeps the
// two identical.
func LifecycleDiagram() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	fmt.Fprintf(&b, "    [*] --> %s: register\n", StatusPendingKYC)
	for _, e := range lifecycleEvents {
		for _, src := range e.Src {
			fmt.Fprintf(&b, "    %s --> %s: %s\n", src, e.Dst, e.Name)
		}
	}
	fmt.Fprintf(&b, "    %s --> [*]\n", StatusDenied)
	return b.String()
}

// Transition is one row of a customer's audit history.
type Transition struct {
	ID         string
	PartnerID  string
	CustomerID string
	Event      LifecycleEvent
	// From is empty for the registration.
	From Status
	To   Status
	// Actor says who or what caused it: "partner", "system", "reviewer:<name>", ...
	Actor     string
	Reason    string
	CreatedAt time.Time
}
