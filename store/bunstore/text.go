package bunstore

import "fmt"

// nullIfEmpty passes an optional text value: empty is NULL.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullText scans a nullable text column; NULL is the empty string.
type nullText struct{ s *string }

func (c nullText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("bunstore: cannot scan %T into text", src)
	}
	return nil
}
