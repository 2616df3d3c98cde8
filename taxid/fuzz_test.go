package taxid_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/onboardkit/onboarding/taxid"
)

// maxErrLen bounds error messages: they name at most one character and a
// position, never the input.
const maxErrLen = 100

// checkParseError verifies the shape of an error returned by a parser.
func checkParseError(t *testing.T, err error, kind error, prefix string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v does not wrap %v", err, kind)
	}
	var terr *taxid.Error
	if !errors.As(err, &terr) {
		t.Fatalf("error %v is not a *taxid.Error", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) || len(msg) > maxErrLen {
		t.Fatalf("bad error message %q", msg)
	}
}

func FuzzParseCPF(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		c, err := taxid.ParseCPF(s)
		if err != nil {
			checkParseError(t, err, taxid.ErrInvalidCPF, "taxid: invalid CPF: ")
			if c != "" {
				t.Fatalf("non-zero CPF %q with error", c)
			}
			return
		}
		if len(c.Bare()) != 11 || len(c.String()) != 14 || len(c.Masked()) != 14 {
			t.Fatalf("bad lengths: %q %q %q", c.Bare(), c.String(), c.Masked())
		}
		for _, in := range []string{c.String(), c.Bare()} {
			got, err := taxid.ParseCPF(in)
			if err != nil || got != c {
				t.Fatalf("ParseCPF(%q) = %q, %v; want %q", in, got, err, c)
			}
		}
		if want := "***." + c.Bare()[3:6] + "." + c.Bare()[6:9] + "-**"; c.Masked() != want {
			t.Fatalf("Masked() = %q, want %q", c.Masked(), want)
		}
	})
}

func FuzzParseCNPJ(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		c, err := taxid.ParseCNPJ(s)
		if err != nil {
			checkParseError(t, err, taxid.ErrInvalidCNPJ, "taxid: invalid CNPJ: ")
			if c != "" {
				t.Fatalf("non-zero CNPJ %q with error", c)
			}
			return
		}
		if len(c.Bare()) != 14 || len(c.String()) != 18 {
			t.Fatalf("bad lengths: %q %q", c.Bare(), c.String())
		}
		if strings.ToUpper(c.Bare()) != c.Bare() {
			t.Fatalf("not upper case: %q", c)
		}
		for _, in := range []string{c.String(), c.Bare(), strings.ToLower(c.String())} {
			got, err := taxid.ParseCNPJ(in)
			if err != nil || got != c {
				t.Fatalf("ParseCNPJ(%q) = %q, %v; want %q", in, got, err, c)
			}
		}
	})
}
