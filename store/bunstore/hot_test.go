package bunstore

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeliveryUpdatesStayHeapOnly: on PostgreSQL no index of webhook_deliveries covers a
// column a delivery attempt rewrites, in its keys or its predicate, so that the update of
// each attempt's outcome is heap-only (no index entry written). A new index on one of
// them would silently make every delivery outcome several index writes dearer.
func TestDeliveryUpdatesStayHeapOnly(t *testing.T) {
	t.Parallel()
	db := openPostgresTest(t)
	rows, err := db.QueryContext(context.Background(), `SELECT c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE t.relname = 'webhook_deliveries' AND n.nspname = current_schema()`)
	require.NoError(t, err)
	defer rows.Close()
	changed := []string{"status", "attempts", "last_status_code", "last_error", "next_attempt_at", "delivered_at", "updated_at"}
	n := 0
	for rows.Next() {
		var name, def string
		require.NoError(t, rows.Scan(&name, &def))
		n++
		_, cols, _ := strings.Cut(def, " USING ")
		for _, c := range changed {
			assert.NotContains(t, cols, c, "index %s: %s", name, def)
		}
	}
	require.NoError(t, rows.Err())
	assert.Positive(t, n)
	var opts string
	require.NoError(t, db.QueryRowContext(context.Background(), `SELECT coalesce(array_to_string(reloptions, ','), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'webhook_deliveries' AND n.nspname = current_schema()`).
		Scan(&opts))
	assert.Contains(t, opts, "fillfactor=70", "room in each page for the updates")
}
