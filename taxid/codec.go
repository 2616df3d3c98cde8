package taxid

import (
	"database/sql/driver"
	"fmt"
)

// The text and SQL codecs of CPF and CNPJ, written once: both are a string type with a
// parser, and encode alike.

// number is a CPF or a CNPJ.
type number interface {
	~string
	String() string
}

// marshalText returns the formatted form of c, or an empty text for the zero value.
func marshalText[T number](c T, parse func(string) (T, error)) ([]byte, error) {
	if c == "" {
		return []byte{}, nil
	}
	v, err := parse(string(c))
	if err != nil {
		return nil, err
	}
	return []byte(v.String()), nil
}

// unmarshalText sets *dst to the parsed text (the zero value for an empty one), leaving it
// unchanged on error.
func unmarshalText[T number](dst *T, text []byte, parse func(string) (T, error)) error {
	if len(text) == 0 {
		*dst = ""
		return nil
	}
	v, err := parse(string(text))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// value returns the bare form as a string, or nil (SQL NULL) for the zero value.
func value[T number](c T, parse func(string) (T, error)) (driver.Value, error) {
	if c == "" {
		return nil, nil
	}
	v, err := parse(string(c))
	if err != nil {
		return nil, err
	}
	return string(v), nil
}

// scan reads a string or []byte column; NULL and "" are the zero value, anything else is
// an error of kind.
func scan[T number](dst *T, src any, parse func(string) (T, error), kind error) error {
	switch v := src.(type) {
	case nil:
		*dst = ""
		return nil
	case string:
		return unmarshalText(dst, []byte(v), parse)
	case []byte:
		return unmarshalText(dst, v, parse)
	default:
		return newError(kind, fmt.Sprintf("cannot scan value of type %T", src))
	}
}
