package backoffice

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxy takes the operator from headers set by an authenticating proxy in front
// of the back office (oauth2-proxy, an identity-aware load balancer), and only from
// requests whose peer address is one of the proxy's: anyone else could set the header
// too. Requests carry the identity each time: there is no session, login or logout.
type TrustedProxy struct {
	nameHeader  string
	roleHeader  string
	defaultRole Role
	trusted     []netip.Prefix
}

// ProxyOptions configures a TrustedProxy.
type ProxyOptions struct {
	// Trusted are the proxy's addresses (a bare address is a /32 or /128). Required.
	Trusted []netip.Prefix
	// NameHeader holds the operator's name. Default "X-Forwarded-User".
	NameHeader string
	// RoleHeader holds the operator's role (viewer, reviewer, admin; the highest of a
	// comma-separated list). Default "X-Forwarded-Role".
	RoleHeader string
	// DefaultRole is the role of an operator whose request has no role header. Empty:
	// such a request is refused.
	DefaultRole Role
}

// NewTrustedProxy returns a TrustedProxy.
func NewTrustedProxy(opts ProxyOptions) (*TrustedProxy, error) {
	if len(opts.Trusted) == 0 {
		return nil, errors.New("backoffice: a TrustedProxy needs the proxy's addresses")
	}
	p := &TrustedProxy{nameHeader: opts.NameHeader, roleHeader: opts.RoleHeader, defaultRole: opts.DefaultRole}
	if p.nameHeader == "" {
		p.nameHeader = "X-Forwarded-User"
	}
	if p.roleHeader == "" {
		p.roleHeader = "X-Forwarded-Role"
	}
	if p.defaultRole != "" {
		if _, err := ParseRole(string(p.defaultRole)); err != nil {
			return nil, err
		}
	}
	for _, pr := range opts.Trusted {
		if !pr.IsValid() {
			return nil, errors.New("backoffice: an invalid trusted prefix")
		}
		p.trusted = append(p.trusted, pr.Masked())
	}
	return p, nil
}

// ParsePrefixes reads a comma-separated list of addresses and CIDR prefixes.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("backoffice: %w", err)
			}
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("backoffice: %w", err)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (p *TrustedProxy) fromProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, pr := range p.trusted {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// Identify implements Authenticator: the operator named by the headers of a request from
// a trusted address. The headers from any other address are refused (ErrUntrustedProxy);
// a trusted request without a name proves nothing.
func (p *TrustedProxy) Identify(r *http.Request) (*Operator, error) {
	name := strings.TrimSpace(r.Header.Get(p.nameHeader))
	if !p.fromProxy(r) {
		if name != "" || r.Header.Get(p.roleHeader) != "" {
			return nil, ErrUntrustedProxy
		}
		return nil, nil
	}
	if name == "" {
		return nil, nil
	}
	if err := checkOperatorName(name); err != nil {
		return nil, err
	}
	role := p.defaultRole
	if v := r.Header.Get(p.roleHeader); v != "" {
		role = highestRole(strings.Split(v, ","), nil)
	}
	if role == "" {
		return nil, fmt.Errorf("backoffice: the proxy gave %q no back-office role", name)
	}
	return &Operator{Name: name, Role: role}, nil
}

// ServeLogin implements Authenticator: logging in is the proxy's business.
func (p *TrustedProxy) ServeLogin(w http.ResponseWriter, r *http.Request, ui LoginUI) (*Operator, error) {
	ui.Error(w, r, http.StatusUnauthorized, "Sign in through the single sign-on proxy in front of this console.")
	return nil, nil
}

// highestRole returns the highest role among values, each a role name or, with roles
// set, a key of roles. Empty when none is.
func highestRole(values []string, roles map[string]Role) Role {
	var best Role
	for _, v := range values {
		v = strings.TrimSpace(v)
		var r Role
		if roles != nil {
			r = roles[v]
		} else if parsed, err := ParseRole(v); err == nil {
			r = parsed
		}
		if r.rank() > best.rank() {
			best = r
		}
	}
	return best
}
