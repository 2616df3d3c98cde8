package onboarding_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGrafanaDashboard: the dashboard in docs/grafana parses and queries only metrics that
// docs/operations.md documents (with their histogram suffixes).
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("docs/grafana/onboarding.json")
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	ops, err := os.ReadFile("docs/operations.md")
	require.NoError(t, err)
	name := regexp.MustCompile(`\b(onboarding|http_server)_[a-z_]+\b`)
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, m := range name.FindAllString(tg.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					base = strings.TrimSuffix(base, suffix)
				}
				assert.Contains(t, string(ops), "`"+base+"`", "panel %q queries %s, which docs/operations.md does not describe", p.Title, m)
			}
		}
	}
	assert.Greater(t, queries, 10)
}
