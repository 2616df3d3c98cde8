package money_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/money"
)

func TestMoney(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"50000": "50000.00", "50000.5": "50000.50", "0.01": "0.01", "1234567.89": "1234567.89"} {
		m, err := money.Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, m.String())
		raw, _ := json.Marshal(m)
		assert.Equal(t, `"`+want+`"`, string(raw))
		var back money.Money
		require.NoError(t, json.Unmarshal(raw, &back))
		assert.Equal(t, m, back)
	}
	for _, bad := range []string{"", "-1", "1.234", "1,00", "abc", "1e5", ".5", "5.", "9999999999999999", "1%"} {
		_, err := money.Parse(bad)
		assert.ErrorIs(t, err, money.ErrSyntax, bad)
	}
	assert.Equal(t, money.Money(5_000_000), money.Reais(50000))
	assert.Equal(t, int64(5_000_000), money.Reais(50000).Cents())
	assert.Equal(t, "-0.05", money.Money(-5).String())
	var m money.Money
	assert.ErrorIs(t, json.Unmarshal([]byte(`12.5`), &m), money.ErrSyntax, "a number is not an amount on this wire")
}

func TestRate(t *testing.T) {
	t.Parallel()

	t.Run("parse", func(t *testing.T) {
		t.Parallel()
		for in, want := range map[string]money.Rate{
			"3.5": 35000, "3.50": 35000, "1.99": 19900, "0": 0, "0.0001": 1, "100": 1_000_000,
			" 4.99% ": 49900, "12.3456": 123456, "2%": 2 * money.Percent,
		} {
			got, err := money.ParseRate(in)
			require.NoError(t, err, in)
			assert.Equal(t, want, got, in)
		}
		for _, in := range []string{"", "%", "-1", "+1", "1.", ".5", "1.23456", "1,5", "abc", "1234567", "1e2"} {
			_, err := money.ParseRate(in)
			assert.ErrorIs(t, err, money.ErrSyntax, in)
		}
	})

	t.Run("string", func(t *testing.T) {
		t.Parallel()
		for r, want := range map[money.Rate]string{
			35000: "3.5", 19900: "1.99", 0: "0", 1: "0.0001", 10_000: "1", -5000: "-0.5",
			2 * money.Percent: "2", 250 * money.BasisPoint: "2.5",
		} {
			assert.Equal(t, want, r.String())
		}
	})

	t.Run("json and text", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(struct{ R money.Rate }{35000})
		require.NoError(t, err)
		assert.JSONEq(t, `{"R":3.5}`, string(b))
		var v struct{ R money.Rate }
		require.NoError(t, json.Unmarshal([]byte(`{"R":"4.99"}`), &v))
		assert.Equal(t, money.Rate(49900), v.R)
		require.NoError(t, json.Unmarshal([]byte(`{"R":1.99}`), &v))
		assert.Equal(t, money.Rate(19900), v.R)
		txt, err := money.Rate(19900).MarshalText()
		require.NoError(t, err)
		assert.Equal(t, "1.99", string(txt))
		var r money.Rate
		require.NoError(t, r.UnmarshalText([]byte("2.5")))
		assert.Equal(t, money.Rate(25000), r)
		assert.Error(t, r.UnmarshalText([]byte("x")))
		assert.Equal(t, money.Rate(25000), r, "a failed decode leaves the value alone")
	})
}

// FuzzParse checks that whatever parses prints back to a string that parses to the same
// value, and that nothing panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"50000", "0.01", "1.5", "3.5%", "", "9999999999999999", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := money.Parse(s); err == nil {
			back, err := money.Parse(m.String())
			if err != nil || back != m {
				t.Fatalf("Parse(%q) = %v, but %q parses to %v, %v", s, m, m.String(), back, err)
			}
		} else if !errors.Is(err, money.ErrSyntax) {
			t.Fatalf("Parse(%q): %v does not match ErrSyntax", s, err)
		}
		if r, err := money.ParseRate(s); err == nil {
			back, err := money.ParseRate(r.String())
			if err != nil || back != r {
				t.Fatalf("ParseRate(%q) = %v, but %q parses to %v, %v", s, r, r.String(), back, err)
			}
		}
	})
}
