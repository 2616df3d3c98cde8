package onboarding

import "context"

// NextStatus exposes the lifecycle for tests.
func NextStatus(ctx context.Context, from Status, ev LifecycleEvent) (Status, error) {
	to, _, err := nextStatus(ctx, from, ev)
	return to, err
}
