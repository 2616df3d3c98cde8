package taxid_test

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"encoding"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/taxid"
)

var (
	_ encoding.TextMarshaler   = taxid.CPF("")
	_ encoding.TextUnmarshaler = (*taxid.CPF)(nil)
	_ driver.Valuer            = taxid.CPF("")
	_ sql.Scanner              = (*taxid.CPF)(nil)
	_ slog.LogValuer           = taxid.CPF("")
	_ encoding.TextMarshaler   = taxid.CNPJ("")
	_ encoding.TextUnmarshaler = (*taxid.CNPJ)(nil)
	_ driver.Valuer            = taxid.CNPJ("")
	_ sql.Scanner              = (*taxid.CNPJ)(nil)
)

type account struct {
	CPF  taxid.CPF  `json:"cpf"`
	CNPJ taxid.CNPJ `json:"cnpj"`
}

func TestJSON(t *testing.T) {
	t.Parallel()

	t.Run("marshal formatted", func(t *testing.T) {
		t.Parallel()
		out, err := json.Marshal(account{CPF: "12345678909", CNPJ: "12ABC34501DE35"})
		require.NoError(t, err)
		assert.JSONEq(t, `{"cpf":"123.456.789-09","cnpj":"12.ABC.345/01DE-35"}`, string(out))
	})

	t.Run("marshal zero", func(t *testing.T) {
		t.Parallel()
		out, err := json.Marshal(account{})
		require.NoError(t, err)
		assert.JSONEq(t, `{"cpf":"","cnpj":""}`, string(out))
	})

	t.Run("marshal invalid value fails", func(t *testing.T) {
		t.Parallel()
		_, err := json.Marshal(account{CPF: "12345678900"})
		require.ErrorIs(t, err, taxid.ErrInvalidCPF)
		_, err = json.Marshal(account{CNPJ: "12ABC34501DE36"})
		require.ErrorIs(t, err, taxid.ErrInvalidCNPJ)
	})

	t.Run("unmarshal any form", func(t *testing.T) {
		t.Parallel()
		var a account
		require.NoError(t, json.Unmarshal([]byte(`{"cpf":"12345678909","cnpj":"12.abc.345/01de-35"}`), &a))
		assert.Equal(t, account{CPF: "12345678909", CNPJ: "12ABC34501DE35"}, a)
	})

	t.Run("unmarshal empty", func(t *testing.T) {
		t.Parallel()
		a := account{CPF: "12345678909", CNPJ: "11222333000181"}
		require.NoError(t, json.Unmarshal([]byte(`{"cpf":"","cnpj":""}`), &a))
		assert.Equal(t, account{}, a)
	})

	t.Run("unmarshal invalid", func(t *testing.T) {
		t.Parallel()
		var a account
		err := json.Unmarshal([]byte(`{"cpf":"123.456.789-00"}`), &a)
		require.ErrorIs(t, err, taxid.ErrInvalidCPF)
		assert.NotContains(t, err.Error(), "456")
		err = json.Unmarshal([]byte(`{"cnpj":"12.ABC.345/01DE-3X"}`), &a)
		require.ErrorIs(t, err, taxid.ErrInvalidCNPJ)
	})

	t.Run("map keys", func(t *testing.T) {
		t.Parallel()
		// encoding/json encodes keys of string kind directly, bypassing
		// MarshalText (bare form), but decodes them with UnmarshalText.
		out, err := json.Marshal(map[taxid.CNPJ]int{"11222333000181": 1})
		require.NoError(t, err)
		assert.JSONEq(t, `{"11222333000181":1}`, string(out))
		var m map[taxid.CNPJ]int
		require.NoError(t, json.Unmarshal([]byte(`{"11.222.333/0001-81":1}`), &m))
		assert.Equal(t, map[taxid.CNPJ]int{"11222333000181": 1}, m)
		require.ErrorIs(t, json.Unmarshal([]byte(`{"not a CNPJ":1}`), &m), taxid.ErrInvalidCNPJ)
	})
}

