package bunstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/onboardkit/onboarding"
)

// PostgreSQL SQLSTATEs this package translates.
const (
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// translate maps a database error to the root package's errors, once, at the edge of the
// Store: unique violation → *onboarding.ConflictError, foreign key violation (the customer
// of a document or offer, the event of a delivery, the delivery of an attempt does not
// exist for the partner) and sql.ErrNoRows →
// onboarding.ErrNotFound, and on PostgreSQL a serialization failure or deadlock (possible
// when the caller's transaction is SERIALIZABLE) → onboarding.ErrConcurrentUpdate, which
// the Service retries from a fresh read. Anything else is wrapped with the package prefix.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", onboarding.ErrNotFound, err)
	}
	if errors.Is(err, onboarding.ErrNotFound) || errors.Is(err, onboarding.ErrConflict) ||
		errors.Is(err, onboarding.ErrConcurrentUpdate) {
		return err // already ours
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		switch pgErr.Field('C') {
		case pgUniqueViolation:
			return &onboarding.ConflictError{Field: constraintField(pgErr.Field('n'))}
		case pgForeignKeyViolation:
			return fmt.Errorf("%w: the row it refers to (%s)", onboarding.ErrNotFound, pgErr.Field('n'))
		case pgSerializationFailure, pgDeadlockDetected:
			return fmt.Errorf("%w: %w", onboarding.ErrConcurrentUpdate, err)
		}
		return fmt.Errorf("bunstore: %w", err)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "UNIQUE constraint failed: ") || strings.Contains(msg, "PRIMARY KEY constraint failed"):
		return &onboarding.ConflictError{Field: sqliteConstraintField(msg)}
	case strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return fmt.Errorf("%w: the row it refers to", onboarding.ErrNotFound)
	}
	return fmt.Errorf("bunstore: %w", err)
}

// Field names of ConflictError for the unique constraints of the schema. The tax key
// constraint says "tax_key"; callers that know the key's kind refine it to "cnpj" or "cpf".
const fieldTaxKey = "tax_key"

// constraintField names the field behind a PostgreSQL constraint.
func constraintField(constraint string) string {
	switch constraint {
	case "customers_external_id_key":
		return "external_id"
	case "customers_tax_key_key":
		return fieldTaxKey
	case "idempotency_keys_pkey":
		return "idempotency_key"
	}
	return "id"
}

// sqliteConstraintField names the field behind a SQLite constraint message such as
// "UNIQUE constraint failed: customers.partner_id, customers.tax_key".
func sqliteConstraintField(msg string) string {
	_, cols, _ := strings.Cut(msg, "constraint failed: ")
	switch {
	case strings.Contains(cols, "customers.external_id"):
		return "external_id"
	case strings.Contains(cols, "customers.tax_key"):
		return fieldTaxKey
	case strings.Contains(cols, "idempotency_keys."):
		return "idempotency_key"
	}
	return "id"
}

// taxKeyField is "cnpj" or "cpf" for a tax key (see onboarding.Customer.TaxKey).
func taxKeyField(taxKey string) string {
	if strings.HasPrefix(taxKey, "cnpj:") {
		return "cnpj"
	}
	return "cpf"
}

// refineTaxKey turns a tax-key ConflictError into the "cnpj"/"cpf" field of taxKey.
func refineTaxKey(err error, taxKey string) error {
	var ce *onboarding.ConflictError
	if errors.As(err, &ce) && ce.Field == fieldTaxKey {
		ce.Field = taxKeyField(taxKey)
	}
	return err
}

func notFound(what, id string) error {
	return fmt.Errorf("%w: %s %s", onboarding.ErrNotFound, what, id)
}
