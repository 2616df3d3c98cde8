package taxid_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/taxid"
)

const propertyIterations = 2000

// requireMismatch asserts that err reports wrong check digits.
func requireMismatch(t *testing.T, err error, kind error) {
	t.Helper()
	require.ErrorIs(t, err, kind)
	var terr *taxid.Error
	require.ErrorAs(t, err, &terr)
	require.Equal(t, "check digits do not match", terr.Reason)
}

// otherDigits returns the nine ASCII digits other than c.
func otherDigits(c byte) []byte {
	var out []byte
	for d := byte('0'); d <= '9'; d++ {
		if d != c {
			out = append(out, d)
		}
	}
	return out
}

func TestCPFProperties(t *testing.T) {
	t.Parallel()

	r := rand.New(rand.NewPCG(1, 2))
	for range propertyIterations {
		c := taxid.GenerateCPF(r)
		bare := c.Bare()
		require.Len(t, bare, 11)
		require.True(t, refValidCPF(bare), bare)
		require.Len(t, c.String(), 14)

		for _, in := range []string{c.String(), bare, " " + c.String() + "\n"} {
			got, err := taxid.ParseCPF(in)
			require.NoError(t, err, in)
			require.Equal(t, c, got)
		}

		for _, pos := range []int{9, 10} {
			for _, d := range otherDigits(bare[pos]) {
				mutated := bare[:pos] + string(d) + bare[pos+1:]
				_, err := taxid.ParseCPF(mutated)
				requireMismatch(t, err, taxid.ErrInvalidCPF)
			}
		}
	}
}

func TestCNPJProperties(t *testing.T) {
	t.Parallel()

	for _, alnum := range []bool{false, true} {
		r := rand.New(rand.NewPCG(3, 4))
		for range propertyIterations {
			c := taxid.GenerateCNPJ(r, alnum)
			bare := c.Bare()
			require.Len(t, bare, 14)
			require.True(t, refValidCNPJ(bare), bare)
			require.Equal(t, alnum, c.IsAlphanumeric(), bare)
			require.Len(t, c.String(), 18)

			for _, in := range []string{c.String(), bare, strings.ToLower(c.String()), strings.ToLower(bare)} {
				got, err := taxid.ParseCNPJ(in)
				require.NoError(t, err, in)
				require.Equal(t, c, got)
			}

			for _, pos := range []int{12, 13} {
				for _, d := range otherDigits(bare[pos]) {
					mutated := bare[:pos] + string(d) + bare[pos+1:]
					_, err := taxid.ParseCNPJ(mutated)
					requireMismatch(t, err, taxid.ErrInvalidCNPJ)
				}
			}
		}
	}
}

// TestAlgorithmsAgainstReference checks ParseCPF and ParseCNPJ against the
// reference implementation on random, mostly invalid, inputs.
func TestAlgorithmsAgainstReference(t *testing.T) {
	t.Parallel()

	r := rand.New(rand.NewPCG(5, 6))
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	allSame := func(s string) bool { return strings.Count(s, s[:1]) == len(s) }
	for range 20 * propertyIterations {
		var b [14]byte
		for i := range b {
			if i < 12 {
				b[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[i] = byte('0' + r.IntN(10))
			}
		}
		cnpj := string(b[:])
		_, err := taxid.ParseCNPJ(cnpj)
		assert.Equal(t, refValidCNPJ(cnpj) && !allSame(cnpj), err == nil, cnpj)

		for i := range 11 {
			b[i] = byte('0' + r.IntN(10))
		}
		cpf := string(b[:11])
		_, err = taxid.ParseCPF(cpf)
		assert.Equal(t, refValidCPF(cpf) && !allSame(cpf), err == nil, cpf)
	}
}

func TestGenerateDeterministic(t *testing.T) {
	t.Parallel()

	r1 := rand.New(rand.NewPCG(7, 8))
	r2 := rand.New(rand.NewPCG(7, 8))
	for range 10 {
		assert.Equal(t, taxid.GenerateCPF(r1), taxid.GenerateCPF(r2))
		assert.Equal(t, taxid.GenerateCNPJ(r1, true), taxid.GenerateCNPJ(r2, true))
	}
}

func TestGenerateNilRand(t *testing.T) {
	t.Parallel()

	_, err := taxid.ParseCPF(taxid.GenerateCPF(nil).String())
	require.NoError(t, err)
	c := taxid.GenerateCNPJ(nil, true)
	require.True(t, c.IsAlphanumeric())
	_, err = taxid.ParseCNPJ(c.String())
	require.NoError(t, err)
	c = taxid.GenerateCNPJ(nil, false)
	require.False(t, c.IsAlphanumeric())
	_, err = taxid.ParseCNPJ(c.String())
	require.NoError(t, err)
}