func TestUnmarshalTextLeavesValueOnError(t *testing.T) {
	t.Parallel()

	cpf := taxid.CPF("12345678909")
	require.Error(t, cpf.UnmarshalText([]byte("123")))
	assert.Equal(t, taxid.CPF("12345678909"), cpf)

	cnpj := taxid.CNPJ("11222333000181")
	require.Error(t, cnpj.UnmarshalText([]byte("123")))
	assert.Equal(t, taxid.CNPJ("11222333000181"), cnpj)
}

func TestSQLValue(t *testing.T) {
	t.Parallel()

	v, err := taxid.CPF("12345678909").Value()
	require.NoError(t, err)
	assert.Equal(t, "12345678909", v)
	v, err = taxid.CNPJ("12ABC34501DE35").Value()
	require.NoError(t, err)
	assert.Equal(t, "12ABC34501DE35", v)

	// Non-canonical values built by conversion are normalised.
	v, err = taxid.CNPJ("12.abc.345/01de-35").Value()
	require.NoError(t, err)
	assert.Equal(t, "12ABC34501DE35", v)

	v, err = taxid.CPF("").Value()
	require.NoError(t, err)
	assert.Nil(t, v)
	v, err = taxid.CNPJ("").Value()
	require.NoError(t, err)
	assert.Nil(t, v)

	_, err = taxid.CPF("12345678900").Value()
	require.ErrorIs(t, err, taxid.ErrInvalidCPF)
	_, err = taxid.CNPJ("11222333000180").Value()
	require.ErrorIs(t, err, taxid.ErrInvalidCNPJ)
}

func TestSQLScanCPF(t *testing.T) {
	t.Parallel()

	for _, src := range []any{"12345678909", []byte("12345678909"), "123.456.789-09"} {
		var c taxid.CPF
		require.NoError(t, c.Scan(src))
		assert.Equal(t, taxid.CPF("12345678909"), c)
	}

	for _, src := range []any{nil, "", []byte{}} {
		c := taxid.CPF("12345678909")
		require.NoError(t, c.Scan(src))
		assert.Empty(t, c)
	}

	c := taxid.CPF("12345678909")
	require.ErrorIs(t, c.Scan("12345678900"), taxid.ErrInvalidCPF)
	err := c.Scan(int64(12345678909))
	require.ErrorIs(t, err, taxid.ErrInvalidCPF)
	assert.EqualError(t, err, "taxid: invalid CPF: cannot scan value of type int64")
	assert.Equal(t, taxid.CPF("12345678909"), c)
}

func TestSQLScanCNPJ(t *testing.T) {
	t.Parallel()

	for _, src := range []any{"12ABC34501DE35", []byte("12abc34501de35"), "12.ABC.345/01DE-35"} {
		var c taxid.CNPJ
		require.NoError(t, c.Scan(src))
		assert.Equal(t, taxid.CNPJ("12ABC34501DE35"), c)
	}

	for _, src := range []any{nil, "", []byte{}} {
		c := taxid.CNPJ("11222333000181")
		require.NoError(t, c.Scan(src))
		assert.Empty(t, c)
	}

	c := taxid.CNPJ("11222333000181")
	require.ErrorIs(t, c.Scan("11222333000180"), taxid.ErrInvalidCNPJ)
	err := c.Scan(int64(11222333000181))
	require.ErrorIs(t, err, taxid.ErrInvalidCNPJ)
	assert.EqualError(t, err, "taxid: invalid CNPJ: cannot scan value of type int64")
	assert.Equal(t, taxid.CNPJ("11222333000181"), c)
}

func TestScanCopiesBytes(t *testing.T) {
	t.Parallel()

	buf := []byte("12345678909")
	var c taxid.CPF
	require.NoError(t, c.Scan(buf))
	copy(buf, "00000000000") // drivers reuse their buffers
	assert.Equal(t, taxid.CPF("12345678909"), c)
}

func TestSlogMasksCPF(t *testing.T) {
	t.Parallel()

	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	cpf := taxid.CPF("12345678909")
	logger.Info("signup", "cpf", cpf, slog.Any("owner", cpf))
	out := buf.String()
	assert.Contains(t, out, `"cpf":"***.456.789-**"`)
	assert.Contains(t, out, `"owner":"***.456.789-**"`)
	assert.NotContains(t, out, "12345678909")
	assert.NotContains(t, out, "123.456.789-09")
}
