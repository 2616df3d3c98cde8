package taxid

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
)

// Reasons shared by both kinds of tax ID.
const (
	reasonEmpty    = "empty input"
	reasonSame     = "all digits are the same"
	reasonMismatch = "check digits do not match"
)

// normalize copies the significant characters of s into buf, upper-casing
// letters when letters is true. It trims surrounding white space, skips the
// separators '.', '-' and '/', and rejects any other character. It fails
// unless s holds exactly len(buf) significant characters; unit names them in
// the error ("digits", "characters").
func normalize(kind error, s string, buf []byte, letters bool, unit string) error {
	trimmed := strings.TrimSpace(s)
	if trimmed == "" {
		return newError(kind, reasonEmpty)
	}
	start := len(s) - len(strings.TrimLeftFunc(s, unicode.IsSpace))
	end := start + len(trimmed)
	n, pos := 0, 0
	for i, r := range s {
		pos++
		if i < start {
			continue
		}
		if i >= end {
			break
		}
		switch {
		case r >= '0' && r <= '9':
		case letters && r >= 'A' && r <= 'Z':
		case letters && r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r == '.' || r == '-' || r == '/':
			continue
		default:
			return newError(kind, fmt.Sprintf("invalid character %q at position %d", r, pos))
		}
		if n < len(buf) {
			buf[n] = byte(r)
		}
		n++
	}
	if n != len(buf) {
		return newError(kind, fmt.Sprintf("must have %d %s, got %d", len(buf), unit, n))
	}
	return nil
}

// allSame reports whether every byte of b equals the first one.
func allSame(b []byte) bool {
	for _, c := range b[1:] {
		if c != b[0] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// mod11 turns a weighted sum into a check digit character.
func mod11(sum int) byte {
	r := sum % 11
	if r < 2 {
		return '0'
	}
	return byte('0' + 11 - r)
}

// intN returns a random int in [0, n) from r, or from the global generator
// if r is nil.
func intN(r *rand.Rand, n int) int {
	if r == nil {
		return rand.IntN(n)
	}
	return r.IntN(n)
}
