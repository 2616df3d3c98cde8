// Package taxid parses, validates, formats and generates Brazilian tax IDs:
// the CPF (Cadastro de Pessoas Físicas, individuals) and the CNPJ (Cadastro
// Nacional da Pessoa Jurídica, legal entities), including the alphanumeric
// CNPJ introduced by IN RFB 2.229/2024.
//
// A [CPF] or [CNPJ] obtained from [ParseCPF] or [ParseCNPJ] always holds the
// bare, canonical form (11 digits, or 14 upper-case characters) of a number
// whose check digits are correct. The zero value (the empty string) means
// "no tax ID".
//
//	cpf, err := taxid.ParseCPF("123.456.789-09")
//	if err != nil {
//		return err // errors.Is(err, taxid.ErrInvalidCPF)
//	}
//	cpf.String() // "123.456.789-09"
//	cpf.Bare()   // "12345678909"
//	cpf.Masked() // "***.456.789-**"
//
// # Accepted input
//
// The parsers are lenient about punctuation and strict about everything else:
//
//   - Leading and trailing white space (as defined by [unicode.IsSpace], which
//     includes tabs, newlines and the no-break space U+00A0) is ignored.
//   - The separators '.', '-' and '/' are ignored wherever they appear, so the
//     formatted form ("123.456.789-09", "12.ABC.345/01DE-35"), the bare form
//     ("12345678909") and partially formatted forms ("123456789-09") are all
//     accepted. The check digits, not the punctuation, are what validates a
//     number.
//   - Every other character is an error, including white space inside the
//     number, other punctuation, and non-ASCII digits such as '１' (U+FF11).
//   - A CPF must have exactly 11 ASCII digits.
//   - A CNPJ must have exactly 14 characters: 12 in [0-9A-Z] followed by 2
//     numeric check digits. Lower-case letters are accepted and normalised to
//     upper case.
//   - Numbers whose digits are all the same (111.111.111-11,
//     00.000.000/0000-00) are rejected even though some of them pass the
//     check digit algorithm.
//
// # Check digits
//
// The CPF uses the usual modulo 11 algorithm: the first check digit weighs
// the 9 base digits with 10 down to 2, the second weighs the 9 base digits
// and the first check digit with 11 down to 2; a remainder r below 2 gives
// the digit 0, otherwise the digit is 11 - r.
//
// The CNPJ uses the algorithm of IN RFB 2.229/2024, which is backward
// compatible with the numeric CNPJ: each character is worth its ASCII code
// minus 48 ('0'..'9' are worth 0..9, 'A' is worth 17, 'Z' 42) and is weighed
// with 2..9, cycling, counting from the right (5,4,3,2,9,8,7,6,5,4,3,2 for the
// first check digit, 6,5,4,3,2,9,8,7,6,5,4,3,2 for the second); a remainder
// r below 2 gives 0, otherwise 11 - r. Alphanumeric CNPJs are issued since
// July 2026 and coexist with numeric ones; [CNPJ.IsAlphanumeric] tells them
// apart. Code and storage must therefore treat a CNPJ as text, never as a
// number.
//
// # Errors
//
// Parse failures are reported as an [*Error] whose Kind is [ErrInvalidCPF]
// or [ErrInvalidCNPJ], so callers can use [errors.Is]. The message explains
// the problem, for example:
//
//	taxid: invalid CPF: must have 11 digits, got 10
//	taxid: invalid CNPJ: invalid character 'x' at position 5
//	taxid: invalid CPF: check digits do not match
//	taxid: invalid CPF: all digits are the same
//
// Positions are 1-based and count characters (runes) of the original input,
// surrounding white space included. Error values never contain the input,
// since a CPF is personal data: at most one offending character and its
// position.
//
// # Encoding
//
// Both types implement [encoding.TextMarshaler] and
// [encoding.TextUnmarshaler], so encoding/json (and other text-based codecs)
// writes the formatted form ("123.456.789-09") and reads any accepted input
// form, validating it. They also implement [database/sql/driver.Valuer] and
// [database/sql.Scanner], storing the bare form ("12345678909"); use a text
// column (CHAR(11) / CHAR(14) or VARCHAR), never an integer column, which
// would drop leading zeros and cannot hold alphanumeric CNPJs.
//
// As map keys, encoding/json writes both types verbatim (the bare form),
// because their underlying type is string, but still validates them when
// decoding.
//
// The zero value is treated as absent: it marshals to "" and its Value is
// NULL, and unmarshalling "" or scanning NULL (or "") yields the zero value
// without error. As with a missing JSON field, callers that require a tax ID
// must check for the zero value themselves. Any other input is validated,
// and marshalling a non-zero value that is not a valid tax ID (for example
// one built by conversion, CPF("123")) fails.
//
// # Personal data
//
// A CPF identifies a person and must not be written to logs. [CPF.String]
// returns the full formatted number for display to its owner and for
// storage; use [CPF.Masked] ("***.456.789-**") in logs. [CPF] implements
// [log/slog.LogValuer] so that slog records the masked form automatically,
// but fmt verbs such as %v and %s print the full number. A CNPJ identifies a
// company and is public, so it has no masked form.
//
// # Generating numbers
//
// [GenerateCPF] and [GenerateCNPJ] produce random valid numbers for tests,
// fixtures and sandbox tools. Pass a seeded [math/rand/v2.Rand] for
// reproducible output. Generated numbers are valid but may belong to real
// people or companies; do not use them outside test and sandbox
// environments.
package taxid
