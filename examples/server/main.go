// Command server runs the partner REST API (package httpapi) over a Service on SQLite or
// PostgreSQL, with documents in a gocloud.dev bucket, and the background workers.
//
//	go run ./examples/server -sandbox
//	go run ./examples/server -db postgres://user@localhost/onboarding -blob file:///var/lib/onboarding \
//	    -clients acme:$ACME_SECRET,globex:$GLOBEX_SECRET
//
// Every flag has an environment equivalent (ONBOARDING_ADDR, ONBOARDING_DB, ONBOARDING_BLOB,
// ONBOARDING_CLIENTS, ONBOARDING_TOKEN_KEY, ONBOARDING_SANDBOX,
// ONBOARDING_ALLOW_PRIVATE_WEBHOOKS, ONBOARDING_TRUST_FORWARDED_PROTO); a flag wins over its
// variable. Each client is its own partner (the client ID is the partner ID). With -sandbox
// and no clients, a "sandbox" client is made up and its secret printed.
//
// The hosted KYC wizard (package kycapp) is served under /kyc/; its session cookie is
// signed with a key derived from -token-key.
//
// The server migrates the database on start, then listens and prints where; GET / answers
// 200 once it is ready (503 while it shuts down). SIGTERM or SIGINT shuts it down
// gracefully: requests in flight finish, then the workers.
//
// The back office (package backoffice) is mounted at /backoffice/ when one way to
// authenticate operators is given: -operators name:password:role,… (local accounts),
// -oidc-issuer with -oidc-client-id, -oidc-client-secret and -oidc-redirect-url (OpenID
// Connect, roles from -oidc-role-claim), or -proxy-trusted (headers of an authenticating
// proxy). -reviewer manual leaves every KYC item, the selfie included, to its operators;
// -reviewer sandbox (the default with -sandbox) lets the sandbox reviewer decide.
//
//	go run ./examples/server -sandbox -reviewer manual -operators ana:ana-password-1234:admin
//
// Only file:// and mem:// buckets are linked in by default, which keeps the binary small;
// build with -tags cloud for s3:// and gs:// (the AWS and GCP SDKs add ~45 MB and a minute
// of cold build).
package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uptrace/bun"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/blobstore"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/bunstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// config is the server's configuration, from flags and the environment.
type config struct {
	addr         string
	db           string
	blob         string
	clients      string
	tokenKey     string
	sandbox      bool
	allowPrivate bool
	logLevel     string
	publicURL    string
	backoffice   backofficeConfig

	trustForwardedProto bool
	metricsAddr         string
}

// parseConfig reads flags, with environment variables as their defaults.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envBool := func(name string) (bool, error) {
		v := getenv(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
		return b, nil
	}
	sandbox, err := envBool("ONBOARDING_SANDBOX")
	if err != nil {
		return nil, err
	}
	allowPrivate, err := envBool("ONBOARDING_ALLOW_PRIVATE_WEBHOOKS")
	if err != nil {
		return nil, err
	}
	trustXFP, err := envBool("ONBOARDING_TRUST_FORWARDED_PROTO")
	if err != nil {
		return nil, err
	}
	c := &config{}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", env("ONBOARDING_ADDR", "127.0.0.1:8080"), "listen address (ONBOARDING_ADDR)")
	fs.StringVar(&c.db, "db", env("ONBOARDING_DB", "onboarding.db"), "SQLite file path, or a postgres:// DSN (ONBOARDING_DB)")
	fs.StringVar(&c.blob, "blob", env("ONBOARDING_BLOB", "file://./documents"), "documents bucket URL (ONBOARDING_BLOB)")
	fs.StringVar(&c.clients, "clients", env("ONBOARDING_CLIENTS", ""), "API clients id:secret[,id:secret…]; each is its own partner (ONBOARDING_CLIENTS)")
	fs.StringVar(&c.tokenKey, "token-key", env("ONBOARDING_TOKEN_KEY", ""), "token signing key, 32+ bytes in hex or base64, the same on every replica (ONBOARDING_TOKEN_KEY; default: random)")
	fs.BoolVar(&c.sandbox, "sandbox", sandbox, "sandbox reviewer, biometrics, registry and scorer; loopback webhooks allowed (ONBOARDING_SANDBOX)")
	fs.BoolVar(&c.allowPrivate, "allow-private-webhooks", allowPrivate, "allow webhook endpoints on loopback and private networks (ONBOARDING_ALLOW_PRIVATE_WEBHOOKS)")
	fs.BoolVar(&c.trustForwardedProto, "trust-forwarded-proto", trustXFP, "behind a TLS proxy: trust X-Forwarded-Proto for the KYC page's Secure cookie (ONBOARDING_TRUST_FORWARDED_PROTO)")
	fs.StringVar(&c.logLevel, "log-level", env("ONBOARDING_LOG_LEVEL", "info"), "debug, info, warn or error (ONBOARDING_LOG_LEVEL)")
	fs.StringVar(&c.publicURL, "public-url", env("ONBOARDING_PUBLIC_URL", ""), "the URL customers reach this server at; biometrics session URLs are <public-url>/kyc/?code=… (ONBOARDING_PUBLIC_URL; default: http://<listen address>)")
	addBackofficeFlags(fs, &c.backoffice, env)
	fs.StringVar(&c.metricsAddr, "metrics-addr", env("ONBOARDING_METRICS_ADDR", ""), "serve Prometheus metrics at /metrics on this address, e.g. 127.0.0.1:9464 (ONBOARDING_METRICS_ADDR; default: off)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, nil
}

