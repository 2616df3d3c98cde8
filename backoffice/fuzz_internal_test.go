package backoffice

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseHash: whatever a configuration holds, parsing never panics, and what parses
// stays within the bounds that keep a login cheap (memory, passes, key length).
func FuzzParseHash(f *testing.F) {
	good, err := HashPassword("secret")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", "$argon2id$", "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=4194305,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "$bcrypt$..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHash(s)
		if err != nil {
			return
		}
		if h.memory > 1<<22 || h.time < 1 || h.time > 16 || h.threads < 1 || len(h.salt) < 8 || len(h.key) < 16 || len(h.key) > 64 {
			t.Fatalf("%q parsed out of bounds: %+v", s, h)
		}
	})
}

// FuzzParsePrefixes: a trusted-proxy list either parses into prefixes that print back as
// themselves, or is refused; it never panics.
func FuzzParsePrefixes(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "10.0.0.0/8, ::1", "", ",,", "fe80::1%eth0", "300.1.1.1", "1.2.3.4/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParsePrefixes(s)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() {
				t.Fatalf("%q gave an invalid prefix", s)
			}
			back, err := netip.ParsePrefix(p.String())
			if err != nil || back != p {
				t.Fatalf("%q: %s does not round-trip: %v", s, p, err)
			}
		}
		if strings.TrimSpace(strings.ReplaceAll(s, ",", "")) == "" && len(ps) != 0 {
			t.Fatalf("%q: prefixes from nothing", s)
		}
	})
}
