package taxid_test

import (
	"errors"
	"fmt"

	"github.com/onboardkit/onboarding/taxid"
)

func ExampleParseCPF() {
	cpf, err := taxid.ParseCPF(" 123.456.789-09 ")
	if err != nil {
		panic(err)
	}
	fmt.Println(cpf)
	fmt.Println(cpf.Bare())
	fmt.Println(cpf.Masked())

	_, err = taxid.ParseCPF("123.456.789-00")
	fmt.Println(err)
	fmt.Println(errors.Is(err, taxid.ErrInvalidCPF))

	_, err = taxid.ParseCPF("1234567890")
	fmt.Println(err)
	// Output:
	// 123.456.789-09
	// 12345678909
	// ***.456.789-**
	// taxid: invalid CPF: check digits do not match
	// true
	// taxid: invalid CPF: must have 11 digits, got 10
}

func ExampleParseCNPJ() {
	cnpj, err := taxid.ParseCNPJ("12.abc.345/01de-35")
	if err != nil {
		panic(err)
	}
	fmt.Println(cnpj, cnpj.Bare(), cnpj.IsAlphanumeric())

	cnpj, err = taxid.ParseCNPJ("11222333000181")
	if err != nil {
		panic(err)
	}
	fmt.Println(cnpj, cnpj.Bare(), cnpj.IsAlphanumeric())

	_, err = taxid.ParseCNPJ("12.ABC.345/01DE-3X")
	fmt.Println(err)
	_, err = taxid.ParseCNPJ("12.ABC.345/01DE 35")
	fmt.Println(err)
	// Output:
	// 12.ABC.345/01DE-35 12ABC34501DE35 true
	// 11.222.333/0001-81 11222333000181 false
	// taxid: invalid CNPJ: check digits must be numeric
	// taxid: invalid CNPJ: invalid character ' ' at position 16
}