// parseClients reads id:secret pairs; each client is its own partner.
func parseClients(s string) (map[string]httpapi.Client, error) {
	out := map[string]httpapi.Client{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		id, secret, ok := strings.Cut(pair, ":")
		if !ok || id == "" || secret == "" {
			return nil, errors.New("-clients: each client is id:secret")
		}
		if len(secret) < 16 {
			return nil, fmt.Errorf("-clients: the secret of %q must be at least 16 characters", id)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("-clients: %q appears twice", id)
		}
		out[id] = httpapi.Client{PartnerID: id, SecretHash: httpapi.HashSecret(secret)}
	}
	return out, nil
}

// parseKey decodes a token key given in hex or base64.
func parseKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) >= httpapi.MinTokenKeyLen {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) >= httpapi.MinTokenKeyLen {
			return b, nil
		}
	}
	return nil, fmt.Errorf("-token-key: want at least %d bytes in hex or base64", httpapi.MinTokenKeyLen)
}

// blobURL makes a file:// URL usable: the directory is created unless the URL says how.
func blobURL(s string) string {
	if strings.HasPrefix(s, "file://") && !strings.Contains(s, "?") {
		return s + "?create_dir=1"
	}
	return s
}

// openDB opens and migrates the database.
func openDB(ctx context.Context, dsn string) (*bun.DB, error) {
	var db *bun.DB
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err = bunstore.OpenPostgres(dsn)
	} else {
		if dir := filepath.Dir(dsn); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, err
			}
		}
		db, err = bunstore.OpenSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := bunstore.Migrate(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// run serves until ctx ends. It prints the listening address to stdout and logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	// Records logged under a span carry its trace_id and span_id.
	logger := slog.New(onboarding.NewTraceLogHandler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})))
	tel, err := setupTelemetry(ctx, getenv, cfg.metricsAddr != "")
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tel.close(sctx); err != nil {
			logger.Warn("telemetry: flush at exit", "error", err)
		}
	}()

	clients, err := parseClients(cfg.clients)
	if err != nil {
		return err
	}
	if len(clients) == 0 {
		if !cfg.sandbox {
			return errors.New("no API clients: pass -clients id:secret (or -sandbox to make one up)")
		}
		secret, err := httpapi.NewClientSecret()
		if err != nil {
			return err
		}
		clients["sandbox"] = httpapi.Client{PartnerID: "sandbox", SecretHash: httpapi.HashSecret(secret)}
		fmt.Fprintf(stdout, "sandbox client: id=sandbox secret=%s\n", secret)
	}
	var tokenKey []byte
	if cfg.tokenKey != "" {
		if tokenKey, err = parseKey(cfg.tokenKey); err != nil {
			return err
		}
	} else {
		logger.Warn("no -token-key: tokens are signed with a random key and die with this process")
	}

	db, err := openDB(ctx, cfg.db)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer db.Close()
	bunstore.Instrument(db, &bunstore.TelemetryOptions{TracerProvider: tel.tp, MeterProvider: tel.mp})
	blobs, err := blobstore.Open(ctx, blobURL(cfg.blob), nil)
	if err != nil {
		return err
	}
	defer blobs.Close()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	publicURL := strings.TrimSuffix(cfg.publicURL, "/")
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	reviewer, err := reviewMode(&cfg.backoffice, cfg.sandbox)
	if err != nil {
		return err
	}
	opts := &onboarding.Options{Blobs: blobs, Logger: logger, AllowPrivateWebhooks: cfg.allowPrivate,
		KYCPageURL: publicURL + "/kyc/", TracerProvider: tel.tp, MeterProvider: tel.mp}
	if cfg.sandbox {
		opts.Registry = sandbox.Registry{}
		opts.Scorer = scoring.Sandbox{}
		opts.AllowPrivateWebhooks = true
	} else {
		logger.Warn("no scorer configured: credit analyses stay queued until a Service with one runs (see examples/custom-scorer)")
	}
	applyReviewer(opts, reviewer)
	svc, err := onboarding.New(bunstore.New(db, &bunstore.Options{MeterProvider: tel.mp}), opts)
	if err != nil {
		return err
	}
	bo, err := newBackoffice(ctx, &cfg.backoffice, svc, cfg.sandbox, logger)
	if err != nil {
		return err
	}
	api := httpapi.New(svc, &httpapi.Options{Clients: clients, TokenKey: tokenKey, Logger: logger,
		Telemetry: &httpapi.Telemetry{TracerProvider: tel.tp, MeterProvider: tel.mp}})
	kyc, err := newKYC(svc, cfg, tokenKey, logger)
	if err != nil {
		return err
	}

	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("/", api) // /v3/…, /api/v3/…, and problem+json 404s elsewhere
	if bo != nil {
		mux.Handle("/backoffice/", bo)
	}
	// The hosted KYC wizard (package kycapp).
	mux.Handle("/kyc/", kyc)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":"shutting_down"}`+"\n")
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz(db, &draining))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // a 10 MiB upload on a slow link
		WriteTimeout:      5*time.Minute + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := svc.Run(workCtx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("workers stopped", "error", err)
		}
	}()
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "onboarding server listening on http://%s (API under /v3 and /api/v3)\n", ln.Addr())
	if cfg.metricsAddr != "" {
		msrv, mln, err := metricsServer(cfg.metricsAddr, tel.metrics, logger)
		if err != nil {
			_ = srv.Close()
			stopWork()
			wg.Wait()
			return fmt.Errorf("-metrics-addr: %w", err)
		}
		defer msrv.Close()
		go func() {
			if err := msrv.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", mln.Addr())
	}

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		draining.Store(true)
		logger.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopWork()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
