package onboarding_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// TestReadmeDiagram keeps the README's lifecycle diagram identical to the one generated
// from the FSM definition. To update it, paste the output of onboarding.LifecycleDiagram()
// between the markers.
func TestReadmeDiagram(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	const begin, end = "<!-- lifecycle:begin -->\n```mermaid\n", "```\n<!-- lifecycle:end -->"
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	require.True(t, i >= 0 && j > i, "README.md lacks the lifecycle markers")
	require.Equal(t, onboarding.LifecycleDiagram(), s[i+len(begin):j],
		"README.md's diagram is stale; replace it with onboarding.LifecycleDiagram()")
}
