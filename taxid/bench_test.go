package taxid_test

import (
	"testing"

	"github.com/onboardkit/onboarding/taxid"
)

var (
	sinkCPF  taxid.CPF
	sinkCNPJ taxid.CNPJ
	sinkErr  error
)

func BenchmarkParseCPF(b *testing.B) {
	for _, bm := range []struct{ name, input string }{
		{"formatted", "123.456.789-09"},
		{"bare", "12345678909"},
		{"invalid", "123.456.789-00"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkCPF, sinkErr = taxid.ParseCPF(bm.input)
			}
		})
	}
}

func BenchmarkParseCNPJ(b *testing.B) {
	for _, bm := range []struct{ name, input string }{
		{"formatted", "12.ABC.345/01DE-35"},
		{"bare", "12ABC34501DE35"},
		{"lower", "12abc34501de35"},
		{"numeric", "11.222.333/0001-81"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkCNPJ, sinkErr = taxid.ParseCNPJ(bm.input)
			}
		})
	}
}
