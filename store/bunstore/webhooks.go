package bunstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/webhook"
)

var (
	_ onboarding.WebhookQueries = (*queries)(nil)
	_ onboarding.WebhookQueries = (*Store)(nil)
)

// ---- endpoints ----

const endpointCols = `id, partner_id, url, events, description, status, secrets, version, created_at, updated_at, format`

// storedSecret is the JSON form of a webhook.Secret in the secrets column.
type storedSecret struct {
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func encodeEndpoint(e *onboarding.WebhookEndpoint) (events, secrets string, err error) {
	ev, err := json.Marshal(e.Events)
	if err != nil {
		return "", "", fmt.Errorf("bunstore: endpoint %s: encode events: %w", e.ID, err)
	}
	var ss []storedSecret
	if e.Secrets != nil {
		ss = make([]storedSecret, len(e.Secrets))
		for i, s := range e.Secrets {
			ss[i] = storedSecret{Value: s.Value, CreatedAt: s.CreatedAt.UTC().Truncate(time.Microsecond),
				ExpiresAt: s.ExpiresAt.UTC().Truncate(time.Microsecond)}
		}
	}
	sec, err := json.Marshal(ss)
	if err != nil {
		return "", "", fmt.Errorf("bunstore: endpoint %s: encode secrets: %w", e.ID, err)
	}
	return string(ev), string(sec), nil
}

func scanEndpoint(r rowScanner) (*onboarding.WebhookEndpoint, error) {
	e := &onboarding.WebhookEndpoint{}
	var status, format string
	var events, secrets []byte
	if err := r.Scan(&e.ID, &e.PartnerID, &e.URL, bytesCol{&events}, &e.Description, &status, bytesCol{&secrets},
		&e.Version, timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt}, &format); err != nil {
		return nil, err
	}
	e.Format = onboarding.WireFormat(format)
	e.Status = webhook.EndpointStatus(status)
	if len(events) > 0 {
		if err := json.Unmarshal(events, &e.Events); err != nil {
			return nil, fmt.Errorf("bunstore: endpoint %s: decode events: %w", e.ID, err)
		}
	}
	if len(secrets) > 0 {
		var ss []storedSecret
		if err := json.Unmarshal(secrets, &ss); err != nil {
			return nil, fmt.Errorf("bunstore: endpoint %s: decode secrets: %w", e.ID, err)
		}
		if ss != nil {
			e.Secrets = make([]webhook.Secret, len(ss))
			for i, s := range ss {
				e.Secrets[i] = webhook.Secret{Value: s.Value, CreatedAt: utcOrZero(s.CreatedAt), ExpiresAt: utcOrZero(s.ExpiresAt)}
			}
		}
	}
	return e, nil
}

// utcOrZero returns t in UTC, keeping the zero time zero.
func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// InsertEndpoint implements onboarding.WebhookQueries. The signing secrets are stored as
// they are: protect the database (or its disk) accordingly.
func (q *queries) InsertEndpoint(ctx context.Context, e *onboarding.WebhookEndpoint) error {
	events, secrets, err := encodeEndpoint(e)
	if err != nil {
		return err
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO webhook_endpoints (`+endpointCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
		e.ID, e.PartnerID, e.URL, events, freeText(e.Description), string(e.Status), secrets, q.ts(e.CreatedAt), q.ts(e.UpdatedAt),
		string(e.Format))
	if err != nil {
		return translate(err)
	}
	e.Version = 1
	return nil
}

// GetEndpoint implements onboarding.WebhookQueries.
func (q *queries) GetEndpoint(ctx context.Context, partnerID, id string) (*onboarding.WebhookEndpoint, error) {
	v, err := scanEndpoint(q.db.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE id = ? AND partner_id = ?`, id, partnerID))
	return found(v, err, "webhook endpoint", id)
}

// ListEndpoints implements onboarding.WebhookQueries: oldest (lowest ID) first.
func (q *queries) ListEndpoints(ctx context.Context, partnerID string, f onboarding.ListEndpointsParams) ([]*onboarding.WebhookEndpoint, error) {
	s := selectFrom(endpointCols, `webhook_endpoints`).
		where(true, `partner_id = ?`, partnerID).
		where(f.Status != "", `status = ?`, string(f.Status)).
		where(f.StartingAfter != "", `id > ?`, f.StartingAfter)
	return all(ctx, q, s, `id`, f.Limit, scanEndpoint)
}

// UpdateEndpoint implements onboarding.WebhookQueries: compare-and-set on the version.
func (q *queries) UpdateEndpoint(ctx context.Context, e *onboarding.WebhookEndpoint) error {
	events, secrets, err := encodeEndpoint(e)
	if err != nil {
		return err
	}
	res, err := q.db.ExecContext(ctx, `UPDATE webhook_endpoints SET url = ?, events = ?, description = ?, status = ?,
secrets = ?, version = version + 1, updated_at = ? WHERE id = ? AND partner_id = ? AND version = ?`,
		e.URL, events, freeText(e.Description), string(e.Status), secrets, q.ts(e.UpdatedAt), e.ID, e.PartnerID, e.Version)
	err = affectedOne(res, err, func() error {
		var version int64
		err := q.db.QueryRowContext(ctx, `SELECT version FROM webhook_endpoints WHERE id = ? AND partner_id = ?`, e.ID, e.PartnerID).Scan(&version)
		if errors.Is(err, errNoRows) {
			return notFound("webhook endpoint", e.ID)
		}
		if err != nil {
			return translate(err)
		}
		return fmt.Errorf("%w: webhook endpoint %s is at version %d, not %d", onboarding.ErrConcurrentUpdate, e.ID, version, e.Version)
	})
	if err != nil {
		return err
	}
	e.Version++
	return nil
}

