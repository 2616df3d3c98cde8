package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/backoffice"
	"github.com/onboardkit/onboarding/sandbox"
)

// backofficeConfig holds the flags of the back office and of who reviews KYC items.
type backofficeConfig struct {
	reviewer        string
	operators       string
	oidcIssuer      string
	oidcClientID    string
	oidcSecret      string
	oidcRedirect    string
	oidcRoleClaim   string
	proxyTrusted    string
	proxyUser       string
	proxyRole       string
	insecureCookies bool
}

// addBackofficeFlags registers the back office's flags on fs, with env's variables as
// their defaults.
func addBackofficeFlags(fs *flag.FlagSet, c *backofficeConfig, env func(name, def string) string) {
	fs.StringVar(&c.reviewer, "reviewer", env("ONBOARDING_REVIEWER", ""), "who reviews KYC items: sandbox (the sandbox reviewer and biometrics) or manual (every item waits for an operator of the back office); default sandbox with -sandbox, else manual (ONBOARDING_REVIEWER)")
	fs.StringVar(&c.operators, "operators", env("ONBOARDING_OPERATORS", ""), "back-office accounts name:password:role[,…], role viewer, reviewer or admin (ONBOARDING_OPERATORS)")
	fs.StringVar(&c.oidcIssuer, "oidc-issuer", env("ONBOARDING_OIDC_ISSUER", ""), "back office: OpenID Connect issuer URL (ONBOARDING_OIDC_ISSUER)")
	fs.StringVar(&c.oidcClientID, "oidc-client-id", env("ONBOARDING_OIDC_CLIENT_ID", ""), "back office: OpenID Connect client ID (ONBOARDING_OIDC_CLIENT_ID)")
	fs.StringVar(&c.oidcSecret, "oidc-client-secret", env("ONBOARDING_OIDC_CLIENT_SECRET", ""), "back office: OpenID Connect client secret (ONBOARDING_OIDC_CLIENT_SECRET)")
	fs.StringVar(&c.oidcRedirect, "oidc-redirect-url", env("ONBOARDING_OIDC_REDIRECT_URL", ""), "back office: https://…/backoffice/login/callback as registered at the provider (ONBOARDING_OIDC_REDIRECT_URL)")
	fs.StringVar(&c.oidcRoleClaim, "oidc-role-claim", env("ONBOARDING_OIDC_ROLE_CLAIM", "roles"), "back office: ID token claim holding viewer, reviewer or admin (ONBOARDING_OIDC_ROLE_CLAIM)")
	fs.StringVar(&c.proxyTrusted, "proxy-trusted", env("ONBOARDING_PROXY_TRUSTED", ""), "back office: addresses or CIDRs of an authenticating proxy whose headers name the operator (ONBOARDING_PROXY_TRUSTED)")
	fs.StringVar(&c.proxyUser, "proxy-user-header", env("ONBOARDING_PROXY_USER_HEADER", "X-Forwarded-User"), "back office: the proxy's header naming the operator (ONBOARDING_PROXY_USER_HEADER)")
	fs.StringVar(&c.proxyRole, "proxy-role-header", env("ONBOARDING_PROXY_ROLE_HEADER", "X-Forwarded-Role"), "back office: the proxy's header giving the role (ONBOARDING_PROXY_ROLE_HEADER)")
	fs.BoolVar(&c.insecureCookies, "backoffice-insecure-cookies", env("ONBOARDING_BACKOFFICE_INSECURE_COOKIES", "") == "true", "back office: session cookies without Secure, for plain HTTP on a developer's machine; implied by -sandbox (ONBOARDING_BACKOFFICE_INSECURE_COOKIES)")
}

// reviewMode resolves -reviewer.
func reviewMode(c *backofficeConfig, sandboxMode bool) (string, error) {
	switch c.reviewer {
	case "":
		if sandboxMode {
			return "sandbox", nil
		}
		return "manual", nil
	case "sandbox", "manual":
		return c.reviewer, nil
	}
	return "", fmt.Errorf("-reviewer: want sandbox or manual, not %q", c.reviewer)
}

// applyReviewer sets the review plugins of mode: with manual there are none, so every
// item (the selfie included) waits for an operator.
func applyReviewer(opts *onboarding.Options, mode string) {
	opts.Reviewer, opts.Biometrics = nil, nil
	if mode == "sandbox" {
		opts.Reviewer, opts.Biometrics = sandbox.Reviewer{}, sandbox.Biometrics{}
	}
}

// parseOperators reads name:password:role triples.
func parseOperators(s string) (*backoffice.LocalAccounts, int, error) {
	accounts := backoffice.NewLocalAccounts(nil)
	n := 0
	seen := map[string]bool{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, rest, ok1 := strings.Cut(entry, ":")
		i := strings.LastIndexByte(rest, ':')
		if !ok1 || i < 0 {
			return nil, 0, errors.New("-operators: each operator is name:password:role")
		}
		password, roleName := rest[:i], rest[i+1:]
		role, err := backoffice.ParseRole(roleName)
		if err != nil {
			return nil, 0, fmt.Errorf("-operators: %q: %w", name, err)
		}
		if seen[name] {
			return nil, 0, fmt.Errorf("-operators: %q appears twice", name)
		}
		seen[name] = true
		if err := accounts.Add(name, password, role); err != nil {
			return nil, 0, fmt.Errorf("-operators: %w", err)
		}
		n++
	}
	return accounts, n, nil
}

// newBackoffice builds the back office from its flags, or returns nil when no way to
// authenticate operators is configured.
func newBackoffice(ctx context.Context, c *backofficeConfig, svc *onboarding.Service, sandboxMode bool, logger *slog.Logger) (http.Handler, error) {
	var auths []backoffice.Authenticator
	var names []string
	if c.operators != "" {
		local, n, err := parseOperators(c.operators)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			auths, names = append(auths, local), append(names, "-operators")
		}
	}
	if c.oidcIssuer != "" {
		o, err := backoffice.NewOIDC(ctx, backoffice.OIDCOptions{Issuer: c.oidcIssuer, ClientID: c.oidcClientID,
			ClientSecret: c.oidcSecret, RedirectURL: c.oidcRedirect, RoleClaim: c.oidcRoleClaim})
		if err != nil {
			return nil, err
		}
		auths, names = append(auths, o), append(names, "-oidc-issuer")
	}
	if c.proxyTrusted != "" {
		prefixes, err := backoffice.ParsePrefixes(c.proxyTrusted)
		if err != nil {
			return nil, fmt.Errorf("-proxy-trusted: %w", err)
		}
		p, err := backoffice.NewTrustedProxy(backoffice.ProxyOptions{Trusted: prefixes, NameHeader: c.proxyUser, RoleHeader: c.proxyRole})
		if err != nil {
			return nil, err
		}
		auths, names = append(auths, p), append(names, "-proxy-trusted")
	}
	switch len(auths) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("the back office takes one way to authenticate operators, not %s", strings.Join(names, " and "))
	}
	return backoffice.New(svc, &backoffice.Options{Authenticator: auths[0], Logger: logger,
		InsecureCookies: c.insecureCookies || sandboxMode})
}
