package backoffice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// Role is what an operator may do. Each role may do what the roles before it may.
type Role string

// The roles.
const (
	// RoleViewer reads: the queue, customers, their documents and history, operations.
	RoleViewer Role = "viewer"
	// RoleReviewer also decides KYC items (approve, reject).
	RoleReviewer Role = "reviewer"
	// RoleAdmin also denies customers, replays jobs and deliveries, recovers webhook
	// endpoints, unlocks operators' accounts and reads the audit log.
	RoleAdmin Role = "admin"
)

// ParseRole accepts the three role names, case-insensitively.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleViewer, RoleReviewer, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("backoffice: unknown role %q (want viewer, reviewer or admin)", s)
}

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleReviewer:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Can reports whether r may do what needs the role min.
func (r Role) Can(min Role) bool { return r.rank() > 0 && r.rank() >= min.rank() }

// Operator is a person using the back office.
type Operator struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// Actor is the operator's name in histories and the audit log: "operator:<name>".
func (o *Operator) Actor() string { return "operator:" + o.Name }

// maxOperatorName bounds an operator's name (it goes into actors).
const maxOperatorName = 100

// checkOperatorName refuses names that would make odd actors: empty, too long, with
// control characters, spaces or colons.
func checkOperatorName(name string) error {
	if name == "" || len(name) > maxOperatorName {
		return fmt.Errorf("backoffice: an operator name has 1 to %d bytes", maxOperatorName)
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == ':' || r == ',' }) >= 0 {
		return fmt.Errorf("backoffice: operator name %q has spaces, control characters, ':' or ','", name)
	}
	return nil
}

// Authenticator establishes who an operator is. The package has three: LocalAccounts
// (username and password), OIDC (an OpenID Connect provider) and TrustedProxy (a header
// set by an authenticating proxy).
type Authenticator interface {
	// Identify returns the operator a request proves on its own, such as a trusted
	// proxy's header, or nil, nil when it proves nothing by itself: the session cookie
	// then decides. An error refuses the request (403).
	Identify(r *http.Request) (*Operator, error)
	// ServeLogin handles the login routes: GET and POST /backoffice/login and GET
	// /backoffice/login/callback. When it returns an operator, the handler opens a session
	// for them and answers. Otherwise ServeLogin has written the response (a form, a
	// redirect to an identity provider, an error), and a *LoginFailure it returns is
	// written to the audit log.
	ServeLogin(w http.ResponseWriter, r *http.Request, ui LoginUI) (*Operator, error)
}

// LoginUI is what the handler lends an Authenticator to answer on the login routes.
type LoginUI interface {
	// Form writes the username and password form, with a message if not empty.
	Form(w http.ResponseWriter, r *http.Request, status int, message string)
	// Error writes an error page.
	Error(w http.ResponseWriter, r *http.Request, status int, message string)
	// SecureCookies says whether cookies must be Secure (see Options.InsecureCookies).
	SecureCookies() bool
}

// LoginFailure is a failed login, recorded in the audit log with the name tried.
type LoginFailure struct {
	// Username is the name tried, or the identity provider's subject; may be empty.
	Username string
	// Reason says why, for the audit log (never shown to the person logging in).
	Reason string
}

func (e *LoginFailure) Error() string { return "backoffice: login failed: " + e.Reason }

// ErrUntrustedProxy is returned by TrustedProxy.Identify for a request carrying the
// identity header from an address that is not a trusted proxy.
var ErrUntrustedProxy = errors.New("backoffice: identity header from an untrusted address")

// operatorKey carries the operator of a request.
type operatorKey struct{}

// OperatorFrom returns the operator a request handled by the back office was made by, or
// nil.
func OperatorFrom(ctx context.Context) *Operator {
	op, _ := ctx.Value(operatorKey{}).(*Operator)
	return op
}