// DeleteEndpoint implements onboarding.WebhookQueries. The endpoint's deliveries and
// their log stay.
func (q *queries) DeleteEndpoint(ctx context.Context, partnerID, id string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = ? AND partner_id = ?`, id, partnerID)
	return affectedOne(res, err, func() error { return notFound("webhook endpoint", id) })
}

// ---- deliveries ----

const deliveryCols = `id, partner_id, endpoint_id, event_id, event_type, status, attempts, last_status_code, last_error, next_attempt_at, delivered_at, created_at, updated_at`

func scanDelivery(r rowScanner) (*onboarding.Delivery, error) {
	d := &onboarding.Delivery{}
	var typ, status string
	if err := r.Scan(&d.ID, &d.PartnerID, &d.EndpointID, &d.EventID, &typ, &status, &d.Attempts, &d.LastStatusCode,
		&d.LastError, timeCol{&d.NextAttemptAt}, timeCol{&d.DeliveredAt}, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt}); err != nil {
		return nil, err
	}
	d.EventType, d.Status = onboarding.EventType(typ), onboarding.DeliveryStatus(status)
	return d, nil
}

// InsertDelivery implements onboarding.WebhookQueries. The event must exist (foreign
// key): ErrNotFound otherwise.
func (q *queries) InsertDelivery(ctx context.Context, d *onboarding.Delivery) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO webhook_deliveries (`+deliveryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.PartnerID, d.EndpointID, d.EventID, string(d.EventType), string(d.Status), d.Attempts, d.LastStatusCode,
		freeText(d.LastError), q.tsNull(d.NextAttemptAt), q.tsNull(d.DeliveredAt), q.ts(d.CreatedAt), q.ts(d.UpdatedAt))
	return translate(err)
}

// GetDelivery implements onboarding.WebhookQueries.
func (q *queries) GetDelivery(ctx context.Context, partnerID, id string) (*onboarding.Delivery, error) {
	d, err := scanDelivery(q.db.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = ? AND partner_id = ?`, id, partnerID))
	return found(d, err, "delivery", id)
}

// UpdateDelivery implements onboarding.WebhookQueries. The endpoint, event and creation
// time never change.
func (q *queries) UpdateDelivery(ctx context.Context, d *onboarding.Delivery) error {
	res, err := q.db.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, attempts = ?, last_status_code = ?,
last_error = ?, next_attempt_at = ?, delivered_at = ?, updated_at = ? WHERE id = ? AND partner_id = ?`,
		string(d.Status), d.Attempts, d.LastStatusCode, freeText(d.LastError), q.tsNull(d.NextAttemptAt),
		q.tsNull(d.DeliveredAt), q.ts(d.UpdatedAt), d.ID, d.PartnerID)
	return affectedOne(res, err, func() error { return notFound("delivery", d.ID) })
}

// ListDeliveries implements onboarding.WebhookQueries: newest (highest ID) first, keyset
// on the ID.
func (q *queries) ListDeliveries(ctx context.Context, partnerID string, f onboarding.ListDeliveriesParams) ([]*onboarding.Delivery, error) {
	s := selectFrom(deliveryCols, `webhook_deliveries`).
		where(true, `partner_id = ?`, partnerID).
		where(f.EndpointID != "", `endpoint_id = ?`, f.EndpointID).
		where(f.EventID != "", `event_id = ?`, f.EventID).
		where(f.Status != "", `status = ?`, string(f.Status)).
		where(f.StartingAfter != "", `id < ?`, f.StartingAfter)
	return all(ctx, q, s, `id DESC`, f.Limit, scanDelivery)
}

// InsertDeliveryAttempt implements onboarding.WebhookQueries. The delivery must exist for
// the partner (foreign key): ErrNotFound otherwise.
func (q *queries) InsertDeliveryAttempt(ctx context.Context, a *onboarding.DeliveryAttempt) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO webhook_delivery_attempts (id, partner_id, delivery_id, attempt, status_code,
latency_ns, error, response, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.PartnerID, a.DeliveryID, a.Attempt, a.StatusCode, int64(a.Latency), freeText(a.Error),
		freeText(a.Response), q.ts(a.CreatedAt))
	return translate(err)
}

// ListDeliveryAttempts implements onboarding.WebhookQueries: oldest (first inserted)
// first.
func (q *queries) ListDeliveryAttempts(ctx context.Context, partnerID, deliveryID string) ([]*onboarding.DeliveryAttempt, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT id, partner_id, delivery_id, attempt, status_code, latency_ns, error, response, created_at
FROM webhook_delivery_attempts WHERE delivery_id = ? AND partner_id = ? ORDER BY seq`, deliveryID, partnerID)
	return collect(rows, err, func(r rowScanner) (*onboarding.DeliveryAttempt, error) {
		a := &onboarding.DeliveryAttempt{}
		var latency int64
		if err := r.Scan(&a.ID, &a.PartnerID, &a.DeliveryID, &a.Attempt, &a.StatusCode, &latency, &a.Error,
			&a.Response, timeCol{&a.CreatedAt}); err != nil {
			return nil, err
		}
		a.Latency = time.Duration(latency)
		return a, nil
	})
}
