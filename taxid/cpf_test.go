package taxid_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/taxid"
)

func TestParseCPFValid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		input string
		want  taxid.CPF
	}{
		{"formatted", "123.456.789-09", "12345678909"},
		{"bare", "12345678909", "12345678909"},
		{"only dash", "123456789-09", "12345678909"},
		{"only dots", "123.456.78909", "12345678909"},
		{"slashes", "123/456/789/09", "12345678909"},
		{"surrounding spaces", "  123.456.789-09  ", "12345678909"},
		{"tabs and newline", "\t12345678909\r\n", "12345678909"},
		{"no-break spaces", "\u00a0123.456.789-09\u00a0", "12345678909"},
		{"another valid", "529.982.247-25", "52998224725"},
		{"leading zeros", "000.000.001-91", "00000000191"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := taxid.ParseCPF(tt.input)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, string(tt.want), got.Bare())
			assert.True(t, refValidCPF(got.Bare()))
		})
	}
}

func TestParseCPFInvalid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		input   string
		wantMsg string
	}{
		{"empty", "", "empty input"},
		{"only spaces", " \t\n", "empty input"},
		{"only separators", ".-/", "must have 11 digits, got 0"},
		{"too short", "123.456.789-0", "must have 11 digits, got 10"},
		{"too long", "123.456.789-090", "must have 11 digits, got 12"},
		{"way too long", "123456789091234567890", "must have 11 digits, got 21"},
		{"wrong first check digit", "123.456.789-19", "check digits do not match"},
		{"wrong second check digit", "123.456.789-08", "check digits do not match"},
		{"swapped digits", "213.456.789-09", "check digits do not match"},
		{"all ones", "111.111.111-11", "all digits are the same"},
		{"all zeros", "00000000000", "all digits are the same"},
		{"all nines", "999.999.999-99", "all digits are the same"},
		{"letter in body", "12A.456.789-09", "invalid character 'A' at position 3"},
		{"lower-case letter", "123.x56.789-09", "invalid character 'x' at position 5"},
		{"letter in check digits", "123.456.789-0A", "invalid character 'A' at position 14"},
		{"inner spaces", "123 456 789 09", "invalid character ' ' at position 4"},
		{"inner space after trimming", "  123.456.789-09 9", "invalid character ' ' at position 17"},
		{"underscore", "123_456_789_09", "invalid character '_' at position 4"},
		{"plus sign", "+12345678909", "invalid character '+' at position 1"},
		{"comma", "123,456,789-09", "invalid character ',' at position 4"},
		{"full-width digits", "１２３.456.789-09", "invalid character '１' at position 1"},
		{"arabic-indic digit", "123.456.789-0٩", "invalid character '٩' at position 14"},
		{"accented letter", "é12345678909", "invalid character 'é' at position 1"},
		{"NUL byte", "12345678909\x00", "invalid character '\\x00' at position 12"},
		{"invalid UTF-8", "123\xff45678909", "invalid character '�' at position 4"},
		{"zero width space", "123\u200b45678909", "invalid character '\\u200b' at position 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := taxid.ParseCPF(tt.input)
			require.Error(t, err)
			assert.Empty(t, got)
			require.ErrorIs(t, err, taxid.ErrInvalidCPF)
			assert.NotErrorIs(t, err, taxid.ErrInvalidCNPJ)
			var terr *taxid.Error
			require.ErrorAs(t, err, &terr)
			assert.Equal(t, tt.wantMsg, terr.Reason)
			assert.Equal(t, "taxid: invalid CPF: "+tt.wantMsg, err.Error())
		})
	}
}

func TestCPFErrorDoesNotEchoInput(t *testing.T) {
	t.Parallel()

	for _, input := range []string{"123.456.789-08", "12345678908", "123456789080", "52998224725 1"} {
		_, err := taxid.ParseCPF(input)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), input)
		assert.NotContains(t, err.Error(), "456")
	}
}

func TestCPFFormatting(t *testing.T) {
	t.Parallel()

	c, err := taxid.ParseCPF("12345678909")
	require.NoError(t, err)
	assert.Equal(t, "123.456.789-09", c.String())
	assert.Equal(t, "12345678909", c.Bare())
	assert.Equal(t, "***.456.789-**", c.Masked())

	// Values not obtained from ParseCPF.
	var zero taxid.CPF
	assert.Empty(t, zero.String())
	assert.Empty(t, zero.Bare())
	assert.Empty(t, zero.Masked())
	assert.Equal(t, "123", taxid.CPF("123").String())
	assert.Equal(t, "***.***.***-**", taxid.CPF("123").Masked())
	assert.Equal(t, "***.***.***-**", taxid.CPF("123.456.789-09").Masked())
}
