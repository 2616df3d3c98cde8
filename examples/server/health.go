package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding/store/bunstore"
)

// healthz answers GET /healthz: 200 while the process serves HTTP at all (liveness).
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeStatus(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers GET /readyz (readiness): 200 when the database answers and has every
// migration this build knows, 503 otherwise or once shutdown has begun, with the reason.
// The database's error is not echoed: probes are often reachable from outside.
func readyz(db *bun.DB, draining *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			writeStatus(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting_down"})
			return
		}
		ctx, cancel := context.WithTimeout(untraced(r.Context()), 2*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, map[string]string{"status": "database_unreachable"})
			return
		}
		// A bookkeeping table that cannot be read is a database Migrate never ran on.
		if err := bunstore.CheckSchema(ctx, db); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, map[string]string{"status": "schema_outdated"})
			return
		}
		writeStatus(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func writeStatus(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// metricsServer listens on addr and serves the Prometheus handler at /metrics, apart from
// the API (the metrics are for the operator's scraper, not for partners).
func metricsServer(addr string, metrics http.Handler, logger *slog.Logger) (*http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}, ln, nil
}
