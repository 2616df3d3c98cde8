package taxid_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/taxid"
)

func TestParseCNPJValid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		input     string
		want      taxid.CNPJ
		wantAlnum bool
	}{
		{"alphanumeric formatted (Receita Federal example)", "12.ABC.345/01DE-35", "12ABC34501DE35", true},
		{"alphanumeric bare", "12ABC34501DE35", "12ABC34501DE35", true},
		{"alphanumeric lower case", "12.abc.345/01de-35", "12ABC34501DE35", true},
		{"alphanumeric mixed case bare", "12aBc34501dE35", "12ABC34501DE35", true},
		{"numeric formatted", "11.222.333/0001-81", "11222333000181", false},
		{"numeric bare", "11222333000181", "11222333000181", false},
		{"numeric partially formatted", "11222333/0001-81", "11222333000181", false},
		{"surrounding white space", " \t11.222.333/0001-81\n", "11222333000181", false},
		{"leading zeros", "00.000.000/0001-91", "00000000000191", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := taxid.ParseCNPJ(tt.input)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, string(tt.want), got.Bare())
			assert.Equal(t, tt.wantAlnum, got.IsAlphanumeric())
			assert.True(t, refValidCNPJ(got.Bare()))
		})
	}
}

func TestParseCNPJInvalid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		input   string
		wantMsg string
	}{
		{"empty", "", "empty input"},
		{"only spaces", "   ", "empty input"},
		{"too short", "11.222.333/0001-8", "must have 14 characters, got 13"},
		{"too long", "11.222.333/0001-811", "must have 14 characters, got 15"},
		{"CPF given", "123.456.789-09", "must have 14 characters, got 11"},
		{"wrong first check digit", "11.222.333/0001-91", "check digits do not match"},
		{"wrong second check digit", "11.222.333/0001-82", "check digits do not match"},
		{"alphanumeric wrong check digit", "12.ABC.345/01DE-36", "check digits do not match"},
		{"alphanumeric changed letter", "12.ABD.345/01DE-35", "check digits do not match"},
		{"all zeros", "00.000.000/0000-00", "all digits are the same"},
		{"all ones", "11111111111111", "all digits are the same"},
		{"letter in first check digit", "12.ABC.345/01DE-A5", "check digits must be numeric"},
		{"letters in check digits", "12ABC34501DEab", "check digits must be numeric"},
		{"inner space", "12.ABC.345/01DE 35", "invalid character ' ' at position 16"},
		{"stray character", "11.2x", "must have 14 characters, got 4"},
		{"underscore", "12_ABC", "invalid character '_' at position 3"},
		{"accented letter", "12.ÁBC.345/01DE-35", "invalid character 'Á' at position 4"},
		{"greek letter", "12.ΑBC.345/01DE-35", "invalid character 'Α' at position 4"},
		{"full-width letter", "12.ＡBC.345/01DE-35", "invalid character 'Ａ' at position 4"},
		{"invalid UTF-8", "\xc312ABC34501DE35", "invalid character '�' at position 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := taxid.ParseCNPJ(tt.input)
			require.Error(t, err)
			assert.Empty(t, got)
			require.ErrorIs(t, err, taxid.ErrInvalidCNPJ)
			assert.NotErrorIs(t, err, taxid.ErrInvalidCPF)
			var terr *taxid.Error
			require.ErrorAs(t, err, &terr)
			assert.Equal(t, tt.wantMsg, terr.Reason)
			assert.Equal(t, "taxid: invalid CNPJ: "+tt.wantMsg, err.Error())
		})
	}
}

func TestCNPJFormatting(t *testing.T) {
	t.Parallel()

	c, err := taxid.ParseCNPJ("12abc34501de35")
	require.NoError(t, err)
	assert.Equal(t, "12.ABC.345/01DE-35", c.String())
	assert.Equal(t, "12ABC34501DE35", c.Bare())
	assert.True(t, c.IsAlphanumeric())

	c, err = taxid.ParseCNPJ("11222333000181")
	require.NoError(t, err)
	assert.Equal(t, "11.222.333/0001-81", c.String())
	assert.False(t, c.IsAlphanumeric())

	var zero taxid.CNPJ
	assert.Empty(t, zero.String())
	assert.False(t, zero.IsAlphanumeric())
	assert.Equal(t, "123", taxid.CNPJ("123").String())
}

func TestErrorWithoutKind(t *testing.T) {
	t.Parallel()

	err := &taxid.Error{Reason: "something"}
	assert.Equal(t, "taxid: invalid tax ID: something", err.Error())
	assert.NoError(t, err.Unwrap())
}
